"""Benchmark: `photoflux extract`'s first run against the floor of reading and hashing every
file, in one run; per format too; ExifTool and a plain exifread loop as peers on request.

    .venv/bin/python bench/extract.py [--files 15000] [--repeats 2] [--peers]

Hard-links the public corpus (../shared/corpus/files) into a library of about --files files
(hard links: the page cache holds each file once, so both sides read from memory). The floor
reads and sha256-hashes every file on as many processes as extract uses (one per core); then
`photoflux extract` runs on a fresh workspace, a whole process. Best of --repeats, interleaved.
Per format, in this process: the worker's reading of one file (open, hash, read its tags and
sidecars, as in the pool) against reading and hashing it. --peers adds `exiftool -json -fast2
-r` (when on PATH) and a loop calling exifread.process_file on each file. Every figure is a
ratio of two timings of this run, except the seconds and files/s.
Target: the first run <= 1.8x the floor.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (CORPUS, best_of, figure, link_copies, photoflux_command,  # noqa: E402
                    publish, timed)


def read_and_hash(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def floor(files: list[Path], workers: int) -> None:
    """Read and hash every file on `workers` processes, as extract's pool would."""
    with get_context("fork").Pool(workers) as pool:
        pool.map(read_and_hash, files, chunksize=64)


def exifread_loop(files: list[Path]) -> None:
    import exifread

    for path in files:
        with open(path, "rb") as fh:
            try:
                exifread.process_file(fh)
            except Exception:  # the notebook skipped what exifread could not read
                pass


def per_format(corpus: Path, repeats: int) -> dict[str, tuple[int, float]]:
    """File type -> (files, the worker's time / read+hash time) over the corpus's files."""
    from pipeline import extract as stage  # the installed photoflux (or PYTHONPATH's)
    from pipeline.walk import photo_files
    from pipeline.readers import SNIFF_BYTES, sniff_type

    by_type: dict[str, list] = defaultdict(list)
    for stat in photo_files([corpus]):
        with open(stat.path, "rb") as fh:
            by_type[sniff_type(fh.read(SNIFF_BYTES)) or "unknown"].append(stat)
    ratios = {}
    for kind, stats in sorted(by_type.items()):
        rounds = stats * math.ceil(300 / len(stats))  # enough work to time a format of few files
        hashed, worker = best_of(
            repeats, lambda: [read_and_hash(Path(s.path)) for s in rounds],
            lambda: [stage._read_photo(s) for s in rounds])
        ratios[kind] = (len(stats), worker / hashed)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=15_000, help="library size (about)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peers", action="store_true",
                        help="also time ExifTool and a plain exifread loop (slow)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench/extract.py: skipped, no public corpus at {CORPUS}")
        return
    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    workers = len(os.sched_getaffinity(0))
    corpus_files = sum(1 for p in CORPUS.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        photos = Path(scratch) / "photos"
        files = link_copies(CORPUS, photos, math.ceil(args.files / corpus_files))
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        print(f"{len(files)} files ({megabytes:.0f} MB) on {workers} cores", flush=True)
        runs = iter(range(10 ** 6))

        def extract() -> None:
            ws = Path(scratch) / f"ws{next(runs)}"
            subprocess.run([photoflux_command(), "extract", str(photos), "-w", str(ws), "--quiet"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(ws)

        floor_s, extract_s = best_of(args.repeats, lambda: floor(files, workers), extract)
        name = f"{len(files)} files"
        figure("extract", f"floor: read + sha256 on {workers} processes, {name}", floor_s,
               "absolute", unit="s")
        figure("extract", f"first run, {name}", extract_s, "absolute", unit="s")
        figure("extract", "first run / floor", extract_s / floor_s, "ratio", "<= 1.8x")
        if args.peers:
            exiftool = shutil.which("exiftool")
            if exiftool:
                seconds = timed(lambda: subprocess.run(
                    [exiftool, "-json", "-fast2", "-r", str(photos)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                figure("extract", "exiftool -fast2 / first run", seconds / extract_s, "ratio")
            seconds = timed(lambda: exifread_loop(files))
            figure("extract", "exifread loop / first run", seconds / extract_s, "ratio")
    for kind, (count, ratio) in per_format(CORPUS, args.repeats).items():
        figure("extract", f"{kind} ({count} files): worker / read + sha256", ratio, "ratio")
    publish()


if __name__ == "__main__":
    main()
