"""resolve through the command line, on real JPEGs with EXIF that the test writes."""
from __future__ import annotations

import io
import os

import pandas as pd
import piexif
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.schema import RESOLVED
from pipeline.workspace import Workspace, read_table


def jpeg(path, exif: dict, gps: dict | None = None, color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, "JPEG",
                                           exif=piexif.dump({"Exif": exif, "GPS": gps or {}}))
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def trip(tmp_path):
    folder = tmp_path / "Trip [2021] é"
    folder.mkdir()
    jpeg(folder / "IMG_0001.jpg", {piexif.ExifIFD.DateTimeOriginal: "2021:09:10 18:00:00",
                                   piexif.ExifIFD.SubSecTimeOriginal: "25",
                                   piexif.ExifIFD.OffsetTimeOriginal: "+09:00"})
    jpeg(folder / "IMG_0002.jpg", {piexif.ExifIFD.DateTimeOriginal: "2021:09:10 21:40:00"},
         {piexif.GPSIFD.GPSDateStamp: "2021:09:10",
          piexif.GPSIFD.GPSTimeStamp: ((16, 1), (10, 1), (0, 1))}, color=(10, 200, 10))
    jpeg(folder / "IMG_0003.jpg", {piexif.ExifIFD.DateTimeOriginal: "2021:09:10 23:00:00"},
         color=(10, 10, 200))
    return folder


def cli(*args, code=0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_extract_resolve_on_real_files_and_the_audit_csv(trip, tmp_path):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin")
    assert "resolved 3 photos (1 offset, 1 gps, 1 carried)" in output
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig").set_index("file_name")
    first = audit.loc["IMG_0001.jpg"]
    assert first["capture_time_secs_utc"] == 1631264400.25  # a number, not text
    assert (first["local_time"], first["utc_time"]) == ("2021-09-10T18:00:00.250",
                                                       "2021-09-10T09:00:00.250Z")
    assert (audit.loc["IMG_0002.jpg", "tz_name"], audit.loc["IMG_0002.jpg", "tz_source"]) == (
        "+05:30", "gps")
    carried = audit.loc["IMG_0003.jpg"]
    assert (carried["tz_source"], carried["evidence_path"]) == ("carried", str(trip / "IMG_0002.jpg"))


def test_approvals_survive_a_re_extract_of_unchanged_and_touched_files(trip, tmp_path):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin")
    cli("approve", "-w", str(ws.root), "--all")
    os.utime(trip / "IMG_0002.jpg", ns=(1, 1))  # touched: re-read, same bytes
    assert "(1 read, 2 unchanged" in cli("extract", str(trip), "-w", str(ws.root))
    cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin")
    assert read_table(ws.resolved, RESOLVED)["approved"].all()


def test_a_bad_default_zone_is_one_line_and_writes_nothing(trip, tmp_path):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berln", code=2)
    assert output.strip() == "photoflux: error: --default-tz: unknown time zone: Europe/Berln"
    assert not ws.resolved.exists() and not ws.audit_csv.exists()


def test_a_fixed_offset_default_warns_that_it_has_no_dst(trip, tmp_path):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "+05:30")
    assert "warning: default zone +05:30 is a fixed offset" in output


def test_a_photo_dated_2300_is_out_of_range_and_the_rest_resolves(trip, tmp_path):
    jpeg(trip / "IMG_0004.jpg", {piexif.ExifIFD.DateTimeOriginal: "2300:06:01 12:00:00"},
         color=(90, 90, 90))
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin")
    assert "resolved 4 photos (1 offset, 1 gps, 1 carried)" in output
    assert "1 without a time" in output
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig").set_index("file_name")
    far = audit.loc["IMG_0004.jpg"]
    assert far["flags"].split(";") == ["no_time", "out_of_range"]
    assert pd.isna(far["capture_time_secs_utc"]) and pd.isna(far["local_time"])
    assert far["datetime_original"] == "2300:06:01 12:00:00"  # the raw value stays for the eye
    assert audit.loc["IMG_0001.jpg", "utc_time"] == "2021-09-10T09:00:00.250Z"


