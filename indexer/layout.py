"""Where an index lives on disk, and how a new one replaces the old atomically.

An index directory holds generations and a pointer::

    index_dir/
      CURRENT            # one line: the name of the live generation
      gen-000007/        # manifest.json, chunks.sqlite, embeddings.npy,
                         # vectors.faiss, bm25/...
      .building-<id>/    # a build in progress (or one that crashed)

A build writes a complete generation beside the live one, then replaces
``CURRENT`` with ``os.replace`` (atomic on POSIX). A crash at any moment
leaves ``CURRENT`` naming a complete generation; leftovers are removed by the
next build. Only names of this form are ever deleted, so pointing
``--index-dir`` at a folder of your own never loses files.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from corpus.errors import IndexCorruptError, IndexNotFoundError

POINTER_FILE = "CURRENT"
GENERATION_PREFIX = "gen-"
BUILDING_PREFIX = ".building-"
LOCK_FILE = ".lock"
_GENERATION_NAME = re.compile(r"^gen-(\d{6})$")

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


def live_generation(index_dir: Path) -> Path:
    """The directory of the generation ``CURRENT`` names."""
    pointer = index_dir / POINTER_FILE
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


def remove_stale(index_dir: Path) -> None:
    """Delete generations other than the live one and leftover build folders."""
    try:
        keep = live_generation(index_dir).name
    except (IndexNotFoundError, IndexCorruptError):
        keep = None
    for child in index_dir.iterdir():
        is_ours = child.name.startswith(BUILDING_PREFIX) or _GENERATION_NAME.match(child.name)
        if is_ours and child.name != keep:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def check_index_dir_usable(index_dir: Path) -> None:
    """Refuse to build into a folder that holds anything but a ragqa index."""
    if not index_dir.exists():
        return
    if not index_dir.is_dir():
        raise IndexNotFoundError(
            f"{index_dir} is a file, not an index folder. Choose another --index-dir."
        )
    foreign = [
        child.name
        for child in index_dir.iterdir()
        if child.name not in (POINTER_FILE, LOCK_FILE)
        and not child.name.startswith(BUILDING_PREFIX)
        and not _GENERATION_NAME.match(child.name)
    ]
    if foreign:
        raise IndexNotFoundError(
            f"{index_dir} holds files that are not a ragqa index ({', '.join(sorted(foreign)[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}). Choose an empty or new folder for --index-dir."
        )
