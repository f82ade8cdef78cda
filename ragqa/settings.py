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
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.chunking import ChunkingConfig
from corpus.errors import ConfigError
from corpus.loaders import DEFAULT_MAX_FILE_BYTES
from indexer.embedder import EmbedderConfig
from indexer.vector_index import VectorIndexConfig
from qa.answerer import AnswerConfig
from qa.generator import GeneratorConfig
from qa.pipeline import PipelineConfig
from qa.reranker import RerankConfig
from qa.retriever import RetrievalConfig
from ui.config import UiConfig

ENV_PREFIX = "RAGQA_"
SECTIONS: dict[str, type] = {
    "chunking": ChunkingConfig,
    "embedder": EmbedderConfig,
    "vector_index": VectorIndexConfig,
    "retrieval": RetrievalConfig,
    "rerank": RerankConfig,
    "generator": GeneratorConfig,
    "answer": AnswerConfig,
    "ui": UiConfig,
}


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ragqa"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    index_dir: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    vector_index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    ui: UiConfig = field(default_factory=UiConfig)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def feedback_log(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(
            index_dir=self.index_dir,
            chunking=self.chunking,
            embedder=self.embedder,
            vector_index=self.vector_index,
            retrieval=self.retrieval,
            rerank=self.rerank,
            generator=self.generator,
            answer=self.answer,
            max_file_bytes=self.max_file_bytes,
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _convert(value: Any, like: Any, where: str) -> Any:
    """Coerce a TOML or environment value to the type of the default ``like``."""
    try:
        if isinstance(like, bool):
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, Path):
            return Path(str(value)).expanduser()
        return str(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"Setting {where} = {value!r} is not a valid {type(like).__name__}."
        ) from error


def _section(kind: type, values: Mapping[str, Any], name: str) -> Any:
    defaults = kind()
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)} in [{name}]; known: {', '.join(sorted(known))}."
        )
    converted = {k: _convert(v, getattr(defaults, k), f"{name}.{k}") for k, v in values.items()}
    try:
        return kind(**{**dataclasses.asdict(defaults), **converted})
    except ValueError as error:
        raise ConfigError(f"[{name}]: {error}") from error


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

    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].lower().partition("__")
        if section in SECTIONS:
            raw.setdefault(section, {})[name] = value
    for key in ("data_dir", "index_dir", "max_file_bytes"):
        if environ.get(ENV_PREFIX + key.upper()):
            raw[key] = environ[ENV_PREFIX + key.upper()]

    unknown = sorted(set(raw) - set(SECTIONS) - {"data_dir", "index_dir", "max_file_bytes"})
    if unknown:
        raise ConfigError(f"Unknown setting(s) {', '.join(unknown)} in the settings file.")
    data_dir = Path(str(raw.get("data_dir") or default_data_dir(environ))).expanduser()
    index_dir = (
        Path(str(raw["index_dir"])).expanduser()
        if raw.get("index_dir")
        else data_dir / "index" / "default"
    )
    sections = {name: _section(kind, raw.get(name, {}), name) for name, kind in SECTIONS.items()}
    settings = Settings(
        data_dir=data_dir,
        index_dir=index_dir,
        max_file_bytes=_convert(
            raw.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES), 0, "max_file_bytes"
        ),
        **sections,
    )
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**overrides) if overrides else settings
