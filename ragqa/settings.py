"""One settings object for the whole application.

Read in this order, later winning: defaults, a TOML file (``--config FILE``,
else ``$RAGQA_CONFIG``, else ``./ragqa.toml`` if present), then environment
variables named ``RAGQA_<SECTION>__<KEY>`` (for example
``RAGQA_RETRIEVAL__TOP_K=8``) and ``RAGQA_DATA_DIR`` / ``RAGQA_INDEX_DIR``.
The CLI and the chat window hand the resulting :class:`Settings` to the
stages; no stage reads the environment itself.

Example ``ragqa.toml``::

    data_dir = "~/ragqa-data"
    [retrieval]
    top_k = 8
    [generator]
    backend = "transformers"
    [vector_store]
    kind = "milvus"              # or "faiss" (the default)
    uri = "http://milvus:19530"  # token: RAGQA_VECTOR_STORE__TOKEN
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.chunking import ChunkingConfig
from corpus.data_dir import default_data_dir
from corpus.errors import ConfigError
from corpus.loaders import DEFAULT_MAX_FILE_BYTES
from indexer.collections import DEFAULT_COLLECTION, check_collection_name, collection_dir
from indexer.embedder import EmbedderConfig, onnx_cache_dir
from indexer.store import VectorStoreConfig
from indexer.vector_index import VectorIndexConfig
from qa.answerer import AnswerConfig
from qa.generator import GeneratorConfig
from qa.pipeline import PipelineConfig
from qa.reranker import RerankConfig
from qa.retriever import RetrievalConfig
from ui.config import ApiConfig, UiConfig

ENV_PREFIX = "RAGQA_"
_TOP_LEVEL = ("data_dir", "index_dir", "collection", "max_file_bytes")
# Settings that are secrets: taken from the environment only, never from a
# file that may be shared or committed, and never shown (``repr=False``).
_SECRETS = (("vector_store", "token"),)
# Settings that are gone, and what to set instead: a file or variable that
# still names one is told so rather than shown the list of known settings.
_REMOVED = {
    "generator.max_tokens": "it was never read; a draft's length is answer.max_new_tokens",
}
SECTIONS: dict[str, type] = {
    "chunking": ChunkingConfig,
    "embedder": EmbedderConfig,
    "vector_index": VectorIndexConfig,
    "vector_store": VectorStoreConfig,
    "retrieval": RetrievalConfig,
    "rerank": RerankConfig,
    "generator": GeneratorConfig,
    "answer": AnswerConfig,
    "ui": UiConfig,
    "api": ApiConfig,
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    index_dir: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # The collection asked about; its index is <data dir>/index/<collection>
    # unless index_dir names another folder.
    collection: str = DEFAULT_COLLECTION
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    vector_index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    vector_store: VectorStoreConfig = field(default_factory=VectorStoreConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    api: ApiConfig = field(default_factory=ApiConfig)

    @property
    def collections_dir(self) -> Path:
        """Where the named collections' index folders live."""
        return self.data_dir / "index"

    def for_collection(self, name: str) -> Settings:
        """These settings, for collection ``name`` (its index folder included)."""
        name = check_collection_name(name)
        return self.replace(collection=name, index_dir=collection_dir(self.collections_dir, name))

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def feedback_log(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    @property
    def password_file(self) -> Path:
        """The chat window's accounts: ``[ui] password_file``, else ``<data dir>/passwords``."""
        configured = self.ui.password_file
        return Path(configured).expanduser() if configured else self.data_dir / "passwords"

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(
            index_dir=self.index_dir,
            chunking=self.chunking,
            # The exported ONNX model is a cache: it lives under the data directory.
            embedder=self.embedder
            if self.embedder.cache_dir
            else dataclasses.replace(self.embedder, cache_dir=str(onnx_cache_dir(self.data_dir))),
            vector_index=self.vector_index,
            vector_store=self.vector_store,
            retrieval=self.retrieval,
            rerank=self.rerank,
            generator=self.generator,
            answer=self.answer,
            max_file_bytes=self.max_file_bytes,
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _convert(value: Any, like: Any, where: str) -> Any:
    """Coerce a TOML or environment value to the type of the default ``like``.

    Strings are parsed (the environment only has strings); other values must
    already have the right type: ``top_k = 8.5`` or ``show_scores = 1`` is an
    error, not a guess.

    >>> _convert("8", 5, "retrieval.top_k"), _convert("off", True, "ui.show_scores")
    (8, False)
    """

    def invalid(expected: str) -> ConfigError:
        return ConfigError(f"Setting {where} = {value!r} is not a valid {expected}.")

    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("1", "true", "yes", "on"):
                return True
            if word in ("0", "false", "no", "off"):
                return False
        raise invalid("boolean (true or false)")
    if isinstance(like, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise invalid("whole number")
    if isinstance(like, float):
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise invalid("number")
        return number
    if isinstance(like, Path):
        if not isinstance(value, str | Path) or not str(value).strip():
            raise invalid("path")
        try:
            return Path(str(value)).expanduser()
        except RuntimeError:  # "~someone" for a user this machine does not know
            raise invalid("path whose ~ names a known user") from None
    if isinstance(like, str):
        if not isinstance(value, str):
            raise invalid('text (put it in quotes: "...")')
        return value
    return value


def _section(kind: type, values: Any, name: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"[{name}] must be a table of settings (a [{name}] section), not {values!r}."
        )
    defaults = kind()
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    for key in unknown:
        if f"{name}.{key}" in _REMOVED:
            raise ConfigError(f"Setting {name}.{key} is gone: {_REMOVED[f'{name}.{key}']}.")
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)} in [{name}]; known: {', '.join(sorted(known))}."
        )
    converted = {k: _convert(v, getattr(defaults, k), f"{name}.{k}") for k, v in values.items()}
    try:
        return dataclasses.replace(defaults, **converted)
    except (ValueError, TypeError, ConfigError) as error:
        raise ConfigError(f"[{name}] {error}") from error


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build :class:`Settings` from defaults, a TOML file, the environment and
    explicit ``overrides`` (top-level keys such as ``index_dir``)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = config_file or (Path(environ["RAGQA_CONFIG"]) if environ.get("RAGQA_CONFIG") else None)
    if path is None and Path("ragqa.toml").is_file():
        path = Path("ragqa.toml")
    if path is not None:
        try:
            raw = tomllib.loads(path.expanduser().read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"Cannot read the settings file {path}: {error}") from error

    for section, key in _SECRETS:
        if isinstance(raw.get(section), Mapping) and key in raw[section]:
            raise ConfigError(
                f"[{section}] {key} is a secret and is read from the environment only: remove it "
                f"from {path} and set {ENV_PREFIX}{section.upper()}__{key.upper()} instead."
            )
    unknown = sorted(set(raw) - set(SECTIONS) - set(_TOP_LEVEL))
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)} in the settings file {path}; known: "
            f"{', '.join([*_TOP_LEVEL, *(f'[{s}]' for s in SECTIONS)])}."
        )
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].lower().partition("__")
        if section not in SECTIONS:
            raise ConfigError(
                f"The environment variable {key} names no settings section; use "
                f"{ENV_PREFIX}<SECTION>__<KEY> with a section among {', '.join(SECTIONS)}."
            )
        section_values = raw.setdefault(section, {})
        if not isinstance(section_values, dict):
            raise ConfigError(f"[{section}] in the settings file {path} must be a table.")
        section_values[name] = value
    for key in _TOP_LEVEL:
        if environ.get(ENV_PREFIX + key.upper()):
            raw[key] = environ[ENV_PREFIX + key.upper()]

    data_dir = (
        _convert(raw["data_dir"], Path(), "data_dir")
        if raw.get("data_dir")
        else default_data_dir(environ)
    )
    collection = check_collection_name(str(raw.get("collection") or DEFAULT_COLLECTION))
    if raw.get("index_dir") and raw.get("collection"):
        raise ConfigError(
            "Give either index_dir or collection, not both: a collection's index is "
            "<data dir>/index/<collection>."
        )
    index_dir = (
        _convert(raw["index_dir"], Path(), "index_dir")
        if raw.get("index_dir")
        else collection_dir(data_dir / "index", collection)
    )
    max_file_bytes = _convert(
        raw.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES), 0, "max_file_bytes"
    )
    if max_file_bytes <= 0:
        raise ConfigError(
            f"max_file_bytes must be greater than 0. Currently, max_file_bytes is {max_file_bytes}"
        )
    sections = {name: _section(kind, raw.get(name, {}), name) for name, kind in SECTIONS.items()}
    settings = Settings(
        data_dir=data_dir,
        index_dir=index_dir,
        collection=collection,
        max_file_bytes=max_file_bytes,
        **sections,
    )
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**overrides) if overrides else settings
