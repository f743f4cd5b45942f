"""pipeline.readers on tiny photos built here with Pillow and piexif: one test per column or rule."""
from __future__ import annotations

import builtins
import io
import re
import struct

from pathlib import Path

import pandas as pd
import piexif
import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from pipeline.extract import extract
from pipeline.fluxtream import printable
from pipeline.readers import READER_VERSION, TAG_COLUMNS, read_tags, sniff_type
from pipeline.resolve import Settings, resolve

pillow_heif.register_heif_opener()

BLANK_DATE = b"    :  :     :  :  "
CORPUS_FILES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "files"


def exif_bytes(ifd0=None, exif=None, gps=None) -> bytes:
    """An APP1 Exif payload; `gps` is keyed by tag name (GPSLatitude, ...)."""
    gps = {getattr(piexif.GPSIFD, name): value for name, value in (gps or {}).items()}
    return piexif.dump({"0th": ifd0 or {}, "Exif": exif or {}, "GPS": gps})


def photo(fmt="JPEG", **ifds) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, fmt, exif=exif_bytes(**ifds))
    return out.getvalue()


def tags_of(data: bytes) -> dict:
    return read_tags(io.BytesIO(data))


def gps_photo(**gps) -> dict:
    return tags_of(photo(gps=gps))


def dms(degrees, minutes, seconds_num, seconds_den=1):
    return ((degrees, 1), (minutes, 1), (seconds_num, seconds_den))


# --- text columns -----------------------------------------------------------------------------


def test_camera_and_dates_are_raw_strings_trimmed_of_nuls_and_spaces():
    tags = tags_of(photo(
        ifd0={piexif.ImageIFD.Make: b"Canon  ", piexif.ImageIFD.Model: b" EOS R5\x00\x00",
              piexif.ImageIFD.DateTime: b"2021:02:03 04:05:06"},
        exif={piexif.ExifIFD.DateTimeOriginal: b"2021:02:03 04:05:07 ",
              piexif.ExifIFD.DateTimeDigitized: b"2021:02:03 04:05:08"},
    ))
    assert tags["make"] == "Canon"
    assert tags["model"] == "EOS R5"
    assert tags["datetime"] == "2021:02:03 04:05:06"
    assert tags["datetime_original"] == "2021:02:03 04:05:07"
    assert tags["datetime_digitized"] == "2021:02:03 04:05:08"
    assert tags["error"] is None


def test_subsec_tags_stay_raw_strings():
    tags = tags_of(photo(exif={piexif.ExifIFD.SubSecTimeOriginal: b"07",
                               piexif.ExifIFD.SubSecTimeDigitized: b"054",
                               piexif.ExifIFD.SubSecTime: b"5 "}))
    assert (tags["subsec_original"], tags["subsec_digitized"], tags["subsec"]) == ("07", "054", "5")


def test_offset_tags():
    tags = tags_of(photo(exif={piexif.ExifIFD.OffsetTimeOriginal: b"-03:30",
                               piexif.ExifIFD.OffsetTimeDigitized: b"+09:00",
                               piexif.ExifIFD.OffsetTime: b"+02:00"}))
    assert tags["offset_time_original"] == "-03:30"
    assert tags["offset_time_digitized"] == "+09:00"
    assert tags["offset_time"] == "+02:00"


def test_blank_dates_are_null_not_an_error():
    tags = tags_of(photo(ifd0={piexif.ImageIFD.DateTime: BLANK_DATE},
                         exif={piexif.ExifIFD.DateTimeOriginal: BLANK_DATE,
                               piexif.ExifIFD.DateTimeDigitized: b"\x00" * 20}))
    assert tags["datetime_original"] is None
    assert tags["datetime_digitized"] is None
    assert tags["datetime"] is None
    assert tags["error"] is None


def test_absent_tags_are_null():
    tags = tags_of(photo())
    assert set(tags) == set(TAG_COLUMNS)
    assert tags.pop("reader_version") == READER_VERSION
    assert all(value is None for value in tags.values())


# --- GPS --------------------------------------------------------------------------------------


def test_gps_position_is_signed_decimal_degrees():
    tags = gps_photo(**{
        "GPSLatitudeRef": b"S", "GPSLatitude": dms(33, 51, 54_360, 1000),
        "GPSLongitudeRef": b"W", "GPSLongitude": dms(70, 39, 3, 2),
    })
    assert tags["gps_lat"] == pytest.approx(-(33 + 51 / 60 + 54.36 / 3600), abs=1e-12)
    assert tags["gps_lon"] == pytest.approx(-(70 + 39 / 60 + 1.5 / 3600), abs=1e-12)


