"""Locations survive the chunk store, and an older store is refused with advice.

The store keeps each document's locations; chunks read back carry the ones
they touch, so a citation made from a retrieved chunk knows its page. A store
written before locations existed (schema version 1) must not be read as if it
had none: it is refused with the advice to rebuild, and a rebuild over it
works (nothing is reused from it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from corpus.documents import Document, Location, LocationKind
from corpus.errors import IndexCorruptError, IndexMismatchError
from indexer.builder import BuildReport
from indexer.chunk_store import SCHEMA_VERSION, ChunkStore, write_chunk_store
from tests.indexer.helpers import open_index

PAGES = " ".join(f"Page {n} says the harvest of year {1990 + n} was good." for n in range(1, 7))


def paged_document() -> Document:
    starts = [PAGES.index(f"Page {n} ") for n in range(1, 7)]
    return Document(
        doc_id="harvest",
        title="Harvest report",
        source_path="/docs/harvest.pdf",
        text=PAGES,
        locations=tuple(
            Location(start, LocationKind.PAGE, f"page {n}") for n, start in enumerate(starts, 1)
        ),
    )


def test_locations_round_trip_through_a_built_index(
    tmp_path: Path, build: Callable[..., BuildReport]
) -> None:
    document = paged_document()
    build([document], tmp_path / "index")
    index = open_index(tmp_path / "index")
    try:
        assert index.store.document("harvest") == document
        chunks = index.store.all_chunks()
        assert len(chunks) > 1
        for chunk in chunks:
            assert chunk.locations, chunk.chunk_id
            for offset in range(chunk.start, chunk.end):
                assert chunk.location_at(offset) == document.location_at(offset)
        (again,) = index.store.chunks_by_rows([len(chunks) - 1])
        assert again == chunks[-1]
        assert index.store.chunk(chunks[0].chunk_id) == chunks[0]
    finally:
        index.store.close()


def test_documents_without_locations_store_none(tmp_path: Path) -> None:
    plain = Document("plain", "Plain", "/docs/plain.txt", "Just some text.")
    write_chunk_store(tmp_path / "chunks.sqlite", [plain], [])
    store = ChunkStore(tmp_path / "chunks.sqlite")
    try:
        assert store.document("plain") == plain
    finally:
        store.close()


def _old_store(path: Path) -> None:
    """A chunk store as ragqa wrote it before locations (no version, no column)."""
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT NOT NULL,
            source_path TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL);
        CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
            doc_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
        INSERT INTO documents VALUES ('d', 'T', '/t.txt', 'h', 'Hello.');
        INSERT INTO chunks VALUES (0, 'd:0000', 'd', 0, 6, 'Hello.');
        """
    )
    connection.commit()
    connection.close()


def test_an_older_store_is_refused_with_advice_to_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "chunks.sqlite"
    _old_store(path)
    with pytest.raises(IndexMismatchError) as caught:
        ChunkStore(path)
    message = str(caught.value)
    assert f"schema version 0, but this ragqa reads version {SCHEMA_VERSION}" in message
    assert "ragqa index" in message


def test_a_newer_store_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "chunks.sqlite"
    write_chunk_store(path, [paged_document()], [])
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    with pytest.raises(IndexMismatchError, match="ragqa index"):
        ChunkStore(path)


@pytest.mark.parametrize(
    "saved",
    ["not json", '[["x", "page", "page 1"]]', '[[0, "folio", "f 1"]]', '[[999, "page", "p"]]'],
    ids=["not-json", "bad-start", "bad-kind", "past-the-text"],
)
def test_damaged_locations_are_reported_as_damage(tmp_path: Path, saved: str) -> None:
    path = tmp_path / "chunks.sqlite"
    write_chunk_store(path, [paged_document()], [])
    connection = sqlite3.connect(path)
    connection.execute("UPDATE documents SET locations = ?", (saved,))
    connection.commit()
    connection.close()
    store = ChunkStore(path)
    try:
        with pytest.raises(IndexCorruptError, match="ragqa index"):
            store.document("harvest")
    finally:
        store.close()


def test_a_rebuild_over_an_index_with_an_older_store_works(
    tmp_path: Path, build: Callable[..., BuildReport]
) -> None:
    index_dir = tmp_path / "index"
    build([paged_document()], index_dir)
    index = open_index(index_dir)
    store_path = index.store.path
    index.store.close()
    store_path.unlink()
    _old_store(store_path)  # as if the generation had been written by an older ragqa
    report = build([paged_document()], index_dir)
    assert report.n_reused == 0  # nothing taken from the old store
    index = open_index(index_dir)
    try:
        assert index.store.document("harvest") == paged_document()
    finally:
        index.store.close()
