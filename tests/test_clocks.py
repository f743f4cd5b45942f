"""Camera clocks set right from one photo: clocks.csv's sync points in resolve (a constant shift
from one, a drift from two or more, an overrides shift winning), its validation, and
`photoflux clock` through the real CLI on JPEGs the test writes."""
from __future__ import annotations

import io

import pandas as pd
import piexif
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from frames import by_name, flags, photos
from pipeline.cli import main
from pipeline.clocks import ClocksError, parse_clocks
from pipeline.overrides import parse_overrides
from pipeline.resolve import Settings, resolve
from pipeline.schema import RESOLVED
from pipeline.workspace import Workspace, read_table

HEADER = "make,model,serial,photo,recorded_local,true_local,note\n"
NIKON = {"make": "NIKON CORPORATION", "model": "NIKON D70", "serial": "20025585"}
OTHER_NIKON = {**NIKON, "serial": "20031111"}
CANON = {"make": "Canon", "model": "Canon EOS 5D", "serial": None}
BERLIN = Settings("Europe/Berlin")


def shot(name: str, when: str, camera: dict, **tags) -> dict:
    return {"file_name": name, "datetime_original": when, **camera, **tags}


def clocks(*lines: str) -> pd.DataFrame:
    return parse_clocks(HEADER + "".join(f"{line}\n" for line in lines))


def local(row) -> str:
    return row["local_time"].strftime("%Y-%m-%d %H:%M:%S")


# --- resolve ----------------------------------------------------------------------------------


def test_one_sync_point_shifts_every_photo_of_that_camera_by_a_constant_before_the_zone():
    table = photos(shot("DSC_1.jpg", "2019:03:02 10:15:00", NIKON),
                   shot("DSC_2.jpg", "2019:07:20 18:00:00", NIKON),  # summer: +02:00
                   shot("DSC_3.jpg", "2019:03:02 10:15:00", OTHER_NIKON),
                   shot("IMG_1.jpg", "2019:03:02 10:15:00", CANON))
    points = clocks("NIKON CORPORATION,NIKON D70,20025585,/p/DSC_1.jpg,2019-03-02T10:15:00,"
                    "2019-03-02T09:33:00,phone screen")
    rows = by_name(resolve(table, [], BERLIN, clocks=points))
    assert local(rows["DSC_1.jpg"]) == "2019-03-02 09:33:00"
    assert local(rows["DSC_2.jpg"]) == "2019-07-20 17:18:00"
    assert rows["DSC_2.jpg"]["utc_time"] == pd.Timestamp("2019-07-20 15:18:00", tz="UTC")
    for name in ("DSC_1.jpg", "DSC_2.jpg"):
        assert rows[name]["clock_shift_seconds"] == -42 * 60
        assert flags(rows[name]) == {"clock_shifted"}
        assert rows[name]["override_note"] == "clocks.csv line 2: phone screen"
    for name in ("DSC_3.jpg", "IMG_1.jpg"):  # another body of the same model, another camera
        assert local(rows[name]) == "2019-03-02 10:15:00"
        assert pd.isna(rows[name]["clock_shift_seconds"]) and not flags(rows[name])


def test_two_sync_points_give_a_drift_interpolated_between_them_and_held_outside():
    table = photos(shot("before.jpg", "2019:12:25 12:00:00", NIKON),
                   shot("first.jpg", "2020:01:01 12:00:00", NIKON),
                   shot("midway.jpg", "2020:01:06 12:00:00", NIKON),
                   shot("last.jpg", "2020:01:11 12:00:00", NIKON),
                   shot("after.jpg", "2020:03:01 12:00:00", NIKON))
    points = clocks(
        "NIKON CORPORATION,NIKON D70,20025585,,2020-01-01T12:00:00,2020-01-01T12:00:10,",
        "NIKON CORPORATION,NIKON D70,20025585,,2020-01-11T12:00:00,2020-01-11T12:01:50,")
    rows = by_name(resolve(table, [], BERLIN, clocks=points))
    shifts = {name: rows[name]["clock_shift_seconds"] for name in rows}
    assert shifts == {"before.jpg": 10, "first.jpg": 10, "midway.jpg": 60, "last.jpg": 110,
                      "after.jpg": 110}  # midway moves by the mean of its neighbours' shifts
    assert local(rows["midway.jpg"]) == "2020-01-06 12:01:00"
    notes = {name: rows[name]["override_note"] for name in rows}  # the audit says which lines
    assert notes == {"before.jpg": "clocks.csv line 2", "first.jpg": "clocks.csv line 2",
                     "midway.jpg": "clocks.csv lines 2 and 3", "last.jpg": "clocks.csv line 3",
                     "after.jpg": "clocks.csv line 3"}


