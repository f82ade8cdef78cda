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
AUTO_APPROXIMATE_FROM = 200_000


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

    >>> resolve_kind("auto", 1_000), resolve_kind("auto", 1_000_000)
    ('flat', 'hnsw')
    """
    if kind != "auto":
        return kind
    return "hnsw" if n_vectors >= AUTO_APPROXIMATE_FROM else "flat"


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
        index.train(vectors)
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
