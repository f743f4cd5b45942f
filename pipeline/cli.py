"""The `photoflux` command: a thin click layer that reads inputs, calls a stage, writes outputs."""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click

from .workspace import Workspace, WorkspaceBusy


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
    from .schema import PHOTOS
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
        ws.write_manifest_entry("resolve", {
            "default_tz": settings.default_tz,
            "overrides": str(overrides_path) if overrides_path else None,
            "rows": len(resolved), "finished": now_iso(),
        })
    click.echo(resolve_summary(resolved))


def reconcile(ws: Workspace, resolved):
    """Reapply what lives beside the table: approvals and the upload ledger."""
    return resolved


def save_resolved(ws: Workspace, resolved) -> None:
    from .schema import RESOLVED
    from .workspace import write_audit_csv, write_table

    write_table(ws.resolved, resolved, RESOLVED)
    write_audit_csv(ws.audit_csv, resolved)


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
