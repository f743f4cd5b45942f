"""Text columns parsed in Arrow's C++ kernels (RE2 regexes) and numpy: no Python call per row.
Also the one-line form in which every message quotes text it was given.

pandas' own `.str.extract` falls back to a Python loop over the rows, which dominated resolve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .fluxtream import printable


def arrow(text: pd.Series) -> pa.Array:
    values = pa.array(text, type=pa.large_string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def series(values: pa.Array | pa.ChunkedArray, index: pd.Index, dtype=None) -> pd.Series:
    """An Arrow column as a pandas column on `index`, by position (never aligned by label)."""
    column = values.to_pandas().set_axis(index)
    return column if dtype is None else column.astype(dtype)


def scattered(values: pa.Array, rows: np.ndarray, length: int) -> pa.Array:
    """`values`, one for each position in `rows`, placed there in a `length`-long array, null
    elsewhere: what a parser run on a sparse column's present rows gives back for all."""
    at = np.full(length, -1, dtype=np.int64)
    at[rows] = np.arange(len(rows))
    return pc.take(values, pa.array(at, mask=at < 0))


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


#: What parse_datetime can say of a value that is there but gives no time.
TIME_PROBLEMS = ("impossible", "unreadable")
_EXIF_TIME = r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$"
_ANY_TIME = (r"^(?P<Y>\d{4})[-:/.](?P<M>\d{1,2})[-:/.](?P<D>\d{1,2})[T ] *(?P<h>\d{1,2}):"
             r"(?P<m>\d{1,2}):(?P<s>\d{1,2})(?:\D.*)?$")
_BLANK_TIME = r"^[0 :./-]*$"  # what cameras write for "no time": spaces, colons, zeros
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_NAT = np.iinfo(np.int64).min  # datetime64's NaT


