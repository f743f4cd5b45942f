"""Thumbnails for the audit page: one small JPEG per photo file, made once and kept in a cache
keyed by the file's sha256 (data/thumbs/ab/abcdef....jpg), made on a process pool through the
decoders upload uses (`convert.thumbnail`: HEIC, AVIF, raw previews and the rest).

A file whose bytes no longer match its sha256 gets no thumbnail (extract has not seen it yet);
a file that cannot be decoded gets none either, and a marker beside the cache remembers that
until the converter's rules change (`convert.VERSION`), so a rerun does not try it again.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import convert

#: Pixels on the long side, and JPEG quality: about 5 KB for a real photo, sharp at the contact
#: sheet's 80 px, so some thousands fit in a page of 25 MB.
SIZE = 160
QUALITY = 70
#: Fewer missing thumbnails than this are made in this process (a pool costs more to start).
POOL_FROM = 16


@dataclass
class Thumbnails:
    """The JPEG bytes of each photo's thumbnail by sha256, and how they were come by."""

    jpegs: dict[str, bytes] = field(default_factory=dict)
    made: int = 0
    cached: int = 0
    failed: int = 0  # no thumbnail: not decodable, gone, or changed since extract


def cache_file(cache: Path, sha256: str) -> Path:
    return cache / sha256[:2] / f"{sha256}.jpg"


def _failure_marker(cache: Path, sha256: str) -> Path:
    return cache / sha256[:2] / f"{sha256}.v{convert.VERSION}.none"


def thumbnails(cache: Path, photos: pd.DataFrame, workers: int | None = None,
               progress: bool = False) -> Thumbnails:
    """The thumbnails of `photos` (columns path, sha256, file_type): those in the cache read
    from it, the others made (on `workers` processes when there are many) and stored in it."""
    wanted = photos.dropna(subset=["sha256"]).drop_duplicates("sha256")
    found = Thumbnails()
    missing = []
    for path, sha256, file_type in zip(wanted["path"], wanted["sha256"], wanted["file_type"]):
        try:
            found.jpegs[sha256] = cache_file(cache, sha256).read_bytes()
        except FileNotFoundError:
            if _failure_marker(cache, sha256).exists():
                found.failed += 1
            else:
                missing.append((path, sha256, file_type or "", str(cache)))
    found.cached = len(found.jpegs)
    with tqdm(total=len(missing), unit="photo", desc="thumbnails", disable=not progress,
              file=sys.stderr) as bar:
        for (_, sha256, _, _), jpeg in zip(missing, _make_all(missing, workers)):
            bar.update()
            if jpeg is None:
                found.failed += 1
            else:
                found.jpegs[sha256] = jpeg
                found.made += 1
    return found


def _make_all(items: list[tuple], workers: int | None):
    """Each item's thumbnail (or None), in order; on a pool when there are many."""
    if len(items) < POOL_FROM:
        yield from map(_make, items)
        return
    from ..extract import cores, pool_context, stop_pool, worker_start

    workers = workers or cores()
    pool = ProcessPoolExecutor(workers, mp_context=pool_context(), initializer=worker_start,
                               initargs=(os.getpid(),))
    try:
        yield from pool.map(_make, items, chunksize=max(1, min(32, len(items) // (workers * 8))))
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()


def _make(item: tuple[str, str, str, str]) -> bytes | None:
    """One photo's thumbnail, stored in the cache (a failure marker when it cannot be
    decoded); None when there is none."""
    path, sha256, file_type, cache = item
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None  # gone or unreadable now: the next report tries again
    if hashlib.sha256(data).hexdigest() != sha256:
        return None  # changed since extract: its thumbnail waits for the row that describes it
    target = cache_file(Path(cache), sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        image = convert.thumbnail(data, file_type, SIZE)
    except (convert.Unsupported, convert.ConversionFailed):
        _failure_marker(Path(cache), sha256).touch()
        return None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY, optimize=True)
    jpeg = out.getvalue()
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_bytes(jpeg)
    os.replace(temp, target)  # a reader sees the whole thumbnail or none
    return jpeg