def test_a_drift_keeps_milliseconds():
    table = photos(shot("a.jpg", "2020:01:01 00:00:00", NIKON),
                   shot("b.jpg", "2020:01:01 00:00:01", NIKON))
    points = clocks("Nikon Corporation,nikon d70,20025585,,2020-01-01T00:00:00,2020-01-01T00:00:00,",
                    "NIKON CORPORATION,NIKON D70,20025585,,2020-01-01T00:00:02,2020-01-01T00:00:03,")
    rows = by_name(resolve(table, [], BERLIN, clocks=points))  # make and model in any case
    assert rows["b.jpg"]["local_time"] == pd.Timestamp("2020-01-01 00:00:01.500")
    assert flags(rows["b.jpg"]) == {"clock_shifted"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(-10**7, 10**7)), min_size=1,
                max_size=5, unique_by=lambda point: point[0]))
def test_a_photo_at_a_sync_points_recorded_time_gets_its_true_time(points):
    start = pd.Timestamp("2015-06-01")
    table = photos(*(shot(f"{number}.jpg", (start + pd.Timedelta(seconds=at)).strftime(
        "%Y:%m:%d %H:%M:%S"), NIKON) for number, (at, _) in enumerate(points)))
    lines = [f"NIKON CORPORATION,NIKON D70,20025585,,{start + pd.Timedelta(seconds=at)},"
             f"{start + pd.Timedelta(seconds=at + shift)}," for at, shift in points]
    rows = by_name(resolve(table, [], Settings("UTC"), clocks=clocks(*lines)))
    for number, (at, shift) in enumerate(points):
        assert rows[f"{number}.jpg"]["local_time"] == start + pd.Timedelta(seconds=at + shift)


def test_an_overrides_shift_that_selects_the_photo_wins():
    table = photos(shot("DSC_1.jpg", "2019:03:02 10:15:00", NIKON),
                   shot("DSC_2.jpg", "2020:03:02 10:15:00", NIKON))
    points = clocks("NIKON CORPORATION,NIKON D70,20025585,,2019-03-02T10:15:00,"
                    "2019-03-02T09:33:00,")
    rules = parse_overrides("make,local_from,local_to,shift\n"
                            "NIKON*,2020-01-01,2020-12-31,+01:00:00\n")
    rows = by_name(resolve(table, rules, BERLIN, clocks=points))
    assert (local(rows["DSC_1.jpg"]), flags(rows["DSC_1.jpg"])) == (
        "2019-03-02 09:33:00", {"clock_shifted"})
    assert (local(rows["DSC_2.jpg"]), flags(rows["DSC_2.jpg"])) == (
        "2020-03-02 11:15:00", {"shifted"})
    assert rows["DSC_2.jpg"]["clock_shift_seconds"] == 3600
    assert pd.isna(rows["DSC_2.jpg"]["override_note"])


def test_a_photo_known_only_as_an_instant_is_not_moved():
    table = photos(shot("PXL_20190302_091500000.jpg", None, NIKON))
    points = clocks("NIKON CORPORATION,NIKON D70,20025585,,2019-03-02T10:15:00,"
                    "2019-03-02T09:33:00,")
    row = resolve(table, [], BERLIN, clocks=points).iloc[0]
    assert row["utc_time"] == pd.Timestamp("2019-03-02 09:15:00", tz="UTC")
    assert "clock_shifted" not in flags(row) and pd.isna(row["clock_shift_seconds"])


