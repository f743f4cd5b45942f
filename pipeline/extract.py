"""The extract stage: photo files -> the photos table (walk, stat, hash, read tags in a pool).

    from pipeline.extract import extract
    photos = extract(["~/Pictures/2019"])                 # a DataFrame, one row per photo file
    photos = extract(["~/Pictures/2019"], previous=photos)  # reuses the rows of unchanged files

Files are read in a process pool on every core; each file is guarded (the tag reader's reads are
bounded, and it gets TAG_SECONDS before it is given up), so a hostile file costs its own row an
`error`, never the run.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Iterable, NamedTuple

import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from .exif import SNIFF_BYTES, read_tags, sniff_type
from .schema import PHOTOS, conform, to_pandas

#: Photo files, by extension (any case).
PHOTO_EXTENSIONS = frozenset(
    "jpg jpeg jpe heic heif avif tif tiff png webp dng cr2 cr3 nef arw orf rw2 raf pef srw".split()
)
#: Seconds the tag reader may spend on one file before the file is given up.
TAG_SECONDS = 10.0
_HASH_CHUNK = 1024 * 1024


class FileStat(NamedTuple):
    path: str
    size: int
    mtime_ns: int


class _GaveUp(BaseException):
    """Raised in a worker when a file's tag reading runs past TAG_SECONDS (BaseException so no
    reader's `except Exception` can swallow it)."""


# --- the stage ------------------------------------------------------------------------------


def extract(paths: Iterable[str | os.PathLike] | str | os.PathLike,
            previous: pd.DataFrame | None = None, workers: int | None = None,
            progress: bool = False) -> pd.DataFrame:
    """The photos table of every photo file under `paths`, sorted by path.

    Rows of `previous` whose file has the same path, size and mtime_ns (and was fully hashed) are
    reused without opening the file; other files are read on `workers` processes (default: one
    per core); files no longer found are left out. `df.attrs["extract"]` counts read, reused and
    dropped rows. A path that does not exist raises FileNotFoundError before anything is read.
    """
    found = photo_files(paths)
    reusable = _reusable_rows(previous, found)
    to_read = [stat for stat in found if stat.path not in reusable.index]
    with tqdm(total=len(found), initial=len(found) - len(to_read), unit="file", desc="extract",
              disable=not progress, file=sys.stderr) as bar:
        rows = list(_read_all(to_read, workers, bar.update))
    fresh = pa.Table.from_pylist(rows, schema=PHOTOS)
    reused = conform(reusable.reset_index(), PHOTOS)
    table = pa.concat_tables([reused, fresh]).sort_by("path")
    photos = to_pandas(table)
    kept = {stat.path for stat in found}
    photos.attrs["extract"] = {
        "read": len(to_read),
        "reused": len(reusable),
        "dropped": 0 if previous is None else len(set(previous["path"]) - kept),
    }
    return photos


