"""Benchmark: how fast phone photos (HEIC, 12 MP, held upright) become the JPEG Fluxtream takes,
one after another and in the upload's worker pool, and end to end through `photoflux upload`
against `photoflux serve --delay-ms 20`.

The photos are made here: 4032 x 3024 (an iPhone's), a gradient under grain so that they
compress like a photo (about 2.5 MB of HEIC each), EXIF with date, offset and GPS, Orientation 6
with its irot box. When the shared corpus is beside the project, its real phone HEICs (iPhones
and a Nokia, 0.7-2.2 MB) are converted too.

    .venv/bin/python bench/convert.py [--photos 16]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import piexif
import pillow_heif
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, publish  # noqa: E402
from upload import start_server, upload_run, workspace  # noqa: E402

from pipeline import convert  # noqa: E402

SIZE = (4032, 3024)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"


def make_heics(folder: Path, count: int) -> list[Path]:
    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True)
    grain = Image.effect_noise(SIZE, 12).convert("RGB")
    paths = []
    for i in range(count):
        light = Image.linear_gradient("L").resize(SIZE).convert("RGB")
        tint = Image.new("RGB", SIZE, (40 + 10 * i % 200, 90, 160))
        image = Image.blend(Image.blend(light, tint, 0.5), grain, 0.15)
        exif = piexif.dump({
            "0th": {piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Orientation: 6},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: f"2023:07:14 10:{i:02d}:00".encode(),
                     piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
            "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                    piexif.GPSIFD.GPSLatitude: ((48, 1), (8, 1), (0, 1))}})
        path = folder / f"IMG_{i:04d}.HEIC"
        image.save(path, "HEIF", quality=60, exif=exif)
        paths.append(path)
    return paths


def rate(datas: list[bytes], workers: int) -> tuple[float, int]:
    """Seconds to convert every photo with `workers` threads, and the JPEG bytes made."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        made = list(pool.map(lambda data: convert.to_jpeg(data, "HEIC").data, datas))
    return time.perf_counter() - started, sum(len(jpeg) for jpeg in made)


def real_heics() -> list[bytes]:
    """The shared corpus's phone HEICs that decode (it also holds deliberately broken ones)."""
    found = []
    for path in sorted(CORPUS.glob("*/*.[hH][eE][iI][cC]")):
        data = path.read_bytes()
        try:
            convert.to_jpeg(data, "HEIC")
        except convert.ConversionFailed:
            continue
        found.append(data)
    return found


def report(what: str, datas: list[bytes]) -> None:
    serial, jpeg_bytes = rate(datas, 1)
    pooled, _ = rate(datas, 8)
    n, heic_bytes = len(datas), sum(len(data) for data in datas)
    print(f"{what}: {heic_bytes / n / 1e6:.1f} MB of HEIC each, JPEG q{convert.JPEG_QUALITY} "
          f"{jpeg_bytes / n / 1e6:.1f} MB ({jpeg_bytes / heic_bytes:.1f}x)")
    print(f"  converted one after another:   {serial:6.2f} s  {n / serial:5.2f} photos/s")
    print(f"  in the upload's pool (8):      {pooled:6.2f} s  {n / pooled:5.2f} photos/s")
    figure("convert", f"{what}: one after another", n / serial, "absolute", unit="photos/s")
    figure("convert", f"{what}: in the upload's pool", n / pooled, "absolute", unit="photos/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_heics(root / "iPhone", args.photos)
        print(f"{os.cpu_count()} cores; {pillow_heif.libheif_info()['decoders']}")
        report(f"{args.photos} HEICs made here, {SIZE[0]} x {SIZE[1]}",
               [path.read_bytes() for path in paths])
        if CORPUS.is_dir():
            real = real_heics()
            report(f"{len(real)} real phone HEICs of the shared corpus", real)
        ws = workspace(root, root / "iPhone")
        server, url = start_server(root, ["heic"], 20)
        try:
            end_to_end = upload_run(ws, url, "heic", None)
        finally:
            server.terminate()
            server.wait()
    n = args.photos
    print(f"photoflux upload of the {n} HEICs made here, end to end: {end_to_end:6.2f} s  "
          f"{n / end_to_end:5.2f} photos/s (start-up, credentials, conversion, sending against "
          "a 20 ms server, status write-back)")
    figure("convert", f"{n} HEICs through photoflux upload", n / end_to_end, "absolute",
           unit="photos/s")
    publish()


if __name__ == "__main__":
    sys.exit(main())