def test_a_sync_point_without_photos_is_a_warning():
    points = clocks("Leica,M6,,,2019-03-02T10:15:00,2019-03-02T09:33:00,")
    with pytest.warns(UserWarning, match="clocks.csv line 2: no photo of its camera"):
        resolve(photos(shot("a.jpg", "2019:03:02 10:15:00", NIKON)), [], BERLIN,
                clocks=points)


# --- clocks.csv, validated --------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("make,model,serial,photo,recorded_local,true_local\n",
     "clocks.csv:1: the header lacks note (it names make, model, serial, photo, recorded_local, "
     "true_local, note, in any order)"),
    (HEADER.replace("note", "notes"), "clocks.csv:1: unknown column (notes)"),
    (HEADER + "Canon,,,,2019-03-02 10:15,2019-03-02 09:33,,x\n",
     "clocks.csv:2: more cells than columns (8)"),
    (HEADER + "\nCanon,,,,2019-03-02 10:15,2019-03-02T09:33+01:00,\n",
     "clocks.csv:3: bad true_local: a local time has no zone (2019-03-02T09:33+01:00)"),
    (HEADER + "Canon,,,,2019-02-30 10:15,2019-03-02 09:33,\n",
     "clocks.csv:2: bad recorded_local: no such date or time (2019-02-30 10:15)"),
    (HEADER + "Canon,,,,,2019-03-02 09:33,\n", "clocks.csv:2: recorded_local is required (empty)"),
    (HEADER + ",,,IMG_1.jpg,2019-03-02 10:15,2019-03-02 09:33,\n",
     "clocks.csv:2: a sync point names its camera: a make, model or serial (all empty)"),
    (HEADER + "Canon,,,,1850-01-01,2150-01-01,\n",
     "clocks.csv:2: true_local is more than 100 years from recorded_local (2150-01-01)"),
    (HEADER + "Canon,,,,2019-03-02 10:15,2019-03-02 09:33,\n"
     "canon,,,,2019-03-02T10:15:00,2019-03-02 09:34,\n",
     "clocks.csv:3: this camera already has a sync point at recorded time 2019-03-02T10:15:00 "
     "on line 2, with another true time (2019-03-02T09:34:00)"),
    (HEADER + 'Canon,"EOS,,,2019-03-02 10:15,2019-03-02 09:33,\n',
     "clocks.csv:2: not valid CSV: a quote that never closes"),
])
def test_a_bad_line_names_the_file_and_line(text, message):
    with pytest.raises(ClocksError if "CSV" not in message else ValueError) as caught:
        parse_clocks(text)
    assert str(caught.value) == message


def test_the_same_sync_point_twice_and_columns_in_any_order_are_fine():
    points = parse_clocks("\ufeffnote,true_local,recorded_local,photo,serial,model,make\n"
                          "twice,2019-03-02 09:33,2019-03-02 10:15,,,,Canon\n"
                          "twice,2019-03-02 09:33,2019-03-02 10:15,,,,Canon\n")
    assert points["shift_ms"].tolist() == [-42 * 60_000] * 2
    assert points["line"].tolist() == [2, 3]


# --- through the CLI --------------------------------------------------------------------------


def jpeg(path, camera: dict, when: str, offset: str | None = None):
    exif = {piexif.ExifIFD.DateTimeOriginal: when}
    if camera.get("serial"):
        exif[piexif.ExifIFD.BodySerialNumber] = camera["serial"]
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset
    zeroth = {piexif.ImageIFD.Make: camera["make"], piexif.ImageIFD.Model: camera["model"]}
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=piexif.dump({"0th": zeroth, "Exif": exif}))
    path.write_bytes(buffer.getvalue())


