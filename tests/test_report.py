"""The audit report: summary counts, the workbook read back with openpyxl, and the HTML page
opened in a real headless chromium.

Set PHOTOFLUX_SCREENSHOT=path.png to keep the browser test's screenshot of the page.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline import report
from pipeline.schema import RESOLVED, conform, empty

WEIRD = "<img src=x onerror=alert(1)> & \"quo'te\" café Ωμέγα.jpg"  # no '/': a file name
CJK = "写真 0003.jpg"
FORMULA = "=SUM(A1).jpg"


def frame(rows: list[dict]) -> pd.DataFrame:
    """A resolved table from a few rows (missing columns null), cast to the RESOLVED dtypes."""
    base = empty(RESOLVED)
    df = pd.DataFrame(rows, columns=base.columns).astype(base.dtypes.to_dict())
    conform(df, RESOLVED)  # the test data itself matches the schema
    return df


def photo(name, folder="/photos/trip", local=None, offset=None, source=None, flags="", **extra):
    """One row: local wall clock and offset (minutes) give utc_time and capture_time_secs_utc."""
    row = {"path": f"{folder}/{name}", "folder": folder, "file_name": name, "flags": flags,
           "approved": False, "evidence_path": f"{folder}/{name}" if source else None,
           "tz_source": source, "utc_offset_minutes": offset}
    if local is not None:
        lt = pd.Timestamp(local)
        utc = (lt - pd.Timedelta(minutes=offset)).tz_localize("UTC")
        row.update(local_time=lt, utc_time=utc, capture_time_secs_utc=utc.timestamp(),
                   tz_name=f"{'+' if offset >= 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}")
    row.update(extra)
    return row


@pytest.fixture
def resolved() -> pd.DataFrame:
    """Eight photos: clean, conflict, carried with a gap, a weird name, no time, an unreadable file,
    an override with milliseconds, and a scanned print from 1898 in another folder."""
    return frame([
        photo("IMG_0001.jpg", local="2021-09-10 18:00:00", offset=540, source="offset",
              approved=True, upload_status="uploaded"),
        photo("IMG_0002.jpg", local="2021-09-10 18:05:00", offset=540, source="offset", flags="conflict"),
        photo(CJK, local="2021-09-14 09:00:00", offset=540, source="carried", flags="carry_gap",
              evidence_path="/photos/trip/IMG_0002.jpg"),
        photo(WEIRD, local="2021-09-15 12:00:00", offset=120, source="default", flags="ambiguous;gps_lag"),
        photo("IMG_0005.jpg", flags="no_time"),
        photo("broken.jpg", error="cannot read: truncated JPEG"),
        photo(FORMULA, local="2021-09-16 10:00:00.070", offset=-180, source="override", flags="shifted",
              override_note="camera 42 min fast", approved=True),
        photo("scan_1898.tif", folder="/photos/scans", local="1898-07-01 09:00:00", offset=0,
              source="default"),
    ])


@pytest.fixture
def overrides() -> pd.DataFrame:
    """Two rules as the overrides CSV holds them (text, empty cells)."""
    return pd.DataFrame({
        "path_glob": ["*/trip/*", ""], "first": ["", "IMG_0100"], "last": ["", "IMG_0199"],
        "local_from": ["", ""], "local_to": ["", ""], "tz": ["-03:00", "Asia/Tokyo"],
        "mode": ["fallback", "override"], "shift": ["-00:42:00", ""], "note": ["fast camera", "<Tokyo>"],
    })


def synthetic(n: int, seed: int = 5) -> pd.DataFrame:
    """A trip of `n` photos (Berlin, Tokyo, New York, Berlin) built column-wise: runs of sources,
    carried runs, a camera left on Berlin time in Tokyo, a few conflicts and lags, no-time rows,
    a weird file name (the fourth) and an unreadable file (the last)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    utc = pd.Timestamp("2019-03-20 08:00") + pd.to_timedelta(np.cumsum(rng.integers(60, 5400, n)), unit="s")
    leg = np.searchsorted([0.3, 0.55, 0.8], i / max(n, 1), side="right")
    place = np.array(["Berlin", "Tokyo", "New York", "Berlin again"])[leg]
    zone = np.array(["Europe/Berlin", "Asia/Tokyo", "America/New_York", "Europe/Berlin"])[leg]
    offset = np.array([60, 540, -240, 120])[leg]
    offset = np.where((leg == 0) & (utc >= pd.Timestamp("2019-03-31 01:00")), 120, offset)
    source = rng.choice(["offset", "gps", "location", "carried", "default"], p=[.4, .25, .1, .2, .05],
                        size=n // 8 + 1)[i // 8]
    stuck = (leg == 1) & (rng.random(n) < 0.06)  # a camera still on Berlin summer time
    offset, zone, source = np.where(stuck, 120, offset), np.where(stuck, "Europe/Berlin", zone), \
        np.where(stuck, "default", source)
    roll = rng.random(n)
    flags = np.select([roll < 0.02, roll < 0.04, (source == "carried") & (roll < 0.1), roll > 0.995],
                      ["conflict", "gps_lag", "carry_gap", "no_time"], "")
    broken = i == n - 1  # the last file could not be read
    timed = (flags != "no_time") & ~broken
    names = pd.Series(i + 1).map("IMG_{:05d}.jpg".format).where(i != 3, WEIRD)
    folder = "/photos/2019 " + pd.Series(place)
    path = folder + "/" + names
    local = (utc + pd.to_timedelta(offset, unit="min")).astype("datetime64[ms]")
    utc_aware = utc.tz_localize("UTC").astype("datetime64[ms, UTC]")
    approved = (flags == "") & timed & (rng.random(n) < 0.6)
    df = empty(RESOLVED).reindex(range(n))
    df = df.assign(
        path=path, folder=folder, file_name=names,
        local_time=pd.Series(local).where(timed), utc_time=pd.Series(utc_aware).where(timed),
        capture_time_secs_utc=np.where(timed, (utc - pd.Timestamp(0)) / pd.Timedelta(seconds=1), np.nan),
        utc_offset_minutes=pd.array(np.where(timed, offset, 0), dtype="Int32"),
        tz_name=np.where(timed, zone, None), tz_source=np.where(timed, source, None),
        evidence_path=path.where(source != "carried", path.shift(1).fillna(path)),
        flags=flags, approved=approved, error=np.where(broken, "cannot read: truncated JPEG", None),
        upload_status=np.where(approved & (rng.random(n) < 0.5), "uploaded", ""),
    )
    df.loc[~timed, "utc_offset_minutes"] = pd.NA
    return df.astype(empty(RESOLVED).dtypes.to_dict())


# ---------------------------------------------------------------------------------------------
# summary

def test_summary_counts_per_folder_and_source(resolved):
    s = report.summary(resolved).set_index(["folder", "tz_source"])
    trip = s.loc[("/photos/trip", report.ALL)]
    assert trip[["photos", "flagged", "no_time", "approved", "uploaded"]].tolist() == [7, 6, 2, 2, 1]
    assert trip["first_local_time"] == pd.Timestamp("2021-09-10 18:00:00")
    assert trip["last_local_time"] == pd.Timestamp("2021-09-16 10:00:00.070")
    assert s.loc[("/photos/trip", "offset"), "photos"] == 2
    assert s.loc[("/photos/trip", report.NO_SOURCE), "no_time"] == 2  # no_time and the error row
    assert s.loc[(report.ALL, "default"), "photos"] == 2  # across both folders
    assert s.loc[(report.ALL, report.ALL), "photos"] == 8
    # real folders first, sources in TZ_SOURCES order, subtotal rows after their parts, total last
    table = report.summary(resolved)
    assert table.iloc[-1][["folder", "tz_source"]].tolist() == [report.ALL, report.ALL]
    trip_sources = table[table["folder"] == "/photos/trip"]["tz_source"].tolist()
    assert trip_sources == ["override", "offset", "carried", "default", report.NO_SOURCE, report.ALL]


def test_summary_of_empty_table_is_a_zero_total():
    s = report.summary(empty(RESOLVED))
    assert len(s) == 1 and s.iloc[0]["photos"] == 0 and pd.isna(s.iloc[0]["first_local_time"])


# ---------------------------------------------------------------------------------------------
# workbook

def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def header(ws) -> list:
    return [c.value for c in ws[1]]


def test_workbook_reads_back(resolved, overrides):
    wb = load(report.workbook_bytes(resolved, overrides))
    assert wb.sheetnames == ["photos", "summary", "overrides"]
    ws = wb["photos"]
    cols = header(ws)
    assert cols[:4] == ["file_name", "folder", "local_time (camera clock)", "utc_time (UTC)"]
    assert len(cols) == len(RESOLVED.names)
    assert ws.max_row == len(resolved) + 1
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(cols))}{len(resolved) + 1}"
    rows = {r[0]: dict(zip(cols, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    first = rows["IMG_0001.jpg"]
    assert first["local_time (camera clock)"] == dt.datetime(2021, 9, 10, 18, 0)
    assert first["utc_time (UTC)"] == dt.datetime(2021, 9, 10, 9, 0)  # naive UTC
    assert first["capture_time_secs_utc"] == 1631264400  # a number, not text
    assert first["utc_offset_minutes"] == 540 and first["approved"] is True
    ms = rows[FORMULA]["local_time (camera clock)"]  # a string, not a formula; milliseconds kept
    assert abs(ms - dt.datetime(2021, 9, 16, 10, 0, 0, 70000)) < dt.timedelta(milliseconds=1)
    assert rows[WEIRD]["flags"] == "ambiguous;gps_lag"
    assert rows[CJK]["evidence_path"] == "/photos/trip/IMG_0002.jpg"
    assert rows["broken.jpg"]["local_time (camera clock)"] is None
    assert rows["scan_1898.tif"]["local_time (camera clock)"] == "1898-07-01 09:00:00"  # Excel has no 1898
    assert ws["C2"].number_format == report._DATE_FORMAT and ws["C1"].comment is not None

    fills = {r[0].value: r[0].fill.fgColor.rgb for r in ws.iter_rows(min_row=2)}
    assert fills["IMG_0002.jpg"] == fills["broken.jpg"] == "FFFFD7D7"  # flag, error highlighted
    assert fills["IMG_0001.jpg"] != "FFFFD7D7"
    flagged_date = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "IMG_0002.jpg")[2]
    assert flagged_date.fill.fgColor.rgb == "FFFFD7D7" and flagged_date.is_date

    summary = wb["summary"]
    assert header(summary)[:3] == ["folder", "tz_source", "photos"]
    trip = next(r for r in summary.iter_rows(min_row=2, values_only=True)
                if r[:2] == ("/photos/trip", "offset"))
    assert trip[2] == 2 and trip[7] == dt.datetime(2021, 9, 10, 18, 0)
    assert any(r == ("conflict", 1) for r in summary.iter_rows(values_only=True, max_col=2))

    rules = wb["overrides"]
    assert header(rules) == ["rule", *report.OVERRIDE_COLUMNS]
    assert [c.value for c in rules[2]][:2] == [1, "*/trip/*"]
    cells = [dict(zip(header(rules), (c.value for c in row))) for row in rules.iter_rows(min_row=2)]
    assert cells[0]["mode"] == "fallback" and cells[0]["shift"] == "-00:42:00"
    assert cells[1]["note"] == "<Tokyo>"


def test_workbook_of_empty_table_without_overrides():
    wb = load(report.workbook_bytes(empty(RESOLVED), None))
    assert wb["photos"].max_row == 1 and len(header(wb["photos"])) == len(RESOLVED.names)
    assert wb["overrides"]["A3"].value == report.NO_OVERRIDES
    assert wb["summary"]["C2"].value == 0


def test_workbook_longer_than_a_sheet_says_so(resolved, monkeypatch):
    monkeypatch.setattr(report, "_EXCEL_ROWS", 3)
    wb = load(report.workbook_bytes(resolved, None))
    assert wb["photos"].max_row == 4
    notes = [r[0] for r in wb["summary"].iter_rows(values_only=True) if r[0] and "first 3 of 8" in str(r[0])]
    assert len(notes) == 1
    total = next(r for r in wb["summary"].iter_rows(values_only=True) if r[:2] == (report.ALL, report.ALL))
    assert total[2] == 8  # the summary counts every photo


# ---------------------------------------------------------------------------------------------
# HTML page

def test_html_page_is_self_contained_and_escaped(resolved, overrides):
    page = report.html_page(resolved, overrides)
    assert page.count("<script src") == 0 and "<link" not in page and "@import" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quo&#39;te&#34; café Ωμέγα.jpg" in page
    assert CJK in page
    assert WEIRD not in page
    assert "&lt;Tokyo&gt;" in page and "<Tokyo>" not in page
    assert 'id="timeline"' in page
    body = page.split('id="photos"')[1]
    positions = [body.index(n) for n in ("IMG_0002.jpg", "IMG_0005.jpg", "broken.jpg", "IMG_0001.jpg")]
    assert positions == sorted(positions)  # flagged rows (incl. no-time, error) before clean ones
    assert "not plotted" in page  # the rows with no time are said to be missing from the plot


def test_html_page_of_empty_table():
    page = report.html_page(empty(RESOLVED), None)
    assert "nothing to plot" in page and report.NO_OVERRIDES.split(":")[0] in page
    assert "plotly" not in page.lower()  # no data, no 4 MB of JavaScript


def test_big_tables_are_capped_and_thinned_with_a_note(monkeypatch):
    monkeypatch.setattr(report, "TABLE_MAX_ROWS", 50)
    monkeypatch.setattr(report, "PLOT_MAX_POINTS", 300)
    df = synthetic(600)
    flagged = report._flagged(df)
    pts, _, note = report._plot_points(df, flagged)
    timed = df["utc_time"].notna().sum()
    assert len(pts) <= 300 and f"of {timed:,} timed photos" in note
    assert set(df.loc[flagged & df["utc_time"].notna().to_numpy(), "file_name"]) <= set(pts["file_name"])
    shown = set(pts["file_name"])
    times = df[df["utc_time"].notna()].sort_values("utc_time")
    offset = times["utc_offset_minutes"].astype("float64")
    jump = offset.ne(offset.shift())
    assert set(times.loc[jump, "file_name"]) <= shown  # every offset jump survives thinning
    page = report.html_page(df, None)
    assert "first 50 of 600 photos" in page
    assert page.split('id="photos"')[1].count("<tr") == 51  # header + 50


# ---------------------------------------------------------------------------------------------
# the page in a real browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    exe = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not exe:
        pytest.skip("no chromium: install Debian's package (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:  # a broken or sandboxed install: say why, don't fail the suite
            pytest.skip(f"playwright cannot launch {exe}: {exc}")
        yield b
        b.close()


def test_page_renders_in_chromium(browser, overrides, tmp_path):
    df = synthetic(240)
    page_file = tmp_path / "audit.html"
    page_file.write_text(report.html_page(df, overrides), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
            else problems.append(f"network: {r.url}"))
    page.goto(page_file.as_uri())
    page.wait_for_selector("#timeline .scatterlayer .point", timeout=20_000)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("PHOTOFLUX_SCREENSHOT"):
        target = Path(os.environ["PHOTOFLUX_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

    assert page.locator("#timeline .main-svg").count() > 0
    assert page.locator("#timeline .scatterlayer .point").count() >= len(df) - df["utc_time"].isna().sum()
    assert page.locator("#photos tbody tr").count() == len(df)
    assert "flag" in page.locator("#photos tbody tr").first.get_attribute("class")
    assert page.locator("#summary tbody tr").count() == len(report.summary(df))
    weird = page.locator("#photos tbody td:first-child", has_text="Ωμέγα")
    assert weird.count() == 1 and weird.inner_text() == WEIRD  # escaped in the source, exact on screen

    # hover the weird photo's dot: the label shows its name exactly, quotes included
    x, y = page.evaluate("""name => {
        const gd = document.getElementById('timeline'), r = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        for (const tr of gd._fullData) {
            const i = (tr.customdata || []).findIndex(c => c[0].includes(name));
            if (i >= 0) return [r.left + xa._offset + xa.d2p(tr.x[i]), r.top + ya._offset + ya.d2p(tr.y[i])];
        }
    }""", "Ωμέγα")
    page.mouse.move(x, y)
    label = page.locator("#timeline .hoverlayer .hovertext")
    label.wait_for(timeout=5_000)
    assert WEIRD in label.text_content()

    page.fill("#filter", "america/new_york")
    assert page.locator("#photos tbody tr:visible").count() == (df["tz_name"] == "America/New_York").sum()
    page.fill("#filter", "")
    page.check("#only-flagged")
    assert page.locator("#photos tbody tr:visible").count() == int(report._flagged(df).sum())
    assert problems == []
    page.close()
