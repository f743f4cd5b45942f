"""What both ends of the Fluxtream photo API share (the client in upload.py, the server in
server/): the photo key, the capture times a key can spell, and how text that came from the
other end (or from a file) is made safe to print in a message, a log line or a table cell.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The last capture millisecond a key can spell (its YYYY has four digits): 9999-12-31T23:59:59.999Z.
MAX_CAPTURE_MS = 253402300799999


def photo_key(guest_id: int, capture_ms: int, sha256: str) -> str:
    """The contract's key: `<guest>.FluxtreamCapture.photo.<YYYYDDD>.<captureMillis>_<sha256>`,
    YYYYDDD being the UTC year and day of year of the capture. OverflowError past year 9999."""
    day = EPOCH + timedelta(milliseconds=capture_ms)
    return (f"{guest_id}.FluxtreamCapture.photo.{day.year}{day.timetuple().tm_yday:03d}."
            f"{capture_ms}_{sha256}")


def printable(text: str) -> str:
    """`text` on one line with nothing a terminal or a reader could trip on: control characters
    (NUL, ESC, newlines, C1) become escapes like `\\x00`, bytes that were not UTF-8 (decoded
    with surrogateescape) become `\\xff`; letters of any script stay as they are."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte surrogateescape could not decode
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")
