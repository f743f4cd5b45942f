"""data/tracks.parquet: the location history files added with `photoflux tracks add`, as one
table (schema TRACKS) that resolve reads as evidence.

Layout: one row per point and per interval (`kind`); every point first, in time order, then
every interval, by start, each kind in row groups of its own, so resolve reads sorted arrays
and sorts nothing. A point or interval repeated within one file is kept once. The file's
metadata lists the sources (`Source`): the name `photoflux tracks` shows, the file it came
from with its size and modification time (how a re-add finds it unchanged), its format and
counts.

An import streams: the reader hands over chunks, each gets its zones (one lookup per distinct
1e-4 degree cell, `zones.place_zone_codes`) and goes to a scratch Parquet file; the stored
rows and the new ones are then merged into the new table a bounded chunk at a time. Only a
file whose rows are out of time order is sorted in memory (a Timeline export lists its
segments, then its raw signals).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..schema import TRACKS
from ..text import dictionary_codes
from ..zones import place_zone_codes
from . import TrackData, TrackError, stream_track

POINT, INTERVAL = "point", "interval"
KINDS = (POINT, INTERVAL)
METADATA_KEY = b"photoflux.tracks"
ROW_GROUP_ROWS = 65_536
BATCH_ROWS = 65_536
#: What makes two rows of one kind of one file the same (zone follows from the position).
_ROW_KEY = ("utc_time", "utc_end", "lat", "lon", "utc_offset_minutes", "end_offset_minutes")
#: The reader's column names for each kind, in TRACKS' terms.
_READER_COLUMNS = {
    POINT: {"utc_time": "utc_time", "utc_offset_minutes": "utc_offset_minutes"},
    INTERVAL: {"utc_time": "utc_start", "utc_end": "utc_end",
               "utc_offset_minutes": "start_offset_minutes",
               "end_offset_minutes": "end_offset_minutes"},
}
_KIND_OF_TABLE = {"points": POINT, "intervals": INTERVAL}


@dataclass
class Source:
    """One file added: the `name` its rows go by, where it was read from (`path`, `size`,
    `mtime_ns`), its `format`, the rows kept and skipped (and why the first skip was), and
    when it was `added`."""

    name: str
    path: str
    size: int
    mtime_ns: int
    format: str
    points: int
    intervals: int
    skipped: int
    first_skip: str | None
    added: str

    def unchanged(self, path: Path) -> bool:
        """Whether `path` is this source's file as it was read (same size and mtime)."""
        try:
            stat = path.stat()
        except OSError:
            return False
        return self.path == str(path) and (self.size, self.mtime_ns) == (stat.st_size,
                                                                          stat.st_mtime_ns)


def sources_of(metadata: dict[bytes, bytes]) -> list[Source]:
    """The sources a tracks table's metadata records (ValueError when it is not ours)."""
    recorded = metadata.get(METADATA_KEY)
    try:
        return [Source(**entry) for entry in json.loads(recorded)] if recorded else []
    except (TypeError, ValueError) as exc:
        raise ValueError(f"its list of sources is damaged ({exc})") from None


def source_name(path: Path, taken: dict[str, str]) -> str:
    """The name a file's rows go by: the name it was added under before, else its file name,
    else (another file has that) its folder and file name, else its whole path. `taken` maps
    the names in use to their files' paths."""
    for name, known in taken.items():
        if known == str(path):
            return name
    for name in (path.name, f"{path.parent.name}/{path.name}"):
        if name not in taken:
            return name
    return str(path)


class _Zones:
    """The zone names met during one import, and each chunk's positions as codes into them."""

    def __init__(self):
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def encoded(self, lat: np.ndarray, lon: np.ndarray) -> pa.DictionaryArray:
        codes, names = place_zone_codes(lat, lon)
        ours = np.array([self._code(name) for name in names] + [-1], dtype=np.int32)
        codes = ours[codes]  # a position without a zone (-1) takes the appended -1
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                              pa.array(self.names, pa.string()))

    def _code(self, name: str | None) -> int:
        if name is None:
            return -1
        if name not in self._codes:
            self._codes[name] = len(self.names)
            self.names.append(name)
        return self._codes[name]


def _constant(value: str, rows: int, index_type: pa.DataType) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)).cast(index_type),
                                          pa.array([value], pa.string()))


def as_rows(kind: str, batch: pa.RecordBatch | pa.Table, source: str, zones: _Zones) -> pa.Table:
    """A reader's chunk of points or intervals (TRACK_POINTS / TRACK_INTERVALS columns) as rows
    of TRACKS, with the zone of each position."""
    rows = batch.num_rows
    names = _READER_COLUMNS[kind]
    columns = {
        "kind": _constant(kind, rows, pa.int8()),
        "lat": batch.column("lat"),
        "lon": batch.column("lon"),
        "zone": zones.encoded(np.asarray(batch.column("lat")), np.asarray(batch.column("lon"))),
        "source": _constant(source, rows, pa.int32()),
    }
    for name in ("utc_time", "utc_end", "utc_offset_minutes", "end_offset_minutes"):
        columns[name] = (batch.column(names[name]) if name in names
                         else pa.nulls(rows, TRACKS.field(name).type))
    return pa.table([columns[name] for name in TRACKS.names], schema=TRACKS)


