"""Segments: the trip legs a person reviews by. Where they split, that their ids stay put, and
`--segment` / `photoflux segments` through the real CLI."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from frames import photos
from pipeline.cli import main
from pipeline.resolve import Settings, resolve
from pipeline.segments import summarize
from pipeline.workspace import Workspace

BERLIN = Settings("Europe/Berlin")


def run(ws: Workspace, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [args[0], "-w", str(ws.root), *args[1:]])
    assert result.exit_code == code, result.output
    return result.output


def shot(name: str, when: str, folder: str = "/p/trip", **tags) -> dict:
    return {"file_name": name, "folder": folder, "datetime_original": when, **tags}


def legs(resolved: pd.DataFrame) -> list[list[str]]:
    """The file names of each segment, segments in order of their first photo."""
    timed = resolved[resolved["segment"].notna()]
    return [group.tolist() for _, group in
            timed.groupby("segment", sort=False)["file_name"]]


def row_flags(resolved: pd.DataFrame, name: str):
    flags = resolved.set_index("file_name").loc[name, "flags"]
    return None if pd.isna(flags) or flags == "" else flags


def test_a_segment_splits_on_folder_offset_a_long_gap_and_a_carry_gap_only():
    resolved = resolve(photos(
        shot("a1.jpg", "2019:07:04 10:00:00", offset_time_original="+02:00"),
        shot("a2.jpg", "2019:07:04 11:00:00", gps_lat=52.52, gps_lon=13.40),  # Europe/Berlin
        shot("a3.jpg", "2019:07:04 17:30:00", offset_time_original="+02:00"),  # 6.5 h later
        shot("a4.jpg", "2019:07:04 18:00:00", offset_time_original="+09:00"),
        shot("a5.jpg", "2019:07:05 12:00:00", offset_time_original="+09:00"),  # 18 h: new
        shot("a6.jpg", "2019:07:06 06:00:00"),  # 18 h on: new; carried from a5
        shot("a7.jpg", "2019:07:06 11:00:00"),  # carried 23 h: same leg
        shot("a8.jpg", "2019:07:06 13:00:00"),  # carried 25 h: carry_gap starts a leg
        shot("a9.jpg", "2019:07:06 14:00:00"),  # carry_gap after carry_gap: same leg
        shot("b1.jpg", "2019:07:04 10:30:00", folder="/p/other", offset_time_original="+02:00"),
        shot("none.jpg", "0000:00:00 00:00:00"),
    ), [], BERLIN)
    assert legs(resolved) == [["a1.jpg", "a2.jpg"], ["b1.jpg"], ["a3.jpg"], ["a4.jpg"],
                              ["a5.jpg"], ["a6.jpg", "a7.jpg"], ["a8.jpg", "a9.jpg"]]
    assert row_flags(resolved, "a8.jpg") == row_flags(resolved, "a9.jpg") == "carry_gap"
    assert row_flags(resolved, "a7.jpg") is None
    row = resolved.set_index("file_name")
    assert row.loc["a7.jpg", "tz_source"] == "carried"
    assert row.loc["a2.jpg", "tz_name"] != row.loc["a1.jpg", "tz_name"]  # names do not split
    assert pd.isna(row.loc["none.jpg", "segment"])  # no time, no segment


def test_the_segments_table_counts_zones_sources_flags_and_photos():
    resolved = resolve(photos(
        shot("a1.jpg", "2019:07:04 10:00:00", offset_time_original="+02:00"),
        shot("a2.jpg", "2019:07:04 11:00:00", gps_lat=52.52, gps_lon=13.40),
        shot("a3.jpg", "2019:07:04 12:00:00", gps_lat=52.52, gps_lon=13.40,
             gps_date="2019:06:01", gps_time="01:00:00"),  # a stale fix: needs a look
    ), [], BERLIN)
    table = summarize(resolved)
    assert len(table) == 1
    leg = table.iloc[0]
    assert leg["segment"] == resolved["segment"].iloc[0]
    assert (leg["photos"], leg["approved"], leg["needs_a_look"]) == (3, 0, 1)
    assert leg["sources"] == "location:2;offset:1"
    assert leg["flags"] == "stale_gps:1"
    assert set(leg["zones"].split(";")) == {"+02:00", "Europe/Berlin"}
    assert str(leg["first_local_time"]) == "2019-07-04 10:00:00"
    assert str(leg["last_utc_time"]) == "2019-07-04 10:00:00+00:00"
    assert leg["utc_offset_minutes"] == 120


TRIPS = {
    "2019 Rome": [shot(f"R{n}.jpg", f"2019:05:0{n} 12:00:00", offset_time_original="+02:00")
                  for n in (1, 2, 3)],
    "2021 Oslo": [shot(f"O{n}.jpg", f"2021:02:01 1{n}:00:00") for n in (1, 2)],
}


def library(tmp_path, *names: str) -> pd.DataFrame:
    rows = [dict(row, folder=str(tmp_path / "photos" / name)) for name in names
            for row in TRIPS[name]]
    return photos(*rows)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.save("photos", library(tmp_path, "2019 Rome"))
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    return ws


def ids(ws: Workspace) -> dict[str, str]:
    return ws.load("resolved").set_index("file_name")["segment"].to_dict()


def test_segment_ids_stay_put_across_reruns_and_an_added_folder(ws, tmp_path):
    before = ids(ws)
    assert len(set(before.values())) == 3  # a day apart each: three legs
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert ids(ws) == before
    ws.save("photos", library(tmp_path, "2021 Oslo", "2019 Rome"))  # a folder added, first
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    after = ids(ws)
    assert {name: after[name] for name in before} == before
    assert after["O1.jpg"] == after["O2.jpg"] and after["O1.jpg"] not in before.values()
    assert set(ws.load("segments")["segment"]) == set(after.values())


def test_approve_by_segment_and_an_unknown_segment_is_an_error(ws):
    first, second, third = (ids(ws)[name] for name in ("R1.jpg", "R2.jpg", "R3.jpg"))
    output = run(ws, "approve", "--segment", first, "--segment", third)
    assert output.startswith("approve: 2 selected: 2 newly approved")
    resolved = ws.load("resolved").set_index("file_name")
    assert resolved["approved"].to_dict() == {"R1.jpg": True, "R2.jpg": False, "R3.jpg": True}
    segments = ws.load("segments").set_index("segment")["approved"]
    assert segments.to_dict() == {first: 1, second: 0, third: 1}  # approve rewrote the table
    output = run(ws, "approve", "--segment", second, "--segment", "0000000000", code=1)
    assert "no segment 0000000000 in the resolved table" in output
    assert output.count("\n") == 1
    assert not ws.load("resolved").set_index("file_name").loc["R2.jpg", "approved"]
    assert run(ws, "unapprove", "--segment", first).startswith(
        "unapprove: 1 selected: 1 approvals withdrawn")


def test_segments_lists_them_and_flagged_keeps_those_that_need_a_look(tmp_path):
    ws = Workspace(tmp_path / "ws")
    folder = str(tmp_path / "photos" / "trip")
    ws.save("photos", photos(
        shot("calm.jpg", "2019:07:04 10:00:00", folder=folder, offset_time_original="+02:00"),
        shot("stale.jpg", "2019:07:06 10:00:00", folder=folder, offset_time_original="+02:00",
             gps_lat=52.52, gps_lon=13.40, gps_date="2019:06:01", gps_time="01:00:00")))
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    listing = run(ws, "segments").splitlines()
    assert listing[0] == f"folders under {tmp_path / 'photos'}"
    assert listing[1].split() == ["segment", "first", "local", "last", "local", "offset",
                                  "photos", "approved", "look", "zones", "folder", "flags"]
    calm, stale = ids(ws)["calm.jpg"], ids(ws)["stale.jpg"]
    assert listing[2].startswith(f"{calm}  2019-07-04 10:00  2019-07-04 10:00  +02:00")
    assert listing[2].split()[-2:] == ["trip", "-"]
    assert listing[3].startswith(stale) and listing[3].split()[-2:] == ["trip", "stale_gps:1"]
    assert listing[4].startswith("2 segments: 2 photos, 0 approved, 1 need a look")
    flagged = run(ws, "segments", "--flagged").splitlines()
    assert [line.split()[0] for line in flagged[2:-2]] == [stale]
    assert flagged[-2].startswith("1 segments of 2: 1 photos")


def test_segments_before_resolve_is_a_one_line_error(tmp_path):
    ws = Workspace(tmp_path / "ws")
    output = run(ws, "segments", code=2)
    assert output == (f"photoflux: error: {ws.segments} does not exist: run 'photoflux "
                      "resolve' first\n")
    assert not ws.root.exists()
