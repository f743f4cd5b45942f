"""Faults at the edges, through the real CLI: damaged workspace files, a full disk, killed
commands, paths with CR and LF, and the exit code of each."""
from __future__ import annotations

import hashlib
import io
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import piexif
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import fill
from frames import photos
from pipeline.approvals import is_approved
from pipeline.cli import main
from pipeline.workspace import FAIL_WRITE_ENV, Workspace

TRIP = [
    {"file_name": "IMG_0001.jpg", "datetime_original": "2019:07:04 12:00:00",
     "offset_time_original": "+02:00"},
    {"file_name": "IMG_0002.jpg", "datetime_original": "2019:07:04 13:00:00"},
    {"file_name": "IMG_0003.jpg", "datetime_original": "2019:07:05 09:00:00",
     "gps_lat": 40.7128, "gps_lon": -74.006},
]
LOCK_FILES = {".photoflux.lock", ".photoflux.lock.owner"}  # rewritten by every writer


def cli(ws: Workspace, *args: str, code: int = 0, env: dict | None = None) -> str:
    result = CliRunner(env=env).invoke(main, [args[0], "-w", str(ws.root), *args[1:]])
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def one_error(output: str) -> str:
    """The single line a failing command printed, without its prefix."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("photoflux: error: "), output
    return lines[0].removeprefix("photoflux: error: ")


def snapshot(ws: Workspace) -> dict[str, bytes]:
    """Every file of the workspace and its bytes (the lock files aside)."""
    return {str(p.relative_to(ws.root)): p.read_bytes() for p in ws.root.rglob("*")
            if p.is_file() and p.name not in LOCK_FILES}


def leftovers(ws: Workspace) -> list[Path]:
    return [p for p in ws.root.rglob(".*") if p.name.endswith(".tmp") or p.name == ".photoflux.journal"]


def jpeg(path: Path, when: str = "2019:07:04 12:00:00") -> Path:
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: when.encode()}})
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "JPEG", exif=exif)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A resolved workspace with every photo approved."""
    ws = Workspace(tmp_path / "ws")
    ws.save("photos", photos(*TRIP, folder=str(tmp_path / "photos")))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    return ws


# --- a full disk ------------------------------------------------------------------------------

def test_unapprove_failing_on_audit_csv_leaves_every_file_as_it_was(ws):
    before = snapshot(ws)
    output = cli(ws, "unapprove", "--all", code=1, env={FAIL_WRITE_ENV: "audit.csv"})
    assert one_error(output) == f"no space left on device while writing {ws.audit_csv}"
    assert snapshot(ws) == before
    assert leftovers(ws) == []
    assert is_approved(ws.load("resolved")).all()


@pytest.mark.parametrize("command, failing", [
    (["resolve", "--default-tz", "Asia/Tokyo"], "resolved.parquet"),
    (["resolve", "--default-tz", "Asia/Tokyo"], "overrides_in_force.csv"),
    (["resolve", "--default-tz", "Asia/Tokyo"], "manifest.json"),
    (["resolve", "--default-tz", "Asia/Tokyo"], ".photoflux.journal"),
    (["approve", "--all"], "approvals.csv"),
    (["unapprove", "--all"], "resolved.parquet"),
    (["report"], "audit.html"),
    (["report"], "manifest.json"),
])
def test_a_full_disk_is_one_line_exit_1_and_changes_nothing(ws, command, failing):
    if command[0] == "approve":
        cli(ws, "unapprove", "--all")
    before = snapshot(ws)
    output = cli(ws, *command, code=1, env={FAIL_WRITE_ENV: failing})
    error = one_error(output)
    assert error.startswith(f"no space left on device while writing {ws.root}/")
    assert error.endswith(failing)
    assert snapshot(ws) == before
    assert leftovers(ws) == []
    cli(ws, *command)  # with space again, the same command goes through


