"""Photos in formats Fluxtream refuses, through the real CLI to the real `photoflux serve`:
each lands once as a JPEG keeping its EXIF, upright, at its approved instant; identity stays the
original file, so a changed conversion never sends a photo again."""
from __future__ import annotations

import hashlib
import io
import signal
from contextlib import closing
from pathlib import Path

import pandas as pd
import piexif
import pillow_heif
import requests
from PIL import Image

from pipeline import convert
from pipeline.workspace import Workspace
from uploading import assert_exactly_once, cli, read_only, upload, upload_process

GREEN, RED = (20, 200, 20), (200, 20, 20)


def phone_photo(path: Path, i: int, orientation: int = 1, kind: str = "HEIF") -> Path:
    """A phone's photo: landscape pixels (the left quarter green), taken 2021-06-01 at 14:i
    +02:00 in Munich; with `orientation` 6 held upright (a HEIC gets an irot box, as an
    iPhone's)."""
    pillow_heif.register_heif_opener()
    image = Image.new("RGB", (96, 48), (200, 20 + i, 20))
    image.paste(GREEN, (0, 0, 24, 48))
    exif = piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Orientation: orientation},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: f"2021:06:01 14:{i:02d}:00".encode(),
                 piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((48, 1), (8, 1), (0, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((11, 1), (34, 1), (0, 1))}})
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, kind, exif=exif, **({} if kind == "TIFF" else {"quality": 90}))
    return path


def library(root: Path, count: int) -> Workspace:
    """`count` HEICs (the first one held upright), extracted, resolved and approved through the
    real CLI."""
    folder = root / "iPhone"
    for i in range(count):
        phone_photo(folder / f"IMG_{i:04d}.HEIC", i, orientation=6 if i == 0 else 1)
    return extracted(root, folder)


def extracted(root: Path, folder: Path) -> Workspace:
    ws = Workspace(root / "ws")
    cli(ws, "extract", str(folder), "--quiet")
    cli(ws, "resolve", "--default-tz", "UTC")
    cli(ws, "approve", "--all")
    return ws


def server_bytes(server, key: str) -> bytes:
    answer = requests.get(server.url + "api/bodytrack/photo/" + key, auth=server.auth)
    answer.raise_for_status()
    return answer.content


def posts(server) -> int:
    return server.log_text().count("POST /api/bodytrack/photoUpload ")


def sends(ws: Workspace) -> pd.DataFrame:
    with closing(read_only(ws.uploads)) as db:
        return pd.read_sql_query("SELECT * FROM sends", db)


def test_phone_photos_land_as_jpegs_with_their_exif_upright_at_the_approved_instant(
        tmp_path, serve_factory):
    server = serve_factory()
    folder = tmp_path / "phone"
    phone_photo(folder / "IMG_0000.HEIC", 0, orientation=6)
    phone_photo(folder / "IMG_0001.HEIC", 1)
    phone_photo(folder / "IMG_0002.avif", 2, orientation=6, kind="AVIF")
    phone_photo(folder / "IMG_0003.webp", 3, orientation=6, kind="WEBP")
    phone_photo(folder / "IMG_0004.tif", 4, orientation=6, kind="TIFF")
    ws = extracted(tmp_path, folder)
    assert "would convert to JPEG: 5" in upload(ws, server, "--dry-run")
    assert "5 uploaded" in upload(ws, server)
    merged = assert_exactly_once(ws, server).set_index("file_name")
    ledger = sends(ws).set_index("sha256")
    for name, row in merged.iterrows():
        data = server_bytes(server, row["key"])
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG", name
        sent = hashlib.sha256(data).hexdigest()
        assert row["key"].endswith("_" + sent) and sent != row["sha256"]  # the JPEG's key
        assert ledger.loc[row["sha256"], "sent_sha256"] == sent
        assert ledger.loc[row["sha256"], "converter"].startswith(
            f"{row['file_type']} -> JPEG q{convert.JPEG_QUALITY}")
        exif = piexif.load(data)
        i = int(name[4:8])
        assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal] == f"2021:06:01 14:{i:02d}:00".encode()
        assert exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] == b"+02:00"
        assert exif["GPS"][piexif.GPSIFD.GPSLatitude] == ((48, 1), (8, 1), (0, 1))
        assert exif["0th"][piexif.ImageIFD.Orientation] == 1
        upright = name != "IMG_0001.HEIC"  # held upright: portrait, the green quarter on top
        assert image.size == ((48, 96) if upright else (96, 48)), name
        top = image.getpixel((24, 5) if upright else (5, 24))
        assert all(abs(a - b) < 40 for a, b in zip(top, GREEN)), name
        assert row["begin_d"] == 1622548800 + 60 * i  # 14:i +02:00 is 12:i UTC, as approved
    assert "5 already on server" in upload(ws, server)  # a rerun converts and sends nothing
    assert posts(server) == 5
    cli(ws, "resolve", "--default-tz", "UTC")
    assert set(ws.load("resolved")["upload_status"]) == {"uploaded"}


