"""Fast unit tests of the pure selection and approval functions."""
from __future__ import annotations

from fnmatch import fnmatchcase

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from frames import photos
from pipeline.approvals import apply_approvals, approve, empty_approvals, is_approved, unapprove
from pipeline.overrides import parse_overrides, rules_table
from pipeline.resolve import Settings, resolve
from pipeline.selection import Selection, glob_regex

# --- the glob translation ---------------------------------------------------------------------

ALPHABET = "ab-]![^\\*?.\n\r$(|{"


def matches(glob: str, names: list[str]) -> tuple[list[bool], list[bool]]:
    """What the regex matches in Arrow's RE2, alone and as a Selection runs it."""
    regex = pc.match_substring_regex(pa.array(names, pa.string()), glob_regex(glob)).to_pylist()
    table = pd.DataFrame({"path": pd.Series(names, dtype="string"), "local_time": pd.NaT})
    return regex, Selection(path_globs=[glob]).mask(table).tolist()


@pytest.mark.parametrize("glob, name, expected", [
    ("*/DSC_*", "/p/DSC_0001.jpg", True),
    ("*/IMG_[0-9]?.jpg", "/p/IMG_12.jpg", True),
    ("*/IMG_[!0-9]*", "/p/IMG_12.jpg", False),
    ("*/[!]]x", "/p/ax", True),          # `]` first in a bracket is a member
    ("*/[!]]x", "/p/]x", False),
    ("*/[]]x", "/p/]x", True),
    ("*/[!]", "/p/[!]", True),            # never closed: literal
    ("*/a[", "/p/a[", True),
    ("*/[z-a]", "/p/m", False),           # a reversed range matches nothing
    ("*/[^a]", "/p/^", True),             # ^ is an ordinary member
    ("*/a.b(c)|d$+{1}", "/p/a.b(c)|d$+{1}", True),
    ("*/a.b", "/p/axb", False),
    ("*\\b", "/p/a\\b", True),
    ("*/new\nline.jpg", "/p/new\nline.jpg", True),
    ("*/car\rriage.jpg", "/p/car\rriage.jpg", True),
    ("*/new?line.jpg", "/p/new\nline.jpg", True),
    ("*/[\n]", "/p/\n", True),
    ("*/IMG_1", "/p/IMG_1\n", False),      # anchored: a trailing newline is not the end
])
def test_glob_regex_matches_like_fnmatch(glob, name, expected):
    assert fnmatchcase(name, glob) == expected
    assert matches(glob, [name]) == ([expected], [expected])


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=8), st.lists(st.text(ALPHABET, max_size=6), min_size=1,
                                               max_size=8))
@example("[!]]", ["a", "]"])
@example("[a-]", ["-", "a", "b"])
@example("[b-a-c]", ["a", "b", "-", "c"])
def test_glob_regex_agrees_with_fnmatch_everywhere(glob, names):
    expected = [fnmatchcase(name, glob) for name in names]
    assert matches(glob, names) == (expected, expected)


# --- approvals --------------------------------------------------------------------------------

ROWS = [
    {"file_name": "a.jpg", "datetime_original": "2020:01:01 10:00:00",
     "offset_time_original": "+01:00"},
    {"file_name": "b.jpg", "datetime_original": "2020:01:01 11:00:00.5",
     "subsec_original": "5", "offset_time_original": "+01:00"},
    {"file_name": "notime.jpg"},
    {"file_name": "broken.jpg", "datetime_original": "2020:01:01 12:00:00", "error": "bad"},
]


@pytest.fixture
def resolved() -> pd.DataFrame:
    return resolve(photos(*ROWS), [], Settings("UTC")).set_index("file_name", drop=False)


def approved_names(table: pd.DataFrame) -> set[str]:
    return set(table.loc[is_approved(table), "file_name"])


def test_an_approval_holds_for_exactly_its_path_bytes_and_millisecond(resolved):
    kept = approve(empty_approvals(), resolved, pd.Series(True, index=resolved.index), "T")
    assert set(kept["path"]) == set(resolved.loc[["a.jpg", "b.jpg"], "path"])  # no time/error
    assert approved_names(apply_approvals(resolved, kept)) == {"a.jpg", "b.jpg"}

    moved = resolved.copy()
    moved.loc["a.jpg", "capture_time_secs_utc"] += 0.001
    assert approved_names(apply_approvals(moved, kept)) == {"b.jpg"}
    edited = resolved.copy()
    edited.loc["b.jpg", "sha256"] = "e" * 64
    assert approved_names(apply_approvals(edited, kept)) == {"a.jpg"}
    renamed = resolved.copy()
    renamed.loc["a.jpg", "path"] = "/elsewhere/a.jpg"
    assert approved_names(apply_approvals(renamed, kept)) == {"b.jpg"}


