"""Tests for evaluation.metrics: every metric against hand-computed cases."""

from __future__ import annotations

from typing import Any

import pytest

from evaluation.metrics import (
    AbstentionRates,
    abstention_rates,
    answer_is_correct,
    answer_words,
    evidence_rank,
    first_evidence_rank,
    hit_at_k,
    mean,
    percentile,
    rate,
    reciprocal_rank,
    summarise,
)

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


@pytest.mark.parametrize(
    ("abstained", "answerable", "expected"),
    [
        ([True, False, True, True], [False, False, True, True], AbstentionRates(0.5, 1.0)),
        ([False, False], [True, True], AbstentionRates(None, 0.0)),
        ([True], [False], AbstentionRates(1.0, None)),
        ([], [], AbstentionRates(None, None)),
    ],
)
def test_abstention_rates(
    abstained: list[bool], answerable: list[bool], expected: AbstentionRates
) -> None:
    assert abstention_rates(abstained, answerable) == expected


def test_abstention_rates_need_one_label_per_decision() -> None:
    with pytest.raises(ValueError):
        abstention_rates([True, False], [True])


def test_rounded_rates_keep_missing_populations() -> None:
    assert AbstentionRates(1 / 3, None).rounded(4) == AbstentionRates(0.3333, None)


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
