"""A generator on any OpenAI-compatible server (vLLM, llama.cpp's server,
Ollama, TGI, a hosted API): ``generator.backend = "openai"``.

It speaks ``POST {base_url}/chat/completions`` with ``stream: true`` and
reads the server-sent events. Decoding is greedy (``temperature: 0``), so a
server running the shipped SmolLM2 gives the drafts the local backends give.
Connection failures, timeouts and 429/5xx replies are retried with
exponential backoff before the first piece arrives; after that a failure
ends the answer with a :class:`~corpus.errors.GeneratorError` that names the
server and says what to check. The API key comes from the settings (for
example ``RAGQA_GENERATOR__API_KEY`` in the environment) and never appears
in a message or a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from corpus.errors import GeneratorError
from qa.generator import GeneratorConfig, Message

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class OpenAICompatibleGenerator:
    """Streams a chat completion from ``config.base_url``."""

    name = "openai"

    def __init__(self, config: GeneratorConfig, *, transport: httpx.BaseTransport | None = None):
        if not config.base_url:
            raise GeneratorError(
                "The openai generator needs a server: set generator.base_url "
                "(e.g. RAGQA_GENERATOR__BASE_URL=http://127.0.0.1:8000/v1)."
            )
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            transport=transport,
        )

    def _where(self) -> str:
        return f"The openai generator at {self.config.base_url}"

    def _request(self, messages: Sequence[Message], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        request = self._request(messages, max_tokens)
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                with self._client.stream("POST", self.url, json=request) as response:
                    if response.status_code in RETRY_STATUSES and not last:
                        logger.warning(
                            "%s answered HTTP %d; retrying", self._where(), response.status_code
                        )
                    elif response.status_code != 200:
                        raise GeneratorError(
                            f"{self._where()} answered HTTP {response.status_code}: "
                            f"{_short(response.read().decode('utf-8', 'replace'))}. "
                            f"Check generator.model ({self.config.model!r}) and generator.api_key."
                        )
                    else:
                        yield from self._pieces(response)
                        return
            except httpx.TimeoutException as error:
                if last:
                    raise GeneratorError(
                        f"{self._where()} did not answer within {self.config.timeout_s:.0f} s "
                        f"({type(error).__name__}); is it overloaded? Raise generator.timeout_s "
                        "if it is just slow."
                    ) from None
            except httpx.TransportError as error:
                if last:
                    raise GeneratorError(
                        f"{self._where()} cannot be reached ({_short(str(error)) or type(error).__name__}); "
                        "is the server running, and is generator.base_url right?"
                    ) from None
            time.sleep(self.config.retry_backoff_s * 2**attempt)

    def _pieces(self, response: httpx.Response) -> Iterator[str]:
        """The text pieces of a chat-completion event stream."""
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # comments, keep-alives, event names
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                text = _delta_text(data)
                if text:
                    yield text
        except httpx.TransportError as error:  # the server went away mid-answer
            raise GeneratorError(
                f"{self._where()} stopped in the middle of an answer "
                f"({_short(str(error)) or type(error).__name__}); ask again, and check the server."
            ) from None

    def close(self) -> None:
        self._client.close()


def _delta_text(data: str) -> str:
    """The text of one streamed chunk; a chunk that is not one is an error.

    >>> _delta_text('{"choices": [{"delta": {"content": "Lei"}}]}')
    'Lei'
    >>> _delta_text('{"choices": [{"delta": {"role": "assistant"}}]}')
    ''
    """
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            raise GeneratorError(
                f"The openai generator reported an error: {_short(str(chunk['error']))}"
            )
        choices = chunk["choices"]
        if not choices:
            return ""
        delta = choices[0].get("delta") or {}
        content = delta.get("content")
        return content if isinstance(content, str) else ""
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise GeneratorError(
            "The openai generator's server sent something that is not an OpenAI "
            f"chat-completion stream: {_short(data)}"
        ) from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
