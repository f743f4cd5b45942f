"""A workspace's paths, atomic writes, the writer lock and the stage manifest.

Stage functions never open files; the CLI asks this module where things live and how to write
them so that a run killed at any moment leaves the previous file intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from .schema import RESOLVED, conform, to_pandas
from .text import iso_text


class WorkspaceBusy(RuntimeError):
    """Another photoflux command holds the workspace's writer lock."""


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
    manifest = property(lambda self: self.data / "manifest.json")
    uploads = property(lambda self: self.data / "uploads.sqlite")
    rules_in_force = property(lambda self: self.data / "overrides_in_force.csv")
    approvals = property(lambda self: self.root / "approvals.csv")
    audit_csv = property(lambda self: self.reports / "audit.csv")
    audit_xlsx = property(lambda self: self.reports / "audit.xlsx")
    audit_html = property(lambda self: self.reports / "audit.html")
    lock_path = property(lambda self: self.root / ".photoflux.lock")
    lock_owner = property(lambda self: self.root / ".photoflux.lock.owner")

    @contextmanager
    def writer(self, command: str):
        """Hold the workspace's OS file lock for one writing command; refuse at once if taken.

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
            self.lock_owner.write_text(f"'photoflux {command}' (pid {os.getpid()})\n")
            yield self
        finally:
            lock.release()

    def read_manifest(self) -> dict:
        try:
            return json.loads(self.manifest.read_text())
        except (OSError, ValueError):
            return {}

    def write_manifest_entry(self, stage: str, entry: dict) -> None:
        manifest = self.read_manifest()
        manifest[stage] = entry
        atomic_write_text(self.manifest, json.dumps(manifest, indent=2, sort_keys=True, default=str))


@contextmanager
def _atomic_target(path: Path):
    """Yield a temporary path beside `path`; on success move it into place with os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path) as tmp:
        tmp.write_bytes(data)


def write_table(path: Path, df: pd.DataFrame, schema: pa.Schema) -> None:
    """Write a DataFrame as Parquet under the schema, atomically."""
    write_parquet(path, conform(df, schema))


def write_parquet(path: Path, table: pa.Table) -> None:
    with _atomic_target(path) as tmp:
        pq.write_table(table, tmp)


def read_table(path: Path, schema: pa.Schema) -> pd.DataFrame:
    """Read a table written by `write_table` back as a DataFrame with the schema's columns."""
    return to_pandas(pq.read_table(path, schema=schema))


def write_csv(path: Path, data: pd.DataFrame | pa.Table) -> None:
    """Write a CSV atomically with Arrow's C++ writer, UTF-8 with a BOM so spreadsheets read
    non-ASCII names right; nulls are empty cells, booleans true/false."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    with _atomic_target(path) as tmp, open(tmp, "wb") as out:
        out.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="needed"))


def write_audit_csv(path: Path, resolved: pa.Table) -> None:
    """The resolved table as a spreadsheet-friendly CSV: ISO text times beside the UTC seconds,
    which stay an unquoted number (whole milliseconds, shortest exact form)."""
    def replace(table: pa.Table, name: str, values) -> pa.Table:
        return table.set_column(table.schema.get_field_index(name), name, values)

    seconds = resolved["capture_time_secs_utc"]
    view = replace(resolved, "local_time", iso_text(resolved["local_time"]))
    view = replace(view, "utc_time", iso_text(resolved["utc_time"], "Z"))
    view = replace(view, "capture_time_secs_utc",
                   pc.divide(pc.round(pc.multiply(seconds, 1000)), 1000.0))
    write_csv(path, view)


def save_resolved(ws: Workspace, resolved: pd.DataFrame) -> None:
    """resolved.parquet and reports/audit.csv from one conversion, written side by side."""
    from concurrent.futures import ThreadPoolExecutor

    table = conform(resolved, RESOLVED)
    with ThreadPoolExecutor(max_workers=2) as pool:
        writes = [pool.submit(write_parquet, ws.resolved, table),
                  pool.submit(write_audit_csv, ws.audit_csv, table)]
        for write in writes:
            write.result()

