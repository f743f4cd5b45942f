"""The TIFF block (IFD0, the Exif IFD, the GPS IFD) decoded with exifread, and its values.

exifread's ExifHeader is driven directly (as its process_file does) so a decode that fails half
way keeps the tags read before the failure, and so a lone IFD (CR3's CMT2/CMT4) can be decoded.
Its damage warnings become the file's problems (a warning when they cost only the GPS IFD).
"""
from __future__ import annotations

import logging
import math
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from io import BytesIO
from typing import BinaryIO

from exifread.core.exif_header import ExifHeader
from exifread.tags.fields import FIELD_DEFINITIONS, FieldType

from .fastifd import Unusual, fast_tags
from .makernotes import maker_note_fields


#: Field types a text tag may be stored as (ASCII, or its bytes as BYTE/UNDEFINED).
_TEXT_FIELD_TYPES = (FieldType.ASCII, FieldType.BYTE, FieldType.UNDEFINED)
#: Longest text kept from a bad value quoted in a message.
_QUOTE_CHARS = 40


@dataclass
class Found:
    """What a container reader has found so far; kept when it stops at damage further on."""
    tags: dict = field(default_factory=dict)  # exifread's, keyed "Image Make", "GPS GPSDate", ...
    xmp: bytes | None = None
    maker_note: dict = field(default_factory=dict)  # its makernote_* columns, and `serial`
    problems: list[str] = field(default_factory=list)  # what cost the file: `error`
    warnings: list[str] = field(default_factory=list)  # what cost one tag: `warnings`

    def decode(self, block: bytes | BinaryIO, ifd_name: str = "Image", tag_dict=None,
               head: bytes | None = None) -> None:
        """Add the tags of a TIFF block, and the zone and serial its maker note holds.

        A block in memory (or a file whose first bytes are `head`) is decoded by `fastifd`,
        and by exifread when that finds anything unusual, so exifread says what is wrong."""
        source = BytesIO(block) if isinstance(block, bytes) else block
        try:
            tags = fast_tags(block if isinstance(block, bytes) else head, ifd_name, tag_dict)
        except (Unusual, TypeError, struct.error):  # TypeError: a file without a head
            tags = decode_tiff(source, self, ifd_name, tag_dict)
        self.tags.update(tags)
        if not self.maker_note:
            self.maker_note = maker_note_fields(source, tags, self.warnings)

    def absorb(self, other: Found) -> None:
        """Take what another attempt found (its tags and maker note replace these)."""
        self.tags, self.maker_note = other.tags, other.maker_note
        self.problems += other.problems
        self.warnings += other.warnings


def decode_tiff(fh: BinaryIO, found: Found, ifd_name: str = "Image",
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
    decoder = _TagByTag(fh, chr(header[0]), 0, 0, strict=False, detailed=False)
    decoder.warnings = found.warnings
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


class _TagByTag(ExifHeader):
    """exifread's decoder, but an entry that cannot be decoded costs that tag (a warning), not
    the rest of its IFD."""

    warnings: list[str]

    def _process_tag(self, ifd, ifd_name, tag_entry, entry, tag, tag_name, *args) -> None:
        try:
            super()._process_tag(ifd, ifd_name, tag_entry, entry, tag, tag_name, *args)
        except RecursionError:
            raise
        except Exception:  # exifread indexes and unpacks the damaged values it was given
            self.warnings.append(f"EXIF: the {tag_name} entry of the {ifd_name} IFD cannot be "
                                 "decoded")


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
    def __init__(self, found: Found):
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
def _exifread_warnings(found: Found):
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


def first_text(tags: dict, keys: tuple, warnings: list[str]) -> str | None:
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


def _sexagesimal(tag, name: str, warnings: list[str]) -> Fraction | None:
    """Degrees (or hours), minutes, seconds as one number of the first unit.

    None when the tag is absent, or its first part is 0/0 (a placeholder for "no fix", as
    ExifTool reads it); a later 0/0 counts as 0, as when a camera puts decimal minutes in the
    second part and 0/0 in the third. A value that is no such number: None, and a warning
    naming the tag `name`.
    """
    if tag is None:
        return None
    try:
        parts = [_rational(v) for v in tag.values[:3]] if isinstance(tag.values, list) else []
    except ValueError:
        parts = []
    if not parts:
        warnings.append(f"{name} unreadable ({_quote(tag)})")
        return None
    if parts[0] is None:
        return None
    return sum((part or 0) / 60 ** i for i, part in enumerate(parts))


def _quote(tag) -> str:
    """A bad value, shortened, for a message."""
    return str(tag)[:_QUOTE_CHARS] if tag.values not in ("", b"", []) else "no value"


def gps_degrees(tags: dict, axis: str, limit: int, warnings: list[str]) -> float | None:
    """GPS `axis` (Latitude, Longitude) as signed decimal degrees; beyond `limit`: None and a
    warning."""
    degrees = _sexagesimal(tags.get(f"GPS GPS{axis}"), f"GPS{axis}", warnings)
    if degrees is None:
        return None
    ref = first_text(tags, (f"GPS GPS{axis}Ref",), warnings) or ""
    value = float(-degrees if ref[:1].upper() in ("S", "W") else degrees)
    if abs(value) > limit:
        warnings.append(f"GPS{axis} out of range ({value:g} degrees)")
        return None
    return value


def timezone_offset(tags: dict, warnings: list[str]) -> int | None:
    """EXIF TimeZoneOffset's first value (DateTimeOriginal's offset in hours), from the Exif IFD
    or else IFD0 (where TIFF/EP puts it); out of -12..+14 or not a number: None, with a warning."""
    tag = tags.get("EXIF TimeZoneOffset") or tags.get("Image TimeZoneOffset")
    if tag is None:
        return None
    hours = tag.values[0] if isinstance(tag.values, list) and tag.values else None
    if not isinstance(hours, int) or not -12 <= hours <= 14:
        warnings.append(f"TimeZoneOffset out of range ({_quote(tag)})")
        return None
    return hours


def gps_time(tag, warnings: list[str]) -> str | None:
    """HH:MM:SS from three rationals, plus .fff (milliseconds, truncated) when fractional."""
    hours = _sexagesimal(tag, "GPSTimeStamp", warnings)
    if hours is None:
        return None
    if not 0 <= hours < 24:
        warnings.append(f"GPSTimeStamp out of range ({_quote(tag)})")
        return None
    milliseconds = math.floor(hours * 3_600_000)
    seconds, fraction = divmod(milliseconds, 1000)
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{text}.{fraction:03d}" if fraction else text
