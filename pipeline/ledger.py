"""The upload ledger (data/uploads.sqlite, WAL): what was sent to which server and user, at
which millisecond, and what the server answered. Kept apart from the HTTP client so that resolve
can rebuild upload statuses without loading it.

The ledger is the only memory of what a server already holds, so it is never recreated empty:
only a missing ledger is created (whole, then moved into place); one that exists but cannot be
read stops every command that needs it (LedgerError, exit 2) with a line saying how to recover.
Its schema is versioned (PRAGMA user_version) and migrated in place, one step at a time.
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from .fluxtream import printable
from .times import millis, now_iso
from .workspace import DiskFull, TableUnreadable, is_disk_full

#: Marks the file as photoflux's upload ledger (PRAGMA application_id): "PFLX".
APPLICATION_ID = 0x50464C58
LEDGER_VERSION = 2

LEDGER_COLUMNS = ["server", "user", "sha256", "capture_ms", "path", "expected_key", "intent_at",
                  "operation", "key", "photo_id", "acked_at", "outcome"]

LEDGER_SCHEMA = f"""
CREATE TABLE sends (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL, expected_key TEXT NOT NULL, intent_at TEXT NOT NULL,
    operation TEXT, key TEXT, photo_id INTEGER, acked_at TEXT, outcome TEXT,
    PRIMARY KEY (server, user, sha256, capture_ms)
);
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {LEDGER_VERSION};
"""

#: MIGRATIONS[n] takes a version-n ledger to version n + 1. Version 1 (photoflux before the
#: ledger carried a version) had today's table and nothing in its header saying what it is.
MIGRATIONS = {
    1: f"PRAGMA application_id = {APPLICATION_ID};",
}


class LedgerError(TableUnreadable):
    """The ledger cannot be used: `code` 2 when it cannot be read or created (nothing was sent),
    1 when it failed mid-run (the run stopped early). A full disk is workspace.DiskFull."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def unreadable(path: Path, why: str) -> LedgerError:
    """The one line for a ledger that exists but cannot be used: how to recover, and the risk."""
    return LedgerError(
        f"{printable(str(path))}: cannot be read ({printable(why)}); nothing was sent. Restore it "
        "from a backup and run again. Move it aside only if the server holds none of these "
        "photos: without it, photos already there are sent again, and any whose time changed "
        "since become duplicates")


def _is_locked(exc: Exception) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
            or "database is locked" in str(exc))


@contextmanager
def guarded(path: Path, when: str = "open"):
    """Turn what SQLite and the file system raise about the ledger into one-line LedgerErrors.
    `when`: "open" (an existing ledger), "create" (a missing one) or "run" (mid-run: code 1)."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        name, why = printable(str(path)), printable(getattr(exc, "strerror", None) or str(exc))
        if is_disk_full(exc):
            raise DiskFull(path) from None
        if _is_locked(exc):
            raise LedgerError(f"{name}: locked by another program; close it, then run again",
                              1 if when == "run" else 2) from None
        if when == "open":
            raise unreadable(path, why) from None
        if when == "create":
            raise LedgerError(f"{name}: cannot be created ({why})") from None
        raise LedgerError(f"{name}: failed mid-run ({why}); the run stopped", 1) from None


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """Open an existing ledger, never creating one (sqlite3.connect would, silently, empty).
    Only another program holds it for long (WAL readers and the one writer do not block each
    other), so a lock is reported after 2 s rather than waited out."""
    mode = "ro" if read_only else "rw"
    return sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode={mode}", uri=True,
                           timeout=2.0, isolation_level=None, check_same_thread=False)


def schema_version(db: sqlite3.Connection, path: Path) -> int:
    """The ledger's schema version, after checking that it is an intact photoflux ledger."""
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    columns = [row[1] for row in db.execute("PRAGMA table_info(sends)")]
    if application_id == 0 and version == 0 and columns == LEDGER_COLUMNS:
        version = 1  # written before the ledger carried its version
    elif application_id != APPLICATION_ID or columns != LEDGER_COLUMNS:
        raise unreadable(path, "not a photoflux upload ledger" if os.path.getsize(path)
                         else "the file is empty")
    if version > LEDGER_VERSION:
        raise unreadable(path, f"written by a newer photoflux (ledger version {version}): "
                               "upgrade photoflux")
    problem = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    if problem != "ok":
        raise unreadable(path, f"damaged: {problem}")
    return version


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a ledger of an older `version` up to LEDGER_VERSION in place, a step at a time;
    each step commits with its version mark, so a killed migration leaves a whole version."""
    for step in range(version, LEDGER_VERSION):
        db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[step]} "
                         f"PRAGMA user_version = {step + 1}; COMMIT;")


def create(path: Path) -> None:
    """A new, empty ledger, written whole beside `path` and then linked into place, so a ledger
    that exists is always a complete one (and one created meanwhile is never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.executescript(LEDGER_SCHEMA)
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # created meanwhile by another process: that one is used
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class Ledger:
    """What was sent where: one row per (server, user, bytes, millisecond)."""

    def __init__(self, path: Path):
        self.path = path
        if not os.path.lexists(path):
            with guarded(path, "create"):
                create(path)
        with guarded(path):
            with closing(connect(path, read_only=True)) as db:  # a refused file is never written
                version = schema_version(db, path)
            self.db = connect(path, read_only=False)
            try:
                migrate(self.db, version)
                # NORMAL in WAL mode survives a killed process; after a power cut at worst an
                # intent is lost, and resending it with the same bytes and time is answered
                # `updated`.
                self.db.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                self.db.close()
                raise
        self.lock = threading.Lock()

    def close(self):
        self.db.close()

    def history(self, server: str | None = None, user: str | None = None) -> pd.DataFrame:
        with guarded(self.path, "run"):
            return _history(self.db, server, user)

    def intent(self, server: str, user: str, row: dict, expected_key: str) -> None:
        """Commit, before the request, that this photo is about to be sent at this time."""
        with self.lock, guarded(self.path, "run"):
            self.db.execute(
                "INSERT OR IGNORE INTO sends (server, user, sha256, capture_ms, path, "
                "expected_key, intent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (server, user, row["sha256"], row["capture_ms"], row["path"], expected_key,
                 now_iso()))

    def outcome(self, server: str, user: str, row: dict, result) -> None:
        """Commit the answer: an acknowledgement, or why this attempt failed."""
        with self.lock, guarded(self.path, "run"):
            if result.operation:
                self.db.execute(
                    "UPDATE sends SET operation=?, key=?, photo_id=?, acked_at=?, outcome=? "
                    "WHERE server=? AND user=? AND sha256=? AND capture_ms=?",
                    (result.operation, result.key, result.photo_id, now_iso(), result.status,
                     server, user, row["sha256"], row["capture_ms"]))
            else:
                self.db.execute(
                    "UPDATE sends SET outcome=? WHERE server=? AND user=? AND sha256=? "
                    "AND capture_ms=? AND acked_at IS NULL",
                    (result.status, server, user, row["sha256"], row["capture_ms"]))


