"""Benchmark of the report stage at the scale of a life's library, thumbnails made and cached.

    .venv/bin/python bench/report.py [--photos N] [--workers W]

Writes the sample library of N photos (default 10,000; `photoflux sample`'s generator: small
JPEGs of distinct bytes, so every photo has a thumbnail of its own to make), extracts and
resolves it, then times `run_report` (audit.html and audit.xlsx) twice: with an empty thumbnail
cache (every thumbnail made, on the pool) and again with the cache full, as `photoflux report`
reruns. run_report writes the workbook in a process of its own while it lays out the page.
Prints each run's phases (layout, thumbnails, page, workbook, one after another, with their CPU
time), the page's size and
whether its thumbnails are inline, and the cached run as a ratio of the first. Target (issue
16): the cached report of 10,000 photos in <= 5 s.

The sample's pictures are small; a real camera file costs more to decode once (see
bench/convert.py), which only the first run pays.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import report  # noqa: E402
from pipeline.report.thumbs import thumbnails  # noqa: E402
from pipeline.runner import run_extract, run_report, run_resolve  # noqa: E402
from pipeline.resolve import Settings  # noqa: E402
from pipeline.sample import SAMPLE_DEFAULT_TZ, write_sample  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402


def phases(ws: Workspace, workers: int | None) -> dict[str, float]:
    """The report's phases, timed one by one as run_report runs them, and the CPU time they
    took in this process (on a machine busy with other work, wall clock exceeds it)."""
    times = {}
    cpu = time.process_time()
    started = time.perf_counter()
    resolved = ws.load("resolved")
    roots = ws.read_manifest().get("extract", {}).get("roots", [])
    page = report.Page.build(resolved, None, roots)
    times["layout"] = time.perf_counter() - started
    mark = time.perf_counter()
    thumbs = thumbnails(ws.thumbs, page.wanted(), workers)
    times["thumbnails"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rendered = page.render(thumbs.jpegs)
    times["page"] = time.perf_counter() - mark
    mark = time.perf_counter()
    report.workbook_bytes(resolved, None)
    times["workbook"] = time.perf_counter() - mark
    times["cpu"] = time.process_time() - cpu  # the thumbnails' pool not included
    times["page MB"] = len(rendered.html.encode("utf-8")) / 1e6
    times["beside"] = len(rendered.beside)
    times["made"], times["cached"] = thumbs.made, thumbs.cached
    return times


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the pools' workers)."""
    used = os.times()
    return used.user + used.system + used.children_user + used.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        library, ws = Path(scratch) / "photos", Workspace(Path(scratch) / "ws")
        write_sample(library, count=args.photos)
        run_extract(ws, [library], args.workers)
        run_resolve(ws, Settings(default_tz=SAMPLE_DEFAULT_TZ), [], None)
        runs = {}
        for name in ("thumbnails made", "thumbnails cached"):
            started, cpu = time.perf_counter(), _cpu()
            run_report(ws)  # the stage as the CLI runs it, writes included
            total, cpu = time.perf_counter() - started, _cpu() - cpu
            for cached in ws.thumbs.rglob("*.jpg") if name == "thumbnails made" else ():
                cached.unlink()  # the phases below start from an empty cache again
            runs[name] = {"run_report": total, "run_report cpu": cpu, **phases(ws, args.workers)}
        print(f"report of {args.photos:,} photos (sample library); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for name, t in runs.items():
            print(f"  {name:18} run_report {t['run_report']:6.2f} s (CPU {t['run_report cpu']:.2f} s, "
                  f"its processes included) | layout {t['layout']:.2f} s, "
                  f"thumbnails {t['thumbnails']:.2f} s ({t['made']:,} made, {t['cached']:,} cached), "
                  f"page {t['page']:.2f} s, workbook {t['workbook']:.2f} s; CPU {t['cpu']:.2f} s | page "
                  f"{t['page MB']:.1f} MB, {'thumbnails beside it' if t['beside'] else 'self-contained'}")
        made, cached = runs["thumbnails made"]["run_report"], runs["thumbnails cached"]["run_report"]
        print(f"  cached / made: {cached / made:.2f}  (target: cached <= 5 s at 10,000 photos: "
              f"{'met' if cached <= 5 or args.photos < 10_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
