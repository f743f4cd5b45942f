"""The stages wired to a workspace: read the inputs, call the pure stage function, write the
outputs atomically, and record in data/manifest.json what each stage ran on.

Every stage records a fingerprint of its inputs and options (`inputs`), so `photoflux run` can
skip a stage whose inputs have not changed. Callers hold the workspace's writer lock.
"""
from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path

import pandas as pd

from . import __version__
from .approvals import apply_approvals, empty_approvals, parse_approvals
from .overrides import Rule, rules_table
from .resolve import ResolveWarning, Settings, resolve
from .schema import PHOTOS, RESOLVED
from .times import now_iso
from .workspace import (Workspace, atomic_write_bytes, atomic_write_text, read_table,
                        save_resolved, write_csv, write_table)

STAGES = ("extract", "resolve", "report")


class StageError(RuntimeError):
    """A stage cannot run: its message is one line for the user; `code` is the exit code."""

    code = 2


class NothingSelected(StageError):
    """A selection that matches no photo: said plainly, exit code 1."""

    code = 1


def selected_rows(resolved: pd.DataFrame, selection) -> pd.Series:
    """The selection's mask over the table; NothingSelected when it picks no row."""
    selected = selection.mask(resolved)
    if not selected.any():
        raise NothingSelected("the selection matches no photo")
    return selected


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, None when it does not exist."""
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require(path: Path, hint: str) -> None:
    if not path.exists():
        raise StageError(f"{path} does not exist: run '{hint}' first")


# --- fingerprints of each stage's inputs ------------------------------------------------------

def listing_digest(paths: pd.Series, sizes: pd.Series, mtimes: pd.Series) -> str:
    """One digest of every photo file's (path, size, mtime), in path order."""
    listing = pd.DataFrame({"path": paths.astype(str), "size": sizes.astype(str),
                            "mtime": mtimes.astype(str)}).sort_values("path")
    lines = listing["path"] + "\0" + listing["size"] + "\0" + listing["mtime"]
    return hashlib.sha256("\n".join(lines.tolist()).encode()).hexdigest()


def extract_inputs(paths, files: pd.DataFrame | None = None) -> dict:
    """The folders asked for, and the (path, size, mtime) of every photo file under them: from
    a fresh walk, or from the photos table that a walk just produced."""
    from .extract import photo_files

    if files is None:
        files = pd.DataFrame(photo_files(paths), columns=["path", "file_size", "mtime_ns"])
    return {"paths": sorted(str(Path(p).absolute()) for p in paths),
            "files": listing_digest(files["path"], files["file_size"], files["mtime_ns"]),
            "version": __version__}


def resolve_inputs(ws: Workspace, settings: Settings, overrides: Path | None) -> dict:
    return {"photos": file_digest(ws.photos), "default_tz": settings.default_tz,
            "overrides": str(overrides) if overrides else None,
            "overrides_text": file_digest(overrides) if overrides else None,
            "approvals": file_digest(ws.approvals), "version": __version__}


def report_inputs(ws: Workspace) -> dict:
    return {"resolved": file_digest(ws.resolved), "rules": file_digest(ws.rules_in_force),
            "version": __version__}


def unchanged(ws: Workspace, stage: str, inputs: dict) -> bool:
    """Whether the stage last ran on exactly these inputs and its output is still there."""
    output = {"extract": ws.photos, "resolve": ws.resolved, "report": ws.audit_html}[stage]
    return output.exists() and ws.read_manifest().get(stage, {}).get("inputs") == inputs


# --- the stages -------------------------------------------------------------------------------

def run_extract(ws: Workspace, paths, workers: int | None = None,
                progress: bool = False) -> tuple[pd.DataFrame, list]:
    """photos.parquet from the files under `paths`, reusing unchanged files' rows."""
    from .extract import extract

    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise StageError(f"no such file or folder: {', '.join(missing)}")
    started = time.monotonic()
    previous = read_table(ws.photos, PHOTOS) if ws.photos.exists() else None
    try:
        with warnings.catch_warnings(record=True) as caught:  # unreadable folders
            warnings.simplefilter("always")
            photos = extract(paths, previous, workers=workers, progress=progress)
    except FileNotFoundError as exc:  # a PATH removed since the check above
        raise StageError(str(exc)) from None
    write_table(ws.photos, photos, PHOTOS)
    photos.attrs["extract"]["seconds"] = round(time.monotonic() - started, 3)
    ws.write_manifest_entry("extract", {
        **photos.attrs["extract"], "paths": [str(Path(p).absolute()) for p in paths],
        "rows": len(photos), "errors": int(photos["error"].notna().sum()), "finished": now_iso(),
        "inputs": extract_inputs(paths, photos),
    })
    return photos, caught


