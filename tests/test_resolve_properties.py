"""Property tests of the time arithmetic: round trips, GPS offsets, order independence, and
resolve on whatever text a file can hold."""
from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from frames import photos
from pipeline.overrides import parse_overrides
from pipeline.resolve import ResolveWarning, Settings, resolve
from pipeline.times import MAX_SHIFT_SECONDS, in_range
from pipeline.zones import REAL_OFFSETS_MINUTES

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/St_Johns", "Pacific/Chatham", "UTC", "+05:45", "-03:30"]
#: Zones whose 19th-century local mean time lies beyond ±14 h or is not whole minutes.
LOCAL_MEAN_TIME_ZONES = ["Asia/Manila", "America/Sitka", "Europe/Amsterdam"]
local_times = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2037, 12, 31))
#: Every local time photoflux represents (pipeline.times.TIME_RANGE).
represented = st.datetimes(min_value=dt.datetime(1800, 1, 1),
                           max_value=dt.datetime(2199, 12, 31, 23, 59, 59, 999000))


def exif(moment: dt.datetime) -> str:
    return moment.strftime("%Y:%m:%d %H:%M:%S")


@settings(max_examples=80, deadline=None)
@given(local=st.one_of(local_times, represented),
       zone=st.sampled_from(ZONES + LOCAL_MEAN_TIME_ZONES))
def test_utc_plus_offset_gives_back_the_local_time(local, zone):
    local = local.replace(microsecond=local.microsecond // 1000 * 1000)
    row = resolve(photos({"datetime_original": exif(local),
                          "subsec_original": f"{local.microsecond // 1000:03d}"}),
                  None, Settings(zone)).iloc[0]
    back = row["utc_time"].tz_localize(None) + pd.Timedelta(minutes=int(row["utc_offset_minutes"]))
    if "nonexistent" in (row["flags"] or ""):
        # read with the offset before the change: moved forward by the gap
        assert back > pd.Timestamp(local)
    else:
        assert back == pd.Timestamp(local)
    assert row["capture_time_secs_utc"] == row["utc_time"].timestamp()


@settings(max_examples=80, deadline=None)
@given(utc=local_times, offset=st.sampled_from(sorted(set(REAL_OFFSETS_MINUTES.tolist()))),
       lag_seconds=st.integers(min_value=-110, max_value=110))
def test_gps_clock_recovers_the_real_offset(utc, offset, lag_seconds):
    utc = utc.replace(microsecond=0)
    local = utc + dt.timedelta(minutes=offset)
    fix = utc - dt.timedelta(seconds=lag_seconds)
    row = resolve(photos({"datetime_original": exif(local), "gps_date": fix.strftime("%Y:%m:%d"),
                          "gps_time": fix.strftime("%H:%M:%S")}), None, Settings("UTC")).iloc[0]
    assert (row["tz_source"], row["utc_offset_minutes"]) == ("gps", offset)
    assert row["utc_time"].tz_localize(None) == pd.Timestamp(utc)


row_kinds = st.fixed_dictionaries({
    "datetime_original": st.one_of(st.none(), local_times.map(exif)),
    "offset_time_original": st.sampled_from([None, "+09:00", "-03:30", "+02:00"]),
    "gps_time": st.sampled_from([None, "10:00:00", "23:59:30"]),
    "gps_lat": st.sampled_from([None, 0.0, 40.7128, 51.5074]),
    "folder": st.sampled_from(["/a", "/b"]),
}).map(lambda row: {**row, "gps_lon": None if row["gps_lat"] is None else -0.1})


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(row_kinds, min_size=1, max_size=12), seed=st.randoms(use_true_random=False))
def test_resolve_is_deterministic_and_independent_of_row_order(rows, seed):
    table = photos(*rows)
    table["path"] = table["folder"] + "/" + table["file_name"]
    shuffled = table.sample(frac=1, random_state=seed.randint(0, 2**31))
    first = resolve(table, None, Settings("Europe/Berlin"))
    again = resolve(shuffled, None, Settings("Europe/Berlin"))
    pd.testing.assert_frame_equal(first, again)


# Whatever a file holds: resolve never raises, and every time it gives is in range and consistent.
def exif_like(year, month, day, hour, minute, second, separator):
    return f"{year:04d}{separator}{month:02d}{separator}{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


date_strings = st.one_of(
    st.none(),
    st.text(max_size=30),  # garbage, NULs, any script
    st.builds(exif_like, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
              st.integers(0, 25), st.integers(0, 61), st.integers(0, 61), st.sampled_from(":-/")),
    st.builds(exif_like, st.integers(1795, 2205), st.integers(1, 12), st.integers(1, 28),
              st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.just(":")),
    st.sampled_from(["0000:00:00 00:00:00", "    :  :     :  :  ", "\x00" * 20]),
)
offset_strings = st.one_of(st.none(), st.text(max_size=8),
                           st.from_regex(r"\A[+-][0-9]{2}:?[0-9]{2}\Z"))
shifts = st.integers(-MAX_SHIFT_SECONDS, MAX_SHIFT_SECONDS).map(
    lambda s: f"{'-' if s < 0 else '+'}{abs(s) // 3600}:{abs(s) % 3600 // 60:02d}:{abs(s) % 60:02d}")
hostile_rows = st.fixed_dictionaries({
    "datetime_original": date_strings,
    "datetime_digitized": date_strings,
    "datetime": date_strings,
    "subsec_original": st.one_of(st.none(), st.text(max_size=12)),
    "offset_time_original": offset_strings,
    "gps_date": st.one_of(st.none(), date_strings.map(lambda d: d and d[:10])),
    "gps_time": st.one_of(st.none(), st.text(max_size=12),
                          st.from_regex(r"\A[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?\Z")),
    "gps_lat": st.one_of(st.none(), st.floats(), st.floats(-90, 90)),
    "gps_lon": st.one_of(st.none(), st.floats(), st.floats(-180, 180)),
})


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(hostile_rows, min_size=1, max_size=6), shift=st.one_of(st.none(), shifts),
       zone=st.sampled_from(ZONES + LOCAL_MEAN_TIME_ZONES))
def test_any_exif_text_and_any_shift_resolve_without_raising(rows, shift, zone):
    rules = parse_overrides(f"path_glob,shift\n*/IMG_1.jpg,{shift}\n") if shift else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolveWarning)
        warnings.simplefilter("error", RuntimeWarning)  # numpy's cast warnings would reach users
        resolved = resolve(photos(*rows), rules, Settings(zone))
    timed = resolved[resolved["local_time"].notna()]
    assert in_range(timed["local_time"].to_numpy()).all()
    untimed = resolved[resolved["local_time"].isna()]
    assert untimed["flags"].str.contains("no_time").all()
    assert untimed["capture_time_secs_utc"].isna().all()
    out = resolved["flags"].fillna("").str.contains("out_of_range")
    assert resolved.loc[out, "local_time"].isna().all()
    for _, row in timed.iterrows():
        back = row["utc_time"].tz_localize(None) + pd.Timedelta(minutes=int(row["utc_offset_minutes"]))
        if "nonexistent" not in (row["flags"] or ""):
            assert back == row["local_time"]
        assert row["capture_time_secs_utc"] == pytest.approx(row["utc_time"].timestamp(), abs=1e-3)
