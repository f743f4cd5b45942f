"""Reading one photo file's tags: capture dates, UTC offsets, GPS, camera, raw and untouched.

exifread decodes the EXIF structure (a TIFF block: IFD0, the Exif IFD, the GPS IFD). It finds that
block itself in only a few containers, and not always (it looks for a JPEG's Exif segment within
the first 4 KB after JFIF, knows three HEIF brands, needs a WebP's VP8X flag, reads no PNG text
chunk), so the small locators here find the block in each container and hand it to exifread:

- JPEG: a walk over the header segments; it also yields the XMP segment.
- TIFF family (TIFF, DNG, CR2, NEF, ARW, ORF, RW2, PEF, SRW): the file itself is the TIFF block.
- HEIC/HEIF/AVIF: an ISO-BMFF walk, meta -> iinf/iloc -> the `Exif` and XMP items, any brand.
- CR3: ISO-BMFF too; Canon stores IFD0, the Exif IFD and the GPS IFD as three TIFF blocks
  (CMT1, CMT2, CMT4) in a moov/uuid box, and XMP in a top-level uuid box.
- PNG: the eXIf chunk or ImageMagick's hex "Raw profile type exif/APP1" text chunk; XMP in iTXt.
- WebP: the RIFF EXIF and XMP chunks, whatever the VP8X flags claim.
- RAF: the Exif of Fuji's embedded JPEG preview.
- BigTIFF is recognised but not read (exifread decodes classic TIFF only); GIF carries no Exif.

xmp_date_created is the first of photoshop:DateCreated, exif:DateTimeOriginal, xmp:CreateDate in
the container's XMP packet, as written (ISO 8601).

exifread's ExifHeader is driven directly (as its process_file does) so a decode that fails half
way keeps the tags read before the failure, and so a lone IFD (CR3's CMT2/CMT4) can be decoded.

Nothing here raises on bad input: what cost the file (not an image, truncated before its
metadata, an IFD that cannot be decoded) becomes the one-line `error`, next to whatever could be
read; what cost one tag (a GPS position or time out of range or unreadable, a text tag stored as
numbers, an Exif segment skipped for a later one) makes that tag null and becomes a `warnings`
entry. Both say in words what is wrong with the file, with binary bytes escaped. Every read is
bounded (MAX_BLOCK_BYTES, MAX_VALUE_BYTES), so a fuzzed length field cannot make a reader
allocate more than that.
"""
from __future__ import annotations

import logging
import math
import re
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from io import BytesIO
from typing import BinaryIO, Iterator

from exifread.core.exif_header import ExifHeader
from exifread.tags.exif import GPS_TAGS
from exifread.tags.fields import FIELD_DEFINITIONS, FieldType

from .fluxtream import printable

#: The columns read_tags returns, in the photos table's order.
TAG_COLUMNS = (
    "make", "model", "datetime_original", "datetime_digitized", "datetime",
    "subsec_original", "subsec_digitized", "subsec",
    "offset_time_original", "offset_time_digitized", "offset_time",
    "gps_date", "gps_time", "gps_lat", "gps_lon", "xmp_date_created", "error", "warnings",
)

#: How much of a file's start sniff_type wants (TIFF raws are told apart by IFD0's entries).
SNIFF_BYTES = 64 * 1024
#: Largest metadata block (Exif item, PNG chunk, XMP packet, box) read into memory.
MAX_BLOCK_BYTES = 16 * 1024 * 1024
#: Largest single read exifread may make inside a file that is itself the TIFF block.
MAX_VALUE_BYTES = 1024 * 1024

#: Field types a text tag may be stored as (ASCII, or its bytes as BYTE/UNDEFINED).
_TEXT_FIELD_TYPES = (FieldType.ASCII, FieldType.BYTE, FieldType.UNDEFINED)
#: Longest text kept from a bad value quoted in a message.
_QUOTE_CHARS = 40

#: Column <- exifread key, the standard place first and the place some writers misuse second.
_TEXT_TAGS = {
    "make": ("Image Make", "EXIF Make"),
    "model": ("Image Model", "EXIF Model"),
    "datetime_original": ("EXIF DateTimeOriginal", "Image DateTimeOriginal"),
    "datetime_digitized": ("EXIF DateTimeDigitized", "Image DateTimeDigitized"),
    "datetime": ("Image DateTime", "EXIF DateTime"),
    "subsec_original": ("EXIF SubSecTimeOriginal", "Image SubSecTimeOriginal"),
    "subsec_digitized": ("EXIF SubSecTimeDigitized", "Image SubSecTimeDigitized"),
    "subsec": ("EXIF SubSecTime", "Image SubSecTime"),
    "offset_time_original": ("EXIF OffsetTimeOriginal", "Image OffsetTimeOriginal"),
    "offset_time_digitized": ("EXIF OffsetTimeDigitized", "Image OffsetTimeDigitized"),
    "offset_time": ("EXIF OffsetTime", "Image OffsetTime"),
    "gps_date": ("GPS GPSDate",),
}

