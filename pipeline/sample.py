"""A generated sample library: one trip whose photos exercise every source and flag of resolve.

`write_sample` writes small real JPEGs with real EXIF (piexif; a maker note with the camera's zone
where a scenario wants one, an XMP packet where one has no EXIF date), a few sidecars beside them
(an XMP sidecar, Google Takeout JSON), into a few folders, and returns the answer resolve must
give for every photo under `SAMPLE_DEFAULT_TZ` and `DEMO_OVERRIDES`; the same answer is written
beside the photos as `sample-expected.csv` (extract reads only image files and their sidecars),
with the trip's location history, `sample-track.gpx`, that resolve needs for the Fuji's answers.

The library is a fixed set of scenario photos, each with its expected answer written next to it
below, plus `count - len(scenarios)` bulk photos of the plain kinds (phone with offset tag, GPS
clock, GPS position, camera carried from a phone, default zone) that scale it for benchmarks.
A seed changes only the bulk photos' times, GPS jitter and the pixels; the bytes of a library are
a function of (count, seed).
"""
from __future__ import annotations

import calendar
import io
import json
import os
import struct
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import piexif
from PIL import Image

SAMPLE_DEFAULT_TZ = "Europe/Berlin"
EXPECTED_NAME = "sample-expected.csv"
#: The trip's location history (a watch's GPX), beside the photos: `photoflux tracks add` it.
TRACK_NAME = "sample-track.gpx"

#: Fixes the demo's cameras: the Sony clock ran 42 minutes fast (a shift: the zone still comes
#: from the phone beside it, carried), and the Lumix clock stayed on Berlin time in Tokyo.
DEMO_OVERRIDES = """\
path_glob,first,last,local_from,local_to,tz,mode,shift,note
*/DSC_*,,,,,,,-00:42:00,Sony clock ran 42 minutes fast
*/2023-04 Tokyo/P1*,,,,,Europe/Berlin,override,,Lumix clock left on Berlin time in Tokyo
"""

#: The flags of resolve the sample cannot raise: fixed_offset_default needs a bare offset as the
#: default zone, clock_shifted a clocks.csv in the workspace.
FLAGS_NOT_IN_SAMPLE = ("fixed_offset_default", "clock_shifted")

_SIZE = (64, 48)
_BODIES = 256  # distinct pictures; a library up to this size has no two alike
_SONY_FAST = timedelta(minutes=42)

TOKYO = (35.6762, 139.6503)
LISBON = (38.7223, -9.1393)
NEW_YORK = (40.7128, -74.0060)
SYDNEY = (-33.8688, 151.2093)
ATLANTIC = (30.0, -40.0)  # open sea: nautical zone Etc/GMT+3
CHICAGO = (41.8781, -87.6298)
MILWAUKEE = (43.0389, -87.9065)  # 130 km north of Chicago, same zone
BENTON_HARBOR = (42.1167, -86.4542)  # Michigan: America/Detroit
MICHIGAN_CITY = (41.7075, -86.8950)  # Indiana, 40 km on: America/Chicago

#: The watch's track of the Chicago week (lat, lon, UTC): all the Fuji has to go by.
TRIP_TRACK = (
    (*CHICAGO, "2023-09-09T18:40:00Z"), (*CHICAGO, "2023-09-09T19:12:00Z"),
    (*BENTON_HARBOR, "2023-09-10T16:05:00Z"), (*MICHIGAN_CITY, "2023-09-10T17:10:00Z"),
    (*CHICAGO, "2023-09-11T15:03:00Z"),
)


@dataclass(frozen=True)
class Camera:
    make: str
    model: str
    names: str  # file-name pattern, numbered per camera in capture order


IPHONE = Camera("Apple", "iPhone 12", "IMG_{:04d}.jpg")  # offset tags, GPS clock and position
SONY = Camera("Sony", "ILCE-7M3", "DSC_{:04d}.JPG")  # no GPS; clock 42 minutes fast
LUMIX = Camera("Panasonic", "DMC-TZ7", "P1{:06d}.JPG")  # no GPS; clock on Berlin time
SAMSUNG = Camera("samsung", "SM-G900F", "SAM_{:04d}.jpg")  # GPS clock only, no offset tag
HTC = Camera("HTC", "HTC One", "IMAG{:04d}.jpg")  # GPS position only
CANON = Camera("Canon", "Canon PowerShot S95", "IMG_{:04d}.JPG")  # no GPS: the default zone
FAIRPHONE = Camera("Fairphone", "FP3", "FP3_{:04d}.jpg")  # a GPS that writes 0,0
EPSON = Camera("EPSON", "Perfection V600", "")  # a scanner: only IFD0 DateTime, named by hand
NIKON = Camera("NIKON CORPORATION", "NIKON D750", "_DSC{:04d}.JPG")  # zone in its maker note
CANON_EOS = Camera("Canon", "Canon EOS R6", "IMG_{:04d}.JPG")  # zone in its maker note
OLD_IPHONE = Camera("Apple", "iPhone 8", "IMG_{:04d}.JPG")  # no offset tags; location off
FUJI = Camera("FUJIFILM", "X100V", "DSCF{:04d}.JPG")  # no GPS: only the watch's track places it


@dataclass(frozen=True)
class CameraZone:
    """The zone set in a camera, as its maker note keeps it (pipeline/readers/makernotes.py)."""

    minutes: int  # TimeZone: Canon's includes summer time, Nikon's leaves it out
    dst: bool  # DaylightSavings
    city: int = 0  # Canon TimeZoneCity: 4 Sydney, 32766 "(not set)"


