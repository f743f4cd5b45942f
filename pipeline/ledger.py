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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from .fluxtream import printable
from .times import millis, now_iso
from .workspace import DiskFull, TableUnreadable, is_disk_full

#: Marks the file as photoflux's upload ledger (PRAGMA application_id): "PFLX".
APPLICATION_ID = 0x50464C58
LEDGER_VERSION = 4

#: The columns of `sends`, by ledger version (3 added what was actually sent).
SENDS_V1 = ["server", "user", "sha256", "capture_ms", "path", "expected_key", "intent_at",
            "operation", "key", "photo_id", "acked_at", "outcome"]
LEDGER_COLUMNS = [*SENDS_V1, "sent_sha256", "converter"]
PATH_COLUMNS = ["server", "user", "sha256", "capture_ms", "path"]
NOTE_COLUMNS = ["server", "user", "sha256", "capture_ms", "path", "outcome", "noted_at",
                "converter"]

_TABLES_V3 = """
CREATE TABLE paths (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (server, user, sha256, capture_ms, path)
);
CREATE TABLE notes (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL, outcome TEXT NOT NULL, noted_at TEXT NOT NULL, converter INTEGER,
    PRIMARY KEY (server, user, sha256, capture_ms)
);
"""

_TABLES_V4 = """
CREATE TABLE deletions (
    server TEXT NOT NULL, user TEXT NOT NULL, photo_id INTEGER NOT NULL, key TEXT NOT NULL,
    sha256 TEXT NOT NULL, verdict TEXT NOT NULL, approved_ms INTEGER NOT NULL,
    kept_key TEXT NOT NULL, intent_at TEXT NOT NULL, deleted_at TEXT, outcome TEXT,
    PRIMARY KEY (server, user, photo_id)
);
"""

#: `sends`: one row per (server, user, file bytes, millisecond): the intent, committed before
#: the request, and the answer after it. `sha256` is the FILE's (identity); `sent_sha256` the
#: bytes actually sent (the file's, or its conversion's: `converter` says what made them), which
#: the server's key spells. A copy found on the server by reconcile within a second of the
#: approved time is adopted as a send (`operation` "adopted") at the APPROVED millisecond, with
#: the server's own key. `paths`: every path that shared a send (byte-identical copies are
#: one photo). `notes`: why a photo was not sent at all (unsupported_format, before_epoch, a
#: file that cannot be read or converted); `converter` is convert.VERSION for a format note.
#: `deletions`: every copy reconcile deletes (by photo id): the intent before the request
#: (what: the copy's key, the file's sha256, its verdict, the approved millisecond and the key of
#: the approved copy confirmed on the server), `deleted_at` once it is gone; a deleted copy's
#: send leaves `sends`, so it no longer counts as on the server.
LEDGER_SCHEMA = f"""
CREATE TABLE sends (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL, expected_key TEXT NOT NULL, intent_at TEXT NOT NULL,
    operation TEXT, key TEXT, photo_id INTEGER, acked_at TEXT, outcome TEXT,
    sent_sha256 TEXT, converter TEXT,
    PRIMARY KEY (server, user, sha256, capture_ms)
);
{_TABLES_V3}
{_TABLES_V4}
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {LEDGER_VERSION};
"""

