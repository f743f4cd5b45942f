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
#: Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED,
#: SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD: a sub-IFD's offset, as some writers type it).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


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


# --- IFDs read directly (where exifread does not go: sniffing, XMLPacket, maker notes) --------


def byte_order(header: bytes) -> str:
    """struct's byte order of a TIFF header ("II" little-endian, else big-endian)."""
    return "<" if header[:1] == b"I" else ">"


def ifd_entries(fh: BinaryIO, offset: int, order: str, what: str = "IFD") -> dict[int, bytes]:
    """tag -> 12-byte entry of the IFD at `offset`."""
    count = struct.unpack(order + "H", read_at(fh, offset, 2, what))[0]
    table = read_at(fh, offset + 2, 12 * count, f"{what} entries")
    return {struct.unpack(order + "H", table[i:i + 2])[0]: table[i:i + 12]
            for i in range(0, len(table), 12)}


def ifd0_entries(fh: BinaryIO) -> dict[int, bytes]:
    """tag -> 12-byte entry of a classic TIFF's IFD0."""
    header = read_at(fh, 0, 8, "TIFF header")
    order = byte_order(header)
    return ifd_entries(fh, struct.unpack(order + "I", header[4:8])[0], order, "IFD0")


def entry_value(fh: BinaryIO, entry: bytes, order: str, base: int = 0) -> bytes:
    """The bytes of an IFD entry's value: inline, or at its offset counted from `base`."""
    tag, kind, count, where = struct.unpack(order + "HHI4s", entry)
    if kind not in TYPE_SIZES:
        raise Corrupt(f"tag 0x{tag:04x} has an unknown field type ({kind})")
    size = TYPE_SIZES[kind] * count
    if size <= 4:
        return where[:size]
    return read_at(fh, base + struct.unpack(order + "I", where)[0], size, f"tag 0x{tag:04x}")
