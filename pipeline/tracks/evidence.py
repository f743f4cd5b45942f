"""Location history as zone evidence: where data/tracks.parquet puts a photo, and in which zone.

A photo without an instant is matched through its local time: for each candidate zone Z the
track visits within ±SEARCH_HOURS of it, the instant would be u = local − offset_Z(local); Z
fits when the track at u (an interval holding u, else the nearest point within the window)
lies in Z. Where that point or interval carries the phone's own offset (Google Timeline), the
offset decides: Z fits only with that offset at u, and where no named zone fits, the offset
itself is a candidate (a fixed zone like -07:00: the phone kept another zone than the place's).
Of several fits the nearest in time wins; fits at different instants are ambiguous.

Everything is numpy over sorted arrays (np.searchsorted, the arithmetic of merge_asof): one
pass per candidate zone, never per photo.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ..text import dictionary_codes
from ..zones import format_offset, localize

WINDOW_MINUTES = 30  # the nearest point counts when it is this close to the instant
SEARCH_HOURS = 14  # the widest offset: zones visited further from the local time cannot fit
CONFLICT_KM = 50  # a photo's own GPS this far from the track at its instant: track_conflict
EARTH_KM = 6371.0
NO_TIME = np.iinfo(np.int64).min
MINUTE_MS = 60_000
#: The columns of data/tracks.parquet evidence reads (not `kind`, nor `source`).
EVIDENCE_COLUMNS = ["utc_time", "utc_end", "lat", "lon", "zone", "utc_offset_minutes",
                    "end_offset_minutes"]


@dataclass
class TrackArrays:
    """data/tracks.parquet as numpy: points by time, intervals by start (with the running
    furthest end and which interval reaches it; `point_rows`, `stay_rows` their rows in the
    table, whose lat and lon columns stay Arrow), zone codes into `zones`, the phone's offsets
    (NaN where none), and `spans`: runs of consecutive points, then the intervals twice (with
    their start's, then their end's offset), each with one zone and one recorded offset: what
    decides which candidates a photo's day visits."""

    times: np.ndarray
    point_rows: slice | np.ndarray
    zone: np.ndarray
    offset: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    reach: np.ndarray
    reach_row: np.ndarray
    stay_rows: slice | np.ndarray
    izone: np.ndarray
    start_offset: np.ndarray
    end_offset: np.ndarray
    zones: list
    span_start: np.ndarray
    span_end: np.ndarray
    span_zone: np.ndarray
    span_offset: np.ndarray
    lat: pa.ChunkedArray
    lon: pa.ChunkedArray

    def position(self, points: np.ndarray, stays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of the point or interval at each instant (its position
        among the points, or among the intervals; -1 none), NaN where neither. Taken from
        the table's columns, never copied whole: only matched photos need a position."""
        rows = np.full(len(points), -1, dtype=np.int64)
        for kind, at in ((self.point_rows, points), (self.stay_rows, stays)):
            hit = np.flatnonzero(at >= 0)
            rows[hit] = at[hit] + kind.start if isinstance(kind, slice) else kind[at[hit]]
        rows = pa.array(rows, mask=rows < 0)
        return tuple(column.take(rows).to_numpy(zero_copy_only=False).astype("float64")
                     for column in (self.lat, self.lon))


def read_evidence(ws) -> pa.Table | None:
    """The EVIDENCE_COLUMNS of the workspace's data/tracks.parquet (None without one), its
    schema checked as Workspace.load checks it: of ten million points, `kind` and `source`
    (never consulted) are not decoded."""
    import pyarrow.parquet as pq

    if not ws.tracks.exists():
        return None
    ws.metadata("tracks")  # TableUnreadable unless it is photoflux's
    try:
        return pq.read_table(ws.tracks, columns=EVIDENCE_COLUMNS)
    except (pa.ArrowException, OSError) as exc:
        raise ws.unreadable("tracks", exc) from None


def _ms(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 milliseconds, NO_TIME for null; a column of nulls only (the ends,
    where there are only points) as a read-only view of one value."""
    if column.null_count == len(column):
        return np.broadcast_to(np.int64(NO_TIME), len(column))
    ints = column.cast(pa.int64())  # the same buffers, read as integers
    return (ints.fill_null(NO_TIME) if ints.null_count else ints).to_numpy()


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64, NaN for null; a column of nulls only (the offsets, outside Google
    Timeline) as a read-only view of one NaN, which costs no memory."""
    if column.null_count == len(column):
        return np.broadcast_to(np.float64(np.nan), len(column))
    return column.to_numpy().astype(np.float64, copy=False)


def track_arrays(table: pa.Table) -> TrackArrays:
    """A TRACKS table (stored order: points by time, then intervals by start) as arrays."""
    zone, zones = dictionary_codes(table.column("zone"))
    times, ends = _ms(table.column("utc_time")), _ms(table.column("utc_end"))
    offset, end_offset = (_floats(table.column(name))
                          for name in ("utc_offset_minutes", "end_offset_minutes"))
    p, i = _kinds(ends, table.column("utc_end").null_count, times)
    point_times, point_zone, point_offset = times[p], zone[p], offset[p]
    starts, stops, stay_zone = times[i], ends[i], zone[i]
    stay_offset, stay_end_offset = offset[i], end_offset[i]
    reach_row = _running_argmax(stops)
    # runs of consecutive points sharing zone and recorded offset, then every interval
    changed = point_zone[1:] != point_zone[:-1]
    if point_offset.strides != (0,):  # some offsets recorded (else the one-NaN view)
        key_offset = np.nan_to_num(point_offset, nan=1e9)
        changed |= key_offset[1:] != key_offset[:-1]
    change = np.flatnonzero(changed)
    count = len(point_times)
    first = np.concatenate([[0], change + 1]) if count else np.array([], dtype=np.int64)
    last = np.concatenate([change, [count - 1]]) if count else first
    return TrackArrays(
        point_times, p, point_zone, point_offset, starts, stops,
        stops[reach_row], reach_row, i, stay_zone, stay_offset, stay_end_offset,
        zones, np.concatenate([point_times[first], starts, starts]),
        np.concatenate([point_times[last], stops, stops]),
        np.concatenate([point_zone[first], stay_zone, stay_zone]),
        np.concatenate([point_offset[first], stay_offset, stay_end_offset]),
        table.column("lat"), table.column("lon"))


def _kinds(ends: np.ndarray, points: int, times: np.ndarray
           ) -> tuple[slice | np.ndarray, slice | np.ndarray]:
    """The rows of the `points` points, then of the intervals (an interval always has its
    end), each in time order: as two slices, without a scan for their positions, when the
    table is stored as photoflux stores it (points first)."""
    stored = (points == len(ends) if ends.strides == (0,)  # the one-value view: only points
              else (ends[:points] == NO_TIME).all() and (ends[points:] != NO_TIME).all())
    if stored:
        return _by_time(slice(0, points), times), _by_time(slice(points, len(ends)), times)
    point = ends == NO_TIME
    return _by_time(np.flatnonzero(point), times), _by_time(np.flatnonzero(~point), times)


def _by_time(rows: slice | np.ndarray, times: np.ndarray) -> slice | np.ndarray:
    """The rows (a run, or positions) in time order: a slice (no copy) when they are one
    sorted run, as each kind of a stored table is; else their positions, sorted."""
    if isinstance(rows, np.ndarray) and len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        rows = slice(int(rows[0]), int(rows[-1]) + 1)
    if isinstance(rows, slice):
        mine = times[rows]
        if (mine[1:] >= mine[:-1]).all():
            return rows
        rows = np.arange(rows.start, rows.stop)
    return rows[np.argsort(times[rows], kind="stable")]


def _running_argmax(values: np.ndarray) -> np.ndarray:
    """For each position, the position of the largest value up to it (the latest such)."""
    if not len(values):
        return np.array([], dtype=np.int64)
    best = np.maximum.accumulate(values)
    is_new = np.concatenate([[True], values[1:] >= best[:-1]])
    return np.maximum.accumulate(np.where(is_new, np.arange(len(values)), 0))


@dataclass
class Hit:
    """What the track says at each instant: found, which point or interval (row, -1 none; an
    interval holding the instant wins), in which zone (code, -1 none), how far in time from
    it (ms; 0 inside an interval) and the phone's offsets there (NaN for none: a point's; an
    interval's at its start and at its end, a DST change between). The position is read only
    when asked for (TrackArrays.position): matching needs the zone alone."""

    found: np.ndarray
    point: np.ndarray
    stay: np.ndarray
    zone: np.ndarray
    gap_ms: np.ndarray
    offset: np.ndarray
    end_offset: np.ndarray

    def recorded(self, minutes) -> np.ndarray:
        """Where the phone recorded `minutes` (a number or one per instant) there."""
        return (self.offset == minutes) | (self.end_offset == minutes)


def track_at(track: TrackArrays, instants: np.ndarray, window_ms: int) -> Hit:
    """The track at each instant (int64 ms, NO_TIME for none): an interval holding it, else
    the nearest point within `window_ms`."""
    n = len(instants)
    valid = instants != NO_TIME
    found = np.zeros(n, bool)
    point, stay = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    offset, end_offset = np.full(n, np.nan), np.full(n, np.nan)
    zone, gap = np.full(n, -1, dtype=np.int64), np.full(n, np.iinfo(np.int64).max)
    if len(track.times):
        after = np.searchsorted(track.times, instants).clip(1, len(track.times)) - 1
        before_gap = np.abs(instants - track.times[after])
        nxt = (after + 1).clip(0, len(track.times) - 1)
        nearer = np.where(np.abs(track.times[nxt] - instants) < before_gap, nxt, after)
        gap_here = np.abs(instants - track.times[nearer])
        found = valid & (gap_here <= window_ms)
        gap = np.where(found, gap_here, gap)
        point = np.where(found, nearer, point)
        zone = np.where(found, track.zone[nearer], zone)
        offset = np.where(found, track.offset[nearer], offset)
    if len(track.starts):
        last_start = np.searchsorted(track.starts, instants, "right") - 1
        row = track.reach_row[last_start.clip(0)]
        inside = valid & (last_start >= 0) & (track.reach[last_start.clip(0)] >= instants)
        found |= inside
        gap = np.where(inside, 0, gap)
        point, stay = np.where(inside, -1, point), np.where(inside, row, stay)
        zone = np.where(inside, track.izone[row], zone)
        offset = np.where(inside, track.start_offset[row], offset)
        end_offset = np.where(inside, track.end_offset[row], end_offset)
    return Hit(found, point, stay, zone, np.where(found, gap, -1), offset, end_offset)


def _visits(track: TrackArrays, spans: np.ndarray, around: np.ndarray, reach_ms: int
            ) -> np.ndarray:
    """Which instants have one of the `spans` (a mask of track.span_*) within `reach_ms`."""
    starts, ends = track.span_start[spans], track.span_end[spans]
    order = np.argsort(starts, kind="stable")
    starts, furthest = starts[order], np.maximum.accumulate(ends[order])
    last = np.searchsorted(starts, around + reach_ms, "right") - 1
    return (last >= 0) & (furthest[last.clip(0)] >= around - reach_ms)


@dataclass
class TrackZones:
    """Per photo: the zone the track gives (null where none fits) and whether fits at
    different instants were possible (track_ambiguous)."""

    zone: pd.Series
    ambiguous: np.ndarray


def track_zones(track: TrackArrays, local: np.ndarray, instant: np.ndarray, wanted: np.ndarray,
                window_minutes: float, index: pd.Index) -> TrackZones:
    """The zone the track gives each `wanted` photo from its local time (datetime64[ms]) or,
    for a photo known as an instant (datetime64[ms], NaT for none), from that instant. The
    candidates: every zone the track records, then every offset the phone recorded; loops
    run per candidate, over the photos whose day that candidate visits."""
    n = len(local)
    has_instant = ~np.isnat(instant)
    wanted = wanted & (~np.isnat(local) | has_instant)
    around = np.where(has_instant, instant, local).astype("datetime64[ms]").astype(np.int64)
    window_ms = int(window_minutes * MINUTE_MS)
    reach_ms = SEARCH_HOURS * 3_600_000 + window_ms
    candidates = [(name, track.span_zone == code, code, None)
                  for code, name in enumerate(track.zones)]
    named = len(candidates)
    for minutes in np.unique(track.span_offset[~np.isnan(track.span_offset)]).tolist():
        candidates.append((format_offset([int(minutes)]).iloc[0], track.span_offset == minutes,
                           None, minutes))
    best, best_gap = np.full(n, -1), np.full(n, np.iinfo(np.int64).max)
    low, high = np.full(n, np.iinfo(np.int64).max), np.full(n, np.iinfo(np.int64).min)
    for number, (name, spans, zone_code, recorded) in enumerate(candidates):
        if not spans.any():  # a zone a removed source left in the table's dictionary
            continue
        # an offset only where no named zone fits: the place's zone the phone did not keep
        rows = np.flatnonzero(wanted & ((best < 0) | (best >= named)) if zone_code is None
                              else wanted)
        rows = rows[_visits(track, spans, around[rows], reach_ms)]
        if not len(rows):
            continue
        zoned = localize(pd.Series(local[rows]), name)
        applied = zoned["applied"].to_numpy(dtype="float64", na_value=np.nan)
        u = np.where(has_instant[rows], around[rows],
                     around[rows] - np.nan_to_num(applied * MINUTE_MS).astype(np.int64))
        hit = track_at(track, u, window_ms)
        if zone_code is None:  # a recorded offset: the phone said so at u
            fits = hit.found & hit.recorded(recorded)
        else:  # the place's zone; where the phone recorded its offset, that offset too
            at_u = zoned["offset"].to_numpy(dtype="float64", na_value=np.nan)
            unrecorded = np.isnan(hit.offset) & np.isnan(hit.end_offset)
            fits = hit.found & (hit.zone == zone_code) & (
                unrecorded | has_instant[rows] | hit.recorded(at_u))
        rows, u, gap = rows[fits], u[fits], hit.gap_ms[fits]
        nearer = gap < best_gap[rows]  # on a tie the earlier candidate (a named zone) stays
        best[rows[nearer]], best_gap[rows[nearer]] = number, gap[nearer]
        low[rows], high[rows] = np.minimum(low[rows], u), np.maximum(high[rows], u)
    names = np.array([name for name, *_ in candidates] + [None], dtype=object)
    zone = pd.Series(names[best], index=index, dtype="string")
    return TrackZones(zone, (best >= 0) & (low != high))


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (haversine), NaN where a position is missing."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype="float64"))
                              for v in (lat1, lon1, lat2, lon2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_KM * np.arcsin(np.sqrt(a.clip(0, 1)))


class TrackEvidence:
    """data/tracks.parquet (or none) as resolve consults it, with its matching window."""

    def __init__(self, table: pa.Table | None, window_minutes: float = WINDOW_MINUTES):
        self.track = track_arrays(table) if table is not None and table.num_rows else None
        self.window_minutes = window_minutes

    def zones(self, local: pd.Series, instant: np.ndarray, wanted: np.ndarray) -> TrackZones:
        """`track_zones` for the photos (local: a wall clock, NaT where the photo is known as
        an `instant`); no fit anywhere without a track."""
        if self.track is None:
            return TrackZones(pd.Series(pd.NA, index=local.index, dtype="string"),
                              np.zeros(len(local), bool))
        return track_zones(self.track, local.to_numpy(dtype="datetime64[ms]"), instant,
                           np.asarray(wanted, bool), self.window_minutes, local.index)

    def at(self, utc: pd.Series, lat: pd.Series, lon: pd.Series) -> pd.DataFrame:
        """Where the track puts each photo at its instant: track_lat, track_lon,
        track_gap_minutes (null where the track is silent), and `conflict`: the photo's own
        position (`lat`, `lon`) more than CONFLICT_KM away from it."""
        frame = pd.DataFrame({"track_lat": np.nan, "track_lon": np.nan,
                              "track_gap_minutes": np.nan, "conflict": False}, index=utc.index)
        if self.track is None:
            return frame
        utc_ms = (utc.dt.tz_convert(None).astype("datetime64[ms]").to_numpy()
                  .astype(np.int64))
        utc_ms = np.where(utc.isna().to_numpy(), NO_TIME, utc_ms)
        hit = track_at(self.track, utc_ms, int(self.window_minutes * MINUTE_MS))
        track_lat, track_lon = self.track.position(hit.point, hit.stay)
        frame["track_lat"], frame["track_lon"] = track_lat, track_lon
        frame["track_gap_minutes"] = np.where(hit.found, hit.gap_ms / MINUTE_MS, np.nan)
        frame["conflict"] = distance_km(lat, lon, track_lat, track_lon) > CONFLICT_KM
        return frame