def cli(*args, code=0):
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def library(tmp_path):
    """Three photos of one Nikon (the first shows a phone's screen), one of another body of
    that model, one Canon; extracted and resolved in Europe/Berlin."""
    folder = tmp_path / "photos"
    folder.mkdir()
    jpeg(folder / "DSC_0001.jpg", NIKON, "2019:03:02 10:15:00")
    jpeg(folder / "DSC_0002.jpg", NIKON, "2019:03:05 10:15:15")
    jpeg(folder / "DSC_0003.jpg", NIKON, "2019:03:08 10:15:30")
    jpeg(folder / "DSC_9001.jpg", OTHER_NIKON, "2019:03:05 12:00:00")
    jpeg(folder / "IMG_0001.jpg", CANON, "2019:03:05 12:00:00")
    ws = Workspace(tmp_path / "ws")
    cli("run", folder, "-w", ws.root, "--default-tz", "Europe/Berlin", "--quiet")
    return folder, ws


def resolved(ws: Workspace) -> dict[str, pd.Series]:
    return by_name(read_table(ws.resolved, RESOLVED))


def test_clock_from_one_photo_with_a_local_time_and_the_run_that_applies_it(library):
    folder, ws = library
    output = cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T09:33", "-w", ws.root,
                 "--note", "phone on the table")
    assert output.splitlines()[:3] == [
        "clock: NIKON CORPORATION NIKON D70 (serial 20025585): recorded 2019-03-02T10:15:00, "
        "true 2019-03-02T09:33:00: shift -00:42:00",
        f"-> {ws.clocks} line 2",
        "3 photos of this camera move by -00:42:00"]
    assert ws.clocks.read_text() == (
        HEADER + f"NIKON CORPORATION,NIKON D70,20025585,{folder / 'DSC_0001.jpg'},"
        "2019-03-02T10:15:00,2019-03-02T09:33:00,phone on the table\n")
    assert "resolve: photos, overrides, clocks" not in cli(
        "run", folder, "-w", ws.root, "--default-tz", "Europe/Berlin", "--quiet")
    rows = resolved(ws)
    assert local(rows["DSC_0002.jpg"]) == "2019-03-05 09:33:15"
    assert flags(rows["DSC_0002.jpg"]) == {"clock_shifted"}
    assert local(rows["DSC_9001.jpg"]) == local(rows["IMG_0001.jpg"]) == "2019-03-05 12:00:00"
    assert "resolve: photos, overrides, clocks, approvals and default zone unchanged; skipped" in cli(
        "run", folder, "-w", ws.root, "--default-tz", "Europe/Berlin", "--quiet")


def test_clock_with_an_instant_reads_it_in_the_photos_zone_and_a_second_point_drifts(library):
    folder, ws = library
    cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T10:15:00", "-w", ws.root)
    output = cli("clock", folder / "DSC_0003.jpg", "--was", "2019-03-08T09:16:30Z", "-w", ws.root)
    assert output.splitlines()[0].endswith(
        "recorded 2019-03-08T10:15:30, true 2019-03-08T10:16:30: shift +00:01:00")
    assert "2 photos of this camera move by +00:00:30 to +00:01:00, +00:00:45 on average" in output
    cli("resolve", "-w", ws.root, "--default-tz", "Europe/Berlin")
    rows = resolved(ws)
    assert rows["DSC_0002.jpg"]["clock_shift_seconds"] == 30  # halfway through the drift


def test_clock_with_a_time_of_day_takes_the_day_nearest_to_the_photos_time(library, tmp_path):
    """A lock screen shows no date; a GPS shows UTC: the date is the one nearest to the photo."""
    folder, ws = library
    output = cli("clock", folder / "DSC_0003.jpg", "--was", "09:16:30Z", "-w", ws.root)
    assert "recorded 2019-03-08T10:15:30, true 2019-03-08T10:16:30: shift +00:01:00" in output
    night = tmp_path / "night"
    night.mkdir()
    jpeg(night / "IMG_0002.jpg", CANON, "2019:03:06 00:10:00")  # just after midnight
    cli("run", folder, night, "-w", ws.root, "--default-tz", "Europe/Berlin", "--quiet")
    output = cli("clock", night / "IMG_0002.jpg", "--was", "23:50", "-w", ws.root)
    assert output.splitlines()[0] == (
        "clock: Canon Canon EOS 5D: recorded 2019-03-06T00:10:00, true 2019-03-05T23:50:00: "
        "shift -00:20:00")
    assert "2 photos of this camera move by -00:20:00" in output


