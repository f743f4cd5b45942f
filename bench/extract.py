"""Benchmark of the extract stage against ExifTool and a plain exifread loop, in one run.

    .venv/bin/python bench/extract.py [--copies N]

Hard-links the public corpus (../shared/corpus/files) N times into a temporary folder, then times
`exiftool -json -fast2 -r` (skipped when exiftool is not on PATH: apt-get install
libimage-exiftool-perl), a loop calling exifread.process_file on each file (the original
notebook's way), and `photoflux extract` on a fresh workspace, then again unchanged. Prints
files/s and ratios. Targets: extract >= 5x ExifTool's files/s; unchanged rerun <= 10 % of the
first run. The command's wall clock includes starting Python and importing pandas (~0.5 s);
"stage" is the time the command itself measured, from its manifest.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import exifread

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "files"


def link_copies(source: Path, target: Path, copies: int) -> list[Path]:
    """`copies` hard-linked copies of the files under `source` (plain copies across devices)."""
    files = []
    for copy in range(copies):
        for original in sorted(p for p in source.rglob("*") if p.is_file()):
            linked = target / f"copy{copy:03d}" / original.relative_to(source)
            linked.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(original, linked)
            except OSError:
                shutil.copy2(original, linked)
            files.append(linked)
    return files


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def exifread_loop(files: list[Path]) -> None:
    for path in files:
        with open(path, "rb") as fh:
            try:
                exifread.process_file(fh)
            except Exception:  # the notebook skipped what exifread could not read
                pass


def run(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def photoflux_command() -> str:
    beside_python = Path(sys.executable).with_name("photoflux")
    return str(beside_python) if beside_python.exists() else shutil.which("photoflux") or "photoflux"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=40, help="hard-linked copies of the corpus")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench/extract.py: skipped, no public corpus at {CORPUS}")
        return
    logging.getLogger("exifread").setLevel(logging.CRITICAL)

    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        photos, ws = Path(scratch) / "photos", Path(scratch) / "ws"
        files = link_copies(CORPUS, photos, args.copies)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        print(f"{len(files)} files ({args.copies} copies of the corpus, {megabytes:.0f} MB) "
              f"on {len(os.sched_getaffinity(0))} cores\n")

        results: list[tuple[str, float]] = []
        exiftool = shutil.which("exiftool")
        if exiftool:
            results.append(("exiftool -json -fast2 -r", timed(lambda: subprocess.run(
                [exiftool, "-json", "-fast2", "-r", str(photos)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))))
        else:
            print("exiftool not on PATH: its line is skipped (apt-get install libimage-exiftool-perl)")
        results.append(("exifread.process_file loop", timed(lambda: exifread_loop(files))))
        extract = [photoflux_command(), "extract", str(photos), "-w", str(ws), "--quiet"]
        first = timed(lambda: run(extract))
        first_stage = json.loads((ws / "data" / "manifest.json").read_text())["extract"]["seconds"]
        results.append(("photoflux extract, first run", first))
        rerun = timed(lambda: run(extract))
        rerun_stage = json.loads((ws / "data" / "manifest.json").read_text())["extract"]["seconds"]
        results.append(("photoflux extract, unchanged", rerun))

    baseline = results[0][1] if exiftool else None
    print(f"{'':32}{'seconds':>9}{'files/s':>10}{'vs exiftool':>13}")
    for name, seconds in results:
        ratio = f"{baseline / seconds:.1f}x" if baseline else "-"
        print(f"{name:32}{seconds:9.2f}{len(files) / seconds:10.0f}{ratio:>13}")
    print(f"\nstage time (from the manifest): first run {first_stage:.2f} s, "
          f"unchanged {rerun_stage:.2f} s")
    if baseline:
        print(f"extract vs exiftool: {baseline / first:.1f}x the files/s (target >= 5x)")
    print(f"unchanged rerun / first run: {rerun / first:.0%} wall clock, "
          f"{rerun_stage / first_stage:.0%} stage (target <= 10%)")


if __name__ == "__main__":
    main()
