"""reconcile: what the server already holds, compared with the workspace (a pure stage).

The original notebook put photos on timelines at wrong instants (whole-hour offsets from the GPS
clock's hour, the last zone set) and made second copies when a range was re-sent. The list API
gives each photo's key, which spells the sha256 of its bytes and its capture millisecond
(upload.walk lists them all). `verdicts` matches each copy to the workspace by sha256 (the
file's own, or through the ledger the bytes photoflux sent for it: a conversion) and gives it
one verdict; `adoptions` are the `same` copies the ledger does not hold yet, recorded as sends
so that upload counts them done; `repair_plan` is what --delete-wrong and --delete-duplicates
may delete: only copies of approved photos whose approved copy is on the server, never that
copy (upload.delete_copies deletes them).
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .approvals import is_approved
from .ledger import History
from .times import millis
from .vocabulary import SERVER_VERDICTS

#: A copy less than this far from the approved instant is `same`: the notebook sent whole
#: seconds, and the server truncates to the millisecond.
SAME_WITHIN_MS = 1000
HOUR_MS = 3_600_000


def as_ms(times: pd.Series) -> pd.Series:
    """UTC timestamps (any unit) as Int64 milliseconds since the epoch (NA for NaT)."""
    return ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")).astype("Int64")


def sent_bytes(history: History) -> pd.DataFrame:
    """sha256 of bytes photoflux sent -> the file's sha256 and what made them (`converter`,
    null for the file itself), from every send in the ledger (any server: a conversion's bytes
    are the same wherever they went)."""
    sends = history.sends.dropna(subset=["sent_sha256"])
    return sends.drop_duplicates("sent_sha256", keep="last").set_index("sent_sha256")[
        ["sha256", "converter"]]


def verdicts(listed: pd.DataFrame, resolved: pd.DataFrame, history: History, server: str,
             user: str) -> pd.DataFrame:
    """The SERVER table: each listed copy (photo_id, key, sha256, capture_ms) matched to the
    workspace and given one verdict.

    A copy is the workspace photo whose file has its bytes, else the one the ledger sent them
    for (`matched_by` file / ledger). Its approved instant is the one nearest its own among the
    approved rows of that file. The verdict: `unknown` (no such file), `unapproved` (no
    approved row), `same` (less than 1 s from the approved instant), `wrong_time` (1 s or more:
    `difference_seconds`, and whether it is a whole number of hours). Then, among the copies of
    one photo (file and approved instant; the server's bytes for unknown ones), one keeps its
    verdict — the `same` copy nearest the approved instant, else the lowest id — and the
    others are `duplicate`; but while the photo's `same` copy is there, a copy at a wrong time
    stays `wrong_time` (what --delete-wrong removes once the right copy is up). `history`: the whole ledger (this server and user's acknowledged
    sends say which copies it holds: `in_ledger`).
    """
    listed = listed.reset_index(drop=True)
    files = resolved[["path", "sha256"]].assign(
        approved_ms=millis(resolved["capture_time_secs_utc"]).where(is_approved(resolved)))
    bytes_sent = sent_bytes(history)
    bytes_sent = bytes_sent[bytes_sent["sha256"].isin(files["sha256"])]
    own = listed["sha256"].isin(files["sha256"]).to_numpy()
    via = bytes_sent["sha256"].reindex(listed["sha256"]).to_numpy()
    file_sha = pd.Series(np.where(own, listed["sha256"], via), index=listed.index, dtype="string")
    ids = listed["photo_id"]

    approved = files.dropna(subset=["approved_ms"]).sort_values("path").drop_duplicates(
        ["sha256", "approved_ms"])
    pairs = pd.DataFrame({"photo_id": ids, "sha256": file_sha,
                          "capture_ms": listed["capture_ms"]}).merge(approved, on="sha256")
    pairs["distance"] = (pairs["capture_ms"] - pairs["approved_ms"]).abs()
    nearest = pairs.sort_values(["distance", "approved_ms"]).drop_duplicates("photo_id") \
        .set_index("photo_id").reindex(ids)
    first_path = files.sort_values("path").drop_duplicates("sha256").set_index("sha256")["path"]
    approved_ms = pd.Series(pd.array(nearest["approved_ms"].to_numpy(), dtype="Int64"),
                            index=listed.index)
    difference = listed["capture_ms"].astype("Int64") - approved_ms
    distance = difference.abs()
    hours = (difference / HOUR_MS).round()
    verdict = pd.Series(np.select(
        [file_sha.isna().to_numpy(), approved_ms.isna().to_numpy(),
         (distance < SAME_WITHIN_MS).fillna(False).to_numpy(bool)],
        ["unknown", "unapproved", "same"], "wrong_time"), index=listed.index)

    same = verdict == "same"
    photo = file_sha.fillna(listed["sha256"]) + ":" + approved_ms.astype("string").fillna("")
    order = pd.DataFrame({"photo": photo, "other": ~same, "distance": distance.where(same, 0),
                          "photo_id": ids}).sort_values(["photo", "other", "distance",
                                                         "photo_id"])
    further = order["photo"].duplicated().reindex(listed.index)
    wrong_beside_right = (verdict == "wrong_time") & photo.isin(photo[same])

    sends = history.sends
    mine = sends[(sends["server"] == server) & (sends["user"] == user) & sends["acked_at"].notna()]
    return pd.DataFrame({
        "photo_id": ids,
        "key": listed["key"],
        "server_time": pd.to_datetime(listed["capture_ms"], unit="ms", utc=True),
        "sha256": listed["sha256"],
        "file_sha256": file_sha,
        "matched_by": pd.Series(np.select([own, pd.notna(via)], ["file", "ledger"], ""),
                                index=listed.index).replace("", None),
        "path": nearest["path"].fillna(first_path.reindex(file_sha).set_axis(ids)).to_numpy(),
        "workspace_copies": files["sha256"].value_counts().reindex(file_sha).fillna(0)
        .astype("int64").to_numpy(),
        "approved_time": pd.to_datetime(approved_ms.astype("float64"), unit="ms", utc=True),
        "difference_seconds": difference.astype("Float64") / 1000,
        "whole_hours": ((hours != 0) & ((difference - hours * HOUR_MS).abs() < SAME_WITHIN_MS))
        .astype("boolean"),
        "verdict": verdict.where(~further | wrong_beside_right, "duplicate"),
        "in_ledger": listed["key"].isin(mine["key"]),
    })


def counts(table: pd.DataFrame) -> dict:
    """Copies per verdict (every verdict, in order), and how many wrong_time copies are off by a
    whole number of hours."""
    found = table["verdict"].value_counts().reindex(SERVER_VERDICTS, fill_value=0)
    wrong = table["verdict"] == "wrong_time"
    return {**{verdict: int(n) for verdict, n in found.items()},
            "whole_hours": int((wrong & table["whole_hours"].fillna(False)).sum())}


def counts_text(found: dict) -> str:
    """'40 same, 5 wrong_time (4 by whole hours), 3 duplicate, 2 unapproved, 7 unknown'."""
    hours = f" ({found['whole_hours']} by whole hours)" if found["wrong_time"] else ""
    return ", ".join(f"{found[verdict]} {verdict}" + (hours if verdict == "wrong_time" else "")
                     for verdict in SERVER_VERDICTS)


def age_text(listed_at: str, now: datetime | None = None) -> str:
    """How long ago an ISO time was, in words a person reads at a glance ('3 h ago')."""
    seconds = ((now or datetime.now(timezone.utc))
               - datetime.fromisoformat(listed_at)).total_seconds()
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def status_line(entry: dict) -> str:
    """The counts of the last reconcile, from its manifest entry, with their age."""
    return (f"{counts_text(entry['counts'])} (listed {age_text(entry['listed_at'])} from "
            f"{entry['server']} as {entry['user']})")


# --- adopting what is already right -------------------------------------------------------------

def adoptions(table: pd.DataFrame, resolved: pd.DataFrame,
              history: History, server: str, user: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `same` copies whose photo (file and approved millisecond) the ledger does not hold as
    acknowledged for this server and user, as Ledger.adopt takes them: the copies, and the path
    of every approved file they are."""
    sends = history.sends
    acked = sends[(sends["server"] == server) & (sends["user"] == user)
                  & sends["acked_at"].notna()]
    same = table[table["verdict"] == "same"]
    approved_ms = as_ms(same["approved_time"])
    photo = pd.MultiIndex.from_arrays([same["file_sha256"].astype(object), approved_ms])
    held = pd.MultiIndex.from_arrays([acked["sha256"], acked["capture_ms"].astype("Int64")])
    fresh = ~photo.isin(held)
    converter = sent_bytes(history)["converter"].reindex(same["sha256"]).to_numpy()
    copies = pd.DataFrame({
        "sha256": same["file_sha256"].astype(object).to_numpy(),
        "capture_ms": approved_ms.to_numpy(), "path": same["path"].to_numpy(),
        "key": same["key"].to_numpy(), "photo_id": same["photo_id"].to_numpy(),
        "sent_sha256": same["sha256"].to_numpy(),
        "converter": np.where(same["sha256"] == same["file_sha256"], None, converter),
    })[fresh]
    rows = resolved[is_approved(resolved)]
    rows = pd.DataFrame({"sha256": rows["sha256"].astype(object),
                         "capture_ms": millis(rows["capture_time_secs_utc"]).astype("Int64"),
                         "path": rows["path"]})
    paths = rows.merge(copies[["sha256", "capture_ms"]], on=["sha256", "capture_ms"])
    return copies, paths


# --- repair -------------------------------------------------------------------------------------

def repair_plan(table: pd.DataFrame, delete_wrong: bool, delete_duplicates: bool) -> pd.DataFrame:
    """The copies the options ask to delete: `wrong_time` ones (delete_wrong) and `duplicate`
    ones (delete_duplicates) of APPROVED photos, never an unknown or unapproved photo's. Each
    with `kept_key`, the key of its photo's `same` copy (the approved copy on the server, asked
    for again before the deletion), null when there is none: such a copy is skipped, so no
    photo is ever left without a copy. Columns: the table's, approved_ms, kept_key."""
    wanted = [verdict for verdict, on in (("wrong_time", delete_wrong),
                                          ("duplicate", delete_duplicates)) if on]
    table = table.assign(approved_ms=as_ms(table["approved_time"]))
    candidates = table[table["verdict"].isin(wanted) & table["approved_ms"].notna()]
    kept = table.loc[table["verdict"] == "same", ["file_sha256", "approved_ms", "key"]] \
        .drop_duplicates(["file_sha256", "approved_ms"]).rename(columns={"key": "kept_key"})
    return candidates.merge(kept, on=["file_sha256", "approved_ms"], how="left") \
        .sort_values(["server_time", "photo_id"], ignore_index=True)


def plan_text(plan: pd.DataFrame) -> str:
    """Every copy the plan deletes (or skips), one line each, for the person to confirm."""
    hours = np.where(plan["whole_hours"].fillna(False), " (whole hours)", "")
    why = np.where(plan["kept_key"].isna(), "  SKIPPED: its approved copy is not on the server "
                                            "(upload it first)", "")
    lines = ("  " + plan["verdict"].astype(str).str.ljust(10) + " id "
             + plan["photo_id"].astype(str) + "  "
             + plan["server_time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str[:-4] + "Z"
             + " -> " + plan["approved_time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str[:-4] + "Z"
             + "  " + plan["difference_seconds"].astype("Float64").map("{:+.3f} s".format) + hours
             + "  " + plan["path"].fillna("").astype(str) + why)
    return "\n".join(lines.tolist())


def pending_deletions(deletions: pd.DataFrame, listed: pd.DataFrame) -> tuple[pd.DataFrame,
                                                                               pd.DataFrame]:
    """The ledger's deletion intents that never got their answer (a killed run), against a fresh
    listing: those whose id is no longer listed are gone (the request landed), those whose id
    now lists another key are stale (never deleted again); an intent whose copy is still there
    as it was is left to the new plan."""
    waiting = deletions[deletions["deleted_at"].isna() & deletions["outcome"].isna()]
    now = listed.set_index("photo_id")["key"].reindex(waiting["photo_id"]).to_numpy()
    gone = waiting[pd.isna(now)]
    stale = waiting[pd.notna(now) & (now != waiting["key"].to_numpy())]
    return gone, stale


# --- the audit's section --------------------------------------------------------------------------

#: The columns the audit shows, in order.
AUDIT_COLUMNS = ("photo_id", "verdict", "server_time", "approved_time", "difference_seconds",
                 "whole_hours", "path", "matched_by", "in_ledger")


def audit_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row of text per server copy, the ones to act on first (wrong_time, duplicate, then
    unapproved, unknown, same), as the audit's "On the server" table shows them."""
    rank = table["verdict"].map({v: i for i, v in enumerate(
        ("wrong_time", "duplicate", "unapproved", "unknown", "same"))})
    shown = table.assign(rank=rank).sort_values(["rank", "server_time", "photo_id"])
    cells = {}
    for column in AUDIT_COLUMNS:
        values = shown[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
        cells[column] = values.astype("string").fillna("").astype(object)
    return pd.DataFrame(cells).reset_index(drop=True)


def listing_text(table: pd.DataFrame, entry: dict | None) -> str:
    """The counts of a SERVER table, and the listing's age from the reconcile manifest
    `entry` (report and the audit say them without asking the server)."""
    age = (f" (listed {age_text(entry['listed_at'])} from {entry['server']} as {entry['user']})"
           if entry else "")
    return counts_text(counts(table)) + age


def audit_note(table: pd.DataFrame, entry: dict | None) -> str:
    """The sentence above the audit's "On the server" table."""
    return (f"{listing_text(table, entry)}. The wrong_time and duplicate copies of approved "
            "photos go with photoflux reconcile --delete-wrong / --delete-duplicates.")
