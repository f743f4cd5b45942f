"""The map: every photo with a position (as resolve reads it: EXIF GPS, then XMP, then
Takeout's; never 0/0) on a world map, coloured by its zone, so a beach in "Berlin" stands out.

plotly draws a map's land, coastlines and borders from TopoJSON it fetches from its CDN unless
the page already holds it: the outlines ship with photoflux (world_110m.json, Natural Earth
1:110m, see world_110m.md) and `outlines_script` hands them to plotly, so the page stays offline.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..resolve import position
from .plot import LAYOUT, thin

OUTLINES = Path(__file__).with_name("world_110m.json")
#: Above this many photos with a position, the map shows an even sample of them.
MAP_MAX_POINTS = 10_000
#: Zones take these colours in turn, the zone with most photos first.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b",
           "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39"]
NO_ZONE = "(no zone)"
#: The smallest span shown, in degrees: a library from one city still shows its country.
MIN_SPAN = 30.0


@dataclass
class WorldMap:
    """The plotly figure (None when no photo has a position), the photos it shows (positions
    in the page's photo order) and notes."""

    figure: dict | None
    shown: np.ndarray
    notes: list[str] = field(default_factory=list)


@cache
def outlines_script() -> str:
    """JavaScript that gives plotly the shipped outlines before it draws a map (it looks in
    window.PlotlyGeoAssets before fetching)."""
    return "window.PlotlyGeoAssets={topojson:{world_110m:" + OUTLINES.read_text("utf-8") + "}};"


def _span(values: np.ndarray, low: float, high: float, least: float = MIN_SPAN) -> list[float]:
    """An axis range around `values`: a margin of 15 %, at least `least` wide, within bounds."""
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * 0.15, (least - (hi - lo)) / 2, 0)
    return [max(low, lo - pad), min(high, hi + pad)]


def world_map(photos: pd.DataFrame) -> WorldMap:
    """The map of `photos` (the page's photo order)."""
    lat, lon, _ = position(photos)
    lat, lon = lat.to_numpy(), lon.to_numpy()
    placed = ~np.isnan(lat)
    shown = thin(placed, MAP_MAX_POINTS)
    notes = []
    if not len(shown):
        return WorldMap(None, shown, notes)
    if len(shown) < placed.sum():
        notes.append(f"The map shows an even sample of {len(shown):,} of the {int(placed.sum()):,} "
                     "photos with a position.")
    zones = photos["tz_name"].astype("string").fillna(NO_ZONE).to_numpy(dtype=object)[shown]
    counts = pd.Series(zones).value_counts()
    traces = []
    for i, (zone, n) in enumerate(counts.items()):
        part = shown[zones == zone]
        traces.append({
            "type": "scattergeo", "mode": "markers", "lat": lat[part].tolist(),
            "lon": lon[part].tolist(), "customdata": part.tolist(), "hoverinfo": "none",
            "name": f"{zone} ({n:,})",
            "marker": {"color": PALETTE[i % len(PALETTE)], "size": 7, "opacity": 0.85,
                       "line": {"color": "white", "width": 0.5}},
        })
    lon_range = _span(lon[shown], -180, 180)
    geo = {
        "scope": "world", "resolution": 110, "projection": {"type": "natural earth"},
        "showland": True, "landcolor": "#eef0ea", "showcountries": True,
        "countrycolor": "#c3c9c0", "showcoastlines": True, "coastlinecolor": "#9aa59a",
        "showocean": False, "bgcolor": "#f5f9fc", "showframe": False,
        "lonaxis": {"range": lon_range},
        # at least half as tall as wide, as the projection draws the world: never a thin strip
        "lataxis": {"range": _span(lat[shown], -90, 90, (lon_range[1] - lon_range[0]) / 2)},
    }
    layout = {**LAYOUT, "height": 460, "geo": geo, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
              "legend": {"title": {"text": "zone (photos)"}, "itemsizing": "constant"}}
    return WorldMap({"data": traces, "layout": layout}, shown, notes)
