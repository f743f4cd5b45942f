"""`photoflux serve` against the Fluxtream API contract (fluxtream-api.md), over real HTTP.

Every test talks to a real server process (see `serve_factory` in conftest.py) with requests or
http.client: no mocks. Most share one server; fault, restart and https tests start their own.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pipeline.server.images import Picture, Undecodable, thumbnail_sizes
from pipeline.server.wire import clean_tags, java_double

PHOTOFLUX = Path(sys.executable).with_name("photoflux")

UPLOAD = "api/bodytrack/photoUpload?connector_name=fluxtream_capture"
SECS = 1400269584.123  # the contract's example: key day 2014136, 1400269584123 ms


def encoded(image_format: str, size=(8, 6), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, image_format, **options)
    return buffer.getvalue()


TINY_JPEG = encoded("JPEG")


def jpeg(tag: str, size: int = 0) -> bytes:
    """A real (decodable) JPEG, unique per tag: the tag rides in a comment segment; `size` pads
    it with zeros after its end marker, which decoders ignore."""
    comment = tag.encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return (TINY_JPEG[:2] + segment + TINY_JPEG[2:]).ljust(size, b"\0")


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def expected_key(guest_id: int, capture_ms: int, day: str, data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    return f"{guest_id}.FluxtreamCapture.photo.{day}.{capture_ms}_{sha256}"


def upload(server, data: bytes, secs=SECS, session=requests, auth=None, path=UPLOAD,
           metadata=None, **extra):
    """POST one photo the way the contract says: a `photo` file part and a `metadata` part."""
    if metadata is None:
        metadata = json.dumps({"capture_time_secs_utc": secs, **extra})
    return session.post(server.url + path, auth=auth or server.auth, verify=server.verify,
                        files={"photo": ("p.jpg", data, "image/jpeg")}, data={"metadata": metadata},
                        timeout=10)


def get(server, path, auth=None, **kwargs):
    return requests.get(server.url + path, auth=auth or server.auth, verify=server.verify,
                        timeout=10, **kwargs)


def guest_id(server, auth=None) -> int:
    return get(server, "api/guest", auth=auth).json()["id"]


def all_photos(server) -> list[dict]:
    """The signed-in guest's photos after 1970 (up to 100)."""
    return get(server, f"api/bodytrack/photos/{guest_id(server)}/FluxtreamCapture.photo/0/100").json()


def key_of(item: dict) -> str:
    """A list item's photo key: the last part of its url (items have no `key` field)."""
    return item["url"].rsplit("/", 1)[1]