def test_apply_approvals_keeps_the_row_order_and_the_latest_approval(resolved):
    shuffled = resolved.iloc[::-1]
    everything = pd.Series(True, index=shuffled.index)
    old = approve(empty_approvals(), shuffled, everything, "2020-01-01T00:00:00+00:00")
    stale = old.assign(capture_time_secs_utc="1.000")  # an earlier approval at another time
    kept = pd.concat([stale, old], ignore_index=True)
    applied = apply_approvals(shuffled, kept)
    assert applied.index.equals(shuffled.index)
    assert approved_names(applied) == {"a.jpg", "b.jpg"}
    assert (applied.loc[["a.jpg", "b.jpg"], "approved_at"] == "2020-01-01T00:00:00+00:00").all()
    assert applied.loc[["notime.jpg", "broken.jpg"], "approved_at"].isna().all()


def test_an_approval_read_back_as_text_holds_to_the_millisecond(resolved):
    kept = approve(empty_approvals(), resolved, pd.Series(True, index=resolved.index), "T")
    assert kept.set_index("path").loc[resolved.loc["b.jpg", "path"],
                                      "capture_time_secs_utc"].endswith(".500")
    assert approved_names(apply_approvals(resolved, kept.astype("string"))) == {"a.jpg", "b.jpg"}


def test_unapprove_drops_only_the_selected(resolved):
    everything = pd.Series(True, index=resolved.index)
    kept = approve(empty_approvals(), resolved, everything, "T")
    kept = unapprove(kept, resolved, resolved["file_name"] == "a.jpg")
    assert approved_names(apply_approvals(resolved, kept)) == {"b.jpg"}
    assert approved_names(apply_approvals(resolved, empty_approvals())) == set()


# --- camera selectors -------------------------------------------------------------------------

CAMERAS = photos(
    {"make": "NIKON CORPORATION", "model": "NIKON D70", "serial": "20025585",
     "datetime_original": "2019:05:01 12:00:00"},
    {"make": "Nikon", "model": "COOLPIX P900", "datetime_original": "2019:05:01 12:00:00"},
    {"make": "Canon", "model": "Canon EOS 5D", "serial": "A20025585",
     "datetime_original": "2019:05:01 12:00:00"},
    {"datetime_original": "2019:05:01 12:00:00"},  # a scan: no camera at all
    {"make": "NIKON CORPORATION", "model": "NIKON D70", "serial": "20025585",
     "datetime_original": "2020:01:01 00:00:00"},
)


@pytest.mark.parametrize("selection, expected", [
    (Selection(make="nikon*"), [True, True, False, False, True]),  # make and model: any case
    (Selection(model="*eos*"), [False, False, True, False, False]),
    (Selection(make="NIKON*", model="*P900"), [False, True, False, False, False]),
    (Selection(serial="2002*"), [True, False, False, False, True]),
    (Selection(serial="a2002*"), [False] * 5),  # a serial: exactly
    (Selection(make="*"), [True, True, True, False, True]),  # no make matches no glob on it
])
def test_make_model_and_serial_globs(selection, expected):
    assert selection.mask(CAMERAS, local=pd.Series(pd.NaT, index=CAMERAS.index)).tolist() == expected


def test_the_nikon_was_42_minutes_fast_all_of_2019():
    rules = parse_overrides("make,local_from,local_to,shift,note\n"
                            "NIKON*,2019-01-01,2019-12-31,-00:42:00,the Nikon ran fast\n")
    shifts = resolve(CAMERAS, rules, Settings("UTC")).set_index("file_name")["clock_shift_seconds"]
    assert shifts.astype("object").to_dict() == {"IMG_1.jpg": -2520, "IMG_2.jpg": -2520,
                                                 "IMG_3.jpg": None, "IMG_4.jpg": None,
                                                 "IMG_5.jpg": None}
    assert rules_table(rules).loc[0, ["make", "model", "serial"]].tolist() == ["NIKON*", None, None]
