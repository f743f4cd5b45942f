"""XMP packets, wherever a container keeps them: the capture-date properties as written."""
from __future__ import annotations

import re

#: XMP properties holding the capture time, in the order the Metadata Working Group prefers.
_XMP_DATE_PROPERTIES = ("photoshop:DateCreated", "exif:DateTimeOriginal", "xmp:CreateDate")

_XMP_PATTERNS = [
    re.compile(rb"%s\s*=\s*[\"']([^\"'<>]*)[\"']|<%s>([^<]*)<" % (name.encode(), name.encode()))
    for name in _XMP_DATE_PROPERTIES
]


def xmp_date(packet: bytes) -> str | None:
    """The first capture-date property the XMP packet holds, raw (ISO 8601 as written)."""
    for pattern in _XMP_PATTERNS:
        match = pattern.search(packet)
        if match:
            value = (match.group(1) or match.group(2) or b"").decode("utf-8", "replace").strip()
            if value:
                return value
    return None
