"""Where an index lives on disk, and how a new one replaces the old atomically.

An index directory holds generations and a pointer::

    index_dir/
      ragqa-index.json   # the marker: this folder is a ragqa index
      CURRENT            # one line: the name of the live generation
      gen-000007/        # manifest.json, chunks.sqlite, embeddings.npy,
                         # vectors.faiss, bm25/...
      .building-<id>/    # a build in progress (or one that crashed)

A build writes a complete generation beside the live one, then replaces
``CURRENT`` with ``os.replace`` (atomic on POSIX). A crash at any moment
leaves ``CURRENT`` naming a complete generation; leftovers are removed by the
next build, and a build that fails (a full disk) removes its own.

A folder is taken for ours only by a marker we wrote: ``ragqa-index.json``,
or (for indexes made before the marker existed) a generation's manifest.
Names that merely look like ours (a ``CURRENT`` of your own, a
``gen-000001/`` of photos, ``.building-permit.pdf``) are not enough: such a
folder is refused untouched, so pointing ``--index-dir`` at a folder of your
own never loses files. Within a marked folder only the exact names above are
ever deleted.

A folder that holds generations but no ``CURRENT`` is damaged, not empty:
it is reported as such (see :func:`live_generation`), never rebuilt over
silently.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

from corpus.errors import IndexCorruptError, IndexNotFoundError, IndexWriteError

POINTER_FILE = "CURRENT"
GENERATION_PREFIX = "gen-"
BUILDING_PREFIX = ".building-"
LOCK_FILE = ".lock"
MARKER_FILE = "ragqa-index.json"
# The same name as the manifest's format field (indexer.manifest.FORMAT_NAME).
MARKER_FORMAT = "ragqa-index"
_GENERATION_NAME = re.compile(r"^gen-(\d{6})$")
_BUILDING_NAME = re.compile(r"^\.building-.+$")  # a folder: files of that name are not ours
_POINTER_TEMPORARY = re.compile(r"^\.building-pointer-\d+$")

REBUILD_HINT = (
    "Rebuild the index with `ragqa index` (name the files or folders you indexed, "
    "and add --index-dir if you used one)."
)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def generations(index_dir: Path) -> list[str]:
    """Names of the generation folders in ``index_dir``, oldest first."""
    if not index_dir.is_dir():
        return []
    return sorted(
        child.name
        for child in index_dir.iterdir()
        if _GENERATION_NAME.match(child.name) and child.is_dir() and not child.is_symlink()
    )


def live_generation(index_dir: Path) -> Path:
    """The directory of the generation ``CURRENT`` names.

    Raises :class:`IndexNotFoundError` where no index was ever built, and
    :class:`IndexCorruptError` where generations exist but ``CURRENT`` does
    not: that index is damaged, and must not be taken for an empty place."""
    pointer = index_dir / POINTER_FILE
    if not pointer.is_file() and (found := generations(index_dir)):
        raise IndexCorruptError(
            f"The index at {index_dir} is damaged: it holds {', '.join(found[-3:])} but its "
            f"{POINTER_FILE} file, which names the live one, is missing. Nothing was changed. "
            f"{REBUILD_HINT}"
        )
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"No index at {index_dir}. Build one with `ragqa index` (the default Lei Jun "
            "collection) or `ragqa index PATH` for your own documents"
            + ("" if index_dir.name == "default" else f", adding --index-dir {index_dir}")
            + "."
        )
    try:
        name = pointer.read_bytes()[:64].decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise IndexCorruptError(
            f"{pointer} is unreadable ({error}), so no generation of the index in "
            f"{index_dir} can be trusted. {REBUILD_HINT}"
        ) from error
    if not _GENERATION_NAME.match(name) or not (index_dir / name).is_dir():
        raise IndexCorruptError(
            f"{pointer} names {name!r}, which is not a generation in {index_dir}. {REBUILD_HINT}"
        )
    return index_dir / name


def next_generation_name(index_dir: Path) -> str:
    numbers = [
        int(match.group(1))
        for child in index_dir.iterdir()
        if (match := _GENERATION_NAME.match(child.name))
    ]
    return f"{GENERATION_PREFIX}{max(numbers, default=0) + 1:06d}"


def publish_generation(index_dir: Path, generation: Path) -> None:
    """Make ``generation`` the live one: write ``CURRENT`` atomically."""
    temporary = index_dir / f"{BUILDING_PREFIX}pointer-{os.getpid()}"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / POINTER_FILE)
    fsync_directory(index_dir)


def _is_ours(child: Path) -> bool:
    """Whether ``child`` of a marked index folder is a name this module writes."""
    name = child.name
    if name in (POINTER_FILE, LOCK_FILE, MARKER_FILE) or _POINTER_TEMPORARY.match(name):
        return child.is_file() and not child.is_symlink()
    if _GENERATION_NAME.match(name) or _BUILDING_NAME.match(name):
        return child.is_dir() and not child.is_symlink()
    return False


def _has_format(path: Path) -> bool:
    """Whether ``path`` is a small JSON file of ours (the marker or a manifest)."""
    try:
        if not path.is_file() or path.stat().st_size > 64 * 1024 * 1024:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == MARKER_FORMAT


def is_marked(index_dir: Path) -> bool:
    """Whether ``index_dir`` carries a marker we wrote: ``ragqa-index.json``,
    or a generation's manifest (indexes made before the marker existed)."""
    if _has_format(index_dir / MARKER_FILE):
        return True
    return any(_has_format(index_dir / name / "manifest.json") for name in generations(index_dir))


