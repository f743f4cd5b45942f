"""Benchmark: `photoflux resolve` on a one-million-row photos table against the I/O floor.

The floor is reading the photos table and writing it back as Parquet and CSV: resolve must do
that much I/O anyway. Both run in this one script, side by side; it prints seconds (absolute),
the ratio (target: resolve at most 2.5x the floor) and resolve's peak memory (absolute, target:
under 2 GB).

Then the same resolve with a location history of `--track-points` points (default ten million,
a fix every few seconds over the library's three years, along the same itinerary as the photos'
GPS) in data/tracks.parquet, against the resolve without it, each run `--rounds` times,
alternating, the fastest of each kept, wall clock and the process's CPU time (user + system,
which the machine's other load inflates less) (target: at most 10 % slower with the track).

    .venv/bin/python bench/resolve.py [--rows 1000000] [--track-points 10000000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, publish  # noqa: E402
from pipeline.schema import PHOTOS, TRACKS  # noqa: E402
from pipeline.workspace import Workspace, read_table, write_csv, write_table  # noqa: E402

PLACES = np.array([(40.7128, -74.0060), (51.5074, -0.1278), (35.68, 139.69), (-33.87, 151.21),
                   (48.8566, 2.3522), (19.43, -99.13), (28.61, 77.21), (30.0, -40.0)])
WEEK_MS = 7 * 86_400_000


def itinerary(ms: np.ndarray) -> np.ndarray:
    """Where the person was at each UTC instant (ms): a week at each place of PLACES in turn,
    as the photos' GPS and the location history both say."""
    return (ms // WEEK_MS) % len(PLACES)


def photos_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic library: 1,000 photos a folder, every kind of evidence, some broken rows."""
    rng = np.random.default_rng(seed)
    number = np.arange(rows)
    folder = "/photos/trip_" + pd.Series(number // 1000).astype(str)
    name = "IMG_" + pd.Series(number % 10000).astype(str).str.zfill(4) + ".jpg"
    local = pd.Timestamp("2015-01-01") + pd.to_timedelta(number * 97 + rng.integers(0, 60, rows),
                                                          unit="s")
    kind = rng.choice(["offset", "gps", "place", "camera", "xmp", "takeout", "none"], rows,
                      p=[0.3, 0.2, 0.2, 0.05, 0.05, 0.05, 0.15])
    offset = rng.choice([-300, 0, 60, 120, 330, 540], rows)
    utc = local - pd.to_timedelta(offset, unit="m") - pd.to_timedelta(
        rng.integers(0, 90, rows), unit="s")
    place = PLACES[itinerary((utc - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1))] \
        + rng.normal(0, 0.05, (rows, 2))
    exif = local.strftime("%Y:%m:%d %H:%M:%S")
    sign = np.where(offset < 0, "-", "+")
    offset_text = pd.Series(sign) + pd.Series(np.abs(offset) // 60).astype(str).str.zfill(2) \
        + ":" + pd.Series(np.abs(offset) % 60).astype(str).str.zfill(2)
    table = pd.DataFrame({
        "path": folder + "/" + name, "folder": folder, "file_name": name,
        "file_size": rng.integers(1_000_000, 8_000_000, rows), "mtime_ns": number * 1000,
        "sha256": pd.Series(number).map("{:064x}".format), "file_type": "JPEG",
        "make": "Apple", "model": "iPhone", "datetime_original": exif,
        "datetime_digitized": exif, "datetime": exif, "subsec_original": "123",
        "subsec_digitized": None, "subsec": None,
        "offset_time_original": offset_text.where(kind == "offset"),
        "offset_time_digitized": None, "offset_time": None,
        "gps_date": pd.Series(utc.strftime("%Y:%m:%d")).where(kind == "gps"),
        "gps_time": pd.Series(utc.strftime("%H:%M:%S")).where(kind == "gps"),
        "gps_lat": np.where(kind == "place", place[:, 0], np.nan),
        "gps_lon": np.where(kind == "place", place[:, 1], np.nan),
        "makernote_group": np.where(kind == "camera", "Canon", None),
        "makernote_timezone_minutes": pd.Series(offset).where(kind == "camera").astype("Int32"),
        "makernote_dst": np.where(kind == "camera", False, None),
        "makernote_city": pd.Series(1, index=number).where(kind == "camera").astype("Int32"),
        "xmp_create_date": (pd.Series(local.strftime("%Y-%m-%dT%H:%M:%S")) + offset_text).where(
            kind == "xmp"),
        "takeout_timestamp": pd.Series((utc - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).where(
            kind == "takeout").astype("Int64"),
        "error": None, "warnings": None,
    }).reindex(columns=PHOTOS.names)
    broken = rng.random(rows) < 0.001
    table.loc[broken, "error"] = "truncated file"
    return table


def write_track(path: Path, points: int, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """A TRACKS table of `points` fixes from `start` to `end` along the `itinerary` (jittered,
    zones looked up once per place as an import does)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.zones import place_zone_codes

    rng = np.random.default_rng(1)
    ms = np.linspace(start.value // 10**6, end.value // 10**6, points).astype(np.int64)
    place = itinerary(ms)
    codes, names = place_zone_codes(PLACES[:, 0], PLACES[:, 1])
    lat = PLACES[place, 0] + rng.normal(0, 0.01, points)
    lon = PLACES[place, 1] + rng.normal(0, 0.01, points)
    columns = {
        "kind": pa.DictionaryArray.from_arrays(pa.array(np.zeros(points, np.int8)), ["point"]),
        "utc_time": pa.array(ms, pa.timestamp("ms", tz="UTC")),
        "utc_end": pa.nulls(points, pa.timestamp("ms", tz="UTC")),
        "lat": pa.array(lat), "lon": pa.array(lon),
        "zone": pa.DictionaryArray.from_arrays(pa.array(codes[place].astype(np.int32)), names),
        "utc_offset_minutes": pa.nulls(points, pa.int32()),
        "end_offset_minutes": pa.nulls(points, pa.int32()),
        "source": pa.DictionaryArray.from_arrays(pa.array(np.zeros(points, np.int32)),
                                                 ["bench.gpx"]),
    }
    pq.write_table(pa.table([columns[n] for n in TRACKS.names], schema=TRACKS), path,
                   row_group_size=262_144)


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--track-points", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        print(f"building a {rows:,}-row photos table ...", flush=True)
        photos = photos_table(rows)
        write_table(ws.photos, photos, PHOTOS)

        def floor():
            table = read_table(ws.photos, PHOTOS)
            write_table(Path(tmp) / "copy.parquet", table, PHOTOS)
            write_csv(Path(tmp) / "copy.csv", table)

        floor_seconds = timed(floor)
        command = [str(Path(sys.executable).with_name("photoflux")), "resolve", "-w", str(ws.root),
                   "--default-tz", "Europe/Berlin"]
        resolve_seconds = timed(lambda: subprocess.run(command, check=True))
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2
        print(f"I/O floor (read + write Parquet + CSV): {floor_seconds:6.2f} s")
        print(f"photoflux resolve (whole process):      {resolve_seconds:6.2f} s")
        print(f"ratio resolve / floor: {resolve_seconds / floor_seconds:.2f}x (target <= 2.5x)")
        print(f"resolve peak memory: {peak_gb:.2f} GB (target < 2 GB)")
        figure("resolve", f"I/O floor, {rows:,} rows", floor_seconds, "absolute", unit="s")
        figure("resolve", f"photoflux resolve, {rows:,} rows", resolve_seconds, "absolute",
               unit="s")
        figure("resolve", "resolve / I/O floor", resolve_seconds / floor_seconds, "ratio",
               "<= 2.5x")
        figure("resolve", "resolve peak memory", peak_gb, "absolute", "< 2 GB", "GB")
        if args.track_points:
            local = pd.to_datetime(photos["datetime_original"], format="%Y:%m:%d %H:%M:%S")
            aside = Path(tmp) / "tracks.parquet"
            write_track(aside, args.track_points, local.min() - pd.Timedelta(days=1),
                        local.max() + pd.Timedelta(days=1))
            runs = {"without": [], "with": []}
            cpu = {"without": [], "with": []}
            for _ in range(args.rounds):
                for name in runs:
                    if name == "with":
                        aside.rename(ws.tracks)
                    before = children_cpu()
                    runs[name].append(timed(lambda: subprocess.run(command, check=True)))
                    cpu[name].append(children_cpu() - before)
                    if name == "with":
                        ws.tracks.rename(aside)
            for label, seconds in (("wall", runs), ("CPU", cpu)):
                without, with_track = min(seconds["without"]), min(seconds["with"])
                print(f"resolve without a track: {without:6.2f} s {label}; with "
                      f"{args.track_points:,} track points: {with_track:6.2f} s: "
                      f"{100 * (with_track / without - 1):+.1f} % (target <= +10 %)")
                figure("resolve", f"with / without a {args.track_points:,}-point track, {label}",
                       with_track / without, "ratio", "<= 1.1x")
    publish()


if __name__ == "__main__":
    main()
