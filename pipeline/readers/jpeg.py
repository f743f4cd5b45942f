"""JPEG: a walk over the header segments for the Exif segment (exifread only looks about 4 KB
in, missing Exif behind a large colour profile) and the XMP segment, with the ExtendedXMP
segments that carry the rest of a packet too large for one segment."""
from __future__ import annotations

import re
from typing import BinaryIO

from .bounded import MAX_BLOCK_BYTES, Corrupt, file_end, read_at
from .ifd import Found

_JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
#: An ExtendedXMP segment: this header, the packet's GUID (32 hex digits), its full length and
#: this chunk's offset in it (32-bit each), then the chunk.
_EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
_EXTENDED_XMP_LEAD = len(_EXTENDED_XMP_HEADER) + 32 + 8
_HAS_EXTENDED_XMP = re.compile(rb"HasExtendedXMP\s*(?:=\s*[\"']|>)\s*([0-9A-Fa-f]{32})")


def read_jpeg(fh: BinaryIO, found: Found, start: int = 0, end: int | None = None) -> None:
    """The first Exif segment that holds tags and the first XMP segment among the JPEG's header
    segments. An Exif segment without tags (a bogus or empty one ahead of the camera's, as some
    editors leave) is passed over for a later one, as ExifTool does."""
    skipped: list[tuple[int, list[str]]] = []  # (offset, why) of each Exif segment passed over
    extended: dict[bytes, dict[int, bytes]] = {}  # GUID -> offset -> ExtendedXMP chunk
    try:
        _walk_jpeg(fh, found, skipped, extended, start, file_end(fh) if end is None else end)
    finally:
        if found.xmp and extended:
            found.xmp = _with_extended_xmp(found.xmp, extended)
        for offset, problems in skipped:
            if found.tags:
                found.warnings.append(f"JPEG: skipped the Exif segment at offset {offset}, "
                                      f"which does not decode ({', '.join(problems)})")
            else:
                found.problems.extend(problems)


def _walk_jpeg(fh: BinaryIO, found: Found, skipped: list, extended: dict, start: int,
               end: int) -> None:
    exif_read = False
    pos = start + 2
    while pos + 2 <= end:
        marker = read_at(fh, pos, 2, "JPEG marker")
        if marker[0] != 0xFF or marker[1] == 0xFF:  # stray or fill bytes, skipped as libjpeg does
            pos = _next_marker(fh, pos + 1, end)
            continue
        code = marker[1]
        if code in (0x01, 0xD8) or 0xD0 <= code <= 0xD7:  # markers without a length
            pos += 2
            continue
        if code in (0xD9, 0xDA):  # end of image, start of scan: no more header segments
            return
        length = int.from_bytes(read_at(fh, pos + 2, 2, "JPEG segment length"), "big")
        body, pos = pos + 4, pos + 2 + length
        if length < 2 or pos > end:
            raise Corrupt(f"JPEG: segment at offset {body - 4} runs past the end of the file")
        if code == 0xE1:
            size = length - 2
            lead = read_at(fh, body, min(size, _EXTENDED_XMP_LEAD), "JPEG APP1")
            if not exif_read and lead.startswith(b"Exif\x00"):
                attempt = Found()
                attempt.decode(read_at(fh, body + 6, max(size - 6, 0), "JPEG Exif segment"))
                exif_read = bool(attempt.tags)
                if exif_read:
                    found.absorb(attempt)
                elif attempt.problems:
                    skipped.append((body - 4, attempt.problems))
            elif found.xmp is None and lead.startswith(_JPEG_XMP_HEADER):
                skip = len(_JPEG_XMP_HEADER)
                found.xmp = read_at(fh, body + skip, size - skip, "JPEG XMP segment")
            elif lead.startswith(_EXTENDED_XMP_HEADER) and len(lead) == _EXTENDED_XMP_LEAD:
                chunks = extended.setdefault(lead[-40:-8].upper(), {})
                if sum(map(len, chunks.values())) + size <= MAX_BLOCK_BYTES:
                    chunks[int.from_bytes(lead[-4:], "big")] = read_at(
                        fh, body + len(lead), size - len(lead), "JPEG ExtendedXMP segment")
    raise Corrupt("JPEG: truncated before the image data")


def _next_marker(fh: BinaryIO, pos: int, end: int) -> int:
    """Offset of the next 0xFF at or after `pos` that precedes a marker code, or `end`."""
    while pos < end:
        fh.seek(pos)
        chunk = fh.read(min(64 * 1024, end - pos))
        found = re.search(rb"\xff[^\xff]", chunk)
        if found:
            return pos + found.start()
        pos += max(len(chunk) - 1, 1)
    return end


def _with_extended_xmp(packet: bytes, extended: dict) -> bytes:
    """The main XMP packet followed by the extended packet it names (xmpNote:HasExtendedXMP),
    its chunks in offset order; the main packet alone when it names none that is here."""
    named = _HAS_EXTENDED_XMP.search(packet)
    chunks = extended.get(named.group(1).upper()) if named else None
    if not chunks:
        return packet
    return packet + b"\n" + b"".join(chunks[offset] for offset in sorted(chunks))
