"""The audit a person reads before approving: a workbook (audit.xlsx) and one self-contained page
(audit.html), both built from the resolved table.

Pure functions: they take DataFrames and return bytes or text; the CLI writes them atomically.
xlsxwriter writes the workbook (real date cells, fills, frozen panes and filters, and a
constant-memory mode for big tables); plotly draws the timeline, its JavaScript inlined so the
page opens with no network.
"""
from __future__ import annotations

import html
import io
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xlsxwriter

from .approvals import is_approved
from .overrides import OVERRIDE_COLUMNS
from .vocabulary import TZ_SOURCES, UPLOADED
from .zones import format_offset

#: Above this many timed photos the plot keeps changes, flagged photos and an even sample.
PLOT_MAX_POINTS = 10_000
#: The page's photo table shows at most this many rows (flagged first); the workbook has them all.
TABLE_MAX_ROWS = 5_000

ALL = "(all)"  # summary label: every folder, or every source
NO_SOURCE = "(none)"  # summary label: rows without a time have no tz_source
NO_OVERRIDES = ("No overrides in force: every zone comes from the photos' own evidence, "
                "carry-forward or the default zone.")

SOURCE_COLOURS = {
    "offset": "#1f77b4", "gps": "#2ca02c", "camera": "#bcbd22", "location": "#17becf",
    "takeout": "#e377c2", "carried": "#ff7f0e", "default": "#8c8c8c", "override": "#9467bd",
}
FLAG_OUTLINE = "#c00018"

# The photos sheet: the columns a reviewer reads first, then the rest in schema order.
# The two date-time columns sit together so each row is written in three runs of one format.
_LEAD_TEXT = ["file_name", "folder"]
_DATES = ["local_time", "utc_time"]
_LEAD_REST = ["capture_time_secs_utc", "utc_offset_minutes", "tz_name", "tz_source", "flags",
              "evidence_path", "override_note", "approved", "upload_status", "error"]
_HEADERS = {"local_time": "local_time (camera clock)", "utc_time": "utc_time (UTC)"}
_NOTES = {
    "local_time": "The wall-clock time the camera recorded (after any clock shift), no zone.",
    "utc_time": "The same instant in UTC, shown without a zone: add utc_offset_minutes "
                "to get local_time back.",
    "capture_time_secs_utc": "Seconds since 1970-01-01 UTC: the value uploaded.",
}
_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_FIRST = pd.Timestamp("1900-03-01")  # Excel's serials are wrong before this (1900 leap bug)
_EXCEL_ROWS = 1_048_575  # rows a sheet holds below its header


# ---------------------------------------------------------------------------------------------
# Column helpers (vectorized)

def _text(s: pd.Series) -> pd.Series:
    """A column as strings, '' for nulls."""
    return s.astype("string").fillna("").astype(object)


def _flagged(df: pd.DataFrame) -> np.ndarray:
    """Rows a reviewer must look at: any flag, or a file that could not be read."""
    return ((_text(df["flags"]).str.strip() != "") | (_text(df["error"]).str.strip() != "")).to_numpy(bool)


def _has_flag(df: pd.DataFrame, word: str) -> np.ndarray:
    """Rows whose ';'-separated flags contain `word`."""
    return (";" + _text(df["flags"]) + ";").str.contains(f";{word};", regex=False).to_numpy(bool)


def _naive_utc(ts: pd.Series) -> pd.Series:
    """A tz-aware column as naive UTC (what a spreadsheet cell or a plot axis holds)."""
    return ts.dt.tz_convert("UTC").dt.tz_localize(None)


def _time_text(ts: pd.Series) -> pd.Series:
    """Naive timestamps as 'YYYY-MM-DD HH:MM:SS', with milliseconds only when there are some."""
    full = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").astype("string").str[:23]
    return full.where(ts.dt.microsecond != 0, full.str[:19]).fillna("").astype(object)


