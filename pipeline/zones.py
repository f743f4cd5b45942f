"""UTC offsets and IANA zones on whole columns: parsing, real offsets, DST, place lookup.

Every function takes and returns pandas/numpy columns; loops run per distinct zone or per
distinct place, never per photo.
"""
from __future__ import annotations

import re
import zoneinfo

import numpy as np
import pandas as pd

from .text import arrow, extract, has_text, labels, scattered, series

#: Whole-minute UTC offsets (minutes) that some tzdata zone has used since 1970. The GPS clock is
#: matched against these; tests/test_zones.py recomputes the list from tzdata.
REAL_OFFSETS_MINUTES = np.array(
    [-720, -660, -640, -630, -600, -570, -540, -510, -480, -420, -360, -300, -270, -240, -225,
     -210, -180, -150, -120, -90, -60, 0, 60, 120, 180, 210, 240, 270, 300, 330, 345, 360, 390,
     420, 450, 480, 510, 525, 540, 570, 585, 600, 630, 660, 690, 720, 750, 765, 780, 825, 840]
)
MIN_OFFSET, MAX_OFFSET = -12 * 60, 14 * 60

_OFFSET_RE = re.compile(r"^([+-])(\d{1,2}):?(\d{2})$")


class ZoneError(ValueError):
    """A zone name or offset that tzdata does not know."""


def parse_fixed_offset(text: str) -> int | None:
    """'+05:30' -> 330; None when `text` is not a fixed offset (an IANA name, say)."""
    match = _OFFSET_RE.match(text.strip())
    if not match:
        return None
    sign, hours, minutes = match.groups()
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or not MIN_OFFSET <= (value if sign == "+" else -value) <= MAX_OFFSET:
        raise ZoneError(f"offset out of range: {text}")
    return value if sign == "+" else -value


def format_offset(minutes) -> pd.Series:
    """Offsets in minutes (a column, any whole minutes: local mean times reach ±16 h) ->
    '±HH:MM' text, built once per distinct offset; null stays null."""
    minutes = pd.Series(minutes, dtype="Int64")
    codes, distinct = pd.factorize(minutes)
    texts = [f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in distinct]
    return labels(codes, texts, minutes.index)


def check_zone(name: str) -> str:
    """Validate an IANA name or a fixed offset; return it normalised ('+5:30' -> '+05:30')."""
    offset = parse_fixed_offset(name)
    if offset is not None:
        return format_offset([offset]).iloc[0]
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ZoneError(f"unknown time zone: {name}") from None
    return name


def is_fixed(name: str) -> bool:
    return parse_fixed_offset(name) is not None


#: What read_offset_tags can say of an offset tag that is there but gives no offset.
OFFSET_PROBLEMS = ("unusable", "out of range")


def read_offset_tags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """EXIF OffsetTime* strings, read leniently: '±HH:MM', '±HHMM', '±HH', '±H' ('+07' is
    +07:00, '-9' and '-09' are -09:00) -> (minutes (Int64), problem).

    `problem` is `out of range` for a well-formed offset beyond -12:00...+14:00, `unusable` for
    any other text (minutes of 60 or more, '+5:30', 'Z'), null where an offset was read or the
    tag is blank.
    """
    present = has_text(text)
    if not present.any():  # most columns of most libraries: nothing to read
        return (pd.Series(pd.NA, index=text.index, dtype="Int64"),
                labels(np.full(len(text), -1), list(OFFSET_PROBLEMS), text.index))
    rows = np.flatnonzero(present)
    if len(rows) < len(text) // 2:  # a sparse column: only its values are read
        value, problem = read_offset_tags(text.iloc[rows])
        every = np.full(len(text), np.nan)
        every[rows] = value.to_numpy(dtype="float64", na_value=np.nan)
        return (pd.Series(every, index=text.index).astype("Int64"),
                series(scattered(arrow(problem), rows, len(text)), text.index, "str"))
    parts = extract(text, r"^\s*(?P<sign>[+-])(?:(?P<h>\d{2}):?(?P<m>\d{2})|(?P<hours>\d{1,2}))\s*$")
    two_part = parts["h"] != ""  # the alternative that did not match is empty text
    hours = parts["h"].where(two_part, parts["hours"]).astype("Int64")
    minutes = parts["m"].where(two_part, "0").astype("Int64").where(hours.notna())
    value = hours * 60 + minutes
    value = value.where(parts["sign"] != "-", -value).where(minutes < 60)
    usable = value.between(MIN_OFFSET, MAX_OFFSET).fillna(False)
    problem = np.select([usable.to_numpy(bool), value.notna().to_numpy(bool), present],
                        [-1, 1, 0], -1)
    return value.where(usable), labels(problem, list(OFFSET_PROBLEMS), text.index)


def parse_offset_tags(text: pd.Series) -> pd.Series:
    """Offset tag strings -> minutes (Int64), null where unusable (see read_offset_tags)."""
    return read_offset_tags(text)[0]