def raw_get(server, path: str, auth: tuple[str, str]) -> http.client.HTTPResponse:
    """GET with the path sent exactly as written (requests would normalise `..`)."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    token = base64.b64encode(":".join(auth).encode()).decode()
    conn.request("GET", path, headers={"Authorization": f"Basic {token}"})
    return conn.getresponse()


@pytest.fixture(scope="module")
def server(module_serve_factory):
    """One plain server for the contract tests: alice and bob, a 1 MB upload limit."""
    return module_serve_factory(users=[("alice", "wonder-land-42"), ("bob", "b0b-pass")],
                                max_upload_mb=1)


BOB = ("bob", "b0b-pass")


# --- authentication and /api/guest ---------------------------------------------------------

def test_no_credentials_is_401_json(server):
    r = requests.get(server.url + "api/guest", timeout=10)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.content == compact({"result": "KO", "message": "Access Denied. Please log in to "
                                 f"your Fluxtream account ({server.url}) to access this resource"})


@pytest.mark.parametrize("auth", [("alice", "wrong"), ("nobody", "wonder-land-42"), ("", "")])
def test_wrong_credentials_is_401_html_with_basic_realm(server, auth):
    r = get(server, "api/guest", auth=auth)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["www-authenticate"] == 'Basic realm="Spring Security Application"'


def test_malformed_authorization_header_is_401_html(server):
    r = requests.get(server.url + "api/guest", headers={"Authorization": "Basic %%%"}, timeout=10)
    assert r.status_code == 401 and "www-authenticate" in r.headers


def test_guest_shape_and_stable_distinct_ids(server):
    r = get(server, "api/guest")
    me = r.json()
    assert r.status_code == 200
    assert r.content == compact({"username": "alice", "firstname": "Alice", "lastname": "",
                                 "fullname": "Alice", "email": "alice@example.org",
                                 "roles": "[ROLE_USER]", "isBuddy": False, "avatar": None,
                                 "id": me["id"]})
    assert isinstance(me["id"], int) and guest_id(server, BOB) != me["id"]


# --- upload --------------------------------------------------------------------------------

def test_upload_created_then_updated_with_the_contract_key(server):
    data, uid = jpeg("created-updated"), guest_id(server)
    key = expected_key(uid, 1400269584123, "2014136", data)
    first = upload(server, data)
    assert first.status_code == 200
    photo_id = first.json()["payload"]["id"]
    assert isinstance(photo_id, int)
    payload = {"operation": "created", "key": key, "id": photo_id}
    assert first.content == compact({"result": "OK", "message": "photo created sucessfully!",
                                     "payload": payload})
    again = upload(server, data)
    assert again.content == compact({"result": "OK", "message": "photo updated sucessfully!",
                                     "payload": {**payload, "operation": "updated"}})


def test_same_bytes_at_another_time_is_a_second_photo(server):
    data = jpeg("two-times")
    a = upload(server, data, secs=SECS).json()["payload"]
    b = upload(server, data, secs=SECS + 1).json()["payload"]
    assert b["operation"] == "created" and b["id"] != a["id"] and b["key"] != a["key"]


def test_same_bytes_for_another_guest_is_another_photo(server):
    data = jpeg("two-guests")
    a = upload(server, data).json()["payload"]
    b = upload(server, data, auth=BOB).json()["payload"]
    assert b["operation"] == "created" and b["key"].startswith(f"{guest_id(server, BOB)}.")
    assert b["id"] != a["id"]


@pytest.mark.parametrize("secs, capture_ms, day", [
    ("1400269584.1239", 1400269584123, "2014136"),  # truncated, not rounded
    # (long)(secs * 1000) of a Java double, as the real server: 1.001 * 1000 is 1000.999...
    ("1.001", 1000, "1970001"),
    ("1099006878.916", 1099006878915, "2004302"),  # three decimals can lose a millisecond
    ("1099006878.9164", 1099006878916, "2004302"),  # a fourth decimal keeps it
    ("1420070399.9995", 1420070399999, "2014365"),  # last millisecond of 2014 stays in 2014
    ("0", 0, "1970001"),
    ("-0.0", 0, "1970001"),  # Java's -0.0 >= 0 holds
])
def test_capture_time_is_truncated_to_the_millisecond(server, secs, capture_ms, day):
    data = jpeg(f"truncate-{secs}")
    r = upload(server, data, metadata=f'{{"capture_time_secs_utc": {secs}}}')
    assert r.json()["payload"]["key"] == expected_key(guest_id(server), capture_ms, day, data)


@pytest.mark.parametrize("data, media_type", [
    (jpeg("read-back", 5000), "image/jpeg"),
    (encoded("PNG"), "image/png"),
    (encoded("GIF"), "image/gif"),
])
def test_read_back_bytes_identical(server, data, media_type):
    key = upload(server, data).json()["payload"]["key"]
    r = get(server, f"api/bodytrack/photo/{key}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == media_type


@pytest.mark.parametrize("data", [b"plain text, named .jpg",
                                  b"\x00\x00\x00\x18ftypheic" + b"\0" * 64, b"\xff\xd8"])
def test_not_jpeg_png_gif_is_415(server, data):
    r = upload(server, data)
    assert r.status_code == 415
    message = "UnsupportedImageFormatException while trying to save the photo"
    assert r.content == compact({"result": "KO", "message": message})


@pytest.mark.parametrize("case", ["no photo", "no metadata", "not json", "not an object", "no time",
                                  "negative time", "time as text", "time true", "NaN time",
                                  "tags not strings", "tags as a list", "empty photo",
                                  "other connector", "not multipart"])
def test_bad_uploads_are_400_ko(server, case):
    url, auth = server.url + UPLOAD, server.auth
    good_meta = {"metadata": json.dumps({"capture_time_secs_utc": SECS})}
    photo = {"photo": ("p.jpg", jpeg("bad-400"), "image/jpeg")}
    meta = {
        "not json": "{capture", "not an object": "[1400269584]", "no time": '{"comment": "x"}',
        "negative time": '{"capture_time_secs_utc": -0.001}',
        "time as text": '{"capture_time_secs_utc": "1400269584"}',
        "time true": '{"capture_time_secs_utc": true}',
        "NaN time": '{"capture_time_secs_utc": NaN}',
        "tags not strings": '{"capture_time_secs_utc": 1, "tags": [1, 2]}',
        "tags as a list": '{"capture_time_secs_utc": 1, "tags": ["a", "b"]}',
    }
    kwargs = {"files": photo, "data": good_meta}
    if case in meta:
        kwargs["data"] = {"metadata": meta[case]}
    elif case == "no photo":
        kwargs = {"files": {"metadata": (None, good_meta["metadata"])}}
    elif case == "no metadata":
        kwargs = {"files": photo}
    elif case == "empty photo":
        kwargs["files"] = {"photo": ("p.jpg", b"", "image/jpeg")}
    elif case == "other connector":
        url = server.url + "api/bodytrack/photoUpload?connector_name=flickr"
    elif case == "not multipart":
        kwargs = {"data": good_meta}
    r = requests.post(url, auth=auth, timeout=10, **kwargs)
    assert r.status_code == 400, r.text
    body = r.json()
    assert list(body) == ["result", "message"] and body["result"] == "KO" and body["message"]


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xe0" + b"not really a JPEG" * 20,
    TINY_JPEG[: len(TINY_JPEG) // 2],  # truncated
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    b"GIF89a" + b"\x01" * 100,
    encoded("PNG", size=(1, 1200)),  # decodes, but too thin for the real server's thumbnails
])
def test_bytes_that_look_like_an_image_but_do_not_decode_are_400(server, data):
    r = upload(server, data, secs=SECS + 300)
    assert r.status_code == 400
    assert r.content == b'{"result":"KO","message":"InvalidDataException while trying to save the photo"}'
    key = expected_key(guest_id(server), 1400269884123, "2014136", data)
    assert get(server, f"api/bodytrack/photo/{key}").status_code == 404


def test_connector_name_is_matched_without_regard_to_case_and_a_missing_one_is_500(server):
    ok = upload(server, jpeg("connector case"),
                path="api/bodytrack/photoUpload?connector_name=FluxTream_Capture")
    assert ok.status_code == 200 and ok.json()["payload"]["operation"] == "created"
    missing = upload(server, jpeg("no connector"), path="api/bodytrack/photoUpload")
    assert missing.status_code == 500 and missing.json()["result"] == "KO"


def test_parts_are_read_by_name_without_a_filename(server):
    data = jpeg("no filename")
    r = requests.post(server.url + UPLOAD, auth=server.auth, timeout=10,
                      files={"photo": (None, data),
                             "metadata": (None, json.dumps({"capture_time_secs_utc": SECS}))})
    assert r.status_code == 200
    assert r.json()["payload"]["key"] == expected_key(guest_id(server), 1400269584123, "2014136", data)


def test_the_v1_upload_answers_the_bare_payload_and_errors_in_plain_text(server):
    v1 = "api/v1/bodytrack/photoUpload?connector_name=fluxtream_capture"
    data = jpeg("v1")
    first = upload(server, data, path=v1)
    key = expected_key(guest_id(server), 1400269584123, "2014136", data)
    assert first.status_code == 200
    assert first.content == compact({"operation": "created", "key": key,
                                     "id": first.json()["id"]})
    assert upload(server, data).json()["payload"] == {**first.json(), "operation": "updated"}
    refused = upload(server, b"plain text", path=v1)
    assert refused.status_code == 415
    assert refused.text == "UnsupportedImageFormatException while trying to save the photo"


def test_bare_payload_makes_the_documented_path_answer_like_v1(serve_factory):
    server = serve_factory(bare_payload=True)
    data = jpeg("bare")
    r = upload(server, data)
    key = expected_key(guest_id(server), 1400269584123, "2014136", data)
    assert r.status_code == 200
    assert r.content == compact({"operation": "created", "key": key, "id": r.json()["id"]})
    refused = upload(server, b"plain text")
    assert refused.status_code == 415 and refused.headers["content-type"].startswith("text/plain")
    assert get(server, f"api/bodytrack/photo/{key}").content == data


def test_tags_are_one_string_cleaned_and_kept_only_from_the_creating_upload(server):
    uid, data = guest_id(server), jpeg("tags")
    created = upload(server, data, secs=SECS + 400, comment="first",
                     tags="  Beach, New York ,, \u00c9t\u00c9,beach , a\0b").json()["payload"]
    base = f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/{created['id']}"
    kept = compact({"comment": "first", "tags": ["_t_", "a_b", "beach", "new_york"]})
    assert get(server, base + "/get").content == kept
    again = upload(server, data, secs=SECS + 400, comment="second", tags="other")
    assert again.json()["payload"]["operation"] == "updated"
    assert get(server, base + "/get").content == kept  # an update leaves them as they were


def send_at_once(server, data: bytes, senders: int) -> list[dict]:
    """`senders` uploads of one photo, all started together; their payloads."""
    results, start = [], threading.Barrier(senders)

    def send():
        with requests.Session() as session:
            start.wait()
            results.append(upload(server, data, secs=SECS + 7, session=session).json()["payload"])

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_identical_uploads_make_one_photo(server):
    results = send_at_once(server, jpeg("concurrent"), 8)
    assert sorted(p["operation"] for p in results) == ["created"] + ["updated"] * 7
    assert len({(p["id"], p["key"]) for p in results}) == 1


def test_body_over_the_limit_is_413_and_the_connection_still_works(server):
    big = jpeg("too big", 1_500_000)
    # written as the real server's Gson writes it: ' as \u0027
    too_large = (b'{"result":"KO","message":"Request body larger than the server\\u0027s limit '
                 b'of 1 MB"}')
    with requests.Session() as session:
        declared = upload(server, big, session=session)  # Content-Length says so: refused at once
        assert declared.status_code == 413 and declared.content == too_large
        part = b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
        streamed = session.post(server.url + UPLOAD, auth=server.auth, timeout=10,  # chunked
                                data=iter([part] + [b"\xff" * 65536] * 24),
                                headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert streamed.status_code == 413 and streamed.content == too_large
        assert session.get(server.url + "api/guest", auth=server.auth, timeout=10).ok
    assert upload(server, jpeg("just under", 1_000_000)).status_code == 200


# --- hostile input: a 400 or a 404, never a 500, and nothing raw echoed -----------------------

@pytest.mark.parametrize("metadata", [
    "[" * 100_000 + "]" * 100_000,
    '{"capture_time_secs_utc": 1, "comment": ' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}",
])
def test_metadata_nested_100k_deep_is_400(server, metadata):
    r = upload(server, jpeg("deep"), metadata=metadata)
    assert r.status_code == 400 and r.json() == {"result": "KO",
                                                 "message": "metadata is not valid JSON"}


HUGE_IDS = ["9223372036854775808", "18446744073709551616", "9" * 40]


@pytest.mark.parametrize("photo_id", HUGE_IDS)
def test_an_id_beyond_any_row_is_404(server, photo_id):
    uid = guest_id(server)
    base = f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/{photo_id}"
    answers = [get(server, base + "/get"),
               requests.post(server.url + base + "/set", data={"comment": "x"}, auth=server.auth,
                             timeout=10),
               requests.delete(f"{server.url}api/v1/bodytrack/photo/{uid}/{photo_id}",
                               auth=server.auth, timeout=10)]
    unknown = (f"Unknown facet [{photo_id}] for connector [FluxtreamCapture] and object type "
               f"[photo] and guestId [{uid}]")
    for r in answers[:2]:
        assert r.status_code == 404 and r.json() == {"result": "KO", "message": unknown}
    assert answers[2].status_code == 404 and answers[2].text == unknown  # v1: plain text
    listing = get(server, f"api/bodytrack/photos/{uid}/FluxtreamCapture.photo/0/{photo_id}")
    assert listing.status_code == 200 and isinstance(listing.json(), list)
    other = get(server, f"api/bodytrack/photos/{photo_id}/FluxtreamCapture.photo/0/5")
    assert other.status_code == 200 and other.json() == {"result": "KO", "message": "Access Denied"}


def test_the_last_millisecond_of_year_9999_is_accepted_and_no_later(server):
    data, uid = jpeg("end of 9999"), guest_id(server)
    r = upload(server, data, metadata='{"capture_time_secs_utc": 253402300799.999}')
    assert r.status_code == 200, r.text
    key = r.json()["payload"]["key"]
    assert key == expected_key(uid, 253402300799999, "9999365", data)
    assert get(server, f"api/bodytrack/photo/{key}").content == data
    for secs in ("253402300800", "253402300800.0001", "1e999999999"):
        late = upload(server, jpeg(f"year 10000 {secs}"), metadata=f'{{"capture_time_secs_utc": {secs}}}')
        assert late.status_code == 400 and "before the year 10000" in late.json()["message"]


def test_text_that_is_not_unicode_is_400_and_later_answers_still_work(server):
    uid = guest_id(server)
    r = upload(server, jpeg("surrogate"), metadata='{"capture_time_secs_utc": 77, "comment": "a\\ud800b"}')
    assert r.status_code == 400 and "is not valid Unicode text" in r.json()["message"], r.text
    tagged = upload(server, jpeg("surrogate tag"),  # cleaning makes it a `_`, as on the real server
                    metadata='{"capture_time_secs_utc": 78, "tags": "x,\\udcff"}').json()["payload"]
    metadata = f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/{tagged['id']}/get"
    assert get(server, metadata).json() == {"tags": ["_", "x"]}
    kept = upload(server, jpeg("nul and escape"), secs=88, comment="a\0b\x1b[2J",
                  tags="p\0q").json()["payload"]
    listing = get(server, f"api/bodytrack/photos/{uid}/FluxtreamCapture.photo/87.5/1",
                  params={"isBefore": "false"})
    assert listing.status_code == 200  # JSON carries them escaped
    item = listing.json()[0]
    assert item["comment"] == "a\0b\x1b[2J" and key_of(item) == kept["key"] and item["tags"] == ["p_q"]
    assert b"\0" not in listing.content and b"\x1b" not in listing.content


def raw_request(server, request: bytes) -> bytes:
    """Bytes in, bytes out: for requests no HTTP library would send."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_answers_and_log_lines_never_carry_raw_control_or_binary_bytes(server):
    token = base64.b64encode(b"alice:wonder-land-42")
    head = b"Host: x\r\nAuthorization: Basic " + token + b"\r\nConnection: close\r\n"
    multipart = (b'--b\r\nContent-Disposition: form-data; name="photo"; filename="\x00\xff\x1b"'
                 b'\r\n\r\n\xff\xd8\xff\x00\x1b\r\n--b\r\nContent-Disposition: form-data; '
                 b'name="metadata"\r\n\r\n{"capture_time_secs_utc": "\x00\xff"}\r\n--b--\r\n')
    requests_ = [
        b"GET /api/bodytrack/photo/%00%1b%ff%0a HTTP/1.1\r\n" + head + b"\r\n",
        b"GET /api/bodytrack/photo/\xff\xfe HTTP/1.1\r\n" + head + b"\r\n",
        b"POST /" + UPLOAD.encode() + b" HTTP/1.1\r\n" + head
        + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: "
        + str(len(multipart)).encode() + b"\r\n\r\n" + multipart,
        b"POST /" + UPLOAD.encode() + b" HTTP/1.1\r\n" + head
        + b"Content-Type: multipart/form-data; boundary=\xff\x01\r\nContent-Length: 4\r\n\r\n\x00\xff\x1b\n",
    ]
    for request in requests_:
        answer = raw_request(server, request)
        status, _, body = answer.partition(b"\r\n\r\n")
        assert not status.startswith(b"HTTP/1.1 5"), answer
        assert not any(byte < 0x20 or byte >= 0x7F for byte in body), body
    server.wait_for_log("POST /api/bodytrack/photoUpload 400")
    for line in server.log_text().splitlines():
        assert line.isprintable() and "\ufffd" not in line, line