def mark_index_dir(index_dir: Path) -> None:
    """Write the marker that makes ``index_dir`` recognisably ours (atomically)."""
    if _has_format(index_dir / MARKER_FILE):
        return
    temporary = index_dir / f"{BUILDING_PREFIX}pointer-{os.getpid()}"
    marker = {
        "format": MARKER_FORMAT,
        "note": "This folder is a ragqa index; ragqa manages every file in it.",
    }
    temporary.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, index_dir / MARKER_FILE)


def remove_stale(index_dir: Path) -> None:
    """Delete generations other than the live one, leftover build folders and
    temporary pointers: only names of ours, in a folder checked to be ours."""
    try:
        keep = live_generation(index_dir).name
    except (IndexNotFoundError, IndexCorruptError):
        keep = None
    for child in index_dir.iterdir():
        name = child.name
        if not _is_ours(child) or name == keep:
            continue
        if _POINTER_TEMPORARY.match(name):
            child.unlink(missing_ok=True)
        elif _GENERATION_NAME.match(name) or _BUILDING_NAME.match(name):
            shutil.rmtree(child, ignore_errors=True)


def _listing(names: list[str]) -> str:
    shown = sorted(names)[:3]
    return ", ".join(shown) + (", ..." if len(names) > 3 else "")


def check_index_dir_usable(index_dir: Path) -> None:
    """Refuse to build into a folder that is not a ragqa index: one that is
    not empty must carry our marker, and hold nothing but names of ours."""
    if not index_dir.exists():
        return
    if not index_dir.is_dir():
        raise IndexNotFoundError(
            f"{index_dir} is a file, not an index folder. Choose another --index-dir."
        )
    entries = [child for child in index_dir.iterdir() if child.name != LOCK_FILE]
    if not entries:
        return
    if not is_marked(index_dir):
        raise IndexNotFoundError(
            f"{index_dir} is not a ragqa index ({_listing([c.name for c in entries])}): it "
            f"has no {MARKER_FILE} or index manifest, so nothing in it was touched. Choose an "
            "empty or new folder for --index-dir."
        )
    foreign = [child.name for child in entries if not _is_ours(child)]
    if foreign:
        raise IndexNotFoundError(
            f"{index_dir} holds files that are not a ragqa index ({_listing(foreign)}), so "
            "nothing in it was touched. Move them out, or choose an empty or new folder for "
            "--index-dir."
        )


_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# How the disk being full reads in errors that carry no errno: FAISS raises a
# RuntimeError quoting strerror, SQLite its own message.
_DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.is_mount() and path != path.parent:
        path = path.parent
    return path


def _size(n_bytes: int) -> str:
    """
    >>> _size(3_900_000), _size(512)
    ('3.9 MB', '512 bytes')
    """
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes} bytes"


def write_failure(error: BaseException, index_dir: Path) -> IndexWriteError | None:
    """The one-line message for a build that failed writing ``index_dir``
    (its partial generation already removed), or ``None`` when ``error`` is
    not about the disk and should propagate as it is."""
    text = str(error)
    disk_full = (isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS) or any(
        words in text for words in _DISK_FULL_WORDS
    )
    kept = "The partial build was removed and the index there was left as it was."
    if disk_full:
        try:
            usage = shutil.disk_usage(index_dir)
            room = f" ({_size(usage.free)} free of {_size(usage.total)})"
        except OSError:
            room = ""
        return IndexWriteError(
            f"The disk is full: no space left to write the index at {index_dir} on the disk "
            f"mounted at {_mount_point(index_dir)}{room}. {kept} Free some space, or choose an "
            "--index-dir on another disk."
        )
    if isinstance(error, OSError | sqlite3.Error):
        reason = error.strerror if isinstance(error, OSError) and error.strerror else text
        where = f" ({error.filename})" if isinstance(error, OSError) and error.filename else ""
        return IndexWriteError(
            f"Could not write the index at {index_dir}: {reason}{where}. {kept} Check that the "
            "folder is writable, or choose another --index-dir."
        )
    return None
