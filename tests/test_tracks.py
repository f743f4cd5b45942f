"""Location history as evidence (issue 15): `photoflux tracks add/remove/list` through the real
CLI, and resolve placing photos by the track (tz_source track, its flags and columns)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from frames import by_name, flags, photos, utc
from pipeline.cli import main
from pipeline.resolve import Settings, resolve
from pipeline.schema import PHOTOS, conform
from pipeline.tracks import read_track
from pipeline.tracks.store import table_of
from pipeline.workspace import Workspace, write_table

BERLIN = Settings("Europe/Berlin")
MAKERNOTES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "makernotes"


def gpx(*points: tuple[float, float, str]) -> str:
    """A GPX 1.1 track of (lat, lon, ISO time) points."""
    body = "".join(f'<trkpt lat="{lat}" lon="{lon}"><time>{time}</time></trkpt>'
                   for lat, lon, time in points)
    return ('<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
            f"<trk><trkseg>{body}</trkseg></trk></gpx>")


def track(tmp_path: Path, text: str, name: str = "walk.gpx"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return table_of(read_track(path))


def placed(tracks, *rows: dict, settings: Settings = BERLIN) -> dict[str, pd.Series]:
    return by_name(resolve(photos(*rows), None, settings, tracks=tracks))


NEW_YORK, CHICAGO, PARIS = (40.7128, -74.0060), (41.8781, -87.6298), (48.8566, 2.3522)


def test_a_gps_less_photo_takes_the_zone_of_the_track_at_its_instant(tmp_path):
    walk = track(tmp_path, gpx((*NEW_YORK, "2021-07-04T15:50:00Z"), (*NEW_YORK, "2021-07-04T16:10:00Z")))
    row = placed(walk, {"datetime_original": "2021:07:04 12:05:00"})["IMG_1.jpg"]
    assert (row["tz_source"], row["tz_name"], utc(row)) == ("track", "America/New_York",
                                                            "2021-07-04 16:05:00")
    assert (row["track_lat"], row["track_lon"], row["track_gap_minutes"]) == (*NEW_YORK, 5.0)
    assert flags(row) == set()


def test_without_a_track_or_outside_it_the_default_stays(tmp_path):
    walk = track(tmp_path, gpx((*NEW_YORK, "2021-07-04T16:00:00Z")))
    rows = placed(walk, {"datetime_original": "2021:07:10 12:00:00", "folder": "/other"})
    assert rows["IMG_1.jpg"]["tz_source"] == "default"
    assert pd.isna(rows["IMG_1.jpg"]["track_lat"])
    assert placed(None, {"datetime_original": "2021:07:04 12:00:00"})["IMG_1.jpg"][
        "tz_source"] == "default"


@pytest.mark.parametrize("minutes, window, fits", [(30, 30, True), (31, 30, False),
                                                   (31, 45, True), (0, 0, True), (1, 0, False)])
def test_the_nearest_point_counts_within_the_window_and_not_beyond(tmp_path, minutes, window,
                                                                   fits):
    instant = pd.Timestamp("2021-07-04T16:00:00Z") + pd.Timedelta(minutes=minutes)
    walk = track(tmp_path, gpx((*NEW_YORK, instant.strftime("%Y-%m-%dT%H:%M:%SZ"))))
    row = placed(walk, {"datetime_original": "2021:07:04 12:00:00"},
                 settings=Settings("Europe/Berlin", window))["IMG_1.jpg"]
    assert row["tz_source"] == ("track" if fits else "default")


def test_a_day_across_a_zone_border_takes_the_nearest_fit_and_is_flagged(tmp_path):
    # 12:00 on the wall clock fits New York at 16:00Z (a point 5 min away) and Chicago at
    # 17:00Z (a point 10 min away): the person drove west that day.
    drive = track(tmp_path, gpx((*NEW_YORK, "2021-07-04T16:05:00Z"),
                                (*CHICAGO, "2021-07-04T17:10:00Z")))
    row = placed(drive, {"datetime_original": "2021:07:04 12:00:00"})["IMG_1.jpg"]
    assert (row["tz_name"], utc(row), row["track_gap_minutes"]) == (
        "America/New_York", "2021-07-04 16:00:00", 5.0)
    assert flags(row) == {"track_ambiguous"}


def test_a_photos_own_position_wins_and_a_far_track_is_a_conflict(tmp_path):
    walk = track(tmp_path, gpx((*PARIS, "2021-07-04T10:00:00Z")))
    rows = placed(walk, {"datetime_original": "2021:07:04 12:00:00", "gps_lat": 52.52,
                         "gps_lon": 13.405},
                  {"datetime_original": "2021:07:04 12:01:00", "gps_lat": 48.86, "gps_lon": 2.35})
    berlin, paris = rows["IMG_1.jpg"], rows["IMG_2.jpg"]
    assert (berlin["tz_source"], berlin["tz_name"]) == ("location", "Europe/Berlin")
    assert "track_conflict" in flags(berlin)  # 880 km from where the track was
    assert (berlin["track_lat"], berlin["track_lon"]) == PARIS
    assert "track_conflict" not in flags(paris)


def test_higher_evidence_wins_over_the_track(tmp_path):
    walk = track(tmp_path, gpx((*NEW_YORK, "2021-07-04T10:00:00Z")))
    row = placed(walk, {"datetime_original": "2021:07:04 12:00:00",
                        "offset_time_original": "+02:00"})["IMG_1.jpg"]
    assert row["tz_source"] == "offset"


def test_the_track_carries_forward_to_the_next_photo_in_the_folder(tmp_path):
    walk = track(tmp_path, gpx((*NEW_YORK, "2021-07-04T16:00:00Z")))
    rows = placed(walk, {"datetime_original": "2021:07:04 12:00:00"},
                  {"datetime_original": "2021:07:04 15:00:00"})
    later = rows["IMG_2.jpg"]
    assert (later["tz_source"], later["tz_name"], later["evidence_path"]) == (
        "carried", "America/New_York", "/photos/trip/IMG_1.jpg")


def timeline(*segments: dict) -> str:
    return json.dumps({"semanticSegments": list(segments)})


def visit(start: str, end: str, lat_lng: str, start_offset: int, end_offset: int) -> dict:
    return {"startTime": start, "endTime": end, "startTimeTimezoneUtcOffsetMinutes": start_offset,
            "endTimeTimezoneUtcOffsetMinutes": end_offset,
            "visit": {"topCandidate": {"placeLocation": {"latLng": lat_lng}}}}


def test_a_timeline_visit_holds_a_mid_visit_photo_across_a_dst_change(tmp_path):
    night = track(tmp_path, timeline(visit("2024-03-30T21:00:00.000+01:00",
                                           "2024-03-31T09:00:00.000+02:00",
                                           "52.5200066°, 13.4049540°", 60, 120)), "Timeline.json")
    rows = placed(night, {"datetime_original": "2024:03:30 23:00:00"},
                  {"datetime_original": "2024:03:31 03:10:00"},
                  {"datetime_original": "2024:03:31 08:00:00"}, settings=Settings("UTC"))
    evening, night_owl, morning = rows["IMG_1.jpg"], rows["IMG_2.jpg"], rows["IMG_3.jpg"]
    # just after the change, nearer the visit's start (+01:00) than its end: still Berlin's
    # summer time, which the visit's end recorded
    assert (night_owl["tz_name"], utc(night_owl), flags(night_owl)) == (
        "Europe/Berlin", "2024-03-31 01:10:00", set())
    assert (evening["tz_source"], evening["tz_name"], utc(evening)) == (
        "track", "Europe/Berlin", "2024-03-30 22:00:00")
    assert (utc(morning), morning["utc_offset_minutes"], morning["track_gap_minutes"]) == (
        "2024-03-31 06:00:00", 120, 0.0)


def test_the_phones_recorded_offset_decides_over_the_places_zone(tmp_path):
    # Denver keeps summer time (-06:00), but the phone said -07:00 all that day: the photo's
    # 12:00 is 19:00Z, not 18:00Z.
    day = track(tmp_path, timeline(visit("2021-07-04T03:00:00.000-07:00",
                                         "2021-07-04T16:00:00.000-07:00",
                                         "39.7392°, -104.9903°", -420, -420)), "Timeline.json")
    row = placed(day, {"datetime_original": "2021:07:04 12:00:00"})["IMG_1.jpg"]
    assert (row["tz_source"], row["tz_name"], utc(row)) == ("track", "-07:00",
                                                            "2021-07-04 19:00:00")
    assert flags(row) == set()


# --- through the real CLI ------------------------------------------------------------------

def run(*args: str, code: int = 0):
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    assert result.exit_code == code, result.output
    return result.output


def test_tracks_add_lists_removes_and_feeds_resolve(tmp_path):
    ws = tmp_path / "ws"
    walk = tmp_path / "walk.gpx"
    walk.write_text(gpx((*NEW_YORK, "2021-07-04T16:00:00Z"), (*NEW_YORK, "2021-07-04T16:00:00Z"),
                        ("north", -74.0, "2021-07-04T16:01:00Z"),
                        (*NEW_YORK, "2021-07-05T20:00:00Z")), encoding="utf-8")
    drive = tmp_path / "drive.csv"
    drive.write_text("time,lat,lon\n2021-07-06T17:00:00Z,41.8781,-87.6298\n", encoding="utf-8")
    write_table(Workspace(ws).photos, photos({"datetime_original": "2021:07:04 12:00:00"}), PHOTOS)

    out = run("tracks", "add", walk, drive, "-w", ws)
    assert "added walk.gpx (gpx): 2 points, 0 intervals, 1 unreadable skipped" in out
    assert "added drive.csv (csv): 1 points" in out
    listed = run("tracks", "-w", ws)
    assert "walk.gpx (gpx): 2 points, 0 intervals, 1 skipped; 2021-07-04 16:00Z .. " \
           "2021-07-05 20:00Z; largest gaps: 28.0 h from 2021-07-04 16:00Z" in listed
    assert "drive.csv (csv): 1 points" in listed
    assert "walk.gpx: unchanged; skipped" in run("tracks", "add", walk, "-w", ws)

    run("resolve", "-w", ws, "--default-tz", "Europe/Berlin")
    resolved = pd.read_csv(ws / "reports" / "audit.csv")
    assert (resolved.loc[0, "tz_source"], resolved.loc[0, "tz_name"]) == ("track",
                                                                          "America/New_York")
    run("report", "-w", ws)  # the reviewer sees where the track was, and how near in time
    assert "track 0 min off at 40.7128, -74.006" in (ws / "reports" / "audit.html").read_text()

    os.utime(walk, ns=(0, 0))  # changed: its rows are replaced, not added twice
    assert "added walk.gpx (gpx): 2 points" in run("tracks", "add", walk, "-w", ws)
    assert "no track source named nope (sources: drive.csv, walk.gpx)" in run(
        "tracks", "remove", "nope", "-w", ws, code=1)
    assert "1 sources left" in run("tracks", "-w", ws, "remove", "walk.gpx")  # -w either side
    assert "walk.gpx" not in run("tracks", "-w", ws)
    run("resolve", "-w", ws, "--default-tz", "Europe/Berlin")
    assert pd.read_csv(ws / "reports" / "audit.csv").loc[0, "tz_source"] == "default"


def test_a_file_that_is_no_location_history_is_one_line_and_writes_nothing(tmp_path):
    good, bad = tmp_path / "walk.gpx", tmp_path / "notes.txt"
    good.write_text(gpx((*NEW_YORK, "2021-07-04T16:00:00Z")), encoding="utf-8")
    bad.write_text("hello\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["tracks", "add", str(good), str(bad), "-w",
                                       str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert f"{bad}: not a location history file" in result.output
    assert not (tmp_path / "ws" / "data" / "tracks.parquet").exists()
    assert not list((tmp_path / "ws" / "data").glob("*.tmp"))


def test_run_resolves_again_when_the_tracks_change(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    ws = tmp_path / "ws"
    run("run", folder, "-w", ws, "--default-tz", "UTC", "--quiet")
    assert "resolve: photos, overrides" in run("run", folder, "-w", ws, "--default-tz", "UTC",
                                               "--quiet")
    walk = tmp_path / "walk.gpx"
    walk.write_text(gpx((*NEW_YORK, "2021-07-04T16:00:00Z")), encoding="utf-8")
    run("tracks", "add", walk, "-w", ws)
    assert "resolve: photos, overrides" not in run("run", folder, "-w", ws, "--default-tz", "UTC",
                                                   "--quiet")


@pytest.mark.skipif(not (MAKERNOTES / "Geotag.kml").exists(),
                    reason="../shared/corpus/makernotes is absent")
def test_the_shared_geotag_kml_places_a_photo_in_its_zone_not_the_exporters(tmp_path):
    """Geotag.kml writes -08:00 on its times; its place (New Mexico) kept -07:00 that day."""
    data = read_track(MAKERNOTES / "Geotag.kml")
    point = data.points.iloc[0]
    local = (point["utc_time"] - pd.Timedelta(hours=7)).strftime("%Y:%m:%d %H:%M:%S")
    row = placed(table_of(data), {"datetime_original": local})["IMG_1.jpg"]
    assert (row["tz_source"], row["utc_offset_minutes"]) == ("track", -420)
    assert row["utc_time"] == point["utc_time"].floor("s")
