"""`photoflux status`: one screen of what has run, what the table holds, what changed that
needs you (approvals that lapsed, a stale report), and the next command that would do
something."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .approvals import before_epoch, is_approved, lapsed, waiting
from .flags import counts, counts_text, needs_a_look
from .runner import STAGES as RUN_STAGES
from .runner import read_approvals, report_inputs
from .vocabulary import UPLOADED
from .workspace import Workspace, file_digest

STAGES = (*RUN_STAGES, "upload", "reconcile")
#: Upload statuses a plain rerun of upload would not send: blocked until an --allow option,
#: or never sendable.
HELD = ("blocked_retimed", "blocked_changed", "before_epoch", "unsupported_format", "rejected")
LAPSED_SHOWN = 8  # segments listed with lapsed approvals; the rest are counted


def _counts(values: pd.Series) -> str:
    counted = values.value_counts()
    return ", ".join(f"{name} {n}" for name, n in counted.items()) or "none"


def report_is_stale(ws: Workspace, manifest: dict) -> bool:
    """Whether the report shows another resolved table than the one there is now (resolve,
    approve or upload wrote it since)."""
    shown = manifest.get("report", {}).get("inputs", {})
    return bool(shown) and shown.get("resolved") != report_inputs(ws)["resolved"]


def resolve_staleness(ws: Workspace, manifest: dict) -> str | None:
    """Why the resolved table is out of date, or None: the photos table or the overrides
    changed since resolve last ran (the file it read, or WS/overrides.csv that has appeared
    since), or an older photoflux made it (it has no segments table)."""
    inputs = manifest.get("resolve", {}).get("inputs", {})
    if ws.resolved.exists() and not ws.segments.exists():
        return "made by an older photoflux, without segments"
    if not inputs:
        return None
    overrides = inputs.get("overrides")
    if overrides is None:
        changed = ((ws.root / "overrides.csv").exists()
                   or inputs.get("photos") != file_digest(ws.photos))
    else:
        changed = (inputs.get("photos") != file_digest(ws.photos)
                   or inputs.get("overrides_text") != file_digest(Path(overrides)))
    return "photos or overrides changed since" if changed else None


def next_step(ws: Workspace, resolved: pd.DataFrame | None, manifest: dict) -> str:
    """The command the user most probably wants now: always one that would do something."""
    w = f"-w {ws.root}"
    if not ws.photos.exists():
        return f"photoflux extract PATH... {w}"
    if resolved is None:
        return f"photoflux resolve {w} --default-tz ZONE"
    stale = resolve_staleness(ws, manifest)
    if stale:
        zone = manifest.get("resolve", {}).get("default_tz", "ZONE")
        return f"photoflux resolve {w} --default-tz {zone}   ({stale})"
    unapproved = waiting(resolved)
    look = needs_a_look(resolved["flags"])
    if "report" not in manifest or (unapproved.any() and report_is_stale(ws, manifest)):
        return f"photoflux report {w}   (then open {ws.audit_html})"
    if (unapproved & ~look).any():
        return (f"review {ws.audit_html}, fix zones in overrides.csv and re-resolve, then "
                f"photoflux approve {w} --unflagged   ({int((unapproved & ~look).sum())} "
                "unapproved without a flag that needs a look)")
    if unapproved.any():
        return (f"look at the {int(unapproved.sum())} unapproved photos that need a look "
                f"(photoflux segments {w} --flagged), fix overrides.csv and re-resolve, or "
                f"approve a segment you checked: photoflux approve {w} --segment ID")
    approved = is_approved(resolved)
    status = resolved["upload_status"].fillna("").str.replace(r":.*", "", regex=True)
    unsent = approved & ~status.isin([*UPLOADED, *HELD])
    if unsent.any():
        return (f"photoflux upload {w} --server URL --user NAME   ({int(unsent.sum())} approved "
                "photos not on the server yet; --dry-run first shows what it would send)")
    blocked = approved & status.str.startswith("blocked_")
    if blocked.any():
        return (f"{int(blocked.sum())} approved photos are blocked (see upload_status): check "
                f"them, then photoflux upload {w} --server URL --user NAME --allow-retime "
                "(or --allow-resend) puts a second copy on the timeline")
    return "nothing left to do: every approved photo that can be sent is on the server"


def lapsed_lines(ws: Workspace, resolved: pd.DataFrame) -> list[str]:
    """The approvals that no longer hold, by segment (most first): why, where, how many."""
    rows = lapsed(read_approvals(ws), resolved)
    if rows.empty:
        return []
    rows = rows.assign(segment=rows["segment"].fillna("-"))
    by_segment = rows.groupby("segment", sort=False).agg(
        photos=("path", "size"), folder=("folder", "first"), first=("local_time", "min"),
        why=("why", lambda why: ", ".join(sorted(set(why))))).sort_values(
        ["photos", "first"], ascending=[False, True])
    lines = [f"lapsed   {len(rows)} approvals no longer hold (the photo's time or file changed "
             "since you approved it), by segment:"]
    shown = by_segment.head(LAPSED_SHOWN)
    whens = shown["first"].dt.strftime("%Y-%m-%d %H:%M").fillna("no time")
    for segment, photos, when, why, folder in zip(shown.index, shown["photos"], whens,
                                                  shown["why"], shown["folder"]):
        lines.append(f"  {segment:<10}  {photos:>5} photos  {when:<16}  {why:<13}  {folder}")
    if len(by_segment) > LAPSED_SHOWN:
        lines.append(f"  ... and {len(by_segment) - LAPSED_SHOWN} more segments")
    return lines


def status_text(ws: Workspace, resolved: pd.DataFrame | None) -> str:
    manifest = ws.read_manifest()
    lines = [f"workspace {ws.root}"]
    holder = ws.holder()
    if holder is not None:
        lines.append(f"busy     {holder} is writing this workspace: what follows may be about "
                     "to change")
    stale = {"resolve": resolve_staleness(ws, manifest),
             "report": report_is_stale(ws, manifest)
             and "the resolved table changed since (resolve, approve or upload)"}
    for stage in STAGES:
        entry = manifest.get(stage)
        line = f"  {stage:<9} " + (f"ran {entry.get('finished', '?')}, "
                                   f"{entry.get('rows', '?')} rows" if entry else "not run")
        if entry and stale.get(stage):
            line += f": STALE, {stale[stage]}"
        lines.append(line)
    if resolved is not None:
        approved = is_approved(resolved)
        flagged = counts(resolved)
        epoch = before_epoch(resolved) & ~approved
        lines += [
            f"photos   {len(resolved)} in {resolved['segment'].nunique()} segments "
            f"({int(resolved['error'].notna().sum())} unreadable, "
            f"{int(resolved['capture_time_secs_utc'].isna().sum())} without a time)",
            f"sources  {_counts(resolved['tz_source'])}",
            f"flags    {counts_text(flagged)}",
            "         by flag: " + (", ".join(f"{name} {n}" for name, n in
                                             flagged["by_flag"].items()) or "none"),
            f"approved {int(approved.sum())}, unapproved {int(waiting(resolved).sum())}"
            + (f", {int(epoch.sum())} before 1970 (cannot be uploaded)" if epoch.any() else ""),
            f"uploads  {_counts(resolved['upload_status'].str.replace(r':.*', '', regex=True))}",
            *lapsed_lines(ws, resolved),
        ]
    if "reconcile" in manifest:  # counts as last listed, without asking the server
        from .reconcile import status_line

        lines.append(f"server   {status_line(manifest['reconcile'])}")
    lines.append(f"next:    {next_step(ws, resolved, manifest)}")
    return "\n".join(lines)
