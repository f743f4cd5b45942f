"""The fast TIFF-block decoder gives the rows exifread gives: on every file of the public corpus,
and on blocks where it must hand over to exifread so damage is said the same way."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import piexif
import pytest

import pipeline.readers.ifd as ifd
from pipeline.readers import read_tags
from pipeline.readers.fastifd import Unusual, fast_tags

FILES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "files"


def exifread_only(monkeypatch) -> None:
    def unusual(*args, **kwargs):
        raise Unusual("decoded by exifread for the comparison")

    monkeypatch.setattr(ifd, "fast_tags", unusual)


def rows(data: bytes, monkeypatch) -> tuple[dict, dict]:
    """read_tags of `data` as photoflux reads it, and with exifread decoding every block."""
    fast = read_tags(io.BytesIO(data))
    with monkeypatch.context() as patch:
        exifread_only(patch)
        general = read_tags(io.BytesIO(data))
    return fast, general


def test_every_corpus_file_reads_the_same_as_with_exifread_alone(monkeypatch):
    if not FILES.is_dir():
        pytest.skip(f"no public corpus at {FILES} (it lives beside the repository, in ../shared)")
    decoded = []
    monkeypatch.setattr(ifd, "fast_tags", lambda *a, **k: decoded.append(1) or fast_tags(*a, **k))
    differ = {}
    for path in sorted(p for p in FILES.rglob("*") if p.is_file()):
        fast, general = rows(path.read_bytes(), monkeypatch)
        if fast != general:
            differ[path.name] = {k: (fast[k], general[k]) for k in fast if fast[k] != general[k]}
    assert differ == {}
    assert len(decoded) > 200  # the fast decoder did the work, not the fallback


def tiff_block(exif: dict) -> bytes:
    return piexif.dump(exif)[6:]  # piexif's APP1 payload starts "Exif\0\0"


def test_the_fast_decoder_gives_exifreads_values_and_text():
    block = tiff_block({
        "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.DateTime: b"2020:01:02 03:04:05"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2020:01:02 03:04:05",
                 piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
        "GPS": {piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (2404, 100)),
                piexif.GPSIFD.GPSLatitudeRef: b"N"}})
    tags = fast_tags(block)
    assert tags["Image Make"].values == "Canon"
    assert tags["EXIF OffsetTimeOriginal"].values == "+02:00"
    assert [str(v) for v in tags["GPS GPSLatitude"].values] == ["48", "51", "601/25"]
    assert str(tags["GPS GPSLatitude"]) == "[48, 51, 601/25]"


@pytest.mark.parametrize("damage", ["value outside", "ifd outside", "pointer is text"])
def test_a_damaged_block_is_left_to_exifread_and_reads_as_before(damage, monkeypatch):
    block = bytearray(tiff_block({
        "0th": {piexif.ImageIFD.Make: b"A camera make long enough to be stored apart"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2020:01:02 03:04:05"}}))
    entries = struct.unpack_from(">H", block, 8)[0]
    for index in range(entries):
        entry = 10 + 12 * index
        tag = struct.unpack_from(">H", block, entry)[0]
        if tag == piexif.ImageIFD.Make and damage == "value outside":
            struct.pack_into(">I", block, entry + 8, 60_000)
        if tag == piexif.ImageIFD.ExifTag and damage == "ifd outside":
            struct.pack_into(">I", block, entry + 8, 60_000)
        if tag == piexif.ImageIFD.ExifTag and damage == "pointer is text":
            struct.pack_into(">HHI4s", block, entry, tag, 2, 4, b"abc\0")  # text, inline
    with pytest.raises(Unusual):
        fast_tags(bytes(block))
    jpeg = b"\xff\xd8\xff\xe1" + struct.pack(">H", len(block) + 8) + b"Exif\0\0" + bytes(block)
    fast, general = rows(jpeg + b"\xff\xd9", monkeypatch)
    assert fast == general  # exifread says what it says of the damage, as before
