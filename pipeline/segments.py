"""Segments: the trip legs a person reviews by, instead of single photos.

A segment is a run of photos in capture order (local time, file name, path: the order
carry-forward uses) within one folder. A new one starts where the folder or the UTC offset
changes, where the gap to the previous photo exceeds 6 hours, or where a `carry_gap` photo
follows one without it. The zone's name does not split (one trip reads `+02:00` from an offset
tag and `Europe/Berlin` from a position), nor do sources or flags: they are counted inside.
Photos without a time belong to no segment.

A segment's id is a short hash of its folder, its first photo's path and its first offset, so
it never comes to mean another trip when folders are added or photos resolved again.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .approvals import is_approved
from .flags import having, needs_a_look
from .schema import SEGMENTS, to_pandas
from .text import arrow, sorted_positions
from .zones import format_offset

GAP = pd.Timedelta(hours=6)
ID_LENGTH = 10  # hex digits: 40 bits, so 40,000 segments share an id with odds of 1 in 1,400
NO_OFFSET = np.iinfo(np.int64).min  # a photo with a time but no offset: a value of its own
ZONES_WIDTH, FOLDER_MIN = 28, 16  # the listing's widest zones column, narrowest folder column
#: The resolved columns a segment's summary reads.
SUMMARIZED = ("segment", "folder", "local_time", "utc_time", "utc_offset_minutes", "tz_name",
              "tz_source", "flags", "approved")


def segment_ids(resolved: pd.DataFrame) -> pd.Series:
    """Each row's segment id (null for a photo without a time)."""
    order = sorted_positions(folder=resolved["folder"], local=resolved["local_time"],
                             name=resolved["file_name"], path=resolved["path"])
    order = order[resolved["local_time"].notna().to_numpy()[order]]
    folder = pc.dictionary_encode(arrow(resolved["folder"])).indices.to_numpy(
        zero_copy_only=False)[order]
    local = resolved["local_time"].to_numpy(dtype="datetime64[ms]")[order].astype(np.int64)
    offset = resolved["utc_offset_minutes"].to_numpy(dtype="float64", na_value=np.nan)[order]
    offset = np.where(np.isnan(offset), NO_OFFSET, offset).astype(np.int64)
    gap = having(resolved["flags"], ["carry_gap"])[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ((folder[1:] != folder[:-1]) | (offset[1:] != offset[:-1])
                  | (np.diff(local) > GAP // pd.Timedelta(milliseconds=1))
                  | (gap[1:] & ~gap[:-1]))
    first = order[starts]
    keys = pc.binary_join_element_wise(
        arrow(resolved["folder"]).take(first), arrow(resolved["path"]).take(first),
        pc.cast(pa.array(offset[starts]), pa.large_string()), _literal("\0"))
    ids = np.array([_short_hash(key) for key in keys.to_pylist()], dtype=object)
    out = np.full(len(resolved), None, dtype=object)
    out[order] = ids[np.cumsum(starts) - 1]
    return pd.Series(out, index=resolved.index, dtype="string")


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _short_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:ID_LENGTH]


def summarize(resolved: pd.DataFrame) -> pd.DataFrame:
    """The segments table (schema.SEGMENTS): one row per segment of the resolved table, in
    order of their first local time. Aggregated on integer codes of the ids, sorted once."""
    rows = resolved.loc[resolved["segment"].notna(), list(SUMMARIZED)]
    code, ids = pd.factorize(rows["segment"])
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(ids)))  # each segment's first row

    def per_segment(values: np.ndarray, reduce: np.ufunc) -> np.ndarray:
        return reduce.reduceat(values[order], bounds) if len(ids) else values[:0]

    local = rows["local_time"].to_numpy(dtype="datetime64[ms]")
    utc = rows["utc_time"].dt.tz_localize(None).to_numpy(dtype="datetime64[ms]")
    words = pc.split_pattern(arrow(rows["flags"]), ";")
    first = order[bounds]
    table = pd.DataFrame({
        "segment": ids,
        "folder": rows["folder"].to_numpy()[first],
        "first_local_time": per_segment(local, np.minimum),
        "last_local_time": per_segment(local, np.maximum),
        "first_utc_time": pd.to_datetime(per_segment(utc, np.minimum)).tz_localize("UTC"),
        "last_utc_time": pd.to_datetime(per_segment(utc, np.maximum)).tz_localize("UTC"),
        "utc_offset_minutes": rows["utc_offset_minutes"].to_numpy()[first],
        "zones": _tally(code, arrow(rows["tz_name"]), len(ids), counted=False),
        "sources": _tally(code, arrow(rows["tz_source"]), len(ids)),
        "flags": _tally(code[pc.list_parent_indices(words).to_numpy()], pc.list_flatten(words),
                        len(ids)),
        "photos": np.bincount(code, minlength=len(ids)),
        "approved": per_segment(is_approved(rows).to_numpy(dtype=np.int64), np.add),
        "needs_a_look": per_segment(needs_a_look(rows["flags"]).astype(np.int64), np.add),
    })
    listed = sorted_positions(local=table["first_local_time"], folder=table["folder"],
                              segment=table["segment"])
    return to_pandas(pa.Table.from_pandas(table.take(listed), schema=SEGMENTS,
                                          preserve_index=False))


