"""Fixtures for the indexer tests: the fake embedder and a build helper."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from corpus.chunking import ChunkingConfig
from corpus.documents import Document
from indexer.builder import BuildReport, IndexBuilder
from tests.fakes import HashEmbedder
from tests.indexer.helpers import SMALL_CHUNKS


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def build(embedder: HashEmbedder) -> Callable[..., BuildReport]:
    """``build(documents, index_dir, chunking=SMALL_CHUNKS)`` with the fake embedder."""

    def run(
        documents: list[Document], index_dir: Path, chunking: ChunkingConfig = SMALL_CHUNKS
    ) -> BuildReport:
        return IndexBuilder(embedder, chunking).build(documents, index_dir)

    return run


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process builds skip ``fsync``: it only matters when the machine loses
    power, costs a fifth of a second per build here, and the crash tests (which
    kill real processes) keep it."""
    monkeypatch.setattr("os.fsync", lambda fd: None)
