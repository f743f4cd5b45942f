"""The `photoflux` command: a thin click layer that parses options, calls the stage wiring in
`runner` (or the upload client and server), and prints one-line results and errors."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .vocabulary import TZ_SOURCES
from .workspace import Workspace, WorkspaceBusy


def workspace_option(f):
    """-w/--workspace: the folder holding data/ and reports/ (default: the current folder)."""
    return click.option(
        "-w", "--workspace", "ws", default=".", show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda ctx, param, value: Workspace(value),
        help="Workspace folder (holds data/ and reports/).",
    )(f)


def selection_options(f):
    """The shared selection: every given option narrows it (AND)."""
    options = [
        click.option("--all", "select_all", is_flag=True, help="Every photo."),
        click.option("--path-glob", "path_globs", multiple=True, metavar="GLOB",
                     help="fnmatch on the absolute path (repeatable: any of them)."),
        click.option("--first", metavar="NAME", help="File-name range start (natural order)."),
        click.option("--last", metavar="NAME", help="File-name range end, inclusive."),
        click.option("--local-from", metavar="ISO", callback=local_time_option,
                     help="Local time from (inclusive), YYYY-MM-DD[THH:MM[:SS[.fff]]]."),
        click.option("--local-to", metavar="ISO", callback=local_time_option,
                     help="Local time to (inclusive; a bare date means the whole day)."),
        click.option("--flagged/--unflagged", default=None,
                     help="Only photos with / without a flag that needs a look (flags for "
                          "information, such as shifted, do not count)."),
        click.option("--source", type=click.Choice(TZ_SOURCES), help="Only this tz_source."),
        click.option("--make", metavar="GLOB", help="fnmatch on the camera's make, any case."),
        click.option("--model", metavar="GLOB", help="fnmatch on the camera's model, any case."),
        click.option("--serial", metavar="GLOB", help="fnmatch on the camera's serial number."),
        click.option("--segment", "segments", multiple=True, metavar="ID",
                     help="Only the photos of this segment (repeatable: any of them; "
                          "'photoflux segments' lists them)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def server_options(f):
    """The server and account (--server, --user) and how to reach it (--allow-http, --cacert):
    upload's and reconcile's."""
    options = [
        click.option("--server", required=True, metavar="URL",
                     help="The Fluxtream server's base URL."),
        click.option("--user", required=True, help="Fluxtream user name."),
        click.option("--allow-http", is_flag=True,
                     help="Allow plain http to a non-loopback host."),
        click.option("--cacert", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle or self-signed certificate to trust for https."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def track_window_option(f):
    """--track-window: how near in time a track point must be to place a photo."""
    return click.option("--track-window", default=30.0, show_default=True, metavar="MINUTES",
                        type=click.FloatRange(0, 24 * 60),
                        help="A location history point this many minutes from the photo's "
                             "instant places it.")(f)


def local_time_option(ctx, param, value: str | None):
    """--local-from/--local-to as ISO 8601 local times; anything else is a usage error."""
    if value is None:
        return None
    from .text import QUOTE_LIMIT, one_line
    from .times import parse_local

    try:
        return parse_local(value, end=param.name == "local_to")
    except ValueError as exc:
        raise click.BadParameter(f"{exc} ({one_line(value, QUOTE_LIMIT)})") from None


def fail(message: str, code: int = 2):
    """Print a one-line error (unprintable characters escaped) and exit with `code`."""
    from .text import one_line

    click.echo(f"photoflux: error: {one_line(message)}", err=True)
    sys.exit(code)


def warn(message) -> None:
    from .text import one_line

    click.echo(f"photoflux: warning: {one_line(message)}", err=True)


@contextmanager
def one_line_errors(*expected: type[Exception]):
    """The failures a command expects, each as one line and its exit code: a stage that
    cannot run (StageError, a full disk included, and the `expected` types carry `code`,
    else 2), a busy workspace (1)."""
    from .workspace import StageError

    try:
        yield
    except WorkspaceBusy as exc:
        fail(str(exc), 1)
    except (StageError, *expected) as exc:
        fail(str(exc), getattr(exc, "code", 2))


def require(ws: Workspace, table: str) -> None:
    """Stop (exit 2) before the lock is taken, creating nothing, when `table` is missing."""
    with one_line_errors():
        ws.require(table)


@contextmanager
def writing(ws: Workspace, command: str, *expected: type[Exception], announce: bool = True):
    """Hold the writer lock for `command` (a second writer is told who holds it, unless not
    `announce`d); failures as in `one_line_errors`."""
    with one_line_errors(*expected), ws.writer(command, announce):
        yield ws


def show_progress(quiet: bool = False) -> bool:
    return sys.stderr.isatty() and not quiet


def settings_from(default_tz: str, track_window: float):
    from .resolve import Settings
    from .zones import ZoneError, is_fixed

    try:
        settings = Settings(default_tz, track_window)
    except ZoneError as exc:
        fail(f"--default-tz: {exc}")
    if is_fixed(settings.default_tz):
        warn(f"default zone {settings.default_tz} is a fixed offset: no DST is applied to photos "
             "that fall back on it")
    return settings


def load_rules(ws: Workspace, overrides: Path | None):
    """The overrides CSV given, else WS/overrides.csv when it exists; a bad line exits 2
    before anything is written."""
    from .fingerprints import overrides_path
    from .overrides import OverridesError, parse_overrides

    path = overrides_path(ws, overrides)
    if path is None:
        return None, []
    try:
        # bytes, then text: a CR inside a quoted path stays a CR (read_text would make it LF)
        return path, parse_overrides(path.read_bytes().decode("utf-8"), source=str(path))
    except OSError as exc:
        fail(f"{path}: cannot read overrides ({exc.strerror})")
    except UnicodeDecodeError:
        fail(f"{path}: overrides are not UTF-8 text")
    except OverridesError as exc:
        fail(str(exc))


def build_selection(select_all, path_globs, first, last, local_from, local_to, flagged, source,
                    segments, **camera):
    """The options as a Selection, or None when none was given. `camera`: the make, model and
    serial globs."""
    from .selection import Selection

    if (first is None) != (last is None):
        fail("--first and --last go together")
    if not (select_all or path_globs or first or local_from is not None
            or local_to is not None or source or flagged is not None or segments
            or any(glob is not None for glob in camera.values())):
        return None
    return Selection(list(path_globs), first, last, local_from, local_to, flagged, source,
                     segments=list(segments), **camera)


def echo_extract(ws: Workspace, photos, caught) -> None:
    for warning in caught:
        warn(warning.message)
    echo_extract_counts(ws, {**photos.attrs["extract"], "rows": len(photos),
                             "errors": int(photos["error"].notna().sum())})


def echo_extract_counts(ws: Workspace, counts: dict) -> None:
    kept = f"{counts['kept']} kept from other folders, " if counts["kept"] else ""
    click.echo(f"extract: {counts['rows']} photos ({counts['read']} read, {counts['reused']} "
               f"unchanged, {kept}{counts['dropped']} dropped), {counts['errors']} with errors, "
               f"in {counts['seconds']:.1f} s -> {ws.photos}")


def echo_resolve(resolved, caught) -> None:
    from .runner import resolve_summary

    for warning in caught:
        warn(warning.message)
    click.echo(resolve_summary(resolved))


class WholeHelp:
    """A command whose line in `photoflux --help` is its whole first sentence, never cut to
    the terminal's width with '...'."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=10_000)


