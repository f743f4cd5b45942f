"""Finding the photo files: a walk of folders (and files) that lists every photo with its size,
mtime and sidecars, and a digest of everything it listed.

    from pipeline.walk import walk
    files, digest = walk(["~/Pictures/2019"])   # FileStat rows sorted by path, a sha256 hex

It needs neither pandas nor the tag readers, so a rerun that finds nothing changed (compare the
digest with the manifest's) costs a stat walk and the interpreter's start. The sidecar rules
(readers.sidecars) are imported only when sidecars are to be attached.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat as stat_mode
import warnings
from typing import Callable, Iterable, NamedTuple

from .fluxtream import printable

#: Photo files, by extension (any case).
PHOTO_EXTENSIONS = frozenset(
    "jpg jpeg jpe heic heif avif tif tiff png webp dng cr2 cr3 nef arw orf rw2 raf pef srw".split()
)


class FileStat(NamedTuple):
    """A photo file as the walk found it, with the sidecars found beside it (see
    readers.sidecars): a change to any of them makes the photo read again."""

    path: str
    size: int
    mtime_ns: int
    xmp_sidecar: str | None = None
    json_sidecar: str | None = None
    sidecar_stamp: str | None = None


#: FileStat's fields, named as the photos columns that hold them.
STAT_COLUMNS = ("path", "file_size", "mtime_ns", "xmp_sidecar", "json_sidecar", "sidecar_stamp")




def photo_files(paths: Iterable[str | os.PathLike] | str | os.PathLike,
                check: Callable[[], None] | None = None) -> list[FileStat]:
    """Every photo file under `paths` with its sidecars, sorted by path (see `walk`)."""
    return walk(paths, check)[0]


class _Walk:
    """A walk's state: the photos found (path -> FileStat), the folders seen (a symlinked
    folder is walked once), the digest's lines, and whether to attach sidecars."""

    def __init__(self, sidecars: bool):
        self.found: dict[str, FileStat] = {}
        self.seen_folders: set[tuple[int, int]] = set()
        self.listed: set[str] = set()
        self.sidecars = sidecars

    def folder(self, photos: list[str], others: list[os.DirEntry]) -> None:
        """One folder's photos (added to `found` already) and its other listed files: each
        other file goes into the digest by its stat, and sidecars are attached among them."""
        for entry in others:
            try:
                stat = entry.stat()
                self.listed.add(f"{entry.path}\0{stat.st_size}\0{stat.st_mtime_ns}")
            except OSError:
                self.listed.add(f"{entry.path}\0?")
        if self.sidecars:
            _attach_sidecars(photos, _sidecar_entries(others), self.found)

    def digest(self) -> str:
        """sha256 over every photo's and every other listed file's path, size and mtime."""
        lines = self.listed | {f"{stat.path}\0{stat.size}\0{stat.mtime_ns}"
                               for stat in self.found.values()}
        text = "\n".join(sorted(lines))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def walk(paths: Iterable[str | os.PathLike] | str | os.PathLike,
         check: Callable[[], None] | None = None, sidecars: bool = True
         ) -> tuple[list[FileStat], str]:
    """Every photo file under `paths` (files and folders, walked recursively), sorted by path,
    and the digest of the listing: every photo's and every other non-hidden file's path, size
    and mtime in the folders listed (so a sidecar added, edited or removed changes it too).

    A file is a photo by its extension (PHOTO_EXTENSIONS, any case), also when named in `paths`;
    its sidecars are found by name in the same listing of its folder (see readers.sidecars).
    Names starting with "." are skipped; symlinks are followed (symlinked folders each once, so
    a link loop ends); a photo name that is not a regular file (a FIFO, a device, a broken link,
    a link loop) is skipped with a warning. Paths stay as found (absolute, links not resolved).
    A missing path raises FileNotFoundError naming it. `check()`, called before each folder,
    may raise to stop the walk. Without `sidecars`, none are attached (the digest is the same).
    """
    roots = absolute_roots(paths)
    missing = [root for root in roots if not os.path.exists(root)]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    state = _Walk(sidecars)
    named: dict[str, list[str]] = {}  # folder -> the photos named in `paths` there
    for root in roots:
        if os.path.isdir(root):
            _walk(root, state, check)
        elif _is_photo(os.path.basename(root)):
            _add_file(root, state.found)
            named.setdefault(os.path.dirname(root), []).append(root)
    for folder, photos in named.items():
        try:
            with os.scandir(folder) as entries:
                state.folder(photos, [entry for entry in entries if _is_other(entry)])
        except OSError as exc:
            warnings.warn(f"cannot list {printable(folder)} for sidecars: {exc.strerror}")
    return sorted(state.found.values()), state.digest()


