"""WebP: the RIFF EXIF and XMP chunks, whatever the VP8X flags claim."""
from __future__ import annotations

import struct
from typing import BinaryIO

from .bounded import Corrupt, file_end, read_at, strip_exif_header, type_name
from .ifd import Found


def read_webp(fh: BinaryIO, found: Found) -> None:
    exif_seen = False
    end = min(file_end(fh), 8 + int.from_bytes(read_at(fh, 4, 4, "RIFF size"), "little"))
    pos = 12
    while pos + 8 <= end:
        kind, length = struct.unpack("<4sI", read_at(fh, pos, 8, "WebP chunk header"))
        body, pos = pos + 8, pos + 8 + length + (length & 1)
        if body + length > end:
            raise Corrupt(f"WebP: {type_name(kind)} chunk runs past the end of the file")
        if kind == b"EXIF" and not exif_seen:
            exif_seen = True
            found.decode(strip_exif_header(read_at(fh, body, length, "WebP EXIF chunk")))
        elif kind == b"XMP " and found.xmp is None:
            found.xmp = read_at(fh, body, length, "WebP XMP chunk")
