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
import errno
import hashlib
import multiprocessing
import os
import signal
import stat as stat_mode
import sys
import threading
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import islice
from typing import Callable, Iterable, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from .readers import READER_VERSION, SNIFF_BYTES, internal_error, read_tags, sniff_type
from .readers.sidecars import is_sidecar_name, read_sidecars, sidecar_names, sidecar_stamp
from .fluxtream import printable
from .schema import PHOTOS, conform, empty, to_pandas

#: Photo files, by extension (any case).
PHOTO_EXTENSIONS = frozenset(
    "jpg jpeg jpe heic heif avif tif tiff png webp dng cr2 cr3 nef arw orf rw2 raf pef srw".split()
)
#: Every file gets BASE_SECONDS to be opened, hashed and read, plus its allocated bytes at
#: SLOW_DISK_BYTES_PER_SECOND (so a real 3 GB TIFF on a slow disk is read, not given up).
BASE_SECONDS = 10.0
SLOW_DISK_BYTES_PER_SECOND = 20 * 1024 * 1024
_HASH_CHUNK = 1024 * 1024
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class FileStat(NamedTuple):
    """A photo file as the walk found it, with the sidecars found beside it (see
    readers.sidecars): a change to any of them makes the photo read again."""

    path: str
    size: int
    mtime_ns: int
    xmp_sidecar: str | None = None
    json_sidecar: str | None = None
    sidecar_stamp: str | None = None


#: FileStat's fields, named as the photos columns that hold them.
STAT_COLUMNS = ("path", "file_size", "mtime_ns", "xmp_sidecar", "json_sidecar", "sidecar_stamp")
_SIDECAR_COLUMNS = STAT_COLUMNS[3:]


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
    rows. A path that does not exist raises FileNotFoundError before anything is read;
    SIGTERM/SIGINT raise Interrupted.
    """
    roots = absolute_roots(paths)
    previous = empty(PHOTOS) if previous is None else (
        to_pandas(conform(previous, PHOTOS)).drop_duplicates("path", keep="last"))
    inside = under(previous["path"], roots)
    with _stop_on_signals() as stop:
        found = photo_files(roots, stop.check)
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


def photo_files(paths: Iterable[str | os.PathLike] | str | os.PathLike,
                check: Callable[[], None] | None = None) -> list[FileStat]:
    """Every photo file under `paths` (files and folders, walked recursively), sorted by path.

    A file is a photo by its extension (PHOTO_EXTENSIONS, any case), also when named in `paths`;
    its sidecars are found by name in the same listing of its folder (see readers.sidecars).
    Names starting with "." are skipped; symlinks are followed (symlinked folders each once, so
    a link loop ends); a photo name that is not a regular file (a FIFO, a device, a broken link,
    a link loop) is skipped with a warning. Paths stay as found (absolute, links not resolved).
    A missing path raises FileNotFoundError naming it. `check()`, called before each folder,
    may raise to stop the walk.
    """
    roots = absolute_roots(paths)
    missing = [root for root in roots if not os.path.exists(root)]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    found: dict[str, FileStat] = {}
    seen_folders: set[tuple[int, int]] = set()
    named: dict[str, list[str]] = {}  # folder -> the photos named in `paths` there
    for root in roots:
        if os.path.isdir(root):
            _walk(root, seen_folders, found, check)
        elif _is_photo(os.path.basename(root)):
            _add_file(root, found)
            named.setdefault(os.path.dirname(root), []).append(root)
    for folder, photos in named.items():
        try:
            with os.scandir(folder) as entries:
                _attach_sidecars(photos, _sidecar_entries(entries), found)
        except OSError as exc:
            warnings.warn(f"cannot list {printable(folder)} for sidecars: {exc.strerror}")
    return sorted(found.values())


def absolute_roots(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[str]:
    """`paths` as the absolute, normalised text every row's path starts with (~ expanded,
    links not resolved)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]


# --- walking --------------------------------------------------------------------------------


