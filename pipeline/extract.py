"""The extract stage: photo files -> the photos table (walk, stat, hash, read tags in a pool).

    from pipeline.extract import extract
    photos = extract(["~/Pictures/2019"])                 # a DataFrame, one row per photo file
    photos = extract(["~/Pictures/2019"], previous=photos)  # reuses the rows of unchanged files
    photos = extract(["~/Pictures/2020"], previous=photos)  # adds 2020, keeps 2019's rows

Files are read in a process pool on every core; each file is guarded (the tag reader's reads are
bounded, and opening, hashing and reading it get `seconds_allowed` before it is given up), so a
hostile file costs its own row an `error`, never the run. The workers die with this process, and
SIGTERM or SIGINT stops the pool within a second (`Interrupted`).
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import islice
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from .readers import READER_VERSION, SNIFF_BYTES, internal_error, read_tags, sniff_type
from .readers.sidecars import read_sidecars
from .schema import PHOTOS, conform, empty, to_pandas
from .walk import STAT_COLUMNS, FileStat, absolute_roots, walk

_SIDECAR_COLUMNS = STAT_COLUMNS[3:]

#: Every file gets BASE_SECONDS to be opened, hashed and read, plus its allocated bytes at
#: SLOW_DISK_BYTES_PER_SECOND (so a real 3 GB TIFF on a slow disk is read, not given up).
BASE_SECONDS = 10.0
SLOW_DISK_BYTES_PER_SECOND = 20 * 1024 * 1024
#: Files up to this size are read into memory in one read, larger ones hashed in chunks.
IN_MEMORY_BYTES = 64 * 1024 * 1024
_HASH_CHUNK = 1024 * 1024
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived during extract: the pool was stopped, nothing is returned."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class _GaveUp(BaseException):
    """Raised in a worker when a file's reading runs past its time (BaseException so no
    reader's `except Exception` can swallow it)."""


# --- the stage ------------------------------------------------------------------------------


def extract(paths: Iterable[str | os.PathLike] | str | os.PathLike,
            previous: pd.DataFrame | None = None, workers: int | None = None,
            progress: bool = False, prune: bool = False) -> pd.DataFrame:
    """The photos table after reading `paths`: a row for every photo file under them, and the
    rows of `previous` outside them, sorted by path.

    Under `paths`, rows of `previous` whose file has the same path, size and mtime_ns (and was
    fully hashed), and the same sidecars unchanged (see FileStat), are reused without opening
    the file; other files, with their sidecars, are read on `workers`
    processes (default: one per core), and rows whose file is no longer found are dropped.
    Rows outside `paths` are kept as they are; with `prune`, those whose file is gone are
    dropped too. `df.attrs["extract"]` counts read, reused, kept (outside `paths`) and dropped
    rows; `df.attrs["listing"]` is the walk's digest (see walk.walk). A path that does not
    exist raises FileNotFoundError before anything is read; SIGTERM/SIGINT raise Interrupted.
    """
    roots = absolute_roots(paths)
    previous = empty(PHOTOS) if previous is None else (
        to_pandas(conform(previous, PHOTOS)).drop_duplicates("path", keep="last"))
    inside = under(previous["path"], roots)
    with _stop_on_signals() as stop:
        found, listing = walk(roots, stop.check)
        kept = previous[~inside]
        if prune:
            kept = kept[np.array([os.path.isfile(path) for path in kept["path"]], dtype=bool)]
        reusable = _reusable_rows(previous[inside], found)
        to_read = [stat for stat in found if stat.path not in reusable.index]
        with tqdm(total=len(found), initial=len(found) - len(to_read), unit="file",
                  desc="extract", disable=not progress, file=sys.stderr) as bar:
            rows = list(_read_all(to_read, workers, bar.update, stop.check))
    parts = [conform(reusable.reset_index(), PHOTOS), conform(kept, PHOTOS),
             pa.Table.from_pylist(rows, schema=PHOTOS)]
    photos = to_pandas(pa.concat_tables(parts).sort_by("path"))
    still_found = pc.is_in(pa.array(previous.loc[inside, "path"], type=pa.string()),
                           value_set=pa.array([stat.path for stat in found], type=pa.string()))
    photos.attrs["listing"] = listing
    photos.attrs["extract"] = {
        "read": len(to_read), "reused": len(reusable), "kept": len(kept),
        "dropped": len(previous) - len(kept) - pc.sum(still_found, min_count=0).as_py(),
    }
    return photos


