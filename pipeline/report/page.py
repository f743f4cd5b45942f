"""The audit page (audit.html): segments first, each with a contact sheet of its photos and
expandable to them, then the timeline, the map, the counts per folder and source and the
overrides in force. One self-contained file (plotly.js, the map's outlines and, within a
budget, the thumbnails inlined), so it opens with no network.

The page is built in two steps, because the thumbnails it wants come from files: `Page.build`
lays the page out from the tables (pure), `Page.wanted` says which thumbnails it could show,
and `Page.render` writes the HTML around the thumbnails it was given. The page is a list of
sections (`Section`), so a stage can add its own (`render(..., sections=...)`).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from .. import flags as registry
from ..approvals import is_approved
from ..text import sorted_positions
from ..vocabulary import TZ_SOURCES, UPLOADED
from ..zones import format_offset
from .columns import esc, escape, evidence_text, kinds, naive_utc, relative, text, time_text
from .plot import SOURCE_COLOURS, Timeline, timeline
from .tables import ALL, COUNTS, overrides_table, segments_table, summary
from .workbook import NO_OVERRIDES
from .worldmap import WorldMap, outlines_script, world_map

#: Photos in each segment's contact sheet, evenly spaced from its first to its last.
CONTACT = 6
#: The page holds its thumbnails itself up to this many photos and this many bytes; past
#: either it refers to copies beside it (THUMBS_DIR) and says so.
INLINE_MAX_PHOTOS = 10_000
INLINE_MAX_BYTES = 25_000_000
THUMBS_DIR = "audit_thumbs"
NO_TIME = "without a time"  # the segments table's last row: photos in no segment


@dataclass
class Section:
    """One part of the page: an anchor id, a heading and its HTML (already escaped)."""

    id: str
    title: str
    html: str


@dataclass
class Rendered:
    """The page's HTML, and the thumbnails it refers to beside it (file name under
    THUMBS_DIR -> sha256 of the photo), empty when it holds them itself."""

    html: str
    beside: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Page:
    """The page laid out: the photos in page order (segment by segment in the segments
    table's order, each in capture order; photos without a time last), the segments with
    each one's range of photos, the contact sheets, the timeline and the map."""

    photos: pd.DataFrame
    segments: pd.DataFrame  # segments_table, plus start/end: its photos are photos[start:end]
    no_time: tuple[int, int]  # the range of the photos without a time
    contact: np.ndarray  # photo positions of the contact sheets' pictures (sorted)
    timeline: Timeline
    map: WorldMap
    summary: pd.DataFrame
    rules: pd.DataFrame
    roots: list[str]

    @classmethod
    def build(cls, resolved: pd.DataFrame, overrides: pd.DataFrame | None = None,
              roots: list[str] | tuple = ()) -> Page:
        """Lay out the page of `resolved` (with its `segment` column); `roots`: the folders
        extract read, which paths are shown relative to."""
        df = resolved.reset_index(drop=True)
        segments = segments_table(df)
        rank = pd.Series(np.arange(len(segments)), index=segments["segment"].to_numpy())
        seg = df["segment"].map(rank).fillna(len(segments)).astype("int64")
        order = sorted_positions(segment=seg, local=df["local_time"], name=df["file_name"],
                                 path=df["path"])
        photos = df.iloc[order].reset_index(drop=True)
        position = seg.to_numpy()[order]
        bounds = np.searchsorted(position, np.arange(len(segments) + 2))
        segments = segments.assign(start=bounds[:-2], end=bounds[1:-1])
        kind = kinds(photos)
        return cls(
            photos=photos, segments=segments, no_time=(int(bounds[-2]), len(photos)),
            contact=_contact(bounds[:-1], bounds[1:]),  # the segments' and the untimed photos'
            timeline=timeline(photos, np.where(position < len(segments), position, -1),
                              kind["needs_a_look"]),
            map=world_map(photos), summary=summary(df), rules=overrides_table(overrides),
            roots=list(roots),
        )

    def wanted(self) -> pd.DataFrame:
        """The photos whose thumbnails the page can show (columns path, sha256, file_type):
        the contact sheets' first, then the plot's and the map's."""
        positions = pd.unique(np.concatenate([self.contact, self.timeline.shown, self.map.shown]))
        return self.photos.iloc[positions][["path", "sha256", "file_type"]]

    def render(self, jpegs: dict[str, bytes] | None = None,
               sections: list[Section] | tuple = ()) -> Rendered:
        """The page's HTML, with the thumbnails of `jpegs` (by sha256) and `sections` added
        after the page's own."""
        jpegs = jpegs or {}
        notes = []
        body = [self._segments_section(), self._timeline_section(), self._map_section(),
                self._summary_section(), self._overrides_section(), *sections]
        header = self._header()
        shell = _shell(header, body, self.timeline.figure, self.map.figure)  # without data
        sha = text(self.photos["sha256"]).to_numpy(dtype=object)
        has = pd.Series(sha).isin(jpegs.keys()).to_numpy()
        candidates = pd.unique(np.concatenate([self.contact, self.timeline.shown,
                                               self.map.shown]).astype(np.int64))
        candidates = candidates[has[candidates]]
        unique_sha = pd.unique(sha[candidates])
        sizes = np.array([4 * -(-len(jpegs[s]) // 3) + 30 for s in unique_sha])  # data URI
        photo_data = _script_literal(self._photo_data())
        fixed = len(shell.encode("utf-8")) + len(photo_data.encode("utf-8")) + 6 * len(sha)
        in_sheets = pd.Series(unique_sha).isin(set(sha[self.contact])).to_numpy()
        beside = (len(self.photos) > INLINE_MAX_PHOTOS
                  or fixed + sizes[in_sheets].sum() > INLINE_MAX_BYTES)
        if beside:
            kept = unique_sha
            uris = [f"{THUMBS_DIR}/{s}.jpg" for s in kept]
            why = (f"more than {INLINE_MAX_PHOTOS:,} photos" if len(self.photos) > INLINE_MAX_PHOTOS
                   else f"more than {INLINE_MAX_BYTES / 1e6:.0f} MB")
            notes.append(f"The thumbnails are in {THUMBS_DIR}/ beside this page ({why} would "
                         "not fit in one file): keep the folder with it.")
        else:
            room = INLINE_MAX_BYTES - fixed
            fits = in_sheets | (np.cumsum(np.where(in_sheets, 0, sizes)) + sizes[in_sheets].sum()
                                <= room)
            kept = unique_sha[fits]
            uris = ["data:image/jpeg;base64," + base64.b64encode(jpegs[s]).decode("ascii")
                    for s in kept]
            hover = pd.Series(sha[self.timeline.shown]).isin(set(kept)).sum()
            if not fits.all():
                notes.append(f"Hovering shows the thumbnail of {hover:,} of the "
                             f"{len(self.timeline.shown):,} photos in the plot (the page keeps "
                             f"under {INLINE_MAX_BYTES / 1e6:.0f} MB).")
        index = pd.Series(np.arange(len(kept)), index=kept, dtype="int64")
        thumb = pd.Series(sha).map(index).fillna(-1).astype("int64").to_numpy()
        missing = len(self.contact) - int((thumb[self.contact] >= 0).sum())
        if missing:
            notes.append(f"{missing:,} photo(s) of the contact sheets have no thumbnail (a "
                         "file that is gone, changed since extract, or cannot be decoded).")
        data = (photo_data + ";\nPHOTOS.thumb=" + _script_literal(thumb.tolist())
                + ";\nconst THUMBS=" + _script_literal(uris))
        page = _shell(header, body, self.timeline.figure, self.map.figure, data,
                      "".join(f'<p class="note">{esc(n)}</p>' for n in notes))
        return Rendered(page, {f"{s}.jpg": s for s in kept} if beside else {}, notes)

    # ------------------------------------------------------------------------------------------
    # sections

    def _header(self) -> str:
        counts = registry.counts(self.photos)
        approved = int(is_approved(self.photos).sum())
        uploaded = int(self.photos["upload_status"].isin(UPLOADED).sum())
        stats = [("photos", counts["photos"], "every photo in the resolved table"),
                 ("needs_a_look", counts["needs_a_look"], "a time, and a flag that needs a look"),
                 ("for_information", counts["for_information"],
                  "a time, and only flags for information"),
                 ("unflagged", counts["unflagged"], "a time and no flag"),
                 ("no_time", counts["never_approvable"], "no time: never approvable"),
                 ("segments", len(self.segments), "runs of photos in one folder and offset"),
                 ("approved", approved, "approval holds"), ("uploaded", uploaded, "on the server")]
        words = {"needs_a_look": "need a look", "for_information": "for information only",
                 "no_time": NO_TIME}
        spans = "".join(f'<span id="count-{k}" title="{esc(why)}"><b>{n:,}</b> '
                        f'{esc(words.get(k, k))}</span>' for k, n, why in stats)
        by_flag = counts["by_flag"]
        legend = "".join(
            f'<li class="{_kind_class(f.kind)}" title="{esc(f.meaning)}"><code>{esc(f.name)}</code> '
            f"{by_flag[f.name]:,}</li>" for f in registry.REGISTRY if f.name in by_flag)
        return (f'<header><h1>photoflux audit</h1><div class="stats">{spans}</div></header>'
                f'<div class="legend"><p class="note">Each photo counts once: with a time and a '
                f"flag that needs a look (red), with flags for information only (grey), with a "
                f"time and no flag, or without a time. Photos per flag (a photo with two flags "
                f'counts under both; hover for its meaning):</p><ul id="flags">{legend}</ul></div>')

    def _segments_section(self) -> Section:
        seg = self.segments
        relative_folder = escape(relative(seg["folder"], self.roots))
        first = seg["first_local_time"].dt.strftime("%Y-%m-%d %H:%M")
        last = seg["last_local_time"].dt.strftime("%Y-%m-%d %H:%M")
        same_day = first.str[:10] == last.str[:10]
        cells = {
            "": pd.Series("▸", index=seg.index, dtype=object),
            "contact sheet": _sheets(seg["start"].to_numpy(), self.contact[
                self.contact < self.no_time[0]]),
            "folder": '<span title="' + escape(text(seg["folder"])) + '">' + relative_folder + "</span>",
            "local time": (first + " → " + last.where(~same_day, last.str[11:])).astype(object),
            "offset": text(format_offset(seg["utc_offset_minutes"])),
            "zones": escape(text(seg["zones"]).str.replace(";", "; ", regex=False)),
            "sources": escape(text(seg["sources"]).str.replace(";", "; ", regex=False)),
            "flags": _flag_words(text(seg["flags"])),
            **{c.replace("_", " "): seg[c].map("{:,}".format).astype(object)
               for c in ("photos", "needs_a_look", "for_information", "approved")},
            "segment": escape(text(seg["segment"])),
        }
        rows = ('<tr class="seg' + np.where(seg["needs_a_look"] > 0, " look", "") + '" data-start="'
                + seg["start"].astype(str) + '" data-end="' + seg["end"].astype(str) + '" data-look="'
                + (seg["needs_a_look"] > 0).astype(int).astype(str) + '">')
        start, end = self.no_time
        if end > start:
            cells = {c: pd.concat([v, pd.Series([""], dtype=object)], ignore_index=True)
                     for c, v in cells.items()}
            cells[""].iloc[-1] = "▸"
            cells["folder"].iloc[-1] = f"({NO_TIME})"
            cells["contact sheet"].iloc[-1] = _sheets(np.array([start]), self.contact[
                self.contact >= start]).iloc[0]
            cells["photos"].iloc[-1] = f"{end - start:,}"
            rows = pd.concat([rows, pd.Series([f'<tr class="seg none" data-start="{start}" '
                                               f'data-end="{end}" data-look="0">'])],
                             ignore_index=True)
        table = _table(cells, "segments", rows.reset_index(drop=True))
        return Section("segments", "Segments: runs of photos in one folder and offset", f"""
<p class="note">A segment is a run of photos in capture order within one folder; a new one starts
where the folder or the UTC offset changes, after a gap of more than 6 hours, or where a zone was
carried across a gap. Its contact sheet shows up to {CONTACT} photos spread over it: a night shot
at "noon" or a beach in the wrong country stands out. Click a segment to list its photos.</p>
<div class="filters"><input type="search" id="filter" placeholder="Filter segments (folder, zone,
flag...)"> <label><input type="checkbox" id="only-look"> only segments that need a look</label></div>
<div class="scroll tall">{table}</div>""")

    def _timeline_section(self) -> Section:
        notes = "".join(f'<p class="note">{esc(n)}</p>' for n in self.timeline.notes)
        if self.timeline.figure is None:
            return Section("timeline", "Timeline", notes
                           + '<p class="empty">No photo has a time yet: nothing to plot.</p>')
        return Section("timeline", "Timeline: UTC offset against capture time", f"""
<p class="note">Each dot is a photo, coloured by where its zone came from; a grey line joins the
photos of one segment, so a change of zone is a step between segments. Red rings mark photos that
need a look. Hover a dot for its thumbnail and details; drag to zoom, double-click to reset.</p>
{notes}<div class="card"><div id="timeline" class="plot"></div></div>""")

    def _map_section(self) -> Section:
        notes = "".join(f'<p class="note">{esc(n)}</p>' for n in self.map.notes)
        if self.map.figure is None:
            return Section("map", "Map", notes + '<p class="empty">No photo has a position.</p>')
        return Section("map", "Map: where the photos with a position were taken", f"""
<p class="note">Coloured by the zone resolve gave them: a photo whose colour differs from its
neighbours' has a zone that does not match where it was taken. A diamond is where the location
history put a photo without a position of its own; a red line joins a photo's own position to the
track's where they lie far apart (track_conflict). Hover a dot for its photo.</p>
{notes}<div class="card"><div id="map" class="plot"></div></div>""")

    def _summary_section(self) -> Section:
        table = self.summary
        cells = {"folder": escape(relative(table["folder"], self.roots).where(
                     table["folder"] != ALL, ALL)),
                 "tz_source": escape(text(table["tz_source"]))}
        cells.update({c: table[c].map("{:,}".format).astype(object) for c in COUNTS})
        cells["first local time"] = time_text(table["first_local_time"])
        cells["last local time"] = time_text(table["last_local_time"])
        total = (table["folder"] == ALL) | (table["tz_source"] == ALL)
        rows = pd.Series(np.where(total, '<tr class="total">', "<tr>"), dtype=object)
        return Section("summary", "Per folder and source",
                       f'<div class="scroll">{_table(cells, "summary", rows)}</div>')

    def _overrides_section(self) -> Section:
        rules = self.rules
        if rules.empty:
            return Section("overrides", "Overrides in force", f'<p class="empty">{esc(NO_OVERRIDES)}</p>')
        cells = {c: escape(rules[c].astype(str)) for c in rules.columns}
        rows = pd.Series("<tr>", index=rules.index, dtype=object)
        return Section("overrides", "Overrides in force",
                       f'<div class="scroll">{_table(cells, "overrides", rows)}</div>'
                       '<p class="note">When several rules match a photo, the later rule wins.</p>')

    def _photo_data(self) -> dict:
        """The photos as columns for the page's script (the expanded segments and the hover)."""
        p = self.photos
        kind = kinds(p)
        return {
            "file": relative(p["path"], self.roots).tolist(), "path": text(p["path"]).tolist(),
            "local": time_text(p["local_time"]).tolist(),
            "utc": time_text(naive_utc(p["utc_time"])).tolist(),
            "offset": text(format_offset(p["utc_offset_minutes"])).tolist(),
            "zone": text(p["tz_name"]).tolist(), "source": text(p["tz_source"]).tolist(),
            "flags": text(p["flags"]).tolist(), "look": kind["needs_a_look"].astype(int).tolist(),
            "evidence": evidence_text(p).tolist(), "note": text(p["override_note"]).tolist(),
            "approved": is_approved(p).astype(int).tolist(),
            "upload": text(p["upload_status"]).tolist(), "error": text(p["error"]).tolist(),
        }


def html_page(resolved: pd.DataFrame, overrides: pd.DataFrame | None = None,
              roots: list[str] | tuple = (), jpegs: dict[str, bytes] | None = None) -> str:
    """The page's HTML in one call (thumbnails from `jpegs`, by sha256, when given)."""
    return Page.build(resolved, overrides, roots).render(jpegs).html


# ---------------------------------------------------------------------------------------------
# helpers

def _contact(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per segment, up to CONTACT photo positions evenly spaced from its first to its last."""
    n = end - start
    k = np.minimum(n, CONTACT)
    which = np.repeat(np.arange(len(n)), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)  # 0..k-1 within each segment
    step = (n[which] - 1) / np.maximum(k[which] - 1, 1)
    return (start[which] + np.round(j * step)).astype(np.int64)


def _sheets(start: np.ndarray, contact: np.ndarray) -> pd.Series:
    """The contact sheet of each range of photos beginning at `start` (its pictures: those of
    `contact` in it): <img> placeholders the script fills from THUMBS."""
    owner = np.searchsorted(start, contact, side="right") - 1
    tags = pd.Series('<img class="thumb" alt="" data-p="' + contact.astype(str) + '">')
    joined = tags.groupby(owner).sum()
    return pd.Series(joined.reindex(np.arange(len(start)), fill_value="").to_numpy(), dtype=object)


def _kind_class(kind: str) -> str:
    return {registry.NEEDS_A_LOOK: "look", registry.FOR_INFORMATION: "info"}.get(kind, "never")


@cache
def _word_classes() -> dict[str, str]:
    return {f.name: _kind_class(f.kind) for f in registry.REGISTRY}


def _flag_words(counted: pd.Series) -> pd.Series:
    """'carry_gap:2;shifted:1' as words marked by their kind (needs a look in red)."""
    codes, distinct = pd.factorize(counted)
    html = []
    for value in distinct:  # few distinct flag tallies: one loop per tally, not per row
        words = [w for w in value.split(";") if w]
        html.append(" ".join(f'<span class="flag {_word_classes().get(w.split(":")[0], "look")}">'
                             f"{esc(w)}</span>" for w in words))
    return pd.Series(np.array(html, dtype=object)[codes] if len(distinct) else [""] * len(counted),
                     index=counted.index, dtype=object)


def _table(cells: dict[str, pd.Series], table_id: str, rows: pd.Series) -> str:
    """A table from already-escaped cell columns and each row's opening tag, built column-wise."""
    head = "".join(f'<th class="c-{esc(h.replace(" ", "-")) or "open"}">{esc(h)}</th>'
                   for h in cells)
    rows = rows.reset_index(drop=True).astype(object)
    for col in cells.values():
        rows = rows + "<td>" + col.reset_index(drop=True).astype(object) + "</td>"
    body = "\n".join((rows + "</tr>").tolist())
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _script_literal(value) -> str:
    """A value as a JavaScript literal safe inside <script> (no '</' can end it early)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _shell(header: str, sections: list[Section], timeline_figure: dict | None,
           map_figure: dict | None, data: str = "null", notes: str = "") -> str:
    """The whole page: `data` the script's photos and thumbnails, `notes` what the page says
    of itself under the header (HTML)."""
    from plotly.offline import get_plotlyjs

    plotted = timeline_figure is not None or map_figure is not None
    nav = " · ".join(f'<a href="#section-{esc(s.id)}">{esc(s.title.split(":")[0])}</a>' for s in sections)
    body = "\n".join(f'<section id="section-{esc(s.id)}"><h2>{esc(s.title)}</h2>'
                     f"{s.html}</section>" for s in sections)
    figures = (f"const FIGURES={{timeline:{_script_literal(timeline_figure)},"
               f"map:{_script_literal(map_figure)}}};")
    libraries = ((f"<script>{outlines_script()}</script>" if map_figure is not None else "")
                 + (f"<script>{get_plotlyjs()}</script>" if plotted else ""))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>photoflux audit</title>
<style>{_CSS}</style>
</head><body>
{header}
<div class="legend">{notes}</div>
<nav>{nav}</nav>
<main>
{body}
</main>
<div id="tip" hidden></div>
{libraries}
<script>const PHOTOS={data};
{figures}
{_JS}</script>
</body></html>
"""


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
 background:#fafafa}
header{background:#23374d;color:#fff;padding:14px 24px}
header h1{margin:0 0 4px;font-size:22px}
header .stats span{margin-right:18px;white-space:nowrap}
header .stats b{font-size:17px}
nav{padding:6px 24px;background:#eef1f4;font-size:13px}
.legend{padding:4px 24px}
.legend ul{list-style:none;margin:2px 0;padding:0}
.legend li{display:inline-block;border-radius:10px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px}
main{padding:0 24px 40px}
h2{font-size:17px;margin:22px 0 6px}
p.note{color:#555;margin:4px 0;font-size:13px;max-width:75em}
p.empty{color:#777;font-style:italic}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.plot{height:440px}
.look{background:#fde3e3;border:1px solid #f0b4b4;color:#a0001a}
.info{background:#eceff2;border:1px solid #d3d8de;color:#445}
.never{background:#e4e4e4;border:1px solid #bbb}
span.flag{display:inline-block;border-radius:8px;padding:0 6px;margin:1px 2px;font-size:12px}
.scroll{max-height:70vh;overflow:auto;border:1px solid #ddd;background:#fff}
.scroll.tall{max-height:85vh}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{position:sticky;top:0;background:#eef1f4;z-index:1;white-space:nowrap}
td{white-space:nowrap}
tr.seg>td:nth-child(3) span{display:inline-block;max-width:22em;overflow:hidden;
 text-overflow:ellipsis;vertical-align:top}
tr.seg>td:nth-child(6),tr.seg>td:nth-child(7),tr.seg>td:nth-child(8){white-space:normal;min-width:8em}
tr.seg>td:nth-child(2){min-width:12em}
tr.seg>td:nth-child(n+9):nth-child(-n+12),#summary td:nth-child(n+3):nth-child(-n+8){text-align:right}
tr.seg{cursor:pointer}
tr.seg.look>td:first-child{box-shadow:inset 3px 0 #c00018}
tr.seg.open>td{background:#f3f6fa}
tr.total td{font-weight:600;background:#f4f6f8}
img.thumb{height:48px;margin-right:3px;border-radius:2px;vertical-align:middle;background:#ddd}
img.small{height:36px;border-radius:2px}
tr.detail>td{padding:4px 4px 10px 28px;background:#f3f6fa}
table.photos{table-layout:auto;background:#fff}
table.photos td.file{max-width:26em;overflow:hidden;text-overflow:ellipsis}
table.photos td.flags{white-space:normal;min-width:10em}
table.photos tr.look td{background:#fff0f0}
.src::before{content:"";display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:5px;background:#333}
""" + "".join(f".src.{s}::before{{background:{c}}}\n" for s, c in SOURCE_COLOURS.items()) + """
.filters{margin:6px 0;display:flex;gap:16px;align-items:center}
.filters input[type=search]{padding:4px 8px;width:22em;font:inherit}
#tip{position:fixed;z-index:10;background:#fff;border:1px solid #999;border-radius:4px;padding:6px;
 font-size:12px;max-width:340px;box-shadow:0 2px 8px rgba(0,0,0,.25);pointer-events:none}
#tip img{display:block;max-width:160px;max-height:160px;margin-bottom:4px}
"""

_JS = """
const SOURCES = new Set(%s);
const thumbSrc = i => PHOTOS.thumb[i] >= 0 ? THUMBS[PHOTOS.thumb[i]] : null;
const el = (tag, props = {}, kids = []) => {
  const e = Object.assign(document.createElement(tag), props);
  kids.forEach(k => e.append(k));
  return e;
};
document.querySelectorAll('img[data-p]').forEach(img => {
  const src = thumbSrc(+img.dataset.p);
  img.title = PHOTOS.file[+img.dataset.p];
  if (src) { img.loading = 'lazy'; img.src = src; } else { img.classList.add('missing'); }
});
const COLUMNS = ['', 'file', 'local time', 'offset', 'zone', 'source', 'flags', 'UTC time',
                 'evidence', 'override note', 'approved', 'upload', 'error'];
function photoRow(i) {
  const src = thumbSrc(i), p = PHOTOS, s = p.source[i];
  const cell = (t, cls) => el('td', {textContent: t, className: cls || ''});
  const source = el('td', {}, [el('span', {className: 'src ' + (s === '' ? 'none' : SOURCES.has(s) ? s : 'other'), textContent: s})]);
  const file = cell(p.file[i], 'file');
  file.title = p.path[i];
  return el('tr', {className: p.look[i] ? 'look' : ''}, [
    el('td', {}, src ? [el('img', {className: 'small', src: src, loading: 'lazy', alt: ''})] : []),
    file, cell(p.local[i]), cell(p.offset[i]), cell(p.zone[i]), source,
    cell(p.flags[i].replaceAll(';', '; '), 'flags'), cell(p.utc[i]), cell(p.evidence[i]),
    cell(p.note[i]), cell(p.approved[i] ? 'yes' : ''), cell(p.upload[i]), cell(p.error[i])]);
}
function toggle(row) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains('detail')) {
    next.hidden = !next.hidden;
  } else {
    const table = el('table', {className: 'photos'}, [
      el('thead', {}, [el('tr', {}, COLUMNS.map(c => el('th', {textContent: c})))]),
      el('tbody', {}, Array.from({length: row.dataset.end - row.dataset.start},
                                 (_, k) => photoRow(+row.dataset.start + k)))]);
    const td = el('td', {colSpan: row.children.length}, [table]);
    row.after(el('tr', {className: 'detail'}, [td]));
  }
  row.classList.toggle('open');
  row.cells[0].textContent = row.classList.contains('open') ? '▾' : '▸';
}
document.querySelectorAll('#segments tr.seg').forEach(r => r.addEventListener('click', () => toggle(r)));
const filter = document.getElementById('filter'), onlyLook = document.getElementById('only-look');
const segRows = Array.from(document.querySelectorAll('#segments tr.seg'));
const segText = segRows.map(r => r.textContent.toLowerCase());
function applyFilter() {
  const t = filter.value.toLowerCase();
  segRows.forEach((r, i) => {
    r.hidden = (onlyLook.checked && r.dataset.look !== '1') || (t !== '' && !segText[i].includes(t));
    const next = r.nextElementSibling;
    if (next && next.classList.contains('detail') && r.hidden) next.hidden = true;
  });
}
filter.addEventListener('input', applyFilter);
onlyLook.addEventListener('change', applyFilter);
const tip = document.getElementById('tip');
function showTip(i, event, extra) {
  const p = PHOTOS, src = thumbSrc(i);
  tip.replaceChildren(...(src ? [el('img', {src: src, alt: ''})] : []),
    el('b', {textContent: p.file[i]}), el('br'),
    document.createTextNode(`local ${p.local[i]} · UTC ${p.utc[i]}`), el('br'),
    document.createTextNode(`offset ${p.offset[i]} ${p.zone[i]} · source ${p.source[i]}`), el('br'),
    document.createTextNode(`flags: ${p.flags[i] || 'none'} · evidence: ${p.evidence[i]}`),
    ...(p.note[i] ? [el('br'), document.createTextNode(p.note[i])] : []),
    ...(extra ? [el('br'), el('b', {textContent: extra})] : []));
  tip.hidden = false;
  const x = event.clientX, y = event.clientY, w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.max(4, x + 16 + w > innerWidth ? x - w - 16 : x + 16) + 'px';
  tip.style.top = Math.max(4, y + 16 + h > innerHeight ? y - h - 16 : y + 16) + 'px';
}
for (const [id, figure] of Object.entries(FIGURES)) {
  const div = document.getElementById(id);
  if (!figure || !div) continue;
  Plotly.newPlot(div, figure.data, figure.layout, {displaylogo: false, responsive: true});
  div.on('plotly_hover', e => {
    const pt = e.points[0];
    if (pt && typeof pt.customdata === 'number') showTip(pt.customdata, e.event, pt.text);
  });
  div.on('plotly_unhover', () => { tip.hidden = true; });
}
""" % json.dumps(list(TZ_SOURCES))


def server_section(rows: pd.DataFrame, note: str) -> Section:
    """What the last reconcile found on the server (reconcile.audit_rows and audit_note): the
    section the page gains once `photoflux reconcile` has listed the server."""
    cells = {c: escape(rows[c].astype("string").fillna("")) for c in rows.columns}
    table = _table(cells, "server", pd.Series("<tr>", index=rows.index, dtype=object))
    return Section("server", "On the server",
                   f'<p class="note">{esc(note)}</p><div class="scroll">{table}</div>')
