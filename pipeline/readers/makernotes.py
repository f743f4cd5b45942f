"""The camera's zone setting and serial number, from the maker note: Canon TimeInfo and Nikon
WorldTime; Canon, Nikon, Olympus and Panasonic serial numbers.

exifread leaves maker notes aside (and decodes neither record), so they are read here, bounded
and per record: a record that is malformed or out of range costs that record (a warning), never
the file. Values are stored as the camera wrote them, as ExifTool reads them with -n; what they
mean (Canon's TimeZone includes summer time, Nikon's does not; Canon's city 0 "n/a" and 32766
"(not set)") is resolve's business.

- Canon: the maker note is a plain IFD whose offsets count from the TIFF header of the block
  holding it (a CR3 keeps it as its own TIFF block, CMT3). Tag 0x0035 TimeInfo is four int32s:
  its size in bytes (16), TimeZone (minutes), TimeZoneCity (a code), DaylightSavings (0 or 60).
- Nikon: a type-3 maker note, "Nikon\\0", two version bytes, two spare, then its own TIFF header
  that its offsets count from. Tag 0x0024 WorldTime is four bytes: TimeZone (int16 minutes),
  DaylightSavings (0 or 1), DateDisplayFormat. Older Nikon maker note types have no WorldTime.

Pentax, Panasonic, Olympus and Casio keep home and destination cities, not offsets: not read.

The serial (the `serial` column where EXIF has no BodySerialNumber), as `exiftool -n` reads it:
- Canon: 0x000C SerialNumber (an int32, as its decimal digits), else 0x0096
  InternalSerialNumber (text, trailing 0xFF bytes dropped, as ExifTool does).
- Nikon (type 3): 0x001D SerialNumber, else 0x00A0 SerialNumber without its "NO=" prefix (what
  is left is what newer Nikons write as EXIF BodySerialNumber).
- Olympus ("OLYMP\\0", offsets from the TIFF header; "OLYMPUS\\0II" and "OM SYSTEM", offsets from
  the note's start): 0x101A SerialNumber, else the Equipment IFD's (0x2010) 0x0101.
- Panasonic ("Panasonic\\0\\0\\0", offsets from the TIFF header): 0x0025 InternalSerialNumber, the
  only serial it writes.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

from .bounded import TIFF_MAGIC, TYPE_SIZES, Corrupt, byte_order, entry_value, ifd_entries, read_at

_MAKER_NOTE, _CANON_TIME_INFO, _NIKON_WORLD_TIME = 0x927C, 0x0035, 0x0024
#: Where each maker note keeps its serial number, in order of preference.
_CANON_SERIALS, _NIKON_SERIALS = (0x000C, 0x0096), (0x001D, 0x00A0)
_OLYMPUS_SERIALS, _OLYMPUS_EQUIPMENT, _EQUIPMENT_SERIALS = (0x101A,), 0x2010, (0x0101,)
_PANASONIC_SERIALS = (0x0025,)
_NIKON_HEADER = b"Nikon\x00"
_PANASONIC_HEADER = b"Panasonic\x00\x00\x00"
#: Olympus header -> where its IFD starts, where its own byte order is written (None: it has
#: the block's), and whether its offsets count from the note's start (else the block's).
_OLYMPUS_HEADERS = {b"OLYMP\x00": (8, None, False), b"OLYMPUS\x00": (12, 8, True),
                    b"OM SYSTEM\x00": (16, 12, True)}
#: Most entries a maker note IFD of unknown length is taken to hold (Canon's have 20 to 60).
_MAX_ENTRIES = 512
#: Longest serial number value read (Olympus writes 32 bytes).
_SERIAL_BYTES = 64
#: struct formats of the integer field types a serial number may be stored as.
_INTEGERS = {3: "H", 4: "I", 8: "h", 9: "i"}
_ASCII = 2
#: Largest zone setting in minutes either way (UTC-12:00 .. UTC+14:00).
_WEST_MINUTES, _EAST_MINUTES = -12 * 60, 14 * 60


def maker_note_fields(fh: BinaryIO, tags: dict, warnings: list[str]) -> dict:
    """The makernote_* columns of the TIFF block in `fh` (whose exifread `tags` locate its Exif
    IFD), and `serial` where the maker note holds one; {} when it holds neither. Damage
    becomes a warning."""
    exif = tags.get("Image ExifOffset")
    if exif is None or not exif.values or not isinstance(exif.values[0], int):
        return {}
    try:
        order = byte_order(read_at(fh, 0, 2, "TIFF header"))
        note = ifd_entries(fh, exif.values[0], order, "Exif IFD").get(_MAKER_NOTE)
        if note is None:
            return {}
        count, where = struct.unpack(order + "I4s", note[4:])
        if count <= 4:
            return {}
        start = struct.unpack(order + "I", where)[0]
        head = read_at(fh, start, min(count, 16), "maker note")
        if head.startswith(_NIKON_HEADER):
            return _nikon(fh, start + 10, warnings)
        for magic, layout in _OLYMPUS_HEADERS.items():
            if head.startswith(magic):
                return _olympus(fh, start, order, layout, warnings)
        if head.startswith(_PANASONIC_HEADER):
            return _serial_only("Panasonic", warnings, lambda: serial_number(
                fh, ifd_entries(fh, start + 12, order, "Panasonic maker note"),
                _PANASONIC_SERIALS, order))
        make = tags.get("Image Make")
        if make is not None and str(make.values).strip().upper().startswith("CANON"):
            return canon_fields(fh, start, order, warnings, length=count)
    except (Corrupt, struct.error) as exc:
        warnings.append(f"maker note unreadable ({exc})")
    return {}


def serial_number(fh: BinaryIO, entries: dict, tags: tuple, order: str, base: int = 0
                  ) -> str | None:
    """The first of `tags` among an IFD's `entries` that holds a serial number, as ExifTool
    reads it: text (ASCII up to its first NUL, bytes without their NULs; trailing 0xFF bytes
    and spaces dropped), or an integer's decimal digits; None when none does. Corrupt for a
    value too long to be one."""
    for tag in tags:
        entry = entries.get(tag)
        if entry is None:
            continue
        kind, count = struct.unpack(order + "HI", entry[2:8])
        if TYPE_SIZES.get(kind, 0) * count > _SERIAL_BYTES:
            raise Corrupt(f"tag 0x{tag:04x} holds {count} values, too many for a serial number")
        value = entry_value(fh, entry, order, base)
        if kind in _INTEGERS:
            text = str(struct.unpack(order + _INTEGERS[kind], value[:TYPE_SIZES[kind]])[0])
        else:
            text = value.split(b"\x00", 1)[0] if kind == _ASCII else value.replace(b"\x00", b"")
            text = text.rstrip(b"\xff").decode("utf-8", "replace").strip()
        if text:
            return text
    return None


def _serial_only(maker: str, warnings: list[str], read) -> dict:
    """{"serial": read()}, {} when it finds none, and a warning naming `maker` when the note
    is damaged there."""
    try:
        serial = read()
    except (Corrupt, struct.error) as exc:
        warnings.append(f"{maker} SerialNumber unreadable ({exc})")
        return {}
    return {"serial": serial} if serial else {}


def _olympus(fh: BinaryIO, start: int, order: str, layout: tuple, warnings: list[str]) -> dict:
    """The serial number of an Olympus (or OM System) maker note at `start`: SerialNumber, else
    the Equipment IFD's."""
    at, order_at, own_base = layout
    base = start if own_base else 0

    def read() -> str | None:
        note_order = order if order_at is None else byte_order(
            read_at(fh, start + order_at, 2, "Olympus maker note"))
        entries = ifd_entries(fh, start + at, note_order, "Olympus maker note")
        serial = serial_number(fh, entries, _OLYMPUS_SERIALS, note_order, base)
        equipment = entries.get(_OLYMPUS_EQUIPMENT)
        if serial is None and equipment is not None:
            where = base + struct.unpack(note_order + "I", equipment[8:])[0]
            serial = serial_number(fh, ifd_entries(fh, where, note_order, "Olympus Equipment IFD"),
                                   _EQUIPMENT_SERIALS, note_order, base)
        return serial

    return _serial_only("Olympus", warnings, read)


