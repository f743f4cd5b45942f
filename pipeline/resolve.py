"""photos -> resolved: each photo's local time, its zone, where the zone came from, its UTC instant.

One column-wise pass; the rules, in order of precedence:
override rule > offset tag > GPS clock > GPS position > fallback rule > carried > default.
Loops run per overrides rule and per distinct zone, never per photo.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .overrides import Rule
from .schema import PHOTOS, RESOLVED, RESOLVED_EXTRA, empty
from .text import arrow, escaped, extract, has_text, labels, parse_datetime, series
from .times import in_range
from .zones import (MAX_OFFSET, MIN_OFFSET, check_zone, format_offset, is_fixed, localize,
                    nearest_real_offset, parse_offset_tags, zone_of_place)

GPS_ACCEPT_MINUTES = 30  # phones write the time of their last fix
GPS_LAG_MINUTES = 2
CARRY_GAP = pd.Timedelta(hours=24)
EPOCH = pd.Timestamp(0, tz="UTC")
TAGS = ("DateTimeOriginal", "DateTimeDigitized", "DateTime")
TIME_COLUMNS = ("datetime_original", "datetime_digitized", "datetime")
SUBSEC_COLUMNS = ("subsec_original", "subsec_digitized", "subsec")
OFFSET_COLUMNS = ("offset_time_original", "offset_time_digitized", "offset_time")
OFFSET_TAGS = ("OffsetTimeOriginal", "OffsetTimeDigitized", "OffsetTime")
NOT_A_TIME = np.datetime64("NaT", "ms")


class ResolveWarning(UserWarning):
    """Something the user should hear about that does not stop the run."""


@dataclass(frozen=True)
class Settings:
    """What resolve needs besides the photos and the rules."""

    default_tz: str = "UTC"

    def __post_init__(self):
        object.__setattr__(self, "default_tz", check_zone(self.default_tz))


def subsec_milliseconds(text: pd.Series) -> pd.Series:
    """SubSec digits are a decimal fraction ('07' is 70 ms, not 7 ms) -> whole milliseconds."""
    digits = extract(text, r"^\s*(?P<digits>\d+)")["digits"]
    return digits.str.pad(3, side="right", fillchar="0").str.slice(0, 3).astype(
        "Int64").fillna(0).astype("int64")


def parse_gps_clock(date: pd.Series, time: pd.Series, local: pd.Series
                    ) -> tuple[pd.Series, list[pa.Array]]:
    """Local minus GPS UTC, in minutes; without a usable GPS date, the nearest day within ±12 h.
    Also the warnings for GPS date and time tags that are there but unusable.

    Computed in float minutes, so a GPS date of any year can neither overflow nor raise.
    """
    parts = extract(time, r"^\s*(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)\s*$",
                    as_float=True)
    real = (parts["h"] < 24) & (parts["m"] < 60) & (parts["s"] < 60)
    clock_ms = ((parts["h"] * 3600 + parts["m"] * 60 + parts["s"]) * 1000).round().where(real)
    clock = clock_ms.to_numpy() / 60_000
    day, day_problem = parse_datetime(date.str.strip() + " 00:00:00")
    time_problem = labels(np.select([real.to_numpy(bool), parts["h"].notna().to_numpy()], [-1, 0],
                                    np.where(has_text(time), 1, -1)),
                          ["impossible", "unreadable"], time.index)
    local_minutes = _minutes(local.to_numpy(dtype="datetime64[ms]"))
    dated = local_minutes - _minutes(day) - clock
    undated = (local_minutes % 1440 - clock + 720) % 1440 - 720
    difference = pd.Series(np.where(np.isnat(day), undated, dated), index=local.index)
    return difference, [_warning("GPSDateStamp", day_problem, date),
                        _warning("GPSTimeStamp", time_problem, time)]


def _minutes(times: np.ndarray) -> np.ndarray:
    """datetime64 values -> float minutes since the epoch (NaT -> NaN)."""
    minutes = times.astype("datetime64[ms]").astype(np.int64) / 60_000
    return np.where(np.isnat(times), np.nan, minutes)


def _first_usable_time(df: pd.DataFrame, readable: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, list[pa.Array]]:
    """The first usable local time among the tags (datetime64[ms], any year), which tag
    (index into TAGS, or -1), and warnings for the tags consulted that hold no real time.

    A tag with an impossible or unreadable value is absent: the next tag is used. Later tags
    are parsed only for the readable rows that still lack a time.
    """
    local = np.full(len(df), NOT_A_TIME)
    code = np.full(len(df), -1)
    rows = np.flatnonzero(readable)
    problems = []
    for number, (tag, column) in enumerate(zip(TAGS, TIME_COLUMNS)):
        times, problem = parse_datetime(df[column].iloc[rows])
        local[rows] = times
        code[rows[~np.isnat(times)]] = number
        problems.append(_warning(tag, problem.reindex(df.index), df[column]))
        rows = rows[np.isnat(times)]
    return local, code, problems


def _warning(tag: str | pd.Series, problem: pd.Series, value: pd.Series) -> pa.Array:
    """'TAG problem (value)' where `problem` is set, null elsewhere; the value escaped."""
    def text(literal: str) -> pa.Scalar:
        return pa.scalar(literal, pa.large_string())

    if problem.isna().all():  # the common case: nothing to say
        return pa.nulls(len(problem), pa.large_string())
    tag = text(tag) if isinstance(tag, str) else arrow(tag)
    return pc.binary_join_element_wise(tag, text(" "), arrow(problem), text(" ("),
                                       escaped(value.where(problem.notna())), text(")"), text(""))


def _with_warnings(existing: pd.Series, entries: list[pa.Array]) -> pd.Series:
    """The photos' own warnings followed by resolve's, ';'-separated; null when there are none.

    (Arrow 26's null_handling="skip" drops the rows where every part is null, so the entries
    are folded in one at a time.)
    """
    separator = pa.scalar(";", pa.large_string())
    joined = pc.if_else(pc.equal(arrow(existing), ""), None, arrow(existing))
    for entry in (entry for entry in entries if entry.null_count < len(entry)):
        joined = pc.coalesce(pc.binary_join_element_wise(joined, entry, separator), joined, entry)
    return series(joined, existing.index, "str")


def _belonging(df: pd.DataFrame, columns: tuple[str, str, str], code: np.ndarray) -> pd.Series:
    """Each row's value from the column that belongs to its chosen time tag (null for none)."""
    chosen = pc.if_else(pa.array(code == 0), arrow(df[columns[0]]), pc.if_else(
        pa.array(code == 1), arrow(df[columns[1]]), pc.if_else(
            pa.array(code == 2), arrow(df[columns[2]]), None)))
    return series(chosen, df.index, "str")


