"""The upload client: every approved photo on a Fluxtream timeline exactly once, at its approved time.

The server keeps a second copy when a photo arrives again with another time, and also when two
requests for one photo overlap (its de-duplication has no lock), and offers no delete through
the upload API. So the client remembers what it sent in the ledger (`ledger.py`): an intent is
committed before each request and its answer after it, keyed by the ORIGINAL file's sha256 and
the approved millisecond; what is sent may be a conversion (`convert.py`), whose own sha256 and
key the ledger keeps beside it. A photo is never in flight twice (byte-identical copies of one
file are one photo), and nothing is ever re-POSTed blindly: after a timeout, a dropped
connection or a 5xx the client asks `GET /api/bodytrack/photo/<expected key>` whether the
photo landed before it sends again, and a rerun asks the same for every unanswered intent.

Only the contract's JSON is an answer. A redirect or an HTML page (a login page) stops the run;
a malformed answer fails its photo. A server that stops answering stops the run
(ServerUnreachable) after `max_connect_failures` requests in a row could not connect, or
`silence_seconds` of waiting without any answer; the photos in flight end first, the statuses
are saved, and a rerun continues where it stopped.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pandas as pd
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from . import convert
from .approvals import is_approved, uploadable
from .readers import SNIFF_BYTES, sniff_type
from .fluxtream import photo_key, printable
from .ledger import History, Ledger, apply_ledger, changed_paths, read_history
from .times import millis

CONNECTOR = "fluxtream_capture"
UPLOAD_PATH = "api/bodytrack/photoUpload"
PHOTO_PATH = "api/bodytrack/photo/"
#: Answers after which the photo may or may not have landed: ask before sending again.
UNCERTAIN_STATUSES = (408, 429, 500, 502, 503, 504)
#: At most this many photos in flight by default: a real Fluxtream server is small.
DEFAULT_WORKERS = 8


class UploadError(RuntimeError):
    """Stops the whole run before any photo is sent (credentials, server, usage): exit code 2."""

    code = 2


class RunStopped(UploadError):
    """The run stopped early, or could not start, for a reason a later run may not meet (a
    server error at the credentials check, a login page mid-run): exit 1."""

    code = 1


class ServerUnreachable(RunStopped):
    """The server does not answer (at the start, or no longer): the run stops early, exit 1."""


class NoAnswer(RuntimeError):
    """No answer came to a request however often it was asked (the message says why)."""


def wire_seconds(capture_ms: int) -> str:
    """Seconds that a server reading `(long)(secs * 1000)` (Java's truncation of a double) takes
    for exactly this millisecond: written to a tenth of a millisecond past it (`1400269584.1234`)."""
    whole, frac = divmod(capture_ms, 1000)
    return f"{whole}.{frac:03d}4"


def metadata_json(capture_ms: int, tags: str | None = None) -> str:
    """The metadata part: the approved millisecond as `wire_seconds`; `tags`: one
    comma-separated string."""
    tagged = f', "tags": {json.dumps(tags)}' if tags else ""
    return f'{{"capture_time_secs_utc": {wire_seconds(capture_ms)}{tagged}}}'


def photo_tags(tags: tuple[str, ...], folder: str | None) -> str | None:
    """The tags a photo is created with: the `tags` given, then (when `folder` is given) its
    folder's name with commas made spaces, as one comma-separated string."""
    words = [tag.strip() for tag in tags]
    if folder:
        words.append(Path(folder).name.replace(",", " ").strip())
    return ",".join(word for word in words if word) or None


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, allow_http: bool) -> str:
    """The server URL with a trailing slash; plain http only to loopback or when allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UploadError(f"--server must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not (allow_http or is_loopback(url)):
        raise UploadError(f"refusing plain http to {parts.hostname}: the password would travel "
                          "in clear text; use https, or --allow-http if you must")
    return url if url.endswith("/") else url + "/"


def candidates(resolved: pd.DataFrame, selected: pd.Series | None = None) -> pd.DataFrame:
    """The rows upload may send: approved, with a time and no read error, within the selection."""
    wanted = is_approved(resolved) & uploadable(resolved)
    if selected is not None:
        wanted &= selected
    return resolved[wanted]


# --- what an answer means -------------------------------------------------------------------

@dataclass
class Result:
    """One photo's outcome. `then`: None when final, "check" when the photo may have landed
    (ask before sending again), "stop" when the server is not answering as Fluxtream (a login
    page): the run stops."""

    status: str  # uploaded, updated, failed: ..., rejected: ..., unsupported_format, ...
    operation: str | None = None  # created, updated, or found (by asking after a lost answer)
    key: str | None = None
    photo_id: int | None = None
    then: str | None = None


def is_html(content_type: str, content: bytes) -> bool:
    return "html" in content_type.lower() or content.lstrip()[:1] == b"<"


def json_object(content: bytes) -> dict | None:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def not_fluxtream(status: int, content_type: str, location: str | None,
                  content: bytes) -> str | None:
    """Why an answer is no Fluxtream API answer at all (a redirect, an HTML page), or None."""
    if 300 <= status < 400:
        return f"a redirect ({status} to {printable(location or '?')})"
    if is_html(content_type, content):
        return f"an HTML page ({status})"
    return None


def interpret(status: int, content: bytes, content_type: str = "application/json",
              location: str | None = None, expected_key: str | None = None) -> Result:
    """What one answer to a photo upload means. Only the contract's JSON counts: `OK` with a
    created/updated payload and the expected key is success; a redirect or an HTML page stops
    the run; a `KO` is refused (415: format; other 4xx: rejected) or failed (5xx and 408/429:
    may have landed; the 200 KO of an internal error); anything else failed."""
    stop = not_fluxtream(status, content_type, location, content)
    if stop:
        return Result(f"failed: {stop}, not Fluxtream's answer", then="stop")
    body = json_object(content) or {}
    payload = body.get("payload")
    if (status == 200 and body.get("result") == "OK" and isinstance(payload, dict)
            and payload.get("operation") in ("created", "updated")
            and isinstance(payload.get("key"), str)):
        operation, key = payload["operation"], payload["key"]
        if expected_key is not None and key != expected_key:
            return Result(f"failed: the server answered key {printable(key)}, not the expected "
                          f"{expected_key}")
        photo_id = payload.get("id")
        return Result("uploaded" if operation == "created" else "updated", operation, key,
                      photo_id if isinstance(photo_id, int) else None)
    uncertain = "check" if status in UNCERTAIN_STATUSES or status >= 500 else None
    if body.get("result") != "KO":
        bare = " with a bare payload" if {"operation", "key"} <= body.keys() else ""
        return Result(f"failed: not a Fluxtream answer ({status}{bare})", then=uncertain)
    message = printable(str(body.get("message") or status))
    if status == 415:
        return Result("unsupported_format")
    if status == 401:
        return Result(f"failed: 401 {message}", then="stop")
    if uncertain or status == 200:
        return Result(f"failed: {status} {message}", then=uncertain)
    return Result(f"rejected: {message}")


def could_not_connect(exc: BaseException) -> bool:
    """True when no connection was made at all: refused, no route or name, connect timeout."""
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError and NameResolution too


def why_no_answer(exc: BaseException) -> str:
    """The deepest reason an answer never came, in words ('Connection refused', 'timed out')."""
    seen, words = exc, type(exc).__name__
    for _ in range(20):  # a cause chain is short; the bound only guards against a cycle
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.strerror:
            return printable(seen.strerror)
        words = str(seen) or type(seen).__name__
        seen = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
    return printable(words)


# --- the HTTP client -----------------------------------------------------------------------

class StoppableRetry(Retry):
    """urllib3's retries of connections that could not be made (nothing reached the server, so
    nothing can have landed), with backoff; they give up at once (and stop sleeping) when
    `stop` is set, so a stopped run is not held up by photos still retrying."""

    def __init__(self, *args, stop: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = stop

    def new(self, **kw):
        return super().new(stop=self.stop, **kw)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        if self.stop.is_set():
            reason = error or ResponseError("the upload was stopped")
            raise MaxRetryError(_pool, url, reason) from reason
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response=None):
        self.stop.wait(self.get_backoff_time())


class Reachability:
    """Whether the server still answers, from what the workers see: how many requests in a row
    could not connect, and how long the client has waited with no answer at all (time with no
    request out, e.g. reading files, does not count). Shared by the worker threads."""

    def __init__(self, max_connect_failures: int, silence_seconds: float):
        self.max_connect_failures, self.silence_seconds = max_connect_failures, silence_seconds
        self.lock = threading.Lock()
        self.failures, self.last_failure = 0, ""
        self.outstanding, self.silent, self.waiting_since = 0, 0.0, None

    def sending(self) -> None:
        with self.lock:
            if not self.outstanding:
                self.waiting_since = time.monotonic()
            self.outstanding += 1

    def answered(self) -> None:
        with self.lock:
            self.outstanding -= 1
            self.failures, self.silent = 0, 0.0
            self.waiting_since = time.monotonic() if self.outstanding else None

    def unanswered(self, connect_failed: bool, why: str) -> None:
        with self.lock:
            self.outstanding -= 1
            if connect_failed:
                self.failures, self.last_failure = self.failures + 1, why
            if not self.outstanding:
                self.silent += time.monotonic() - self.waiting_since
                self.waiting_since = None

    def verdict(self) -> str | None:
        """Why the server counts as unreachable now, or None."""
        with self.lock:
            silent = self.silent + (time.monotonic() - self.waiting_since
                                    if self.waiting_since is not None else 0.0)
            if self.failures >= self.max_connect_failures:
                return f"{self.failures} requests in a row could not connect ({self.last_failure})"
            if silent >= self.silence_seconds:
                return f"no answer at all for {silent:.0f} s"
        return None


@dataclass
class Answer:
    status: int
    content_type: str
    location: str | None
    content: bytes


class Client:
    """One keep-alive connection pool shared by the worker threads; no redirect is followed and
    nothing but a connection that could not be made is retried by the HTTP layer.

    `password` may be a function, called at the first request (so a run with nothing to send
    never asks for it). `retries`: how many times a photo is sent again after an answer that
    leaves it off the server (and how often a connection is retried); `backoff`: the first pause
    between attempts (doubling, with jitter). `max_connect_failures` and `silence_seconds` say
    when the server counts as unreachable (see Reachability); `stop()` ends every retry and
    pause at once.
    """

    def __init__(self, base_url: str, user: str, password, verify=True, retries: int = 6,
                 backoff: float = 0.2, timeout: float = 60.0, max_connect_failures: int = 10,
                 silence_seconds: float = 60.0):
        self.base_url, self.user, self._password = base_url, user, password
        self.retries, self.backoff = retries, backoff
        self.stopped = threading.Event()
        self.connect_retry = StoppableRetry(
            total=None, connect=retries, read=0, status=0, other=0, redirect=False,
            backoff_factor=backoff, backoff_max=10.0, backoff_jitter=backoff,
            raise_on_status=False, raise_on_redirect=False, stop=self.stopped)
        self.timeout = urllib3.Timeout(connect=10.0, read=timeout)
        self.verify = verify
        self.limits = max_connect_failures, silence_seconds
        self.reach = Reachability(*self.limits)
        self._pool = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        """A new run (the client may serve several): nothing stopped, nothing failed yet."""
        self.stopped.clear()
        self.reach = Reachability(*self.limits)

    def stop(self) -> None:
        self.stopped.set()

    def pool(self) -> tuple[urllib3.PoolManager, dict]:
        """The connection pool and the headers of every request (the password is asked for
        here, once)."""
        with self._lock:
            if self._pool is None:
                password = self._password() if callable(self._password) else self._password
                self._headers = urllib3.make_headers(basic_auth=f"{self.user}:{password}",
                                                     keep_alive=True, user_agent="photoflux")
                ca_certs = self.verify if isinstance(self.verify, str) else _default_ca_file()
                self._pool = urllib3.PoolManager(num_pools=2, maxsize=64,
                                                 cert_reqs="CERT_REQUIRED", ca_certs=ca_certs)
            return self._pool, self._headers

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, connect_retries: int | None = None) -> Answer:
        """One request, its answer read whole, no redirect followed. Raises urllib3's HTTPError
        when no answer came (after retrying connections that could not be made: `retries`
        times, or `connect_retries`)."""
        pool, headers = self.pool()
        if content_type:
            headers = {**headers, "Content-Type": content_type}
        self.reach.sending()
        try:
            retry = self.connect_retry if connect_retries is None else self.connect_retry.new(
                connect=connect_retries)
            response = pool.request(method, self.base_url + path, body=body, headers=headers,
                                    redirect=False, retries=retry, timeout=self.timeout)
        except HTTPError as exc:
            self.reach.unanswered(could_not_connect(exc), why_no_answer(exc))
            raise
        self.reach.answered()
        return Answer(response.status, response.headers.get("Content-Type", ""),
                      response.headers.get("Location"), response.data)

    def guest(self) -> dict:
        """Who we are (`id` is the guest id). A wrong password or an answer that is not
        Fluxtream's (a redirect, a login page, a wrong --server) stops everything before a
        photo is sent (UploadError, exit 2); a server error or a 200 KO (RunStopped) and a
        server that does not answer (ServerUnreachable) stop it too, exit 1."""
        url = self.base_url + "api/guest"
        try:  # a wrong address or port is said within about 1.5 s, not after every retry
            answer = self.request("GET", "api/guest", connect_retries=min(3, self.retries))
        except HTTPError as exc:
            if isinstance(getattr(exc, "reason", None), urllib3.exceptions.SSLError):
                raise UploadError(f"cannot reach {self.base_url}: {why_no_answer(exc)}") from None
            raise ServerUnreachable(f"server unreachable: {self.base_url} does not answer "
                                    f"({why_no_answer(exc)})") from None
        if answer.status == 401:
            raise UploadError(f"the server refused user {self.user!r}: wrong user or password")
        stop = not_fluxtream(answer.status, answer.content_type, answer.location, answer.content)
        if stop:
            raise UploadError(f"{url} answered {stop}, not Fluxtream's JSON: is --server the "
                              "Fluxtream base URL, and not behind a login page?")
        guest = json_object(answer.content)
        if answer.status >= 500 or (answer.status == 200 and guest is not None
                                    and guest.get("result") == "KO"):
            message = printable(str((guest or {}).get("message") or "")) or "no message"
            raise RunStopped(f"{url} answered {answer.status} ({message}): the server cannot "
                             "say who you are now; nothing was sent, try again later")
        guest_id = (guest or {}).get("id")
        if answer.status != 200 or not isinstance(guest_id, int) or isinstance(guest_id, bool):
            raise UploadError(f"{url} answered {answer.status} without Fluxtream's JSON guest "
                              "id: is --server the Fluxtream base URL?")
        return guest

    def ask(self, method: str, path: str) -> Answer:
        """A request that may be repeated (a GET; a DELETE by id): asked again, pausing between
        attempts, after no answer or a JSON 5xx/408/429, at most `retries` times. Returns the
        first other answer (a redirect or an HTML page at once), else the last one; raises
        NoAnswer when none came at all (or the run was stopped before one did)."""
        answer, last = None, "no answer"
        for attempt in range(self.retries + 1):
            if attempt and not self.pause(attempt):
                break
            try:
                answer = self.request(method, path)
            except HTTPError as exc:
                answer, last = None, why_no_answer(exc)
                continue
            if (answer.status < 500 and answer.status not in UNCERTAIN_STATUSES) or not_fluxtream(
                    answer.status, answer.content_type, answer.location, answer.content):
                return answer
        if answer is None:
            raise NoAnswer(last)
        return answer

    def check(self, key: str) -> Result:
        """Whether the photo with this key is on the server (the contract's way to learn if a
        request whose answer was lost landed): `found` as an `uploaded` Result, `absent`, or a
        failed Result saying why it cannot tell (then="stop" for a login page)."""
        try:
            answer = self.ask("GET", PHOTO_PATH + quote(key, safe=""))
        except NoAnswer as exc:
            return Result(f"failed: asking whether it landed got no answer ({exc})")
        stop = not_fluxtream(answer.status, answer.content_type, answer.location, answer.content)
        if stop:
            return Result(f"failed: {stop}, not Fluxtream's answer", then="stop")
        body = json_object(answer.content) or {}
        if answer.status == 200 and body.get("result") != "KO":
            return Result("uploaded", "found", key)
        if answer.status == 404 and body.get("result") == "KO":
            return Result("absent")
        message = f"{answer.status} {printable(str(body.get('message') or ''))}".strip()
        return Result(f"failed: asking whether it landed got {message}")

    def deliver(self, data: bytes, capture_ms: int, key: str, tags: str | None = None,
                name: str = "photo") -> Result:
        """Send one photo, never twice at once and never again before asking: after an answer
        that leaves open whether it landed, `check` the expected key and send again only when
        it is absent (at most `retries` times, pausing between attempts)."""
        body, content_type = urllib3.encode_multipart_formdata([
            ("photo", (name, data, "application/octet-stream")),
            ("metadata", metadata_json(capture_ms, tags))])
        path = f"{UPLOAD_PATH}?connector_name={CONNECTOR}"
        result = Result("failed: not sent")
        for attempt in range(self.retries + 1):
            if attempt and not self.pause(attempt):
                break
            try:
                answer = self.request("POST", path, body, content_type)
            except HTTPError as exc:
                if could_not_connect(exc):  # nothing reached the server
                    return Result(f"failed: could not connect ({why_no_answer(exc)})")
                result = Result(f"failed: no answer ({why_no_answer(exc)})", then="check")
            else:
                result = interpret(answer.status, answer.content, answer.content_type,
                                   answer.location, key)
            if result.then != "check":
                return result
            landed = self.check(key)
            if landed.status != "absent":
                if landed.operation or landed.then == "stop":
                    return landed
                return Result(f"{result.status}; {landed.status[len('failed: '):]}")
        result.then = None
        return result

    def pause(self, attempt: int) -> bool:
        """Wait before attempt `attempt` (backoff doubling from `backoff`, with jitter, at most
        10 s); False when the run was stopped meanwhile."""
        delay = min(10.0, self.backoff * 2 ** (attempt - 1)) + random.uniform(0, self.backoff)
        return not self.stopped.wait(delay)


# --- listing and deleting (reconcile) -----------------------------------------------------------

LIST_PATH = "api/bodytrack/photos/{uid}/FluxtreamCapture.photo/{secs}/{count}?isBefore=false"
DELETE_PATH = "api/v1/bodytrack/photo/{uid}/{photo_id}"
#: Photos asked for per list request (a page; enlarged while one millisecond holds more).
DEFAULT_PAGE_SIZE = 500
_ITEM_ID = r"^FluxtreamCapture\.photo\.(\d{1,18})$"
_ITEM_KEY = r"^\d{1,18}\.FluxtreamCapture\.photo\.\d{7}\.(?P<ms>\d{1,15})_(?P<sha>[0-9a-f]{64})$"


@dataclass
class Listing:
    """What a walk found (`photos`: photo_id, key, sha256, capture_ms, oldest first) and how:
    how many requests it made and the largest count it had to ask for."""

    photos: pd.DataFrame
    requests: int
    largest_page: int


def parse_page(items: list) -> pd.DataFrame:
    """A list answer's items as rows: photo_id (the last part of `id`), key (the last part of
    `url`: items carry no key) and, from the key, the sha256 of the bytes and the capture
    millisecond. ValueError naming the first item that is no FluxtreamCapture photo."""
    raw = pd.DataFrame(items, columns=["id", "url"], dtype=object)
    ids = raw["id"].astype("string").str.extract(_ITEM_ID, expand=False)
    keys = raw["url"].astype("string").str.rsplit("/", n=1).str[-1]
    parts = keys.str.extract(_ITEM_KEY)
    bad = (ids.isna() | parts["sha"].isna()).to_numpy(bool)
    if bad.any():
        item = raw[bad].iloc[0]
        raise ValueError(f"a list item that is no FluxtreamCapture photo (id "
                         f"{printable(str(item['id']))}, url {printable(str(item['url']))})")
    return pd.DataFrame({"photo_id": ids.astype("int64").to_numpy(),
                         "key": keys.astype(object).to_numpy(),
                         "sha256": parts["sha"].astype(object).to_numpy(),
                         "capture_ms": parts["ms"].astype("int64").to_numpy()})


def ask_api(client: Client, method: str, path: str) -> Answer:
    """client.ask, for a run that must stop when the server does not answer as Fluxtream: no
    answer (ServerUnreachable), a redirect or an HTML page, a 401 (RunStopped)."""
    try:
        answer = client.ask(method, path)
    except NoAnswer as exc:
        raise ServerUnreachable(f"server unreachable: {client.base_url} does not answer "
                                f"({exc})") from None
    stop = not_fluxtream(answer.status, answer.content_type, answer.location, answer.content)
    if stop:
        raise RunStopped(f"{client.base_url}{path} answered {stop}, not Fluxtream's answer: is "
                         "the server behind a login page?")
    if answer.status == 401:
        raise RunStopped(f"{client.base_url}{path} answered 401: the server does not let user "
                         f"{client.user!r} do this")
    return answer


def list_page(client: Client, guest_id: int, at_ms: int, count: int) -> pd.DataFrame:
    """Up to `count` photos captured at or after `at_ms`, nearest first, as parse_page rows.
    The cursor is sent as `wire_seconds`, which the server reads as exactly that millisecond."""
    path = LIST_PATH.format(uid=guest_id, secs=wire_seconds(at_ms), count=count)
    answer = ask_api(client, "GET", path)
    try:
        body = json.loads(answer.content)
    except (ValueError, RecursionError):
        body = None
    if answer.status == 200 and isinstance(body, list) and all(isinstance(i, dict) for i in body):
        try:
            return parse_page(body)
        except ValueError as exc:
            raise RunStopped(f"{client.base_url}{path} answered {exc}") from None
    message = printable(str((json_object(answer.content) or {}).get("message") or ""))
    raise RunStopped(f"{client.base_url}{path} answered {answer.status} {message}".rstrip()
                     + " instead of a list of photos")


def walk(client: Client, guest_id: int, page_size: int = DEFAULT_PAGE_SIZE,
         progress: bool = False) -> Listing:
    """Every FluxtreamCapture photo of the user, from the epoch on, in pages of `page_size`.

    Each page starts at the latest millisecond of the page before, which both directions of
    the list API include: pages overlap, and are de-duplicated by photo id. A page that does
    not get past its cursor is the last when it is not full (everything from the cursor on is
    in it); when it is full (one millisecond holds more photos than a page) it is asked for
    again with twice the count, and the next page is `page_size` again. The end is never
    inferred from a short page that got past its cursor, so a server that caps the count loses
    no photo; one that caps it below what a millisecond holds stops the run (RunStopped).
    """
    from tqdm import tqdm

    pages, seen, cursor, count, requests, largest = [], set(), 0, page_size, 0, page_size
    held = 0  # how many a full page at this cursor held: a doubled count must give more
    with tqdm(desc="listing", unit="photo", disable=not progress) as bar:
        while True:
            page = list_page(client, guest_id, cursor, count)
            requests, largest = requests + 1, max(largest, count)
            pages.append(page)
            before = len(seen)
            seen.update(page["photo_id"].tolist())
            bar.update(len(seen) - before)
            latest = int(page["capture_ms"].max()) if len(page) else cursor
            if latest > cursor:
                cursor, count, held = latest, page_size, 0
            elif len(page) < count:
                break
            elif len(page) <= held:
                raise RunStopped(f"{client.base_url} lists at most {len(page)} photos at once, "
                                 f"and more are at one millisecond ({cursor}): they cannot all "
                                 "be listed")
            else:
                count, held = count * 2, len(page)
    photos = pd.concat(pages, ignore_index=True).drop_duplicates("photo_id")
    return Listing(photos.sort_values(["capture_ms", "photo_id"], ignore_index=True), requests,
                   largest)


def delete_copies(plan: pd.DataFrame, client: Client, ledger: Ledger, guest_id: int,
                  done: dict) -> None:
    """Delete the plan's copies (reconcile.repair_plan rows) by photo id, one at a time, each
    outcome into `done` (photo_id -> "deleted", "already gone" (a 404), "skipped: ..." or
    "failed: ..."). A copy is deleted only while its photo's approved copy (`kept_key`) is on
    the server, asked for just before; the deletion is committed to the ledger as an intent
    before its request and as done after it. A redirect, a login page, a 401 or no answer
    stops the run (RunStopped, ServerUnreachable)."""
    server, user = client.base_url, client.user
    confirmed: dict[str, Result] = {}
    for copy in plan.to_dict("records"):  # one request per copy: the loop is the I/O
        photo_id = int(copy["photo_id"])
        if not isinstance(copy["kept_key"], str):
            done[photo_id] = "skipped: its approved copy is not on the server (upload it first)"
            continue
        kept = confirmed.get(copy["kept_key"]) or client.check(copy["kept_key"])
        confirmed[copy["kept_key"]] = kept
        if kept.then == "stop":
            raise RunStopped(f"{server} answered {kept.status[len('failed: '):]}")
        if kept.status != "uploaded":
            done[photo_id] = ("skipped: its approved copy is no longer on the server"
                              if kept.status == "absent" else f"skipped: {kept.status}")
            continue
        ledger.deletion_intent(server, user, copy)
        answer = ask_api(client, "DELETE", DELETE_PATH.format(uid=guest_id, photo_id=photo_id))
        if answer.status in (200, 204, 404):
            outcome = "deleted" if answer.status != 404 else "already gone"
            ledger.deleted(server, user, photo_id, copy["key"], outcome)
        else:
            message = printable(answer.content[:200].decode("utf-8", "replace"))
            outcome = f"failed: {answer.status} {message}".rstrip()
            ledger.deletion_failed(server, user, photo_id, outcome)
        done[photo_id] = outcome


def _default_ca_file() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store, through OpenSSL's defaults
        return None
    return certifi.where()


# --- what to send ---------------------------------------------------------------------------

@dataclass
class Prepared:
    data: bytes
    sha256: str  # of `data`
    converter: str | None  # what made `data`, when it is not the file itself


def prepare(row: dict, conversion: bool) -> Prepared | Result:
    """The bytes to send for a photo: the file's own when the server takes them, else (when
    `conversion`) a JPEG made of it; a Result when there are none to send."""
    try:
        data = Path(row["path"]).read_bytes()
    except OSError as exc:
        return Result(f"failed: cannot read the file ({printable(str(exc.strerror))})")
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        return Result("failed: file changed since it was approved "
                      "(run extract and resolve, then approve again)")
    kind = sniff_type(data[:SNIFF_BYTES])
    if kind in convert.AS_THEY_ARE:
        return Prepared(data, row["sha256"], None)
    if not conversion or kind not in convert.CONVERTIBLE:
        return Result("unsupported_format")
    try:
        made = convert.to_jpeg(data, kind)
    except convert.Unsupported:
        return Result("unsupported_format")
    except convert.ConversionFailed as exc:
        return Result(f"failed: cannot convert ({printable(str(exc))})")
    return Prepared(made.data, hashlib.sha256(made.data).hexdigest(), made.how)


def read_password(server: str, user: str, prompt) -> str:
    """FLUXTREAM_PASSWORD, else ~/.netrc for the server's host, else a prompt without echo."""
    import netrc

    if os.environ.get("FLUXTREAM_PASSWORD"):
        return os.environ["FLUXTREAM_PASSWORD"]
    host = urlsplit(server).hostname
    try:
        entry = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError):
        entry = None
    if entry and entry[2] and (not entry[0] or entry[0] == user):
        return entry[2]
    if prompt is None:
        raise UploadError(f"no password for {user}@{host}: set FLUXTREAM_PASSWORD or add a "
                          "~/.netrc entry (no terminal to ask on)")
    return prompt(f"Fluxtream password for {user}@{host}: ")


