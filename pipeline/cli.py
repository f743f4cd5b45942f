"""The `photoflux` command: a thin click layer that reads inputs, calls a stage, writes outputs."""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click

from .schema import TZ_SOURCES
from .workspace import Workspace, WorkspaceBusy, save_resolved


def workspace_option(f):
    """-w/--workspace: the folder holding data/ and reports/ (default: the current folder)."""
    return click.option(
        "-w", "--workspace", "ws", default=".", show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda ctx, param, value: Workspace(value),
        help="Workspace folder (holds data/ and reports/).",
    )(f)


def fail(message: str, code: int = 2):
    """Print a one-line error and exit with `code`."""
    click.echo(f"photoflux: error: {message}", err=True)
    sys.exit(code)


@click.group()
@click.version_option(package_name="photoflux")
def main():
    """Put years of photos on a Fluxtream timeline at the right instant."""


@contextmanager
def writing(ws: Workspace, command: str):
    """Hold the writer lock for `command`; a second writer is told who holds it and exits 1."""
    try:
        with ws.writer(command):
            yield ws
    except WorkspaceBusy as exc:
        fail(str(exc), 1)


def echo_warnings(caught) -> None:
    for warning in caught:
        click.echo(f"photoflux: warning: {warning.message}", err=True)


def load_rules(ws: Workspace, overrides: Path | None):
    """The overrides CSV given, else WS/overrides.csv when it exists; a bad line exits 2."""
    from .overrides import OverridesError, parse_overrides

    path = overrides if overrides is not None else ws.root / "overrides.csv"
    if overrides is None and not path.exists():
        return None, []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read overrides ({exc.strerror})")
    except UnicodeDecodeError:
        fail(f"{path}: overrides are not UTF-8 text")
    try:
        return path, parse_overrides(text, source=str(path))
    except OverridesError as exc:
        fail(str(exc))


def read_stage_input(ws: Workspace, path: Path, schema, hint: str):
    from .workspace import read_table

    if not path.exists():
        fail(f"{path} does not exist: run '{hint}' first")
    return read_table(path, schema)


@main.command("resolve")
@workspace_option
@click.option("--default-tz", required=True, metavar="ZONE",
              help="IANA zone (DST per photo) or a fixed offset like +05:30 for photos without "
                   "evidence.")
