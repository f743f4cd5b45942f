"""Every case of ../shared/tz-cases.md, through the library function on DataFrames."""
from __future__ import annotations

import pandas as pd
import pytest

from frames import by_name, flags, photos, utc
from pipeline.overrides import parse_overrides
from pipeline.resolve import ResolveWarning, Settings, resolve

BERLIN = Settings("Europe/Berlin")


def one(row: dict, settings: Settings = BERLIN, rules=None) -> pd.Series:
    return resolve(photos(row), rules, settings).iloc[0]


# Which local time
def test_l1_original_time():
    row = one({"datetime_original": "2016:03:04 10:00:00", "datetime_digitized": "2016:03:04 10:00:00"})
    assert row["local_time"] == pd.Timestamp("2016-03-04 10:00:00")
    assert row["local_time_tag"] == "DateTimeOriginal"


def test_l2_original_beats_the_scan_time():
    row = one({"datetime_original": "1998:07:01 09:00:00", "datetime_digitized": "2011:02:03 20:00:00"})
    assert row["local_time"] == pd.Timestamp("1998-07-01 09:00:00")


def test_l3_digitized_when_no_original():
    row = one({"datetime_digitized": "2016:03:04 10:00:00"})
    assert row["local_time_tag"] == "DateTimeDigitized"
    assert row["local_time"] == pd.Timestamp("2016-03-04 10:00:00")


def test_l4_ifd0_datetime_is_flagged():
    row = one({"datetime": "2016:03:04 10:00:00"})
    assert row["local_time_tag"] == "DateTime"
    assert "no_capture_time_tag" in flags(row)


def test_l5_subsec_is_a_decimal_fraction():
    row = one({"datetime_original": "2016:03:04 10:00:00", "subsec_original": "07"})
    assert row["local_time"] == pd.Timestamp("2016-03-04 10:00:00.070")
    assert row["capture_time_secs_utc"] == pytest.approx(1457082000.07, abs=1e-6)


@pytest.mark.parametrize("blank", ["0000:00:00 00:00:00", "", "    :  :     :  :  ", None])
def test_l6_no_usable_time(blank):
    row = one({"datetime_original": blank})
    assert "no_time" in flags(row)
    assert pd.isna(row["capture_time_secs_utc"]) and pd.isna(row["tz_source"])
    assert pd.isna(row["warnings"])  # an unset tag is not a broken one


def test_unreadable_file_keeps_its_error_and_gets_no_time():
    row = one({"datetime_original": "2016:03:04 10:00:00", "error": "truncated JPEG"})
    assert row["error"] == "truncated JPEG"
    assert pd.isna(row["capture_time_secs_utc"])


# Times outside the range photoflux represents, and times that never were
@pytest.mark.parametrize("far", ["2300:06:01 12:00:00", "0001:01:01 00:00:00", "1600:01:01 00:00:00",
                                 "9999:12:31 23:59:59", "0000:01:01 00:00:00",
                                 "1799:12:31 23:59:59", "2200:01:01 00:00:00"])
def test_a_time_outside_the_range_is_no_time_and_the_rest_resolves(far):
    table = by_name(resolve(photos(
        {"datetime_original": far, "datetime_digitized": "2016:03:04 10:00:00",
         "gps_date": "2016:03:04", "gps_time": "09:00:00"},
        {"datetime_original": "2016:03:04 10:00:00", "gps_date": far[:10], "gps_time": "09:00:00"},
    ), None, BERLIN))
    outside = table["IMG_1.jpg"]
    assert flags(outside) == {"no_time", "out_of_range"}
    assert pd.isna(outside["local_time"]) and pd.isna(outside["capture_time_secs_utc"])
    assert pd.isna(outside["tz_source"]) and pd.isna(outside["warnings"])
    assert (utc(table["IMG_2.jpg"]), table["IMG_2.jpg"]["tz_source"]) == (
        "2016-03-04 09:00:00", "default")  # a GPS date centuries off is no clock
    assert "stale_gps" in flags(table["IMG_2.jpg"])


@pytest.mark.parametrize("local, subsec, expected_utc, minutes", [
    ("1800:01:01 00:00:00", None, "1799-12-31 23:07:00", 53),  # Berlin's local mean time
    ("2199:12:31 23:59:59", "999", "2199-12-31 22:59:59", 60),
])
def test_the_ends_of_the_range_are_represented(local, subsec, expected_utc, minutes):
    row = one({"datetime_original": local, "subsec_original": subsec})
    assert (utc(row), row["utc_offset_minutes"], flags(row)) == (expected_utc, minutes, set())


