"""GPX 1.0 and 1.1: track points and waypoints that carry a time.

GPX times are UTC by the format's definition, so a time written without Z is read as UTC.
Route points are plans, not places visited, and are not read.
"""
from __future__ import annotations

from typing import BinaryIO

from .rows import Found
from .xmlstream import child_text, ends

_POINTS = frozenset({"trkpt", "wpt"})


def read(stream: BinaryIO, found: Found) -> None:
    for name, element, _ in ends(stream, keep=_POINTS):
        if name in _POINTS:
            when = child_text(element, "time")
            if when is not None or name == "trkpt":  # an untimed waypoint is a place, not a visit
                found.points.add(element.get("lat"), element.get("lon"), when)
