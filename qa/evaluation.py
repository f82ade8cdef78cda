"""End-to-end evaluation on a question file (shared EVAL_FORMAT.md).

Three layers, so that every number can be checked by hand:

1. :func:`load_questions` reads a JSON Lines question file into
   :class:`EvalQuestion` objects. Every line is checked; a file with any bad
   line is rejected as a whole, with ``file:line: reason`` for each problem.
2. :func:`evaluate` asks the pipeline each question and keeps, per question,
   everything a metric needs as plain JSON: the answer, the text of every
   cited chunk, the top 10 retrieved chunks with their text, and the latency.
3. :func:`summarise` computes every metric from those per-question records
   alone, so anyone holding the JSON report gets the same numbers.

Concessions, all stated in the report:

* A metric whose population is empty (say, abstention recall on a file with
  no unanswerable question) is ``None`` (``null`` in JSON), not 0.
* Answerable questions without evidence strings count for the answer
  metrics but are left out of the retrieval and citation metrics.
* An abstention cites nothing: the "closest passages" it lists are not
  counted as citations (they are in ``retrieved`` anyway).
* Answer length is counted in words after removing ``[n]`` citation markers.
* Latency percentiles interpolate linearly between samples (numpy's default).
  The models are loaded, and one question is asked and discarded, before the
  clock starts, so p95 does not measure model loading.
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.errors import EvaluationError, QuestionError
from qa.answerer import clean_question
from qa.normalise import contains, mentions, normalise

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

logger = logging.getLogger(__name__)

HIT_KS = (1, 3, 5, 10)
RETRIEVED_DEPTH = 10
MAX_REPORTED_ERRORS = 20

REQUIRED_FIELDS: dict[str, type] = {
    "id": str,
    "question": str,
    "answers": list,
    "evidence": list,
    "answerable": bool,
}
RECORD_FIELDS = frozenset(
    {
        *REQUIRED_FIELDS,
        "answer",
        "abstained",
        "reason",
        "citations",
        "retrieved",
        "hit_rank",
        "evidence_rank",
        "evidence_in_index",
        "correct",
        "latency_ms",
        "extra_fields",
    }
)
"""Keys of a per-question record; extra question fields with these names go
under ``extra_fields`` instead of overwriting them."""


# --- question files -----------------------------------------------------------


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


# --- metric functions (pure) -----------------------------------------------------


def first_evidence_rank(passages: Sequence[str], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first passage that contains any evidence string.

    >>> first_evidence_rank(["nothing", "He founded Xiaomi in 2010."], ["xiaomi in 2010"])
    2
    >>> first_evidence_rank(["nothing"], ["xiaomi"]) is None
    True
    """
    for rank, passage in enumerate(passages, start=1):
        if any(contains(passage, needle) for needle in evidence):
            return rank
    return None


def evidence_rank(passages: Sequence[str], evidence: Sequence[str]) -> int | None:
    """Smallest k such that the top-k passages together contain every evidence
    string (None if they never do, or if there is no evidence).

    hit@k is ``evidence_rank(...) <= k``.

    >>> evidence_rank(["A was born.", "x", "B died."], ["a was born", "b died"])
    3
    """
    if not evidence:
        return None
    worst = 0
    for needle in evidence:
        rank = first_evidence_rank(passages, [needle])
        if rank is None:
            return None
        worst = max(worst, rank)
    return worst


def hit_at_k(passages: Sequence[str], evidence: Sequence[str], k: int) -> bool:
    """Whether the top-k passages, taken together, contain every evidence string.

    >>> hit_at_k(["A was born.", "x", "B died."], ["A was born", "B died"], 2)
    False
    """
    rank = evidence_rank(passages, evidence)
    return rank is not None and rank <= k


def reciprocal_rank(rank: int | None, depth: int = RETRIEVED_DEPTH) -> float:
    """1/rank, or 0 when nothing was found within ``depth``.

    >>> reciprocal_rank(4), reciprocal_rank(None), reciprocal_rank(11)
    (0.25, 0.0, 0.0)
    """
    return 1.0 / rank if rank is not None and rank <= depth else 0.0


def answer_is_correct(text: str, abstained: bool, answers: Sequence[str]) -> bool:
    """Not an abstention, and the text mentions at least one acceptable answer.

    >>> answer_is_correct("Xiaomi was founded in 2010 [1].", False, ["2010"])
    True
    >>> answer_is_correct("Founded in 2010.", False, ["2"])
    False
    """
    return not abstained and any(mentions(text, answer) for answer in answers)


