"""A workspace: where each file lives, its tables read against their declared schemas, changes
of several files made all or nothing, the writer lock and the stage manifest.

Stage functions never open files; runner asks this module to load and save by name. A change
writes every file to a temp file beside it first, then lists the renames in a journal, renames,
and drops the journal: a command killed or out of space at any moment leaves each file either
as it was or, once the journal is written, as the next writing command completes it.
"""
from __future__ import annotations

import errno
import functools
import glob
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# pandas and pyarrow are imported where a table is read or written, so that a command with
# nothing to read (an upload with nothing to send) starts without them.

#: Test switch read only by the write helpers: a file-name glob; writing a file whose name
#: matches fails as if the disk were full (after its temp file was created).
FAIL_WRITE_ENV = "PHOTOFLUX_FAIL_WRITE"
JOURNAL = ".photoflux.journal"


class StageError(RuntimeError):
    """A stage cannot run: its message is one line for the user; `code` is the exit code."""

    code = 2


class TableUnreadable(StageError):
    """A workspace file exists but cannot be used (damaged, truncated, not photoflux's)."""


class DiskFull(StageError):
    """The disk filled while writing `path`; nothing of the change was kept."""

    code = 1

    def __init__(self, path: Path):
        super().__init__(f"no space left on device while writing {path}")
        self.path = path


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, as the OS, Arrow and SQLite each report it (SQLite: 'database or disk is full',
    or a WAL index that cannot grow when a full disk refuses its -shm file)."""
    if isinstance(exc, sqlite3.Error):
        return ("disk is full" in str(exc)  # Python 3.10 has no sqlite_errorname
                or getattr(exc, "sqlite_errorname", None) == "SQLITE_IOERR_SHMSIZE")
    return getattr(exc, "errno", None) == errno.ENOSPC


@contextmanager
def writing_to(target: Path):
    """A full disk inside the block (the OS's, Arrow's or SQLite's word for it) as DiskFull
    naming `target`."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise DiskFull(target) from None
        raise


class WorkspaceBusy(RuntimeError):
    """Another photoflux command holds the workspace's writer lock."""


@dataclass(frozen=True)
class Stored:
    """One table of the catalog (named as the Workspace property giving its path): its declared
    schema, the command that makes it and what to do when it cannot be read ({root}: the
    workspace)."""

    schema: pa.Schema | None  # None: a CSV read as text
    made_by: str
    remedy: str
    optional: tuple[str, ...] = ()  # columns an older photoflux did not write: read as null


_REEXTRACT = ("run 'photoflux extract --rebuild -w {root}' (it re-reads every photo under the "
              "folders recorded in data/manifest.json)")
_RERESOLVE = "run 'photoflux resolve -w {root} --default-tz ZONE' again to rebuild it"


@functools.cache
def catalog() -> dict[str, Stored]:
    from .schema import (ADDED_PHOTOS_COLUMNS, ADDED_RESOLVED_COLUMNS, APPROVALS, PHOTOS, RESOLVED,
                         SEGMENTS, SERVER, TRACKS)

    return {
        "photos": Stored(PHOTOS, "photoflux extract", _REEXTRACT, ADDED_PHOTOS_COLUMNS),
        "resolved": Stored(RESOLVED, "photoflux resolve", _RERESOLVE, ADDED_RESOLVED_COLUMNS),
        "segments": Stored(SEGMENTS, "photoflux resolve", _RERESOLVE),
        "approvals": Stored(APPROVALS, "photoflux approve",
                            "fix it, or move it aside to start approving afresh"),
        "rules_in_force": Stored(None, "photoflux resolve", _RERESOLVE),
        "server": Stored(SERVER, "photoflux reconcile",
                         "run 'photoflux reconcile -w {root} --server URL --user NAME' again to "
                         "list the server afresh"),
        "tracks": Stored(TRACKS, "photoflux tracks add", "move it aside and add the location "
                         "history files again with 'photoflux tracks add FILE... -w {root}'"),
    }


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, None when it does not exist."""
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).absolute())

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    photos = property(lambda self: self.data / "photos.parquet")
    resolved = property(lambda self: self.data / "resolved.parquet")
    segments = property(lambda self: self.data / "segments.parquet")
    manifest = property(lambda self: self.data / "manifest.json")
    uploads = property(lambda self: self.data / "uploads.sqlite")
    rules_in_force = property(lambda self: self.data / "overrides_in_force.csv")
    tracks = property(lambda self: self.data / "tracks.parquet")
    approvals = property(lambda self: self.root / "approvals.csv")
    clocks = property(lambda self: self.root / "clocks.csv")
    audit_csv = property(lambda self: self.reports / "audit.csv")
    audit_xlsx = property(lambda self: self.reports / "audit.xlsx")
    audit_html = property(lambda self: self.reports / "audit.html")
    server = property(lambda self: self.data / "server.parquet")  # what reconcile listed
    server_csv = property(lambda self: self.reports / "server.csv")
    audit_thumbs = property(lambda self: self.reports / "audit_thumbs")  # a big page's pictures
    thumbs = property(lambda self: self.data / "thumbs")  # thumbnail cache, by sha256
    journal = property(lambda self: self.root / JOURNAL)
    lock_path = property(lambda self: self.root / ".photoflux.lock")
    lock_owner = property(lambda self: self.root / ".photoflux.lock.owner")

    # --- tables by name ---------------------------------------------------------------------

    def load(self, name: str, arrow: bool = False) -> pd.DataFrame | pa.Table:
        """The catalog's table `name`, checked against its declared schema (with `arrow`, as
        an Arrow table: millions of track points go to numpy without a pandas copy).

        StageError when it does not exist; TableUnreadable (exit code 2) when it is damaged,
        empty, truncated or not photoflux's, saying what to do.
        """
        import pandas as pd
        import pyarrow as pa

        stored = catalog()[name]
        path = self.require(name)
        try:
            if name == "approvals":
                return _read_approvals(path, stored.schema)
            if stored.schema is None:
                return pd.read_csv(path, dtype="string", encoding="utf-8-sig")
            return _read_parquet(path, stored.schema, stored.optional, arrow)
        except (pa.ArrowException, OSError, ValueError) as exc:  # pandas' parse errors too
            raise self.unreadable(name, exc) from None

    def metadata(self, name: str) -> dict[bytes, bytes]:
        """The key-value metadata of the catalog's Parquet table `name`, read from its footer
        alone, its schema checked as `load` checks it; {} when the file does not exist.
        TableUnreadable as for `load`."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        stored = catalog()[name]
        path = getattr(self, name)
        if not path.exists():
            return {}
        try:
            _check_schema(path, stored.schema, stored.optional)
            return pq.read_metadata(path).metadata or {}
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self.unreadable(name, exc) from None

    def unreadable(self, name: str, exc: BaseException) -> TableUnreadable:
        """What `load` raises when the catalog's table `name` cannot be used, saying what to do."""
        return TableUnreadable(f"{getattr(self, name)}: cannot be read ({_detail(exc)}); "
                               + catalog()[name].remedy.format(root=self.root))

    def require(self, name: str) -> Path:
        """The path of the catalog's table `name`; StageError, saying which command makes it,
        when it does not exist. A command checks this before taking the lock, so that one
        that cannot run creates nothing (not even the workspace folder)."""
        path = getattr(self, name)
        if not path.exists():
            raise StageError(f"{path} does not exist: run '{catalog()[name].made_by}' first")
        return path

    def save(self, name: str, df: pd.DataFrame) -> None:
        """Write one table of the catalog (resolved: with reports/audit.csv) as one change."""
        with self.change() as change:
            change.save(name, df)

    @contextmanager
    def change(self):
        """A `Change`: files staged in the block are all renamed into place when it ends, or,
        when it raises, none are (their temp files are removed)."""
        change = Change(self)
        try:
            yield change
            change.commit()
        finally:
            change.discard()

    # --- the writer lock and what a killed writer left --------------------------------------

    @contextmanager
    def writer(self, command: str, announce: bool = True):
        """Hold the workspace's OS file lock for one writing command; refuse at once if taken.
        Once held, finish or clean up what a killed command left (see `recover`). Without
        `announce`, the owner file is not written: for a check that writes nothing itself.

        The lock is a kernel lock (flock), so it dies with its process even under kill -9.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            try:
                owner = self.lock_owner.read_text().strip()
            except OSError:
                owner = "another photoflux command"
            raise WorkspaceBusy(f"workspace {self.root} is busy: {owner} is writing it") from None
        try:
            if announce:
                try:  # a courtesy to `status` and a refused writer: a full disk is told by
                    # the command's own writes, about the file it could not write
                    self.lock_owner.write_text(f"'photoflux {command}' (pid {os.getpid()})\n")
                except OSError:
                    self.lock_owner.unlink(missing_ok=True)
            self.recover()
            yield self
        finally:
            self.lock_owner.unlink(missing_ok=True)
            lock.release()

    def holder(self) -> str | None:
        """The command writing the workspace now ("'photoflux upload' (pid 123)"), or None.
        Read without touching the lock (taking it even for a moment could refuse a writer):
        the holder names itself in the owner file and removes it when done; a name whose
        process is gone (killed with kill -9) is no holder."""
        try:
            owner = self.lock_owner.read_text().strip()
        except OSError:
            return None
        found = re.search(r"\(pid (\d+)\)$", owner)
        if found is None:
            return None
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's process: alive
            pass
        return owner

    def recover(self) -> None:
        """Roll a journalled change forward (its temp files are complete), then remove the temp
        files of changes that never reached their journal. Call only while holding the lock."""
        if self.journal.exists():
            try:
                renames = json.loads(self.journal.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # written atomically, so only if tampered with
                renames = []
            for temp, target in renames:
                if (self.root / temp).exists():
                    os.replace(self.root / temp, self.root / target)
            self.journal.unlink()
        for target in (self.photos, self.resolved, self.segments, self.manifest,
                       self.rules_in_force, self.tracks, self.approvals, self.audit_csv,
                       self.audit_xlsx, self.audit_html, self.server, self.server_csv,
                       self.journal, self.clocks):
            for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
                leftover.unlink(missing_ok=True)

    # --- the manifest -----------------------------------------------------------------------

    def read_manifest(self) -> dict:
        """What each stage last ran on; {} before any. A damaged manifest is TableUnreadable:
        it records the folders `extract --rebuild` re-reads, so it is never silently replaced."""
        try:
            text = self.manifest.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TableUnreadable(f"{self.manifest}: cannot be read ({exc.strerror})") from None
        try:
            manifest = json.loads(text)
            if isinstance(manifest, dict):
                return manifest
        except ValueError:
            pass
        raise TableUnreadable(f"{self.manifest}: cannot be read (not a JSON object); move it "
                              "aside, then run 'photoflux run PATH...' to record every stage "
                              "again") from None

    def upload_inputs(self, request: dict) -> dict:
        """What an upload that sends nothing answers from: the resolved table, the ledger (and
        its write-ahead log while it holds anything), the `request` (server, user, selection,
        options, as given) and photoflux's version, as digests and plain JSON values."""
        from . import __version__

        def digest(path: Path) -> str | None:  # empty or absent alike; a folder is no file
            if os.path.isdir(path):
                return "a folder"
            return file_digest(path) if path.exists() and path.stat().st_size else None

        wal = self.uploads.with_name(self.uploads.name + "-wal")
        return {"resolved": digest(self.resolved), "ledger": digest(self.uploads),
                "ledger_wal": digest(wal),
                "request": json.loads(json.dumps(request, sort_keys=True, default=str)),
                "version": __version__}

    def idle_rerun(self, stage: str, inputs: dict) -> dict | None:
        """What the stage's last run recorded that a rerun on the same `inputs` does (its
        `idle` entry), when the inputs are those; else None."""
        entry = self.read_manifest().get(stage, {})
        return entry.get("idle") if entry.get("inputs") == inputs else None

    def write_manifest_entry(self, stage: str, entry: dict) -> None:
        with self.change() as change:
            change.manifest_entry(stage, entry)


