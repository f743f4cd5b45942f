"""Photos in formats Fluxtream refuses, made into a JPEG it takes (upload calls `to_jpeg`).

JPEG, PNG and GIF are sent as they are. HEIC/HEIF (pillow-heif), AVIF (Pillow's own plugin),
WebP and TIFF are decoded and encoded as a JPEG of full resolution at quality 90; a raw file is
sent as its largest embedded JPEG preview, unchanged but for the raw file's EXIF put in front.

What a converted JPEG keeps: the photo's EXIF (IFD0's descriptive tags such as Make, Model and
DateTime, the whole Exif IFD with its dates, sub-seconds and offsets, the GPS IFD; not the maker
note, whose internal offsets would point nowhere once moved) and its ICC profile. Orientation:
the pixels are turned upright and Orientation 1 is written. HEIF's decoder has already applied
`irot`/`imir` to the pixels (the file's own EXIF Orientation describes the stored pixels, so it
is not applied again); Pillow's AVIF decoder reports them as the Orientation, which is applied
here like a WebP's or TIFF's. A raw preview is not re-encoded: it keeps the raw's Orientation,
which describes the preview as much as the sensor data.

Nothing here reads the workspace or the ledger; identity stays with the original file's sha256.
"""
from __future__ import annotations

import io
import re
import struct
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from .readers.bounded import (TYPE_SIZES, Corrupt, byte_order, entry_value, ifd_entries,
                              strip_exif_header)
from .readers.cr3 import metadata_boxes

#: What the server takes, by the bytes: sent as they are.
AS_THEY_ARE = ("JPEG", "PNG", "GIF")
#: Decoded, then encoded as a JPEG.
DECODED = ("HEIC", "HEIF", "AVIF", "WEBP", "TIFF", "BigTIFF")
#: Sent as their largest embedded JPEG preview, when they have one.
RAW = ("CR2", "CR3", "NEF", "ARW", "DNG", "ORF", "RW2", "PEF", "RAF", "SRW")
CONVERTIBLE = DECODED + RAW

#: The revision of these rules: a ledger note "unsupported_format" made by the same revision is
#: not tried again (the same bytes give the same answer).
VERSION = 1
#: Full resolution at quality 90 (4:2:0): the timeline copy is often the only one a person
#: keeps online, so nothing is scaled down; 90 is where JPEG artefacts stop being visible in
#: photos while the file stays about twice a HEIC's size (95 costs some 40 % more bytes).
JPEG_QUALITY = 90
#: An embedded JPEG whose long side is shorter than this is a thumbnail, never sent as the photo.
MIN_PREVIEW_SIDE = 400

_ORIENTATION, _EXIF_IFD, _GPS_IFD, _MAKER_NOTE, _INTEROP_IFD = 0x0112, 0x8769, 0x8825, 0x927C, 0xA005
#: IFD0 tags that describe the photo (the others describe a TIFF's own pixels and strips).
_DESCRIPTIVE = {0x010E, 0x010F, 0x0110, _ORIENTATION, 0x0131, 0x0132, 0x013B, 0x8298}
#: A value longer than this is left out, so the EXIF always fits one JPEG segment (64 KiB).
_MAX_VALUE = 16 * 1024
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
_BASELINE_OR_PROGRESSIVE = (0xC0, 0xC1, 0xC2)
_CR3_BLOCKS = (b"CMT1", b"CMT2", b"CMT4")  # Canon's IFD0, Exif IFD and GPS IFD, each a TIFF


class Unsupported(Exception):
    """No JPEG can be made of the file (a raw without a preview): `unsupported_format`."""


class ConversionFailed(Exception):
    """The file could not be decoded or encoded; the message says why, in words."""


@dataclass(frozen=True)
class Converted:
    data: bytes
    how: str  # what made the bytes, for the ledger: rules, quality, library versions


def to_jpeg(data: bytes, file_type: str) -> Converted:
    """The JPEG to send for a photo of `file_type` (as sniffed from `data`), with its EXIF."""
    if file_type in RAW:
        return Converted(raw_preview(data, file_type), f"raw preview (photoflux convert {VERSION})")
    if file_type not in DECODED:
        raise Unsupported(file_type)
    with _failing_as(file_type):
        image, exif, icc, turned = _decode(data, file_type)
        image = _upright(_eight_bit(image, icc), 1 if turned else _orientation(exif))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=image.info.get("icc_profile"),
                   exif=exif_segment(exif, orientation=1) if exif else b"")
    return Converted(out.getvalue(), f"{file_type} -> JPEG q{JPEG_QUALITY} ({_libraries()})")


