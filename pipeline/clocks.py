"""clocks.csv: camera clocks set right from photos of a known time.

Each line is a sync point: this camera (make, model, serial) recorded `recorded_local` for
`photo` while the true local time was `true_local`. A camera with one sync point is off by a
constant shift, true − recorded; with two or more its clock drifts, and the shift is interpolated
linearly by recorded time between them, held constant outside their span. `photoflux clock`
writes the lines; resolve applies them to the camera's own clock before any zone.

    points = parse_clocks(Path("clocks.csv").read_text(), source="clocks.csv")
    shift_ms, set_by, idle_lines = clock_shifts(photos, recorded, points)
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from .overrides import OverridesError, csv_records
from .text import QUOTE_LIMIT, one_line
from .times import MAX_SHIFT_SECONDS, parse_local

CLOCK_COLUMNS = ("make", "model", "serial", "photo", "recorded_local", "true_local", "note")
CAMERA_COLUMNS = ("make", "model", "serial")
#: The sync points as parse_clocks returns them: each line's cells, its times and its shift.
POINT_COLUMNS = ("line", *CLOCK_COLUMNS, "shift_ms")


class ClocksError(OverridesError):
    """A bad line of clocks.csv, `file:LINE: what is wrong (the value)`; an OverridesError, as
    both files are read and reported alike."""


def parse_clocks(text: str, source: str = "clocks.csv") -> pd.DataFrame:
    """clocks.csv text -> its sync points (POINT_COLUMNS; the times naive datetime64[ms], the
    shift in milliseconds), in file order; the first bad line raises ClocksError.

    The header names the seven CLOCK_COLUMNS in any order; cells may be empty but for the two
    times; a line names a camera (a make, model or serial). A camera cannot have two sync points
    at one recorded time that disagree (the same one twice is fine).
    """
    records = csv_records(csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True), source)
    try:
        _, header = next(records)
    except StopIteration:
        return _points([])
    header = [name.strip() for name in header]
    _check_header(header, source)
    points, seen = [], {}
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise ClocksError(f"{source}:{line}: more cells than columns ({len(cells)})")
        point = _point(dict(zip(header, (cell.strip() or None for cell in cells))), line, source)
        key = (*camera_key(pd.DataFrame([point])), point["recorded_local"])
        earlier = seen.setdefault(key, point)
        if earlier["true_local"] != point["true_local"]:
            raise ClocksError(
                f"{source}:{line}: this camera already has a sync point at recorded time "
                f"{iso(point['recorded_local'])} on line {earlier['line']}, with another true "
                f"time ({iso(point['true_local'])})")
        points.append(point)
    return _points(points)


def _check_header(header: list[str], source: str) -> None:
    for position, name in enumerate(header):
        if name not in CLOCK_COLUMNS:
            raise ClocksError(f"{source}:1: unknown column ({one_line(name, QUOTE_LIMIT)})")
        if name in header[:position]:
            raise ClocksError(f"{source}:1: column given twice ({one_line(name, QUOTE_LIMIT)})")
    missing = [name for name in CLOCK_COLUMNS if name not in header]
    if missing:
        raise ClocksError(f"{source}:1: the header lacks {', '.join(missing)} "
                          f"(it names {', '.join(CLOCK_COLUMNS)}, in any order)")


def _point(row: dict, line: int, source: str) -> dict:
    """One line's sync point, validated."""
    def bad(what: str, value) -> ClocksError:
        return ClocksError(f"{source}:{line}: {what} ({one_line(value, QUOTE_LIMIT)})")

    if not any(row.get(column) for column in CAMERA_COLUMNS):
        raise bad("a sync point names its camera: a make, model or serial", "all empty")
    point = {"line": line, **{column: row.get(column) for column in CLOCK_COLUMNS}}
    for name in ("recorded_local", "true_local"):
        if row.get(name) is None:
            raise bad(f"{name} is required", "empty")
        try:
            point[name] = parse_local(row[name])
        except ValueError as exc:
            raise bad(f"bad {name}: {exc}", row[name]) from None
    shift = point["true_local"] - point["recorded_local"]
    if abs(shift) > pd.Timedelta(seconds=MAX_SHIFT_SECONDS):
        raise bad("true_local is more than 100 years from recorded_local", row["true_local"])
    point["shift_ms"] = shift // pd.Timedelta(milliseconds=1)
    return point


