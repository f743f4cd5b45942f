"""The `photoflux` command: a thin click layer that reads inputs, calls a stage, writes outputs."""
from __future__ import annotations

import sys
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
