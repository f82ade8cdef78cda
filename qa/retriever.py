"""Retrieval: dense, keyword (BM25) or both fused, then an optional rerank
over the fused candidates. Works on any :class:`~indexer.store.VectorStore`.

The dense cosine score of each hit is kept whatever the mode, because it has
a stable scale across collections and the abstention decision relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus.errors import ConfigError
from indexer.embedder import Embedder
from indexer.store import VectorStore
from qa.fusion import reciprocal_rank_fusion, weighted_fusion
from qa.reranker import Reranker
from qa.types import Hit

RETRIEVAL_MODES = ("hybrid", "dense", "keyword")
FUSION_METHODS = ("rrf", "weighted")


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


class Retriever:
    """Finds the chunks of a vector store that best match a query."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.reranker = reranker

    def run(self, query: str, top_k: int | None = None, mode: str | None = None) -> list[Hit]:
        """Return up to ``top_k`` hits, best first."""
        top_k = top_k or self.config.top_k
        mode = mode or self.config.mode
        if mode not in RETRIEVAL_MODES:
            raise ConfigError(f"Unknown retrieval mode {mode!r}; choose one of {RETRIEVAL_MODES}")
        n_candidates = max(self.config.candidates, top_k)
        query_vector = self.embedder.embed([query])
        dense_scores: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            dense_scores = {
                h.chunk_id: h.score for h in self.store.dense_search(query_vector[0], n_candidates)
            }
        keyword_scores: dict[str, float] = {}
        if mode in ("hybrid", "keyword"):
            keyword_scores = {
                h.chunk_id: h.score for h in self.store.keyword_search(query, n_candidates)
            }

        if mode == "dense":
            fused = dense_scores
        elif mode == "keyword":
            fused = keyword_scores
        elif self.config.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                [
                    sorted(dense_scores, key=dense_scores.__getitem__, reverse=True),
                    sorted(keyword_scores, key=keyword_scores.__getitem__, reverse=True),
                ],
                k=self.config.rrf_k,
            )
        else:
            fused = weighted_fusion(dense_scores, keyword_scores, self.config.dense_weight)

        ranked = sorted(fused, key=fused.__getitem__, reverse=True)[:n_candidates]
        chunks = self.store.chunks(ranked)
        ranked = [c.chunk_id for c in chunks]
        # Every candidate gets a true cosine score, even those only BM25 found.
        cosine = self.store.vectors(ranked) @ query_vector[0] if ranked else []
        candidates = [
            Hit(
                chunk=chunk,
                score=float(fused[chunk.chunk_id]),
                rank=position + 1,
                dense_score=float(cosine[position]),
                keyword_score=keyword_scores.get(chunk.chunk_id),
            )
            for position, chunk in enumerate(chunks)
        ]
        if self.reranker is not None and candidates:
            candidates = self.reranker.rerank(query, candidates)
        return candidates[:top_k]