def thumbnail(data: bytes, file_type: str, size: int):
    """The photo as a person sees it (upright, 8-bit RGB or L, transparency over white), at
    most `size` pixels on its long side, as a Pillow image: HEIC/AVIF/WebP/TIFF through the
    decoders `to_jpeg` uses, a raw through its embedded preview, a JPEG decoded at a reduced
    scale to begin with. Unsupported or ConversionFailed as for `to_jpeg`."""
    from PIL import Image, ImageOps

    with _failing_as(file_type):
        if file_type in RAW:
            data, file_type = raw_preview(data, file_type), "JPEG"  # it keeps the raw's EXIF
        if file_type in DECODED:
            image, exif, icc, turned = _decode(data, file_type)
            image = _upright(image, 1 if turned else _orientation(exif))
        elif file_type in AS_THEY_ARE:
            image = Image.open(io.BytesIO(data), formats=[file_type])
            image.draft("RGB", (size, size))  # a JPEG decodes at 1/2 to 1/8 scale; others ignore it
            icc = image.info.get("icc_profile")
            image = ImageOps.exif_transpose(image)
        else:
            raise Unsupported(file_type)
        image = _eight_bit(image, icc)
        image.thumbnail((size, size))
    return image


@contextmanager
def _failing_as(file_type: str):
    """A decoder's or encoder's error inside the block as ConversionFailed, in words."""
    from PIL import Image

    try:
        yield
    except (OSError, ValueError, SyntaxError, RuntimeError, EOFError, MemoryError,
            Image.DecompressionBombError, struct.error) as exc:
        why = re.sub(r" ?<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc))  # no address
        raise ConversionFailed(f"{file_type}: {why}") from None


def _libraries() -> str:
    import PIL
    import pillow_heif

    return (f"photoflux convert {VERSION}, Pillow {PIL.__version__}, "
            f"libheif {pillow_heif.libheif_version()}")


def _decode(data: bytes, file_type: str):
    """(image, EXIF as `tiff_exif` gives it or None, ICC profile or None, whether the decoder
    has turned the pixels upright already)."""
    from PIL import Image

    if file_type in ("HEIC", "HEIF"):
        import pillow_heif

        try:
            image = pillow_heif.open_heif(io.BytesIO(data)).to_pillow()
            return image, _exif_entries(image.info.get("exif")), image.info.get("icc_profile"), True
        except (OSError, ValueError, RuntimeError):
            if file_type == "HEIC":
                raise
        file_type = "AVIF"  # a HEIF may hold AV1, which Pillow's AVIF decoder reads
    image = Image.open(io.BytesIO(data), formats=[{"BigTIFF": "TIFF"}.get(file_type, file_type)])
    image.load()
    icc = image.info.get("icc_profile")
    if file_type == "AVIF" or file_type == "WEBP":
        return image, _exif_entries(image.info.get("exif")), icc, False
    # A TIFF's EXIF is its own IFD0 with the Exif and GPS IFDs (BigTIFF's 8-byte offsets are
    # not read here). Pillow (11 and later) turns a TIFF upright as it loads it, and then drops
    # the Orientation it applied.
    exif = tiff_exif(data) if file_type == "TIFF" else None
    return image, exif, icc, _ORIENTATION not in image.tag_v2


def _orientation(exif: dict | None) -> int:
    """IFD0's Orientation (1 when absent or not a SHORT)."""
    kind, _, value = (exif or {}).get("ifd0", {}).get(_ORIENTATION, (0, 0, b""))
    return struct.unpack(exif["order"] + "H", value[:2])[0] if kind == 3 and len(value) >= 2 else 1


def _upright(image, orientation: int):
    from PIL import Image

    method = _TRANSPOSE.get(orientation)
    return image.transpose(getattr(Image.Transpose, method)) if method else image


def _eight_bit(image, icc: bytes | None):
    """RGB or L at 8 bits a channel, as a JPEG holds them, with `icc` in its info: transparency
    over white, 16-bit grey scaled down, CMYK through its ICC profile when it has one."""
    from PIL import Image

    if image.mode == "CMYK" and icc:
        from PIL import ImageCms

        return ImageCms.profileToProfile(image, io.BytesIO(icc), ImageCms.createProfile("sRGB"),
                                         outputMode="RGB")
    if image.mode.startswith("I;16"):
        import numpy as np

        image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    elif "transparency" in image.info or image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
    elif image.mode not in ("RGB", "L"):
        image = image.convert("L" if image.mode == "1" else "RGB")
    image.info = {"icc_profile": icc} if icc else {}
    return image


# --- raw previews --------------------------------------------------------------------------

def raw_preview(data: bytes, file_type: str) -> bytes:
    """The raw file's largest embedded JPEG that decodes (baseline or progressive, not a
    thumbnail), with the raw's EXIF put in front when the preview has none of its own.

    Every top-level JPEG in the file is found by its markers, wherever the format keeps it (TIFF
    IFDs and SubIFDs as PreviewImage or JpgFromRaw in CR2/NEF/ARW/DNG/PEF/SRW, RW2's JpgFromRaw,
    ORF's and PEF's maker-note previews, CR3's mdat image, PRVW and THMB boxes, RAF's header
    JPEG); JPEGs nested inside one (its EXIF thumbnail) are not candidates.
    """
    from PIL import Image

    found = sorted((c for c in _embedded_jpegs(data) if c[2] in _BASELINE_OR_PROGRESSIVE
                    and max(c[3], c[4]) >= MIN_PREVIEW_SIDE),
                   key=lambda c: c[3] * c[4], reverse=True)
    for start, end, _, width, height in found:
        preview = data[start:end]
        try:
            with Image.open(io.BytesIO(preview), formats=["JPEG"]) as image:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()  # decoding at 1/8 scale proves the whole stream is there
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue
        if _has_exif(preview):
            return preview
        exif = cr3_exif(data) if file_type == "CR3" else tiff_exif(data)
        return insert_exif(preview, exif_segment(exif)) if exif else preview
    raise Unsupported(f"{file_type} without an embedded JPEG preview")


def _embedded_jpegs(data: bytes):
    """(start, end, SOF marker, width, height) of each top-level JPEG in `data`."""
    pos = 0
    while (pos := data.find(b"\xff\xd8\xff", pos)) >= 0:
        extent = _jpeg_extent(data, pos)
        if extent is None:
            pos += 3
            continue
        yield extent
        pos = extent[1]  # what lies inside (an EXIF thumbnail) is part of this one


def _jpeg_extent(data: bytes, start: int):
    """The JPEG starting at `start`: its end (after EOI), frame type and size; None when the
    bytes there are no JPEG (a chance FF D8 FF in other data)."""
    pos, frame = start + 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x00, 0x01, 0xD8, 0xD9) or 0xD0 <= marker <= 0xD7:
            return None  # not where a segment may be
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            frame = (marker, width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data never holds FF D9
            end = data.find(b"\xff\xd9", pos + 2 + length)
            if end < 0 or frame is None or not frame[1] or not frame[2]:
                return None
            return (start, end + 2, *frame)
        pos += 2 + length
    return None


def _has_exif(jpeg: bytes) -> bool:
    for marker, body in _segments(jpeg):
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            return True
    return False


def _segments(jpeg: bytes):
    """(marker, body) of a JPEG's segments up to its first scan."""
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and jpeg[pos + 1] != 0xDA:
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        yield jpeg[pos + 1], jpeg[pos + 4:pos + 2 + length]
        pos += 2 + length


def insert_exif(jpeg: bytes, segment: bytes) -> bytes:
    """`jpeg` with an APP1 EXIF segment (`segment`: "Exif\\0\\0" + TIFF) after SOI, or after
    its JFIF APP0 where it has one: the pixels are not touched."""
    at = 2
    if jpeg[2:4] == b"\xff\xe0" and jpeg[6:11] == b"JFIF\x00":
        at = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:at] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + jpeg[at:]


