"""Location history readers (pipeline.tracks): every format the issue lists, read from small
hand-written files in each shape, plus the real Geotag.gpx/kml from ../shared."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.schema import TRACK_INTERVALS, TRACK_POINTS, conform, empty
from pipeline.tracks import TrackError, read_track, rows

MAKERNOTES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "makernotes"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def instants(frame: pd.DataFrame, column: str = "utc_time") -> list[pd.Timestamp]:
    return list(frame[column])


def offsets(frame: pd.DataFrame, column: str = "utc_offset_minutes") -> list:
    return [None if pd.isna(v) else int(v) for v in frame[column]]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def write_json(tmp_path: Path, name: str, value) -> Path:
    return write(tmp_path, name, json.dumps(value, indent=2))


def assert_schema_dtypes(data) -> None:
    """The frames cast to their declared schemas, and carry the dtypes every stage reads back."""
    for frame, schema in ((data.points, TRACK_POINTS), (data.intervals, TRACK_INTERVALS)):
        assert conform(frame, schema).schema.equals(schema)
        assert [str(t) for t in frame.dtypes] == [str(t) for t in empty(schema).dtypes]


# --- GPX -----------------------------------------------------------------------------------

GPX11 = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <metadata><time>2020-01-01T00:00:00Z</time></metadata>
  <wpt lat="48.2" lon="16.37"><time>2021-06-01T09:59:00Z</time><name>Hotel</name></wpt>
  <wpt lat="48.3" lon="16.4"><name>A place never visited</name></wpt>
  <rte><rtept lat="1" lon="1"><time>2021-06-01T00:00:00Z</time></rtept></rte>
  <trk><name>walk</name><trkseg>
    <trkpt lat="48.2082" lon="16.3738"><ele>171</ele><time>2021-06-01T10:00:00Z</time></trkpt>
    <trkpt lat="48.2090" lon="16.3750"><time>2021-06-01T12:00:05+02:00</time></trkpt>
    <trkpt lat="48.2100" lon="16.3760"><time>2021-06-01T10:00:10</time></trkpt>
    <trkpt lat="north" lon="16.3770"><time>2021-06-01T10:00:15Z</time></trkpt>
    <trkpt lat="95.0" lon="16.3780"><time>2021-06-01T10:00:20Z</time></trkpt>
    <trkpt lat="48.2110" lon="16.3790"></trkpt>
  </trkseg></trk>
</gpx>
"""


def test_gpx_track_points_and_timed_waypoints(tmp_path):
    data = read_track(write(tmp_path, "walk.gpx", GPX11))
    assert data.format == "gpx"
    assert instants(data.points) == [utc("2021-06-01T09:59:00Z"), utc("2021-06-01T10:00:00Z"),
                                     utc("2021-06-01T10:00:05Z"), utc("2021-06-01T10:00:10Z")]
    assert list(data.points["lat"]) == [48.2, 48.2082, 48.2090, 48.2100]
    assert list(data.points["lon"]) == [16.37, 16.3738, 16.3750, 16.3760]
    assert set(data.points["source"]) == {"walk.gpx"}
    assert offsets(data.points) == [None] * 4  # "+02:00" in a GPX time fixes the instant only
    # a non-numeric latitude, one out of range, a track point without time; the untimed waypoint
    # and the route point are not evidence and are not counted
    assert data.skipped == 3
    assert data.first_skip == "a row without a position ('north', '16.3770')"
    assert data.intervals.empty
    assert_schema_dtypes(data)


def test_gpx_real_sample_version_1_0():
    if not MAKERNOTES.is_dir():
        pytest.skip(f"no public corpus at {MAKERNOTES} (it lives beside the repository)")
    data = read_track(MAKERNOTES / "Geotag.gpx")
    assert (data.format, len(data.points), data.skipped) == ("gpx", 9, 0)
    first = data.points.iloc[0]
    assert (first["utc_time"], first["lat"], first["lon"]) == (
        utc("2003-05-24T17:10:05Z"), 43.641000, -116.062231)