def parse_datetime(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """EXIF 'YYYY:MM:DD HH:MM:SS' (also with - / . in the date, T, single digits, trailing
    sub-seconds, zone or NULs) -> (datetime64[ms] for any year 0000-9999, problem).

    `problem` is null where a time was read or the value is blank (null, spaces, all-zero date),
    `impossible` where the digits name no real date or time (Feb 30, 25:00, 12:61: nothing rolls
    over into the next day or month), `unreadable` for anything else.
    """
    values = pc.utf8_slice_codeunits(pc.utf8_trim(arrow(text), characters=" \x00"), 0, 19)
    fields = np.zeros((6, len(values)), dtype=np.int64)  # year, month, day, hour, minute, second
    standard = _mask(pc.match_substring_regex(values, _EXIF_TIME))
    if standard.any():
        rows = np.flatnonzero(standard)
        digit = _digits_by_position(pc.filter(values, pa.array(standard)), 19)
        def pair(at: int) -> np.ndarray:  # the two digits at `at` as a number
            return digit[at].astype(np.int64) * 10 + digit[at + 1]

        fields[0, rows] = pair(0) * 100 + pair(2)
        for field, at in enumerate((5, 8, 11, 14, 17), start=1):
            fields[field, rows] = pair(at)
    shaped = standard.copy()
    odd = np.flatnonzero(~standard & _mask(pc.is_valid(values)))
    blank = np.zeros(len(values), dtype=bool)
    if len(odd):  # only the odd spellings pay for the regex
        found = pc.extract_regex(pc.take(values, pa.array(odd)), _ANY_TIME)
        matched = _mask(pc.is_valid(found))
        for field in range(6):
            fields[field, odd[matched]] = pc.cast(
                pc.filter(found.field(field), pa.array(matched)), pa.int64()).to_numpy()
        shaped[odd[matched]] = True
        rest = odd[~matched]
        blank[rest] = _mask(pc.match_substring_regex(pc.take(values, pa.array(rest)), _BLANK_TIME))
    year, month, day, hour, minute, second = fields
    blank |= shaped & (year == 0) & (month == 0) & (day == 0)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[month.clip(0, 12)] + (leap & (month == 2))
    real = (shaped & ~blank & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
            & (hour < 24) & (minute < 60) & (second < 60))
    seconds = _days_since_epoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    times = np.where(real, seconds * 1000, _NAT).view("datetime64[ms]")
    problem = np.select([real | blank | ~_mask(pc.is_valid(values)), shaped], [-1, 0], 1)
    return times, labels(problem, list(TIME_PROBLEMS), text.index)


_ISO_TIME = (r"^\s*(?P<Y>\d{4})[-:](?P<M>\d{2})[-:](?P<D>\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})"
             r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?\s*(?P<zone>Z|[+-][0-9:]+)?\s*$")
_ISO_DATE_ONLY = r"^\s*\d{4}(?:-\d{2}(?:-\d{2})?)?\s*$"


def parse_iso_datetime(text: pd.Series) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """ISO 8601 dates as XMP writes them ('2019-05-05T10:00:00.12+02:00'; seconds, fraction and
    zone optional) -> (datetime64[ms] wall clock with its fraction, the zone as written ('Z' as
    '+00:00', null when none), problem).

    A date without a time ('1998-07', '2019-05-05') is no time and no problem; otherwise
    `problem` is as parse_datetime says.
    """
    values = arrow(text)
    if values.null_count == len(values):  # most columns of most libraries: nothing to read
        nothing = labels(np.full(len(values), -1), list(TIME_PROBLEMS), text.index)
        return np.full(len(values), _NAT).view("datetime64[ms]"), nothing, nothing
    if values.null_count > len(values) // 2:  # a sparse column: only its values are read
        rows = np.flatnonzero(_mask(pc.is_valid(values)))
        times, zone, problem = parse_iso_datetime(text.iloc[rows])
        every = np.full(len(values), _NAT).view("datetime64[ms]")
        every[rows] = times
        return every, *(series(scattered(arrow(column), rows, len(values)), text.index, "str")
                        for column in (zone, problem))
    found = pc.extract_regex(values, _ISO_TIME)
    times, problem = parse_found_time(found, text.index)
    zone = pc.if_else(pc.is_valid(found), found.field("zone"), None)
    zone = pc.if_else(pc.equal(zone, "Z"), "+00:00", pc.if_else(pc.equal(zone, ""), None, zone))
    unreadable = ~_mask(pc.is_valid(found)) & has_text(text) & ~_mask(
        pc.match_substring_regex(values, _ISO_DATE_ONLY))
    return times, series(zone, text.index, "str"), problem.mask(unreadable, "unreadable")


def parse_found_time(found: pa.StructArray, index: pd.Index) -> tuple[np.ndarray, pd.Series]:
    """An `extract_regex` result with groups Y, M, D, h, m and optionally s (00 when empty) and
    f (a decimal fraction of a second) -> (datetime64[ms], problem as parse_datetime says);
    NaT and no problem where the regex did not match."""
    matched = pc.is_valid(found)

    def part(name: str, absent: str | None = None) -> pa.Array:
        value = pc.if_else(matched, found.field(name), None)
        return pc.if_else(pc.equal(value, ""), absent, value)

    colon, space = (pa.scalar(c, pa.large_string()) for c in ": ")
    exif = pc.binary_join_element_wise(part("Y"), colon, part("M"), colon, part("D"), space,
                                       part("h"), colon, part("m"), colon, part("s", "00"),
                                       pa.scalar("", pa.large_string()))
    times, problem = parse_datetime(series(exif, index, "str"))
    if found.type.get_field_index("f") >= 0:
        fraction = subsec_milliseconds(series(part("f"), index, "str"))
        times = times + fraction.to_numpy().astype("timedelta64[ms]")
    return times, problem


def subsec_milliseconds(text: pd.Series) -> pd.Series:
    """Sub-second digits are a decimal fraction ('07' is 70 ms, not 7 ms) -> whole milliseconds
    (0 where there are none)."""
    digits = extract(text, r"^\s*(?P<digits>\d+)")["digits"]
    return digits.str.pad(3, side="right", fillchar="0").str.slice(0, 3).astype(
        "Int64").fillna(0).astype("int64")


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Proleptic Gregorian dates -> days since 1970-01-01, in integer arithmetic (Howard
    Hinnant's days_from_civil): numpy's own datetime64[M] -> [D] conversion is 5x slower."""
    march_year = year - (month <= 2)
    era = march_year // 400
    year_of_era = march_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def has_text(text: pd.Series) -> np.ndarray:
    """Which values hold anything besides spaces, NULs and colons (what a camera writes for an
    unset tag): a value there, to be read or warned about."""
    return _mask(pc.match_substring_regex(arrow(text), r"[^\s\x00:]"))


def _mask(values: pa.Array) -> np.ndarray:
    """An Arrow boolean column as a numpy mask (null is False)."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def _digits_by_position(values: pa.Array, width: int) -> np.ndarray:
    """ASCII strings all `width` bytes long -> a (width, n) uint8 array: row i holds the digit
    value of every string's i-th character. Read straight from Arrow's data buffer, with no
    slice-and-cast pass per field, and kept in bytes (widening all of it to int64 cost more
    than the parse)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    start = offsets[0]
    characters = data[start:start + width * len(values)].reshape(-1, width)
    return characters.T - np.uint8(48)


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


def dictionary_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """A dictionary-encoded text column -> (int32 codes, -1 where null; the names they index),
    one dictionary for all its chunks: millions of rows compared as integers, not strings.
    The chunks' indices are copied once, into the codes (no combined column between)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.unify_dictionaries()
        chunks = column.chunks or [pa.array([], column.type)]
    else:
        chunks = [column]
    codes = np.concatenate([np.asarray(chunk.indices.fill_null(-1)) for chunk in chunks])
    return codes.astype(np.int32, copy=False), chunks[0].dictionary.to_pylist()


#: How much of a bad value a message quotes.
QUOTE_LIMIT = 80


def one_line(text, limit: int | None = None) -> str:
    """`text` as one line of plain text for a message: control and other unprintable characters
    (a CR or LF in a path, NUL, undecodable bytes) as backslash escapes; with `limit`, cut after
    that many characters with '...'."""
    text = str(text)
    shown = text if limit is None else text[:limit]
    return printable(shown) + ("..." if len(shown) < len(text) else "")


def escaped(text: pd.Series) -> pa.Array:
    """Values quoted in messages: a text column through `one_line` (cut at QUOTE_LIMIT),
    computed once per distinct value; nulls stay null."""
    values = arrow(text)
    distinct = pc.unique(pc.drop_null(values))
    shown = pa.array([one_line(v, QUOTE_LIMIT) for v in distinct.to_pylist()], type=pa.large_string())
    return pc.take(shown, pc.index_in(values, distinct))


def sorted_positions(**keys: pd.Series) -> np.ndarray:
    """Row positions ordered by the keys (ascending, nulls last), sorted in Arrow's C++ kernel."""
    table = pa.table({name: pa.array(values, from_pandas=True) for name, values in keys.items()})
    order = pc.sort_indices(table, sort_keys=[(name, "ascending", "at_end") for name in keys])
    return order.to_numpy().astype(np.int64)