class WholeHelpCommand(WholeHelp, click.Command):
    """A command listed whole (see WholeHelp)."""


class WholeHelpGroup(WholeHelp, click.Group):
    """A group of subcommands (tracks), listed whole like the commands and listing its own whole."""

    command_class = WholeHelpCommand


class Photoflux(click.Group):
    command_class = WholeHelpCommand
    group_class = WholeHelpGroup


@click.group(cls=Photoflux)
@click.version_option(package_name="photoflux")
def main():
    """Put years of photos on a Fluxtream timeline at the right instant."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@workspace_option
@click.option("--prune", is_flag=True,
              help="Also drop the rows of files that are gone outside PATH... (and forget "
                   "recorded folders that are gone); without PATH, only that.")
@click.option("--rebuild", is_flag=True,
              help="Ignore the old table (even unreadable) and read every photo under the "
                   "folders extracted before, and PATH...")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Processes reading files [default: one per core].")
def extract(paths, ws: Workspace, prune: bool, rebuild: bool, quiet: bool, workers: int | None):
    """Read every photo's EXIF evidence under PATH... into WS/data/photos.parquet.

    Under PATH..., unchanged files (same path, size and modification time) keep their rows
    without being opened again, changed files are re-read and files that are gone are dropped;
    rows of other folders are kept. Symlinks are followed; what is not a regular file is
    skipped with a warning. Each file gets 10 s plus 1 s per 20 MB before it is given up.
    """
    import time

    from .fingerprints import idle_extract

    started = time.monotonic()
    if not (paths or rebuild or prune):
        raise click.UsageError("give the folders or files to extract (or --rebuild, --prune)")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    with writing(ws, "extract"):
        idle = None if (prune or rebuild) else idle_extract(ws, paths, started)
        if idle is not None:  # nothing changed: the table is left as it is
            echo_extract_counts(ws, idle)
            return
        from .runner import run_extract

        echo_extract(ws, *run_extract(ws, paths, workers, show_progress(quiet), prune=prune,
                                      rebuild=rebuild))


@main.command("resolve")
@workspace_option
@click.option("--default-tz", required=True, metavar="ZONE",
              help="IANA zone (DST per photo) or a fixed offset like +05:30 for photos without "
                   "evidence.")
@click.option("--overrides", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Overrides CSV [default: WS/overrides.csv when present].")
@track_window_option
def resolve_command(ws: Workspace, default_tz: str, overrides: Path | None, track_window: float):
    """Give every photo a zone, its source and its UTC instant; write the audit CSV."""
    from .runner import run_resolve

    settings = settings_from(default_tz, track_window)
    overrides, rules = load_rules(ws, overrides)
    require(ws, "photos")
    with writing(ws, "resolve"):
        echo_resolve(*run_resolve(ws, settings, rules, overrides))


@main.command()
@workspace_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def report(ws: Workspace, quiet: bool):
    """Write reports/audit.xlsx and reports/audit.html (thumbnails cached in data/thumbs/)."""
    from .runner import run_report

    require(ws, "resolved")
    with writing(ws, "report"):
        resolved = run_report(ws, progress=show_progress(quiet))
        server = server_counts(ws)
    click.echo(f"wrote {ws.audit_xlsx}, {ws.audit_html} and {ws.audit_csv}")
    echo_report(resolved.attrs["report"])
    if server:
        click.echo(f"on the server: {server}")


def echo_report(made: dict) -> None:
    """The page's thumbnails (made, from the cache, none) and what the page says of itself."""
    click.echo(f"thumbnails: {made['made']} made, {made['cached']} from the cache, "
               f"{made['failed']} without one")
    for note in made["notes"]:
        click.echo(note)


