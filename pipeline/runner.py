"""The stages wired to a workspace: read the inputs, call the pure stage function, write the
outputs and the stage's entry in data/manifest.json as one change (all or nothing).

Every stage records a fingerprint of its inputs and options (`inputs`), so `run_all` can skip a
stage whose inputs have not changed. The CLI only parses options and prints what these return;
a notebook calls them the same way. Callers hold the workspace's writer lock (`ws.writer`).
"""
from __future__ import annotations

import os
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .approvals import apply_approvals, empty_approvals, lapsed as approvals_lapsed
from .overrides import Rule, rules_table
from .resolve import ResolveWarning, Settings, resolve
from .fingerprints import STAGES, extract_inputs, report_inputs, resolve_inputs, unchanged
from .segments import summarize
from .times import TimeOfDay, now_iso
from .tracks.evidence import read_evidence
from .workspace import StageError, Workspace, writing_to


class NothingSelected(StageError):
    """A selection that matches no photo: said plainly, exit code 1."""

    code = 1


class Stopped(StageError):
    """A stage stopped early by a signal, its outputs as they were: exit code 1."""

    code = 1


def selected_rows(resolved: pd.DataFrame, selection) -> pd.Series:
    """The selection's mask over the table; NothingSelected when it names a segment the table
    does not have or picks no row."""
    unknown = selection.unknown_segments(resolved)
    if unknown:
        raise NothingSelected(f"no segment {', '.join(unknown)} in the resolved table "
                              "('photoflux segments' lists them)")
    selected = selection.mask(resolved)
    if not selected.any():
        raise NothingSelected("the selection matches no photo")
    return selected


# --- the stages -------------------------------------------------------------------------------

def run_extract(ws: Workspace, paths, workers: int | None = None, progress: bool = False,
                prune: bool = False, rebuild: bool = False) -> tuple[pd.DataFrame, list]:
    """photos.parquet after reading the files under `paths` (unchanged files' rows reused),
    every row outside them kept; `prune` drops the rows whose file is gone wherever they are.
    `rebuild` ignores the old table (also when it cannot be read) and reads everything under
    the roots the manifest records, and under `paths`. The manifest records every root ever
    extracted (`roots`); a recorded root that is gone is a warning, forgotten with `prune`.
    Returns the table and the warnings to show."""
    from .extract import Interrupted, extract
    from .walk import absolute_roots

    paths = absolute_roots(paths)
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise StageError(f"no such file or folder: {', '.join(missing)}")
    manifest = ws.read_manifest().get("extract", {})
    recorded = manifest.get("roots", manifest.get("paths", []))
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:  # unreadable folders, skipped files
        warnings.simplefilter("always")
        if rebuild:
            paths = _rebuild_roots(ws, recorded, paths, prune)
        previous = ws.load("photos") if ws.photos.exists() and not rebuild else None
        try:
            photos = extract(paths, previous, workers=workers, progress=progress, prune=prune)
        except FileNotFoundError as exc:  # a PATH removed since the check above
            raise StageError(str(exc)) from None
        except Interrupted as exc:
            raise Stopped(f"extract {exc}; {ws.photos} is as it was") from None
    photos.attrs["extract"]["seconds"] = round(time.monotonic() - started, 3)
    kept_roots = [root for root in recorded if not prune or os.path.exists(root)]
    with ws.change() as change:
        change.save("photos", photos)
        change.manifest_entry("extract", {
            **photos.attrs["extract"], "paths": paths, "roots": sorted({*kept_roots, *paths}),
            "rows": len(photos), "errors": int(photos["error"].notna().sum()),
            "finished": now_iso(), "inputs": (extract_inputs(paths, photos.attrs["listing"])
                                              if photos["sha256"].notna().all() else None),
        })
    return photos, caught


