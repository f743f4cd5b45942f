"""Canon CR3: ISO-BMFF; Canon stores IFD0, the Exif IFD, the maker note and the GPS IFD as four
TIFF blocks (CMT1, CMT2, CMT3, CMT4) in a moov/uuid box, and XMP in a top-level uuid box."""
from __future__ import annotations

from io import BytesIO
from typing import BinaryIO, Iterator

from exifread.tags.exif import GPS_TAGS

from .bounded import boxes, file_end, read_at, read_box
from .ifd import Found
from .makernotes import canon_cmt3_fields

_CANON_CR3_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_CR3_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
#: The type metadata_boxes gives the XMP uuid box (a name no real box has).
XMP = b"XMP "


def read_cr3(fh: BinaryIO, found: Found) -> None:
    """The CMT blocks of the moov/uuid box and the XMP of the top-level uuid box."""
    roles = {b"CMT1": ("Image", None), b"CMT2": ("EXIF", None), b"CMT4": ("GPS", GPS_TAGS)}
    for block, start, stop in metadata_boxes(fh, found.problems):
        if block == XMP:
            found.xmp = read_at(fh, start, stop - start, "CR3 XMP")
        elif block in roles:
            found.decode(read_box(fh, (start, stop)), *roles[block])
        elif block == b"CMT3" and not found.maker_note:
            found.maker_note = canon_cmt3_fields(BytesIO(read_box(fh, (start, stop))),
                                                 found.warnings)


def metadata_boxes(fh: BinaryIO, problems: list[str]) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes a CR3 keeps its metadata in: each box of
    moov's Canon uuid box (CMT1..CMT4, THMB), and the top-level XMP uuid box as type XMP (its
    payload after the uuid). Corrupt where a box cannot be read."""
    for kind, start, stop in boxes(fh, 0, file_end(fh), problems):
        if kind == b"uuid" and read_at(fh, start, 16, "uuid box") == _CR3_XMP_UUID:
            yield XMP, start + 16, stop
        elif kind == b"moov":
            for child, child_start, child_stop in boxes(fh, start, stop, problems):
                if child == b"uuid" and read_at(fh, child_start, 16, "uuid box") == _CANON_CR3_UUID:
                    yield from boxes(fh, child_start + 16, child_stop, problems)
