"""The upload stage against the real `photoflux serve` process: exactly once, whatever fails."""
from __future__ import annotations

import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import requests
from click.testing import CliRunner
from PIL import Image

from frames import photos
from pipeline.cli import main
from pipeline.schema import PHOTOS, RESOLVED
from pipeline.workspace import Workspace, read_table, write_table

PHOTOFLUX = str(Path(sys.executable).with_name("photoflux"))


def make_workspace(root: Path, count: int, approve: str | None = "--all") -> Workspace:
    """`count` small real JPEGs (plus one PNG-less HEIC stand-in), resolved and approved."""
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
    return pd.DataFrame(listing.json(), columns=["id", "key", "begin_d"])


def assert_exactly_once(ws: Workspace, server) -> pd.DataFrame:
    table = read_table(ws.resolved, RESOLVED)
    sent = table[table["approved"].fillna(False).astype(bool)]
    held = on_server(server)
    assert len(held) == len(sent) and held["key"].is_unique
    held["sha256"] = held["key"].str.rsplit("_", n=1).str[1]
    merged = sent.merge(held, on="sha256", how="left", validate="one_to_one")
    assert (merged["begin_d"] * 1000).round().tolist() == \
        (merged["capture_time_secs_utc"] * 1000).round().tolist()
    assert merged["upload_status"].isin(["uploaded", "updated"]).all()
    assert (merged["server_key"] == merged["key"]).all()
    return merged


def test_every_approved_photo_lands_once_with_its_time(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 12)
    output = upload(ws, server)
    assert "12 uploaded" in output
    merged = assert_exactly_once(ws, server)
    one = merged.iloc[0]
    data = requests.get(server.url + "api/bodytrack/photo/" + one["key"], auth=server.auth).content
    assert data == Path(one["path"]).read_bytes()
    assert "12 already on server" in upload(ws, server)  # a rerun sends nothing new
    assert len(on_server(server)) == 12
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig")
    assert set(audit["upload_status"]) == {"uploaded"}


def test_injected_500s_and_dropped_connections_end_exactly_once(tmp_path, serve_factory):
    server = serve_factory(fail_rate=0.3, drop_rate=0.2, seed=7)
    ws = make_workspace(tmp_path, 30)
    upload(ws, server, "--workers", "3")
    assert_exactly_once(ws, server)
    log = server.log_text()
    assert " 500 " in log  # the faults really happened


def test_unapproved_photos_are_never_sent(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 6, approve=None)
    cli(ws, "approve", "--first", "IMG_0000", "--last", "IMG_0001")
    upload(ws, server)
    assert len(on_server(server)) == 2
    upload(ws, server, "--all")  # a selection only narrows the approved rows
    assert len(on_server(server)) == 2


def test_a_retimed_photo_is_blocked_unless_allowed(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 3)
    upload(ws, server)
    (ws.root / "overrides.csv").write_text("first,last,tz\nIMG_0001,IMG_0001,Asia/Tokyo\n")
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    upload(ws, server)
    table = read_table(ws.resolved, RESOLVED).set_index("file_name")
    row = table.loc["IMG_0001.jpg"]
    assert row["upload_status"] == "blocked_retimed"
    assert row["uploaded_capture_time_secs_utc"] - row["capture_time_secs_utc"] == 8 * 3600
    assert len(on_server(server)) == 3
    result = CliRunner(env={"FLUXTREAM_PASSWORD": server.password}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user,
        "--allow-retime"])
    assert result.exit_code == 0 and "two copies" in result.output
    assert len(on_server(server)) == 4


