"""The HTTP side of the Fluxtream-compatible server: a Starlette app behind a thin front door.

The front door (`FrontDoor`) sees every request first: it applies --delay-ms and
--login-redirect, checks HTTP Basic, refuses bodies over --max-upload-mb and writes the one log
line. The routes below it answer as the real Fluxtream does (fluxtream-api.md, checked against
its source): JSON as its Gson writes it (wire.py), errors as `{"result":"KO",...}`, except on the
v1 paths, which answer bare payloads and plain-text errors.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from ..fluxtream import MAX_CAPTURE_MS, printable
from .images import Undecodable, decode, sniff, thumbnail, thumbnail_sizes
from .store import SQLITE_INT_MAX, Photo, Store
from .wire import clean_tags, gson, java_long, joda_iso

log = logging.getLogger("photoflux.server")

REALM = "Spring Security Application"
NO_CREDENTIALS = ("Access Denied. Please log in to your Fluxtream account ({}) to access this "
                  "resource")
BAD_CREDENTIALS_HTML = (
    "<html><head><title>401 Unauthorized</title></head>"
    "<body><h1>HTTP Status 401 - Bad credentials</h1></body></html>"
)
UNSUPPORTED = "UnsupportedImageFormatException while trying to save the photo"
UNDECODABLE = "InvalidDataException while trying to save the photo"
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Fluxtream - Sign in</title></head><body>"
    "<h3>Please log in</h3><form method=\"post\" action=\"/signIn\">"
    "<input name=\"f_username\"><input name=\"f_password\" type=\"password\">"
    "<button type=\"submit\">Sign in</button></form></body></html>"
)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    id: int  # the guest id

    def as_guest(self) -> dict:
        """The `/api/guest` body, in the contract's key order (`roles` is Java's toString of a
        list; with no last name, the full name is the first name, as on the real server)."""
        first_name = self.username.capitalize()
        return {"username": self.username, "firstname": first_name, "lastname": "",
                "fullname": first_name, "email": f"{self.username}@example.org",
                "roles": "[ROLE_USER]", "isBuddy": False, "avatar": None, "id": self.id}


class BodyTooLarge(Exception):
    """The request body went past --max-upload-mb while it streamed in."""


class Faults:
    """The switches that rehearse failures and real deployments.

    Per valid photo upload, `draw` decides to fail it (500 before storing), drop it (stored, no
    answer) or fail it after storing (stored, then 503). Three draws per upload, always, so a
    given --seed repeats the same sequence of outcomes. `login_redirect`: every request is sent
    to a login page, as a deployment behind a form login does; `guest_ko`: /api/guest fails the
    way the real server's does on an internal error (200 with a KO body); `bare_payload`: the
    documented upload path answers as the v1 one does (a bare payload, plain-text errors).
    """

    def __init__(self, fail_rate: float = 0.0, drop_rate: float = 0.0,
                 fail_after_store_rate: float = 0.0, seed: int | None = None,
                 login_redirect: bool = False, guest_ko: bool = False,
                 bare_payload: bool = False):
        self.rates = {"fail": fail_rate, "drop": drop_rate, "after_store": fail_after_store_rate}
        self.login_redirect, self.guest_ko = login_redirect, guest_ko
        self.bare_payload = bare_payload
        self._random = random.Random(seed)

    def draw(self) -> str | None:
        draws = {fault: self._random.random() for fault in self.rates}
        return next((fault for fault, rate in self.rates.items() if draws[fault] < rate), None)


def answer(value, status: int = 200, headers=None) -> Response:
    """A JSON answer, written the way the real server's Gson writes it."""
    return Response(gson(value), status, headers, media_type="application/json")


def ko(status: int, message: str, headers=None) -> Response:
    """The contract's error body; the message is escaped, whatever part of a request it quotes."""
    return answer({"result": "KO", "message": printable(message)}, status, headers)


def plain(status: int, message: str) -> Response:
    """An error as the real server's v1 paths answer it: the bare message, no JSON."""
    return Response(printable(message), status, media_type="text/plain")


