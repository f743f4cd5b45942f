"""The upload stage against the real `photoflux serve` process: exactly once, whatever fails."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import requests
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from conftest import fill
from frames import photos
from pipeline.cli import main
from pipeline.fluxtream import MAX_CAPTURE_MS
from pipeline.ledger import LEDGER_VERSION
from pipeline.schema import PHOTOS, RESOLVED
from pipeline.workspace import Workspace, read_table, write_table
from uploading import (PHOTOFLUX, acknowledged, assert_exactly_once, cli, make_workspace,
                       on_server, read_only, upload, upload_process)

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
    output = upload(ws, server, code=1)  # a blocked photo waits for a person's decision
    assert "\n  1 blocked_retimed: the server already holds them at another time" in output
    assert "upload with --allow-retime" in output  # it says what to do
    dry = CliRunner(env={"FLUXTREAM_PASSWORD": server.password}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user,
        "--allow-retime", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith(
        "photoflux: warning: --allow-retime: 1 photos already on the server")  # up front
    table = read_table(ws.resolved, RESOLVED).set_index("file_name")
    row = table.loc["IMG_0001.jpg"]
    assert row["upload_status"] == "blocked_retimed"
    assert row["uploaded_capture_time_secs_utc"] - row["capture_time_secs_utc"] == 8 * 3600
    assert len(on_server(server)) == 3
    result = CliRunner(env={"FLUXTREAM_PASSWORD": server.password}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user,
        "--allow-retime"])
    assert result.exit_code == 0 and result.output.startswith(
        "photoflux: warning: --allow-retime: 1 photos already on the server at another time go "
        "out again: the timeline will hold two copies of each\n")
    assert len(on_server(server)) == 4


def test_wrong_password_stops_before_anything_is_sent(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    result = CliRunner(env={"FLUXTREAM_PASSWORD": "not-it"}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "wrong user or password" in result.output
    assert len(on_server(server)) == 0


def test_a_dry_run_checks_the_credentials(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    result = CliRunner(env={"FLUXTREAM_PASSWORD": "not-it"}).invoke(main, [
        "upload", "-w", str(ws.root), "--server", server.url, "--user", server.user,
        "--dry-run"])
    assert result.exit_code == 2 and "wrong user or password" in result.output
    assert "credentials: the server knows" in upload(ws, server, "--dry-run")


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
    process = upload_process(ws, server, "--workers", "4", acked=count // 3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with closing(read_only(ws.uploads)) as db:
        acked, intents = db.execute(
            "SELECT count(acked_at), count(*) FROM sends").fetchone()
    held_at_kill = len(on_server(server))
    rerun = upload_process(ws, server, "--workers", "4")
    assert rerun.communicate(timeout=120) and rerun.returncode == 0
    merged = assert_exactly_once(ws, server)
    for _, row in merged.sample(10, random_state=1).iterrows():
        data = requests.get(server.url + "api/bodytrack/photo/" + row["key"], auth=server.auth).content
        assert hashlib.sha256(data).hexdigest() == row["sha256"] == hashlib.sha256(
            Path(row["path"]).read_bytes()).hexdigest()
    with closing(read_only(ws.uploads)) as db:
        found = db.execute("SELECT count(*) FROM sends WHERE operation = 'found'").fetchone()[0]
    with capsys.disabled():
        print(f"\nkill -9 figures: {count} photos; at the kill {acked} acknowledged, "
              f"{intents - acked} intents in flight, {held_at_kill} on the server; after the "
              f"rerun {len(merged)} on the server, {found} found by asking for their key (stored "
              "before their answer was lost to a dropped connection, a 500 or the kill), "
              "0 duplicates")
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


def test_no_convert_leaves_out_what_the_server_refuses_and_a_later_run_converts_it(
        tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    webp, bmp = tmp_path / "photos" / "IMG_0099.webp", tmp_path / "photos" / "IMG_0098.bmp"
    Image.new("RGB", (8, 8)).save(webp, "WEBP")
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    extra = photos(*({"path": str(path), "file_name": path.name, "folder": str(path.parent),
                      "file_type": kind, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                      "datetime_original": "2020:01:05 12:00:00"}
                     for path, kind in ((webp, "WEBP"), (bmp, None))))
    write_table(ws.photos, pd.concat([read_table(ws.photos, PHOTOS), extra], ignore_index=True),
                PHOTOS)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    assert "would convert to JPEG: 0" in upload(ws, server, "--dry-run", "--no-convert")
    assert "2 uploaded, 2 unsupported format" in upload(ws, server, "--no-convert")
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")  # the statuses come back from the ledger
    statuses = read_table(ws.resolved, RESOLVED).set_index("file_name")["upload_status"]
    assert statuses[[webp.name, bmp.name]].tolist() == ["unsupported_format"] * 2
    assert "would convert to JPEG: 1" in upload(ws, server, "--dry-run")
    assert "2 already on server, 1 uploaded, 1 unsupported format" in upload(ws, server)
    assert len(on_server(server)) == 3  # a BMP is no format any conversion takes


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


# --- the ledger: never recreated empty, versioned, one line when the disk is full -------------

#: photoflux's ledger before it carried a version (main at 8d3afe5): no user_version, no
#: application_id. Written here verbatim so the migration is tested against the real thing.
LEDGER_V1 = """
CREATE TABLE IF NOT EXISTS sends (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL, expected_key TEXT NOT NULL, intent_at TEXT NOT NULL,
    operation TEXT, key TEXT, photo_id INTEGER, acked_at TEXT, outcome TEXT,
    PRIMARY KEY (server, user, sha256, capture_ms)
);
"""


#: ... and as main at 42df19b wrote it (version 2): the same table, marked.
LEDGER_V2 = LEDGER_V1 + "PRAGMA application_id = 1346784344; PRAGMA user_version = 2;"
SENDS_V1 = ["server", "user", "sha256", "capture_ms", "path", "expected_key", "intent_at",
            "operation", "key", "photo_id", "acked_at", "outcome"]


def ledger_rows(path: Path) -> list[tuple]:
    with closing(read_only(path)) as db:
        return db.execute("SELECT * FROM sends ORDER BY sha256").fetchall()


def big_ledger(path: Path, rows: int = 3000) -> None:
    """A real ledger with enough rows to span many pages."""
    from pipeline.ledger import Ledger

    ledger = Ledger(path)
    for i in range(rows):
        ledger.intent("https://f.example.org/", "alice",
                      {"sha256": f"{i:064x}", "capture_ms": i, "path": f"/photos/{i}.jpg"},
                      "k" * 90, f"{i:064x}", None, [f"/photos/{i}.jpg"])
    ledger.close()


def damage_ledger(path: Path, damage: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        big_ledger(path)
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
    elif damage == "not a ledger":
        with closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
    elif damage == "newer":
        big_ledger(path, 1)
        with closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA user_version = 99")
    elif damage == "a folder":
        path.mkdir()


@pytest.fixture(scope="module")
def approved(tmp_path_factory):
    """A workspace with 3 approved photos, copied afresh by each test that damages it."""
    return make_workspace(tmp_path_factory.mktemp("approved"), 3)


def copy_of(ws: Workspace, root: Path) -> Workspace:
    shutil.copytree(ws.root, root / "ws")
    return Workspace(root / "ws")


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "not a ledger", "newer",
                                    "a folder"])
def test_a_ledger_that_cannot_be_read_stops_upload_before_anything_is_sent(
        tmp_path, module_serve_factory, approved, damage):
    server = module_serve_factory()
    ws = copy_of(approved, tmp_path)
    damage_ledger(ws.uploads, damage)
    before = ws.uploads.read_bytes() if ws.uploads.is_file() else None
    output = upload(ws, server, code=2)
    assert output.count("\n") == 1 and str(ws.uploads) in output
    assert "cannot be read" in output and "Restore it from a backup" in output
    assert "Move it aside only if the server holds none of these photos" in output
    if before is not None:
        assert ws.uploads.read_bytes() == before  # never recreated, never "repaired"
    assert "photoUpload" not in server.log_text() and len(on_server(server)) == 0
    assert cli(ws, "upload", "--server", server.url, "--user", server.user, "--dry-run",
               code=2) == output  # the dry run reads it and says the same
    resolve = cli(ws, "resolve", "--default-tz", "Europe/Berlin", code=2)
    assert resolve.count("\n") == 1 and "cannot be read" in resolve


def test_a_ledger_locked_by_another_program_is_one_line(tmp_path, module_serve_factory,
                                                        approved):
    server = module_serve_factory()
    ws = copy_of(approved, tmp_path)
    big_ledger(ws.uploads, 1)
    holder = sqlite3.connect(ws.uploads, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        output = upload(ws, server, code=2)
    finally:
        holder.close()
    assert output.count("\n") == 1 and "locked by another program; close it" in output
    assert len(ledger_rows(ws.uploads)) == 1
    upload(ws, server)  # once it is released, the same command works
    assert len(on_server(server)) == 3


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_ledger_is_migrated_in_place_keeping_every_row(tmp_path, serve_factory, version):
    server = serve_factory()
    ws = make_workspace(tmp_path, 4, approve=None)
    cli(ws, "approve", "--first", "IMG_0000", "--last", "IMG_0001")
    upload(ws, server)
    with closing(read_only(ws.uploads)) as db:
        rows = db.execute(f"SELECT {', '.join(SENDS_V1)} FROM sends").fetchall()
    assert len(rows) == 2
    ws.uploads.unlink()  # today's ledger rewritten as that version wrote it: same rows
    with closing(sqlite3.connect(ws.uploads)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(LEDGER_V1 if version == 1 else LEDGER_V2)
        db.executemany(f"INSERT INTO sends VALUES ({', '.join('?' * 12)})", rows)
    with closing(read_only(ws.uploads)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == (0 if version == 1 else 2)
    cli(ws, "approve", "--all")
    assert "2 already on server, 2 uploaded" in upload(ws, server)
    assert_exactly_once(ws, server)
    with closing(read_only(ws.uploads)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LEDGER_VERSION
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x50464C58
        kept = db.execute(f"SELECT {', '.join(SENDS_V1)}, sent_sha256 FROM sends").fetchall()
        paths = db.execute("SELECT sha256, path FROM paths").fetchall()
    assert len(kept) == 4 and set(rows) <= {row[:12] for row in kept}
    assert all(row[-1] == row[2] for row in kept)  # what older versions sent was the file
    assert {(row[2], row[4]) for row in rows} <= set(paths)


def test_a_full_disk_while_writing_the_ledger_is_one_line(small_disk, serve_factory):
    server = serve_factory()
    ws = make_workspace(small_disk, 4, approve=None)
    cli(ws, "approve", "--first", "IMG_0000", "--last", "IMG_0001")
    upload(ws, server)
    cli(ws, "approve", "--all")
    held = ledger_rows(ws.uploads)
    filler = fill(small_disk)
    output = upload(ws, server, code=1)
    assert output == f"photoflux: error: no space left on device while writing {ws.uploads}\n"
    assert len(on_server(server)) == 2  # no photo went out without its intent
    filler.unlink()
    assert ledger_rows(ws.uploads) == held
    upload(ws, server)
    assert_exactly_once(ws, server)


# --- a server that stops answering ----------------------------------------------------------

def test_a_dead_server_stops_the_run_early_and_the_rerun_sends_each_photo_once(
        tmp_path, serve_factory):
    server = serve_factory(delay_ms=200)  # slow enough that most photos are left at the kill
    count = 60
    ws = make_workspace(tmp_path, count)
    process = upload_process(ws, server, "--workers", "10", acked=10)
    server.process.kill()  # gone for good: every later connection is refused
    server.process.wait()
    try:
        out, err = process.communicate(timeout=120)  # the default limits: 10 requests in a row
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("upload kept retrying a dead server")
    assert process.returncode == 1, err
    assert err.count("\n") == 1 and err.startswith(
        f"photoflux: error: server unreachable: {server.url}: 10 requests in a row could not "
        "connect")
    assert "Connection refused" in err and "run upload again once it answers" in err
    table = ws.load("resolved")  # statuses written back
    assert table["upload_status"].isin(["uploaded", "updated"]).sum() == acknowledged(ws) < count
    failed = table["upload_status"].str.startswith("failed: ").fillna(False)
    assert failed.sum() >= 1  # the photos in flight: each says why, none is counted as sent
    assert table.loc[failed, "upload_status"].str.contains("Connection refused").all()
    again = serve_factory(store=server.store, port=server.port, users=[server.auth])
    upload(ws, again)
    assert_exactly_once(ws, again)


def test_a_server_that_never_answers_stops_the_run(tmp_path, serve_factory):
    """A hung server (SIGSTOP: connections are accepted, nothing answers) trips the silence
    limit; small limits here so the test is quick, the defaults are 10 photos and 60 s."""
    from pipeline.upload import Client, Options, ServerUnreachable, run

    server = serve_factory(delay_ms=100)
    ws = make_workspace(tmp_path, 30)
    client = Client(server.url, server.user, server.password, timeout=1.0, backoff=0.05,
                    silence_seconds=2.0)
    save_calls = []

    def save(table):
        save_calls.append(table)
        ws.save("resolved", table)

    def stop_server_after_some():
        deadline = time.monotonic() + 30
        while acknowledged(ws) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.process.send_signal(signal.SIGSTOP)

    stopper = threading.Thread(target=stop_server_after_some)
    stopper.start()
    try:
        with pytest.raises(ServerUnreachable) as stopped:
            run(ws, ws.load("resolved"), None, client, Options(workers=2), save)
    finally:
        stopper.join()
        server.process.send_signal(signal.SIGCONT)
    assert stopped.value.code == 1
    assert str(stopped.value).startswith(f"server unreachable: {server.url}: no answer at all for")
    assert save_calls  # the statuses so far were written back
    upload(ws, server)
    assert_exactly_once(ws, server)


# --- the final outcomes of one photo --------------------------------------------------------

def test_a_photo_every_attempt_of_which_got_a_5xx_ends_failed(tmp_path, serve_factory):
    from pipeline.upload import Client, Options, run

    server = serve_factory(fail_rate=1)
    ws = make_workspace(tmp_path, 2)
    client = Client(server.url, server.user, server.password, retries=2, backoff=0)
    outcome = run(ws, ws.load("resolved"), None, client, Options(workers=2),
                  lambda table: ws.save("resolved", table))
    assert outcome.failed == 2 and outcome.counts["failed"] == 2
    table = ws.load("resolved")
    assert set(table["upload_status"]) == {
        "failed: 500 Photo upload failed because of an injected storage failure"}
    attempts, checks = "POST /api/bodytrack/photoUpload 500", "GET /api/bodytrack/photo/"
    deadline = time.monotonic() + 10  # each line is written just after its answer
    while (min((log := server.log_text()).count(attempts), log.count(checks)) < 2 * 3
           and time.monotonic() < deadline):
        time.sleep(0.02)
    assert log.count(attempts) == 2 * 3  # each photo: 1 attempt + 2 retries
    assert log.count(checks) == 2 * 3  # after each 500: did it land after all?
    assert len(on_server(server)) == 0


def test_the_key_the_server_gives_is_the_key_the_client_expected(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 5)
    upload(ws, server)
    with closing(read_only(ws.uploads)) as db:
        keys = db.execute("SELECT expected_key, key FROM sends").fetchall()
    assert len(keys) == 5 and all(expected == key for expected, key in keys)
    assert set(on_server(server)["key"]) == {key for _, key in keys}


# --- pure functions: plan, ledger statuses, answers ----------------------------------------

def candidate_rows(*rows: dict) -> pd.DataFrame:
    """Resolved-like rows: name, seconds, sha256, path (/p/<name> unless said), file_type
    (JPEG unless said), no status yet."""
    table = pd.DataFrame([{"file_type": "JPEG", "path": f"/p/{row['name']}", **row}
                          for row in rows]).set_index("name")
    for column in ("upload_status", "server_key", "uploaded_at"):
        table[column] = pd.Series(pd.NA, index=table.index, dtype="string")
    return table


def history(*rows: dict, notes: tuple[dict, ...] = ()):
    """Ledger rows; unnamed columns as an unanswered intent to server A for alice, from the
    path /p/<sha256> (paths: each send's own)."""
    from pipeline.ledger import LEDGER_COLUMNS, NOTE_COLUMNS, PATH_COLUMNS, History

    who = {"server": "https://a/", "user": "alice"}
    base = dict.fromkeys(LEDGER_COLUMNS) | who | {"expected_key": "k",
                                                  "intent_at": "2024-01-01T00:00:00+00:00"}
    sends = pd.DataFrame([base | {"path": f"/p/{row['sha256']}"} | row for row in rows],
                         columns=LEDGER_COLUMNS)
    noted = pd.DataFrame([who | {"noted_at": "2024-01-02T00:00:00+00:00", "converter": None}
                          | note for note in notes], columns=NOTE_COLUMNS)
    return History(sends, sends[PATH_COLUMNS], noted)


def acked(sha256: str, capture_ms: int, at: str = "2024-01-01T00:00:01+00:00", **more) -> dict:
    return {"sha256": sha256, "capture_ms": capture_ms, "operation": "created",
            "key": f"key-{sha256}-{capture_ms}", "acked_at": at, "outcome": "uploaded", **more}


PLAN_ROWS = candidate_rows(
    {"name": "acked", "capture_time_secs_utc": 1.0, "sha256": "a"},
    {"name": "retimed", "capture_time_secs_utc": 2.0, "sha256": "b"},
    {"name": "unsupported", "capture_time_secs_utc": 3.0, "sha256": "c", "file_type": "PSD"},
    {"name": "failed then acked", "capture_time_secs_utc": 4.0, "sha256": "d"},
    {"name": "failed", "capture_time_secs_utc": 5.0, "sha256": "e"},
    {"name": "new", "capture_time_secs_utc": 6.0, "sha256": "f"},
    {"name": "acked unsupported", "capture_time_secs_utc": 7.0, "sha256": "g", "file_type": "PSD"},
    {"name": "heic", "capture_time_secs_utc": 8.0, "sha256": "h", "file_type": "HEIC"},
    {"name": "raw without preview", "capture_time_secs_utc": 9.0, "sha256": "i", "file_type": "CR2"},
    {"name": "edited", "capture_time_secs_utc": 10.0, "sha256": "j2", "path": "/p/j"},
    {"name": "1965", "capture_time_secs_utc": -1.0, "sha256": "k"},
    {"name": "copy of new", "capture_time_secs_utc": 6.0, "sha256": "f"},
    {"name": "lost answer", "capture_time_secs_utc": 11.0, "sha256": "l"},
)
PLAN_HISTORY = history(
    acked("a", 1000), acked("b", 2000 + 3_600_000), acked("d", 4000),
    {"sha256": "e", "capture_ms": 5000, "outcome": "rejected: bad time"}, acked("g", 7000),
    acked("j", 10000), {"sha256": "l", "capture_ms": 11000, "expected_key": "17.l-key"},
    notes=({"sha256": "i", "capture_ms": 9000, "path": "/p/raw without preview",
            "outcome": "unsupported_format", "converter": 1},))


def test_make_plan_gives_each_candidate_its_verdict_from_the_ledger():
    from pipeline.upload import make_plan

    plan = make_plan(PLAN_ROWS, PLAN_HISTORY)
    assert plan.rows["verdict"].to_dict() == {
        "acked": "already_on_server", "retimed": "blocked_retimed",
        "unsupported": "unsupported_format", "failed then acked": "already_on_server",
        "failed": "send", "new": "send", "acked unsupported": "already_on_server",
        "heic": "send", "raw without preview": "unsupported_format",
        "edited": "blocked_changed", "1965": "before_epoch", "copy of new": "send",
        "lost answer": "send"}
    send = plan.send
    assert list(send.index) == ["failed", "new", "heic", "lost answer"]  # one per photo
    assert send.loc["new", "copies"] == ["new", "copy of new"]
    assert send.loc["new", "paths"] == ["/p/new", "/p/copy of new"]
    assert send["capture_ms"].tolist() == [5000, 6000, 8000, 11000]
    # only an answer that may have landed is asked for first (a 4xx did not land)
    assert send["check_key"].isna().tolist() == [True, True, True, False]
    assert send.loc["lost answer", "check_key"] == "17.l-key"
    assert plan.converted() == 1


def test_make_plan_allow_options_and_no_convert():
    from pipeline.upload import Options, make_plan

    allowed = make_plan(PLAN_ROWS, PLAN_HISTORY, Options(allow_retime=True, allow_resend=True))
    assert list(allowed.send.index) == ["retimed", "failed", "new", "heic", "edited",
                                        "lost answer"]
    assert allowed.rows["changed"].sum() == 1 and allowed.rows["retimed"].sum() == 1
    plain = make_plan(PLAN_ROWS, PLAN_HISTORY, Options(convert=False))
    assert plain.rows.loc["heic", "verdict"] == "unsupported_format"
    assert list(make_plan(PLAN_ROWS, history()).send.index) == [
        "acked", "retimed", "failed then acked", "failed", "new", "heic",
        "raw without preview", "edited", "lost answer"]  # an empty ledger blocks nothing


def test_apply_ledger_rebuilds_statuses_from_every_server():
    from pipeline.ledger import apply_ledger

    resolved = candidate_rows(
        {"name": "acked on A, later updated on B", "capture_time_secs_utc": 1.0, "sha256": "a"},
        {"name": "failed on A, acked on B", "capture_time_secs_utc": 2.0, "sha256": "b"},
        {"name": "failed", "capture_time_secs_utc": 3.0, "sha256": "c"},
        {"name": "retimed", "capture_time_secs_utc": 4.0, "sha256": "d"},
        {"name": "never sent", "capture_time_secs_utc": 5.0, "sha256": "e"},
        {"name": "no time", "capture_time_secs_utc": None, "sha256": "f"},
        {"name": "edited", "capture_time_secs_utc": 6.0, "sha256": "g2", "path": "/p/g"},
        {"name": "unsupported", "capture_time_secs_utc": 7.0, "sha256": "h"},
        {"name": "refused, then edited", "capture_time_secs_utc": 8.0, "sha256": "i2",
         "path": "/p/i"},
    )
    ledger = history(
        acked("a", 1000),
        acked("a", 1000, at="2024-02-01T00:00:00+00:00", server="https://b/", operation="updated",
              outcome="updated", key="key-a-on-b"),
        {"sha256": "b", "capture_ms": 2000, "outcome": "failed: 500 disk"},
        acked("b", 2000, server="https://b/"),
        {"sha256": "c", "capture_ms": 3000, "outcome": "failed: could not connect (refused)"},
        acked("d", 4000 - 8 * 3_600_000),
        acked("f", 6000),
        acked("g", 5000),
        {"sha256": "i", "capture_ms": 8000, "outcome": "rejected: cannot decode"},
        notes=({"sha256": "h", "capture_ms": 7000, "path": "/p/unsupported",
                "outcome": "unsupported_format"},))
    out = apply_ledger(resolved, ledger)
    assert out["upload_status"].fillna("-").tolist() == [
        "updated", "uploaded", "failed: could not connect (refused)", "blocked_retimed", "-",
        "-", "blocked_changed", "unsupported_format", "-"]
    assert out.loc["acked on A, later updated on B", "server_key"] == "key-a-on-b"
    assert out.loc["failed on A, acked on B", "server_key"] == "key-b-2000"
    assert out.loc["retimed", "uploaded_capture_time_secs_utc"] == 4.0 - 8 * 3600
    assert out.loc["edited", "uploaded_capture_time_secs_utc"] == 5.0  # the other version
    assert out.loc["edited", "uploaded_sha256"] == "g"
    assert out["uploaded_capture_time_secs_utc"].drop(["retimed", "edited"]).isna().all()
    assert out["uploaded_sha256"].drop("edited").isna().all()
    assert apply_ledger(resolved, history()).equals(resolved)  # an empty ledger changes nothing


BARE = b'{"operation":"created","key":"17.k","id":4}'


@pytest.mark.parametrize("status, content, content_type, expected", [
    (200, b'{"result":"OK","message":"photo created sucessfully!","payload":'
          b'{"operation":"created","key":"17.k","id":4}}', "application/json",
     ("uploaded", "created", "17.k", 4)),
    (200, b'{"result":"OK","payload":{"operation":"updated","key":"17.k","id":4}}', "",
     ("updated", "updated", "17.k", 4)),
    (200, b'{"result":"OK","payload":{"operation":"created","key":"17.other","id":4}}', "",
     ("failed: the server answered key 17.other, not the expected 17.k",)),
    (200, b"<html>Sign in</html>", "text/html",
     ("failed: an HTML page (200), not Fluxtream's answer", None, None, None, "stop")),
    (302, b"", "", ("failed: a redirect (302 to /welcome?signIn), not Fluxtream's answer",
                    None, None, None, "stop")),
    (200, BARE, "application/json", ("failed: not a Fluxtream answer (200 with a bare payload)",)),
    (200, b'{"result":"OK","payload":{"operation":"deleted"}}', "",
     ("failed: not a Fluxtream answer (200)",)),
    (200, b'{"result":"KO","message":"NullPointerException"}', "",
     ("failed: 200 NullPointerException",)),
    (415, b'{"result":"KO","message":"Unsupported"}', "", ("unsupported_format",)),
    (503, b'{"result":"KO","message":"busy"}', "",
     ("failed: 503 busy", None, None, None, "check")),
    (502, b"Bad Gateway", "text/plain",
     ("failed: not a Fluxtream answer (502)", None, None, None, "check")),
    (502, b"<html>Bad Gateway</html>", "text/html",
     ("failed: an HTML page (502), not Fluxtream's answer", None, None, None, "stop")),
    (400, b'{"result":"KO","message":"bad \\u0000 time\\u001b[2J\\ud800"}', "",
     ("rejected: bad \\x00 time\\x1b[2J\\ud800",)),
    (400, b'[' * 100_000, "", ("failed: not a Fluxtream answer (400)",)),
])
def test_an_answer_means_what_the_contract_says_and_its_text_is_escaped(status, content,
                                                                        content_type, expected):
    from pipeline.upload import Result, interpret

    assert interpret(status, content, content_type, "/welcome?signIn", "17.k") == \
        Result(*expected)


@given(st.integers(0, MAX_CAPTURE_MS), st.lists(st.text(max_size=5), max_size=3))
def test_a_java_server_truncating_seconds_times_1000_lands_on_the_approved_millisecond(ms, tags):
    from pipeline.upload import metadata_json, photo_tags

    metadata = json.loads(metadata_json(ms, photo_tags(tuple(tags), None)),
                          parse_float=lambda text: text)
    assert int(float(metadata["capture_time_secs_utc"]) * 1000) == ms  # (long)(double*1000)
    assert metadata.get("tags") == (",".join(t.strip() for t in tags if t.strip()) or None)


def test_tags_are_one_comma_separated_string_with_the_folder_name():
    from pipeline.upload import photo_tags

    assert photo_tags(("trip", " family "), "/photos/Rome, Naples 2019") == \
        "trip,family,Rome  Naples 2019"
    assert photo_tags((), None) is None and photo_tags(("",), "/") is None


def test_reachability_counts_photos_in_a_row_and_an_answer_resets_them():
    from pipeline.upload import Reachability

    reach = Reachability(max_connect_failures=3, silence_seconds=3600)
    for _ in range(2):
        reach.sending()
        reach.unanswered(True, "Connection refused")
    reach.sending()
    reach.answered()  # an answer, even a 500, means the server is there
    for _ in range(2):
        reach.sending()
        reach.unanswered(True, "Connection refused")
    assert reach.verdict() is None
    reach.sending()
    reach.unanswered(False, "Remote end closed connection")  # it connected: not counted
    assert reach.verdict() is None
    reach.sending()
    reach.unanswered(True, "Connection refused")
    assert reach.verdict() == "3 requests in a row could not connect (Connection refused)"
    silent = Reachability(max_connect_failures=10, silence_seconds=0)
    assert silent.verdict() is not None


def test_a_rerun_with_nothing_to_send_needs_no_server_password_or_table(tmp_path, serve_factory):
    """Once everything is sent, a rerun on unchanged tables and ledger is answered from the
    manifest (without pandas, pyarrow or the HTTP client); anything that changes what it would
    do takes the whole way again, which needs no server either while nothing is to be sent."""
    server = serve_factory()
    ws = make_workspace(tmp_path, 3)
    upload(ws, server)
    server.stop()
    command = [PHOTOFLUX, "upload", "-w", str(ws.root), "--server", server.url, "--user",
               server.user]
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})  # no password
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "upload: 3 approved photos selected; 3 already on server\n"
    imported = {line.rsplit("|", 1)[1].strip() for line in rerun.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pipeline.workspace" in imported
    assert not {"pandas", "pyarrow", "numpy", "urllib3", "PIL"} & imported
    cli(ws, "unapprove", "--first", "IMG_0000", "--last", "IMG_0000")
    assert upload(ws, server) == "upload: 2 approved photos selected; 2 already on server\n"
    cli(ws, "approve", "--all")
    assert upload(ws, server) == "upload: 3 approved photos selected; 3 already on server\n"
    assert upload(ws, server) == "upload: 3 approved photos selected; 3 already on server\n"


def test_statuses_are_saved_while_photos_are_still_being_sent(tmp_path, serve_factory):
    """A checkpoint runs beside the sending (a large table takes a while to write): a killed
    run loses at most the last few seconds of statuses, and sending never waits for it."""
    from pipeline.upload import Client, Options, run

    server = serve_factory(delay_ms=50)
    ws = make_workspace(tmp_path, 24)
    saved = []

    def save(table):
        saved.append(int(table["upload_status"].isin(["uploaded"]).sum()))
        ws.save("resolved", table)

    run(ws, ws.load("resolved"), None, Client(server.url, server.user, server.password),
        Options(workers=2), save, checkpoint_seconds=0.1)
    assert len(saved) >= 3 and 0 < saved[0] < 24 and saved[-1] == 24
    assert saved == sorted(saved)
