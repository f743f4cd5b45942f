"""The TIFF family (TIFF, DNG, CR2, NEF, ARW, ORF, RW2, PEF, SRW), where the file itself is the
TIFF block, and Fuji's RAF, whose Exif is that of its embedded JPEG preview. BigTIFF is recognised
but not read (exifread decodes classic TIFF only)."""
from __future__ import annotations

import struct
from io import BytesIO
from typing import BinaryIO

from .bounded import (MAX_VALUE_BYTES, CappedReads, Corrupt, byte_order, entry_value, file_end,
                      ifd0_entries, read_at)
from .ifd import Found
from .jpeg import read_jpeg

_TIFF_VENDOR_TYPES = (
    (b"NIKON", "NEF"), (b"SONY", "ARW"), (b"PENTAX", "PEF"), (b"RICOH", "PEF"),
    (b"ASAHI", "PEF"), (b"SAMSUNG", "SRW"),
)
_TAG_MAKE, _TAG_XMP, _TAG_DNG_VERSION = 0x010F, 0x02BC, 0xC612


def tiff_type(head: bytes) -> str:
    """DNG when IFD0 has DNGVersion; a vendor raw when IFD0's Make names one; else TIFF (also
    when IFD0 lies beyond the head)."""
    try:
        entries = ifd0_entries(BytesIO(head))
        make = entries.get(_TAG_MAKE)
        make = entry_value(BytesIO(head), make, byte_order(head)) if make else b""
    except (Corrupt, struct.error):
        return "TIFF"
    if _TAG_DNG_VERSION in entries:
        return "DNG"
    return next((kind for vendor, kind in _TIFF_VENDOR_TYPES if make.upper().startswith(vendor)),
                "TIFF")


def read_tiff(fh: BinaryIO, found: Found) -> None:
    """The file is the TIFF block; XMP is IFD0's XMLPacket tag. IFDs and their values usually
    lie in the file's first MB: that much is handed over for the fast decode."""
    found.decode(CappedReads(fh), head=read_at(fh, 0, min(file_end(fh), MAX_VALUE_BYTES), "TIFF"))
    try:
        packet = ifd0_entries(fh).get(_TAG_XMP)
        if packet:
            found.xmp = entry_value(fh, packet, byte_order(read_at(fh, 0, 1, "TIFF")))
    except (Corrupt, struct.error):
        pass  # a broken IFD0 is already reported by the decode


def read_raf(fh: BinaryIO, found: Found) -> None:
    """Fuji's header points at an embedded JPEG preview (offset, length at byte 84)."""
    offset, length = struct.unpack(">II", read_at(fh, 84, 8, "RAF header"))
    read_jpeg(fh, found, offset, min(offset + length, file_end(fh)))