class Change:
    """Files written all or nothing (see `Workspace.change`)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.staged: list[tuple[Path, Path]] = []  # (temp file, target)
        self.entries: dict = {}

    def save(self, name: str, df: pd.DataFrame) -> None:
        """Stage a catalog table; the resolved table brings its CSV view, reports/audit.csv."""
        import pyarrow.parquet as pq

        from .schema import conform

        stored = catalog()[name]
        path = getattr(self.ws, name)
        if stored.schema is None:
            self.write(path, lambda temp: write_csv(temp, df))
            return
        table = conform(df, stored.schema)
        if name == "approvals":
            self.write(path, lambda temp: write_csv(temp, table))
        elif name == "resolved":
            self.write_parallel([(path, lambda temp: pq.write_table(table, temp)),
                                 (self.ws.audit_csv, lambda temp: write_audit_csv(temp, table))])
        elif name == "server":
            self.write(path, lambda temp: pq.write_table(table, temp))
            self.write(self.ws.server_csv, lambda temp: write_csv(temp, iso_times(table)))
        else:
            self.write(path, lambda temp: pq.write_table(table, temp))

    def write_bytes(self, path: Path, data: bytes) -> None:
        self.write(path, lambda temp: temp.write_bytes(data))

    def write_text(self, path: Path, text: str) -> None:
        self.write(path, lambda temp: temp.write_text(text, encoding="utf-8"))

    def manifest_entry(self, stage: str, entry: dict) -> None:
        """Record the stage in data/manifest.json with the rest of the change."""
        self.entries[stage] = entry

    def write(self, target: Path, write) -> None:
        """`write(temp)` the target's new content into a temp file beside it."""
        with writing_to(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
            os.close(fd)
            temp = Path(name)
            self.staged.append((temp, target))
            failing = os.environ.get(FAIL_WRITE_ENV)
            if failing and fnmatch(target.name, failing):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
            write(temp)
            with open(temp, "rb") as f:
                os.fsync(f.fileno())

    def write_parallel(self, writes: list) -> None:
        """Several `write(target, fn)` at once (Arrow releases the GIL); the first error wins."""
        from concurrent.futures import ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=len(writes)) as pool:
            futures = [pool.submit(self.write, target, fn) for target, fn in writes]
            wait(futures)
        for future in futures:
            future.result()

    def commit(self) -> None:
        if self.entries:
            manifest = {**self.ws.read_manifest(), **self.entries}
            self.write_text(self.ws.manifest, json.dumps(manifest, indent=2, sort_keys=True,
                                                         default=str))
        journalled = len(self.staged) > 1
        if journalled:
            renames = [[os.path.relpath(p, self.ws.root) for p in pair] for pair in self.staged]
            journal = Change(self.ws)
            try:
                journal.write_text(self.ws.journal, json.dumps(renames))
                os.replace(*journal.staged[0])
                journal.staged.clear()
            finally:
                journal.discard()
        staged, self.staged = self.staged, []  # from here on the journal owns the temp files
        for temp, target in staged:
            os.replace(temp, target)
        if journalled:
            self.ws.journal.unlink()

    def discard(self) -> None:
        for temp, _ in self.staged:
            temp.unlink(missing_ok=True)
        self.staged = []


