"""Build small photos tables in tests, the way extract would have written them, and read the
resolved rows back."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa

from pipeline.schema import PHOTOS, to_pandas


def photos(*rows: dict, folder: str = "/photos/trip") -> pd.DataFrame:
    """One photos row per dict; unnamed files are IMG_1.jpg, IMG_2.jpg, ... in `folder`."""
    records = []
    for number, row in enumerate(rows, start=1):
        record = dict.fromkeys(PHOTOS.names)
        record.update(file_name=f"IMG_{number}.jpg", folder=folder, file_size=1000,
                      mtime_ns=0, sha256=f"{number:064x}", file_type="JPEG")
        record.update(row)
        record.setdefault("path", None)
        if record["path"] is None:
            record["path"] = f"{record['folder']}/{record['file_name']}"
        records.append(record)
    return to_pandas(pa.Table.from_pylist(records, schema=PHOTOS))  # exact for any int64


def utc(row: pd.Series) -> str:
    """A resolved row's UTC instant, to the second."""
    return row["utc_time"].strftime("%Y-%m-%d %H:%M:%S")


def flags(row: pd.Series) -> set[str]:
    return set((row["flags"] or "").split(";")) - {""}


def by_name(resolved: pd.DataFrame) -> dict[str, pd.Series]:
    return {r["file_name"]: r for _, r in resolved.iterrows()}