def unknown_photo(uid: int, photo_id: int) -> str:
    return (f"Unknown facet [{photo_id}] for connector [FluxtreamCapture] and object type "
            f"[photo] and guestId [{uid}]")


def facet_metadata(photo: Photo) -> dict:
    """A photo's comment and tags as the metadata endpoints answer them (Gson leaves out a
    comment that was never set)."""
    if photo.comment is None:
        return {"tags": photo.tags}
    return {"comment": photo.comment, "tags": photo.tags}


def photo_item(photo: Photo, uid: int) -> dict:
    """One item of the photo list, in the real server's field order. No `key`: it is the last
    part of `url`; `id` carries the numeric id as its last part."""
    seconds, moment = photo.capture_ms / 1000, joda_iso(photo.capture_ms)
    picture = photo.picture
    thumbnails = [] if picture is None else [
        {"url": f"/api/v1/bodytrack/photoThumbnail/{uid}/{photo.id}/{index}", "width": width,
         "height": height} for index, (width, height) in enumerate(thumbnail_sizes(picture))]
    return {"nsfw": False, "id": f"FluxtreamCapture.photo.{photo.id}", "description": "",
            "comment": photo.comment or "", "begin_d": seconds, "begin": moment,
            "end_d": seconds, "end": moment, "dev_id": "fluxtream_capture",
            "dev_nickname": "FluxtreamCapture", "object_type_name": "photo",
            "channel_name": "photo", "url": f"/api/v1/bodytrack/photo/{photo.key}",
            "tags": photo.tags, "thumbnails": thumbnails, "count": 1,
            "orientation": 1 if picture is None else picture.orientation, "time_type": "gmt"}


class DropConnection(Response):
    """Not an answer: closes the connection (through the server's `photoflux.drop` extension)."""

    async def __call__(self, scope, receive, send):
        scope["extensions"]["photoflux.drop"]()


class FrontDoor:
    """ASGI wrapper every request passes: delay, login redirect, HTTP Basic, size cap, one log
    line.

    The log line holds method, path, status and the signed-in user: never a header, a query
    string or a password. A request answered with no response at all is logged as `dropped`.
    """

    def __init__(self, app, accounts: dict[str, Account], delay_ms: int, max_body: int,
                 login_redirect: bool = False):
        self.app, self.accounts = app, accounts
        self.delay, self.max_body = delay_ms / 1000, max_body
        self.login_redirect = login_redirect

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status, user = time.monotonic(), None, "-"

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await asyncio.sleep(self.delay)
            if self.login_redirect:
                return await login_redirect(scope)(scope, receive, send_and_note)
            headers = Headers(scope=scope)
            account = self.authenticate(headers.get("authorization"), URL(scope=scope))
            if isinstance(account, Response):  # one of the two 401s
                return await account(scope, receive, send_and_note)
            user = account.username
            if int(headers.get("content-length") or 0) > self.max_body:
                return await too_large(self.max_body)(scope, receive, send_and_note)
            scope.setdefault("state", {})["account"] = account
            await self.app(scope, self.capped(receive), send_and_note)
        finally:
            path = printable(scope["raw_path"].decode("utf-8", "surrogateescape"))  # one line
            log.info("%s %s %s user=%s %dms", scope["method"], path, status or "dropped",
                     user, (time.monotonic() - started) * 1000)

    def authenticate(self, authorization: str | None, url: URL) -> Account | Response:
        """The account the Basic credentials name, or the contract's 401 (two shapes)."""
        if authorization is None:
            return ko(401, NO_CREDENTIALS.format(url.replace(path="/", query="")))
        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            name, _, password = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            name = password = None
        account = self.accounts.get(name)
        if (scheme.lower() == "basic" and account
                and hmac.compare_digest(password.encode(), account.password.encode())):
            return account
        return HTMLResponse(BAD_CREDENTIALS_HTML, status_code=401,
                            headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})

    def capped(self, receive):
        """`receive`, raising BodyTooLarge once more than --max-upload-mb has come in."""
        seen = 0

        async def receive_capped():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge
            return message

        return receive_capped


