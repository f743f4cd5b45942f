"""What the server learns from a photo's bytes, as the real Fluxtream does: the type from the
first bytes (JPEG, PNG or GIF only: else 415), then a full decode (it makes thumbnails from the
pixels, so bytes that look like a JPEG but do not decode are refused with 400).

The real server stores three JPEG thumbnails per photo at upload. This one keeps the photo's size
and orientation instead, lists the thumbnails' sizes as the real server computes them, and
renders a thumbnail only when one is asked for.
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from ..readers import SNIFF_BYTES, sniff_type

#: The types the real server takes, by what the bytes say they are.
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
ORIENTATION_TAG = 0x0112
#: The longer side of the real server's thumbnails 0, 1 and 2.
THUMBNAIL_SIDES = (150, 300, 500)
#: EXIF orientations that turn the picture a quarter: its width and height trade places.
QUARTER_TURNS = (5, 6, 7, 8)


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
    return MEDIA_TYPES.get(sniff_type(data[:SNIFF_BYTES]))


def decode(data: bytes, media_type: str) -> Picture:
    """Decode every byte of the image (a JPEG at a reduced scale, which still reads all of its
    data); Undecodable if that fails in any way, a truncated file included."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(ORIENTATION_TAG, 1)
            image.draft(image.mode, (THUMBNAIL_SIDES[2], THUMBNAIL_SIDES[2]))
            image.load()
    except Exception as exc:  # Pillow raises many kinds on corrupt data; each one means the same
        raise Undecodable(str(exc)) from None
    picture = Picture(media_type, width, height, orientation if orientation in range(1, 9) else 1)
    thumbnail_sizes(picture)  # the real server makes them now, and fails on what cannot be
    return picture


def thumbnail_sizes(picture: Picture) -> list[tuple[int, int]]:
    """The (width, height) of the real server's thumbnails 0, 1 and 2: the photo fitted to 500 px
    by imgscalr then turned upright, and that fitted to 300 px, and that to 150 px.
    Undecodable if one would be 0 px wide or high (about 1000:1), as the real server fails then."""
    width, height = _imgscalr_fit(picture.width, picture.height, THUMBNAIL_SIDES[2])
    large = (height, width) if picture.orientation in QUARTER_TURNS else (width, height)
    medium = _imgscalr_fit(*large, THUMBNAIL_SIDES[1])
    return [_imgscalr_fit(*medium, THUMBNAIL_SIDES[0]), medium, large]


def _imgscalr_fit(width: int, height: int, side: int) -> tuple[int, int]:
    """imgscalr's Mode.AUTOMATIC, in its float arithmetic: a landscape or square image gets
    width `side`, a portrait one height `side` (smaller images are enlarged)."""
    ratio = _float32(height / width)
    fitted = ((side, _java_round(_float32(side * ratio))) if ratio <= 1
              else (_java_round(_float32(side / ratio)), side))
    if 0 in fitted:
        raise Undecodable(f"a {width}x{height} image makes a thumbnail 0 px wide or high")
    return fitted


def _float32(value: float) -> float:
    """`value` rounded to a Java float. A float operation on floats done in doubles and then
    rounded so is exactly the float operation (a double has more than twice the bits)."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _java_round(value: float) -> int:
    """Java's Math.round: half up."""
    return math.floor(value + 0.5)


def thumbnail(path: Path, size: tuple[int, int]) -> bytes:
    """The photo at `path` upright, at `size`, as a JPEG (as the real server's thumbnails are)."""
    with Image.open(path) as image:
        image.draft("RGB", (max(size), max(size)))
        small = ImageOps.exif_transpose(image).convert("RGB").resize(size, Image.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return out.getvalue()
