"""Benchmark of importing a 1 GB Google Takeout Records.json, against a bare ijson loop, in one run.

    .venv/bin/python bench/tracks.py [--gigabytes 1.0] [--json-load]

Writes a Records.json of about the given size into a temporary folder (pretty-printed as Takeout
writes it: ISO `timestamp` and older `timestampMs` records, a third with nested activity
arrays), then runs, each in a fresh child process so its peak memory is its own:

- `tracks add` (runner.run_tracks_add, what `photoflux tracks add` runs): the whole import,
  zones looked up, into a workspace's data/tracks.parquet;
- `read_track` (pipeline.tracks): the file read into a points table in memory;
- the peer: a plain `ijson.items(..., "locations.item")` loop that only counts the records
  (the same C parser with no columns built: the floor for any streaming reader);
- with --json-load, `json.load` of the same file (how a non-streaming reader would do it;
  needs several GB of memory).

Prints seconds (the read alone, imports excluded), peak RSS (ru_maxrss of the child, imports
included: pandas and pyarrow alone take about 100 MB) and ratios. Target: the import's peak
RSS under 300 MB for the 1 GB file, every record kept.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Each contender: what it imports (not timed, but in its peak memory), then what is timed.
CHILD_CODE = {
    "tracks add": ("import tempfile\nfrom pipeline.runner import run_tracks_add\n"
                   "from pipeline.workspace import Workspace", """
with tempfile.TemporaryDirectory(dir=str(PATH.parent)) as folder:
    source = run_tracks_add(Workspace(folder), [PATH]).read[0]
result = {"points": source.points, "skipped": source.skipped}
"""),
    "read_track": ("from pipeline.tracks import read_track", """
data = read_track(PATH)
result = {"points": len(data.points), "skipped": data.skipped}
"""),
    "ijson loop": ("import ijson", """
with open(PATH, "rb") as fh:
    result = {"points": sum(1 for _ in ijson.items(fh, "locations.item", use_float=True))}
"""),
    "json.load": ("import json", """
with open(PATH, "rb") as fh:
    result = {"points": len(json.load(fh)["locations"])}
"""),
}


def write_records(path: Path, size: int) -> int:
    """A Takeout-shaped Records.json of about `size` bytes; returns how many records it holds."""
    rng = random.Random(15)
    ms = 1_400_000_000_000
    count = 0
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        out.write('{\n  "locations": [')
        while out.tell() < size:
            ms += rng.randint(1_000, 120_000)
            iso = f'{time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))}.{ms % 1000:03d}Z'
            when = f'"timestampMs": "{ms}"' if count % 5 == 0 else f'"timestamp": "{iso}"'
            activity = ("" if count % 3 else
                        f',\n    "activity": [{{\n      "activity": [{{\n        "type": "STILL",'
                        f'\n        "confidence": 77\n      }}, {{\n        "type": "ON_FOOT",'
                        f'\n        "confidence": 8\n      }}],\n      "timestamp": "{iso}"\n    }}]')
            out.write(f'{"," if count else ""} {{\n'
                      f'    "latitudeE7": {rng.randint(-850_000_000, 850_000_000)},\n'
                      f'    "longitudeE7": {rng.randint(-1_790_000_000, 1_790_000_000)},\n'
                      f'    "accuracy": {rng.randint(3, 2000)},\n'
                      f'    "source": "WIFI",\n    "deviceTag": 1234567890,\n'
                      f'    "platformType": "ANDROID",\n    {when}{activity}\n  }}')
            count += 1
        out.write("]\n}\n")
    return count


def run_child(name: str, path: Path) -> dict:
    """Run one contender in a fresh Python; its own wall clock and peak RSS."""
    setup, timed = CHILD_CODE[name]
    code = (f"import json, resource, time\nfrom pathlib import Path\n{setup}\n"
            f"PATH = Path({str(path)!r})\n"
            f"imports_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            f"started = time.perf_counter()\n{timed}\nresult['imports_mb'] = imports_mb\n"
            f"result['seconds'] = time.perf_counter() - started\n"
            f"result['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            f"print(json.dumps(result))")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the Records.json")
    parser.add_argument("--json-load", action="store_true", help="also time json.load (GBs of RAM)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photoflux-bench-") as scratch:
        path = Path(scratch) / "Records.json"
        started = time.perf_counter()
        records = write_records(path, int(args.gigabytes * 1e9))
        print(f"Records.json: {path.stat().st_size / 1e9:.2f} GB, {records:,} records "
              f"(written in {time.perf_counter() - started:.0f} s)")
        names = ["tracks add", "read_track", "ijson loop"] + (["json.load"] if args.json_load else [])
        results = {name: run_child(name, path) for name in names}
    ours, peer = results["tracks add"], results["ijson loop"]
    for name, result in results.items():
        print(f"{name:>12}: {result['seconds']:6.1f} s  peak RSS {result['peak_mb']:7.0f} MB "
              f"({result['imports_mb']:.0f} MB of it imports)  "
              f"{result['points']:,} points" + (f", {result['skipped']} skipped"
                                                 if "skipped" in result else ""))
    print(f"tracks add / ijson loop: {ours['seconds'] / peer['seconds']:.2f}x the time, "
          f"{ours['peak_mb'] / peer['peak_mb']:.2f}x the peak memory; "
          f"{records / ours['seconds']:,.0f} points/s")
    if "json.load" in results:
        print(f"json.load / tracks add: {results['json.load']['peak_mb'] / ours['peak_mb']:.0f}x "
              f"the peak memory")
    verdict = "OK" if ours["peak_mb"] < 300 and ours["points"] == records else "MISSED"
    print(f"target: 1 GB imports under 300 MB peak, every point kept: {verdict}")


if __name__ == "__main__":
    main()
