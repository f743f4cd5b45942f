"""The upload client: every approved photo on a Fluxtream timeline exactly once, at its approved time.

The server keeps a second copy when a photo arrives again with another time and offers no
delete, so the client remembers what it sent in the ledger (`ledger.py`): an intent is committed
before each request and its outcome after the answer. A rerun skips what is acknowledged and
resends an unacknowledged intent with the same bytes and time (the server answers `updated`,
never a second photo); a photo once sent with another time is blocked unless allowed.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .approvals import uploadable
from .exif import SNIFF_BYTES, sniff_type
from .ledger import Ledger, apply_ledger, read_history
from .times import millis

ACCEPTED_TYPES = ("JPEG", "PNG", "GIF")  # all the server takes, by the bytes
CONNECTOR = "fluxtream_capture"
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


class UploadError(RuntimeError):
    """Stops the whole run before any photo is sent (credentials, server, usage)."""


def photo_key(guest_id: int, capture_ms: int, sha256: str) -> str:
    """The key the server gives a photo: guest, UTC year and day of year, millisecond, bytes."""
    day = datetime.fromtimestamp(capture_ms / 1000, timezone.utc).strftime("%Y%j")
    return f"{guest_id}.FluxtreamCapture.photo.{day}.{capture_ms}_{sha256}"


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
    wanted = resolved["approved"].fillna(False).astype(bool) & uploadable(resolved)
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


class Client:
    """Keep-alive sessions (one per worker thread) with bounded retries, backoff and jitter."""

    def __init__(self, base_url: str, user: str, password: str, verify=True,
                 retries: int = 6, backoff: float = 0.2, timeout: float = 60.0):
        self.base_url, self.auth, self.verify = base_url, (user, password), verify
        self.timeout = (10.0, timeout)
        self.retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                           allowed_methods=None, status_forcelist=RETRY_STATUSES,
                           backoff_factor=backoff, backoff_max=10.0, backoff_jitter=backoff,
                           respect_retry_after_header=True, raise_on_status=False)
        self.local = threading.local()

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
        """Who we are; a wrong password stops everything before a photo is sent."""
        try:
            answer = self.session().get(self.base_url + "api/guest", timeout=self.timeout)
        except requests.RequestException as exc:
            raise UploadError(f"cannot reach {self.base_url}: {type(exc).__name__}") from None
        if answer.status_code == 401:
            raise UploadError(f"the server refused user {self.auth[0]!r}: wrong user or password")
        if answer.status_code != 200:
            raise UploadError(f"{self.base_url}api/guest answered {answer.status_code}")
        return answer.json()

    def send(self, path: str, data: bytes, capture_ms: int) -> Result:
        files = {"photo": (Path(path).name, data, "application/octet-stream"),
                 "metadata": (None, metadata_json(capture_ms), "application/json")}
        try:
            answer = self.session().post(
                self.base_url + "api/bodytrack/photoUpload",
                params={"connector_name": CONNECTOR}, files=files, timeout=self.timeout)
        except requests.RequestException as exc:
            return Result(f"failed: {type(exc).__name__} after retries")
        try:
            body = answer.json()
        except ValueError:
            body = {}
        message = str(body.get("message", answer.reason))
        if answer.status_code == 200 and body.get("result") == "OK":
            payload = body.get("payload", {})
            operation = payload.get("operation")
            return Result("uploaded" if operation == "created" else "updated", operation,
                          payload.get("key"), payload.get("id"))
        if answer.status_code == 415:
            return Result("unsupported_format")
        if answer.status_code in RETRY_STATUSES:
            return Result(f"failed: {answer.status_code} {message}")
        return Result(f"rejected: {message}")


def read_photo(row: dict) -> tuple[bytes | None, Result | None]:
    """The file's bytes, unless it is gone, changed since approval, or a format the server refuses."""
    try:
        data = Path(row["path"]).read_bytes()
    except OSError as exc:
        return None, Result(f"failed: cannot read the file ({exc.strerror})")
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
    """Send the plan's rows concurrently; yield (index, Result) as answers arrive."""
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
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {}
        while True:
            while len(pending) < workers * 2:  # a short queue: memory stays flat for any size
                index, row = next(rows, (None, None))
                if row is None:
                    break
                pending[pool.submit(one, row)] = index
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if progress is not None:
                    progress.update(1)
                yield pending.pop(future), future.result()


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
    """The whole upload: check credentials, plan against the ledger, send, write statuses back.

    `save(table)` writes the resolved table; it is called every `checkpoint_seconds` during the
    run and once at the end, so a long run's statuses are never all lost.
    """
    import time

    from tqdm import tqdm

    rows = candidates(resolved, selected)
    guest_id = int(client.guest()["id"])
    server, user = client.base_url, client.auth[0]
    ledger = Ledger(ws.uploads)
    statuses: dict = {}

    def current() -> pd.DataFrame:
        table = apply_ledger(resolved, ledger.history())
        changed = pd.Series(statuses, dtype="string")
        table.loc[changed.index, "upload_status"] = changed
        return table

    try:
        history = ledger.history(server, user)
        plan = make_plan(rows, history, allow_retime)
        retimed_sent = len(make_plan(rows, history, False).blocked) if allow_retime else 0
        statuses.update(dict.fromkeys(plan.blocked.index, "blocked_retimed"))
        statuses.update(dict.fromkeys(plan.unsupported.index, "unsupported_format"))
        bar = tqdm(total=len(plan.send), unit="photo", disable=not progress, desc="upload")
        last_save = time.monotonic()
        for index, result in send_all(plan, client, ledger, server, user, guest_id, workers, bar):
            statuses[index] = result.status
            if time.monotonic() - last_save > checkpoint_seconds:
                save(current())
                last_save = time.monotonic()
        bar.close()
        final = current()
        save(final)
    finally:
        ledger.close()
    this_run = pd.Series(statuses, dtype="str").str.replace(r":.*", "", regex=True)
    counts = {"already_on_server": len(plan.skip), **this_run.value_counts().to_dict(),
              "retimed_sent": retimed_sent}
    failed = int(this_run.isin(["failed", "rejected"]).sum())
    summary = (f"upload: {len(rows)} approved photos selected; " + ", ".join(
        f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n and name != "retimed_sent"))
    return Outcome(len(rows), counts, failed, summary)

