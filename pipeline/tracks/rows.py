"""Track rows gathered a chunk at a time: readers append raw values (text or numbers, as the
file has them) to plain lists; every CHUNK rows these are parsed and checked in one vectorized
pass into an Arrow record batch, so no Python object per point outlives its chunk.

A row whose time or position cannot be read, or lies out of range, is dropped and counted.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TRACK_INTERVALS, TRACK_POINTS, to_pandas
from ..zones import MAX_OFFSET, MIN_OFFSET

CHUNK = 50_000

#: A time of day followed by Z or an offset: the only ISO text that names an instant.
_ZONED = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
_TIMED = r"\d:\d\d"


def numbers(values: list) -> np.ndarray:
    """Raw values (numbers, numeric text, None) -> float64; anything else -> NaN."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)


def instants_ms(texts: pa.Array, naive_utc: bool = False) -> np.ndarray:
    """ISO 8601 text -> UTC epoch milliseconds (float64; NaN where null or unreadable).

    Text must carry Z or an offset: that offset only fixes the instant (it is the exporter's
    zone, not the place's). Text without one is unreadable, unless `naive_utc` (GPX, whose
    times are UTC by definition). Arrow parses a clean chunk in C; only a chunk with an odd
    spelling pays for pandas' lenient ISO parser.
    """
    try:
        parsed = pc.cast(texts, pa.timestamp("ms", tz="UTC"))
    except pa.ArrowInvalid:
        texts = pc.utf8_trim_whitespace(texts)
        lenient = pd.to_datetime(texts.to_pandas(), utc=True, format="ISO8601", errors="coerce")
        parsed = pc.cast(pa.array(lenient), pa.timestamp("ms", tz="UTC"), safe=False)
        qualified = pc.match_substring_regex(texts, _TIMED if naive_utc else _ZONED)
        parsed = pc.if_else(pc.fill_null(qualified, False), parsed, None)
    return pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)


class Found:
    """Everything one file yields: its points, its intervals, and the bad rows counted.

    `scale` multiplies every coordinate (1e-7 for Google's E7 integers); `naive_utc` reads
    zoneless times as UTC (GPX only). With a `sink`, each checked chunk is handed to
    `sink(table, batch)` ("points" or "intervals") as soon as it is parsed, instead of being
    kept: memory then stays that of one chunk, whatever the file's size.
    """

    def __init__(self, source: str, *, scale: float = 1.0, naive_utc: bool = False,
                 sink: Callable[[str, pa.RecordBatch], None] | None = None):
        self.source = source
        self.scale = scale
        self.naive_utc = naive_utc
        self.sink = sink
        self.skipped = 0
        self.first_skip: str | None = None
        self.points = Points(self)
        self.intervals = Intervals(self)

    def skip(self, count: int, reason: str) -> None:
        self.skipped += count
        self.first_skip = self.first_skip or reason

    def flush(self) -> None:
        """Parse and check what is pending in both tables (to the sink, when there is one)."""
        self.points.flush()
        self.intervals.flush()


