"""Fast stand-ins for the models, for unit tests only.

Integration tests (``-m integration``) use the real models; these fakes let
the logic around them be tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from corpus.chunking import approximate_token_count
from qa.generator import Message


class HashEmbedder:
    """Bag of hashed words: texts sharing words get similar unit vectors."""

    model_name = "test/hash-embedder"

    def __init__(self, dimension: int = 64, max_tokens: int = 256) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.calls = 0
        self.texts_embedded = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return approximate_token_count(text)

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.sha1(word.encode()).digest()
                vectors[row, digest[0] % self._dimension] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(vectors[row])
            vectors[row] = vectors[row] / norm if norm else 1.0 / np.sqrt(self._dimension)
        return vectors


class ScriptedGenerator:
    """Replies with a fixed text (or a function of the prompt), in pieces."""

    name = "scripted"

    def __init__(self, reply: str | None = None, reply_for=None) -> None:
        self.reply = reply
        self.reply_for = reply_for
        self.prompts: list[Sequence[Message]] = []

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        self.prompts.append(messages)
        text = self.reply_for(messages) if self.reply_for else (self.reply or "")
        yield from re.findall(r"\S+\s*", text)


class RecordingEmbedder(HashEmbedder):
    """A hash embedder that records what it embedded: every text, and how
    many texts each call held."""

    def __init__(self) -> None:
        super().__init__()
        self.call_sizes: list[int] = []
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.call_sizes.append(len(texts))
        self.embedded.extend(texts)
        return super().embed(texts, show_progress=show_progress)