@dataclass(frozen=True)
class Takeout:
    """A Google Takeout JSON beside the photo: photoTakenTime (UTC) and geoData (0/0: none)."""

    taken: str
    place: tuple[float, float] = (0.0, 0.0)


@dataclass
class Shot:
    """One file to write: its EXIF, and the answer resolve must give for it."""

    folder: str
    scenario: str
    camera: Camera | None
    name: str | None = None  # None: numbered by the camera
    dto: str | None = None
    dtd: str | None = None
    dt0: str | None = None
    subsec: str | None = None
    oto: str | None = None
    ot: str | None = None
    gps_date: str | None = None
    gps_time: str | None = None  # HH:MM:SS[.ss], UTC
    lat: float | None = None
    lon: float | None = None
    broken: str | None = None  # empty, truncated or text: written as such, no time
    zone: CameraZone | None = None  # written into the maker note
    xmp: dict[str, str] | None = None  # embedded XMP properties (prefix_Name=value)
    sidecar: dict[str, str] | None = None  # NAME.EXT.xmp beside the photo (digiKam, darktable)
    takeout: Takeout | None = None  # NAME.EXT.supplemental-metadata.json beside the photo
    # the expected answer
    local: datetime | None = None  # wall clock after any shift
    time_tag: str | None = None  # local_time_tag, when it is not the first EXIF date present
    source: str | None = None
    tz_name: str | None = None
    offset: int | None = None  # minutes
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}"

    @property
    def tag(self) -> str | None:
        """The expected local_time_tag."""
        if self.local is None or self.time_tag:
            return self.time_tag
        return ("DateTimeOriginal" if self.dto else "DateTimeDigitized" if self.dtd
                else "DateTime")

    def sidecars(self) -> dict[str, bytes]:
        """The files written beside the photo: name -> content."""
        files = {}
        if self.sidecar:
            files[f"{self.name}.xmp"] = xmp_packet(**self.sidecar)
        if self.takeout:
            taken = calendar.timegm(_t(self.takeout.taken).timetuple())
            files[f"{self.name}.supplemental-metadata.json"] = takeout_json(
                taken, title=self.name, geoData=geo(*self.takeout.place)).encode()
        return files


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _exif_time(when: datetime) -> str:
    return when.strftime("%Y:%m:%d %H:%M:%S")


def _gps_clock(utc: datetime) -> tuple[str, str]:
    """GPSDateStamp and GPSTimeStamp of a UTC instant (hundredths kept)."""
    seconds = utc.second + utc.microsecond / 1e6
    text = f"{utc:%H:%M}:{seconds:05.2f}" if utc.microsecond else f"{utc:%H:%M:%S}"
    return utc.strftime("%Y:%m:%d"), text


def _photo(folder, scenario, camera, local, expect, *, clock=None, **tags) -> Shot:
    """A photo whose camera wrote `clock` (default: `local`) into DTO, DTD and IFD0 DateTime.

    `expect` is (tz_source, tz_name, offset minutes[, flags]); `tags` override or drop (None) tags.
    """
    stamp = _exif_time(_t(clock or local))
    source, tz_name, offset, *flags = expect
    fields = {"dto": stamp, "dtd": stamp, "dt0": stamp} | tags
    return Shot(folder, scenario, camera, local=_t(local), source=source, tz_name=tz_name,
                offset=offset, flags=tuple(flags[0].split(";")) if flags else (), **fields)


def _no_time(folder, scenario, camera, name=None, flags=(), **tags) -> Shot:
    """A file without a usable local time: resolve flags it no_time (and `flags`) and gives it
    no zone."""
    return Shot(folder, scenario, camera, name=name, flags=("no_time", *flags), **tags)


def _bare(folder, scenario, name, local, expect, tag, **evidence) -> Shot:
    """A JPEG without EXIF (a messenger's copy, an editor's export) named `name`, whose time
    comes from `tag` (its XMP, its name, its Takeout JSON); `expect` as for _photo."""
    source, tz_name, offset, *flags = expect
    return Shot(folder, scenario, None, name=name, local=_t(local), source=source,
                tz_name=tz_name, offset=offset, flags=tuple(flags[0].split(";")) if flags else (),
                time_tag=tag, **evidence)


def _gps(utc: str) -> dict:
    date, time = _gps_clock(_t(utc))
    return {"gps_date": date, "gps_time": time}


def _at(place: tuple[float, float]) -> dict:
    return {"lat": place[0], "lon": place[1]}


