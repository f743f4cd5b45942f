"""Sidecars: the XMP and Google Takeout JSON files beside a photo, matched by name within its
folder's listing and read together with it.

    from pipeline.readers.sidecars import sidecar_names, read_sidecars
    sidecar_names(["IMG_1.CR2", "IMG_1.jpg"], ["IMG_1.xmp"])  # {"IMG_1.CR2": ("IMG_1.xmp", None)}
    row.update(read_sidecars(row))  # row: a photos row with xmp_sidecar / json_sidecar paths

An XMP sidecar is `NAME.EXT.xmp` (darktable, digiKam), else `NAME.xmp` (Lightroom, Capture One),
any case of `.xmp`. `NAME.xmp` belongs to one photo: the raw file when a raw and a JPEG (or
other) share the base name, else the first in name order; a `NAME.EXT.xmp` another photo claims
is never taken as `NAME.xmp`. Takeout's JSON naming is in `takeout`.
"""
from __future__ import annotations

import os
from typing import Iterable

from . import message_line
from .bounded import MAX_BLOCK_BYTES
from .takeout import is_json_name, takeout_fields, takeout_json_names
from .xmp import XMP_COLUMNS, xmp_fields

#: Raw formats, by extension: the owner of a Lightroom `NAME.xmp` shared with a JPEG.
RAW_EXTENSIONS = frozenset("dng cr2 cr3 nef arw orf rw2 raf pef srw".split())


def is_xmp_name(name: str) -> bool:
    return name[-4:].lower() == ".xmp"


def is_sidecar_name(name: str) -> bool:
    """Whether a file of this name may be some photo's sidecar (it is never a photo itself)."""
    return is_xmp_name(name) or is_json_name(name)


def sidecar_names(photo_names: Iterable[str], names: Iterable[str]
                  ) -> dict[str, tuple[str | None, str | None]]:
    """Photo name -> (its XMP sidecar's name, its Takeout JSON's name), for the photos of one
    folder that have either among `names` (the folder's other files)."""
    photo_names = list(photo_names)
    names = list(names)
    xmps = xmp_sidecar_names(photo_names, [name for name in names if is_xmp_name(name)])
    jsons = takeout_json_names(photo_names, [name for name in names if is_json_name(name)])
    return {photo: (xmps.get(photo), jsons.get(photo))
            for photo in photo_names if photo in xmps or photo in jsons}


def xmp_sidecar_names(photo_names: Iterable[str], xmp_names: Iterable[str]) -> dict[str, str]:
    """Photo name -> its XMP sidecar's name: NAME.EXT.xmp, else NAME.xmp when the photo owns
    that name (a raw before any other photo of the same NAME, then name order)."""
    by_stem = {name[:-4]: name for name in xmp_names}
    if not by_stem:
        return {}
    photo_names = sorted(photo_names, key=lambda name: (not _is_raw(name), name))
    found = {photo: by_stem[photo] for photo in photo_names if photo in by_stem}
    owners: dict[str, str] = {}
    for photo in photo_names:
        owners.setdefault(os.path.splitext(photo)[0], photo)
    for stem, photo in owners.items():
        if photo not in found and stem in by_stem and stem not in found:
            found[photo] = by_stem[stem]
    return found


def _is_raw(name: str) -> bool:
    return os.path.splitext(name)[1][1:].lower() in RAW_EXTENSIONS


def sidecar_stamp(stats: Iterable[os.stat_result]) -> str | None:
    """`SIZE:MTIME_NS` of each sidecar, space-separated (XMP first): what a rerun compares to
    see a sidecar changed."""
    return " ".join(f"{stat.st_size}:{stat.st_mtime_ns}" for stat in stats) or None


def read_sidecars(row: dict) -> dict:
    """The columns a photos row's sidecars (its `xmp_sidecar` and `json_sidecar` paths) add to
    it, after its own tags were read into it.

    The XMP sidecar fills an xmp_* column only where the photo's embedded XMP left it null, and
    its own exif:DateTimeOriginal goes to sidecar_datetime_original; the JSON gives the
    takeout_* columns. A sidecar's unusable values, or a JSON that is not Takeout's, become
    `warnings` entries naming the sidecar. A sidecar that cannot be read clears
    `sidecar_stamp`, so the next run reads the photo again.
    """
    values: dict = {}
    warnings: list[str] = []
    for column, parse in (("xmp_sidecar", _xmp_values), ("json_sidecar", _takeout_values)):
        path = row.get(column)
        if not path:
            continue
        name = os.path.basename(path)
        try:
            data = _read_bounded(path)
        except OSError as exc:
            warnings.append(f"cannot read {name}: {exc.strerror or exc}")
            values["sidecar_stamp"] = None
            continue
        if data is None:
            warnings.append(f"{name} not read: larger than {MAX_BLOCK_BYTES} bytes")
            continue
        values.update(parse(row, data, name, warnings))
    if warnings:
        values["warnings"] = message_line([*filter(None, (row.get("warnings") or "").split(";")),
                                           *warnings], ";")
    return values


def _xmp_values(row: dict, data: bytes, name: str, warnings: list[str]) -> dict:
    fields = xmp_fields(data)
    warnings.extend(f"{name}: {warning}" for warning in fields["warnings"])
    values = {column: fields[column] for column in XMP_COLUMNS if row.get(column) is None}
    values["sidecar_datetime_original"] = fields["xmp_datetime_original"]
    return values


def _takeout_values(row: dict, data: bytes, name: str, warnings: list[str]) -> dict:
    fields = takeout_fields(data, name)
    warnings.extend(fields.pop("warnings"))
    return fields


def _read_bounded(path: str) -> bytes | None:
    """The file's bytes; None when it holds more than MAX_BLOCK_BYTES (no sidecar is that big)."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_BLOCK_BYTES + 1)
    return None if len(data) > MAX_BLOCK_BYTES else data
