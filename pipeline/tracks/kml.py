"""KML and KMZ: `gx:Track` points (`when` + `gx:coord` "lon lat alt"), and placemarks timed by a
`TimeStamp` (a point) or a `TimeSpan` (a stay at a Point; a LineString gives its first position
at the start and its last at the end, as a movement does).

A time's offset (Google writes the exporting account's zone) only fixes the instant.
"""
from __future__ import annotations

import re
import zipfile
from collections import deque
from typing import BinaryIO

from .rows import Found
from .xmlstream import ends, local


def read(stream: BinaryIO, found: Found) -> None:
    whens: deque = deque()  # of the gx:Track being read, until its positions arrive
    coords: deque = deque()
    for name, element, parent in ends(stream, keep=frozenset({"Placemark"}),
                                      drop=frozenset({"Track"})):
        if parent == "Track" and name in ("when", "coord"):
            (whens if name == "when" else coords).append(element.text)
            while whens and coords:
                found.points.add(*_lat_lon(coords.popleft(), None), whens.popleft())
        elif name == "Track":
            if whens or coords:
                found.skip(len(whens) + len(coords),
                           f"a gx:Track with {len(whens)} more times than positions"
                           if whens else f"a gx:Track with {len(coords)} more positions than times")
            whens.clear()
            coords.clear()
        elif name == "Placemark":
            _placemark(element, found)


def read_kmz(stream: BinaryIO, found: Found) -> None:
    """A KMZ is a zip holding the KML (doc.kml by convention, else the first .kml)."""
    with zipfile.ZipFile(stream) as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".kml")]
        if not names:
            raise zipfile.BadZipFile(
                "no .kml inside; a Takeout archive must be unzipped and its location files added")
        with archive.open("doc.kml" if "doc.kml" in names else names[0]) as inner:
            read(inner, found)


def _placemark(placemark, found: Found) -> None:
    texts: dict[str, str | None] = {}
    for element in placemark.iter():
        name = local(element.tag)
        if name in ("when", "begin", "end", "coordinates", "Point", "LineString", "Track"):
            texts.setdefault(name, element.text)
    if "Track" in texts or not ({"when", "begin", "end"} & texts.keys()):
        return  # a track's points were read as they streamed by; an untimed placemark is a label
    # tuples are split by whitespace; some writers also put a space after a tuple's commas
    positions = re.sub(r"\s*,\s*", ",", texts.get("coordinates") or "").split() or [None]
    if "LineString" in texts and "when" not in texts:
        found.points.add(*_lat_lon(positions[0], ","), texts.get("begin"))
        found.points.add(*_lat_lon(positions[-1], ","), texts.get("end"))
    elif "Point" not in texts:
        found.skip(1, "a timed placemark that is neither a Point nor a LineString")
    elif "when" in texts:
        found.points.add(*_lat_lon(positions[0], ","), texts["when"])
    else:
        found.intervals.add(*_lat_lon(positions[0], ","), texts.get("begin"), texts.get("end"))


def _lat_lon(text: str | None, separator: str | None) -> tuple[str | None, str | None]:
    """'lon<sep>lat[<sep>alt]', KML's order -> (lat, lon) as text, which rows.numbers reads."""
    parts = (text or "").split(separator)
    return (parts[1], parts[0]) if len(parts) >= 2 else (None, None)
