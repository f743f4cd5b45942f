"""The extract stage: walk rules, rows, incremental reruns, guards, and the CLI around it."""
from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import piexif
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.extract import extract
from pipeline.readers import READER_VERSION
from pipeline.schema import ADDED_PHOTOS_COLUMNS, PHOTOS, RESOLVED
from pipeline.walk import photo_files
from pipeline.workspace import Workspace, read_table

stage = importlib.import_module("pipeline.extract")  # the module, even if pipeline re-exports extract()


def write_photo(path: Path, taken: str = "2020:01:02 03:04:05") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode()}})
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder of photos exercising every walk rule."""
    root = tmp_path / "library"
    write_photo(root / "a.jpg")
    write_photo(root / "nested" / "deeper" / "b.JPEG", "2021:05:06 07:08:09")
    write_photo(root / "Été [2019] (copy)" / "IMG 1.jpg")
    write_photo(root / ".hidden.jpg")
    write_photo(root / ".thumbnails" / "c.jpg")
    (root / "notes.txt").write_text("not a photo")
    (root / "broken.png").write_bytes(b"not a png at all")
    (root / "empty.heic").write_bytes(b"")
    outside = write_photo(tmp_path / "elsewhere" / "linked.jpg").parent
    (root / "link to elsewhere").symlink_to(outside)
    (root / "nested" / "loop").symlink_to(root)
    return root


def relative(rows, root: Path) -> list[str]:
    return [os.path.relpath(path, root) for path in rows]


# --- walking ----------------------------------------------------------------------------------


def test_walk_takes_photo_extensions_skips_hidden_follows_links_once(library):
    found = relative([stat.path for stat in photo_files([library])], library)
    assert found == [
        "a.jpg", "broken.png", "empty.heic", "link to elsewhere/linked.jpg",
        "nested/deeper/b.JPEG", "Été [2019] (copy)/IMG 1.jpg",
    ]


def test_walk_of_overlapping_paths_lists_each_file_once(library):
    found = photo_files([library, library / "nested", library / "a.jpg"])
    assert len(found) == len({stat.path for stat in found}) == 6


def test_symlinked_photos_are_followed_and_non_regular_files_skipped_with_a_warning(tmp_path):
    folder = tmp_path / "folder"
    write_photo(folder / "real.jpg")
    (folder / "link.jpg").symlink_to(folder / "real.jpg")
    os.mkfifo(folder / "pipe.jpg")
    os.mkfifo(folder / "pipe.txt")  # not named like a photo: not a word
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    (folder / "bad\x01\nname.jpg").symlink_to(folder / "nowhere.jpg")
    result = CliRunner().invoke(main, ["extract", str(folder), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert sorted(result.output.splitlines()[:-1]) == [
        f"photoflux: warning: skipping {folder}/bad\\x01\\nname.jpg: a broken symbolic link",
        f"photoflux: warning: skipping {folder}/dangling.jpg: a broken symbolic link",
        f"photoflux: warning: skipping {folder}/loop.jpg: a symbolic link loop",
        f"photoflux: warning: skipping {folder}/pipe.jpg: not a regular file (a named pipe)",
    ]
    photos = read_table(Workspace(tmp_path / "ws").photos, PHOTOS).set_index("file_name")
    assert list(photos.index) == ["link.jpg", "real.jpg"]
    assert photos.loc["link.jpg", "sha256"] == photos.loc["real.jpg", "sha256"]


def test_missing_path_raises_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        extract([tmp_path / "no-such-folder"])


# --- rows -------------------------------------------------------------------------------------


def test_rows_have_the_photos_columns_file_facts_and_tags(library):
    photos = extract([library])
    assert list(photos.columns) == PHOTOS.names
    assert list(photos["path"]) == sorted(photos["path"])
    row = photos.set_index("file_name").loc["IMG 1.jpg"]
    path = library / "Été [2019] (copy)" / "IMG 1.jpg"
    assert row["path"] == str(path) and Path(row["path"]).is_absolute()
    assert row["folder"] == str(path.parent)
    assert row["file_size"] == path.stat().st_size
    assert row["mtime_ns"] == path.stat().st_mtime_ns
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row["file_type"] == "JPEG"
    assert row["datetime_original"] == "2020:01:02 03:04:05"


def test_bad_files_become_rows_with_an_error(library):
    photos = extract([library]).set_index("file_name")
    assert photos.loc["broken.png", "error"].startswith("not a recognised image format")
    assert photos.loc["empty.heic", "error"] == "empty file"
    assert photos.loc["empty.heic", "sha256"] == hashlib.sha256(b"").hexdigest()
    assert photos["error"].notna().sum() == 2


# --- incremental reruns -----------------------------------------------------------------------


@pytest.fixture
def reads(monkeypatch, tmp_path) -> Path:
    """A log of every file handed to the reader, kept across the pool's forked workers."""
    log = tmp_path / "reads.log"
    log.touch()
    original = stage._read_photo

    def logged(stat):
        with open(log, "a") as out:
            out.write(os.path.basename(stat.path) + "\n")
        return original(stat)

    monkeypatch.setattr(stage, "_read_photo", logged)
    return log