def test_wrong_password_stops_before_anything_is_sent(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    result = CliRunner(env={"FLUXTREAM_PASSWORD": "not-it"}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "wrong user or password" in result.output
    assert len(on_server(server)) == 0


def test_plain_http_to_another_host_is_refused(tmp_path):
    ws = make_workspace(tmp_path, 1)
    result = CliRunner(env={"FLUXTREAM_PASSWORD": "x"}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", "http://fluxtream.example.org", "--user", "a"])
    assert result.exit_code == 2 and "use https" in result.output


def test_https_with_the_servers_certificate(tmp_path, serve_factory):
    server = serve_factory(https=True)
    ws = make_workspace(tmp_path, 2)
    upload(ws, server, "--cacert", server.verify)
    assert len(on_server(server)) == 2


def test_password_from_netrc(tmp_path, serve_factory, monkeypatch):
    server = serve_factory()
    ws = make_workspace(tmp_path, 1)
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {server.user} password {server.password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FLUXTREAM_PASSWORD", raising=False)
    result = CliRunner().invoke(main, ["upload", "-w", str(ws.root), "--server", server.url,
                                       "--user", server.user])
    assert result.exit_code == 0, result.output
    assert len(on_server(server)) == 1


def test_dry_run_sends_and_writes_nothing(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 4)
    before = {p: p.stat().st_mtime_ns for p in ws.root.rglob("*")}
    output = upload(ws, server, "--dry-run")
    assert "would send 4 photos" in output and "first 2019-12-31 23:00:00Z" in output
    assert {p: p.stat().st_mtime_ns for p in ws.root.rglob("*")} == before
    assert len(on_server(server)) == 0


def test_kill_9_mid_upload_then_rerun_is_exactly_once(tmp_path, serve_factory, capsys):
    server = serve_factory(delay_ms=40, drop_rate=0.15, fail_rate=0.1, seed=3)
    count = 80
    ws = make_workspace(tmp_path, count)
    command = [PHOTOFLUX, "upload", "-w", str(ws.root), "--server", server.url, "--user",
               server.user, "--workers", "4"]
    env = {**os.environ, "FLUXTREAM_PASSWORD": server.password}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    acked = 0
    while acked < count // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            with sqlite3.connect(ws.uploads) as db:
                acked = db.execute("SELECT count(*) FROM sends WHERE acked_at IS NOT NULL").fetchone()[0]
        except sqlite3.Error:
            pass
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with sqlite3.connect(ws.uploads) as db:
        acked, intents = db.execute(
            "SELECT count(acked_at), count(*) FROM sends").fetchone()
    held_at_kill = len(on_server(server))
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    merged = assert_exactly_once(ws, server)
    for _, row in merged.sample(10, random_state=1).iterrows():
        data = requests.get(server.url + "api/bodytrack/photo/" + row["key"], auth=server.auth).content
        assert hashlib.sha256(data).hexdigest() == row["sha256"] == hashlib.sha256(
            Path(row["path"]).read_bytes()).hexdigest()
    updated = int((merged["upload_status"] == "updated").sum())
    with capsys.disabled():
        print(f"\nkill -9 figures: {count} photos; at the kill {acked} acknowledged, "
              f"{intents - acked} intents in flight, {held_at_kill} on the server; after the "
              f"rerun {len(merged)} on the server, {updated} answered 'updated' (stored before their "
              f"answer was lost to a dropped connection or the kill), 0 duplicates")
    assert acked < count


def test_password_never_in_process_list_log_or_ledger(tmp_path, serve_factory):
    server = serve_factory(delay_ms=30)
    ws = make_workspace(tmp_path, 20)
    env = {**os.environ, "FLUXTREAM_PASSWORD": server.password}
    process = subprocess.Popen([PHOTOFLUX, "upload", "-w", str(ws.root), "--server", server.url,
                                "--user", server.user, "--workers", "1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = []
    while process.poll() is None:
        seen.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
        time.sleep(0.05)
    output = process.stdout.read().decode()
    assert process.returncode == 0, output
    secret = server.password
    assert seen and not any(secret in snapshot for snapshot in seen)
    assert secret not in output and secret not in server.log_text()
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_formats_the_server_refuses_are_not_sent(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    photos_table = read_table(ws.photos, PHOTOS)
    webp = tmp_path / "photos" / "IMG_0099.webp"
    Image.new("RGB", (8, 8)).save(webp, "WEBP")
    extra = photos({"path": str(webp), "file_name": webp.name, "folder": str(webp.parent),
                    "file_type": "WEBP", "sha256": hashlib.sha256(webp.read_bytes()).hexdigest(),
                    "datetime_original": "2020:01:05 12:00:00"})
    write_table(ws.photos, pd.concat([photos_table, extra], ignore_index=True), PHOTOS)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    assert "1 unsupported format" in upload(ws, server)
    table = read_table(ws.resolved, RESOLVED).set_index("file_name")
    assert table.loc["IMG_0099.webp", "upload_status"] == "unsupported_format"
    assert len(on_server(server)) == 2


def test_a_file_edited_after_approval_is_not_sent(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    edited = tmp_path / "photos" / "IMG_0001.jpg"
    edited.write_bytes(edited.read_bytes() + b"edited")
    upload(ws, server, code=1)
    table = read_table(ws.resolved, RESOLVED).set_index("file_name")
    assert table.loc["IMG_0001.jpg", "upload_status"].startswith("failed: file changed")
    assert len(on_server(server)) == 1


def test_a_selection_matching_nothing_sends_nothing_and_exits_1(tmp_path):
    ws = make_workspace(tmp_path, 2)
    result = CliRunner(env={"FLUXTREAM_PASSWORD": "x"}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", "http://127.0.0.1:9", "--user", "a",
        "--first", "ZZZ_1", "--last", "ZZZ_9"])
    assert result.exit_code == 1 and "matches no photo" in result.output
