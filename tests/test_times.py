"""The dates and times people type: ISO 8601 only, nothing guessed, nothing rolled over."""
from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.times import (TIME_RANGE, TimeOfDay, in_range, parse_instant, parse_local,
                            parse_time)


@pytest.mark.parametrize("text, end, expected", [
    ("2019-05-01", False, "2019-05-01 00:00:00"),
    ("2019-05-01", True, "2019-05-01 23:59:59.999"),  # a bare date ends with its day
    ("2019-05-01T10:00", True, "2019-05-01 10:00:00"),
    ("2019-05-01 10:00:05", False, "2019-05-01 10:00:05"),
    (" 2019-05-01T10:00:05.25 ", False, "2019-05-01 10:00:05.250"),
    ("1800-01-01", False, "1800-01-01 00:00:00"),
    ("2199-12-31", True, "2199-12-31 23:59:59.999"),
])
def test_iso_local_times(text, end, expected):
    assert parse_local(text, end=end) == pd.Timestamp(expected)


@pytest.mark.parametrize("text, why", [
    ("01/05/2019", "expected an ISO 8601 local time"),  # was read month-first: January 5th
    ("May 1 2019", "expected an ISO 8601 local time"),
    ("2019-5-1", "expected an ISO 8601 local time"),
    ("20190501", "expected an ISO 8601 local time"),
    ("2019-05-01T10", "expected an ISO 8601 local time"),
    ("2019-05-01T10:00:00.1234", "expected an ISO 8601 local time"),
    ("2019-05-01t10:00", "expected an ISO 8601 local time"),
    ("\u0662\u0660\u0661\u0669-05-01", "expected an ISO 8601 local time"),  # Arabic-Indic digits
    ("", "expected an ISO 8601 local time"),
    ("2019-05-01T10:00Z", "a local time has no zone"),
    ("2019-05-01T10:00+02:00", "a local time has no zone"),
    ("2019-02-30", "no such date or time"),
    ("2019-05-01T24:00", "no such date or time"),
    ("2019-05-01T12:60", "no such date or time"),
    ("1799-12-31", "outside the times photoflux represents (1800-01-01 to 2199-12-31)"),
    ("2200-01-01", "outside the times photoflux represents"),
])
def test_anything_else_is_refused_saying_why(text, why):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_local(text)


@pytest.mark.parametrize("text, expected", [
    ("2019-05-01T10:00Z", "2019-05-01 10:00:00"),
    ("2019-05-01 10:00:00.5+02:00", "2019-05-01 08:00:00.500"),
    ("2019-05-01T10:00-03:30", "2019-05-01 13:30:00"),
    ("2019-05-01Z", "2019-05-01 00:00:00"),
])
def test_iso_instants(text, expected):
    assert parse_instant(text) == pd.Timestamp(expected, tz="UTC")


def test_an_instant_range_ending_on_a_bare_date_takes_its_whole_day():
    assert parse_instant("2019-05-01+02:00", end=True) == pd.Timestamp(
        "2019-05-01 21:59:59.999", tz="UTC")


@pytest.mark.parametrize("text", ["2019-05-01T10:00", "2019-05-01T10:00+0200",
                                  "2019-05-01T10:00+2:00", "2019-05-01T10:00 Z",
                                  "2019-05-01T10:00+24:00", "1 May 2019 10:00 GMT"])
def test_an_instant_needs_a_z_or_a_real_offset(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_the_range_is_half_open():
    times = pd.to_datetime(["1799-12-31 23:59:59.999", "1800-01-01 00:00:00.000",
                            "2199-12-31 23:59:59.999", "2200-01-01 00:00:00.000"]).to_numpy(
        dtype="datetime64[ms]")
    assert in_range(times).tolist() == [False, True, True, False]
    assert TIME_RANGE[0] == pd.Timestamp("1800-01-01")


# --- the time a photographed screen showed (`photoflux clock --was`) -------------------------


@pytest.mark.parametrize("text, expected", [
    ("2019-05-01T10:00", pd.Timestamp("2019-05-01 10:00")),
    ("2019-05-01T10:00+02:00", pd.Timestamp("2019-05-01 08:00", tz="UTC")),
    ("09:33", TimeOfDay(pd.Timedelta("09:33:00"), utc=False)),
    ("23:59:59.5", TimeOfDay(pd.Timedelta("23:59:59.5"), utc=False)),
    ("07:14:00Z", TimeOfDay(pd.Timedelta("07:14:00"), utc=True)),
    ("01:30+02:00", TimeOfDay(pd.Timedelta("23:30:00"), utc=True)),  # the UTC day before
    ("22:00-03:00", TimeOfDay(pd.Timedelta("01:00:00"), utc=True)),  # the UTC day after
])
def test_a_screens_time_with_or_without_its_date_or_zone(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text, why", [
    ("9:33", "expected an ISO 8601 local time YYYY-MM-DD[THH:MM[:SS[.fff]]] or HH:MM"),
    ("9.33 pm", "expected an ISO 8601 local time"),
    ("24:00", "no such time of day"),
    ("12:00:60", "no such time of day"),
    ("12:00+24:00", "no such UTC offset"),
])
def test_a_screens_time_refused(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_time(text)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2100, 1, 1)),
       st.integers(0, 86_400_000 - 1))
def test_a_time_of_day_takes_the_day_nearest_to_the_photo(near, milliseconds):
    near = pd.Timestamp(near).floor("ms")
    since = pd.Timedelta(milliseconds=milliseconds)
    chosen = TimeOfDay(since, utc=False).nearest(near)
    assert chosen - chosen.normalize() == since
    assert abs(chosen - near) <= pd.Timedelta(hours=12)
