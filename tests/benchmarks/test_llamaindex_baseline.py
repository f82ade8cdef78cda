"""Tests for benchmarks.llamaindex_baseline: the abstention phrases, SmolLM2's
prompt format, and the glue that turns the engine's replies into ragqa's
records and metrics (no models), plus one slow end-to-end run of the real
LlamaIndex pipeline on two dev questions."""

from __future__ import annotations

import json
import socket
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks.llamaindex_baseline import (
    BaselineSettings,
    EngineReply,
    completion_to_prompt,
    main,
    messages_to_prompt,
    question_record,
    says_it_cannot_answer,
    score,
    smollm2_chat_prompt,
)
from evaluation.questions import EvalQuestion, load_questions
from qa.normalise import normalise

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = REPO_ROOT / "eval" / "dev_questions.jsonl"
DEFAULT_COLLECTION = REPO_ROOT / "corpus" / "default_collection"

FOUNDED = EvalQuestion(
    id="q1",
    question="When did Lei Jun found Xiaomi?",
    answers=("2010",),
    evidence=("launched Xiaomi in 2010",),
    answerable=True,
    extra={"kind": "number-date"},
)
WIFE = EvalQuestion(
    id="q2",
    question="What is the name of Lei Jun's wife?",
    answers=(),
    evidence=(),
    answerable=False,
    extra={"kind": "unanswerable"},
)
OFF_TOPIC = "Kingsoft made office software."
EVIDENCE = "In April, he launched Xiaomi in 2010 with seven co-founders."


# --- abstention phrases ------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "I do not know who she is.",
        "I don’t know.",  # curly apostrophe
        "The context does not mention his wife.",
        "The documents doesn't say.",
        "The text does not provide her name.",
        "The passage did not specify the year.",
        "There is no information about his wife.",
        "There is no mention of a wife.",
        "Her name is not mentioned in the context.",
        "The number of employees is not provided.",
        "I cannot answer that from the context.",
        "I can't answer this.",
        "I am unable to answer.",
        "NOT MENTIONED",
    ],
)
def test_declining_answers_count_as_abstentions(answer: str) -> None:
    assert says_it_cannot_answer(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Lei Jun founded Xiaomi in 2010.",
        "",
        "He did not stop working until 1998.",  # negation without a declining verb
        "Nothing could stop him.",
        "No, he studied at Wuhan University.",
        "He knows the software business well.",
        "The phone was mentioned in the keynote.",
        "The answer to your question is: 2",
    ],
)
def test_answers_are_not_abstentions(answer: str) -> None:
    assert not says_it_cannot_answer(answer)


# --- SmolLM2's prompt ----------------------------------------------------------------

SYSTEM_TURN = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n"
)


def test_completion_is_the_user_turn_after_the_default_system_turn() -> None:
    assert completion_to_prompt("Context: x\nQuery: y") == (
        SYSTEM_TURN + "<|im_start|>user\nContext: x\nQuery: y<|im_end|>\n<|im_start|>assistant\n"
    )


class _Role(Enum):
    SYSTEM = "system"
    USER = "user"