def _basename(paths: pd.Series) -> pd.Series:
    """The last component of paths of this system (os.sep; on POSIX a name may hold a backslash)."""
    text = _text(paths)
    if os.altsep:
        text = text.str.replace(os.altsep, os.sep, regex=False)
    return text.str.rsplit(os.sep, n=1).str[-1]


def _evidence_text(df: pd.DataFrame) -> pd.Series:
    """'own' when a photo is its own evidence, else the file name of the photo it relies on."""
    ev = _text(df["evidence_path"])
    shown = (ev != "") & (_text(df["tz_source"]) != "")  # no zone, no evidence to speak of
    return _basename(ev).where(ev != _text(df["path"]), "own").where(shown, "")


def _escape(s: pd.Series) -> pd.Series:
    """HTML-escape a column of strings. Quotes become numeric references, which plotly's hover
    labels decode too (it shows `&quot;` as is)."""
    return (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace('"', "&#34;", regex=False)
            .str.replace("'", "&#39;", regex=False))


def _esc(text: str) -> str:
    """HTML-escape one string."""
    return html.escape(text)


def _flag_counts(df: pd.DataFrame) -> pd.Series:
    """How many photos carry each flag word, most frequent first."""
    words = _text(df["flags"]).str.split(";").explode().str.strip()
    return words[words != ""].value_counts().rename("photos").rename_axis("flag")


def _overrides_table(overrides: pd.DataFrame | None) -> pd.DataFrame:
    """The overrides CSV rows as text, the documented columns first, numbered in file order."""
    if overrides is None or overrides.empty:
        return pd.DataFrame(columns=["rule", *OVERRIDE_COLUMNS])
    extra = [c for c in overrides.columns if c not in OVERRIDE_COLUMNS]
    out = overrides.reindex(columns=[*OVERRIDE_COLUMNS, *extra]).reset_index(drop=True)
    out = out.apply(_text)  # one call per column
    out.insert(0, "rule", range(1, len(out) + 1))
    return out


# ---------------------------------------------------------------------------------------------
# Summary