#: XMP properties holding the capture time, in the order the Metadata Working Group prefers.
_XMP_DATE_PROPERTIES = ("photoshop:DateCreated", "exif:DateTimeOriginal", "xmp:CreateDate")

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_BMFF_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"), "HEIC"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    **dict.fromkeys((b"mif1", b"mif2", b"msf1", b"MiHE", b"MiHB", b"MiAN"), "HEIF"),
    b"crx ": "CR3",
}
_CANON_CR3_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_CR3_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
_JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_TIFF_VENDOR_TYPES = (
    (b"NIKON", "NEF"), (b"SONY", "ARW"), (b"PENTAX", "PEF"), (b"RICOH", "PEF"),
    (b"ASAHI", "PEF"), (b"SAMSUNG", "SRW"),
)
_TAG_MAKE, _TAG_XMP, _TAG_DNG_VERSION = 0x010F, 0x02BC, 0xC612


class _Corrupt(Exception):
    """The container is broken here; the message says where and how."""


# --- sniffing -------------------------------------------------------------------------------


def sniff_type(head: bytes) -> str | None:
    """The file type from its first bytes (ideally SNIFF_BYTES of them); None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "RAF"
    if head[4:8] == b"ftyp":
        return _bmff_type(head)
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "ORF"
    if head[:4] == b"IIU\x00":
        return "RW2"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "BigTIFF"
    if head[:4] in _TIFF_MAGIC:
        return "CR2" if head[8:10] == b"CR" else _tiff_type(head)
    return None


def _bmff_type(head: bytes) -> str | None:
    """By the major brand, as ExifTool does, else by the first compatible brand known."""
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    return next((_BMFF_BRANDS[brand] for brand in brands if brand in _BMFF_BRANDS), None)


def _tiff_type(head: bytes) -> str:
    """DNG when IFD0 has DNGVersion; a vendor raw when IFD0's Make names one; else TIFF (also
    when IFD0 lies beyond the head)."""
    try:
        entries = _ifd0_entries(BytesIO(head))
        make = _entry_bytes(BytesIO(head), entries.get(_TAG_MAKE), head[:1]) or b""
    except (_Corrupt, struct.error):
        return "TIFF"
    if _TAG_DNG_VERSION in entries:
        return "DNG"
    return next((kind for vendor, kind in _TIFF_VENDOR_TYPES if make.upper().startswith(vendor)),
                "TIFF")


# --- reading --------------------------------------------------------------------------------


@dataclass
class _Found:
    """What a container reader has found so far; kept when it stops at damage further on."""
    tags: dict = field(default_factory=dict)  # exifread's, keyed "Image Make", "GPS GPSDate", ...
    xmp: bytes | None = None
    problems: list[str] = field(default_factory=list)  # what cost the file: `error`
    warnings: list[str] = field(default_factory=list)  # what cost one tag: `warnings`

    def decode(self, block: bytes | BinaryIO, ifd_name: str = "Image", tag_dict=None) -> None:
        source = BytesIO(block) if isinstance(block, bytes) else block
        self.tags.update(_decode_tiff(source, self, ifd_name, tag_dict))


def read_tags(fh: BinaryIO) -> dict:
    """The TAG_COLUMNS of one seekable binary file; never raises.

    Strings are raw, trimmed of NULs and spaces, None when absent or blank; gps_time is
    HH:MM:SS[.fff]; gps_lat/gps_lon are signed decimal degrees. `error` is one line saying why
    the file could not be read fully, `warnings` the ";"-separated tags that were unusable; None
    when there is nothing to say.
    """
    found = _Found()
    try:
        fh.seek(0)
        head = fh.read(SNIFF_BYTES)
        kind = sniff_type(head)
        if not head:
            found.problems.append("empty file")
        elif kind is None:
            found.problems.append(f"not a recognised image format (starts {head[:8].hex(' ')})")
        elif kind == "BigTIFF":
            found.problems.append("BigTIFF is not read (exifread decodes classic TIFF only)")
        else:
            _READERS[kind](fh, found)
    except _Corrupt as exc:
        found.problems.append(str(exc))
    except OSError as exc:
        found.problems.append(f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug must cost one file's tags, not the run
        found.problems.append(internal_error(exc))
    try:
        return _columns(found)
    except Exception as exc:
        return _columns(_Found(problems=[*found.problems, internal_error(exc)]))


def internal_error(exc: BaseException) -> str:
    """The message of a bug in photoflux's reading (not damage in the file): the exception as
    Python names it, so a report of it points at the code."""
    return f"internal error while reading the file ({type(exc).__name__}: {exc})"


def _columns(found: _Found) -> dict:
    tags, warnings = found.tags, found.warnings
    row = {column: _first_text(tags, keys, warnings) for column, keys in _TEXT_TAGS.items()}
    row["gps_time"] = _gps_time(tags.get("GPS GPSTimeStamp"), warnings)
    row["gps_lat"] = _gps_degrees(tags, "Latitude", 90, warnings)
    row["gps_lon"] = _gps_degrees(tags, "Longitude", 180, warnings)
    row["xmp_date_created"] = _xmp_date(found.xmp) if found.xmp else None
    row["error"] = message_line(found.problems, "; ")
    row["warnings"] = message_line(warnings, ";")
    return {column: row[column] for column in TAG_COLUMNS}


def message_line(messages: list[str], separator: str) -> str | None:
    """Distinct messages joined by `separator` into one printable line of at most 500
    characters; a `;` inside a message becomes `,` so the line splits back on `;`. None when
    there are none."""
    lines = (printable(" ".join(message.split()).replace(";", ",")) for message in messages)
    distinct = list(dict.fromkeys(lines))
    return separator.join(distinct)[:500] if distinct else None


# --- container readers: each adds what it finds to a _Found as it goes ----------------------


def _read_jpeg(fh: BinaryIO, found: _Found, start: int = 0, end: int | None = None) -> None:
    """The first Exif segment that holds tags and the first XMP segment among the JPEG's header
    segments. An Exif segment without tags (a bogus or empty one ahead of the camera's, as some
    editors leave) is passed over for a later one, as ExifTool does."""
    skipped: list[tuple[int, list[str]]] = []  # (offset, why) of each Exif segment passed over
    try:
        _walk_jpeg(fh, found, skipped, start, _file_end(fh) if end is None else end)
    finally:
        for offset, problems in skipped:
            if found.tags:
                found.warnings.append(f"JPEG: skipped the Exif segment at offset {offset}, "
                                      f"which does not decode ({', '.join(problems)})")
            else:
                found.problems.extend(problems)


def _walk_jpeg(fh: BinaryIO, found: _Found, skipped: list, start: int, end: int) -> None:
    exif_read = False
    pos = start + 2
    while pos + 2 <= end:
        marker = _read(fh, pos, 2, "JPEG marker")
        if marker[0] != 0xFF or marker[1] == 0xFF:  # stray or fill bytes, skipped as libjpeg does
            pos = _next_marker(fh, pos + 1, end)
            continue
        code = marker[1]
        if code in (0x01, 0xD8) or 0xD0 <= code <= 0xD7:  # markers without a length
            pos += 2
            continue
        if code in (0xD9, 0xDA):  # end of image, start of scan: no more header segments
            return
        length = int.from_bytes(_read(fh, pos + 2, 2, "JPEG segment length"), "big")
        body, pos = pos + 4, pos + 2 + length
        if length < 2 or pos > end:
            raise _Corrupt(f"JPEG: segment at offset {body - 4} runs past the end of the file")
        if code == 0xE1:
            size = length - 2
            lead = _read(fh, body, min(size, len(_JPEG_XMP_HEADER)), "JPEG APP1")
            if not exif_read and lead.startswith(b"Exif\x00"):
                attempt = _Found()
                attempt.decode(_read(fh, body + 6, max(size - 6, 0), "JPEG Exif segment"))
                exif_read = bool(attempt.tags)
                if exif_read:
                    found.tags = attempt.tags
                    found.problems += attempt.problems
                    found.warnings += attempt.warnings
                elif attempt.problems:
                    skipped.append((body - 4, attempt.problems))
            elif found.xmp is None and lead == _JPEG_XMP_HEADER:
                found.xmp = _read(fh, body + len(lead), size - len(lead), "JPEG XMP segment")
    raise _Corrupt("JPEG: truncated before the image data")


def _next_marker(fh: BinaryIO, pos: int, end: int) -> int:
    """Offset of the next 0xFF at or after `pos` that precedes a marker code, or `end`."""
    while pos < end:
        fh.seek(pos)
        chunk = fh.read(min(64 * 1024, end - pos))
        found = re.search(rb"\xff[^\xff]", chunk)
        if found:
            return pos + found.start()
        pos += max(len(chunk) - 1, 1)
    return end


def _read_tiff(fh: BinaryIO, found: _Found) -> None:
    """The file is the TIFF block; XMP is IFD0's XMLPacket tag."""
    found.decode(_CappedReads(fh))
    try:
        found.xmp = _entry_bytes(fh, _ifd0_entries(fh).get(_TAG_XMP), _read(fh, 0, 1, "TIFF"))
    except (_Corrupt, struct.error):
        pass  # a broken IFD0 is already reported by the decode


