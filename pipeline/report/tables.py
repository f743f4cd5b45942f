"""The audit's tables, shared by the page and the workbook: counts per folder and source, photos
per flag, the overrides in force and the segments as a reviewer reads them."""
from __future__ import annotations

import pandas as pd

from .. import flags as registry
from ..approvals import is_approved
from ..overrides import OVERRIDE_COLUMNS
from ..segments import summarize
from ..vocabulary import TZ_SOURCES, UPLOADED
from .columns import kinds, text

ALL = "(all)"  # summary label: every folder, or every source
NO_SOURCE = "(none)"  # summary label: rows without a time have no tz_source
#: The counts of the summary and the segments, in the order the page shows them.
COUNTS = ["photos", "needs_a_look", "for_information", "no_time", "approved", "uploaded"]


def summary(resolved: pd.DataFrame) -> pd.DataFrame:
    """Counts per folder and per tz_source, with `(all)` subtotal rows and a grand total last.

    Columns: folder, tz_source, then COUNTS (each photo counts in one of needs_a_look,
    for_information, no_time or none of them: pipeline/flags.py), first_local_time,
    last_local_time. Rows with no time have tz_source `(none)`.
    """
    df = resolved.reset_index(drop=True)
    kind = kinds(df)
    frame = pd.DataFrame({
        "folder": text(df["folder"]),
        "tz_source": text(df["tz_source"]).replace("", NO_SOURCE),
        "photos": 1,
        "needs_a_look": kind["needs_a_look"],
        "for_information": kind["for_information"],
        "no_time": kind["never_approvable"],
        "approved": is_approved(df).to_numpy(),
        "uploaded": df["upload_status"].isin(UPLOADED).to_numpy(bool),
        "first_local_time": df["local_time"].astype("datetime64[ms]"),
        "last_local_time": df["local_time"].astype("datetime64[ms]"),
    })
    aggs = {**{c: "sum" for c in COUNTS}, "first_local_time": "min", "last_local_time": "max"}
    total = frame.agg(aggs).to_frame().T.assign(folder=ALL, tz_source=ALL)
    parts = [
        frame.groupby(["folder", "tz_source"], sort=False).agg(aggs).reset_index(),
        frame.groupby("folder", sort=False).agg(aggs).reset_index().assign(tz_source=ALL),
        frame.groupby("tz_source", sort=False).agg(aggs).reset_index().assign(folder=ALL),
        total,
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    rank = {s: i for i, s in enumerate((*TZ_SOURCES, NO_SOURCE))}
    out = out.assign(
        _f=(out["folder"] == ALL),
        _s=out["tz_source"].map(rank).fillna(len(rank)).where(out["tz_source"] != ALL, len(rank) + 1),
    ).sort_values(["_f", "folder", "_s", "tz_source"], kind="stable")
    out[COUNTS] = out[COUNTS].astype("int64")
    for col in ("first_local_time", "last_local_time"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ms]")
    return out[["folder", "tz_source", *COUNTS, "first_local_time", "last_local_time"]].reset_index(drop=True)


def flag_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Photos per flag in registry order (flags no photo has left out): columns flag, kind,
    photos. A photo with two flags counts under both."""
    counts = registry.counts(df)["by_flag"]
    return pd.DataFrame({"flag": list(counts), "kind": [registry.BY_NAME[f].kind for f in counts],
                         "photos": list(counts.values())}, columns=["flag", "kind", "photos"])


def overrides_table(overrides: pd.DataFrame | None) -> pd.DataFrame:
    """The overrides CSV rows as text, the documented columns first, numbered in file order."""
    if overrides is None or overrides.empty:
        return pd.DataFrame(columns=["rule", *OVERRIDE_COLUMNS])
    extra = [c for c in overrides.columns if c not in OVERRIDE_COLUMNS]
    out = overrides.reindex(columns=[*OVERRIDE_COLUMNS, *extra]).reset_index(drop=True)
    out = out.apply(text)  # one call per column
    out.insert(0, "rule", range(1, len(out) + 1))
    return out


def segments_table(resolved: pd.DataFrame) -> pd.DataFrame:
    """The segments (pipeline/segments.py's table, in order of first local time) with the
    review's counts of each: needs_a_look, for_information and uploaded photos."""
    table = summarize(resolved)
    rows = resolved[resolved["segment"].notna()]
    kind = kinds(rows)
    counted = pd.DataFrame({
        "segment": rows["segment"].to_numpy(),
        "needs_a_look": kind["needs_a_look"], "for_information": kind["for_information"],
        "uploaded": rows["upload_status"].isin(UPLOADED).to_numpy(bool),
    }).groupby("segment").sum().astype("int64")
    table = table.drop(columns=[c for c in counted.columns if c in table.columns])
    return table.join(counted, on="segment").reset_index(drop=True)
