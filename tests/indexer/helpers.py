"""Helpers shared by the indexer tests: small generated documents, and builds
with the hash-based fake embedder, which take milliseconds."""

from __future__ import annotations

from pathlib import Path

from corpus.chunking import ChunkingConfig
from corpus.documents import Document
from indexer.saved_index import SavedIndex
from tests.fakes import HashEmbedder

TOPICS = ["phones", "rice cookers", "scooters", "laptops", "routers", "televisions"]


def make_document(number: int, version: int = 0, sentences: int = 12, title: str = "") -> Document:
    """A document about its own topic; ``version`` changes every sentence."""
    topic = TOPICS[number % len(TOPICS)]
    text = " ".join(
        f"Document {number} sentence {i} says Xiaomi sold {topic} in year {2000 + i + version}."
        for i in range(sentences)
    )
    return Document(
        doc_id=f"doc-{number:04d}",
        title=title or f"Report {number} on {topic}",
        source_path=f"/collection/report-{number:04d}.txt",
        text=text,
    )


def make_documents(count: int, version: int = 0) -> list[Document]:
    return [make_document(n, version) for n in range(count)]


SMALL_CHUNKS = ChunkingConfig(max_tokens=48, overlap_tokens=12)


def open_index(index_dir: Path) -> SavedIndex:
    return SavedIndex.open(index_dir, embedding_model=HashEmbedder.model_name)
