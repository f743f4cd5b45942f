"""Canon CR3: ISO-BMFF; Canon stores IFD0, the Exif IFD, the maker note and the GPS IFD as four
TIFF blocks (CMT1, CMT2, CMT3, CMT4) in a moov/uuid box, and XMP in a top-level uuid box."""
from __future__ import annotations

from io import BytesIO
from typing import BinaryIO

from exifread.tags.exif import GPS_TAGS

from .bounded import boxes, file_end, read_at, read_box
from .ifd import Found
from .makernotes import canon_cmt3_zone

_CANON_CR3_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_CR3_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")


def read_cr3(fh: BinaryIO, found: Found) -> None:
    """The CMT blocks of the moov/uuid box and the XMP of the top-level uuid box."""
    roles = {b"CMT1": ("Image", None), b"CMT2": ("EXIF", None), b"CMT4": ("GPS", GPS_TAGS)}
    for kind, start, stop in boxes(fh, 0, file_end(fh), found.problems):
        if kind == b"uuid" and read_at(fh, start, 16, "uuid box") == _CR3_XMP_UUID:
            found.xmp = read_at(fh, start + 16, stop - start - 16, "CR3 XMP")
        if kind != b"moov":
            continue
        for child, child_start, child_stop in boxes(fh, start, stop, found.problems):
            if child != b"uuid" or read_at(fh, child_start, 16, "uuid box") != _CANON_CR3_UUID:
                continue
            for block, block_start, block_stop in boxes(fh, child_start + 16, child_stop,
                                                         found.problems):
                if block in roles:
                    found.decode(read_box(fh, (block_start, block_stop)), *roles[block])
                elif block == b"CMT3" and not found.zone:
                    found.zone = canon_cmt3_zone(BytesIO(read_box(fh, (block_start, block_stop))),
                                                 found.warnings)