def test_a_shift_can_take_a_time_out_of_the_range_or_bring_it_back():
    rules = parse_overrides("path_glob,shift\n*/IMG_1.jpg,+876600:00:00\n"
                            "*/IMG_2.jpg,-438300:00:00\n")  # +100 and -50 years
    table = by_name(resolve(photos({"datetime_original": "2150:01:01 12:00:00"},
                                   {"datetime_original": "2230:01:01 12:00:00"}), rules, BERLIN))
    assert flags(table["IMG_1.jpg"]) == {"no_time", "out_of_range"}
    assert table["IMG_2.jpg"]["local_time"] == pd.Timestamp("2180-01-01 00:00:00")
    assert flags(table["IMG_2.jpg"]) == {"shifted"}


@pytest.mark.parametrize("impossible", ["2023:02:30 12:00:00", "2023:02:29 12:00:00",
                                        "1900:02:29 12:00:00", "2023:04:31 08:00:00",
                                        "2023:13:01 12:00:00", "2016:00:00 00:00:00",
                                        "2023:01:01 25:00:00", "2023:01:01 12:61:00",
                                        "2023:01:01 12:00:60", "2023-02-30T12:00:00"])
def test_an_impossible_time_is_absent_with_a_warning_and_the_next_tag_is_used(impossible):
    row = one({"datetime_original": impossible, "datetime": "2016:03:04 10:00:00"})
    assert (row["local_time_tag"], row["local_time"]) == ("DateTime",
                                                          pd.Timestamp("2016-03-04 10:00:00"))
    assert row["warnings"] == f"DateTimeOriginal impossible ({impossible})"


@pytest.mark.parametrize("leap", ["2024:02:29 12:00:00", "2000:02:29 12:00:00"])
def test_a_leap_day_is_a_real_date(leap):
    row = one({"datetime_original": leap})
    assert row["local_time"] == pd.Timestamp(leap.replace(":", "-", 2))
    assert pd.isna(row["warnings"])


def test_resolve_warnings_follow_extracts_and_escape_what_they_quote():
    row = one({"datetime_original": "garbage\x00\n", "datetime_digitized": "2023:02:30 12:00:00",
               "datetime": "2023:02:28 12:00:00", "offset_time": "+99:99",
               "gps_date": "2023:02:31", "gps_time": "25:00:00",
               "warnings": "GPSLatitude out of range (213.64)"})
    assert row["warnings"].split(";") == [
        "GPSLatitude out of range (213.64)", "DateTimeOriginal unreadable (garbage\\x00\\n)",
        "DateTimeDigitized impossible (2023:02:30 12:00:00)", "OffsetTime unusable (+99:99)",
        "GPSDateStamp impossible (2023:02:31)", "GPSTimeStamp impossible (25:00:00)"]
    assert (row["local_time"], row["tz_source"]) == (pd.Timestamp("2023-02-28 12:00:00"),
                                                     "default")


def test_an_unusable_offset_tag_is_a_warning_not_evidence_and_a_blank_one_is_silent():
    table = by_name(resolve(photos(
        {"datetime_original": "2021:09:10 18:00:00", "offset_time_original": "+99:99"},
        {"datetime_original": "2021:09:10 18:00:00", "offset_time_original": "   :  "},
    ), None, BERLIN))
    assert table["IMG_1.jpg"]["tz_source"] == "default"
    assert table["IMG_1.jpg"]["warnings"] == "OffsetTimeOriginal unusable (+99:99)"
    assert pd.isna(table["IMG_2.jpg"]["warnings"])


# Offset tags
@pytest.mark.parametrize("offset, expected, minutes", [
    ("+09:00", "2021-09-10 09:00:00", 540),
    ("-03:30", "2021-09-10 21:30:00", -210),
])
def test_o1_o2_offset_tag(offset, expected, minutes):
    row = one({"datetime_original": "2021:09:10 18:00:00", "offset_time_original": offset})
    assert (utc(row), row["tz_source"], row["utc_offset_minutes"]) == (expected, "offset", minutes)
    assert row["tz_name"] == offset


def test_o3_offset_time_belongs_to_ifd0_datetime_only():
    row = one({"datetime_original": "2021:09:10 18:00:00", "offset_time": "+02:00"})
    assert row["tz_source"] == "default"