def test_gps_time_with_fractional_seconds_has_milliseconds():
    tags = gps_photo(GPSDateStamp=b"2008:10:23", GPSTimeStamp=dms(14, 27, 724, 100))
    assert tags["gps_date"] == "2008:10:23"
    assert tags["gps_time"] == "14:27:07.240"


def test_gps_time_in_whole_seconds_has_no_fraction():
    assert gps_photo(GPSTimeStamp=dms(7, 3, 9))["gps_time"] == "07:03:09"


def test_gps_date_with_no_time():
    tags = gps_photo(GPSDateStamp=b"2022:01:12")
    assert tags["gps_date"] == "2022:01:12"
    assert tags["gps_time"] is None


def test_gps_zero_over_zero_placeholders_mean_no_fix():
    empty = ((0, 0), (0, 0), (0, 0))
    tags = gps_photo(GPSLatitudeRef=b"", GPSLatitude=empty, GPSLongitude=empty, GPSTimeStamp=empty)
    assert (tags["gps_lat"], tags["gps_lon"], tags["gps_time"], tags["error"]) == (None,) * 4


def test_gps_decimal_minutes_with_empty_seconds_is_a_position():
    tags = gps_photo(GPSLatitudeRef=b"N", GPSLatitude=((48, 1), (5332358, 100000), (0, 0)))
    assert tags["gps_lat"] == pytest.approx(48 + 53.32358 / 60, abs=1e-12)


def test_gps_division_by_zero_costs_that_tag_with_a_warning_not_the_file():
    tags = gps_photo(GPSLatitudeRef=b"N", GPSLatitude=((40, 0), (1, 1), (0, 1)),
                     GPSLongitudeRef=b"E", GPSLongitude=dms(3, 0, 0),
                     GPSTimeStamp=((7, 1), (3, 0), (9, 1)))
    assert (tags["gps_lat"], tags["gps_lon"], tags["gps_time"]) == (None, 3.0, None)
    assert tags["warnings"] == ("GPSTimeStamp unreadable ([7, 3/0, 9]);"
                                "GPSLatitude unreadable ([40/0, 1, 0])")
    assert tags["error"] is None


def test_gps_out_of_range_costs_that_tag_with_a_warning_not_the_file():
    tags = gps_photo(GPSLatitudeRef=b"N", GPSLatitude=dms(91, 0, 0),
                     GPSLongitudeRef=b"W", GPSLongitude=dms(181, 0, 0),
                     GPSTimeStamp=dms(24, 0, 1))
    assert (tags["gps_lat"], tags["gps_lon"], tags["gps_time"]) == (None, None, None)
    assert tags["warnings"].split(";") == ["GPSTimeStamp out of range ([24, 0, 1])",
                                           "GPSLatitude out of range (91 degrees)",
                                           "GPSLongitude out of range (-181 degrees)"]
    assert tags["error"] is None


def ifd(entries: list[tuple[int, int, bytes]], start: int) -> bytes:
    """A little-endian IFD at offset `start` of (tag, TIFF type, value bytes) entries, its
    longer values after it; no next IFD."""
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 12: 8}
    table, values = b"", b""
    values_at = start + 2 + 12 * len(entries) + 4
    for tag, kind, value in entries:
        count = len(value) // sizes[kind]
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, kind, count, values_at + len(values))
            values += value
    return struct.pack("<H", len(entries)) + table + b"\x00" * 4 + values


def tiff_with(ifd0: list, gps: list | None = None) -> bytes:
    """A TIFF block whose IFD0 holds `ifd0` and, when given, a GPS IFD holding `gps`."""
    if gps is None:
        return b"II*\x00" + struct.pack("<I", 8) + ifd(ifd0, 8)
    first = ifd(ifd0 + [(0x8825, 4, b"\x00" * 4)], 8)
    gps_at = 8 + len(first)
    first = ifd(ifd0 + [(0x8825, 4, struct.pack("<I", gps_at))], 8)
    return b"II*\x00" + struct.pack("<I", 8) + first + ifd(gps, gps_at)


def test_a_text_tag_stored_as_numbers_is_null_with_a_warning():
    tags = tags_of(tiff_with([(0x010F, 4, struct.pack("<I", 1234)), (0x0110, 2, b"EOS\x00"),
                              (0x0132, 3, struct.pack("<3H", 2021, 2, 3))]))
    assert (tags["make"], tags["model"], tags["datetime"]) == (None, "EOS", None)
    assert tags["warnings"] == ("Make is not text (stored as Long: 1234);"
                                "DateTime is not text (stored as Short: [2021, 2, 3])")
    assert tags["error"] is None


