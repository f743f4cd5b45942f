"""The audit workbook (audit.xlsx): every photo, the segments, the summary and the overrides.

xlsxwriter writes it: real date cells, fills, frozen panes and filters, and a constant-memory
mode for big tables.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import xlsxwriter

from .columns import kinds, naive_utc, text, time_text
from .tables import ALL, flag_counts, overrides_table, segments_table, summary

NO_OVERRIDES = ("No overrides in force: every zone comes from the photos' own evidence, "
                "carry-forward or the default zone.")

# The photos sheet: the columns a reviewer reads first, then the rest in schema order.
# The two date-time columns sit together so each row is written in three runs of one format.
_LEAD_TEXT = ["file_name", "folder"]
_DATES = ["local_time", "utc_time"]
_LEAD_REST = ["capture_time_secs_utc", "utc_offset_minutes", "tz_name", "tz_source", "flags",
              "segment", "evidence_path", "override_note", "approved", "upload_status", "error"]
_HEADERS = {"local_time": "local_time (camera clock)", "utc_time": "utc_time (UTC)",
            "first_utc_time": "first_utc_time (UTC)", "last_utc_time": "last_utc_time (UTC)"}
_NOTES = {
    "local_time": "The wall-clock time the camera recorded (after any clock shift), no zone.",
    "utc_time": "The same instant in UTC, shown without a zone: add utc_offset_minutes "
                "to get local_time back.",
    "capture_time_secs_utc": "Seconds since 1970-01-01 UTC: the value uploaded.",
}
_SEGMENT_COLUMNS = ["segment", "folder", "first_local_time", "last_local_time", "first_utc_time",
                    "last_utc_time", "utc_offset_minutes", "zones", "sources", "flags", "photos",
                    "needs_a_look", "for_information", "approved", "uploaded"]
_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_FIRST = pd.Timestamp("1900-03-01")  # Excel's serials are wrong before this (1900 leap bug)
_EXCEL_ROWS = 1_048_575  # rows a sheet holds below its header
#: Row fills by kind (pipeline/flags.py): a flag that needs a look, no time; none otherwise.
_FILLS = {"needs_a_look": "#ffd7d7", "never_approvable": "#e4e4e4"}


def _excel_dates(ts: pd.Series) -> list:
    """Naive timestamps as Excel serial days (vectorized); text before 1900, None for NaT."""
    ts = ts.astype("datetime64[ms]")
    days = ((ts - _EXCEL_EPOCH) / pd.Timedelta(days=1)).astype(object)
    early = ts.notna() & (ts < _EXCEL_FIRST)
    days[early] = time_text(ts[early])
    return days.where(ts.notna(), None).tolist()


def _cells(s: pd.Series) -> list:
    """A column as Python values for xlsxwriter, None for nulls (it rejects NaN and NA)."""
    return s.astype(object).where(s.notna(), None).tolist()


def _width(s: pd.Series, header: str) -> int:
    """A readable column width: the longest value or header, within 8..60 characters."""
    longest = text(s).str.len().max() if len(s) else 0
    return int(min(max(longest or 0, len(header), 8) + 2, 60))


def _row_kinds(df: pd.DataFrame) -> list:
    """Each row's fill key (a key of _FILLS, or None)."""
    kind = kinds(df)
    return np.select([kind["needs_a_look"], kind["never_approvable"]], list(_FILLS),
                     None).tolist()


def workbook_bytes(resolved: pd.DataFrame, overrides: pd.DataFrame | None = None,
                   server: tuple[pd.DataFrame, str] | None = None) -> bytes:
    """The audit workbook: sheets `photos` (every row), `segments`, `summary` and `overrides`,
    and `server` once reconcile has listed the server (`server`: reconcile.audit_rows and
    audit_note, as the page's "On the server" section), as xlsx bytes.

    Rows with a flag that needs a look are filled light red, rows without a time grey;
    local_time and utc_time are real Excel date-times (utc_time holds the UTC wall clock, the
    header says so); numbers stay numbers. A table longer than a sheet keeps its first
    1,048,575 rows, and the summary sheet says so.
    """
    full = resolved.reset_index(drop=True)
    df = full.iloc[:_EXCEL_ROWS]
    notes = [] if len(full) == len(df) else [
        (f"The photos sheet holds the first {len(df):,} of {len(full):,} photos (a sheet's limit); "
         "every row is in audit.csv.")]
    rest = [c for c in df.columns if c not in _LEAD_TEXT + _DATES + _LEAD_REST]
    runs = [_LEAD_TEXT, _DATES, _LEAD_REST + rest]
    columns = [c for run in runs for c in run]
    data = {c: _cells(df[c]) for c in _LEAD_TEXT + _LEAD_REST + rest}
    data["local_time"] = _excel_dates(df["local_time"])
    data["utc_time"] = _excel_dates(naive_utc(df["utc_time"]))

    out = io.BytesIO()
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": _DATE_FORMAT}
    with xlsxwriter.Workbook(out, options) as wb:
        formats = {"head": wb.add_format({"bold": True, "bg_color": "#e8e8e8", "bottom": 1}),
                   "bold": wb.add_format({"bold": True}),
                   "date": wb.add_format({"num_format": _DATE_FORMAT}), None: None}
        for kind, colour in _FILLS.items():
            formats[kind] = wb.add_format({"bg_color": colour})
            formats[kind, "date"] = wb.add_format({"bg_color": colour, "num_format": _DATE_FORMAT})
        formats[None, "date"] = formats["date"]

        ws = wb.add_worksheet("photos")
        _header(ws, columns, df, _DATES, formats["head"])
        ws.freeze_panes(1, 1)
        ws.autofilter(0, 0, len(df), len(columns) - 1)
        a, b = len(_LEAD_TEXT), len(_LEAD_TEXT) + len(_DATES)
        # xlsxwriter writes cell by cell; constant_memory needs rows in order, so one loop per row
        # with three write_row calls (text, dates, rest) whose formats depend only on its kind.
        rows = zip(zip(*(data[c] for c in runs[0])), zip(*(data[c] for c in runs[1])),
                   zip(*(data[c] for c in runs[2])), _row_kinds(df))
        for r, (lead, dates, tail, kind) in enumerate(rows, start=1):
            ws.write_row(r, 0, lead, formats[kind])
            ws.write_row(r, a, dates, formats[kind, "date"])
            ws.write_row(r, b, tail, formats[kind])

        _segments_sheet(wb.add_worksheet("segments"), segments_table(full), formats)
        _summary_sheet(wb.add_worksheet("summary"), summary(full), flag_counts(full), notes,
                       formats)
        _overrides_sheet(wb.add_worksheet("overrides"), overrides_table(overrides),
                         formats["head"])
        if server is not None:
            _server_sheet(wb.add_worksheet("server"), *server, formats["head"])
    return out.getvalue()