# --- reading back --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/bodytrack/photo/../../store.sqlite",
    "/api/bodytrack/photo/..%2F..%2Fstore.sqlite",
    "/api/bodytrack/photo/%2e%2e/%2e%2e/store.sqlite",
    "/api/bodytrack/photo//etc/passwd",
    "/api/bodytrack/photo/photos",
    "/api/bodytrack/photo/",
    "/api/bodytrack/photo/1.FluxtreamCapture.photo.2014136.1400269584123_" + "0" * 64,
    "/api/bodytrack/photo/1.FluxtreamCapture.photo.2014136.1400269584123_../../../store.sqlite",
])
def test_unknown_or_malformed_keys_are_404(server, path):
    r = raw_get(server, path, ("alice", "wonder-land-42"))
    body = r.read()
    assert r.status == 404 and json.loads(body)["result"] == "KO"


def test_another_guests_photo_is_403_and_an_unknown_one_404(server):
    uid, key = guest_id(server), upload(server, jpeg("bobs"), auth=BOB).json()["payload"]["key"]
    assert get(server, f"api/bodytrack/photo/{key}", auth=BOB).status_code == 200
    r = get(server, f"api/bodytrack/photo/{key}")
    assert r.status_code == 403
    assert r.json() == {"result": "KO", "message": f"User [{uid}] is not authorized to view photo [{key}]"}
    unknown = f"{uid}.FluxtreamCapture.photo.2014136.1400269584123_{'0' * 64}"
    v1 = get(server, f"api/v1/bodytrack/photo/{unknown}")  # v1 answers errors in plain text
    assert v1.status_code == 404 and v1.text == f"Photo [{unknown}] requested by user [{uid}] not found"


