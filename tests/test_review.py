"""Approvals that hold only for the exact time a person saw; selections; status."""
from __future__ import annotations

import subprocess

import pandas as pd
import pytest
from click.testing import CliRunner

from frames import photos
from pipeline.approvals import is_approved
from pipeline.cli import main
from pipeline.workspace import Workspace

TRIP = [
    {"file_name": "IMG_0001.jpg", "datetime_original": "2019:07:04 12:00:00",
     "offset_time_original": "+02:00"},
    {"file_name": "IMG_0002.jpg", "datetime_original": "2019:07:04 13:00:00"},
    {"file_name": "IMG_0010.jpg", "datetime_original": "2019:07:05 09:00:00",
     "gps_lat": 40.7128, "gps_lon": -74.006},
    {"file_name": "DSC_0001.jpg", "datetime_original": "2019:07:05 10:00:00",
     "gps_date": "2019:06:01", "gps_time": "01:00:00"},  # stale fix: flagged
    {"file_name": "broken.jpg", "error": "not an image"},
    {"file_name": "notime.jpg", "datetime_original": "0000:00:00 00:00:00"},
]


def run(ws: Workspace, *args: str, code: int = 0):
    result = CliRunner().invoke(main, [args[0], "-w", str(ws.root), *args[1:]])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.save("photos", photos(*TRIP, folder=str(tmp_path / "photos")))
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    return ws


def table(ws: Workspace) -> pd.DataFrame:
    return ws.load("resolved").set_index("file_name")


def approved(ws: Workspace) -> set[str]:
    t = table(ws)
    return set(t.index[is_approved(t)])


def test_approval_lapses_only_for_the_photo_whose_time_changed(ws):
    run(ws, "approve", "--first", "IMG_0001", "--last", "IMG_0010")
    assert approved(ws) == {"IMG_0001.jpg", "IMG_0002.jpg", "IMG_0010.jpg"}
    (ws.root / "overrides.csv").write_text("first,last,tz\nIMG_0002,IMG_0002,Asia/Tokyo\n")
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert approved(ws) == {"IMG_0001.jpg", "IMG_0010.jpg"}
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig").set_index("file_name")
    assert not audit.loc["IMG_0002.jpg", "approved"]
    assert audit.loc["IMG_0001.jpg", "approved"]


def test_approval_holds_when_the_same_instant_comes_back(ws):
    run(ws, "approve", "--all")
    run(ws, "resolve", "--default-tz", "America/Chicago")  # IMG_0002 carries: unchanged
    assert "IMG_0002.jpg" in approved(ws)


def test_approval_lapses_when_the_bytes_change(ws, tmp_path):
    run(ws, "approve", "--all")
    edited = ws.load("photos")
    edited.loc[edited["file_name"] == "IMG_0010.jpg", "sha256"] = "f" * 64
    ws.save("photos", edited)
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert "IMG_0010.jpg" not in approved(ws)
    assert "IMG_0001.jpg" in approved(ws)


def test_approve_refuses_rows_without_time_or_with_errors(ws):
    output = run(ws, "approve", "--all")
    assert output.splitlines() == [
        "approve: 6 selected: 4 newly approved (1 of them need a look), 0 already approved, "
        "2 refused (2 without a time or unreadable: never uploadable)",
        "now 4 approved (1 of them need a look), 0 still unapproved"]
    assert approved(ws) == {"IMG_0001.jpg", "IMG_0002.jpg", "IMG_0010.jpg", "DSC_0001.jpg"}


def test_approve_and_unapprove_say_what_this_run_changed(ws):
    run(ws, "approve", "--first", "IMG_0001", "--last", "IMG_0002")
    output = run(ws, "approve", "--local-to", "2019-07-05T09:30")
    assert output.splitlines()[0] == ("approve: 3 selected: 1 newly approved, 2 already "
                                      "approved, 0 refused")
    output = run(ws, "unapprove", "--path-glob", "*/IMG_*")
    assert output.splitlines() == ["unapprove: 3 selected: 3 approvals withdrawn, 0 were not "
                                   "approved", "now 0 approved (0 of them need a look), "
                                   "4 still unapproved"]


