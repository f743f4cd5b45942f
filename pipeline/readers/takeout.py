"""Google Takeout's JSON sidecars: which JSON in a folder belongs to which photo, and what it says.

Takeout writes one JSON a photo beside it, named after the photo's title (`IMG_0001.jpg`):
`IMG_0001.jpg.json` (older exports) or `IMG_0001.jpg.supplemental-metadata.json`, that suffix cut
short to keep the name within 51 characters (`.supplemental-metad.json`, `.suppl.json`,
`..json`), a long title cut to 46 (`Screenshot_2024-01-14-14-13-33-16_948cd9899890.json` for
`...948cd9899890cbd5c2798760b2b95377.jpg`; Google counts UTF-16 units, so an emoji counts two).
A copy numbered on download (`IMG_0001(1).jpg`) has the number before `.json`
(`IMG_0001.jpg(1).json`, `IMG_0001.jpg.supplemental-metadata(1).json`), and a photo edited in
Google Photos (`IMG_0001-edited.jpg`, `-bearbeitet`, `-modifié`...) has no JSON of its own: it
shares the original's.

    from pipeline.readers.takeout import takeout_json_names, takeout_fields
    takeout_json_names(["IMG_0001(1).jpg"], ["IMG_0001.jpg(1).json"])  # {photo: its JSON's name}
    takeout_fields(Path("IMG_0001.jpg.json").read_bytes())  # takeout_* columns and warnings

`photoTakenTime` is the capture instant (UTC); `creationTime` is when the photo was uploaded,
never a capture time, so it is not read.
"""
from __future__ import annotations

import json
import math
import re
from typing import Iterable, Iterator

from ..times import TIME_RANGE

#: The suffix newer exports put between the photo's title and `.json`; any prefix of it is a
#: shortened form.
_SUPPLEMENTAL = ".supplemental-metadata"
#: Lengths (characters, or UTF-16 units) Takeout cuts a long JSON name to before `.json`.
_CUT_LENGTHS = range(46, 52)
#: A copy numbered on download: NAME(N).EXT.
_NUMBERED = re.compile(r"(?P<name>.*)(?P<number>\(\d+\))(?P<ext>\.[^.]*)", re.DOTALL)
#: The word Google Photos appends to an edited photo's name, in the languages it writes it.
_EDITED = re.compile(r"(?P<name>.+)-(?:edited|bearbeitet|modifié|modificato|editado|editat|"
                     r"bewerkt|edytowane|編集済み)(?P<ext>\.[^.]*)", re.DOTALL | re.IGNORECASE)
#: The keys that make a JSON Takeout's: one of them holding an object.
_TAKEOUT_KEYS = ("photoTakenTime", "creationTime", "geoData", "geoDataExif")
_EPOCH_RANGE = tuple(int(bound.astype("datetime64[s]").astype("int64")) for bound in TIME_RANGE)
_QUOTE_CHARS = 40


def is_json_name(name: str) -> bool:
    return name[-5:].lower() == ".json"


def takeout_json_names(photo_names: Iterable[str], json_names: Iterable[str]) -> dict[str, str]:
    """Photo name -> the name of its Takeout JSON, for the photos of one folder that have one
    among `json_names` (the folder's `.json` files, any case of the extension)."""
    by_stem = {name[:-5]: name for name in json_names}
    if not by_stem:
        return {}
    found = {}
    for photo in photo_names:
        stem = next((stem for stem in _json_stems(photo) if stem in by_stem), None)
        if stem is not None:
            found[photo] = by_stem[stem]
    return found


def _json_stems(photo: str) -> Iterator[str]:
    """The names (before `.json`) Takeout may have given the photo's JSON, likeliest first: its
    own title, then as a numbered copy, then as the edit of an original."""
    titles = [(photo, "")]
    numbered = _NUMBERED.fullmatch(photo)
    if numbered:
        titles.append((numbered["name"] + numbered["ext"], numbered["number"]))
    for title, number in list(titles):
        edited = _EDITED.fullmatch(title)
        if edited:
            titles.append((edited["name"] + edited["ext"], number))
    for title, number in titles:
        for stem in _title_stems(title):
            yield stem + number


