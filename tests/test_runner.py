"""The runner's functions as a notebook calls them: the whole stage graph, and an upload, with
no CLI in between."""
from __future__ import annotations

import pytest

from pipeline.approvals import is_approved
from pipeline.resolve import Settings
from pipeline.runner import NothingSelected, change_approvals, run_all, run_upload
from pipeline.sample import MIN_COUNT, SAMPLE_DEFAULT_TZ, write_sample
from pipeline.selection import Selection
from pipeline.workspace import Workspace


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    photos = tmp_path_factory.mktemp("library")
    write_sample(photos, count=MIN_COUNT)
    return photos


def ran(runs) -> list[str]:
    return [run.stage for run in runs if run.result is not None]


def test_run_all_skips_what_has_not_changed_and_reruns_from_a_stage(library, tmp_path):
    ws, settings = Workspace(tmp_path / "ws"), Settings(SAMPLE_DEFAULT_TZ)
    heard = []
    runs = run_all(ws, [library], settings, [], None, on_stage=heard.append)
    assert heard == runs and ran(runs) == ["extract", "resolve", "report"]
    photos, _ = runs[0].result
    resolved, _ = runs[1].result
    assert len(photos) == len(resolved) == MIN_COUNT
    assert ran(run_all(ws, [library], settings, [], None)) == []
    assert ran(run_all(ws, [library], settings, [], None, "resolve")) == ["resolve", "report"]
    assert ran(run_all(ws, [library], Settings("Asia/Tokyo"), [], None)) == ["resolve", "report"]


def test_run_upload_sends_the_approved_photos_once(library, tmp_path, serve_factory):
    ws = Workspace(tmp_path / "ws")
    run_all(ws, [library], Settings(SAMPLE_DEFAULT_TZ), [], None)
    resolved = change_approvals(ws, "approve", Selection(flagged=False)).resolved
    server = serve_factory()
    outcome = run_upload(ws, server.url, server.user, Selection(path_globs=["*/2023 Berlin/*"]),
                         password=server.password)
    sent = resolved[is_approved(resolved) & resolved["path"].str.contains("/2023 Berlin/")
                    & resolved["file_type"].isin(["JPEG", "PNG", "GIF"])]
    assert outcome.failed == 0 and outcome.counts.get("uploaded") == len(sent) > 0
    assert ws.read_manifest()["upload"]["counts"] == outcome.counts
    again = run_upload(ws, server.url, server.user, password=server.password)
    assert again.counts["already_on_server"] == len(sent)
    with pytest.raises(NothingSelected):
        run_upload(ws, server.url, server.user, Selection(path_globs=["*/nowhere/*"]),
                   password=server.password)
