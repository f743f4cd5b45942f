"""The flag registry: one classification the README, the counts and --flagged all read."""
from __future__ import annotations

from pathlib import Path

from frames import photos
from pipeline import flags
from pipeline.resolve import Settings, resolve

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_shows_the_registry_as_it_is():
    assert flags.markdown_table() in README.read_text(encoding="utf-8")


def test_every_photo_is_counted_once_and_the_kinds_are_those_of_the_registry():
    resolved = resolve(photos(
        {"datetime_original": "2019:07:04 12:00:00", "offset_time_original": "+02:00"},
        {"datetime_original": "2019:07:04 13:00:00", "gps_lat": 0.0, "gps_lon": 0.0},
        {"datetime_original": "2019:07:04 14:00:00", "gps_lat": 0.0, "gps_lon": 0.0,
         "gps_date": "2019:06:01", "gps_time": "01:00:00"},
        {"datetime_original": "0000:00:00 00:00:00"},
        {"error": "not an image"},
    ), [], Settings("Europe/Berlin"))
    counted = flags.counts(resolved)
    assert {key: counted[key] for key in ("photos", "never_approvable", "needs_a_look",
                                          "for_information", "unflagged")} == {
        "photos": 5, "never_approvable": 2, "needs_a_look": 1, "for_information": 1,
        "unflagged": 1}
    assert counted["by_flag"] == {"no_time": 2, "stale_gps": 1, "null_island": 2}
    assert flags.needs_a_look(resolved["flags"]).tolist() == [False, False, True, False, False]
    assert flags.counts_text(counted) == ("1 need a look, 1 flagged for information only, "
                                          "2 without a time (never approvable)")
    assert set(flags.named(flags.NEVER_APPROVABLE)) == {"no_time", "out_of_range"}
