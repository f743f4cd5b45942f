"""exifread's tags of a TIFF block in memory, decoded with struct.unpack_from instead of a seek
and a read per number: the same keys, field types, values and printable text exifread gives,
for a block in which exifread would meet nothing unusual.

exifread decodes every entry of IFD0, the Exif IFD, the GPS and Interoperability IFDs through
some five file calls each; here an IFD's entries are unpacked at once and each tag's values
only when something asks for them (a row needs about a dozen of some fifty). Whatever exifread
would have to warn about or might fail on (an IFD or a value outside the block, a sub-IFD
pointer that is no number) raises `Unusual`, and the caller decodes the block with exifread,
so damage is reported exactly as before.
"""
from __future__ import annotations

import struct

from exifread.tags import DEFAULT_STOP_TAG, IGNORE_TAGS
from exifread.tags.exif import EXIF_TAGS
from exifread.tags.fields import FieldType
from exifread.tags.makernote.canon import CAMERA_INFO_TAG_NAME
from exifread.utils import Ratio

_IGNORED = frozenset(IGNORE_TAGS)
#: Field type -> (bytes a value, struct code; None for ASCII, "r" for a ratio of two codes).
_FIELDS = {
    FieldType.BYTE: (1, "B"), FieldType.ASCII: (1, None), FieldType.SHORT: (2, "H"),
    FieldType.LONG: (4, "I"), FieldType.RATIO: (8, "I"), FieldType.SIGNED_BYTE: (1, "b"),
    FieldType.UNDEFINED: (1, "B"), FieldType.SIGNED_SHORT: (2, "h"),
    FieldType.SIGNED_LONG: (4, "i"), FieldType.SIGNED_RATIO: (8, "i"),
    FieldType.FLOAT_32: (4, "f"), FieldType.FLOAT_64: (8, "d"), FieldType.IFD: (4, "I"),
}
_TYPES = {int(kind): kind for kind in _FIELDS}
_RATIOS = (FieldType.RATIO, FieldType.SIGNED_RATIO)
_FLOATS = (FieldType.FLOAT_32, FieldType.FLOAT_64)
#: exifread reads no values of a field with this many or more (but for these tag names); an
#: IFD of this many entries is no camera's, and is left to exifread (and extract's time limit).
_MANY = 1000
_LONG_ALLOWED = ("MakerNote", CAMERA_INFO_TAG_NAME)


class Unusual(Exception):
    """Something in the block that exifread would warn about or stumble on: decode it there."""


class Tag:
    """An exifread IfdTag whose values and printable text are decoded on first use."""

    __slots__ = ("tag", "field_type", "field_offset", "field_length", "_block", "_order",
                 "_count", "_entry", "_values", "_printable")

    def __init__(self, block, order: str, tag: int, field_type: FieldType, count: int,
                 offset: int, tag_entry):
        self.tag, self.field_type, self.field_offset = tag, field_type, offset
        self.field_length = count * _FIELDS[field_type][0]
        self._block, self._order, self._count, self._entry = block, order, count, tag_entry
        self._values = self._printable = None

    @property
    def values(self):
        if self._values is None:
            self._values = _values(self._block, self._order, self.field_type, self._count,
                                   self.field_offset)
        return self._values

    @property
    def printable(self) -> str:
        """As exifread's _get_printable_for_field makes it (sub-IFDs are dumped elsewhere)."""
        if self._printable is None:
            values, count, entry = self.values, self._count, self._entry
            if count == 1 and self.field_type != FieldType.ASCII:
                text = str(values[0])
            elif count > 50 and len(values) > 20 and not isinstance(values, str):
                text = str(values[0:20])[0:-1] + ", ... ]"
            else:
                text = str(values)
            if entry and entry[1] is not None:
                if callable(entry[1]):
                    text = entry[1](values)
                elif not isinstance(entry[1], tuple):
                    text = "".join(entry[1].get(value, repr(value)) for value in values)
            self._printable = text
        return self._printable

    def __str__(self) -> str:
        return self.printable