# --- EXIF: read a TIFF block's IFDs, write the ones a JPEG keeps ----------------------------

def _exif_entries(block: bytes | None) -> dict | None:
    """EXIF as a decoder hands it over ("Exif\\0\\0" + TIFF, or the TIFF alone)."""
    return tiff_exif(strip_exif_header(block)) if block else None


def tiff_exif(tiff: bytes) -> dict | None:
    """{"order", "ifd0", "exif", "gps"} from a TIFF block (a TIFF, TIFF-based raw, ORF or RW2
    header: the offset of IFD0 is at byte 4 in each); None when it has no readable IFD0."""
    if tiff[:2] not in (b"II", b"MM") or len(tiff) < 8:
        return None
    order, block = byte_order(tiff), io.BytesIO(tiff)
    try:
        ifd0 = _read_ifd(block, struct.unpack_from(order + "I", tiff, 4)[0], order)
    except Corrupt:
        return None
    found = {"order": order, "ifd0": ifd0, "exif": {}, "gps": {}}
    for tag, name in ((_EXIF_IFD, "exif"), (_GPS_IFD, "gps")):
        pointer = ifd0.get(tag)
        if pointer and pointer[0] in (4, 13) and len(pointer[2]) == 4:
            with suppress(Corrupt):  # a broken sub-IFD costs its tags, not the photo
                found[name] = _read_ifd(block, struct.unpack(order + "I", pointer[2])[0], order)
    return found if ifd0 else None