def test_photo_list_item_is_the_real_servers_byte_for_byte(server):
    uid, t0 = guest_id(server), 978307200  # 2001-01-01: no other test uploads there
    data = jpeg("list item")
    photo_id = upload(server, data, secs=t0 + 30.25, comment="it's <c30> & a=b",
                      tags="a,b").json()["payload"]["id"]
    key = expected_key(uid, 978307230250, "2001001", data)
    r = get(server, f"api/bodytrack/photos/{uid}/FluxtreamCapture.photo/{t0 + 30.25}/1")
    moment = "2001-01-01T00:00:30.250Z"
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == (
        '[{"nsfw":false,"id":"FluxtreamCapture.photo.%d","description":"",'
        '"comment":"it\\u0027s \\u003cc30\\u003e \\u0026 a\\u003db","begin_d":9.7830723025E8,'
        '"begin":"%s","end_d":9.7830723025E8,"end":"%s","dev_id":"fluxtream_capture",'
        '"dev_nickname":"FluxtreamCapture","object_type_name":"photo","channel_name":"photo",'
        '"url":"/api/v1/bodytrack/photo/%s","tags":["a","b"],"thumbnails":['
        '{"url":"/api/v1/bodytrack/photoThumbnail/%d/%d/0","width":150,"height":113},'
        '{"url":"/api/v1/bodytrack/photoThumbnail/%d/%d/1","width":300,"height":225},'
        '{"url":"/api/v1/bodytrack/photoThumbnail/%d/%d/2","width":500,"height":375}],'
        '"count":1,"orientation":1,"time_type":"gmt"}]'
        % (photo_id, moment, moment, key, *(uid, photo_id) * 3)).encode()
    item = r.json()[0]
    assert key_of(item) == key and item["id"].rsplit(".", 1)[1] == str(photo_id)
    assert get(server, item["url"].lstrip("/")).content == data  # the url serves the photo