def _read_parquet(path: Path, schema: pa.Schema, optional: tuple[str, ...], arrow: bool = False
                  ) -> pd.DataFrame | pa.Table:
    import pyarrow.parquet as pq

    from .schema import to_pandas

    _check_schema(path, schema, optional)
    table = pq.read_table(path, schema=schema)
    return table if arrow else to_pandas(table)


def _check_schema(path: Path, schema: pa.Schema, optional: tuple[str, ...]) -> None:
    """ValueError unless the Parquet file's columns are the schema's (optional ones may lack)."""
    import pyarrow.parquet as pq

    found = pq.read_schema(path)
    declared = dict(zip(schema.names, schema.types))
    unknown = [n for n in found.names if n not in declared]
    missing = [n for n in declared if n not in found.names and n not in optional]
    mistyped = [f"{n} is {t}, not {declared[n]}" for n, t in zip(found.names, found.types)
                if n in declared and t != declared[n]]
    if unknown or missing or mistyped:
        raise ValueError("not a photoflux table: " + "; ".join(
            ([f"unknown columns {unknown[:5]}"] if unknown else [])
            + ([f"missing columns {missing[:5]}"] if missing else []) + mistyped[:3]))


def _read_approvals(path: Path, schema: pa.Schema) -> pd.DataFrame:
    """approvals.csv as text columns; an empty file is no approvals."""
    import pandas as pd

    from .approvals import empty_approvals

    if path.stat().st_size == 0:
        return empty_approvals()
    table = pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in schema.names if c not in table.columns]
    if missing:
        raise ValueError(f"lacks columns {missing}")
    return table[schema.names]