def test_offset_time_is_used_for_ifd0_datetime():
    row = one({"datetime": "2021:09:10 18:00:00", "offset_time": "+05:00"})
    assert (row["tz_source"], utc(row)) == ("offset", "2021-09-10 13:00:00")


def test_o4_agreeing_gps_is_no_conflict():
    row = one({"datetime_original": "2021:09:10 18:00:00", "offset_time_original": "+02:00",
               "gps_date": "2021:09:10", "gps_time": "16:00:00"})
    assert (utc(row), row["tz_source"]) == ("2021-09-10 16:00:00", "offset")
    assert "conflict" not in flags(row)


def test_o5_offset_wins_a_conflict():
    row = one({"datetime_original": "2021:09:10 18:00:00", "offset_time_original": "+02:00",
               "gps_date": "2021:09:10", "gps_time": "13:00:00"})
    assert (utc(row), row["tz_source"]) == ("2021-09-10 16:00:00", "offset")
    assert "conflict" in flags(row)


# GPS clock
@pytest.mark.parametrize("case, local, gps_date, gps_time, expected, minutes", [
    ("G1", "2014:08:02 09:10:00", "2014:08:02", "13:10:00", "2014-08-02 13:10:00", -240),
    ("G2", "2014:08:02 21:40:00", "2014:08:02", "16:10:00", "2014-08-02 16:10:00", 330),
    ("G3", "2014:08:02 21:55:00", "2014:08:02", "16:10:00", "2014-08-02 16:10:00", 345),
    ("G4", "2014:08:03 01:00:00", "2014:08:02", "23:00:00", "2014-08-02 23:00:00", 120),
    ("G5", "2014:08:02 13:00:03", "2014:08:02", "11:00:00", "2014-08-02 11:00:03", 120),
    ("G6", "2014:08:02 12:00:00", "2014:08:01", "22:00:00", "2014-08-01 22:00:00", 840),
    ("G7", "2014:08:02 12:00:00", None, "10:00:00", "2014-08-02 10:00:00", 120),
    ("G9", "2016:07:25 11:08:49", "2016:07:25", "17:45:46", "2016-07-25 18:08:49", -420),
])
def test_gps_clock(case, local, gps_date, gps_time, expected, minutes):
    row = one({"datetime_original": local, "gps_date": gps_date, "gps_time": gps_time})
    assert (utc(row), row["tz_source"], row["utc_offset_minutes"]) == (expected, "gps", minutes)
    assert ("gps_lag" in flags(row)) == (case == "G9")


def test_g8_stale_fix_is_not_evidence():
    row = one({"datetime_original": "2014:08:02 12:00:00", "gps_date": "2014:07:30",
               "gps_time": "10:00:00"})
    assert row["tz_source"] == "default"
    assert "stale_gps" in flags(row)
    assert utc(row) == "2014-08-02 10:00:00"  # Berlin summer time


def test_gps_clock_with_fractional_seconds():
    row = one({"datetime_original": "2014:08:02 13:00:00", "gps_date": "2014:08:02",
               "gps_time": "11:00:00.500"})
    assert (row["tz_source"], row["utc_offset_minutes"]) == ("gps", 120)


# GPS position
def test_p1_new_york_in_july():
    row = one({"datetime_original": "2019:07:04 12:00:00", "gps_lat": 40.7128, "gps_lon": -74.0060})
    assert (utc(row), row["tz_source"], row["tz_name"]) == (
        "2019-07-04 16:00:00", "location", "America/New_York")


def test_p2_london_in_january():
    row = one({"datetime_original": "2019:01:04 12:00:00", "gps_lat": 51.5074, "gps_lon": -0.1278})
    assert (utc(row), row["utc_offset_minutes"], row["tz_name"]) == (
        "2019-01-04 12:00:00", 0, "Europe/London")


def test_p3_null_island_is_not_a_position():
    row = one({"datetime_original": "2019:07:04 12:00:00", "gps_lat": 0.0, "gps_lon": 0.0})
    assert row["tz_source"] == "default"
    assert "null_island" in flags(row)


def test_p4_open_sea_gets_its_nautical_zone():
    row = one({"datetime_original": "2019:07:04 12:00:00", "gps_lat": 30.0, "gps_lon": -40.0})
    assert (row["tz_source"], row["tz_name"], row["utc_offset_minutes"]) == (
        "location", "Etc/GMT+3", -180)


