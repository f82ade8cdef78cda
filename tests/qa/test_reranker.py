"""The rerankers: sentence match and cross-encoder, each handed the query
embedded once, and built once per pipeline."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.documents import Chunk
from corpus.errors import ConfigError
from indexer.embedder import EmbedderConfig
from qa import pipeline as pipeline_module
from qa.pipeline import Pipeline, PipelineConfig
from qa.reranker import (
    CrossEncoderReranker,
    RerankConfig,
    SentenceMatchReranker,
    make_reranker,
)
from qa.types import Hit, Query
from tests.fakes import HashEmbedder, RecordingEmbedder

TEXTS = [
    "Xiaomi makes phones. Its founder was born in Xiantao in 1969.",
    "Lei Jun likes phones. Xiaomi sells scooters.",
    "Kingsoft went public in 2007.",
]
QUESTION = "Where was the founder born?"


def _hits(embedder: HashEmbedder, query: Query, texts: Sequence[str] = TEXTS) -> list[Hit]:
    chunks = [
        Chunk(f"d{i}:0000", f"d{i}", f"Doc {i}", f"d{i}.txt", 0, len(text), text)
        for i, text in enumerate(texts)
    ]
    cosine = HashEmbedder().embed(texts) @ query.vector
    return [
        Hit(chunk, score=1.0 / (i + 1), rank=i + 1, dense_score=float(cosine[i]))
        for i, chunk in enumerate(chunks)
    ]


# --- sentence match -------------------------------------------------------------------
def test_sentence_match_blends_chunk_and_best_sentence_cosine() -> None:
    embedder = RecordingEmbedder()
    query = Query.embed(QUESTION, embedder)
    hits = _hits(embedder, query)
    embedder.embedded.clear()
    reranked = SentenceMatchReranker(embedder, depth=12, sentence_weight=0.5).rerank(query, hits)

    assert QUESTION not in embedder.embedded, "the query's vector is reused, never re-embedded"
    assert sorted(h.chunk.chunk_id for h in reranked) == sorted(h.chunk.chunk_id for h in hits)
    assert [h.rank for h in reranked] == [1, 2, 3]
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    first = next(h for h in reranked if h.chunk.chunk_id == "d0:0000")
    sentences = ["Xiaomi makes phones.", "Its founder was born in Xiantao in 1969."]
    best = max(HashEmbedder().embed(sentences) @ query.vector)
    assert first.score == pytest.approx(0.5 * hits[0].dense_score + 0.5 * best, abs=1e-5)


def test_sentence_match_keeps_the_tail_below_its_depth_in_order() -> None:
    embedder = HashEmbedder()
    query = Query.embed(QUESTION, embedder)
    hits = _hits(embedder, query, [*TEXTS, "Tail one.", "Tail two."])
    reranked = SentenceMatchReranker(embedder, depth=2).rerank(query, hits)
    assert [h.chunk.chunk_id for h in reranked[2:]] == [h.chunk.chunk_id for h in hits[2:]]
    assert [h.rank for h in reranked] == [1, 2, 3, 4, 5]
    assert {h.chunk.chunk_id for h in reranked[:2]} == {"d0:0000", "d1:0000"}


def test_sentence_match_with_nothing_to_read_changes_nothing() -> None:
    embedder = HashEmbedder()
    query = Query.embed(QUESTION, embedder)
    assert SentenceMatchReranker(embedder).rerank(query, []) == []


# --- cross-encoder ----------------------------------------------------------------------
class FakeCrossEncoder:
    """Scores a pair by how many words the question and the passage share."""

    loaded = 0

    def __init__(self, path: str, device: str) -> None:
        FakeCrossEncoder.loaded += 1
        self.pairs: list[tuple[str, str]] = []

    def predict(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        self.pairs.extend(pairs)
        return np.array([[len(set(q.split()) & set(p.split()))] for q, p in pairs], float)


@pytest.fixture
def fake_cross_encoder(monkeypatch: pytest.MonkeyPatch) -> type[FakeCrossEncoder]:
    module = types.ModuleType("sentence_transformers")
    module.CrossEncoder = FakeCrossEncoder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    FakeCrossEncoder.loaded = 0
    return FakeCrossEncoder


def test_cross_encoder_scores_query_text_with_each_passage(
    tmp_path: Path, fake_cross_encoder: type[FakeCrossEncoder]
) -> None:
    embedder = HashEmbedder()
    query = Query.embed("Kingsoft went public when?", embedder)
    hits = _hits(embedder, query)
    reranker = CrossEncoderReranker(str(tmp_path), depth=3)
    reranked = reranker.rerank(query, hits)
    model = reranker._model
    assert model.pairs == [("Kingsoft went public when?", h.chunk.embedding_text) for h in hits]
    assert [h.chunk.chunk_id for h in reranked] == ["d2:0000", "d0:0000", "d1:0000"]
    assert [h.rank for h in reranked] == [1, 2, 3] and reranked[0].score == 3.0
    assert reranker.rerank(query, []) == []


def test_cross_encoder_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs cross_encoder_path"):
        RerankConfig(kind="cross-encoder")
    with pytest.raises(ConfigError, match="does not exist"):
        make_reranker(
            RerankConfig(kind="cross-encoder", cross_encoder_path=str(tmp_path / "nowhere")),
            HashEmbedder(),
        )


@pytest.mark.parametrize(
    ("kind", "expected"), [("none", type(None)), ("sentence", SentenceMatchReranker)]
)
def test_make_reranker_by_kind(kind: str, expected: type) -> None:
    assert isinstance(make_reranker(RerankConfig(kind=kind), HashEmbedder()), expected)
    with pytest.raises(ConfigError, match="Unknown reranker 'colbert'"):
        RerankConfig(kind="colbert")


def test_the_cross_encoder_loads_once_per_pipeline(
    tmp_path: Path, fake_cross_encoder: type[FakeCrossEncoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[RerankConfig] = []

    def counting(config: RerankConfig, embedder: object):  # type: ignore[no-untyped-def]
        made.append(config)
        return make_reranker(config, embedder)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "make_reranker", counting)
    weights = tmp_path / "cross-encoder"
    weights.mkdir()
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=tmp_path / "index",
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            rerank=RerankConfig(kind="cross-encoder", cross_encoder_path=str(weights)),
        ),
        embedder=HashEmbedder(),
    )
    pipeline.build_index(None)
    for question in ("When was Lei Jun born?", "Who founded Xiaomi?", "What is Kingsoft?"):
        pipeline.ask(question)
    pipeline.retrieve("Xiaomi", top_k=3)
    assert len(made) == 1 and fake_cross_encoder.loaded == 1
