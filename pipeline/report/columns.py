"""Column helpers the audit's page and workbook share: text, times, paths and the review's
kinds of photo, each a vectorized operation over a whole column."""
from __future__ import annotations

import html
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import flags as registry


def text(s: pd.Series) -> pd.Series:
    """A column as strings, '' for nulls."""
    return s.astype("string").fillna("").astype(object)


def naive_utc(ts: pd.Series) -> pd.Series:
    """A tz-aware column as naive UTC (what a spreadsheet cell or a plot axis holds)."""
    return ts.dt.tz_convert("UTC").dt.tz_localize(None)


def time_text(ts: pd.Series) -> pd.Series:
    """Naive timestamps as 'YYYY-MM-DD HH:MM:SS', with milliseconds only when there are some."""
    full = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").astype("string").str[:23]
    return full.where(ts.dt.microsecond != 0, full.str[:19]).fillna("").astype(object)


def basename(paths: pd.Series) -> pd.Series:
    """The last component of paths of this system (os.sep; on POSIX a name may hold a backslash)."""
    names = text(paths)
    if os.altsep:
        names = names.str.replace(os.altsep, os.sep, regex=False)
    return names.str.rsplit(os.sep, n=1).str[-1]


def evidence_text(df: pd.DataFrame) -> pd.Series:
    """'own' when a photo is its own evidence, else the file name of the photo it relies on;
    for a zone from the location history, where and how near in time the track was."""
    evidence = text(df["evidence_path"])
    shown = (evidence != "") & (text(df["tz_source"]) != "")  # no zone, no evidence to speak of
    own = basename(evidence).where(evidence != text(df["path"]), "own").where(shown, "")
    track = ("track " + df["track_gap_minutes"].round(0).astype("Int64").astype("string")
             + " min off at " + df["track_lat"].round(4).astype("string") + ", "
             + df["track_lon"].round(4).astype("string")).fillna("")
    return own.where(text(df["tz_source"]) != "track", track)


def escape(s: pd.Series) -> pd.Series:
    """HTML-escape a column of strings. Quotes become numeric references, which plotly's hover
    labels decode too (it shows `&quot;` as is)."""
    return (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace('"', "&#34;", regex=False)
            .str.replace("'", "&#39;", regex=False))


def esc(value: str) -> str:
    """HTML-escape one string."""
    return html.escape(value)


def relative(paths: pd.Series, roots: list[str]) -> pd.Series:
    """Each path relative to the root it was extracted from (the longest of `roots` it lies
    under); with several roots, prefixed by that root's own name, so two roots' folders of the
    same name stay apart. A path under no root stays as it is."""
    values = pa.array(text(paths), type=pa.large_string())
    shown = values
    several = len(roots) > 1
    for root in sorted(roots, key=len):  # a longer root, deeper inside another, wins
        top = root.rstrip(os.sep) or os.sep
        prefix = top.rstrip(os.sep) + os.sep
        name = os.path.basename(top) if several else ""
        rest = pc.utf8_slice_codeunits(values, len(prefix))
        below = pc.binary_join_element_wise(pa.scalar(name + os.sep if name else "", pa.large_string()),
                                            rest, pa.scalar("", pa.large_string()))
        shown = pc.if_else(pc.starts_with(values, pattern=prefix), below, shown)
        shown = pc.if_else(pc.equal(values, top), pa.scalar(name or ".", pa.large_string()), shown)
    return pd.Series(shown.to_numpy(zero_copy_only=False), index=paths.index, dtype=object)


def kinds(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean per row for each kind the review counts (pipeline/flags.py): `never_approvable`
    (no time), `needs_a_look`, `for_information` (flags, none needing a look) and `unflagged`;
    each photo is in exactly one."""
    words = df["flags"]
    never = registry.having(words, registry.named(registry.NEVER_APPROVABLE))
    look = ~never & registry.needs_a_look(words)
    flagged = (text(words) != "").to_numpy(bool)
    return {"never_approvable": never, "needs_a_look": look,
            "for_information": ~never & ~look & flagged, "unflagged": ~never & ~flagged}