def test_thumbnails_are_listed_at_the_real_sizes_and_served_upright(server):
    uid, stored = guest_id(server), Image.new("RGB", (40, 30), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 30))  # left half red: the top, once turned upright
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif)
    photo_id = upload(server, buffer.getvalue(), secs=1041379200).json()["payload"]["id"]
    item = get(server, f"api/bodytrack/photos/{uid}/FluxtreamCapture.photo/1041379200/1").json()[0]
    assert item["orientation"] == 6
    assert [(t["width"], t["height"]) for t in item["thumbnails"]] == [(113, 150), (225, 300), (375, 500)]
    large = get(server, item["thumbnails"][2]["url"].lstrip("/"))
    assert large.status_code == 200 and large.headers["content-type"] == "image/jpeg"
    upright = Image.open(io.BytesIO(large.content)).convert("RGB")
    assert upright.size == (375, 500)
    assert upright.getpixel((187, 100))[0] > 200 and upright.getpixel((187, 400))[2] > 200
    base = f"api/v1/bodytrack/photoThumbnail/{uid}/{photo_id}"
    assert get(server, base + "/3").status_code == 404
    assert get(server, base + "/0", auth=BOB).status_code == 403


def test_photo_list_is_nearest_first_and_includes_the_cursor_millisecond(server):
    uid, t0 = guest_id(server), 1009843200  # 2002-01-01: no other test uploads there
    ids = {dt: upload(server, jpeg(f"list{dt}"), secs=t0 + dt).json()["payload"]["id"]
           for dt in (10, 20, 30.25)}

    def listing(at, count, is_before=None, auth=None):
        r = get(server, f"api/bodytrack/photos/{uid}/FluxtreamCapture.photo/{at}/{count}",
                auth=auth, params={} if is_before is None else {"isBefore": is_before})
        assert r.status_code == 200
        return r.json()

    def ids_at(*args):
        return [int(p["id"].rsplit(".", 1)[1]) for p in listing(*args)]

    assert ids_at(t0 + 25, 2, "true") == [ids[20], ids[10]]
    assert ids_at(t0 + 15.5, 2, "false") == [ids[20], ids[30.25]]
    assert ids_at(t0 + 20, 2, "true") == [ids[20], ids[10]]  # both directions include it
    assert ids_at(t0 + 20, 2, "TRUE") == [ids[20], ids[10]]
    assert ids_at(t0 + 20, 2, "false") == [ids[20], ids[30.25]]
    assert ids_at(f"{t0 + 30}.25", 1, "false") == [ids[30.25]]  # a fractional cursor
    # the cursor is (long)(secs*1000): .2499 s is 249 ms, so the photo at 250 ms is after it
    assert ids_at(f"{t0 + 30}.2499", 1, "true") == [ids[20]]
    assert ids_at(t0 + 20, 1, "maybe") == ids_at(t0 + 20, 1) == [ids[20]]  # anything else: after
    assert listing(t0, 5, auth=BOB) == {"result": "KO", "message": "Access Denied"}