def apply_ledger(resolved: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Rebuild upload_status, server_key, uploaded_at from the ledger (any server, latest first).

    A photo whose bytes were acknowledged at another millisecond than its current time is
    `blocked_retimed`, with the time the server holds beside it.
    """
    out = resolved.copy()
    if history.empty:
        return out
    ms = millis(out["capture_time_secs_utc"])
    acked = history[history["acked_at"].notna()].sort_values("acked_at")
    same = acked.drop_duplicates(["sha256", "capture_ms"], keep="last").set_index(
        ["sha256", "capture_ms"])
    at_time = pd.MultiIndex.from_arrays([out["sha256"], ms])
    hit = same.reindex(at_time)
    sent = hit["operation"].notna().to_numpy()
    out["upload_status"] = out["upload_status"].where(~sent, hit["outcome"].to_numpy())
    out["server_key"] = out["server_key"].where(~sent, hit["key"].to_numpy())
    out["uploaded_at"] = out["uploaded_at"].where(~sent, hit["acked_at"].to_numpy())

    elsewhere = history.sort_values("intent_at").drop_duplicates("sha256", keep="last")
    other = elsewhere.set_index("sha256")["capture_ms"].reindex(out["sha256"]).to_numpy()
    retimed = ~sent & pd.notna(other) & (pd.array(other, dtype="Int64") != ms.to_numpy())
    retimed = pd.Series(retimed, index=out.index).fillna(False).astype(bool)
    retimed &= out["capture_time_secs_utc"].notna()
    out.loc[retimed, "upload_status"] = "blocked_retimed"
    out["uploaded_capture_time_secs_utc"] = pd.Series(other, index=out.index,
                                                      dtype="Float64").astype("float64") / 1000
    out["uploaded_capture_time_secs_utc"] = out["uploaded_capture_time_secs_utc"].where(retimed)

    failed = history[history["acked_at"].isna() & history["outcome"].notna()]
    failed = failed.drop_duplicates(["sha256", "capture_ms"], keep="last").set_index(
        ["sha256", "capture_ms"])["outcome"].reindex(at_time).to_numpy()
    show_failure = ~sent & ~retimed.to_numpy() & pd.notna(failed)
    out["upload_status"] = out["upload_status"].where(~show_failure, failed)
    return out


def _history(db: sqlite3.Connection, server: str | None, user: str | None) -> pd.DataFrame:
    """The ledger's rows, all of them or those of one server and user."""
    query, args = "SELECT * FROM sends", ()
    if server is not None:
        query, args = query + " WHERE server = ? AND user = ?", (server, user)
    return pd.read_sql_query(query, db, params=args)


def read_history(path: Path, server: str | None = None, user: str | None = None) -> pd.DataFrame:
    """The ledger's rows without writing anything (empty when there is no ledger yet); an older
    version is read as it is (its rows have today's columns), the migration waits for upload."""
    if not os.path.lexists(path):
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    with guarded(path), closing(connect(path, read_only=True)) as db:
        schema_version(db, path)
        return _history(db, server, user)