def _scenarios() -> list[Shot]:
    """The fixed photos, each with the answer written beside it (default zone Europe/Berlin)."""
    berlin, tokyo, lisbon = "2023 Berlin", "2023-04 Tokyo", "2023-08 Lisbon"
    ny, sea, india = "2023-10 New York", "2023-10 Atlantic crossing", "2023-11 India"
    sydney, chicago = "2024-01 Sydney", "2023-09 Chicago"
    B, T9, I530 = "Europe/Berlin", "+09:00", "+05:30"
    NYC = "America/New_York"
    p = _photo
    return [
        # -- At home in Berlin: a camera without GPS, nothing but the default zone. --
        # Spring forward 2023-03-26, 02:00 CET -> 03:00 CEST.
        p(berlin, "dst_spring_forward", CANON, "2023-03-26 01:30", ("default", B, 60)),  # 00:30Z
        # 02:30 never happened: read as 03:30 CEST, i.e. 01:30Z (UTC = local - offset + 1 h).
        p(berlin, "dst_spring_forward", CANON, "2023-03-26 02:30",
          ("default", B, 120, "nonexistent")),
        p(berlin, "dst_spring_forward", CANON, "2023-03-26 03:10", ("default", B, 120)),  # 01:10Z
        # Fall back 2023-10-29, 03:00 CEST -> 02:00 CET.
        p(berlin, "dst_fall_back", CANON, "2023-10-29 01:30", ("default", B, 120)),  # 10-28 23:30Z
        # 02:30 happened twice: the earlier instant, CEST, 00:30Z.
        p(berlin, "dst_fall_back", CANON, "2023-10-29 02:30", ("default", B, 120, "ambiguous")),
        p(berlin, "dst_fall_back", CANON, "2023-10-29 03:30", ("default", B, 60)),  # 02:30Z
        # A GPS that wrote 0,0: not a position, so the default zone; 10:00Z.
        p(berlin, "null_island", FAIRPHONE, "2023-04-30 12:00", ("default", B, 120, "null_island"),
          lat=0.0, lon=0.0),
        # A scan: only IFD0 DateTime (with a space and a non-ASCII letter in its name); 17:00Z.
        replace(p(berlin, "datetime_only", EPSON, "2023-02-14 18:00",
                  ("default", B, 60, "no_capture_time_tag"), dto=None, dtd=None),
                name="Oma Müller Geburtstag.jpg"),
        # DateTimeOriginal stripped by an old editor: DateTimeDigitized is the local time; 13:00Z.
        p(berlin, "digitized_only", CANON, "2023-04-29 15:00", ("default", B, 120), dto=None),
        # The Canon's zone was never set: TimeZoneCity "(not set)" in its maker note is no
        # evidence, so the default zone; 15:00Z.
        p(berlin, "camera_not_set", CANON, "2023-04-28 17:00", ("default", B, 120),
          zone=CameraZone(0, False, city=32766)),
        # The time corrected in digiKam lives only in the sidecar (IMG_nnnn.JPG.xmp): the file's
        # own time holds, flagged for a look (a shift rule would apply the correction); 08:00Z.
        p(berlin, "sidecar_time_differs", CANON, "2023-05-01 10:00",
          ("default", B, 120, "sidecar_time_differs"),
          sidecar={"exif_DateTimeOriginal": "2023-05-01T11:00:00"}),
        # A scanned engraving catalogued as made in 1650: before 1800, outside the times
        # photoflux represents (the scan's own DateTime is not when the picture was made).
        _no_time(berlin, "out_of_range", EPSON, name="Berlin engraving 1650.jpg",
                 flags=("out_of_range",), dto="1650:06:01 12:00:00", dtd="1650:06:01 12:00:00",
                 dt0="2023:02:20 11:00:00"),
        # A camera whose clock was never set, and a messenger copy with no EXIF at all.
        _no_time(berlin, "no_time", CANON, dto="0000:00:00 00:00:00", dtd="0000:00:00 00:00:00",
                 dt0="0000:00:00 00:00:00"),
        _no_time(berlin, "no_time", None, name="IMG-20230501-WA0003.jpg"),
        # Broken files: no time, an error from extract.
        _no_time(berlin, "broken", None, name="empty.jpg", broken="empty"),
        _no_time(berlin, "broken", CANON, name="truncated.jpg", broken="truncated",
                 dto="2023:05:02 10:00:00"),
        _no_time(berlin, "broken", None, name="not-a-photo.jpg", broken="text"),

        # -- Tokyo: an iPhone writes OffsetTimeOriginal +09:00 (and a GPS clock and position). --
        p(tokyo, "offset", IPHONE, "2023-04-10 09:00", ("offset", T9, 540),  # 00:00Z
          oto="+09:00", **_gps("2023-04-10 00:00"), **_at(TOKYO)),
        # Its GPS clock says +06:00: the offset tag wins, flagged conflict; 01:00Z.
        p(tokyo, "conflict", IPHONE, "2023-04-10 10:00", ("offset", T9, 540, "conflict"),
          oto="+09:00", **_gps("2023-04-10 04:00"), **_at(TOKYO)),
        # A burst within one second: SubSecTimeOriginal is a decimal fraction; 01:30:00.07Z ...
        *(p(tokyo, "subsec", IPHONE, f"2023-04-10 10:30:00.{sub}", ("offset", T9, 540),
            clock="2023-04-10 10:30", subsec=sub, oto="+09:00",
            **_gps("2023-04-10 01:30"), **_at(TOKYO)) for sub in ("07", "50", "93")),
        # Edited at home: OffsetTime +02:00 belongs to the edit time (DateTime), not to DTO, and
        # the editor dropped GPS; no evidence, so +09:00 carried from the photo before; 02:00Z.
        p(tokyo, "offset_time_only", IPHONE, "2023-04-10 11:00", ("carried", T9, 540),
          dt0="2023:04:20 20:00:00", ot="+02:00"),
        # The Sony's clock ran 42 minutes fast: the shift override corrects it, then the zone is
        # carried from the iPhone; 12:42 on the camera is 12:00 local, 03:00Z.
        *(p(tokyo, "fast_camera", SONY, local, ("carried", T9, 540, "shifted"),
            clock=str(_t(local) + _SONY_FAST))
          for local in ("2023-04-10 12:00", "2023-04-10 12:30", "2023-04-10 13:20:30")),
        # The Lumix clock stayed on Berlin time: the override rule gives Europe/Berlin (CEST);
        # 06:15 on the camera (13:15 in Tokyo) is 04:15Z.
        p(tokyo, "override_tz", LUMIX, "2023-04-10 06:15", ("override", B, 120)),
        p(tokyo, "override_tz", LUMIX, "2023-04-10 07:45", ("override", B, 120)),  # 05:45Z
        # A panorama stitched in an editor that kept no EXIF, only XMP: xmp:CreateDate and the
        # offset written on it; 07:00:00.5Z.
        _bare(tokyo, "xmp_only", "Shibuya panorama.jpg", "2023-04-10 16:00:00.50",
              ("offset", T9, 540), "XMP:CreateDate",
              xmp={"xmp_CreateDate": "2023-04-10T16:00:00.50+09:00"}),
        # A messenger's copy without EXIF: its time only in its name (flagged: a name may say
        # when the file was saved); +09:00 carried from the panorama; 09:15Z.
        _bare(tokyo, "name_time", "IMG_20230410_181500.jpg", "2023-04-10 18:15",
              ("carried", T9, 540, "time_from_name"), "file_name"),

        # -- Lisbon, an album from a Google Takeout export: a JSON beside each photo. WEST. --
        # An old iPhone (no offset tags, location off: geoData 0/0): local minus photoTakenTime,
        # UTC, is +01:00; 18:30Z.
        p(lisbon, "takeout", OLD_IPHONE, "2023-08-12 19:30", ("takeout", "+01:00", 60),
          takeout=Takeout("2023-08-12 18:30")),
        # A WhatsApp copy: no EXIF, a date but no time in its name. Takeout's photoTakenTime is
        # its instant (12:05Z), Takeout's position its zone: 13:05 in Lisbon.
        _bare(lisbon, "takeout_instant", "IMG-20230813-WA0004.jpg", "2023-08-13 13:05",
              ("location", "Europe/Lisbon", 60), "takeout",
              takeout=Takeout("2023-08-13 12:05", LISBON)),
        # A photo whose date was changed in Google Photos: photoTakenTime, a day off the
        # photo's own clock, is no offset at all (stale_takeout); Lisbon is carried; 08:40Z.
        p(lisbon, "stale_takeout", OLD_IPHONE, "2023-08-14 09:40",
          ("carried", "Europe/Lisbon", 60, "stale_takeout"), takeout=Takeout("2023-08-15 08:40")),

        # -- New York: a phone that writes only the GPS position. America/New_York has DST. --
        # First a Nikon set to New York with DaylightSavings on: the zone in its maker note
        # (-05:00) plus the hour Nikon leaves out; 21:00Z.
        p(ny, "camera", NIKON, "2023-10-19 17:00", ("camera", "-04:00", -240),
          zone=CameraZone(-300, True)),
        # A fix four days old: its clock is no evidence (stale_gps), its position is; 16:00Z.
        p(ny, "stale_gps_location", HTC, "2023-11-03 12:00", ("location", NYC, -240, "stale_gps"),
          **_gps("2023-10-30 16:00"), **_at(NEW_YORK)),
        p(ny, "location", HTC, "2023-11-04 18:00", ("location", NYC, -240), **_at(NEW_YORK)),
        # Airplane mode: no evidence at all; New York is carried as a zone, so its DST change
        # (2023-11-05 02:00 EDT -> 01:00 EST) applies: 20:00 EDT is 00:00Z, 10:00 EST is 15:00Z.
        p(ny, "airplane_mode", HTC, "2023-11-04 20:00", ("carried", NYC, -240)),
        p(ny, "airplane_mode", HTC, "2023-11-04 23:30", ("carried", NYC, -240)),  # 11-05 03:30Z
        p(ny, "airplane_mode", HTC, "2023-11-05 10:00", ("carried", NYC, -300)),
        p(ny, "airplane_mode", HTC, "2023-11-05 12:30", ("carried", NYC, -300)),  # 17:30Z
        # Three and a half days after the last evidence: still carried, flagged carry_gap; 14:00Z.
        p(ny, "carry_gap", HTC, "2023-11-08 09:00", ("carried", NYC, -300, "carry_gap")),

        # -- Chicago, a Fuji without GPS and a watch's GPX (TRIP_TRACK): the track places it. --
        # 14:00 fits America/Chicago: 19:00Z, the watch's point 12 minutes away.
        p(chicago, "track", FUJI, "2023-09-09 14:00", ("track", "America/Chicago", -300)),
        # Driving home across the Michigan/Indiana line: 12:00 fits Detroit's 16:00Z (a point
        # 5 minutes away) and Chicago's 17:00Z (one 10 minutes away); the nearer wins, flagged.
        p(chicago, "track_ambiguous", FUJI, "2023-09-10 12:00",
          ("track", "America/Detroit", -240, "track_ambiguous")),
        # The HTC's position says Milwaukee while the watch was in Chicago at 15:00Z: its own
        # position holds, flagged track_conflict (130 km apart).
        p(chicago, "track_conflict", HTC, "2023-09-11 10:00",
          ("location", "America/Chicago", -300, "track_conflict"), **_at(MILWAUKEE)),

        # -- Open sea: the nautical zone of 40 W; 15:00Z. --
        p(sea, "open_sea", HTC, "2023-10-15 12:00", ("location", "Etc/GMT+3", -180),
          **_at(ATLANTIC)),

        # -- India: a phone with a GPS clock (UTC) and no offset tag: +05:30, a half-hour zone. --
        # Across the UTC midnight: local 05:30 on the 15th is 00:00Z on the 15th.
        p(india, "gps_midnight", SAMSUNG, "2023-11-15 05:20", ("gps", I530, 330),
          **_gps("2023-11-14 23:50")),
        # The fix half a second behind the shutter: UTC is local - offset, 23:59:50Z.
        p(india, "gps_midnight", SAMSUNG, "2023-11-15 05:29:50", ("gps", I530, 330),
          **_gps("2023-11-14 23:59:49.50")),
        p(india, "gps_midnight", SAMSUNG, "2023-11-15 05:30:10", ("gps", I530, 330),
          **_gps("2023-11-15 00:00:10")),
        p(india, "gps_midnight", SAMSUNG, "2023-11-15 05:45", ("gps", I530, 330),
          **_gps("2023-11-15 00:15")),
        # A Pixel photo passed on without EXIF: its name is UTC with milliseconds, an instant
        # (flagged: a name); +05:30 carried from the fix before it: 15:00:00.25 local.
        _bare(india, "pixel_name", "PXL_20231115_093000250.jpg", "2023-11-15 15:00:00.25",
              ("carried", I530, 330, "time_from_name"), "file_name"),
        # GPSTimeStamp without GPSDateStamp: the nearest day within 12 h; 06:30Z.
        p(india, "gps_no_date", SAMSUNG, "2023-11-15 12:00", ("gps", I530, 330),
          gps_time="06:30:00"),
        # A fix 5 minutes old: still +05:30, flagged gps_lag; UTC 08:30Z, not the GPS time.
        p(india, "gps_lag", SAMSUNG, "2023-11-15 14:00", ("gps", I530, 330, "gps_lag"),
          **_gps("2023-11-15 08:25")),
        # A fix three days old and no position: no evidence, +05:30 carried; 10:30Z.
        p(india, "stale_gps_carried", SAMSUNG, "2023-11-15 16:00",
          ("carried", I530, 330, "stale_gps"), **_gps("2023-11-12 10:30")),

        # -- Sydney in January: summer time, AEDT +11:00; 01-04 23:00Z and 08:30Z. --
        p(sydney, "location_dst_south", HTC, "2024-01-05 10:00",
          ("location", "Australia/Sydney", 660), **_at(SYDNEY)),
        p(sydney, "location_dst_south", HTC, "2024-01-06 19:30",
          ("location", "Australia/Sydney", 660), **_at(SYDNEY)),
        # A Canon set to Sydney: its maker note's TimeZone already includes summer time; 04:00Z.
        p(sydney, "camera", CANON_EOS, "2024-01-05 15:00", ("camera", "+11:00", 660),
          zone=CameraZone(660, True, city=4)),
    ]