# --- KML / KMZ -----------------------------------------------------------------------------

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document>
  <Placemark><name>a label, no time</name><Point><coordinates>1,2,0</coordinates></Point></Placemark>
  <Placemark>
    <gx:Track>
      <altitudeMode>clampToGround</altitudeMode>
      <when>2019-03-10T08:00:00Z</when>
      <when>2019-03-10T01:01:00-07:00</when>
      <when>2019-03-10T08:02:00Z</when>
      <gx:coord>-106.0 34.1 1500</gx:coord>
      <gx:coord>-106.1 34.2 1500</gx:coord>
      <gx:coord>-106.2 oops 1500</gx:coord>
    </gx:Track>
  </Placemark>
  <Folder>
    <Placemark><TimeStamp><when>2019-03-10T09:00:00+01:00</when></TimeStamp>
      <Point><coordinates>13.4, 52.5</coordinates></Point></Placemark>
    <Placemark><TimeSpan><begin>2019-03-10T10:00:00Z</begin><end>2019-03-10T12:00:00Z</end></TimeSpan>
      <Point><coordinates>2.35,48.85,0</coordinates></Point></Placemark>
    <Placemark><TimeSpan><begin>2019-03-10T12:00:00Z</begin><end>2019-03-10T13:30:00Z</end></TimeSpan>
      <LineString><coordinates>2.35,48.85,0 2.0,48.0,0 -0.12,51.5,0</coordinates></LineString></Placemark>
    <Placemark><TimeSpan><begin>2019-03-10T14:00:00Z</begin><end>2019-03-10T13:00:00Z</end></TimeSpan>
      <Point><coordinates>-0.12,51.5</coordinates></Point></Placemark>
  </Folder>