def _walk(root: str, seen_folders: set, found: dict, check) -> None:
    """Depth first in name order, so the same link wins on every run and paths stay stable."""
    stack = [root]
    while stack:
        if check is not None:
            check()
        folder = stack.pop()
        try:
            identity = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
        except OSError as exc:
            warnings.warn(f"cannot list {printable(folder)}: {exc.strerror}")
            continue
        if (identity.st_dev, identity.st_ino) in seen_folders:
            continue
        seen_folders.add((identity.st_dev, identity.st_ino))
        photos, others = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:  # a link loop: not a folder, and told below if named like a photo
                is_folder = False
            if is_folder:
                stack.append(entry.path)
            elif _is_photo(entry.name):
                _add_file(entry.path, found)
                photos.append(entry.path)
            else:
                others.append(entry)
        _attach_sidecars(photos, _sidecar_entries(others), found)


def _sidecar_entries(entries: Iterable[os.DirEntry]) -> dict[str, os.DirEntry]:
    """Name -> entry of the listed files that may be sidecars (hidden ones are skipped)."""
    return {entry.name: entry for entry in entries
            if is_sidecar_name(entry.name) and not entry.name.startswith(".")}


def _attach_sidecars(photos: list[str], sidecars: dict[str, os.DirEntry], found: dict) -> None:
    """Record in `found` the sidecars of the photos at `photos` (paths in one folder) among
    that folder's `sidecars`: their paths and their stamp (one stat a sidecar used)."""
    if not sidecars:
        return
    by_name = {os.path.basename(path): path for path in photos if path in found}
    stats: dict[str, os.stat_result | None] = {}
    for photo, names in sidecar_names(by_name, sidecars).items():
        for name in names:
            if name is not None and name not in stats:
                stats[name] = _sidecar_stat(sidecars[name])
        usable = [name if name is not None and stats[name] else None for name in names]
        if any(usable):
            found[by_name[photo]] = found[by_name[photo]]._replace(
                **{column: name and sidecars[name].path for column, name in
                   zip(("xmp_sidecar", "json_sidecar"), usable)},
                sidecar_stamp=sidecar_stamp(stats[name] for name in usable if name))


def _sidecar_stat(entry: os.DirEntry) -> os.stat_result | None:
    """The sidecar's stat (links followed); None, with a warning, when it is not a regular
    file or its name cannot be written down."""
    try:
        stat = entry.stat()
    except OSError as exc:
        _skip(entry.path, _unreachable(entry.path, exc))
        return None
    if not stat_mode.S_ISREG(stat.st_mode):
        _skip(entry.path, f"not a regular file ({_special_kind(stat.st_mode)})")
        return None
    return stat if _valid_name(entry.path) else None


def _add_file(path: str, found: dict) -> None:
    """Add the photo file at `path` (links followed); warn and skip what is not a regular
    file or has a name that cannot be written down."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        _skip(path, _unreachable(path, exc))
        return
    if not stat_mode.S_ISREG(stat.st_mode):
        _skip(path, f"not a regular file ({_special_kind(stat.st_mode)})")
    elif _valid_name(path):
        found[path] = FileStat(path, stat.st_size, stat.st_mtime_ns)


def _unreachable(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "a broken symbolic link"
    return exc.strerror or str(exc)


def _special_kind(mode: int) -> str:
    kinds = ((stat_mode.S_ISFIFO, "a named pipe"), (stat_mode.S_ISSOCK, "a socket"),
             (stat_mode.S_ISCHR, "a character device"), (stat_mode.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _skip(path: str, why: str) -> None:
    warnings.warn(f"skipping {printable(path)}: {why}")


def _is_photo(name: str) -> bool:
    return os.path.splitext(name)[1][1:].lower() in PHOTO_EXTENSIONS


def _valid_name(path: str) -> bool:
    """A table cell must be UTF-8; a name that is not cannot be written down faithfully."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        _skip(path, "its name is not UTF-8")
        return False
    return True


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
    """Fill `row` as the reading goes, so a file given up keeps what was done (its hash)."""
    with open(path, "rb") as fh:
        opened = os.fstat(fh.fileno())
        row.update(file_size=opened.st_size, mtime_ns=opened.st_mtime_ns)
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
