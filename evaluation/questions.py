"""Question files (shared EVAL_FORMAT.md): reading them and checking every line.

A question file is JSON Lines, one object per question with ``id``,
``question``, ``answers``, ``evidence`` and ``answerable``; any other field
(such as ``kind``) is kept and copied to the question's record in the report.
:func:`load_questions` returns nothing unless every line is good, and names
each bad one as ``file:line: reason``, so a typo never silently shrinks the
set being measured.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import EvaluationError, QuestionError
from qa.answerer import clean_question
from qa.normalise import normalise

MAX_REPORTED_ERRORS = 20

REQUIRED_FIELDS: dict[str, type] = {
    "id": str,
    "question": str,
    "answers": list,
    "evidence": list,
    "answerable": bool,
}


@dataclass(frozen=True)
class EvalQuestion:
    """One question of a question file, checked.

    ``extra`` holds the fields the format does not define (such as ``kind``);
    they are copied to the question's record in the report.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    answerable: bool
    extra: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"'id' must be a non-empty string, not {self.id!r}")
        if not isinstance(self.answerable, bool):
            raise ValueError(
                f"'answerable' must be true or false, not {json.dumps(self.answerable)}"
            )
        for name in ("answers", "evidence"):
            values = tuple(getattr(self, name))
            object.__setattr__(self, name, values)
            for position, value in enumerate(values):
                if not isinstance(value, str):
                    raise ValueError(
                        f"'{name}' must hold strings; item {position} is "
                        f"{json.dumps(value)} ({type(value).__name__})"
                    )
                if not normalise(value):
                    raise ValueError(f"'{name}' item {position} is empty")
        if self.answerable and not self.answers:
            raise ValueError(
                "an answerable question needs at least one acceptable answer in 'answers' "
                "(or set 'answerable' to false)"
            )
        try:
            clean_question(self.question)
        except QuestionError as error:
            raise ValueError(f"'question' is unusable: {error}") from error

    @classmethod
    def from_json(cls, data: Any, line: int = 0) -> EvalQuestion:
        """Build from one decoded line; raises ``ValueError`` naming the problem."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        missing = [name for name in REQUIRED_FIELDS if name not in data]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(repr(m) for m in missing)}")
        for name, kind in REQUIRED_FIELDS.items():
            if not isinstance(data[name], kind):
                raise ValueError(
                    f"'{name}' must be a {_type_name(kind)}, not {type(data[name]).__name__} "
                    f"({json.dumps(data[name], ensure_ascii=False)[:60]})"
                )
        return cls(
            id=data["id"],
            question=data["question"],
            answers=tuple(data["answers"]),
            evidence=tuple(data["evidence"]),
            answerable=data["answerable"],
            extra={k: v for k, v in data.items() if k not in REQUIRED_FIELDS},
            line=line,
        )


def _type_name(kind: type) -> str:
    return {str: "string", list: "list", bool: "boolean (true or false)"}.get(kind, kind.__name__)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read and check a question file; nothing is returned unless every line is good.

    Blank lines are skipped. Raises :class:`EvaluationError` listing each bad
    line as ``file:line: reason``.

    >>> # load_questions(Path("eval/dev_questions.jsonl"))[0].id
    >>> # 'dev001'
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise EvaluationError(
            f"Cannot read the question file {path}: {error.strerror or error}."
        ) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise EvaluationError(
            f"{path}:{line}: not UTF-8 text (byte {raw[error.start]:#04x}); save the file as UTF-8."
        ) from error

    questions: list[EvalQuestion] = []
    errors: list[str] = []
    first_line_of: dict[str, int] = {}
    for number, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            data = json.loads(content)
        except json.JSONDecodeError as error:
            errors.append(f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})")
            continue
        try:
            question = EvalQuestion.from_json(data, line=number)
        except ValueError as error:
            errors.append(f"{path}:{number}: {error}")
            continue
        if question.id in first_line_of:
            errors.append(
                f"{path}:{number}: id {question.id!r} is already used on line "
                f"{first_line_of[question.id]}; ids must be unique"
            )
            continue
        first_line_of[question.id] = number
        questions.append(question)

    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        raise EvaluationError(
            f"The question file {path} has {len(errors)} bad line(s); nothing was evaluated. "
            "Fix them; each line is one JSON object with id, question, answers, evidence and "
            "answerable:\n  " + "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
        )
    if not questions:
        raise EvaluationError(
            f"The question file {path} holds no questions: write one JSON object per line "
            '(e.g. {"id": "q1", "question": "...", "answers": ["..."], "evidence": ["..."], '
            '"answerable": true}).'
        )
    return questions


def sample_questions(
    questions: Sequence[EvalQuestion], n: int | None, seed: int = 0
) -> list[EvalQuestion]:
    """A reproducible random sample of ``n`` questions, kept in file order.

    >>> qs = [EvalQuestion(str(i), f"Question {i}?", ("a",), (), True) for i in range(10)]
    >>> [q.id for q in sample_questions(qs, 3, seed=13)] == [
    ...     q.id for q in sample_questions(qs, 3, seed=13)]
    True
    """
    if n is None:
        return list(questions)
    if n < 1:
        raise EvaluationError(f"--sample must be 1 or more. Currently it is {n}.")
    if n >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), n))
    return [questions[i] for i in chosen]
