"""Fingerprints of each stage's inputs, recorded in data/manifest.json, and the reruns they let
skip: a stage whose inputs are those it last ran on, and whose output is still there, has
nothing to do.

Nothing here imports pandas or the tag readers' decoding, so `photoflux extract` and
`photoflux run` on an unchanged library cost a stat walk and the interpreter's start.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

from . import __version__
from .walk import absolute_roots, walk
from .workspace import Workspace, file_digest

STAGES = ("extract", "resolve", "report")


def extract_inputs(paths, listing: str | None = None) -> dict:
    """The folders asked for and the digest of their listing (see walk.walk): `listing` when a
    walk just gave it, else from a fresh walk (its warnings are extract's to give)."""
    from .readers import READER_VERSION

    if listing is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            listing = walk(paths, sidecars=False)[1]
    return {"paths": sorted(absolute_roots(paths)), "files": listing, "version": __version__,
            "reader_version": READER_VERSION}


def resolve_inputs(ws: Workspace, default_tz: str, overrides: Path | None,
                   track_window_minutes: float) -> dict:
    return {"photos": file_digest(ws.photos), "default_tz": default_tz,
            "overrides": str(overrides) if overrides else None,
            "overrides_text": file_digest(overrides) if overrides else None,
            "clocks": file_digest(ws.clocks),
            "approvals": file_digest(ws.approvals), "tracks": file_stamp(ws.tracks),
            "track_window_minutes": track_window_minutes, "version": __version__}


def file_stamp(path: Path) -> str | None:
    """SIZE:MTIME_NS of a file photoflux replaces whole whenever it changes (tracks.parquet:
    hashing millions of points would cost resolve more than reading them); None when absent."""
    if not path.exists():
        return None
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def report_inputs(ws: Workspace) -> dict:
    return {"resolved": file_digest(ws.resolved), "rules": file_digest(ws.rules_in_force),
            "server": file_digest(ws.server), "version": __version__}


def unchanged(ws: Workspace, stage: str, inputs: dict) -> bool:
    """Whether the stage last ran on exactly these inputs and its output is still there."""
    output = {"extract": ws.photos, "resolve": ws.resolved, "report": ws.audit_html}[stage]
    return output.exists() and ws.read_manifest().get(stage, {}).get("inputs") == inputs


def idle_extract(ws: Workspace, paths, started: float) -> dict | None:
    """When extracting `paths` again would change nothing (the same listing, readers and
    photoflux as the last extract, which left no file unhashed): record in the manifest, and
    return, the counts of this rerun begun at `started` (time.monotonic): every row under
    `paths` unchanged, `finished` still saying when the table was written. Else None."""
    if not unchanged(ws, "extract", extract_inputs(paths)):
        return None
    last = ws.read_manifest()["extract"]
    entry = {**last, "read": 0, "reused": last["rows"] - last["kept"], "dropped": 0,
             "seconds": round(time.monotonic() - started, 3)}
    ws.write_manifest_entry("extract", entry)
    return entry


def overrides_path(ws: Workspace, overrides: Path | None) -> Path | None:
    """The overrides CSV in force: the one given, else WS/overrides.csv when it exists."""
    if overrides is not None:
        return overrides
    default = ws.root / "overrides.csv"
    return default if default.exists() else None


def idle_run(ws: Workspace, paths, default_tz: str, overrides: Path | None,
             track_window_minutes: float) -> bool:
    """Whether `photoflux run` would skip every stage: extract's listing, resolve's inputs
    (photos, overrides, clocks, approvals, tracks, the default zone as given, the track
    window) and report's are those
    each last ran on. Checked without parsing anything, since all of it was valid then."""
    return (unchanged(ws, "extract", extract_inputs(paths))
            and unchanged(ws, "resolve", resolve_inputs(ws, default_tz,
                                                        overrides_path(ws, overrides),
                                                        track_window_minutes))
            and unchanged(ws, "report", report_inputs(ws)))