@dataclass(frozen=True)
class _Bulk:
    """A plain kind of photo that scales the library, with its one expected answer.

    Kinds in one folder share its time line: the first kind's start and span.
    """

    folder: str
    scenario: str
    camera: Camera
    weight: int
    start: str  # the first photo; later ones every few minutes, tighter as count grows
    span_days: int  # no DST change and no scenario photo inside
    source: str
    tz_name: str
    offset: int


_BULK = (
    # iPhone in Tokyo: offset tag +09:00, GPS clock a few seconds behind, position.
    _Bulk("2023-04 Tokyo", "offset", IPHONE, 3, "2023-04-11 08:00", 60, "offset", "+09:00", 540),
    # The fast Sony beside it: shifted, +09:00 carried from the iPhone.
    _Bulk("2023-04 Tokyo", "fast_camera", SONY, 1, "2023-04-11 08:00", 60, "carried", "+09:00",
          540),
    # The Samsung in India: GPS clock only, +05:30.
    _Bulk("2023-11 India", "gps_clock", SAMSUNG, 2, "2023-11-16 07:00", 60, "gps", "+05:30", 330),
    # The HTC in New York before the airplane-mode day: position only, EDT.
    _Bulk("2023-10 New York", "location", HTC, 2, "2023-10-20 08:00", 14, "location",
          "America/New_York", -240),
    # The Canon at home in summer: no evidence, the default zone in CEST.
    _Bulk("2023 Berlin", "default", CANON, 2, "2023-05-03 08:00", 140, "default", "Europe/Berlin",
          120),
)
_MEAN_GAP = 7 * 60  # seconds between bulk photos while the span allows it