def test_a_lost_gps_ifd_costs_the_position_with_a_warning_not_the_file():
    tags = tags_of(tiff_with([(0x0132, 2, b"2021:02:03 04:05:06\x00"), (0x8825, 4, b"")]))
    assert tags["datetime"] == "2021:02:03 04:05:06"
    assert tags["warnings"] == "EXIF: the pointer to the GPS IFD holds no value"
    assert tags["error"] is None


def test_an_entry_that_cannot_be_decoded_costs_that_tag_not_its_ifd():
    block = bytearray(tiff_with([(0x0132, 2, b"2021:02:03 04:05:06\x00"),
                                 (0x0200, 12, b"\x00" * 8),  # JPEGProc, a DOUBLE whose value is lost
                                 (0x0110, 2, b"EOS R5\x00")]))
    double_offset = 8 + 2 + 12 + 8
    block[double_offset:double_offset + 4] = struct.pack("<I", 0xFFFFFF)
    tags = tags_of(bytes(block))
    assert (tags["datetime"], tags["model"], tags["error"]) == ("2021:02:03 04:05:06", "EOS R5", None)
    assert "the JPEGProc entry of the Image IFD cannot be decoded" in tags["warnings"]


PANORAMA = {"exif": {piexif.ExifIFD.DateTimeOriginal: b"2022:04:24 10:35:53",
                     piexif.ExifIFD.SubSecTimeOriginal: b"358",
                     piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
            "gps": {"GPSLatitudeRef": b"N", "GPSLatitude": ((21364, 100), (0, 1), (0, 1)),
                    "GPSLongitudeRef": b"E", "GPSLongitude": dms(13, 24, 0)}}


def test_a_latitude_out_of_range_keeps_the_panoramas_time(tmp_path):
    """PhotoPrism's phone panorama: GPSLatitude 213.64 next to a good time and offset, which
    ExifTool reads as 2022-04-24T08:35:53.358Z."""
    path = tmp_path / "panorama.jpg"
    path.write_bytes(photo(**PANORAMA))
    resolved = resolve(extract([path]), settings=Settings(default_tz="UTC"))
    row = resolved.iloc[0]
    assert pd.isna(row["error"]) and pd.isna(row["gps_lat"]) and row["gps_lon"] == 13.4
    assert row["warnings"] == "GPSLatitude out of range (213.64 degrees)"
    assert row["utc_time"] == pd.Timestamp("2022-04-24T08:35:53.358Z")
    assert row["tz_source"] == "offset"


@pytest.mark.parametrize("name, taken", [
    ("jpg__tests__45-gps_ifd.jpg", "2012:06:23 06:55:49"),  # an empty GPS IFD
    ("jpg__tests__30-type_error.jpg", None),  # its Exif IFD pointer is stored as text
])
def test_public_files_with_a_broken_ifd_keep_their_times(name, taken):
    path = CORPUS_FILES / "exif-samples" / name
    if not path.exists():
        pytest.skip(f"no public corpus at {CORPUS_FILES} (it lives beside the repository, in ../shared)")
    with open(path, "rb") as fh:
        tags = read_tags(fh)
    assert tags["error"] is None and tags["warnings"]
    assert tags["datetime_original"] == taken
    if taken is None:  # ExifTool too reads its DateTimeOriginal from XMP, and the ModifyDate
        assert tags["xmp_datetime_original"] == "2013-07-05T03:18:27Z"
        assert tags["datetime"] == "2013:07:07 17:20:59"


def test_binary_bytes_in_a_message_are_escaped():
    tags = tags_of(tiff_with([], gps=[(0x0001, 2, b"N\x00"), (0x0002, 2, b"4\x01\x7f\x1b;0\x00")]))
    assert tags["gps_lat"] is None
    assert tags["warnings"] == "GPSLatitude unreadable (4\\x01\\x7f\\x1b,0)"
    assert printable("a\x00b\udcff c\u200b") == "a\\x00b\\xff c\\u200b"


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


@pytest.mark.parametrize("bogus", [
    b"Exif\x00\x00" + b"\x00garbage, no TIFF header here",
    b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # a TIFF header pointing far away
    b"Exif\x00",  # nothing after the name
])
def test_exif_behind_a_bogus_leading_app1_segment_is_found(bogus):
    real = photo(**DATED)
    tags = tags_of(real[:2] + app1(bogus) + real[2:])
    assert tags["datetime_original"] == "2019:08:21 11:21:36"
    assert tags["gps_lat"] == pytest.approx(38 + 41 / 60 + 58.34 / 3600)
    assert tags["error"] is None
    assert tags["warnings"] is None or tags["warnings"].startswith(
        "JPEG: skipped the Exif segment at offset 2, which does not decode")


# --- containers -------------------------------------------------------------------------------

DATED = {"exif": {piexif.ExifIFD.DateTimeOriginal: b"2019:08:21 11:21:36"},
         "gps": {"GPSLatitudeRef": b"N", "GPSLatitude": dms(38, 41, 58_340, 1000)}}


@pytest.mark.parametrize("fmt, kind", [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP"),
                                       ("TIFF", "TIFF"), ("HEIF", "HEIC"), ("AVIF", "AVIF")])
def test_every_container_pillow_writes(fmt, kind):
    data = photo(fmt, **DATED)
    tags = tags_of(data)
    assert sniff_type(data) == kind
    assert tags["datetime_original"] == "2019:08:21 11:21:36"
    assert tags["gps_lat"] == pytest.approx(38 + 41 / 60 + 58.34 / 3600)
    assert tags["error"] is None


def test_jpeg_exif_behind_a_large_icc_segment_and_its_xmp():
    xmp = b'<x:xmpmeta><rdf:Description exif:DateTimeOriginal="2013-07-05T03:18:27Z"/></x:xmpmeta>'
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", icc_profile=b"\x00" * 20_000,
                                  exif=exif_bytes(**DATED), xmp=xmp)
    tags = tags_of(out.getvalue())
    assert tags["datetime_original"] == "2019:08:21 11:21:36"
    assert tags["xmp_datetime_original"] == "2013-07-05T03:18:27Z"