def login_redirect(scope) -> Response:
    """--login-redirect: the login page itself, and a 302 to it for every other request."""
    if scope["path"] == "/welcome":
        return HTMLResponse(LOGIN_PAGE)
    return Response(status_code=302, headers={"Location": "/welcome?signIn"})


def too_large(max_body: int) -> Response:
    return ko(413, f"Request body larger than the server's limit of {max_body // 2**20} MB")


async def parts_by_name(request: Request) -> dict[bytes, bytes]:
    """The multipart body's parts by name, as raw bytes (the last of a name wins). Like the real
    server, this reads `photo` and `metadata` by name, with or without a filename."""
    media_type, options = parse_options_header(request.headers.get("content-type"))
    if media_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise HTTPException(400, "the upload must be multipart/form-data")
    parts, headers, data = {}, {}, bytearray()
    field, value = bytearray(), bytearray()

    def part_begin():
        headers.clear()
        data.clear()

    def header_end():
        headers[bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def part_end():
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        parts[disposition.get(b"name", b"")] = bytes(data)

    parser = MultipartParser(options[b"boundary"], {
        "on_part_begin": part_begin, "on_header_end": header_end, "on_part_end": part_end,
        "on_header_field": lambda chunk, start, end: field.extend(chunk[start:end]),
        "on_header_value": lambda chunk, start, end: value.extend(chunk[start:end]),
        "on_part_data": lambda chunk, start, end: data.extend(chunk[start:end])})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise HTTPException(400, "the multipart body is malformed") from None
    return parts


def unicode_text(value: str, what: str) -> str:
    """`value`, if it can be stored and sent back as UTF-8; JSON's `\\ud800` escapes can spell
    lone surrogates that cannot, and one stored would break every later answer that lists it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPException(400, f"{what} is not valid Unicode text") from None
    return value


def parse_metadata(text: str) -> tuple[int, str | None, list[str]]:
    """(capture ms, comment, tags) from the metadata part, read as the real server reads it;
    400 if it breaks the contract.

    The time is a Java double (a Python float is one) kept as `(long)(secs * 1000)`: truncated
    after the multiplication, so 1.001 s is 1000 ms. Tags are one comma-separated string, cleaned
    as the real server cleans them; a JSON list is refused.
    """
    try:  # NaN and Infinity stay strings, so they fail the number check below
        meta = json.loads(text, parse_int=float, parse_constant=str)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        raise HTTPException(400, "metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise HTTPException(400, "metadata must be a JSON object")
    secs = meta.get("capture_time_secs_utc")
    if not (isinstance(secs, float) and secs >= 0 and java_long(secs * 1000) <= MAX_CAPTURE_MS):
        raise HTTPException(400, "metadata.capture_time_secs_utc is required: seconds, >= 0, "
                                 "before the year 10000")
    comment, tags = meta.get("comment"), meta.get("tags")
    if comment is not None and not isinstance(comment, str):
        raise HTTPException(400, "metadata.comment must be a string")
    if comment is not None:
        unicode_text(comment, "metadata.comment")
    if tags is not None and not isinstance(tags, str):
        raise HTTPException(400, "metadata.tags must be one comma-separated string")
    return java_long(secs * 1000), comment, clean_tags(tags)


def create_app(store: Store, accounts: dict[str, Account], faults: Faults,
               delay_ms: int = 0, max_upload_mb: int = 100):
    """The ASGI app: routes in Starlette, wrapped in the FrontDoor."""
    max_body = max_upload_mb * 2**20

    def account(request: Request, uid: int | None = None) -> Account:
        """The signed-in account; 403 if the URL names another guest's timeline."""
        me = request.state.account
        if uid is not None and uid != me.id:
            raise HTTPException(403, f"User [{me.id}] is not authorized to access or modify "
                                     f"metadata for facets owned by user [{uid}] in connector "
                                     "[FluxtreamCapture]")
        return me

    async def own_photo(request: Request):
        me = account(request, request.path_params["uid"])
        photo_id = request.path_params["id"]
        found = None
        if photo_id <= SQLITE_INT_MAX:  # no row can be above it (and SQLite cannot bind it)
            found = await run_in_threadpool(store.by_id, me.id, photo_id)
        if found is None:
            raise HTTPException(404, unknown_photo(me.id, photo_id))
        return me, found

    async def guest(request: Request):
        if faults.guest_ko:  # what the real server answers when looking the guest up fails
            return ko(200, "Failed to get current guest: null")
        return answer(account(request).as_guest())

    async def upload(request: Request):
        """Store one photo (or find it again): created/updated, 400, 415, 500, and the faults.
        The v1 path answers the bare payload (and its errors in plain text)."""
        me = account(request)
        connector = request.query_params.get("connector_name")
        if connector is None:  # the real server's Connector.getConnector(null) throws
            raise HTTPException(500, "Upload failed due to an unexpected exception")
        if connector.lower() != "fluxtream_capture":
            raise HTTPException(400, "Upload failed because photo uploads are currently only "
                                     "allowed for the Fluxtream Capture connector")
        parts = await parts_by_name(request)
        data, metadata = parts.get(b"photo"), parts.get(b"metadata")
        if data is None or metadata is None:
            raise HTTPException(400, "Upload failed because both the 'photo' and 'metadata' parts"
                                     " are required and must be non-null")
        capture_ms, comment, tags = parse_metadata(metadata.decode("utf-8", "replace"))
        if not data:
            raise HTTPException(400, "the photo is empty")
        media_type = sniff(data)
        if media_type is None:
            raise HTTPException(415, UNSUPPORTED)
        try:
            picture = await run_in_threadpool(decode, data, media_type)
        except Undecodable:
            raise HTTPException(400, UNDECODABLE) from None
        fault = faults.draw()
        if fault == "fail":
            raise HTTPException(500, "Photo upload failed because of an injected storage failure")
        operation, photo_id, key = await run_in_threadpool(
            store.save, me.id, data, capture_ms, picture, comment, tags)
        if fault == "drop":
            return DropConnection()
        if fault == "after_store":
            raise HTTPException(503, "Service Unavailable: the photo was stored, then an "
                                     "injected failure")
        payload = {"operation": operation, "key": key, "id": photo_id}
        if answers_like_v1(request):
            return answer(payload)
        return answer({"result": "OK", "message": f"photo {operation} sucessfully!",
                       "payload": payload})

    async def photo(request: Request):
        """The photo's bytes; 403 if the key names another guest, 404 if there is no such key.
        The key is read from the raw path, so that bytes that are not UTF-8 are quoted back as
        escapes (`\\xff`), not as replacement characters."""
        me = account(request)
        raw_key = unquote_to_bytes(request.scope["raw_path"].partition(b"/photo/")[2])
        key = raw_key.decode("utf-8", "surrogateescape")
        owner, dot, _ = key.partition(".")
        if dot and owner.isascii() and owner.isdigit() and int(owner) != me.id:
            raise HTTPException(403, f"User [{me.id}] is not authorized to view photo [{key}]")
        found = None
        if key.isascii():  # every key is; others could not even be looked up
            found = await run_in_threadpool(store.by_key, me.id, key)
        if found is None:
            raise HTTPException(404, f"Photo [{key}] requested by user [{me.id}] not found")
        return FileResponse(found.path, media_type=found.media_type)

    async def photo_thumbnail(request: Request):
        """Thumbnail 0, 1 or 2 of the list item, made when asked for; 403 for another guest's
        photo (the real server's thumbnail path checks only the owner)."""
        me, index = request.state.account, request.path_params["index"]
        if request.path_params["uid"] != me.id:
            raise HTTPException(403, f"User [{me.id}] is not authorized to view photo "
                                     f"[{request.path_params['uid']}/{request.path_params['id']}"
                                     f"/{index}]")
        _, found = await own_photo(request)
        if found.picture is None or index > 2:
            raise HTTPException(404, f"Photo [{me.id}/{found.id}/{index}] requested by user "
                                     f"[{me.id}] not found")
        data = await run_in_threadpool(thumbnail, found.path, thumbnail_sizes(found.picture)[index])
        return Response(data, media_type="image/jpeg")

    async def photos(request: Request):
        """Up to `count` photos at or before (isBefore=true) or at or after the cursor, nearest
        first; another guest's timeline is a 200 with a KO body, as on the real server."""
        me = request.state.account
        if request.path_params["uid"] != me.id:
            return ko(200, "Access Denied")
        is_before = request.query_params.get("isBefore", "").lower() == "true"  # Java's reading
        found = await run_in_threadpool(
            store.nearest, me.id, java_long(request.path_params["secs"] * 1000),
            min(request.path_params["count"], SQLITE_INT_MAX), is_before)
        return answer([photo_item(p, me.id) for p in found])

    async def get_metadata(request: Request):
        _, found = await own_photo(request)
        return answer(facet_metadata(found))

    async def set_metadata(request: Request):
        """Replace the comment and/or the tags (form fields `comment`, `tags`: one
        comma-separated string, cleaned as at upload); 400 if neither is given."""
        me, found = await own_photo(request)
        async with request.form() as form:
            comment, tags = form.get("comment"), form.get("tags")
        if isinstance(comment, UploadFile) or isinstance(tags, UploadFile):
            raise HTTPException(400, "comment and tags must be text fields, not files")
        if comment is None and tags is None:
            raise HTTPException(400, "Nothing changed since comment and tags were both null")
        if comment is not None:
            unicode_text(comment, "comment")
        changed = await run_in_threadpool(store.set_metadata, me.id, found.id, comment,
                                          None if tags is None else clean_tags(tags))
        return answer({"result": "OK", "message": "Metadata updated successfully!",
                       "payload": facet_metadata(changed)})

    async def delete(request: Request):
        """The owner's delete: 200 with an empty body; another guest's timeline is a bare 401."""
        if request.path_params["uid"] != request.state.account.id:
            return Response(status_code=401)
        me, found = await own_photo(request)
        await run_in_threadpool(store.delete, me.id, found.id)
        return Response(status_code=200)

    def answers_like_v1(request: Request) -> bool:
        """The v1 paths answer bare payloads and plain-text errors; with --bare-payload, so does
        the documented upload path."""
        path = request.url.path
        return path.startswith("/api/v1/") or (faults.bare_payload
                                               and path == "/api/bodytrack/photoUpload")

    async def http_error(request: Request, exc: HTTPException):
        if answers_like_v1(request):
            return plain(exc.status_code, exc.detail)
        return ko(exc.status_code, exc.detail, exc.headers)

    async def server_error(request: Request, exc: Exception):
        return ko(500, "Internal Server Error")

    async def body_too_large(request: Request, exc: BodyTooLarge):
        return too_large(max_body)

    metadata_path = "/api/bodytrack/metadata/{uid:int}/FluxtreamCapture.photo/{id:int}"
    app = Starlette(
        routes=[
            Route("/api/guest", guest),
            Route("/api/bodytrack/photoUpload", upload, methods=["POST"]),
            Route("/api/v1/bodytrack/photoUpload", upload, methods=["POST"]),
            Route("/api/v1/bodytrack/photo/{uid:int}/{id:int}", delete, methods=["DELETE"]),
            Route("/api/bodytrack/photo/{key:path}", photo),
            Route("/api/v1/bodytrack/photo/{key:path}", photo),
            Route("/api/bodytrack/photos/{uid:int}/FluxtreamCapture.photo/{secs:float}/{count:int}",
                  photos),
            Route("/api/v1/bodytrack/photoThumbnail/{uid:int}/{id:int}/{index:int}",
                  photo_thumbnail),
            Route(metadata_path + "/get", get_metadata),
            Route(metadata_path + "/set", set_metadata, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error, BodyTooLarge: body_too_large,
                            Exception: server_error},
    )
    return FrontDoor(app, accounts, delay_ms, max_body, faults.login_redirect)
