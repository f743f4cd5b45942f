"""Benchmark: the original notebook's upload (one `curl -u` process per photo, serially) against
`photoflux upload`, on the same photos, against one `photoflux serve --delay-ms 20` on loopback.

Each side uploads as its own user, so every run creates every photo. Prints seconds, photos/s
and the ratio for each worker count (target: photoflux at least 10x faster). With 20 ms a
request, 4 workers can never be more than about 6x faster than a serial loop: the ratio grows
with --workers until the client's own CPU (two cores) is the limit.

    .venv/bin/python bench/upload.py [--photos 300] [--workers 4,16,32]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

BIN = Path(sys.executable).parent
PHOTOFLUX = str(BIN / "photoflux")


def make_photos(folder: Path, count: int) -> list[Path]:
    """`count` distinct small JPEGs (about 6 kB each) with a DateTimeOriginal and offset tag."""
    import piexif

    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        exif = piexif.dump({"Exif": {
            piexif.ExifIFD.DateTimeOriginal: f"2024:05:{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d}:00",
            piexif.ExifIFD.OffsetTimeOriginal: "+02:00"}})
        buffer = io.BytesIO()
        Image.new("RGB", (96, 64), (i % 256, (i * 7) % 256, (i * 13) % 256)).save(
            buffer, "JPEG", exif=exif)
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def start_server(root: Path, users: list[str]) -> tuple[subprocess.Popen, str]:
    log = open(root / "server.log", "wb")
    accounts = ",".join(["curl:curl-pass", *(f"{user}:flux-pass" for user in users)])
    server = subprocess.Popen([PHOTOFLUX, "serve", "--port", "0", "--store", str(root / "store"),
                               "--delay-ms", "20"], stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "FLUXTREAM_SERVER_USERS": accounts})
    for _ in range(200):
        found = re.search(r"listening on (\S+)", (root / "server.log").read_text())
        if found:
            return server, found.group(1)
        time.sleep(0.05)
    server.kill()
    raise SystemExit("photoflux serve did not start")


def curl_loop(paths: list[Path], url: str) -> float:
    """The notebook's way: one curl process per photo, one after the other."""
    started = time.perf_counter()
    for path in paths:
        seconds = 1714521600 + int(path.stem.split("_")[1]) * 60
        subprocess.run(["curl", "-s", "-f", "-u", "curl:curl-pass", "-F", f"photo=@{path}",
                        "-F", "metadata=" + json.dumps({"capture_time_secs_utc": seconds}),
                        f"{url}api/bodytrack/photoUpload?connector_name=fluxtream_capture"],
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--workers", default="4,16,32",
                        help="comma-separated worker counts, one photoflux run each")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed: apt-get install -y curl")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_photos(root / "photos", args.photos)
        ws = str(root / "ws")
        for step in (["extract", str(root / "photos"), "-w", ws, "--quiet"],
                     ["resolve", "-w", ws, "--default-tz", "Europe/Berlin"],
                     ["approve", "-w", ws, "--all"]):
            subprocess.run([PHOTOFLUX, *step], check=True, stdout=subprocess.DEVNULL)
        counts = [int(w) for w in args.workers.split(",")]
        users = [f"flux{w}" for w in counts]
        server, url = start_server(root, users)
        try:
            curl_seconds = curl_loop(paths, url)
            flux_seconds = {}
            for workers, user in zip(counts, users):
                flux_seconds[workers] = upload_run(ws, url, user, workers, root)
        finally:
            server.terminate()
            server.wait()
    n = args.photos
    print(f"{n} photos, server delay 20 ms per answer")
    print(f"curl per photo, serial:         {curl_seconds:6.2f} s  {n / curl_seconds:6.1f} photos/s")
    for workers, seconds in flux_seconds.items():
        print(f"photoflux upload --workers {workers:<3}  {seconds:6.2f} s  {n / seconds:6.1f} photos/s"
              f"  ratio {curl_seconds / seconds:5.1f}x (target >= 10x)")
    print("(photoflux times are whole processes: start-up, credentials check, ledger, status "
          "write-back)")


def upload_run(ws: str, url: str, user: str, workers: int, root: Path) -> float:
    """One full `photoflux upload` into its own account (the ledger keeps accounts apart), so
    every photo is created."""
    started = time.perf_counter()
    subprocess.run([PHOTOFLUX, "upload", "-w", ws, "--server", url, "--user", user,
                    "--workers", str(workers)], check=True, stdout=subprocess.DEVNULL,
                   env={"FLUXTREAM_PASSWORD": "flux-pass", "PATH": str(BIN)})
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
