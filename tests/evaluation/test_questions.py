"""Tests for evaluation.questions: the question-file validator and sampling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpus.errors import EvaluationError
from evaluation.questions import EvalQuestion, load_questions, sample_questions

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
