"""Retrieval: dense, keyword (BM25) or both joined, then an optional rerank
over the joined candidates. Works on any :class:`~indexer.store.VectorStore`.

A :class:`Retriever` is composed once per pipeline (:func:`make_retriever`)
from the parts the settings' ``mode`` asks for: a :class:`DenseRetriever`, a
:class:`KeywordRetriever`, or both and a :class:`~qa.fusion.Joiner`. It is
handed the question's :class:`~qa.types.Query`, embedded once, so nothing
here embeds.

The dense cosine score of each hit is kept whatever the mode, because it has
a stable scale across collections and the abstention decision relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from corpus.errors import ConfigError
from indexer.store import VectorStore
from qa.fusion import FUSION_METHODS, Joiner, make_joiner
from qa.reranker import Reranker
from qa.types import Hit, Query

RETRIEVAL_MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class RetrievalConfig:
    top_k: int = 5
    mode: str = "hybrid"
    fusion: str = "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.5
    candidates: int = 30

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.top_k > 100:
            raise ConfigError(f"top_k must be between 1 and 100. Currently it is {self.top_k}")
        if self.mode not in RETRIEVAL_MODES:
            raise ConfigError(
                f"Unknown retrieval mode {self.mode!r}; choose one of {RETRIEVAL_MODES}"
            )
        if self.fusion not in FUSION_METHODS:
            raise ConfigError(f"Unknown fusion {self.fusion!r}; choose one of {FUSION_METHODS}")


class CandidateRetriever(Protocol):
    """One way of finding candidates: chunk id to score, best first."""

    def run(self, query: Query, top_k: int) -> dict[str, float]: ...


class DenseRetriever:
    """Nearest chunks to the query's embedding (cosine)."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store

    def run(self, query: Query, top_k: int) -> dict[str, float]:
        return {h.chunk_id: h.score for h in self.store.dense_search(query.vector, top_k)}


class KeywordRetriever:
    """Chunks sharing the query's words, by BM25."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store

    def run(self, query: Query, top_k: int) -> dict[str, float]:
        return {h.chunk_id: h.score for h in self.store.keyword_search(query.text, top_k)}


class Retriever:
    """Finds the chunks of a vector store that best match a query.

    Give it a ``dense`` retriever, a ``keyword`` one, or both with a
    ``joiner``; each is asked for ``max(candidates, top_k)`` candidates.
    """

    def __init__(
        self,
        store: VectorStore,
        *,
        dense: CandidateRetriever | None = None,
        keyword: CandidateRetriever | None = None,
        joiner: Joiner | None = None,
        reranker: Reranker | None = None,
        top_k: int = 5,
        candidates: int = 30,
    ) -> None:
        if dense is None and keyword is None:
            raise ConfigError("A retriever needs a dense retriever, a keyword one, or both.")
        if (dense is not None and keyword is not None) != (joiner is not None):
            raise ConfigError("A joiner is needed exactly when both dense and keyword retrieve.")
        if top_k < 1 or candidates < 1:
            raise ConfigError(
                f"top_k and candidates must be 1 or more. Currently they are {top_k}, {candidates}"
            )
        self.store = store
        self.dense = dense
        self.keyword = keyword
        self.joiner = joiner
        self.reranker = reranker
        self.top_k = top_k
        self.candidates = candidates

    def run(self, query: Query, top_k: int | None = None, *, keep: int = 0) -> list[Hit]:
        """Return up to ``top_k`` hits (default: the configured one), best first;
        ``keep`` returns that many of the same ranking instead when it is more
        (what the evaluation lists), without changing the first ``top_k``."""
        top_k = top_k or self.top_k
        n_candidates = max(self.candidates, top_k)
        dense = self.dense.run(query, n_candidates) if self.dense is not None else {}
        keyword = self.keyword.run(query, n_candidates) if self.keyword is not None else {}
        if self.joiner is not None:
            joined = self.joiner.run(dense, keyword)
        else:
            joined = dense if self.dense is not None else keyword

        ranked = sorted(joined, key=joined.__getitem__, reverse=True)[:n_candidates]
        chunks = self.store.chunks(ranked)
        ranked = [c.chunk_id for c in chunks]
        # Every candidate gets a true cosine score, even those only BM25 found.
        cosine = self.store.vectors(ranked) @ query.vector if ranked else []
        candidates = [
            Hit(
                chunk=chunk,
                score=float(joined[chunk.chunk_id]),
                rank=position + 1,
                dense_score=float(cosine[position]),
                keyword_score=keyword.get(chunk.chunk_id),
            )
            for position, chunk in enumerate(chunks)
        ]
        if self.reranker is not None and candidates:
            candidates = self.reranker.rerank(query, candidates)
        return candidates[: max(top_k, keep)]


def make_retriever(
    store: VectorStore, config: RetrievalConfig | None = None, reranker: Reranker | None = None
) -> Retriever:
    """The retriever the settings' ``mode`` and ``fusion`` describe."""
    config = config or RetrievalConfig()
    dense = DenseRetriever(store) if config.mode in ("hybrid", "dense") else None
    keyword = KeywordRetriever(store) if config.mode in ("hybrid", "keyword") else None
    joiner = (
        make_joiner(config.fusion, rrf_k=config.rrf_k, dense_weight=config.dense_weight)
        if config.mode == "hybrid"
        else None
    )
    return Retriever(
        store,
        dense=dense,
        keyword=keyword,
        joiner=joiner,
        reranker=reranker,
        top_k=config.top_k,
        candidates=config.candidates,
    )