def under(paths: pd.Series, roots: Iterable[str]) -> pd.Series:
    """Which of `paths` are one of `roots` (absolute) or lie below one, compared as text: links
    are not resolved, so a path is under the root it was found through."""
    text = pa.array(paths, type=pa.string(), from_pandas=True)
    mask = np.zeros(len(text), dtype=bool)
    for root in roots:
        below = pc.starts_with(text, pattern=root.rstrip(os.sep) + os.sep)
        mask |= pc.fill_null(pc.or_(pc.equal(text, root), below), False).to_numpy(
            zero_copy_only=False)
    return pd.Series(mask, index=paths.index)


# --- incremental reuse ----------------------------------------------------------------------


def _reusable_rows(previous: pd.DataFrame, found: list[FileStat]) -> pd.DataFrame:
    """Rows of `previous` (indexed by path) for files unchanged since, fully hashed then and
    read by these readers (a row an older reader wrote lacks evidence they read), whose
    sidecars are the same files, unchanged too (none added, none gone)."""
    current = pd.DataFrame(found, columns=STAT_COLUMNS)
    unchanged = previous.merge(current, on=["path", "file_size", "mtime_ns"], how="inner",
                               suffixes=("", "_now"))
    same = np.logical_and.reduce([
        unchanged["sha256"].notna().to_numpy(),
        unchanged["reader_version"].eq(READER_VERSION).fillna(False).to_numpy(dtype=bool),
        *((unchanged[column].fillna("") == unchanged[column + "_now"].fillna("")).to_numpy()
          for column in _SIDECAR_COLUMNS)])
    return unchanged.loc[same, previous.columns].set_index("path")


# --- reading in a pool ----------------------------------------------------------------------


