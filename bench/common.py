"""What the benchmarks share: the corpus linked into a library, timing, and the figures each
prints, marked as ratios (measured side by side in one run, so a busy machine slows both sides)
or absolute (seconds, GB: they depend on the machine and its load).

A script calls `figure(...)` for each result and `publish()` at the end: it prints the script's
table, and when BENCH_FIGURES names a file (bench/all.py sets it), appends them there as JSON
lines for `make bench`'s one table.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "files"
FIGURES_ENV = "BENCH_FIGURES"
_figures: list[dict] = []


def link_copies(source: Path, target: Path, copies: int) -> list[Path]:
    """`copies` hard-linked copies of the files under `source` (plain copies across devices)."""
    files = []
    originals = sorted(p for p in source.rglob("*") if p.is_file())
    for copy in range(copies):
        for original in originals:
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


def best_of(repeats: int, *runs) -> list[float]:
    """The fastest of `repeats` timings of each of `runs`, taken in turn (interleaved, so a
    burst of load on the shared machine hits each side alike)."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            best[index] = min(best[index], timed(run))
    return best


def photoflux_command() -> str:
    beside_python = Path(sys.executable).with_name("photoflux")
    return str(beside_python) if beside_python.exists() else shutil.which("photoflux") or "photoflux"


def figure(bench: str, name: str, value: float, kind: str, target: str = "",
           unit: str = "") -> None:
    """One result: `kind` is "ratio" (to a floor or peer measured in the same run) or
    "absolute"; `target` the goal it is held to, as text ("<= 1.8x")."""
    assert kind in ("ratio", "absolute")
    _figures.append({"bench": bench, "name": name, "value": value, "kind": kind,
                     "target": target, "unit": unit})


def show(value: float | None, kind: str, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:.2f}x" if kind == "ratio" else f"{value:.3g} {unit}".strip()


def table(figures: list[dict]) -> str:
    """The figures as one aligned text table."""
    lines = [f"{'bench':10} {'figure':58} {'kind':8} {'value':>11}  target"]
    for f in figures:
        lines.append(f"{f['bench']:10} {f['name']:58} {f['kind']:8} "
                     f"{show(f['value'], f['kind'], f['unit']):>11}  {f['target']}")
    return "\n".join(lines)


def publish() -> None:
    """Print this script's figures; append them to $BENCH_FIGURES when it is set."""
    print("\n" + table(_figures))
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            for f in _figures:
                out.write(json.dumps(f) + "\n")
