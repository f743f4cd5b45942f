"""`make bench`: every benchmark in bench/, one after another, then one table of their figures.

    .venv/bin/python bench/all.py [SCRIPT...]     # default: every bench/*.py but this and common

Each script prints its own lines as it goes and hands its figures over (common.figure); the
table at the end marks each as a ratio (two timings of one run, robust to a busy machine) or
absolute (seconds, GB: they vary with the machine and its load). A script that fails is said
so in the table, and the others still run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import FIGURES_ENV, table  # noqa: E402

#: The order they run in (those not named here run after, by name).
FIRST = ("rerun.py", "extract.py", "resolve.py", "upload.py", "convert.py")


def scripts(named: list[str]) -> list[Path]:
    if named:
        return [HERE / name for name in named]
    found = {p.name: p for p in HERE.glob("*.py") if p.name not in ("all.py", "common.py")}
    return [found.pop(name) for name in FIRST if name in found] + sorted(found.values())


def main() -> None:
    figures: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        for script in scripts(sys.argv[1:]):
            print(f"\n=== bench/{script.name} ===", flush=True)
            out = Path(scratch) / f"{script.stem}.jsonl"
            done = subprocess.run([sys.executable, str(script)],
                                  env={**os.environ, FIGURES_ENV: str(out)})
            got = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            if done.returncode:
                got.append({"bench": script.stem, "name": f"FAILED (exit {done.returncode})",
                            "value": None, "kind": "absolute", "target": "", "unit": ""})
            elif not got:
                got.append({"bench": script.stem, "name": "(its figures are in its output above)",
                            "value": None, "kind": "absolute", "target": "", "unit": ""})
            figures += got
    print("\n=== all benchmarks ===\n" + table(figures))


if __name__ == "__main__":
    main()