@dataclass(frozen=True)
class Options:
    """How a run sends: at most `workers` photos in flight; `allow_retime` / `allow_resend`
    send photos the ledger blocks (a second copy on the timeline); `convert` makes JPEGs of
    the formats the server refuses; `tags` (and, with `tag_folder`, each photo's folder name)
    go with every photo the server creates."""

    workers: int = DEFAULT_WORKERS
    allow_retime: bool = False
    allow_resend: bool = False
    convert: bool = True
    tags: tuple[str, ...] = ()
    tag_folder: bool = False


#: What a run does with each candidate, in the order the verdicts are decided.
VERDICTS = ("already_on_server", "before_epoch", "blocked_changed", "blocked_retimed",
            "unsupported_format", "send")


@dataclass
class Plan:
    """`rows`: the candidates (index: the resolved table's) with `capture_ms`, `verdict` and
    whether the ledger saw their path with other bytes (`changed`) or their bytes at another
    time (`retimed`). `send`: one row per photo to send, the first of the rows sharing its
    bytes and time, with `copies` and `paths` (of all those rows, when there are several) and
    `check_key` (the key of an unanswered earlier attempt, asked for before anything is
    sent)."""

    rows: pd.DataFrame
    send: pd.DataFrame

    def count(self, verdict: str) -> int:
        return int((self.rows["verdict"] == verdict).sum())

    def converted(self) -> int:
        """How many of the photos to send are not JPEG, PNG or GIF (made into a JPEG)."""
        return int((~self.send["file_type"].isin(convert.AS_THEY_ARE)).sum())


