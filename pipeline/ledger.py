"""The upload ledger (data/uploads.sqlite, WAL): what was sent to which server and user, at
which millisecond, and what the server answered. Kept apart from the HTTP client so that resolve
can rebuild upload statuses without loading it.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pandas as pd

from .times import millis, now_iso

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS sends (
    server TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, capture_ms INTEGER NOT NULL,
    path TEXT NOT NULL, expected_key TEXT NOT NULL, intent_at TEXT NOT NULL,
    operation TEXT, key TEXT, photo_id INTEGER, acked_at TEXT, outcome TEXT,
    PRIMARY KEY (server, user, sha256, capture_ms)
);
"""


LEDGER_COLUMNS = ["server", "user", "sha256", "capture_ms", "path", "expected_key", "intent_at",
                  "operation", "key", "photo_id", "acked_at", "outcome"]


class Ledger:
    """What was sent where: one row per (server, user, bytes, millisecond)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; after a power cut at worst an intent is
        # lost, and resending it with the same bytes and time is answered `updated`.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(LEDGER_SCHEMA)
        self.lock = threading.Lock()

    def close(self):
        self.db.close()

    def history(self, server: str | None = None, user: str | None = None) -> pd.DataFrame:
        return _history(self.db, server, user)

    def intent(self, server: str, user: str, row: dict, expected_key: str) -> None:
        """Commit, before the request, that this photo is about to be sent at this time."""
        with self.lock:
            self.db.execute(
                "INSERT OR IGNORE INTO sends (server, user, sha256, capture_ms, path, "
                "expected_key, intent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (server, user, row["sha256"], row["capture_ms"], row["path"], expected_key,
                 now_iso()))

    def outcome(self, server: str, user: str, row: dict, result) -> None:
        """Commit the answer: an acknowledgement, or why this attempt failed."""
        with self.lock:
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
    """The ledger's rows without writing anything (empty when there is no ledger yet)."""
    if not path.exists():
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _history(db, server, user)
    finally:
        db.close()
