"""Location history files -> track points and stays, whatever app wrote them.

`read_track(path)` sniffs the format from the file's content (the extension is not trusted:
Takeout names its JSON files freely, phones export `.json` in three shapes) and streams it:
JSON through ijson, XML through iterparse dropping each element once read, CSV through Arrow's
incremental reader; rows are parsed a chunk at a time (see `rows`), so memory follows the
points kept, not the file's size.

Formats: GPX 1.0/1.1 (`gpx`), KML/KMZ (`kml`), Google Takeout Records.json and Semantic Location
History (`google`), the phone's own Timeline export from Android and iOS (`timeline`), GeoJSON
(`geojson`) and CSV (`csv`).
"""
from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import ijson
import pandas as pd
import pyarrow as pa

from . import csv, geojson, gpx, google, kml, timeline
from .rows import Found
from .xmlstream import root_name

#: Each format: what reads it, and how its numbers are written.
_FORMATS: dict[str, tuple[Callable[[BinaryIO, Found], None], dict]] = {
    "gpx": (gpx.read, {"naive_utc": True}),
    "kml": (kml.read, {}),
    "kmz": (kml.read_kmz, {}),
    "google-records": (google.read_records, {"scale": 1e-7}),
    "google-semantic": (google.read_semantic, {"scale": 1e-7}),
    "timeline-android": (timeline.read_android, {}),
    "timeline-ios": (timeline.read_ios, {}),
    "geojson": (geojson.read, {}),
    "overland-geojson": (functools.partial(geojson.read, prefix="locations.item"), {}),
    "csv": (csv.read, {}),
}

_WHAT_WE_READ = ("GPX, KML/KMZ, Google location history (Takeout Records.json or Semantic "
                 "Location History, or the phone's Timeline export), GeoJSON points, or CSV with "
                 "time, lat and lon columns")

#: Keys of an iOS Timeline segment, any of which may come first.
_IOS_SEGMENT_KEYS = {"startTime", "endTime", "visit", "activity", "timelinePath", "timelineMemory",
                     "startTimeTimezoneUtcOffsetMinutes", "endTimeTimezoneUtcOffsetMinutes"}

#: How many JSON events the sniffer reads before giving up on an unknown document.
_SNIFF_EVENTS = 100_000


class TrackError(ValueError):
    """A file that is not location history, or is broken past reading; the message names the
    file (the CLI prints it through its one-line escaping, as every error)."""


@dataclass
class TrackData:
    """What one file holds: `points` (schema TRACK_POINTS), `intervals` (TRACK_INTERVALS), how
    many rows were `skipped` as unreadable and why the first was (`first_skip`), and the
    `format` it was read as."""

    points: pd.DataFrame
    intervals: pd.DataFrame
    skipped: int
    first_skip: str | None
    format: str


def read_track(path: str | os.PathLike, source: str | None = None) -> TrackData:
    """Read one location history file; `source` (default: the file's name) labels its rows."""
    found, kind = _read(Path(path), source, None)
    return TrackData(found.points.frame(), found.intervals.frame(), found.skipped,
                     found.first_skip, kind)


@dataclass
class Streamed:
    """What `stream_track` read besides the rows it handed over: rows `skipped` as unreadable,
    why the first was (`first_skip`), and the `format`."""

    skipped: int
    first_skip: str | None
    format: str


def stream_track(path: str | os.PathLike, sink: Callable[[str, pa.RecordBatch], None]
                 ) -> Streamed:
    """Read one location history file a chunk at a time: each chunk of checked rows goes to
    `sink("points" | "intervals", batch)` as it is parsed (columns of TRACK_POINTS or
    TRACK_INTERVALS but `source`), so a file of any size reads in the memory of one chunk."""
    found, kind = _read(Path(path), None, sink)
    found.flush()
    return Streamed(found.skipped, found.first_skip, kind)


def _read(path: Path, source: str | None, sink) -> tuple[Found, str]:
    """The file read into a Found (rows kept, or handed to `sink`), and its format; TrackError
    for a file that is no location history or is broken past reading."""
    kind = None
    try:
        with open(path, "rb") as stream:
            kind = sniff(stream)
            if kind is None:
                raise TrackError(f"{path}: not a location history file; expected {_WHAT_WE_READ}")
            read, numbers = _FORMATS[kind]
            found = Found(source or path.name, sink=sink, **numbers)
            stream.seek(0)
            read(stream, found)
    except ET.ParseError as error:
        raise TrackError(f"{path}:{error.position[0]}: broken XML ({error})") from None
    except ijson.JSONError as error:
        raise TrackError(f"{path}: broken JSON ({error})") from None
    except zipfile.BadZipFile as error:
        raise TrackError(f"{path}: not a KMZ ({error})") from None
    except pa.ArrowInvalid as error:  # CSV: an unclosed quote, bytes that are not UTF-8
        if kind != "csv":
            raise
        raise TrackError(f"{path}: broken CSV ({error})") from None
    except OSError as error:
        raise TrackError(f"{path}: cannot be read ({error.strerror or error})") from None
    return found, kind


def sniff(stream: BinaryIO) -> str | None:
    """The format (a key of _FORMATS) of the file at the stream's start, from its content."""
    head = stream.read(4096)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04"):
        return "kmz"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        try:
            root = root_name(stream)
        except ET.ParseError:
            return None
        return root if root in ("gpx", "kml") else None
    if start in (b"{", b"["):
        return _json_shape(stream)
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "csv" if csv.columns(first_line) else None


def _json_shape(stream: BinaryIO) -> str | None:
    """Which Google/GeoJSON shape a JSON document has, from its first telling keys."""
    keys = {"timelineObjects": "google-semantic", "semanticSegments": "timeline-android",
            "rawSignals": "timeline-android", "userLocationProfile": "timeline-android",
            "features": "geojson"}
    events = ijson.parse(stream, use_float=True)
    try:
        for count, (prefix, event, value) in enumerate(events):
            if count > _SNIFF_EVENTS:
                return None
            if prefix == "" and event == "map_key" and value in keys:
                return keys[value]
            if prefix == "type" and value == "FeatureCollection":
                return "geojson"
            if prefix == "item" and event == "map_key":  # the iOS export is the only array
                return "timeline-ios" if value in _IOS_SEGMENT_KEYS else None
            if prefix == "" and event == "end_array":
                return "timeline-ios"  # empty
            if prefix == "locations.item" and event == "map_key":  # Takeout's, or Overland's
                return "overland-geojson" if value in ("type", "geometry", "properties") else (
                    "google-records")
            if prefix == "locations" and event == "end_array":
                return "google-records"  # empty
    except ijson.JSONError:
        return None
    return None

