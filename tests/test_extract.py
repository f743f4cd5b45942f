"""The extract stage: walk rules, rows, incremental reruns, guards, and the CLI around it."""
from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import piexif
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.extract import extract, photo_files
from pipeline.schema import PHOTOS
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
    assert again.attrs["extract"] == {"read": 0, "reused": 6, "dropped": 0}


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
    assert again.attrs["extract"] == {"read": 2, "reused": 4, "dropped": 1}


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
    monkeypatch.setattr(stage, "TAG_SECONDS", 0.3)
    started = time.monotonic()
    photos = extract([library]).set_index("file_name")
    assert time.monotonic() - started < 10
    assert photos.loc["a.jpg", "error"] == "gave up reading its tags after 0.3 s"
    assert photos.loc["a.jpg", "sha256"] is not None
    assert photos["error"].notna().sum() == 1


def slow_tiff() -> bytes:
    """A TIFF whose IFD0 has 65535 entries of 999 rationals each: minutes of exifread work."""
    count, values_at = 65535, 8 + 2 + 12 * 65535 + 4
    entry = struct.pack("<HHII", 0x9999, 5, 999, values_at)
    return (b"II*\x00" + struct.pack("<IH", 8, count) + entry * count + b"\x00" * 4
            + struct.pack("<II", 1, 1) * 999)


def test_a_hostile_file_is_given_up_in_time(tmp_path, monkeypatch):
    (tmp_path / "slow.tif").write_bytes(slow_tiff())
    write_photo(tmp_path / "fine.jpg")
    monkeypatch.setattr(stage, "TAG_SECONDS", 0.5)
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
        import pipeline.workspace
        def stall(table, where):
            with open(where, "wb") as out:
                out.write(b"PAR1 half a table")
            print("writing", flush=True)
            time.sleep(60)
        pipeline.workspace.pq.write_table = stall
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