def _title_stems(title: str) -> dict[str, None]:
    """TITLE.supplemental-metadata, TITLE, TITLE. and every shortening of the suffix between,
    then the whole cut to each of _CUT_LENGTHS (ordered, without repeats)."""
    full = title + _SUPPLEMENTAL
    stems = dict.fromkeys([full, title])
    stems.update(dict.fromkeys(full[:end] for end in range(len(full) - 1, len(title), -1)))
    for length in _CUT_LENGTHS:
        stems.update(dict.fromkeys(cut for cut in (full[:length], _utf16_cut(full, length))
                                   if len(cut) < len(full)))
    return stems


def _utf16_cut(text: str, units: int) -> str:
    """The longest start of `text` that is at most `units` UTF-16 code units long."""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return text[:index]
    return text


def takeout_fields(data: bytes, name: str) -> dict:
    """The takeout_* columns of a Takeout JSON's bytes, and `warnings` (a list) naming the file
    `name`: the photo's capture instant (photoTakenTime.timestamp, epoch seconds UTC, written
    as a string), and its position (geoDataExif, else geoData; 0/0 is no position).

    A JSON that is not Takeout's (not JSON, or without any of its keys) gives nothing and one
    warning saying it was ignored; a value that cannot be read gives null and a warning.
    """
    row = {"takeout_timestamp": None, "takeout_lat": None, "takeout_lon": None}
    warnings: list[str] = []
    try:
        document = json.loads(data.removeprefix(b"\xef\xbb\xbf"))  # a BOM some editors add
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = f"not JSON ({str(exc)[:_QUOTE_CHARS * 2]})"
    else:
        reason = None if isinstance(document, dict) and any(
            isinstance(document.get(key), dict) for key in _TAKEOUT_KEYS) else (
            "not a Google Takeout sidecar (no photoTakenTime, creationTime or geoData)")
    if reason:
        return {**row, "warnings": [f"{name} ignored: {reason}"]}
    row["takeout_timestamp"] = _timestamp(document.get("photoTakenTime"), name, warnings)
    for key in ("geoDataExif", "geoData"):
        position = _position(document.get(key), f"{name} {key}", warnings)
        if position is not None:
            row["takeout_lat"], row["takeout_lon"] = position
            break
    row["warnings"] = warnings
    return row


def _timestamp(taken, name: str, warnings: list[str]) -> int | None:
    """photoTakenTime.timestamp as whole epoch seconds; None when absent or unusable."""
    if not isinstance(taken, dict) or taken.get("timestamp") is None:
        return None
    value = taken["timestamp"]
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not re.fullmatch(r"-?\d{1,12}", text):
        warnings.append(f"{name} photoTakenTime unreadable ({str(value)[:_QUOTE_CHARS]})")
        return None
    if not _EPOCH_RANGE[0] <= int(text) < _EPOCH_RANGE[1]:
        warnings.append(f"{name} photoTakenTime out of range ({text})")
        return None
    return int(text)


def _position(geo, what: str, warnings: list[str]) -> tuple[float, float] | None:
    """(latitude, longitude) of a geoData object; None when absent, 0/0 (Takeout's "none") or
    unusable (with a warning)."""
    if not isinstance(geo, dict) or "latitude" not in geo or "longitude" not in geo:
        return None
    lat, lon = geo["latitude"], geo["longitude"]
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               and math.isfinite(value) for value in (lat, lon)):
        warnings.append(f"{what} unreadable ({str(lat)[:_QUOTE_CHARS]}, {str(lon)[:_QUOTE_CHARS]})")
        return None
    if lat == 0 and lon == 0:
        return None
    if abs(lat) > 90 or abs(lon) > 180:
        warnings.append(f"{what} out of range ({lat}, {lon})")
        return None
    return float(lat), float(lon)
