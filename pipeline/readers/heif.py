"""HEIC/HEIF/AVIF: an ISO-BMFF walk, meta -> iinf/iloc -> the `Exif` and XMP items, any brand
(exifread knows three)."""
from __future__ import annotations

from io import BytesIO
from typing import BinaryIO

from .bounded import MAX_BLOCK_BYTES, TIFF_MAGIC, Corrupt, boxes, file_end, read_at, read_box
from .ifd import Found

_BMFF_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"), "HEIC"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    **dict.fromkeys((b"mif1", b"mif2", b"msf1", b"MiHE", b"MiHB", b"MiAN"), "HEIF"),
    b"crx ": "CR3",
}


def bmff_type(head: bytes) -> str | None:
    """By the major brand, as ExifTool does, else by the first compatible brand known."""
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    return next((_BMFF_BRANDS[brand] for brand in brands if brand in _BMFF_BRANDS), None)



def read_heif(fh: BinaryIO, found: Found) -> None:
    """meta -> iinf (which item is Exif, which XMP) and iloc (where each item's bytes are)."""
    end = file_end(fh)
    meta = next((box for box in boxes(fh, 0, end, found.problems) if box[0] == b"meta"), None)
    if meta is None:
        raise Corrupt("HEIF: no meta box")
    children = {kind: (start, stop) for kind, start, stop in _meta_children(fh, meta, found)}
    if b"iinf" not in children or b"iloc" not in children:
        raise Corrupt("HEIF: meta box without item information or locations")
    items = _heif_items(read_box(fh, children[b"iinf"]), found)
    locations = _heif_locations(read_box(fh, children[b"iloc"]))
    idat_start = children.get(b"idat", (0, 0))[0]
    exif_id = next((i for i, (kind, _) in items.items() if kind == b"Exif"), None)
    if exif_id in locations:
        found.decode(_heif_exif_tiff(_heif_item_data(fh, locations[exif_id], idat_start, end)))
    xmp_id = next((i for i, (kind, mime) in items.items()
                   if kind == b"mime" and mime == b"application/rdf+xml"), None)
    if xmp_id in locations:
        found.xmp = _heif_item_data(fh, locations[xmp_id], idat_start, end)


def _meta_children(fh: BinaryIO, meta: tuple, found: Found):
    """The meta box's children; ISO meta is a full box (4 bytes of version/flags), QuickTime's not."""
    _, start, stop = meta
    full_box = read_at(fh, start + 4, 4, "meta box") != b"hdlr"
    return boxes(fh, start + 4 if full_box else start, stop, found.problems)


def _heif_items(iinf: bytes, found: Found) -> dict:
    """item id -> (item type, content type) from an iinf box."""
    first = 6 if iinf[:1] == b"\x00" else 8  # version/flags, then a 16- or 32-bit entry count
    items = {}
    for kind, start, stop in boxes(BytesIO(iinf), first, len(iinf), found.problems):
        if kind != b"infe":
            continue
        cursor = _Cursor(iinf[start:stop])
        version = cursor.take(4)[0]
        if version < 2:
            item_id = cursor.uint(2)
            cursor.take(2)
            cursor.cstring()  # item name
            items[item_id] = (b"mime", cursor.cstring())
        else:
            item_id = cursor.uint(2 if version == 2 else 4)
            cursor.take(2)
            item_type = cursor.take(4)
            cursor.cstring()
            items[item_id] = (item_type, cursor.cstring() if item_type == b"mime" else b"")
    return items


def _heif_locations(iloc: bytes) -> dict:
    """item id -> (construction method, base offset, [(offset, length)]) from an iloc box."""
    cursor = _Cursor(iloc)
    version = cursor.take(4)[0]
    sizes = cursor.take(2)
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    locations = {}
    for _ in range(cursor.uint(2 if version < 2 else 4)):
        item_id = cursor.uint(2 if version < 2 else 4)
        method = cursor.uint(2) & 15 if version in (1, 2) else 0
        cursor.take(2)  # data reference index
        base = cursor.uint(base_size)
        extents = []
        for _ in range(cursor.uint(2)):
            cursor.uint(index_size)
            extents.append((cursor.uint(offset_size), cursor.uint(length_size)))
        locations[item_id] = (method, base, extents)
    return locations


def _heif_item_data(fh: BinaryIO, location: tuple, idat_start: int, end: int) -> bytes:
    method, base, extents = location
    if method not in (0, 1):
        raise Corrupt(f"HEIF: item stored by construction method {method}, which is not read")
    origin = base + (idat_start if method == 1 else 0)
    spans = [(origin + offset, length or end - origin - offset) for offset, length in extents]
    total = sum(length for _, length in spans)
    if total > MAX_BLOCK_BYTES:
        raise Corrupt(f"HEIF item of {total} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit")
    return b"".join(read_at(fh, offset, length, "HEIF item") for offset, length in spans)


def _heif_exif_tiff(data: bytes) -> bytes:
    """The TIFF block of an Exif item: after a 32-bit offset to the TIFF header."""
    start = 4 + int.from_bytes(data[:4], "big")
    if data[start:start + 4] in TIFF_MAGIC:
        return data[start:]
    found = [i for i in (data.find(magic, 4, 4 + 64) for magic in TIFF_MAGIC) if i >= 0]
    if not found:
        raise Corrupt("HEIF: Exif item without a TIFF header")
    return data[min(found):]



class _Cursor:
    """Reads fixed fields off a bytes buffer, raising Corrupt past its end."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos:self.pos + size]
        if len(chunk) < size:
            raise Corrupt("HEIF: item table truncated")
        self.pos += size
        return chunk

    def uint(self, size: int) -> int:
        if size not in (0, 2, 4, 8):
            raise Corrupt(f"HEIF: item table gives a field {size} bytes wide (0, 2, 4 or 8 "
                           "are defined)")
        return int.from_bytes(self.take(size), "big")

    def cstring(self) -> bytes:
        end = self.data.find(b"\x00", self.pos)
        end = len(self.data) if end < 0 else end
        text, self.pos = self.data[self.pos:end], end + 1
        return text
