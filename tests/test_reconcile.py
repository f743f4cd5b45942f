"""`photoflux reconcile` against the real `photoflux serve`: a timeline seeded the way the
original notebook filled it (whole seconds, whole-hour offsets, re-sent ranges, plain HTTP
requests one by one), matched to the workspace, adopted, and repaired by photo id without ever
leaving a photo without a copy."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from contextlib import closing

import openpyxl
import pandas as pd
import pytest
import requests
from PIL import Image

from pipeline.approvals import is_approved
from pipeline.schema import RESOLVED, SERVER
from pipeline.workspace import Workspace, read_table
from uploading import PHOTOFLUX, cli, make_workspace, on_server, read_only, upload

HOUR = 3600


def notebook_upload(server, data: bytes, seconds: float) -> int:
    """One photo sent as the notebook did: whole (or given) seconds, one request, no ledger.
    Returns the server's photo id."""
    answer = requests.post(
        server.url + "api/bodytrack/photoUpload", params={"connector_name": "fluxtream_capture"},
        files={"photo": ("photo.jpg", data, "image/jpeg"),
               "metadata": (None, json.dumps({"capture_time_secs_utc": seconds}))},
        auth=server.auth, timeout=10)
    answer.raise_for_status()
    return answer.json()["payload"]["id"]


def approved_seconds(ws: Workspace) -> dict[str, float]:
    """File name -> approved UTC seconds, for the approved rows."""
    table = read_table(ws.resolved, RESOLVED)
    table = table[is_approved(table)]
    return dict(zip(table["file_name"], table["capture_time_secs_utc"]))


def file_bytes(ws: Workspace, name: str) -> bytes:
    return (ws.root.parent / "photos" / name).read_bytes()


def reconcile(ws: Workspace, server, *args: str, code: int = 0) -> str:
    return cli(ws, "reconcile", "--server", server.url, "--user", server.user, *args, code=code,
               env={"FLUXTREAM_PASSWORD": server.password})


def verdicts(ws: Workspace) -> dict[int, str]:
    table = read_table(ws.server, SERVER)
    return dict(zip(table["photo_id"], table["verdict"]))


