"""Issue 11's evidence through resolve: lenient offsets, TimeZoneOffset, maker-note zones, XMP
dates, offsets and GPS, sidecars, Google Takeout, times in file names; the zone precedence pair
by pair. The cases of ../shared/tz-cases.md's "More evidence" table carry their names (X1, M2...)."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from frames import by_name, flags, photos, utc
from test_names import ISSUE_NAMES
from pipeline.cli import main
from pipeline.overrides import parse_overrides
from pipeline.resolve import Settings, resolve
from pipeline.workspace import Workspace

BERLIN = Settings("Europe/Berlin")


def one(row: dict, settings: Settings = BERLIN, rules=None) -> pd.Series:
    return resolve(photos(row), rules, settings).iloc[0]


def epoch(instant: str) -> int:
    return int(pd.Timestamp(instant).timestamp())


def canon(minutes: int, dst: bool = False, city: int | None = 32) -> dict:
    return {"makernote_group": "Canon", "makernote_timezone_minutes": minutes,
            "makernote_dst": dst, "makernote_city": city}


def nikon(minutes: int, dst: bool) -> dict:
    return {"makernote_group": "Nikon", "makernote_timezone_minutes": minutes, "makernote_dst": dst}


# Offset tags, leniently
@pytest.mark.parametrize("spelling, minutes, expected", [
    ("+07", 420, "2015-11-11 13:00:00"),
    ("-9", -540, "2015-11-12 05:00:00"),
    ("-09", -540, "2015-11-12 05:00:00"),
    ("+0900", 540, "2015-11-11 11:00:00"),
    ("+09:00", 540, "2015-11-11 11:00:00"),
    ("+04", 240, "2015-11-11 16:00:00"),  # T2
    ("-3", -180, "2015-11-11 23:00:00"),  # T2
])
def test_each_offset_spelling_is_evidence(spelling, minutes, expected):
    row = one({"datetime_original": "2015:11:11 20:00:00", "offset_time_original": spelling})
    assert (utc(row), row["tz_source"], row["utc_offset_minutes"]) == (expected, "offset", minutes)
    assert pd.isna(row["warnings"])


@pytest.mark.parametrize("spelling, problem", [("+15:00", "out of range"), ("-13", "out of range"),
                                               ("+5:30", "unusable"), ("+07:99", "unusable")])
def test_an_offset_out_of_range_or_unreadable_is_a_warning_not_evidence(spelling, problem):
    row = one({"datetime_original": "2015:11:11 20:00:00", "offset_time_original": spelling})
    assert row["tz_source"] == "default"
    assert row["warnings"] == f"OffsetTimeOriginal {problem} ({spelling})"


# EXIF TimeZoneOffset
def test_t1_time_zone_offset_belongs_to_datetime_original():
    row = one({"datetime_original": "2015:11:11 20:00:00", "timezone_offset": 8})
    assert (utc(row), row["tz_source"], row["tz_name"]) == ("2015-11-11 12:00:00", "offset", "+08:00")


def test_time_zone_offset_ranks_below_offset_time_original():
    row = one({"datetime_original": "2015:11:11 20:00:00", "offset_time_original": "+02:00",
               "timezone_offset": 8})
    assert (row["tz_name"], flags(row)) == ("+02:00", set())


def test_time_zone_offset_stands_in_for_an_unusable_offset_time_original():
    row = one({"datetime_original": "2015:11:11 20:00:00", "offset_time_original": "+99:99",
               "timezone_offset": -5})
    assert (row["tz_source"], row["tz_name"]) == ("offset", "-05:00")
    assert row["warnings"] == "OffsetTimeOriginal unusable (+99:99)"


@pytest.mark.parametrize("chosen", [{"datetime_digitized": "2015:11:11 20:00:00"},
                                    {"datetime": "2015:11:11 20:00:00"},
                                    {"xmp_create_date": "2015-11-11T20:00:00"}])
def test_time_zone_offset_is_no_evidence_for_another_time(chosen):
    row = one({**chosen, "timezone_offset": 8})
    assert row["tz_source"] == "default"


def test_time_zone_offset_out_of_range_is_a_warning():
    row = one({"datetime_original": "2015:11:11 20:00:00", "timezone_offset": 15})
    assert row["tz_source"] == "default"
    assert row["warnings"] == "TimeZoneOffset out of range (15)"


# Maker-note zones
@pytest.mark.parametrize("case, local, zone, expected, name", [
    ("M1 Canon", "2016:01:20 15:00:00", canon(600), "2016-01-20 05:00:00", "+10:00"),
    # Canon's TimeZone already includes summer time: Sydney in January reads +11:00 with DST on
    ("Canon in summer", "2016:01:20 15:00:00", canon(660, dst=True), "2016-01-20 04:00:00", "+11:00"),
    ("Canon without a city code", "2016:01:20 15:00:00", canon(-300, city=None),
     "2016-01-20 20:00:00", "-05:00"),
    # Nikon's does not: an hour is added when DaylightSavings is on
    ("M2 Nikon in summer", "2016:07:20 15:00:00", nikon(60, dst=True), "2016-07-20 13:00:00", "+02:00"),
    ("Nikon in winter", "2016:01:20 15:00:00", nikon(60, dst=False), "2016-01-20 14:00:00", "+01:00"),
])
def test_camera_zone(case, local, zone, expected, name):
    row = one({"datetime_original": local, **zone})
    assert (utc(row), row["tz_source"], row["tz_name"]) == (expected, "camera", name)


@pytest.mark.parametrize("zone", [canon(600, city=32766), canon(600, city=0),
                                  {**canon(600), "makernote_group": "Pentax"},
                                  {"makernote_group": "Canon"}])
def test_canon_not_set_or_na_and_unknown_makers_are_no_evidence(zone):
    row = one({"datetime_original": "2016:01:20 15:00:00", **zone})
    assert row["tz_source"] == "default"
    assert pd.isna(row["warnings"])


def test_camera_zone_out_of_range_is_a_warning():
    row = one({"datetime_original": "2016:01:20 15:00:00", **canon(5000)})
    assert row["tz_source"] == "default"
    assert row["warnings"] == "Canon TimeZone out of range (5000)"


# XMP dates and offsets
def test_x1_xmp_only_date_with_an_offset():
    row = one({"xmp_create_date": "2017-06-01T09:30:00.5+03:00"})
    assert row["local_time"] == pd.Timestamp("2017-06-01 09:30:00.500")
    assert row["utc_time"] == pd.Timestamp("2017-06-01 06:30:00.500", tz="UTC")
    assert (row["local_time_tag"], row["tz_source"], row["tz_name"]) == (
        "XMP:CreateDate", "offset", "+03:00")


def test_x2_xmp_only_date_without_an_offset_takes_the_default_zone():
    row = one({"xmp_date_created": "2017-06-01T09:30:00"}, Settings("Europe/Paris"))
    assert (utc(row), row["local_time_tag"], row["tz_source"]) == (
        "2017-06-01 07:30:00", "XMP:DateCreated", "default")


@pytest.mark.parametrize("written, expected", [
    ("2017-06-01T09:30Z", "2017-06-01 09:30:00"),  # no seconds; Z is UTC
    ("2017-06-01T09:30:00-0330", "2017-06-01 13:00:00"),
    ("2017-06-01T09:30:00+02", "2017-06-01 07:30:00"),
])
def test_xmp_dates_as_editors_write_them(written, expected):
    row = one({"xmp_datetime_original": written})
    assert (utc(row), row["tz_source"]) == (expected, "offset")


def test_xmp_dates_in_order_after_the_exif_tags():
    dates = {"xmp_datetime_original": "2017-06-01T09:00:00", "xmp_date_created": "2017-06-02T09:00:00",
             "xmp_create_date": "2017-06-03T09:00:00"}
    table = by_name(resolve(photos(
        {**dates, "datetime": "2017:06:04 09:00:00"},
        dates,
        {**dates, "xmp_datetime_original": None},
        {"xmp_create_date": "2017-06-03T09:00:00"},
    ), None, BERLIN))
    assert [table[f"IMG_{n}.jpg"]["local_time_tag"] for n in range(1, 5)] == [
        "DateTime", "XMP:DateTimeOriginal", "XMP:DateCreated", "XMP:CreateDate"]


@pytest.mark.parametrize("partial", ["1998-07", "1998", "1998-07-01"])
def test_a_partial_xmp_date_is_not_a_time(partial):
    row = one({"xmp_date_created": partial})
    assert flags(row) == {"no_time"} and pd.isna(row["warnings"])
    row = one({"xmp_date_created": partial, "xmp_create_date": "2011-02-03T20:00:00"})
    assert row["local_time_tag"] == "XMP:CreateDate"


def test_an_unreadable_xmp_date_is_a_warning_and_the_next_is_used():
    row = one({"xmp_datetime_original": "yesterday", "xmp_create_date": "2017-06-01T09:30:00+99:99"})
    assert row["local_time_tag"] == "XMP:CreateDate" and row["tz_source"] == "default"
    assert row["warnings"].split(";") == ["XMP:DateTimeOriginal unreadable (yesterday)",
                                          "XMP:CreateDate offset unusable (+99:99)"]


def test_x3_an_xmp_offset_of_another_time_is_not_evidence():
    row = one({"datetime_original": "2017:06:01 09:30:00",
               "xmp_create_date": "2017-06-01T11:30:00+05:00"})
    assert (row["local_time_tag"], row["tz_source"], utc(row)) == (
        "DateTimeOriginal", "default", "2017-06-01 07:30:00")
    assert flags(row) == set()


@pytest.mark.parametrize("column", ["xmp_datetime_original", "xmp_date_created", "xmp_create_date"])
def test_x5_an_xmp_date_equal_to_the_exif_time_lends_its_offset(column):
    row = one({"datetime_original": "2017:06:01 09:30:00", "subsec_original": "5",
               column: "2017-06-01T09:30:00.5+03:00"})
    assert (utc(row), row["tz_source"], row["tz_name"]) == ("2017-06-01 06:30:00", "offset", "+03:00")


def test_an_xmp_date_a_second_off_lends_nothing():
    row = one({"datetime_original": "2017:06:01 09:30:00",
               "xmp_datetime_original": "2017-06-01T09:30:01+03:00"})
    assert row["tz_source"] == "default"


def test_x4_xmp_gps_clock_when_exif_has_none():
    row = one({"datetime_original": "2017:06:01 09:30:00", "xmp_gps_datetime": "2017-06-01T13:30:00Z"})
    assert (utc(row), row["tz_source"], row["tz_name"]) == ("2017-06-01 13:30:00", "gps", "-04:00")


def test_the_exif_gps_clock_wins_over_xmps():
    row = one({"datetime_original": "2017:06:01 09:30:00", "gps_date": "2017:06:01",
               "gps_time": "07:30:00", "xmp_gps_datetime": "2017-06-01T13:30:00Z"})
    assert (row["tz_source"], row["tz_name"]) == ("gps", "+02:00")


@pytest.mark.parametrize("written, flag", [("2017-05-20T13:30:00Z", "stale_gps"),
                                           ("2017-06-01T13:50:00Z", "gps_lag")])
def test_an_xmp_gps_clock_follows_the_gps_clock_rule(written, flag):
    row = one({"datetime_original": "2017:06:01 09:30:00", "xmp_gps_datetime": written})
    assert flag in flags(row)


def test_an_unreadable_xmp_gps_clock_is_a_warning():
    row = one({"datetime_original": "2017:06:01 09:30:00", "xmp_gps_datetime": "13:30:00"})
    assert row["tz_source"] == "default"
    assert row["warnings"] == "XMP:GPSTimeStamp unreadable (13:30:00)"


def test_xmp_gps_position_when_exif_has_none():
    row = one({"datetime_original": "2019:07:04 12:00:00", "xmp_gps_lat": 40.7128,
               "xmp_gps_lon": -74.0060})
    assert (utc(row), row["tz_source"], row["tz_name"]) == (
        "2019-07-04 16:00:00", "location", "America/New_York")


def test_an_xmp_null_island_is_no_position():
    row = one({"datetime_original": "2019:07:04 12:00:00", "xmp_gps_lat": 0.0, "xmp_gps_lon": 0.0})
    assert row["tz_source"] == "default" and "null_island" in flags(row)


# Sidecars
def test_s1_a_raw_files_sidecar_gives_the_time_and_its_offset():
    row = one({"file_name": "IMG_7.CR2", "file_type": "CR2", "xmp_sidecar": "/photos/trip/IMG_7.xmp",
               "xmp_datetime_original": "2019-02-02T08:00:00-05:00",
               "sidecar_datetime_original": "2019-02-02T08:00:00-05:00"})
    assert (utc(row), row["local_time_tag"], row["tz_source"]) == (
        "2019-02-02 13:00:00", "XMP:DateTimeOriginal", "offset")
    assert flags(row) == set()


def test_s2_a_capture_time_edited_in_the_sidecar_is_flagged():
    row = one({"file_name": "IMG_8.CR2", "file_type": "CR2", "xmp_sidecar": "/photos/trip/IMG_8.xmp",
               "datetime_original": "2019:02:02 08:00:00",
               "xmp_datetime_original": "2019-02-02T09:15:00",
               "sidecar_datetime_original": "2019-02-02T09:15:00"})
    assert (row["local_time"], row["local_time_tag"]) == (pd.Timestamp("2019-02-02 08:00:00"),
                                                          "DateTimeOriginal")
    assert flags(row) == {"sidecar_time_differs"}


@pytest.mark.parametrize("sidecar", ["2019-02-02T08:00:00.40+01:00", "2019-02-02T08:00:00", None,
                                     "1998-07"])
def test_a_sidecar_time_equal_to_the_second_or_no_time_is_not_flagged(sidecar):
    row = one({"datetime_original": "2019:02:02 08:00:00", "sidecar_datetime_original": sidecar})
    assert "sidecar_time_differs" not in flags(row)


# Google Takeout
def test_k1_takeout_time_gives_the_offset_of_the_local_time():
    row = one({"datetime_original": "2019:09:09 18:00:00", "takeout_timestamp": 1568019600})
    assert (utc(row), row["tz_source"], row["tz_name"]) == ("2019-09-09 09:00:00", "takeout", "+09:00")


def test_takeout_a_few_minutes_off_snaps_to_the_real_offset():
    row = one({"datetime_original": "2019:09:09 18:10:00", "takeout_timestamp": 1568019600})
    assert (utc(row), row["tz_name"], flags(row)) == ("2019-09-09 09:10:00", "+09:00", set())


def test_a_stale_takeout_time_is_no_evidence():
    row = one({"datetime_original": "2019:09:09 18:00:00",
               "takeout_timestamp": 1568019600 - 3 * 86400})
    assert (row["tz_source"], flags(row)) == ("default", {"stale_takeout"})


def test_k2_takeout_time_without_a_time_in_the_photo():
    row = one({"takeout_timestamp": 1568019600}, Settings("Europe/London"))
    assert row["utc_time"] == pd.Timestamp("2019-09-09 09:00:00", tz="UTC")
    assert row["local_time"] == pd.Timestamp("2019-09-09 10:00:00")
    assert (row["local_time_tag"], row["tz_source"], row["utc_offset_minutes"]) == (
        "takeout", "default", 60)


def test_takeout_time_and_place_without_a_time_in_the_photo():
    row = one({"takeout_timestamp": epoch("2019-07-04T16:00:00Z"), "takeout_lat": 40.7128,
               "takeout_lon": -74.0060})
    assert (row["local_time"], row["tz_source"], row["tz_name"], row["local_time_tag"]) == (
        pd.Timestamp("2019-07-04 12:00:00"), "location", "America/New_York", "takeout")


def test_takeout_position_when_the_photo_has_none():
    row = one({"datetime_original": "2019:07:04 12:00:00", "takeout_lat": 35.68,
               "takeout_lon": 139.69})
    assert (row["tz_source"], row["tz_name"]) == ("location", "Asia/Tokyo")


# Times in file names
@pytest.mark.parametrize("name, local", ISSUE_NAMES)
def test_n1_a_time_in_the_name_is_the_last_local_time_and_flagged(name, local):
    row = one({"file_name": name, "mtime_ns": 1_600_000_000 * 10**9}, Settings("UTC"))
    assert (row["local_time"], row["local_time_tag"], row["tz_source"]) == (
        pd.Timestamp(local), "file_name", "default")
    assert flags(row) == {"time_from_name"}


def test_takeout_gives_the_offset_of_a_time_in_the_name():
    row = one({"file_name": "IMG_20190909_180000.jpg", "takeout_timestamp": 1568019600})
    assert (utc(row), row["tz_source"], row["local_time_tag"]) == (
        "2019-09-09 09:00:00", "takeout", "file_name")
    assert flags(row) == {"time_from_name"}


def test_rules_see_an_instant_at_its_time_in_the_default_zone():
    rules = parse_overrides("local_from,local_to,tz\n2019-03-03T08:00,2019-03-03T08:30,Asia/Tokyo\n")
    table = by_name(resolve(photos({"file_name": "PXL_20190303_071500000.jpg"},  # 08:15 in Berlin
                                   {"file_name": "PXL_20190303_081500000.jpg"}), rules, BERLIN))
    tokyo = table["PXL_20190303_071500000.jpg"]
    assert (tokyo["tz_source"], tokyo["local_time"]) == ("override", pd.Timestamp("2019-03-03 16:15"))
    assert table["PXL_20190303_081500000.jpg"]["tz_source"] == "default"


def test_a_name_time_comes_after_every_tag():
    row = one({"file_name": "IMG_20200130_095718.jpg", "xmp_create_date": "2020-01-29T08:00:00"})
    assert row["local_time_tag"] == "XMP:CreateDate" and flags(row) == set()


def test_n2_a_pixel_name_is_a_utc_instant():
    row = one({"file_name": "PXL_20190303_071500250.jpg"})
    assert row["utc_time"] == pd.Timestamp("2019-03-03 07:15:00.250", tz="UTC")
    assert row["local_time"] == pd.Timestamp("2019-03-03 08:15:00.250")  # Berlin in March
    assert (row["local_time_tag"], row["tz_source"]) == ("file_name", "default")
    assert flags(row) == {"time_from_name"}


def test_a_pixel_name_comes_before_takeouts_time():
    row = one({"file_name": "PXL_20190303_071500250.jpg", "takeout_timestamp": 1568019600})
    assert (utc(row), row["local_time_tag"]) == ("2019-03-03 07:15:00", "file_name")


@pytest.mark.parametrize("name", ["IMG-20190303-WA0004.jpg", "IMG_20190303.jpg"])
def test_n3_a_date_only_name_and_the_mtime_are_no_time(name):
    row = one({"file_name": name, "mtime_ns": 1_600_000_000 * 10**9})
    assert flags(row) == {"no_time"} and pd.isna(row["local_time_tag"])


def test_an_instant_takes_a_carried_zone_and_a_shift():
    rules = parse_overrides("path_glob,shift\n*/PXL_*,+00:10:00\n")
    table = by_name(resolve(photos(
        {"file_name": "IMG_1.jpg", "datetime_original": "2019:03:03 06:00:00",
         "offset_time_original": "+05:00"},
        {"file_name": "PXL_20190303_090000000.jpg"},
    ), rules, BERLIN))
    pixel = table["PXL_20190303_090000000.jpg"]
    assert (pixel["tz_source"], pixel["tz_name"], pixel["evidence_path"]) == (
        "carried", "+05:00", "/photos/trip/IMG_1.jpg")
    assert pixel["utc_time"] == pd.Timestamp("2019-03-03 09:10:00", tz="UTC")
    assert pixel["local_time"] == pd.Timestamp("2019-03-03 14:10:00")
    assert flags(pixel) == {"time_from_name", "shifted"}


@pytest.mark.parametrize("seconds", [-10**12, -5_400_000_000, 7_258_118_400, 10**15])
def test_an_instant_outside_the_represented_range_is_no_time(seconds):
    row = one({"takeout_timestamp": seconds})
    assert flags(row) == {"no_time", "out_of_range"} and pd.isna(row["local_time"])


# The zone precedence, pair by pair: each layer gives the photo a zone of its own.
LOCAL = "2019:07:04 12:00:00"
LAYERS = [  # name, photo's columns, overrides line, earlier photo, (tz_source, tz_name)
    ("override rule", {}, "*/IMG_2.jpg,Pacific/Honolulu,override", None,
     ("override", "Pacific/Honolulu")),
    ("OffsetTimeOriginal", {"offset_time_original": "+03:00"}, None, None, ("offset", "+03:00")),
    ("TimeZoneOffset", {"timezone_offset": 4}, None, None, ("offset", "+04:00")),
    ("EXIF GPS clock", {"gps_date": "2019:07:04", "gps_time": "14:00:00"}, None, None,
     ("gps", "-02:00")),
    ("XMP GPS clock", {"xmp_gps_datetime": "2019-07-04T13:00:00Z"}, None, None, ("gps", "-01:00")),
    ("camera", canon(360), None, None, ("camera", "+06:00")),
    ("XMP offset", {"xmp_datetime_original": "2019-07-04T12:00:00+07:00"}, None, None,
     ("offset", "+07:00")),
    ("EXIF position", {"gps_lat": 35.68, "gps_lon": 139.69}, None, None, ("location", "Asia/Tokyo")),
    ("XMP position", {"xmp_gps_lat": -33.8688, "xmp_gps_lon": 151.2093}, None, None,
     ("location", "Australia/Sydney")),
    ("Takeout position", {"takeout_lat": 28.61, "takeout_lon": 77.21}, None, None,
     ("location", "Asia/Kolkata")),
    ("takeout", {"takeout_timestamp": epoch("2019-07-04T01:00:00Z")}, None, None,
     ("takeout", "+11:00")),
    ("fallback rule", {}, "*/IMG_2.jpg,America/Sao_Paulo,fallback", None,
     ("override", "America/Sao_Paulo")),
    ("carried", {}, None, {"datetime_original": "2019:07:04 11:00:00",
                           "offset_time_original": "+12:00"}, ("carried", "+12:00")),
    ("default", {}, None, None, ("default", "Europe/Berlin")),
]


def resolve_layers(layers: list) -> pd.Series:
    """The photo IMG_2 with the evidence of `layers`, after IMG_1 (evidence only for `carried`)."""
    row = {"datetime_original": LOCAL}
    lines = [line for _, _, line, _, _ in layers if line]
    earlier = next((before for *_, before, _ in layers if before), {"datetime_original": "2019:07:04 11:00:00"})
    for _, columns, *_ in layers:
        row.update(columns)
    rules = parse_overrides("path_glob,tz,mode\n" + "\n".join(lines) + "\n") if lines else None
    return by_name(resolve(photos(earlier, row), rules, BERLIN))["IMG_2.jpg"]


@pytest.mark.parametrize("upper, lower", list(zip(LAYERS, LAYERS[1:])),
                         ids=[f"{a[0]} > {b[0]}" for a, b in zip(LAYERS, LAYERS[1:])])
def test_each_precedence_step_beats_its_neighbour(upper, lower):
    both = resolve_layers([upper, lower])
    assert (both["tz_source"], both["tz_name"]) == upper[-1]
    alone = resolve_layers([lower])
    assert (alone["tz_source"], alone["tz_name"]) == lower[-1]


def test_the_whole_ladder_at_once():
    row = resolve_layers(LAYERS)
    assert (row["tz_source"], row["tz_name"]) == LAYERS[0][-1]
    row = resolve_layers(LAYERS[1:])
    assert (row["tz_source"], row["tz_name"]) == ("offset", "+03:00")
    assert "conflict" in flags(row)


# Conflicts and carry-forward
@pytest.mark.parametrize("row, source, conflict", [
    ({"offset_time_original": "+01:00", **canon(60)}, "offset", False),
    ({"offset_time_original": "+02:00", **canon(60)}, "offset", True),
    # M3: GPS clock says +03:00, the camera +01:00
    ({"gps_date": "2016:01:20", "gps_time": "12:00:00", **canon(60)}, "gps", True),
    ({"xmp_datetime_original": "2016-01-20T15:00:00+01:00", **canon(60)}, "camera", False),
    ({"xmp_datetime_original": "2016-01-20T15:00:00+05:00", **canon(60)}, "camera", True),
    ({"xmp_datetime_original": "2016-01-20T15:00:00+05:00", "offset_time_original": "+01:00"},
     "offset", True),
    ({"xmp_datetime_original": "2016-01-20T15:00:00+05:00", "gps_date": "2016:01:20",
      "gps_time": "12:00:00"}, "gps", True),
    ({"xmp_datetime_original": "2016-01-20T15:00:00+05:00", "gps_lat": 40.7128,
      "gps_lon": -74.006}, "offset", False),  # a position is lower: no conflict
])
def test_camera_zone_or_xmp_offset_disagreeing_with_a_higher_source_is_a_conflict(row, source,
                                                                                  conflict):
    resolved = one({"datetime_original": "2016:01:20 15:00:00", **row})
    assert resolved["tz_source"] == source
    assert ("conflict" in flags(resolved)) == conflict


@pytest.mark.parametrize("evidence, zone", [
    (canon(360), "+06:00"),
    ({"takeout_timestamp": epoch("2019-07-04T01:00:00Z")}, "+11:00"),
    ({"xmp_datetime_original": "2019-07-04T12:00:00+07:00"}, "+07:00"),
])
def test_camera_takeout_and_xmp_offsets_carry_forward(evidence, zone):
    table = by_name(resolve(photos(
        {"datetime_original": LOCAL, **evidence},
        {"datetime_original": "2019:07:04 13:00:00"},
    ), None, BERLIN))
    later = table["IMG_2.jpg"]
    assert (later["tz_source"], later["tz_name"], later["evidence_path"]) == (
        "carried", zone, "/photos/trip/IMG_1.jpg")


# Through the real CLI
def test_source_selects_the_new_sources(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.save("photos", photos(
        {"datetime_original": LOCAL, **canon(360)},
        {"datetime_original": "2019:07:05 12:00:00", "takeout_timestamp": epoch("2019-07-05T01:00:00Z")},
        {"file_name": "PXL_20190706_100000000.jpg"},
        folder=str(tmp_path / "photos")))
    runner = CliRunner()
    result = runner.invoke(main, ["resolve", "-w", str(ws.root), "--default-tz", "Europe/Berlin"])
    assert result.exit_code == 0, result.output
    for source, name in (("camera", "IMG_1.jpg"), ("takeout", "IMG_2.jpg")):
        result = runner.invoke(main, ["approve", "-w", str(ws.root), "--source", source])
        assert result.exit_code == 0, result.output
    resolved = ws.load("resolved").set_index("file_name")
    assert resolved["approved"].to_dict() == {"IMG_1.jpg": True, "IMG_2.jpg": True,
                                              "PXL_20190706_100000000.jpg": False}
    assert resolved.loc["PXL_20190706_100000000.jpg", "tz_source"] == "carried"
