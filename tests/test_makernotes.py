"""pipeline.readers.makernotes and EXIF TimeZoneOffset: the camera's zone setting, read as
ExifTool reads it.

Real camera files from ../shared are copied to a tmp folder and given zones by ExifTool, in
JPEG and raw (CR2, CR3, NEF); the files built here test the damage a maker note can carry.
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.readers import read_tags

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ZONE = ("makernote_group", "makernote_timezone_minutes", "makernote_dst", "makernote_city")
DATED = b"2019:08:21 11:21:36\x00"


def tags_of(path: Path) -> dict:
    with open(path, "rb") as fh:
        return read_tags(fh)


def zone(tags: dict) -> tuple:
    return tuple(tags[column] for column in ZONE)


# --- files built here -------------------------------------------------------------------------


def tiff(note, make: bytes = b"Canon\x00", order: str = "<", note_at: int = 200) -> bytes:
    """A TIFF block: IFD0 (Make, ExifOffset) -> Exif IFD (DateTimeOriginal, MakerNote), the
    maker note `note(offset)` placed at `note_at`."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    ifd0, exif, values = 8, 60, 100

    def entry(tag, kind, count, value):
        return struct.pack(order + "HHI", tag, kind, count) + value

    block = bytearray(note_at)
    block[:8] = magic + struct.pack(order + "I", ifd0)
    block[ifd0:ifd0 + 30] = (struct.pack(order + "H", 2)
                             + entry(0x010F, 2, len(make), make.ljust(4, b"\x00")[:4]
                                     if len(make) <= 4 else struct.pack(order + "I", values + 40))
                             + entry(0x8769, 4, 1, struct.pack(order + "I", exif)) + bytes(4))
    body = note(note_at)
    block[exif:exif + 30] = (struct.pack(order + "H", 2)
                             + entry(0x9003, 2, len(DATED), struct.pack(order + "I", values))
                             + entry(0x927C, 7, len(body), struct.pack(order + "I", note_at))
                             + bytes(4))
    block[values:values + len(DATED)] = DATED
    block[values + 40:values + 40 + len(make)] = make
    return bytes(block) + body


def canon_note(minutes=600, city=4, dst=60, size=16, footer_offset=None, order="<"):
    """A Canon maker note whose one entry is TimeInfo (offsets from the block's start); with a
    footer naming `footer_offset` as where it was first written."""
    def note(at: int) -> bytes:
        record = struct.pack(order + "4i", size, minutes, city, dst)
        first = footer_offset if footer_offset is not None else at
        ifd = struct.pack(order + "HHHII", 1, 0x35, 4, 4, first + 18) + bytes(4)
        magic = b"II*\x00" if order == "<" else b"MM\x00*"
        trailer = magic + struct.pack(order + "I", first) if footer_offset is not None else b""
        return ifd + record + trailer
    return note


def nikon_note(minutes=-300, dst=1, version=b"\x02\x10\x00\x00", order=">"):
    """A type-3 Nikon maker note (its own TIFF header) whose one entry is WorldTime."""
    def note(at: int) -> bytes:
        magic = b"II*\x00" if order == "<" else b"MM\x00*"
        world_time = struct.pack(order + "hBB", minutes, dst, 0)
        ifd = struct.pack(order + "HHHI", 1, 0x24, 7, 4) + world_time + bytes(4)
        return b"Nikon\x00" + version + magic + struct.pack(order + "I", 8) + ifd
    return note


def jpeg(block: bytes) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", exif=b"Exif\x00\x00" + block)
    return out.getvalue()


def read(data: bytes) -> dict:
    return read_tags(io.BytesIO(data))


def test_canon_time_info_in_a_jpeg():
    tags = read(jpeg(tiff(canon_note(minutes=660, city=4, dst=60))))
    assert zone(tags) == ("Canon", 660, True, 4)
    assert (tags["datetime_original"], tags["error"], tags["warnings"]) == (
        "2019:08:21 11:21:36", None, None)


def test_canon_time_info_in_a_raw_file_is_the_file_itself():
    tags = read(tiff(canon_note(minutes=-300, city=27, dst=0)))  # a TIFF-family raw, as CR2
    assert zone(tags) == ("Canon", -300, False, 27)


def test_a_canon_note_an_editor_moved_is_read_where_its_footer_says():
    moved = canon_note(minutes=60, city=32766, dst=0, footer_offset=72)  # written at 72, now 200
    assert zone(read(jpeg(tiff(moved)))) == ("Canon", 60, False, 32766)


