"""The timeline: each photo's UTC offset against its capture time, one trace per segment (its
line never joins unrelated folders), dots coloured by where the zone came from, red rings on
the photos that need a look.

The time axis covers where the photos are: a few photos far from all the others (a scan of
1919 in a library of this century) are drawn at its edge, pointing outwards, instead of
squeezing the rest into a corner. Built as plain plotly JSON (no plotly figure objects), so a
library of thousands of segments costs milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..vocabulary import TZ_SOURCES

#: Above this many timed photos the plot keeps offset changes, photos that need a look and an
#: even sample.
PLOT_MAX_POINTS = 10_000
#: At most this share of the photos (and at least one, from 5 photos on) may lie beyond each
#: end of the time axis, and only when a gap wider than the rest's whole span parts them from it.
OUTLIER_SHARE = 0.05

SOURCE_COLOURS = {
    "offset": "#1f77b4", "gps": "#2ca02c", "camera": "#bcbd22", "location": "#17becf",
    "takeout": "#e377c2", "carried": "#ff7f0e", "default": "#8c8c8c", "override": "#9467bd",
    "track": "#8c564b",
}
OTHER_COLOUR = "#333333"
LOOK_COLOUR = "#c00018"
LINE_COLOUR = "#a9b4c0"
#: plotly_white's looks, spelled out (plotly.js knows no template by name).
LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest",
          "font": {"family": "system-ui, sans-serif", "size": 13, "color": "#2a3f5f"},
          "margin": {"l": 60, "r": 20, "t": 10, "b": 50}}
AXIS = {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#c8d1de",
        "automargin": True}


@dataclass
class Timeline:
    """The plotly figure (None when no photo has a time), the photos it shows (positions in
    the page's photo order) and notes on what it leaves out or moves."""

    figure: dict | None
    shown: np.ndarray
    notes: list[str] = field(default_factory=list)


def thin(mask: np.ndarray, budget: int) -> np.ndarray:
    """Indices where `mask` holds, thinned evenly to at most `budget`."""
    idx = np.flatnonzero(mask)
    if len(idx) > budget:
        idx = idx[np.linspace(0, len(idx) - 1, budget).round().astype(int)]
    return idx


def plot_points(utc: np.ndarray, offset: np.ndarray, look: np.ndarray) -> tuple[np.ndarray, str]:
    """Positions of the timed photos to plot, in UTC order, thinned past PLOT_MAX_POINTS to both
    sides of every offset change, the photos that need a look (each thinned evenly past a
    quarter of it) and an even sample of the rest; and a note saying so."""
    timed = np.flatnonzero(~np.isnat(utc) & ~np.isnan(offset))
    timed = timed[np.argsort(utc[timed], kind="stable")]
    n = len(timed)
    if n <= PLOT_MAX_POINTS:
        return timed, ""
    off = offset[timed]
    jump = np.ones(n, dtype=bool)
    jump[1:-1] = (off[1:-1] != off[:-2]) | (off[1:-1] != off[2:])  # both sides of a change
    quarter = PLOT_MAX_POINTS // 4
    keep = np.union1d(np.union1d(thin(jump, quarter), thin(look[timed], quarter)),
                      thin(np.ones(n, dtype=bool), PLOT_MAX_POINTS // 2))
    return timed[keep], (f"The plot shows {len(keep):,} of {n:,} timed photos: both sides of "
                         f"every change of offset and every photo that needs a look (each "
                         f"thinned evenly past {quarter:,}), and an even sample of the rest.")


def axis_range(times: np.ndarray) -> tuple[np.datetime64, np.datetime64]:
    """The span of the time axis: every photo but a few far-off ones at either end (see
    OUTLIER_SHARE), with a margin of 3 % (at least an hour) on each side."""
    t = np.sort(times.astype("datetime64[ms]").astype(np.int64))
    n = len(t)
    most = max(1, int(n * OUTLIER_SHARE)) if n >= 5 else 0
    low, high = 0, n - 1
    if most:
        k = np.arange(1, most + 1)
        parted = (t[k] - t[k - 1]) > (t[high] - t[k])  # the first k photos far below the rest
        low = int(k[parted].max()) if parted.any() else 0
        k = np.arange(high - 1, high - most - 1, -1)
        parted = (t[k + 1] - t[k]) > (t[k] - t[low])  # the photos after k far above the rest
        high = int(k[parted].min()) if parted.any() else high
    margin = max((t[high] - t[low]) * 0.03, 3_600_000)
    return (np.datetime64(int(t[low] - margin), "ms"), np.datetime64(int(t[high] + margin), "ms"))


def _hours(offset: np.ndarray) -> list:
    return np.round(offset / 60, 4).tolist()


def timeline(photos: pd.DataFrame, segment: np.ndarray, look: np.ndarray) -> Timeline:
    """The timeline of `photos` (the page's photo order: `segment` is each one's position in
    the segments table, -1 for none; `look`: needs a look)."""
    utc = photos["utc_time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ms]")
    offset = photos["utc_offset_minutes"].to_numpy(dtype="float64", na_value=np.nan)
    shown, note = plot_points(utc, offset, look)
    timed = ~np.isnat(utc)
    notes = [note] if note else []
    if (~timed).any():
        notes.append(f"{(~timed).sum():,} photo(s) without a time are not plotted; they are in "
                     "the last row of the segments table.")
    if not len(shown):
        return Timeline(None, shown, notes)
    lo, hi = axis_range(utc[shown])
    x = utc[shown]
    before, after = x < lo, x > hi
    edge = (hi - lo) * 0.015
    x = np.where(before, lo + edge, np.where(after, hi - edge, x))
    if before.any() or after.any():
        notes.append(f"{int(before.sum() + after.sum()):,} photo(s) far from all the others "
                     "(taken in " + ", ".join(sorted({str(t)[:4] for t in utc[shown][before | after]}))
                     + ") are drawn at the edge of the time axis, as ◀ or ▶.")
    x_text = np.datetime_as_string(x, unit="s")
    y = offset[shown]
    sources = photos["tz_source"].astype("string").fillna("").to_numpy(dtype=object)[shown]
    colour = pd.Series(sources).map(SOURCE_COLOURS).fillna(OTHER_COLOUR).to_numpy(dtype=object)
    symbol = np.select([before, after], ["triangle-left", "triangle-right"], "circle")
    size = 8 if len(shown) <= 2_000 else 6 if len(shown) <= 8_000 else 4  # dense plots, small dots
    traces = []
    # One trace per segment; shown is in UTC order, so each segment's points stay in time order.
    seg = segment[shown]
    order = np.argsort(seg, kind="stable")
    bounds = np.flatnonzero(np.diff(seg[order])) + 1
    for part in np.split(order, bounds):
        traces.append({
            "type": "scatter", "mode": "lines+markers", "x": x_text[part].tolist(),
            "y": _hours(y[part]), "customdata": shown[part].tolist(), "hoverinfo": "none",
            "showlegend": False, "line": {"color": LINE_COLOUR, "width": 1},
            "marker": {"color": colour[part].tolist(), "size": size,
                       "symbol": symbol[part].tolist() if (before | after)[part].any() else "circle"},
        })
    looked = look[shown]
    traces.append({
        "type": "scatter", "mode": "markers", "x": x_text[looked].tolist(),
        "y": _hours(y[looked]), "hoverinfo": "skip", "name": f"needs a look ({int(look.sum()):,})",
        "legendrank": 1, "marker": {"color": LOOK_COLOUR, "symbol": "circle-open",
                                    "size": size + 6, "line": {"width": 1.5}},
    })
    counts = pd.Series(photos["tz_source"][timed]).value_counts()
    for name in [*TZ_SOURCES, *sorted(set(counts.index) - set(TZ_SOURCES))]:
        if name in counts:
            traces.append({"type": "scatter", "mode": "markers", "x": [None], "y": [None],
                           "name": f"{name} ({counts[name]:,})", "hoverinfo": "skip",
                           "marker": {"color": SOURCE_COLOURS.get(name, OTHER_COLOUR), "size": 9}})
    layout = {
        **LAYOUT, "height": 440,
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
                   "itemsizing": "constant", "itemclick": False, "itemdoubleclick": False},
        "xaxis": {**AXIS, "title": {"text": "capture time (UTC)"}, "type": "date",
                  "range": [str(lo), str(hi)]},
        "yaxis": {**AXIS, "title": {"text": "UTC offset (hours)"}},
    }
    return Timeline({"data": traces, "layout": layout}, shown, notes)
