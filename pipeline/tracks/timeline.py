"""Google Maps Timeline exported from the phone itself (since Timeline moved on-device).

Android (`Timeline.json`): {"semanticSegments": [...], "rawSignals": [...], ...}, positions as
"48.1234567°, 11.1234567°". iOS (`location-history.json`): a top-level array of segments,
positions as "geo:48.123456,11.123456", path points timed by `durationMinutesOffsetFromStartTime`.

A segment's `startTimeTimezoneUtcOffsetMinutes` / `endTimeTimezoneUtcOffsetMinutes` is the
offset the phone itself was on at that time, and is kept; the offset written inside `startTime`
only fixes the instant.
"""
from __future__ import annotations

from typing import BinaryIO

import ijson

from .google import as_object
from .rows import Found


def read_android(stream: BinaryIO, found: Found) -> None:
    """Semantic segments, then the raw position signals (a second pass over the file: ijson
    follows one path at a time, and the file is on disk)."""
    for segment in ijson.items(stream, "semanticSegments.item", use_float=True):
        _segment(as_object(segment), found)
    stream.seek(0)
    for signal in ijson.items(stream, "rawSignals.item", use_float=True):
        position = as_object(as_object(signal).get("position"))
        if position:
            found.points.add(*_lat_lon(position.get("LatLng")), position.get("timestamp"))


def read_ios(stream: BinaryIO, found: Found) -> None:
    for segment in ijson.items(stream, "item", use_float=True):
        _segment(as_object(segment), found)


def _segment(segment: dict, found: Found) -> None:
    """A visit is a stay (an interval at its place); an activity gives its start and end points;
    a timeline path gives its points, each with the phone's offset where the segment's start
    and end agree on one."""
    start, end = segment.get("startTime"), segment.get("endTime")
    start_offset = segment.get("startTimeTimezoneUtcOffsetMinutes")
    end_offset = segment.get("endTimeTimezoneUtcOffsetMinutes")
    if "visit" in segment:
        place = as_object(as_object(segment["visit"]).get("topCandidate")).get("placeLocation")
        found.intervals.add(*_lat_lon(place), start, end, start_offset, end_offset)
    if "activity" in segment:
        activity = as_object(segment["activity"])
        found.points.add(*_lat_lon(activity.get("start")), start, start_offset)
        found.points.add(*_lat_lon(activity.get("end")), end, end_offset)
    path_offset = start_offset if start_offset == end_offset else None
    for step in segment.get("timelinePath") or ():
        step = as_object(step)
        if "time" in step:
            found.points.add(*_lat_lon(step.get("point")), step["time"], path_offset)
        else:
            found.points.add(*_lat_lon(step.get("point")), start, path_offset,
                             minutes_later=step.get("durationMinutesOffsetFromStartTime"))


def _lat_lon(value) -> tuple[str | None, str | None]:
    """"48.1°, 11.2°", "geo:48.1,11.2" or {"latLng": ...} -> (lat, lon) as text, which
    rows.numbers reads."""
    if isinstance(value, dict):
        value = value.get("latLng", value.get("LatLng"))
    if not isinstance(value, str):
        return None, None
    lat, _, lon = value.removeprefix("geo:").replace("°", "").partition(",")
    return lat, lon