def photo_files(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[FileStat]:
    """Every photo file under `paths` (files and folders, walked recursively), sorted by path.

    A file is a photo by its extension (PHOTO_EXTENSIONS, any case), also when named in `paths`.
    Names starting with "." are skipped; symlinked folders are followed, each folder once, so a
    link loop ends. Paths stay as found (absolute, links not resolved). A missing path raises
    FileNotFoundError naming it.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    roots = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]
    missing = [root for root in roots if not os.path.exists(root)]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    found: dict[str, FileStat] = {}
    seen_folders: set[tuple[int, int]] = set()
    for root in roots:
        if os.path.isdir(root):
            _walk(root, seen_folders, found)
        elif os.path.isfile(root) and _is_photo(os.path.basename(root)):
            found[root] = _file_stat(root, os.stat(root))
    return sorted(found.values())


# --- walking --------------------------------------------------------------------------------


def _walk(root: str, seen_folders: set, found: dict) -> None:
    """Depth first in name order, so the same link wins on every run and paths stay stable."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            identity = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
        except OSError as exc:
            warnings.warn(f"cannot list {folder}: {exc.strerror}")
            continue
        if (identity.st_dev, identity.st_ino) in seen_folders:
            continue
        seen_folders.add((identity.st_dev, identity.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    stack.append(entry.path)
                elif entry.is_file() and _is_photo(entry.name) and _valid_name(entry.path):
                    found[entry.path] = _file_stat(entry.path, entry.stat())
            except OSError:
                continue  # vanished or a broken link: not a photo we can read


def _is_photo(name: str) -> bool:
    return os.path.splitext(name)[1][1:].lower() in PHOTO_EXTENSIONS


def _valid_name(path: str) -> bool:
    """A table cell must be UTF-8; a name that is not cannot be written down faithfully."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        warnings.warn(f"skipping a file whose name is not UTF-8: {path!r}")
        return False
    return True


def _file_stat(path: str, stat: os.stat_result) -> FileStat:
    return FileStat(path, stat.st_size, stat.st_mtime_ns)


# --- incremental reuse ----------------------------------------------------------------------


def _reusable_rows(previous: pd.DataFrame | None, found: list[FileStat]) -> pd.DataFrame:
    """Rows of `previous` (indexed by path) for files unchanged since, and fully hashed then."""
    if previous is None or previous.empty:
        return to_pandas(PHOTOS.empty_table()).set_index("path")
    current = pd.DataFrame(found, columns=["path", "file_size", "mtime_ns"])
    rows = to_pandas(conform(previous, PHOTOS)).drop_duplicates("path", keep="last")
    unchanged = rows.merge(current, on=["path", "file_size", "mtime_ns"], how="inner")
    return unchanged[unchanged["sha256"].notna()].set_index("path")


# --- reading in a pool ----------------------------------------------------------------------


def _read_all(files: list[FileStat], workers: int | None, advance):
    """Rows of `files`, read on a process pool; `advance(n)` after each finished batch.

    If a worker process dies (which no Python-level failure causes), the files it had not
    finished become rows saying so, with no sha256, so the next run reads them again.
    """
    if not files:
        return
    workers = workers or _cores()
    size = max(1, min(64, len(files) // (workers * 8)))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    with ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(_read_batch, batch): batch for batch in batches}
        for future in as_completed(futures):
            batch = futures[future]
            try:
                rows = future.result()
            except BrokenProcessPool:
                rows = [_row(stat, error="the worker process reading it died") for stat in batch]
            advance(len(batch))
            yield from rows


def _cores() -> int:
    """Cores this process may run on (a container's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pool_context():
    """fork where it is safe and fast (Linux: workers start in milliseconds and run only the
    pure-Python reader); the platform default elsewhere."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _read_batch(files: list[FileStat]) -> list[dict]:
    return [_read_photo(stat) for stat in files]


def _read_photo(stat: FileStat) -> dict:
    """One file's row: hash the bytes, sniff the type, read the tags within TAG_SECONDS."""
    try:
        with open(stat.path, "rb") as fh:
            opened = os.fstat(fh.fileno())
            sha256, head = _hash(fh)
            row = _row(FileStat(stat.path, opened.st_size, opened.st_mtime_ns), sha256=sha256,
                       file_type=sniff_type(head))
            try:
                with _time_limit(TAG_SECONDS):
                    row.update(read_tags(fh))
            except _GaveUp:
                row["error"] = f"gave up reading its tags after {TAG_SECONDS:g} s"
            return row
    except OSError as exc:
        return _row(stat, error=f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a bug must cost one row, not the run
        return _row(stat, error=f"{type(exc).__name__}: {exc}")


def _row(stat: FileStat, **values) -> dict:
    return {
        "path": stat.path,
        "folder": os.path.dirname(stat.path),
        "file_name": os.path.basename(stat.path),
        "file_size": stat.size,
        "mtime_ns": stat.mtime_ns,
        **values,
    }


def _hash(fh) -> tuple[str, bytes]:
    """The sha256 of the whole file and its first SNIFF_BYTES."""
    digest = hashlib.sha256()
    head = fh.read(_HASH_CHUNK)
    digest.update(head)
    for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest(), head[:SNIFF_BYTES]


@contextmanager
def _time_limit(seconds: float):
    """Raise _GaveUp in this (main) thread when the block runs longer than `seconds`, and again
    every second after, should some finalizer have swallowed the first."""
    def give_up(signum, frame):
        raise _GaveUp

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
