"""The server's store: one SQLite database plus content-addressed photo files under one folder.

File names are derived only from the server's own SHA-256 of the bytes, never from a request, so
no key or id a client sends can name a path. By default one lock spans the dedup lookup and the
insert, so dedup on (guest, bytes, capture millisecond) holds however many connections upload the
same photo at once. The real server has no such lock (nor a unique index): `dedup_lock=False`
reproduces it, so that two overlapping uploads of one photo both create it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..fluxtream import photo_key
from .images import Picture

SCHEMA = """
CREATE TABLE IF NOT EXISTS guests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guest_id INTEGER NOT NULL REFERENCES guests(id),
    sha256 TEXT NOT NULL,
    capture_ms INTEGER NOT NULL,
    key TEXT NOT NULL,
    media_type TEXT NOT NULL,
    comment TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    width INTEGER,
    height INTEGER,
    orientation INTEGER
);
CREATE INDEX IF NOT EXISTS photos_by_time ON photos (guest_id, capture_ms);
CREATE INDEX IF NOT EXISTS photos_by_key ON photos (guest_id, key);
CREATE INDEX IF NOT EXISTS photos_by_content ON photos (guest_id, sha256, capture_ms);
"""
PHOTO_COLUMNS = ["id", "guest_id", "sha256", "capture_ms", "key", "media_type", "comment", "tags",
                 "created_at", "updated_at", "width", "height", "orientation"]
#: The largest integer SQLite stores: no id can be above it, and no number above it can be bound.
SQLITE_INT_MAX = 2**63 - 1

@dataclass(frozen=True)
class Photo:
    id: int
    key: str
    capture_ms: int
    media_type: str
    comment: str | None
    tags: list[str]
    path: Path
    picture: Picture | None  # None for rows a store made before it kept sizes


class Store:
    """Guests, photo rows and photo files under `root`; safe to share between the threads of one
    process (one server per store: the lock that keeps dedup exact is in-process).

    Without `dedup_lock`, an upload looks its photo up, waits `race_seconds`, then inserts it,
    with nothing in between to stop another upload of the same photo doing the same.
    """

    def __init__(self, root: Path, dedup_lock: bool = True, race_seconds: float = 0.0):
        self.root = Path(root)
        self.blobs = self.root / "photos"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one thread at a time on the connection
        self._dedup = threading.Lock() if dedup_lock else nullcontext()
        self._race_seconds = 0.0 if dedup_lock else race_seconds
        self._db = sqlite3.connect(self.root / "store.sqlite", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Like the photo files (not fsynced), commits survive a killed server but not a power
        # cut; a full fsync per upload would make the disk, not the network, the bottleneck.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._upgrade()

    def _upgrade(self):
        """Rebuild a photos table an older photoflux made (a unique index on the photo's identity,
        which the real server lacks; no image size) in today's shape, keeping its rows and ids."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(photos)")]
        unique = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                                  "tbl_name = 'photos' AND sql IS NULL").fetchone()
        if columns == PHOTO_COLUMNS and not unique:
            return
        kept = ", ".join(column for column in columns if column in PHOTO_COLUMNS)
        self._db.executescript(
            "BEGIN; ALTER TABLE photos RENAME TO photos_before;"
            " DROP INDEX photos_by_time; DROP INDEX photos_by_key;"
            " DROP INDEX IF EXISTS photos_by_content;"
            f" {SCHEMA} INSERT INTO photos ({kept}) SELECT {kept} FROM photos_before;"
            " DROP TABLE photos_before; COMMIT;")

    def close(self):
        self._db.close()

    def guest_ids(self, usernames) -> dict[str, int]:
        """The guest id of each username, created on first sight and stable ever after."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO guests (username) VALUES (?)", [(u,) for u in usernames]
            )
            return {u: self._db.execute("SELECT id FROM guests WHERE username = ?",
                                        (u,)).fetchone()[0] for u in usernames}

    def save(self, guest_id: int, data: bytes, capture_ms: int, picture: Picture,
             comment: str | None, tags: list[str]) -> tuple[str, int, str]:
        """Store a photo once per (guest, bytes, capture ms): ("created"|"updated", id, key).

        The file is in place before its row commits, so a row never points at a missing file.
        Like Fluxtream, an `updated` upload only touches the row's update time (the comment and
        tags stay as the photo was created with).
        """
        sha256 = hashlib.sha256(data).hexdigest()
        with self._dedup:
            with self._lock, self._db:
                row = self._db.execute(
                    "SELECT id, key FROM photos WHERE guest_id = ? AND sha256 = ? AND "
                    "capture_ms = ? ORDER BY id LIMIT 1", (guest_id, sha256, capture_ms),
                ).fetchone()
                if row:
                    self._db.execute("UPDATE photos SET updated_at = ? WHERE id = ?",
                                     (time.time(), row[0]))
                    return "updated", row[0], row[1]
            time.sleep(self._race_seconds)
            key, now = photo_key(guest_id, capture_ms, sha256), time.time()
            with self._lock, self._db:  # no delete of the same bytes between file and row
                self._write_blob(sha256, data)
                cursor = self._db.execute(
                    "INSERT INTO photos (guest_id, sha256, capture_ms, key, media_type, comment,"
                    " tags, created_at, updated_at, width, height, orientation)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (guest_id, sha256, capture_ms, key, picture.media_type, comment,
                     json.dumps(tags), now, now, picture.width, picture.height,
                     picture.orientation),
                )
            return "created", cursor.lastrowid, key

    def by_key(self, guest_id: int, key: str) -> Photo | None:
        return self._one("key = ?", guest_id, key)

    def by_id(self, guest_id: int, photo_id: int) -> Photo | None:
        return self._one("id = ?", guest_id, photo_id)

    def nearest(self, guest_id: int, at_ms: int, count: int, before: bool) -> list[Photo]:
        """Up to `count` photos at or before (or at or after) `at_ms`, nearest first."""
        where, order = ("capture_ms <= ?", "DESC") if before else ("capture_ms >= ?", "ASC")
        return self._many(f"{where} ORDER BY capture_ms {order}, id {order} LIMIT ?",
                          guest_id, at_ms, count)

    def set_metadata(self, guest_id: int, photo_id: int, comment: str | None,
                     tags: list[str] | None) -> Photo | None:
        """Change the comment and/or the tags (None leaves one as it is)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE photos SET comment = COALESCE(?, comment), tags = COALESCE(?, tags),"
                " updated_at = ? WHERE guest_id = ? AND id = ?",
                (comment, None if tags is None else json.dumps(tags), time.time(),
                 guest_id, photo_id),
            )
        return self.by_id(guest_id, photo_id)

    def delete(self, guest_id: int, photo_id: int) -> bool:
        """Remove one photo; its file goes too unless another photo shares the bytes."""
        with self._lock, self._db:
            row = self._db.execute("SELECT sha256 FROM photos WHERE guest_id = ? AND id = ?",
                                   (guest_id, photo_id)).fetchone()
            if not row:
                return False
            self._db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
            if not self._db.execute("SELECT 1 FROM photos WHERE sha256 = ?", row).fetchone():
                self._blob_path(row[0]).unlink(missing_ok=True)
            return True

    def _blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def _write_blob(self, sha256: str, data: bytes):
        """Write the bytes under their hash, atomically (temp file then rename)."""
        path = self._blob_path(sha256)
        if path.exists():
            return
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    _COLUMNS = "id, key, capture_ms, media_type, comment, tags, sha256, width, height, orientation"

    def _many(self, where: str, guest_id: int, *params) -> list[Photo]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM photos WHERE guest_id = ? AND {where}",
                (guest_id, *params)).fetchall()
        return [Photo(id, key, ms, media_type, comment, json.loads(tags), self._blob_path(sha),
                      None if width is None else Picture(media_type, width, height, orientation))
                for id, key, ms, media_type, comment, tags, sha, width, height, orientation
                in rows]

    def _one(self, where: str, guest_id: int, value) -> Photo | None:
        found = self._many(where, guest_id, value)
        return found[0] if found else None
