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