@click.option("--overrides", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Overrides CSV [default: WS/overrides.csv when present].")
def resolve_command(ws: Workspace, default_tz: str, overrides: Path | None):
    """Give every photo a zone, its source and its UTC instant; write the audit CSV."""
    from . import resolve as stage
    from .overrides import rules_table
    from .schema import PHOTOS
    from .workspace import write_csv
    from .zones import ZoneError, is_fixed

    try:
        settings = stage.Settings(default_tz)
    except ZoneError as exc:
        fail(f"--default-tz: {exc}")
    if is_fixed(settings.default_tz):
        click.echo(f"photoflux: warning: default zone {settings.default_tz} is a fixed offset: "
                   "no DST is applied to photos that fall back on it", err=True)
    overrides_path, rules = load_rules(ws, overrides)
    with writing(ws, "resolve"):
        photos = read_stage_input(ws, ws.photos, PHOTOS, "photoflux extract")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", stage.ResolveWarning)
            resolved = stage.resolve(photos, rules, settings)
        echo_warnings(caught)
        resolved = reconcile(ws, resolved)
        save_resolved(ws, resolved)
        write_csv(ws.rules_in_force, rules_table(rules))
        ws.write_manifest_entry("resolve", {
            "default_tz": settings.default_tz,
            "overrides": str(overrides_path) if overrides_path else None,
            "rows": len(resolved), "finished": now_iso(),
        })
    click.echo(resolve_summary(resolved))


def reconcile(ws: Workspace, resolved):
    """Reapply what lives beside the table: the approvals that still hold, the upload ledger."""
    from .approvals import apply_approvals
    from .upload import Ledger, apply_ledger

    resolved = apply_approvals(resolved, read_approvals(ws))
    if ws.uploads.exists():
        ledger = Ledger(ws.uploads)
        try:
            resolved = apply_ledger(resolved, ledger.history())
        finally:
            ledger.close()
    return resolved


def read_approvals(ws: Workspace):
    from .approvals import empty_approvals, parse_approvals

    if not ws.approvals.exists():
        return empty_approvals()
    try:
        return parse_approvals(ws.approvals.read_text(encoding="utf-8"))
    except ValueError as exc:
        fail(f"{ws.approvals}: {exc}")


def selection_options(f):
    """The shared selection: every given option narrows it (AND)."""
    options = [
        click.option("--all", "select_all", is_flag=True, help="Every photo."),
        click.option("--path-glob", "path_globs", multiple=True, metavar="GLOB",
                     help="fnmatch on the absolute path (repeatable: any of them)."),
        click.option("--first", metavar="NAME", help="File-name range start (natural order)."),
        click.option("--last", metavar="NAME", help="File-name range end, inclusive."),
        click.option("--local-from", metavar="ISO", help="Local time from (inclusive)."),
        click.option("--local-to", metavar="ISO", help="Local time to (inclusive; a bare date "
                                                        "means the whole day)."),
        click.option("--flagged/--unflagged", default=None, help="Only rows with / without flags."),
        click.option("--source", type=click.Choice(TZ_SOURCES), help="Only this tz_source."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_selection(select_all, path_globs, first, last, local_from, local_to, flagged, source):
    """The options as a Selection, or None when none was given."""
    from .overrides import Selection, parse_local

    if (first is None) != (last is None):
        fail("--first and --last go together")
    if not (select_all or path_globs or first or local_from or local_to or source
            or flagged is not None):
        return None
    try:
        start = parse_local(local_from) if local_from else None
        end = parse_local(local_to, end=True) if local_to else None
    except ValueError as exc:
        fail(f"bad local time ({exc})")
    return Selection(list(path_globs), first, last, start, end, flagged, source)


def change_approvals(ws: Workspace, command: str, selection_args: dict) -> None:
    """approve/unapprove: update approvals.csv, then the approved column of the tables."""
    from . import approvals as ledger
    from .schema import RESOLVED
    from .workspace import atomic_write_text

    selection = build_selection(**selection_args)
    if selection is None:
        fail(f"say which photos to {command}: --all, or narrow with --path-glob, --first/--last, "
             "--local-from/--local-to, --flagged/--unflagged, --source")
    with writing(ws, command):
        resolved = read_stage_input(ws, ws.resolved, RESOLVED, "photoflux resolve")
        selected = selection.mask(resolved)
        if not selected.any():
            fail("the selection matches no photo", 1)
        approvals = read_approvals(ws)
        if command == "approve":
            refused = selected & ~ledger.uploadable(resolved)
            if refused.any():
                click.echo(f"refused {int(refused.sum())} photos without a time or with a read "
                           "error (they can never be uploaded)", err=True)
            approvals = ledger.approve(approvals, resolved, selected, now_iso())
        else:
            approvals = ledger.unapprove(approvals, resolved, selected)
        atomic_write_text(ws.approvals, ledger.approvals_csv(approvals))
        resolved = reconcile(ws, resolved)
        save_resolved(ws, resolved)
    click.echo(f"{command}: {int(selected.sum())} selected; {ledger.counts(resolved)}")


@main.command()
@workspace_option
@selection_options
def approve(ws: Workspace, **selection_args):
    """Approve the selected photos' times exactly as they are now."""
    change_approvals(ws, "approve", selection_args)


@main.command()
@workspace_option
@selection_options
def unapprove(ws: Workspace, **selection_args):
    """Withdraw the approval of the selected photos."""
    change_approvals(ws, "unapprove", selection_args)


@main.command()
@workspace_option
def report(ws: Workspace):
    """Write reports/audit.xlsx and reports/audit.html from the resolved table."""
    from .schema import RESOLVED

    with writing(ws, "report"):
        resolved = read_stage_input(ws, ws.resolved, RESOLVED, "photoflux resolve")
        write_reports(ws, resolved)
    click.echo(f"wrote {ws.audit_xlsx}, {ws.audit_html} and {ws.audit_csv}")


def write_reports(ws: Workspace, resolved) -> None:
    import pandas as pd

    from . import report as audit
    from .overrides import rules_table
    from .workspace import atomic_write_bytes, atomic_write_text

    overrides = pd.read_csv(ws.rules_in_force, dtype="string", encoding="utf-8-sig") if ws.rules_in_force.exists() \
        else rules_table([])
    atomic_write_bytes(ws.audit_xlsx, audit.workbook_bytes(resolved, overrides))
    atomic_write_text(ws.audit_html, audit.html_page(resolved, overrides))
    ws.write_manifest_entry("report", {"rows": len(resolved), "finished": now_iso()})


def resolve_summary(resolved) -> str:
    sources = resolved["tz_source"].value_counts()
    by_source = ", ".join(f"{n} {name}" for name, n in sources.items())
    flagged = int((resolved["flags"].fillna("") != "").sum())
    no_time = int(resolved["local_time"].isna().sum())
    return (f"resolved {len(resolved)} photos ({by_source}); {flagged} flagged, "
            f"{no_time} without a time")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@main.command()
@workspace_option
@click.option("--server", required=True, metavar="URL", help="The Fluxtream server's base URL.")
@click.option("--user", required=True, help="Fluxtream user name.")
@selection_options
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Concurrent keep-alive sessions.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and write nothing.")
@click.option("--allow-http", is_flag=True, help="Allow plain http to a non-loopback host.")
@click.option("--allow-retime", is_flag=True,
              help="Send photos already on the server at another time (makes a second copy).")
@click.option("--cacert", type=click.Path(dir_okay=False, exists=True),
              help="CA bundle or self-signed certificate to trust for https.")
def upload(ws: Workspace, server, user, workers, dry_run, allow_http, allow_retime, cacert,
           **selection_args):
    """Send approved photos (narrowed by the selection) to a Fluxtream server, exactly once."""
    from . import upload as client_side
    from .schema import RESOLVED

    try:
        base = client_side.check_transport(server, allow_http)
    except client_side.UploadError as exc:
        fail(str(exc))
    selection = build_selection(**selection_args)
    if dry_run:
        resolved = read_stage_input(ws, ws.resolved, RESOLVED, "photoflux resolve")
        rows = client_side.candidates(resolved, selection and selection.mask(resolved))
        click.echo(client_side.dry_run_text(rows, ws.uploads, base, user, allow_retime))
        return
    prompt = (lambda text: click.prompt(text, hide_input=True)) if sys.stdin.isatty() else None
    try:
        password = client_side.read_password(base, user, prompt)
    except client_side.UploadError as exc:
        fail(str(exc))
    with writing(ws, "upload"):
        resolved = read_stage_input(ws, ws.resolved, RESOLVED, "photoflux resolve")
        selected = selection.mask(resolved) if selection is not None else None
        if selected is not None and not selected.any():
            fail("the selection matches no photo", 1)
        client = client_side.Client(base, user, password, verify=cacert or True)
        try:
            outcome = client_side.run(ws, resolved, selected, client, workers, allow_retime,
                                      save=lambda table: save_resolved(ws, table),
                                      progress=show_progress())
        except client_side.UploadError as exc:
            fail(str(exc), 2)
        ws.write_manifest_entry("upload", {"server": base, "user": user, "finished": now_iso(),
                                           "rows": outcome.selected, "counts": outcome.counts})
    click.echo(outcome.summary)
    if allow_retime and outcome.counts.get("retimed_sent"):
        click.echo("photoflux: warning: re-timed photos were sent again: the timeline now holds "
                   "two copies of each", err=True)
    sys.exit(1 if outcome.failed else 0)


def show_progress() -> bool:
    return sys.stderr.isatty()


@main.command()
@workspace_option
def status(ws: Workspace):
    """One screen: what has run, what the photos look like, what to do next."""
    from .schema import RESOLVED
    from .status import status_text
    from .workspace import read_table

    resolved = read_table(ws.resolved, RESOLVED) if ws.resolved.exists() else None
    click.echo(status_text(ws, resolved))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", default=200, show_default=True, type=click.IntRange(1),
              help="How many photos (the trip's scenarios first, then ordinary photos).")
@click.option("--seed", default=0, show_default=True, type=int)
def sample(directory: Path, count: int, seed: int):
    """Write a sample photo library that exercises every zone source and flag."""
    from .sample import EXPECTED_NAME, MIN_COUNT, SAMPLE_DEFAULT_TZ, write_sample

    if count < MIN_COUNT:
        fail(f"--count must be at least {MIN_COUNT} (one photo per scenario)")
    try:
        expected = write_sample(directory, count=count, seed=seed)
    except FileExistsError as exc:
        fail(str(exc))
    click.echo(f"wrote {len(expected)} photos under {directory} (expected answers for "
               f"--default-tz {SAMPLE_DEFAULT_TZ} in {directory / EXPECTED_NAME})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--store", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the SQLite database and the photo files.")
@click.option("--user", "users", multiple=True, required=True, metavar="NAME:PASSWORD",
              help="An account (repeatable).")
@click.option("--fail-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of photo uploads answered 500 before storing.")
@click.option("--drop-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of photo uploads stored, then the connection dropped with no answer.")
@click.option("--delay-ms", default=0, type=click.IntRange(0), help="Delay before each answer.")
@click.option("--seed", default=None, type=int, help="Seed for repeatable faults.")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="Serve https.")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True))
@click.option("--max-upload-mb", default=100, show_default=True, type=click.IntRange(1))
def serve(**options):
    """Run a Fluxtream-compatible photo server (for tests, demos and offline use)."""
    from .server import run

    try:
        run(**options)
    except ValueError as exc:
        fail(str(exc))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@workspace_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Processes reading files [default: one per core].")