# Carry-forward
def test_c1_carried_after_gps_evidence():
    table = by_name(resolve(photos(
        {"datetime_original": "2014:08:02 12:00:00", "gps_date": "2014:08:02", "gps_time": "10:00:00"},
        {"datetime_original": "2014:08:02 13:00:00"},
        {"datetime_original": "2014:08:02 14:00:00"},
    ), None, Settings("America/Chicago")))
    for name in ("IMG_2.jpg", "IMG_3.jpg"):
        assert (table[name]["tz_source"], table[name]["utc_offset_minutes"]) == ("carried", 120)
        assert table[name]["evidence_path"] == "/photos/trip/IMG_1.jpg"
    assert table["IMG_1.jpg"]["evidence_path"] == "/photos/trip/IMG_1.jpg"


def test_c2_never_carried_backwards():
    table = by_name(resolve(photos(
        {"datetime_original": "2014:08:02 11:00:00"},
        {"datetime_original": "2014:08:02 12:00:00", "gps_date": "2014:08:02", "gps_time": "17:00:00"},
    ), None, BERLIN))
    assert table["IMG_1.jpg"]["tz_source"] == "default"
    assert table["IMG_2.jpg"]["utc_offset_minutes"] == -300


def test_c3_carry_gap_after_24_hours():
    table = by_name(resolve(photos(
        {"datetime_original": "2014:08:02 12:00:00", "offset_time_original": "+01:00"},
        {"datetime_original": "2014:08:05 12:00:00"},
    ), None, BERLIN))
    assert table["IMG_2.jpg"]["tz_source"] == "carried"
    assert "carry_gap" in flags(table["IMG_2.jpg"])
    assert table["IMG_2.jpg"]["utc_offset_minutes"] == 60


def test_carry_follows_capture_order_not_file_order():
    table = by_name(resolve(photos(
        {"datetime_original": "2014:08:02 15:00:00"},  # IMG_1, taken last
        {"datetime_original": "2014:08:02 12:00:00", "offset_time_original": "+03:00"},
    ), None, BERLIN))
    assert table["IMG_1.jpg"]["tz_source"] == "carried"


def test_carry_stays_in_its_folder():
    resolved = resolve(pd.concat([
        photos({"datetime_original": "2014:08:02 12:00:00", "offset_time_original": "+03:00"},
               folder="/a"),
        photos({"datetime_original": "2014:08:02 13:00:00"}, folder="/b"),
    ]), None, BERLIN)
    assert resolved.set_index("folder").loc["/b", "tz_source"] == "default"


def test_carried_iana_zone_keeps_its_dst():
    table = by_name(resolve(photos(
        {"datetime_original": "2019:03:09 12:00:00", "gps_lat": 40.7128, "gps_lon": -74.0060},
        {"datetime_original": "2019:03:10 12:00:00"},  # New York moved to EDT that night
    ), None, BERLIN))
    assert table["IMG_1.jpg"]["utc_offset_minutes"] == -300
    assert (table["IMG_2.jpg"]["tz_name"], table["IMG_2.jpg"]["utc_offset_minutes"]) == (
        "America/New_York", -240)


def test_an_override_is_not_evidence_to_carry():
    rules = parse_overrides("first,last,tz\nIMG_1,IMG_1,Asia/Tokyo\n")
    table = by_name(resolve(photos(
        {"datetime_original": "2014:08:02 12:00:00"},
        {"datetime_original": "2014:08:02 13:00:00"},
    ), rules, BERLIN))
    assert table["IMG_1.jpg"]["tz_source"] == "override"
    assert table["IMG_2.jpg"]["tz_source"] == "default"


# Default zone
@pytest.mark.parametrize("local, expected, minutes, flag", [
    ("2018:01:10 12:00:00", "2018-01-10 11:00:00", 60, None),
    ("2018:07:10 12:00:00", "2018-07-10 10:00:00", 120, None),
    ("2018:10:28 02:30:00", "2018-10-28 00:30:00", 120, "ambiguous"),
    ("2018:03:25 02:30:00", "2018-03-25 01:30:00", 120, "nonexistent"),
])
def test_default_zone_with_dst(local, expected, minutes, flag):
    row = one({"datetime_original": local})
    assert (utc(row), row["tz_source"], row["utc_offset_minutes"]) == (expected, "default", minutes)
    assert row["tz_name"] == "Europe/Berlin"
    assert flags(row) == ({flag} if flag else set())