def absolute_roots(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[str]:
    """`paths` as the absolute, normalised text every row's path starts with (~ expanded,
    links not resolved)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]


# --- walking --------------------------------------------------------------------------------


def _walk(root: str, state: _Walk, check) -> None:
    """Depth first in name order, so the same link wins on every run and paths stay stable."""
    stack = [root]
    while stack:
        if check is not None:
            check()
        folder = stack.pop()
        try:
            identity = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
        except OSError as exc:
            warnings.warn(f"cannot list {printable(folder)}: {exc.strerror}")
            continue
        if (identity.st_dev, identity.st_ino) in state.seen_folders:
            continue
        state.seen_folders.add((identity.st_dev, identity.st_ino))
        photos, others = [], []
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:  # a link loop: not a folder, and told below if named like a photo
                is_folder = False
            if is_folder:
                stack.append(entry.path)
            elif _is_photo(name):
                _add_file(entry.path, state.found)
                photos.append(entry.path)
            else:
                others.append(entry)
        state.folder(photos, others)


def _is_other(entry: os.DirEntry) -> bool:
    """A listed file that is neither hidden, a folder nor a photo (it may be a sidecar)."""
    try:
        is_folder = entry.is_dir()
    except OSError:
        is_folder = False
    return not (entry.name.startswith(".") or is_folder or _is_photo(entry.name))


def _sidecar_entries(entries: Iterable[os.DirEntry]) -> dict[str, os.DirEntry]:
    """Name -> entry of the listed files that may be sidecars."""
    from .readers.sidecars import is_sidecar_name

    return {entry.name: entry for entry in entries if is_sidecar_name(entry.name)}


def _attach_sidecars(photos: list[str], sidecars: dict[str, os.DirEntry], found: dict) -> None:
    """Record in `found` the sidecars of the photos at `photos` (paths in one folder) among
    that folder's `sidecars`: their paths and their stamp (one stat a sidecar used)."""
    if not sidecars:
        return
    from .readers.sidecars import sidecar_names, sidecar_stamp

    by_name = {os.path.basename(path): path for path in photos if path in found}
    stats: dict[str, os.stat_result | None] = {}
    for photo, names in sidecar_names(by_name, sidecars).items():
        for name in names:
            if name is not None and name not in stats:
                stats[name] = _sidecar_stat(sidecars[name])
        usable = [name if name is not None and stats[name] else None for name in names]
        if any(usable):
            found[by_name[photo]] = found[by_name[photo]]._replace(
                **{column: name and sidecars[name].path for column, name in
                   zip(("xmp_sidecar", "json_sidecar"), usable)},
                sidecar_stamp=sidecar_stamp(stats[name] for name in usable if name))


def _sidecar_stat(entry: os.DirEntry) -> os.stat_result | None:
    """The sidecar's stat (links followed); None, with a warning, when it is not a regular
    file or its name cannot be written down."""
    try:
        stat = entry.stat()
    except OSError as exc:
        _skip(entry.path, _unreachable(entry.path, exc))
        return None
    if not stat_mode.S_ISREG(stat.st_mode):
        _skip(entry.path, f"not a regular file ({_special_kind(stat.st_mode)})")
        return None
    return stat if _valid_name(entry.path) else None


def _add_file(path: str, found: dict) -> None:
    """Add the photo file at `path` (links followed); warn and skip what is not a regular
    file or has a name that cannot be written down."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        _skip(path, _unreachable(path, exc))
        return
    if not stat_mode.S_ISREG(stat.st_mode):
        _skip(path, f"not a regular file ({_special_kind(stat.st_mode)})")
    elif _valid_name(path):
        found[path] = FileStat(path, stat.st_size, stat.st_mtime_ns)


def _unreachable(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "a broken symbolic link"
    return exc.strerror or str(exc)


def _special_kind(mode: int) -> str:
    kinds = ((stat_mode.S_ISFIFO, "a named pipe"), (stat_mode.S_ISSOCK, "a socket"),
             (stat_mode.S_ISCHR, "a character device"), (stat_mode.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _skip(path: str, why: str) -> None:
    warnings.warn(f"skipping {printable(path)}: {why}")


def _is_photo(name: str) -> bool:
    """By the extension after the last dot (a name's leading dots start no extension)."""
    dot = name.rfind(".")
    return dot > 0 and name[dot + 1:].lower() in PHOTO_EXTENSIONS and name[:dot].strip(".") != ""


def _valid_name(path: str) -> bool:
    """A table cell must be UTF-8; a name that is not cannot be written down faithfully."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        _skip(path, "its name is not UTF-8")
        return False
    return True