def _values(block, order: str, field_type: FieldType, count: int, offset: int):
    """A field's values as exifread's _process_field / _process_ascii_field give them."""
    size, code = _FIELDS[field_type]
    if code is None:  # ASCII: up to the first NUL, text when it is UTF-8
        if count == 0:
            return ""
        raw = bytes(block[offset:offset + count]).split(b"\x00", 1)[0]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    if count >= _MANY:
        return []
    if field_type in _RATIOS:
        numbers = struct.unpack_from(f"{order}{2 * count}{code}", block, offset)
        return [Ratio(numbers[i], numbers[i + 1]) for i in range(0, 2 * count, 2)]
    numbers = struct.unpack_from(f"{order}{count}{code}", block, offset)
    if field_type in _FLOATS:
        return [(number,) for number in numbers]
    return list(numbers)


def fast_tags(block, ifd_name: str = "Image", tag_dict: dict | None = None) -> dict:
    """exifread's tags of the TIFF block `block` (bytes or a memoryview), as ifd.decode_tiff
    gets them: its first IFD named `ifd_name` (its sub-IFDs with it) and, from IFD0, the Exif
    IFD. Unusual when exifread would have anything to say about the block."""
    if len(block) < 8 or block[:2] not in (b"II", b"MM"):
        raise Unusual("no TIFF header")
    order = "<" if block[:1] == b"I" else ">"
    tags: dict = {}
    _dump(block, order, struct.unpack_from(order + "I", block, 4)[0], ifd_name,
          tag_dict or EXIF_TAGS, tags)
    exif = tags.get("Image ExifOffset")
    if exif and exif.values:
        _dump(block, order, exif.values[0], "EXIF", EXIF_TAGS, tags)
    return tags


def _dump(block, order: str, ifd, ifd_name: str, tag_dict: dict, tags: dict) -> None:
    """exifread's dump_ifd: every entry of the IFD at `ifd` into `tags`, sub-IFDs first."""
    if not isinstance(ifd, int) or ifd < 0 or ifd + 2 > len(block):
        raise Unusual("an IFD outside the block")
    entries = struct.unpack_from(order + "H", block, ifd)[0]
    if ifd + 2 + 12 * entries > len(block) or entries >= _MANY:
        raise Unusual("an IFD running past the block, or of more entries than cameras write")
    fields = iter(struct.unpack_from(order + "HHI4s" * entries, block, ifd + 2))
    pointer, end = order + "I", len(block)
    for index, (tag, type_id, count, inline) in enumerate(zip(fields, fields, fields, fields)):
        tag_entry = tag_dict.get(tag)
        tag_name = tag_entry[0] if tag_entry else f"Tag 0x{tag:04X}"
        field_type = _TYPES.get(type_id)
        if tag not in _IGNORED and field_type is not None:
            offset = ifd + 10 + 12 * index  # the entry's value field
            if count * _FIELDS[field_type][0] > 4:
                offset = struct.unpack(pointer, inline)[0]
                if count >= _MANY and field_type != FieldType.ASCII:
                    if tag_name in _LONG_ALLOWED:
                        raise Unusual("a long maker-note field")
                elif offset + count * _FIELDS[field_type][0] > end:
                    raise Unusual("a value outside the block")
            found = Tag(block, order, tag, field_type, count, offset, tag_entry)
            if tag_entry and isinstance(tag_entry[1], tuple):  # a sub-IFD, as exifread does
                _sub_ifd(block, order, found, tag_entry[1], tags)
            tags[f"{ifd_name} {tag_name}"] = found
        if tag_name == DEFAULT_STOP_TAG:
            break


def _sub_ifd(block, order: str, pointer: Tag, sub_ifd: tuple, tags: dict) -> None:
    values = pointer.values
    if not values or isinstance(values, (str, bytes)) or not isinstance(values[0], int):
        raise Unusual("a sub-IFD pointer that is no offset")
    _dump(block, order, values[0], sub_ifd[0], sub_ifd[1], tags)
