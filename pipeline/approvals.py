"""Approvals: a person's yes to one photo's time, kept in approvals.csv beside the tables.

An approval names the photo (path and the sha256 of its bytes) and the exact UTC millisecond the
person saw. It holds only while both are unchanged: re-resolving to another instant, or editing
the file, makes the photo unapproved again, and nothing unapproved is ever uploaded.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .flags import needs_a_look
from .schema import APPROVALS
from .times import millis, seconds_text


def empty_approvals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in APPROVALS.names})


def is_approved(resolved: pd.DataFrame) -> pd.Series:
    """The rows whose approval holds (null `approved` counts as no)."""
    return resolved["approved"].fillna(False).astype(bool)


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


def before_epoch(resolved: pd.DataFrame) -> pd.Series:
    """Rows dated before 1970-01-01 UTC: Fluxtream's API refuses negative times."""
    return (resolved["capture_time_secs_utc"] < 0).fillna(False).astype(bool)


def approve(approvals: pd.DataFrame, resolved: pd.DataFrame, selected: pd.Series,
            when: str) -> pd.DataFrame:
    """Record the selected, approvable rows' current times (replacing older approvals of them);
    photos before 1970 are refused, as upload could never send them."""
    chosen = resolved[selected & uploadable(resolved) & ~before_epoch(resolved)]
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


def lapsed(approvals: pd.DataFrame, resolved: pd.DataFrame) -> pd.DataFrame:
    """The rows of the table whose approval (in `approvals`) no longer holds, with `why`:
    'no time now', 'file changed' or 'time changed'. A photo no longer in the table is not
    listed: nothing of it can be uploaded."""
    wanted = approvals.drop_duplicates("path", keep="last").set_index("path")
    rows = resolved[~is_approved(resolved) & resolved["path"].isin(wanted.index)]
    given = wanted.reindex(rows["path"])
    why = np.select(
        [rows["capture_time_secs_utc"].isna().to_numpy(),
         (rows["sha256"].to_numpy() != given["sha256"].to_numpy())],
        ["no time now", "file changed"], "time changed")
    return rows.assign(why=why)


def waiting(resolved: pd.DataFrame) -> pd.Series:
    """Rows approve would approve: uploadable, not approved, not before 1970."""
    return ~is_approved(resolved) & uploadable(resolved) & ~before_epoch(resolved)


def counts(resolved: pd.DataFrame) -> str:
    """'N approved (L of them need a look), U still unapproved' for the commands' last line."""
    approved = is_approved(resolved)
    look = needs_a_look(resolved["flags"])
    return (f"{int(approved.sum())} approved ({int((approved & look).sum())} of them need a "
            f"look), {int(waiting(resolved).sum())} still unapproved")
