"""Selections of photos: the selectors shared by the overrides CSV and the review, upload and
reconcile commands, so the same words pick exactly the same photos everywhere."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pyarrow.compute as pc

from .flags import needs_a_look
from .text import arrow, extract, series


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
    """An fnmatch-style glob (* ? [seq] [!seq]) as an anchored RE2 regex (Arrow's engine) that
    matches exactly what `fnmatch.fnmatchcase` matches, newlines in names included. (Python's
    re would also let `$` match before a final newline.)"""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        i += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and (close := _bracket_end(glob, i)) > 0:
            negate = glob[i] == "!"
            out.append(_char_class(glob[i + negate:close], negate))
            i = close + 1
        else:
            out.append(re.escape(char))
    return "(?s)^" + "".join(out) + "$"


def _bracket_end(glob: str, start: int) -> int:
    """Where the bracket expression opened just before `start` closes; -1 when it never does
    (the `[` is then literal). A `]` right after `[` or `[!` is a member, as in fnmatch."""
    j = start + (glob[start:start + 1] == "!")
    j += glob[j:j + 1] == "]"
    return glob.find("]", j)


def _char_class(members: str, negate: bool) -> str:
    """A bracket expression's members (chars and a-z ranges) as a regex class; a reversed
    range matches nothing, as in fnmatch."""
    parts, i = [], 0
    while i < len(members):
        if i + 2 < len(members) and members[i + 1] == "-":
            low, high = members[i], members[i + 2]
            if low <= high:
                parts.append(f"{_class_char(low)}-{_class_char(high)}")
            i += 3
        else:
            parts.append(_class_char(members[i]))
            i += 1
    if not parts:
        return "." if negate else r"[^\s\S]"
    return f"[{'^' if negate else ''}{''.join(parts)}]"


def _class_char(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


def _stem(names: pd.Series) -> pd.Series:
    """File names without their extension, so IMG_0199 bounds IMG_0199.jpg and IMG_0199.HEIC."""
    return names.astype("string").str.replace(r"\.[A-Za-z0-9]{1,5}$", "", regex=True)


@dataclass
class Selection:
    """Which photos: every given part must match (AND); an empty selection matches all."""

    path_globs: list[str] = field(default_factory=list)
    first: str | None = None
    last: str | None = None
    local_from: pd.Timestamp | None = None
    local_to: pd.Timestamp | None = None
    flagged: bool | None = None  # has / has no flag that needs a look (pipeline/flags.py)
    source: str | None = None
    make: str | None = None  # a glob on the camera's make, any case
    model: str | None = None  # a glob on its model, any case
    serial: str | None = None  # a glob on its serial number
    segments: list[str] = field(default_factory=list)  # any of these segment ids

    def mask(self, table: pd.DataFrame, local: pd.Series | None = None) -> pd.Series:
        """Boolean column: which rows of `table` this selection picks.

        `local` is the local time to compare (default: the table's `local_time`); `flagged`,
        `source` and `segments` read the resolved table's `flags`, `tz_source` and `segment`; a
        photo without a make, model or serial matches no glob on it.
        """
        local = table["local_time"] if local is None else local
        selected = pd.Series(True, index=table.index)
        if self.path_globs:
            selected &= _matches(table["path"], "|".join(f"(?:{glob_regex(g)})"
                                                         for g in self.path_globs))
        if self.first is not None:
            key = natural_key(_stem(table["file_name"]))
            bounds = natural_key(_stem(pd.Series([self.first, self.last])))
            selected &= (key >= bounds.iloc[0]) & (key <= bounds.iloc[1])
        if self.local_from is not None:
            selected &= (local >= self.local_from).fillna(False)
        if self.local_to is not None:
            selected &= (local <= self.local_to).fillna(False)
        if self.flagged is not None:
            selected &= needs_a_look(table["flags"]) == self.flagged
        if self.source is not None:
            selected &= (table["tz_source"] == self.source).fillna(False)
        for column, ignore_case in CAMERA_SELECTORS.items():
            glob = getattr(self, column)
            if glob is not None:
                selected &= _matches(table[column], glob_regex(glob), ignore_case)
        if self.segments:
            selected &= table["segment"].isin(self.segments).fillna(False)
        return selected.astype(bool)

    def unknown_segments(self, table: pd.DataFrame) -> list[str]:
        """The segment ids asked for that no row of `table` has."""
        return sorted(set(self.segments) - set(table["segment"].dropna().unique()))


def _matches(values: pd.Series, pattern: str, ignore_case: bool = False) -> pd.Series:
    """Which values match the regex `pattern` (null never does), in Arrow's RE2."""
    found = pc.match_substring_regex(arrow(values.astype("string")), pattern,
                                     ignore_case=ignore_case)
    return series(pc.fill_null(found, False), values.index)


#: The camera selectors (photos columns), and whether their globs ignore case.
CAMERA_SELECTORS = {"make": True, "model": True, "serial": False}