def other_jpeg(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (250, 250 - i, i)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def seeded(tmp_path, serve_factory):
    """Seven photos, the first six approved; on the server as the notebook left them:
    IMG_0000 at its whole second (same), IMG_0001 an hour late (wrong_time), IMG_0002 an hour
    and two hours late (a zone changed and the range re-sent), IMG_0003 at its whole second and
    half a second later (a second copy within the second), IMG_0006 (not approved) and one photo
    the workspace does not hold. IMG_0004 and IMG_0005 are not on the server."""
    server = serve_factory()
    ws = make_workspace(tmp_path, 7, approve=None)
    cli(ws, "approve", "--first", "IMG_0000", "--last", "IMG_0005")
    at = approved_seconds(ws)
    ids = {}

    def send(name, seconds):
        ids.setdefault(name, []).append(notebook_upload(server, file_bytes(ws, name), seconds))

    send("IMG_0000.jpg", int(at["IMG_0000.jpg"]))
    send("IMG_0001.jpg", int(at["IMG_0001.jpg"]) + HOUR)
    send("IMG_0002.jpg", int(at["IMG_0002.jpg"]) + HOUR)
    send("IMG_0002.jpg", int(at["IMG_0002.jpg"]) + 2 * HOUR)
    send("IMG_0003.jpg", int(at["IMG_0003.jpg"]))
    send("IMG_0003.jpg", int(at["IMG_0003.jpg"]) + 0.5)
    send("IMG_0006.jpg", 1577836800)
    ids["unknown"] = [notebook_upload(server, other_jpeg(1), 1577836800)]
    return ws, server, ids


def test_each_copy_gets_its_verdict_and_same_copies_are_adopted_not_sent_again(seeded):
    ws, server, ids = seeded
    output = reconcile(ws, server)
    assert "2 same, 2 wrong_time (2 by whole hours), 2 duplicate, 1 unapproved, 1 unknown" \
        in output
    assert "adopted 2 copies" in output
    found = verdicts(ws)
    assert found == {ids["IMG_0000.jpg"][0]: "same", ids["IMG_0001.jpg"][0]: "wrong_time",
                     ids["IMG_0002.jpg"][0]: "wrong_time", ids["IMG_0002.jpg"][1]: "duplicate",
                     ids["IMG_0003.jpg"][0]: "same", ids["IMG_0003.jpg"][1]: "duplicate",
                     ids["IMG_0006.jpg"][0]: "unapproved", ids["unknown"][0]: "unknown"}
    table = read_table(ws.server, SERVER).set_index("photo_id")
    late = table.loc[ids["IMG_0001.jpg"][0]]
    assert late["whole_hours"] and late["difference_seconds"] == pytest.approx(HOUR - 0.123)
    assert late["path"].endswith("IMG_0001.jpg") and late["matched_by"] == "file"
    assert pd.isna(table.loc[ids["unknown"][0], "path"])
    csv = pd.read_csv(ws.server_csv)
    assert len(csv) == 8 and csv["server_time"].str.endswith("Z").all()

    # the two copies already right count as uploaded: upload sends only the other four
    assert "2 already on server, 4 uploaded" in upload(ws, server)
    held = on_server(server)
    assert len(held) == 8 + 4
    assert "2 same, 2 wrong_time" in cli(ws, "status")

    # reconciled again: photoflux's own copies are `same`, the notebook's wrong copies beside
    # them stay wrong_time (the right copy is up now), the surplus same copy is a duplicate
    output = reconcile(ws, server)
    assert "6 same, 3 wrong_time (3 by whole hours), 1 duplicate, 1 unapproved, 1 unknown" \
        in output
    assert "adopted" not in output
    report = cli(ws, "report")
    assert "on the server: 6 same, 3 wrong_time" in report and "listed just now" in report
    assert 'id="server"' in ws.audit_html.read_text()
    sheet = openpyxl.load_workbook(ws.audit_xlsx, read_only=True)["server"]
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0].startswith("6 same, 3 wrong_time")
    in_sheet = [dict(zip(rows[1], row))["verdict"] for row in rows[2:]]
    assert in_sheet[:4] == ["wrong_time"] * 3 + ["duplicate"] and len(in_sheet) == 12


def test_delete_wrong_then_duplicates_removes_exactly_those_copies(seeded):
    ws, server, ids = seeded
    reconcile(ws, server)
    upload(ws, server)

    # off a terminal a deletion needs --yes; a dry run lists and changes nothing
    assert "give --yes" in reconcile(ws, server, "--delete-wrong", code=2)
    output = reconcile(ws, server, "--delete-wrong", "--dry-run")
    assert "would delete 3 copies" in output and "nothing was written or deleted" in output
    assert len(on_server(server)) == 12

    output = reconcile(ws, server, "--delete-wrong", "--yes")
    assert "deletions: 3 deleted" in output
    held = set(on_server(server)["id"].str.rsplit(".", n=1).str[1].astype(int))
    wrong = {ids["IMG_0001.jpg"][0], *ids["IMG_0002.jpg"]}
    assert not wrong & held and len(held) == 9
    assert ids["IMG_0003.jpg"][1] in held  # a duplicate: not --delete-wrong's

    output = reconcile(ws, server, "--delete-duplicates", "--yes")
    assert "deletions: 1 deleted" in output
    held = set(on_server(server)["id"].str.rsplit(".", n=1).str[1].astype(int))
    assert ids["IMG_0003.jpg"][1] not in held
    assert ids["IMG_0006.jpg"][0] in held and ids["unknown"][0] in held  # never touched
    assert set(verdicts(ws).values()) == {"same", "unapproved", "unknown"}
    with closing(read_only(ws.uploads)) as db:
        deleted = pd.read_sql_query("SELECT * FROM deletions", db)
    assert sorted(deleted["photo_id"]) == sorted([*wrong, ids["IMG_0003.jpg"][1]])
    assert deleted["deleted_at"].notna().all() and (deleted["outcome"] == "deleted").all()
    assert "0 wrong_time" in cli(ws, "status")
    # nothing left to send: every approved photo has its copy
    assert "6 already on server" in upload(ws, server)