def _detail(exc: BaseException) -> str:
    """The reason, without the file name the message already starts with."""
    if isinstance(exc, OSError) and exc.filename:
        return exc.strerror
    return re.sub(r"^Could not open Parquet input source '.*?': ", "", str(exc), flags=re.S)


def read_table(path: Path, schema: pa.Schema) -> pd.DataFrame:
    """A Parquet file as a DataFrame with the schema's columns, unchecked (tests, benchmarks)."""
    import pyarrow.parquet as pq

    from .schema import to_pandas

    return to_pandas(pq.read_table(path, schema=schema))


def write_table(path: Path, df: pd.DataFrame, schema: pa.Schema) -> None:
    """A DataFrame as Parquet under the schema, unchecked (tests, benchmarks)."""
    import pyarrow.parquet as pq

    from .schema import conform

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(conform(df, schema), path)


def write_csv(path: Path, data: pd.DataFrame | pa.Table) -> None:
    """A CSV written with Arrow's C++ writer, UTF-8 with a BOM so spreadsheets read non-ASCII
    names right; every text value is quoted (so CR and LF in a path round-trip), nulls are
    empty cells, booleans true/false."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    with open(path, "wb") as out:
        out.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))


def iso_times(table: pa.Table) -> pa.Table:
    """The table with every UTC timestamp column as ISO text ending in Z (a CSV's view)."""
    import pyarrow as pa

    from .text import iso_text

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(index, field.name, iso_text(table[field.name], "Z"))
    return table


def write_audit_csv(path: Path, resolved: pa.Table) -> None:
    """The resolved table as a spreadsheet-friendly CSV: ISO text times beside the UTC seconds,
    which stay an unquoted number (whole milliseconds, shortest exact form)."""
    import pyarrow.compute as pc

    from .text import iso_text

    def replace(table: pa.Table, name: str, values) -> pa.Table:
        return table.set_column(table.schema.get_field_index(name), name, values)

    seconds = resolved["capture_time_secs_utc"]
    view = replace(iso_times(resolved), "local_time", iso_text(resolved["local_time"]))
    view = replace(view, "capture_time_secs_utc",
                   pc.divide(pc.round(pc.multiply(seconds, 1000)), 1000.0))
    write_csv(path, view)