MIN_COUNT = len(_scenarios())


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split by `weights` (largest remainder), deterministic."""
    exact = np.array(weights) * total / sum(weights)
    parts = np.floor(exact).astype(int)
    parts[np.argsort(-(exact - parts), kind="stable")[: total - parts.sum()]] += 1
    return parts.tolist()


def _bulk(count: int, rng: np.random.Generator) -> list[Shot]:
    """`count` plain photos, split over the bulk kinds; times drawn per folder, never equal."""
    shots = []
    sizes = dict(zip(_BULK, _split(count, [k.weight for k in _BULK])))
    for folder in dict.fromkeys(k.folder for k in _BULK):
        kinds = [k for k in _BULK if k.folder == folder]
        n = sum(sizes[k] for k in kinds)
        if n == 0:
            continue
        window = min(kinds[0].span_days * 86400, n * _MEAN_GAP)
        if n > window:
            raise ValueError(f"count too large: {n} photos do not fit {folder}'s time span")
        seconds = np.sort(rng.choice(window, size=n, replace=False))
        # Kinds evenly interleaved (never a long run of the Sony without the iPhone beside it).
        which = np.argsort(np.concatenate(
            [(np.arange(sizes[k]) + 0.5) / sizes[k] for k in kinds]), kind="stable")
        which = np.searchsorted(np.cumsum([sizes[k] for k in kinds]), which, side="right")
        lag = rng.integers(0, 31, size=n)  # GPS fix behind the shutter: seconds, no flag
        jitter = rng.uniform(-0.02, 0.02, size=(n, 2))  # degrees, well inside the zone
        start = _t(kinds[0].start)
        for second, k, behind, (dlat, dlon) in zip(seconds.tolist(), which.tolist(),
                                                   lag.tolist(), jitter.tolist()):
            kind = kinds[k]
            local = start + timedelta(seconds=second)
            clock = local + _SONY_FAST if kind.camera is SONY else local
            stamp = _exif_time(clock)
            shot = Shot(folder, kind.scenario, kind.camera, dto=stamp, dtd=stamp, dt0=stamp,
                        local=local, source=kind.source, tz_name=kind.tz_name,
                        offset=kind.offset, flags=("shifted",) if kind.camera is SONY else ())
            utc = local - timedelta(minutes=kind.offset, seconds=behind)
            if kind.camera is IPHONE:
                shot.oto = "+09:00"
                shot.gps_date, shot.gps_time = _gps_clock(utc)
                shot.lat, shot.lon = TOKYO[0] + dlat, TOKYO[1] + dlon
            elif kind.camera is SAMSUNG:
                shot.gps_date, shot.gps_time = _gps_clock(utc)
            elif kind.camera is HTC:
                shot.lat, shot.lon = NEW_YORK[0] + dlat, NEW_YORK[1] + dlon
            shots.append(shot)
    return shots


def _number(shots: list[Shot]) -> None:
    """Name each camera's photos IMG_0001 ... in the order of its own clock."""
    by_camera: dict[Camera, list[Shot]] = {}
    for shot in shots:
        if shot.name is None:
            by_camera.setdefault(shot.camera, []).append(shot)
    for camera, own in by_camera.items():
        own.sort(key=lambda s: s.dto or s.dtd or s.dt0 or "")
        width = max(4, len(str(len(own))))
        pattern = camera.names.replace(":04d", f":0{width}d")
        for number, shot in enumerate(own, start=1):
            shot.name = pattern.format(number)


