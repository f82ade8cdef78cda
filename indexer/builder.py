"""Building and updating an index, incrementally and crash-safely.

A build chunks every document, reuses the vectors of chunks whose text is
unchanged since the live generation (so re-indexing embeds only new or
changed documents, and deleted ones simply drop out), embeds the rest in
batches, and writes a complete new generation that ``CURRENT`` then points
to (see :mod:`indexer.layout`).

Vectors stream to ``embeddings.npy`` a window of chunks at a time, so memory
does not grow with the collection while it is embedded, and progress is
reported as it goes (:mod:`indexer.progress`). A build that fails (a full
disk, no permission, an interruption) removes its partial generation and
leaves the live one as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from corpus.chunking import ChunkingConfig, chunk_document
from corpus.documents import Chunk, Document
from corpus.errors import CollectionError, ConfigError, RagqaError, SavedIndexError
from indexer.chunk_store import ChunkStore, write_chunk_store
from indexer.embedder import Embedder
from indexer.keyword_index import build_keyword_index
from indexer.layout import (
    BUILDING_PREFIX,
    LOCK_FILE,
    POINTER_FILE,
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
from indexer.progress import Progress
from indexer.saved_index import (
    CHUNKS_FILE,
    EMBEDDINGS_FILE,
    VECTORS_FILE,
    load_embeddings,
    verified_manifest,
)
from indexer.vector_index import VectorIndexConfig, build_vector_index, save_vector_index

logger = logging.getLogger(__name__)

EMBED_WINDOW = 256
"""Chunks embedded and written per step: enough for the embedder to sort by
length and batch well, small enough that memory stays flat and progress is
reported every few seconds."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the CLI and the upload panel."""

    index_dir: str
    n_documents: int
    n_chunks: int
    n_embedded: int
    n_reused: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    vector_index: str = "flat"


def _text_key(chunk: Chunk) -> str:
    return hashlib.sha256(chunk.embedding_text.encode("utf-8")).hexdigest()


@dataclass
class _Previous:
    """What the live generation offers for reuse."""

    documents: dict[str, DocumentEntry]
    chunks_by_doc: dict[str, list[Chunk]]
    rows_by_text: dict[str, int]
    embeddings: np.ndarray  # memory-mapped, read-only

    def vector_row(self, chunk: Chunk, dimension: int) -> int | None:
        """The row of the live generation holding ``chunk``'s vector, if any."""
        if self.embeddings.shape[1] != dimension:
            return None
        return self.rows_by_text.get(_text_key(chunk))


def _load_previous(
    index_dir: Path, embedder: Embedder, chunking: ChunkingConfig
) -> _Previous | None:
    """The live generation's chunks and vectors, if it passes every check a
    load makes (a damaged index must not leak into the new one)."""
    if not (index_dir / POINTER_FILE).exists():
        return None
    try:
        generation = live_generation(index_dir)
        manifest = verified_manifest(
            generation, embedding_model=embedder.model_name, where=index_dir
        )
        store = ChunkStore(generation / CHUNKS_FILE)
    except RagqaError as error:
        logger.warning("Not reusing the existing index (%s); embedding everything.", error)
        return None
    try:
        embeddings = load_embeddings(generation)
        chunks = store.all_chunks()
        if len(chunks) != len(embeddings) or len(chunks) != manifest.n_chunks:
            logger.warning("Existing index is inconsistent; embedding everything.")
            return None
        # With other chunking settings the old chunks cannot be reused, but
        # the vectors of chunks that come out the same still can.
        same_chunking = manifest.chunking == asdict(chunking)
        chunks_by_doc: dict[str, list[Chunk]] = {}
        rows_by_text: dict[str, int] = {}
        for row, chunk in enumerate(chunks):
            if same_chunking:
                chunks_by_doc.setdefault(chunk.doc_id, []).append(chunk)
            rows_by_text[_text_key(chunk)] = row
        documents = {entry.doc_id: entry for entry in manifest.documents}
        return _Previous(documents, chunks_by_doc, rows_by_text, embeddings)
    except RagqaError as error:
        logger.warning("Not reusing the existing index (%s); embedding everything.", error)
        return None
    finally:
        store.close()