def read_approvals(ws: Workspace) -> pd.DataFrame:
    if not ws.approvals.exists():
        return empty_approvals()
    try:
        return parse_approvals(ws.approvals.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise StageError(f"{ws.approvals}: {exc}") from None


def reconcile(ws: Workspace, resolved: pd.DataFrame) -> pd.DataFrame:
    """Reapply what lives beside the table: the approvals that still hold, the upload ledger."""
    from .ledger import apply_ledger, read_history

    resolved = apply_approvals(resolved, read_approvals(ws))
    return apply_ledger(resolved, read_history(ws.uploads))


def run_resolve(ws: Workspace, settings: Settings, rules: list[Rule], overrides: Path | None,
                inputs: dict | None = None) -> tuple[pd.DataFrame, list]:
    """resolved.parquet and audit.csv from photos.parquet, the rules and the default zone.
    `inputs`: their fingerprint, when the caller has just computed it."""
    require(ws.photos, "photoflux extract")
    inputs = inputs or resolve_inputs(ws, settings, overrides)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResolveWarning)
        resolved = resolve(read_table(ws.photos, PHOTOS), rules, settings)
    resolved = reconcile(ws, resolved)
    save_resolved(ws, resolved)
    write_csv(ws.rules_in_force, rules_table(rules))
    ws.write_manifest_entry("resolve", {
        "default_tz": settings.default_tz, "overrides": str(overrides) if overrides else None,
        "rows": len(resolved), "finished": now_iso(), "inputs": inputs,
    })
    return resolved, caught


def run_report(ws: Workspace, inputs: dict | None = None) -> pd.DataFrame:
    """audit.xlsx and audit.html from resolved.parquet and the rules it was resolved with."""
    from . import report

    require(ws.resolved, "photoflux resolve")
    inputs = inputs or report_inputs(ws)
    resolved = read_table(ws.resolved, RESOLVED)
    rules = (pd.read_csv(ws.rules_in_force, dtype="string", encoding="utf-8-sig")
             if ws.rules_in_force.exists() else rules_table([]))
    atomic_write_bytes(ws.audit_xlsx, report.workbook_bytes(resolved, rules))
    atomic_write_text(ws.audit_html, report.html_page(resolved, rules))
    ws.write_manifest_entry("report", {"rows": len(resolved), "finished": now_iso(),
                                       "inputs": inputs})
    return resolved


def resolve_summary(resolved: pd.DataFrame) -> str:
    sources = resolved["tz_source"].value_counts()
    by_source = ", ".join(f"{n} {name}" for name, n in sources.items())
    flagged = int((resolved["flags"].fillna("") != "").sum())
    no_time = int(resolved["local_time"].isna().sum())
    return (f"resolved {len(resolved)} photos ({by_source}); {flagged} flagged, "
            f"{no_time} without a time")


def change_approvals(ws: Workspace, command: str, selection) -> tuple[int, int, pd.DataFrame]:
    """approve/unapprove the selected rows: approvals.csv first, then the tables' `approved`.

    Returns how many rows were selected, how many of them were refused (no time, or a read
    error: never uploadable), and the updated table.
    """
    from . import approvals

    require(ws.resolved, "photoflux resolve")
    resolved = read_table(ws.resolved, RESOLVED)
    selected = selected_rows(resolved, selection)
    kept = read_approvals(ws)
    refused = 0
    if command == "approve":
        refused = int((selected & ~approvals.uploadable(resolved)).sum())
        kept = approvals.approve(kept, resolved, selected, now_iso())
    else:
        kept = approvals.unapprove(kept, resolved, selected)
    atomic_write_text(ws.approvals, approvals.approvals_csv(kept))
    resolved = reconcile(ws, resolved)
    save_resolved(ws, resolved)
    return int(selected.sum()), refused, resolved
