"""The user's overrides CSV read into validated rules (each rule selects photos with a
`Selection`, the same selectors the review and upload commands use)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd

from .selection import CAMERA_SELECTORS, Selection
from .text import QUOTE_LIMIT, one_line
from .times import MAX_SHIFT_SECONDS, parse_local, shift_text
from .zones import ZoneError, check_zone

OVERRIDE_COLUMNS = ("path_glob", "first", "last", "local_from", "local_to", "make", "model",
                    "serial", "tz", "mode", "shift", "note")
MODES = ("override", "fallback")
SELECTORS = ("path_glob", "first", "last", "local_from", "local_to", *CAMERA_SELECTORS)


class OverridesError(ValueError):
    """A bad line of the overrides CSV: `file:LINE: what is wrong (the value)`."""


@dataclass
class Rule:
    """One line of the overrides CSV, validated."""

    line: int
    selection: Selection
    tz: str | None
    mode: str
    shift_seconds: int | None
    note: str | None
    source: str = "overrides.csv"  # the file, as messages name it


def parse_shift(text: str) -> int:
    """'±HH:MM:SS' (or ±HH:MM) -> signed seconds; ValueError beyond ±100 years."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    parts = body[1:].split(":")
    if body[:1] not in "+-" or len(parts) not in (2, 3) or not all(
            p.isascii() and p.isdigit() for p in parts):
        raise ValueError("expected ±HH:MM:SS")
    hours, minutes, seconds = (int(p) for p in (parts + ["0"])[:3])
    if minutes >= 60 or seconds >= 60:
        raise ValueError("expected ±HH:MM:SS")
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_SHIFT_SECONDS:
        raise ValueError("more than ±100 years")
    return sign * total


def parse_overrides(text: str, source: str = "overrides.csv") -> list[Rule]:
    """The overrides CSV text -> rules, in file order; the first bad line raises OverridesError.

    The CSV is read strictly: a quote that never closes, text after a closing quote, a field
    over 128 KiB (the csv module's limit) or a column named twice is a bad line, not a guess.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    records = csv_records(reader, source)
    try:
        _, header = next(records)
    except StopIteration:
        return []
    header = _header(header, source)
    rules = []
    for line, cells in records:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise OverridesError(f"{source}:{line}: {len(cells)} cells for {len(header)} columns "
                                 f"({one_line(','.join(cells), QUOTE_LIMIT)})")
        row = {name: (value.strip() or None) for name, value in zip(header, cells)}
        rules.append(_rule(row, line, source))
    return rules


def _header(cells: list[str], source: str) -> list[str]:
    """The column names of the first line, checked: every one known and given once. A first
    line that names no column is no header; one that names them between semicolons is a
    semicolon-separated file (what a spreadsheet set to some languages writes)."""
    header = [h.strip() for h in cells]
    joined = one_line(",".join(cells), QUOTE_LIMIT)
    if any(name not in OVERRIDE_COLUMNS for name in header) and any(
            part.strip() in OVERRIDE_COLUMNS for name in header for part in name.split(";")[1:]):
        raise OverridesError(f"{source}:1: unknown column ({joined}): is this a "
                             "semicolon-separated file? Columns are separated by commas")
    if not any(name in OVERRIDE_COLUMNS for name in header):
        raise OverridesError(f"{source}:1: no header: the first line must name the columns, "
                             f"from {','.join(OVERRIDE_COLUMNS)} ({joined})")
    for position, name in enumerate(header):
        if name not in OVERRIDE_COLUMNS:
            raise OverridesError(f"{source}:1: unknown column ({one_line(name, QUOTE_LIMIT)})")
        if name in header[:position]:
            raise OverridesError(f"{source}:1: column given twice ({one_line(name, QUOTE_LIMIT)})")
    return header


def csv_records(reader, source: str):
    """(line where the record starts, its cells) for each CSV record; CSV errors as
    OverridesError naming that line."""
    while True:
        line = reader.line_num + 1
        try:
            yield line, next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            what = "a quote that never closes" if "end of data" in str(exc) else str(exc)
            raise OverridesError(f"{source}:{line}: not valid CSV: {what}") from None


def _rule(row: dict, line: int, source: str) -> Rule:
    def bad(what: str, value) -> OverridesError:
        return OverridesError(f"{source}:{line}: {what} ({one_line(value, QUOTE_LIMIT)})")

    if (row.get("first") is None) != (row.get("last") is None):
        given = row.get("first") or row.get("last")
        raise bad("first and last go together", given)
    if not any(row.get(name) for name in SELECTORS):
        raise bad("a rule needs a selector: path_glob, first and last, local_from/local_to, "
                  "make, model or serial (path_glob * selects every photo)", ",".join(v or "" for v in row.values()))
    if row.get("tz") is None and row.get("shift") is None:
        raise bad("a rule needs an action: a tz or a shift (a note alone changes nothing)",
                  ",".join(v or "" for v in row.values()))
    times = {}
    for name in ("local_from", "local_to"):
        if row.get(name) is not None:
            try:
                times[name] = parse_local(row[name], end=name == "local_to")
            except ValueError as exc:
                raise bad(f"bad {name}: {exc}", row[name]) from None
    if len(times) == 2 and times["local_from"] > times["local_to"]:
        raise bad("local_from is after local_to", f"{row['local_from']} > {row['local_to']}")
    tz = None
    if row.get("tz") is not None:
        try:
            tz = check_zone(row["tz"])
        except ZoneError:
            raise bad("bad zone, expected an IANA name or ±HH:MM", row["tz"]) from None
    mode = (row.get("mode") or "override").lower()
    if mode not in MODES:
        raise bad("bad mode, expected override or fallback", row["mode"])
    if row.get("mode") is not None and tz is None:
        raise bad("a mode needs a tz", row["mode"])
    shift = None
    if row.get("shift") is not None:
        try:
            shift = parse_shift(row["shift"])
        except ValueError as exc:
            raise bad(f"bad shift, {exc}", row["shift"]) from None
    glob = row.get("path_glob")
    selection = Selection([glob] if glob else [], row.get("first"), row.get("last"),
                          times.get("local_from"), times.get("local_to"),
                          **{column: row.get(column) for column in CAMERA_SELECTORS})
    return Rule(line, selection, tz, mode, shift, row.get("note"), source)


def rules_table(rules: list[Rule]) -> pd.DataFrame:
    """The rules as a table, for the audit's 'overrides in force' sheet."""
    return pd.DataFrame(
        [{"line": r.line, "path_glob": ";".join(r.selection.path_globs) or None,
          "first": r.selection.first, "last": r.selection.last,
          "local_from": r.selection.local_from, "local_to": r.selection.local_to,
          **{column: getattr(r.selection, column) for column in CAMERA_SELECTORS},
          "tz": r.tz, "mode": r.mode if r.tz else None,
          "shift": None if r.shift_seconds is None else shift_text(r.shift_seconds),
          "note": r.note} for r in rules],
        columns=["line", *OVERRIDE_COLUMNS],
    )