def make_plan(rows: pd.DataFrame, history: History, options: Options = Options()) -> Plan:
    """Decide each candidate's verdict from the ledger of this server and user."""
    rows = rows.assign(capture_ms=millis(rows["capture_time_secs_utc"]))
    photo = pd.MultiIndex.from_arrays([rows["sha256"], rows["capture_ms"]])
    sends = history.sends.astype({"capture_ms": "Int64"})
    acked = sends[sends["acked_at"].notna()]
    done = photo.isin(pd.MultiIndex.from_arrays([acked["sha256"], acked["capture_ms"]]))
    changed = changed_paths(rows, history.sent_paths())[0].notna().to_numpy()
    maybe = history.may_be_on_server().astype({"capture_ms": "Int64"})
    pairs = rows[["sha256", "capture_ms"]].rename_axis("row").reset_index().merge(
        maybe[["sha256", "capture_ms"]].drop_duplicates(), on="sha256", suffixes=("", "_sent"))
    retimed = rows.index.isin(pairs.loc[pairs["capture_ms_sent"] != pairs["capture_ms"], "row"])
    notes = history.notes
    unsupported_note = notes[(notes["outcome"] == "unsupported_format")
                             & (notes["converter"] == convert.VERSION)]
    kinds = convert.AS_THEY_ARE + (convert.CONVERTIBLE if options.convert else ())
    unsupported = ~rows["file_type"].isin(kinds).to_numpy() | (options.convert & photo.isin(
        pd.MultiIndex.from_arrays([unsupported_note["sha256"],
                                   unsupported_note["capture_ms"].astype("Int64")])))
    verdict = np.select(
        [done, (rows["capture_ms"] < 0).to_numpy(bool), changed & (not options.allow_resend),
         retimed & (not options.allow_retime), unsupported], VERDICTS[:-1], VERDICTS[-1])
    rows = rows.assign(verdict=verdict, changed=changed & ~done, retimed=retimed & ~done)
    return Plan(rows, _sends(rows[rows["verdict"] == "send"], history.unanswered()))


