"""Settings of the chat window and its API (kept free of Gradio so reading them is cheap).

Secrets (``ui.login``, ``api.key``) are left out of ``repr`` and out of every
error message, so that printing a settings object or a configuration error
never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.errors import ConfigError
from corpus.loaders import SUPPORTED_SUFFIXES

MIN_API_KEY_CHARS = 16


@dataclass(frozen=True)
class UiConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 20
    max_uploads_per_request: int = 10
    concurrency_limit: int = 1
    max_queue_size: int = 16
    show_scores: bool = False
    # The optional login (ui.auth): a file of NAME:HASH lines written by
    # `ragqa passwd`, and/or one NAME:PASSWORD (or NAME:HASH) account, usually
    # from the environment (RAGQA_UI__LOGIN). Both empty: no login.
    password_file: str = ""
    login: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535. Currently it is {self.port}")
        if self.max_upload_mb < 1:
            raise ConfigError(
                f"max_upload_mb must be at least 1. Currently it is {self.max_upload_mb}"
            )
        if self.concurrency_limit < 1 or self.max_queue_size < 1:
            raise ConfigError("concurrency_limit and max_queue_size must be at least 1.")
        if self.login:
            name, _, password = self.login.partition(":")
            if not name.strip() or not password:
                raise ConfigError(
                    "login must be NAME:PASSWORD (or NAME:HASH from `ragqa passwd`); the value "
                    "given has no name or no password (not shown)."
                )

    @property
    def allowed_suffixes(self) -> list[str]:
        return sorted(SUPPORTED_SUFFIXES)


@dataclass(frozen=True)
class ApiConfig:
    """The OpenAI-compatible API served beside the chat window (ui.openai_api).

    ``key``: the Bearer key clients must send. Required when the server is
    bound beyond loopback (without one the API refuses every request there);
    on loopback it is optional, and enforced whenever it is set.
    """

    enabled: bool = True
    key: str = field(default="", repr=False)
    max_request_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if self.key and len(self.key.strip()) < MIN_API_KEY_CHARS:
            raise ConfigError(
                f"api.key is too short (under {MIN_API_KEY_CHARS} characters; not shown). "
                "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.max_request_bytes < 1024:
            raise ConfigError(
                f"max_request_bytes must be at least 1024. Currently it is {self.max_request_bytes}"
            )
