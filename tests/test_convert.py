"""Conversion to the JPEG Fluxtream takes: real HEIC/AVIF/WebP/TIFF files made with Pillow and
pillow-heif, and the shared corpus's raw files (with previews ExifTool writes into their slots)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import piexif
import pillow_heif
import pytest
from PIL import Image, ImageCms

from pipeline import convert
from pipeline.convert import ConversionFailed, Unsupported, to_jpeg
from pipeline.readers import sniff_type

MAKERNOTES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "makernotes"
needs_corpus = pytest.mark.skipif(not MAKERNOTES.is_dir(),
                                  reason=f"the shared corpus is not at {MAKERNOTES}")
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="ExifTool writes the raw previews: not installed")

#: An iPhone-like photo: taken at 14:03 local, +02:00, in Munich, held upright (Orientation 6:
#: the stored pixels are landscape and must be turned 90 degrees clockwise to be seen).
EXIF = {
    "0th": {piexif.ImageIFD.Make: b"Apple", piexif.ImageIFD.Model: b"iPhone 13",
            piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.DateTime: b"2021:06:01 14:03:00"},
    "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 14:03:00",
             piexif.ExifIFD.SubSecTimeOriginal: b"250",
             piexif.ExifIFD.OffsetTimeOriginal: b"+02:00",
             piexif.ExifIFD.MakerNote: b"Apple iOS\0" + bytes(40)},
    "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((48, 1), (8, 1), (0, 1)),
            piexif.GPSIFD.GPSLongitudeRef: b"E", piexif.GPSIFD.GPSLongitude: ((11, 1), (34, 1), (0, 1))},
}
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
GREEN, RED = (20, 200, 20), (200, 20, 20)


def landscape() -> Image.Image:
    """96 x 48 red, its left quarter green: upright (turned clockwise) the green is on top."""
    image = Image.new("RGB", (96, 48), RED)
    image.paste(GREEN, (0, 0, 24, 48))
    return image


def photo_file(kind: str, **save) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    options = {"exif": piexif.dump(EXIF), "icc_profile": ICC, **save}
    landscape().save(out, {"HEIC": "HEIF"}.get(kind, kind), **options)
    return out.getvalue()


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


@pytest.mark.parametrize("kind", ["HEIC", "AVIF", "WEBP", "TIFF"])
def test_a_rotated_photo_becomes_an_upright_jpeg_with_its_exif_and_profile(kind):
    data = photo_file(kind, **({} if kind == "TIFF" else {"quality": 95}))
    assert sniff_type(data) == kind
    if kind == "HEIC":  # a real rotated HEIC: landscape pixels and an irot box, EXIF says 6
        assert b"irot" in data and Image.open(io.BytesIO(data)).info["original_orientation"] == 6
    made = to_jpeg(data, kind)
    image = Image.open(io.BytesIO(made.data))
    assert image.format == "JPEG" and image.size == (48, 96)  # portrait: turned once, not twice
    assert near(image.getpixel((24, 5)), GREEN) and near(image.getpixel((24, 90)), RED)
    exif = piexif.load(made.data)
    assert exif["0th"][piexif.ImageIFD.Orientation] == 1
    assert exif["0th"][piexif.ImageIFD.Make] == b"Apple"
    assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2021:06:01 14:03:00"
    assert exif["Exif"][piexif.ExifIFD.SubSecTimeOriginal] == b"250"
    assert exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] == b"+02:00"
    assert exif["GPS"] == {key: value for key, value in EXIF["GPS"].items()}
    assert piexif.ExifIFD.MakerNote not in exif["Exif"]  # its offsets would point nowhere
    assert image.info["icc_profile"] == ICC
    assert f"{kind} -> JPEG q{convert.JPEG_QUALITY}" in made.how


def test_a_photo_without_exif_or_orientation_stays_as_it_is():
    out = io.BytesIO()
    landscape().save(out, "WEBP", lossless=True)
    image = Image.open(io.BytesIO(to_jpeg(out.getvalue(), "WEBP").data))
    assert image.size == (96, 48) and "exif" not in image.info


def test_transparency_is_laid_over_white_and_16_bit_grey_scaled_down():
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, "WEBP", lossless=True)
    assert near(Image.open(io.BytesIO(to_jpeg(out.getvalue(), "WEBP").data)).getpixel((4, 4)),
                (255, 255, 255), 3)
    grey = Image.new("I;16", (8, 8), 0x8000)
    out = io.BytesIO()
    grey.save(out, "TIFF")
    made = Image.open(io.BytesIO(to_jpeg(out.getvalue(), "TIFF").data))
    assert made.mode == "L" and abs(made.getpixel((4, 4)) - 128) <= 2


def test_a_damaged_photo_is_a_conversion_failure_saying_why():
    data = photo_file("HEIC", quality=90)
    with pytest.raises(ConversionFailed, match="^HEIC: "):
        to_jpeg(data[:len(data) // 2], "HEIC")
    with pytest.raises(ConversionFailed, match="^WEBP: "):
        to_jpeg(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage", "WEBP")


def test_exif_too_long_for_a_jpeg_segment_loses_only_the_long_values():
    exif = {**EXIF, "0th": {**EXIF["0th"], piexif.ImageIFD.ImageDescription: b"x" * 70_000}}
    out = io.BytesIO()
    landscape().save(out, "WEBP", exif=piexif.dump(exif))
    kept = piexif.load(to_jpeg(out.getvalue(), "WEBP").data)
    assert piexif.ImageIFD.ImageDescription not in kept["0th"]
    assert kept["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2021:06:01 14:03:00"


@pytest.mark.parametrize("kind", ["HEIC", "AVIF", "WEBP", "TIFF", "JPEG"])
def test_a_thumbnail_is_upright_and_small(kind):
    """The audit's thumbnails decode as upload does (HEIC's irot, EXIF orientation) and fit
    the size asked on their long side."""
    data = photo_file(kind, **({} if kind == "TIFF" else {"quality": 95}))
    thumb = convert.thumbnail(data, kind, 32)
    assert thumb.size == (16, 32) and thumb.mode == "RGB"  # portrait: turned once
    assert near(thumb.getpixel((8, 2)), GREEN) and near(thumb.getpixel((8, 29)), RED)


def test_a_thumbnail_of_a_broken_or_unknown_file_says_so():
    with pytest.raises(ConversionFailed):
        convert.thumbnail(photo_file("WEBP")[:200], "WEBP", 32)
    with pytest.raises(Unsupported):
        convert.thumbnail(b"\x00" * 64, "", 32)  # a type extract could not tell


# --- raw files: their largest embedded JPEG --------------------------------------------------

def jpeg(size: tuple[int, int], colour, exif: dict | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=85,
                                        **({"exif": piexif.dump(exif)} if exif else {}))
    return out.getvalue()


def truth(name: str) -> dict:
    return next(item for item in json.loads((MAKERNOTES / "truth.json").read_text())
                if item["SourceFile"] == name)


@needs_corpus
@needs_exiftool
@pytest.mark.parametrize("name, slots", [
    ("CanonRaw.cr2", ["-PreviewImage<="]),
    ("Nikon.nef", ["-JpgFromRaw<=", "-PreviewImage<=small"]),
    ("DNG.dng", ["-JpgFromRaw<=", "-PreviewImage<=small"]),
    ("Panasonic.rw2", ["-JpgFromRaw<="]),
])
def test_a_raw_file_is_sent_as_its_largest_preview_with_the_raw_exif(tmp_path, name, slots):
    """The corpus's camera headers, with a 1200 x 800 preview (and a 640 x 426 one) written by
    ExifTool into the slots the camera uses."""
    big, small = tmp_path / "big.jpg", tmp_path / "small.jpg"
    big.write_bytes(jpeg((1200, 800), (30, 60, 200)))
    small.write_bytes(jpeg((640, 426), (200, 60, 30)))
    raw = tmp_path / name
    subprocess.run(["exiftool", "-m", "-q", "-q", *(
        slot.replace("small", "") + str(small if slot.endswith("small") else big)
        for slot in slots), str(MAKERNOTES / name), "-o", str(raw)], check=True)
    data = raw.read_bytes()
    kind = sniff_type(data[:65536])
    made = to_jpeg(data, kind)
    image = Image.open(io.BytesIO(made.data))
    assert image.size == (1200, 800) and near(image.getpixel((600, 400)), (30, 60, 200), 8)
    thumb = convert.thumbnail(data, kind, 160)  # the audit's thumbnail: the same preview, small
    assert thumb.size == (160, 107) and near(thumb.getpixel((80, 53)), (30, 60, 200), 8)
    preview = big.read_bytes()  # SOI and JFIF APP0 (20 bytes), the raw's EXIF, then the rest
    assert made.data[:20] == preview[:20] and made.data.endswith(preview[20:])  # not re-encoded
    exif = piexif.load(made.data)
    assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal].decode() == \
        truth(name)["ExifIFD:DateTimeOriginal"]
    assert made.how.startswith("raw preview")


@needs_corpus
def test_a_cr3_is_sent_as_its_mdat_image_with_its_cmt_exif():
    """The corpus CR3's Canon header with a full-size JPEG in an mdat box, where Canon keeps it."""
    data = (MAKERNOTES / "CanonRaw.cr3").read_bytes()
    preview = jpeg((1200, 800), (30, 60, 200))
    cr3 = data + (8 + len(preview)).to_bytes(4, "big") + b"mdat" + preview
    made = to_jpeg(cr3, sniff_type(cr3[:65536]))
    exif = piexif.load(made.data)
    assert Image.open(io.BytesIO(made.data)).size == (1200, 800)
    assert exif["0th"][piexif.ImageIFD.Model] == b"Canon EOS M50"
    assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2018:02:21 12:08:56"
    assert exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] == b"+00:00"