@pytest.mark.parametrize("args, expected", [
    (["--path-glob", "*/DSC_*"], {"DSC_0001.jpg"}),
    (["--path-glob", "*/DSC_*", "--path-glob", "*/IMG_0001.jpg"], {"DSC_0001.jpg", "IMG_0001.jpg"}),
    (["--first", "IMG_2", "--last", "IMG_10"], {"IMG_0002.jpg", "IMG_0010.jpg"}),
    (["--local-from", "2019-07-05"], {"IMG_0010.jpg", "DSC_0001.jpg"}),
    (["--local-to", "2019-07-04"], {"IMG_0001.jpg", "IMG_0002.jpg"}),
    (["--flagged"], {"DSC_0001.jpg"}),
    (["--unflagged", "--local-from", "2019-07-05"], {"IMG_0010.jpg"}),
    (["--source", "carried"], {"IMG_0002.jpg", "DSC_0001.jpg"}),
    (["--source", "location", "--first", "IMG_1", "--last", "IMG_9"], set()),
])
def test_selection_options_narrow_together(ws, args, expected):
    result = CliRunner().invoke(main, ["approve", "-w", str(ws.root), *args])
    assert result.exit_code == (0 if expected else 1), result.output
    assert approved(ws) == expected
    if not expected:
        assert "matches no photo" in result.output