def nearest_real_offset(minutes: pd.Series) -> pd.Series:
    """For each (float) local-minus-UTC difference, the nearest real offset (Int64; null in -> null)."""
    values = minutes.to_numpy(dtype="float64", na_value=np.nan)
    position = np.searchsorted(REAL_OFFSETS_MINUTES, values).clip(1, len(REAL_OFFSETS_MINUTES) - 1)
    lower = REAL_OFFSETS_MINUTES[position - 1]
    upper = REAL_OFFSETS_MINUTES[position]
    nearest = np.where(np.abs(values - lower) <= np.abs(upper - values), lower, upper)
    return pd.Series(nearest, index=minutes.index, dtype="Int64").where(~np.isnan(values))


def localize(local: pd.Series, zone: str) -> pd.DataFrame:
    """Wall-clock times in one zone -> their UTC offsets with DST, and the DST-change flags.

    Columns: `offset` (Int64 minutes in force at the resolved instant), `applied` (the minutes to
    subtract from the wall time to get UTC), `ambiguous` (the wall time happened twice: the
    earlier instant, the summer offset, is taken), `nonexistent` (the wall time never happened:
    it is read with the offset in force before the change, i.e. moved forward by the gap).
    """
    fixed = parse_fixed_offset(zone)
    if fixed is not None:
        offset = pd.Series(fixed, index=local.index, dtype="Int64").where(local.notna())
        return pd.DataFrame({"offset": offset, "applied": offset,
                             "ambiguous": False, "nonexistent": False}, index=local.index)
    local = local.astype("datetime64[ms]")
    summer = np.ones(len(local), dtype=bool)
    earlier = local.dt.tz_localize(zone, ambiguous=summer, nonexistent="NaT")
    later = local.dt.tz_localize(zone, ambiguous=~summer, nonexistent="NaT")
    nonexistent = earlier.isna() & local.notna()
    before_gap = local.dt.tz_localize(zone, ambiguous=summer, nonexistent="shift_backward")
    applied = _offset_minutes(earlier).where(~nonexistent, _offset_minutes(before_gap))
    instant = (local - pd.to_timedelta(applied.astype("float64"), unit="m")).dt.tz_localize("UTC")
    return pd.DataFrame({
        "offset": _offset_minutes(instant.dt.tz_convert(zone)),
        "applied": applied,
        "ambiguous": (earlier != later) & earlier.notna() & later.notna(),
        "nonexistent": nonexistent,
    }, index=local.index)


def wall_clock(utc: pd.Series, zone: str) -> pd.DataFrame:
    """UTC instants (naive) -> their wall-clock time in one zone (`local`) and that zone's offset
    at each instant (`offset`, Int64 minutes, rounded as `localize` rounds local mean times).
    An instant is never ambiguous: no DST flags."""
    utc = utc.astype("datetime64[ms]")
    fixed = parse_fixed_offset(zone)
    if fixed is not None:
        offset = pd.Series(fixed, index=utc.index, dtype="Int64").where(utc.notna())
    else:
        offset = _offset_minutes(utc.dt.tz_localize("UTC").dt.tz_convert(zone))
    local = utc + pd.to_timedelta(offset.astype("float64"), unit="m")
    return pd.DataFrame({"local": local, "offset": offset}, index=utc.index)


def _offset_minutes(aware: pd.Series) -> pd.Series:
    """UTC offset (minutes, Int64) of tz-aware times: their wall clock minus their UTC instant."""
    wall = aware.dt.tz_localize(None)
    utc = aware.dt.tz_convert("UTC").dt.tz_localize(None)
    return ((wall - utc) / pd.Timedelta(minutes=1)).round().astype("Int64")


def zone_of_place(lat: pd.Series, lon: pd.Series) -> pd.Series:
    """IANA zone (oceans: nautical Etc/GMT±N) of each position, looked up once per distinct place.

    Positions are rounded to 1e-4 degrees (about 11 m) before the lookup so a trip's photos
    share lookups; null or out-of-range positions give null. tzfpy answers offline.
    """
    codes, names = place_zone_codes(lat.to_numpy(dtype="float64", na_value=np.nan),
                                    lon.to_numpy(dtype="float64", na_value=np.nan))
    return labels(codes, names, lat.index)


def place_zone_codes(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, list]:
    """`zone_of_place` as codes: for each position the index of its zone in the returned list
    (one entry per distinct 1e-4 degree cell, None where tzfpy knows none; -1 for a null or
    out-of-range position). What a table of millions of positions stores without a string
    per row."""
    import tzfpy

    valid = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    lat_e4, lon_e4 = (np.round(np.where(valid, degrees, 0) * 1e4).astype(np.int64)
                      for degrees in (lat, lon))
    place = lat_e4 * 4_000_000 + lon_e4  # one integer per 1e-4 degree cell
    place_code, distinct = pd.factorize(place[valid])
    lat_of, lon_of = np.divmod(distinct + 2_000_000, 4_000_000)
    names = [tzfpy.get_tz((b - 2_000_000) / 1e4, a / 1e4) or None
             for a, b in zip(lat_of.tolist(), lon_of.tolist())]
    codes = np.full(len(lat), -1)
    codes[valid] = place_code
    return codes, names
