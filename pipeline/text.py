"""Text columns parsed in Arrow's C++ kernels (RE2 regexes, strptime): no Python call per row.

pandas' own `.str.extract` falls back to a Python loop over the rows, which dominated resolve.
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow(text: pd.Series) -> pa.Array:
    values = pa.array(text, type=pa.large_string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def extract(text: pd.Series, pattern: str) -> pd.DataFrame:
    """Like `Series.str.extract` with named groups; rows that do not match are null."""
    found = pc.extract_regex(arrow(text), pattern)
    matched = pc.is_valid(found)
    columns = {
        field.name: pd.Series(pc.if_else(matched, found.field(i), None).to_pandas(),
                              index=text.index, dtype="str")
        for i, field in enumerate(found.type)
    }
    return pd.DataFrame(columns, index=text.index)


def parse_datetime(text: pd.Series, fmt: str = "%Y:%m:%d %H:%M:%S") -> pd.Series:
    """'YYYY:MM:DD HH:MM:SS' (also with - / . in the date, T, or trailing zone or NULs) ->
    naive datetime64[ms]; blank, all-zero or impossible dates -> NaT."""
    values = pc.utf8_trim(arrow(text), characters=" \x00")
    values = pc.replace_substring_regex(
        values, r"^(\d{4})[-/.:](\d{2})[-/.:](\d{2})[ T]", r"\1:\2:\3 ")
    values = pc.utf8_slice_codeunits(values, 0, 19)
    parsed = pc.strptime(values, format=fmt, unit="ms", error_is_null=True)
    return pd.Series(parsed.to_pandas(), index=text.index).astype("datetime64[ms]")