def canon_fields(fh: BinaryIO, ifd: int, order: str, warnings: list[str],
                 length: int | None = None) -> dict:
    """Canon TimeInfo and serial number of the maker note IFD at `ifd` (offsets from the
    block's start; a note of `length` bytes may say it was moved, see _canon_shift)."""
    try:
        room = (length - 2) // 12 if length else _MAX_ENTRIES
        order = _plausible_order(read_at(fh, ifd, 2, "Canon maker note"), order, room)
        entries = ifd_entries(fh, ifd, order, "Canon maker note")
        shift = _canon_shift(fh, ifd, length, entries, order) if length else 0
    except (Corrupt, struct.error) as exc:
        warnings.append(f"Canon maker note unreadable ({exc})")
        return {}
    serial = _serial_only("Canon", warnings, lambda: serial_number(
        fh, entries, _CANON_SERIALS, order, shift))
    record = _record(fh, entries.get(_CANON_TIME_INFO), order, shift, "Canon TimeInfo", warnings)
    return {**_canon_zone(record, order, warnings), **serial}


def _record(fh: BinaryIO, entry: bytes | None, order: str, base: int, name: str,
            warnings: list[str]) -> bytes | None:
    """The value of a maker note's `entry`; None when it has none, or when it cannot be read
    (then a warning naming the record, `name`)."""
    if entry is None:
        return None
    try:
        return entry_value(fh, entry, order, base)
    except (Corrupt, struct.error) as exc:
        warnings.append(f"{name} unreadable ({exc})")
        return None


