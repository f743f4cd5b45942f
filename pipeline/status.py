"""`photoflux status`: one screen of what has run, what the table holds, and what to do next."""
from __future__ import annotations

import pandas as pd

from .approvals import is_approved, uploadable
from .runner import STAGES as RUN_STAGES
from .vocabulary import UPLOADED
from .workspace import Workspace

STAGES = (*RUN_STAGES, "upload", "reconcile")


def _counts(values: pd.Series) -> str:
    counts = values.value_counts()
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def next_step(ws: Workspace, resolved: pd.DataFrame | None, manifest: dict) -> str:
    """The command the user most probably wants now."""
    w = f"-w {ws.root}"
    if not ws.photos.exists():
        return f"photoflux extract PATH... {w}"
    if resolved is None:
        return f"photoflux resolve {w} --default-tz ZONE"
    if "report" not in manifest:
        return f"photoflux report {w}   (then open {ws.audit_html})"
    approved = is_approved(resolved)
    waiting = ~approved & uploadable(resolved)
    if waiting.any():
        return (f"review {ws.audit_html}, fix zones in overrides.csv and re-resolve, then "
                f"photoflux approve {w} --unflagged   ({int(waiting.sum())} unapproved)")
    sent = resolved["upload_status"].isin(UPLOADED)
    if (approved & ~sent).any():
        return f"photoflux upload {w} --server URL --user NAME --dry-run"
    return "nothing left to do: every approved photo is on the server"


def status_text(ws: Workspace, resolved: pd.DataFrame | None) -> str:
    manifest = ws.read_manifest()
    lines = [f"workspace {ws.root}"]
    for stage in STAGES:
        entry = manifest.get(stage)
        lines.append(f"  {stage:<8} " + (f"ran {entry.get('finished', '?')}, "
                                         f"{entry.get('rows', '?')} rows" if entry else "not run"))
    if resolved is not None:
        flags = resolved["flags"].dropna().str.split(";").explode()
        approved = is_approved(resolved)
        lines += [
            f"photos   {len(resolved)} ({int(resolved['error'].notna().sum())} unreadable, "
            f"{int(resolved['capture_time_secs_utc'].isna().sum())} without a time)",
            f"sources  {_counts(resolved['tz_source'])}",
            f"flags    {_counts(flags[flags != ''])}",
            f"approved {int(approved.sum())}, unapproved "
            f"{int((~approved & uploadable(resolved)).sum())}",
            f"uploads  {_counts(resolved['upload_status'].str.replace(r':.*', '', regex=True))}",
        ]
    if "reconcile" in manifest:  # counts as last listed, without asking the server
        from .reconcile import status_line

        lines.append(f"server   {status_line(manifest['reconcile'])}")
    lines.append(f"next:    {next_step(ws, resolved, manifest)}")
    return "\n".join(lines)
