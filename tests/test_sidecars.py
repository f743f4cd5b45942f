"""Sidecars through extract, on real files in a tmp folder: XMP sidecars beside raws and JPEGs
(both namings), Google Takeout JSON in every naming Takeout writes, and reruns that see a
sidecar added, changed or removed."""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd
import piexif
import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.extract import extract
from pipeline.sample import geo, takeout_json, xmp_packet
from pipeline.workspace import Workspace

SHARED_CR2 = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "makernotes" / "CanonRaw.cr2"


def exif_bytes(taken: str) -> bytes:
    return piexif.dump({"0th": {piexif.ImageIFD.Make: b"Canon"},
                        "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode()}})


def write_jpeg(path: Path, taken: str = "2020:01:02 03:04:05", xmp: bytes | None = None) -> Path:
    """A JPEG with EXIF DateTimeOriginal and, given `xmp`, that packet embedded (APP1)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "JPEG", exif=exif_bytes(taken))
    data = out.getvalue()
    if xmp is not None:
        body = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
        data = data[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + data[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_raw(path: Path, taken: str = "2020:01:02 03:04:05") -> Path:
    """A raw-like file: a small TIFF with EXIF, named with a raw extension (.CR2, .NEF...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path, "TIFF", exif=exif_bytes(taken))
    return path


def rows(folder: Path, **kwargs) -> pd.DataFrame:
    photos = extract([folder], workers=1, **kwargs)
    return photos.set_index("file_name", drop=False)


# --- XMP sidecars ---------------------------------------------------------------------------


@pytest.fixture(params=["made TIFF", "CanonRaw.cr2"])
def raw_folder(request, tmp_path: Path) -> Path:
    """A folder with one raw file per XMP naming: IMG_0001.CR2 (a TIFF made here, or ExifTool's
    real Canon CR2 from the shared corpus) and IMG_0002.NEF."""
    folder = tmp_path / "raws"
    if request.param == "made TIFF":
        write_raw(folder / "IMG_0001.CR2")
    else:
        if not SHARED_CR2.exists():
            pytest.skip(f"the shared corpus is absent ({SHARED_CR2})")
        folder.mkdir()
        shutil.copyfile(SHARED_CR2, folder / "IMG_0001.CR2")
    write_raw(folder / "IMG_0002.NEF")
    return folder


def test_both_xmp_namings_beside_a_raw_file_are_read_and_never_rows(raw_folder):
    (raw_folder / "IMG_0001.CR2.xmp").write_bytes(xmp_packet(  # darktable, digiKam
        exif_DateTimeOriginal="2019-05-05T10:00:00.12+02:00", exif_GPSLatitude="52,30.5N",
        exif_GPSLongitude="13,22.5E", exif_GPSTimeStamp="2019-05-05T08:00:01Z"))
    (raw_folder / "IMG_0002.XMP").write_bytes(xmp_packet(  # Lightroom, shouting
        xmp_CreateDate="2018-01-02T03:04:05", photoshop_DateCreated="2018-01-02T03:04:05-05:00"))
    photos = rows(raw_folder)
    assert list(photos.index) == ["IMG_0001.CR2", "IMG_0002.NEF"]
    darktable, lightroom = photos.loc["IMG_0001.CR2"], photos.loc["IMG_0002.NEF"]
    assert darktable["xmp_sidecar"] == str(raw_folder / "IMG_0001.CR2.xmp")
    assert darktable["xmp_datetime_original"] == "2019-05-05T10:00:00.12+02:00"
    assert darktable["sidecar_datetime_original"] == "2019-05-05T10:00:00.12+02:00"
    assert (darktable["xmp_gps_lat"], darktable["xmp_gps_lon"]) == pytest.approx((52.508333, 13.375))
    assert darktable["xmp_gps_datetime"] == "2019-05-05T08:00:01Z"
    assert lightroom["xmp_sidecar"] == str(raw_folder / "IMG_0002.XMP")
    assert lightroom["xmp_create_date"] == "2018-01-02T03:04:05"
    assert lightroom["xmp_date_created"] == "2018-01-02T03:04:05-05:00"
    assert pd.isna(lightroom["sidecar_datetime_original"]) and pd.isna(lightroom["json_sidecar"])
    assert photos["error"].isna().all()


def test_name_ext_xmp_wins_over_name_xmp(tmp_path):
    write_raw(tmp_path / "IMG_0003.NEF")
    (tmp_path / "IMG_0003.NEF.xmp").write_bytes(xmp_packet(xmp_CreateDate="2001-01-01T01:01:01"))
    (tmp_path / "IMG_0003.xmp").write_bytes(xmp_packet(xmp_CreateDate="2002-02-02T02:02:02"))
    photo = rows(tmp_path).loc["IMG_0003.NEF"]
    assert photo["xmp_sidecar"] == str(tmp_path / "IMG_0003.NEF.xmp")
    assert photo["xmp_create_date"] == "2001-01-01T01:01:01"


def test_a_raw_and_a_jpeg_sharing_a_base_name_give_name_xmp_to_the_raw(tmp_path):
    write_raw(tmp_path / "IMG_0004.NEF")
    write_jpeg(tmp_path / "IMG_0004.JPG")
    write_jpeg(tmp_path / "IMG_0005.jpg")  # a JPEG alone owns its NAME.xmp
    (tmp_path / "IMG_0004.xmp").write_bytes(xmp_packet(exif_DateTimeOriginal="2010-10-10T10:10:10"))
    (tmp_path / "IMG_0005.xmp").write_bytes(xmp_packet(exif_DateTimeOriginal="2011-11-11T11:11:11"))
    photos = rows(tmp_path)
    assert photos.loc["IMG_0004.NEF", "xmp_sidecar"] == str(tmp_path / "IMG_0004.xmp")
    assert photos.loc["IMG_0004.NEF", "sidecar_datetime_original"] == "2010-10-10T10:10:10"
    assert photos.loc["IMG_0004.JPG", ["xmp_sidecar", "xmp_datetime_original",
                                       "sidecar_datetime_original"]].isna().all()
    assert photos.loc["IMG_0005.jpg", "xmp_datetime_original"] == "2011-11-11T11:11:11"


def test_embedded_xmp_wins_but_the_sidecars_datetime_original_is_recorded(tmp_path):
    embedded = xmp_packet(exif_DateTimeOriginal="2020-01-02T03:04:05+01:00")
    write_jpeg(tmp_path / "edited.jpg", xmp=embedded)
    (tmp_path / "edited.jpg.xmp").write_bytes(xmp_packet(
        exif_DateTimeOriginal="2020-01-02T09:04:05+01:00",  # the capture time edited in the sidecar
        xmp_CreateDate="2020-01-02T09:04:05", exif_GPSLatitude="91,0N"))
    photo = rows(tmp_path).loc["edited.jpg"]
    assert photo["xmp_datetime_original"] == "2020-01-02T03:04:05+01:00"
    assert photo["sidecar_datetime_original"] == "2020-01-02T09:04:05+01:00"
    assert photo["xmp_create_date"] == "2020-01-02T09:04:05"  # null embedded: the sidecar's
    assert photo["datetime_original"] == "2020:01:02 03:04:05"
    assert pd.isna(photo["xmp_gps_lat"])
    assert "edited.jpg.xmp: XMP GPSLatitude out of range (91,0N)" in photo["warnings"]


def test_a_photo_named_on_the_command_line_gets_its_sidecars(tmp_path):
    raw = write_raw(tmp_path / "IMG_0006.CR2")
    (tmp_path / "IMG_0006.xmp").write_bytes(xmp_packet(xmp_CreateDate="2012-12-12T12:12:12"))
    (tmp_path / "IMG_0006.CR2.json").write_text(takeout_json(1355314332))
    photo = extract([raw], workers=1).iloc[0]
    assert photo["xmp_create_date"] == "2012-12-12T12:12:12"
    assert photo["takeout_timestamp"] == 1355314332


# --- Google Takeout -------------------------------------------------------------------------

LONG = "Screenshot_2024-01-14-14-13-33-16_948cd9899890cbd5c2798760b2b95377"  # 66 characters
EMOJI = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛"  # 25 characters, 50 UTF-16 units
#: photo name -> the name of its JSON, one of each naming Takeout writes; the photos with a
#: "(1)" or "-edited" have an original with a JSON of its own in the same folder.
TAKEOUT_NAMES = {
    "IMG_0001.jpg": "IMG_0001.jpg.json",
    "IMG_0002.jpg": "IMG_0002.jpg.supplemental-metadata.json",
    "IMG_0003.jpg": "IMG_0003.jpg.supplemental-metad.json",
    "IMG_0004.jpg": "IMG_0004.jpg.suppl.json",
    "IMG_0005.jpg": "IMG_0005.jpg.sup.json",
    "IMG_0006.jpg": "IMG_0006.jpg..json",
    "IMG_0001(1).jpg": "IMG_0001.jpg(1).json",
    "IMG_0002(1).jpg": "IMG_0002.jpg.supplemental-metadata(1).json",
    "IMG_0002(2).jpg": "IMG_0002.jpg.supplemental-metadata(2).json",
    f"{LONG}.jpg": f"{LONG[:46]}.json",
    "Screenshot_20200920-131207_Chrome.jpg": "Screenshot_20200920-131207_Chrome.jpg.suppleme.json",
    "PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINA.jpg":
        "PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGIN.json",
    "13039_327707840323_537645323_9470255_27214_n.jpg": "13039_327707840323_537645323_9470255_27214_n.j.json",
    "13039_327707840323_537645323_9470255_27214_n(1).jpg":
        "13039_327707840323_537645323_9470255_27214_n.j(1).json",
    "a_long_name_cut_at_51_characters_by_an_older_export_.jpg":  # cut at 51
        "a_long_name_cut_at_51_characters_by_an_older_export.json",
    f"{EMOJI}.jpg": f"{EMOJI[:-1]}.json",  # 46 UTF-16 units
}


def test_every_takeout_naming_finds_the_right_photos_json(tmp_path):
    taken = {photo: 1500000000 + index * 1000 for index, photo in enumerate(TAKEOUT_NAMES)}
    for photo, json_name in TAKEOUT_NAMES.items():
        write_jpeg(tmp_path / photo)
        (tmp_path / json_name).write_text(takeout_json(taken[photo]))
    photos = rows(tmp_path)
    assert sorted(photos.index) == sorted(TAKEOUT_NAMES)  # the JSON files are no photos
    assert photos["json_sidecar"].to_dict() == {
        photo: str(tmp_path / json_name) for photo, json_name in TAKEOUT_NAMES.items()}
    assert photos["takeout_timestamp"].to_dict() == taken
    assert photos["warnings"].isna().all()


@pytest.mark.parametrize("json_name", ["IMG_0007.jpg.json", "IMG_0007.jpg.supplemental-metadata.json"])
def test_an_edited_photo_shares_its_originals_json(tmp_path, json_name):
    write_jpeg(tmp_path / "IMG_0007.jpg")
    write_jpeg(tmp_path / "IMG_0007-edited.jpg")
    write_jpeg(tmp_path / "IMG_0008-bearbeitet.jpg")  # German export, original not downloaded
    (tmp_path / json_name).write_text(takeout_json(1400000000))
    (tmp_path / "IMG_0008.jpg.json").write_text(takeout_json(1400000008))
    photos = rows(tmp_path)
    assert photos["json_sidecar"].to_dict() == {
        "IMG_0007-edited.jpg": str(tmp_path / json_name), "IMG_0007.jpg": str(tmp_path / json_name),
        "IMG_0008-bearbeitet.jpg": str(tmp_path / "IMG_0008.jpg.json")}
    assert photos["takeout_timestamp"].tolist() == [1400000000, 1400000000, 1400000008]


def test_a_numbered_copy_never_takes_the_originals_json(tmp_path):
    write_jpeg(tmp_path / "DSC_0104.JPG")
    write_jpeg(tmp_path / "DSC_0104(1).JPG")
    write_jpeg(tmp_path / "DSC_0105(1).JPG")
    (tmp_path / "DSC_0104.JPG.json").write_text(takeout_json(1400000104))
    (tmp_path / "DSC_0105.JPG(2).json").write_text(takeout_json(1400000105))
    photos = rows(tmp_path)
    assert photos.loc["DSC_0104.JPG", "takeout_timestamp"] == 1400000104
    assert photos.loc[["DSC_0104(1).JPG", "DSC_0105(1).JPG"], "json_sidecar"].isna().all()


def test_takeout_fields_photo_taken_time_and_position(tmp_path):
    cases = {
        "exif_geo.jpg": takeout_json(1600596727, geoDataExif=geo(55.269423, 37.665591),
                                     geoData=geo(48.1, 11.5)),
        "geo_after_zero_exif.jpg": takeout_json(1600596727, geoDataExif=geo(0.0, 0.0),
                                                geoData=geo(48.1, 11.5)),
        "zero_zero.jpg": takeout_json(1600596727, geoDataExif=geo(0.0, 0.0), geoData=geo(0.0, 0.0)),
        "upload_time_only.jpg": takeout_json(None),  # creationTime is never a capture time
        "bad_values.jpg": takeout_json("yesterday", geoDataExif=geo(123.0, 11.5)),
    }
    for photo, text in cases.items():
        write_jpeg(tmp_path / photo)
        (tmp_path / f"{photo}.supplemental-metadata.json").write_text(text)
    photos = rows(tmp_path)
    got = {photo: (row["takeout_timestamp"], row["takeout_lat"], row["takeout_lon"])
           for photo, row in photos.iterrows()}
    assert got["exif_geo.jpg"] == (1600596727, 55.269423, 37.665591)
    assert got["geo_after_zero_exif.jpg"] == (1600596727, 48.1, 11.5)
    assert pd.isna(got["zero_zero.jpg"][1]) and pd.isna(got["zero_zero.jpg"][2])
    assert all(pd.isna(value) for value in got["upload_time_only.jpg"])
    assert all(pd.isna(value) for value in got["bad_values.jpg"])
    assert photos.loc["bad_values.jpg", "warnings"] == (
        "bad_values.jpg.supplemental-metadata.json photoTakenTime unreadable (yesterday);"
        "bad_values.jpg.supplemental-metadata.json geoDataExif out of range (123.0, 11.5)")
    assert photos.drop(index="bad_values.jpg")["warnings"].isna().all()


@pytest.mark.parametrize("text, why", [
    ('{"name": "IMG_0009.jpg", "tags": ["beach"]}',
     "not a Google Takeout sidecar (no photoTakenTime, creationTime or geoData)"),
    ('["photoTakenTime"]', "not a Google Takeout sidecar (no photoTakenTime, creationTime or geoData)"),
    ("{not json at all", "not JSON (Expecting property name enclosed in double quotes"),
])
def test_a_json_that_is_not_takeouts_is_ignored_with_a_warning(tmp_path, text, why):
    write_jpeg(tmp_path / "IMG_0009.jpg")
    (tmp_path / "IMG_0009.jpg.json").write_text(text)
    photo = rows(tmp_path).loc["IMG_0009.jpg"]
    assert photo["warnings"].startswith(f"IMG_0009.jpg.json ignored: {why}")
    assert pd.isna(photo["takeout_timestamp"]) and pd.isna(photo["takeout_lat"])
    assert photo["datetime_original"] == "2020:01:02 03:04:05" and pd.isna(photo["error"])


# --- reruns ---------------------------------------------------------------------------------


def touch_later(path: Path) -> None:
    """Move the file's mtime on by a second, so a same-size rewrite is seen on any filesystem."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_sidecar_added_changed_or_removed_makes_a_rerun_read_its_photo_again(tmp_path):
    raw = write_raw(tmp_path / "IMG_0010.NEF")
    write_jpeg(tmp_path / "IMG_0011.jpg")  # a bystander: reused every time
    xmp, js = tmp_path / "IMG_0010.NEF.xmp", tmp_path / "IMG_0010.NEF.json"

    def rerun(previous):
        photos = extract([tmp_path], previous=previous, workers=1)
        return photos, photos.attrs["extract"]["read"], photos.set_index("file_name").loc["IMG_0010.NEF"]

    photos, read, row = rerun(None)
    assert read == 2 and pd.isna(row["xmp_sidecar"])
    mtime = raw.stat().st_mtime_ns
    steps = [
        ("xmp added", lambda: xmp.write_bytes(xmp_packet(xmp_CreateDate="2001-01-01T00:00:00")),
         "xmp_create_date", "2001-01-01T00:00:00"),
        ("xmp changed", lambda: (xmp.write_bytes(xmp_packet(xmp_CreateDate="2009-09-09T00:00:00")),
                                 touch_later(xmp)), "xmp_create_date", "2009-09-09T00:00:00"),
        ("json added", lambda: js.write_text(takeout_json(1000000000)), "takeout_timestamp", 1000000000),
        ("json changed", lambda: (js.write_text(takeout_json(1000000009)), touch_later(js)),
         "takeout_timestamp", 1000000009),
        ("xmp removed", xmp.unlink, "xmp_create_date", None),
        ("json removed", js.unlink, "takeout_timestamp", None),
    ]
    for step, change, column, expected in steps:
        change()
        photos, read, row = rerun(photos)
        assert read == 1, step
        assert (pd.isna(row[column]) if expected is None else row[column] == expected), step
        photos, read, _ = rerun(photos)
        assert read == 0, f"{step}: an unchanged rerun read again"
    assert raw.stat().st_mtime_ns == mtime  # the photo itself never changed
    assert row[["xmp_sidecar", "json_sidecar", "sidecar_stamp"]].isna().all()


def test_a_sidecar_that_is_not_a_regular_file_is_skipped_with_a_warning(tmp_path):
    write_jpeg(tmp_path / "IMG_0012.jpg")
    os.mkfifo(tmp_path / "IMG_0012.jpg.xmp")  # opening it would wait for a writer forever
    (tmp_path / "IMG_0012.jpg.json").symlink_to(tmp_path / "nowhere.json")
    with pytest.warns(UserWarning) as caught:
        photo = rows(tmp_path).loc["IMG_0012.jpg"]
    assert sorted(str(warning.message) for warning in caught) == [
        f"skipping {tmp_path / 'IMG_0012.jpg.json'}: a broken symbolic link",
        f"skipping {tmp_path / 'IMG_0012.jpg.xmp'}: not a regular file (a named pipe)"]
    assert photo[["xmp_sidecar", "json_sidecar", "sidecar_stamp", "error"]].isna().all()


def test_photoflux_run_extracts_again_when_only_a_sidecar_changed(tmp_path):
    library, ws = tmp_path / "library", tmp_path / "ws"
    write_raw(library / "IMG_0013.NEF")

    def run() -> str:
        result = CliRunner().invoke(main, ["run", str(library), "-w", str(ws), "--default-tz", "UTC"])
        assert result.exit_code == 0, result.output
        return result.output

    skipped = "extract: no photo added, changed or removed; skipped"
    run()
    assert skipped in run()
    (library / "IMG_0013.xmp").write_bytes(xmp_packet(xmp_CreateDate="2013-01-13T13:13:13"))
    assert "(1 read, 0 unchanged" in run()
    assert skipped in run()
    assert Workspace(ws).load("photos")["xmp_create_date"].tolist() == ["2013-01-13T13:13:13"]