def test_clock_says_which_photos_an_overrides_shift_keeps(library):
    folder, ws = library
    (ws.root / "overrides.csv").write_text("path_glob,shift\n*/DSC_0002.jpg,+00:10:00\n")
    output = cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T09:33", "-w", ws.root)
    assert "2 photos of this camera move by -00:42:00\n1 keeps the shift of an overrides rule" in output
    cli("resolve", "-w", ws.root, "--default-tz", "Europe/Berlin")
    assert resolved(ws)["DSC_0002.jpg"]["clock_shift_seconds"] == 600


def test_clock_refuses_what_it_cannot_use_and_writes_nothing(library, tmp_path):
    folder, ws = library
    unknown = tmp_path / "elsewhere.jpg"
    assert f"{unknown} is not in {ws.photos}: extract its folder first" in cli(
        "clock", unknown, "--was", "2019-03-02T09:33", "-w", ws.root, code=2)
    assert "Invalid value for '--was': expected an ISO 8601 local time" in cli(
        "clock", folder / "DSC_0001.jpg", "--was", "yesterday at noon", "-w", ws.root, code=2)
    assert not ws.clocks.exists()
    cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T09:33", "-w", ws.root)
    assert "already in" in cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T09:33:00",
                               "-w", ws.root)
    written = ws.clocks.read_bytes()
    output = cli("clock", folder / "DSC_0001.jpg", "--was", "2019-03-02T09:35", "-w", ws.root,
                 code=2)
    assert output == (f"photoflux: error: {ws.clocks}:2: already a sync point of this camera at "
                      "recorded time 2019-03-02T10:15:00, with true time 2019-03-02T09:33:00; "
                      "remove that line first\n")
    assert ws.clocks.read_bytes() == written


def test_a_bad_clocks_csv_line_stops_resolve_and_run_before_anything_is_written(library, tmp_path):
    folder, ws = library
    ws.clocks.write_text(HEADER + "NIKON CORPORATION,NIKON D70,,,2019-03-02 10:15,03/02/2019,\n")
    before = ws.resolved.read_bytes()
    output = cli("resolve", "-w", ws.root, "--default-tz", "Europe/Berlin", code=2)
    assert output == (f"photoflux: error: {ws.clocks}:2: bad true_local: expected an ISO 8601 "
                      "local time YYYY-MM-DD[THH:MM[:SS[.fff]]] (03/02/2019)\n")
    assert ws.resolved.read_bytes() == before
    written = ws.clocks.read_bytes()
    assert ":2: bad true_local" in cli("clock", folder / "DSC_0002.jpg", "--was", "09:33",
                                       "-w", ws.root, code=2)
    assert ws.clocks.read_bytes() == written
    fresh = Workspace(tmp_path / "fresh")
    fresh.root.mkdir()
    fresh.clocks.write_bytes(ws.clocks.read_bytes())
    assert ":2: bad true_local" in cli("run", folder, "-w", fresh.root, "--default-tz", "UTC",
                                       code=2)
    assert not fresh.photos.exists()


def test_the_commands_select_by_camera_as_the_overrides_do(library):
    _, ws = library
    assert "approve: 3 selected" in cli("approve", "-w", ws.root, "--make", "nikon*",
                                        "--serial", "20025585")
    assert "unapprove: 1 selected" in cli("unapprove", "-w", ws.root, "--model", "*eos*")
    assert "the selection matches no photo" in cli("approve", "-w", ws.root, "--make", "Leica",
                                                   code=1)
