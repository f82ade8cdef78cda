"""The chunk store: documents and chunks as rows in SQLite (data, never pickle).

Row ``row`` of ``chunks`` matches row ``row`` of the FAISS index and of
``embeddings.npy``. The full cleaned text of every document is kept too, so
the chat window can show a citation in context and the whole document, and
so are its locations (pages, sections, slides, rows, chapters) as a JSON list
of ``[start, kind, label]``: a chunk read back carries the ones it touches.

The schema version is SQLite's ``user_version``; a store of another version
is refused with the advice to rebuild.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from corpus.documents import Chunk, Document, Location, LocationKind, locations_within
from corpus.errors import IndexCorruptError, IndexMismatchError
from indexer.layout import REBUILD_HINT

# 1: documents and chunks. 2: documents carry their locations.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    locations TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id);
"""


def write_chunk_store(path: Path, documents: Iterable[Document], chunks: Sequence[Chunk]) -> None:
    """Write a new store at ``path`` (which must not exist yet).

    SQLite's own journal and syncs are off: the file is written inside a
    build folder that nothing reads, and the builder fsyncs it before the
    generation is published, so a crash can only lose a folder nobody uses."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
            (
                (d.doc_id, d.title, d.source_path, d.content_hash, d.text, _dump(d.locations))
                for d in documents
            ),
        )
        connection.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
            ((row, c.chunk_id, c.doc_id, c.start, c.end, c.text) for row, c in enumerate(chunks)),
        )
        connection.commit()
    finally:
        connection.close()


class ChunkStore:
    """Read-only access to a verified store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(
                f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            self._db.execute("SELECT count(*) FROM chunks").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorruptError(
                f"The chunk store {path} is unreadable ({error}). {REBUILD_HINT}"
            ) from error
        if version != SCHEMA_VERSION:
            self._db.close()
            raise IndexMismatchError(
                f"The chunk store {path} has schema version {version}, but this ragqa reads "
                f"version {SCHEMA_VERSION} (citations now say where they point: page, "
                f"section, slide, row or chapter). {REBUILD_HINT}"
            )
        self._locations: dict[str, tuple[Location, ...]] = {}

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    _CHUNK_QUERY = (
        "SELECT c.row, c.chunk_id, c.doc_id, d.title, d.source_path, c.start, c.end, c.text "
        "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
    )

    def _to_chunk(self, row: tuple) -> Chunk:
        _, chunk_id, doc_id, title, source_path, start, end, text = row
        start, end = int(start), int(end)
        locations = locations_within(self._document_locations(doc_id), start, end)
        return Chunk(chunk_id, doc_id, title, source_path, start, end, text, locations)

    def _document_locations(self, doc_id: str) -> tuple[Location, ...]:
        """A document's locations, parsed once per document (a few recent ones kept)."""
        if doc_id not in self._locations:
            row = self._db.execute(
                "SELECT locations FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            if len(self._locations) >= 64:
                self._locations.pop(next(iter(self._locations)))
            self._locations[doc_id] = self._load(row[0], doc_id) if row else ()
        return self._locations[doc_id]

    def _load(self, saved: str, doc_id: str) -> tuple[Location, ...]:
        try:
            return tuple(
                Location(int(start), LocationKind(kind), str(label))
                for start, kind, label in json.loads(saved)
            )
        except (ValueError, TypeError) as error:
            raise IndexCorruptError(
                f"The chunk store {self.path} holds unreadable locations for document "
                f"{doc_id!r} ({error}). {REBUILD_HINT}"
            ) from error

    def chunks_by_rows(self, rows: Sequence[int]) -> list[Chunk]:
        """Chunks for FAISS row ids, in the order given."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            int(r[0]): self._to_chunk(r)
            for r in self._db.execute(
                self._CHUNK_QUERY + f"WHERE c.row IN ({marks})", list(map(int, rows))
            )
        }
        return [found[row] for row in rows if row in found]

    def chunk_ids_by_rows(self, rows: Sequence[int]) -> list[str]:
        """The chunk ids of FAISS row ids, in the order given (unknown rows skipped)."""
        found = self._lookup(
            "SELECT row, chunk_id FROM chunks WHERE row IN ({})", list(map(int, rows))
        )
        return [found[row] for row in map(int, rows) if row in found]

    def rows_by_ids(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """The FAISS row of each known chunk id."""
        return self._lookup("SELECT chunk_id, row FROM chunks WHERE chunk_id IN ({})", chunk_ids)

    def _lookup(self, query: str, keys: Sequence) -> dict:
        found: dict = {}
        # SQLite caps the number of bound parameters; 900 stays under every build's limit.
        for start in range(0, len(keys), 900):
            batch = list(keys[start : start + 900])
            marks = ",".join("?" * len(batch))
            found.update(self._db.execute(query.format(marks), batch).fetchall())
        return found

    def chunks_by_ids(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order given (unknown ids skipped)."""
        rows = self.rows_by_ids(chunk_ids)
        return self.chunks_by_rows([rows[i] for i in chunk_ids if i in rows])

    def chunk(self, chunk_id: str) -> Chunk | None:
        row = self._db.execute(self._CHUNK_QUERY + "WHERE c.chunk_id = ?", (chunk_id,)).fetchone()
        return self._to_chunk(row) if row else None

    def all_chunks(self) -> list[Chunk]:
        return [self._to_chunk(r) for r in self._db.execute(self._CHUNK_QUERY + "ORDER BY c.row")]

    _DOCUMENT_QUERY = (
        "SELECT doc_id, title, source_path, text, content_hash, locations FROM documents "
    )

    def _to_document(self, row: tuple) -> Document:
        doc_id, title, source_path, text, content_hash, locations = row
        try:
            return Document(
                doc_id, title, source_path, text, content_hash, self._load(locations, doc_id)
            )
        except ValueError as error:  # locations that do not fit the text
            raise IndexCorruptError(
                f"The chunk store {self.path} holds a damaged document {row[0]!r} ({error}). "
                f"{REBUILD_HINT}"
            ) from error

    def document(self, doc_id: str) -> Document | None:
        row = self._db.execute(self._DOCUMENT_QUERY + "WHERE doc_id = ?", (doc_id,)).fetchone()
        return self._to_document(row) if row else None

    def documents(self) -> list[Document]:
        return [
            self._to_document(row)
            for row in self._db.execute(self._DOCUMENT_QUERY + "ORDER BY title")
        ]


def _dump(locations: Sequence[Location]) -> str:
    """Locations as saved: ``[[start, kind, label], ...]``.

    >>> _dump([Location(0, "page", "page 1")])
    '[[0, "page", "page 1"]]'
    """
    return json.dumps(
        [[location.start, location.kind.value, location.label] for location in locations],
        ensure_ascii=False,
    )
