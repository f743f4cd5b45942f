"""The audit report: summary counts, the workbook read back with openpyxl, the page's layout
(segments, plot, map, thumbnails and their budget), and the page opened in a real headless
chromium.

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

from click.testing import CliRunner

from pipeline import report
from pipeline.cli import main
from pipeline.overrides import OVERRIDE_COLUMNS
from pipeline.report import columns, page as page_module, plot, thumbs
from pipeline.sample import MIN_COUNT, SAMPLE_DEFAULT_TZ, TRACK_NAME, write_sample
from pipeline.schema import RESOLVED, conform, empty
from pipeline.segments import segment_ids
from pipeline.workspace import Workspace

WEIRD = "<img src=x onerror=alert(1)> & \"quo'te\" café Ωμέγα.jpg"  # no '/': a file name
CJK = "写真 0003.jpg"
FORMULA = "=SUM(A1).jpg"


def frame(rows: list[dict]) -> pd.DataFrame:
    """A resolved table from a few rows (missing columns null), cast to the RESOLVED dtypes."""
    base = empty(RESOLVED)
    df = pd.DataFrame(rows, columns=base.columns).astype(base.dtypes.to_dict())
    df["segment"] = segment_ids(df)
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
        photo("broken.jpg", flags="no_time", error="cannot read: truncated JPEG"),
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
    df.loc[broken, "flags"] = "no_time"
    centres = {"Europe/Berlin": (52.5, 13.4), "Asia/Tokyo": (35.7, 139.7), "America/New_York": (40.7, -74.0)}
    placed = timed & (source == "gps")  # the phones with a position
    for at, axis in enumerate(("gps_lat", "gps_lon")):
        centre = np.select([zone == z for z in centres], [c[at] for c in centres.values()], np.nan)
        df[axis] = np.where(placed, centre + rng.normal(0, 0.2, n), np.nan)
    df = df.astype(empty(RESOLVED).dtypes.to_dict())
    df["segment"] = segment_ids(df)
    return df



# ---------------------------------------------------------------------------------------------
# summary and workbook

def test_summary_counts_each_photo_once_by_kind(resolved):
    s = report.summary(resolved).set_index(["folder", "tz_source"])
    trip = s.loc[("/photos/trip", report.ALL)]
    counts = ["photos", "needs_a_look", "for_information", "no_time", "approved", "uploaded"]
    assert trip[counts].tolist() == [7, 3, 1, 2, 2, 1]
    assert trip["first_local_time"] == pd.Timestamp("2021-09-10 18:00:00")
    assert s.loc[("/photos/trip", report.NO_SOURCE), "no_time"] == 2  # no_time and the unreadable file
    assert s.loc[(report.ALL, "default"), "photos"] == 2  # across both folders
    table = report.summary(resolved)
    assert table.iloc[-1][["folder", "tz_source"]].tolist() == [report.ALL, report.ALL]
    assert table[table["folder"] == "/photos/trip"]["tz_source"].tolist() == [
        "override", "offset", "carried", "default", report.NO_SOURCE, report.ALL]


def test_summary_of_empty_table_is_a_zero_total():
    s = report.summary(empty(RESOLVED))
    assert len(s) == 1 and s.iloc[0]["photos"] == 0 and pd.isna(s.iloc[0]["first_local_time"])


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def header(ws) -> list:
    return [c.value for c in ws[1]]


def test_workbook_reads_back_with_a_segments_sheet(resolved, overrides):
    wb = load(report.workbook_bytes(resolved, overrides))
    assert wb.sheetnames == ["photos", "segments", "summary", "overrides"]
    ws = wb["photos"]
    cols = header(ws)
    assert cols[:4] == ["file_name", "folder", "local_time (camera clock)", "utc_time (UTC)"]
    assert len(cols) == len(RESOLVED.names) and ws.max_row == len(resolved) + 1
    assert ws.freeze_panes == "B2"
    rows = {r[0]: dict(zip(cols, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    first = rows["IMG_0001.jpg"]
    assert first["local_time (camera clock)"] == dt.datetime(2021, 9, 10, 18, 0)
    assert first["utc_time (UTC)"] == dt.datetime(2021, 9, 10, 9, 0)  # naive UTC
    assert first["capture_time_secs_utc"] == 1631264400 and first["segment"] == resolved["segment"][0]
    assert rows["scan_1898.tif"]["local_time (camera clock)"] == "1898-07-01 09:00:00"  # Excel has no 1898
    fills = {r[0].value: r[0].fill.fgColor.rgb for r in ws.iter_rows(min_row=2)}
    assert fills["IMG_0002.jpg"] == "FFFFD7D7"  # needs a look
    assert fills["broken.jpg"] == "FFE4E4E4"  # no time: grey
    assert fills["IMG_0001.jpg"] not in ("FFFFD7D7", "FFE4E4E4")
    assert fills[FORMULA] not in ("FFFFD7D7", "FFE4E4E4")  # `shifted` is for information

    segments = wb["segments"]
    seg_cols = header(segments)
    assert seg_cols[:2] == ["segment", "folder"] and "needs_a_look" in seg_cols
    seg_rows = [dict(zip(seg_cols, r)) for r in segments.iter_rows(min_row=2, values_only=True)]
    assert len(seg_rows) == resolved["segment"].nunique()
    assert sum(r["photos"] for r in seg_rows) == resolved["segment"].notna().sum()
    assert sum(r["needs_a_look"] for r in seg_rows) == 3
    trip_first = next(r for r in seg_rows if r["segment"] == resolved["segment"][0])
    assert trip_first["first_local_time"] == dt.datetime(2021, 9, 10, 18, 0)
    assert trip_first["first_utc_time (UTC)"] == dt.datetime(2021, 9, 10, 9, 0)

    summary = wb["summary"]
    assert header(summary)[:4] == ["folder", "tz_source", "photos", "needs_a_look"]
    assert any(r == ("conflict", "needs a look", 1) for r in summary.iter_rows(values_only=True, max_col=3))
    rules = wb["overrides"]
    assert header(rules) == ["rule", *OVERRIDE_COLUMNS]
    cells = [dict(zip(header(rules), (c.value for c in row))) for row in rules.iter_rows(min_row=2)]
    assert cells[0]["mode"] == "fallback" and cells[1]["note"] == "<Tokyo>"


def test_workbook_of_empty_table_without_overrides():
    wb = load(report.workbook_bytes(empty(RESOLVED), None))
    assert wb["photos"].max_row == 1 and wb["segments"].max_row == 1
    assert wb["overrides"]["A3"].value == report.NO_OVERRIDES


# ---------------------------------------------------------------------------------------------
# the page's layout

def test_page_is_self_contained_and_escaped(resolved, overrides):
    html = report.html_page(resolved, overrides, roots=["/photos"])
    assert html.count("<script src") == 0 and "<link" not in html and "@import" not in html
    assert WEIRD not in html.replace("\\u003c", "<")  # not raw in the HTML ...
    assert json_text("trip/" + WEIRD) in html  # ... only as a JavaScript string, shown as text
    assert "&lt;Tokyo&gt;" in html and "<Tokyo>" not in html
    assert 'id="segments"' in html and 'id="timeline"' in html and 'id="map"' not in html  # no position, no map
    assert "trip/" + CJK in html and "/photos/trip/" + CJK in html  # relative, full path for hover
    assert "without a time" in html and "not plotted" in html


def json_text(value: str) -> str:
    import json
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def test_page_of_empty_table():
    html = report.html_page(empty(RESOLVED), None)
    assert "nothing to plot" in html and report.NO_OVERRIDES.split(":")[0] in html
    assert len(html) < 100_000  # no data, no 4 MB of plotly.js


def test_segments_come_first_with_their_photos_in_order(resolved):
    page = report.Page.build(resolved, None, ["/photos"])
    segments = page.segments
    assert list(segments["segment"]) == list(report.segments_table(resolved)["segment"])
    for seg, start, end in zip(segments["segment"], segments["start"], segments["end"]):
        assert set(page.photos["segment"][start:end]) == {seg}
        assert page.photos["local_time"][start:end].is_monotonic_increasing
    assert page.no_time == (len(page.photos) - 2, len(page.photos))  # the two without a time, last
    assert page.segments["end"].iloc[-1] == page.no_time[0]


def test_contact_sheets_spread_over_each_segment():
    starts, ends = np.array([0, 3, 23]), np.array([3, 23, 24])
    picks = page_module._contact(starts, ends)
    assert picks.tolist() == [0, 1, 2, 3, 7, 11, 14, 18, 22, 23]  # first and last of each, evenly


def test_plot_never_joins_unrelated_folders_and_keeps_the_1898_scan_at_the_edge(resolved):
    page = report.Page.build(resolved)
    traces = [t for t in page.timeline.figure["data"] if "lines" in t["mode"]]
    assert len(traces) == len(page.segments)  # one line per segment
    for trace in traces:
        folders = {page.photos["folder"][i] for i in trace["customdata"]}
        assert len(folders) == 1
    low, high = page.timeline.figure["layout"]["xaxis"]["range"]
    assert low >= "2021"  # 1898 does not stretch the axis back 123 years ...
    scan = next(t for t in traces if page.photos["file_name"][t["customdata"][0]] == "scan_1898.tif")
    assert scan["x"][0] >= low and scan["marker"]["symbol"] == ["triangle-left"]  # ... it sits at the edge
    assert any("1898" in note for note in page.timeline.notes)


def test_axis_keeps_a_real_spread_of_years():
    years = np.array([f"{y}-06-01" for y in range(1990, 2024)] * 3, dtype="datetime64[ms]")
    low, high = plot.axis_range(years)
    assert low < np.datetime64("1990-06-01") and high > np.datetime64("2023-06-01")


def test_map_shows_positions_coloured_by_zone_with_outlines_shipped():
    df = synthetic(300)
    page = report.Page.build(df)
    traces = page.map.figure["data"]
    assert {t["name"].split(" (")[0] for t in traces} >= {"Europe/Berlin", "Asia/Tokyo", "America/New_York"}
    assert sum(len(t["lat"]) for t in traces) == df["gps_lat"].notna().sum()
    html = page.render().html
    assert "window.PlotlyGeoAssets={topojson:{world_110m:{\"type\":\"Topology\"" in html


def test_map_shows_where_the_track_put_photos_and_joins_a_conflict_to_its_own_position():
    df = frame([
        photo("own.jpg", local="2023-09-09 10:00", offset=-300, source="location",
              gps_lat=41.88, gps_lon=-87.63, track_lat=41.88, track_lon=-87.63, track_gap_minutes=1),
        photo("fuji.jpg", local="2023-09-09 14:00", offset=-300, source="track",
              track_lat=41.9, track_lon=-87.6, track_gap_minutes=12.4),
        photo("htc.jpg", local="2023-09-11 10:00", offset=-300, source="location",
              flags="track_conflict", gps_lat=43.04, gps_lon=-87.91, track_lat=41.88,
              track_lon=-87.63, track_gap_minutes=3),
    ]).assign(tz_name="America/Chicago")
    traces = page_module.world_map(df).figure["data"]
    symbol = {t["name"]: t["marker"]["symbol"] for t in traces if t["mode"] == "markers"}
    assert symbol == {"America/Chicago (2)": "circle", "America/Chicago · track (2)": "diamond"}
    own, track, line = traces
    assert own["customdata"] == [0, 2] and own["marker"]["color"] == track["marker"]["color"]
    # the track's diamonds: the GPS-less photo, and the conflict's other end; agreeing GPS stays one dot
    assert track["customdata"] == [1, 2] and track["lat"] == [41.9, 41.88]
    assert track["text"] == ["track, 12 min off", "track, 3 min off"]
    assert line["mode"] == "lines" and line["lat"] == [43.04, 41.88, None]
    assert line["lon"] == [-87.91, -87.63, None]
    # a table resolved before tracks still maps
    older = df.drop(columns=["track_lat", "track_lon", "track_gap_minutes"])
    assert [t["customdata"] for t in page_module.world_map(older).figure["data"]] == [[0, 2]]


def fake_jpegs(page: report.Page, size: int) -> dict[str, bytes]:
    """A thumbnail of `size` bytes for every photo the page wants, keyed by a made-up sha256."""
    return {sha: bytes(size) for sha in page.wanted()["sha256"]}


def with_shas(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(sha256=[f"{i:064x}" for i in range(len(df))], file_type="JPEG")


def test_thumbnails_inline_within_the_budget_and_beside_past_it(monkeypatch):
    df = with_shas(synthetic(400))
    page = report.Page.build(df)
    jpegs = fake_jpegs(page, 3_000)
    inline = page.render(jpegs)
    assert inline.beside == {} and inline.html.count("data:image/jpeg;base64,") == len(jpegs)
    assert not any("beside" in n for n in inline.notes)

    monkeypatch.setattr(page_module, "INLINE_MAX_PHOTOS", 300)  # too many photos: beside
    beside = page.render(jpegs)
    assert "data:image/jpeg" not in beside.html and len(beside.beside) == len(jpegs)
    assert any("audit_thumbs/ beside this page" in n for n in beside.notes)
    assert f'audit_thumbs/{next(iter(jpegs))}.jpg' in beside.html

    monkeypatch.setattr(page_module, "INLINE_MAX_PHOTOS", 10_000)  # hover pictures cut to fit 25 MB
    monkeypatch.setattr(page_module, "INLINE_MAX_BYTES", len(inline.html) - 100_000)
    cut = page.render(jpegs)
    assert cut.beside == {}
    assert len(cut.html.encode()) <= page_module.INLINE_MAX_BYTES
    assert any("Hovering shows the thumbnail of" in n for n in cut.notes)
    assert cut.html.count("data:image/jpeg;base64,") >= len(set(page.photos["sha256"][page.contact]))


# ---------------------------------------------------------------------------------------------
# thumbnails from real files, through the real CLI

def heic(path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    pillow_heif.register_heif_opener()
    Image.new("RGB", (400, 300), (20, 90, 200)).save(path, "HEIF")


def test_thumbnail_cache_is_made_once_and_reused(tmp_path):
    library = tmp_path / "photos"
    write_sample(library, count=MIN_COUNT)
    heic(library / "2023-11 India" / "phone.heic")
    ws = tmp_path / "ws"
    cli = CliRunner()
    first = cli.invoke(main, ["run", str(library), "-w", str(ws), "--default-tz", SAMPLE_DEFAULT_TZ])
    assert first.exit_code == 0, first.output
    made = int(first.output.split("thumbnails: ")[1].split(" made")[0])
    assert made > 0 and "0 from the cache" in first.output
    again = cli.invoke(main, ["report", "-w", str(ws)])
    assert again.exit_code == 0, again.output
    assert f"thumbnails: 0 made, {made} from the cache" in again.output
    resolved = Workspace(ws).load("resolved")
    photo = resolved[resolved["file_name"] == "phone.heic"].iloc[0]
    cached = thumbs.cache_file(Path(ws) / "data" / "thumbs", photo["sha256"])
    from PIL import Image
    with Image.open(cached) as image:  # the HEIC's thumbnail: a JPEG of its pixels, long side SIZE
        assert image.format == "JPEG" and image.size == (thumbs.SIZE, thumbs.SIZE * 3 // 4)
        assert image.getpixel((10, 10))[2] > 150
    assert "data:image/jpeg;base64," in (Path(ws) / "reports" / "audit.html").read_text()


def test_a_big_page_writes_its_thumbnails_beside_it_and_says_so(tmp_path, monkeypatch):
    library = tmp_path / "photos"
    write_sample(library, count=MIN_COUNT)
    ws = tmp_path / "ws"
    monkeypatch.setattr(page_module, "INLINE_MAX_PHOTOS", 10)
    result = CliRunner().invoke(main, ["run", str(library), "-w", str(ws), "--default-tz", SAMPLE_DEFAULT_TZ])
    assert result.exit_code == 0, result.output
    assert "audit_thumbs/ beside this page" in result.output
    beside = sorted((Path(ws) / "reports" / "audit_thumbs").iterdir())
    html = (Path(ws) / "reports" / "audit.html").read_text()
    assert beside and all(f"audit_thumbs/{p.name}" in html for p in beside)
    monkeypatch.setattr(page_module, "INLINE_MAX_PHOTOS", 10_000)  # small again: back in the page
    result = CliRunner().invoke(main, ["report", "-w", str(ws)])
    assert result.exit_code == 0 and not (Path(ws) / "reports" / "audit_thumbs").exists()


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


def number(text: str) -> int:
    return int(text.split()[0].replace(",", "").strip("()"))


def test_page_in_chromium(browser, tmp_path):
    """The audit of the sample library, as `photoflux run` writes it: thumbnails, segments, the
    plot and the map with outlines, counts that agree, readable columns, and no request."""
    library = tmp_path / "photos"
    write_sample(library, count=MIN_COUNT)
    long_folder = library / ("a folder with a very long name, " * 6).strip()
    long_folder.mkdir()
    shutil.copy(next(library.glob("*/IMG_*.jpg")), long_folder / (WEIRD.replace("/", "") + " " + "x" * 80 + ".jpg"))
    ws = tmp_path / "ws"
    result = CliRunner().invoke(main, ["tracks", "add", str(library / TRACK_NAME), "-w", str(ws)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["run", str(library), "-w", str(ws), "--default-tz", SAMPLE_DEFAULT_TZ])
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
            else problems.append(f"network: {r.url}"))
    page.goto((ws / "reports" / "audit.html").as_uri())
    page.wait_for_selector("#timeline .scatterlayer .point", timeout=20_000)
    page.wait_for_selector("#map .geo path", timeout=20_000)

    # thumbnails: the contact sheets' pictures are decoded images
    thumbs_shown = page.evaluate("""() => Array.from(document.querySelectorAll('#segments img.thumb'))
        .filter(i => i.complete && i.naturalWidth > 0).length""")
    assert thumbs_shown >= 20
    # the map draws land and borders from the shipped outlines
    assert page.locator("#map .layer.land path, #map .layer.countries path").count() > 0
    assert page.locator("#map .scattergeo .point, #map .scattergeo path.point").count() > 0
    # where the watch's track put the Fuji: diamonds, a hover saying how far the track was,
    # and the track_conflict photo's red line to its own position
    assert page.locator("#map .legendtext", has_text="· track").count() > 0
    assert page.locator("#map .scattergeo path.js-line").count() > 0
    page.locator("#map").scroll_into_view_if_needed()
    x, y = page.evaluate("""() => {
        const gd = document.getElementById('map'), r = gd.getBoundingClientRect();
        const tr = gd._fullData.find(t => (t.name || '').includes('· track'));
        const xy = gd._fullLayout.geo._subplot.projection([tr.lon[0], tr.lat[0]]);
        const w = gd._fullLayout._size;
        return [r.left + w.l + xy[0], r.top + w.t + xy[1]];
    }""")
    page.mouse.move(x, y)
    page.wait_for_selector("#tip", state="visible", timeout=5_000)
    assert " min off" in page.inner_text("#tip")
    page.mouse.move(0, 0)

    # the counts agree: header, segments table, plot legend
    resolved = Workspace(ws).load("resolved")
    from pipeline.flags import counts
    expected = counts(resolved)
    look = number(page.inner_text("#count-needs_a_look"))
    assert look == expected["needs_a_look"] and number(page.inner_text("#count-photos")) == len(resolved)
    column = page.evaluate("""name => {
        const i = Array.from(document.querySelectorAll('#segments thead th')).findIndex(h => h.textContent === name);
        return Array.from(document.querySelectorAll('#segments > tbody > tr.seg'))
            .map(r => parseInt(r.children[i].textContent.replace(/,/g, '')) || 0).reduce((a, b) => a + b, 0);
    }""", "needs a look")
    assert column == look
    photos_column = page.evaluate("""() => {
        const i = Array.from(document.querySelectorAll('#segments thead th')).findIndex(h => h.textContent === 'photos');
        return Array.from(document.querySelectorAll('#segments > tbody > tr.seg'))
            .map(r => parseInt(r.children[i].textContent.replace(/,/g, ''))).reduce((a, b) => a + b, 0);
    }""")
    assert photos_column == len(resolved)
    legend = page.locator("#timeline .legendtext", has_text="needs a look").text_content()
    assert number(legend.split("needs a look")[1]) == look
    assert number(page.inner_text("#count-no_time")) == expected["never_approvable"]

    # a segment expands to its photos; a long file name does not push source and flags off-screen
    row = page.locator("#segments tr.seg", has_text="a folder with a very long name").first
    row.click()
    detail = page.locator("#segments tr.detail table.photos").first
    detail.wait_for()
    cell = detail.locator("tbody td.file").first
    assert cell.get_attribute("title").startswith(str(library))  # the full path on hover
    assert WEIRD.replace("/", "")[:20] in cell.text_content() and not cell.text_content().startswith("/")
    head = {h: detail.locator("thead th", has_text=h).first.bounding_box() for h in ("source", "flags")}
    assert all(box["x"] + box["width"] <= 1400 for box in head.values())

    # hovering a dot shows its thumbnail
    page.locator("#timeline").scroll_into_view_if_needed()
    x, y = page.evaluate("""() => {
        const gd = document.getElementById('timeline'), r = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const tr = gd._fullData.find(t => (t.mode || '').includes('lines'));
        return [r.left + xa._offset + xa.d2p(tr.x[0]), r.top + ya._offset + ya.d2p(tr.y[0])];
    }""")
    page.mouse.move(x, y)
    page.wait_for_selector("#tip img", state="visible", timeout=5_000)
    assert page.evaluate("document.querySelector('#tip img').naturalWidth") > 0

    page.fill("#filter", "very long name")
    assert page.locator("#segments > tbody > tr.seg:visible").count() == 1
    page.fill("#filter", "")
    page.check("#only-look")
    visible = page.locator("#segments > tbody > tr.seg:visible").count()
    assert 0 < visible == (Workspace(ws).load("segments")["needs_a_look"] > 0).sum()
    page.uncheck("#only-look")

    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    if os.environ.get("PHOTOFLUX_SCREENSHOT"):
        target = Path(os.environ["PHOTOFLUX_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    assert problems == []
    page.close()


def test_paths_are_shown_relative_to_their_own_root():
    paths = pd.Series(["/home/me/Pictures/2019/a.jpg", "/mnt/old/Pictures/b.jpg", "/mnt/old/c.jpg",
                       "/elsewhere/d.jpg", "/home/me/Pictures"])
    one = columns.relative(paths, ["/home/me/Pictures"])
    assert one.tolist() == ["2019/a.jpg", *paths[1:4], "."]
    several = columns.relative(paths, ["/home/me/Pictures/", "/mnt/old", "/mnt/old/Pictures"])
    assert several.tolist() == ["Pictures/2019/a.jpg", "Pictures/b.jpg", "old/c.jpg", "/elsewhere/d.jpg",
                                "Pictures"]  # the deepest root a path lies under names it


def test_a_photo_that_cannot_be_decoded_is_not_tried_again(tmp_path, monkeypatch):
    import hashlib

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))  # a JPEG's start, nothing after it
    good = tmp_path / "good.heic"
    heic(good)
    photos = pd.DataFrame({"path": [str(broken), str(good)],
                           "sha256": [hashlib.sha256(p.read_bytes()).hexdigest() for p in (broken, good)],
                           "file_type": ["JPEG", "HEIC"]})
    tried = []
    decode = thumbs.convert.thumbnail
    monkeypatch.setattr(thumbs.convert, "thumbnail", lambda *a: tried.append(a[1]) or decode(*a))
    first = thumbs.thumbnails(tmp_path / "cache", photos)
    assert (first.made, first.failed, tried) == (1, 1, ["JPEG", "HEIC"])
    again = thumbs.thumbnails(tmp_path / "cache", photos)
    assert (again.cached, again.failed, tried) == (1, 1, ["JPEG", "HEIC"])  # nothing decoded again
    good.write_bytes(b"changed")  # a file changed since extract gets no thumbnail, and no marker
    fresh = thumbs.thumbnails(tmp_path / "other", photos.iloc[1:])
    assert (fresh.made, fresh.failed) == (0, 1) and not list((tmp_path / "other").rglob("*.none"))


def test_a_later_stage_adds_its_own_section(resolved):
    extra = report.Section("reconcile", "Server reconcile: what the server holds", "<p>3 photos differ</p>")
    html = report.Page.build(resolved).render(sections=[extra]).html
    assert '<a href="#section-reconcile">Server reconcile</a>' in html
    assert html.index('id="section-overrides"') < html.index('id="section-reconcile"')
    assert "<p>3 photos differ</p>" in html
