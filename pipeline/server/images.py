"""What the server learns from a photo's bytes, as the real Fluxtream does: the type from the
first bytes (JPEG, PNG or GIF only: else 415), then a full decode (it makes thumbnails from the
pixels, so bytes that look like a JPEG but do not decode are refused with 400).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

ORIENTATION_TAG = 0x0112
#: The real server's largest thumbnail side: a JPEG is decoded at the smallest scale above it.
LARGEST_THUMBNAIL = 500


@dataclass(frozen=True)
class Picture:
    media_type: str
    width: int
    height: int
    orientation: int  # EXIF Orientation, 1 (upright) when absent or out of range


class Undecodable(ValueError):
    """Bytes of a supported type that do not decode to an image."""


def sniff(data: bytes) -> str | None:
    """The media type the bytes say they are (JPEG, PNG or GIF), else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def decode(data: bytes, media_type: str) -> Picture:
    """Decode every byte of the image (a JPEG at a reduced scale, which still reads all of its
    data); Undecodable if that fails in any way, a truncated file included."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(ORIENTATION_TAG, 1)
            image.draft(image.mode, (LARGEST_THUMBNAIL, LARGEST_THUMBNAIL))
            image.load()
    except Exception as exc:  # Pillow raises many kinds on corrupt data; each one means the same
        raise Undecodable(str(exc)) from None
    return Picture(media_type, width, height, orientation if orientation in range(1, 9) else 1)
