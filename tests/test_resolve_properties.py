"""Property tests of the time arithmetic: round trips, GPS offsets, order independence, and
resolve on whatever text a file can hold."""
from __future__ import annotations

import calendar
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


@settings(max_examples=80, deadline=None)
@given(moment=st.datetimes(min_value=dt.datetime(1800, 1, 2), max_value=dt.datetime(2199, 12, 30)),
       zone=st.sampled_from(ZONES + LOCAL_MEAN_TIME_ZONES), pixel=st.booleans())
def test_an_instant_without_a_local_time_is_kept_in_any_zone(moment, zone, pixel):
    if pixel:  # a Pixel name: UTC with milliseconds
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        row = {"file_name": moment.strftime("PXL_%Y%m%d_%H%M%S") + f"{moment.microsecond // 1000:03d}.jpg"}
    else:  # Takeout's photoTakenTime: whole seconds
        moment = moment.replace(microsecond=0)
        row = {"takeout_timestamp": calendar.timegm(moment.timetuple())}
    resolved = resolve(photos(row), None, Settings(zone)).iloc[0]
    assert resolved["utc_time"].tz_localize(None) == pd.Timestamp(moment)
    assert resolved["local_time"] - resolved["utc_time"].tz_localize(None) == pd.Timedelta(
        minutes=int(resolved["utc_offset_minutes"]))
    assert (resolved["tz_source"], resolved["local_time_tag"]) == (
        "default", "file_name" if pixel else "takeout")


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
int32s = st.integers(-2**31, 2**31 - 1)
positions = st.one_of(st.none(), st.floats(), st.floats(-90, 90), st.just(0.0))
iso_strings = st.one_of(
    date_strings,
    st.builds(lambda date, zone: date.replace(":", "-", 2).replace(" ", "T") + zone,
              st.builds(exif_like, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
                        st.integers(0, 25), st.integers(0, 61), st.integers(0, 61), st.just(":")),
              st.one_of(st.just(""), st.just("Z"), st.text("+-0123456789:.", max_size=7))),
    st.sampled_from(["1998-07", "1998", "2019-05-05", "2019-05-05T10:00", "2019-05-05T10:00:00.123456789"]),
)
names = st.one_of(
    st.text(max_size=40),
    st.builds(lambda prefix, date, sep, time, rest: f"{prefix}{date}{sep}{time}{rest}",
              st.sampled_from(["IMG_", "VID_", "PXL_", "Screenshot_", "signal-", "telegram_", ""]),
              st.from_regex(r"\A[0-9]{4}-?[0-9]{2}-?[0-9]{2}\Z"), st.sampled_from(["_", "-", " "]),
              st.from_regex(r"\A[0-9]{2}[._-]?[0-9]{2}[._-]?[0-9]{2}[0-9]{0,3}\Z"),
              st.sampled_from([".jpg", "~2.jpg", ".PORTRAIT.jpg", "", "123.png"])),
)
hostile_rows = st.fixed_dictionaries({
    "datetime_original": date_strings,
    "datetime_digitized": date_strings,
    "datetime": date_strings,
    "subsec_original": st.one_of(st.none(), st.text(max_size=12)),
    "offset_time_original": offset_strings,
    "gps_date": st.one_of(st.none(), date_strings.map(lambda d: d and d[:10])),
    "gps_time": st.one_of(st.none(), st.text(max_size=12),
                          st.from_regex(r"\A[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?\Z")),
    "gps_lat": positions,
    "gps_lon": st.one_of(st.none(), st.floats(), st.floats(-180, 180)),
}, optional={
    "timezone_offset": st.one_of(st.none(), int32s, st.integers(-14, 14)),
    "makernote_group": st.one_of(st.none(), st.sampled_from(["Canon", "Nikon", "Pentax"]),
                                 st.text(max_size=8)),
    "makernote_timezone_minutes": st.one_of(st.none(), int32s, st.integers(-800, 900)),
    "makernote_dst": st.one_of(st.none(), st.booleans()),
    "makernote_city": st.one_of(st.none(), int32s, st.sampled_from([0, 32766, 1])),
    "xmp_datetime_original": iso_strings,
    "xmp_date_created": iso_strings,
    "xmp_create_date": iso_strings,
    "xmp_gps_datetime": iso_strings,
    "xmp_gps_lat": positions,
    "xmp_gps_lon": positions,
    "sidecar_datetime_original": iso_strings,
    "takeout_timestamp": st.one_of(st.none(), st.integers(-2**63, 2**63 - 1),
                                   st.integers(-6_000_000_000, 7_300_000_000)),
    "takeout_lat": positions,
    "takeout_lon": positions,
    "file_name": names,
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