def cr3_exif(data: bytes) -> dict | None:
    """A CR3's EXIF: Canon keeps IFD0, the Exif IFD and the GPS IFD as TIFF blocks in boxes
    CMT1, CMT2 and CMT4 (found as the readers find them; those before a broken box count)."""
    blocks = {}
    with suppress(Corrupt):
        for kind, start, stop in metadata_boxes(io.BytesIO(data), []):
            if kind in _CR3_BLOCKS:
                blocks[kind] = tiff_exif(data[start:stop])
    ifd0 = blocks.get(b"CMT1")
    if ifd0 is None:
        return None
    for kind, name in ((b"CMT2", "exif"), (b"CMT4", "gps")):
        block = blocks.get(kind)
        if block is not None and block["order"] == ifd0["order"]:
            ifd0[name] = block["ifd0"]  # each block's first IFD is the one it holds
    return ifd0


def _read_ifd(block: io.BytesIO, offset: int, order: str) -> dict:
    """tag -> (type, count, value bytes) of the IFD at `offset` of a TIFF block, without the
    empty values, those longer than _MAX_VALUE and those that lie past the end; Corrupt when
    the IFD itself does."""
    entries = {}
    for tag, entry in ifd_entries(block, offset, order).items():
        kind, count = struct.unpack(order + "HI", entry[2:8])
        if 0 < TYPE_SIZES.get(kind, 0) * count <= _MAX_VALUE:
            with suppress(Corrupt):
                entries[tag] = (kind, count, entry_value(block, entry, order))
    return entries


def exif_segment(exif: dict, orientation: int | None = None) -> bytes:
    """The APP1 payload ("Exif\\0\\0" + TIFF) of IFD0's descriptive tags, the Exif IFD without
    its maker note and interoperability pointer, and the GPS IFD; `orientation` replaces
    IFD0's Orientation when given."""
    order = exif["order"]
    ifd0 = {tag: entry for tag, entry in exif["ifd0"].items() if tag in _DESCRIPTIVE}
    if orientation is not None:
        ifd0[_ORIENTATION] = (3, 1, struct.pack(order + "H", orientation))
    subs = {_EXIF_IFD: {tag: entry for tag, entry in exif["exif"].items()
                        if tag not in (_MAKER_NOTE, _INTEROP_IFD)},
            _GPS_IFD: dict(exif["gps"])}
    subs = {tag: entries for tag, entries in subs.items() if entries}
    for tag in subs:
        ifd0[tag] = (4, 1, b"\0\0\0\0")  # placeholders: IFD0's size does not depend on them
    at = 8 + len(_ifd_bytes(ifd0, 8, order))
    written = []
    for tag, entries in subs.items():
        ifd0[tag] = (4, 1, struct.pack(order + "I", at))
        written.append(_ifd_bytes(entries, at, order))
        at += len(written[-1])
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    return b"Exif\x00\x00" + head + _ifd_bytes(ifd0, 8, order) + b"".join(written)


def _ifd_bytes(entries: dict, start: int, order: str) -> bytes:
    """One IFD written at offset `start` of its TIFF block, its long values right after it."""
    data_at = start + 2 + 12 * len(entries) + 4
    table, values = [], bytearray()
    for tag in sorted(entries):
        kind, count, value = entries[tag]
        if len(value) <= 4:
            field = value.ljust(4, b"\0")
        else:
            field = struct.pack(order + "I", data_at + len(values))
            values += value + b"\0" * (len(value) % 2)  # values start on a word boundary
        table.append(struct.pack(order + "HHI", tag, kind, count) + field)
    return (struct.pack(order + "H", len(entries)) + b"".join(table)
            + struct.pack(order + "I", 0) + bytes(values))
