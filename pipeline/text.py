"""Text columns parsed in Arrow's C++ kernels (RE2 regexes, strptime): no Python call per row.

pandas' own `.str.extract` falls back to a Python loop over the rows, which dominated resolve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow(text: pd.Series) -> pa.Array:
    values = pa.array(text, type=pa.large_string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def series(values: pa.Array | pa.ChunkedArray, index: pd.Index, dtype=None) -> pd.Series:
    """An Arrow column as a pandas column on `index`, by position (never aligned by label)."""
    column = values.to_pandas().set_axis(index)
    return column if dtype is None else column.astype(dtype)


def extract(text: pd.Series, pattern: str, as_float: bool = False) -> pd.DataFrame:
    """Like `Series.str.extract` with named groups; rows that do not match are null.
    `as_float` converts the groups to float64 (in Arrow) instead of leaving text."""
    found = pc.extract_regex(arrow(text), pattern)
    matched = pc.is_valid(found)
    columns = {}
    for i, field in enumerate(found.type):
        values = pc.if_else(matched, found.field(i), None)
        if as_float:
            columns[field.name] = series(pc.cast(values, pa.float64()), text.index)
        else:
            columns[field.name] = series(values, text.index, "str")
    return pd.DataFrame(columns, index=text.index)


def parse_datetime(text: pd.Series, fmt: str = "%Y:%m:%d %H:%M:%S") -> pd.Series:
    """'YYYY:MM:DD HH:MM:SS' (also with - / . in the date, T, or trailing zone or NULs) ->
    naive datetime64[ms]; blank, all-zero or impossible dates -> NaT."""
    values = pc.utf8_slice_codeunits(pc.utf8_trim(arrow(text), characters=" \x00"), 0, 19)
    parsed = pc.strptime(values, format=fmt, unit="ms", error_is_null=True)
    retry = pc.and_(pc.is_null(parsed), pc.is_valid(values))
    if pc.any(retry).as_py():  # only the odd spellings pay for the regex
        odd = pc.replace_substring_regex(
            pc.filter(values, retry), r"^(\d{4})[-/.](\d{2})[-/.](\d{2})[ T]", r"\1:\2:\3 ")
        parsed = pc.replace_with_mask(
            parsed, retry, pc.strptime(odd, format=fmt, unit="ms", error_is_null=True))
    return series(parsed, text.index, "datetime64[ms]")


def iso_text(times: pa.ChunkedArray | pa.Array, suffix: str = "") -> pa.Array:
    """Timestamps (Arrow, ms) -> 'YYYY-MM-DDTHH:MM:SS.fff' + suffix, in local clock digits."""
    if pa.types.is_timestamp(times.type) and times.type.tz is not None:
        times = pc.cast(times, pa.timestamp("ms"))  # the UTC digits, zone dropped
    values = pc.utf8_replace_slice(pc.cast(times, pa.string()), 10, 11, "T")
    return pc.binary_join_element_wise(values, suffix, "") if suffix else values


def labels(codes: np.ndarray, names: list, index: pd.Index) -> pd.Series:
    """Integer codes -> a text column of `names[code]` (null where the code is negative or its
    name is None), decoded in Arrow instead of building a Python string per row."""
    codes = np.asarray(codes)
    valid = codes >= 0
    dictionary = pa.array(names, type=pa.large_string())
    encoded = pa.DictionaryArray.from_arrays(
        pa.array(codes.clip(0).astype(np.int32), mask=~valid), dictionary)
    return series(pc.cast(encoded, pa.large_string()), index, "str")