class _Rows:
    """Rows of one table, parsed and checked CHUNK at a time into Arrow record batches."""

    name: str  # "points" or "intervals", as a sink hears it
    schema: pa.Schema
    times: tuple[str, ...]
    offsets: tuple[str, ...]

    def __init__(self, found: Found):
        self.found = found
        self._lat: list = []
        self._lon: list = []
        self._texts = tuple([] for _ in self.times)  # ISO text, or None
        self._numbers = tuple([] for _ in self.times)  # minutes after the text's instant, or
        # (where there is no text) the time itself in epoch milliseconds
        self._offset_values = tuple([] for _ in self.offsets)
        self._batches: list[pa.RecordBatch] = []  # every column but `source` (one name)
        self._batch_schema = self.schema.remove(self.schema.get_field_index("source"))

    def _time(self, i: int, when, minutes_later) -> None:
        if when.__class__ is str:
            self._texts[i].append(when)
            self._numbers[i].append(minutes_later)
        else:
            self._texts[i].append(None)
            self._numbers[i].append(when)

    def flush(self) -> None:
        """Parse and check the pending rows; keep the good ones as a record batch."""
        if not self._lat:
            return
        found = self.found
        lat, lon = numbers(self._lat) * found.scale, numbers(self._lon) * found.scale
        times = []
        for texts, values in zip(self._texts, self._numbers):
            text, values = pa.array(texts, type=pa.string()), numbers(values)
            has_text = text.is_valid().to_numpy(zero_copy_only=False)
            times.append(np.where(
                has_text, instants_ms(text, found.naive_utc) + values * 60_000, values))
        timed = np.logical_and.reduce([np.isfinite(t) for t in times])
        placed = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        ordered = times[0] <= times[-1]
        good = timed & placed & ordered
        if not good.all():
            found.skip(int((~good).sum()), self._why(int(np.argmin(good)), times, lat, lon))
        columns = {name: np.where(timed, values, 0).astype(np.int64)
                   for name, values in zip(self.times, times)}
        columns.update(lat=lat, lon=lon)
        for name, values in zip(self.offsets, self._offset_values):
            minutes = numbers(values)
            known = (minutes == np.round(minutes)) & (minutes >= MIN_OFFSET) & (minutes <= MAX_OFFSET)
            columns[name] = pa.array(np.where(known, minutes, 0).astype(np.int32), mask=~known)
        kept = pa.array(good)  # filtering copies into Arrow's pool, which frame() gives back
        batch = pa.RecordBatch.from_arrays(
            [pc.filter(columns[f.name], kept) for f in self._batch_schema], schema=self._batch_schema)
        if found.sink is None:
            self._batches.append(batch)
        else:
            found.sink(self.name, batch)
        for pending in (self._lat, self._lon, *self._texts, *self._numbers, *self._offset_values):
            pending.clear()

    def _why(self, i: int, times: list, lat: np.ndarray, lon: np.ndarray) -> str:
        """Why row `i` of the pending chunk was dropped, in words for the user."""
        for at, texts, values in zip(times, self._texts, self._numbers):
            if not np.isfinite(at[i]):
                if texts[i] is None:
                    return ("a row without a time" if values[i] is None else
                            f"a time that names no instant ({_shown(values[i])})")
                later = f" + {_shown(values[i])} minutes" if values[i] != 0 else ""
                return f"a time that names no instant ({_shown(texts[i])}{later})"
        if np.isnan(lat[i]) or np.isnan(lon[i]):
            return f"a row without a position ({_shown(self._lat[i])}, {_shown(self._lon[i])})"
        if not (np.abs(lat[i]) <= 90 and np.abs(lon[i]) <= 180):
            return f"a position out of range ({lat[i]:g}, {lon[i]:g})"
        return "a stay that ends before it starts"

    def frame(self) -> pd.DataFrame:
        """The gathered rows as a DataFrame of the schema's dtypes.

        The batches are copied oldest first into preallocated columns and handed back to the
        OS as they go, so the table never sits in memory twice.
        """
        self.flush()
        rows = sum(batch.num_rows for batch in self._batches)
        values = {field.name: np.empty(rows, _NUMPY[field.type]) for field in self._batch_schema}
        unknown = {name: np.empty(rows, bool) for name in self.offsets}
        at = 0
        for batch in self._drain():
            end = at + batch.num_rows
            for name, column in values.items():
                chunk = batch.column(name)
                if name in unknown:
                    unknown[name][at:end] = chunk.is_null().to_numpy(zero_copy_only=False)
                    chunk = chunk.fill_null(0)
                column[at:end] = chunk.to_numpy()
            at = end
        columns = {name: pd.arrays.IntegerArray(values.pop(name), unknown[name])
                   for name in self.offsets}
        columns.update(lat=values.pop("lat"), lon=values.pop("lon"))
        for name in self.times:  # pandas has no zero-copy way to a zoned time column: one copy
            columns[name] = self._pandas(name, pa.array(values.pop(name)))  # each, made last
        columns["source"] = self._pandas("source", pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(rows, np.int32)), pa.array([self.found.source])))
        return pd.DataFrame(columns, copy=False)[self.schema.names]

    def _pandas(self, name: str, values: pa.Array) -> pd.Series:
        """One column, in the dtype schema.to_pandas gives it everywhere else."""
        field = self.schema.field(name)
        return to_pandas(pa.table([values.cast(field.type)], schema=pa.schema([field])))[name]

    def _drain(self):
        """The batches oldest first, each dropped after use and its memory handed back to the
        OS (Arrow's allocator keeps freed memory otherwise)."""
        self._batches.reverse()
        while self._batches:
            yield self._batches.pop()
            pa.default_memory_pool().release_unused()


def _shown(value) -> str:
    """A raw value quoted for a one-line message: escaped, and cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_NUMPY = {pa.timestamp("ms", tz="UTC"): np.int64, pa.float64(): np.float64, pa.int32(): np.int32}


class Points(_Rows):
    """Points: a position at one instant, with the phone's own UTC offset where it has one."""

    name = "points"
    schema = TRACK_POINTS
    times = ("utc_time",)
    offsets = ("utc_offset_minutes",)

    def add(self, lat, lon, when, offset=None, minutes_later=0) -> None:
        """`when` is ISO text (`minutes_later` than it, iOS's way), or epoch milliseconds;
        None if absent. Coordinates and offsets may be numbers or numeric text."""
        self._lat.append(lat)
        self._lon.append(lon)
        self._time(0, when, minutes_later)
        self._offset_values[0].append(offset)
        if len(self._lat) >= CHUNK:
            self.flush()


class Intervals(_Rows):
    """Stays: one position from a start to an end instant, with the phone's offsets there."""

    name = "intervals"
    schema = TRACK_INTERVALS
    times = ("utc_start", "utc_end")
    offsets = ("start_offset_minutes", "end_offset_minutes")

    def add(self, lat, lon, start, end, start_offset=None, end_offset=None) -> None:
        self._lat.append(lat)
        self._lon.append(lon)
        self._time(0, start, 0)
        self._time(1, end, 0)
        self._offset_values[0].append(start_offset)
        self._offset_values[1].append(end_offset)
        if len(self._lat) >= CHUNK:
            self.flush()