def summary(resolved: pd.DataFrame) -> pd.DataFrame:
    """Counts per folder and per tz_source, with `(all)` subtotal rows and a grand total last.

    Columns: folder, tz_source, photos, flagged, no_time, approved, uploaded, first_local_time,
    last_local_time. Rows with no time have tz_source `(none)`.
    """
    df = resolved.reset_index(drop=True)
    frame = pd.DataFrame({
        "folder": _text(df["folder"]),
        "tz_source": _text(df["tz_source"]).replace("", NO_SOURCE),
        "photos": 1,
        "flagged": _flagged(df),
        "no_time": df["utc_time"].isna().to_numpy(bool),
        "approved": is_approved(df).to_numpy(),
        "uploaded": df["upload_status"].isin(UPLOADED).to_numpy(bool),
        "first_local_time": df["local_time"].astype("datetime64[ms]"),
        "last_local_time": df["local_time"].astype("datetime64[ms]"),
    })
    aggs = {"photos": "sum", "flagged": "sum", "no_time": "sum", "approved": "sum",
            "uploaded": "sum", "first_local_time": "min", "last_local_time": "max"}
    total = frame.agg(aggs).to_frame().T.assign(folder=ALL, tz_source=ALL)
    parts = [
        frame.groupby(["folder", "tz_source"], sort=False).agg(aggs).reset_index(),
        frame.groupby("folder", sort=False).agg(aggs).reset_index().assign(tz_source=ALL),
        frame.groupby("tz_source", sort=False).agg(aggs).reset_index().assign(folder=ALL),
        total,
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    rank = {s: i for i, s in enumerate((*TZ_SOURCES, NO_SOURCE))}
    out = out.assign(
        _f=(out["folder"] == ALL),
        _s=out["tz_source"].map(rank).fillna(len(rank)).where(out["tz_source"] != ALL, len(rank) + 1),
    ).sort_values(["_f", "folder", "_s", "tz_source"], kind="stable")
    counts = ["photos", "flagged", "no_time", "approved", "uploaded"]
    out[counts] = out[counts].astype("int64")
    for col in ("first_local_time", "last_local_time"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ms]")
    return out[["folder", "tz_source", *counts, "first_local_time", "last_local_time"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Workbook

def _excel_dates(ts: pd.Series) -> list:
    """Naive timestamps as Excel serial days (vectorized); text before 1900, None for NaT."""
    ts = ts.astype("datetime64[ms]")
    days = ((ts - _EXCEL_EPOCH) / pd.Timedelta(days=1)).astype(object)
    early = ts.notna() & (ts < _EXCEL_FIRST)
    days[early] = _time_text(ts[early])
    return days.where(ts.notna(), None).tolist()


def _cells(s: pd.Series) -> list:
    """A column as Python values for xlsxwriter, None for nulls (it rejects NaN and NA)."""
    return s.astype(object).where(s.notna(), None).tolist()


def _width(s: pd.Series, header: str) -> int:
    """A readable column width: the longest value or header, within 8..60 characters."""
    longest = _text(s).str.len().max() if len(s) else 0
    return int(min(max(longest or 0, len(header), 8) + 2, 60))


def workbook_bytes(resolved: pd.DataFrame, overrides: pd.DataFrame | None = None) -> bytes:
    """The audit workbook: sheets `photos` (every row), `summary` and `overrides`, as xlsx bytes.

    Flagged rows (any flag or an error) are filled light red; local_time and utc_time are real
    Excel date-times (utc_time holds the UTC wall clock, the header says so); numbers stay numbers.
    A table longer than a sheet keeps its first 1,048,575 rows, and the summary sheet says so.
    """
    full = resolved.reset_index(drop=True)
    df = full.iloc[:_EXCEL_ROWS]
    notes = [] if len(full) == len(df) else [
        (f"The photos sheet holds the first {len(df):,} of {len(full):,} photos (a sheet's limit); "
         "every row is in audit.csv.")]
    flagged = _flagged(df)
    rest = [c for c in df.columns if c not in _LEAD_TEXT + _DATES + _LEAD_REST]
    runs = [_LEAD_TEXT, _DATES, _LEAD_REST + rest]
    columns = [c for run in runs for c in run]
    data = {c: _cells(df[c]) for c in _LEAD_TEXT + _LEAD_REST + rest}
    data["local_time"] = _excel_dates(df["local_time"])
    data["utc_time"] = _excel_dates(_naive_utc(df["utc_time"]))

    out = io.BytesIO()
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": _DATE_FORMAT}
    with xlsxwriter.Workbook(out, options) as wb:
        head = wb.add_format({"bold": True, "bg_color": "#e8e8e8", "bottom": 1})
        bold = wb.add_format({"bold": True})
        date = wb.add_format({"num_format": _DATE_FORMAT})
        flag = wb.add_format({"bg_color": "#ffd7d7"})
        flag_date = wb.add_format({"bg_color": "#ffd7d7", "num_format": _DATE_FORMAT})

        ws = wb.add_worksheet("photos")
        for i, c in enumerate(columns):
            header = _HEADERS.get(c, c)
            ws.write_string(0, i, header, head)
            if c in _NOTES:
                ws.write_comment(0, i, _NOTES[c])
            ws.set_column(i, i, 24 if c in _DATES else _width(df[c], header))
        ws.freeze_panes(1, 1)
        ws.autofilter(0, 0, len(df), len(columns) - 1)
        a, b = len(_LEAD_TEXT), len(_LEAD_TEXT) + len(_DATES)
        # xlsxwriter writes cell by cell; constant_memory needs rows in order, so one loop per row
        # with three write_row calls (text, dates, rest) whose formats depend only on the flag.
        rows = zip(zip(*(data[c] for c in runs[0])), zip(*(data[c] for c in runs[1])),
                   zip(*(data[c] for c in runs[2])), flagged)
        for r, (lead, dates, tail, is_flagged) in enumerate(rows, start=1):
            ws.write_row(r, 0, lead, flag if is_flagged else None)
            ws.write_row(r, a, dates, flag_date if is_flagged else date)
            ws.write_row(r, b, tail, flag if is_flagged else None)

        _summary_sheet(wb.add_worksheet("summary"), summary(full), _flag_counts(full), notes,
                       head, bold, date)
        _overrides_sheet(wb.add_worksheet("overrides"), _overrides_table(overrides), head)
    return out.getvalue()


def _summary_sheet(ws, table: pd.DataFrame, flags: pd.Series, notes: list[str],
                   head, bold, date) -> None:
    """The summary table (subtotal rows bold), then photos per flag word, then any notes."""
    for i, c in enumerate(table.columns):
        ws.write_string(0, i, c, head)
        ws.set_column(i, i, 24 if "time" in c else _width(table[c], c))
    dates = {c: _excel_dates(table[c]) for c in ("first_local_time", "last_local_time")}
    cells = {c: dates[c] if c in dates else _cells(table[c]) for c in table.columns}
    is_total = ((table["folder"] == ALL) | (table["tz_source"] == ALL)).tolist()
    for r, values in enumerate(zip(*cells.values()), start=1):
        ws.write_row(r, 0, values[:-2], bold if is_total[r - 1] else None)
        ws.write_row(r, len(values) - 2, values[-2:], date)
    ws.freeze_panes(1, 2)
    top = len(table) + 2
    ws.write_row(top, 0, ["flag", "photos"], head)
    for r, (word, n) in enumerate(flags.items(), start=top + 1):
        ws.write_row(r, 0, [word, int(n)])
    if flags.empty:
        ws.write_string(top + 1, 0, "No photo is flagged.")
    for r, text in enumerate(notes, start=top + max(len(flags), 1) + 2):
        ws.write_string(r, 0, text)


def _overrides_sheet(ws, rules: pd.DataFrame, head) -> None:
    """The rules in force, in file order (the later rule wins), or a line saying there are none."""
    for i, c in enumerate(rules.columns):
        ws.write_string(0, i, c, head)
        ws.set_column(i, i, _width(rules[c], c))
    for r, values in enumerate(zip(*(rules[c].tolist() for c in rules.columns)), start=1):
        ws.write_row(r, 0, values)
    note = NO_OVERRIDES if rules.empty else "When several rules match a photo, the later rule wins."
    ws.write_string(len(rules) + 2, 0, note)
    ws.freeze_panes(1, 0)


# ---------------------------------------------------------------------------------------------
# HTML page

def _thin(mask: np.ndarray, budget: int) -> np.ndarray:
    """Indices where `mask` holds, thinned evenly to at most `budget`."""
    idx = np.flatnonzero(mask)
    if len(idx) > budget:
        idx = idx[np.linspace(0, len(idx) - 1, budget).round().astype(int)]
    return idx


def _plot_points(df: pd.DataFrame, flagged: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The timed photos in UTC order, thinned past PLOT_MAX_POINTS, with a note saying how."""
    timed = (df["utc_time"].notna() & df["utc_offset_minutes"].notna()).to_numpy(bool)
    order = np.argsort(_naive_utc(df["utc_time"]).to_numpy()[timed], kind="stable")
    pts, flags = df[timed].iloc[order], flagged[timed][order]
    n = len(pts)
    note = "" if timed.all() else (f"{(~timed).sum():,} photo(s) without a time are not plotted; "
                                    "they are in the tables below.")
    if n <= PLOT_MAX_POINTS:
        return pts, flags, note
    off = pts["utc_offset_minutes"].astype("float64")
    jump = (off.ne(off.shift()) | off.ne(off.shift(-1))).to_numpy(bool)  # both sides of a jump
    quarter = PLOT_MAX_POINTS // 4
    keep = np.union1d(np.union1d(_thin(jump, quarter), _thin(flags, quarter)),
                      _thin(np.ones(n, bool), PLOT_MAX_POINTS // 2))
    note = (f"The plot shows {len(keep):,} of {n:,} timed photos: both sides of every change of "
            f"offset and every flagged photo (each thinned evenly past {quarter:,}), and an even "
            f"sample of the rest. " + note)
    return pts.iloc[keep], flags[keep], note


def _timeline(df: pd.DataFrame, flagged: np.ndarray) -> tuple[str, str]:
    """The timeline plot (plotly, JavaScript inlined) and a note about what it leaves out."""
    pts, flags, note = _plot_points(df, flagged)
    if pts.empty:
        return '<p class="empty">No photo has a time yet: nothing to plot.</p>', note
    x = _time_text(_naive_utc(pts["utc_time"])).to_numpy()
    y = (pts["utc_offset_minutes"].astype("float64") / 60).to_numpy()
    conflict = _has_flag(pts, "conflict")
    custom = np.column_stack([
        _escape(c) for c in (_text(pts["file_name"]), _text(pts["folder"]), _time_text(pts["local_time"]),
                             pd.Series(x, index=pts.index),
                             _text(format_offset(pts["utc_offset_minutes"])),
                             _text(pts["tz_name"]), _text(pts["tz_source"]),
                             _text(pts["flags"]).replace("", "none"), _evidence_text(pts),
                             _text(pts["override_note"]))
    ])
    hover = ("<b>%{customdata[0]}</b><br>%{customdata[1]}<br>local %{customdata[2]}<br>"
             "UTC %{customdata[3]}<br>offset %{customdata[4]} %{customdata[5]}<br>"
             "source %{customdata[6]}<br>flags: %{customdata[7]}<br>evidence: %{customdata[8]}<br>"
             "%{customdata[9]}<extra></extra>")
    size = 8 if len(pts) <= 2_000 else 6 if len(pts) <= 8_000 else 4  # dense plots, smaller dots
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="lines", line={"shape": "hv", "color": "#c8c8c8", "width": 1},
                    name="offset in time order", hoverinfo="skip")
    # Rings drawn under the dots, a little larger: their own legend entries, clickable to hide; hover
    # falls through to the dot.
    dense = size < 8
    rings = (("flagged", flags, "circle-open", 5), ("conflict", conflict, "diamond-open", 9))
    for label, m, symbol, grow in rings:
        fig.add_scatter(x=x[m], y=y[m], mode="markers", name=f"{label} ({m.sum():,})", hoverinfo="skip",
                        legendrank=1001,
                        marker={"color": FLAG_OUTLINE, "symbol": symbol, "size": size + grow // (1 + dense),
                                "opacity": 0.6 if dense else 1, "line": {"width": 1 if dense else 1.5}})
    source = _text(pts["tz_source"]).to_numpy()
    for name in [*TZ_SOURCES, *sorted(set(source) - set(TZ_SOURCES))]:
        m = source == name
        if m.any():
            fig.add_scatter(x=x[m], y=y[m], customdata=custom[m], hovertemplate=hover, mode="markers",
                            name=f"{name or NO_SOURCE} ({m.sum():,})",
                            marker={"color": SOURCE_COLOURS.get(name, "#333333"), "size": size})
    fig.update_layout(
        template="plotly_white", height=440, margin={"l": 60, "r": 20, "t": 10, "b": 50},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "itemsizing": "constant"},
        hovermode="closest", font={"family": "system-ui, sans-serif", "size": 13},
        xaxis={"title": {"text": "capture time (UTC)"}},
        yaxis={"title": {"text": "UTC offset (hours)"}, "zeroline": True},
    )
    plot = fig.to_html(full_html=False, include_plotlyjs=True, div_id="timeline",
                       config={"displaylogo": False, "responsive": True})
    return plot, note


def _html_table(cells: dict[str, pd.Series], table_id: str, row_class: pd.Series | None = None) -> str:
    """A table from already-escaped cell columns, built column-wise."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in cells)
    if not cells or not len(next(iter(cells.values()))):
        return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody></tbody></table>'
    first = next(iter(cells.values()))
    rows = pd.Series("<tr", index=first.index, dtype=object)
    if row_class is not None:
        rows = rows + row_class
    rows = rows + ">"
    for col in cells.values():
        rows = rows + "<td>" + col.astype(object) + "</td>"
    body = "\n".join((rows + "</tr>").tolist())
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _photo_table(df: pd.DataFrame, flagged: np.ndarray) -> tuple[str, str]:
    """The photos, flagged first then in table order, capped at TABLE_MAX_ROWS, and a note."""
    order = np.argsort(~flagged, kind="stable")[:TABLE_MAX_ROWS]
    t, f = df.iloc[order], flagged[order]
    src = _text(t["tz_source"])
    src_class = src.where(src.isin(TZ_SOURCES), "other").where(src != "", "none")
    path = _escape(_text(t["path"]))
    approved = is_approved(t)
    cells = {
        "file": '<span title="' + path + '">' + _escape(_text(t["file_name"])) + "</span>",
        "local time": _time_text(t["local_time"]),
        "UTC time": _time_text(_naive_utc(t["utc_time"])),
        "offset": _text(format_offset(t["utc_offset_minutes"])),
        "zone": _escape(_text(t["tz_name"])),
        "source": '<span class="src ' + src_class + '">' + _escape(src) + "</span>",
        "flags": _escape(_text(t["flags"]).str.replace(";", "; ", regex=False)),
        "error": _escape(_text(t["error"])),
        "evidence": _escape(_evidence_text(t)),
        "override note": _escape(_text(t["override_note"])),
        "approved": approved.map({True: "yes", False: ""}).astype(object),
        "upload": _escape(_text(t["upload_status"])),
        "folder": _escape(_text(t["folder"])),
    }
    row_class = pd.Series(np.where(f, ' class="flag"', ""), index=t.index, dtype=object)
    note = ""
    if len(df) > len(t):
        note = (f"The table shows the first {len(t):,} of {len(df):,} photos (flagged first); "
                "every row is in audit.xlsx and audit.csv.")
    return _html_table(cells, "photos", row_class), note


def _summary_table(table: pd.DataFrame) -> str:
    """The summary as HTML, subtotal rows bold."""
    cells = {c: _escape(_text(table[c])) for c in ("folder", "tz_source")}
    cells.update({c: table[c].map("{:,}".format).astype(object)
                  for c in ("photos", "flagged", "no_time", "approved", "uploaded")})
    cells["first local time"] = _time_text(table["first_local_time"])
    cells["last local time"] = _time_text(table["last_local_time"])
    total = (table["folder"] == ALL) | (table["tz_source"] == ALL)
    return _html_table(cells, "summary", pd.Series(np.where(total, ' class="total"', ""), dtype=object))


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
 background:#fafafa}
header{background:#23374d;color:#fff;padding:14px 24px}
header h1{margin:0 0 4px;font-size:22px}
header .stats span{margin-right:18px;white-space:nowrap}
header .stats b{font-size:17px}
main{padding:8px 24px 40px}
h2{font-size:17px;margin:22px 0 6px}
p.note{color:#555;margin:4px 0;font-size:13px}
p.empty{color:#777;font-style:italic}
section.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.flagwords span{display:inline-block;background:#fde3e3;border:1px solid #f0b4b4;border-radius:10px;
 padding:0 8px;margin:2px 4px 2px 0;font-size:12px}
.scroll{max-height:70vh;overflow:auto;border:1px solid #ddd;background:#fff}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{position:sticky;top:0;background:#eef1f4;z-index:1;white-space:nowrap}
td{white-space:nowrap}
#photos td:nth-child(7),#photos td:nth-child(8),#photos td:nth-child(10){white-space:normal;min-width:10em}
#summary td:nth-child(n+3):nth-child(-n+7){text-align:right}
tr.flag td{background:#fff0f0}
tr.flag td:nth-child(7),tr.flag td:nth-child(8){color:#a0001a;font-weight:600}
tr.total td{font-weight:600;background:#f4f6f8}
.src::before{content:"";display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:5px;background:#333}
.src.none::before{display:none}
""" + "".join(f".src.{s}::before{{background:{c}}}\n" for s, c in SOURCE_COLOURS.items()) + """
.filters{margin:6px 0;display:flex;gap:16px;align-items:center}
.filters input[type=search]{padding:4px 8px;width:22em;font:inherit}
"""

_JS = """
(() => {
  const q = document.getElementById('filter'), only = document.getElementById('only-flagged');
  const rows = Array.from(document.querySelectorAll('#photos tbody tr'));
  const text = rows.map(r => r.textContent.toLowerCase());
  const apply = () => {
    const t = q.value.toLowerCase();
    rows.forEach((r, i) => {
      r.hidden = (only.checked && !r.classList.contains('flag')) || (t !== '' && !text[i].includes(t));
    });
  };
  q.addEventListener('input', apply);
  only.addEventListener('change', apply);
})();
"""


def html_page(resolved: pd.DataFrame, overrides: pd.DataFrame | None = None,
              server: tuple[pd.DataFrame, str] | None = None) -> str:
    """The audit as one self-contained HTML page: headline counts, the timeline of UTC offsets
    coloured by tz_source, the summary, the overrides in force and the photos, flagged first.

    Everything is inlined (plotly.js included) so the file opens with no network; every text
    from the table is escaped.
    """
    df = resolved.reset_index(drop=True)
    flagged = _flagged(df)
    table = summary(df)
    total = table.iloc[-1]
    plot, plot_note = _timeline(df, flagged)
    photos, photos_note = _photo_table(df, flagged)
    flags = _flag_counts(df)
    rules = _overrides_table(overrides)

    stats = "".join(f"<span><b>{v:,}</b> {k}</span>" for k, v in (
        ("photos", len(df)), ("flagged", int(flagged.sum())), ("without a time", int(total["no_time"])),
        ("approved", int(total["approved"])), ("uploaded", int(total["uploaded"]))))
    words = "".join(f"<span>{_esc(w)}: {n:,}</span>" for w, n in flags.items())
    if rules.empty:
        rules_html = f'<p class="empty">{_esc(NO_OVERRIDES)}</p>'
    else:
        rules_html = ('<div class="scroll">'
                      + _html_table({c: _escape(rules[c].astype(str)) for c in rules.columns}, "overrides")
                      + '</div><p class="note">When several rules match a photo, the later rule wins.</p>')

    def note(text: str) -> str:
        return f'<p class="note">{_esc(text)}</p>' if text else ""

    server_html = "" if server is None else (  # reconcile's rows and note (audit_rows/_note)
        f'<h2>On the server</h2>\n{note(server[1])}\n<div class="scroll">'
        + _html_table({c: _escape(server[0][c]) for c in server[0].columns}, "server") + "</div>")

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>photoflux audit</title>
<style>{_CSS}</style>
</head><body>
<header><h1>photoflux audit</h1><div class="stats">{stats}</div></header>
<main>
<div class="flagwords">{words}</div>
<h2>Timeline: UTC offset against capture time</h2>
<p class="note">Each dot is a photo, coloured by where its zone came from; the grey step line
follows the offset in time order, so a jump in zone is a vertical step. Red rings mark flagged
photos, red diamonds conflicts between an offset tag and the GPS clock; click a legend entry to
hide or show it. Hover a dot for its file, flags and evidence; drag to zoom, double-click to
reset.</p>
{note(plot_note)}
<section class="card">{plot}</section>
<h2>Summary per folder and source</h2>
<div class="scroll">{_summary_table(table)}</div>
<h2>Overrides in force</h2>
{rules_html}
{server_html}
<h2>Photos, flagged first</h2>
{note(photos_note)}
<div class="filters"><input type="search" id="filter" placeholder="Filter rows (file, zone, flag...)">
<label><input type="checkbox" id="only-flagged"> flagged only</label></div>
<div class="scroll">{photos}</div>
</main>
<script>{_JS}</script>
</body></html>
"""