def test_metadata_get_and_set(server):
    uid = guest_id(server)
    photo_id = upload(server, jpeg("meta"), comment="first", tags="x, y").json()["payload"]["id"]
    base = f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/{photo_id}"
    assert get(server, base + "/get").content == compact({"comment": "first", "tags": ["x", "y"]})

    def set_(**fields):
        return requests.post(server.url + base + "/set", data=fields, auth=server.auth, timeout=10)

    assert set_(comment="second").content == compact(
        {"result": "OK", "message": "Metadata updated successfully!",
         "payload": {"comment": "second", "tags": ["x", "y"]}})
    assert set_(tags="r,Q , p").json()["result"] == "OK"  # replaced, cleaned as at upload
    assert get(server, base + "/get").json() == {"comment": "second", "tags": ["p", "q", "r"]}
    neither = set_()
    assert neither.status_code == 400 and neither.json() == {
        "result": "KO", "message": "Nothing changed since comment and tags were both null"}
    unknown = f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/999999/get"
    assert get(server, unknown).status_code == 404
    assert get(server, base + "/get", auth=BOB).status_code == 403
    bare = upload(server, jpeg("no comment")).json()["payload"]["id"]  # Gson leaves out a null
    assert get(server, f"api/bodytrack/metadata/{uid}/FluxtreamCapture.photo/{bare}/get").content \
        == b'{"tags":[]}'


