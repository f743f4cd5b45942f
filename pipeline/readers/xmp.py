"""XMP packets, embedded in any container or in a sidecar: the capture dates, the GPS clock and
the GPS position, as written.

    from pipeline.readers.xmp import xmp_fields
    fields = xmp_fields(Path("IMG_0001.CR2.xmp").read_bytes())
    fields["xmp_datetime_original"], fields["warnings"]

A property is found in either of XMP's forms (an attribute of rdf:Description, or an element
whose text, or first rdf:li of an rdf:Alt/Seq/Bag, holds the value) under whatever prefix the
packet declares for its namespace (`xap:CreateDate` is xmp:CreateDate); a packet that declares
no namespace at all is read by the usual prefixes. The packet is scanned, not parsed as XML, so
a packet with a broken tag elsewhere, trailing padding or undeclared prefixes still gives its
values.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

_EXIF = "http://ns.adobe.com/exif/1.0/"
_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
_XMP = "http://ns.adobe.com/xap/1.0/"
_EXIF_EX = "http://cipa.jp/exif/1.0/"
_AUX = "http://ns.adobe.com/exif/1.0/aux/"
#: Namespace -> the prefixes writers use for it, which stand for it when a packet declares none.
_USUAL_PREFIXES = {_EXIF: ("exif",), _PHOTOSHOP: ("photoshop",), _XMP: ("xmp", "xap"),
                   _EXIF_EX: ("exifEX",), _AUX: ("aux",)}
#: Where XMP keeps the camera body's serial number, in order of preference (Lightroom and
#: Camera Raw write aux:SerialNumber).
_SERIALS = ((_EXIF_EX, "BodySerialNumber"), (_AUX, "SerialNumber"))

#: Column <- the XMP property holding a date (or date-time), kept as written.
_DATES = {
    "xmp_datetime_original": (_EXIF, "DateTimeOriginal"),
    "xmp_date_created": (_PHOTOSHOP, "DateCreated"),
    "xmp_create_date": (_XMP, "CreateDate"),
    "xmp_gps_datetime": (_EXIF, "GPSTimeStamp"),  # XMP's GPS clock is a full UTC date-time
}
#: Column <- (exif property, its hemisphere letters, largest magnitude in degrees).
_POSITIONS = {"xmp_gps_lat": ("GPSLatitude", "NS", 90), "xmp_gps_lon": ("GPSLongitude", "EW", 180)}

#: The columns xmp_fields returns (besides `warnings`), in the photos table's order.
XMP_COLUMNS = (*_DATES, *_POSITIONS)

_DECLARATION = re.compile(r"xmlns:([A-Za-z_][\w.-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
#: A date as XMP writes it (some writers use EXIF's colons): a year, then month, day and a time.
_DATE_SHAPE = re.compile(r"\d{4}(?:[-:]\d\d(?:[-:]\d\d(?:[T ]\d.*)?)?)?")
#: XMP's GPSCoordinate: "DDD,MM.mmmmk" or "DDD,MM,SSk" (k: N, S, E or W); "DDD.ddk" is read too.
_COORDINATE = re.compile(r"(\d{1,3}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?)?"
                         r"\s*([NSEWnsew])")
#: The first item of an rdf:Alt/Seq/Bag, or the rdf:value of a structured property.
_FIRST_ITEM = re.compile(r"<[\w.-]+:(?:li|value)\b[^>]*>([^<]*)<")
_QUOTE_CHARS = 40


def xmp_fields(packet: bytes) -> dict:
    """The XMP_COLUMNS of one XMP packet, and `warnings`: a list of the values that were present
    but unusable (a date that is no date, a coordinate unreadable or out of range), each null.

    Dates are the text as written (ISO 8601, offset and fraction kept; "1998-07" too: whether a
    date is a time is resolve's call); xmp_gps_datetime is exif:GPSTimeStamp, UTC; the position
    is signed decimal degrees (S and W negative).
    """
    text = _decode(packet)
    prefixes = _prefixes(text)
    row: dict = {}
    warnings: list[str] = []
    for column, (namespace, name) in _DATES.items():
        value = _property(text, prefixes[namespace], name)
        if value is not None and not _DATE_SHAPE.fullmatch(value):
            warnings.append(f"XMP {name} is not a date ({value[:_QUOTE_CHARS]})")
            value = None
        row[column] = value
    for column, (name, hemispheres, limit) in _POSITIONS.items():
        row[column] = _degrees(_property(text, prefixes[_EXIF], name), name, hemispheres,
                               limit, warnings)
    row["warnings"] = warnings
    return row


def xmp_serial(packet: bytes) -> str | None:
    """The camera body's serial number an XMP packet holds, as written; None when none."""
    text = _decode(packet)
    prefixes = _prefixes(text)
    return next(filter(None, (_property(text, prefixes[namespace], name)
                              for namespace, name in _SERIALS)), None)


def _decode(packet: bytes) -> str:
    """The packet as text: UTF-8, or UTF-16 when its first characters say so (XMP allows it)."""
    if packet[1:2] == b"\x00" and packet[3:4] == b"\x00":
        return packet.decode("utf-16-le", "replace")
    if packet[:1] == b"\x00" and packet[2:3] == b"\x00":
        return packet.decode("utf-16-be", "replace")
    return packet.decode("utf-8", "replace")


def _prefixes(text: str) -> dict[str, tuple[str, ...]]:
    """Namespace -> the prefixes naming it in this packet: those it declares, and the usual
    ones it leaves undeclared."""
    declared: dict[str, str] = {}
    for match in _DECLARATION.finditer(text):
        declared.setdefault(match.group(1), match.group(2) or match.group(3) or "")
    return {namespace: (*(p for p, uri in declared.items() if uri == namespace),
                        *(p for p in usual if p not in declared))
            for namespace, usual in _USUAL_PREFIXES.items()}


@lru_cache(maxsize=64)
def _pattern(prefixes: tuple[str, ...], name: str) -> re.Pattern:
    """The property in attribute form (group 1 or 2) or element form (group 4)."""
    qualified = "(?:%s):%s" % ("|".join(map(re.escape, prefixes)), name)
    return re.compile(
        rf"(?<![\w.:-]){qualified}\s*=\s*(?:\"([^\"]*)\"|'([^']*)')"
        rf"|<({qualified})(?=[\s>])[^>]*(?<!/)>(.*?)</\3\s*>", re.DOTALL)


def _property(text: str, prefixes: tuple[str, ...], name: str) -> str | None:
    """The first value of the property in the packet, unescaped and trimmed; None when absent
    or blank."""
    found = text.find(f":{name}") if prefixes else -1
    if found < 0:
        return None
    # Every match holds ":Name" within a prefix and a "<" of its start: the regex, which would
    # try every character of a large packet (a thumbnail, a history), starts just before it.
    start = max(0, found - max(map(len, prefixes)) - 1)
    match = _pattern(prefixes, name).search(text, start)
    if match is None:
        return None
    value = match.group(1) if match.group(1) is not None else match.group(2)
    if value is None:
        value = match.group(4)
        if "<" in value:
            item = _FIRST_ITEM.search(value)
            value = item.group(1) if item else ""
    return html.unescape(value).strip() or None


def _degrees(value: str | None, name: str, hemispheres: str, limit: int,
             warnings: list[str]) -> float | None:
    """Signed decimal degrees of an XMP GPSCoordinate; None, with a warning, when it cannot be
    read or lies out of range."""
    if value is None:
        return None
    match = _COORDINATE.fullmatch(value)
    if match is None or match.group(4).upper() not in hemispheres:
        warnings.append(f"XMP {name} unreadable ({value[:_QUOTE_CHARS]})")
        return None
    degrees, minutes, seconds = (float(part or 0) for part in match.group(1, 2, 3))
    total = degrees + minutes / 60 + seconds / 3600
    if minutes >= 60 or seconds >= 60 or total > limit:
        warnings.append(f"XMP {name} out of range ({value[:_QUOTE_CHARS]})")
        return None
    return -total if match.group(4).upper() in "SW" else total
