"""Times in file names (pipeline/readers/names.py): every pattern issue 11 lists, Pixel's UTC
names, and the names that hold no time."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.readers.names import name_times


def read(name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    row = name_times(pd.Series([name], dtype="str")).iloc[0]
    return row["local"], row["utc"]


#: Every pattern issue 11 lists, with the local time it holds.
ISSUE_NAMES = [
    ("IMG_20200130_095718.jpg", "2020-01-30 09:57:18"),
    ("VID_20200130_095718.mp4", "2020-01-30 09:57:18"),
    ("Screenshot_2020-01-30-09-57-18.png", "2020-01-30 09:57:18"),
    ("2018-04-12 19.24.49.jpg", "2018-04-12 19:24:49"),
    ("2018-04-12 19_24_49.jpg", "2018-04-12 19:24:49"),
    ("telegram_2020-01-30_09-57-18.jpg", "2020-01-30 09:57:18"),
    ("signal-2020-01-30-095718.jpg", "2020-01-30 09:57:18"),
]


@pytest.mark.parametrize("name, local", ISSUE_NAMES + [
    # the same families as other apps and phones write them
    ("Screenshot_20200130-095718.png", "2020-01-30 09:57:18"),
    ("20200130_095718.jpg", "2020-01-30 09:57:18"),  # Samsung
    ("IMG_20200130_095718_HDR.jpg", "2020-01-30 09:57:18"),
    ("signal-2020-01-30-09-57-18-123.jpg", "2020-01-30 09:57:18"),
])
def test_a_name_with_a_full_date_and_time_is_a_local_time(name, local):
    assert read(name) == (pd.Timestamp(local), pd.NaT)


@pytest.mark.parametrize("name", ["PXL_20200130_095718123.jpg", "PXL_20200130_095718123.PORTRAIT.jpg",
                                  "pxl_20200130_095718123.jpg"])
def test_a_pixel_name_is_a_utc_instant_with_milliseconds(name):
    assert read(name) == (pd.NaT, pd.Timestamp("2020-01-30 09:57:18.123"))


@pytest.mark.parametrize("name", [
    "IMG-20190303-WA0004.jpg",  # WhatsApp: a date, no time
    "IMG_20190303.jpg", "2018-04-12.jpg", "DSC_0001.jpg", "IMG_1234.JPG", "",
    "IMG_20201330_095718.jpg",  # month 13
    "IMG_20200230_095718.jpg",  # 30 February
    "IMG_20200130_256000.jpg",  # 25:60
    "12345678_123456789012_n.jpg",  # a Facebook id, not a date
    "IMG_30200130_095718.jpg",  # no camera wrote the year 3020
])
def test_a_name_without_a_real_date_and_time_is_no_time(name):
    assert read(name) == (pd.NaT, pd.NaT)


def test_names_keep_their_rows_on_any_index():
    names = pd.Series(["DSC_1.jpg", "PXL_20200130_095718123.jpg", None, "IMG_20200130_095718.jpg"],
                      index=[7, 3, 9, 1], dtype="str")
    times = name_times(names)
    assert times.index.tolist() == [7, 3, 9, 1]
    assert times["local"].notna().tolist() == [False, False, False, True]
    assert times["utc"].notna().tolist() == [False, True, False, False]
