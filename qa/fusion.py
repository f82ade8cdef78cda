"""Combining the dense and keyword candidate lists of hybrid search.

The maths are pure functions (:func:`reciprocal_rank_fusion`,
:func:`weighted_fusion`); the :class:`Joiner` classes wrap them as the
retriever's joining stage, chosen by :func:`make_joiner`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Protocol, TypeVar

from corpus.errors import ConfigError

K = TypeVar("K", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], k: int = 60) -> dict[K, float]:
    """Fuse ranked lists of ids: each id scores the sum of ``1 / (k + rank)``.

    >>> fused = reciprocal_rank_fusion([[7, 3], [3, 9]], k=60)
    >>> sorted(fused, key=fused.get, reverse=True)
    [3, 7, 9]
    """
    if k < 1:
        raise ValueError(f"k must be at least 1. Currently it is {k}")
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def min_max_normalise(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale scores to [0, 1]; a constant list becomes all ones.

    >>> min_max_normalise({1: 2.0, 2: 4.0})
    {1: 0.0, 2: 1.0}
    """
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def weighted_fusion(
    dense: Mapping[K, float], keyword: Mapping[K, float], dense_weight: float = 0.5
) -> dict[K, float]:
    """Convex combination of min-max-normalised dense and keyword scores; an id
    missing from one list scores 0 there.

    >>> weighted_fusion({1: 0.9, 2: 0.5}, {2: 10.0, 3: 5.0}, dense_weight=0.5)
    {1: 0.5, 2: 0.5, 3: 0.0}
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be in [0, 1]. Currently it is {dense_weight}")
    dense_n, keyword_n = min_max_normalise(dense), min_max_normalise(keyword)
    ids = list(dict.fromkeys([*dense_n, *keyword_n]))
    return {
        i: dense_weight * dense_n.get(i, 0.0) + (1.0 - dense_weight) * keyword_n.get(i, 0.0)
        for i in ids
    }


FUSION_METHODS = ("rrf", "weighted")


class Joiner(Protocol):
    """Joins the dense and keyword candidates (chunk id to score, best first)
    into one scored set; higher is better."""

    def run(self, dense: Mapping[str, float], keyword: Mapping[str, float]) -> dict[str, float]: ...


def _best_first(scores: Mapping[str, float]) -> list[str]:
    return sorted(scores, key=scores.__getitem__, reverse=True)


class ReciprocalRankJoiner:
    """Reciprocal rank fusion: only the ranks count, not the scores' scales.

    >>> ReciprocalRankJoiner(k=1).run({"a": 0.9, "b": 0.1}, {"b": 7.0})
    {'a': 0.5, 'b': 0.8333333333333333}
    """

    def __init__(self, k: int = 60) -> None:
        if k < 1:
            raise ConfigError(f"rrf_k must be at least 1. Currently it is {k}")
        self.k = k

    def run(self, dense: Mapping[str, float], keyword: Mapping[str, float]) -> dict[str, float]:
        return reciprocal_rank_fusion([_best_first(dense), _best_first(keyword)], k=self.k)


class WeightedJoiner:
    """A convex combination of the min-max-normalised scores.

    >>> WeightedJoiner(dense_weight=1.0).run({"a": 0.9, "b": 0.1}, {"b": 7.0})
    {'a': 1.0, 'b': 0.0}
    """

    def __init__(self, dense_weight: float = 0.5) -> None:
        if not 0.0 <= dense_weight <= 1.0:
            raise ConfigError(f"dense_weight must be in [0, 1]. Currently it is {dense_weight}")
        self.dense_weight = dense_weight

    def run(self, dense: Mapping[str, float], keyword: Mapping[str, float]) -> dict[str, float]:
        return weighted_fusion(dense, keyword, self.dense_weight)


def make_joiner(method: str, *, rrf_k: int = 60, dense_weight: float = 0.5) -> Joiner:
    """The joiner named by the retrieval settings' ``fusion``."""
    if method == "rrf":
        return ReciprocalRankJoiner(rrf_k)
    if method == "weighted":
        return WeightedJoiner(dense_weight)
    raise ConfigError(f"Unknown fusion {method!r}; choose one of {FUSION_METHODS}")
