"""`photoflux run` reruns only what changed; the demo runs end to end against a real server."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import demo
from pipeline.approvals import is_approved
from pipeline.cli import main
from pipeline.sample import MIN_COUNT, SAMPLE_DEFAULT_TZ, write_sample
from pipeline.workspace import Workspace


@pytest.fixture
def library(tmp_path):
    photos = tmp_path / "photos"
    write_sample(photos, count=MIN_COUNT)
    return photos


def run(ws, library, *extra, code=0):
    result = CliRunner().invoke(main, ["run", str(library), "-w", str(ws.root), "--default-tz",
                                       SAMPLE_DEFAULT_TZ, *extra])
    assert result.exit_code == code, result.output
    return result.output


def ran(output: str) -> list[str]:
    return [line.split(":")[0] for line in output.splitlines()
            if line.split(":")[0] in ("extract", "report") and "skipped" not in line] + \
        ["resolve" for line in output.splitlines() if line.startswith("resolved ")]


def test_only_changed_stages_rerun(library, tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert sorted(ran(run(ws, library))) == ["extract", "report", "resolve"]
    assert ws.audit_html.exists() and ws.audit_xlsx.exists() and ws.audit_csv.exists()

    again = run(ws, library)
    assert ran(again) == [] and again.count("skipped") == 3

    (ws.root / "overrides.csv").write_text("path_glob,tz\n*/2024-01 Sydney/*,Asia/Tokyo\n")
    assert sorted(ran(run(ws, library))) == ["report", "resolve"]

    shutil.copy(next(library.rglob("IMG_0001.jpg")), library / "2023 Berlin" / "IMG_9999.jpg")
    output = run(ws, library)
    assert "(1 read, " in output and sorted(ran(output)) == ["extract", "report", "resolve"]

    assert sorted(ran(run(ws, library, "--from", "resolve"))) == ["report", "resolve"]
    assert not ws.uploads.exists()


def test_an_approval_is_reflected_by_the_next_run(library, tmp_path):
    ws = Workspace(tmp_path / "ws")
    run(ws, library)
    CliRunner().invoke(main, ["approve", "-w", str(ws.root), "--unflagged"])
    output = run(ws, library)
    assert "extract: no photo added" in output and "report: wrote" in output


def test_a_bad_overrides_line_stops_before_anything_is_written(library, tmp_path):
    ws = Workspace(tmp_path / "ws")
    run(ws, library)
    before = {p: p.stat().st_mtime_ns for p in ws.root.rglob("*") if p.is_file()}
    bad = tmp_path / "my overrides.csv"
    bad.write_text("path_glob,tz\n*/DSC_*,Europe/Berlin\n*,Mars/Olympus\n")
    output = run(ws, library, "--overrides", str(bad), code=2)
    assert output.strip() == (f"photoflux: error: {bad}:3: bad zone, expected an IANA name "
                              "or ±HH:MM (Mars/Olympus)")
    assert {p: p.stat().st_mtime_ns for p in ws.root.rglob("*") if p.is_file()} == before


def test_the_demo_runs_end_to_end_and_again(tmp_path, capsys):
    demo.main(str(tmp_path / "demo"))
    first = capsys.readouterr().out
    ws = Workspace(tmp_path / "demo")
    table = ws.load("resolved")
    approved = is_approved(table)
    assert approved.sum() > 100
    assert (table.loc[approved, "upload_status"] == "uploaded").all()
    assert not table.loc[~approved, "upload_status"].notna().any()
    assert f"{int(approved.sum())} uploaded" in first
    # the notebook's five copies at whole-hour offsets: found, then removed once the right ones are up
    assert "5 wrong_time (5 by whole hours)" in first and "deletions: 5 deleted" in first
    assert f"on the server: {int(approved.sum())} same, 0 wrong_time" in first.split("deletions:")[1]
    for name in ("audit.html", "audit.xlsx", "audit.csv"):
        assert (ws.reports / name).stat().st_size > 0
    demo.main(str(tmp_path / "demo"))
    second = capsys.readouterr().out
    assert f"{int(approved.sum())} already on server" in second
    assert "0 read, 200 unchanged" in second
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig")
    assert len(audit) == 200
