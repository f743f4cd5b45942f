"""The map: every photo with a position (as resolve reads it: EXIF GPS, then XMP, then
Takeout's; never 0/0) on a world map, coloured by its zone, so a beach in "Berlin" stands out.
A photo without one that the location history places (track_lat, track_lon) is a diamond in
the same colours; a photo flagged track_conflict shows both, a red line joining its own
position to the track's.

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

from ..flags import having
from ..resolve import position
from .plot import LAYOUT, LOOK_COLOUR, thin

OUTLINES = Path(__file__).with_name("world_110m.json")
#: Above this many photos with a position, the map shows an even sample of them.
MAP_MAX_POINTS = 10_000
#: Zones take these colours in turn, the zone with most photos first.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b",
           "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39"]
NO_ZONE = "(no zone)"
#: The smallest span shown, in degrees: a library from one city still shows its country.
MIN_SPAN = 30.0
#: The marker of a photo where the track put it, and of its own position.
TRACK_SYMBOL, OWN_SYMBOL = "diamond", "circle"


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


def _track_positions(photos: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """track_lat, track_lon, track_gap_minutes as floats (NaN where none; all NaN for a table
    resolved before tracks)."""
    return tuple(photos[name].to_numpy(dtype="float64", na_value=np.nan) if name in photos
                 else np.full(len(photos), np.nan)
                 for name in ("track_lat", "track_lon", "track_gap_minutes"))


def _markers(zone: str, label: str, colour: str, rows: np.ndarray, lat: np.ndarray,
             lon: np.ndarray, symbol: str, text: list | None = None) -> dict:
    """One trace of one zone's photo markers: `rows` their positions in the page's photo
    order, `text` what the hover adds."""
    trace = {"type": "scattergeo", "mode": "markers", "lat": lat[rows].tolist(),
             "lon": lon[rows].tolist(), "customdata": rows.tolist(), "hoverinfo": "none",
             "name": f"{zone}{label} ({len(rows):,})", "legendgroup": zone,
             "marker": {"color": colour, "size": 7, "opacity": 0.85, "symbol": symbol,
                        "line": {"color": "white", "width": 0.5}}}
    if text is not None:
        trace["text"] = text
    return trace


def _conflict_lines(rows: np.ndarray, lat, lon, track_lat, track_lon) -> dict:
    """One trace of lines, each from a photo's own position to the track's (None between)."""
    def joined(own, track):
        ends = np.column_stack([own[rows], track[rows], np.full(len(rows), np.nan)]).ravel()
        return pd.Series(ends, dtype=object).where(~np.isnan(ends), None).tolist()
    return {"type": "scattergeo", "mode": "lines", "lat": joined(lat, track_lat),
            "lon": joined(lon, track_lon), "hoverinfo": "skip",
            "name": f"own GPS ↔ track, track_conflict ({len(rows):,})",
            "line": {"color": LOOK_COLOUR, "width": 1.5}}


def world_map(photos: pd.DataFrame) -> WorldMap:
    """The map of `photos` (the page's photo order)."""
    lat, lon, _ = position(photos)
    lat, lon = lat.to_numpy(), lon.to_numpy()
    track_lat, track_lon, gap = _track_positions(photos)
    own = ~np.isnan(lat)
    tracked = ~np.isnan(track_lat)
    conflict = own & tracked & having(photos["flags"], ["track_conflict"])
    by_track = tracked & (~own | conflict)  # where a diamond goes
    placed = own | by_track
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
    for i, zone in enumerate(counts.index):
        part = shown[zones == zone]
        colour = PALETTE[i % len(PALETTE)]
        mine, placed_by_track = part[own[part]], part[by_track[part]]
        if len(mine):
            traces.append(_markers(zone, "", colour, mine, lat, lon, OWN_SYMBOL))
        if len(placed_by_track):
            minutes = pd.Series(gap[placed_by_track]).round().astype("Int64").astype(str)
            traces.append(_markers(zone, " · track", colour, placed_by_track, track_lat,
                                   track_lon, TRACK_SYMBOL, ("track, " + minutes + " min off").tolist()))
    if conflict[shown].any():
        traces.append(_conflict_lines(shown[conflict[shown]], lat, lon, track_lat, track_lon))
    every_lat = np.concatenate([lat[shown[own[shown]]], track_lat[shown[by_track[shown]]]])
    every_lon = np.concatenate([lon[shown[own[shown]]], track_lon[shown[by_track[shown]]]])
    lon_range = _span(every_lon, -180, 180)
    geo = {
        "scope": "world", "resolution": 110, "projection": {"type": "natural earth"},
        "showland": True, "landcolor": "#eef0ea", "showcountries": True,
        "countrycolor": "#c3c9c0", "showcoastlines": True, "coastlinecolor": "#9aa59a",
        "showocean": False, "bgcolor": "#f5f9fc", "showframe": False,
        "lonaxis": {"range": lon_range},
        # at least half as tall as wide, as the projection draws the world: never a thin strip
        "lataxis": {"range": _span(every_lat, -90, 90, (lon_range[1] - lon_range[0]) / 2)},
    }
    layout = {**LAYOUT, "height": 460, "geo": geo, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
              "legend": {"title": {"text": "zone (photos)"}, "itemsizing": "constant"}}
    return WorldMap({"data": traces, "layout": layout}, shown, notes)
