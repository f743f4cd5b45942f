"""PNG: the eXIf chunk or ImageMagick's hex "Raw profile type exif/APP1" text chunk; XMP in
iTXt."""
from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from .bounded import MAX_BLOCK_BYTES, Corrupt, file_end, read_at, strip_exif_header, type_name
from .ifd import Found


def read_png(fh: BinaryIO, found: Found) -> None:
    exif_seen = False
    end = file_end(fh)
    pos = 8
    while pos + 12 <= end:
        length, kind = struct.unpack(">I4s", read_at(fh, pos, 8, "PNG chunk header"))
        body, pos = pos + 8, pos + 12 + length
        if pos > end:
            raise Corrupt(f"PNG: {type_name(kind)} chunk runs past the end of the file")
        if kind == b"IEND":
            return
        if kind == b"eXIf" and not exif_seen:
            exif_seen = True
            found.decode(strip_exif_header(read_at(fh, body, length, "PNG eXIf chunk")))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword, text = _png_text(kind, read_at(fh, body, length, f"PNG {type_name(kind)} chunk"))
            if keyword == b"XML:com.adobe.xmp" and found.xmp is None:
                found.xmp = text
            elif keyword in (b"Raw profile type exif", b"Raw profile type APP1") and not exif_seen:
                exif_seen = True
                found.decode(strip_exif_header(_imagemagick_profile(text)))


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
        raise Corrupt(f"PNG: compressed text chunk unreadable ({exc})") from None
    if inflater.unconsumed_tail:
        raise Corrupt(f"PNG: compressed text chunk inflates past {MAX_BLOCK_BYTES} bytes")
    return text


def _imagemagick_profile(text: bytes) -> bytes:
    """ImageMagick's "\\nexif\\n   LENGTH\\nHEX..." profile dump, as bytes."""
    lines = text.strip().split(b"\n")
    try:
        return bytes.fromhex(b"".join(lines[2:]).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise Corrupt("PNG: raw Exif profile is not hexadecimal") from None