</Document>
</kml>
"""


def check_kml(data) -> None:
    assert instants(data.points) == [
        utc("2019-03-10T08:00:00Z"), utc("2019-03-10T08:01:00Z"),  # the track
        utc("2019-03-10T08:00:00Z"),  # TimeStamp
        utc("2019-03-10T12:00:00Z"), utc("2019-03-10T13:30:00Z")]  # LineString: first, last
    assert list(data.points["lat"]) == [34.1, 34.2, 52.5, 48.85, 51.5]  # "lon lat alt" order
    assert list(data.points["lon"]) == [-106.0, -106.1, 13.4, 2.35, -0.12]
    assert offsets(data.points) == [None] * 5
    assert len(data.intervals) == 1
    stay = data.intervals.iloc[0]
    assert (stay["utc_start"], stay["utc_end"], stay["lat"], stay["lon"]) == (
        utc("2019-03-10T10:00:00Z"), utc("2019-03-10T12:00:00Z"), 48.85, 2.35)
    assert data.skipped == 2  # the unreadable gx:coord; the stay ending before it starts
    assert data.first_skip == "a row without a position ('oops', '-106.2')"
    assert_schema_dtypes(data)


def test_kml_track_timestamp_and_timespan_placemarks(tmp_path):
    data = read_track(write(tmp_path, "history.kml", KML))
    assert data.format == "kml"
    check_kml(data)


def test_kmz_is_the_zipped_kml(tmp_path):
    path = tmp_path / "history.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("files/readme.txt", "not the document")
        archive.writestr("doc.kml", KML)
    data = read_track(path)
    assert data.format == "kmz"
    check_kml(data)
    assert set(data.points["source"]) == {"history.kmz"}


def test_kml_gx_track_with_all_times_before_all_positions(tmp_path):
    """The KML reference writes every <when> first, then every <gx:coord>."""
    whens = "".join(f"<when>2020-05-01T10:0{i}:00Z</when>" for i in range(4))
    coords = "".join(f"<gx:coord>{i} {i} 0</gx:coord>" for i in range(3))
    text = (f'<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
            f"<Placemark><gx:MultiTrack><gx:Track>{whens}{coords}</gx:Track></gx:MultiTrack>"
            f"</Placemark></kml>")
    data = read_track(write(tmp_path, "t.kml", text))
    assert instants(data.points) == [utc(f"2020-05-01T10:0{i}:00Z") for i in range(3)]
    assert list(data.points["lat"]) == [0.0, 1.0, 2.0]
    assert (data.skipped, data.first_skip) == (1, "a gx:Track with 1 more times than positions")


def test_kml_real_sample_keeps_the_instant_not_the_exporters_offset():
    """Geotag.kml writes -08:00 for a point in New Mexico (-07:00 that day): only the instant
    is taken, and no offset is recorded."""
    if not MAKERNOTES.is_dir():
        pytest.skip(f"no public corpus at {MAKERNOTES} (it lives beside the repository)")
    data = read_track(MAKERNOTES / "Geotag.kml")
    assert (len(data.points), data.skipped) == (3, 0)
    first = data.points.iloc[0]
    assert (first["utc_time"], first["lat"], first["lon"]) == (
        utc("2013-11-13T09:03:34.245Z"), 34.166232, -106.026069)
    assert offsets(data.points) == [None] * 3


# --- Google Takeout ------------------------------------------------------------------------

def test_records_json_with_timestamp_and_timestamp_ms(tmp_path):
    records = {"locations": [
        {"latitudeE7": 414216106, "longitudeE7": 21684775, "accuracy": 20, "source": "WIFI",
         "timestamp": "2022-01-12T17:18:24.190Z", "deviceTag": 1234567890},
        {"timestampMs": "1412345678901", "latitudeE7": -337000000, "longitudeE7": 1512000000,
         "activity": [{"timestampMs": "1412345600000",  # an activity's time is not a point's
                       "activity": [{"type": "STILL", "confidence": 100}]}]},
        {"timestamp": "2022-01-12T17:20:00Z", "longitudeE7": 21684775},  # no latitude
        {"timestampMs": "1412345679000", "latitudeE7": 914216106, "longitudeE7": 0},  # > 90°
        {"latitudeE7": 1, "longitudeE7": 2},  # no time
    ]}
    data = read_track(write_json(tmp_path, "Records.json", records))
    assert data.format == "google-records"
    assert instants(data.points) == [utc("2022-01-12T17:18:24.190Z"),
                                     pd.Timestamp(1412345678901, unit="ms", tz="UTC")]
    assert list(data.points["lat"]) == pytest.approx([41.4216106, -33.7])
    assert list(data.points["lon"]) == pytest.approx([2.1684775, 151.2])
    assert data.skipped == 3
    assert data.first_skip == "a row without a position (None, 21684775)"
    assert_schema_dtypes(data)


def test_semantic_place_visit_is_an_interval_and_activity_segment_points(tmp_path):
    month = {"timelineObjects": [
        {"activitySegment": {
            "startLocation": {"latitudeE7": 515072000, "longitudeE7": -1276000},
            "endLocation": {"latitudeE7": 407128000, "longitudeE7": -740060000},
            "duration": {"startTimestamp": "2019-03-01T09:00:00.000Z",
                         "endTimestamp": "2019-03-01T17:00:00Z"},
            "activityType": "FLYING",
            "waypointPath": {"waypoints": [{"latE7": 500000000, "lngE7": -300000000}]},
            "simplifiedRawPath": {"points": [
                {"latE7": 530000000, "lngE7": -100000000, "timestamp": "2019-03-01T10:00:00Z"},
                {"latE7": 480000000, "lngE7": -500000000, "timestampMs": "1551448800000"}]}}},
        {"placeVisit": {
            "location": {"latitudeE7": 407580000, "longitudeE7": -739855000,
                         "placeId": "ChIJ", "address": "Times Square"},
            "duration": {"startTimestampMs": "1551459600000", "endTimestampMs": "1551474000000"},
            "childVisits": [{"location": {"latitudeE7": 1, "longitudeE7": 1}}]}},
        {"placeVisit": {"centerLatE7": 407000000, "centerLngE7": -740000000, "location": {},
                        "duration": {"startTimestamp": "2019-03-02T10:00:00Z",
                                     "endTimestamp": "2019-03-02T11:00:00Z"}}},
    ]}
    data = read_track(write_json(tmp_path, "2019_MARCH.json", month))
    assert data.format == "google-semantic"
    # the flight: its start, its end and its raw path, as points, never a stay
    assert instants(data.points) == [utc("2019-03-01T09:00:00Z"), utc("2019-03-01T17:00:00Z"),
                                     utc("2019-03-01T10:00:00Z"), utc("2019-03-01T14:00:00Z")]
    assert list(data.points["lat"]) == pytest.approx([51.5072, 40.7128, 53.0, 48.0])
    assert instants(data.intervals, "utc_start") == [
        pd.Timestamp(1551459600000, unit="ms", tz="UTC"), utc("2019-03-02T10:00:00Z")]
    assert instants(data.intervals, "utc_end") == [
        pd.Timestamp(1551474000000, unit="ms", tz="UTC"), utc("2019-03-02T11:00:00Z")]
    assert list(data.intervals["lat"]) == pytest.approx([40.758, 40.7])
    assert list(data.intervals["lon"]) == pytest.approx([-73.9855, -74.0])
    assert data.skipped == 0
    assert_schema_dtypes(data)


# --- the phone's own Timeline export ---------------------------------------------------------

ANDROID = {
    "semanticSegments": [
        {"startTime": "2024-03-30T21:00:00.000+01:00", "endTime": "2024-03-31T09:00:00.000+02:00",
         "startTimeTimezoneUtcOffsetMinutes": 60, "endTimeTimezoneUtcOffsetMinutes": 120,
         "visit": {"hierarchyLevel": 0, "probability": 0.9,
                   "topCandidate": {"placeId": "p1", "semanticType": "HOME", "probability": 0.8,
                                    "placeLocation": {"latLng": "52.5200066°, 13.4049540°"}}}},
        {"startTime": "2024-03-31T09:00:00.000+02:00", "endTime": "2024-03-31T13:00:00.000+03:00",
         "startTimeTimezoneUtcOffsetMinutes": 120, "endTimeTimezoneUtcOffsetMinutes": 180,
         "activity": {"start": {"latLng": "52.52°, 13.40°"}, "end": {"latLng": "41.0082°, 28.9784°"},
                      "distanceMeters": 1700000.0,
                      "topCandidate": {"type": "FLYING", "probability": 0.9}}},
        {"startTime": "2024-03-31T12:00:00.000+02:00", "endTime": "2024-03-31T14:00:00.000+03:00",
         "startTimeTimezoneUtcOffsetMinutes": 120, "endTimeTimezoneUtcOffsetMinutes": 180,
         "timelinePath": [{"point": "45.0°, 20.0°", "time": "2024-03-31T12:30:00.000+02:00"}]},
        {"startTime": "2024-03-31T14:00:00.000+03:00", "endTime": "2024-03-31T16:00:00.000+03:00",
         "startTimeTimezoneUtcOffsetMinutes": 180, "endTimeTimezoneUtcOffsetMinutes": 180,
         "timelinePath": [{"point": "41.01°, 28.98°", "time": "2024-03-31T14:10:00.000+03:00"},
                          {"point": "not a place", "time": "2024-03-31T14:20:00.000+03:00"}]},
        {"startTime": "2024-03-31T16:00:00.000+03:00", "endTime": "2024-03-31T17:00:00.000+03:00",
         "timelineMemory": {"destinations": [{"identifier": "x"}]}},
    ],
    "rawSignals": [
        {"position": {"LatLng": "41.0100°, 28.9800°", "accuracyMeters": 12, "source": "GPS",
                      "timestamp": "2024-03-31T14:05:00.000+03:00", "speedMetersPerSecond": 0.0}},
        {"wifiScan": {"deliveryTime": "2024-03-31T14:06:00.000+03:00", "devicesRecords": []}},
        {"activityRecord": {"probableActivities": [{"type": "STILL", "confidence": 1.0}],
                            "timestamp": "2024-03-31T14:07:00.000+03:00"}},
    ],
    "userLocationProfile": {"frequentPlaces": [{"placeId": "p1", "placeLocation": "52.52°, 13.40°"}]},
}


def test_android_timeline_keeps_the_phones_recorded_offsets(tmp_path):
    data = read_track(write_json(tmp_path, "Timeline.json", ANDROID))
    assert data.format == "timeline-android"
    stay = data.intervals.iloc[0]
    assert (stay["utc_start"], stay["utc_end"]) == (utc("2024-03-30T20:00:00Z"),
                                                    utc("2024-03-31T07:00:00Z"))
    assert (stay["lat"], stay["lon"]) == (52.5200066, 13.404954)
    assert offsets(data.intervals, "start_offset_minutes") == [60]
    assert offsets(data.intervals, "end_offset_minutes") == [120]
    assert instants(data.points) == [
        utc("2024-03-31T07:00:00Z"), utc("2024-03-31T10:00:00Z"),  # the flight's start and end
        utc("2024-03-31T10:30:00Z"),  # a path point in a segment whose offsets differ
        utc("2024-03-31T11:10:00Z"),  # a path point where start and end agree
        utc("2024-03-31T11:05:00Z")]  # a raw signal
    assert list(data.points["lat"]) == [52.52, 41.0082, 45.0, 41.01, 41.01]
    assert list(data.points["lon"]) == [13.40, 28.9784, 20.0, 28.98, 28.98]
    assert offsets(data.points) == [120, 180, None, 180, None]
    assert (data.skipped, data.first_skip) == (1, "a row without a position ('not a place', '')")
    assert_schema_dtypes(data)


def test_ios_timeline_geo_points_timed_from_the_segment_start(tmp_path):
    segments = [
        {"endTime": "2024-07-01T12:00:00.000-07:00", "startTime": "2024-07-01T09:00:00.000-07:00",
         "startTimeTimezoneUtcOffsetMinutes": "-420", "endTimeTimezoneUtcOffsetMinutes": "-420",
         "visit": {"hierarchyLevel": "0", "probability": "0.95",
                   "topCandidate": {"probability": "0.9", "semanticType": "Unknown",
                                    "placeID": "ChIJ", "placeLocation": "geo:34.099208,-118.259178"}}},
        {"endTime": "2024-07-01T13:00:00.000-07:00", "startTime": "2024-07-01T12:00:00.000-07:00",
         "activity": {"probability": "0.9", "start": "geo:34.099208,-118.259178",
                      "end": "geo:34.05,-118.25", "distanceMeters": "6000",
                      "topCandidate": {"type": "in passenger vehicle", "probability": "0.8"}}},
        {"endTime": "2024-07-01T14:00:00.000-07:00", "startTime": "2024-07-01T12:00:00.000-07:00",
         "startTimeTimezoneUtcOffsetMinutes": -420, "endTimeTimezoneUtcOffsetMinutes": -420,
         "timelinePath": [{"point": "geo:34.08,-118.26", "durationMinutesOffsetFromStartTime": "15"},
                          {"point": "geo:34.06,-118.25", "durationMinutesOffsetFromStartTime": "x"}]},
        {"endTime": "2024-07-01T15:00:00.000-07:00", "startTime": "2024-07-01T14:00:00.000-07:00",
         "timelineMemory": {"destinations": [{"identifier": "ChIJ"}], "distanceFromOriginKms": "2"}},
    ]
    data = read_track(write_json(tmp_path, "location-history.json", segments))
    assert data.format == "timeline-ios"
    stay = data.intervals.iloc[0]
    assert (stay["utc_start"], stay["utc_end"], stay["lat"], stay["lon"]) == (
        utc("2024-07-01T16:00:00Z"), utc("2024-07-01T19:00:00Z"), 34.099208, -118.259178)
    assert offsets(data.intervals, "start_offset_minutes") == [-420]
    assert offsets(data.intervals, "end_offset_minutes") == [-420]
    assert instants(data.points) == [utc("2024-07-01T19:00:00Z"), utc("2024-07-01T20:00:00Z"),
                                     utc("2024-07-01T19:15:00Z")]
    assert list(data.points["lat"]) == [34.099208, 34.05, 34.08]
    assert offsets(data.points) == [None, None, -420]  # that activity recorded no offsets
    assert (data.skipped, data.first_skip) == (
        1, "a time that names no instant ('2024-07-01T12:00:00.000-07:00' + 'x' minutes)")
    assert_schema_dtypes(data)


# --- GeoJSON and CSV -------------------------------------------------------------------------

def test_geojson_point_features(tmp_path):
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.4194, 37.7749, 16]},
         "properties": {"time": "2023-05-01T12:00:00Z"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.27, 37.80]},
         "properties": {"timestamp": "2023-05-01T06:30:00-07:00", "speed": 3}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"time": "2023-05-01T12:00:00Z"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
         "properties": {"time": "2023-05-01 12:00:00"}},
    ]}
    data = read_track(write_json(tmp_path, "points.geojson", collection))
    assert data.format == "geojson"
    assert instants(data.points) == [utc("2023-05-01T12:00:00Z"), utc("2023-05-01T13:30:00Z")]
    assert list(data.points["lat"]) == [37.7749, 37.80]
    assert list(data.points["lon"]) == [-122.4194, -122.27]
    assert (data.skipped, data.first_skip) == (2, "a feature that is not a Point ('LineString')")
    assert_schema_dtypes(data)


def test_csv_with_iso_times(tmp_path):
    text = ('"Time (UTC)", Latitude (deg),Longitude (deg),Altitude\n'
            "2022-08-01T10:00:00Z,46.5,6.6,400\n"
            "2022-08-01 12:00:30+02:00,46.51,6.61,401\n"
            "2022-08-01T10:01:00Z,x,6.62,402\n"
            "2022-08-01T10:01:30Z,46.53,6.63,403,extra\n")
    data = read_track(write(tmp_path, "log.csv", text))
    assert data.format == "csv"
    assert instants(data.points) == [utc("2022-08-01T10:00:00Z"), utc("2022-08-01T10:00:30Z")]
    assert list(data.points["lat"]) == [46.5, 46.51]
    assert list(data.points["lon"]) == [6.6, 6.61]
    assert data.skipped == 2
    assert data.first_skip == "a line with 5 cells where the header has 4 (line 5)"
    assert_schema_dtypes(data)


def test_csv_with_epoch_times_and_other_spellings(tmp_path):
    text = ("timestamp;lat;lng\n"
            "1659348000;46.5;6.6\n"  # seconds
            "1659348030.5;46.51;6.61\n"
            "1659348060000;46.52;6.62\n"  # milliseconds
            "yesterday;46.53;6.63\n")
    data = read_track(write(tmp_path, "export.txt", text))
    assert instants(data.points) == [utc("2022-08-01T10:00:00Z"), utc("2022-08-01T10:00:30.5Z"),
                                     utc("2022-08-01T10:01:00Z")]
    assert list(data.points["lon"]) == [6.6, 6.61, 6.62]
    assert (data.skipped, data.first_skip) == (1, "a time that names no instant ('yesterday')")


# --- sniffing, errors, chunks ----------------------------------------------------------------

def test_format_comes_from_the_content_not_the_name(tmp_path):
    assert read_track(write(tmp_path, "track.xml", GPX11)).format == "gpx"
    assert read_track(write(tmp_path, "doc.gpx", KML)).format == "kml"
    assert read_track(write_json(tmp_path, "export.geojson", ANDROID)).format == "timeline-android"
    overland = {"locations": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
                               "properties": {"timestamp": "2017-01-01T10:00:00Z"}}]}
    data = read_track(write_json(tmp_path, "Records.json", overland))
    assert (data.format, list(data.points["lat"])) == ("overland-geojson", [2.0])


@pytest.mark.parametrize("name, content", [
    ("notes.txt", "just some words\nand more\n"),
    ("settings.json", json.dumps({"createdTime": "2020", "deviceSettings": [{"a": 1}]})),
    ("list.json", json.dumps([{"name": "x"}])),
    ("page.xml", "<html><body>no track</body></html>"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00binary\x00"),
    ("empty.gpx", ""),
])
def test_a_file_in_none_of_the_shapes_is_a_one_line_error_naming_it(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(TrackError) as caught:
        read_track(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a location history file")
    assert "\n" not in message


def test_broken_files_are_one_line_errors_naming_file_and_line(tmp_path):
    broken_xml = GPX11.replace("</trkseg>", "</trkseg", 1)
    with pytest.raises(TrackError, match=r"walk\.gpx:14: broken XML"):
        read_track(write(tmp_path, "walk.gpx", broken_xml))
    truncated = json.dumps({"locations": [{"latitudeE7": 1, "longitudeE7": 2,
                                           "timestamp": "2020-01-01T00:00:00Z"}] * 3})[:-20]
    with pytest.raises(TrackError, match=r"Records\.json: broken JSON"):
        read_track(write(tmp_path, "Records.json", truncated))
    (tmp_path / "bad.kmz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TrackError, match=r"bad\.kmz: not a KMZ"):
        read_track(tmp_path / "bad.kmz")
    with pytest.raises(TrackError, match=r"missing\.gpx: cannot be read"):
        read_track(tmp_path / "missing.gpx")


def test_rows_are_the_same_when_read_in_many_chunks(tmp_path, monkeypatch):
    """Chunking (100k rows in real use) must not change what is kept or how much is skipped."""
    records = {"locations": [
        {"latitudeE7": 100000000 + i, "longitudeE7": 200000000,
         **({"timestampMs": str(1600000000000 + i * 1000)} if i % 2 else
            {"timestamp": f"2020-09-13T12:{i // 60:02d}:{i % 60:02d}Z"})}
        for i in range(250)]}
    for i in (7, 100, 201):
        records["locations"][i]["latitudeE7"] = 950000000
    path = write_json(tmp_path, "Records.json", records)
    whole = read_track(path)
    monkeypatch.setattr(rows, "CHUNK", 16)
    chunked = read_track(path)
    assert (whole.skipped, chunked.skipped) == (3, 3)
    assert len(chunked.points) == 247
    pd.testing.assert_frame_equal(whole.points, chunked.points)


def test_a_named_source_labels_every_row(tmp_path):
    data = read_track(write(tmp_path, "walk.gpx", GPX11), source="watch 2021")
    assert set(data.points["source"]) == {"watch 2021"}