def test_each_xmp_date_has_its_column_in_element_form():
    xmp = (b"<x:xmpmeta><xmp:CreateDate>2001-01-01</xmp:CreateDate>"
           b"<photoshop:DateCreated> 2002-02-02T10:00:00+01:00 </photoshop:DateCreated></x:xmpmeta>")
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=xmp)
    tags = tags_of(out.getvalue())
    assert tags["xmp_date_created"] == "2002-02-02T10:00:00+01:00"
    assert tags["xmp_create_date"] == "2001-01-01"
    assert tags["xmp_datetime_original"] is None


def test_png_imagemagick_raw_profile_in_a_compressed_text_chunk():
    block = b"Exif\x00\x00" + exif_bytes(**DATED)[6:]
    profile = f"\nexif\n{len(block):8d}\n".encode() + block.hex().encode()
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", profile.decode(), zip=True)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    assert tags_of(out.getvalue())["datetime_original"] == "2019:08:21 11:21:36"


def test_png_compressed_text_bomb_is_refused(monkeypatch):
    monkeypatch.setattr("pipeline.readers.png.MAX_BLOCK_BYTES", 1000)
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", "0" * 100_000, zip=True)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    assert "inflates past" in tags_of(out.getvalue())["error"]


def test_raf_reads_the_embedded_jpeg():
    jpeg = photo(**DATED)
    header = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\x00")
    raf = header + struct.pack(">II", 100, len(jpeg)) + b"\x00" * 8 + jpeg
    assert sniff_type(raf) == "RAF"
    assert tags_of(raf)["datetime_original"] == "2019:08:21 11:21:36"


def tiff_block(entries: dict[int, bytes]) -> bytes:
    """A little-endian TIFF whose IFD0 holds ASCII `entries` (tag -> value)."""
    table, values = b"", b""
    data_start = 8 + 2 + 12 * len(entries) + 4
    for tag, value in sorted(entries.items()):
        value += b"\x00"
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, 2, len(value)) + value.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, 2, len(value), data_start + len(values))
            values += value
    return b"II*\x00" + struct.pack("<IH", 8, len(entries)) + table + b"\x00" * 4 + values


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_cr3_reads_canon_cmt_boxes():
    cmt = (box(b"CMT1", tiff_block({0x010F: b"Canon", 0x0132: b"2020:05:04 18:39:12"}))
           + box(b"CMT2", tiff_block({0x9003: b"2020:05:04 18:39:11", 0x9011: b"+02:00"}))
           + box(b"CMT4", tiff_block({0x1D: b"2020:05:04"})))
    canon_uuid = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
    cr3 = box(b"ftyp", b"crx \x00\x00\x00\x01crx isom") + box(b"moov", box(b"uuid", canon_uuid + cmt))
    tags = tags_of(cr3)
    assert sniff_type(cr3) == "CR3"
    assert (tags["make"], tags["datetime"]) == ("Canon", "2020:05:04 18:39:12")
    assert (tags["datetime_original"], tags["offset_time_original"]) == ("2020:05:04 18:39:11", "+02:00")
    assert tags["gps_date"] == "2020:05:04"
    assert tags["error"] is None