def _within_range(times: np.ndarray, index: pd.Index) -> pd.Series:
    """datetime64 values as a datetime64[ms] column, NaT where outside TIME_RANGE: safe for
    every pandas operation, including those that go through nanoseconds."""
    return pd.Series(np.where(in_range(times), times, NOT_A_TIME), index=index,
                     dtype="datetime64[ms]")


def _rule_columns(rules: list[Rule], frame: pd.DataFrame, recorded: pd.Series):
    """Per-row results of the rules: later lines win; rule selectors see the camera's own clock."""
    override_tz = pd.Series(pd.NA, index=frame.index, dtype="string")
    fallback_tz = override_tz.copy()
    note = override_tz.copy()
    shift = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    for rule in rules:
        hit = rule.selection.mask(frame, local=recorded)
        if not hit.any():
            warnings.warn(f"overrides line {rule.line}: rule matches no photo", ResolveWarning)
            continue
        if rule.tz is not None:
            target = override_tz if rule.mode == "override" else fallback_tz
            target[hit] = rule.tz
        if rule.shift_seconds is not None:
            shift[hit] = rule.shift_seconds
        if rule.note is not None:
            note[hit] = note[hit].fillna("").str.cat([rule.note] * int(hit.sum()), sep=" | ")
            note[hit] = note[hit].str.removeprefix(" | ")
    return override_tz, fallback_tz, shift, note


def _flags(named: dict[str, pd.Series]) -> pd.Series:
    """Boolean columns -> one ';'-separated text column of the names that are set.

    Each row's flags become one bit pattern; the text is built once per pattern present.
    """
    index = next(iter(named.values())).index
    bits = np.zeros(len(index), dtype=np.int64)
    for bit, mask in enumerate(named.values()):
        bits |= mask.fillna(False).to_numpy(bool).astype(np.int64) << bit
    present = np.flatnonzero(np.bincount(bits, minlength=1))
    texts = [None] * (int(present.max()) + 1 if len(present) else 1)
    for pattern in present.tolist():
        texts[pattern] = ";".join(n for b, n in enumerate(named) if pattern >> b & 1)
    return labels(bits, texts, index)