def test_the_owner_deletes_one_photo_with_an_empty_answer(server):
    uid, data = guest_id(server), jpeg("delete me")
    kept = upload(server, data, secs=SECS + 100).json()["payload"]
    gone = upload(server, data, secs=SECS + 200).json()["payload"]
    url = f"{server.url}api/v1/bodytrack/photo/{uid}/{gone['id']}"
    by_bob = requests.delete(url, auth=BOB, timeout=10)
    assert by_bob.status_code == 401 and by_bob.content == b""
    assert get(server, f"api/bodytrack/photo/{gone['key']}").content == data
    r = requests.delete(url, auth=server.auth, timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert get(server, f"api/bodytrack/photo/{gone['key']}").status_code == 404
    assert get(server, f"api/bodytrack/photo/{kept['key']}").content == data  # shared bytes stay
    again = requests.delete(url, auth=server.auth, timeout=10)
    assert again.status_code == 404 and again.text == (
        f"Unknown facet [{gone['id']}] for connector [FluxtreamCapture] and object type [photo] "
        f"and guestId [{uid}]")
    bobs_own_uid = f"{server.url}api/v1/bodytrack/photo/{guest_id(server, BOB)}/{kept['id']}"
    assert requests.delete(bobs_own_uid, auth=BOB, timeout=10).status_code == 404  # not his


def test_log_has_one_line_per_request_and_never_a_password(server):
    get(server, "api/guest", auth=("alice", "a-wrong-secret-xyz"))
    server.wait_for_log("GET /api/guest 401 user=-")
    get(server, "api/guest")
    text = server.wait_for_log("GET /api/guest 200 user=alice")
    for password in ("a-wrong-secret-xyz", "wonder-land-42", "b0b-pass"):
        assert password not in text


# --- faults, restart, https, CLI -----------------------------------------------------------

def test_fail_rate_one_answers_500_and_stores_nothing(serve_factory):
    server = serve_factory(fail_rate=1)
    data = jpeg("fail")
    r = upload(server, data)
    assert r.status_code == 500
    assert r.json()["result"] == "KO" and list(r.json()) == ["result", "message"]
    key = expected_key(guest_id(server), 1400269584123, "2014136", data)
    assert get(server, f"api/bodytrack/photo/{key}").status_code == 404
    assert all_photos(server) == []


def test_drop_rate_one_stores_then_drops_the_connection(serve_factory):
    server = serve_factory(drop_rate=1)
    data = jpeg("drop")
    with requests.Session() as session:
        assert session.get(server.url + "api/guest", auth=server.auth, timeout=10).ok
        with pytest.raises(requests.ConnectionError):
            upload(server, data, session=session)  # on a kept-alive connection
    with pytest.raises(requests.ConnectionError):
        upload(server, data)
    key = expected_key(guest_id(server), 1400269584123, "2014136", data)
    assert get(server, f"api/bodytrack/photo/{key}").content == data  # it landed, once
    assert [key_of(p) for p in all_photos(server)] == [key]
    server.wait_for_log("POST /api/bodytrack/photoUpload dropped user=alice")


def test_seeded_faults_repeat_and_delay_slows_answers(serve_factory):
    def statuses():
        server = serve_factory(fail_rate=0.5, seed=7, delay_ms=100)
        started = time.monotonic()
        assert get(server, "api/guest").status_code == 200  # faults never hit /api/guest
        assert time.monotonic() - started >= 0.1
        return [upload(server, jpeg(f"seed{i}")).status_code for i in range(8)]

    first = statuses()
    assert first == statuses() and set(first) == {200, 500}


def test_fail_after_store_rate_one_stores_then_answers_503(serve_factory):
    server = serve_factory(fail_after_store_rate=1)
    data = jpeg("after store")
    r = upload(server, data)
    assert r.status_code == 503 and r.json()["result"] == "KO"
    key = expected_key(guest_id(server), 1400269584123, "2014136", data)
    assert get(server, f"api/bodytrack/photo/{key}").content == data  # it landed all the same
    assert upload(server, data).status_code == 503
    assert [key_of(p) for p in all_photos(server)] == [key]  # the resend found it: one copy


def test_login_redirect_sends_every_request_to_an_html_login_page(serve_factory):
    server = serve_factory(login_redirect=True)
    for r in [get(server, "api/guest", allow_redirects=False),
              requests.get(server.url + "api/guest", allow_redirects=False, timeout=10),
              requests.post(server.url + UPLOAD, auth=server.auth, allow_redirects=False,
                            files={"photo": ("p.jpg", jpeg("redirected"))},
                            data={"metadata": json.dumps({"capture_time_secs_utc": SECS})},
                            timeout=10)]:
        assert r.status_code == 302 and r.headers["location"] == "/welcome?signIn"
    followed = get(server, "api/guest")  # what a client that follows redirects gets
    assert followed.status_code == 200 and followed.url == server.url + "welcome?signIn"
    assert followed.headers["content-type"].startswith("text/html")
    assert "Please log in" in followed.text
    server.wait_for_log("POST /api/bodytrack/photoUpload 302")
    with sqlite3.connect(server.store / "store.sqlite") as db:  # the API is behind the login
        assert db.execute("SELECT count(*) FROM photos").fetchone() == (0,)


def test_guest_ko_answers_200_with_a_ko_body_and_no_id(serve_factory):
    server = serve_factory(guest_ko=True)
    r = get(server, "api/guest")
    assert r.status_code == 200
    assert r.content == b'{"result":"KO","message":"Failed to get current guest: null"}'
    assert upload(server, jpeg("guest ko")).json()["payload"]["operation"] == "created"


def test_without_the_dedup_lock_overlapping_sends_make_two_copies(serve_factory):
    server = serve_factory(no_dedup_lock=True, delay_ms=300)
    data = jpeg("race")
    first, second = send_at_once(server, data, 2)
    assert first["operation"] == second["operation"] == "created"  # as on the real server
    assert first["key"] == second["key"] and first["id"] != second["id"]
    assert upload(server, data, secs=SECS + 7).json()["payload"]["operation"] == "updated"
    assert [key_of(p) for p in all_photos(server)] == [first["key"]] * 2


OLD_SCHEMA = """
CREATE TABLE guests (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL UNIQUE);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, guest_id INTEGER NOT NULL REFERENCES guests(id),
    sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL, key TEXT NOT NULL,
    media_type TEXT NOT NULL, comment TEXT, tags TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, UNIQUE (guest_id, sha256, capture_ms));
CREATE INDEX photos_by_time ON photos (guest_id, capture_ms);
CREATE INDEX photos_by_key ON photos (guest_id, key);
"""


def test_a_store_made_before_issue_12_keeps_its_photos_and_loses_its_unique_index(
        serve_factory, tmp_path):
    store, data = tmp_path / "old store", jpeg("old")
    sha256 = hashlib.sha256(data).hexdigest()
    (store / "photos" / sha256[:2]).mkdir(parents=True)
    (store / "photos" / sha256[:2] / sha256).write_bytes(data)
    key = expected_key(1, 1400269584123, "2014136", data)
    with sqlite3.connect(store / "store.sqlite") as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO guests (username) VALUES ('alice')")
        db.execute("INSERT INTO photos VALUES (7, 1, ?, 1400269584123, ?, 'image/jpeg', 'c', "
                   "'[\"t\"]', 0, 0)", (sha256, key))
    server = serve_factory(store=store, no_dedup_lock=True, delay_ms=300)
    assert [(key_of(p), p["thumbnails"]) for p in all_photos(server)] == [(key, [])]  # no size
    assert upload(server, data).json()["payload"] == {"operation": "updated", "key": key, "id": 7}
    first, second = send_at_once(server, jpeg("new"), 2)  # no unique index stops the race
    assert first["id"] != second["id"] and min(first["id"], second["id"]) > 7


def test_restart_keeps_the_store_and_the_guest_ids(serve_factory):
    server = serve_factory()
    data, uid = jpeg("restart"), guest_id(server)
    created = upload(server, data).json()["payload"]
    server.stop()
    again = serve_factory(store=server.store, users=[("zed", "z"), server.auth])  # zed is new
    assert guest_id(again, auth=server.auth) == uid
    assert get(again, f"api/bodytrack/photo/{created['key']}", auth=server.auth).content == data
    updated = upload(again, data, auth=server.auth).json()["payload"]
    assert updated == {**created, "operation": "updated"}


def test_https_with_a_self_signed_certificate(serve_factory):
    server = serve_factory(https=True)
    assert server.url.startswith("https://127.0.0.1:")
    assert get(server, "api/guest").status_code == 200
    key = upload(server, jpeg("tls")).json()["payload"]["key"]
    assert get(server, f"api/bodytrack/photo/{key}").content == jpeg("tls")
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url.replace("https:", "http:") + "api/guest", timeout=5)