def _read_raf(fh: BinaryIO, found: _Found) -> None:
    """Fuji's header points at an embedded JPEG preview (offset, length at byte 84)."""
    offset, length = struct.unpack(">II", _read(fh, 84, 8, "RAF header"))
    _read_jpeg(fh, found, offset, min(offset + length, _file_end(fh)))


def _read_png(fh: BinaryIO, found: _Found) -> None:
    exif_seen = False
    end = _file_end(fh)
    pos = 8
    while pos + 12 <= end:
        length, kind = struct.unpack(">I4s", _read(fh, pos, 8, "PNG chunk header"))
        body, pos = pos + 8, pos + 12 + length
        if pos > end:
            raise _Corrupt(f"PNG: {_name(kind)} chunk runs past the end of the file")
        if kind == b"IEND":
            return
        if kind == b"eXIf" and not exif_seen:
            exif_seen = True
            found.decode(_strip_exif_header(_read(fh, body, length, "PNG eXIf chunk")))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword, text = _png_text(kind, _read(fh, body, length, f"PNG {_name(kind)} chunk"))
            if keyword == b"XML:com.adobe.xmp" and found.xmp is None:
                found.xmp = text
            elif keyword in (b"Raw profile type exif", b"Raw profile type APP1") and not exif_seen:
                exif_seen = True
                found.decode(_strip_exif_header(_imagemagick_profile(text)))