def _sorted_positions(**keys: pd.Series) -> np.ndarray:
    """Row positions ordered by the keys (ascending, nulls last), sorted in Arrow's C++ kernel."""
    table = pa.table({name: pa.array(values, from_pandas=True) for name, values in keys.items()})
    order = pc.sort_indices(table, sort_keys=[(name, "ascending", "at_end") for name in keys])
    return order.to_numpy().astype(np.int64)


def _carry_sources(folder: pd.Series, local: pd.Series, name: pd.Series, path: pd.Series,
                   has_evidence: np.ndarray) -> np.ndarray:
    """For each row, the position of the nearest earlier row with evidence in its folder, in
    capture order (local time, then file name); -1 where there is none."""
    order = _sorted_positions(folder=folder, local=local, name=name, path=path)
    order = order[local.notna().to_numpy()[order]]
    folder_code = pc.dictionary_encode(arrow(folder)).indices.to_numpy(zero_copy_only=False)
    step = np.where(has_evidence[order], np.arange(len(order)), -1)
    latest = np.maximum.accumulate(step) if len(step) else step
    source = np.where(latest >= 0, order[latest.clip(0)], -1)
    same_folder = (latest >= 0) & (folder_code[source.clip(0)] == folder_code[order])
    carried_from = np.full(len(folder), -1)
    carried_from[order] = np.where(same_folder, source, -1)
    return carried_from


def _localize_by_zone(local: pd.Series, tz_name: pd.Series) -> dict[str, np.ndarray]:
    """Offsets and DST flags for every row, one vectorized pass per distinct zone."""
    n = len(local)
    result = {"offset": np.full(n, np.nan), "applied": np.full(n, np.nan),
              "ambiguous": np.zeros(n, bool), "nonexistent": np.zeros(n, bool)}
    encoded = pc.dictionary_encode(arrow(tz_name))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    for code, zone in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero(codes == code)
        zoned = localize(local.iloc[rows], zone)
        for column, values in result.items():
            values[rows] = zoned[column].to_numpy(dtype=values.dtype, na_value=np.nan) \
                if values.dtype.kind == "f" else zoned[column].to_numpy(bool)
    return result


