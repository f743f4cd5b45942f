"""`make demo`: the whole pipeline on a generated sample library against a local server.

    python -m pipeline.demo DIR

Writes DIR/photos (the sample, once), DIR/overrides.csv (fixes the fast camera clock), runs
extract and resolve; then puts a few photos on the timeline the way the original notebook did
(whole seconds, a whole-hour offset, plain HTTP requests one by one); approve --unflagged;
reconcile finds them `wrong_time` (the report shows it); upload (the right copies),
reconcile --delete-wrong --yes (the wrong ones go), report and status, as a user would type
them, against a `photoflux serve` on loopback (its store in DIR/server, kept between runs, so a
second demo finds every photo already there), then stops the server. A DIR whose sample an older photoflux
wrote is emptied first: its photos, times and uploads are not this sample's.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from .sample import (EXPECTED_NAME, SAMPLE_DEFAULT_TZ, sample_is_current, write_demo_overrides,
                     write_sample)

PHOTOFLUX = str(Path(sys.executable).with_name("photoflux"))


def step(*args: str, env: dict | None = None) -> str:
    """Run one photoflux command as a user would, echoing it and what it prints."""
    print(f"\n$ photoflux {shlex.join(args)}", flush=True)
    done = subprocess.run([PHOTOFLUX, *args], env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout.rstrip(), flush=True)
    if done.returncode not in (0,):
        raise SystemExit(f"demo: 'photoflux {args[0]}' failed with exit code {done.returncode}")
    return done.stdout


def start_server(root: Path, user: str, password: str) -> tuple[subprocess.Popen, str]:
    """`photoflux serve` on loopback; returns the process and its URL.

    The port of the first run is kept in DIR/server.port and asked for again, so the upload
    ledger sees the same server on every demo; when it is taken, a free one is used.
    """
    port_file = root / "server.port"
    port = int(port_file.read_text()) if port_file.exists() else 0
    if port and not port_is_free(port):
        port = 0
    log_path = root / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen([PHOTOFLUX, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--store", str(root / "server")], stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "FLUXTREAM_SERVER_USERS": f"{user}:{password}"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (\S+)", log_path.read_text(errors="replace"))
        if found:
            port_file.write_text(found.group(1).rsplit(":", 1)[1].strip("/"))
            return server, found.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"demo: the server did not start, see {log_path}")


def notebook_uploads(ws: Path, url: str, user: str, password: str, count: int = 5) -> None:
    """Send `count` of the photos approve will approve as the notebook did: one plain request
    each, whole seconds, an hour off (two for every other one), no record kept."""
    import requests

    from .workspace import Workspace

    resolved = Workspace(ws).load("resolved")
    chosen = resolved[(resolved["file_type"] == "JPEG") & resolved["flags"].fillna("").eq("")
                      & resolved["capture_time_secs_utc"].notna()].head(count)
    print(f"\n# the notebook's way: {len(chosen)} photos sent at whole-hour offsets", flush=True)
    for i, (path, seconds) in enumerate(zip(chosen["path"], chosen["capture_time_secs_utc"])):
        with open(path, "rb") as photo:
            answer = requests.post(
                url + "api/bodytrack/photoUpload", params={"connector_name": "fluxtream_capture"},
                files={"photo": photo, "metadata": (None, '{"capture_time_secs_utc": %d}'
                                                     % (int(seconds) + 3600 * (1 + i % 2)))},
                auth=(user, password), timeout=30)
        print(f"  {Path(path).name}: {answer.status_code} {answer.json()['result']}", flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main(root: str = "demo") -> None:
    root_path = Path(root).absolute()
    photos, ws = root_path / "photos", str(root_path)
    started = time.monotonic()
    if (photos / EXPECTED_NAME).exists() and not sample_is_current(photos):
        print(f"{root_path} holds an older photoflux's sample: starting afresh")
        shutil.rmtree(root_path)
    if not (photos / EXPECTED_NAME).exists():  # a rerun keeps the library: extract reuses rows
        write_sample(photos)
    overrides = write_demo_overrides(root_path / "overrides.csv")
    print(f"sample library in {photos}; overrides in {overrides}")
    user, password = "demo", secrets.token_urlsafe(12)
    server, url = start_server(root_path, user, password)
    print(f"server: {url} (user {user}, store {root_path / 'server'})")
    try:
        step("extract", str(photos), "-w", ws, "--quiet")
        step("resolve", "-w", ws, "--default-tz", SAMPLE_DEFAULT_TZ, "--overrides", str(overrides))
        login = {"FLUXTREAM_PASSWORD": password}
        notebook_uploads(root_path, url, user, password)
        step("approve", "-w", ws, "--unflagged")
        step("reconcile", "-w", ws, "--server", url, "--user", user, "--quiet", env=login)
        step("report", "-w", ws)  # before: the audit shows the wrong copies
        for dry_run in (["--dry-run"], []):  # a dry run checks the credentials too
            step("upload", "-w", ws, "--server", url, "--user", user, *dry_run, env=login)
        step("reconcile", "-w", ws, "--server", url, "--user", user, "--delete-wrong", "--yes",
             "--quiet", env=login)
        step("report", "-w", ws)  # after: only right copies (and photos not approved)
        step("status", "-w", ws)
    finally:
        server.terminate()
        server.wait(10)
    reports = root_path / "reports"
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s. Open the audit:")
    for name in ("audit.html", "audit.xlsx", "audit.csv"):
        print(f"  {reports / name}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