def test_extract_on_a_full_disk_keeps_the_old_table(tmp_path):
    library, ws = tmp_path / "library", Workspace(tmp_path / "ws")
    jpeg(library / "a.jpg")
    cli(ws, "extract", str(library))
    jpeg(library / "b.jpg")
    before = snapshot(ws)
    for failing in ("photos.parquet", "manifest.json"):
        output = cli(ws, "extract", str(library), code=1, env={FAIL_WRITE_ENV: failing})
        assert one_error(output) == f"no space left on device while writing {ws.data / failing}"
        assert snapshot(ws) == before and leftovers(ws) == []


def test_a_really_full_disk_leaves_the_workspace_as_it_was(small_disk, tmp_path):
    ws = Workspace(small_disk / "ws")
    ws.save("photos", photos(*TRIP, folder=str(tmp_path / "photos")))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    before = snapshot(ws)
    filler = fill(small_disk)
    for command in (["unapprove", "--all"], ["resolve", "--default-tz", "Asia/Tokyo"],
                    ["report"]):
        error = one_error(cli(ws, *command, code=1))
        assert error.startswith(f"no space left on device while writing {ws.root}/")
        assert snapshot(ws) == before and leftovers(ws) == []
    filler.unlink()
    cli(ws, "unapprove", "--all")
    assert not is_approved(ws.load("resolved")).any()


def test_upload_stops_on_a_full_disk_and_the_rerun_sends_each_photo_once(
        small_disk, tmp_path, serve_factory):
    ws = Workspace(small_disk / "ws")
    rows = [{**row, "path": str(jpeg(tmp_path / "photos" / row["file_name"],
                                     row["datetime_original"]))} for row in TRIP]
    for row in rows:
        data = Path(row["path"]).read_bytes()
        row.update(sha256=hashlib.sha256(data).hexdigest(), file_size=len(data))
    ws.save("photos", photos(*rows, folder=str(tmp_path / "photos")))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    server = serve_factory()
    args = ["upload", "--server", server.url, "--user", server.user]
    env = {"FLUXTREAM_PASSWORD": server.password}
    cli(ws, *args, "--path-glob", "*/IMG_0001.jpg", env=env)
    filler = fill(small_disk)
    error = one_error(cli(ws, *args, code=1, env=env))
    assert error.startswith(f"no space left on device while writing {ws.root}/")
    filler.unlink()
    output = cli(ws, *args, env=env)
    assert "1 already on server" in output and "2 uploaded" in output
    held = server_photos(server)
    assert len(held) == 3 and held["key"].is_unique


def server_photos(server) -> pd.DataFrame:
    import requests

    guest = requests.get(server.url + "api/guest", auth=server.auth).json()
    listing = requests.get(
        f"{server.url}api/bodytrack/photos/{guest['id']}/FluxtreamCapture.photo/0/10000",
        params={"isBefore": "false"}, auth=server.auth)
    held = pd.DataFrame(listing.json(), columns=["id", "url", "begin_d"])
    return held.assign(key=held["url"].str.rsplit("/", n=1).str[1])  # items carry no key field


# --- killed commands --------------------------------------------------------------------------