def _canon_zone(record: bytes | None, order: str, warnings: list[str]) -> dict:
    """The makernote_* columns of a Canon TimeInfo record; {} when there is none."""
    if record is None:
        return {}
    if len(record) < 16 or struct.unpack(order + "i", record[:4])[0] != len(record):
        warnings.append(f"Canon TimeInfo malformed ({record[:16].hex(' ')})")
        return {}
    _, minutes, city, dst = struct.unpack(order + "4i", record[:16])
    if not _WEST_MINUTES <= minutes <= _EAST_MINUTES:
        warnings.append(f"Canon TimeZone out of range ({minutes} minutes)")
        return {}
    return {"makernote_group": "Canon", "makernote_timezone_minutes": minutes,
            "makernote_dst": dst != 0, "makernote_city": city}


def _plausible_order(count: bytes, order: str, room: int) -> str:
    """The byte order of a maker note IFD whose entry count is `count` and that has room for
    `room` entries: the block's, unless the count only fits the other way round (editors that
    rewrite a TIFF block big-endian leave Canon's little-endian note as it was)."""
    other = ">" if order == "<" else "<"
    if not 0 < struct.unpack(order + "H", count)[0] <= room \
            and 0 < struct.unpack(other + "H", count)[0] <= room:
        return other
    return order


def _canon_shift(fh: BinaryIO, start: int, length: int, entries: dict, order: str) -> int:
    """What to add to the offsets of a Canon maker note that an editor moved without rewriting
    them. Canon ends its note with a footer, the TIFF magic and the note's original offset; the
    shift is where the note is now less that, unless the values already end at the footer (then
    the footer is stale). ExifTool's rule (MakerNotes.pm, FixBase)."""
    if length < 8:
        return 0
    footer = read_at(fh, start + length - 8, 8, "Canon maker note footer")
    if footer[:4] not in TIFF_MAGIC or byte_order(footer) != order:
        return 0
    shift = start - struct.unpack(order + "I", footer[4:])[0]
    ends = [offset + size for offset, size in _value_spans(entries.values(), order)]
    if not shift or not ends or start + length - 8 - max(ends) in (0, 1):
        return 0
    return shift


def _value_spans(entries, order: str):
    """(offset, size) of each entry whose value lies outside the IFD."""
    for entry in entries:
        kind, count, offset = struct.unpack(order + "HII", entry[2:])
        size = TYPE_SIZES.get(kind, 0) * count
        if size > 4:
            yield offset, size


def canon_cmt3_fields(block: BinaryIO, warnings: list[str]) -> dict:
    """Canon TimeInfo and serial number of a CR3's CMT3 box: the maker note as a TIFF block
    of its own."""
    try:
        header = read_at(block, 0, 8, "CR3 CMT3")
    except Corrupt as exc:
        warnings.append(f"Canon maker note unreadable ({exc})")
        return {}
    if header[:4] not in TIFF_MAGIC:
        warnings.append("Canon maker note (CMT3) without a TIFF header")
        return {}
    order = byte_order(header)
    return canon_fields(block, struct.unpack(order + "I", header[4:])[0], order, warnings)


def _nikon(fh: BinaryIO, base: int, warnings: list[str]) -> dict:
    """Nikon WorldTime and serial number of a type-3 maker note whose TIFF header is at
    `base`."""
    try:
        header = read_at(fh, base, 8, "Nikon maker note header")
        if header[:4] not in TIFF_MAGIC:
            return {}  # a type-1 note ("Nikon\0\1\0" and an IFD): no WorldTime, no serial
        order = byte_order(header)
        first = struct.unpack(order + "I", header[4:])[0]
        entries = ifd_entries(fh, base + first, order, "Nikon maker note")
    except (Corrupt, struct.error) as exc:
        warnings.append(f"Nikon maker note unreadable ({exc})")
        return {}
    serial = _serial_only("Nikon", warnings, lambda: (serial_number(
        fh, entries, _NIKON_SERIALS, order, base) or "").removeprefix("NO=").strip() or None)
    record = _record(fh, entries.get(_NIKON_WORLD_TIME), order, base, "Nikon WorldTime", warnings)
    return {**_nikon_zone(record, order, warnings), **serial}


def _nikon_zone(record: bytes | None, order: str, warnings: list[str]) -> dict:
    """The makernote_* columns of a Nikon WorldTime record; {} when there is none."""
    if record is None:
        return {}
    if len(record) < 3:
        warnings.append(f"Nikon WorldTime malformed ({record.hex(' ') or 'empty'})")
        return {}
    minutes, dst = struct.unpack(order + "hB", record[:3])
    if not _WEST_MINUTES <= minutes <= _EAST_MINUTES:
        warnings.append(f"Nikon TimeZone out of range ({minutes} minutes)")
        return {}
    return {"makernote_group": "Nikon", "makernote_timezone_minutes": minutes,
            "makernote_dst": dst != 0}