def plan(count: int = 200, seed: int = 0) -> list[Shot]:
    """Every file of the library, in path order: the scenarios plus the bulk photos."""
    if count < MIN_COUNT:
        raise ValueError(f"count must be at least {MIN_COUNT}: the scenarios need that many photos")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    shots = _scenarios() + _bulk(count - MIN_COUNT, np.random.default_rng(seed))
    _number(shots)
    return sorted(shots, key=lambda s: s.path)


def _rational(value: float, scale: int) -> tuple[int, int]:
    return round(value * scale), scale


def _dms(degrees: float) -> tuple:
    """Unsigned decimal degrees -> EXIF degrees, minutes, seconds (1e-4 s)."""
    tenth_ms = round(abs(degrees) * 3600 * 10000)
    whole, rest = divmod(tenth_ms, 3600 * 10000)
    minutes, seconds = divmod(rest, 60 * 10000)
    return (whole, 1), (minutes, 1), (seconds, 10000)


def _exif_tags(shot: Shot) -> dict | None:
    """The shot's tags as a piexif dict, or None for a file with no EXIF."""
    if shot.camera is None:
        return None
    zeroth = {piexif.ImageIFD.Make: shot.camera.make.encode(),
              piexif.ImageIFD.Model: shot.camera.model.encode()}
    exif, gps = {}, {}
    for ifd, tag, value in (
        (zeroth, piexif.ImageIFD.DateTime, shot.dt0),
        (exif, piexif.ExifIFD.DateTimeOriginal, shot.dto),
        (exif, piexif.ExifIFD.DateTimeDigitized, shot.dtd),
        (exif, piexif.ExifIFD.SubSecTimeOriginal, shot.subsec),
        (exif, piexif.ExifIFD.OffsetTimeOriginal, shot.oto),
        (exif, piexif.ExifIFD.OffsetTime, shot.ot),
        (gps, piexif.GPSIFD.GPSDateStamp, shot.gps_date),
    ):
        if value is not None:
            ifd[tag] = value.encode()
    if shot.gps_time is not None:
        h, m, s = shot.gps_time.split(":")
        gps[piexif.GPSIFD.GPSTimeStamp] = ((int(h), 1), (int(m), 1), _rational(float(s), 100))
    if shot.lat is not None:
        gps[piexif.GPSIFD.GPSLatitudeRef] = b"N" if shot.lat >= 0 else b"S"
        gps[piexif.GPSIFD.GPSLatitude] = _dms(shot.lat)
        gps[piexif.GPSIFD.GPSLongitudeRef] = b"E" if shot.lon >= 0 else b"W"
        gps[piexif.GPSIFD.GPSLongitude] = _dms(shot.lon)
    if gps:
        gps[piexif.GPSIFD.GPSVersionID] = (2, 3, 0, 0)
    tags = {"0th": zeroth, "Exif": exif, "GPS": gps}
    if shot.zone is not None:  # where piexif puts the note decides its offsets: place it first
        exif[piexif.ExifIFD.MakerNote] = _maker_note(shot, 0)
        _, spots = _template(_shape(tags))
        at = spots["Exif", piexif.ExifIFD.MakerNote] - len(_EXIF_HEADER)
        exif[piexif.ExifIFD.MakerNote] = _maker_note(shot, at)
    return tags


def _maker_note(shot: Shot, at: int) -> bytes:
    """The maker note holding the shot's camera zone, for the TIFF block in which it lies at
    offset `at`. Canon's is a plain IFD whose TimeInfo record (size, TimeZone minutes,
    TimeZoneCity, DaylightSavings 0/60) follows it, at an offset from the block's start, all
    little-endian as Canon writes them, inside piexif's big-endian block (as in a camera JPEG
    whose EXIF an editor rewrote); Nikon's is type 3, its own TIFF header followed by an IFD
    whose WorldTime (TimeZone minutes, DaylightSavings, date format) fits in its entry."""
    zone = shot.zone
    if shot.camera.make == "Canon":
        ifd = struct.pack("<HHHII", 1, 0x0035, 4, 4, at + 18) + bytes(4)
        return ifd + struct.pack("<4i", 16, zone.minutes, zone.city, 60 if zone.dst else 0)
    world_time = struct.pack(">hBB", zone.minutes, zone.dst, 0)
    return (b"Nikon\x00\x02\x10\x00\x00" + b"MM\x00*" + struct.pack(">I", 8)
            + struct.pack(">HHHI", 1, 0x0024, 7, 4) + world_time + bytes(4))