def test_an_impossible_date_gives_way_to_the_next_tag_with_a_warning(trip, tmp_path):
    jpeg(trip / "IMG_0004.jpg", {piexif.ExifIFD.DateTimeOriginal: "2023:02:30 12:00:00",
                                 piexif.ExifIFD.DateTimeDigitized: "2023:02:28 12:00:00",
                                 piexif.ExifIFD.OffsetTimeOriginal: "+99:99"},
         color=(90, 90, 90))
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin")
    row = pd.read_csv(ws.audit_csv, encoding="utf-8-sig").set_index("file_name").loc[
        "IMG_0004.jpg"]
    assert (row["local_time"], row["local_time_tag"]) == ("2023-02-28T12:00:00.000",
                                                         "DateTimeDigitized")
    assert row["warnings"] == "DateTimeOriginal impossible (2023:02:30 12:00:00)"
    assert pd.isna(read_table(ws.resolved, RESOLVED).set_index("file_name").loc[
        "IMG_0001.jpg", "warnings"])


@pytest.mark.parametrize("overrides, message", [
    ("path_glob,tz\n*/IMG_0001.jpg,Asia/Tokyo\n*,\"Asia/Tokyo\n", ":3: not valid CSV: a quote "
                                                                  "that never closes"),
    ("path_glob,tz,tz\n*,Asia/Tokyo,UTC\n", ":1: column given twice (tz)"),
    ("path_glob,note\n*," + "x" * 140_000 + "\n", ":2: not valid CSV: field larger than field "
                                                  "limit (131072)"),
    ("path_glob,shift\n*,+2400000:00:00\n", ":2: bad shift, more than ±100 years "
                                            "(+2400000:00:00)"),
    ("local_from,local_to,tz\n01/05/2019,2019-05-09,Asia/Tokyo\n",
     ":2: bad local_from: expected an ISO 8601 local time YYYY-MM-DD[THH:MM[:SS[.fff]]] "
     "(01/05/2019)"),
    ("local_from,tz\n2019-02-30,Asia/Tokyo\n", ":2: bad local_from: no such date or time "
                                               "(2019-02-30)"),
    ("path_glob,tz\n*,Asia/\x00Tokyo\n", ":2: bad zone, expected an IANA name or ±HH:MM "
                                         "(Asia/\\x00Tokyo)"),
    ("path_glob;tz\n*;Asia/Tokyo\n", ":1: unknown column (path_glob;tz): is this a "
                                    "semicolon-separated file? Columns are separated by commas"),
    ("path_glob,tz,note\n*,Asia/Tokyo\n", ":2: 2 cells for 3 columns (*,Asia/Tokyo)"),
    ("local_from,local_to,tz\n2019-05-09,2019-05-01,Asia/Tokyo\n",
     ":2: local_from is after local_to (2019-05-09 > 2019-05-01)"),
    ("note,tz\njust Tokyo,Asia/Tokyo\n", ":2: a rule needs a selector: path_glob, first and "
     "last, local_from/local_to, make, model or serial (path_glob * selects every photo) "
     "(just Tokyo,Asia/Tokyo)"),
    ("path_glob,note\n*/IMG_*,Tokyo\n", ":2: a rule needs an action: a tz or a shift (a note "
     "alone changes nothing) (*/IMG_*,Tokyo)"),
    ("*/IMG_0001.jpg,Asia/Tokyo\n", ":1: no header: the first line must name the columns, "
     "from path_glob,first,last,local_from,local_to,make,model,serial,tz,mode,shift,note (*/IMG_0001.jpg,"
     "Asia/Tokyo)"),
])
def test_a_bad_overrides_file_is_one_line_exit_2_and_writes_nothing(trip, tmp_path, overrides,
                                                                    message):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    (ws.root / "overrides.csv").write_text(overrides, encoding="utf-8")
    before = {p: p.stat().st_mtime_ns for p in ws.root.rglob("*") if p.is_file()}
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin", code=2)
    assert output.splitlines() == [f"photoflux: error: {ws.root / 'overrides.csv'}{message}"]
    assert {p: p.stat().st_mtime_ns for p in ws.root.rglob("*") if p.is_file()} == before


def test_an_overrides_warning_names_the_file_and_line(trip, tmp_path):
    ws = Workspace(tmp_path / "ws")
    cli("extract", str(trip), "-w", str(ws.root))
    rules = tmp_path / "my rules.csv"
    rules.write_text("path_glob,tz\n*/IMG_0001.jpg,Asia/Tokyo\n*/nothing/*,Asia/Seoul\n")
    output = cli("resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin",
                 "--overrides", str(rules))
    assert f"photoflux: warning: {rules}:3: rule matches no photo\n" in output