def extract(paths, ws: Workspace, quiet: bool, workers: int | None):
    """Read every photo's EXIF evidence under PATH... into WS/data/photos.parquet.

    Unchanged files (same path, size and modification time) keep their rows without being
    opened again; changed files are re-read; files that are gone are dropped.
    """
    import time

    from . import __version__
    from .extract import extract as extract_photos
    from .schema import PHOTOS
    from .workspace import read_table, write_table

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    started = time.monotonic()
    with writing(ws, "extract"):
        previous = read_table(ws.photos, PHOTOS) if ws.photos.exists() else None
        try:
            with warnings.catch_warnings(record=True) as caught:  # unreadable folders
                warnings.simplefilter("always")
                photos = extract_photos(paths, previous, workers=workers,
                                        progress=show_progress() and not quiet)
        except FileNotFoundError as exc:  # a PATH removed since the check above
            fail(str(exc))
        echo_warnings(caught)
        write_table(ws.photos, photos, PHOTOS)
        counts = {**photos.attrs["extract"], "rows": len(photos),
                  "errors": int(photos["error"].notna().sum())}
        seconds = round(time.monotonic() - started, 3)
        ws.write_manifest_entry("extract", {
            "paths": [str(p.absolute()) for p in paths], **counts, "seconds": seconds,
            "finished": now_iso(), "version": __version__,
        })
    click.echo(f"extract: {counts['rows']} photos ({counts['read']} read, {counts['reused']} "
               f"unchanged, {counts['dropped']} dropped), {counts['errors']} with errors, "
               f"in {seconds:.1f} s -> {ws.photos}")