class IndexBuilder:
    """Builds the index for a set of documents into ``index_dir``.

    >>> # builder = IndexBuilder(make_embedder(), ChunkingConfig())
    >>> # report = builder.build(load_collection([Path("docs")]).documents, Path("idx"))
    """

    def __init__(
        self,
        embedder: Embedder,
        chunking: ChunkingConfig | None = None,
        vector_config: VectorIndexConfig | None = None,
    ) -> None:
        self.embedder = embedder
        self.chunking = chunking or ChunkingConfig()
        self.vector_config = vector_config or VectorIndexConfig()
        if self.chunking.max_tokens > embedder.max_tokens - 2:
            raise ConfigError(
                f"chunk max_tokens={self.chunking.max_tokens} exceeds what the embedding model "
                f"reads ({embedder.max_tokens} word pieces); lower it."
            )

    def _chunk(self, document: Document) -> list[Chunk]:
        # The title is embedded with every chunk, so it shares the model's budget.
        title_cost = self.embedder.count_tokens(document.title) + 3
        budget = min(self.chunking.max_tokens, self.embedder.max_tokens - title_cost)
        config = ChunkingConfig(
            max_tokens=max(16, budget),
            overlap_tokens=min(self.chunking.overlap_tokens, max(0, budget - 1)),
        )
        return chunk_document(document, config, self.embedder.count_tokens)

    def _write_vectors(
        self,
        chunks: Sequence[Chunk],
        previous: _Previous | None,
        path: Path,
        show_progress: bool,
    ) -> int:
        """Write every chunk's vector to the ``.npy`` file ``path``, in chunk
        order, a window at a time: reused vectors are copied from the live
        generation, the others embedded. Returns how many were embedded."""
        dimension = self.embedder.dimension
        reused = [previous.vector_row(c, dimension) if previous else None for c in chunks]
        n_missing = sum(row is None for row in reused)
        if n_missing:
            logger.info("Embedding %d new chunks (%d reused)", n_missing, len(chunks) - n_missing)
        header = {"descr": "<f4", "fortran_order": False, "shape": (len(chunks), dimension)}
        with path.open("wb") as handle, Progress(n_missing, tty=show_progress) as progress:
            np.lib.format.write_array_header_1_0(handle, header)
            for start in range(0, len(chunks), EMBED_WINDOW):
                window = range(start, min(start + EMBED_WINDOW, len(chunks)))
                block = np.empty((len(window), dimension), dtype="<f4")
                todo = []
                for i, row in enumerate(window):
                    source = reused[row]
                    if source is None:
                        todo.append(i)
                    elif previous is not None:
                        block[i] = previous.embeddings[source]
                if todo:
                    texts = [chunks[window[i]].embedding_text for i in todo]
                    block[todo] = self.embedder.embed(texts, show_progress=False)
                    progress.advance(len(todo))
                handle.write(block.tobytes())
        return n_missing

    def build(
        self,
        documents: Sequence[Document],
        index_dir: Path,
        *,
        show_progress: bool = False,
    ) -> BuildReport:
        """Make ``documents`` the whole content of the index at ``index_dir``.

        An empty ``documents`` is refused rather than published: it would
        replace a working index with an empty one."""
        started = time.perf_counter()
        if not documents:
            raise CollectionError(
                "No documents to index: every file was skipped or no supported file was "
                f"found. The index at {index_dir} was left as it was."
            )
        index_dir = index_dir.expanduser()
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
                report = self._build_locked(documents, index_dir, show_progress)
            except BaseException as error:
                # The partial generation goes, so a full disk is not left fuller.
                with contextlib.suppress(OSError):
                    remove_stale(index_dir)
                failure = write_failure(error, index_dir)
                if failure is None:
                    raise
                raise failure from error
            remove_stale(index_dir)
        return BuildReport(**{**asdict(report), "seconds": time.perf_counter() - started})

    def _build_locked(
        self, documents: Sequence[Document], index_dir: Path, show_progress: bool
    ) -> BuildReport:
        ids = [d.doc_id for d in documents]
        if len(set(ids)) != len(ids):
            raise ConfigError("Two documents share a doc_id; each file must be indexed once.")
        previous = _load_previous(index_dir, self.embedder, self.chunking)
        old_docs = previous.documents if previous else {}

        all_chunks: list[Chunk] = []
        added, changed = [], []
        for document in documents:
            entry = old_docs.get(document.doc_id)
            if entry is None:
                added.append(document.source_path)
            elif entry.content_hash != document.content_hash or entry.title != document.title:
                changed.append(document.source_path)
            reusable = (
                previous is not None
                and entry is not None
                and entry.content_hash == document.content_hash
                and entry.title == document.title
                and document.doc_id in previous.chunks_by_doc
            )
            if reusable and previous is not None:
                all_chunks.extend(previous.chunks_by_doc[document.doc_id])
            else:
                all_chunks.extend(self._chunk(document))
        removed = sorted(e.source_path for d, e in old_docs.items() if d not in set(ids))

        building = index_dir / f"{BUILDING_PREFIX}{uuid.uuid4().hex[:12]}"
        building.mkdir()
        n_embedded = self._write_vectors(
            all_chunks, previous, building / EMBEDDINGS_FILE, show_progress
        )
        vectors = np.load(building / EMBEDDINGS_FILE, mmap_mode="r", allow_pickle=False)
        write_chunk_store(building / CHUNKS_FILE, documents, all_chunks)
        vector_index, vector_description = build_vector_index(vectors, self.vector_config)
        save_vector_index(vector_index, building / VECTORS_FILE)
        del vector_index, vectors  # FAISS holds its own copy; unmap ours before BM25
        keyword_files = build_keyword_index([c.embedding_text for c in all_chunks], building)
        file_names = [CHUNKS_FILE, EMBEDDINGS_FILE, VECTORS_FILE, *keyword_files]
        n_chunks_by_doc: dict[str, int] = {}
        for chunk in all_chunks:
            n_chunks_by_doc[chunk.doc_id] = n_chunks_by_doc.get(chunk.doc_id, 0) + 1
        manifest = Manifest(
            embedding_model=self.embedder.model_name,
            embedding_dimension=self.embedder.dimension,
            chunking=asdict(self.chunking),
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
        generation = index_dir / next_generation_name(index_dir)
        os.rename(building, generation)
        fsync_directory(index_dir)
        publish_generation(index_dir, generation)
        return BuildReport(
            index_dir=str(index_dir),
            n_documents=len(documents),
            n_chunks=len(all_chunks),
            n_embedded=n_embedded,
            n_reused=len(all_chunks) - n_embedded,
            added=added,
            changed=changed,
            removed=removed,
            vector_index=str(vector_description["type"]),
        )
