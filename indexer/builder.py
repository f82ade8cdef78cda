"""Building and updating an index, incrementally, into any vector store.

A build chunks every new or changed document, reuses the vectors of chunks
whose text the live index already holds (so re-indexing embeds only new or
changed text), embeds the rest, stages the changes in a
:class:`~indexer.store.StoreWriter` (deleted documents are staged as
deletions) and commits them at once. Unchanged documents are carried over by
the store without being chunked or embedded again. How a commit is made
crash-safe is the store's business: a new generation and an atomic
``CURRENT`` switch locally (:mod:`indexer.layout`), a new collection and an
alias switch in Milvus.

Vectors stream: documents are staged a window at a time (whole documents,
about :data:`EMBED_WINDOW` chunks), each window's vectors looked up or
embedded just before it is staged and dropped after, so the builder never
holds the whole collection's vectors. A store that writes as it stages
(Milvus, into the not yet published collection) needs no more memory for a
million chunks than for a thousand; the local store keeps the staged vectors
until its commit, as FAISS needs them in memory anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from corpus.chunking import ChunkingConfig, chunk_document
from corpus.documents import Chunk, Document
from corpus.errors import CollectionError, ConfigError
from indexer.embedder import Embedder
from indexer.local_store import LocalStore, text_key
from indexer.progress import Progress
from indexer.store import StoreWriter, VectorStore
from indexer.vector_index import VectorIndexConfig

logger = logging.getLogger(__name__)

EMBED_WINDOW = 256
"""Chunks embedded per step: enough for the embedder to sort by length and
batch well, small enough that progress is reported every few seconds."""


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


class IndexBuilder:
    """Builds the index for a set of documents into an index folder or a store.

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

    def build(
        self,
        documents: Sequence[Document],
        target: Path | VectorStore,
        *,
        show_progress: bool = False,
    ) -> BuildReport:
        """Make ``documents`` the whole content of ``target``: an index folder
        (the local store) or any :class:`~indexer.store.VectorStore`.

        An empty ``documents`` is refused rather than published: it would
        replace a working index with an empty one."""
        started = time.perf_counter()
        store = (
            LocalStore(
                target, embedding_model=self.embedder.model_name, vector_config=self.vector_config
            )
            if isinstance(target, Path)
            else target
        )
        where = store.location
        if not documents:
            raise CollectionError(
                "No documents to index: every file was skipped or no supported file was "
                f"found. The index at {where} was left as it was."
            )
        ids = [d.doc_id for d in documents]
        if len(set(ids)) != len(ids):
            raise ConfigError("Two documents share a doc_id; each file must be indexed once.")
        with store.writer(
            embedding_model=self.embedder.model_name, dimension=self.embedder.dimension
        ) as writer:
            live = writer.live
            old_docs = dict(live.documents) if live else {}
            same_chunking = live is not None and dict(live.chunking) == asdict(self.chunking)

            staged: list[tuple[Document, list[Chunk]]] = []
            added, changed = [], []
            for document in documents:
                entry = old_docs.get(document.doc_id)
                if entry is None:
                    added.append(document.source_path)
                elif entry.content_hash != document.content_hash or entry.title != document.title:
                    changed.append(document.source_path)
                elif same_chunking:
                    continue  # carried over by the store, neither chunked nor embedded
                staged.append((document, self._chunk(document)))
            removed_ids = sorted(set(old_docs) - set(ids))
            removed = sorted(old_docs[d].source_path for d in removed_ids)

            writer.delete_documents(removed_ids)
            n_embedded = self._stage(writer, staged, show_progress)
            description = writer.commit(chunking=asdict(self.chunking), order=ids)
        n_chunks = int(description["n_chunks"])
        return BuildReport(
            index_dir=where,
            n_documents=len(documents),
            n_chunks=n_chunks,
            n_embedded=n_embedded,
            n_reused=n_chunks - n_embedded,
            added=added,
            changed=changed,
            removed=removed,
            seconds=time.perf_counter() - started,
            vector_index=str(description["vector_index"]["type"]),
        )

    def _stage(
        self,
        writer: StoreWriter,
        staged: list[tuple[Document, list[Chunk]]],
        show_progress: bool,
    ) -> int:
        """Upsert ``staged`` a window of whole documents at a time, each with
        its vectors; returns how many chunks were embedded."""
        reusable = self._reusable_keys(writer, staged)
        to_embed = sum(
            1 for _, chunks in staged for c in chunks if text_key(c.embedding_text) not in reusable
        )
        if to_embed:
            n_chunks = sum(len(chunks) for _, chunks in staged)
            logger.info("Embedding %d new chunks (%d reused)", to_embed, n_chunks - to_embed)
        n_embedded = 0
        with Progress(to_embed, tty=show_progress) as progress:
            for window in _windows(staged, EMBED_WINDOW):
                chunks = [c for _, doc_chunks in window for c in doc_chunks]
                vectors, embedded = self._vectors(writer, chunks, reusable, progress)
                writer.upsert([d for d, _ in window], chunks, vectors)
                n_embedded += embedded
        return n_embedded

    def _reusable_keys(
        self, writer: StoreWriter, staged: list[tuple[Document, list[Chunk]]]
    ) -> set[str]:
        """Text keys whose vectors the live index holds (looked up a window at
        a time and only remembered, not kept), so progress can count what
        is left to embed before any window is staged."""
        if writer.live is None:
            return set()
        keys = sorted({text_key(c.embedding_text) for _, chunks in staged for c in chunks})
        found: set[str] = set()
        for start in range(0, len(keys), EMBED_WINDOW):
            vectors = writer.reusable_vectors(keys[start : start + EMBED_WINDOW])
            found.update(k for k, v in vectors.items() if v.shape == (self.embedder.dimension,))
        return found

    def _vectors(
        self, writer: StoreWriter, chunks: list[Chunk], reusable: set[str], progress: Progress
    ) -> tuple[np.ndarray, int]:
        """One vector per chunk of a window: reused where the live index holds
        the same text, embedded otherwise (at most :data:`EMBED_WINDOW` per
        call). Returns the vectors and how many were embedded."""
        vectors = np.zeros((len(chunks), self.embedder.dimension), dtype=np.float32)
        keys = [text_key(c.embedding_text) for c in chunks]
        cache = writer.reusable_vectors({k for k in keys if k in reusable})
        missing_rows = []
        for row, key in enumerate(keys):
            cached = cache.get(key)
            if cached is not None and cached.shape == (self.embedder.dimension,):
                vectors[row] = cached
            else:
                missing_rows.append(row)
        for start in range(0, len(missing_rows), EMBED_WINDOW):
            window = missing_rows[start : start + EMBED_WINDOW]
            vectors[window] = self.embedder.embed(
                [chunks[row].embedding_text for row in window], show_progress=False
            )
            progress.advance(len(window))
        return vectors, len(missing_rows)


def _windows(
    staged: list[tuple[Document, list[Chunk]]], size: int
) -> Iterator[list[tuple[Document, list[Chunk]]]]:
    """Consecutive groups of whole documents holding at least ``size`` chunks
    (the last one fewer); a document is never split, as a store stages a
    document with all its chunks.

    >>> doc = Document("d", "D", "d.txt", "x")
    >>> [len(w) for w in _windows([(doc, [])] * 2 + [(doc, [None] * 3)] * 5, 4)]
    [4, 2, 1]
    """
    window: list[tuple[Document, list[Chunk]]] = []
    n_chunks = 0
    for document, chunks in staged:
        window.append((document, chunks))
        n_chunks += len(chunks)
        if n_chunks >= size:
            yield window
            window, n_chunks = [], 0
    if window:
        yield window
