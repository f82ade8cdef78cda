"""Settings of the chat window (kept free of Gradio so reading them is cheap)."""

from __future__ import annotations

from dataclasses import dataclass

from corpus.errors import ConfigError
from corpus.loaders import SUPPORTED_SUFFIXES


@dataclass(frozen=True)
class UiConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 20
    max_uploads_per_request: int = 10
    concurrency_limit: int = 1
    max_queue_size: int = 16
    show_scores: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535. Currently it is {self.port}")
        if self.max_upload_mb < 1:
            raise ConfigError(
                f"max_upload_mb must be at least 1. Currently it is {self.max_upload_mb}"
            )
        if self.concurrency_limit < 1 or self.max_queue_size < 1:
            raise ConfigError("concurrency_limit and max_queue_size must be at least 1.")

    @property
    def allowed_suffixes(self) -> list[str]:
        return sorted(SUPPORTED_SUFFIXES)