def read_names(log: Path) -> list[str]:
    return sorted(log.read_text().split("\n")[:-1])


def test_unchanged_rerun_opens_no_file(library, reads):
    first = extract([library])
    assert len(read_names(reads)) == 6
    reads.write_text("")
    again = extract([library], previous=first)
    assert read_names(reads) == []
    assert again.equals(first)
    assert again.attrs["extract"] == {"read": 0, "reused": 6, "kept": 0, "dropped": 0}


def test_touched_file_is_reread_deleted_dropped_new_added(library, reads):
    first = extract([library])
    reads.write_text("")
    touched = library / "a.jpg"
    write_photo(touched, "2022:12:31 23:59:59")
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))
    (library / "nested" / "deeper" / "b.JPEG").unlink()
    write_photo(library / "new.jpg")
    again = extract([library], previous=first)
    assert read_names(reads) == ["a.jpg", "new.jpg"]
    assert again.set_index("file_name").loc["a.jpg", "datetime_original"] == "2022:12:31 23:59:59"
    assert "b.JPEG" not in set(again["file_name"])
    assert again.attrs["extract"] == {"read": 2, "reused": 4, "kept": 0, "dropped": 1}


def test_rows_never_fully_read_are_read_again(library, reads):
    first = extract([library])
    first.loc[first["file_name"] == "a.jpg", ["sha256", "error"]] = [None, "cannot read the file"]
    reads.write_text("")
    again = extract([library], previous=first)
    assert read_names(reads) == ["a.jpg"]
    assert again["sha256"].notna().all()


# --- guards -----------------------------------------------------------------------------------


def test_a_file_that_hangs_the_reader_is_given_up(library, monkeypatch):
    def hang(fh):
        if fh.name.endswith("a.jpg"):
            time.sleep(60)
        return {}

    monkeypatch.setattr(stage, "read_tags", hang)
    monkeypatch.setattr(stage, "BASE_SECONDS", 0.3)
    started = time.monotonic()
    photos = extract([library]).set_index("file_name")
    assert time.monotonic() - started < 10
    assert photos.loc["a.jpg", "error"] == "gave up reading its tags after 0.3 s"
    assert photos.loc["a.jpg", "sha256"] is not None
    assert photos["error"].notna().sum() == 1


def test_the_time_limit_covers_hashing(tmp_path, monkeypatch):
    sparse = tmp_path / "huge.tif"
    with open(sparse, "wb") as out:
        out.truncate(4 << 30)  # 4 GB of zeros that take no disk and seconds to hash
    monkeypatch.setattr(stage, "BASE_SECONDS", 0.2)
    row = extract([sparse]).iloc[0]
    assert row["error"] == "gave up hashing it after 0.2 s"
    assert pd.isna(row["sha256"])  # so the next run tries again