def _header(ws, columns: list[str], df: pd.DataFrame, dates: list[str], head) -> None:
    """The header row (with the notes as comments) and the column widths."""
    for i, c in enumerate(columns):
        header = _HEADERS.get(c, c)
        ws.write_string(0, i, header, head)
        if c in _NOTES:
            ws.write_comment(0, i, _NOTES[c])
        ws.set_column(i, i, 24 if c in dates else _width(df[c], header))


def _segments_sheet(ws, table: pd.DataFrame, formats: dict) -> None:
    """One row per segment in order of first local time; those with photos that need a look
    filled light red."""
    table = table[_SEGMENT_COLUMNS]
    dates = [c for c in _SEGMENT_COLUMNS if c.endswith("_time")]
    _header(ws, _SEGMENT_COLUMNS, table, dates, formats["head"])
    cells = {c: _cells(table[c]) for c in _SEGMENT_COLUMNS}
    for c in dates:
        values = table[c] if table[c].dt.tz is None else naive_utc(table[c])
        cells[c] = _excel_dates(values)
    look = (table["needs_a_look"] > 0).tolist()
    for r, values in enumerate(zip(*cells.values()), start=1):
        kind = "needs_a_look" if look[r - 1] else None
        for i, (c, value) in enumerate(zip(_SEGMENT_COLUMNS, values)):
            ws.write(r, i, value, formats[kind, "date"] if c in dates else formats[kind])
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, len(table), len(_SEGMENT_COLUMNS) - 1)


def _summary_sheet(ws, table: pd.DataFrame, flags: pd.DataFrame, notes: list[str],
                   formats: dict) -> None:
    """The summary table (subtotal rows bold), then photos per flag and its kind, then notes."""
    head = formats["head"]
    for i, c in enumerate(table.columns):
        ws.write_string(0, i, c, head)
        ws.set_column(i, i, 24 if "time" in c else _width(table[c], c))
    dates = {c: _excel_dates(table[c]) for c in ("first_local_time", "last_local_time")}
    cells = {c: dates[c] if c in dates else _cells(table[c]) for c in table.columns}
    is_total = ((table["folder"] == ALL) | (table["tz_source"] == ALL)).tolist()
    for r, values in enumerate(zip(*cells.values()), start=1):
        ws.write_row(r, 0, values[:-2], formats["bold"] if is_total[r - 1] else None)
        ws.write_row(r, len(values) - 2, values[-2:], formats["date"])
    ws.freeze_panes(1, 2)
    top = len(table) + 2
    ws.write_row(top, 0, list(flags.columns), head)
    for r, values in enumerate(zip(*(flags[c].tolist() for c in flags.columns)), start=top + 1):
        ws.write_row(r, 0, values)
    if flags.empty:
        ws.write_string(top + 1, 0, "No photo is flagged.")
    for r, line in enumerate(notes, start=top + max(len(flags), 1) + 2):
        ws.write_string(r, 0, line)


def _server_sheet(ws, rows: pd.DataFrame, note: str, head) -> None:
    """Each server copy and its verdict, the ones to act on first, under the listing's note."""
    ws.write_string(0, 0, note)
    for i, c in enumerate(rows.columns):
        ws.write_string(1, i, c, head)
        ws.set_column(i, i, _width(rows[c], c))
    for r, values in enumerate(zip(*(rows[c].tolist() for c in rows.columns)), start=2):
        ws.write_row(r, 0, values)
    ws.freeze_panes(2, 0)
    ws.autofilter(1, 0, len(rows) + 1, len(rows.columns) - 1)


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