@needs_corpus
def test_a_raf_preview_with_its_own_exif_is_sent_unchanged():
    """RAF's header points at a JPEG that carries the camera's EXIF itself."""
    data = (MAKERNOTES / "FujiFilm.raf").read_bytes()
    preview = jpeg((1200, 800), (30, 60, 200), {"Exif": {
        piexif.ExifIFD.DateTimeOriginal: b"2010:01:02 03:04:05"}})
    raf = bytearray(data + preview)
    raf[84:92] = len(data).to_bytes(4, "big") + len(preview).to_bytes(4, "big")
    assert to_jpeg(bytes(raf), "RAF").data == preview


@needs_corpus
@pytest.mark.parametrize("name", ["CanonRaw.cr2", "CanonRaw.cr3", "Nikon.nef", "DNG.dng",
                                  "FujiFilm.raf", "Panasonic.rw2"])
def test_a_raw_file_without_a_real_preview_is_unsupported(name):
    """The corpus files as they are: header-only, their previews stubs or 8 x 8 (a thumbnail)."""
    data = (MAKERNOTES / name).read_bytes()
    with pytest.raises(Unsupported, match="without an embedded JPEG preview"):
        to_jpeg(data, sniff_type(data[:65536]))


def test_a_thumbnail_is_never_the_photo_and_a_cut_preview_is_passed_over():
    tiff = b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    thumbnail = jpeg((160, 120), (1, 2, 3))
    with pytest.raises(Unsupported):
        to_jpeg(tiff + thumbnail, "NEF")
    good, cut = jpeg((800, 600), (9, 9, 9)), jpeg((1600, 1200), (9, 9, 9))
    assert to_jpeg(tiff + good + cut[:len(cut) // 2], "NEF").data == good  # a file cut short


CORPUS = MAKERNOTES.parent


@needs_corpus
def test_real_phone_heics_become_jpegs_with_their_own_time_offset_and_place():
    """Every decodable HEIC of the shared corpus (iPhones, a Nokia); the iPhone 13 Pro Max's is
    stored landscape with an irot box and Orientation 6: its JPEG is portrait, Orientation 1."""
    truths = [t for t in json.loads((CORPUS / "truth.json").read_text())
              if t["file_type"] in ("HEIC", "HEIF") and t["datetime_original"]]
    converted = 0
    for truth in truths:
        data = (CORPUS / truth["file"]).read_bytes()
        try:
            made = to_jpeg(data, sniff_type(data[:65536]))
        except ConversionFailed:
            continue  # the corpus's deliberately broken files
        converted += 1
        exif = piexif.load(made.data)
        assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal].decode() == truth["datetime_original"]
        if truth["offset_time_original"]:
            assert exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal].decode() == \
                truth["offset_time_original"]
        if truth["gps_lat"] is not None:
            assert exif["GPS"][piexif.GPSIFD.GPSLatitude]
        assert exif["0th"].get(piexif.ImageIFD.Orientation, 1) == 1
    assert converted >= 5
    iphone = (CORPUS / "files/exif-samples/heic__mobile__iphone_13_pro_max.HEIC").read_bytes()
    assert Image.open(io.BytesIO(to_jpeg(iphone, "HEIC").data)).size == (3024, 4032)
