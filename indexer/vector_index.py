"""FAISS indexes of normalised vectors, chosen by collection size.

Row ``i`` of the index is row ``i`` of the chunk store. Exact inner product
(``flat``) is the default for small and medium collections; approximate
indexes (``hnsw``, ``ivf``) trade a little recall for speed on large ones.
``auto`` picks by size, with thresholds set from ``benchmarks/retrieval_scale.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.errors import ConfigError, IndexCorruptError

VECTOR_INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
# From benchmarks/retrieval_scale.py (2 shared cores): exact search took a p50
# of 116 ms at 100k chunks under load (a few ms idle) and grows linearly,
# while HNSW (M=32, efSearch 16-96) answered in 0.1-0.2 ms with recall@10
# >= 0.98 at 100k and 0.96 at 1M (efSearch 32). Below this size exact search
# is cheap and its index builds instantly; above it, HNSW.
AUTO_APPROXIMATE_FROM = 50_000


@dataclass(frozen=True)
class VectorIndexConfig:
    kind: str = "auto"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 96
    ivf_nprobe: int = 24

    def __post_init__(self) -> None:
        if self.kind not in VECTOR_INDEX_TYPES:
            raise ConfigError(
                f"Unknown vector index type {self.kind!r}; choose one of {', '.join(VECTOR_INDEX_TYPES)}."
            )


def resolve_kind(kind: str, n_vectors: int) -> str:
    """Which index ``auto`` means for a collection of ``n_vectors``.

    >>> resolve_kind("auto", 10_000), resolve_kind("auto", 1_000_000)
    ('flat', 'hnsw')
    """
    if kind != "auto":
        return kind
    return "hnsw" if n_vectors >= AUTO_APPROXIMATE_FROM else "flat"


IVF_TRAINING_POINTS_PER_LIST = 64


def training_sample(vectors: np.ndarray, n_lists: int, seed: int = 0) -> np.ndarray:
    """A fixed random subset for k-means: 64 points per list is enough for
    stable centroids (FAISS warns below 39), and training on all of a large
    collection would cost minutes for no recall.

    >>> training_sample(np.zeros((10_000, 4), np.float32), n_lists=10).shape
    (640, 4)
    """
    wanted = IVF_TRAINING_POINTS_PER_LIST * n_lists
    if len(vectors) <= wanted:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), wanted, replace=False))
    return np.ascontiguousarray(vectors[rows])


def build_vector_index(
    vectors: np.ndarray, config: VectorIndexConfig
) -> tuple[Any, dict[str, Any]]:
    """Build a FAISS index over ``vectors`` and describe it for the manifest."""
    n, dimension = vectors.shape
    kind = resolve_kind(config.kind, n)
    index: Any
    params: dict[str, Any] = {}
    if kind == "flat" or n == 0:
        kind = "flat"
        index = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
        index.hnsw.efSearch = config.hnsw_ef_search
        params = {"m": config.hnsw_m, "ef_construction": config.hnsw_ef_construction}
    else:
        n_lists = max(1, min(int(4 * math.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFFlat(quantizer, dimension, n_lists, faiss.METRIC_INNER_PRODUCT)
        index.train(training_sample(vectors, n_lists))
        index.nprobe = min(config.ivf_nprobe, n_lists)
        params = {"n_lists": n_lists}
    if n:
        index.add(vectors)
    return index, {"type": kind, **params}


def tune_for_search(index: Any, config: VectorIndexConfig) -> None:
    """Apply search-time settings, which FAISS does not always persist."""
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = config.hnsw_ef_search
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(config.ivf_nprobe, index.nlist)


def save_vector_index(index: Any, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: Path, *, dimension: int, n_vectors: int) -> Any:
    """Read a FAISS file that has already passed its checksum check."""
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as error:
        raise IndexCorruptError(
            f"FAISS could not read {path}: {error}. Rebuild the index."
        ) from error
    if index.d != dimension or index.ntotal != n_vectors:
        raise IndexCorruptError(
            f"{path} holds {index.ntotal} vectors of dimension {index.d}, but the manifest says "
            f"{n_vectors} of dimension {dimension}. Rebuild the index with `ragqa index`."
        )
    return index


def search(index: Any, query_vectors: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and row ids, best first; rows of -1 mean fewer than ``top_k`` hits."""
    k = max(1, min(top_k, int(index.ntotal))) if index.ntotal else 1
    if not index.ntotal:
        empty = np.zeros((len(query_vectors), 0))
        return empty.astype(np.float32), empty.astype(np.int64)
    scores, ids = index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
    return scores, ids