#: Tags whose values differ from photo to photo; the rest of a block depends only on its shape.
_VARYING = {
    ("0th", piexif.ImageIFD.DateTime), ("Exif", piexif.ExifIFD.DateTimeOriginal),
    ("Exif", piexif.ExifIFD.DateTimeDigitized), ("Exif", piexif.ExifIFD.OffsetTimeOriginal),
    ("Exif", piexif.ExifIFD.OffsetTime), ("Exif", piexif.ExifIFD.MakerNote),
    ("GPS", piexif.GPSIFD.GPSDateStamp), ("GPS", piexif.GPSIFD.GPSTimeStamp),
    ("GPS", piexif.GPSIFD.GPSLatitude), ("GPS", piexif.GPSIFD.GPSLongitude),
}
_EXIF_HEADER = b"Exif\x00\x00"  # what piexif.dump puts before the TIFF block


def _encoded(value) -> bytes:
    """A value as it lies in a big-endian EXIF block: ASCII bytes, or rationals."""
    if isinstance(value, bytes):
        return value
    return b"".join(struct.pack(">LL", *pair) for pair in value)


@lru_cache(maxsize=None)
def _template(shape: tuple) -> tuple[bytes, dict]:
    """piexif's EXIF block for one shape, and where each varying value lies in it.

    Dumped once with a distinct placeholder per varying value; photos of the same shape copy
    the block and write their values over the placeholders (piexif.dump per photo is the cost
    that would dominate a large library).
    """
    tags, placeholders = {}, {}
    for ifd, entries in shape:
        tags[ifd] = {}
        for tag, value in entries:
            if (ifd, tag) in _VARYING:
                mark, (kind, size) = 0xF0 + len(placeholders), value
                value = bytes([mark]) * size if kind == "ascii" else ((mark << 24,) * 2,) * size
                placeholders[ifd, tag] = _encoded(value)
            tags[ifd][tag] = value
    block = piexif.dump(tags)
    spots = {}
    for key, mark in placeholders.items():
        assert block.count(mark) == 1, f"placeholder for {key} not unique"
        spots[key] = block.index(mark)
    return block, spots


def _shape(tags: dict) -> tuple:
    """What a block's layout depends on: the tags, and of the varying ones only kind and size."""
    return tuple(
        (ifd, tuple(sorted(
            (tag, (("ascii" if isinstance(v, bytes) else "rational"), len(v))
             if (ifd, tag) in _VARYING else v)
            for tag, v in entries.items())))
        for ifd, entries in tags.items())


def _exif(shot: Shot) -> bytes | None:
    """The shot's EXIF block: piexif's bytes, built from a cached template of its shape."""
    tags = _exif_tags(shot)
    if tags is None:
        return None
    block, spots = _template(_shape(tags))
    out = bytearray(block)
    for (ifd, tag), start in spots.items():
        value = _encoded(tags[ifd][tag])
        out[start:start + len(value)] = value
    return bytes(out)


def _bodies(seed: int, n: int) -> list[bytes]:
    """`n` small distinct pictures, JPEG-encoded once, without SOI and JFIF header.

    Each is a seeded two-colour gradient with its number as eight black/white blocks on top,
    so no two are alike; photos reuse them (a unique COM segment keeps every file unique).
    """
    rng = np.random.default_rng((seed, 1))
    width, height = _SIZE
    ramp = np.linspace(0, 1, width)[None, :, None]
    blocks = np.arange(width) // (width // 8)
    bodies = []
    for number in range(n):
        left, right = rng.integers(0, 256, size=(2, 3))
        pixels = np.broadcast_to(left * (1 - ramp) + right * ramp, (height, width, 3)).copy()
        pixels[: height // 6] = (((number >> blocks) & 1) * 255)[:, None]
        out = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=80)
        data = out.getvalue()[2:]
        if data[:2] == b"\xff\xe0":  # drop JFIF APP0: EXIF's APP1 comes first after SOI
            data = data[2 + int.from_bytes(data[2:4], "big"):]
        bodies.append(data)
    return bodies


_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"  # an APP1 segment holding XMP starts so
XMP_NAMESPACES = ('xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                  'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
                  'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"')


def xmp_packet(**properties: str) -> bytes:
    """An XMP packet whose one rdf:Description holds `properties` (exif_DateTimeOriginal=...:
    prefix_Name) as attributes, the way Lightroom and darktable write them."""
    attributes = " ".join(f'{name.replace("_", ":", 1)}="{value}"'
                          for name, value in properties.items())
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" {XMP_NAMESPACES} {attributes}/>'
            f'</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>').encode()


def takeout_json(taken: int | str | None, title: str = "IMG.jpg", **extra) -> str:
    """A Takeout JSON as Google writes it: photoTakenTime (epoch seconds, UTC) as a string, and
    creationTime, the upload time, never a capture time; `extra` adds keys (geoData=geo(...))."""
    document = {"title": title, "creationTime": {"timestamp": "1700000000",
                                                 "formatted": "Nov 14, 2023, 10:13:20 PM UTC"}}
    if taken is not None:
        document["photoTakenTime"] = {"timestamp": str(taken), "formatted": "…"}
    document.update(extra)
    return json.dumps(document, indent=2)


def geo(lat: float, lon: float) -> dict:
    """A Takeout geoData object (0/0 is how Takeout writes no position)."""
    return {"latitude": lat, "longitude": lon, "altitude": 0.0,
            "latitudeSpan": 0.0, "longitudeSpan": 0.0}


def _segment(marker: bytes, payload: bytes) -> bytes:
    return marker + (len(payload) + 2).to_bytes(2, "big") + payload


