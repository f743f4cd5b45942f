"""Times in file names, read column-wise with Arrow's regexes.

Only names with a full date and time count: a date alone (`IMG-20190303-WA0004.jpg`) is no
time, and a file's mtime never is. A name's time is a local wall clock, except a Google Pixel
name (`PXL_20200130_095718123.jpg`), which is UTC with milliseconds: an instant.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..text import arrow, parse_found_time

_YEAR = r"(?:^|\D)(?P<Y>(?:19|20)\d\d)"
_END = r"(?:\D|$)"
#: Local wall-clock names, tried in order.
LOCAL_PATTERNS = (
    # IMG_20200130_095718.jpg, VID_..., PANO_..., Screenshot_20200130-095718.png, 20200130_095718.jpg
    _YEAR + r"(?P<M>\d\d)(?P<D>\d\d)[_-](?P<h>\d\d)(?P<m>\d\d)(?P<s>\d\d)" + _END,
    # Screenshot_2020-01-30-09-57-18.png, 2018-04-12 19.24.49.jpg, 2018-04-12 19_24_49.jpg,
    # telegram_2020-01-30_09-57-18.jpg, signal-2020-01-30-095718.jpg
    _YEAR + r"-(?P<M>\d\d)-(?P<D>\d\d)[ _-](?P<h>\d\d)[._-]?(?P<m>\d\d)[._-]?(?P<s>\d\d)" + _END,
)
#: Google Pixel: PXL_YYYYMMDD_HHMMSSmmm, UTC.
UTC_PATTERN = r"(?i)^PXL_(?P<Y>\d{4})(?P<M>\d\d)(?P<D>\d\d)_(?P<h>\d\d)(?P<m>\d\d)(?P<s>\d\d)(?P<f>\d{3})" + _END


def name_times(file_name: pd.Series) -> pd.DataFrame:
    """File names -> `local` (the wall-clock time a name holds) and `utc` (a Pixel name's
    instant), datetime64[ms], NaT where the name holds no real date and time."""
    utc = _match(file_name, UTC_PATTERN)
    local = np.full(len(file_name), np.datetime64("NaT", "ms"))
    rows = np.flatnonzero(np.isnat(utc))
    for pattern in LOCAL_PATTERNS:
        local[rows] = _match(file_name.iloc[rows], pattern)
        rows = rows[np.isnat(local[rows])]
    return pd.DataFrame({"local": local, "utc": utc}, index=file_name.index)


def _match(names: pd.Series, pattern: str) -> np.ndarray:
    """The date and time `pattern` finds in each name (datetime64[ms]; NaT for no match or a
    date that does not exist)."""
    return parse_found_time(pc.extract_regex(arrow(names), pattern), names.index)[0]
