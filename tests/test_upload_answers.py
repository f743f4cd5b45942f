"""Upload against the real `photoflux serve` rehearsing the real Fluxtream's answers: login pages,
a guest lookup that fails, the v1 path's bare payload, undecodable bytes, answers lost after the
photo was stored, its lock-free de-duplication; and what only a person may decide: edited
files, photos before 1970, tags."""
from __future__ import annotations

import hashlib
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import requests
from PIL import Image

from frames import photos
from pipeline.approvals import is_approved
from pipeline.workspace import Workspace
from uploading import (acknowledged, assert_exactly_once, cli, make_workspace, on_server,
                       read_only, upload, upload_process)

POSTS = "POST /api/bodytrack/photoUpload "
CHECKS = "GET /api/bodytrack/photo/"


def statuses(ws: Workspace) -> pd.Series:
    return ws.load("resolved").set_index("file_name")["upload_status"]


def one_line_error(output: str) -> str:
    assert output.count("\n") == 1 and output.startswith("photoflux: error: "), output
    return output[len("photoflux: error: "):].strip()


def settled_log(server, text: str, count: int) -> str:
    """The server's log once it holds `text` `count` times (a line is written after its
    answer), or after 10 s."""
    deadline = time.monotonic() + 10
    while (log := server.log_text()).count(text) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return log


# --- the credentials check --------------------------------------------------------------------

def test_a_login_page_at_the_credentials_check_is_exit_2_and_nothing_is_sent(tmp_path,
                                                                             serve_factory):
    server = serve_factory(login_redirect=True)
    ws = make_workspace(tmp_path, 2)
    error = one_line_error(upload(ws, server, code=2))
    assert error == (f"{server.url}api/guest answered a redirect (302 to /welcome?signIn), not "
                     "Fluxtream's JSON: is --server the Fluxtream base URL, and not behind a "
                     "login page?")
    assert POSTS not in server.log_text() and " 200 " not in server.log_text()


def test_a_server_that_is_not_fluxtream_is_exit_2(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 1)
    wrong = cli(ws, "upload", "--server", server.url + "fluxtream/", "--user", server.user,
                code=2, env={"FLUXTREAM_PASSWORD": server.password})
    assert "without Fluxtream's JSON guest id: is --server the Fluxtream base URL?" in \
        one_line_error(wrong)


def test_a_guest_lookup_that_fails_on_the_server_is_exit_1(tmp_path, serve_factory):
    server = serve_factory(guest_ko=True)
    ws = make_workspace(tmp_path, 2)
    error = one_line_error(upload(ws, server, code=1))
    assert error.startswith(f"{server.url}api/guest answered 200 (") and error.endswith(
        "the server cannot say who you are now; nothing was sent, try again later")
    assert POSTS not in server.log_text()


class Answering(BaseHTTPRequestHandler):
    """Answers every GET with the class's `status`, `content_type` and `body`."""

    status, content_type, body = 503, "application/json", b'{"result":"KO","message":"busy"}'

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, content_type, body, code, said", [
    (503, "application/json", b'{"result":"KO","message":"down for maintenance"}', 1,
     "answered 503 (down for maintenance): the server cannot say who you are now"),
    (502, "text/plain", b"Bad Gateway", 1, "answered 502 (no message)"),
    (200, "text/plain", b"It works!", 2, "answered 200 without Fluxtream's JSON guest id"),
    (None, None, None, 1, "server unreachable: "),
])
def test_a_server_in_trouble_or_not_there_at_the_credentials_check(tmp_path, status,
                                                                   content_type, body, code, said):
    """Any HTTP server (a web server's default page, a proxy whose backend is down), or none."""
    ws = make_workspace(tmp_path, 1)
    handler = type("Handler", (Answering,), {"status": status, "content_type": content_type,
                                             "body": body})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{http.server_port}/"
    if status is None:
        http.server_close()  # nothing listens there any more
    else:
        threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        output = cli(ws, "upload", "--server", url, "--user", "alice", code=code,
                     env={"FLUXTREAM_PASSWORD": "pw"})
    finally:
        if status is not None:
            http.shutdown()
    assert said in one_line_error(output)


