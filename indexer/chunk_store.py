"""The chunk store: documents and chunks as rows in SQLite (data, never pickle).

Row ``row`` of ``chunks`` matches row ``row`` of the FAISS index and of
``embeddings.npy``. The full cleaned text of every document is kept too, so
the chat window can show a citation in context and the whole document.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from corpus.documents import Chunk, Document
from corpus.errors import IndexCorruptError
from indexer.layout import REBUILD_HINT

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL
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
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
            ((d.doc_id, d.title, d.source_path, d.content_hash, d.text) for d in documents),
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
            self._db.execute("SELECT count(*) FROM chunks").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorruptError(
                f"The chunk store {path} is unreadable ({error}). {REBUILD_HINT}"
            ) from error

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    _CHUNK_QUERY = (
        "SELECT c.row, c.chunk_id, c.doc_id, d.title, d.source_path, c.start, c.end, c.text "
        "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
    )

    @staticmethod
    def _to_chunk(row: tuple) -> Chunk:
        _, chunk_id, doc_id, title, source_path, start, end, text = row
        return Chunk(chunk_id, doc_id, title, source_path, int(start), int(end), text)

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

    def chunk(self, chunk_id: str) -> Chunk | None:
        row = self._db.execute(self._CHUNK_QUERY + "WHERE c.chunk_id = ?", (chunk_id,)).fetchone()
        return self._to_chunk(row) if row else None

    def all_chunks(self) -> list[Chunk]:
        return [self._to_chunk(r) for r in self._db.execute(self._CHUNK_QUERY + "ORDER BY c.row")]

    def document(self, doc_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT doc_id, title, source_path, text, content_hash FROM documents WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        return Document(*row) if row else None

    def documents(self) -> list[Document]:
        return [
            Document(*row)
            for row in self._db.execute(
                "SELECT doc_id, title, source_path, text, content_hash FROM documents ORDER BY title"
            )
        ]
