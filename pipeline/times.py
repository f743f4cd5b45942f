"""Time units every stage shares: whole milliseconds, the ISO text people type, "now"."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd


def now_iso() -> str:
    """The current UTC time to the second, as every manifest, ledger and approval records it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def millis(seconds: pd.Series) -> pd.Series:
    """UTC seconds (numbers or their text) -> whole milliseconds (Int64): the unit approvals,
    the ledger and the server's keys compare in."""
    return (pd.to_numeric(seconds, errors="coerce") * 1000).round().astype("Int64")


def seconds_text(seconds: pd.Series) -> pd.Series:
    """UTC seconds -> exact millisecond text ('1400269584.123'), as approvals.csv keeps them."""
    ms = millis(seconds)
    whole, frac = ms.abs() // 1000, ms.abs() % 1000
    sign = pd.Series(np.where(ms.fillna(0) < 0, "-", ""), index=seconds.index)
    return (sign + whole.astype("string") + "." + frac.astype("string").str.zfill(3)).where(
        ms.notna())


def parse_local(text: str, *, end: bool = False) -> pd.Timestamp:
    """ISO local time; a bare date as `end` of a range means the whole of that day."""
    value = pd.Timestamp(text.strip().replace("T", " "))
    if value.tzinfo is not None:
        raise ValueError("a local time has no zone")
    if end and len(text.strip()) <= 10:
        value += pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
    return value