def server_counts(ws: Workspace) -> str | None:
    """The last reconcile's counts from data/server.parquet, with their age (no request)."""
    if not ws.server.exists():
        return None
    from .reconcile import listing_text

    return listing_text(ws.load("server"), ws.read_manifest().get("reconcile"))


@main.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@workspace_option
@click.option("--default-tz", required=True, metavar="ZONE", help="As for resolve.")
@click.option("--overrides", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Overrides CSV [default: WS/overrides.csv when present].")
@click.option("--from", "from_stage", type=click.Choice(["extract", "resolve", "report"]),
              default=None, help="Run this stage and every later one even if unchanged.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@track_window_option
def run_command(paths, ws: Workspace, default_tz: str, overrides: Path | None, from_stage,
                quiet: bool, track_window: float):
    """extract -> resolve -> report, each only when its inputs changed (never upload)."""
    from .fingerprints import STAGES, idle_run

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    # A fixed offset has a warning to give (settings_from), so it takes the usual way.
    if from_stage is None and default_tz.strip()[:1] not in "+-":
        with writing(ws, "run", announce=False):  # it writes nothing
            if idle_run(ws, paths, default_tz, overrides, track_window):
                for stage in STAGES:
                    click.echo(SKIPPED[stage])
                return
    from .runner import read_clocks, run_all

    settings = settings_from(default_tz, track_window)
    overrides, rules = load_rules(ws, overrides)
    with writing(ws, "run"):
        run_all(ws, paths, settings, rules, overrides, from_stage,
                progress=show_progress(quiet), on_stage=lambda run: echo_stage(ws, run),
                clocks=read_clocks(ws))


@main.group(invoke_without_command=True)
@workspace_option
@click.pass_context
def tracks(ctx, ws: Workspace):
    """Location history (GPX, KML/KMZ, Google Takeout and Timeline, GeoJSON, CSV) as evidence
    of each photo's zone: list the sources added."""
    if ctx.invoked_subcommand is not None:
        return
    from .runner import tracks_listing

    with one_line_errors():
        listing = tracks_listing(ws)
    echo_track_sources(listing)


def echo_track_sources(listing) -> None:
    """One line per source: its name, format, counts, span and largest gaps."""
    if listing.empty:
        click.echo("no location history; add some with 'photoflux tracks add FILE... -w WS'")
    for row in listing.itertuples():
        skipped = f", {row.skipped} skipped" if row.skipped else ""
        span = f"{row.first} .. {row.last}" if row.first else "no rows"
        gaps = f"; largest gaps: {row.largest_gaps}" if row.largest_gaps else ""
        click.echo(f"{row.source} ({row.format}): {row.points} points, {row.intervals} "
                   f"intervals{skipped}; {span}{gaps}")


def tracks_workspace(ctx, ws: Workspace) -> Workspace:
    """A tracks subcommand's workspace: its own -w, else the one given before the subcommand
    (`photoflux tracks -w WS add FILE` means WS, not the current folder)."""
    from click.core import ParameterSource

    if ctx.get_parameter_source("ws") is ParameterSource.DEFAULT:
        return ctx.parent.params["ws"]
    return ws


@tracks.command("add")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@workspace_option
@click.pass_context
def tracks_add(ctx, files, ws: Workspace):
    """Import location history files into data/tracks.parquet (a file added before and
    unchanged is skipped; a changed one replaces its rows)."""
    from .runner import run_tracks_add
    from .tracks import TrackError

    ws = tracks_workspace(ctx, ws)
    with writing(ws, "tracks add", TrackError):
        added = run_tracks_add(ws, files)
    for source in added.read:
        skipped = (f", {source.skipped} unreadable skipped (first: {source.first_skip})"
                   if source.skipped else "")
        click.echo(f"added {source.name} ({source.format}): {source.points} points, "
                   f"{source.intervals} intervals{skipped}")
    for name in added.unchanged:
        click.echo(f"{name}: unchanged; skipped")
    click.echo(f"tracks: {len(added.sources)} sources -> {ws.tracks}")


@tracks.command("remove")
@click.argument("sources", nargs=-1, required=True)
@workspace_option
@click.pass_context
def tracks_remove(ctx, sources, ws: Workspace):
    """Take sources out of data/tracks.parquet, by the names `photoflux tracks` lists."""
    from .runner import run_tracks_remove

    ws = tracks_workspace(ctx, ws)
    with writing(ws, "tracks remove"):
        left = run_tracks_remove(ws, list(sources))
    click.echo(f"removed {', '.join(sources)}; {len(left)} sources left")


def echo_stage(ws: Workspace, run) -> None:
    """One stage of `run`: its summary, or why it was skipped."""
    if run.result is None:
        click.echo(SKIPPED[run.stage])
    elif run.stage == "extract":
        echo_extract(ws, *run.result)
    elif run.stage == "resolve":
        echo_resolve(*run.result)
    else:
        click.echo(f"report: wrote {ws.audit_html} and {ws.audit_xlsx}")
        echo_report(run.result.attrs["report"])


SKIPPED = {
    "extract": "extract: no photo added, changed or removed; skipped",
    "resolve": "resolve: photos, overrides, clocks, approvals and default zone unchanged; skipped",
    "report": "report: resolved table unchanged; skipped",
}


def time_option(ctx, param, value: str | None):
    """An ISO 8601 local time or time of day, or either with Z or ±HH:MM (an instant);
    anything else is a usage error."""
    if value is None:
        return None
    from .text import QUOTE_LIMIT, one_line
    from .times import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} ({one_line(value, QUOTE_LIMIT)})") from None


@main.command()
@click.argument("photo", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--was", required=True, metavar="TIME", callback=time_option,
              help="The time the screen in PHOTO showed: a local time "
                   "YYYY-MM-DD[THH:MM[:SS[.fff]]], or an instant with Z or ±HH:MM (read as "
                   "local time in the photo's zone in resolved.parquet); without the date "
                   "(HH:MM[:SS[.fff]]), on the day nearest to the photo's time.")
@workspace_option
@click.option("--note", help="Free text kept with the sync point.")
@click.option("--overrides", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Overrides CSV whose shifts win [default: WS/overrides.csv when present].")
def clock(photo: Path, was, ws: Workspace, note: str | None, overrides: Path | None):
    """Set a camera's clock right from PHOTO, a photo of a screen (a phone, a GPS) showing the
    time.

    Appends a sync point to WS/clocks.csv: PHOTO's camera (make, model, serial), its recorded
    local time, the true one. The next resolve shifts that camera's photos before any zone: by
    true − recorded for one sync point, by a drift interpolated between two or more.
    """
    from .clocks import iso
    from .runner import run_clock
    from .times import shift_text

    _, rules = load_rules(ws, overrides)
    with writing(ws, "clock"):
        sync = run_clock(ws, photo, was, note, rules)
    point = sync.point
    camera = " ".join(filter(None, (point["make"], point["model"])))
    serial = f" (serial {point['serial']})" if point["serial"] else ""
    click.echo(f"clock: {camera}{serial}: recorded {iso(point['recorded_local'])}, true "
               f"{iso(point['true_local'])}: shift {shift_text(sync.shift_ms / 1000)}")
    if not sync.written:
        click.echo(f"already in {ws.clocks} line {sync.line}: nothing written")
        return
    click.echo(f"-> {ws.clocks} line {sync.line}")
    moves = sync.moves / 1000
    if moves.empty:
        click.echo("no photo of this camera moves")
    elif len(moves) == 1:
        click.echo(f"1 photo of this camera moves by {shift_text(moves.iloc[0])}")
    elif moves.nunique() == 1:
        click.echo(f"{len(moves)} photos of this camera move by {shift_text(moves.iloc[0])}")
    else:
        click.echo(f"{len(moves)} photos of this camera move by {shift_text(moves.min())} to "
                   f"{shift_text(moves.max())}, {shift_text(moves.mean())} on average")
    if sync.kept:
        click.echo(f"{sync.kept} keep the shift of an overrides rule" if sync.kept > 1
                   else "1 keeps the shift of an overrides rule")
    click.echo("run 'photoflux resolve' (or 'photoflux run') to apply it")


def approval_command(ws: Workspace, command: str, selection_args: dict) -> None:
    """approve/unapprove: what this run changed, then where the workspace stands."""
    from .approvals import counts
    from .runner import change_approvals

    selection = build_selection(**selection_args)
    if selection is None:
        fail(f"say which photos to {command}: --all, or narrow with --path-glob, --first/--last, "
             "--local-from/--local-to, --flagged/--unflagged, --source, --make/--model/--serial, "
             "--segment")
    require(ws, "resolved")
    with writing(ws, command):
        change = change_approvals(ws, command, selection)
    if command == "approve":
        look = f" ({change.newly_look} of them need a look)" if change.newly_look else ""
        refused = [f"{n} {why}" for why, n in change.refused.items() if n]
        done = [f"{change.newly} newly approved{look}", f"{change.already} already approved",
                f"{sum(change.refused.values())} refused"
                + (f" ({'; '.join(refused)})" if refused else "")]
    else:
        done = [f"{change.withdrawn} approvals withdrawn", f"{change.not_approved} were not "
                "approved"]
    click.echo(f"{command}: {change.selected} selected: {', '.join(done)}")
    click.echo(f"now {counts(change.resolved)}")


@main.command()
@workspace_option
@selection_options
def approve(ws: Workspace, **selection_args):
    """Approve the selected photos' times exactly as they are now."""
    approval_command(ws, "approve", selection_args)


@main.command()
@workspace_option
@selection_options
def unapprove(ws: Workspace, **selection_args):
    """Withdraw the approval of the selected photos."""
    approval_command(ws, "unapprove", selection_args)


@main.command()
@workspace_option
@server_options
@selection_options
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Photos in flight at once (converted as they go) [default: 8: a real "
                   "Fluxtream server is small].")
@click.option("--tag", "tags", multiple=True, metavar="TEXT",
              help="A tag for each photo the server creates (repeatable). The server stores "
                   "tags only when it creates a photo: one uploaded before keeps its tags.")
@click.option("--tag-folder", is_flag=True,
              help="Also tag each photo with its folder's name (commas in it become spaces); "
                   "like --tag, only for photos the server creates.")
@click.option("--no-convert", is_flag=True,
              help="Send JPEG, PNG and GIF only; without it HEIC/HEIF, AVIF, WebP and TIFF go "
                   "as a JPEG and raw files as their embedded JPEG preview.")
@click.option("--dry-run", is_flag=True,
              help="Check the credentials and show what would be sent; send and write nothing.")
@click.option("--allow-retime", is_flag=True,
              help="Send photos already on the server at another time (makes a second copy).")
@click.option("--allow-resend", is_flag=True,
              help="Send photos whose file changed since it was sent (the timeline then holds "
                   "both versions).")
def upload(ws: Workspace, server, user, workers, tags, tag_folder, no_convert, dry_run,
           allow_http, allow_retime, allow_resend, cacert, **selection_args):
    """Send approved photos (narrowed by the selection) to a Fluxtream server, exactly once.

    Photos the server refuses (HEIC/HEIF, AVIF, WebP, TIFF, raw) are sent as a JPEG made of
    them, keeping their EXIF; photos dated before 1970-01-01 UTC cannot be uploaded.
    """
    request = {"server": server, "user": user, "selection": selection_args, "tags": tags,
               "tag_folder": tag_folder, "no_convert": no_convert, "allow_http": allow_http,
               "allow_retime": allow_retime, "allow_resend": allow_resend}
    require(ws, "resolved")
    if not dry_run:  # a rerun with nothing to send is answered before pandas is even imported
        with writing(ws, "upload"):
            idle = ws.idle_rerun("upload", ws.upload_inputs(request))
        if idle is not None:
            click.echo(idle["summary"])
            sys.exit(1 if idle["failed"] else 0)
    from .runner import run_upload, upload_dry_run
    from .upload import Options, UploadError

    selection = build_selection(**selection_args)
    options = Options(allow_retime=allow_retime, allow_resend=allow_resend,
                      convert=not no_convert, tags=tags, tag_folder=tag_folder,
                      **({"workers": workers} if workers else {}))
    prompt = (lambda text: click.prompt(text, hide_input=True)) if sys.stdin.isatty() else None
    if dry_run:
        with one_line_errors(UploadError):
            click.echo(upload_dry_run(ws, server, user, selection, allow_http=allow_http,
                                      options=options, prompt=prompt, cacert=cacert, warn=warn))
        return
    with writing(ws, "upload", UploadError):
        outcome = run_upload(ws, server, user, selection, prompt=prompt, options=options,
                             allow_http=allow_http, cacert=cacert, progress=show_progress(),
                             warn=warn, request=request)
    click.echo(outcome.summary)
    sys.exit(1 if outcome.failed else 0)


@main.command()
@workspace_option
@server_options
@click.option("--delete-wrong", is_flag=True,
              help="Delete the wrong_time copies of approved photos whose approved copy is on "
                   "the server.")
@click.option("--delete-duplicates", is_flag=True,
              help="Delete the surplus copies of approved photos whose approved copy is on the "
                   "server.")
@click.option("--yes", is_flag=True, help="Delete without asking (required off a terminal).")
@click.option("--dry-run", is_flag=True,
              help="List the photos and what would be deleted; write and delete nothing.")
@click.option("--page-size", type=click.IntRange(1), default=None,
              help="Photos per list request [default: 500].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reconcile(ws: Workspace, server, user, delete_wrong, delete_duplicates, yes, dry_run,
              page_size, allow_http, cacert, quiet):
    """Compare the photos on the server with the workspace: one verdict per server photo
    (same, wrong_time, duplicate, unapproved, unknown) in WS/data/server.parquet and
    WS/reports/server.csv; copies already at their approved time count as uploaded.

    --delete-wrong / --delete-duplicates then delete copies by id (listed first; confirmed on
    a terminal, else --yes), only while the photo's approved copy is on the server.
    """
    from .reconcile import counts, counts_text, plan_text
    from .runner import run_reconcile
    from .upload import UploadError

    deleting = (delete_wrong or delete_duplicates) and not dry_run
    if deleting and not yes and not sys.stdin.isatty():
        fail("--delete-wrong/--delete-duplicates delete photos on the server: give --yes to "
             "confirm (or --dry-run to see what they would delete)")

    def confirm(plan) -> bool:
        deletable = int(plan["kept_key"].notna().sum())
        click.echo(f"deleting {deletable} copies:\n{plan_text(plan)}")
        return yes or not deletable or click.confirm("delete them?", default=False)

    def listed(table, listing) -> None:
        requests = f"{listing.requests} list request" + "s" * (listing.requests != 1)
        click.echo(f"reconcile: {len(table)} photos on the server ({requests}, largest page "
                   f"{listing.largest_page}): "
                   f"{counts_text(counts(table))}")

    prompt = (lambda text: click.prompt(text, hide_input=True)) if sys.stdin.isatty() else None
    with writing(ws, "reconcile", UploadError):
        found = run_reconcile(ws, server, user, prompt=prompt, allow_http=allow_http,
                              cacert=cacert, delete_wrong=delete_wrong,
                              delete_duplicates=delete_duplicates, dry_run=dry_run,
                              confirm=confirm, on_listed=listed, page_size=page_size,
                              progress=show_progress(quiet))
    if dry_run:
        if len(found.plan):
            click.echo(f"would delete {int(found.plan['kept_key'].notna().sum())} copies:\n"
                       f"{plan_text(found.plan)}")
        click.echo("dry run: nothing was written or deleted")
        return
    if found.resumed:
        click.echo(f"{found.resumed} deletions of an interrupted run were found done")
    if found.adopted:
        click.echo(f"adopted {found.adopted} copies already at their approved time: upload "
                   "counts them as uploaded")
    if len(found.plan):
        click.echo("deletions: " + (outcome_counts(found.done.values()) or "none (not confirmed)")
                   + f"; now on the server: {counts_text(counts(found.table))}")
    click.echo(f"wrote {ws.server} and {ws.server_csv}")
    sys.exit(1 if found.failed else 0)


def outcome_counts(outcomes) -> str:
    """'3 deleted, 1 skipped' from outcomes like 'skipped: why'."""
    from collections import Counter

    return ", ".join(f"{n} {word}" for word, n in Counter(
        outcome.split(":")[0] for outcome in outcomes).items())


@main.command()
@workspace_option
def status(ws: Workspace):
    """One screen: what has run, what changed, what the photos look like, what to do next."""
    from .status import status_text

    with one_line_errors():
        resolved = ws.load("resolved") if ws.resolved.exists() else None
        click.echo(status_text(ws, resolved))


@main.command("segments")
@workspace_option
@click.option("--flagged", is_flag=True,
              help="Only segments with a photo that needs a look (see the README's flags).")
def segments_command(ws: Workspace, flagged: bool):
    """List the segments (trip legs: runs of photos in a folder with one UTC offset) to
    review and approve by (approve --segment ID)."""
    import shutil

    from .segments import listing

    with one_line_errors():
        table = ws.load("segments")
    click.echo(listing(table, flagged, shutil.get_terminal_size().columns))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", default=200, show_default=True, type=click.IntRange(1),
              help="How many photos (the trip's scenarios first, then ordinary photos).")
@click.option("--seed", default=0, show_default=True, type=int)
def sample(directory: Path, count: int, seed: int):
    """Write a sample photo library that exercises every zone source and flag (all but
    fixed_offset_default, which needs a bare offset as the default zone, and clock_shifted,
    which needs a clocks.csv)."""
    from .sample import EXPECTED_NAME, MIN_COUNT, SAMPLE_DEFAULT_TZ, write_sample
    from .workspace import writing_to

    if count < MIN_COUNT:
        fail(f"--count must be at least {MIN_COUNT} (one photo per scenario)")
    try:
        with one_line_errors(), writing_to(directory):
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
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD",
              help="An account (repeatable). Other users of the machine can read it in the "
                   "process list: prefer FLUXTREAM_SERVER_USERS.")
