"""Asking a question file's questions and keeping what every metric needs.

:func:`evaluate` asks the pipeline each question and keeps, per question,
everything a metric needs as plain JSON: the answer, the text of every cited
chunk, the top 10 retrieved chunks with their text, and the latency. The
figures are then computed from those records alone
(:func:`evaluation.metrics.summarise`), so that every number can be checked
by hand from the JSON report.

The models are loaded, and one question is asked and discarded, before the
clock starts, so p95 does not measure model loading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from corpus.errors import EvaluationError
from evaluation.metrics import (
    RETRIEVED_DEPTH,
    answer_is_correct,
    evidence_rank,
    first_evidence_rank,
    summarise,
    summarise_by,
)
from evaluation.questions import REQUIRED_FIELDS, EvalQuestion
from qa.normalise import normalise

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

logger = logging.getLogger(__name__)

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


class EvidenceLocator:
    """Tells whether each evidence string occurs in some chunk of the index
    (it may not: wrong index, or a long sentence cut across two chunks).

    >>> EvidenceLocator(["Lei Jun founded Xiaomi.", "He was born in 1969."]).all_present(
    ...     ["founded xiaomi", "born in 1969"])
    True
    """

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
    locator: EvidenceLocator | None = None,
) -> dict[str, Any]:
    """Ask one question and keep everything the metrics need (see
    :func:`evaluation.metrics.summarise`)."""
    started = time.perf_counter()
    answer = pipeline.ask(question.question)
    latency_ms = (time.perf_counter() - started) * 1000

    retrieved = answer.ranked[:RETRIEVED_DEPTH]  # the answer's own retrieval, not a second one
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
    warmup: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Ask every question and return the EVAL_FORMAT.md report as a dict:
    the metrics of :func:`evaluation.metrics.summarise`, ``by_kind`` when
    questions have a ``kind``, the settings used, and ``per_question``.

    ``on_record`` sees each record as it is made (to save it, or show progress).
    """
    if not questions:
        raise EvaluationError("No questions to evaluate.")
    started = time.perf_counter()
    # Reading the chunks opens and verifies the index before any model loads.
    locator = EvidenceLocator([chunk.text for chunk in pipeline.store.all_chunks()])
    if warmup:
        pipeline.ask(questions[0].question)

    records = []
    for question in questions:
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
