"""Benchmark: the original notebook's upload (one `curl -u` process per photo, serially) against
`photoflux upload`, on the same photos, against one `photoflux serve --delay-ms 20` on loopback;
then the fixed cost of `photoflux upload` when everything is already sent.

Each side uploads as its own user, so every run creates every photo. Prints seconds, photos/s
and the ratio for the default settings (at most 8 photos in flight: with 20 ms an answer the
ceiling is about 8 x what one serial request costs, some 16x a curl process) and for
--workers 16 (targets 12x and 20x). A server that could answer no faster than it does with
nothing to wait for is measured too (`--delay-ms 0`, 16 in flight): what the client and the
server cost in CPU per photo on this machine, which bounds every ratio.

The fixed cost: 10,000 approved photos, all sent (for real, to a server without delay), then
`photoflux upload` run again: a whole process, interpreter start-up included (target 0.3 s).

    .venv/bin/python bench/upload.py [--photos 2000] [--fixed-photos 10000]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, publish  # noqa: E402

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
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def workspace(root: Path, folder: Path) -> str:
    ws = str(root / "ws")
    for step in (["extract", str(folder), "-w", ws, "--quiet"],
                 ["resolve", "-w", ws, "--default-tz", "Europe/Berlin"],
                 ["approve", "-w", ws, "--all"]):
        subprocess.run([PHOTOFLUX, *step], check=True, stdout=subprocess.DEVNULL)
    return ws


def start_server(root: Path, users: list[str], delay_ms: int) -> tuple[subprocess.Popen, str]:
    log_path = root / f"server-{delay_ms}.log"
    accounts = ",".join(["curl:curl-pass", *(f"{user}:flux-pass" for user in users)])
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [PHOTOFLUX, "serve", "--port", "0", "--store", str(root / f"store-{delay_ms}"),
             "--delay-ms", str(delay_ms)], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "FLUXTREAM_SERVER_USERS": accounts})
    for _ in range(200):
        found = re.search(r"listening on (\S+)", log_path.read_text())
        if found:
            return server, found.group(1)
        time.sleep(0.05)
    server.kill()
    raise SystemExit("photoflux serve did not start")


def curl_loop(paths: list[Path], url: str) -> float:
    """The notebook's way: one curl process per photo, one after the other."""
    started = time.perf_counter()
    for i, path in enumerate(paths):
        seconds = 1714521600 + i * 60
        subprocess.run(["curl", "-s", "-f", "-u", "curl:curl-pass", "-F", f"photo=@{path}",
                        "-F", "metadata=" + json.dumps({"capture_time_secs_utc": seconds}),
                        f"{url}api/bodytrack/photoUpload?connector_name=fluxtream_capture"],
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def upload_run(ws: str, url: str, user: str, workers: int | None) -> float:
    """One whole `photoflux upload` process (start-up, credentials check, ledger, status
    write-back) into `user`'s account (the ledger keeps accounts apart)."""
    started = time.perf_counter()
    subprocess.run([PHOTOFLUX, "upload", "-w", ws, "--server", url, "--user", user,
                    *(["--workers", str(workers)] if workers else [])], check=True,
                   stdout=subprocess.DEVNULL, env={"FLUXTREAM_PASSWORD": "flux-pass",
                                                   "PATH": str(BIN)})
    return time.perf_counter() - started


def server_ms(log: Path, user: str) -> float:
    """The mean time the server took to answer `user`'s uploads (its delay included), from the
    duration its log gives each request."""
    times = [int(ms) for ms in re.findall(
        rf"POST /api/bodytrack/photoUpload 200 user={user} (\d+)ms", log.read_text())]
    return statistics.mean(times)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def speed(photo_count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_photos(root / "photos", photo_count)
        ws = workspace(root, root / "photos")
        runs = {"default (8 in flight)": None, "--workers 16": 16}
        server, url = start_server(root, ["default", "w16"], 20)
        floor_server, floor_url = start_server(root, ["floor"], 0)
        try:
            curl_seconds = curl_loop(paths, url)
            flux = {name: upload_run(ws, url, user, workers)
                    for (name, workers), user in zip(runs.items(), ["default", "w16"])}
            server_cpu, before = cpu_seconds(floor_server.pid), os.times()
            floor = upload_run(ws, floor_url, "floor", 16)
            after = os.times()
            client_cpu = (after.children_user + after.children_system
                          - before.children_user - before.children_system)
            server_cpu = cpu_seconds(floor_server.pid) - server_cpu
        finally:
            for process in (server, floor_server):
                process.terminate()
                process.wait()
        answer_ms = {name: server_ms(root / "server-20.log", user)
                     for name, user in zip(runs, ["default", "w16"])}
    n = photo_count
    print(f"{n} photos of ~6 kB, server delay 20 ms per answer, {os.cpu_count()} cores")
    print(f"  curl per photo, serial:          {curl_seconds:7.2f} s {n / curl_seconds:7.1f} photos/s")
    for (name, seconds), target, workers in zip(flux.items(), (12, 20), (8, 16)):
        ratio = curl_seconds / seconds
        verdict = "met" if ratio >= target else f"short by {target / ratio:.2f}x"
        print(f"  photoflux upload {name:<21} {seconds:6.2f} s {n / seconds:7.1f} photos/s"
              f"  ratio {ratio:5.1f}x (target >= {target}x: {verdict})")
        figure("upload", f"curl serial / photoflux upload {name.strip(': ')}, {n} photos", ratio,
               "ratio", f">= {target}x")
        print(f"    each of {workers} slots: one photo every {1000 * seconds * workers / n:.1f} ms "
              f"(start-up and status write-back included); the server took "
              f"{answer_ms[name]:.1f} ms an answer (20 ms of it its delay)")
    print(f"  no server delay, --workers 16:   {floor:7.2f} s {n / floor:7.1f} photos/s"
          f"  (client CPU {1000 * client_cpu / n:.2f} ms/photo, server CPU "
          f"{1000 * server_cpu / n:.2f} ms/photo: the two share the cores)")


def fixed_cost(photo_count: int, repeats: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_photos(root / "photos", photo_count)
        ws = workspace(root, root / "photos")
        server, url = start_server(root, ["fixed"], 0)
        try:
            sent = upload_run(ws, url, "fixed", 16)
            first = upload_run(ws, url, "fixed", None)
            again = [upload_run(ws, url, "fixed", None) for _ in range(repeats)]
        finally:
            server.terminate()
            server.wait()
        start_up = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            start_up.append(time.perf_counter() - started)
    print(f"fixed cost, {photo_count:,} approved photos all sent ({sent:.1f} s to send them):")
    print(f"  photoflux upload, nothing to send: median {statistics.median(again):.3f} s, "
          f"min {min(again):.3f} s over {repeats} runs (target <= 0.3 s); the first run after "
          f"the sending one {first:.3f} s")
    print(f"  (python -c pass alone: median {statistics.median(start_up):.3f} s)")
    figure("upload", f"nothing to send, {photo_count:,} photos (median)",
           statistics.median(again), "absolute", "<= 0.3 s", "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--fixed-photos", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed: apt-get install -y curl")
    speed(args.photos)
    fixed_cost(args.fixed_photos)
    publish()


if __name__ == "__main__":
    main()
