"""The upload client: every approved photo on a Fluxtream timeline exactly once, at its approved time.

The server keeps a second copy when a photo arrives again with another time and offers no
delete, so the client remembers what it sent in the ledger (`ledger.py`): an intent is committed
before each request and its outcome after the answer. A rerun skips what is acknowledged and
resends an unacknowledged intent with the same bytes and time (the server answers `updated`,
never a second photo); a photo once sent with another time is blocked unless allowed.

A server that stops answering stops the run (ServerUnreachable) after `max_connect_failures`
photos in a row could not connect, or `silence_seconds` of waiting without any answer; the
photos in flight end first, the statuses are saved, and a rerun continues where it stopped.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .approvals import is_approved, uploadable
from .readers import SNIFF_BYTES, sniff_type
from .fluxtream import photo_key, printable
from .ledger import Ledger, apply_ledger, read_history
from .times import millis

ACCEPTED_TYPES = ("JPEG", "PNG", "GIF")  # all the server takes, by the bytes
CONNECTOR = "fluxtream_capture"
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


class UploadError(RuntimeError):
    """Stops the whole run before any photo is sent (credentials, server, usage): exit code 2."""

    code = 2


class ServerUnreachable(UploadError):
    """The server does not answer (at the start, or no longer): the run stops early, exit 1."""

    code = 1


def metadata_json(capture_ms: int) -> str:
    """The metadata part. The time is written to a tenth of a millisecond past the approved
    millisecond, so a server that truncates seconds*1000 to milliseconds lands exactly on it."""
    sign = "-" if capture_ms < 0 else ""
    whole, frac = divmod(abs(capture_ms), 1000)
    return f'{{"capture_time_secs_utc": {sign}{whole}.{frac:03d}4}}'


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


# --- sending ----------------------------------------------------------------------------------

@dataclass
class Result:
    status: str  # uploaded, updated, failed: ..., rejected: ..., unsupported_format
    operation: str | None = None
    key: str | None = None
    photo_id: int | None = None


def interpret(status: int, reason: str, content: bytes) -> Result:
    """What one answer to a photo upload means. Only the contract's JSON counts: `OK` with a
    created/updated payload is success, a `KO` is refused (415: format) or failed (5xx, or the
    200 KO of an internal error), anything else (a login page, a proxy's error) failed."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        body = None
    body = body if isinstance(body, dict) else {}
    payload = body.get("payload")
    if (status == 200 and body.get("result") == "OK" and isinstance(payload, dict)
            and payload.get("operation") in ("created", "updated")
            and isinstance(payload.get("key"), str)):
        operation = payload["operation"]
        return Result("uploaded" if operation == "created" else "updated", operation,
                      payload["key"], payload.get("id"))
    if body.get("result") != "KO":
        return Result(f"failed: not a Fluxtream answer ({status} {printable(reason)})")
    message = printable(str(body.get("message") or reason))
    if status == 415:
        return Result("unsupported_format")
    if status in RETRY_STATUSES or status == 200:
        return Result(f"failed: {status} {message}")
    return Result(f"rejected: {message}")


def could_not_connect(exc: requests.RequestException) -> bool:
    """True when no connection was made at all: refused, no route or name, connect timeout."""
    inner = exc.args[0] if exc.args else None
    return isinstance(getattr(inner, "reason", inner), ConnectTimeoutError)  # NewConnection too


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


class StoppableRetry(Retry):
    """urllib3's bounded retries with backoff, which give up at once (and stop sleeping) when
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
        asked = self.get_retry_after(response) if response is not None else None
        self.stop.wait(asked if asked and self.respect_retry_after_header
                       else self.get_backoff_time())


class Reachability:
    """Whether the server still answers, from what the workers see: how many photos in a row
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
                return f"{self.failures} photos in a row could not connect ({self.last_failure})"
            if silent >= self.silence_seconds:
                return f"no answer at all for {silent:.0f} s"
        return None


class Client:
    """Keep-alive sessions (one per worker thread) with bounded retries, backoff and jitter.

    `max_connect_failures` and `silence_seconds` say when the server counts as unreachable
    (see Reachability); `stop()` ends every retry and backoff at once.
    """

    def __init__(self, base_url: str, user: str, password: str, verify=True,
                 retries: int = 6, backoff: float = 0.2, timeout: float = 60.0,
                 max_connect_failures: int = 10, silence_seconds: float = 60.0):
        self.base_url, self.auth, self.verify = base_url, (user, password), verify
        self.timeout = (10.0, timeout)
        self.stopped = threading.Event()
        self.retry = StoppableRetry(total=retries, connect=retries, read=retries, status=retries,
                                    allowed_methods=None, status_forcelist=RETRY_STATUSES,
                                    backoff_factor=backoff, backoff_max=10.0,
                                    backoff_jitter=backoff, respect_retry_after_header=True,
                                    raise_on_status=False, stop=self.stopped)
        self.limits = max_connect_failures, silence_seconds
        self.reach = Reachability(*self.limits)
        self.local = threading.local()

    def begin(self) -> None:
        """A new run (the client may serve several): nothing stopped, nothing failed yet."""
        self.stopped.clear()
        self.reach = Reachability(*self.limits)

    def stop(self) -> None:
        self.stopped.set()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            session = requests.Session()
            session.auth, session.verify = self.auth, self.verify
            session.trust_env = False  # no proxies, and no .netrc overriding our auth
            adapter = HTTPAdapter(max_retries=self.retry, pool_maxsize=2)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self.local.session = session
        return self.local.session

    def guest(self) -> dict:
        """Who we are (`id` is the guest id); a wrong password or a server that is not Fluxtream
        stops everything before a photo is sent (UploadError), one that does not answer too
        (ServerUnreachable)."""
        url = self.base_url + "api/guest"
        try:
            answer = self.session().get(url, timeout=self.timeout, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise UploadError(f"cannot reach {self.base_url}: {why_no_answer(exc)}") from None
        except requests.RequestException as exc:
            raise ServerUnreachable(f"server unreachable: {self.base_url} does not answer "
                                    f"({why_no_answer(exc)})") from None
        if answer.status_code == 401:
            raise UploadError(f"the server refused user {self.auth[0]!r}: wrong user or password")
        if answer.status_code != 200:
            raise UploadError(f"{url} answered {answer.status_code}")
        try:
            guest = answer.json()
        except (ValueError, RecursionError):
            guest = None
        guest_id = guest.get("id") if isinstance(guest, dict) else None
        if not isinstance(guest_id, int) or isinstance(guest_id, bool):
            raise UploadError(f"{url} did not answer Fluxtream's JSON with a guest id: is "
                              "--server the Fluxtream base URL?")
        return guest

    def send(self, path: str, data: bytes, capture_ms: int) -> Result:
        files = {"photo": (Path(path).name, data, "application/octet-stream"),
                 "metadata": (None, metadata_json(capture_ms), "application/json")}
        self.reach.sending()
        try:
            answer = self.session().post(
                self.base_url + "api/bodytrack/photoUpload", params={"connector_name": CONNECTOR},
                files=files, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            connect_failed, why = could_not_connect(exc), why_no_answer(exc)
            self.reach.unanswered(connect_failed, why)
            return Result(f"failed: {'could not connect' if connect_failed else 'no answer'} "
                          f"({why})")
        self.reach.answered()
        return interpret(answer.status_code, answer.reason, answer.content)


def read_photo(row: dict) -> tuple[bytes | None, Result | None]:
    """The file's bytes, unless it is gone, changed since approval, or a format the server refuses."""
    try:
        data = Path(row["path"]).read_bytes()
    except OSError as exc:
        return None, Result(f"failed: cannot read the file ({printable(str(exc.strerror))})")
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        return None, Result("failed: file changed since it was approved "
                            "(run extract and resolve, then approve again)")
    if sniff_type(data[:SNIFF_BYTES]) not in ACCEPTED_TYPES:
        return None, Result("unsupported_format")
    return data, None


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


@dataclass
class Plan:
    """What a run will do with each candidate row (index: the resolved table's)."""

    send: pd.DataFrame
    skip: pd.DataFrame  # acknowledged already at this time
    blocked: pd.DataFrame  # sent before at another time
    unsupported: pd.DataFrame


def make_plan(rows: pd.DataFrame, history: pd.DataFrame, allow_retime: bool) -> Plan:
    """Split the candidates by what the ledger of this server and user says about them."""
    rows = rows.assign(capture_ms=millis(rows["capture_time_secs_utc"]))
    acked = history[history["acked_at"].notna()]
    done = pd.MultiIndex.from_arrays([rows["sha256"], rows["capture_ms"]]).isin(
        pd.MultiIndex.from_arrays([acked["sha256"], acked["capture_ms"].astype("Int64")]))
    sent = history[["sha256", "capture_ms"]].astype({"capture_ms": "Int64"}).drop_duplicates()
    pairs = rows[["sha256", "capture_ms"]].rename_axis("row").reset_index().merge(
        sent, on="sha256", suffixes=("", "_sent"))
    moved = pairs.loc[pairs["capture_ms_sent"] != pairs["capture_ms"], "row"]
    retimed = rows.index.isin(moved) & ~done & (not allow_retime)
    unsupported = ~rows["file_type"].isin(ACCEPTED_TYPES) & ~done & ~retimed
    return Plan(rows[~done & ~retimed & ~unsupported], rows[done], rows[retimed], rows[unsupported])


def send_all(plan: Plan, client: Client, ledger: Ledger, server: str, user: str, guest_id: int,
             workers: int, progress=None):
    """Send the plan's rows concurrently; yield (index, Result) as answers arrive.

    When the client finds the server unreachable, no further photo starts, the photos in flight
    end (their retries cut short) and are yielded, then ServerUnreachable(why) is raised. Any
    other error (a ledger that cannot be written) stops the same way and is raised as it is.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    def one(row: dict) -> Result:
        data, refusal = read_photo(row)
        if refusal is not None:
            return refusal
        ledger.intent(server, user, row, photo_key(guest_id, row["capture_ms"], row["sha256"]))
        result = client.send(row["path"], data, row["capture_ms"])
        ledger.outcome(server, user, row, result)
        return result

    send = plan.send
    rows = ((index, {"path": path, "sha256": sha256, "capture_ms": int(ms)})
            for index, path, sha256, ms in zip(send.index, send["path"], send["sha256"],
                                               send["capture_ms"]))
    why = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {}
        try:
            while True:
                while why is None and len(pending) < workers * 2:  # memory stays flat
                    index, row = next(rows, (None, None))
                    if row is None:
                        break
                    pending[pool.submit(one, row)] = index
                if not pending:
                    break
                done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    if progress is not None:
                        progress.update(1)
                    yield pending.pop(future), future.result()
                if why is None and (why := client.reach.verdict()):
                    client.stop()
                    for future in [f for f in pending if f.cancel()]:
                        del pending[future]
        finally:  # on any way out, photos still queued never start and retries end at once
            client.stop()
            for future in pending:
                future.cancel()
    if why is not None:
        raise ServerUnreachable(why)


def dry_run_text(rows: pd.DataFrame, ledger_path: Path, server: str, user: str,
                 allow_retime: bool) -> str:
    """What a real run would send: counts, first and last time, total bytes."""
    plan = make_plan(rows, read_history(ledger_path, server, user), allow_retime)
    send = plan.send
    lines = [f"dry run: {len(rows)} approved photos selected for {user} at {server}",
             f"  would send {len(send)} photos, {int(send['file_size'].sum()):,} bytes"]
    if len(send):
        lines.append(f"  first {send['utc_time'].min():%Y-%m-%d %H:%M:%S}Z, "
                     f"last {send['utc_time'].max():%Y-%m-%d %H:%M:%S}Z")
    lines += [f"  already on the server: {len(plan.skip)}",
              f"  blocked (sent before at another time): {len(plan.blocked)}",
              f"  not JPEG/PNG/GIF, not sent: {len(plan.unsupported)}",
              "  nothing was sent or written"]
    return "\n".join(lines)


@dataclass
class Outcome:
    selected: int
    counts: dict
    failed: int
    summary: str


def run(ws, resolved: pd.DataFrame, selected: pd.Series | None, client: Client, workers: int,
        allow_retime: bool, save, progress: bool = False, checkpoint_seconds: float = 5.0
        ) -> Outcome:
    """The whole upload: open the ledger, check credentials, plan, send, write statuses back.

    `save(table)` writes the resolved table; it is called every `checkpoint_seconds` during the
    run and once at the end, so a long run's statuses are never all lost. Errors carry their
    exit code as `.code`: LedgerError (2: the ledger cannot be read, before any request; 1: it
    failed mid-run), UploadError (2: credentials, a server that is not Fluxtream) and
    ServerUnreachable (1: statuses so far are saved first; a rerun continues).
    """
    from tqdm import tqdm

    rows = candidates(resolved, selected)
    ledger = Ledger(ws.uploads)  # first: an unreadable ledger stops the run before any request
    statuses: dict = {}

    def current() -> pd.DataFrame:
        table = apply_ledger(resolved, ledger.history())
        changed = pd.Series(statuses, dtype="string")
        table.loc[changed.index, "upload_status"] = changed
        return table

    try:
        client.begin()
        guest_id = int(client.guest()["id"])
        server, user = client.base_url, client.auth[0]
        history = ledger.history(server, user)
        plan = make_plan(rows, history, allow_retime)
        retimed_sent = len(make_plan(rows, history, False).blocked) if allow_retime else 0
        statuses.update(dict.fromkeys(plan.blocked.index, "blocked_retimed"))
        statuses.update(dict.fromkeys(plan.unsupported.index, "unsupported_format"))
        bar = tqdm(total=len(plan.send), unit="photo", disable=not progress, desc="upload")
        last_save = time.monotonic()
        try:
            for index, result in send_all(plan, client, ledger, server, user, guest_id, workers,
                                          bar):
                statuses[index] = result.status
                if time.monotonic() - last_save > checkpoint_seconds:
                    save(current())
                    last_save = time.monotonic()
        except ServerUnreachable as exc:
            save(current())
            done = int(pd.Series(statuses, dtype="string").isin(["uploaded", "updated"]).sum())
            raise ServerUnreachable(
                f"server unreachable: {server}: {exc}; {done} of {len(plan.send)} photos sent "
                "this run, the ledger holds them: run upload again once it answers") from None
        finally:
            bar.close()
        save(current())
    finally:
        ledger.close()
    this_run = pd.Series(statuses, dtype="str").str.replace(r":.*", "", regex=True)
    counts = {"already_on_server": len(plan.skip), **this_run.value_counts().to_dict(),
              "retimed_sent": retimed_sent}
    failed = int(this_run.isin(["failed", "rejected"]).sum())
    summary = (f"upload: {len(rows)} approved photos selected; " + ", ".join(
        f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n and name != "retimed_sent"))
    return Outcome(len(rows), counts, failed, summary)

