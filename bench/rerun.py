"""Benchmark: `photoflux extract` and `photoflux run` when nothing changed, against their floor.

    .venv/bin/python bench/rerun.py [--files 15000] [--repeats 5]

Hard-links the public corpus (../shared/corpus/files) into a library of about --files files,
extracts it and runs every stage once, then times, interleaved and best of --repeats, whole
processes: the floor (a Python process that walks the library and stats every file: interpreter
start-up + stat walk), `photoflux extract LIBRARY` and `photoflux run LIBRARY` unchanged.
Targets: each rerun <= 2x the floor (a ratio, one run) and <= 0.3 s (absolute, idle machine).
photoflux's modules are byte-compiled first, as pip installs them for a user (a checkout run
with PYTHONDONTWRITEBYTECODE would compile them on every start).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CORPUS, best_of, figure, link_copies, photoflux_command, publish  # noqa: E402

STAT_WALK = """
import os, sys
count = 0
for folder, folders, names in os.walk(sys.argv[1], followlinks=True):
    for name in names:
        os.stat(os.path.join(folder, name))
        count += 1
"""


def quietly(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=15_000, help="library size (about)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench/rerun.py: skipped, no public corpus at {CORPUS}")
        return
    corpus_files = sum(1 for p in CORPUS.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        library, ws = Path(scratch) / "library", Path(scratch) / "ws"
        files = link_copies(CORPUS, library, math.ceil(args.files / corpus_files))
        photoflux = photoflux_command()
        extract = [photoflux, "extract", str(library), "-w", str(ws), "--quiet"]
        run = [photoflux, "run", str(library), "-w", str(ws), "--default-tz", "UTC", "--quiet"]
        package = importlib.util.find_spec("pipeline").submodule_search_locations[0]
        quietly([sys.executable, "-m", "compileall", "-q", package])
        print(f"{len(files)} files; extracting and running every stage once ...", flush=True)
        quietly(extract)
        quietly(run)
        floor, extract_s, run_s = best_of(
            args.repeats, lambda: quietly([sys.executable, "-c", STAT_WALK, str(library)]),
            lambda: quietly(extract), lambda: quietly(run))
    name = f"{len(files)} files"
    figure("rerun", f"floor: interpreter + stat walk, {name}", floor, "absolute", unit="s")
    for command, seconds in (("extract", extract_s), ("run", run_s)):
        figure("rerun", f"unchanged {command} / floor", seconds / floor, "ratio", "<= 2x")
        figure("rerun", f"unchanged {command}, {name}", seconds, "absolute", "<= 0.3 s", "s")
    publish()


if __name__ == "__main__":
    main()
