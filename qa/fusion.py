"""Pure scoring functions for combining and rescoring ranked lists."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

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
