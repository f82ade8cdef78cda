"""A Milvus build streams: windows of whole documents go into the unpublished
collection one after another, so the builder never holds every vector, and
readers keep the old content until the alias moves (Milvus Lite, hash embedder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.documents import Chunk, Document
from indexer.builder import IndexBuilder
from indexer.milvus_store import MilvusStore, MilvusWriter
from indexer.store import VectorStoreConfig
from tests.fakes import HashEmbedder, RecordingEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document

pytestmark = pytest.mark.milvus

WINDOW = 8


def test_a_milvus_build_stages_windows_and_publishes_only_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pymilvus")
    monkeypatch.setattr("indexer.builder.EMBED_WINDOW", WINDOW)
    store = MilvusStore(
        VectorStoreConfig(kind="milvus", uri=str(tmp_path / "milvus.db"), batch_size=4),
        index_dir=tmp_path / "index" / "notes",
        embedding_model=HashEmbedder.model_name,
    )
    documents = [make_document(n, sentences=12) for n in range(10)]
    IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(documents[:3], store)
    old_count = store.count()

    staged: list[int] = []
    seen_by_readers: list[int] = []
    upsert = MilvusWriter.upsert

    def recording_upsert(
        self: MilvusWriter,
        docs: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
    ) -> None:
        staged.append(len(chunks))
        upsert(self, docs, chunks, vectors)
        store.reload()
        seen_by_readers.append(store.count())

    monkeypatch.setattr(MilvusWriter, "upsert", recording_upsert)
    embedder = RecordingEmbedder()
    documents[1] = make_document(1, version=1, sentences=12)
    report = IndexBuilder(embedder, SMALL_CHUNKS).build(documents, store)

    longest = max(len(IndexBuilder(HashEmbedder(), SMALL_CHUNKS)._chunk(d)) for d in documents)
    assert len(staged) > 2 and max(staged) < WINDOW + longest, staged
    assert max(embedder.call_sizes) <= WINDOW
    assert sum(embedder.call_sizes) == report.n_embedded
    assert 0 < report.n_reused < report.n_chunks, "the two unchanged documents are carried over"
    assert set(seen_by_readers) == {old_count}, "readers saw the old content until the commit"

    store.reload()
    assert store.count() == report.n_chunks
    chunks = store.all_chunks()
    np.testing.assert_allclose(
        store.vectors([c.chunk_id for c in chunks]),
        HashEmbedder().embed([c.embedding_text for c in chunks]),
        atol=1e-6,
    )
    statistics = store.term_statistics()
    assert statistics.n_chunks == report.n_chunks
    store.close()
