"""The flags resolve raises, each classified once: the README's table, the audit page, the
review commands' counts and `--flagged`/`--unflagged` all read this registry.

Three kinds: a flag that *needs a look* (the time or zone may well be wrong: check the photo),
one *for information* (worth knowing, nothing to check), and the two that make a photo *never
approvable* (it has no time), whose rows are counted apart from the others.

A module that imports nothing at its top, so that the `photoflux` command starts without
pandas (pipeline/vocabulary.py reads FLAGS from it); its table functions import pandas and
pyarrow when called.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NEEDS_A_LOOK = "needs a look"
FOR_INFORMATION = "for information"
NEVER_APPROVABLE = "never approvable"
KINDS = (NEEDS_A_LOOK, FOR_INFORMATION, NEVER_APPROVABLE)


@dataclass(frozen=True)
class Flag:
    """One flag: its name in the `flags` column, its kind (one of KINDS) and what it means."""

    name: str
    kind: str
    meaning: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"flag {self.name}: kind must be one of {KINDS}, not {self.kind!r}")


#: Every flag resolve may raise, in the order the `flags` column lists them. A flag resolve
#: raises that is missing here stops resolve (see resolve._flags).
REGISTRY = (
    Flag("no_capture_time_tag", FOR_INFORMATION,
         "the time is IFD0 DateTime (when the file was last written): no capture-time tag"),
    Flag("no_time", NEVER_APPROVABLE,
         "no usable time at all (or the file cannot be read): never approved, never uploaded"),
    Flag("out_of_range", NEVER_APPROVABLE,
         "the time lies outside 1800-2199 (after any shift): treated as no time"),
    Flag("time_from_name", NEEDS_A_LOOK,
         "the time comes from the file name, which may say when the file was saved"),
    Flag("conflict", NEEDS_A_LOOK,
         "two sources of the zone disagree (offset tag and GPS clock, or a camera zone or XMP "
         "offset and a source above it); the higher one won"),
    Flag("stale_gps", NEEDS_A_LOOK,
         "the GPS clock is no real offset away from the local time (an old fix): ignored"),
    Flag("gps_lag", NEEDS_A_LOOK,
         "the zone comes from a GPS clock more than 2 minutes off a real offset"),
    Flag("stale_takeout", NEEDS_A_LOOK,
         "Google Takeout's time is no real offset away from the local time: ignored"),
    Flag("null_island", FOR_INFORMATION,
         "the photo's GPS position is 0/0, an unset position: not used"),
    Flag("sidecar_time_differs", NEEDS_A_LOOK,
         "the XMP sidecar's DateTimeOriginal differs from the file's (edited in Lightroom?)"),
    Flag("carry_gap", NEEDS_A_LOOK,
         "the zone was carried from a photo more than 24 hours earlier"),
    Flag("ambiguous", NEEDS_A_LOOK,
         "the local time happened twice (a DST change): the earlier instant was taken"),
    Flag("nonexistent", NEEDS_A_LOOK,
         "the local time never happened (a DST change): moved forward by the gap"),
    Flag("fixed_offset_default", FOR_INFORMATION,
         "the zone is a fixed-offset --default-tz: no DST applied"),
    Flag("shifted", FOR_INFORMATION,
         "a shift rule of your overrides moved the time"),
    Flag("clock_shifted", FOR_INFORMATION,
         "clocks.csv (the camera's sync points) moved the time"),
)
FLAGS = tuple(flag.name for flag in REGISTRY)
BY_NAME = {flag.name: flag for flag in REGISTRY}


def named(kind: str) -> tuple[str, ...]:
    """The names of the flags of one kind, in registry order."""
    if kind not in KINDS:
        raise ValueError(f"no kind of flag {kind!r}")
    return tuple(flag.name for flag in REGISTRY if flag.kind == kind)


def having(flags: pd.Series, names) -> np.ndarray:
    """Boolean per row: whether its `;`-separated `flags` hold any of `names`.

    A column holds few distinct flag sets, so each is looked at once (dictionary-encoded in
    Arrow) and the answer spread back to the rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = set(names)
    encoded = pc.dictionary_encode(pa.array(flags.astype("string"), from_pandas=True,
                                            type=pa.large_string()))
    answers = np.array([bool(wanted.intersection(text.split(";")))
                        for text in encoded.dictionary.to_pylist()] + [False])
    indices = pc.fill_null(encoded.indices, len(encoded.dictionary))
    return answers[indices.to_numpy(zero_copy_only=False)]


def needs_a_look(flags: pd.Series) -> np.ndarray:
    """Rows with a flag that needs a look: what `--flagged` selects and `--unflagged` leaves."""
    return having(flags, named(NEEDS_A_LOOK))


def counts(resolved: pd.DataFrame) -> dict:
    """What the review counts, everywhere alike (the commands' lines, the audit page's header,
    legend and tables). Each photo is in exactly one of:

    - `never_approvable`: no time (flag no_time, which out_of_range and unreadable files get);
    - `needs_a_look`: a time, and a flag that needs a look;
    - `for_information`: a time, and only flags for information;
    - `unflagged`: a time and no flag.

    `photos` is their sum; `by_flag` counts the photos holding each flag, in registry order
    (zeros left out), so a photo with two flags counts under both.
    """
    import pandas as pd

    text = resolved["flags"]
    timed = ~having(text, named(NEVER_APPROVABLE))
    look = timed & needs_a_look(text)
    flagged = timed & (text.fillna("") != "").to_numpy(bool)
    words = text.dropna().str.split(";").explode()
    by_flag = words[words != ""].value_counts().reindex(list(FLAGS)).dropna().astype(int)
    return {
        "photos": len(resolved),
        "never_approvable": int((~timed).sum()),
        "needs_a_look": int(look.sum()),
        "for_information": int((flagged & ~look).sum()),
        "unflagged": int((timed & ~flagged).sum()),
        "by_flag": {name: int(n) for name, n in pd.Series(by_flag).items()},
    }


def counts_text(counts: dict) -> str:
    """'12 need a look, 30 flagged for information only, 5 without a time (never approvable)'."""
    return (f"{counts['needs_a_look']} need a look, {counts['for_information']} flagged for "
            f"information only, {counts['never_approvable']} without a time (never approvable)")


def markdown_table() -> str:
    """The README's table of flags (a test checks that the README holds it as written here;
    print it with `python -m pipeline.flags`)."""
    rows = [f"| `{flag.name}` | {flag.kind} | {flag.meaning} |" for flag in REGISTRY]
    return "\n".join(["| flag | kind | meaning |", "|---|---|---|", *rows])


if __name__ == "__main__":
    print(markdown_table())