def _png_text(kind: bytes, data: bytes) -> tuple[bytes, bytes]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk, decompressing within MAX_BLOCK_BYTES."""
    keyword, _, rest = data.partition(b"\x00")
    if kind == b"tEXt":
        return keyword, rest
    if kind == b"zTXt":
        return keyword, _inflate(rest[1:])
    compressed = rest[:1] == b"\x01"
    _language, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return keyword, _inflate(text) if compressed else text


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_BLOCK_BYTES)
    except zlib.error as exc:
        raise _Corrupt(f"PNG: compressed text chunk unreadable ({exc})") from None
    if inflater.unconsumed_tail:
        raise _Corrupt(f"PNG: compressed text chunk inflates past {MAX_BLOCK_BYTES} bytes")
    return text


def _imagemagick_profile(text: bytes) -> bytes:
    """ImageMagick's "\\nexif\\n   LENGTH\\nHEX..." profile dump, as bytes."""
    lines = text.strip().split(b"\n")
    try:
        return bytes.fromhex(b"".join(lines[2:]).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise _Corrupt("PNG: raw Exif profile is not hexadecimal") from None


def _read_webp(fh: BinaryIO, found: _Found) -> None:
    exif_seen = False
    end = min(_file_end(fh), 8 + int.from_bytes(_read(fh, 4, 4, "RIFF size"), "little"))
    pos = 12
    while pos + 8 <= end:
        kind, length = struct.unpack("<4sI", _read(fh, pos, 8, "WebP chunk header"))
        body, pos = pos + 8, pos + 8 + length + (length & 1)
        if body + length > end:
            raise _Corrupt(f"WebP: {_name(kind)} chunk runs past the end of the file")
        if kind == b"EXIF" and not exif_seen:
            exif_seen = True
            found.decode(_strip_exif_header(_read(fh, body, length, "WebP EXIF chunk")))
        elif kind == b"XMP " and found.xmp is None:
            found.xmp = _read(fh, body, length, "WebP XMP chunk")


def _read_heif(fh: BinaryIO, found: _Found) -> None:
    """meta -> iinf (which item is Exif, which XMP) and iloc (where each item's bytes are)."""
    end = _file_end(fh)
    meta = next((box for box in _boxes(fh, 0, end, found.problems) if box[0] == b"meta"), None)
    if meta is None:
        raise _Corrupt("HEIF: no meta box")
    children = {kind: (start, stop) for kind, start, stop in _meta_children(fh, meta, found)}
    if b"iinf" not in children or b"iloc" not in children:
        raise _Corrupt("HEIF: meta box without item information or locations")
    items = _heif_items(_read_box(fh, children[b"iinf"]), found)
    locations = _heif_locations(_read_box(fh, children[b"iloc"]))
    idat_start = children.get(b"idat", (0, 0))[0]
    exif_id = next((i for i, (kind, _) in items.items() if kind == b"Exif"), None)
    if exif_id in locations:
        found.decode(_heif_exif_tiff(_heif_item_data(fh, locations[exif_id], idat_start, end)))
    xmp_id = next((i for i, (kind, mime) in items.items()
                   if kind == b"mime" and mime == b"application/rdf+xml"), None)
    if xmp_id in locations:
        found.xmp = _heif_item_data(fh, locations[xmp_id], idat_start, end)


def _meta_children(fh: BinaryIO, meta: tuple, found: _Found):
    """The meta box's children; ISO meta is a full box (4 bytes of version/flags), QuickTime's not."""
    _, start, stop = meta
    full_box = _read(fh, start + 4, 4, "meta box") != b"hdlr"
    return _boxes(fh, start + 4 if full_box else start, stop, found.problems)


def _heif_items(iinf: bytes, found: _Found) -> dict:
    """item id -> (item type, content type) from an iinf box."""
    first = 6 if iinf[:1] == b"\x00" else 8  # version/flags, then a 16- or 32-bit entry count
    items = {}
    for kind, start, stop in _boxes(BytesIO(iinf), first, len(iinf), found.problems):
        if kind != b"infe":
            continue
        cursor = _Cursor(iinf[start:stop])
        version = cursor.take(4)[0]
        if version < 2:
            item_id = cursor.uint(2)
            cursor.take(2)
            cursor.cstring()  # item name
            items[item_id] = (b"mime", cursor.cstring())
        else:
            item_id = cursor.uint(2 if version == 2 else 4)
            cursor.take(2)
            item_type = cursor.take(4)
            cursor.cstring()
            items[item_id] = (item_type, cursor.cstring() if item_type == b"mime" else b"")
    return items


def _heif_locations(iloc: bytes) -> dict:
    """item id -> (construction method, base offset, [(offset, length)]) from an iloc box."""
    cursor = _Cursor(iloc)
    version = cursor.take(4)[0]
    sizes = cursor.take(2)
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    locations = {}
    for _ in range(cursor.uint(2 if version < 2 else 4)):
        item_id = cursor.uint(2 if version < 2 else 4)
        method = cursor.uint(2) & 15 if version in (1, 2) else 0
        cursor.take(2)  # data reference index
        base = cursor.uint(base_size)
        extents = []
        for _ in range(cursor.uint(2)):
            cursor.uint(index_size)
            extents.append((cursor.uint(offset_size), cursor.uint(length_size)))
        locations[item_id] = (method, base, extents)
    return locations


def _heif_item_data(fh: BinaryIO, location: tuple, idat_start: int, end: int) -> bytes:
    method, base, extents = location
    if method not in (0, 1):
        raise _Corrupt(f"HEIF: item stored by construction method {method}, which is not read")
    origin = base + (idat_start if method == 1 else 0)
    spans = [(origin + offset, length or end - origin - offset) for offset, length in extents]
    total = sum(length for _, length in spans)
    if total > MAX_BLOCK_BYTES:
        raise _Corrupt(f"HEIF item of {total} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit")
    return b"".join(_read(fh, offset, length, "HEIF item") for offset, length in spans)


def _heif_exif_tiff(data: bytes) -> bytes:
    """The TIFF block of an Exif item: after a 32-bit offset to the TIFF header."""
    start = 4 + int.from_bytes(data[:4], "big")
    if data[start:start + 4] in _TIFF_MAGIC:
        return data[start:]
    found = [i for i in (data.find(magic, 4, 4 + 64) for magic in _TIFF_MAGIC) if i >= 0]
    if not found:
        raise _Corrupt("HEIF: Exif item without a TIFF header")
    return data[min(found):]


def _read_cr3(fh: BinaryIO, found: _Found) -> None:
    """Canon keeps IFD0, the Exif IFD and the GPS IFD as TIFF blocks CMT1, CMT2 and CMT4 in a
    moov/uuid box, and XMP in a top-level uuid box."""
    roles = {b"CMT1": ("Image", None), b"CMT2": ("EXIF", None), b"CMT4": ("GPS", GPS_TAGS)}
    for kind, start, stop in _boxes(fh, 0, _file_end(fh), found.problems):
        if kind == b"uuid" and _read(fh, start, 16, "uuid box") == _CR3_XMP_UUID:
            found.xmp = _read(fh, start + 16, stop - start - 16, "CR3 XMP")
        if kind != b"moov":
            continue
        for child, child_start, child_stop in _boxes(fh, start, stop, found.problems):
            if child != b"uuid" or _read(fh, child_start, 16, "uuid box") != _CANON_CR3_UUID:
                continue
            for block, block_start, block_stop in _boxes(fh, child_start + 16, child_stop,
                                                         found.problems):
                if block in roles:
                    found.decode(_read_box(fh, (block_start, block_stop)), *roles[block])


_READERS = {
    "JPEG": _read_jpeg, "PNG": _read_png, "WEBP": _read_webp, "RAF": _read_raf,
    "HEIC": _read_heif, "HEIF": _read_heif, "AVIF": _read_heif, "CR3": _read_cr3,
    "GIF": lambda fh, found: None,
    **dict.fromkeys(("TIFF", "DNG", "CR2", "NEF", "ARW", "ORF", "RW2", "PEF", "SRW"), _read_tiff),
}


# --- decoding a TIFF block with exifread ----------------------------------------------------


def _decode_tiff(fh: BinaryIO, found: _Found, ifd_name: str = "Image",
                 tag_dict: dict | None = None) -> dict:
    """exifread's tags of the TIFF block in `fh`: its first IFD named `ifd_name` and, from IFD0,
    the Exif and GPS IFDs. Tags read before a failure are kept; the failure becomes one of
    `found`'s problems (a warning when it costs only the GPS IFD)."""
    problems = found.problems
    fh.seek(0)
    header = fh.read(8)
    if header[:2] not in (b"II", b"MM") or len(header) < 8:
        problems.append("Exif block without a TIFF header")
        return {}
    decoder = ExifHeader(fh, chr(header[0]), 0, 0, strict=False, detailed=False)
    first_ifd = struct.unpack("<I" if header[:1] == b"I" else ">I", header[4:8])[0]
    with _exifread_warnings(found):
        try:
            decoder.dump_ifd(first_ifd, ifd_name, tag_dict=tag_dict)
            exif_ifd = decoder.tags.get("Image ExifOffset")
            if exif_ifd and exif_ifd.values:
                decoder.dump_ifd(exif_ifd.values[0], "EXIF")
        except RecursionError:
            problems.append("EXIF: IFDs point at each other in a loop")
        except Exception:  # exifread indexes and unpacks the damaged values it was given
            problems.append("EXIF: an entry that cannot be decoded ends the reading of its IFD "
                            "(the tags after it are lost)")
    return decoder.tags


_EXIFREAD_LOG = logging.getLogger("exifread")
#: The one exifread warning that is not damage: a text value that is not UTF-8.
_NOT_DAMAGE = "Possibly corrupted field %s in %s IFD"
#: exifread's damage warnings, said in words about the file (its %-arguments fill them in).
_DAMAGE_WORDS = {
    "Unexpected slice length: %d": "a value runs past the end of the Exif block",
    "No values found for %s SubIFD": "the pointer to the %s IFD holds no value",
    "Possibly corrupted IFD: %s": "the %s IFD is damaged",
    "Possibly corrupted field %s": "the %s value is damaged",
    "MemoryError at position: %s, length: %s": "the value at offset %s claims %s bytes",
    "OverflowError at position: %s, length: %s": "the value at offset %s claims %s bytes",
    "IFD loop detected.": "IFDs point at each other in a loop",
}
#: exifread's warnings that name the IFD they cost.
_IFD_DAMAGE = ("No values found for %s SubIFD", "Possibly corrupted IFD: %s")


class _Collect(logging.Handler):
    def __init__(self, found: _Found):
        super().__init__(logging.WARNING)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _NOT_DAMAGE:
            return
        words = _DAMAGE_WORDS.get(record.msg)
        text = words % record.args if words and record.args else words or record.getMessage()
        gps_only = record.msg in _IFD_DAMAGE and record.args == ("GPS",)
        (self.found.warnings if gps_only else self.found.problems).append(f"EXIF: {text}")


@contextmanager
def _exifread_warnings(found: _Found):
    """Turn exifread's damage warnings into problems (warnings, when they cost only the GPS
    IFD) instead of stderr lines."""
    handler = _Collect(found)
    _EXIFREAD_LOG.addHandler(handler)
    propagate, _EXIFREAD_LOG.propagate = _EXIFREAD_LOG.propagate, False
    try:
        yield
    finally:
        _EXIFREAD_LOG.removeHandler(handler)
        _EXIFREAD_LOG.propagate = propagate


# --- values ---------------------------------------------------------------------------------


def _first_text(tags: dict, keys: tuple, warnings: list[str]) -> str | None:
    """The first of `keys` that holds text; a tag stored as numbers is passed over, with a
    warning naming it."""
    for key in keys:
        tag = tags.get(key)
        if tag is not None and tag.field_type not in _TEXT_FIELD_TYPES:
            stored_as = FIELD_DEFINITIONS[tag.field_type][1].split(" (")[0]
            warnings.append(f"{key.split(' ', 1)[-1]} is not text (stored as {stored_as}: "
                            f"{_quote(tag)})")
            continue
        text = _text(tag)
        if text is not None:
            return text
    return None


def _text(tag) -> str | None:
    """A tag's raw string up to its first NUL, trimmed; None when absent or blank."""
    if tag is None:
        return None
    values = tag.values
    if isinstance(values, list):  # an ASCII value stored as BYTE/UNDEFINED
        values = bytes(v for v in values if isinstance(v, int) and 0 <= v < 256)
    if isinstance(values, bytes):
        values = values.split(b"\x00", 1)[0].decode("utf-8", errors="replace")
    text = str(values).split("\x00", 1)[0].strip(" \x00")
    return text if text.strip(" :") else None


def _rational(value) -> Fraction | None:
    """A rational as a Fraction; None for 0/0, which writers leave as "no value"; ValueError
    for n/0 or a value that is no number at all."""
    numerator = getattr(value, "numerator", value)
    denominator = getattr(value, "denominator", 1)
    if not isinstance(numerator, int) or not isinstance(denominator, int):
        raise ValueError(value)
    if denominator == 0:
        if numerator:
            raise ValueError(value)
        return None
    return Fraction(numerator, denominator)


def _sexagesimal(tag) -> Fraction | None:
    """Degrees (or hours), minutes, seconds as one number of the first unit.

    None when the first part is 0/0 (a placeholder for "no fix", as ExifTool reads it); a later
    0/0 counts as 0, as when a camera puts decimal minutes in the second part and 0/0 in the third.
    """
    values = tag.values if isinstance(tag.values, list) else []
    if not values:
        raise ValueError(tag.values)
    parts = [_rational(v) for v in values[:3]]
    if parts[0] is None:
        return None
    return sum((part or 0) / 60 ** i for i, part in enumerate(parts))


def _quote(tag) -> str:
    """A bad value, shortened, for a message."""
    return str(tag)[:_QUOTE_CHARS] if tag.values not in ("", b"", []) else "no value"


def _gps_degrees(tags: dict, axis: str, limit: int, warnings: list[str]) -> float | None:
    tag = tags.get(f"GPS GPS{axis}")
    if tag is None:
        return None
    try:
        degrees = _sexagesimal(tag)
    except ValueError:
        warnings.append(f"GPS{axis} unreadable ({_quote(tag)})")
        return None
    if degrees is None:
        return None
    ref = _first_text(tags, (f"GPS GPS{axis}Ref",), warnings) or ""
    value = float(-degrees if ref[:1].upper() in ("S", "W") else degrees)
    if abs(value) > limit:
        warnings.append(f"GPS{axis} out of range ({value:g} degrees)")
        return None
    return value


def _gps_time(tag, warnings: list[str]) -> str | None:
    """HH:MM:SS from three rationals, plus .fff (milliseconds, truncated) when fractional."""
    if tag is None:
        return None
    try:
        hours = _sexagesimal(tag)
    except ValueError:
        warnings.append(f"GPSTimeStamp unreadable ({_quote(tag)})")
        return None
    if hours is None:
        return None
    if not 0 <= hours < 24:
        warnings.append(f"GPSTimeStamp out of range ({_quote(tag)})")
        return None
    milliseconds = math.floor(hours * 3_600_000)
    seconds, fraction = divmod(milliseconds, 1000)
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{text}.{fraction:03d}" if fraction else text


_XMP_PATTERNS = [
    re.compile(rb"%s\s*=\s*[\"']([^\"'<>]*)[\"']|<%s>([^<]*)<" % (name.encode(), name.encode()))
    for name in _XMP_DATE_PROPERTIES
]


def _xmp_date(packet: bytes) -> str | None:
    """The first capture-date property the XMP packet holds, raw (ISO 8601 as written)."""
    for pattern in _XMP_PATTERNS:
        match = pattern.search(packet)
        if match:
            value = (match.group(1) or match.group(2) or b"").decode("utf-8", "replace").strip()
            if value:
                return value
    return None


# --- bounded reading primitives -------------------------------------------------------------


def _read(fh: BinaryIO, offset: int, size: int, what: str) -> bytes:
    """Exactly `size` bytes at `offset`, or _Corrupt saying `what` was cut short or too large."""
    if size < 0 or offset < 0:
        raise _Corrupt(f"{what}: negative offset or size")
    if size > MAX_BLOCK_BYTES:
        raise _Corrupt(f"{what} of {size} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit")
    fh.seek(offset)
    data = fh.read(size)
    if len(data) < size:
        raise _Corrupt(f"{what} truncated at offset {offset + len(data)}")
    return data


def _read_box(fh: BinaryIO, span: tuple[int, int]) -> bytes:
    return _read(fh, span[0], span[1] - span[0], "box")


def _file_end(fh: BinaryIO) -> int:
    return fh.seek(0, 2)


def _boxes(fh: BinaryIO, start: int, end: int, problems: list[str]) -> Iterator[tuple]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in [start, end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", _read(fh, pos, 8, "box header"))
        header = 8
        if size == 1:
            size, header = int.from_bytes(_read(fh, pos + 8, 8, "box size"), "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            problems.append(f"{_name(kind)} box at offset {pos} runs past its container")
            return
        yield kind, pos + header, pos + size
        pos += size


def _ifd0_entries(fh: BinaryIO) -> dict:
    """tag -> 12-byte entry of a classic TIFF's IFD0."""
    header = _read(fh, 0, 8, "TIFF header")
    order = "<" if header[:1] == b"I" else ">"
    offset = struct.unpack(order + "I", header[4:8])[0]
    count = struct.unpack(order + "H", _read(fh, offset, 2, "IFD0"))[0]
    table = _read(fh, offset + 2, 12 * count, "IFD0 entries")
    return {struct.unpack(order + "H", table[i:i + 2])[0]: table[i:i + 12]
            for i in range(0, len(table), 12)}


def _entry_bytes(fh: BinaryIO, entry: bytes | None, byte_order: bytes) -> bytes | None:
    """The bytes of an ASCII/BYTE/UNDEFINED IFD entry (inline or at its offset)."""
    if entry is None:
        return None
    order = "<" if byte_order == b"I" else ">"
    count, where = struct.unpack(order + "I4s", entry[4:12])
    if count <= 4:
        return where[:count]
    return _read(fh, struct.unpack(order + "I", where)[0], count, "IFD value")


def _strip_exif_header(block: bytes) -> bytes:
    return block[6:] if block.startswith(b"Exif\x00") else block


def _name(kind: bytes) -> str:
    """A box or chunk type as written when it is printable ASCII, else as hex."""
    text = kind.decode("latin-1").strip()
    return text if kind.isascii() and text.isprintable() and text else f"0x{kind.hex()}"


class _Cursor:
    """Reads fixed fields off a bytes buffer, raising _Corrupt past its end."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos:self.pos + size]
        if len(chunk) < size:
            raise _Corrupt("HEIF: item table truncated")
        self.pos += size
        return chunk

    def uint(self, size: int) -> int:
        if size not in (0, 2, 4, 8):
            raise _Corrupt(f"HEIF: item table gives a field {size} bytes wide (0, 2, 4 or 8 "
                           "are defined)")
        return int.from_bytes(self.take(size), "big")

    def cstring(self) -> bytes:
        end = self.data.find(b"\x00", self.pos)
        end = len(self.data) if end < 0 else end
        text, self.pos = self.data[self.pos:end], end + 1
        return text


class _CappedReads:
    """A file view whose reads return at most MAX_VALUE_BYTES, so a fuzzed count stays small."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh

    def read(self, size: int = -1) -> bytes:
        return self.fh.read(MAX_VALUE_BYTES if size < 0 else min(size, MAX_VALUE_BYTES))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()