def _content(shot: Shot, number: int, seed: int, body: bytes) -> bytes:
    """The file's bytes: SOI, APP1 EXIF, APP1 XMP, a COM naming the photo (unique bytes), the
    picture."""
    if shot.broken == "empty":
        return b""
    if shot.broken == "text":
        return f"Not a photo: a text file named {shot.name}.\n".encode()
    exif = _exif(shot)
    data = b"".join((
        b"\xff\xd8",
        _segment(b"\xff\xe1", exif) if exif else b"",
        _segment(b"\xff\xe1", _XMP_HEADER + xmp_packet(**shot.xmp)) if shot.xmp else b"",
        _segment(b"\xff\xfe", f"photoflux sample seed {seed} photo {number}".encode()),
        body,
    ))
    return data[:64] if shot.broken == "truncated" else data  # cut inside the EXIF block


def _instant(shot: Shot) -> float:
    """Expected capture_time_secs_utc: local - offset; a nonexistent local time is an hour later."""
    if shot.local is None:
        return float("nan")
    seconds = calendar.timegm(shot.local.timetuple()) + shot.local.microsecond / 1e6
    seconds -= shot.offset * 60
    if "nonexistent" in shot.flags:
        seconds += 3600
    return round(seconds, 3)


def expected_table(shots: list[Shot]) -> pd.DataFrame:
    """The answer per photo, one row per file, paths relative to the library folder; `sidecars`
    lists the files written beside the photo (";"-separated)."""
    return pd.DataFrame({
        "path": [s.path for s in shots],
        "scenario": [s.scenario for s in shots],
        "local_time": pd.Series([s.local for s in shots], dtype="datetime64[ms]"),
        "local_time_tag": pd.Series([s.tag for s in shots], dtype="string"),
        "tz_source": pd.Series([s.source for s in shots], dtype="string"),
        "tz_name": pd.Series([s.tz_name for s in shots], dtype="string"),
        "utc_offset_minutes": pd.Series([s.offset for s in shots], dtype="Int32"),
        "capture_time_secs_utc": [_instant(s) for s in shots],
        "flags": [";".join(sorted(s.flags)) for s in shots],
        "sidecars": [";".join(f"{s.folder}/{name}" for name in s.sidecars()) for s in shots],
    })


def _expected_csv(expected: pd.DataFrame) -> str:
    return expected.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%f")


def sample_is_current(directory, count: int = 200, seed: int = 0) -> bool:
    """Whether `directory` holds the sample this photoflux writes for (count, seed), as its
    expected CSV says (a library written by an older photoflux lacks newer scenarios)."""
    listing = Path(directory) / EXPECTED_NAME
    return listing.exists() and listing.read_text(encoding="utf-8") == _expected_csv(
        expected_table(plan(count, seed)))


def _clear_previous(directory: Path) -> None:
    """Remove an earlier sample's files (listed in its expected CSV); refuse any other folder."""
    listing = directory / EXPECTED_NAME
    if not listing.exists():
        if directory.exists() and any(p.name != TRACK_NAME for p in directory.iterdir()):
            raise FileExistsError(f"{directory} is not empty and holds no earlier sample")
        return
    written = pd.read_csv(listing, dtype=str, keep_default_na=False)
    paths = written["path"]
    sidecars = written.get("sidecars", pd.Series(dtype=str)).str.split(";").explode()
    for relative in [*paths, *filter(None, sidecars)]:
        (directory / relative).unlink(missing_ok=True)
    for folder in sorted({(directory / p).parent for p in paths}, reverse=True):
        if folder != directory and not any(folder.iterdir()):
            folder.rmdir()
    (directory / TRACK_NAME).unlink(missing_ok=True)
    listing.unlink()


def write_sample(directory, count: int = 200, seed: int = 0) -> pd.DataFrame:
    """Write the sample library of `count` files into `directory`; return the expected answers.

    The answers (for default zone `SAMPLE_DEFAULT_TZ` and `DEMO_OVERRIDES`) are also written to
    `directory/sample-expected.csv`. An earlier sample there is replaced.
    """
    directory = Path(directory)
    shots = plan(count, seed)
    _clear_previous(directory)
    bodies = _bodies(seed, min(len(shots), _BODIES))
    for folder in dict.fromkeys(s.folder for s in shots):
        (directory / folder).mkdir(parents=True, exist_ok=True)
    root = os.fspath(directory)
    for number, shot in enumerate(shots):
        with open(os.path.join(root, shot.folder, shot.name), "wb") as out:
            out.write(_content(shot, number, seed, bodies[number % len(bodies)]))
        for name, content in shot.sidecars().items():
            with open(os.path.join(root, shot.folder, name), "wb") as out:
                out.write(content)
    expected = expected_table(shots)
    (directory / TRACK_NAME).write_text(track_gpx(), encoding="utf-8")
    (directory / EXPECTED_NAME).write_text(_expected_csv(expected), encoding="utf-8")
    return expected


def track_gpx() -> str:
    """TRIP_TRACK as GPX 1.1, as a watch writes it."""
    points = "".join(f'\n   <trkpt lat="{lat}" lon="{lon}"><time>{time}</time></trkpt>'
                     for lat, lon, time in TRIP_TRACK)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="photoflux '
            'sample" xmlns="http://www.topografix.com/GPX/1/1">\n <trk><name>Chicago week</name>'
            f"<trkseg>{points}\n </trkseg></trk>\n</gpx>\n")


def write_demo_overrides(path) -> Path:
    """Write `DEMO_OVERRIDES` to `path` (the overrides CSV the demo resolves with)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEMO_OVERRIDES, encoding="utf-8")
    return path
