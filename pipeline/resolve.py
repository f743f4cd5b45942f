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
from .text import arrow, extract, labels, parse_datetime, series
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


def parse_gps_clock(date: pd.Series, time: pd.Series, local: pd.Series) -> pd.Series:
    """Local minus GPS UTC, in minutes. Without a GPS date, the nearest day within ±12 h."""
    parts = extract(time, r"^\s*(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)\s*$",
                    as_float=True)
    seconds = parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    clock = pd.to_timedelta(seconds.round(3), unit="s")
    day = parse_datetime(date.str.strip() + " 00:00:00")
    dated = (local - (day + clock)) / pd.Timedelta(minutes=1)
    undated = (local - (local.dt.floor("D") + clock)) / pd.Timedelta(minutes=1)
    undated = (undated + 720) % 1440 - 720
    return dated.where(day.notna(), undated)


def _first_usable_time(df: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """The first usable local time among the tags, and which tag (index into TAGS, or -1).

    Later tags are parsed only for the rows that still lack a time.
    """
    local = parse_datetime(df[TIME_COLUMNS[0]]).to_numpy().copy()
    code = np.where(np.isnat(local), -1, 0)
    for number, column in enumerate(TIME_COLUMNS[1:], start=1):
        missing = np.flatnonzero(np.isnat(local))
        if not len(missing):
            break
        local[missing] = parse_datetime(df[column].iloc[missing]).to_numpy()
        code[missing[~np.isnat(local[missing])]] = number
    return pd.Series(local, index=df.index), code


def _belonging(df: pd.DataFrame, columns: tuple[str, str, str], code: np.ndarray) -> pd.Series:
    """Each row's value from the column that belongs to its chosen time tag (null for none)."""
    chosen = pc.if_else(pa.array(code == 0), arrow(df[columns[0]]), pc.if_else(
        pa.array(code == 1), arrow(df[columns[1]]), pc.if_else(
            pa.array(code == 2), arrow(df[columns[2]]), None)))
    return series(chosen, df.index, "str")


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

    # 1. Local time, from the first tag that holds one.
    recorded, code = _first_usable_time(df)
    code[~readable.to_numpy()] = -1
    tag = labels(code, list(TAGS), df.index)
    subsec = subsec_milliseconds(_belonging(df, SUBSEC_COLUMNS, code))
    recorded = (recorded + pd.to_timedelta(subsec, unit="ms")).where(tag.notna())

    # 2, 6 and the clock shift: the user's rules.
    override_tz, fallback_tz, shift, note = _rule_columns(overrides or [], df, recorded)
    local = recorded + pd.to_timedelta(shift.fillna(0).astype("int64"), unit="s")
    has_time = local.notna()

    # 3. The offset tag that belongs to the chosen time.
    offset_tag = parse_offset_tags(_belonging(df, OFFSET_COLUMNS, code)).where(has_time)

    # 4. The GPS clock.
    gps_diff = parse_gps_clock(df["gps_date"], df["gps_time"], local)
    gps_offset = nearest_real_offset(gps_diff)
    gps_miss = (gps_diff - gps_offset.astype("float64")).abs()
    in_range = gps_diff.between(MIN_OFFSET - GPS_ACCEPT_MINUTES, MAX_OFFSET + GPS_ACCEPT_MINUTES)
    gps_ok = (gps_miss <= GPS_ACCEPT_MINUTES) & in_range
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

