"""Fidelity on real photos: extract over ../shared/corpus agrees with ExifTool's reading (truth.json).

Agreement is counted on DateTimeOriginal (files whose truth came from the EXIF group), on the
GPS position within 1e-5 degrees (files where ExifTool found one), and on every file for the
zone evidence (TimeZoneOffset, the maker note's zone) and the XMP columns, where both sides'
null agrees. Our contract turns a blank date ("    :  :     :  :  ") into null, so null agrees
with ExifTool's blank; ExifTool prints XMP dates with EXIF's colons ("2004:08:27 13:52:55+02:00")
where we keep them as written ("2004-08-27T13:52:55+02:00"). makernotes/ (ExifTool's own camera
test images) is checked against its own truth.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pipeline.extract import extract
from pipeline.readers import TAG_COLUMNS, read_tags
from pipeline.readers.xmp import xmp_fields

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRUTH = CORPUS / "truth.json"
REQUIRED_AGREEMENT = 0.98


@pytest.fixture(scope="module")
def corpus():
    if not TRUTH.exists():
        pytest.skip(f"no public corpus at {CORPUS} (it lives beside the repository, in ../shared)")
    truth = {str(CORPUS / record["file"]): record for record in json.loads(TRUTH.read_text())}
    photos = extract([CORPUS / "files"]).set_index("path")
    return truth, photos


def blank(value) -> bool:
    return value is None or not str(value).strip(" :\x00")


def report(name: str, total: int, disagreeing: list[str]) -> float:
    share = 1 - len(disagreeing) / total if total else 1.0
    print(f"\n{name}: {total - len(disagreeing)}/{total} agree ({share:.1%})")
    for line in disagreeing:
        print(f"  {line}")
    return share


def test_a_row_for_every_file(corpus):
    truth, photos = corpus
    assert set(truth) <= set(photos.index)
    assert photos.loc[list(truth), "file_size"].notna().all()


def test_datetime_original_agrees_with_exiftool(corpus):
    truth, photos = corpus
    checked = {path: t for path, t in truth.items() if t["source_group"] == "EXIF"}
    disagreeing = []
    for path, t in checked.items():
        ours = photos.at[path, "datetime_original"]
        ours = None if pd.isna(ours) else ours
        if not (ours == t["datetime_original"] or (ours is None and blank(t["datetime_original"]))):
            disagreeing.append(f"{Path(path).name}: exiftool {t['datetime_original']!r}, ours {ours!r}"
                               f" ({photos.at[path, 'error']})")
    assert report("DateTimeOriginal", len(checked), disagreeing) >= REQUIRED_AGREEMENT


def test_gps_position_agrees_with_exiftool(corpus):
    truth, photos = corpus
    checked = {path: t for path, t in truth.items() if t["gps_lat"] is not None}
    disagreeing = []
    for path, t in checked.items():
        lat, lon = photos.at[path, "gps_lat"], photos.at[path, "gps_lon"]
        if not (abs(lat - t["gps_lat"]) <= 1e-5 and abs(lon - t["gps_lon"]) <= 1e-5):
            disagreeing.append(f"{Path(path).name}: exiftool {t['gps_lat']}, {t['gps_lon']};"
                               f" ours {lat}, {lon} ({photos.at[path, 'error']})")
    assert report("GPS position", len(checked), disagreeing) >= REQUIRED_AGREEMENT


def exiftool_date(written: str) -> str:
    """An XMP date as ExifTool prints it: "2004-08-27T13:52:55+02:00" -> "2004:08:27 13:52:55+02:00"."""
    match = re.fullmatch(r"(\d{4})(?:-(\d\d))?(?:-(\d\d))?(?:T(.*))?", written)
    if match is None:
        return written
    year, month, day, time = match.groups()
    return ":".join(part for part in (year, month, day) if part) + (f" {time}" if time else "")


def ours(photos: pd.DataFrame, path: str, column: str):
    value = photos.at[path, column]
    return None if pd.isna(value) else value


def theirs(record: dict, column: str):
    """ExifTool's value as our column holds it: TimeZoneOffset's first value, DaylightSavings
    as a bool."""
    value = record[column]
    if column == "timezone_offset" and isinstance(value, list):
        return value[0]
    if column == "makernote_dst" and value is not None:
        return bool(value)
    return value


def agrees(column: str, mine, truth) -> bool:
    if mine is None or truth is None:
        return mine is None and truth is None
    if column.endswith(("_lat", "_lon")):
        return abs(mine - truth) <= 1e-5
    if column.startswith("xmp_") and isinstance(mine, str):
        return exiftool_date(mine) == truth
    return mine == truth


@pytest.mark.parametrize("column", [
    "timezone_offset", "makernote_group", "makernote_timezone_minutes", "makernote_dst",
    "xmp_datetime_original", "xmp_date_created", "xmp_create_date", "xmp_gps_datetime",
    "xmp_gps_lat", "xmp_gps_lon",
])
def test_zone_and_xmp_evidence_agrees_with_exiftool(corpus, column):
    truth, photos = corpus
    disagreeing = [f"{Path(path).name}: exiftool {theirs(t, column)!r}, ours {ours(photos, path, column)!r}"
                   for path, t in truth.items()
                   if not agrees(column, ours(photos, path, column), theirs(t, column))]
    present = sum(theirs(t, column) is not None for t in truth.values())
    report(f"{column} ({present} files hold it)", len(truth), disagreeing)
    assert not disagreeing


def test_no_file_loses_a_time_exiftool_reads(corpus):
    """Every file where ExifTool finds a DateTimeOriginal (EXIF's or XMP's) has a time of its
    own here: that tag, or the XMP one."""
    truth, photos = corpus
    timed = [path for path, t in truth.items() if t["source_group"] in ("EXIF", "XMP")
             and not blank(t["datetime_original"])]
    lost = [f"{Path(path).name} ({ours(photos, path, 'error')})" for path in timed
            if ours(photos, path, "datetime_original") is None
            and ours(photos, path, "xmp_datetime_original") is None]
    report("a time ExifTool reads", len(timed), lost)
    assert not lost
    assert photos.loc[timed, "error"].isna().all()


#: makernotes/truth.json key -> our column.
MAKERNOTE_KEYS = {
    "Canon:TimeZone": "makernote_timezone_minutes", "Canon:TimeZoneCity": "makernote_city",
    "Canon:DaylightSavings": "makernote_dst", "Nikon:TimeZone": "makernote_timezone_minutes",
    "Nikon:DaylightSavings": "makernote_dst", "ExifIFD:DateTimeOriginal": "datetime_original",
    "ExifIFD:OffsetTimeOriginal": "offset_time_original", "IFD0:Make": "make",
    "XMP-exif:DateTimeOriginal": "xmp_datetime_original", "XMP-xmp:CreateDate": "xmp_create_date",
    "XMP-photoshop:DateCreated": "xmp_date_created", "GPS:GPSTimeStamp": "gps_time",
}


def test_makernotes_folder_agrees_with_exiftool():
    folder = CORPUS / "makernotes"
    if not (folder / "truth.json").exists():
        pytest.skip(f"no camera test images at {folder} (they live beside the repository, in ../shared)")
    disagreeing, checked = [], 0
    for record in json.loads((folder / "truth.json").read_text()):
        path = folder / record["SourceFile"]
        if path.suffix == ".xmp":  # a sidecar: its packet is read as the sidecar reader reads it
            tags = dict.fromkeys(TAG_COLUMNS) | xmp_fields(path.read_bytes())
        else:
            with open(path, "rb") as fh:
                tags = read_tags(fh)
            assert tags["error"] is None or not record.get("IFD0:Make"), path.name
        for key, column in MAKERNOTE_KEYS.items():
            if key in record:
                checked += 1
                truth = bool(record[key]) if column == "makernote_dst" else record[key]
                if not agrees(column, tags[column], truth):
                    disagreeing.append(f"{record['SourceFile']} {key}: exiftool {truth!r}, "
                                       f"ours {tags[column]!r}")
        group = next((key.split(":")[0] for key in record if key.endswith(":TimeZone")), None)
        if tags["makernote_group"] != group:
            disagreeing.append(f"{record['SourceFile']}: zone from {group}, ours from "
                               f"{tags['makernote_group']}")
    report("makernotes/", checked, disagreeing)
    assert not disagreeing


#: Where ExifTool (-G1 -D) finds each serial we read, in our order: group -> tag ids (0xA431
#: BodySerialNumber, DNG's 0xC62F, then each maker note's, then XMP's), our `serial`'s sources.
SERIAL_SOURCES = (
    ("ExifIFD", (0xA431,)), ("IFD0", (0xA431, 0xC62F)), ("Canon", (0x000C, 0x0096)),
    ("Nikon", (0x001D, 0x00A0)), ("Olympus", (0x101A, 0x0101)), ("Panasonic", (0x0025,)),
    ("XMP-exifEX", ("BodySerialNumber",)), ("XMP-aux", ("SerialNumber",)),
)


def exiftool_serial(pairs: list[tuple[str, object]], file_type: str) -> str | None:
    """ExifTool's reading of a file's serial numbers (every copy kept) as our `serial`: the
    first by SERIAL_SOURCES, trimmed, a Nikon 0x00A0's "NO=" dropped. An RW2 keeps its maker
    note in the JPEG preview inside it, which photoflux does not read."""
    found = {}
    for key, tag in pairs:
        group = key.split(":")[0]
        if isinstance(tag, dict) and not (group == "Panasonic" and file_type == "RW2"):
            found.setdefault((group, tag["id"]), str(tag["val"]).strip())
    return next((found[(group, tag)].removeprefix("NO=").strip()
                 for group, tags in SERIAL_SOURCES for tag in tags if found.get((group, tag))),
                None)


def test_the_serial_agrees_with_exiftool(corpus):
    """Every file of the corpus and of makernotes/, ExifTool's serial (-SerialNumber,
    -InternalSerialNumber, -CameraSerialNumber, read now) against ours. Makes whose serial
    photoflux does not read (FLIR, Reconyx, Pentax, Fujifilm, Olympus's PictureInfo) count as
    none."""
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not on PATH (apt-get install libimage-exiftool-perl)")
    _, photos = corpus
    folder = CORPUS / "makernotes"
    cameras = [path for path in sorted(folder.iterdir()) if path.suffix not in (".xmp", ".md",
                                                                                ".json", ".gpx",
                                                                                ".kml")]
    ours = {path: photos.at[path, "serial"] for path in photos.index}
    for path in cameras:
        with open(path, "rb") as fh:
            ours[str(path)] = read_tags(fh)["serial"]
    done = subprocess.run(
        [exiftool, "-j", "-G1", "-a", "-n", "-D", "-q", "-q", "-SerialNumber",
         "-InternalSerialNumber", "-CameraSerialNumber", "-FileType", "-r", str(CORPUS / "files"),
         *map(str, cameras)], capture_output=True, text=True)  # exit 1: some files are broken
    records = json.loads(done.stdout, object_pairs_hook=lambda pairs: pairs if pairs[0][0] ==
                         "SourceFile" else dict(pairs))  # a file's tags, each copy kept
    theirs = {}
    for pairs in records:
        record = dict(pairs)
        file_type = record.get("File:FileType", {}).get("val")
        theirs[str(Path(record["SourceFile"]).resolve())] = exiftool_serial(pairs, file_type)
    assert set(theirs) == {str(Path(path).resolve()) for path in ours}
    disagreeing = [f"{Path(path).name}: exiftool {theirs[str(Path(path).resolve())]!r}, "
                   f"ours {value!r}" for path, value in ours.items()
                   if (None if pd.isna(value) else value) != theirs[str(Path(path).resolve())]]
    present = sum(value is not None for value in theirs.values())
    report(f"serial ({present} files hold one)", len(theirs), disagreeing)
    assert not disagreeing and present >= 30