def test_the_time_limit_grows_with_the_bytes_a_file_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(stage, "BASE_SECONDS", 0.2)
    monkeypatch.setattr(stage, "SLOW_DISK_BYTES_PER_SECOND", 1_000_000)
    big, small = tmp_path / "big.tif", tmp_path / "small.tif"
    big.write_bytes(os.urandom(3_000_000))
    small.write_bytes(os.urandom(1000))
    with open(tmp_path / "sparse.tif", "wb") as out:
        out.truncate(3_000_000)
    assert stage.seconds_allowed(big.stat()) == pytest.approx(3.2)
    assert stage.seconds_allowed((tmp_path / "sparse.tif").stat()) == pytest.approx(0.2)

    def slow_disk(fh):  # a read that takes 1 s whatever the file
        time.sleep(1)
        return {}

    monkeypatch.setattr(stage, "read_tags", slow_disk)
    photos = extract([big, small]).set_index("file_name")
    assert pd.isna(photos.loc["big.tif", "error"])
    assert photos.loc["small.tif", "error"] == "gave up reading its tags after 0.2 s"


def slow_tiff() -> bytes:
    """A TIFF whose IFD0 has 65535 entries of 999 rationals each: minutes of exifread work."""
    count, values_at = 65535, 8 + 2 + 12 * 65535 + 4
    entry = struct.pack("<HHII", 0x9999, 5, 999, values_at)
    return (b"II*\x00" + struct.pack("<IH", 8, count) + entry * count + b"\x00" * 4
            + struct.pack("<II", 1, 1) * 999)


def test_a_hostile_file_is_given_up_in_time(tmp_path, monkeypatch):
    (tmp_path / "slow.tif").write_bytes(slow_tiff())
    write_photo(tmp_path / "fine.jpg")
    monkeypatch.setattr(stage, "BASE_SECONDS", 0.5)
    started = time.monotonic()
    photos = extract([tmp_path]).set_index("file_name")
    assert time.monotonic() - started < 60  # unguarded, this file takes minutes
    assert photos.loc["slow.tif", "error"] == "gave up reading its tags after 0.5 s"
    assert photos.loc["fine.jpg", "datetime_original"] == "2020:01:02 03:04:05"


def test_a_dying_worker_costs_rows_not_the_run(library, monkeypatch):
    monkeypatch.setattr(stage, "read_tags", lambda fh: os._exit(1))
    photos = extract([library], workers=2)
    assert len(photos) == 6
    assert photos["error"].str.contains("died").all()
    assert photos["sha256"].isna().all()  # so the next run reads them again


# --- the command ------------------------------------------------------------------------------