_CITATION_MARK = re.compile(r"\[\d+\]")
_WORDLIKE = re.compile(r"\w")


def answer_words(text: str) -> int:
    """Words in an answer: whitespace-separated tokens holding a letter or
    digit, not counting ``[n]`` citation markers.

    >>> answer_words("He founded Xiaomi in 2010 [1] [2].")
    5
    """
    return sum(1 for token in _CITATION_MARK.sub(" ", text).split() if _WORDLIKE.search(token))


def rate(flags: Sequence[bool]) -> float | None:
    """Share of true flags; None for an empty population.

    >>> rate([True, False, True, True]), rate([])
    (0.75, None)
    """
    return sum(map(bool, flags)) / len(flags) if flags else None


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None for no values.

    >>> mean([1, 2, 6]), mean([])
    (3.0, None)
    """
    return float(sum(values)) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between samples.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95)
    (25.0, 38.5)
    """
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every metric of EVAL_FORMAT.md from per-question records alone.

    A record needs ``answerable``, ``answers``, ``evidence``, ``answer``,
    ``abstained``, ``citations`` (each with the cited chunk's ``text``),
    ``retrieved`` (top 10 in rank order, each with ``text``) and ``latency_ms``.
    """
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    with_evidence = [r for r in answerable if r["evidence"]]
    answered_with_evidence = [r for r in with_evidence if not r["abstained"]]

    ranks = []
    first_ranks = []
    for record in with_evidence:
        passages = [hit["text"] for hit in record["retrieved"][:RETRIEVED_DEPTH]]
        ranks.append(evidence_rank(passages, record["evidence"]))
        first_ranks.append(first_evidence_rank(passages, record["evidence"]))

    cited_flags: list[bool] = []
    recall_flags: list[bool] = []
    for record in answered_with_evidence:
        cited = [citation["text"] for citation in record["citations"]]
        cited_flags.extend(any(contains(text, e) for e in record["evidence"]) for text in cited)
        recall_flags.append(evidence_rank(cited, record["evidence"]) is not None)

    latencies = [float(r["latency_ms"]) for r in records]
    given = [r for r in records if not r["abstained"]]
    retrieval: dict[str, float | None] = {
        f"hit@{k}": rate([rank is not None and rank <= k for rank in ranks]) for k in HIT_KS
    }
    retrieval["mrr"] = mean([reciprocal_rank(rank) for rank in first_ranks])
    return {
        "n_questions": len(records),
        "retrieval": retrieval,
        "answer": {
            "accuracy": rate(
                [answer_is_correct(r["answer"], r["abstained"], r["answers"]) for r in answerable]
            ),
            "mean_words": mean([answer_words(r["answer"]) for r in given]),
        },
        "citations": {"precision": rate(cited_flags), "recall": rate(recall_flags)},
        "abstention": {
            "recall": rate([r["abstained"] for r in unanswerable]),
            "false_rate": rate([r["abstained"] for r in answerable]),
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": mean(latencies),
            "max": max(latencies, default=None),
        },
        "counts": {
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "with_evidence": len(with_evidence),
            "answered": len(given),
            "answered_with_evidence": len(answered_with_evidence),
            "citations_judged": len(cited_flags),
            "evidence_not_in_index": sum(1 for r in records if r.get("evidence_in_index") is False),
        },
    }


def summarise_by(records: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any]:
    """:func:`summarise` per value of an extra field such as ``kind``."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        if key in record:
            groups.setdefault(str(record[key]), []).append(record)
    return {name: summarise(group) for name, group in sorted(groups.items())}


# --- running the pipeline -----------------------------------------------------------


class _EvidenceLocator:
    """Tells whether each evidence string occurs in some chunk of the index
    (it may not: wrong index, or a long sentence cut across two chunks)."""

    def __init__(self, chunk_texts: Sequence[str]) -> None:
        # NUL never survives in normalised evidence, so no match spans two chunks.
        self._haystack = "\0".join(normalise(text) for text in chunk_texts)

    def all_present(self, evidence: Sequence[str]) -> bool | None:
        if not evidence:
            return None
        return all(normalise(e) in self._haystack for e in evidence)


def _round(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def evaluate_question(
    pipeline: Pipeline,
    question: EvalQuestion,
    locator: _EvidenceLocator | None = None,
) -> dict[str, Any]:
    """Ask one question and keep everything the metrics need (see :func:`summarise`)."""
    started = time.perf_counter()
    answer = pipeline.ask(question.question)
    latency_ms = (time.perf_counter() - started) * 1000

    retrieved = pipeline.retrieve(
        answer.retrieval_query or clean_question(question.question), top_k=RETRIEVED_DEPTH
    )
    chunk_texts = {hit.chunk.chunk_id: hit.chunk.text for hit in answer.hits}
    citations = []
    for citation in [] if answer.abstained else answer.citations:
        text = chunk_texts.get(citation.chunk_id)
        if text is None:
            chunk = pipeline.store.chunk(citation.chunk_id)
            text = chunk.text if chunk is not None else citation.text
        citations.append(
            {
                "number": citation.number,
                "chunk_id": citation.chunk_id,
                "document": citation.document,
                "location": citation.location.label if citation.location is not None else None,
                "text": text,
                "quote": citation.text,
            }
        )
    passages = [hit.chunk.text for hit in retrieved]
    record: dict[str, Any] = {
        "id": question.id,
        "question": question.question,
        "answerable": question.answerable,
        "answers": list(question.answers),
        "evidence": list(question.evidence),
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "citations": citations,
        "retrieved": [
            {
                "rank": rank,
                "chunk_id": hit.chunk.chunk_id,
                "score": _round(hit.score, 6),
                "text": hit.chunk.text,
            }
            for rank, hit in enumerate(retrieved, start=1)
        ],
        "hit_rank": first_evidence_rank(passages, question.evidence),
        "evidence_rank": evidence_rank(passages, question.evidence),
        "evidence_in_index": locator.all_present(question.evidence) if locator else None,
        "correct": (
            answer_is_correct(answer.text, answer.abstained, question.answers)
            if question.answerable
            else answer.abstained
        ),
        "latency_ms": _round(latency_ms, 1),
    }
    clashes = {k: v for k, v in question.extra.items() if k in RECORD_FIELDS}
    record.update({k: v for k, v in question.extra.items() if k not in RECORD_FIELDS})
    if clashes:
        record["extra_fields"] = clashes
    return record


def _round_metrics(summary: Any) -> Any:
    if isinstance(summary, dict):
        return {k: _round_metrics(v) for k, v in summary.items()}
    if isinstance(summary, float):
        return _round(summary, 4)
    return summary


def _settings(pipeline: Pipeline) -> dict[str, Any]:
    config = pipeline.config
    return {
        "index_dir": str(config.index_dir),
        "embedding_model": config.embedder.model,
        "generator_backend": config.generator.backend,
        "retrieval": asdict(config.retrieval),
        "rerank": asdict(config.rerank),
        "top_k": config.retrieval.top_k,
    }


def evaluate(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    *,
    progress: bool = False,
    warmup: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Ask every question and return the EVAL_FORMAT.md report as a dict:
    the metrics of :func:`summarise`, ``by_kind`` when questions have a
    ``kind``, the settings used, and ``per_question``.

    Progress goes to standard error. ``on_record`` sees each record as it is made.
    """
    from tqdm import tqdm

    if not questions:
        raise EvaluationError("No questions to evaluate.")
    started = time.perf_counter()
    # Reading the chunks opens and verifies the index before any model loads.
    locator = _EvidenceLocator([chunk.text for chunk in pipeline.store.all_chunks()])
    if warmup:
        pipeline.ask(questions[0].question)

    records = []
    for question in tqdm(
        questions, desc="questions", unit="q", file=sys.stderr, disable=not progress
    ):
        record = evaluate_question(pipeline, question, locator)
        records.append(record)
        if on_record is not None:
            on_record(record)

    result: dict[str, Any] = _round_metrics(summarise(records))
    if any("kind" in r for r in records):
        result["by_kind"] = _round_metrics(summarise_by(records, "kind"))
    missing = result["counts"]["evidence_not_in_index"]
    if missing:
        logger.warning(
            "%d question(s) have evidence that no chunk of %s contains, so they can never "
            "count as retrieval hits (wrong index, or evidence cut across chunks).",
            missing,
            pipeline.config.index_dir,
        )
    result["settings"] = _settings(pipeline)
    result["seconds"] = _round(time.perf_counter() - started, 1)
    result["per_question"] = records
    return result