def _rebuild_roots(ws: Workspace, recorded: list[str], paths: list[str], prune: bool) -> list:
    """The roots a rebuild reads: the recorded ones still there, and `paths`."""
    gone = [root for root in recorded if not os.path.exists(root)]
    for root in gone:
        warnings.warn(f"{root} is gone: its photos are left out, and "
                      + ("it is forgotten" if prune else "it stays recorded (--prune forgets it)"))
    roots = sorted({*recorded, *paths} - set(gone))
    if not roots and not gone:
        raise StageError(f"nothing to rebuild: {ws.manifest} records no extracted folder; "
                         "give the folders to extract")
    return roots


def read_approvals(ws: Workspace) -> pd.DataFrame:
    return ws.load("approvals") if ws.approvals.exists() else empty_approvals()


def reconcile(ws: Workspace, resolved: pd.DataFrame,
              approvals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reapply what lives beside the table: the approvals that still hold (those given, else
    approvals.csv), the upload ledger."""
    from .ledger import apply_ledger, read_history

    resolved = apply_approvals(resolved, read_approvals(ws) if approvals is None else approvals)
    return apply_ledger(resolved, read_history(ws.uploads))


def run_resolve(ws: Workspace, settings: Settings, rules: list[Rule], overrides: Path | None,
                inputs: dict | None = None, *, clocks: pd.DataFrame | None = None
                ) -> tuple[pd.DataFrame, list]:
    """resolved.parquet, audit.csv and overrides_in_force.csv from photos.parquet, the rules,
    clocks.csv and the default zone, written as one change. `inputs`: their fingerprint, when
    the caller has just computed it; `clocks`: clocks.csv's sync points, when already read."""
    clocks = read_clocks(ws) if clocks is None else clocks
    tracks = read_evidence(ws)
    inputs = inputs or resolve_inputs(ws, settings.default_tz, overrides,
                                      settings.track_window_minutes)
    held = _approved_paths(ws)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResolveWarning)
        resolved = resolve(ws.load("photos"), rules, settings, clocks=clocks,
                           tracks=tracks)  # no reference kept: see resolve's memory note
    approvals = read_approvals(ws)
    resolved = reconcile(ws, resolved, approvals)
    lapsed = approvals_lapsed(approvals, resolved)
    resolved.attrs["lapsed"] = {"now": int(lapsed["path"].isin(held).sum()), "all": len(lapsed)}
    with ws.change() as change:
        change.save("resolved", resolved)
        change.save("segments", summarize(resolved))
        change.save("rules_in_force", rules_table(rules))
        change.manifest_entry("resolve", {
            "default_tz": settings.default_tz, "overrides": str(overrides) if overrides else None,
            "rows": len(resolved), "finished": now_iso(), "inputs": inputs,
            "lapsed": resolved.attrs["lapsed"],
        })
    return resolved, caught