@pytest.mark.parametrize("args, users, message", [
    (["--user", "alice"], None, "--user #1 must look like NAME:PASSWORD"),
    (["--user", "a:1", "--user", "a:2"], None, "user a is given twice (--user #2)"),
    (["--user", "a:1"], "b:2, a:3", "user a is given twice (FLUXTREAM_SERVER_USERS entry #2)"),
    ([], "a:1,b", "FLUXTREAM_SERVER_USERS entry #2 must look like NAME:PASSWORD"),
    ([], None, "no account: set FLUXTREAM_SERVER_USERS=NAME:PASSWORD[,NAME:PASSWORD] (or give "
               "--user NAME:PASSWORD, which other users can see in the process list)"),
    ([], " , ", "no account: set FLUXTREAM_SERVER_USERS=NAME:PASSWORD[,NAME:PASSWORD] (or give "
                "--user NAME:PASSWORD, which other users can see in the process list)"),
    (["--user", "a:1", "--certfile", __file__], None, "--certfile and --keyfile go together"),
])
def test_bad_options_are_one_line_usage_errors(tmp_path, args, users, message):
    env = {k: v for k, v in os.environ.items() if k != "FLUXTREAM_SERVER_USERS"}
    if users is not None:
        env["FLUXTREAM_SERVER_USERS"] = users
    r = subprocess.run([str(PHOTOFLUX), "serve", "--store", str(tmp_path), "--port", "0", *args],
                       capture_output=True, text=True, timeout=20, env=env)
    assert r.returncode == 2 and r.stderr == f"photoflux: error: {message}\n"


def test_accounts_from_the_environment_stay_out_of_the_process_list(server):
    """The module's server has alice and bob from FLUXTREAM_SERVER_USERS (see conftest.py)."""
    assert guest_id(server) != guest_id(server, BOB)
    command_line = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    for password in ("wonder-land-42", "b0b-pass"):
        assert password.encode() not in command_line and password not in listing


def test_user_option_still_works_beside_the_environment(serve_factory):
    server = serve_factory(users=[("alice", "env-pass")], user="carol:option-pass")
    assert get(server, "api/guest", auth=("carol", "option-pass")).json()["username"] == "carol"
    assert get(server, "api/guest").json()["username"] == "alice"
    assert "users carol, alice" in server.log_text()  # --user first, then the environment


# --- the real server's Java arithmetic, without a server ----------------------------------------

@given(st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_java_double_text_reads_back_exactly_and_is_plain_only_from_a_thousandth_to_1e7(value):
    text = java_double(value)
    assert float(text) == value and "." in text
    assert ("E" not in text) == (value == 0 or 1e-3 <= value < 1e7)


@pytest.mark.parametrize("value, text", [(1400269584.123, "1.400269584123E9"), (0.0, "0.0"),
                                         (100.0, "100.0"), (0.001, "0.001"), (1e7, "1.0E7"),
                                         (9999999.5, "9999999.5"), (0.0001, "1.0E-4")])
def test_java_double_text_is_javas(value, text):
    assert java_double(value) == text


def imgscalr_reference(width: int, height: int, side: int) -> tuple[int, int]:
    """imgscalr's fit, in numpy's float32 as Java computes it."""
    ratio = np.float32(height) / np.float32(width)
    if ratio <= 1:
        return side, int(np.floor(np.float64(np.float32(side) * ratio) + 0.5))
    return int(np.floor(np.float64(np.float32(side) / ratio) + 0.5)), side


@given(st.integers(1, 20000), st.integers(1, 20000), st.integers(1, 8))
def test_thumbnail_sizes_follow_imgscalrs_float_arithmetic(width, height, orientation):
    picture = Picture("image/jpeg", width, height, orientation)
    large = imgscalr_reference(width, height, 500)[:: -1 if orientation >= 5 else 1]
    medium = imgscalr_reference(*large, 300) if 0 not in large else (0, 0)
    small = imgscalr_reference(*medium, 150) if 0 not in medium else (0, 0)
    if 0 in large + medium + small:  # the real server cannot make it and refuses the photo
        with pytest.raises(Undecodable):
            thumbnail_sizes(picture)
    else:
        assert thumbnail_sizes(picture) == [small, medium, large]


@given(st.text())
def test_cleaned_tags_are_sorted_unique_and_only_of_the_allowed_characters(text):
    tags = clean_tags(text)
    assert tags == sorted(set(tags)) and "" not in tags
    assert all(set(tag) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_") for tag in tags)
