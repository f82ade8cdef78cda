"""Data carried from the corpus stage to the later stages.

A :class:`Document` is one file after loading and cleaning; its ``text`` is the
reference every offset points into. A :class:`Chunk` is a span of that text:
``document.text[chunk.start:chunk.end] == chunk.text`` always holds, which is
what lets the chat window highlight a citation in its document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(text: str) -> str:
    """Stable hash of a document's cleaned text, used to detect changes.

    >>> content_hash("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One loaded, cleaned document.

    ``doc_id`` is stable across runs for the same source path (see
    :func:`corpus.collection.document_id`), so re-indexing can tell new,
    changed and deleted documents apart.
    """

    doc_id: str
    title: str
    source_path: str
    text: str
    content_hash: str = field(default="")

    def __post_init__(self) -> None:
        if not self.doc_id:
            raise ValueError("Document.doc_id must not be empty")
        if not self.text.strip():
            raise ValueError(f"Document {self.source_path!r} has no text")
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self.text))


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, with exact character offsets into its text."""

    chunk_id: str
    doc_id: str
    title: str
    source_path: str
    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(
                f"Chunk {self.chunk_id!r} has an empty or negative span [{self.start}, {self.end})"
            )
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"Chunk {self.chunk_id!r}: text length {len(self.text)} does not "
                f"match span [{self.start}, {self.end})"
            )

    @property
    def embedding_text(self) -> str:
        """What is embedded and keyword-indexed: the title keeps a passage that
        says "he" findable by the name of its subject."""
        return f"{self.title}\n{self.text}" if self.title else self.text
