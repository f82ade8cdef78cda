"""Tests for qa.evaluation: the question-file validator, the metric functions
against hand-computed cases, and a whole evaluation with fake models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpus.errors import EvaluationError
from qa.evaluation import (
    EvalQuestion,
    answer_is_correct,
    answer_words,
    evaluate,
    evidence_rank,
    first_evidence_rank,
    hit_at_k,
    load_questions,
    mean,
    percentile,
    rate,
    reciprocal_rank,
    sample_questions,
    summarise,
)

GOOD = {
    "id": "q1",
    "question": "When did Lei Jun found Xiaomi?",
    "answers": ["2010"],
    "evidence": ["launched Xiaomi in 2010"],
    "answerable": True,
}


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


# --- normalisation as the metrics see it ---------------------------------------------


@pytest.mark.parametrize(
    ("passage", "evidence", "found"),
    [
        ("He launched Xiaomi in 2010.", "launched Xiaomi in 2010", True),
        ("HE LAUNCHED XIAOMI IN 2010", "launched xiaomi in 2010", True),  # case
        ("He launched\n  Xiaomi\tin   2010", "launched Xiaomi in 2010", True),  # whitespace
        ("Lei Jun’s “Xiaomi”", 'Lei Jun\'s "Xiaomi"', True),  # curly quotes
        ('Lei Jun\'s "Xiaomi"', "Lei Jun’s “Xiaomi”", True),  # either side
        ("the 2010–2014 years", "2010-2014", True),  # en dash
        ("ﬁrst phone", "first phone", True),  # NFKC ligature
        ("He launched Xiaomi in 2011.", "launched Xiaomi in 2010", False),
    ],
)
def test_evidence_matching_normalises(passage: str, evidence: str, found: bool) -> None:
    assert (first_evidence_rank([passage], [evidence]) == 1) is found


@pytest.mark.parametrize(
    ("answer", "answers", "correct"),
    [
        ("Xiaomi was founded in 2010 [1].", ["2010"], True),
        ("Xiaomi was founded in 2010 [1].", ["2"], False),  # word boundaries
        ("Xiaomi was founded in 2010 [1].", ["201"], False),
        ("It is “Fire in the Valley” [1].", ['"Fire in the Valley"'], True),  # quotes
        ("FIRE  IN THE\nVALLEY", ["Fire in the Valley"], True),  # case and spaces
        ("Lei Jun’s company", ["Lei Jun's"], True),
        ("Founded by Lei Jun.", ["Microsoft", "Lei Jun"], True),  # any answer
        ("Founded by Lei Jun.", [], False),
    ],
)
def test_answer_is_correct(answer: str, answers: list[str], correct: bool) -> None:
    assert answer_is_correct(answer, False, answers) is correct


def test_an_abstention_is_never_correct() -> None:
    assert not answer_is_correct("The documents don't say; maybe 2010.", True, ["2010"])


# --- retrieval metrics ----------------------------------------------------------------

PASSAGES = [
    "Lei Jun was born in Xiantao.",  # rank 1: evidence A
    "Unrelated text.",  # rank 2
    "Xiaomi was launched in 2010.",  # rank 3: evidence B
    "Lei Jun was born in Xiantao in 1969.",  # rank 4: evidence A again
]
A, B = "born in Xiantao", "launched in 2010"


@pytest.mark.parametrize(
    ("evidence", "k", "hit"),
    [
        ([A], 1, True),
        ([B], 1, False),
        ([B], 3, True),
        ([A, B], 1, False),  # every evidence string must be found
        ([A, B], 2, False),
        ([A, B], 3, True),  # taken together across chunks
        ([A, B], 10, True),
        (["not there"], 10, False),
        ([A, "not there"], 10, False),
    ],
)
def test_hit_at_k(evidence: list[str], k: int, hit: bool) -> None:
    assert hit_at_k(PASSAGES, evidence, k) is hit


def test_ranks() -> None:
    assert first_evidence_rank(PASSAGES, [B]) == 3
    assert first_evidence_rank(PASSAGES, [B, A]) == 1  # any evidence string
    assert first_evidence_rank(PASSAGES, ["nothing"]) is None
    assert first_evidence_rank([], [A]) is None
    assert evidence_rank(PASSAGES, [A, B]) == 3
    assert evidence_rank(PASSAGES, []) is None


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(1) == 1.0
    assert reciprocal_rank(3) == pytest.approx(1 / 3)
    assert reciprocal_rank(None) == 0.0
    assert reciprocal_rank(10) == 0.1
    assert reciprocal_rank(11) == 0.0  # beyond the top 10


def test_small_helpers() -> None:
    assert rate([True, True, False, False]) == 0.5
    assert rate([]) is None
    assert mean([1.0, 2.0]) == 1.5
    assert mean([]) is None
    assert percentile([100.0], 95) == 100.0
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None
    assert answer_words("Lei Jun founded Xiaomi in 2010 [1].") == 6
    assert answer_words("Yes [1] [2]") == 1


# --- summarise: every metric on hand-built records -------------------------------------


def record(
    *,
    answerable: bool = True,
    answers: list[str] | None = None,
    evidence: list[str] | None = None,
    answer: str = "",
    abstained: bool = False,
    cited: list[str] | None = None,
    retrieved: list[str] | None = None,
    latency_ms: float = 100.0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "answerable": answerable,
        "answers": answers or [],
        "evidence": evidence or [],
        "answer": answer,
        "abstained": abstained,
        "citations": [{"chunk_id": f"c{i}", "text": t} for i, t in enumerate(cited or [])],
        "retrieved": [
            {"chunk_id": f"r{i}", "score": 1.0, "text": t} for i, t in enumerate(retrieved or [])
        ],
        "latency_ms": latency_ms,
        **extra,
    }


HAND_BUILT = [
    # 1. answerable, right, evidence at rank 1, cites the evidence chunk (+ an off-topic one)
    record(
        answers=["2010"],
        evidence=["launched Xiaomi in 2010"],
        answer="Xiaomi was launched in 2010 [1].",
        cited=["Lei Jun launched Xiaomi in 2010.", "Off topic."],
        retrieved=["Lei Jun launched Xiaomi in 2010.", "Off topic."],
        latency_ms=100,
    ),
    # 2. answerable, wrong, two evidence strings found at ranks 2 and 4
    record(
        answers=["Xiantao"],
        evidence=["born in Xiantao", "in 1969"],
        answer="He was born in Wuhan [1].",
        cited=["He was born in Xiantao."],
        retrieved=["Nothing.", "He was born in Xiantao.", "Nothing.", "It was in 1969."],
        latency_ms=200,
    ),
    # 3. answerable, falsely abstained, evidence never retrieved
    record(
        answers=["Kingsoft"],
        evidence=["joined Kingsoft"],
        answer="The documents don't say.",
        abstained=True,
        retrieved=["Nothing."] * 10,
        latency_ms=300,
    ),
    # 4. unanswerable, rightly abstained
    record(answerable=False, answer="The documents don't say.", abstained=True, latency_ms=400),
    # 5. unanswerable, answered anyway (counts for mean_words, not for citations)
    record(answerable=False, answer="Blue.", cited=["Blue sky."], latency_ms=1000),
]


def test_summarise_hand_computed() -> None:
    s = summarise(HAND_BUILT)
    assert s["n_questions"] == 5
    # retrieval over questions 1-3: evidence_rank 1, 4, None; first ranks 1, 2, None
    assert s["retrieval"]["hit@1"] == pytest.approx(1 / 3)
    assert s["retrieval"]["hit@3"] == pytest.approx(1 / 3)
    assert s["retrieval"]["hit@5"] == pytest.approx(2 / 3)
    assert s["retrieval"]["hit@10"] == pytest.approx(2 / 3)
    assert s["retrieval"]["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    # answers: only question 1 is right among the three answerable
    assert s["answer"]["accuracy"] == pytest.approx(1 / 3)
    # answers given: q1 (5 words), q2 (5 words), q5 (1 word)
    assert s["answer"]["mean_words"] == pytest.approx(11 / 3)
    # citations of answered answerable questions (1, 2): 3 citations, 2 hold evidence
    assert s["citations"]["precision"] == pytest.approx(2 / 3)
    # q1 cites all its evidence; q2 misses "in 1969"
    assert s["citations"]["recall"] == 0.5
    assert s["abstention"]["recall"] == 0.5  # q4 yes, q5 no
    assert s["abstention"]["false_rate"] == pytest.approx(1 / 3)  # q3
    assert s["latency_ms"]["p50"] == 300
    assert s["latency_ms"]["p95"] == pytest.approx(400 + 0.8 * 600)
    assert s["counts"]["answerable"] == 3
    assert s["counts"]["unanswerable"] == 2
    assert s["counts"]["citations_judged"] == 3


def test_summarise_empty_populations_are_none() -> None:
    s = summarise([record(answerable=False, answer="The documents don't say.", abstained=True)])
    assert s["retrieval"]["hit@1"] is None
    assert s["retrieval"]["mrr"] is None
    assert s["answer"]["accuracy"] is None
    assert s["answer"]["mean_words"] is None
    assert s["citations"] == {"precision": None, "recall": None}
    assert s["abstention"] == {"recall": 1.0, "false_rate": None}


def test_questions_without_evidence_count_only_for_answers() -> None:
    s = summarise([record(answers=["2010"], answer="In 2010 [1].", cited=["x"], retrieved=["y"])])
    assert s["answer"]["accuracy"] == 1.0
    assert s["retrieval"]["hit@1"] is None
    assert s["citations"]["precision"] is None


def test_retrieval_beyond_ten_is_ignored() -> None:
    passages = ["Nothing."] * 10 + ["He was born in Xiantao."]
    s = summarise([record(answers=["x"], evidence=["born in Xiantao"], retrieved=passages)])
    assert s["retrieval"]["hit@10"] == 0.0
    assert s["retrieval"]["mrr"] == 0.0


# --- the question-file validator --------------------------------------------------------


def test_loads_a_good_file_keeping_extra_fields(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "q.jsonl",
        [
            {**GOOD, "kind": "fact"},
            "",  # blank lines are skipped
            {
                "id": "q2",
                "question": "Favourite colour?",
                "answers": [],
                "evidence": [],
                "answerable": False,
            },
        ],
    )
    questions = load_questions(path)
    assert [q.id for q in questions] == ["q1", "q2"]
    assert questions[0].extra == {"kind": "fact"}
    assert questions[0].answers == ("2010",)
    assert questions[0].line == 1 and questions[1].line == 3
    assert questions[1].answerable is False


def test_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    assert load_questions(path)[0].id == "q1"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object, found list"),
        ('"just a string"', "expected a JSON object"),
        ({k: v for k, v in GOOD.items() if k != "answers"}, "missing field(s) 'answers'"),
        (
            {k: v for k, v in GOOD.items() if k not in ("id", "answerable")},
            "missing field(s) 'id', 'answerable'",
        ),
        ({**GOOD, "id": 7}, "'id' must be a string, not int"),
        ({**GOOD, "id": "  "}, "'id' must be a non-empty string"),
        ({**GOOD, "question": ""}, "'question' is unusable"),
        ({**GOOD, "question": "?!"}, "'question' is unusable"),
        ({**GOOD, "question": "x" * 1001}, "'question' is unusable"),
        ({**GOOD, "answers": "2010"}, "'answers' must be a list, not str"),
        ({**GOOD, "evidence": None}, "'evidence' must be a list, not NoneType"),
        ({**GOOD, "answers": ["2010", 2011]}, "'answers' must hold strings; item 1 is 2011"),
        ({**GOOD, "evidence": ["ok", " "]}, "'evidence' item 1 is empty"),
        ({**GOOD, "answerable": "true"}, "'answerable' must be a boolean"),
        ({**GOOD, "answerable": 1}, "'answerable' must be a boolean"),
        ({**GOOD, "answers": []}, "an answerable question needs at least one acceptable answer"),
    ],
)
def test_rejects_a_bad_line_naming_file_line_and_reason(
    tmp_path: Path, line: Any, reason: str
) -> None:
    other = {**GOOD, "id": "q0"}
    path = write_lines(tmp_path / "questions.jsonl", [other, line])
    with pytest.raises(EvaluationError) as caught:
        load_questions(path)
    message = str(caught.value)
    assert f"{path}:2: " in message
    assert reason in message
    assert "nothing was evaluated" in message


def test_rejects_a_duplicate_id_naming_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [GOOD, {**GOOD, "question": "Again?"}])
    with pytest.raises(EvaluationError, match=r"q\.jsonl:2: id 'q1' is already used on line 1"):
        load_questions(path)


def test_lists_every_bad_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", ["{", GOOD, "[]", {**GOOD, "id": "q9", "answers": 1}])
    with pytest.raises(EvaluationError) as caught:
        load_questions(path)
    message = str(caught.value)
    assert "3 bad line(s)" in message
    for number in (1, 3, 4):
        assert f"q.jsonl:{number}: " in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "holds no questions"),
        (b"\n \n", "holds no questions"),
        (json.dumps(GOOD).encode() + b"\n\xff\xfe\n", "q.jsonl:2: not UTF-8"),
    ],
)
def test_rejects_empty_or_undecodable_files(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(content)
    with pytest.raises(EvaluationError, match=reason):
        load_questions(path)


def test_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"Cannot read the question file .*nope\.jsonl"):
        load_questions(tmp_path / "nope.jsonl")


def test_question_checks_itself() -> None:
    with pytest.raises(ValueError, match="at least one acceptable answer"):
        EvalQuestion("q", "Why?", (), (), True)
    assert EvalQuestion("q", "Why?", (), (), False).answers == ()


def test_the_shipped_dev_questions_load() -> None:
    questions = load_questions(Path(__file__).parents[2] / "eval" / "dev_questions.jsonl")
    assert len(questions) >= 60
    assert all("kind" in q.extra for q in questions)


# --- sampling -------------------------------------------------------------------------


def test_sample_is_seeded_and_in_file_order() -> None:
    questions = [EvalQuestion(f"q{i:03d}", f"Question {i}?", ("a",), (), True) for i in range(100)]
    first = sample_questions(questions, 10, seed=13)
    assert [q.id for q in first] == [q.id for q in sample_questions(questions, 10, seed=13)]
    assert [q.id for q in first] != [q.id for q in sample_questions(questions, 10, seed=14)]
    assert [q.id for q in first] == sorted(q.id for q in first)
    assert len({q.id for q in first}) == 10
    assert sample_questions(questions, 500, seed=1) == questions
    assert sample_questions(questions, None) == questions
    with pytest.raises(EvaluationError, match="--sample must be 1 or more"):
        sample_questions(questions, 0)


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
