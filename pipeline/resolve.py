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

from .overrides import Rule
from .schema import PHOTOS, RESOLVED, RESOLVED_EXTRA, empty
from .text import extract, parse_datetime
from .zones import (MAX_OFFSET, MIN_OFFSET, check_zone, format_offset, is_fixed, localize,
                    nearest_real_offset, parse_offset_tags, zone_of_place)

GPS_ACCEPT_MINUTES = 30  # phones write the time of their last fix
GPS_LAG_MINUTES = 2
CARRY_GAP = pd.Timedelta(hours=24)
EPOCH = pd.Timestamp(0, tz="UTC")
TAGS = ("DateTimeOriginal", "DateTimeDigitized", "DateTime")


class ResolveWarning(UserWarning):
    """Something the user should hear about that does not stop the run."""


@dataclass(frozen=True)
class Settings:
    """What resolve needs besides the photos and the rules."""

    default_tz: str = "UTC"

    def __post_init__(self):
        object.__setattr__(self, "default_tz", check_zone(self.default_tz))


def parse_exif_datetime(text: pd.Series) -> pd.Series:
    """EXIF 'YYYY:MM:DD HH:MM:SS' strings -> naive datetimes; blank, zero or invalid -> NaT."""
    return parse_datetime(text)


def subsec_milliseconds(text: pd.Series) -> pd.Series:
    """SubSec digits are a decimal fraction ('07' is 70 ms, not 7 ms) -> whole milliseconds."""
    digits = extract(text, r"^\s*(?P<digits>\d+)")["digits"]
    return digits.str.pad(3, side="right", fillchar="0").str.slice(0, 3).astype(
        "Int64").fillna(0).astype("int64")


def parse_gps_clock(date: pd.Series, time: pd.Series, local: pd.Series) -> pd.Series:
    """Local minus GPS UTC, in minutes. Without a GPS date, the nearest day within ±12 h."""
    parts = extract(time, r"^\s*(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)\s*$")
    seconds = (parts["h"].astype("float64") * 3600 + parts["m"].astype("float64") * 60
               + parts["s"].astype("float64"))
    clock = pd.to_timedelta(seconds.round(3), unit="s")
    day = parse_datetime(date.str.strip() + " 00:00:00")
    dated = (local - (day + clock)) / pd.Timedelta(minutes=1)
    undated = (local - (local.dt.floor("D") + clock)) / pd.Timedelta(minutes=1)
    undated = (undated + 720) % 1440 - 720
    return dated.where(day.notna(), undated)


def _pick(by_tag: list[pd.Series], tag: pd.Series) -> pd.Series:
    """The value belonging to each row's chosen local-time tag."""
    result = by_tag[2].copy()
    for values, name in zip(by_tag[1::-1], TAGS[1::-1]):
        result = values.where(tag == name, result)
    return result


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
    """Boolean columns -> one ';'-separated text column of the names that are set."""
    text = None
    for name, mask in named.items():
        part = pd.Series(np.where(mask.fillna(False).to_numpy(bool), name + ";", ""),
                         index=mask.index)
        text = part if text is None else text + part
    return text.str.rstrip(";").astype("string")


