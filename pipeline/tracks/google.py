"""Google Takeout location history: `Records.json` (every raw fix) and the Semantic Location
History monthly files (`2019_MARCH.json`: place visits and activity segments).

Coordinates are E7 integers (degrees x 10^7). Times are ISO text (`timestamp`,
`startTimestamp`) or, in older exports, epoch milliseconds as text (`timestampMs`, ...).
"""
from __future__ import annotations

from typing import BinaryIO

import ijson

from .rows import Found


def read_records(stream: BinaryIO, found: Found) -> None:
    """Records.json: {"locations": [{latitudeE7, longitudeE7, timestamp | timestampMs}, ...]}."""
    add = found.points.add
    for record in ijson.items(stream, "locations.item", use_float=True):
        record = as_object(record)
        add(record.get("latitudeE7"), record.get("longitudeE7"), _when(record, "timestamp"))


def read_semantic(stream: BinaryIO, found: Found) -> None:
    """{"timelineObjects": [{"placeVisit": ...} | {"activitySegment": ...}, ...]}.

    A place visit is a stay: an interval at its place. An activity segment is movement, often a
    flight across zones, so it is never an interval: its start and end locations become points
    at its start and end, and its simplified raw path adds its own timed points.
    """
    for item in ijson.items(stream, "timelineObjects.item", use_float=True):
        item = as_object(item)
        if "placeVisit" in item:
            visit = as_object(item["placeVisit"])
            place = as_object(visit.get("location"))
            duration = as_object(visit.get("duration"))
            found.intervals.add(place.get("latitudeE7", visit.get("centerLatE7")),
                                place.get("longitudeE7", visit.get("centerLngE7")),
                                _when(duration, "startTimestamp"), _when(duration, "endTimestamp"))
            _raw_path(visit, found)
        elif "activitySegment" in item:
            segment = as_object(item["activitySegment"])
            duration = as_object(segment.get("duration"))
            for edge in ("start", "end"):
                place = as_object(segment.get(f"{edge}Location"))
                found.points.add(place.get("latitudeE7"), place.get("longitudeE7"),
                                 _when(duration, f"{edge}Timestamp"))
            _raw_path(segment, found)


def _raw_path(parent: dict, found: Found) -> None:
    for point in as_object(parent.get("simplifiedRawPath")).get("points") or ():
        point = as_object(point)
        found.points.add(point.get("latE7"), point.get("lngE7"), _when(point, "timestamp"))


def _when(holder: dict, key: str):
    """`holder[key]` (ISO text), else `holder[key + "Ms"]`, the older exports' epoch
    milliseconds as text ('1400000018611' -> 1400000018611). Anything else is passed on as
    text, to be counted as a time that names no instant; absent is None."""
    value = holder.get(key)
    if value is not None:
        return value if isinstance(value, str) else str(value)
    value = holder.get(key + "Ms")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if value is None or isinstance(value, (int, float)) else str(value)


def as_object(value) -> dict:
    """A JSON object, or an empty one where the file has something else."""
    return value if isinstance(value, dict) else {}