#: MIGRATIONS[n] takes a version-n ledger to version n + 1. Version 1 (photoflux before the
#: ledger carried a version) had version 2's table and nothing in its header saying what it
#: is. Version 2 sent every file as it was: what it sent is the file.
MIGRATIONS = {
    1: f"PRAGMA application_id = {APPLICATION_ID};",
    2: f"""ALTER TABLE sends ADD COLUMN sent_sha256 TEXT;
           ALTER TABLE sends ADD COLUMN converter TEXT;
           UPDATE sends SET sent_sha256 = sha256;
           {_TABLES_V3}
           INSERT INTO paths SELECT server, user, sha256, capture_ms, path FROM sends;""",
    3: _TABLES_V4,
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
    if application_id == 0 and version == 0 and columns == SENDS_V1:
        version = 1  # written before the ledger carried its version
    elif application_id == APPLICATION_ID and version > LEDGER_VERSION:
        raise unreadable(path, f"written by a newer photoflux (ledger version {version}): "
                               "upgrade photoflux")
    elif application_id != APPLICATION_ID or columns != (
            SENDS_V1 if version < 3 else LEDGER_COLUMNS):
        raise unreadable(path, "not a photoflux upload ledger" if os.path.getsize(path)
                         else "the file is empty")
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
                # `updated` (for a converted photo: unless the converter changed meanwhile).
                self.db.execute("PRAGMA synchronous=NORMAL")
                # reads (a checkpoint's, in a thread of its own) never wait for the writers
                self.reader = connect(path, read_only=True)
            except BaseException:
                self.db.close()
                raise
        self.lock, self.read_lock = threading.Lock(), threading.Lock()

    def close(self):
        self.reader.close()
        self.db.close()

    @contextmanager
    def transaction(self):
        """One write transaction, all or nothing (SQLite has rolled back already on some
        errors), under the writers' lock."""
        with self.lock, guarded(self.path, "run"):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def history(self, server: str | None = None, user: str | None = None) -> History:
        with self.read_lock, guarded(self.path, "run"):
            return _history(self.reader, server, user)

    def intent(self, server: str, user: str, row: dict, expected_key: str, sent_sha256: str,
               converter: str | None, paths: list[str]) -> None:
        """Commit, before the request, that this photo is about to be sent at this time as
        these bytes (a fresh intent replaces an unanswered one: the bytes may have been made
        again), and every path that holds the file."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO sends (server, user, sha256, capture_ms, path, expected_key, "
                "intent_at, sent_sha256, converter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (server, user, sha256, capture_ms) DO UPDATE SET path=excluded.path, "
                "expected_key=excluded.expected_key, intent_at=excluded.intent_at, "
                "sent_sha256=excluded.sent_sha256, converter=excluded.converter, "
                "outcome=NULL WHERE acked_at IS NULL",
                (server, user, row["sha256"], row["capture_ms"], row["path"], expected_key,
                 now_iso(), sent_sha256, converter))
            self.db.executemany(
                "INSERT OR IGNORE INTO paths VALUES (?, ?, ?, ?, ?)",
                [(server, user, row["sha256"], row["capture_ms"], path) for path in paths])

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

    def adopt(self, server: str, user: str, copies: pd.DataFrame, paths: pd.DataFrame) -> None:
        """Commit copies found on the server as sends, acknowledged (`operation` "adopted",
        `outcome` "uploaded"), so upload counts them as done. `copies`: sha256 (the file's),
        capture_ms (the APPROVED millisecond: what upload compares), path, key and photo_id (the
        server's copy: its key spells the server's own millisecond), sent_sha256, converter;
        `paths`: sha256, capture_ms, path of every file holding it. An acknowledged send of the
        same photo is left as it is; an unanswered one is answered by the copy found."""
        now = now_iso()
        with self.transaction():
            self.db.executemany(
                "INSERT INTO sends (server, user, sha256, capture_ms, path, expected_key, "
                "intent_at, operation, key, photo_id, acked_at, outcome, sent_sha256, "
                "converter) VALUES (?, ?, ?, ?, ?, ?, ?, 'adopted', ?, ?, ?, 'uploaded', ?, ?) "
                "ON CONFLICT (server, user, sha256, capture_ms) DO UPDATE SET "
                "expected_key=excluded.expected_key, operation='adopted', key=excluded.key, "
                "photo_id=excluded.photo_id, acked_at=excluded.acked_at, outcome='uploaded', "
                "sent_sha256=excluded.sent_sha256, converter=excluded.converter "
                "WHERE acked_at IS NULL",
                [(server, user, sha, int(ms), path, key, now, key, int(photo_id), now, sent,
                  converter) for sha, ms, path, key, photo_id, sent, converter in zip(
                    *(copies[c] for c in ("sha256", "capture_ms", "path", "key", "photo_id",
                                          "sent_sha256", "converter")))])
            self.db.executemany(
                "INSERT OR IGNORE INTO paths VALUES (?, ?, ?, ?, ?)",
                [(server, user, sha, int(ms), path) for sha, ms, path in zip(
                    paths["sha256"], paths["capture_ms"], paths["path"])])

    def deletion_intent(self, server: str, user: str, copy: dict) -> None:
        """Commit, before the request, that this copy (photo_id, key, sha256 of the file,
        verdict, approved_ms, kept_key) is about to be deleted."""
        with self.lock, guarded(self.path, "run"):
            self.db.execute(
                "INSERT INTO deletions (server, user, photo_id, key, sha256, verdict, approved_ms, "
                "kept_key, intent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (server, user, photo_id) DO UPDATE SET key=excluded.key, "
                "sha256=excluded.sha256, verdict=excluded.verdict, "
                "approved_ms=excluded.approved_ms, kept_key=excluded.kept_key, "
                "intent_at=excluded.intent_at, outcome=NULL WHERE deleted_at IS NULL",
                (server, user, int(copy["photo_id"]), copy["key"], copy["file_sha256"],
                 copy["verdict"], int(copy["approved_ms"]), copy["kept_key"], now_iso()))

    def deleted(self, server: str, user: str, photo_id: int, key: str, outcome: str) -> None:
        """Commit that the copy is gone; its send (photoflux's, or adopted; or an unanswered
        intent that landed as it) leaves `sends` and `paths`: it no longer counts as sent."""
        sent = ("server = ? AND user = ? AND (key = ? OR (acked_at IS NULL AND "
                "expected_key = ?))")
        with self.transaction():
            self.db.execute(
                "UPDATE deletions SET deleted_at = ?, outcome = ? WHERE server = ? AND "
                "user = ? AND photo_id = ?", (now_iso(), outcome, server, user, photo_id))
            self.db.execute(
                "DELETE FROM paths WHERE (server, user, sha256, capture_ms) IN (SELECT "
                f"server, user, sha256, capture_ms FROM sends WHERE {sent})",
                (server, user, key, key))
            self.db.execute(f"DELETE FROM sends WHERE {sent}", (server, user, key, key))

    def deletion_failed(self, server: str, user: str, photo_id: int, outcome: str) -> None:
        """Commit why a deletion did not happen (the copy is still on the server)."""
        with self.lock, guarded(self.path, "run"):
            self.db.execute("UPDATE deletions SET outcome = ? WHERE server = ? AND user = ? AND "
                            "photo_id = ? AND deleted_at IS NULL",
                            (outcome, server, user, photo_id))

    def deletions(self, server: str, user: str) -> pd.DataFrame:
        """The deletions recorded for this server and user, as the table holds them."""
        with self.read_lock, guarded(self.path, "run"):
            return pd.read_sql_query("SELECT * FROM deletions WHERE server = ? AND user = ?",
                                     self.reader, params=(server, user))

    def note(self, server: str, user: str, rows: pd.DataFrame, outcome: str,
             converter: int | None = None) -> None:
        """Commit why these photos (`rows`: path, sha256, capture_ms) were not sent: no request
        was made for them. A note made without reading the file (`converter` None) does not
        replace one that says the same after reading it."""
        with self.lock, guarded(self.path, "run"):
            self.db.executemany(
                "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (server, user, sha256, capture_ms) DO UPDATE SET "
                "path=excluded.path, outcome=excluded.outcome, noted_at=excluded.noted_at, "
                "converter=excluded.converter "
                "WHERE outcome IS NOT excluded.outcome OR excluded.converter IS NOT NULL",
                [(server, user, sha256, int(ms), path, outcome, now_iso(), converter)
                 for path, sha256, ms in zip(rows["path"], rows["sha256"], rows["capture_ms"])])


@dataclass
class History:
    """The ledger's rows (all of them, or one server and user's): `sends`, `paths`, `notes`."""

    sends: pd.DataFrame
    paths: pd.DataFrame
    notes: pd.DataFrame

    @classmethod
    def empty(cls) -> History:
        return cls(*(pd.DataFrame(columns=columns)
                     for columns in (LEDGER_COLUMNS, PATH_COLUMNS, NOTE_COLUMNS)))

    def may_be_on_server(self) -> pd.DataFrame:
        """The sends that are acknowledged, or whose answer leaves open that they landed."""
        return self.sends[self.sends["acked_at"].notna() | ~self._refused()]

    def unanswered(self) -> pd.DataFrame:
        """The sends without an acknowledgement whose answer leaves open that they landed."""
        return self.sends[self.sends["acked_at"].isna() & ~self._refused()]

    def _refused(self) -> pd.Series:
        return self.sends["outcome"].astype("string").fillna("").str.startswith(NOT_LANDED)

    def sent_paths(self) -> pd.DataFrame:
        """path -> the file's sha256 and millisecond of each send that may be on the server."""
        keys = ["server", "user", "sha256", "capture_ms"]
        return self.paths.merge(self.may_be_on_server()[[*keys, "intent_at"]], on=keys)


#: Outcomes after which a photo is surely not on the server: refused, or never reached it.
NOT_LANDED = ("rejected:", "unsupported_format", "failed: could not connect")


def apply_ledger(resolved: pd.DataFrame, history: History) -> pd.DataFrame:
    """Rebuild upload_status, server_key, uploaded_at from the ledger (any server, latest first).

    A photo whose bytes and time were acknowledged shows that answer. Otherwise: a photo whose
    path was sent before with other bytes is `blocked_changed`, one whose bytes were sent at
    another millisecond `blocked_retimed` (what the server holds beside it: its time, and the
    other version's sha256); else the latest failure or note about it, if any.
    """
    out = resolved.copy()
    sends, notes = history.sends, history.notes
    if sends.empty and notes.empty:
        return out
    ms = millis(out["capture_time_secs_utc"])
    at_time = pd.MultiIndex.from_arrays([out["sha256"], ms])
    acked = sends[sends["acked_at"].notna()].sort_values("acked_at")
    same = acked.drop_duplicates(["sha256", "capture_ms"], keep="last").set_index(
        ["sha256", "capture_ms"])
    hit = same.reindex(at_time)
    sent = hit["operation"].notna().to_numpy()
    out["upload_status"] = out["upload_status"].where(~sent, hit["outcome"].to_numpy())
    out["server_key"] = out["server_key"].where(~sent, hit["key"].to_numpy())
    out["uploaded_at"] = out["uploaded_at"].where(~sent, hit["acked_at"].to_numpy())
    timed = out["capture_time_secs_utc"].notna().to_numpy()

    other_sha, other_ms = changed_paths(out, history.sent_paths())
    changed = ~sent & timed & other_sha.notna().to_numpy()
    elsewhere = history.may_be_on_server().sort_values("intent_at").drop_duplicates(
        "sha256", keep="last").set_index("sha256")["capture_ms"].reindex(out["sha256"])
    elsewhere = pd.array(elsewhere.to_numpy(), dtype="Int64")
    retimed = (~sent & ~changed & timed
               & pd.Series(elsewhere != ms.to_numpy()).fillna(False).to_numpy(bool))
    out.loc[changed, "upload_status"] = "blocked_changed"
    out.loc[retimed, "upload_status"] = "blocked_retimed"
    held_ms = np.where(changed, other_ms.to_numpy(dtype="float64", na_value=np.nan),
                       pd.array(elsewhere, dtype="Float64").to_numpy(dtype="float64",
                                                                     na_value=np.nan))
    out["uploaded_capture_time_secs_utc"] = np.where(changed | retimed, held_ms / 1000, np.nan)
    out["uploaded_sha256"] = other_sha.where(changed).astype(out["sha256"].dtype)

    failures = sends.loc[sends["acked_at"].isna() & sends["outcome"].notna(),
                         ["sha256", "capture_ms", "outcome", "intent_at"]].rename(
        columns={"intent_at": "at"})
    noted = notes[["sha256", "capture_ms", "outcome", "noted_at"]].rename(
        columns={"noted_at": "at"})
    latest = pd.concat([failures, noted]).astype({"capture_ms": "int64"}).sort_values(
        "at", kind="stable").drop_duplicates(["sha256", "capture_ms"], keep="last")
    said = latest.set_index(["sha256", "capture_ms"])["outcome"].reindex(at_time).to_numpy()
    show = ~sent & ~changed & ~retimed & pd.notna(said)
    out["upload_status"] = out["upload_status"].where(~show, said)
    return out


#: The columns apply_ledger rebuilds.
UPLOAD_COLUMNS = ("upload_status", "server_key", "uploaded_at", "uploaded_capture_time_secs_utc",
                  "uploaded_sha256")


def reapply_ledger(resolved: pd.DataFrame, history: History) -> pd.DataFrame:
    """apply_ledger from scratch, as resolve does: a status that came from a copy deleted since
    (a send that left the ledger) goes with it."""
    cleared = {column: resolved[column].iloc[:0].reindex(resolved.index)
               for column in UPLOAD_COLUMNS}
    return apply_ledger(resolved.assign(**cleared), history)


def changed_paths(rows: pd.DataFrame, sent_paths: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """For each row, the sha256 and millisecond of the latest send of its path with other
    bytes (nulls where there is none)."""
    pairs = rows[["path", "sha256"]].rename_axis("row").reset_index().merge(
        sent_paths[["path", "sha256", "capture_ms", "intent_at"]], on="path",
        suffixes=("", "_sent"))
    other = pairs[pairs["sha256_sent"] != pairs["sha256"]].sort_values("intent_at").drop_duplicates(
        "row", keep="last").set_index("row")
    return (other["sha256_sent"].reindex(rows.index),
            other["capture_ms"].astype("Int64").reindex(rows.index))


def _history(db: sqlite3.Connection, server: str | None, user: str | None) -> History:
    """The ledger's rows, all of them or those of one server and user; an older ledger's as
    today's (version 2 sent the files as they were, each from its one path)."""
    where, args = ("", ()) if server is None else (" WHERE server = ? AND user = ?",
                                                  (server, user))
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    sends = pd.read_sql_query("SELECT * FROM sends" + where, db, params=args)
    if "paths" not in tables:
        return History(sends.assign(sent_sha256=sends["sha256"], converter=None),
                       sends[PATH_COLUMNS], pd.DataFrame(columns=NOTE_COLUMNS))
    return History(sends, pd.read_sql_query("SELECT * FROM paths" + where, db, params=args),
                   pd.read_sql_query("SELECT * FROM notes" + where, db, params=args))


def read_history(path: Path, server: str | None = None, user: str | None = None) -> History:
    """The ledger's rows without writing anything (empty when there is no ledger yet); an older
    version is read as it is, the migration waits for upload."""
    if not os.path.lexists(path):
        return History.empty()
    with guarded(path), closing(connect(path, read_only=True)) as db:
        schema_version(db, path)
        return _history(db, server, user)
