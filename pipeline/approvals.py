"""Approvals: a person's yes to one photo's time, kept in approvals.csv beside the tables.

An approval names the photo (path and the sha256 of its bytes) and the exact UTC millisecond the
person saw. It holds only while both are unchanged: re-resolving to another instant, or editing
the file, makes the photo unapproved again, and nothing unapproved is ever uploaded.
"""
from __future__ import annotations

import io

import pandas as pd

from .times import millis, seconds_text

APPROVAL_COLUMNS = ["path", "sha256", "capture_time_secs_utc", "tz_name", "approved_at"]


def empty_approvals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in APPROVAL_COLUMNS})


def parse_approvals(text: str) -> pd.DataFrame:
    """approvals.csv text -> table (all text; the time is compared as whole milliseconds)."""
    if not text.strip():
        return empty_approvals()
    table = pd.read_csv(io.StringIO(text), dtype="string", keep_default_na=False)
    missing = [c for c in APPROVAL_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"approvals.csv lacks columns {missing}")
    return table[APPROVAL_COLUMNS]


def apply_approvals(resolved: pd.DataFrame, approvals: pd.DataFrame) -> pd.DataFrame:
    """Set `approved`/`approved_at` from the approvals that still hold for each row."""
    wanted = approvals.assign(millis=millis(approvals["capture_time_secs_utc"]))
    wanted = wanted.drop_duplicates("path", keep="last")[["path", "sha256", "millis",
                                                          "approved_at"]]
    rows = resolved[["path", "sha256"]].assign(
        millis=millis(resolved["capture_time_secs_utc"]))
    matched = rows.merge(wanted, on=["path", "sha256", "millis"], how="left")
    holds = matched["approved_at"].notna().to_numpy() & uploadable(resolved).to_numpy()
    return resolved.assign(
        approved=pd.array(holds, dtype="boolean"),
        approved_at=pd.Series(matched["approved_at"].to_numpy(), index=resolved.index,
                              dtype="string").where(holds),
    )


def uploadable(resolved: pd.DataFrame) -> pd.Series:
    """Rows that may ever be approved: a time, and no read error."""
    return resolved["capture_time_secs_utc"].notna() & resolved["error"].isna()


def approve(approvals: pd.DataFrame, resolved: pd.DataFrame, selected: pd.Series,
            when: str) -> pd.DataFrame:
    """Record the selected, approvable rows' current times (replacing older approvals of them)."""
    chosen = resolved[selected & uploadable(resolved)]
    fresh = pd.DataFrame({
        "path": chosen["path"], "sha256": chosen["sha256"],
        "capture_time_secs_utc": seconds_text(chosen["capture_time_secs_utc"]),
        "tz_name": chosen["tz_name"], "approved_at": when,
    }).astype("string")
    kept = approvals[~approvals["path"].isin(chosen["path"])]
    return pd.concat([kept, fresh], ignore_index=True)


def unapprove(approvals: pd.DataFrame, resolved: pd.DataFrame, selected: pd.Series) -> pd.DataFrame:
    """Drop the approvals of the selected rows."""
    return approvals[~approvals["path"].isin(resolved.loc[selected, "path"])].reset_index(drop=True)


def approvals_csv(approvals: pd.DataFrame) -> str:
    return approvals[APPROVAL_COLUMNS].to_csv(index=False)


def counts(resolved: pd.DataFrame) -> str:
    """'N approved (F of them flagged), U still unapproved' for the commands' last line."""
    approved = resolved["approved"].fillna(False).astype(bool)
    flagged = resolved["flags"].fillna("") != ""
    waiting = ~approved & uploadable(resolved)
    return (f"{int(approved.sum())} approved ({int((approved & flagged).sum())} of them "
            f"flagged), {int(waiting.sum())} still unapproved")