def _points(points: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(points, columns=list(POINT_COLUMNS))
    for name in ("recorded_local", "true_local"):
        table[name] = table[name].astype("datetime64[ms]")
    return table.astype({"line": "int64", "shift_ms": "int64"})


def camera_key(table: pd.DataFrame) -> pd.Series:
    """One text per camera: make and model in any case and spacing at their ends, the serial
    exactly; a missing part is empty (it matches only a missing part)."""
    parts = [table[column].astype("string").str.strip().fillna("") for column in CAMERA_COLUMNS]
    return parts[0].str.casefold() + "\x1f" + parts[1].str.casefold() + "\x1f" + parts[2]


def _cameras(photos: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each photo's camera as a number (its make, model and serial as they are written), and
    the camera_key of each number: the keys are built once per distinct camera, not per photo."""
    combined = np.zeros(len(photos), dtype=np.int64)
    for column in CAMERA_COLUMNS:
        codes, uniques = pd.factorize(photos[column])
        combined = pd.factorize(combined * (len(uniques) + 1) + codes + 1)[0]
    _, first, cameras = np.unique(combined, return_index=True, return_inverse=True)
    return cameras, camera_key(photos[list(CAMERA_COLUMNS)].iloc[first]).to_numpy()


def clock_shifts(photos: pd.DataFrame, recorded: np.ndarray, points: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The clock shift (milliseconds, float; NaN where none applies) of each photo with a
    recorded local time (`recorded`, datetime64[ms]) whose camera has sync points; what set it,
    for the audit ('clocks.csv line 2: its note', or 'clocks.csv lines 2 and 5' for a drift
    between two; None where no shift); and the lines of the sync points whose camera has no
    photo.

    One pass per camera: np.interp over its sync points by recorded time, which holds the first
    and last shift outside their span (one point: a constant).
    """
    shift = np.full(len(photos), np.nan)
    basis = np.full(len(photos), None, dtype=object)
    idle: list[int] = []
    if points.empty:
        return shift, basis, idle
    cameras, keys = _cameras(photos)
    recorded = np.asarray(recorded, dtype="datetime64[ms]")
    timed = ~np.isnat(recorded)
    at = recorded.astype(np.int64).astype(np.float64)
    for key, camera in points.groupby(camera_key(points), sort=False):
        its = np.isin(cameras, np.flatnonzero(keys == key))
        if not its.any():
            idle.extend(camera["line"].tolist())
        rows = np.flatnonzero(its & timed)
        camera = camera.drop_duplicates("recorded_local").sort_values("recorded_local")
        when = camera["recorded_local"].to_numpy(dtype="datetime64[ms]").astype(np.float64)
        shift[rows] = np.interp(at[rows], when, camera["shift_ms"].to_numpy(dtype=np.float64))
        after = np.searchsorted(when, at[rows], side="right")
        exact = np.searchsorted(when, at[rows], side="left") < after
        basis[rows] = np.asarray(_sync_labels(camera), dtype=object)[
            np.where(exact, 2 * after - 2, np.clip(2 * after - 1, 0, 2 * len(when) - 2))]
    return shift, basis, idle


def _sync_labels(camera: pd.DataFrame) -> list[str]:
    """For one camera's sync points (sorted by recorded time), what sets a photo's shift: each
    point's line (with its note), and between each two both lines (a drift), in the order
    point, between, point, ..., point."""
    lines = camera["line"].tolist()
    labels = [f"clocks.csv lines {a} and {b}" for a, b in zip(lines, lines[1:])]
    for position, (line, note) in enumerate(zip(lines, camera["note"])):
        labels.insert(2 * position, f"clocks.csv line {line}"
                      + (f": {note}" if isinstance(note, str) else ""))
    return labels


def iso(time: pd.Timestamp) -> str:
    """A local time as clocks.csv writes it: ISO 8601, milliseconds only when there are some."""
    return time.isoformat(timespec="milliseconds").removesuffix(".000")


def appended(text: str, point: dict) -> str:
    """clocks.csv's `text` (empty: a new file) with one more line holding `point` (CLOCK_COLUMNS
    -> a value; times as Timestamps), its cells in the order the header gives them."""
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), None) if text.strip() else None
    order = [name.strip() for name in header] if header else list(CLOCK_COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header is None:
        text = ""
        writer.writerow(order)
    values = {name: iso(value) if isinstance(value, pd.Timestamp) else value
              for name, value in point.items()}
    writer.writerow([values.get(name) or "" for name in order])
    return text + ("\n" if text and not text.endswith(("\n", "\r")) else "") + out.getvalue()