def test_a_changed_conversion_never_sends_a_photo_again(tmp_path, serve_factory, monkeypatch):
    """Identity is the original file: after an upgrade that makes other JPEG bytes of the same
    HEIC, the photos already sent are not converted or sent again; a new photo is."""
    server = serve_factory()
    ws = library(tmp_path, 3)
    upload(ws, server)
    before = sends(ws)
    data = (tmp_path / "iPhone" / "IMG_0001.HEIC").read_bytes()
    old_jpeg = convert.to_jpeg(data, "HEIC").data
    monkeypatch.setattr(convert, "JPEG_QUALITY", 60)
    monkeypatch.setattr(convert, "VERSION", convert.VERSION + 1)
    assert convert.to_jpeg(data, "HEIC").data != old_jpeg  # the upgrade really changes them
    assert "3 already on server" in upload(ws, server)
    assert posts(server) == 3 and sends(ws).equals(before)
    phone_photo(tmp_path / "iPhone" / "IMG_0003.HEIC", 3)
    extracted_again = extracted(tmp_path, tmp_path / "iPhone")
    assert "3 already on server, 1 uploaded" in upload(extracted_again, server)
    assert "JPEG q60" in sends(ws).set_index("path").loc[
        str(tmp_path / "iPhone" / "IMG_0003.HEIC"), "converter"]
    assert_exactly_once(ws, server)


def test_kill_9_during_a_converted_upload_then_an_upgraded_rerun_is_exactly_once(
        tmp_path, serve_factory, monkeypatch):
    """Killed mid-run, some photos' answers never came; the rerun (with a converter that makes
    other bytes) asks for each of them by the key recorded with its intent, and converts and
    sends only those that are not there: none lands twice."""
    server = serve_factory(delay_ms=40, drop_rate=0.15, fail_rate=0.1, seed=5)
    count = 40
    ws = library(tmp_path, count)
    process = upload_process(ws, server, "--workers", "4", acked=count // 3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    at_kill = sends(ws)
    unanswered = at_kill[at_kill["acked_at"].isna()]
    assert 0 < len(at_kill) < count and len(unanswered) > 0
    monkeypatch.setattr(convert, "JPEG_QUALITY", 60)
    upload(ws, server)
    merged = assert_exactly_once(ws, server)
    assert len(merged) == count
    after = sends(ws).set_index("sha256")
    old = unanswered.set_index("sha256")
    asked = after.loc[old.index]
    kept = asked["key"] == old["expected_key"]  # it had landed: found by asking, never resent
    assert (asked.loc[kept, "converter"] == old.loc[kept, "converter"]).all()
    assert asked.loc[~kept, "converter"].str.contains("JPEG q60").all()  # converted anew
    sent_at_kill = at_kill.loc[at_kill["acked_at"].notna(), "sha256"]
    assert (after.loc[sent_at_kill, "converter"] == at_kill.set_index("sha256").loc[
        sent_at_kill, "converter"]).all()  # what was acknowledged is left alone