# --- answers mid-run --------------------------------------------------------------------------

def test_a_login_page_mid_run_stops_the_run_and_counts_nothing_as_sent(tmp_path, serve_factory):
    """The server's proxy starts sending every request to a login page while photos go out."""
    server = serve_factory(delay_ms=100)
    count = 30
    ws = make_workspace(tmp_path, count)
    process = upload_process(ws, server, "--workers", "2", acked=4)
    server.stop()
    behind_login = serve_factory(store=server.store, port=server.port, users=[server.auth],
                                 login_redirect=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    error = one_line_error(err)
    assert error.startswith(f"{server.url} answered a redirect (302 to /welcome?signIn), not "
                            "Fluxtream's answer: the run stopped; is the server behind a login "
                            "page?")
    assert "photos sent this run, the ledger holds them: run upload again" in error
    table = ws.load("resolved")
    sent = table["upload_status"].isin(["uploaded", "updated"])
    assert sent.sum() == acknowledged(ws) < count  # nothing else counted as sent
    assert table.loc[~sent & is_approved(table), "upload_status"].fillna("").str.match(
        "^$|failed: ").all()
    behind_login.stop()
    again = serve_factory(store=server.store, port=server.port, users=[server.auth])
    upload(ws, again)
    assert_exactly_once(ws, again)


def test_a_bare_v1_payload_fails_its_photo_and_the_rerun_asks_before_sending(tmp_path,
                                                                             serve_factory):
    """A deployment whose documented path answers the v1 path's bare payload
    `{"operation":..,"key":..,"id":..}`: not the documented answer, so each photo fails; those
    photos did land, and the rerun finds them by their expected keys instead of sending them
    again."""
    server = serve_factory(bare_payload=True)
    ws = make_workspace(tmp_path, 3)
    assert "3 failed" in upload(ws, server, code=1)
    assert set(statuses(ws)) == {"failed: not a Fluxtream answer (200 with a bare payload)"}
    assert len(on_server(server)) == 3
    server.stop()
    fixed = serve_factory(store=server.store, port=server.port, users=[server.auth])
    assert "3 uploaded" in upload(ws, fixed)
    log = settled_log(fixed, CHECKS, 3)
    assert log.count(POSTS) == 0 and log.count(CHECKS) == 3  # asked, never sent again
    assert_exactly_once(ws, fixed)


def test_bytes_that_do_not_decode_are_rejected_with_the_servers_message(tmp_path,
                                                                        serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    broken = tmp_path / "photos" / "IMG_0001.jpg"
    data = broken.read_bytes()
    broken.write_bytes(data[:200] + bytes(range(256)) * 4)  # starts like a JPEG, then garbage
    table = ws.load("photos")
    table.loc[table["file_name"] == "IMG_0001.jpg", "sha256"] = hashlib.sha256(
        broken.read_bytes()).hexdigest()
    ws.save("photos", table)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    output = upload(ws, server, code=1)
    assert "1 uploaded, 1 rejected" in output
    assert statuses(ws)["IMG_0001.jpg"].startswith("rejected: InvalidDataException")
    assert len(on_server(server)) == 1
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert statuses(ws)["IMG_0001.jpg"].startswith("rejected: ")  # rebuilt from the ledger


@pytest.mark.parametrize("fault", ["drop_rate", "fail_after_store_rate"])
def test_an_answer_lost_after_the_photo_was_stored_makes_no_second_copy(tmp_path, serve_factory,
                                                                        fault):
    """Every photo is stored and then its answer is lost (the connection dropped, or a 503):
    the client asks for each by its key, finds it, and sends nothing twice."""
    server = serve_factory(**{fault: 1})
    ws = make_workspace(tmp_path, 6)
    assert "6 uploaded" in upload(ws, server)
    log = settled_log(server, CHECKS, 6)
    assert log.count(POSTS) == 6 and log.count(CHECKS + "") == 6
    assert_exactly_once(ws, server)
    ledger = read_only(ws.uploads)
    assert ledger.execute("SELECT DISTINCT operation FROM sends").fetchall() == [("found",)]


def test_copies_of_one_file_are_one_photo_in_flight(tmp_path, serve_factory):
    """The real server de-duplicates without a lock: two overlapping sends of one photo make
    two. Byte-identical copies in two folders, at one time, go out as one request."""
    bob = ("bob", "bobs-password")
    server = serve_factory(no_dedup_lock=True, delay_ms=300,
                           users=[("alice", "alices-password"), bob])

    def send() -> None:
        requests.post(server.url + "api/bodytrack/photoUpload",
                      params={"connector_name": "fluxtream_capture"}, auth=bob,
                      files={"photo": ("a.jpg", jpeg_bytes(1)),
                             "metadata": (None, '{"capture_time_secs_utc": 100.0004}')})

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    guest = requests.get(server.url + "api/guest", auth=bob).json()
    race = requests.get(f"{server.url}api/bodytrack/photos/{guest['id']}/FluxtreamCapture.photo/"
                        "0/10", params={"isBefore": "false"}, auth=bob).json()
    assert len(race) == 2  # the race is real: one photo sent twice at once is two photos
    ws = make_workspace(tmp_path, 3)
    table = ws.load("photos")
    copy = table.iloc[[0]].assign(path=str(tmp_path / "copy" / "IMG_0000.jpg"),
                                  folder=str(tmp_path / "copy"))
    Path(copy["path"].iloc[0]).parent.mkdir()
    Path(copy["path"].iloc[0]).write_bytes(Path(table["path"].iloc[0]).read_bytes())
    ws.save("photos", pd.concat([table, copy], ignore_index=True))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    assert "copies of a photo sent with it once: 1" in upload(ws, server, "--dry-run")
    assert "4 uploaded" in upload(ws, server)
    assert settled_log(server, POSTS, 5).count(POSTS) == 2 + 3  # the copy was not sent
    merged = assert_exactly_once(ws, server)
    assert merged.groupby("sha256")["key"].nunique().max() == 1
    paths = read_only(ws.uploads).execute("SELECT path FROM paths").fetchall()
    assert {copy["path"].iloc[0], table["path"].iloc[0]} <= {path for (path,) in paths}


def jpeg_bytes(shade: int, size=(16, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (shade, 40, 90)).save(out, "JPEG")
    return out.getvalue()


# --- what a person decides --------------------------------------------------------------------

def test_an_edited_file_is_blocked_until_a_resend_is_allowed(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path, 2)
    upload(ws, server)
    old = ws.load("resolved").set_index("file_name").loc["IMG_0001.jpg"]
    edited = Path(old["path"])
    edited.write_bytes(jpeg_bytes(250, (32, 24)))  # cropped and brightened in an editor
    table = ws.load("photos")
    table.loc[table["file_name"] == "IMG_0001.jpg", "sha256"] = hashlib.sha256(
        edited.read_bytes()).hexdigest()  # what extract reads
    ws.save("photos", table)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    assert "blocked (file changed since it was sent): 1" in upload(ws, server, "--dry-run")
    assert "1 already on server, 1 blocked changed" in upload(ws, server, code=1)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")  # the status survives a resolve
    audit = pd.read_csv(ws.audit_csv, encoding="utf-8-sig").set_index("file_name")
    row = audit.loc["IMG_0001.jpg"]  # both versions: the file now, and what the server holds
    assert row["upload_status"] == "blocked_changed"
    assert row["uploaded_sha256"] == old["sha256"] != row["sha256"]
    assert row["uploaded_capture_time_secs_utc"] == old["capture_time_secs_utc"]
    assert len(on_server(server)) == 2
    output = upload(ws, server, "--allow-resend")
    assert output.startswith("photoflux: warning: --allow-resend: 1 photos whose file changed "
                             "since it was sent go out again: the timeline will hold both "
                             "versions of each\n")
    assert "1 already on server, 1 uploaded" in output
    assert len(on_server(server)) == 3 and statuses(ws)["IMG_0001.jpg"] == "uploaded"


def test_a_photo_before_1970_is_never_approved_or_sent(tmp_path, serve_factory):
    """A scanned print dated 1965: Fluxtream's API refuses negative times."""
    server = serve_factory()
    ws = make_workspace(tmp_path, 3, approve=None)
    table = ws.load("photos")
    table.loc[0, "datetime_original"] = "1965:05:01 12:00:00"
    ws.save("photos", table)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    output = cli(ws, "approve", "--all")
    assert "1 refused (1 dated before 1970-01-01 UTC: Fluxtream cannot hold them)" in output
    assert "2 approved" in output
    early = ws.load("resolved").iloc[0]  # approved by an older photoflux, which let it through
    with ws.approvals.open("a") as approvals:
        approvals.write(f'"{early["path"]}",{early["sha256"]},'
                        f'{early["capture_time_secs_utc"]:.3f},Europe/Berlin,'
                        "2024-01-01T00:00:00+00:00\n")
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert "before 1970-01-01 UTC, cannot be uploaded: 1" in upload(ws, server, "--dry-run")
    assert "2 uploaded, 1 before epoch" in upload(ws, server)
    assert settled_log(server, POSTS, 2).count(POSTS) == 2  # the 1965 photo was never sent
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    assert statuses(ws)["IMG_0000.jpg"] == "before_epoch"
    assert len(on_server(server)) == 2


def test_tags_go_with_each_photo_the_server_creates_and_only_then(tmp_path, serve_factory):
    server = serve_factory()
    ws = make_workspace(tmp_path / "Rome, Naples 2019", 2)
    guest = requests.get(server.url + "api/guest", auth=server.auth).json()

    def tags(photo_id: str) -> list[str]:
        number = photo_id.rsplit(".", 1)[1]
        return requests.get(f"{server.url}api/bodytrack/metadata/{guest['id']}/"
                            f"FluxtreamCapture.photo/{number}/get", auth=server.auth).json()["tags"]

    upload(ws, server, "--tag", "Holiday", "--tag", "family, friends", "--tag-folder")
    held = on_server(server)
    folder_tag = "photos"  # make_workspace keeps its photos in a folder named photos
    assert [tags(i) for i in held["id"]] == [sorted(["holiday", "family", "friends",
                                                     folder_tag])] * 2
    table = ws.load("photos")  # the folder a person named with a comma
    named = table.assign(folder=str(tmp_path / "Rome, Naples 2019" / "photos, Rome"))
    ws.save("photos", named)
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    assert "2 already on server" in upload(ws, server, "--tag", "other", "--tag-folder")
    assert [tags(i) for i in on_server(server)["id"]] == [
        sorted(["holiday", "family", "friends", folder_tag])] * 2  # kept as created
    late = tmp_path / "Rome, Naples 2019" / "photos" / "IMG_0099.jpg"
    late.write_bytes(jpeg_bytes(77))
    extra = photos({"path": str(late), "file_name": late.name, "datetime_original":
                    "2020:02:01 10:00:00", "sha256": hashlib.sha256(late.read_bytes()).hexdigest()},
                   folder=str(tmp_path / "Rome, Naples 2019" / "photos, Rome"))
    ws.save("photos", pd.concat([named, extra], ignore_index=True))
    cli(ws, "resolve", "--default-tz", "Europe/Berlin")
    cli(ws, "approve", "--all")
    upload(ws, server, "--tag", "other", "--tag-folder")
    new = on_server(server)
    new = new[~new["id"].isin(held["id"])]
    assert [tags(i) for i in new["id"]] == [["other", "photos__rome"]]


def test_upload_help_says_tags_are_kept_only_on_creation():
    from click.testing import CliRunner

    from pipeline.cli import main

    text = " ".join(CliRunner().invoke(main, ["upload", "--help"]).output.split())
    assert "The server stores tags only when it creates a photo: one uploaded before keeps its " \
        "tags." in text
