"""Several named collections side by side.

With the local store a collection is one index folder,
``<data dir>/index/<name>``, made and guarded like any other (see
:mod:`indexer.layout`); with Milvus it is one aliased Milvus collection (see
:mod:`indexer.milvus_store`). The shipped Lei Jun collection is ``default``;
``ragqa index PATH --collection papers`` makes another.

This module names collections and defines the :class:`CollectionCatalog`
that lists and deletes them; :func:`indexer.store.make_catalog` picks the
configured store's, so the CLI and the chat window's picker never ask which
store it is.
Locally it only ever deletes a folder that carries ragqa's own marker, and
never one that a build holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from corpus.errors import CollectionError, ConfigError, RagqaError
from indexer.layout import LOCK_FILE, is_marked, live_generation
from indexer.manifest import MANIFEST_FILE, Manifest

DEFAULT_COLLECTION = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_collection_name(name: str) -> str:
    """A collection name: letters, digits, ``-`` and ``_``, at most 64, so it
    is safe as a folder name, a URL part and a Milvus collection name.

    >>> check_collection_name("contracts-2026")
    'contracts-2026'
    >>> check_collection_name("../etc")
    Traceback (most recent call last):
    ...
    corpus.errors.ConfigError: '../etc' is not a collection name: use 1-64 letters, digits, '-' or '_', starting with a letter or digit.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a collection name: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit."
        )
    return name


def collection_dir(root: Path, name: str) -> Path:
    """Where collection ``name`` lives under the indexes' folder ``root``."""
    return root / check_collection_name(name)


@dataclass(frozen=True)
class CollectionSummary:
    """One collection as ``ragqa collections`` lists it."""

    name: str
    index_dir: Path
    documents: int
    chunks: int
    built_at: str
    problem: str = ""  # empty: the index opens; else why it does not

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "documents": self.documents,
            "chunks": self.chunks,
            "built_at": self.built_at,
            "problem": self.problem,
        }


def summarize(name: str, index_dir: Path) -> CollectionSummary:
    """Counts from the live generation's manifest (no model is loaded)."""
    try:
        generation = live_generation(index_dir)
        manifest = Manifest.from_json(
            (generation / MANIFEST_FILE).read_text(encoding="utf-8"), where=generation
        )
    except (RagqaError, OSError, UnicodeDecodeError) as error:
        return CollectionSummary(name, index_dir, 0, 0, "", problem=str(error))
    return CollectionSummary(
        name, index_dir, len(manifest.documents), manifest.n_chunks, manifest.created_at
    )


def list_collections(root: Path) -> list[CollectionSummary]:
    """Every collection under ``root``, by name; folders that are not ragqa
    indexes (no marker) are not collections and are left out."""
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        named = child.is_dir() and not child.is_symlink() and _NAME.fullmatch(child.name)
        if named and is_marked(child):
            found.append(summarize(child.name, child))
    return found


@contextlib.contextmanager
def _holding_lock(index_dir: Path) -> Iterator[None]:
    """The build lock of ``index_dir``, or a clear error if a build holds it."""
    with (index_dir / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CollectionError(
                f"The collection at {index_dir} is being indexed right now; delete it "
                "once that run has finished."
            ) from None
        yield


def delete_collection(root: Path, name: str) -> CollectionSummary:
    """Delete collection ``name`` (its whole index folder) and say what it held."""
    index_dir = collection_dir(root, name)
    if not index_dir.is_dir():
        known = ", ".join(c.name for c in list_collections(root)) or "none yet"
        raise CollectionError(
            f"There is no collection named {name!r} (collections: {known}); "
            "`ragqa collections` lists them."
        )
    if index_dir.is_symlink() or not is_marked(index_dir):
        raise CollectionError(
            f"{index_dir} is not a ragqa index folder (it has no marker), so it was not deleted."
        )
    summary = summarize(name, index_dir)
    with _holding_lock(index_dir):
        # Renamed first: a reader never sees half a folder, and a crash in
        # the middle leaves a hidden folder that list_collections skips.
        doomed = index_dir.with_name(f".deleting-{name}")
        shutil.rmtree(doomed, ignore_errors=True)
        index_dir.rename(doomed)
    shutil.rmtree(doomed)
    return summary


class CollectionCatalog(Protocol):
    """The collections of one store: what ``ragqa collections`` and the chat
    window's picker show, and how a collection is deleted."""

    location: str
    """Where the collections live, for messages (no secrets)."""

    def list_collections(self) -> list[CollectionSummary]:
        """Every collection, by name (damaged ones with their ``problem``)."""
        ...

    def delete_collection(self, name: str) -> CollectionSummary:
        """Delete collection ``name`` and say what it held; raises
        :class:`~corpus.errors.CollectionError` if there is none."""
        ...


class LocalCatalog:
    """The index folders under ``collections_dir`` (the FAISS store)."""

    def __init__(self, collections_dir: Path) -> None:
        self.collections_dir = collections_dir
        self.location = str(collections_dir)

    def list_collections(self) -> list[CollectionSummary]:
        return list_collections(self.collections_dir)

    def delete_collection(self, name: str) -> CollectionSummary:
        return delete_collection(self.collections_dir, name)