@click.option("--fail-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of photo uploads answered 500 before storing.")
@click.option("--drop-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of photo uploads stored, then the connection dropped with no answer.")
@click.option("--fail-after-store-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Share of photo uploads stored, then answered 503.")
@click.option("--delay-ms", default=0, type=click.IntRange(0), help="Delay before each answer.")
@click.option("--seed", default=None, type=int, help="Seed for repeatable faults.")
@click.option("--login-redirect", is_flag=True,
              help="Answer every request 302 to a login page (/welcome?signIn), as a deployment "
                   "behind a form login does.")
@click.option("--guest-ko", is_flag=True,
              help="Answer /api/guest 200 with a KO body, as the real server does on an "
                   "internal error.")
@click.option("--bare-payload", is_flag=True,
              help="Answer the documented upload path as the v1 path does: the bare payload, "
                   "errors in plain text.")
@click.option("--no-dedup-lock", is_flag=True,
              help="De-duplicate like the real server, with no lock: an upload's lookup and "
                   "insert are --delay-ms apart, so overlapping sends of one photo make two.")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="Serve https.")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True))
@click.option("--max-upload-mb", default=100, show_default=True, type=click.IntRange(1))
def serve(**options):
    """Run a Fluxtream-compatible photo server (for tests, demos and offline use).

    Accounts come from the environment variable FLUXTREAM_SERVER_USERS
    (NAME:PASSWORD[,NAME:PASSWORD], so no password shows in the process list) and from any
    --user options; at least one is required.
    """
    from .server import run

    try:
        run(**options)
    except ValueError as exc:
        fail(str(exc))
