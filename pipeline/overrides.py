"""Selections of photos, and the user's overrides CSV read into validated rules.

A selection (file-name range, path glob, local-time range) is shared by the overrides CSV and
the review/upload commands, so both pick exactly the same photos for the same words.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import pandas as pd

from .text import extract
from .zones import ZoneError, check_zone

OVERRIDE_COLUMNS = ("path_glob", "first", "last", "local_from", "local_to", "tz", "mode", "shift",
                    "note")
MODES = ("override", "fallback")


class OverridesError(ValueError):
    """A bad line of the overrides CSV: `file:LINE: what is wrong (the value)`."""


def natural_key(names: pd.Series) -> pd.Series:
    """Sort keys giving natural order (IMG_9 < IMG_10), case-insensitive, on a whole column.

    The first three digit runs are zero-padded so plain string comparison orders them as
    numbers; parts are joined with NUL, which sorts before every character in a name.
    """
    parts = extract(names.str.lower(), r"^(?P<a>\D*)(?P<n1>\d*)(?P<b>\D*)(?P<n2>\d*)"
                                       r"(?P<c>\D*)(?P<n3>\d*)(?P<rest>.*)$").fillna("")
    for digits in ("n1", "n2", "n3"):
        parts[digits] = parts[digits].str.pad(24, side="left", fillchar="0")
    key = parts["a"]
    for column in parts.columns[1:]:
        key = key + "\x00" + parts[column]
    return key


def glob_regex(glob: str) -> str:
    """An fnmatch-style glob (* ? [seq] [!seq]) as an anchored regex that RE2 (pyarrow) runs too."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        close = glob.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif close > 0:
            body = glob[i + 1:close]
            negate = body.startswith("!")
            body = re.sub(r"([\\\]\[^])", r"\\\1", body[1:] if negate else body)
            out.append(f"[{'^' if negate else ''}{body}]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "(?s)^" + "".join(out) + "$"


def _stem(names: pd.Series) -> pd.Series:
    """File names without their extension, so IMG_0199 bounds IMG_0199.jpg and IMG_0199.HEIC."""
    return names.astype("string").str.replace(r"\.[A-Za-z0-9]{1,5}$", "", regex=True)


def parse_local(text: str, *, end: bool = False) -> pd.Timestamp:
    """ISO local time; a bare date as `end` of a range means the whole of that day."""
    value = pd.Timestamp(text.strip().replace("T", " "))
    if value.tzinfo is not None:
        raise ValueError("a local time has no zone")
    if end and len(text.strip()) <= 10:
        value += pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
    return value


@dataclass
class Selection:
    """Which photos: every given part must match (AND); an empty selection matches all."""

    path_globs: list[str] = field(default_factory=list)
    first: str | None = None
    last: str | None = None
    local_from: pd.Timestamp | None = None
    local_to: pd.Timestamp | None = None
    flagged: bool | None = None
    source: str | None = None

    def mask(self, table: pd.DataFrame, local: pd.Series | None = None) -> pd.Series:
        """Boolean column: which rows of `table` this selection picks.

        `local` is the local time to compare (default: the table's `local_time`); `flagged`
        and `source` read the resolved table's `flags` and `tz_source`.
        """
        local = table["local_time"] if local is None else local
        selected = pd.Series(True, index=table.index)
        if self.path_globs:
            pattern = "|".join(f"(?:{glob_regex(g)})" for g in self.path_globs)
            selected &= table["path"].astype("string").str.match(pattern).fillna(False)
        if self.first is not None:
            key = natural_key(_stem(table["file_name"]))
            bounds = natural_key(_stem(pd.Series([self.first, self.last])))
            selected &= (key >= bounds.iloc[0]) & (key <= bounds.iloc[1])
        if self.local_from is not None:
            selected &= (local >= self.local_from).fillna(False)
        if self.local_to is not None:
            selected &= (local <= self.local_to).fillna(False)
        if self.flagged is not None:
            selected &= (table["flags"].fillna("") != "") == self.flagged
        if self.source is not None:
            selected &= (table["tz_source"] == self.source).fillna(False)
        return selected.astype(bool)


@dataclass
class Rule:
    """One line of the overrides CSV, validated."""

    line: int
    selection: Selection
    tz: str | None
    mode: str
    shift_seconds: int | None
    note: str | None


def parse_shift(text: str) -> int:
    """'±HH:MM:SS' (or ±HH:MM) -> signed seconds."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    parts = body.lstrip("+-").split(":")
    if body[:1] not in "+-" or len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError
    hours, minutes, seconds = (int(p) for p in (parts + ["0"])[:3])
    if minutes >= 60 or seconds >= 60:
        raise ValueError
    return sign * (hours * 3600 + minutes * 60 + seconds)


def parse_overrides(text: str, source: str = "overrides.csv") -> list[Rule]:
    """The overrides CSV text -> rules, in file order; the first bad line raises OverridesError."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    unknown = [h for h in header if h not in OVERRIDE_COLUMNS]
    if unknown:
        raise OverridesError(f"{source}:1: unknown column ({unknown[0]})")
    rules = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise OverridesError(f"{source}:{line}: more cells than columns ({len(cells)})")
        row = {name: (value.strip() or None) for name, value in zip(header, cells)}
        rules.append(_rule(row, line, source))
    return rules


def _rule(row: dict, line: int, source: str) -> Rule:
    def bad(what: str, value) -> OverridesError:
        return OverridesError(f"{source}:{line}: {what} ({value})")

    if (row.get("first") is None) != (row.get("last") is None):
        given = row.get("first") or row.get("last")
        raise bad("first and last go together", given)
    times = {}
    for name in ("local_from", "local_to"):
        if row.get(name) is not None:
            try:
                times[name] = parse_local(row[name], end=name == "local_to")
            except ValueError:
                raise bad(f"bad {name}, expected an ISO local time", row[name]) from None
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
        except ValueError:
            raise bad("bad shift, expected ±HH:MM:SS", row["shift"]) from None
    glob = row.get("path_glob")
    selection = Selection([glob] if glob else [], row.get("first"), row.get("last"),
                          times.get("local_from"), times.get("local_to"))
    return Rule(line, selection, tz, mode, shift, row.get("note"))


def rules_table(rules: list[Rule]) -> pd.DataFrame:
    """The rules as a table, for the audit's 'overrides in force' sheet."""
    return pd.DataFrame(
        [{"line": r.line, "path_glob": ";".join(r.selection.path_globs) or None,
          "first": r.selection.first, "last": r.selection.last,
          "local_from": r.selection.local_from, "local_to": r.selection.local_to,
          "tz": r.tz, "mode": r.mode if r.tz else None,
          "shift": None if r.shift_seconds is None else _format_shift(r.shift_seconds),
          "note": r.note} for r in rules],
        columns=["line", *OVERRIDE_COLUMNS],
    )


def _format_shift(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