def _approved_paths(ws: Workspace) -> pd.Series:
    """The paths whose approval held in the resolved table a resolve is about to replace (none
    when there is no readable one: resolve is how a damaged table is rebuilt)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(ws.resolved, columns=["path", "approved"]).to_pandas()
    except (pa.ArrowException, OSError, KeyError):
        return pd.Series([], dtype="string")
    return table.loc[table["approved"].fillna(False).astype(bool), "path"]


def run_report(ws: Workspace, inputs: dict | None = None, progress: bool = False) -> pd.DataFrame:
    """audit.xlsx and audit.html from resolved.parquet and the rules it was resolved with; the
    page's thumbnails from the cache in data/thumbs/, made there first when missing. What the
    page says about itself (and the thumbnails' counts) is in the result's attrs["report"]."""
    from . import report
    from .report.thumbs import thumbnails

    resolved = ws.load("resolved")
    inputs = inputs or report_inputs(ws)
    rules = ws.load("rules_in_force") if ws.rules_in_force.exists() else rules_table([])
    server = None
    if ws.server.exists():  # what the last reconcile found: a section and a sheet of the audit
        from .reconcile import audit_note, audit_rows

        listed = ws.load("server")
        server = audit_rows(listed), audit_note(listed, ws.read_manifest().get("reconcile"))
    sections = [] if server is None else [report.server_section(*server)]
    with _beside_process(report.workbook_bytes, resolved, rules, server) as workbook:
        page = report.Page.build(resolved, rules,
                                 ws.read_manifest().get("extract", {}).get("roots", []))
        thumbs = thumbnails(ws.thumbs, page.wanted(), progress=progress)
        rendered = page.render(thumbs.jpegs, sections)
        xlsx = workbook.result()
    with ws.change() as change:
        change.write_bytes(ws.audit_xlsx, xlsx)
        change.write_text(ws.audit_html, rendered.html)
        change.manifest_entry("report", {"rows": len(resolved), "finished": now_iso(),
                                         "inputs": inputs})
    _place_beside(ws, rendered.beside)
    resolved.attrs["report"] = {"notes": rendered.notes, "made": thumbs.made,
                                "cached": thumbs.cached, "failed": thumbs.failed,
                                "beside": len(rendered.beside)}
    return resolved


# --- location history -------------------------------------------------------------------------

@dataclass
class TracksAdded:
    """What `run_tracks_add` did: the sources read now (new files, or changed ones replacing
    their rows), the files found unchanged (by source name), and every source after it."""

    read: list
    unchanged: list[str]
    sources: list


def track_sources(ws: Workspace) -> list:
    """The sources data/tracks.parquet records, in the order added ([] before any);
    TableUnreadable when the file cannot be used."""
    from .tracks.store import sources_of

    metadata = ws.metadata("tracks")
    try:
        return sources_of(metadata)
    except ValueError as exc:
        raise ws.unreadable("tracks", exc) from None


def run_tracks_add(ws: Workspace, files) -> TracksAdded:
    """Import location history files into data/tracks.parquet: a file added before and
    unchanged (size, mtime) is skipped; a changed one replaces its source's rows. Every file is
    read before anything is written, so a file that is no location history (TrackError, exit
    2) leaves the table as it was."""
    from .tracks.store import import_file, source_name, write_tracks

    sources = track_sources(ws)
    taken = {source.name: source.path for source in sources}
    by_name = {source.name: source for source in sources}
    added, unchanged, imported = now_iso(), [], []
    ws.data.mkdir(parents=True, exist_ok=True)
    try:
        for file in files:
            path = Path(file).absolute()
            name = source_name(path, taken)
            if name in by_name and by_name[name].unchanged(path):
                unchanged.append(name)
                continue
            if name in (part.source.name for part in imported):  # the same file named twice
                continue
            with writing_to(ws.tracks):
                imported.append(import_file(path, name, ws.data, added))
            taken[name] = str(path)
        if not imported:
            return TracksAdded([], unchanged, sources)
        replaced = {part.source.name for part in imported}
        after = [s for s in sources if s.name not in replaced] + [p.source for p in imported]
        with ws.change() as change:
            change.write(ws.tracks, lambda temp: write_tracks(
                temp, ws.tracks if ws.tracks.exists() else None, replaced, imported, after))
            change.manifest_entry("tracks", _tracks_entry(after))
    finally:
        for part in imported:
            part.remove()
    return TracksAdded([part.source for part in imported], unchanged, after)


def run_tracks_remove(ws: Workspace, names) -> list:
    """Take the named sources' rows out of data/tracks.parquet; returns the sources left.
    NothingSelected (exit 1) when a name is no source's."""
    from .tracks.store import write_tracks

    sources = track_sources(ws)
    unknown = [name for name in names if name not in {s.name for s in sources}]
    if unknown:
        listed = ", ".join(s.name for s in sources) or "none"
        raise NothingSelected(f"no track source named {', '.join(unknown)} (sources: {listed})")
    after = [s for s in sources if s.name not in names]
    with ws.change() as change:
        change.write(ws.tracks, lambda temp: write_tracks(temp, ws.tracks, set(names), [], after))
        change.manifest_entry("tracks", _tracks_entry(after))
    return after


def _tracks_entry(sources: list) -> dict:
    return {"sources": len(sources), "rows": sum(s.points + s.intervals for s in sources),
            "points": sum(s.points for s in sources),
            "intervals": sum(s.intervals for s in sources), "finished": now_iso()}


def tracks_listing(ws: Workspace) -> pd.DataFrame:
    """`photoflux tracks`: one row per source (see tracks.store.listing)."""
    from .tracks.store import listing

    sources = track_sources(ws)
    if not sources:
        return listing(None, [])
    return listing(ws.load("tracks", arrow=True), sources)
@contextmanager
def _beside_process(work, *args):
    """`work(*args)` in a process of its own while this one goes on (the workbook, which
    xlsxwriter writes cell by cell, takes as long as the page): its Future."""
    from concurrent.futures import ProcessPoolExecutor

    from .extract import pool_context, stop_pool, worker_start

    pool = ProcessPoolExecutor(1, mp_context=pool_context(), initializer=worker_start,
                               initargs=(os.getpid(),))
    try:
        yield pool.submit(work, *args)
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()


def _place_beside(ws: Workspace, beside: dict[str, str]) -> None:
    """The thumbnails a big page refers to, in reports/audit_thumbs/ (linked from the cache
    where the file system allows); those no page refers to any more removed."""
    from .report.thumbs import cache_file

    folder = ws.audit_thumbs
    if beside:
        folder.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    for name in present - set(beside):
        (folder / name).unlink(missing_ok=True)
    for name in set(beside) - present:
        source, target = cache_file(ws.thumbs, beside[name]), folder / name
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    if folder.is_dir() and not beside:
        folder.rmdir()


@dataclass
class StageRun:
    """One stage of `run_all`: what its run function returned, or None when it was skipped
    because its inputs had not changed."""

    stage: str
    result: object | None


def run_all(ws: Workspace, paths, settings: Settings, rules: list[Rule],
            overrides: Path | None, from_stage: str | None = None, *,
            workers: int | None = None, progress: bool = False, on_stage=None,
            clocks: pd.DataFrame | None = None) -> list[StageRun]:
    """extract -> resolve -> report, each only when its inputs changed since it last ran or it
    is `from_stage` or later. `on_stage(StageRun)` hears of each stage as it ends; `clocks`:
    clocks.csv's sync points, when already read (a caller checks them before extract writes)."""
    forced = STAGES.index(from_stage) if from_stage else len(STAGES)
    runs: list[StageRun] = []

    def done(stage: str, result) -> None:
        runs.append(StageRun(stage, result))
        if on_stage is not None:
            on_stage(runs[-1])

    done("extract", None if forced > 0 and unchanged(ws, "extract", extract_inputs(paths))
         else run_extract(ws, paths, workers, progress))
    inputs = resolve_inputs(ws, settings.default_tz, overrides, settings.track_window_minutes)
    done("resolve", None if forced > 1 and unchanged(ws, "resolve", inputs)
         else run_resolve(ws, settings, rules, overrides, inputs, clocks=clocks))
    inputs = report_inputs(ws)
    done("report", None if forced > 2 and unchanged(ws, "report", inputs)
         else run_report(ws, inputs, progress))
    return runs


def resolve_summary(resolved: pd.DataFrame) -> str:
    """What resolve found, the flags as pipeline/flags.py counts them, and the approvals that
    lapsed (`resolved.attrs["lapsed"]`, when run_resolve set it)."""
    from .flags import counts, counts_text

    sources = resolved["tz_source"].value_counts()
    by_source = f" ({', '.join(f'{n} {name}' for name, n in sources.items())})" if len(
        sources) else ""
    segments = resolved["segment"].nunique()
    lines = [f"resolved {len(resolved)} photos{by_source} in {segments} segments; "
             + counts_text(counts(resolved))]
    lapsed = resolved.attrs.get("lapsed", {})
    if lapsed.get("all"):
        earlier = lapsed["all"] - lapsed["now"]
        lines.append(f"approvals: {lapsed['now']} lapsed in this resolve"
                     + (f" and {earlier} earlier" if earlier else "")
                     + " (the photo's time or file changed; approve it again once checked); "
                     "'photoflux status' lists them")
    return "\n".join(lines)


@dataclass
class ApprovalChange:
    """What one approve or unapprove did to the selected rows: `newly` approved, `already`
    approved, `refused` by why ({"without a time or unreadable: ...": n, "dated before
    1970-01-01 UTC: ...": m}), `withdrawn`, `not_approved` (unapprove found no approval), how many of
    the newly approved need a look, and the table after it."""

    command: str
    selected: int
    resolved: pd.DataFrame
    newly: int = 0
    newly_look: int = 0
    already: int = 0
    refused: dict = field(default_factory=dict)
    withdrawn: int = 0
    not_approved: int = 0


def change_approvals(ws: Workspace, command: str, selection) -> ApprovalChange:
    """approve/unapprove the selected rows: approvals.csv, the tables' `approved` and the
    segments' approved counts, written as one change."""
    from . import approvals
    from .flags import needs_a_look

    resolved = ws.load("resolved")
    selected = selected_rows(resolved, selection)
    before = approvals.is_approved(resolved)
    kept = read_approvals(ws)
    if command == "approve":
        kept = approvals.approve(kept, resolved, selected, now_iso())
    else:
        kept = approvals.unapprove(kept, resolved, selected)
    changed = reconcile(ws, resolved, kept)
    after = approvals.is_approved(changed)
    with ws.change() as change:
        change.save("approvals", kept)
        change.save("resolved", changed)
        change.save("segments", summarize(changed))
    result = ApprovalChange(command, int(selected.sum()), changed)
    if command == "approve":
        newly = selected & after & ~before
        uploadable = approvals.uploadable(resolved)
        result.newly, result.already = int(newly.sum()), int((selected & before).sum())
        result.newly_look = int((newly & needs_a_look(resolved["flags"])).sum())
        result.refused = {
            "without a time or unreadable: never uploadable": int((selected & ~uploadable).sum()),
            "dated before 1970-01-01 UTC: Fluxtream cannot hold them": int((selected & uploadable
                                          & approvals.before_epoch(resolved)).sum())}
    else:
        result.withdrawn = int((selected & before & ~after).sum())
        result.not_approved = int((selected & ~before).sum())
    return result


# --- camera clocks ----------------------------------------------------------------------------

def read_clocks(ws: Workspace) -> pd.DataFrame:
    """The sync points of WS/clocks.csv (none when it does not exist); a bad line is a
    StageError naming it (exit code 2)."""
    return _clocks_file(ws)[1]


def _clocks_file(ws: Workspace) -> tuple[str, pd.DataFrame]:
    """clocks.csv's text ('' when it does not exist) and its sync points."""
    from .clocks import parse_clocks
    from .overrides import OverridesError

    try:
        text = ws.clocks.read_bytes().decode("utf-8") if ws.clocks.exists() else ""
        return text, parse_clocks(text, source=str(ws.clocks))
    except OSError as exc:
        raise StageError(f"{ws.clocks}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise StageError(f"{ws.clocks}: not UTF-8 text") from None
    except OverridesError as exc:
        raise StageError(str(exc)) from None


@dataclass
class ClockSync:
    """What `run_clock` did: the sync point (clocks.CLOCK_COLUMNS, times as Timestamps), its
    line in clocks.csv and whether this run wrote it (False: the same point was there); the
    milliseconds by which each of the camera's photos whose time changes moves (by path), and
    how many of the camera's photos keep an overrides shift instead."""

    point: dict
    line: int
    written: bool
    moves: pd.Series
    kept: int

    @property
    def shift_ms(self) -> int:
        """true − recorded local time, in milliseconds."""
        return (self.point["true_local"] - self.point["recorded_local"]) // pd.Timedelta(
            milliseconds=1)


def run_clock(ws: Workspace, photo, was, note: str | None = None,
              rules: list[Rule] = ()) -> ClockSync:
    """Append to WS/clocks.csv the sync point of `photo` (a path extract read): its camera
    recorded its local time while the true time was `was`, which the photo shows on a screen.
    `was` (times.parse_time) is a local time (naive), or an instant (UTC), then converted to
    local time once, in the photo's zone in resolved.parquet; a TimeOfDay takes the day that
    puts it nearest to the recorded time (of the photo's resolved instant, for UTC). `rules`:
    the overrides, whose shift wins."""
    from .clocks import CAMERA_COLUMNS, appended, camera_key, iso, parse_clocks
    from .walk import absolute_roots
    from .resolve import clock_moves, recorded_local

    path = absolute_roots([photo])[0]
    photos = ws.load("photos")
    row = np.flatnonzero((photos["path"] == path).to_numpy(bool))
    if not len(row):
        raise StageError(f"{path} is not in {ws.photos}: extract its folder first")
    camera = {column: photos[column].iloc[row[0]] for column in CAMERA_COLUMNS}
    camera = {column: None if pd.isna(value) else value for column, value in camera.items()}
    if not any(camera.values()):
        raise StageError(f"{path} names no camera (no make, model or serial): shift its photos "
                         "with an overrides rule instead")
    recorded = recorded_local(photos)
    if np.isnat(recorded[row[0]]):
        raise StageError(f"{path} has no recorded local time to set its camera's clock by")
    if isinstance(was, TimeOfDay) and not was.utc:
        was = was.nearest(pd.Timestamp(recorded[row[0]]))
    is_local = isinstance(was, pd.Timestamp) and was.tzinfo is None
    true_local = was if is_local else _local_in_photo_zone(ws, path, was)
    text, before = _clocks_file(ws)
    point = {**camera, "photo": path, "recorded_local": pd.Timestamp(recorded[row[0]]),
             "true_local": true_local, "note": note}
    key = camera_key(pd.DataFrame([point])).iloc[0]
    there = before[(camera_key(before) == key) & (before["recorded_local"] == recorded[row[0]])]
    if len(there) and there["true_local"].iloc[0] != true_local:
        raise StageError(f"{ws.clocks}:{there['line'].iloc[0]}: already a sync point of this "
                         f"camera at recorded time {iso(point['recorded_local'])}, with true "
                         f"time {iso(there['true_local'].iloc[0])}; remove that line first")
    if len(there):
        return ClockSync(point, int(there["line"].iloc[0]), False, pd.Series(dtype="float64"), 0)
    text = appended(text, point)
    after = parse_clocks(text, source=str(ws.clocks))
    moves = clock_moves(photos, recorded, rules, before, after).set_axis(photos["path"])
    with ws.change() as change:
        change.write_text(ws.clocks, text)
    return ClockSync(point, int(after["line"].iloc[-1]), True, moves[moves != 0].dropna(),
                     int(moves.isna().sum()))


def _local_in_photo_zone(ws: Workspace, path: str, instant) -> pd.Timestamp:
    """An instant (a UTC Timestamp, or a UTC TimeOfDay: on the day nearest to the photo's
    resolved instant) as a wall clock in the zone resolved.parquet gives the photo at `path`."""
    from .zones import wall_clock

    resolved = ws.load("resolved")
    row = resolved.loc[resolved["path"] == path, ["tz_name", "utc_time"]].dropna()
    if row.empty:
        raise StageError(f"{path} has no zone in {ws.resolved} to read that instant in: run "
                         "'photoflux resolve' first, or give the time the screen showed as a "
                         "local time (no Z or offset)")
    if isinstance(instant, TimeOfDay):
        instant = instant.nearest(row["utc_time"].iloc[0].tz_convert(None))
    else:
        instant = instant.tz_convert(None)
    local = wall_clock(pd.Series([instant]), row["tz_name"].iloc[0])
    return pd.Timestamp(local["local"].iloc[0])


# --- upload -----------------------------------------------------------------------------------

def upload_dry_run(ws: Workspace, server: str, user: str, selection=None, *,
                   allow_http: bool = False, options=None, password: str | None = None,
                   prompt=None, cacert: str | None = None, warn=None) -> str:
    """What `run_upload` would send, as text, once the server has accepted the credentials
    (asked for as `run_upload` asks for them); sends and writes nothing. `warn(text)` hears
    what the allow options would put on the timeline twice."""
    from . import upload as client_side

    base = client_side.check_transport(server, allow_http)
    resolved = ws.load("resolved")
    selected = selected_rows(resolved, selection) if selection is not None else None
    text = client_side.dry_run_text(client_side.candidates(resolved, selected), ws.uploads,
                                    base, user, options or client_side.Options(), warn)
    make_client(base, user, password, prompt, cacert).guest()  # after the ledger, as a run asks
    return text


def make_client(base: str, user: str, password: str | None, prompt, cacert: str | None):
    """The upload client for `base` (checked) as `user`; the password, only asked for at the
    first request: `password`, else FLUXTREAM_PASSWORD, ~/.netrc, or `prompt(text)`."""
    from . import upload as client_side

    return client_side.Client(
        base, user, password if password is not None
        else lambda: client_side.read_password(base, user, prompt), verify=cacert or True)


def run_upload(ws: Workspace, server: str, user: str, selection=None, *,
               password: str | None = None, prompt=None, options=None,
               allow_http: bool = False, cacert: str | None = None, progress: bool = False,
               warn=None, request: dict | None = None):
    """Send the approved photos (narrowed by `selection`) to `server` as `user`, exactly once,
    as `options` (upload.Options) say; write their statuses back and record the run in the
    manifest. Returns upload's Outcome. `warn(text)` hears, before anything is sent, what the
    allow options will put on the timeline twice. `request`: the arguments as the caller
    describes them (the CLI's); when given and a rerun would send nothing, the manifest records
    that rerun's outcome against `ws.upload_inputs(request)`, so the CLI can answer it without
    reading the tables.

    The password, only asked for when there is something to send: `password`, else
    FLUXTREAM_PASSWORD, ~/.netrc, or `prompt(text)`.
    Raises upload.UploadError, StageError (DiskFull when the disk fills).
    """
    from . import upload as client_side

    base = client_side.check_transport(server, allow_http)
    resolved = ws.load("resolved")
    selected = selected_rows(resolved, selection) if selection is not None else None
    client = make_client(base, user, password, prompt, cacert)
    with writing_to(ws.uploads):  # the ledger's disk filling up stops the run
        outcome = client_side.run(ws, resolved, selected, client,
                                  options or client_side.Options(),
                                  save=lambda table: ws.save("resolved", table),
                                  progress=progress, warn=warn)
    entry = {"server": base, "user": user, "finished": now_iso(), "rows": outcome.selected,
             "counts": outcome.counts}
    if request is not None and outcome.idle is not None:
        entry.update(inputs=ws.upload_inputs(request), idle=outcome.idle)
    ws.write_manifest_entry("upload", entry)
    return outcome


# --- reconcile --------------------------------------------------------------------------------

@dataclass
class Reconciled:
    """What `run_reconcile` found and did: the SERVER `table` (without the copies deleted),
    the walk, how many `same` copies the ledger adopted, the repair `plan` and each of its
    copies' outcome (`done`: photo_id -> deleted, already gone, skipped: .., failed: ..), and
    how many deletions of an earlier, killed run were found done (`resumed`)."""

    table: pd.DataFrame
    listing: object
    adopted: int
    plan: pd.DataFrame
    done: dict
    resumed: int = 0

    @property
    def failed(self) -> int:
        """Copies the options asked to delete that are still on the server."""
        return sum(not outcome.startswith(("deleted", "already gone"))
                   for outcome in self.done.values()) + len(self.plan) - len(self.done)


def run_reconcile(ws: Workspace, server: str, user: str, *, password: str | None = None,
                  prompt=None, allow_http: bool = False, cacert: str | None = None,
                  delete_wrong: bool = False, delete_duplicates: bool = False,
                  dry_run: bool = False, confirm=None, on_listed=None,
                  page_size: int | None = None, progress: bool = False) -> Reconciled:
    """List the user's photos on `server` and match them to the workspace (reconcile.verdicts):
    data/server.parquet, reports/server.csv, the `same` copies adopted into the ledger (upload
    counts them done), the statuses written back, the manifest's `reconcile` entry.
    `on_listed(table, listing)` hears what was found before anything is deleted. With
    `delete_wrong` / `delete_duplicates`, the plan's copies are deleted once `confirm(plan)`
    says yes. A `dry_run` lists and plans, and writes and deletes nothing.
    Raises upload.UploadError (RunStopped, ServerUnreachable: exit 1), StageError."""
    from . import reconcile as stage
    from . import upload as client_side
    from .ledger import Ledger, reapply_ledger, read_history

    base = client_side.check_transport(server, allow_http)
    resolved = ws.load("resolved")
    client = make_client(base, user, password, prompt, cacert)
    guest_id = int(client.guest()["id"])
    listing = client_side.walk(client, guest_id, page_size or client_side.DEFAULT_PAGE_SIZE,
                               progress)
    listed_at = now_iso()
    if dry_run:
        table = stage.verdicts(listing.photos, resolved, read_history(ws.uploads), base, user)
        if on_listed is not None:
            on_listed(table, listing)
        return Reconciled(table, listing, 0,
                          stage.repair_plan(table, delete_wrong, delete_duplicates), {})
    done: dict = {}
    with writing_to(ws.uploads):
        ledger = Ledger(ws.uploads)
        try:
            gone, stale = stage.pending_deletions(ledger.deletions(base, user), listing.photos)
            for photo_id, key in zip(gone["photo_id"], gone["key"]):  # a killed run's
                ledger.deleted(base, user, int(photo_id), key, "deleted")
            for photo_id in stale["photo_id"]:
                ledger.deletion_failed(base, user, int(photo_id),
                                       "not deleted: the id holds another photo now")
            table = stage.verdicts(listing.photos, resolved, ledger.history(), base, user)
            copies, paths = stage.adoptions(table, resolved, ledger.history(), base, user)
            ledger.adopt(base, user, copies, paths)
            table["in_ledger"] |= table["key"].isin(copies["key"])
            if on_listed is not None:
                on_listed(table, listing)
            plan = stage.repair_plan(table, delete_wrong, delete_duplicates)
            try:
                if len(plan) and (confirm is None or confirm(plan)):
                    client_side.delete_copies(plan, client, ledger, guest_id, done)
            finally:  # what was deleted, even by a run that stopped, leaves the table
                removed = [i for i, outcome in done.items()
                           if outcome in ("deleted", "already gone")]
                table = table[~table["photo_id"].isin(removed)].reset_index(drop=True)
                history = ledger.history()
                with ws.change() as change:
                    change.save("server", table)
                    change.save("resolved", reapply_ledger(resolved, history))
                    change.manifest_entry("reconcile", {
                        "server": base, "user": user, "listed_at": listed_at,
                        "finished": now_iso(), "rows": len(table), "counts": stage.counts(table),
                        "requests": listing.requests, "largest_page": listing.largest_page,
                        "adopted": len(copies), "deleted": len(removed), "resumed": len(gone)})
        finally:
            ledger.close()
    return Reconciled(table, listing, len(copies), plan, done, len(gone))
