"""Reading one photo file's tags: capture dates, UTC offsets, GPS, camera, raw and untouched.

exifread decodes the EXIF structure (a TIFF block: IFD0, the Exif IFD, the GPS IFD; see `ifd`).
It finds that block itself in only a few containers, and not always (it looks for a JPEG's Exif
segment within the first 4 KB after JFIF, knows three HEIF brands, needs a WebP's VP8X flag, reads
no PNG text chunk), so one module a format finds the block in its container and hands it to
exifread: `jpeg`, `tiff` (the TIFF family and raws, RAF), `heif` (HEIC/HEIF/AVIF), `cr3`, `png`,
`webp`; `xmp` reads the XMP packet any of them finds. GIF carries no Exif.

The XMP packet a container holds gives the xmp_* columns (see `xmp.xmp_fields`).

`serial`, the camera body's serial number: EXIF BodySerialNumber, else DNG's CameraSerialNumber,
else the maker note's (see `makernotes`), else XMP's (exifEX:BodySerialNumber, aux:SerialNumber).

Nothing here raises on bad input, and faults are per tag: what cost one tag, IFD or block (a
GPS position or time out of range or unreadable, a text tag stored as numbers, an entry that
cannot be decoded, a damaged IFD or maker-note record, an Exif segment skipped for a later one,
a file cut short after its metadata) makes that part null and becomes a `warnings` entry, and
everything else read is kept. `error` is for a file where nothing at all could be read (not an
image, truncated before its metadata, no readable metadata block). Both say in words what is wrong with the file, with binary bytes escaped. Every read is
bounded (see `bounded`), so a fuzzed length field cannot make a reader allocate much.
"""
from __future__ import annotations

from typing import BinaryIO

from .. import READER_VERSION
from ..fluxtream import printable
from .bounded import TIFF_MAGIC, Corrupt
from .cr3 import read_cr3
from .heif import bmff_type, read_heif
from .ifd import Found, first_text, gps_degrees, gps_time, timezone_offset
from .jpeg import read_jpeg
from .png import read_png
from .tiff import read_raf, read_tiff, tiff_type
from .webp import read_webp
from .xmp import XMP_COLUMNS, xmp_fields, xmp_serial

__all__ = ["READER_VERSION", "SNIFF_BYTES", "TAG_COLUMNS", "internal_error", "read_tags",
           "sniff_type"]


#: The columns read_tags returns, in the photos table's order.
TAG_COLUMNS = (
    "make", "model", "serial", "datetime_original", "datetime_digitized", "datetime",
    "subsec_original", "subsec_digitized", "subsec",
    "offset_time_original", "offset_time_digitized", "offset_time",
    "gps_date", "gps_time", "gps_lat", "gps_lon", "timezone_offset", "makernote_group",
    "makernote_timezone_minutes", "makernote_dst", "makernote_city", *XMP_COLUMNS,
    "error", "warnings", "reader_version",
)

#: How much of a file's start sniff_type wants (TIFF raws are told apart by IFD0's entries).
SNIFF_BYTES = 64 * 1024

#: Column <- exifread key, the standard place first and the place some writers misuse second.
_TEXT_TAGS = {
    "make": ("Image Make", "EXIF Make"),
    "model": ("Image Model", "EXIF Model"),
    # EXIF BodySerialNumber (0xA431; some cameras put it in IFD0), else DNG's
    # CameraSerialNumber (0xC62F, which exifread does not name)
    "serial": ("EXIF BodySerialNumber", "Image BodySerialNumber", "Image Tag 0xC62F"),
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
        return bmff_type(head)
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "ORF"
    if head[:4] == b"IIU\x00":
        return "RW2"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "BigTIFF"
    if head[:4] in TIFF_MAGIC:
        return "CR2" if head[8:10] == b"CR" else tiff_type(head)
    return None


def read_tags(fh: BinaryIO) -> dict:
    """The TAG_COLUMNS of one seekable binary file; never raises.

    Strings are raw, trimmed of NULs and spaces, None when absent or blank; gps_time is
    HH:MM:SS[.fff]; gps_lat/gps_lon are signed decimal degrees. `error` is one line saying why
    the file could not be read fully, `warnings` the ";"-separated tags that were unusable; None
    when there is nothing to say.
    """
    found = Found()
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
    except Corrupt as exc:
        found.problems.append(str(exc))
    except OSError as exc:
        found.problems.append(f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug must cost one file's tags, not the run
        found.problems.append(internal_error(exc))
    try:
        return _columns(found)
    except Exception as exc:
        return _columns(Found(problems=[*found.problems, internal_error(exc)]))


def internal_error(exc: BaseException) -> str:
    """The message of a bug in photoflux's reading (not damage in the file): the exception as
    Python names it, so a report of it points at the code."""
    return f"internal error while reading the file ({type(exc).__name__}: {exc})"


def _columns(found: Found) -> dict:
    """The row of what was found. Its problems are the `error` only when nothing at all could be
    read; next to anything read they are `warnings`, like a bad tag's."""
    tags, warnings = found.tags, found.warnings
    row = {column: first_text(tags, keys, warnings) for column, keys in _TEXT_TAGS.items()}
    row["gps_time"] = gps_time(tags.get("GPS GPSTimeStamp"), warnings)
    row["gps_lat"] = gps_degrees(tags, "Latitude", 90, warnings)
    row["gps_lon"] = gps_degrees(tags, "Longitude", 180, warnings)
    row["timezone_offset"] = timezone_offset(tags, warnings)
    maker_note = dict(found.maker_note)
    note_serial = maker_note.pop("serial", None)
    row.update(maker_note)
    row["serial"] = row["serial"] or note_serial
    if found.xmp:
        xmp = xmp_fields(found.xmp)
        warnings.extend(xmp.pop("warnings"))
        row.update(xmp)
        row["serial"] = row["serial"] or xmp_serial(found.xmp)
    read_something = any(value is not None for value in row.values())
    row["error"] = None if read_something else message_line(found.problems, "; ")
    row["warnings"] = message_line([*found.problems, *warnings] if read_something else warnings,
                                   ";")
    row["reader_version"] = READER_VERSION
    return {column: row.get(column) for column in TAG_COLUMNS}


def message_line(messages: list[str], separator: str) -> str | None:
    """Distinct messages joined by `separator` into one printable line of at most 500
    characters; a `;` inside a message becomes `,` so the line splits back on `;`. None when
    there are none."""
    lines = (printable(" ".join(message.split()).replace(";", ",")) for message in messages)
    distinct = list(dict.fromkeys(lines))
    return separator.join(distinct)[:500] if distinct else None


_READERS = {
    "JPEG": read_jpeg, "PNG": read_png, "WEBP": read_webp, "RAF": read_raf,
    "HEIC": read_heif, "HEIF": read_heif, "AVIF": read_heif, "CR3": read_cr3,
    "GIF": lambda fh, found: None,
    **dict.fromkeys(("TIFF", "DNG", "CR2", "NEF", "ARW", "ORF", "RW2", "PEF", "SRW"), read_tiff),
}
