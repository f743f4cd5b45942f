"""How the real Fluxtream server (Java, with Gson and Joda-Time) writes values on the wire, so
that the project's server answers byte for byte like it.

- `gson`: compact JSON as `new Gson().toJson` writes it: `<`, `>`, `&`, `=`, `'` and U+2028/9
  escaped as `\\uXXXX` (Gson's HTML-safe default), other text as UTF-8, doubles as Java prints them.
- `java_double`: Java's `Double.toString` (`1.400269584123E9`: plain only from 10^-3 to 10^7).
- `java_long`: Java's `(long)` cast of a double, as the server turns seconds into milliseconds.
- `joda_iso`: Joda's `ISODateTimeFormat.dateTime()` of a millisecond, in UTC.
- `clean_tags`: Fluxtream's `Tag.parseTags` of a comma-separated string, as a sorted set.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from decimal import Decimal

from ..fluxtream import EPOCH

LONG_MIN, LONG_MAX = -2**63, 2**63 - 1
#: Java's String.trim() strips every character up to U+0020, control characters included.
_JAVA_TRIM = "".join(map(chr, range(0x21)))
#: Fluxtream's Tag.REGEX_ILLEGAL_CHARACTERS: each such character becomes `_`.
_ILLEGAL_IN_TAG = re.compile(r"[^a-zA-Z0-9_-]")
_GSON_ESCAPES = str.maketrans({char: f"\\u{ord(char):04x}" for char in "<>&='\u2028\u2029"})


def gson(value) -> bytes:
    """`value` (dicts, lists, text, numbers, booleans, None) as the real server's Gson writes it."""
    return _gson_text(value).encode()


def _gson_text(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_GSON_ESCAPES)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_gson_text(k)}:{_gson_text(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(map(_gson_text, value)) + "]"


def java_double(value: float) -> str:
    """Java's `Double.toString` of a finite double >= 0: its shortest digits, written plainly
    from 10^-3 up to 10^7 (`1400.5`, `100.0`) and as `d.dddE<n>` outside (`1.400269584123E9`)."""
    if value == 0:
        return "0.0"
    _, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point goes, counted from the left of `text`
    if not 1e-3 <= value < 1e7:
        return f"{text[0]}.{text[1:] or '0'}E{point - 1}"
    if point <= 0:
        return "0." + "0" * -point + text
    if point >= len(text):
        return text + "0" * (point - len(text)) + ".0"
    return f"{text[:point]}.{text[point:]}"


def java_long(value: float) -> int:
    """Java's `(long) value`: toward zero, NaN as 0, and held at the ends of the long range."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return LONG_MAX if value > 0 else LONG_MIN
    return max(LONG_MIN, min(LONG_MAX, int(value)))


def joda_iso(capture_ms: int) -> str:
    """The list items' `begin`/`end`: `2014-05-16T19:46:24.123Z` (the real server prints them in
    its JVM's zone; this one runs in UTC)."""
    moment: datetime = EPOCH + timedelta(milliseconds=capture_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean_tags(text: str | None) -> list[str]:
    """The tags the real server keeps from a comma-separated string: each piece trimmed (as
    Java trims), lower-cased, every character but ASCII letters, digits, `-` and `_` replaced by
    `_` (`New York` is `new_york`), empty ones dropped; unique and sorted, as its TreeSet lists
    them."""
    pieces = (text or "").strip(_JAVA_TRIM).lower().split(",")
    cleaned = (_ILLEGAL_IN_TAG.sub("_", piece.strip(_JAVA_TRIM).lower()) for piece in pieces)
    return sorted({tag for tag in cleaned if tag})
