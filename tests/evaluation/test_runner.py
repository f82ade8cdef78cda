"""Tests for evaluation.runner: a whole evaluation with fake models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.metrics import summarise
from evaluation.questions import EvalQuestion
from evaluation.runner import evaluate, evaluate_question

# --- a whole evaluation with fake models ------------------------------------------------


@pytest.fixture
def fake_pipeline(tmp_path: Path):
    from indexer.embedder import EmbedderConfig
    from qa.pipeline import Pipeline, PipelineConfig
    from tests.fakes import HashEmbedder, ScriptedGenerator

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "xiaomi.txt").write_text(
        "Xiaomi\n\nLei Jun launched Xiaomi in 2010 in Beijing. The company makes phones.\n\n"
        "Lei Jun was born in Xiantao in 1969. He studied computer science at Wuhan University.",
        encoding="utf-8",
    )
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=tmp_path / "index", embedder=EmbedderConfig(model=HashEmbedder.model_name)
        ),
        embedder=HashEmbedder(),
        generator=ScriptedGenerator("Lei Jun launched Xiaomi in 2010 in Beijing."),
    )
    pipeline.build_index([docs])
    return pipeline


def test_evaluate_with_fakes_gives_the_format_shape(fake_pipeline) -> None:
    questions = [
        EvalQuestion(
            "q1",
            "When did Lei Jun launch Xiaomi?",
            ("2010",),
            ("launched Xiaomi in 2010",),
            True,
            extra={"kind": "fact", "answer": "clash"},
        ),
        EvalQuestion("q2", "What is the capital of Peru?", (), (), False, extra={"kind": "none"}),
    ]
    result = evaluate(fake_pipeline, questions)
    json.dumps(result)  # JSON-ready throughout
    for key in ("retrieval", "answer", "citations", "abstention", "latency_ms"):
        assert key in result
    assert set(result["retrieval"]) >= {"hit@1", "hit@3", "hit@5", "hit@10", "mrr"}
    assert result["n_questions"] == 2
    first = result["per_question"][0]
    assert first["id"] == "q1" and first["kind"] == "fact"
    assert first["extra_fields"] == {"answer": "clash"}  # copied, not overwriting
    assert 1 <= len(first["retrieved"]) <= 10
    assert [r["rank"] for r in first["retrieved"]] == list(range(1, len(first["retrieved"]) + 1))
    assert first["hit_rank"] == 1
    assert first["evidence_in_index"] is True
    for citation in first["citations"]:
        # the cited chunk's whole text, of which the quote is a part
        assert citation["quote"] in citation["text"]
    assert set(result["by_kind"]) == {"fact", "none"}
    # Every metric can be recomputed from the per-question records alone.
    again = summarise(result["per_question"])
    for group in ("retrieval", "answer", "citations", "abstention"):
        for key, value in again[group].items():
            assert result[group][key] == (None if value is None else pytest.approx(value, abs=1e-4))


def test_each_question_is_retrieved_once_and_its_ranking_listed(fake_pipeline, monkeypatch) -> None:
    """The top-10 list comes from the answer's own retrieval: no second
    retrieval (or query embedding) per question, and the answer's top_k hits
    are the head of that list."""
    calls: list[int | None] = []
    retriever = fake_pipeline.retriever
    original = retriever.run

    def counting(query, top_k=None, *, keep=0):
        calls.append(top_k)
        return original(query, top_k, keep=keep)

    monkeypatch.setattr(retriever, "run", counting)
    question = EvalQuestion(
        "q1", "When did Lei Jun launch Xiaomi?", ("2010",), ("launched Xiaomi in 2010",), True
    )
    record = evaluate_question(fake_pipeline, question)
    assert len(calls) == 1
    answer = fake_pipeline.ask(question.question)
    listed = [r["chunk_id"] for r in record["retrieved"]]
    assert listed == [h.chunk.chunk_id for h in answer.ranked][: len(listed)]
    assert [h.chunk.chunk_id for h in answer.hits] == listed[: len(answer.hits)]
