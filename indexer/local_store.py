"""The local store: FAISS vectors, a bm25s keyword index and a SQLite chunk
store in generations on disk (see :mod:`indexer.layout`).

Reading goes through :class:`indexer.saved_index.SavedIndex`, which verifies
the manifest and every checksum before any file is parsed. Writing stages
changes in memory and publishes a complete new generation with an atomic
``CURRENT`` switch, under a lock file so two builds never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from corpus.documents import Chunk, Document
from corpus.errors import IndexCorruptError, RagqaError, SavedIndexError
from indexer.chunk_store import ChunkStore, write_chunk_store
from indexer.keyword_index import KeywordIndex, build_keyword_index
from indexer.layout import (
    BUILDING_PREFIX,
    LOCK_FILE,
    POINTER_FILE,
    REBUILD_HINT,
    check_index_dir_usable,
    fsync_directory,
    live_generation,
    mark_index_dir,
    next_generation_name,
    publish_generation,
    remove_stale,
    write_failure,
)
from indexer.manifest import MANIFEST_FILE, DocumentEntry, Manifest, describe_files
from indexer.saved_index import (
    CHUNKS_FILE,
    EMBEDDINGS_FILE,
    VECTORS_FILE,
    SavedIndex,
    load_embeddings,
    verified_manifest,
)
from indexer.store import LiveContent, StoreHit
from indexer.vector_index import (
    VectorIndexConfig,
    build_vector_index,
    save_vector_index,
    search,
)

logger = logging.getLogger(__name__)


def text_key(text: str) -> str:
    """The key under which a chunk's vector is reused: SHA-256 of the embedded text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LocalStore:
    """A ragqa index folder read and written as a :class:`~indexer.store.VectorStore`."""

    kind = "faiss"

    def __init__(
        self,
        index_dir: Path,
        *,
        embedding_model: str,
        vector_config: VectorIndexConfig | None = None,
    ) -> None:
        self.index_dir = index_dir.expanduser()
        self.embedding_model = embedding_model
        self.vector_config = vector_config or VectorIndexConfig()
        self.location = str(self.index_dir)
        self._index: SavedIndex | None = None
        self._lock = threading.RLock()

    @property
    def index(self) -> SavedIndex:
        """The verified live generation, opened on first use."""
        with self._lock:
            if self._index is None:
                self._index = SavedIndex.open(
                    self.index_dir,
                    embedding_model=self.embedding_model,
                    vector_config=self.vector_config,
                )
            return self._index

    def exists(self) -> bool:
        return (self.index_dir / POINTER_FILE).is_file()

    # --- reading ----------------------------------------------------------
    def dense_search(self, query_vector: np.ndarray, top_k: int) -> list[StoreHit]:
        index = self.index
        scores, rows = search(index.vectors, np.atleast_2d(query_vector), top_k)
        valid = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        ids = index.store.chunk_ids_by_rows([r for r, _ in valid])
        return [StoreHit(i, s) for i, (_, s) in zip(ids, valid, strict=True)]

    def keyword_search(self, query: str, top_k: int) -> list[StoreHit]:
        index = self.index
        scores, rows = index.keywords.search(query, top_k)
        ids = index.store.chunk_ids_by_rows([int(r) for r in rows])
        return [StoreHit(i, float(s)) for i, s in zip(ids, scores, strict=True)]

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return self.index.store.chunks_by_ids(chunk_ids)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.index.store.chunk(chunk_id)

    def all_chunks(self) -> list[Chunk]:
        return self.index.store.all_chunks()

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        index = self.index
        rows = index.store.rows_by_ids(chunk_ids)
        missing = [i for i in chunk_ids if i not in rows]
        if missing:
            raise KeyError(f"No chunk {missing[0]!r} in the index at {self.index_dir}")
        embeddings = index.embeddings()
        return np.asarray(embeddings[[rows[i] for i in chunk_ids]], dtype=np.float32).reshape(
            len(chunk_ids), embeddings.shape[1]
        )

    def document(self, doc_id: str) -> Document | None:
        return self.index.store.document(doc_id)

    def documents(self) -> list[Document]:
        return self.index.store.documents()

    def content(self) -> LiveContent:
        manifest = self.index.manifest
        return LiveContent({e.doc_id: e for e in manifest.documents}, dict(manifest.chunking))

    def term_statistics(self) -> KeywordIndex:
        return self.index.keywords

    def count(self) -> int:
        return self.index.manifest.n_chunks

    def describe(self) -> dict[str, Any]:
        index = self.index
        return {
            "kind": self.kind,
            "index_dir": str(self.index_dir),
            "generation": index.directory.name,
            "n_documents": len(index.manifest.documents),
            "n_chunks": index.manifest.n_chunks,
            "embedding_model": index.manifest.embedding_model,
            "vector_index": dict(index.manifest.vector_index),
            "keyword_index": "bm25s",
        }

    def reload(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
            self._index = None

    def close(self) -> None:
        self.reload()

    # --- writing ----------------------------------------------------------
    @contextmanager
    def writer(self, *, embedding_model: str, dimension: int) -> Iterator[LocalWriter]:
        """Lock the folder, open the live generation for reuse, and clear
        leftovers of crashed builds before and after."""
        index_dir = self.index_dir
        check_index_dir_usable(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        with (index_dir / LOCK_FILE).open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise SavedIndexError(
                    f"Another `ragqa index` is writing to {index_dir}; wait for it to finish."
                ) from error
            try:
                mark_index_dir(index_dir)
                remove_stale(index_dir)
                writer = LocalWriter(
                    index_dir,
                    embedding_model=embedding_model,
                    dimension=dimension,
                    vector_config=self.vector_config,
                )
                try:
                    yield writer
                finally:
                    writer.close()
            except BaseException as error:
                # The partial generation goes, so a full disk is not left fuller.
                with contextlib.suppress(OSError):
                    remove_stale(index_dir)
                failure = write_failure(error, index_dir)
                if failure is None:
                    raise
                raise failure from error
            remove_stale(index_dir)
        self.reload()


class LocalWriter:
    """A staged change to a local index; :meth:`commit` writes a generation."""

    def __init__(
        self,
        index_dir: Path,
        *,
        embedding_model: str,
        dimension: int,
        vector_config: VectorIndexConfig,
    ) -> None:
        self.index_dir = index_dir
        self.embedding_model = embedding_model
        self.dimension = dimension
        self.vector_config = vector_config
        self._staged: dict[str, tuple[Document, list[Chunk], np.ndarray]] = {}
        self._deleted: set[str] = set()
        self._manifest: Manifest | None = None
        self._store: ChunkStore | None = None
        self._embeddings: np.ndarray | None = None
        self._chunks: list[Chunk] | None = None
        self._rows_by_key: dict[str, int] | None = None
        self.last_vector_index: dict[str, Any] = {}
        self._open_live()

    def _open_live(self) -> None:
        """Use the live generation only if it passes every check a load makes
        (a damaged index must not leak into the new one)."""
        if not (self.index_dir / POINTER_FILE).exists():
            return
        try:
            generation = live_generation(self.index_dir)
            manifest = verified_manifest(
                generation, embedding_model=self.embedding_model, where=self.index_dir
            )
            store = ChunkStore(generation / CHUNKS_FILE)
        except RagqaError as error:
            logger.warning("Not reusing the existing index (%s); embedding everything.", error)
            return
        try:
            embeddings = load_embeddings(generation)
            chunks = store.all_chunks()
            if len(chunks) != len(embeddings) or len(chunks) != manifest.n_chunks:
                raise IndexCorruptError(f"{generation} is inconsistent. {REBUILD_HINT}")
        except RagqaError as error:
            logger.warning("Not reusing the existing index (%s); embedding everything.", error)
            store.close()
            return
        self._manifest, self._store = manifest, store
        self._embeddings, self._chunks = embeddings, chunks

    @property
    def live(self) -> LiveContent | None:
        if self._manifest is None:
            return None
        return LiveContent(
            {e.doc_id: e for e in self._manifest.documents}, dict(self._manifest.chunking)
        )

    def reusable_vectors(self, text_keys: Collection[str]) -> dict[str, np.ndarray]:
        if self._chunks is None or self._embeddings is None:
            return {}
        if self._rows_by_key is None:
            self._rows_by_key = {
                text_key(c.embedding_text): row for row, c in enumerate(self._chunks)
            }
        rows = self._rows_by_key
        return {
            key: np.array(self._embeddings[rows[key]], dtype=np.float32)
            for key in text_keys
            if key in rows
        }

    def upsert(
        self, documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            by_doc.setdefault(chunk.doc_id, []).append(row)
        for document in documents:
            rows = by_doc.get(document.doc_id, [])
            self._staged[document.doc_id] = (
                document,
                [chunks[r] for r in rows],
                np.asarray(vectors[rows], dtype=np.float32).reshape(len(rows), self.dimension),
            )
            self._deleted.discard(document.doc_id)

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        for doc_id in doc_ids:
            self._staged.pop(doc_id, None)
            self._deleted.add(doc_id)

    def _final_content(
        self, order: Sequence[str] | None
    ) -> tuple[list[Document], list[Chunk], np.ndarray]:
        """Live documents kept in place, staged ones replacing theirs or appended."""
        live_ids = [e.doc_id for e in self._manifest.documents] if self._manifest else []
        ids = [i for i in live_ids if i not in self._deleted]
        ids += [i for i in self._staged if i not in set(live_ids)]
        if order is not None:
            position = {doc_id: n for n, doc_id in enumerate(order)}
            ids.sort(key=lambda i: position.get(i, len(position)))
        live_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(self._chunks or []):
            live_rows.setdefault(chunk.doc_id, []).append(row)
        documents, chunks, parts = [], [], []
        for doc_id in ids:
            if doc_id in self._staged:
                document, doc_chunks, vectors = self._staged[doc_id]
            else:
                assert self._store is not None and self._chunks is not None
                assert self._embeddings is not None
                found = self._store.document(doc_id)
                if found is None:
                    raise IndexCorruptError(
                        f"The live index lost document {doc_id}. {REBUILD_HINT}"
                    )
                document = found
                rows = live_rows.get(doc_id, [])
                doc_chunks = [self._chunks[r] for r in rows]
                vectors = np.asarray(self._embeddings[rows], dtype=np.float32)
            documents.append(document)
            chunks.extend(doc_chunks)
            parts.append(vectors.reshape(len(doc_chunks), self.dimension))
        all_vectors = (
            np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)
        )
        return documents, chunks, np.ascontiguousarray(all_vectors, dtype=np.float32)

    def commit(
        self, *, chunking: Mapping[str, int], order: Sequence[str] | None = None
    ) -> dict[str, Any]:
        documents, all_chunks, vectors = self._final_content(order)
        self._staged = {}  # now copied into ``vectors``
        building = self.index_dir / f"{BUILDING_PREFIX}{uuid.uuid4().hex[:12]}"
        building.mkdir()
        write_chunk_store(building / CHUNKS_FILE, documents, all_chunks)
        np.save(building / EMBEDDINGS_FILE, vectors, allow_pickle=False)
        vector_index, vector_description = build_vector_index(vectors, self.vector_config)
        save_vector_index(vector_index, building / VECTORS_FILE)
        del vector_index, vectors  # FAISS holds its own copy; free ours before BM25
        keyword_files = build_keyword_index([c.embedding_text for c in all_chunks], building)
        file_names = [CHUNKS_FILE, EMBEDDINGS_FILE, VECTORS_FILE, *keyword_files]
        n_chunks_by_doc: dict[str, int] = {}
        for chunk in all_chunks:
            n_chunks_by_doc[chunk.doc_id] = n_chunks_by_doc.get(chunk.doc_id, 0) + 1
        manifest = Manifest(
            embedding_model=self.embedding_model,
            embedding_dimension=self.dimension,
            chunking=dict(chunking),
            vector_index=vector_description,
            documents=[
                DocumentEntry(
                    d.doc_id,
                    d.title,
                    d.source_path,
                    d.content_hash,
                    n_chunks_by_doc.get(d.doc_id, 0),
                )
                for d in documents
            ],
            n_chunks=len(all_chunks),
            files=describe_files(building, file_names),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        (building / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        for name in [*file_names, MANIFEST_FILE]:
            with (building / name).open("rb") as handle:
                os.fsync(handle.fileno())
        fsync_directory(building)
        generation = self.index_dir / next_generation_name(self.index_dir)
        os.rename(building, generation)
        fsync_directory(self.index_dir)
        publish_generation(self.index_dir, generation)
        self.last_vector_index = vector_description
        return {
            "kind": LocalStore.kind,
            "index_dir": str(self.index_dir),
            "generation": generation.name,
            "n_documents": len(documents),
            "n_chunks": len(all_chunks),
            "vector_index": vector_description,
        }

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
