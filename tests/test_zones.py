"""Column helpers: real offsets from tzdata, offset text, Arrow-backed parsing on any index."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
import pytest

from pipeline.text import extract, parse_datetime
from pipeline.zones import (REAL_OFFSETS_MINUTES, ZoneError, check_zone, format_offset,
                            nearest_real_offset, parse_offset_tags, read_offset_tags, wall_clock)


def test_real_offsets_are_exactly_those_tzdata_used_since_1970():
    seen = set()
    start = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    moments = [start + dt.timedelta(days=7 * week) for week in range(0, 68 * 52, 2)]
    for name in zoneinfo.available_timezones():
        zone = zoneinfo.ZoneInfo(name)
        seen.update(m.astimezone(zone).utcoffset() for m in moments)
    whole_minutes = {int(o.total_seconds() // 60) for o in seen if o.total_seconds() % 60 == 0}
    assert set(REAL_OFFSETS_MINUTES.tolist()) == whole_minutes


def test_nearest_real_offset():
    got = nearest_real_offset(pd.Series([330.4, 345.2, -241.0, None, 839.0]))
    assert got.tolist() == [330, 345, -240, pd.NA, 840]


def test_offset_text_round_trip():
    minutes = pd.Series([330, -210, 0, None, 840, -720], dtype="Int64")
    text = format_offset(minutes)
    assert text.tolist()[:3] == ["+05:30", "-03:30", "+00:00"] and pd.isna(text[3])
    assert parse_offset_tags(text).tolist() == minutes.tolist()


def test_offset_text_of_local_mean_times_beyond_14_hours():
    assert format_offset(pd.Series([-956, 899, 20])).tolist() == ["-15:56", "+14:59", "+00:20"]


def test_offset_tags_without_a_colon_are_read():
    assert parse_offset_tags(pd.Series(["+0900", " -0330 "])).tolist() == [540, -210]


@pytest.mark.parametrize("text, minutes", [
    ("+07", 420), ("-9", -540), ("-09", -540), ("+0", 0), (" +05 ", 300), ("-12", -720),
    ("+14", 840), ("+09:00", 540), ("-0330", -210),
])
def test_offset_tags_are_read_leniently(text, minutes):
    value, problem = read_offset_tags(pd.Series([text], dtype="str"))
    assert value[0] == minutes and pd.isna(problem[0])


@pytest.mark.parametrize("text, problem", [
    ("+15:00", "out of range"), ("-13", "out of range"), ("+14:30", "out of range"),
    ("+05:75", "unusable"), ("+99:99", "unusable"), ("+5:30", "unusable"), ("Z", "unusable"),
    ("0530", "unusable"), ("+530", "unusable"), ("+123", "unusable"),
])
def test_unusable_and_out_of_range_offset_tags_say_which(text, problem):
    value, said = read_offset_tags(pd.Series([text], dtype="str"))
    assert pd.isna(value[0]) and said[0] == problem


def test_blank_offset_tags_are_silent():
    value, problem = read_offset_tags(pd.Series(["", "   :  ", None], dtype="str"))
    assert value.isna().all() and problem.isna().all()


def test_wall_clock_of_instants_in_a_zone():
    utc = pd.Series([pd.Timestamp("2019-07-04 16:00:00"), pd.Timestamp("2019-01-04 12:00:00.250")])
    berlin = wall_clock(utc, "Europe/Berlin")
    assert berlin["local"].tolist() == [pd.Timestamp("2019-07-04 18:00:00"),
                                        pd.Timestamp("2019-01-04 13:00:00.250")]
    assert berlin["offset"].tolist() == [120, 60]
    assert wall_clock(utc, "-03:30")["offset"].tolist() == [-210, -210]


@pytest.mark.parametrize("bad", ["+15:00", "+05:75", "0530", "Z", "", "+5:30"])
def test_unusable_offset_tags_are_null(bad):
    assert parse_offset_tags(pd.Series([bad])).isna().all()


def test_check_zone():
    assert check_zone("+5:30") == "+05:30"
    assert check_zone("America/St_Johns") == "America/St_Johns"
    with pytest.raises(ZoneError):
        check_zone("Mars/Olympus_Mons")


def test_text_parsers_keep_rows_on_their_own_index():
    text = pd.Series(["junk", "2020:01:01 00:00:00", None, "2021-06-01T12:30:00+02:00"],
                     index=[10, 11, 12, 13], dtype="str")
    subset = text.iloc[[3, 1, 2]]
    times, problem = parse_datetime(subset)
    assert pd.Series(times).tolist() == [
        pd.Timestamp("2021-06-01 12:30:00"), pd.Timestamp("2020-01-01"), pd.NaT]
    assert problem.index.tolist() == [13, 11, 12] and problem.isna().all()
    assert parse_datetime(text)[1].tolist()[0] == "unreadable"
    years = extract(subset, r"^(?P<year>\d{4})")["year"]
    assert years.index.tolist() == [13, 11, 12] and years.tolist()[:2] == ["2021", "2020"]