@pytest.mark.parametrize("option, value, why", [
    ("--local-from", "May 1 2019", "expected an ISO 8601 local time"),
    ("--local-from", "07/04/2019", "expected an ISO 8601 local time"),
    ("--local-to", "2019-02-30", "no such date or time"),
    ("--local-to", "2019-07-05T10:00Z", "a local time has no zone"),
])
def test_selection_times_are_iso_8601_or_a_usage_error(ws, option, value, why):
    result = CliRunner().invoke(main, ["approve", "-w", str(ws.root), option, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': {why}" in result.output and value in result.output
    assert approved(ws) == set()


def test_unapprove_withdraws(ws):
    run(ws, "approve", "--all")
    run(ws, "unapprove", "--path-glob", "*/IMG_000?.jpg")
    assert approved(ws) == {"IMG_0010.jpg", "DSC_0001.jpg"}


def test_approve_needs_a_selection(ws):
    output = run(ws, "approve", code=2)
    assert "--all" in output


def test_second_writer_is_refused_while_the_workspace_is_locked(ws):
    with ws.writer("upload"):
        output = run(ws, "approve", "--all", code=1)
    assert "'photoflux upload'" in output
    assert approved(ws) == set()


def test_status_names_the_next_step(ws):
    output = run(ws, "status")
    assert "resolve  ran" in output and "photos   6" in output
    assert "photoflux report" in output


def test_flagged_means_a_flag_that_needs_a_look(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.save("photos", photos(*TRIP[:4], {"file_name": "zero.jpg", "gps_lat": 0.0, "gps_lon": 0.0,
                                         "datetime_original": "2019:07:05 11:00:00"},
                             folder=str(tmp_path / "photos")))
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert table(ws).loc["zero.jpg", "flags"] == "null_island"  # for information only
    run(ws, "approve", "--unflagged")
    assert approved(ws) == {"IMG_0001.jpg", "IMG_0002.jpg", "IMG_0010.jpg", "zero.jpg"}
    run(ws, "unapprove", "--all")
    run(ws, "approve", "--flagged")
    assert approved(ws) == {"DSC_0001.jpg"}
    help_text = " ".join(run(ws, "approve", "--help").split())
    assert "--flagged / --unflagged Only photos with / without a flag that needs a look" in help_text


def test_resolve_counts_lapsed_approvals_and_status_lists_them_by_segment(ws):
    run(ws, "approve", "--all")
    (ws.root / "overrides.csv").write_text("path_glob,tz\n*/IMG_0002.jpg,Asia/Tokyo\n")
    output = run(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert output.splitlines()[1].startswith("approvals: 1 lapsed in this resolve (the photo's "
                                             "time or file changed")
    segment = table(ws).loc["IMG_0002.jpg", "segment"]
    lines = run(ws, "status").splitlines()
    start = lines.index("lapsed   1 approvals no longer hold (the photo's time or file changed "
                        "since you approved it), by segment:")
    assert lines[start + 1].split()[:6] == [segment, "1", "photos", "2019-07-04", "13:00",
                                            "time"]
    (ws.root / "overrides.csv").unlink()
    output = run(ws, "resolve", "--default-tz", "Europe/Berlin")  # the same instant is back
    assert "approvals:" not in output
    assert not any(line.startswith("lapsed") for line in run(ws, "status").splitlines())


def test_status_marks_a_stale_report_and_stale_resolve_and_next_does_something(ws):
    assert run(ws, "status").splitlines()[-1].startswith("next:    photoflux report")
    run(ws, "report")
    lines = run(ws, "status").splitlines()
    assert "STALE" not in "\n".join(lines)
    assert lines[-1].startswith("next:    review ") and "approve" in lines[-1]
    run(ws, "approve", "--unflagged")
    lines = run(ws, "status").splitlines()
    assert any(line.startswith("  report   ran") and line.endswith(
        "STALE, the resolved table changed since (resolve, approve or upload)") for line in lines)
    assert lines[-1].startswith("next:    photoflux report")  # one photo still needs a look
    run(ws, "report")
    lines = run(ws, "status").splitlines()
    assert "photoflux segments" in lines[-1] and "--segment ID" in lines[-1]
    (ws.root / "overrides.csv").write_text("path_glob,tz\n*/DSC_*,Asia/Tokyo\n")
    lines = run(ws, "status").splitlines()
    assert any(line.startswith("  resolve  ran") and line.endswith(
        "STALE, photos or overrides changed since") for line in lines)
    assert lines[-1].startswith(f"next:    photoflux resolve -w {ws.root} --default-tz "
                                "Europe/Berlin")
    run(ws, "resolve", "--default-tz", "Europe/Berlin")
    run(ws, "approve", "--all")
    assert run(ws, "status").splitlines()[-1].startswith(f"next:    photoflux upload -w {ws.root}")
    ws.segments.unlink()  # as an older photoflux left the workspace
    assert run(ws, "status").splitlines()[-1] == (
        f"next:    photoflux resolve -w {ws.root} --default-tz Europe/Berlin   (made by an "
        "older photoflux, without segments)")


def test_status_says_which_command_holds_the_lock(ws):
    assert "busy" not in run(ws, "status")
    with ws.writer("upload"):
        lines = run(ws, "status").splitlines()
    assert lines[1].startswith("busy     'photoflux upload' (pid ") and lines[1].endswith(
        "is writing this workspace: what follows may be about to change")
    assert "busy" not in run(ws, "status")
    finished = subprocess.Popen(["true"])  # a holder killed with kill -9 leaves its note
    finished.wait()
    ws.lock_owner.write_text(f"'photoflux upload' (pid {finished.pid})\n")
    assert "busy" not in run(ws, "status")


def test_a_command_that_cannot_run_creates_nothing(tmp_path):
    ws = Workspace(tmp_path / "empty")
    for command in (["resolve", "--default-tz", "UTC"], ["report"], ["approve", "--all"],
                    ["unapprove", "--all"], ["segments"],
                    ["upload", "--server", "http://127.0.0.1:9", "--user", "u"]):
        output = run(ws, *command, code=2)
        assert output.startswith("photoflux: error: ") and "does not exist" in output
        assert not ws.root.exists(), command


def test_the_commands_list_is_not_cut():
    output = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    assert not any(line.endswith("...") for line in output.split("Commands:")[1].splitlines())
    assert "which needs a clocks.csv)." in output
    assert "segments   List the segments (trip legs" in output