def resolve(photos: pd.DataFrame, overrides: list[Rule] | None = None,
            settings: Settings = Settings()) -> pd.DataFrame:
    """The resolved table: every photos column plus the time, zone and audit columns."""
    df = photos[PHOTOS.names].reset_index(drop=True)
    readable = df["error"].isna()

    # 1. Local time, from the first tag that holds one. Until it is known to lie in the range
    # photoflux represents, it stays in numpy milliseconds, where no year can overflow.
    recorded, code, warned = _first_usable_time(df, readable.to_numpy())
    tag = labels(code, list(TAGS), df.index)
    subsec = subsec_milliseconds(_belonging(df, SUBSEC_COLUMNS, code))
    recorded = recorded + subsec.to_numpy().astype("timedelta64[ms]")

    # 2, 6 and the clock shift: the user's rules.
    override_tz, fallback_tz, shift, note = _rule_columns(
        overrides or [], df, _within_range(recorded, df.index))
    local = recorded + shift.fillna(0).to_numpy(dtype="int64").astype("timedelta64[s]")
    out_of_range = ~np.isnat(local) & ~in_range(local)
    local = _within_range(local, df.index)
    has_time = local.notna()

    # 3. The offset tag that belongs to the chosen time.
    offset_text = _belonging(df, OFFSET_COLUMNS, code)
    offset_tag = parse_offset_tags(offset_text)
    offset_problem = labels(np.where(offset_tag.isna() & has_text(offset_text), 0, -1),
                            ["unusable"], df.index)
    warned.append(_warning(labels(code, list(OFFSET_TAGS), df.index), offset_problem,
                           offset_text))
    offset_tag = offset_tag.where(has_time)

    # 4. The GPS clock.
    gps_diff, gps_warned = parse_gps_clock(df["gps_date"], df["gps_time"], local)
    gps_offset = nearest_real_offset(gps_diff)
    gps_miss = (gps_diff - gps_offset.astype("float64")).abs()
    plausible = gps_diff.between(MIN_OFFSET - GPS_ACCEPT_MINUTES, MAX_OFFSET + GPS_ACCEPT_MINUTES)
    gps_ok = (gps_miss <= GPS_ACCEPT_MINUTES) & plausible
    stale_gps = gps_diff.notna() & ~gps_ok
    gps_offset = gps_offset.where(gps_ok)

    # 5. The GPS position.
    null_island = (df["gps_lat"] == 0) & (df["gps_lon"] == 0)
    place_zone = zone_of_place(df["gps_lat"].where(~null_island & has_time), df["gps_lon"])

    # Each kind of evidence as a zone-name column, in order of precedence.
    evidence = {
        "override": arrow(override_tz.where(has_time)),
        "offset": arrow(format_offset(offset_tag)),
        "gps": arrow(format_offset(gps_offset)),
        "location": arrow(place_zone),
        "fallback": arrow(fallback_tz.where(has_time)),
    }
    own_zone = pc.coalesce(evidence["offset"], evidence["gps"], evidence["location"])

    # 7. Carry-forward: in capture order within a folder, the nearest earlier own evidence.
    carried_from = _carry_sources(df["folder"], local, df["file_name"], df["path"],
                                  pc.is_valid(own_zone).to_numpy(zero_copy_only=False))
    has_source = carried_from >= 0
    take = carried_from.clip(0)
    carry_path = series(pc.if_else(pa.array(has_source), pc.take(arrow(df["path"]), take), None),
                        df.index, "str")
    carry_local = pd.Series(local.to_numpy()[take], index=df.index).where(has_source)
    evidence["carried"] = pc.if_else(pa.array(has_source), pc.take(own_zone, pa.array(take)), None)
    evidence["default"] = pc.if_else(pa.array(has_time.to_numpy(bool)),
                                     pa.scalar(settings.default_tz, pa.large_string()), None)

    present = [pc.is_valid(column).to_numpy(zero_copy_only=False) for column in evidence.values()]
    kinds = list(evidence)  # a fallback rule is reported as the user's override
    source = labels(np.select(present, range(len(kinds)), -1),
                    ["override" if kind == "fallback" else kind for kind in kinds], df.index)
    tz_name = series(pc.coalesce(*evidence.values()), df.index, "str")
    carried = source == "carried"

    # 8. Offsets with DST, one pass per distinct zone.
    zoned = _localize_by_zone(local, tz_name)
    utc = local - pd.to_timedelta(zoned["applied"], unit="m")
    utc = utc.dt.tz_localize("UTC")

    flags = _flags({
        "no_capture_time_tag": tag == "DateTime",
        "no_time": ~has_time,
        "out_of_range": pd.Series(out_of_range, index=df.index),
        "conflict": offset_tag.notna() & gps_offset.notna() & (offset_tag != gps_offset),
        "stale_gps": stale_gps,
        "gps_lag": (source == "gps") & (gps_miss > GPS_LAG_MINUTES),
        "null_island": null_island,
        "carry_gap": carried & ((local - carry_local) > CARRY_GAP),
        "ambiguous": pd.Series(zoned["ambiguous"], index=df.index),
        "nonexistent": pd.Series(zoned["nonexistent"], index=df.index),
        "fixed_offset_default": (source == "default") & is_fixed(settings.default_tz),
        "shifted": shift.notna() & (shift != 0) & has_time,
    })

    out = df.assign(
        local_time=local.astype("datetime64[ms]"),
        local_time_tag=tag.where(has_time),
        clock_shift_seconds=shift,
        utc_offset_minutes=pd.Series(zoned["offset"], index=df.index).astype("Int32"),
        tz_name=tz_name,
        tz_source=source,
        evidence_path=carry_path.where(carried, df["path"].where(has_time)).astype("string"),
        capture_time_secs_utc=(utc - EPOCH) // pd.Timedelta(milliseconds=1) / 1000.0,
        utc_time=utc.astype("datetime64[ms, UTC]"),
        flags=flags,
        warnings=_with_warnings(df["warnings"], warned + gps_warned),
        override_note=note,
        approved=pd.Series(False, index=df.index, dtype="boolean"),
    )
    blank = empty(RESOLVED)
    for name, _ in RESOLVED_EXTRA:
        if name not in out:
            out[name] = pd.Series(None, index=df.index, dtype=blank[name].dtype)
    order = _sorted_positions(local=out["local_time"], name=out["file_name"], path=out["path"])
    out = out[RESOLVED.names]
    if (np.diff(order) < 0).any():  # libraries are mostly in capture order already
        out = out.take(order).reset_index(drop=True)
    return out

