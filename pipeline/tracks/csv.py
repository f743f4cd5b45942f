"""CSV: a header naming a time column (ISO with Z or an offset, or epoch seconds), a latitude and
a longitude column, in the spellings loggers use ("time", "timestamp", "date_time", "Latitude",
"lng", "Longitude (deg)", ...); comma, semicolon, tab or bar separated.

Epoch numbers of 10^11 and more are read as milliseconds (as seconds they would lie past the
year 5000). Rows with too many or too few cells are skipped and counted.
"""
from __future__ import annotations

import re
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .rows import Found, numbers

_TIME = ("time", "timestamp", "datetime", "utc", "timeutc", "utctime", "datetimeutc", "timestamputc",
         "utctimestamp", "gpstime", "isotime", "recordedat", "epoch", "unixtime", "date")
_LAT = ("lat", "latitude")
_LON = ("lon", "lng", "long", "longitude")
_NUMBER = r"^\s*[-+]?\d+(?:\.\d*)?\s*$"


def _key(name: str) -> str:
    """'Latitude (deg)' -> 'latitude', 'date_time' -> 'datetime'."""
    return re.sub(r"[^a-z]", "", re.sub(r"\(.*?\)|\[.*?\]", "", name.lower()))


def columns(header: str) -> tuple[str, int, int, int, int] | None:
    """(separator, cell count, and the time, lat and lon columns' positions) when the header
    line names all three."""
    for separator in (",", ";", "\t", "|"):
        keys = [_key(n.strip().strip('"')) for n in header.lstrip("\ufeff").split(separator)]
        found = [next((keys.index(k) for k in spellings if k in keys), None)
                 for spellings in (_TIME, _LAT, _LON)]
        if None not in found:
            return (separator, len(keys), *found)
    return None


def read(stream: BinaryIO, found: Found) -> None:
    separator, width, *wanted = columns(stream.readline().decode("utf-8", "replace"))
    stream.seek(0)
    time, lat, lon = (f"column {i + 1}" for i in wanted)  # the header's own names may repeat

    def bad_row(row) -> str:
        found.skip(1, f"a line with {row.actual_columns} cells where the header has "
                      f"{row.expected_columns} (line {row.number})")
        return "skip"

    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            use_threads=False, skip_rows=1, column_names=[f"column {i + 1}" for i in range(width)]),
        parse_options=pacsv.ParseOptions(delimiter=separator, invalid_row_handler=bad_row),
        convert_options=pacsv.ConvertOptions(
            include_columns=[time, lat, lon],
            column_types={time: pa.string(), lat: pa.string(), lon: pa.string()}))
    add = found.points.add
    for batch in reader:
        whens = batch.column(time)
        epoch = numbers(pc.if_else(pc.fill_null(pc.match_substring_regex(whens, _NUMBER), False),
                                   whens, None).to_pylist())
        epoch_ms = np.where(np.abs(epoch) >= 1e11, epoch, epoch * 1000)
        whens = [w if np.isnan(ms) else float(ms) for w, ms in zip(whens.to_pylist(), epoch_ms)]
        for row in zip(batch.column(lat).to_pylist(), batch.column(lon).to_pylist(), whens):
            add(*row)