def _tally(code: np.ndarray, values: pa.Array, segments: int, counted: bool = True) -> np.ndarray:
    """Per segment code (0..segments-1), its values most frequent first (ties: the first
    seen first), ';'-separated, each with its count ('gps:12;offset:3') when `counted`; None
    where a segment has none (null and empty values are none).

    The values are few distinct words: each (segment, word) pair is one integer, counted by
    one sort; the texts are joined as an Arrow list array cut at each segment's start.
    """
    kept = pc.fill_null(pc.not_equal(values, _literal("")), False)
    encoded = pc.dictionary_encode(values.filter(kept))
    words = max(len(encoded.dictionary), 1)
    word = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pairs, n = np.unique(code[kept.to_numpy(zero_copy_only=False)] * words + word,
                         return_counts=True)
    pair_code, pair_word = np.divmod(pairs, words)
    ordered = np.lexsort((pair_word, -n, pair_code))
    text = pc.take(encoded.dictionary, pa.array(pair_word[ordered]))
    if counted:
        text = pc.binary_join_element_wise(text, pc.cast(pa.array(n[ordered]), pa.large_string()),
                                           _literal(":"))
    offsets = np.searchsorted(pair_code[ordered], np.arange(segments + 1))
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), text),
                            _literal(";"))
    return pc.if_else(pc.equal(joined, ""), None, joined).to_numpy(zero_copy_only=False)


def listing(table: pd.DataFrame, flagged: bool = False, width: int = 120) -> str:
    """The segments table as terminal text, one segment a line, fitted to `width` columns:
    ids whole, times to the minute, the folder under the folders' common parent (cut from
    its left end when it must be), the flags last and whole. `flagged`: only segments with a photo that needs a look."""
    shown = table[table["needs_a_look"] > 0] if flagged else table
    if shown.empty:
        return ("no segment has a photo that needs a look" if flagged and len(table)
                else "no segments: no photo has a time")
    root = os.path.commonpath([os.path.dirname(folder) for folder in table["folder"].unique()])
    columns = {
        "segment": shown["segment"],
        "first local": shown["first_local_time"].dt.strftime("%Y-%m-%d %H:%M"),
        "last local": shown["last_local_time"].dt.strftime("%Y-%m-%d %H:%M"),
        "offset": format_offset(shown["utc_offset_minutes"]).fillna("-"),
        "photos": shown["photos"].astype(str),
        "approved": shown["approved"].astype(str),
        "look": shown["needs_a_look"].astype(str),
        "zones": shown["zones"].fillna("-").str.replace(";", ", "),
        "folder": shown["folder"].str.slice(len(root.rstrip(os.sep)) + 1),
        "flags": shown["flags"].fillna("-").str.replace(";", ", "),
    }
    widths = {name: max(len(name), int(values.str.len().max())) for name, values in
              columns.items()}
    widths["zones"] = min(widths["zones"], ZONES_WIDTH)
    fixed = sum(w + 2 for name, w in widths.items() if name not in ("folder", "flags"))
    widths["folder"] = min(widths["folder"], max(FOLDER_MIN, width - fixed - len("flags")))
    columns["zones"] = _cut(columns["zones"], widths["zones"], keep="start")
    columns["folder"] = _cut(columns["folder"], widths["folder"], keep="end")
    numbers = ("photos", "approved", "look")
    lines = [f"folders under {root}",
             "  ".join(name.rjust(widths[name]) if name in numbers else name.ljust(widths[name])
                       for name in columns).rstrip()]
    padded = [values.str.rjust(widths[name]) if name in numbers
              else values.str.ljust(widths[name]) for name, values in columns.items()]
    lines += padded[0].str.cat(padded[1:], sep="  ").str.rstrip().tolist()
    lines += [f"{len(shown)} segments{f' of {len(table)}' if flagged else ''}: "
              f"{int(shown['photos'].sum())} photos, {int(shown['approved'].sum())} approved, "
              f"{int(shown['needs_a_look'].sum())} need a look (look: photos with a flag that "
              "needs a look)",
              "approve a segment you checked: photoflux approve -w WS --segment ID"]
    return "\n".join(lines)


def _cut(values: pd.Series, width: int, keep: str) -> pd.Series:
    """Texts longer than `width` cut to it with '…', keeping their start or their end."""
    long = values.str.len() > width
    cut = values.str.slice(0, width - 1) + "…" if keep == "start" else (
        "…" + values.str.slice(-(width - 1)))
    return values.where(~long, cut)