def test_a_little_endian_canon_note_in_a_big_endian_block():
    tags = read(jpeg(tiff(canon_note(minutes=120, city=18, dst=0, order="<"), order=">")))
    assert zone(tags) == ("Canon", 120, False, 18)


def test_no_canon_note_is_read_for_another_make():
    tags = read(jpeg(tiff(canon_note(), make=b"SONY\x00")))
    assert zone(tags) == (None,) * 4 and tags["warnings"] is None


@pytest.mark.parametrize("minutes, dst", [(-300, 1), (540, 0)])
def test_nikon_world_time(minutes, dst):
    tags = read(jpeg(tiff(nikon_note(minutes=minutes, dst=dst), make=b"NIKON CORPORATION\x00")))
    assert zone(tags) == ("Nikon", minutes, bool(dst), None)


def test_a_type_1_nikon_note_has_no_world_time():
    note = nikon_note(version=b"\x01\x00")  # "Nikon\0\1\0" and an IFD: no TIFF header after it
    assert zone(read(jpeg(tiff(note, make=b"NIKON\x00")))) == (None,) * 4


@pytest.mark.parametrize("note, warning", [
    (canon_note(size=20), "Canon TimeInfo malformed"),
    (canon_note(minutes=5000), "Canon TimeZone out of range (5000 minutes)"),
    (nikon_note(minutes=-900), "Nikon TimeZone out of range (-900 minutes)"),
    (lambda at: canon_note()(at)[:10], "Canon maker note unreadable"),
    (lambda at: b"\xff\xff" + bytes(30), "Canon maker note unreadable"),
])
def test_a_broken_maker_note_record_is_a_warning_and_the_time_is_kept(note, warning):
    tags = read(jpeg(tiff(note)))
    assert zone(tags) == (None,) * 4
    assert warning in tags["warnings"]
    assert (tags["datetime_original"], tags["error"]) == ("2019:08:21 11:21:36", None)


def test_a_maker_note_pointing_past_the_block_is_a_warning():
    block = bytearray(tiff(canon_note()))
    exif_note_entry = 60 + 2 + 12
    block[exif_note_entry + 8:exif_note_entry + 12] = struct.pack("<I", 0x7FFFFFF0)
    tags = read(jpeg(bytes(block)))
    assert "maker note unreadable" in tags["warnings"]
    assert (tags["datetime_original"], tags["error"]) == ("2019:08:21 11:21:36", None)


# --- real camera files, zones written by ExifTool ----------------------------------------------


@pytest.fixture(scope="module")
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.skip("exiftool is not on PATH (apt-get install libimage-exiftool-perl)")
    return path


@pytest.fixture(scope="module")
def cameras(exiftool, tmp_path_factory) -> dict[str, Path]:
    """Copies of real Canon and Nikon files with a zone record, in JPEG and raw: the CR2 and
    the NEF get the JPEGs' maker notes (theirs are from cameras without the record)."""
    if not SHARED.exists():
        pytest.skip(f"no public corpus at {SHARED} (it lives beside the repository, in ../shared)")
    folder = tmp_path_factory.mktemp("cameras")
    sources = {
        "canon.jpg": "files/exif-samples/jpg__hdr__canon_hdr_NO.jpg",
        "canon.cr2": "makernotes/CanonRaw.cr2",
        "canon.cr3": "makernotes/CanonRaw.cr3",
        "nikon.jpg": "files/exif-samples/jpg__tests__32-lens_data.jpeg",
        "nikon.nef": "makernotes/Nikon.nef",
    }
    files = {}
    for name, source in sources.items():
        files[name] = folder / name
        shutil.copyfile(SHARED / source, files[name])
    for raw, donor in (("canon.cr2", "canon.jpg"), ("nikon.nef", "nikon.jpg")):
        exif_tool(exiftool, "-tagsfromfile", files[donor], "-makernotes", files[raw])
    return files


