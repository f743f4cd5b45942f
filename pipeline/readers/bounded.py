"""The primitives every container reader shares: the `Corrupt` it raises, and reads that are
bounded (MAX_BLOCK_BYTES, MAX_VALUE_BYTES), so a fuzzed length field cannot make a reader
allocate more than that."""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

#: Largest metadata block (Exif item, PNG chunk, XMP packet, box) read into memory.
MAX_BLOCK_BYTES = 16 * 1024 * 1024
#: Largest single read exifread may make inside a file that is itself the TIFF block.
MAX_VALUE_BYTES = 1024 * 1024

TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


class Corrupt(Exception):
    """The container is broken here; the message says where and how."""


def read_at(fh: BinaryIO, offset: int, size: int, what: str) -> bytes:
    """Exactly `size` bytes at `offset`, or Corrupt saying `what` was cut short or too large."""
    if size < 0 or offset < 0:
        raise Corrupt(f"{what}: negative offset or size")
    if size > MAX_BLOCK_BYTES:
        raise Corrupt(f"{what} of {size} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit")
    fh.seek(offset)
    data = fh.read(size)
    if len(data) < size:
        raise Corrupt(f"{what} truncated at offset {offset + len(data)}")
    return data


def read_box(fh: BinaryIO, span: tuple[int, int]) -> bytes:
    return read_at(fh, span[0], span[1] - span[0], "box")


def file_end(fh: BinaryIO) -> int:
    return fh.seek(0, 2)


def boxes(fh: BinaryIO, start: int, end: int, problems: list[str]) -> Iterator[tuple]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in [start, end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", read_at(fh, pos, 8, "box header"))
        header = 8
        if size == 1:
            size, header = int.from_bytes(read_at(fh, pos + 8, 8, "box size"), "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            problems.append(f"{type_name(kind)} box at offset {pos} runs past its container")
            return
        yield kind, pos + header, pos + size
        pos += size


def strip_exif_header(block: bytes) -> bytes:
    return block[6:] if block.startswith(b"Exif\x00") else block


def type_name(kind: bytes) -> str:
    """A box or chunk type as written when it is printable ASCII, else as hex."""
    text = kind.decode("latin-1").strip()
    return text if kind.isascii() and text.isprintable() and text else f"0x{kind.hex()}"


class CappedReads:
    """A file view whose reads return at most MAX_VALUE_BYTES, so a fuzzed count stays small."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh

    def read(self, size: int = -1) -> bytes:
        return self.fh.read(MAX_VALUE_BYTES if size < 0 else min(size, MAX_VALUE_BYTES))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()
