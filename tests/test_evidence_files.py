"""Each new kind of evidence from a file on disk to its answer, through the real CLI (extract,
then resolve): offset spellings, Canon and Nikon zones written by ExifTool into real camera
files, XMP dates and GPS, a raw's XMP sidecar, Google Takeout JSON, times in file names."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import piexif
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.workspace import Workspace
from test_makernotes import SHARED, exif_tool
from test_sidecars import takeout_json, write_jpeg, write_raw, xmp_packet

#: path -> (local_time_tag, tz_source, tz_name, UTC, flags), resolved with Europe/London
EXPECTED = {
    "offset/IMG_0001.jpg": ("DateTimeOriginal", "offset", "+07:00", "2015-11-11 13:00:00.000", ""),
    "xmp/scan.jpg": ("XMP:CreateDate", "offset", "+03:00", "2017-06-01 06:30:00.500", ""),
    "xmp_gps/IMG_0013.jpg": ("DateTimeOriginal", "gps", "-04:00", "2017-06-01 13:30:00.000", ""),
    "raw/IMG_0007.CR2": ("XMP:DateTimeOriginal", "offset", "-05:00", "2019-02-02 13:00:00.000", ""),
    "lightroom/IMG_0008.CR2": ("DateTimeOriginal", "default", "Europe/London",
                               "2019-02-02 08:00:00.000", "sidecar_time_differs"),
    "takeout/IMG_0009.jpg": ("DateTimeOriginal", "takeout", "+09:00", "2019-09-09 09:00:00.000", ""),
    "takeout_only/IMG_0010.jpg": ("takeout", "default", "Europe/London",
                                  "2019-09-09 09:00:00.000", ""),
    "stale/IMG_0011.jpg": ("DateTimeOriginal", "default", "Europe/London",
                           "2019-09-09 17:00:00.000", "stale_takeout"),
    "pixel/PXL_20190303_071500250.jpg": ("file_name", "default", "Europe/London",
                                         "2019-03-03 07:15:00.250", "time_from_name"),
    "names/IMG_20190303_071500.jpg": ("file_name", "default", "Europe/London",
                                      "2019-03-03 07:15:00.000", "time_from_name"),
    "whatsapp/IMG-20190303-WA0004.jpg": (None, None, None, None, "no_time"),
    "canon/IMG_0002.jpg": ("DateTimeOriginal", "camera", "+10:00", "2015-02-09 12:47:44.000", ""),
    "canon_not_set/IMG_0003.jpg": ("DateTimeOriginal", "default", "Europe/London",
                                   "2015-02-09 22:47:44.000", ""),
    "nikon/DSC_0004.jpg": ("DateTimeOriginal", "camera", "+02:00", "2012-07-14 14:30:12.680", ""),
}


def bare_jpeg(path: Path, xmp: bytes | None = None) -> Path:
    """A JPEG without EXIF (a scan, a messenger's copy), with `xmp` embedded if given."""
    write_jpeg(path, xmp=xmp)
    piexif.remove(str(path))
    return path


def with_exif(path: Path, taken: str, **exif: bytes) -> Path:
    write_jpeg(path, taken)
    tags = piexif.load(str(path))
    tags["Exif"].update({getattr(piexif.ExifIFD, tag): value for tag, value in exif.items()})
    piexif.insert(piexif.dump(tags), str(path))
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not on PATH (apt-get install libimage-exiftool-perl)")
    if not SHARED.exists():
        pytest.skip(f"no public corpus at {SHARED} (it lives beside the repository, in ../shared)")
    root = tmp_path_factory.mktemp("library")
    with_exif(root / "offset/IMG_0001.jpg", "2015:11:11 20:00:00", OffsetTimeOriginal=b"+07")
    bare_jpeg(root / "xmp/scan.jpg", xmp_packet(xmp_CreateDate="2017-06-01T09:30:00.5+03:00"))
    write_jpeg(root / "xmp_gps/IMG_0013.jpg", "2017:06:01 09:30:00",
               xmp=xmp_packet(exif_GPSTimeStamp="2017-06-01T13:30:00Z"))
    (root / "raw").mkdir()
    Image.new("RGB", (8, 8)).save(root / "raw/IMG_0007.CR2", "TIFF")  # a raw without dates
    (root / "raw/IMG_0007.xmp").write_bytes(xmp_packet(
        exif_DateTimeOriginal="2019-02-02T08:00:00-05:00"))
    write_raw(root / "lightroom/IMG_0008.CR2", "2019:02:02 08:00:00")
    (root / "lightroom/IMG_0008.xmp").write_bytes(xmp_packet(  # edited in Lightroom
        exif_DateTimeOriginal="2019-02-02T09:15:00"))
    for folder, name, taken, seconds in (("takeout", "IMG_0009.jpg", "2019:09:09 18:00:00", 1568019600),
                                         ("takeout_only", "IMG_0010.jpg", None, 1568019600),
                                         ("stale", "IMG_0011.jpg", "2019:09:09 18:00:00",
                                          1568019600 - 3 * 86400)):
        if taken:
            write_jpeg(root / folder / name, taken)
        else:
            bare_jpeg(root / folder / name)
        (root / folder / f"{name}.supplemental-metadata.json").write_text(takeout_json(seconds))
    for name in ("pixel/PXL_20190303_071500250.jpg", "names/IMG_20190303_071500.jpg",
                 "whatsapp/IMG-20190303-WA0004.jpg"):
        bare_jpeg(root / name)
    for name, zone in (("canon/IMG_0002.jpg", ("-Canon:TimeZone=600", "-Canon:TimeZoneCity=4")),
                       ("canon_not_set/IMG_0003.jpg", ("-Canon:TimeZone=60",
                                                       "-Canon:TimeZoneCity=32766"))):
        (root / name).parent.mkdir()
        shutil.copyfile(SHARED / "files/exif-samples/jpg__hdr__canon_hdr_NO.jpg", root / name)
        exif_tool(exiftool, *zone, "-Canon:DaylightSavings=0", root / name)
    (root / "nikon").mkdir()
    shutil.copyfile(SHARED / "files/exif-samples/jpg__tests__32-lens_data.jpeg",
                    root / "nikon/DSC_0004.jpg")
    exif_tool(exiftool, "-Nikon:TimeZone=60", "-Nikon:DaylightSavings=1", root / "nikon/DSC_0004.jpg")
    return root


def test_each_new_source_from_a_file_on_disk(library, tmp_path):
    ws = Workspace(tmp_path / "ws")
    runner = CliRunner()
    for command in (["extract", "-w", str(ws.root), "--quiet", str(library)],
                    ["resolve", "-w", str(ws.root), "--default-tz", "Europe/London"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
    resolved = ws.load("resolved")
    got = {}
    for _, row in resolved.iterrows():
        utc = None if pd.isna(row["utc_time"]) else row["utc_time"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        got[Path(row["path"]).relative_to(library).as_posix()] = tuple(
            None if pd.isna(value) else value
            for value in (row["local_time_tag"], row["tz_source"], row["tz_name"])) + (
            utc, row["flags"] or "")
    assert got == EXPECTED