def _sends(send: pd.DataFrame, unanswered: pd.DataFrame) -> pd.DataFrame:
    """One row per photo (bytes and time) to send, with check_key (the expected key of its
    `unanswered` send, if any) and, when byte-identical copies share it, `copies` and `paths`
    (lists; null for a photo of one file, the rule)."""
    photo = ["sha256", "capture_ms"]
    shared = send[send.duplicated(photo, keep=False)]
    groups = shared.rename_axis("row").reset_index().groupby(photo, sort=False).agg(
        copies=("row", list), paths=("path", list))
    first = send[~send.duplicated(photo)]
    keys = unanswered.astype({"capture_ms": "Int64"}).set_index(photo)["expected_key"]
    at = pd.MultiIndex.from_arrays([first["sha256"], first["capture_ms"]])
    return first.assign(copies=groups["copies"].reindex(at).to_numpy(),
                        paths=groups["paths"].reindex(at).to_numpy(),
                        check_key=keys.reindex(at).to_numpy())


# --- sending --------------------------------------------------------------------------------

def send_all(plan: Plan, client: Client, ledger: Ledger, guest_id: int, options: Options,
             progress=None):
    """Send the plan's photos, at most `options.workers` at once; yield (index, Result) for
    every row (each copy of a photo gets its photo's result) as answers arrive.

    When the client finds the server unreachable, or an answer says it is not speaking
    Fluxtream (a login page), no further photo starts, the photos in flight end (their retries
    cut short) and are yielded, then ServerUnreachable / RunStopped(why) is raised. Any other
    error (a ledger that cannot be written) stops the same way and is raised as it is.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    server, user = client.base_url, client.user

    def one(row: dict) -> Result:
        if isinstance(row["check_key"], str):  # an earlier attempt's answer never came
            landed = client.check(row["check_key"])
            if landed.status != "absent":
                ledger.outcome(server, user, row, landed)
                return landed
        prepared = prepare(row, options.convert)
        if isinstance(prepared, Result):
            ledger.note(server, user, pd.DataFrame([row]), prepared.status,
                        convert.VERSION if prepared.status == "unsupported_format" else None)
            return prepared
        key = photo_key(guest_id, row["capture_ms"], prepared.sha256)
        ledger.intent(server, user, row, key, prepared.sha256, prepared.converter, row["paths"])
        result = client.deliver(prepared.data, row["capture_ms"], key,
                                photo_tags(options.tags, row["folder"] if options.tag_folder
                                           else None), Path(row["path"]).name)
        ledger.outcome(server, user, row, result)
        return result

    columns = ["path", "sha256", "capture_ms", "folder", "copies", "paths", "check_key"]
    rows = ({"index": index, **dict(zip(columns, values))}
            for index, *values in zip(plan.send.index, *(plan.send[c] for c in columns)))
    why, stopped = None, None
    with ThreadPoolExecutor(max_workers=options.workers) as pool:
        pending = {}
        try:
            while True:
                while why is None and len(pending) < options.workers * 2:  # memory stays flat
                    row = next(rows, None)
                    if row is None:
                        break
                    row["capture_ms"] = int(row["capture_ms"])
                    if not isinstance(row["copies"], list):  # one file: the rule
                        row["copies"], row["paths"] = [row["index"]], [row["path"]]
                    pending[pool.submit(one, row)] = row["copies"]
                if not pending:
                    break
                done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    if progress is not None:
                        progress.update(1)
                    for index in pending.pop(future):
                        yield index, result
                    if result.then == "stop" and why is None:
                        why, stopped = result.status[len("failed: "):], RunStopped
                if why is None and (why := client.reach.verdict()):
                    stopped = ServerUnreachable
                if why is not None:
                    client.stop()
                    for future in [f for f in pending if f.cancel()]:
                        del pending[future]
        finally:  # on any way out, photos still queued never start and retries end at once
            client.stop()
            for future in pending:
                future.cancel()
    if why is not None:
        raise stopped(why)


def dry_run_text(rows: pd.DataFrame, ledger_path: Path, server: str, user: str,
                 options: Options, warn=None) -> str:
    """What a real run would send: counts, first and last time, total bytes, conversions.
    `warn` hears first, as a real run's would, what the allow options would put on the
    timeline twice."""
    plan = make_plan(rows, read_history(ledger_path, server, user), options)
    _warn_twice(plan, options, warn)
    send = plan.send
    lines = [f"dry run: {len(rows)} approved photos selected for {user} at {server}",
             f"  credentials: the server knows {user} and the password",
             f"  would send {len(send)} photos, {int(send['file_size'].sum()):,} bytes "
             "before conversion"]
    if len(send):
        lines.append(f"  first {send['utc_time'].min():%Y-%m-%d %H:%M:%S}Z, "
                     f"last {send['utc_time'].max():%Y-%m-%d %H:%M:%S}Z")
    raw = " (a raw file without an embedded preview is then unsupported_format)" if (
        send["file_type"].isin(convert.RAW).any()) else ""
    lines += [f"  would convert to JPEG: {plan.converted()}{raw}",
              f"  copies of a photo sent with it once: {plan.count('send') - len(send)}",
              f"  already on the server: {plan.count('already_on_server')}",
              f"  blocked (sent before at another time): {plan.count('blocked_retimed')}",
              f"  blocked (file changed since it was sent): {plan.count('blocked_changed')}",
              f"  before 1970-01-01 UTC, cannot be uploaded: {plan.count('before_epoch')}",
              f"  unsupported format, not sent: {plan.count('unsupported_format')}",
              "  nothing was sent or written"]
    return "\n".join(lines)


@dataclass
class Outcome:
    """A run's result: `failed` counts the photos a person must see to (exit code 1); `idle`,
    when a rerun would send nothing, what it would say ({"summary", "failed", "counts"})."""

    selected: int
    counts: dict
    failed: int
    summary: str
    idle: dict | None = None


#: The statuses of a run, in the order its summary gives them.
STATUS_ORDER = ("uploaded", "updated", "failed", "rejected", "blocked_changed", "blocked_retimed",
                "before_epoch", "unsupported_format")
#: Statuses that make the exit code 1: the photo is not on the server and a person must act.
NOT_DONE = ("failed", "rejected", "blocked_changed", "blocked_retimed")


def run(ws, resolved: pd.DataFrame, selected: pd.Series | None, client: Client,
        options: Options, save, progress: bool = False, checkpoint_seconds: float = 5.0,
        warn=None) -> Outcome:
    """The whole upload: open the ledger, plan, check credentials, send, write statuses back.

    Nothing is asked of the server (or of the person, for a password) when there is nothing
    to send. `save(table)` writes the resolved table; it is called every `checkpoint_seconds`
    during the run and once at the end, so a long run's statuses are never all lost. `warn`
    hears, before anything is sent, what the allow options will put on the timeline twice.
    Errors carry their exit code as `.code`: LedgerError (2: the ledger cannot be read, before
    any request; 1: it failed mid-run), UploadError (2: credentials, a server that is not
    Fluxtream), RunStopped and ServerUnreachable (1: statuses so far are saved first).
    """
    rows = candidates(resolved, selected)
    ledger = Ledger(ws.uploads)  # first: an unreadable ledger stops the run before any request
    statuses: dict = {}
    server = client.base_url

    def current(done: dict) -> pd.DataFrame:
        """The table with the ledger's statuses and `done`, this run's statuses so far."""
        table = apply_ledger(resolved, ledger.history())
        changed = pd.Series(done, dtype="string")
        table.loc[changed.index, "upload_status"] = changed
        return table

    try:
        client.begin()
        plan = make_plan(rows, ledger.history(server, client.user), options)
        verdicts = plan.rows["verdict"]
        statuses.update(verdicts[verdicts.isin(VERDICTS[1:-1])].to_dict())
        for verdict in ("before_epoch", "unsupported_format"):
            ledger.note(server, client.user, plan.rows[verdicts == verdict], verdict)
        _warn_twice(plan, options, warn)
        if len(plan.send):
            guest_id = int(client.guest()["id"])
            _send(plan, client, ledger, guest_id, options, statuses, progress,
                  lambda done: save(current(done)), checkpoint_seconds)
        save(current(statuses))
        rerun = make_plan(rows, ledger.history(server, client.user), options)
    finally:
        ledger.close()
    outcome = _outcome(plan, statuses)
    if rerun.send.empty:  # then a rerun on the same tables and ledger can only say this
        idle = _outcome(rerun, rerun.rows["verdict"][rerun.rows["verdict"].isin(VERDICTS[1:])])
        outcome.idle = {"summary": idle.summary, "failed": idle.failed, "counts": idle.counts}
    return outcome


def _outcome(plan: Plan, statuses) -> Outcome:
    """The counts, failures and summary line of a run with this plan and these statuses."""
    this_run = pd.Series(statuses, dtype="str").str.replace(r":.*", "", regex=True)
    sending = plan.rows["verdict"] == "send"
    counts = {"already_on_server": plan.count("already_on_server"),
              **this_run.value_counts().reindex(STATUS_ORDER).dropna().astype(int).to_dict(),
              "retimed_sent": int((plan.rows["retimed"] & sending).sum()),
              "changed_sent": int((plan.rows["changed"] & sending).sum()),
              "converted": plan.converted()}
    shown = {name: n for name, n in counts.items()
             if n and name not in ("retimed_sent", "changed_sent", "converted")}
    summary = (f"upload: {len(plan.rows)} approved photos selected; "
               + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in shown.items()))
    advice = [f"  {counts[name]} {text}" for name, text in ADVICE.items() if counts.get(name)]
    return Outcome(len(plan.rows), counts, int(this_run.isin(NOT_DONE).sum()),
                   "\n".join([summary, *advice]))


#: What to do about the photos a run left with each status a person must see to.
ADVICE = {
    "failed": "failed: run upload again; it asks the server about each before sending it again",
    "rejected": "rejected: the server refused them (see upload_status in reports/audit.csv); "
                "sending them again gets the same answer",
    "blocked_retimed": "blocked_retimed: the server already holds them at another time "
                       "(uploaded_capture_time_secs_utc in the audit). If that time was wrong, "
                       "upload with --allow-retime (the timeline then shows both: Fluxtream "
                       "cannot delete); if it was right, fix the zone and resolve again",
    "blocked_changed": "blocked_changed: their file changed since it was sent. To put the new "
                       "version on the timeline beside the old one, upload with --allow-resend",
}


def _warn_twice(plan: Plan, options: Options, warn) -> None:
    if warn is None:
        return
    send = plan.rows["verdict"] == "send"
    changed = int((plan.rows["changed"] & send).sum())
    retimed = int((plan.rows["retimed"] & send).sum())
    if options.allow_resend and changed:
        warn(f"--allow-resend: {changed} photos whose file changed since it was sent go out "
             "again: the timeline will hold both versions of each")
    if options.allow_retime and retimed:
        warn(f"--allow-retime: {retimed} photos already on the server at another time go out "
             "again: the timeline will hold two copies of each")


def _send(plan: Plan, client: Client, ledger: Ledger, guest_id: int, options: Options,
          statuses: dict, progress: bool, checkpoint, checkpoint_seconds: float) -> None:
    """send_all, its results into `statuses`, and `checkpoint(a copy of them)` every
    `checkpoint_seconds` in a thread of its own (writing a large table takes a while, and
    sending goes on meanwhile); a stop is re-raised with what the run achieved, after a last
    checkpoint."""
    from tqdm import tqdm

    bar = tqdm(total=len(plan.send), unit="photo", disable=not progress, desc="upload")
    saving = Background(checkpoint)
    last_save = time.monotonic()
    try:
        for index, result in send_all(plan, client, ledger, guest_id, options, bar):
            statuses[index] = result.status
            if time.monotonic() - last_save > checkpoint_seconds and saving.start(
                    dict(statuses)):
                last_save = time.monotonic()
        saving.join()
    except RunStopped as exc:
        saving.join()
        checkpoint(dict(statuses))
        done = int(pd.Series(statuses, dtype="string").isin(["uploaded", "updated"]).sum())
        sent = (f"{done} of {len(plan.send)} photos sent this run, the ledger holds them: "
                "run upload again")
        if isinstance(exc, ServerUnreachable):
            raise ServerUnreachable(f"server unreachable: {client.base_url}: {exc}; {sent} "
                                    "once it answers") from None
        raise RunStopped(f"{client.base_url} answered {exc}: the run stopped; is the server "
                         f"behind a login page? {sent} once it answers as Fluxtream") from None
    finally:
        bar.close()
        saving.join(reraise=False)


class Background:
    """Runs `work(argument)` in a thread of its own, one run at a time; `join` waits for the
    current run and raises what it raised (a full disk), so no error is lost."""

    def __init__(self, work):
        self.work, self.thread, self.error = work, None, None

    def start(self, argument) -> bool:
        """Start a run unless one is going on; whether one was started."""
        if self.thread is not None and self.thread.is_alive():
            return False
        self.join()
        self.thread = threading.Thread(target=self._run, args=(argument,), daemon=True)
        self.thread.start()
        return True

    def _run(self, argument) -> None:
        try:
            self.work(argument)
        except BaseException as exc:  # raised again in the sending thread by join
            self.error = exc

    def join(self, reraise: bool = True) -> None:
        if self.thread is not None:
            self.thread.join()
        error, self.error = self.error, None
        if error is not None and reraise:
            raise error