def table_of(data: TrackData, source: str | None = None) -> pa.Table:
    """What `read_track` read, as a TRACKS table in the stored order (for a notebook or a test:
    `resolve(photos, rules, settings, tracks=table_of(read_track(path)))`)."""
    zones = _Zones()
    parts = []
    for kind, frame in ((POINT, data.points), (INTERVAL, data.intervals)):
        name = source or (str(frame["source"].iloc[0]) if len(frame) else "")
        batch = pa.Table.from_pandas(frame, preserve_index=False)
        parts.append(_in_order(as_rows(kind, batch, name, zones)))
    return pa.concat_tables(parts).combine_chunks()


def _in_order(table: pa.Table) -> pa.Table:
    """Rows sorted by time (and, among equal times, by every column of a row), repeats dropped."""
    order = pc.sort_indices(table, [(name, "ascending") for name in _ROW_KEY])
    return _drop_repeats(table.take(order))


def _ms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()))


def _drop_repeats(table: pa.Table) -> pa.Table:
    """Rows in time order without a row repeated: a repeat shares its row's instant, so only
    the rows that share an instant with a neighbour are compared."""
    times = _ms(table.column("utc_time"))
    same = times[1:] == times[:-1]
    if not same.any():
        return table
    tied = np.zeros(len(times), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = np.flatnonzero(tied)
    repeated = table.select(list(_ROW_KEY)).take(rows).to_pandas().duplicated().to_numpy()
    keep = np.ones(len(times), dtype=bool)
    keep[rows[repeated]] = False
    return table.filter(keep)


def _without_repeats(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """`_drop_repeats` over a stream in time order: the rows at a chunk's last instant wait
    for the next chunk, which may repeat them."""
    held = None
    for chunk in chunks:
        table = chunk if held is None else pa.concat_tables([held, chunk])
        times = _ms(table.column("utc_time"))
        cut = int(np.searchsorted(times, times[-1], "left")) if len(times) else 0
        if cut:
            yield _drop_repeats(table.slice(0, cut))
        held = table.slice(cut)
    if held is not None and held.num_rows:
        yield _drop_repeats(held)


class _Scratch:
    """One kind of one file's rows on their way into the table: a Parquet file in the
    workspace's data folder (a killed import leaves it for the next writer to remove), and
    whether they came in time order."""

    def __init__(self, folder: Path):
        import tempfile

        fd, name = tempfile.mkstemp(prefix=".tracks.parquet.", suffix=".tmp", dir=folder)
        os.close(fd)
        self.path = Path(name)
        self.rows = 0
        self.in_order = True
        self._last: int | None = None
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        times = _ms(table.column("utc_time"))
        if len(times):
            self.in_order &= bool((self._last is None or times[0] >= self._last)
                                  and (times[1:] >= times[:-1]).all())
            self._last = int(times[-1])
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, TRACKS)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def chunks(self) -> Iterator[pa.Table]:
        """The rows in time order, each kept once, a chunk at a time."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self.rows:
            return iter(())
        if not self.in_order:
            return _chunked(_in_order(pq.read_table(self.path, schema=TRACKS)))
        return _without_repeats(_stored_chunks(pq.ParquetFile(self.path, pre_buffer=False)))

    def remove(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Imported:
    """A file read into scratch files, ready to merge: its Source (counts still to come)
    and its rows of each kind."""

    source: Source
    scratch: dict[str, _Scratch]

    def remove(self) -> None:
        for scratch in self.scratch.values():
            scratch.remove()


def import_file(path: Path, name: str, folder: Path, added: str) -> Imported:
    """Read one location history file into scratch files in `folder`, streaming: each chunk
    the reader parses gets its zones and is written at once. TrackError (nothing left behind)
    for a file that is no location history."""
    try:
        stat = path.stat()  # before reading: a file changed meanwhile is read again next time
    except OSError as exc:
        raise TrackError(f"{path}: cannot be read ({exc.strerror})") from None
    zones = _Zones()
    scratch = {kind: _Scratch(folder) for kind in KINDS}
    try:
        read = stream_track(path, lambda table, batch: scratch[_KIND_OF_TABLE[table]].write(
            as_rows(_KIND_OF_TABLE[table], batch, name, zones)))
    except BaseException:
        for part in scratch.values():
            part.remove()
        raise
    source = Source(name, str(path), stat.st_size, stat.st_mtime_ns, read.format, 0, 0,
                    read.skipped, read.first_skip, added)
    return Imported(source, scratch)


def _stored_chunks(file: pq.ParquetFile, groups: list[int] | None = None) -> Iterator[pa.Table]:
    for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, use_threads=False):
        yield pa.Table.from_batches([batch]).replace_schema_metadata(None)


def _stored(path: Path | None, kind: str, dropped: set[str]) -> Iterator[pa.Table]:
    """The table's rows of one kind, but those of the `dropped` sources, in its order."""
    if path is None:
        return
    file = pq.ParquetFile(path, pre_buffer=False)
    groups = [group for group in range(file.num_row_groups)
              if file.read_row_group(group, columns=["kind"]).column("kind")[0].as_py() == kind]
    for table in _stored_chunks(file, groups):
        if dropped:
            names = pc.cast(table.column("source"), pa.string())
            table = table.filter(pc.invert(pc.is_in(names, pa.array(sorted(dropped)))))
        if table.num_rows:
            yield table


def _counted(chunks: Iterator[pa.Table], source: Source, field: str) -> Iterator[pa.Table]:
    """The chunks, adding their rows to `source.<field>` as they pass."""
    for chunk in chunks:
        setattr(source, field, getattr(source, field) + chunk.num_rows)
        yield chunk


def _merged(streams: list[Iterator[pa.Table]]) -> Iterator[pa.Table]:
    """Streams each in time order -> one in time order, a bounded chunk at a time: the rows up
    to the earliest of the streams' pending last instants are sorted together and passed on
    (no stream can bring an earlier row later)."""
    pending: list[pa.Table | None] = [None] * len(streams)
    done = [False] * len(streams)
    while True:
        for i, stream in enumerate(streams):
            while not done[i] and (pending[i] is None or pending[i].num_rows == 0):
                pending[i] = next(stream, None)
                done[i] = pending[i] is None
        active = [i for i in range(len(streams)) if pending[i] is not None and pending[i].num_rows]
        if not active:
            return
        cut = min(int(_ms(pending[i].column("utc_time"))[-1]) for i in active)
        parts = []
        for i in active:
            upto = int(np.searchsorted(_ms(pending[i].column("utc_time")), cut, "right"))
            parts.append(pending[i].slice(0, upto))
            pending[i] = pending[i].slice(upto)
        if len(parts) == 1:
            yield parts[0]
            continue
        table = pa.concat_tables(parts).combine_chunks()  # one dictionary per column
        yield table.take(pc.sort_indices(table, [("utc_time", "ascending")]))


def _chunked(table: pa.Table, rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


def _row_groups(chunks: Iterator[pa.Table], rows: int = ROW_GROUP_ROWS) -> Iterator[pa.Table]:
    """Chunks gathered into tables of about `rows` rows: one Parquet row group each."""
    held: list[pa.Table] = []
    count = 0
    for chunk in chunks:
        held.append(chunk)
        count += chunk.num_rows
        if count >= rows:
            yield pa.concat_tables(held)
            held, count = [], 0
    if held:
        yield pa.concat_tables(held)


def write_tracks(target: Path, stored: Path | None, dropped: set[str], imported: list[Imported],
                 sources: list[Source]) -> None:
    """Write the new table to `target`: the `stored` table's rows but the `dropped` sources',
    merged with the `imported` files' rows; its metadata lists `sources` (the imported ones'
    counts are filled in as their rows pass)."""
    with pq.ParquetWriter(target, TRACKS) as writer:
        for kind in KINDS:
            field = "points" if kind == POINT else "intervals"
            streams = [_stored(stored, kind, dropped)] + [
                _counted(part.scratch[kind].chunks(), part.source, field) for part in imported]
            for table in _row_groups(_merged(streams)):
                writer.write_table(table)
        writer.add_key_value_metadata({METADATA_KEY: json.dumps([asdict(s) for s in sources])})


# --- what `photoflux tracks` lists --------------------------------------------------------------

def listing(table: pa.Table | None, sources: list[Source], gaps: int = 3) -> pd.DataFrame:
    """One row per source, in the order added: its name, format, points, intervals, rows
    skipped, first and last instant (UTC), and its `gaps` largest stretches of time with no
    point and no interval (`largest_gaps`: text, largest first)."""
    rows = []
    if sources:
        codes, names = dictionary_codes(table.column("source"))
        starts = _ms(table.column("utc_time"))
        ends = _ms(pc.coalesce(table.column("utc_end"), table.column("utc_time")))
    for source in sources:
        mine = codes == (names.index(source.name) if source.name in names else -2)
        start, end = starts[mine], ends[mine]
        order = np.argsort(start, kind="stable")  # points, then intervals: two sorted runs
        start, end = start[order], end[order]
        reach = np.maximum.accumulate(end) if len(end) else end
        gap = start[1:] - reach[:-1]
        largest = np.argsort(-gap, kind="stable")[:gaps]
        rows.append({
            "source": source.name, "format": source.format, "points": source.points,
            "intervals": source.intervals, "skipped": source.skipped,
            "first": _instant(start.min()) if len(start) else None,
            "last": _instant(reach[-1]) if len(start) else None,
            "largest_gaps": "; ".join(
                f"{_span(gap[i])} from {_instant(reach[i])}" for i in largest if gap[i] >= 60_000),
        })
    return pd.DataFrame(rows, columns=["source", "format", "points", "intervals", "skipped",
                                       "first", "last", "largest_gaps"])


def _instant(ms) -> str:
    return pd.Timestamp(int(ms), unit="ms").strftime("%Y-%m-%d %H:%MZ")


def _span(ms) -> str:
    """A stretch of time in its largest fitting unit: '45 min', '7.5 h', '12.0 d'."""
    minutes = ms / 60_000
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} d"