def test_cli_writes_the_table_manifest_and_a_summary(library, tmp_path):
    ws = tmp_path / "ws"
    result = CliRunner().invoke(main, ["extract", str(library), "-w", str(ws), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("extract: 6 photos (6 read, 0 unchanged, 0 dropped), 2 with errors")
    assert len(read_table(Workspace(ws).photos, PHOTOS)) == 6
    entry = json.loads(Workspace(ws).manifest.read_text())["extract"]
    assert entry["paths"] == [str(library)]
    assert (entry["rows"], entry["read"], entry["errors"]) == (6, 6, 2)
    rerun = CliRunner().invoke(main, ["extract", str(library), "-w", str(ws)])
    assert "(0 read, 6 unchanged, 0 dropped)" in rerun.output


UNCHANGED_RERUN = """
import sys
from pipeline.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print("pandas imported" if "pandas" in sys.modules else "no pandas")
"""


def test_unchanged_reruns_leave_the_tables_untouched_and_import_no_pandas(library, tmp_path):
    ws = Workspace(tmp_path / "ws")

    def photoflux(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", UNCHANGED_RERUN, *args, "-w", str(ws.root)],
                              capture_output=True, text=True, check=True)
        return done.stdout

    for command in (["extract"], ["run", "--default-tz", "Europe/Paris"]):
        photoflux(command[0], str(library), *command[1:])
        written = {p: p.stat().st_mtime_ns for p in (ws.photos, ws.resolved, ws.audit_html)
                   if p.exists()}
        again = photoflux(command[0], str(library), *command[1:])
        assert again.splitlines()[-1] == "no pandas", again
        assert "(0 read, 6 unchanged, 0 dropped), 2 with errors" in again or (
            again.count("skipped") == 3)
        assert {p: p.stat().st_mtime_ns for p in written} == written
    (library / "a.jpg.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")  # a new sidecar
    assert "(1 read, 5 unchanged" in photoflux("extract", str(library))


def test_cli_missing_path_is_a_one_line_error_exit_2_nothing_written(library, tmp_path):
    ws = tmp_path / "ws"
    result = CliRunner().invoke(main, ["extract", str(library), str(tmp_path / "nope"), "-w", str(ws)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"photoflux: error: no such file or folder: {tmp_path / 'nope'}"]
    assert not ws.exists()


def test_cli_warns_of_an_unreadable_folder_and_goes_on(library, tmp_path, monkeypatch):
    locked, scandir = library / "nested", os.scandir

    def refuse(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    result = CliRunner().invoke(main, ["extract", str(library), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0
    assert f"photoflux: warning: cannot list {locked}: Permission denied" in result.output
    assert "extract: 5 photos" in result.output


def test_a_kill_mid_write_leaves_the_old_table(library, tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert CliRunner().invoke(main, ["extract", str(library), "-w", str(ws.root)]).exit_code == 0
    before = ws.photos.read_bytes()
    write_photo(library / "added.jpg")
    stalled_writer = textwrap.dedent(f"""
        import sys, time
        import pyarrow.parquet as pq
        def stall(table, where):
            with open(where, "wb") as out:
                out.write(b"PAR1 half a table")
            print("writing", flush=True)
            time.sleep(60)
        pq.write_table = stall  # the workspace imports pyarrow.parquet where it writes
        from pipeline.cli import main
        main(["extract", {str(library)!r}, "-w", {str(ws.root)!r}, "--quiet"])
    """)
    child = subprocess.Popen([sys.executable, "-c", stalled_writer], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert ws.photos.read_bytes() == before
    assert len(read_table(ws.photos, PHOTOS)) == 6
    rerun = CliRunner().invoke(main, ["extract", str(library), "-w", str(ws.root)])
    assert rerun.exit_code == 0 and "7 photos" in rerun.output


# --- what extract keeps, prunes and rebuilds --------------------------------------------------


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_extract_of_a_new_folder_keeps_the_other_folders_rows_and_their_approvals(tmp_path):
    ws = Workspace(tmp_path / "ws")
    old, new = tmp_path / "2019", tmp_path / "2020"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_photo(old / name, "2019:06:01 10:00:00")
    write_photo(new / "d.jpg", "2020:06:01 10:00:00")
    cli("extract", str(old), "-w", str(ws.root))
    cli("resolve", "-w", str(ws.root), "--default-tz", "UTC")
    assert "3 selected" in cli("approve", "--all", "-w", str(ws.root))

    output = cli("extract", str(new), "-w", str(ws.root))
    assert output.startswith("extract: 4 photos (1 read, 0 unchanged, 3 kept from other "
                             "folders, 0 dropped)")
    cli("resolve", "-w", str(ws.root), "--default-tz", "UTC")
    resolved = read_table(ws.resolved, RESOLVED).set_index("file_name")
    assert resolved["approved"].to_dict() == {"a.jpg": True, "b.jpg": True, "c.jpg": True,
                                              "d.jpg": False}
    entry = json.loads(ws.manifest.read_text())["extract"]
    assert (entry["paths"], entry["roots"]) == ([str(new)], [str(old), str(new)])

    (old / "a.jpg").unlink()  # gone, but not under the path given: kept
    (new / "d.jpg").unlink()  # gone under the path given: dropped
    output = cli("extract", str(new), "-w", str(ws.root))
    assert "extract: 3 photos (0 read, 0 unchanged, 3 kept from other folders, 1 dropped)" in output
    output = cli("extract", str(new), "--prune", "-w", str(ws.root))
    assert "extract: 2 photos (0 read, 0 unchanged, 2 kept from other folders, 1 dropped)" in output
    assert sorted(read_table(ws.photos, PHOTOS)["file_name"]) == ["b.jpg", "c.jpg"]
    (old / "b.jpg").unlink()
    output = cli("extract", "--prune", "-w", str(ws.root))  # no PATH: only drop what is gone
    assert "extract: 1 photos (0 read, 0 unchanged, 1 kept from other folders, 1 dropped)" in output


def test_rerun_of_a_subfolder_only_drops_what_is_gone_in_it(library, tmp_path):
    ws = str(tmp_path / "ws")
    cli("extract", str(library), "-w", ws)
    (library / "Été [2019] (copy)" / "IMG 1.jpg").unlink()
    (library / "a.jpg").unlink()
    output = cli("extract", str(library / "Été [2019] (copy)"), "-w", ws)
    assert "extract: 5 photos (0 read, 0 unchanged, 5 kept from other folders, 1 dropped)" in output


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated"])
def test_a_damaged_table_is_one_line_and_rebuild_reads_every_recorded_root(tmp_path, damage):
    ws = Workspace(tmp_path / "ws")
    first, second = tmp_path / "first", tmp_path / "second"
    write_photo(first / "a.jpg")
    write_photo(second / "b.jpg")
    cli("extract", str(first), "-w", str(ws.root))
    cli("extract", str(second), "-w", str(ws.root))
    table = ws.photos.read_bytes()
    ws.photos.write_bytes({"garbage": b"\x00\xffnot parquet at all" * 50, "empty": b"",
                           "truncated": table[:len(table) // 2]}[damage])
    damaged = ws.photos.read_bytes()

    result = CliRunner().invoke(main, ["extract", str(first), "-w", str(ws.root)])
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert line.startswith(f"photoflux: error: {ws.photos}: cannot be read (")
    assert f"run 'photoflux extract --rebuild -w {ws.root}'" in line
    assert ws.photos.read_bytes() == damaged

    output = cli("extract", "--rebuild", "-w", str(ws.root))
    assert output.startswith("extract: 2 photos (2 read, 0 unchanged, 0 dropped)")
    assert sorted(read_table(ws.photos, PHOTOS)["file_name"]) == ["a.jpg", "b.jpg"]


def test_rebuild_adds_the_paths_given_and_without_any_says_what_to_give(tmp_path):
    ws = str(tmp_path / "ws")
    write_photo(tmp_path / "first" / "a.jpg")
    write_photo(tmp_path / "second" / "b.jpg")
    usage = CliRunner().invoke(main, ["extract", "-w", ws])
    assert usage.exit_code == 2 and "give the folders or files to extract" in usage.output
    nothing = CliRunner().invoke(main, ["extract", "--rebuild", "-w", ws])
    assert nothing.exit_code == 2
    assert nothing.output.startswith("photoflux: error: nothing to rebuild:")
    cli("extract", str(tmp_path / "first"), "-w", ws)
    output = cli("extract", "--rebuild", str(tmp_path / "second"), "-w", ws)
    assert output.startswith("extract: 2 photos (2 read, 0 unchanged, 0 dropped)")
    manifest = tmp_path / "ws" / "data" / "manifest.json"
    assert json.loads(manifest.read_text())["extract"]["roots"] == [str(tmp_path / "first"),
                                                                    str(tmp_path / "second")]
    shutil.rmtree(tmp_path / "second")  # an unmounted drive, say: kept on record
    output = cli("extract", "--rebuild", "-w", ws)
    assert output.splitlines()[0] == (f"photoflux: warning: {tmp_path / 'second'} is gone: its "
                                      "photos are left out, and it stays recorded (--prune "
                                      "forgets it)")
    assert "extract: 1 photos" in output
    assert len(json.loads(manifest.read_text())["extract"]["roots"]) == 2
    cli("extract", "--rebuild", "--prune", "-w", ws)
    assert json.loads(manifest.read_text())["extract"]["roots"] == [str(tmp_path / "first")]


# --- killed and stopped -----------------------------------------------------------------------

PHOTOFLUX = Path(sys.executable).with_name("photoflux")


def live_children(pid: int) -> set[int]:
    """Processes (not zombies) whose parent is `pid`, from /proc."""
    children = set()
    for entry in os.listdir("/proc"):
        state = process_state(int(entry)) if entry.isdigit() else None
        if state and state[0] != "Z" and state[1] == pid:
            children.add(int(entry))
    return children


def process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, None when there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state[0] != "Z"


def eventually(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def busy_extract(tmp_path):
    """Start `photoflux extract` (2 workers) on files that keep each worker busy for its whole
    time limit; yield (process, worker pids) once both workers run; kill what is left after."""
    folder = tmp_path / "slow"
    folder.mkdir()
    for n in range(6):
        (folder / f"slow{n}.tif").write_bytes(slow_tiff())
    started = []

    def start(ws: Path, **popen):
        process = subprocess.Popen([str(PHOTOFLUX), "extract", str(folder), "-w", str(ws),
                                    "--workers", "2", "--quiet"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, **popen)
        started.append(process)
        assert eventually(lambda: len(live_children(process.pid)) == 2, 30), "no workers started"
        workers = live_children(process.pid)
        started.extend(workers)
        return process, workers

    yield start
    for process in started:
        if isinstance(process, int):
            if alive(process):
                os.kill(process, signal.SIGKILL)
        elif process.poll() is None:
            process.kill()
            process.wait()


def test_a_killed_extract_takes_its_workers_with_it(busy_extract, tmp_path):
    process, workers = busy_extract(tmp_path / "ws")
    process.kill()
    process.wait()
    assert eventually(lambda: not any(alive(pid) for pid in workers), 5), \
        f"workers outlived the killed extract: {[process_state(pid) for pid in workers]}"


@pytest.mark.parametrize("signum, send", [(signal.SIGTERM, os.kill), (signal.SIGINT, os.killpg)],
                         ids=["SIGTERM to extract", "SIGINT to its group, as Ctrl-C sends it"])
def test_a_stopped_extract_ends_its_pool_and_says_so_in_one_line(busy_extract, tmp_path, signum,
                                                                 send):
    ws = Workspace(tmp_path / "ws")
    write_photo(tmp_path / "before" / "a.jpg")
    cli("extract", str(tmp_path / "before"), "-w", str(ws.root))
    before = ws.photos.read_bytes()
    process, workers = busy_extract(ws.root, start_new_session=True)
    send(process.pid, signum)
    assert eventually(lambda: process.poll() is not None, 30), "extract did not stop"
    stdout, stderr = process.communicate()
    assert (process.returncode, stdout) == (1, "")
    name = signal.Signals(signum).name
    assert stderr.splitlines() == [f"photoflux: error: extract stopped by {name}; {ws.photos} "
                                   "is as it was"]
    assert ws.photos.read_bytes() == before
    assert eventually(lambda: not any(alive(pid) for pid in workers), 5)


# --- rows an older photoflux wrote ------------------------------------------------------------

ZONED_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
             b'22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
             b'xmp:CreateDate="2019-05-05T10:00:00+02:00"/></rdf:RDF></x:xmpmeta>')


def as_an_older_photoflux_wrote_it(ws: Workspace) -> None:
    """photos.parquet without the columns (and so without the evidence) the readers added, and
    a manifest that records no reader version."""
    table = pq.read_table(ws.photos)
    pq.write_table(table.drop_columns([c for c in ADDED_PHOTOS_COLUMNS if c in table.column_names]),
                   ws.photos)
    manifest = json.loads(ws.manifest.read_text())
    del manifest["extract"]["inputs"]["reader_version"]
    ws.manifest.write_text(json.dumps(manifest))


@pytest.mark.parametrize("command", [["extract"], ["run", "--default-tz", "UTC"]])
def test_rows_an_older_reader_wrote_are_read_again_and_gain_the_new_evidence(tmp_path, command):
    photo = tmp_path / "photos" / "IMG_0001.jpg"
    photo.parent.mkdir()
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=ZONED_XMP)
    photo.write_bytes(out.getvalue())
    ws = Workspace(tmp_path / "ws")

    def cli() -> None:
        result = CliRunner().invoke(main, [command[0], str(photo.parent), "-w", str(ws.root),
                                           *command[1:]])
        assert result.exit_code == 0, result.output

    cli()
    as_an_older_photoflux_wrote_it(ws)
    assert pd.isna(ws.load("photos").at[0, "xmp_create_date"])
    cli()
    row = ws.load("photos").iloc[0]
    assert row["xmp_create_date"] == "2019-05-05T10:00:00+02:00"
    assert row["reader_version"] == READER_VERSION
    assert ws.read_manifest()["extract"]["read"] == 1
    cli()  # read by these readers: reused by extract, and run skips the unchanged stage
    assert ws.read_manifest()["extract"]["read"] == (0 if command[0] == "extract" else 1)