def resolve(photos: pd.DataFrame, overrides: list[Rule] | None = None,
            settings: Settings = Settings()) -> pd.DataFrame:
    """The resolved table: every photos column plus the time, zone and audit columns."""
    df = photos[PHOTOS.names].reset_index(drop=True)
    readable = df["error"].isna()

    # 1. Local time, from the first tag that holds one.
    by_tag = [parse_exif_datetime(df[c]) for c in ("datetime_original", "datetime_digitized",
                                                   "datetime")]
    tag = pd.Series(np.select([t.notna().to_numpy() for t in by_tag], list(TAGS), ""),
                    index=df.index).replace("", pd.NA).astype("string").where(readable)
    subsec = _pick([subsec_milliseconds(df[c]) for c in ("subsec_original", "subsec_digitized",
                                                         "subsec")], tag)
    recorded = (_pick(by_tag, tag) + pd.to_timedelta(subsec, unit="ms")).where(tag.notna())

    # 2, 6 and the clock shift: the user's rules.
    override_tz, fallback_tz, shift, note = _rule_columns(overrides or [], df, recorded)
    local = recorded + pd.to_timedelta(shift.fillna(0).astype("int64"), unit="s")
    has_time = local.notna()

    # 3. The offset tag that belongs to the chosen time.
    offset_tag = _pick([parse_offset_tags(df[c]) for c in (
        "offset_time_original", "offset_time_digitized", "offset_time")], tag).where(has_time)

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

    evidence = pd.DataFrame({
        "override": override_tz.where(has_time),
        "offset": format_offset(offset_tag).astype("string"),
        "gps": format_offset(gps_offset).astype("string"),
        "location": place_zone,
        "fallback": fallback_tz.where(has_time),
    })
    own_zone = evidence["offset"].fillna(evidence["gps"]).fillna(evidence["location"])

    # 7. Carry-forward: in capture order within a folder, the nearest earlier own evidence.
    order = pd.DataFrame({"folder": df["folder"], "local": local, "name": df["file_name"],
                          "path": df["path"]}).sort_values(["folder", "local", "name", "path"])
    order = order[order["local"].notna()]
    carry = pd.DataFrame({
        "zone": own_zone.reindex(order.index),
        "path": df["path"].where(own_zone.notna()).reindex(order.index),
        "local": local.where(own_zone.notna()).reindex(order.index),
    })
    carry = carry.groupby(order["folder"], sort=False).ffill().reindex(df.index)
    evidence["carried"] = carry["zone"]
    evidence["default"] = pd.Series(settings.default_tz, index=df.index,
                                    dtype="string").where(has_time)

    chosen = evidence.notna().to_numpy()
    names = np.array(evidence.columns)
    source = pd.Series(np.where(chosen.any(axis=1), names[chosen.argmax(axis=1)], None),
                       index=df.index, dtype="string")
    tz_name = pd.Series(evidence.to_numpy()[np.arange(len(df)), chosen.argmax(axis=1)],
                        index=df.index, dtype="string").where(source.notna())
    carried = source == "carried"

    # 8. Offsets with DST, one pass per distinct zone.
    zoned = pd.DataFrame({"offset": pd.Series(pd.NA, index=df.index, dtype="Int64"),
                          "applied": pd.Series(pd.NA, index=df.index, dtype="Int64"),
                          "ambiguous": False, "nonexistent": False})
    for zone, rows in tz_name.groupby(tz_name, sort=False).groups.items():
        zoned.loc[rows] = localize(local[rows], zone).to_numpy()
    utc = local - pd.to_timedelta(zoned["applied"].astype("float64"), unit="m")
    utc = utc.dt.tz_localize("UTC")

    flags = _flags({
        "no_capture_time_tag": tag == "DateTime",
        "no_time": ~has_time,
        "conflict": offset_tag.notna() & gps_offset.notna() & (offset_tag != gps_offset),
        "stale_gps": stale_gps,
        "gps_lag": (source == "gps") & (gps_miss > GPS_LAG_MINUTES),
        "null_island": null_island,
        "carry_gap": carried & ((local - carry["local"]) > CARRY_GAP),
        "ambiguous": zoned["ambiguous"].astype(bool),
        "nonexistent": zoned["nonexistent"].astype(bool),
        "fixed_offset_default": (source == "default") & is_fixed(settings.default_tz),
        "shifted": shift.notna() & (shift != 0) & has_time,
    })
    source = source.replace({"fallback": "override"})

    out = df.assign(
        local_time=local.astype("datetime64[ms]"),
        local_time_tag=tag.where(has_time),
        clock_shift_seconds=shift,
        utc_offset_minutes=zoned["offset"].astype("Int32"),
        tz_name=tz_name,
        tz_source=source,
        evidence_path=carry["path"].where(carried, df["path"].where(has_time)).astype("string"),
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
    order = out.sort_values(["local_time", "file_name", "path"], na_position="last").index
    return out.loc[order, RESOLVED.names].reset_index(drop=True)