# --- sniffing ---------------------------------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\x00\x00\x00\x00" + b"".join(compatible))


@pytest.mark.parametrize("head, kind", [
    (b"\xff\xd8\xff\xe1", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
    (b"GIF89a", "GIF"),
    (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "CR2"),
    (b"IIRO\x08\x00\x00\x00", "ORF"),
    (b"IIU\x00\x08\x00\x00\x00", "RW2"),
    (b"FUJIFILMCCD-RAW 0201", "RAF"),
    (ftyp(b"crx ", b"isom"), "CR3"),
    (ftyp(b"heic", b"mif1", b"heic"), "HEIC"),
    (ftyp(b"mif1", b"heic"), "HEIF"),
    (ftyp(b"avif", b"mif1"), "AVIF"),
    (ftyp(b"isom", b"avif"), "AVIF"),
    (ftyp(b"qt  "), None),
    (tiff_block({0x010F: b"NIKON CORPORATION"}), "NEF"),
    (tiff_block({0x010F: b"SONY"}), "ARW"),
    (tiff_block({0x010F: b"PENTAX Corporation"}), "PEF"),
    (tiff_block({0x010F: b"PENTAX", 0xC612: b"\x01\x04"}), "DNG"),
    (tiff_block({0x010F: b"Epson"}), "TIFF"),
    (tiff_block({0x010F: b"NIKON CORPORATION"})[:30], "TIFF"),  # Make beyond the head
    (b"%PDF-1.4", None),
    (b"", None),
])
def test_sniff_type(head, kind):
    assert sniff_type(head) == kind


# --- bad input --------------------------------------------------------------------------------


def test_empty_file():
    assert tags_of(b"")["error"] == "empty file"


def test_not_an_image():
    tags = tags_of(b"<html>hello</html>")
    assert tags["error"].startswith("not a recognised image format")
    assert set(tags) == set(TAG_COLUMNS)


def test_truncated_jpeg_keeps_what_it_read_or_says_why():
    data = photo(**DATED)
    cut_in_exif = tags_of(data[:60])
    assert "truncated" in cut_in_exif["error"] or "past the end" in cut_in_exif["error"]
    cut_before_scan = data[:data.index(b"\xff\xda")]
    tags = tags_of(cut_before_scan)
    assert tags["datetime_original"] == "2019:08:21 11:21:36"
    assert tags["error"] is None  # its time was read: the cut is a warning, not the file's end
    assert "truncated" in tags["warnings"]


def test_corrupt_exif_offsets_give_an_error_not_an_exception():
    data = bytearray(photo(**DATED))
    ifd0 = data.index(b"Exif\x00\x00") + 6 + 8  # the IFD0 entry count
    data[ifd0 + 2 + 8:ifd0 + 2 + 12] = b"\xff\xff\xff\x7f"  # first entry's value offset: far away
    tags = tags_of(bytes(data))
    assert set(tags) == set(TAG_COLUMNS)


def test_heif_with_broken_item_table():
    data = bytearray(photo("HEIF", **DATED))
    iloc = data.index(b"iloc")
    data[iloc + 4:iloc + 40] = b"\xff" * 36
    assert tags_of(bytes(data))["error"]


MAGIC = [b"\xff\xd8\xff\xe1", b"II*\x00", b"MM\x00*", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x01\x00\x00WEBP",
         ftyp(b"heic"), ftyp(b"crx "), b"FUJIFILMCCD-RAW 0201"]

#: What a Python exception looks like when its text leaks into a message: a builtin exception's
#: name, struct's and zlib's `error: ...`, exifread's own exception names, a traceback.
LEAKED_EXCEPTION = re.compile(
    r"\b(%s)\b|\berror: |Traceback|ExifError|InvalidExif|ExifNotFound" % "|".join(
        name for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)))


def assert_says_what_is_wrong_in_words(tags: dict) -> None:
    """Every message is one clean line about the file, never a leaked Python exception."""
    assert set(tags) == set(TAG_COLUMNS)
    for column in ("error", "warnings"):
        text = tags[column]
        if text is not None:
            assert text.isprintable(), f"{column}: {text!r}"
            assert not LEAKED_EXCEPTION.search(text), f"{column}: {text}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=400))
def test_fuzzed_files_say_what_is_wrong_in_words(magic, body):
    assert_says_what_is_wrong_in_words(tags_of(magic + body))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_real_photos_say_what_is_wrong_in_words(data):
    original = bytearray(photo(**DATED))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, 400))
        original[position] = data.draw(st.integers(0, 255))
    assert_says_what_is_wrong_in_words(tags_of(bytes(original)))