def _read_all(files: list[FileStat], workers: int | None, advance, check):
    """Rows of `files`, read on a process pool; `advance(n)` after each finished batch, and
    `check()` at least every 0.1 s (it may raise to stop).

    If a worker process dies (which no Python-level failure causes), the files it had not
    finished become rows saying so, with no sha256, so the next run reads them again. Two
    batches a worker are in flight at a time, so waiting stays cheap and little is queued. When
    reading stops early (`check` raised, or the caller stopped) the pool is stopped at once.
    """
    if not files:
        return
    workers = workers or cores()
    size = max(1, min(64, len(files) // (workers * 8)))
    batches = (files[i:i + size] for i in range(0, len(files), size))
    pool = ProcessPoolExecutor(workers, mp_context=pool_context(), initializer=worker_start,
                               initargs=(os.getpid(),))
    try:
        running = {_submit(pool, batch): batch for batch in islice(batches, 2 * workers)}
        while running:
            finished, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            check()
            for future in finished:
                batch = running.pop(future)
                try:
                    rows = future.result()
                except BrokenProcessPool:
                    rows = [_row(stat, error="the worker process reading it died")
                            for stat in batch]
                advance(len(batch))
                yield from rows
                for queued in islice(batches, 1):  # the next batch, if any, takes its place
                    running[_submit(pool, queued)] = queued
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()


def _submit(pool: ProcessPoolExecutor, batch: list[FileStat]) -> Future:
    """The batch's future; once a worker has died the pool takes no more, so the future holds
    that failure (and its files become rows saying so)."""
    try:
        return pool.submit(_read_batch, batch)
    except BrokenProcessPool as exc:
        failed = Future()
        failed.set_exception(exc)
        return failed


def worker_start(parent: int) -> None:
    """A worker's first act: die with the process that forked it (on Linux the kernel sends
    SIGKILL when it dies; if it died before this ran, exit now). Ctrl-C is the parent's to
    handle; SIGTERM ends a worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the batches not started and end the workers now, not after their current file."""
    processes = list((pool._processes or {}).values())  # no public handle before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(1)
        if process.is_alive():
            process.kill()


class _Stop:
    """The first SIGTERM or SIGINT during extract, recorded by the handler and raised as
    Interrupted by `check()` between folders and batches: raising in the handler itself could
    land inside the pool's locks and hang it."""

    signum: int | None = None

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def _stop_on_signals():
    """A _Stop that hears SIGTERM and SIGINT while the block runs (only the first: a second has
    its usual effect); checked once more when the block ends. Only the main thread receives
    signals, so elsewhere nothing is heard."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.getsignal(signum) or signal.SIG_DFL for signum in signals}

    def restore():
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def record(signum, frame):
        stop.signum = signum
        restore()

    for signum in signals:
        signal.signal(signum, record)
    try:
        yield stop
        stop.check()
    finally:
        restore()


def cores() -> int:
    """Cores this process may run on (a container's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pool_context():
    """fork where it is safe and fast (Linux: workers start in milliseconds and run only the
    pure-Python reader); the platform default elsewhere."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _read_batch(files: list[FileStat]) -> list[dict]:
    return [_read_photo(stat) for stat in files]


def _read_photo(stat: FileStat) -> dict:
    """One file's row: open, hash, sniff the type and read the tags, all within the file's
    seconds_allowed."""
    row = _row(stat)
    try:
        limit = seconds_allowed(os.stat(stat.path))
        with _time_limit(limit):
            _read_into(row, stat.path)
    except _GaveUp:
        doing = "reading its tags" if row.get("sha256") else "hashing it"
        row["error"] = f"gave up {doing} after {limit:.1f} s"
    except OSError as exc:
        row = _row(stat, error=f"cannot read the file: {exc.strerror or exc}")
    except Exception as exc:  # a bug must cost one row, not the run
        row = _row(stat, error=internal_error(exc))
    return row


def seconds_allowed(stat: os.stat_result) -> float:
    """How long one file may take: BASE_SECONDS plus its bytes at SLOW_DISK_BYTES_PER_SECOND,
    counting a sparse file by the blocks it holds, not its length."""
    allocated = getattr(stat, "st_blocks", None)
    size = stat.st_size if allocated is None else min(stat.st_size, allocated * 512)
    return BASE_SECONDS + size / SLOW_DISK_BYTES_PER_SECOND


def _read_into(row: dict, path: str) -> None:
    """Fill `row` as the reading goes, so a file given up keeps what was done (its hash).

    A file of up to IN_MEMORY_BYTES is read once: hashed, and its tags read, in memory."""
    with open(path, "rb") as fh:
        opened = os.fstat(fh.fileno())
        row.update(file_size=opened.st_size, mtime_ns=opened.st_mtime_ns)
        if opened.st_size <= IN_MEMORY_BYTES:
            data = fh.read()
            row["sha256"], head = hashlib.sha256(data).hexdigest(), data[:SNIFF_BYTES]
            fh = io.BytesIO(data)
            fh.name = path  # the file it holds, as an open file would say
        else:
            row["sha256"], head = _hash(fh)
        row["file_type"] = sniff_type(head)
        row.update(read_tags(fh))
    row.update(read_sidecars(row))


def _row(stat: FileStat, **values) -> dict:
    return {
        "path": stat.path,
        "folder": os.path.dirname(stat.path),
        "file_name": os.path.basename(stat.path),
        "file_size": stat.size,
        "mtime_ns": stat.mtime_ns,
        **{column: getattr(stat, column) for column in _SIDECAR_COLUMNS},
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