def test_a_wrong_copy_is_never_deleted_while_it_is_the_only_one(seeded):
    ws, server, ids = seeded
    output = reconcile(ws, server, "--delete-wrong", "--yes", code=1)
    assert "SKIPPED: its approved copy is not on the server" in output
    assert "deletions: 2 skipped" in output
    assert len(on_server(server)) == 8


def test_a_deleted_copy_of_photoflux_no_longer_blocks_the_approved_one(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    upload(ws, server)
    (ws.root / "overrides.csv").write_text("path_glob,tz\n*,-01:00\n")  # two hours later
    cli(ws, "resolve", "--default-tz", "UTC")
    cli(ws, "approve", "--all")
    assert "2 blocked retimed" in upload(ws, server, code=1)
    assert "2 wrong_time" in reconcile(ws, server)
    upload(ws, server, "--allow-retime")
    assert "deletions: 2 deleted" in reconcile(ws, server, "--delete-wrong", "--yes")
    assert len(on_server(server)) == 2
    assert "2 already on server" in upload(ws, server)


def test_the_walk_pages_past_one_millisecond_holding_more_than_a_page(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 1)
    for i in range(7):  # seven photos in one millisecond, three more a second apart
        notebook_upload(server, other_jpeg(i), 1500000000.25)
    for i in range(3):
        notebook_upload(server, other_jpeg(10 + i), 1500000001 + i)
    output = reconcile(ws, server, "--page-size", "3")
    assert "10 photos on the server" in output and "largest page 12" in output
    assert len(read_table(ws.server, SERVER)) == 10


def test_a_converted_photo_is_matched_through_the_ledger(tmp_path, serve_factory):
    from test_upload_conversion import library

    server = serve_factory()
    ws = library(tmp_path, 2)
    upload(ws, server)
    table = read_table(ws.resolved, RESOLVED)
    sent = table["server_key"].str.rsplit("_", n=1).str[1]
    assert (sent != table["sha256"]).all()  # the server holds JPEGs made of the HEICs
    reconcile(ws, server)
    listed = read_table(ws.server, SERVER)
    assert (listed["matched_by"] == "ledger").all() and (listed["verdict"] == "same").all()
    assert set(listed["file_sha256"]) == set(table["sha256"])


def test_a_killed_deletion_run_resumes_without_deleting_anything_twice(tmp_path,
                                                                       serve_factory):
    server = serve_factory(delay_ms=150)
    ws = make_workspace(tmp_path, 6)
    at = approved_seconds(ws)
    wrong = [notebook_upload(server, file_bytes(ws, name), int(seconds) - 2 * HOUR)
             for name, seconds in at.items()]
    upload(ws, server)
    reconcile(ws, server)
    process = subprocess.Popen(
        [PHOTOFLUX, "reconcile", "-w", str(ws.root), "--server", server.url, "--user",
         server.user, "--delete-wrong", "--yes"],
        env={**os.environ, "FLUXTREAM_PASSWORD": server.password},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if server.log_text().count("DELETE /api/v1/bodytrack/photo/") >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(on_server(server)) < 12  # some deleted, some not

    output = reconcile(ws, server, "--delete-wrong", "--yes")
    held = set(on_server(server)["id"].str.rsplit(".", n=1).str[1].astype(int))
    assert not held & set(wrong) and len(held) == 6
    log = server.log_text()
    uid = requests.get(server.url + "api/guest", auth=server.auth).json()["id"]
    for photo_id in wrong:
        assert log.count(f"DELETE /api/v1/bodytrack/photo/{uid}/{photo_id} ") == 1, output
    with closing(read_only(ws.uploads)) as db:
        deleted = pd.read_sql_query("SELECT * FROM deletions", db)
    assert sorted(deleted["photo_id"]) == sorted(wrong)
    assert deleted["deleted_at"].notna().all()
    assert "6 already on server" in upload(ws, server)


def test_an_unanswered_deletion_is_settled_by_the_next_listing():
    from pipeline.reconcile import pending_deletions

    intents = pd.DataFrame({"photo_id": [1, 2, 3, 4], "key": ["a", "b", "c", "d"],
                            "deleted_at": [None, None, None, "2026-01-01T00:00:00Z"],
                            "outcome": [None, None, None, "deleted"]})
    listed = pd.DataFrame({"photo_id": [2, 3], "key": ["b", "x"]})
    gone, stale = pending_deletions(intents, listed)
    assert gone["photo_id"].tolist() == [1]  # its request landed before the kill
    assert stale["photo_id"].tolist() == [3]  # the id is another photo now: never deleted


def test_a_login_page_in_front_of_the_server_is_no_listing(tmp_path, serve_factory):
    server = serve_factory(login_redirect=True)
    ws = make_workspace(tmp_path, 1)
    output = reconcile(ws, server, code=2)
    assert "not Fluxtream's JSON" in output and output.count("\n") == 1
    assert not ws.server.exists()


def test_verdicts_on_small_tables():
    """The rules on their own: the nearest same copy is kept, a late copy beside it stays
    wrong_time, without a right copy the lowest id is kept and the rest are duplicates; a copy
    early by whole hours is whole_hours too; bytes known only to the ledger match."""
    from pipeline.ledger import History
    from pipeline.reconcile import repair_plan, verdicts

    a, b, c, jpeg_of_c = "a" * 64, "b" * 64, "c" * 64, "d" * 64
    resolved = pd.DataFrame({"path": ["/p/A.jpg", "/p/B.jpg", "/p/C.heic"],
                             "sha256": [a, b, c], "capture_time_secs_utc": [1000.5, 2000.0, 3000.0],
                             "approved": [True, True, True]})
    listed = pd.DataFrame({"photo_id": [1, 2, 3, 4, 5, 6, 7],
                           "key": [f"k{i}" for i in range(1, 8)],
                           "sha256": [a, a, a, b, b, jpeg_of_c, "e" * 64],
                           "capture_ms": [1000_000, 1000_400, 1000_500 + 7_200_000,
                                          2000_000 - 3_600_000, 2000_000 + 3_600_000,
                                          3000_000, 5]})
    history = History.empty()
    history.sends = pd.DataFrame({**{column: [None] for column in history.sends.columns},
                                  "sha256": [c], "sent_sha256": [jpeg_of_c], "converter": ["j"]})
    table = verdicts(listed, resolved, history, "s", "u").set_index("photo_id")
    assert table["verdict"].to_dict() == {1: "duplicate", 2: "same", 3: "wrong_time",
                                          4: "wrong_time", 5: "duplicate", 6: "same",
                                          7: "unknown"}
    assert table.loc[4, "difference_seconds"] == -3600 and table.loc[4, "whole_hours"]
    assert table.loc[6, "matched_by"] == "ledger" and table.loc[6, "path"] == "/p/C.heic"
    plan = repair_plan(table.reset_index(), delete_wrong=True, delete_duplicates=True)
    kept = plan.set_index("photo_id")["kept_key"].fillna("none (skipped)").to_dict()
    assert kept == {1: "k2", 3: "k2", 4: "none (skipped)", 5: "none (skipped)"}


def test_a_person_who_says_no_deletes_nothing(seeded):
    from pipeline.runner import run_reconcile

    ws, server, ids = seeded
    reconcile(ws, server)
    upload(ws, server)
    asked = []
    with ws.writer("notebook"):
        found = run_reconcile(ws, server.url, server.user, password=server.password,
                              delete_wrong=True, confirm=lambda plan: asked.append(plan) or False)
    assert len(asked[0]) == 3 and found.done == {} and found.failed == 3
    assert len(on_server(server)) == 12