def exif_tool(exiftool: str, *args) -> str:
    done = subprocess.run([exiftool, "-q", "-q", "-m", "-n", "-overwrite_original", *map(str, args)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def exiftool_zones(exiftool: str, files: list[Path]) -> dict[str, tuple]:
    """ExifTool's reading (-G1 -a -n) of each file's zone, as our columns."""
    records = json.loads(subprocess.run(
        [exiftool, "-j", "-G1", "-a", "-n", "-TimeZone", "-DaylightSavings", "-TimeZoneCity",
         *map(str, files)], capture_output=True, text=True, check=True).stdout)
    zones = {}
    for record in records:
        group = "Canon" if "Canon:TimeZone" in record else "Nikon"
        zones[Path(record["SourceFile"]).name] = (
            group, record[f"{group}:TimeZone"], bool(record[f"{group}:DaylightSavings"]),
            record.get("Canon:TimeZoneCity"))
    return zones


@pytest.mark.parametrize("minutes, dst, city, expected", [
    (660, 60, 4, ("Canon", 660, True, 4)),  # Sydney in summer: +11:00 with DST on
    (60, 0, 32766, ("Canon", 60, False, 32766)),  # "(not set)": resolve takes no evidence
    (0, 0, 0, ("Canon", 0, False, 0)),  # "n/a"
    (-300, 0, 27, ("Canon", -300, False, 27)),  # New York in winter
])
def test_canon_zones_written_by_exiftool_in_jpeg_cr2_and_cr3(cameras, exiftool, minutes, dst,
                                                            city, expected):
    files = [cameras[name] for name in ("canon.jpg", "canon.cr2", "canon.cr3")]
    exif_tool(exiftool, f"-Canon:TimeZone={minutes}", f"-Canon:DaylightSavings={dst}",
              f"-Canon:TimeZoneCity={city}", *files)
    theirs = exiftool_zones(exiftool, files)
    for path in files:
        tags = tags_of(path)
        assert zone(tags) == expected == theirs[path.name], path.name
        assert tags["datetime_original"] and tags["error"] is None


@pytest.mark.parametrize("minutes, dst, expected", [
    (-300, 1, ("Nikon", -300, True, None)),  # New York in summer: resolve adds the hour
    (60, 0, ("Nikon", 60, False, None)),
])
def test_nikon_zones_written_by_exiftool_in_jpeg_and_nef(cameras, exiftool, minutes, dst,
                                                        expected):
    files = [cameras["nikon.jpg"], cameras["nikon.nef"]]
    exif_tool(exiftool, f"-Nikon:TimeZone={minutes}", f"-Nikon:DaylightSavings={dst}", *files)
    theirs = exiftool_zones(exiftool, files)
    for path in files:
        tags = tags_of(path)
        assert zone(tags) == expected == theirs[path.name], path.name
        assert tags["datetime_original"] and tags["error"] is None


# --- EXIF TimeZoneOffset ----------------------------------------------------------------------


@pytest.fixture
def plain_jpeg(tmp_path) -> Path:
    path = tmp_path / "plain.jpg"
    path.write_bytes(jpeg(tiff(canon_note(), make=b"Epson\x00")))
    return path


@pytest.mark.parametrize("tag, value, expected", [
    ("TimeZoneOffset", "-5 -4", -5),  # the Exif IFD (ExifTool's place); the first is DTO's
    ("IFD0:TimeZoneOffset", "9", 9),  # IFD0, where TIFF/EP puts it
    ("TimeZoneOffset", "14", 14),
])
def test_timezone_offset_in_either_ifd(plain_jpeg, exiftool, tag, value, expected):
    exif_tool(exiftool, f"-{tag}={value}", plain_jpeg)
    tags = tags_of(plain_jpeg)
    assert (tags["timezone_offset"], tags["warnings"]) == (expected, None)


def test_a_timezone_offset_out_of_range_is_a_warning(plain_jpeg, exiftool):
    exif_tool(exiftool, "-TimeZoneOffset=20", plain_jpeg)
    tags = tags_of(plain_jpeg)
    assert tags["timezone_offset"] is None
    assert tags["warnings"] == "TimeZoneOffset out of range (20)"
    assert tags["datetime_original"] == "2019:08:21 11:21:36"


# --- the camera's serial number -----------------------------------------------------------------


def ifd(entries: list[tuple], order: str, at: int) -> bytes:
    """An IFD of (tag, type, count, value) entries, the values longer than 4 bytes after it;
    `at`: where the IFD lies, counted from what its offsets count from."""
    table_size = 2 + 12 * len(entries) + 4
    table, values = struct.pack(order + "H", len(entries)), b""
    for tag, kind, count, value in entries:
        table += struct.pack(order + "HHI", tag, kind, count)
        if len(value) <= 4:
            table += value.ljust(4, b"\x00")
        else:
            table += struct.pack(order + "I", at + table_size + len(values))
            values += value
    return table + bytes(4) + values


def text_entry(tag: int, text: bytes, kind: int = 2) -> tuple:
    return tag, kind, len(text), text


def long_entry(tag: int, value: int, order: str = "<") -> tuple:
    return tag, 4, 1, struct.pack(order + "I", value)


@pytest.mark.parametrize("make, note, serial", [
    (b"Canon\x00", lambda at: ifd([long_entry(0x0C, 560018150),
                                   text_entry(0x96, b"ZA2146315\x00")], "<", at), "560018150"),
    (b"Canon\x00", lambda at: ifd([text_entry(0x96, b"ZA2146315\xff\xff\x00")], "<", at),
     "ZA2146315"),  # InternalSerialNumber, the 0xFF a Kiss X3 leaves dropped as ExifTool does
    (b"NIKON\x00", lambda at: b"Nikon\x00\x02\x10\x00\x00MM\x00*" + struct.pack(">I", 8) + ifd(
        [text_entry(0x1D, b"3001006\x00"), text_entry(0xA0, b"NO= 3001006    \x00")], ">", 8),
     "3001006"),
    (b"NIKON\x00", lambda at: b"Nikon\x00\x02\x10\x00\x00MM\x00*" + struct.pack(">I", 8) + ifd(
        [text_entry(0xA0, b"NO= 20025585        \x00")], ">", 8), "20025585"),  # a D70's
    (b"OLYMPUS\x00", lambda at: b"OLYMP\x00\x01\x00" + ifd(
        [text_entry(0x101A, b"115332808".ljust(32))], "<", at + 8), "115332808"),
    (b"OLYMPUS\x00", lambda at: b"OLYMPUS\x00II\x03\x00" + ifd(
        [(0x2010, 13, 1, struct.pack("<I", 30))], "<", 12) + ifd(
        [text_entry(0x0101, b"G21656736".ljust(32))], "<", 30), "G21656736"),  # Equipment IFD
    (b"Panasonic\x00", lambda at: b"Panasonic\x00\x00\x00" + ifd(
        [text_entry(0x25, b"\x00\x00S010604030293\x00", kind=7)], "<", at + 12), "S010604030293"),
])
def test_the_serial_in_each_makers_note(make, note, serial):
    tags = read(jpeg(tiff(note, make=make)))
    assert (tags["serial"], tags["warnings"], tags["error"]) == (serial, None, None)


def test_a_serial_too_long_to_be_one_costs_the_serial_not_the_zone():
    def with_serial(at: int) -> bytes:
        time_info = (0x35, 4, 4, struct.pack("<4i", 16, 60, 4, 0))
        return ifd([time_info, (0x96, 2, 1 << 20, bytes(4))], "<", at)  # a megabyte of serial

    tags = read(jpeg(tiff(with_serial)))
    assert zone(tags) == ("Canon", 60, False, 4) and tags["serial"] is None
    assert "Canon SerialNumber unreadable (tag 0x0096 holds 1048576 values, too many for a " \
           "serial number)" in tags["warnings"]


def exiftool_serials(exiftool: str, files: list[Path]) -> dict[str, str | None]:
    """ExifTool's serial of each file (-n), by our order: EXIF's, the maker note's, XMP's."""
    records = json.loads(subprocess.run(
        [exiftool, "-j", "-G1", "-a", "-n", "-ExifIFD:SerialNumber", "-MakerNotes:SerialNumber",
         "-XMP-aux:SerialNumber", *map(str, files)], capture_output=True, text=True,
        check=True).stdout)
    return {Path(r["SourceFile"]).name: next((str(r[k]) for k in (
        "ExifIFD:SerialNumber", "Canon:SerialNumber", "Nikon:SerialNumber",
        "XMP-aux:SerialNumber") if k in r), None) for r in records}


def test_serials_written_by_exiftool_are_read_as_exiftool_reads_them(cameras, exiftool,
                                                                     plain_jpeg, tmp_path):
    canon_raws = [tmp_path / "canon.cr2", cameras["canon.cr3"]]
    shutil.copyfile(SHARED / "makernotes" / "CanonRaw.cr2", canon_raws[0])  # with a 0x000C
    nikons = [cameras["nikon.jpg"], cameras["nikon.nef"]]
    exif_tool(exiftool, "-Canon:SerialNumber=560018150", *canon_raws)
    exif_tool(exiftool, "-Nikon:SerialNumber=3001006", *nikons)
    exif_tool(exiftool, "-XMP-aux:SerialNumber=0123456789", plain_jpeg)
    files = [*canon_raws, *nikons, plain_jpeg]
    theirs = exiftool_serials(exiftool, files)
    assert theirs == {"canon.cr2": "560018150", "canon.cr3": "613040000565",  # EXIF's wins
                      "nikon.jpg": "3001006", "nikon.nef": "3001006", "plain.jpg": "0123456789"}
    assert {path.name: tags_of(path)["serial"] for path in files} == theirs
    exif_tool(exiftool, "-ExifIFD:SerialNumber=BODY-7", cameras["nikon.jpg"])
    assert tags_of(cameras["nikon.jpg"])["serial"] == "BODY-7"