def test_chat_messages_keep_their_own_system_turn() -> None:
    messages = [
        SimpleNamespace(role=_Role.SYSTEM, content="Answer briefly."),
        SimpleNamespace(role=_Role.USER, content="Who founded Xiaomi?"),
    ]
    assert messages_to_prompt(messages) == (
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n"
        "<|im_start|>user\nWho founded Xiaomi?<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "messages",
    [
        [],
        [("user", "Who founded Xiaomi?")],
        [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello."), ("user", "And?")],
    ],
)
def test_prompt_matches_the_chat_template_in_the_gguf(messages: list[tuple[str, str]]) -> None:
    """The template llama-cpp-python's chat handler applies for ragqa's own generator."""
    from gguf import GGUFReader
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from qa.generator import packaged_gguf_path

    template = GGUFReader(packaged_gguf_path()).fields["tokenizer.chat_template"].contents()
    rendered = (
        ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        .from_string(template)
        .render(
            messages=[{"role": role, "content": content} for role, content in messages],
            add_generation_prompt=True,
        )
    )
    assert smollm2_chat_prompt(messages) == rendered


# --- scoring glue --------------------------------------------------------------------


def test_a_correct_answer_cites_its_source_nodes_in_rank_order() -> None:
    reply = EngineReply("Xiaomi was founded in 2010.", (OFF_TOPIC, EVIDENCE), 1234.56)
    record = question_record(FOUNDED, reply, normalise(EVIDENCE))

    assert record["abstained"] is False
    assert record["correct"] is True
    assert [c["text"] for c in record["citations"]] == [OFF_TOPIC, EVIDENCE]
    assert [(r["rank"], r["text"]) for r in record["retrieved"]] == [(1, OFF_TOPIC), (2, EVIDENCE)]
    assert (record["hit_rank"], record["evidence_rank"]) == (2, 2)
    assert record["evidence_in_index"] is True
    assert record["latency_ms"] == 1234.6
    assert record["kind"] == "number-date"


def test_an_abstention_cites_nothing_and_is_not_correct() -> None:
    reply = EngineReply("The context does not say when.", (EVIDENCE,), 10.0)
    record = question_record(FOUNDED, reply)

    assert record["abstained"] is True
    assert record["correct"] is False
    assert record["citations"] == []
    assert record["retrieved"][0]["text"] == EVIDENCE  # still counts for hit@k
    assert record["evidence_in_index"] is None  # not asked


def test_an_unanswerable_question_is_correct_only_when_declined() -> None:
    declined = question_record(WIFE, EngineReply("I don't know.", (OFF_TOPIC,), 1.0))
    made_up = question_record(WIFE, EngineReply("Her name is Li Wei.", (OFF_TOPIC,), 1.0))
    assert (declined["correct"], made_up["correct"]) == (True, False)


def test_metrics_are_ragqas_own_on_hand_computed_records() -> None:
    records = [
        question_record(FOUNDED, EngineReply("In 2010.", (OFF_TOPIC, EVIDENCE), 100.0)),
        question_record(WIFE, EngineReply("Her name is Li Wei.", (OFF_TOPIC,), 300.0)),
        question_record(WIFE, EngineReply("No information is given.", (OFF_TOPIC,), 200.0)),
    ]
    result = score(records)

    assert result["n_questions"] == 3
    assert result["retrieval"]["hit@1"] == 0.0
    assert result["retrieval"]["hit@3"] == 1.0
    assert result["retrieval"]["mrr"] == 0.5
    assert result["answer"] == {"accuracy": 1.0, "mean_words": 3.5}  # 2 and 5 words
    assert result["citations"] == {"precision": 0.5, "recall": 1.0}
    assert result["abstention"] == {"recall": 0.5, "false_rate": 0.0}
    assert result["latency_ms"]["p50"] == 200.0
    assert result["by_kind"]["unanswerable"]["abstention"]["recall"] == 0.5
    json.dumps(result)  # the report is plain JSON


def test_settings_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="repack_weights"):
        BaselineSettings(repack_weights="sometimes")
    with pytest.raises(ValueError, match="max_new_tokens"):
        BaselineSettings(context_window=256, max_new_tokens=256)


def test_a_missing_docs_folder_fails_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--questions", str(DEV_QUESTIONS), "--docs", str(tmp_path / "nowhere")])
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_bad_question_file_fails_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "x"}\n', encoding="utf-8")
    assert main(["--questions", str(questions), "--docs", str(DEFAULT_COLLECTION)]) == 2
    assert "missing field" in capsys.readouterr().err


# --- the real pipeline -----------------------------------------------------------------


@pytest.mark.slow
def test_two_dev_questions_end_to_end_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real LlamaIndex pipeline with ragqa's models: no network attempt,
    SmolLM2's prompt format, and records ragqa's metrics can read."""
    pytest.importorskip("llama_index.core", reason="needs the benchmark extra")
    from benchmarks import llamaindex_baseline

    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    prompts: list[str] = []

    def spy(completion: str) -> str:
        prompt = completion_to_prompt(completion)
        prompts.append(prompt)
        return prompt

    monkeypatch.setattr(llamaindex_baseline, "completion_to_prompt", spy)
    chosen = {"dev006", "dev066"}  # one answerable, one unanswerable
    questions = [q for q in load_questions(DEV_QUESTIONS) if q.id in chosen]

    baseline = llamaindex_baseline.build_baseline(DEFAULT_COLLECTION, BaselineSettings())
    result = llamaindex_baseline.evaluate_baseline(baseline, questions, warmup=False)

    assert attempts == []
    assert len(prompts) == 2
    assert all(p.startswith(SYSTEM_TURN) and p.endswith("<|im_start|>assistant\n") for p in prompts)
    assert result["n_questions"] == 2
    for record in result["per_question"]:
        assert record["answer"]
        assert 1 <= len(record["retrieved"]) <= 2  # similarity_top_k's default
        assert record["latency_ms"] > 0
        if not record["abstained"]:
            assert [c["text"] for c in record["citations"]] == [
                r["text"] for r in record["retrieved"]
            ]
    assert result["counts"]["evidence_not_in_index"] == 0
    settings = llamaindex_baseline.describe(baseline, BaselineSettings(), DEFAULT_COLLECTION)
    assert settings["versions"]["llama-index-core"]
    json.dumps(result)
