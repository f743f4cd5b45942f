"""What the upload tests share: a workspace of small approved JPEGs, the real CLI, and the
server's own account of what it holds (read back through its API)."""
from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import requests
from click.testing import CliRunner
from PIL import Image

from frames import photos
from pipeline.approvals import is_approved
from pipeline.cli import main
from pipeline.schema import PHOTOS, RESOLVED
from pipeline.workspace import Workspace, read_table, write_table

PHOTOFLUX = str(Path(sys.executable).with_name("photoflux"))


def make_workspace(root: Path, count: int, approve: str | None = "--all") -> Workspace:
    """`count` small real JPEGs in WS/../photos, resolved and (unless `approve` is None) approved."""
    folder = root / "photos"
    folder.mkdir(parents=True)
    rows = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (16, 12), (i % 256, (i * 7) % 256, 90)).save(buffer, "JPEG")
        data = buffer.getvalue()
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(data)
        rows.append({"path": str(path), "file_name": path.name, "folder": str(folder),
                     "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data),
                     "datetime_original": f"2020:01:0{1 + i // 1440} {i // 60 % 24:02d}:{i % 60:02d}:00",
                     "subsec_original": "123", "offset_time_original": "+01:00"})
    ws = Workspace(root / "ws")
    write_table(ws.photos, photos(*rows), PHOTOS)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    if approve:
        cli(ws, "approve", approve)
    return ws


def cli(ws: Workspace, command: str, *args: str, code: int = 0, env=None) -> str:
    result = CliRunner(env=env).invoke(main, [command, "-w", str(ws.root), *args])
    assert result.exit_code == code, result.output
    return result.output


def read_only(ledger: Path) -> sqlite3.Connection:
    """A look into the ledger that never creates it (sqlite3.connect alone would, empty)."""
    return sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)


def acknowledged(ws: Workspace) -> int:
    """How many photos the ledger holds as acknowledged (0 before it exists)."""
    try:
        with closing(read_only(ws.uploads)) as db:
            return db.execute("SELECT count(*) FROM sends WHERE acked_at IS NOT NULL").fetchone()[0]
    except sqlite3.Error:
        return 0


def upload(ws: Workspace, server, *args: str, code: int = 0) -> str:
    return cli(ws, "upload", "--server", server.url, "--user", server.user, *args, code=code,
               env={"FLUXTREAM_PASSWORD": server.password})


def on_server(server) -> pd.DataFrame:
    """Every photo the server holds for the user, read back through its API."""
    guest = requests.get(server.url + "api/guest", auth=server.auth, verify=server.verify).json()
    listing = requests.get(
        f"{server.url}api/bodytrack/photos/{guest['id']}/FluxtreamCapture.photo/0/10000",
        params={"isBefore": "false"}, auth=server.auth, verify=server.verify)
    listing.raise_for_status()
    held = pd.DataFrame(listing.json(), columns=["id", "url", "begin_d"])
    return held.assign(key=held["url"].str.rsplit("/", n=1).str[1])  # items carry no key field


def assert_exactly_once(ws: Workspace, server) -> pd.DataFrame:
    """Every approved photo is on the server once, at its approved millisecond, as the bytes
    the ledger says were sent for its file (the file itself, or its conversion); byte-identical
    copies at one time are one photo. Returns the approved rows with their server photo."""
    table = read_table(ws.resolved, RESOLVED)
    sent = table[is_approved(table)]
    held = on_server(server)
    assert held["key"].is_unique
    assert len(held) == len(sent.drop_duplicates(["sha256", "capture_time_secs_utc"]))
    held["sent_sha256"] = held["key"].str.rsplit("_", n=1).str[1]
    merged = sent.merge(held, left_on="server_key", right_on="key", how="left",
                        validate="many_to_one")
    assert merged["key"].notna().all()
    assert (merged["begin_d"] * 1000).round().tolist() == \
        (merged["capture_time_secs_utc"] * 1000).round().tolist()
    assert merged["upload_status"].isin(["uploaded", "updated"]).all()
    with closing(read_only(ws.uploads)) as db:
        ledger = pd.read_sql_query("SELECT sha256, key, sent_sha256 FROM sends", db)
    mine = merged.merge(ledger, on="key", suffixes=("", "_ledger"))
    assert len(mine) == len(merged) and (mine["sha256"] == mine["sha256_ledger"]).all()
    assert (mine["sent_sha256"] == mine["sent_sha256_ledger"]).all()
    return merged


def upload_process(ws: Workspace, server, *args: str, acked: int = 0) -> subprocess.Popen:
    """`photoflux upload` as a process of its own (stdout and stderr piped, as text), returned
    once the ledger holds `acked` acknowledgements (or after 60 s)."""
    process = subprocess.Popen(
        [PHOTOFLUX, "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user,
         *args], env={**os.environ, "FLUXTREAM_PASSWORD": server.password},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while acknowledged(ws) < acked and time.monotonic() < deadline:
        time.sleep(0.02)
    return process