def test_fixed_offset_default_is_flagged():
    row = one({"datetime_original": "2018:07:10 12:00:00"}, Settings("+05:30"))
    assert (utc(row), row["tz_name"]) == ("2018-07-10 06:30:00", "+05:30")
    assert "fixed_offset_default" in flags(row)


# Overrides
def test_v1_override_beats_every_evidence():
    rules = parse_overrides("first,last,tz,mode\nIMG_0100,IMG_0199,Asia/Tokyo,override\n")
    resolved = resolve(photos(
        {"file_name": "IMG_0099.jpg", "datetime_original": "2020:01:01 12:00:00"},
        {"file_name": "IMG_0100.jpg", "datetime_original": "2020:01:01 12:00:00",
         "offset_time_original": "+01:00"},
        {"file_name": "IMG_0199.jpg", "datetime_original": "2020:01:01 12:00:00",
         "gps_lat": 51.5, "gps_lon": -0.12},
        {"file_name": "IMG_0200.jpg", "datetime_original": "2020:01:01 12:00:00"},
    ), rules, BERLIN)
    table = by_name(resolved)
    for name in ("IMG_0100.jpg", "IMG_0199.jpg"):
        assert (table[name]["tz_source"], table[name]["utc_offset_minutes"]) == ("override", 540)
        assert utc(table[name]) == "2020-01-01 03:00:00"
    assert table["IMG_0099.jpg"]["tz_source"] == "default"
    assert table["IMG_0200.jpg"]["tz_source"] == "carried"  # after IMG_0199's own GPS evidence


def test_v2_fallback_only_where_there_is_no_evidence():
    rules = parse_overrides("local_from,local_to,tz,mode\n2013-05-01,2013-05-09,-03:00,fallback\n")
    table = by_name(resolve(photos(
        {"datetime_original": "2013:05:09 23:00:00"},
        {"datetime_original": "2013:05:03 10:00:00", "offset_time_original": "+01:00"},
        {"datetime_original": "2013:05:10 10:00:00"},
    ), rules, BERLIN))
    assert (table["IMG_1.jpg"]["tz_source"], table["IMG_1.jpg"]["utc_offset_minutes"]) == (
        "override", -180)
    assert table["IMG_2.jpg"]["tz_source"] == "offset"
    assert table["IMG_3.jpg"]["tz_source"] == "carried"  # outside the range: IMG_2 carries


def test_v3_shift_corrects_the_clock_before_the_zone():
    rules = parse_overrides("path_glob,shift,note\n*/DSC_*,-00:42:00,camera 42 min fast\n")
    resolved = resolve(photos(
        {"file_name": "DSC_0001.jpg", "datetime_original": "2018:03:25 03:12:00"},
        {"file_name": "IMG_0001.jpg", "datetime_original": "2018:03:25 03:12:00"},
    ), rules, BERLIN)
    table = by_name(resolved)
    fixed = table["DSC_0001.jpg"]
    assert fixed["local_time"] == pd.Timestamp("2018-03-25 02:30:00")
    assert {"shifted", "nonexistent"} <= flags(fixed)
    assert fixed["override_note"] == "camera 42 min fast"
    assert fixed["clock_shift_seconds"] == -2520
    assert table["IMG_0001.jpg"]["local_time"] == pd.Timestamp("2018-03-25 03:12:00")


def test_v4_later_line_wins():
    rules = parse_overrides("path_glob,tz\n*,Asia/Tokyo\n*/IMG_1.jpg,America/Chicago\n")
    row = one({"datetime_original": "2020:01:01 12:00:00"}, rules=rules)
    assert row["tz_name"] == "America/Chicago"


def test_rule_matching_no_photo_warns():
    rules = parse_overrides("first,last,tz\nZZZ_1,ZZZ_9,Asia/Tokyo\n")
    with pytest.warns(ResolveWarning, match="^overrides.csv:2: rule matches no photo$"):
        one({"datetime_original": "2020:01:01 12:00:00"}, rules=rules)


def test_output_is_in_capture_order_with_timeless_rows_last():
    resolved = resolve(photos(
        {"datetime_original": None},
        {"datetime_original": "2020:01:02 12:00:00"},
        {"datetime_original": "2020:01:01 12:00:00"},
    ), None, BERLIN)
    assert resolved["file_name"].tolist() == ["IMG_3.jpg", "IMG_2.jpg", "IMG_1.jpg"]
