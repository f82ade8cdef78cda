"""The vector store seam: what retrieval, answering, evaluation and the
builder may ask of an index, whichever engine holds it.

Two backends implement :class:`VectorStore`:

* ``faiss`` (:mod:`indexer.local_store`): FAISS + bm25s + SQLite in local
  generations switched by an atomic ``CURRENT`` file. The default.
* ``milvus`` (:mod:`indexer.milvus_store`): one Milvus collection per ragqa
  collection, embedded Milvus Lite (``uri = "milvus.db"``) or a cluster
  (``uri = "http://host:19530"``), switched by a collection alias.

:func:`make_store` picks one from :class:`VectorStoreConfig`, and
:func:`make_catalog` the matching list of collections; nothing else imports
a backend. Both backends publish a build all at once: a reader sees either
the old content or the new, never a mix.

Writing is staged: :meth:`VectorStore.writer` opens a :class:`StoreWriter`
over the live content; :meth:`StoreWriter.upsert` and
:meth:`StoreWriter.delete_documents` stage changes, and
:meth:`StoreWriter.commit` publishes the live documents that were not touched
together with the staged ones. Leaving the ``with`` block without a commit
(an error, a crash, a kill) leaves the live content answering as before.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from corpus.documents import Chunk, Document
from corpus.errors import ConfigError
from indexer.collections import CollectionCatalog, LocalCatalog
from indexer.manifest import DocumentEntry
from indexer.vector_index import VectorIndexConfig

STORE_KINDS = ("faiss", "milvus")
MILVUS_INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX")


@dataclass(frozen=True)
class VectorStoreConfig:
    """``[vector_store]`` settings.

    ``uri`` is a Milvus Lite file (empty: ``<data dir>/milvus.db``) or a
    server address (``http://host:19530``); ``token`` is read from the
    environment only (``RAGQA_VECTOR_STORE__TOKEN``) and never shown in a
    ``repr``, a log line or :meth:`VectorStore.describe`. ``collection``
    names the Milvus collection (empty: from the index folder's name).
    """

    kind: str = "faiss"
    uri: str = ""
    token: str = field(default="", repr=False)
    collection: str = ""
    index_type: str = "FLAT"
    batch_size: int = 512

    def __post_init__(self) -> None:
        if self.kind not in STORE_KINDS:
            raise ConfigError(
                f"Unknown vector store {self.kind!r}; choose one of {', '.join(STORE_KINDS)}."
            )
        if self.index_type not in MILVUS_INDEX_TYPES:
            raise ConfigError(
                f"Unknown Milvus index type {self.index_type!r}; choose one of "
                f"{', '.join(MILVUS_INDEX_TYPES)}."
            )
        if self.batch_size < 1:
            raise ConfigError(
                f"batch_size must be 1 or more. Currently, batch_size is {self.batch_size}"
            )

    @property
    def is_server(self) -> bool:
        """Whether ``uri`` names a Milvus server rather than a Milvus Lite file.

        >>> VectorStoreConfig(uri="http://db:19530").is_server, VectorStoreConfig(uri="x.db").is_server
        (True, False)
        """
        return self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))


@dataclass(frozen=True)
class StoreHit:
    """One search result: a chunk id and the engine's score (higher is better)."""

    chunk_id: str
    score: float


@dataclass(frozen=True)
class LiveContent:
    """What the live index offers a build for reuse: the documents it holds
    (with content hashes) and the chunking they were cut with."""

    documents: Mapping[str, DocumentEntry]
    chunking: Mapping[str, int]


class TermWeights(Protocol):
    """Term statistics of a collection, as the answerer needs them."""

    def term_weights(self, text: str) -> dict[str, float]: ...


def idf(n_chunks: int, frequency: int) -> float:
    """BM25's inverse document frequency (the Lucene form bm25s uses).

    >>> round(idf(100, 1), 3), round(idf(100, 100), 3)
    (4.21, 0.005)
    """
    n = max(1, n_chunks)
    return float(math.log(1 + (n - frequency + 0.5) / (frequency + 0.5)))


@dataclass(frozen=True)
class TermStatistics:
    """Chunk frequency of every stemmed term, for stores whose engine does
    not expose its own (Milvus keeps BM25 statistics inside the engine)."""

    n_chunks: int
    frequencies: Mapping[str, int]

    def term_weights(self, text: str) -> dict[str, float]:
        """IDF of each stemmed term of ``text``; unseen terms weigh most.

        >>> stats = TermStatistics(10, {"xiaomi": 10, "found": 1})
        >>> {t: round(w, 2) for t, w in sorted(stats.term_weights("Xiaomi founded").items())}
        {'found': 1.99, 'xiaomi': 0.05}
        """
        from indexer.keyword_index import stems

        return {term: idf(self.n_chunks, self.frequencies.get(term, 0)) for term in stems(text)}

    @classmethod
    def count(cls, term_sets: Iterator[set[str]]) -> TermStatistics:
        """Count the chunks each term appears in.

        >>> TermStatistics.count(iter([{"a", "b"}, {"a"}])).frequencies == {"a": 2, "b": 1}
        True
        """
        frequencies: dict[str, int] = {}
        n = 0
        for terms in term_sets:
            n += 1
            for term in terms:
                frequencies[term] = frequencies.get(term, 0) + 1
        return cls(n, frequencies)


@runtime_checkable
class StoreWriter(Protocol):
    """A staged change to a store; nothing is visible to readers until :meth:`commit`."""

    @property
    def live(self) -> LiveContent | None:
        """The content this change starts from; ``None`` means an empty start
        (no index yet, or one that cannot be reused: other model, damaged)."""
        ...

    def reusable_vectors(self, text_keys: Collection[str]) -> dict[str, np.ndarray]:
        """Vectors the live content holds for chunks with these text keys
        (SHA-256 of the embedded text), so unchanged text is not re-embedded."""
        ...

    def upsert(
        self, documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Stage ``documents`` (replacing any live ones with the same id) with
        their ``chunks`` and one vector per chunk."""
        ...

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        """Stage the removal of these documents and their chunks."""
        ...

    def commit(
        self, *, chunking: Mapping[str, int], order: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Publish untouched live documents plus the staged changes at once,
        recording the ``chunking`` they were cut with; ``order`` lists doc ids
        in the order to keep them. Returns a description of the new content
        (``n_chunks``, ``vector_index``...)."""
        ...


class VectorStore(Protocol):
    """Chunks, their vectors and a keyword index, behind one interface.

    Scores: ``dense_search`` returns inner products of unit vectors (cosine),
    ``keyword_search`` BM25 scores; both best first.
    """

    kind: str
    location: str
    """Where the index lives, for messages (no secrets)."""

    def exists(self) -> bool:
        """Whether an index has been published here (cheap; loads nothing)."""
        ...

    def dense_search(self, query_vector: np.ndarray, top_k: int) -> list[StoreHit]: ...

    def keyword_search(self, query: str, top_k: int) -> list[StoreHit]:
        """BM25 hits; an empty list when the query has no indexed terms."""
        ...

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order given (unknown ids skipped)."""
        ...

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def all_chunks(self) -> list[Chunk]: ...

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """One stored vector per id, in the order given (every id must exist)."""
        ...

    def document(self, doc_id: str) -> Document | None: ...

    def documents(self) -> list[Document]: ...

    def content(self) -> LiveContent:
        """The documents held (in index order, with content hashes) and the
        chunking they were cut with."""
        ...

    def term_statistics(self) -> TermWeights: ...

    def count(self) -> int:
        """The number of chunks."""
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (kind, where, sizes, index type); no secrets."""
        ...

    def writer(
        self, *, embedding_model: str, dimension: int
    ) -> AbstractContextManager[StoreWriter]:
        """Open a staged change. Raises if another build is writing here
        (where the backend can tell)."""
        ...

    def reload(self) -> None:
        """Forget what was loaded, so the next read sees the latest publish."""
        ...

    def close(self) -> None: ...


def make_store(
    config: VectorStoreConfig,
    *,
    index_dir: Path,
    embedding_model: str,
    vector_index: VectorIndexConfig | None = None,
) -> VectorStore:
    """The store ``config`` asks for, for the ragqa collection at ``index_dir``.

    >>> make_store(VectorStoreConfig(), index_dir=Path("idx"), embedding_model="m").kind
    'faiss'
    """
    if config.kind == "faiss":
        from indexer.local_store import LocalStore

        return LocalStore(index_dir, embedding_model=embedding_model, vector_config=vector_index)
    from indexer.milvus_store import MilvusStore

    return MilvusStore(config, index_dir=index_dir, embedding_model=embedding_model)


def make_catalog(config: VectorStoreConfig, collections_dir: Path) -> CollectionCatalog:
    """The collections of the store ``config`` names (the same choice as
    :func:`make_store`), for ``ragqa collections`` and the chat window's picker.

    >>> make_catalog(VectorStoreConfig(), Path("data/index")).location
    'data/index'
    """
    if config.kind == "faiss":
        return LocalCatalog(collections_dir)
    from indexer.milvus_store import MilvusCatalog

    return MilvusCatalog(config, collections_dir)
