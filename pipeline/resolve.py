"""photos -> resolved: each photo's local time, its zone, where the zone came from, its UTC instant.

One column-wise pass. The local time comes from the first of DateTimeOriginal, DateTimeDigitized,
DateTime, XMP exif:DateTimeOriginal, photoshop:DateCreated, xmp:CreateDate and a time in the
file name; a photo without one may still have an instant (a Pixel name, Google Takeout's
photoTakenTime), read as a wall clock in the zone the rules below give it.

The zone, from the first that applies: override rule > the chosen time's offset tag (OffsetTime*,
then TimeZoneOffset) > GPS clock (EXIF, then XMP) > camera (the maker note's zone setting) > the
chosen time's XMP offset > GPS position (EXIF, then XMP, then Takeout's) > track (the location
history, tracks/evidence.py) > takeout (local time minus Takeout's UTC time) > fallback rule >
carried > default. Each photo with a time then gets its segment (pipeline/segments.py).
Before any zone, a rule's `shift` or else clocks.csv (see `clocks`) corrects the camera's clock.
Loops run per overrides rule, per camera of clocks.csv, per distinct zone and per name pattern,
never per photo.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .clocks import clock_shifts
from .flags import FLAGS
from .overrides import Rule
from .readers.names import name_times
from .schema import PHOTOS, RESOLVED, RESOLVED_EXTRA, empty
from .segments import segment_ids
from .tracks.evidence import WINDOW_MINUTES, TrackEvidence
from .text import (arrow, escaped, extract, has_text, labels, parse_datetime, parse_iso_datetime,
                   series, sorted_positions, subsec_milliseconds)
from .times import in_range
from .zones import (MAX_OFFSET, MIN_OFFSET, check_zone, format_offset, is_fixed, localize,
                    nearest_real_offset, read_offset_tags, wall_clock, zone_of_place)

GPS_ACCEPT_MINUTES = 30  # phones write the time of their last fix
GPS_LAG_MINUTES = 2
CARRY_GAP = pd.Timedelta(hours=24)
EPOCH = pd.Timestamp(0, tz="UTC")
#: Where a local time may come from, in order: the EXIF tags, the XMP dates, the file name.
TAGS = ("DateTimeOriginal", "DateTimeDigitized", "DateTime", "XMP:DateTimeOriginal",
        "XMP:DateCreated", "XMP:CreateDate", "file_name")
TIME_COLUMNS = ("datetime_original", "datetime_digitized", "datetime", "xmp_datetime_original",
                "xmp_date_created", "xmp_create_date")
EXIF_TAGS = 3  # TAGS[:3] are EXIF's, TAGS[3:6] XMP's
NAME, TAKEOUT = 6, 7  # the codes of a time from the file name and of Takeout's instant
#: local_time_tag, by code.
TIME_SOURCES = (*TAGS, "takeout")
SUBSEC_COLUMNS = ("subsec_original", "subsec_digitized", "subsec")
OFFSET_COLUMNS = ("offset_time_original", "offset_time_digitized", "offset_time")
OFFSET_TAGS = ("OffsetTimeOriginal", "OffsetTimeDigitized", "OffsetTime")
#: The maker notes whose zone setting is read, and whether it leaves summer time out (Nikon's
#: does: an hour is added when its DaylightSavings is on; Canon's already includes it).
CAMERA_ZONE_WITHOUT_DST = {"Canon": False, "Nikon": True}
CANON_CITY_UNSET = (0, 32766)  # TimeZoneCity "n/a" and "(not set)": the zone means nothing
#: Positions in order of preference: EXIF, XMP, Takeout's; and whether 0/0 there is flagged
#: null_island (an unset position passed off as one; Takeout writes 0/0 to mean none).
POSITIONS = (("gps_lat", "gps_lon", True), ("xmp_gps_lat", "xmp_gps_lon", True),
             ("takeout_lat", "takeout_lon", False))
#: The photo's own evidence (what carries forward), and how each kind reports as tz_source.
OWN_EVIDENCE = ("offset", "gps", "camera", "xmp_offset", "location", "track", "takeout")
REPORTED_AS = {"xmp_offset": "offset", "fallback": "override"}
NOT_A_TIME = np.datetime64("NaT", "ms")
ONE_DAY = np.timedelta64(1, "D")


class ResolveWarning(UserWarning):
    """Something the user should hear about that does not stop the run."""


@dataclass(frozen=True)
class Settings:
    """What resolve needs besides the photos and the rules."""

    default_tz: str = "UTC"
    track_window_minutes: float = WINDOW_MINUTES  # a track point this near the instant counts

    def __post_init__(self):
        object.__setattr__(self, "default_tz", check_zone(self.default_tz))


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


def _local_times(df: pd.DataFrame, readable: np.ndarray, xmp: dict, takeout: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[pa.Array]]:
    """The first usable local time (datetime64[ms], any year), or for a photo without one an
    instant (a Pixel name, then Takeout's time); which source (index into TIME_SOURCES, or -1);
    and warnings for the date tags consulted that hold no real time.

    A tag with an impossible or unreadable value is absent: the next one is used. Later sources
    are read only for the readable rows that still lack a time. `xmp` holds the XMP dates,
    parsed once (resolve compares them with EXIF's as well).
    """
    local = np.full(len(df), NOT_A_TIME)
    instant = local.copy()
    code = np.full(len(df), -1)
    rows = np.flatnonzero(readable)
    problems = []
    for number, (tag, column) in enumerate(zip(TAGS, TIME_COLUMNS)):
        if column in xmp:
            times, problem = xmp[column][0][rows], xmp[column][2].iloc[rows]
        else:
            times, problem = parse_datetime(df[column].iloc[rows])
        local[rows] = times
        code[rows[~np.isnat(times)]] = number
        problems.append(_warning(tag, problem.reindex(df.index), df[column]))
        rows = rows[np.isnat(times)]
    if len(rows):
        named = name_times(df["file_name"].iloc[rows])
        local[rows], instant[rows] = named["local"].to_numpy(), named["utc"].to_numpy()
        code[rows[~np.isnat(local[rows]) | ~np.isnat(instant[rows])]] = NAME
        rows = rows[np.isnat(local[rows]) & np.isnat(instant[rows])]
        instant[rows] = takeout[rows]
        code[rows[~np.isnat(takeout[rows])]] = TAKEOUT
    return local, instant, code, problems


def _epoch_seconds(seconds: pd.Series) -> np.ndarray:
    """Epoch seconds (Int64, any value) -> datetime64[ms] instants; values beyond some 3,000
    years are held at that distance, which is outside every represented time anyway."""
    values = seconds.to_numpy(dtype="float64", na_value=np.nan)
    held = (np.clip(np.nan_to_num(values), -1e11, 1e11) * 1000).astype(np.int64)
    return np.where(np.isnan(values), NOT_A_TIME, held.view("datetime64[ms]"))


def _represented(instant: np.ndarray) -> np.ndarray:
    """Which instants are represented: a day inside TIME_RANGE, so that their wall clock in any
    zone is too."""
    return in_range(instant - ONE_DAY) & in_range(instant + ONE_DAY)


def _in_zone(instant: np.ndarray, zone: str) -> np.ndarray:
    """Represented instants as wall-clock times in one zone (NaT elsewhere)."""
    clock = np.full(len(instant), NOT_A_TIME)
    rows = np.flatnonzero(_represented(instant))
    if len(rows):
        clock[rows] = wall_clock(pd.Series(instant[rows]), zone)["local"].to_numpy(
            dtype="datetime64[ms]")
    return clock


def _time_zone_offset(hours: pd.Series, original: np.ndarray, offset_tag: pd.Series
                      ) -> tuple[pd.Series, pa.Array]:
    """EXIF TimeZoneOffset (hours) as minutes, where DateTimeOriginal is the chosen time and its
    own OffsetTimeOriginal gave nothing; and warnings for one out of range there."""
    hours = hours.astype("Int64")
    consulted = pd.Series(original, index=hours.index) & offset_tag.isna() & hours.notna()
    minutes = (hours * 60).where(consulted)
    usable = minutes.between(MIN_OFFSET, MAX_OFFSET).fillna(False)
    problem = labels(np.where(consulted & ~usable, 0, -1), ["out of range"], hours.index)
    return minutes.where(usable), _warning("TimeZoneOffset", problem, hours.astype("string"))


def _real_offset_near(difference: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The GPS clock rule, for any clock that tells UTC: of local minus UTC (minutes), the
    nearest real offset, accepted within GPS_ACCEPT_MINUTES and no further beyond
    -12:00...+14:00 -> (offset where accepted, minutes off it, stale: a difference that is no
    offset at all)."""
    nearest = nearest_real_offset(difference)
    miss = (difference - nearest.astype("float64")).abs()
    plausible = difference.between(MIN_OFFSET - GPS_ACCEPT_MINUTES, MAX_OFFSET + GPS_ACCEPT_MINUTES)
    accepted = (miss <= GPS_ACCEPT_MINUTES) & plausible
    return nearest.where(accepted), miss, difference.notna() & ~accepted


def _xmp_gps_clock(text: pd.Series, local: pd.Series) -> tuple[pd.Series, pa.Array]:
    """Local minus XMP exif:GPSTimeStamp (a full date-time, UTC unless it names its offset), in
    minutes; and warnings for values there that are no time."""
    times, zone, problem = parse_iso_datetime(text)
    zone_minutes, zone_problem = read_offset_tags(zone)
    utc = _minutes(times) - zone_minutes.fillna(0).to_numpy(dtype="float64")
    utc = np.where(zone_problem.isna(), utc, np.nan)
    difference = pd.Series(_minutes(local.to_numpy(dtype="datetime64[ms]")) - utc, index=text.index)
    return difference, _warning("XMP:GPSTimeStamp", problem.fillna(zone_problem), text)


def _camera_offset(df: pd.DataFrame) -> tuple[pd.Series, pa.Array]:
    """The zone set in the camera (minutes, Int64), from a maker note in CAMERA_ZONE_WITHOUT_DST:
    an hour added where the maker leaves summer time out and DaylightSavings is on; Canon's
    TimeZoneCity n/a or "(not set)" is no setting. Also warnings for a setting out of range."""
    group = df["makernote_group"]
    raw = df["makernote_timezone_minutes"].to_numpy(dtype="float64", na_value=np.nan)
    without_dst = [maker for maker, without in CAMERA_ZONE_WITHOUT_DST.items() if without]
    summer = group.isin(without_dst).to_numpy(bool) & df["makernote_dst"].to_numpy(
        dtype=bool, na_value=False)
    unset = (group == "Canon").to_numpy(bool) & df["makernote_city"].isin(
        CANON_CITY_UNSET).to_numpy(bool)
    minutes = raw + 60 * summer
    setting = group.isin(list(CAMERA_ZONE_WITHOUT_DST)).to_numpy(bool) & ~unset & ~np.isnan(raw)
    usable = setting & (minutes >= MIN_OFFSET) & (minutes <= MAX_OFFSET)
    problem = labels(np.where(setting & ~usable, 0, -1), ["out of range"], df.index)
    return (pd.Series(np.where(usable, minutes, np.nan), index=df.index).astype("Int64"),
            _warning(group + " TimeZone", problem, df["makernote_timezone_minutes"].astype("string")))


def _xmp_offset(code: np.ndarray, recorded: np.ndarray, xmp: dict, index: pd.Index
                ) -> tuple[pd.Series, list[pa.Array]]:
    """The offset written on the chosen XMP time; for a chosen EXIF time, the offset of the
    first XMP date equal to it to the second (editors repeat DateTimeOriginal in XMP with its
    offset). Other XMP offsets belong to other times. Also warnings for the chosen one unusable."""
    seconds = recorded.astype("datetime64[s]")
    exif = (code >= 0) & (code < EXIF_TAGS)
    minutes = np.full(len(index), np.nan)
    problems = []
    for number, column in enumerate(TIME_COLUMNS[EXIF_TAGS:], start=EXIF_TAGS):
        times, zone, _ = xmp[column]
        if zone.isna().all():
            continue
        value, problem = read_offset_tags(zone)
        chosen = code == number
        lends = exif & (times.astype("datetime64[s]") == seconds)
        minutes = np.where(np.isnan(minutes) & (chosen | lends),
                           value.to_numpy(dtype="float64", na_value=np.nan), minutes)
        problems.append(_warning(f"{TAGS[number]} offset",
                                 problem.where(pd.Series(chosen, index=index)), zone))
    return pd.Series(minutes, index=index).astype("Int64"), problems


def position(df: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The first usable position of POSITIONS (latitude, longitude; NaN for none), and where
    the first position given is a flagged 0/0 (Null Island: no evidence)."""
    lat, lon = (np.full(len(df), np.nan) for _ in range(2))
    chosen, given, null_island = (np.zeros(len(df), dtype=bool) for _ in range(3))
    for lat_column, lon_column, flagged in POSITIONS:
        y, x = (df[c].to_numpy(dtype="float64", na_value=np.nan) for c in (lat_column, lon_column))
        present = ~np.isnan(y) & ~np.isnan(x)
        zero = present & (y == 0) & (x == 0)
        null_island |= flagged & ~given & zero
        given |= present
        usable = ~chosen & present & ~zero & (np.abs(y) <= 90) & (np.abs(x) <= 180)
        lat, lon = np.where(usable, y, lat), np.where(usable, x, lon)
        chosen |= usable
    return (pd.Series(lat, index=df.index), pd.Series(lon, index=df.index),
            pd.Series(null_island, index=df.index))


def _sidecar_differs(df: pd.DataFrame, readable: np.ndarray) -> pd.Series:
    """Where the XMP sidecar's DateTimeOriginal and the embedded EXIF one are both times that
    differ, to the second (a capture time edited in Lightroom lives only in the sidecar)."""
    differs = np.zeros(len(df), dtype=bool)
    rows = np.flatnonzero(readable & df["sidecar_datetime_original"].notna().to_numpy())
    if len(rows):
        sidecar = parse_iso_datetime(df["sidecar_datetime_original"].iloc[rows])[0]
        embedded = parse_datetime(df["datetime_original"].iloc[rows])[0]
        differs[rows] = (~np.isnat(sidecar) & ~np.isnat(embedded)
                         & (sidecar.astype("datetime64[s]") != embedded.astype("datetime64[s]")))
    return pd.Series(differs, index=df.index)


def _disagree(value: pd.Series, *higher: pd.Series) -> pd.Series:
    """Where an offset and any of the higher sources' offsets are both known and differ."""
    mine = value.to_numpy(dtype="float64", na_value=np.nan)
    differ = np.zeros(len(mine), dtype=bool)
    for other in higher:
        theirs = other.to_numpy(dtype="float64", na_value=np.nan)
        differ |= ~np.isnan(mine) & ~np.isnan(theirs) & (mine != theirs)
    return pd.Series(differ, index=value.index)


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
            warnings.warn(f"{rule.source}:{rule.line}: rule matches no photo", ResolveWarning)
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
    """Boolean columns, one per name of FLAGS -> one ';'-separated text column of the names
    that are set, in FLAGS order.

    Each row's flags become one bit pattern; the text is built once per pattern present.
    """
    unregistered = set(named) ^ set(FLAGS)
    if unregistered:  # a flag without a kind would mean nothing to the review
        raise ValueError(f"flags raised and registered in pipeline/flags.py differ: "
                         f"{sorted(unregistered)}")
    index = next(iter(named.values())).index
    bits = np.zeros(len(index), dtype=np.int64)
    for name, mask in named.items():
        bits |= mask.fillna(False).to_numpy(bool).astype(np.int64) << FLAGS.index(name)
    present = np.flatnonzero(np.bincount(bits, minlength=1))
    texts = [None] * (int(present.max()) + 1 if len(present) else 1)
    for pattern in present.tolist():
        texts[pattern] = ";".join(n for b, n in enumerate(FLAGS) if pattern >> b & 1)
    return labels(bits, texts, index)


def _in_order(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """`frame`'s rows in `order`, taken column by column, each column dropped from `frame` as its
    reordered copy is made (a whole second table at once was the stage's peak memory); a text
    column held in several Arrow chunks is made one first, where Arrow's take is many times
    faster."""
    indices = pa.array(order)
    taken = {}
    for name in list(frame.columns):
        column = frame.pop(name)
        if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
            values = column.array.__arrow_array__()
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            taken[name] = column.dtype.__from_arrow__(values.take(indices))
        else:
            taken[name] = column.take(order).reset_index(drop=True)
    return pd.DataFrame(taken)


def _carry_sources(folder: pd.Series, local: pd.Series, name: pd.Series, path: pd.Series,
                   has_evidence: np.ndarray) -> np.ndarray:
    """For each row, the position of the nearest earlier row with evidence in its folder, in
    capture order (local time, then file name); -1 where there is none."""
    order = sorted_positions(folder=folder, local=local, name=name, path=path)
    order = order[local.notna().to_numpy()[order]]
    folder_code = pc.dictionary_encode(arrow(folder)).indices.to_numpy(zero_copy_only=False)
    step = np.where(has_evidence[order], np.arange(len(order)), -1)
    latest = np.maximum.accumulate(step) if len(step) else step
    source = np.where(latest >= 0, order[latest.clip(0)], -1)
    same_folder = (latest >= 0) & (folder_code[source.clip(0)] == folder_code[order])
    carried_from = np.full(len(folder), -1)
    carried_from[order] = np.where(same_folder, source, -1)
    return carried_from


def _localize_by_zone(local: pd.Series, instant: np.ndarray, tz_name: pd.Series
                      ) -> dict[str, np.ndarray]:
    """Offsets and DST flags for every row, one vectorized pass per distinct zone. A row known
    as an instant gets that instant's wall clock in its zone as its `local` time (an instant is
    never ambiguous)."""
    n = len(local)
    result = {"local": local.to_numpy(dtype="datetime64[ms]").copy(),
              "offset": np.full(n, np.nan), "applied": np.full(n, np.nan),
              "ambiguous": np.zeros(n, bool), "nonexistent": np.zeros(n, bool)}
    at_instant = ~np.isnat(instant)
    encoded = pc.dictionary_encode(arrow(tz_name))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    for code, zone in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero((codes == code) & ~at_instant)
        zoned = localize(local.iloc[rows], zone)
        for column in ("offset", "applied"):
            result[column][rows] = zoned[column].to_numpy(dtype="float64", na_value=np.nan)
        for column in ("ambiguous", "nonexistent"):
            result[column][rows] = zoned[column].to_numpy(bool)
        rows = np.flatnonzero((codes == code) & at_instant)
        if len(rows):
            clock = wall_clock(pd.Series(instant[rows]), zone)
            result["offset"][rows] = result["applied"][rows] = clock["offset"].to_numpy(
                dtype="float64", na_value=np.nan)
            result["local"][rows] = clock["local"].to_numpy(dtype="datetime64[ms]")
    return result


def _camera_clock(df: pd.DataFrame, readable: np.ndarray, xmp: dict
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[pa.Array]]:
    """_local_times with the sub-seconds of the chosen tag added to the local time: what the
    camera's clock recorded (datetime64[ms], any year)."""
    recorded, instant, code, warned = _local_times(
        df, readable, xmp, _epoch_seconds(df["takeout_timestamp"]))
    subsec = subsec_milliseconds(_belonging(df, SUBSEC_COLUMNS, code))
    return recorded + subsec.to_numpy().astype("timedelta64[ms]"), instant, code, warned


def recorded_local(photos: pd.DataFrame) -> np.ndarray:
    """Each photo's recorded local time (datetime64[ms]): the camera's own clock, before any
    shift, as resolve chooses it; NaT for a photo without one (none, or only an instant)."""
    df = photos[PHOTOS.names].reset_index(drop=True)
    xmp = {column: parse_iso_datetime(df[column]) for column in TIME_COLUMNS[EXIF_TAGS:]}
    return _camera_clock(df, df["error"].isna().to_numpy(), xmp)[0]


def _clock_columns(df: pd.DataFrame, recorded: np.ndarray, clocks: pd.DataFrame | None,
                   rule_shift: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The clocks.csv shift of each photo (whole milliseconds, Int64) where its camera has sync
    points and no rule shifts it (a rule's shift wins), and the sync lines that set it (text);
    warns of sync points without photos."""
    if clocks is None or clocks.empty:
        return (pd.Series(pd.NA, index=df.index, dtype="Int64"),
                pd.Series(pd.NA, index=df.index, dtype="string"))
    shift, basis, idle = clock_shifts(df, recorded, clocks)
    for line in idle:
        warnings.warn(f"clocks.csv line {line}: no photo of its camera", ResolveWarning)
    shift = pd.Series(np.round(shift), index=df.index).astype("Int64").where(rule_shift.isna())
    moved = (shift.notna() & (shift != 0)).to_numpy(bool)
    return shift, pd.Series(basis, index=df.index, dtype="string").where(moved)


def clock_moves(photos: pd.DataFrame, recorded: np.ndarray, rules: list[Rule],
                before: pd.DataFrame, after: pd.DataFrame) -> pd.Series:
    """How far (milliseconds, by row of `photos`, whose `recorded_local` times are `recorded`)
    resolve moves each photo's local time when clocks.csv's sync points change from `before` to
    `after`: 0 where they change nothing, NaN where they would move it but a rule's shift wins."""
    df = photos[PHOTOS.names].reset_index(drop=True)
    old, new = (np.nan_to_num(np.round(clock_shifts(df, recorded, points)[0]))
                for points in (before, after))
    overridden = np.zeros(len(df), dtype=bool)
    for rule in rules:
        if rule.shift_seconds is not None:
            overridden |= rule.selection.mask(df, _within_range(recorded, df.index)).to_numpy()
    return pd.Series(new - old, index=photos.index).where(~overridden | (new == old))


def resolve(photos: pd.DataFrame, overrides: list[Rule] | None = None,
            settings: Settings = Settings(), *, clocks: pd.DataFrame | None = None,
            tracks: pa.Table | None = None) -> pd.DataFrame:
    """The resolved table: every photos column plus the time, zone and audit columns.
    `clocks`: the sync points of clocks.csv (clocks.parse_clocks); `tracks`: the location
    history (schema TRACKS), evidence where the photo has no position of its own."""
    df = photos[PHOTOS.names].reset_index(drop=True)
    readable = df["error"].isna().to_numpy()
    xmp = {column: parse_iso_datetime(df[column]) for column in TIME_COLUMNS[EXIF_TAGS:]}

    # 1. Local time, from the first tag (or the file name) that holds one; else an instant.
    # Until they are known to lie in the range photoflux represents, times stay in numpy
    # milliseconds, where no year can overflow.
    recorded, instant, code, warned = _camera_clock(df, readable, xmp)
    tag = labels(code, list(TIME_SOURCES), df.index)

    # 2. The user's rules: zones (override, fallback) and clock shifts. They see the camera's own
    # clock, and an instant as a wall clock in the default zone; a shift moves an instant too.
    # clocks.csv shifts the camera's own clock where no rule shifts it.
    seen = np.where(np.isnat(recorded), _in_zone(instant, settings.default_tz), recorded)
    override_tz, fallback_tz, shift, note = _rule_columns(
        overrides or [], df, _within_range(seen, df.index))
    clock_ms, clock_note = _clock_columns(df, recorded, clocks, shift)
    rule_ms = shift.fillna(0).to_numpy(dtype="int64").astype("timedelta64[s]")
    local_ms = clock_ms.fillna(0).to_numpy(dtype="int64").astype("timedelta64[ms]") + rule_ms
    shifted_local, instant = recorded + local_ms, instant + rule_ms
    out_of_range = ((~np.isnat(shifted_local) & ~in_range(shifted_local))
                    | (~np.isnat(instant) & ~_represented(instant)))
    instant = np.where(_represented(instant), instant, NOT_A_TIME)
    local = _within_range(np.where(np.isnat(instant), shifted_local,
                                   _in_zone(instant, settings.default_tz)), df.index)
    has_time = local.notna()
    clock_local = local.where(np.isnat(instant))  # what a UTC clock can be compared with

    # 3. The offset tag that belongs to the chosen time; for DateTimeOriginal, below its own
    # OffsetTimeOriginal, TimeZoneOffset.
    offset_text = _belonging(df, OFFSET_COLUMNS, code)
    offset_tag, offset_problem = read_offset_tags(offset_text)
    warned.append(_warning(labels(np.where(code < EXIF_TAGS, code, -1), list(OFFSET_TAGS),
                                  df.index), offset_problem, offset_text))
    tz_offset, tz_offset_warned = _time_zone_offset(df["timezone_offset"], code == 0, offset_tag)
    warned.append(tz_offset_warned)
    offset_tag = offset_tag.fillna(tz_offset).where(has_time)

    # 4. The GPS clock: EXIF's, else XMP's.
    gps_diff, gps_warned = parse_gps_clock(df["gps_date"], df["gps_time"], clock_local)
    xmp_consulted = gps_diff.isna()
    xmp_diff, xmp_gps_warned = _xmp_gps_clock(df["xmp_gps_datetime"].where(xmp_consulted),
                                              clock_local)
    gps_diff = gps_diff.fillna(xmp_diff)
    gps_offset, gps_miss, stale_gps = _real_offset_near(gps_diff)

    # 5. The camera's zone setting, and the XMP offset of the chosen time.
    camera, camera_warned = _camera_offset(df)
    camera = camera.where(has_time)
    xmp_offset, xmp_warned = _xmp_offset(code, recorded, xmp, df.index)
    xmp_offset = xmp_offset.where(has_time)

    # 6. The position: EXIF's, else XMP's, else Takeout's.
    lat, lon, null_island = position(df)
    place_zone = zone_of_place(lat.where(has_time), lon)

    # 7. Takeout's UTC time against the local time, by the GPS clock's rule.
    takeout_diff = pd.Series(_minutes(clock_local.to_numpy(dtype="datetime64[ms]")), index=df.index
                             ) - df["takeout_timestamp"].astype("float64") / 60
    takeout_offset, _, stale_takeout = _real_offset_near(takeout_diff)

    # 7b. The location history, where nothing above gives a zone.
    tracked = TrackEvidence(tracks, settings.track_window_minutes)
    by_track = tracked.zones(clock_local, instant, (
        has_time & override_tz.isna() & offset_tag.isna() & gps_offset.isna() & camera.isna()
        & xmp_offset.isna() & place_zone.isna()).to_numpy(bool))

    # Each kind of evidence as a zone-name column, in order of precedence.
    evidence = {
        "override": arrow(override_tz.where(has_time)),
        "offset": arrow(format_offset(offset_tag)),
        "gps": arrow(format_offset(gps_offset)),
        "camera": arrow(format_offset(camera)),
        "xmp_offset": arrow(format_offset(xmp_offset)),
        "location": arrow(place_zone),
        "track": arrow(by_track.zone),
        "takeout": arrow(format_offset(takeout_offset)),
        "fallback": arrow(fallback_tz.where(has_time)),
    }
    own_zone = pc.coalesce(*(evidence[kind] for kind in OWN_EVIDENCE))

    # 8. Carry-forward: in capture order within a folder, the nearest earlier own evidence.
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
    kinds = [REPORTED_AS.get(kind, kind) for kind in evidence]
    source = labels(np.select(present, range(len(kinds)), -1), kinds, df.index)
    tz_name = series(pc.coalesce(*evidence.values()), df.index, "str")
    carried = source == "carried"

    # 9. Offsets with DST, one pass per distinct zone; an instant becomes its wall clock there.
    zoned = _localize_by_zone(local, instant, tz_name)
    local_time = pd.Series(zoned["local"], index=df.index, dtype="datetime64[ms]")
    utc = local_time - pd.to_timedelta(zoned["applied"], unit="m")
    utc = utc.dt.tz_localize("UTC")
    located = tracked.at(utc, lat, lon)

    flags = _flags({
        "no_capture_time_tag": tag == "DateTime",
        "no_time": ~has_time,
        "out_of_range": pd.Series(out_of_range, index=df.index),
        "time_from_name": (tag == "file_name") & has_time,
        "conflict": (_disagree(gps_offset, offset_tag) | _disagree(camera, offset_tag, gps_offset)
                     | _disagree(xmp_offset, offset_tag, gps_offset, camera)),
        "stale_gps": stale_gps,
        "gps_lag": (source == "gps") & (gps_miss > GPS_LAG_MINUTES),
        "stale_takeout": stale_takeout,
        "null_island": null_island,
        "sidecar_time_differs": _sidecar_differs(df, readable),
        "carry_gap": carried & ((local - carry_local) > CARRY_GAP),
        "ambiguous": pd.Series(zoned["ambiguous"], index=df.index),
        "nonexistent": pd.Series(zoned["nonexistent"], index=df.index),
        "fixed_offset_default": (source == "default") & is_fixed(settings.default_tz),
        "shifted": shift.notna() & (shift != 0) & has_time,
        "clock_shifted": clock_ms.notna() & (clock_ms != 0) & has_time,
        "track_ambiguous": (source == "track") & by_track.ambiguous,
        "track_conflict": located["conflict"],
    })

    out = df.assign(
        local_time=local_time,
        local_time_tag=tag.where(has_time),
        clock_shift_seconds=shift.fillna((clock_ms / 1000).round().astype("Int64")),
        utc_offset_minutes=pd.Series(zoned["offset"], index=df.index).astype("Int32"),
        tz_name=tz_name,
        tz_source=source,
        evidence_path=carry_path.where(carried, df["path"].where(has_time)).astype("string"),
        capture_time_secs_utc=(utc - EPOCH) // pd.Timedelta(milliseconds=1) / 1000.0,
        utc_time=utc.astype("datetime64[ms, UTC]"),
        flags=flags,
        warnings=_with_warnings(df["warnings"], [*warned, *gps_warned, xmp_gps_warned,
                                                 camera_warned, *xmp_warned]),
        override_note=note.str.cat(clock_note, sep=" | ").fillna(note).fillna(clock_note),
        track_lat=located["track_lat"], track_lon=located["track_lon"],
        track_gap_minutes=located["track_gap_minutes"],
        approved=pd.Series(False, index=df.index, dtype="boolean"),
    )
    blank = empty(RESOLVED)
    for name, _ in RESOLVED_EXTRA:
        if name not in out:
            out[name] = pd.Series(None, index=df.index, dtype=blank[name].dtype)
    order = sorted_positions(local=out["local_time"], name=out["file_name"], path=out["path"])
    out = out[RESOLVED.names]
    if (np.diff(order) < 0).any():  # libraries are mostly in capture order already
        out = _in_order(out, order)
    out["segment"] = segment_ids(out)
    return out
