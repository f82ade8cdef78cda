"""Second-stage rescoring of retrieval candidates, behind one protocol.

* :class:`SentenceMatchReranker` needs no extra weights: it scores each chunk
  by its best-matching sentence under the embedding model, blended with the
  chunk's own cosine score, so a passage holding one sentence that answers
  rises above a passage that is merely on topic.
* :class:`CrossEncoderReranker` runs a sentence-transformers ``CrossEncoder``
  from a local folder, for users who have such weights.

:func:`make_reranker` builds one per pipeline (the cross-encoder's weights
load once); each question's :class:`~qa.types.Query` carries its embedding,
so a reranker never embeds the query again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from corpus.chunking import sentence_spans
from corpus.errors import ConfigError
from indexer.embedder import Embedder
from qa.types import Hit, Query

RERANKERS = ("none", "sentence", "cross-encoder")


class Reranker(Protocol):
    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        """Return the same hits, rescored and re-ranked (ranks from 1)."""
        ...


@dataclass(frozen=True)
class RerankConfig:
    kind: str = "none"
    depth: int = 12
    sentence_weight: float = 0.5
    cross_encoder_path: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RERANKERS:
            raise ConfigError(f"Unknown reranker {self.kind!r}; choose one of {RERANKERS}")
        if self.kind == "cross-encoder" and not self.cross_encoder_path:
            raise ConfigError(
                "The cross-encoder reranker needs cross_encoder_path: the folder of a local "
                "sentence-transformers CrossEncoder model (nothing is downloaded)."
            )


def _reranked(hits: Sequence[Hit], scores: Sequence[float]) -> list[Hit]:
    order = sorted(range(len(hits)), key=lambda i: scores[i], reverse=True)
    return [
        replace(hits[i], score=float(scores[i]), rank=rank) for rank, i in enumerate(order, start=1)
    ]


class SentenceMatchReranker:
    """Blend of chunk cosine and best-sentence cosine over the top ``depth``."""

    def __init__(self, embedder: Embedder, depth: int = 12, sentence_weight: float = 0.5) -> None:
        self.embedder = embedder
        self.depth = depth
        self.sentence_weight = sentence_weight

    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        head, tail = list(hits[: self.depth]), list(hits[self.depth :])
        sentences: list[str] = []
        owners: list[int] = []
        for position, hit in enumerate(head):
            for start, end in sentence_spans(hit.chunk.text):
                sentences.append(hit.chunk.text[start:end])
                owners.append(position)
        if not sentences:
            return list(hits)
        similarity = self.embedder.embed(sentences) @ query.vector
        best = np.full(len(head), -1.0)
        for owner, value in zip(owners, similarity, strict=True):
            best[owner] = max(best[owner], float(value))
        scores = [
            (1 - self.sentence_weight) * (hit.dense_score or 0.0) + self.sentence_weight * best[i]
            for i, hit in enumerate(head)
        ]
        reranked = _reranked(head, scores)
        return reranked + [replace(h, rank=len(reranked) + i + 1) for i, h in enumerate(tail)]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local folder."""

    def __init__(self, model_path: str, depth: int = 12) -> None:
        model_path = os.path.expanduser(model_path)
        if not os.path.isdir(model_path):
            raise ConfigError(f"Cross-encoder folder {model_path!r} does not exist.")
        from sentence_transformers import CrossEncoder

        self._model: Any = CrossEncoder(model_path, device="cpu")
        self.depth = depth

    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        head, tail = list(hits[: self.depth]), list(hits[self.depth :])
        if not head:
            return []
        scores = self._model.predict([(query.text, h.chunk.embedding_text) for h in head])
        reranked = _reranked(head, [float(s) for s in np.ravel(scores)])
        return reranked + [replace(h, rank=len(reranked) + i + 1) for i, h in enumerate(tail)]


def make_reranker(config: RerankConfig, embedder: Embedder) -> Reranker | None:
    if config.kind == "none":
        return None
    if config.kind == "sentence":
        return SentenceMatchReranker(embedder, config.depth, config.sentence_weight)
    return CrossEncoderReranker(config.cross_encoder_path, config.depth)
