"""Fidelity on real photos: extract over ../shared/corpus agrees with ExifTool's reading (truth.json).

Agreement is counted on DateTimeOriginal (files whose truth came from the EXIF group) and on
the GPS position within 1e-5 degrees (files where ExifTool found one). Our contract turns a
blank date ("    :  :     :  :  ") into null, so null agrees with ExifTool's blank.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.extract import extract

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRUTH = CORPUS / "truth.json"
REQUIRED_AGREEMENT = 0.98


@pytest.fixture(scope="module")
def corpus():
    if not TRUTH.exists():
        pytest.skip(f"no public corpus at {CORPUS} (it lives beside the repository, in ../shared)")
    truth = {str(CORPUS / record["file"]): record for record in json.loads(TRUTH.read_text())}
    photos = extract([CORPUS / "files"]).set_index("path")
    return truth, photos


def blank(value) -> bool:
    return value is None or not str(value).strip(" :\x00")


def report(name: str, total: int, disagreeing: list[str]) -> float:
    share = 1 - len(disagreeing) / total if total else 1.0
    print(f"\n{name}: {total - len(disagreeing)}/{total} agree ({share:.1%})")
    for line in disagreeing:
        print(f"  {line}")
    return share


def test_a_row_for_every_file(corpus):
    truth, photos = corpus
    assert set(truth) <= set(photos.index)
    assert photos.loc[list(truth), "file_size"].notna().all()


def test_datetime_original_agrees_with_exiftool(corpus):
    truth, photos = corpus
    checked = {path: t for path, t in truth.items() if t["source_group"] == "EXIF"}
    disagreeing = []
    for path, t in checked.items():
        ours = photos.at[path, "datetime_original"]
        ours = None if pd.isna(ours) else ours
        if not (ours == t["datetime_original"] or (ours is None and blank(t["datetime_original"]))):
            disagreeing.append(f"{Path(path).name}: exiftool {t['datetime_original']!r}, ours {ours!r}"
                               f" ({photos.at[path, 'error']})")
    assert report("DateTimeOriginal", len(checked), disagreeing) >= REQUIRED_AGREEMENT


def test_gps_position_agrees_with_exiftool(corpus):
    truth, photos = corpus
    checked = {path: t for path, t in truth.items() if t["gps_lat"] is not None}
    disagreeing = []
    for path, t in checked.items():
        lat, lon = photos.at[path, "gps_lat"], photos.at[path, "gps_lon"]
        if not (abs(lat - t["gps_lat"]) <= 1e-5 and abs(lon - t["gps_lon"]) <= 1e-5):
            disagreeing.append(f"{Path(path).name}: exiftool {t['gps_lat']}, {t['gps_lon']};"
                               f" ours {lat}, {lon} ({photos.at[path, 'error']})")
    assert report("GPS position", len(checked), disagreeing) >= REQUIRED_AGREEMENT