def run_until_killed(ws: Workspace, patch: str, *command: str) -> None:
    """Run the real CLI in a child whose `patch` (Python) SIGKILLs it part-way; wait for it."""
    script = textwrap.dedent(patch) + textwrap.dedent(f"""
        from pipeline.cli import main
        main({[command[0], "-w", str(ws.root), *command[1:]]!r})
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr


def test_a_change_killed_between_renames_is_completed_by_the_next_command(ws):
    run_until_killed(ws, """
        import os, signal
        real, calls = os.replace, []
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == 3:  # the journal and one file are in place, three are not
                os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst)
        os.replace = replace
    """, "unapprove", "--all")
    assert ws.journal.exists() and len(leftovers(ws)) == 4  # the journal and three temp files
    cli(ws, "report")  # any writing command finishes the change first
    assert leftovers(ws) == []
    assert ws.load("approvals").empty
    assert not is_approved(ws.load("resolved")).any()
    assert ws.load("segments")["approved"].sum() == 0
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig")
    assert not audit["approved"].any()


def test_a_temp_file_left_by_a_kill_mid_write_is_removed_by_the_next_command(ws):
    before = ws.resolved.read_bytes()
    run_until_killed(ws, """
        import os, signal
        import pyarrow.parquet as pq
        def die(table, where):
            with open(where, "wb") as out:
                out.write(b"PAR1 half a table")
            os.kill(os.getpid(), signal.SIGKILL)
        pq.write_table = die
    """, "resolve", "--default-tz", "Asia/Tokyo")
    assert ".resolved.parquet." in " ".join(p.name for p in leftovers(ws))  # audit.csv's too, maybe
    assert ws.resolved.read_bytes() == before
    cli(ws, "resolve", "--default-tz", "Asia/Tokyo")
    assert leftovers(ws) == []


# --- damaged workspace files ------------------------------------------------------------------

def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(b"\x00\xff not a table \x1b[31m" * 50)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "foreign schema":
        pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), path)
    elif how == "a column of another type":
        table = pq.read_table(path)
        index = table.schema.get_field_index("file_size")
        pq.write_table(table.set_column(index, "file_size", table["file_size"].cast(pa.string())),
                       path)
    elif how == "a column missing":
        pq.write_table(pq.read_table(path).drop_columns(["sha256"]), path)


HOW = ["garbage", "empty", "truncated", "foreign schema", "a column of another type",
       "a column missing"]


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_photos_table_is_one_line_naming_it_and_the_rebuild(ws, how, tmp_path):
    damage(ws.photos, how)
    before = snapshot(ws)
    for command in (["resolve", "--default-tz", "Europe/Berlin"], ["extract", str(tmp_path)]):
        error = one_error(cli(ws, *command, code=2))
        assert error.startswith(f"{ws.photos}: ")
        assert f"photoflux extract --rebuild -w {ws.root}" in error
    assert snapshot(ws) == before


@pytest.mark.parametrize("how, command", [
    *((how, ["approve", "--all"]) for how in HOW),
    *(("garbage", command) for command in (
        ["unapprove", "--all"], ["report"], ["status"],
        ["upload", "--server", "http://127.0.0.1:9/", "--user", "a", "--dry-run"],
        ["upload", "--server", "http://127.0.0.1:9/", "--user", "a"])),
])
def test_a_damaged_resolved_table_is_one_line_saying_resolve_again(ws, how, command):
    damage(ws.resolved, how)
    error = one_error(cli(ws, *command, code=2))
    assert error.startswith(f"{ws.resolved}: ") and "photoflux resolve" in error


def test_an_older_table_without_the_warnings_column_is_still_read(ws):
    pq.write_table(pq.read_table(ws.photos).drop_columns(["warnings"]), ws.photos)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert ws.load("photos")["warnings"].isna().all()


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"path,sha256\n/a,b\n",
                                     b'path,sha256,capture_time_secs_utc,tz_name,approved_at\n"/a'])
def test_an_unreadable_approvals_file_is_one_line_exit_2(ws, content):
    ws.approvals.write_bytes(content)
    before = snapshot(ws)
    for command in (["approve", "--all"], ["resolve", "--default-tz", "Europe/Berlin"]):
        error = one_error(cli(ws, *command, code=2))
        assert error.startswith(f"{ws.approvals}: cannot be read")
    assert snapshot(ws) == before


def test_an_empty_approvals_file_is_no_approvals(ws):
    ws.approvals.write_bytes(b"")
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert not is_approved(ws.load("resolved")).any()
    cli(ws, "approve", "--first", "IMG_0001", "--last", "IMG_0001")
    assert len(ws.load("approvals")) == 1


def test_unreadable_rules_in_force_stop_the_report_saying_resolve_again(ws):
    ws.rules_in_force.write_bytes(b"line,tz\n\xff\xfe\xfd\n")
    error = one_error(cli(ws, "report", code=2))
    assert error.startswith(f"{ws.rules_in_force}: cannot be read") and "photoflux resolve" in error


def test_an_unreadable_manifest_is_one_line_exit_2_and_kept(ws):
    ws.manifest.write_text("{ half a manifest")
    for command in (["status"], ["report"]):
        error = one_error(cli(ws, *command, code=2))
        assert error.startswith(f"{ws.manifest}: cannot be read")
    assert ws.manifest.read_text() == "{ half a manifest"


# --- paths with CR and LF ---------------------------------------------------------------------

def test_paths_with_cr_and_lf_round_trip_through_every_csv(tmp_path):
    library, ws = tmp_path / "library", Workspace(tmp_path / "ws")
    names = ["cr\rname.jpg", "lf\nname.jpg", "both\r\nname.jpg", "plain.jpg"]
    for number, name in enumerate(names):
        jpeg(library / name, f"2019:07:04 1{number}:00:00")
    paths = {str(library / name) for name in names}
    (ws.root).mkdir()
    (ws.root / "overrides.csv").write_bytes(
        b'path_glob,tz,note\n"*/cr\rname.jpg",Asia/Tokyo,"a note\r\non two lines"\n')
    cli(ws, "extract", str(library))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--path-glob", "*/cr\rname.jpg", "--path-glob", "*/lf\nname.jpg",
        "--path-glob", "*/both\r\nname.jpg")
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")  # the approvals are read back

    table = ws.load("resolved").set_index("file_name")
    assert set(table.index[is_approved(table)]) == set(names) - {"plain.jpg"}
    assert table.loc["cr\rname.jpg", "tz_name"] == "Asia/Tokyo"
    assert set(ws.load("approvals")["path"]) == paths - {str(library / "plain.jpg")}
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig", dtype={"path": "string"})
    assert set(audit["path"]) == paths
    rules = ws.load("rules_in_force")
    assert rules["path_glob"].tolist() == ["*/cr\rname.jpg"]
    assert rules["note"].tolist() == ["a note\r\non two lines"]


def test_an_error_naming_a_path_with_a_newline_stays_one_line(tmp_path):
    ws = Workspace(tmp_path / "new\nline")
    error = one_error(cli(ws, "report", code=2))
    assert "new\\nline" in error and "photoflux resolve" in error


# --- exit codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["extract", "."], ["resolve", "--default-tz", "UTC"], ["report"],
    ["run", ".", "--default-tz", "UTC"], ["approve", "--all"], ["unapprove", "--all"],
    ["upload", "--server", "http://127.0.0.1:9/", "--user", "a"],
])
def test_every_writing_command_refuses_a_busy_workspace_with_exit_1(ws, command):
    before = snapshot(ws)
    with ws.writer("upload"):
        error = one_error(cli(ws, *command, code=1))
    assert "is busy: 'photoflux upload'" in error
    assert snapshot(ws) == before


@pytest.mark.parametrize("command", [
    ["unapprove", "--path-glob", "*/nothing*"],
    ["upload", "--server", "http://127.0.0.1:9/", "--user", "a", "--path-glob", "*/nothing*"],
    ["upload", "--server", "http://127.0.0.1:9/", "--user", "a", "--dry-run", "--first", "X",
     "--last", "Y"],
])
def test_a_selection_matching_nothing_is_exit_1(ws, command):
    assert one_error(cli(ws, *command, code=1, env={"FLUXTREAM_PASSWORD": "pw"})) == \
        "the selection matches no photo"


def test_sample_on_a_full_disk_is_one_line_exit_1(small_disk):
    fill(small_disk)
    result = CliRunner().invoke(main, ["sample", str(small_disk / "library")])
    assert result.exit_code == 1, result.output
    assert one_error(result.output).startswith("no space left on device while writing ")
