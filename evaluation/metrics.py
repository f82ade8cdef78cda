"""The metrics of EVAL_FORMAT.md, as pure functions of per-question records.

:func:`summarise` computes every figure of an evaluation report from the
per-question records alone, so anyone holding the JSON report gets the same
numbers. Concessions, all stated in the report:

* A metric whose population is empty (say, abstention recall on a file with
  no unanswerable question) is ``None`` (``null`` in JSON), not 0.
* Answerable questions without evidence strings count for the answer
  metrics but are left out of the retrieval and citation metrics.
* An abstention cites nothing: the "closest passages" it lists are not
  counted as citations (they are in ``retrieved`` anyway).
* Answer length is counted in words after removing ``[n]`` citation markers.
* Latency percentiles interpolate linearly between samples (numpy's default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from corpus.analysis import CITATION_MARKER
from qa.normalise import contains, mentions
from qa.types import RANKED_DEPTH

HIT_KS = (1, 3, 5, 10)
RETRIEVED_DEPTH = RANKED_DEPTH  # the answer carries this many retrieved chunks
"""How many retrieved chunks a record keeps, and the depth of hit@k and MRR."""


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


_WORDLIKE = re.compile(r"\w")


def answer_words(text: str) -> int:
    """Words in an answer: whitespace-separated tokens holding a letter or
    digit, not counting ``[n]`` citation markers.

    >>> answer_words("He founded Xiaomi in 2010 [1] [2].")
    5
    """
    return sum(1 for token in CITATION_MARKER.sub(" ", text).split() if _WORDLIKE.search(token))


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


@dataclass(frozen=True)
class AbstentionRates:
    """How often a system abstained: ``recall`` over the unanswerable
    questions (higher is better), ``false_rate`` over the answerable ones
    (lower is better); None where that population is empty."""

    recall: float | None
    false_rate: float | None

    def rounded(self, digits: int = 4) -> AbstentionRates:
        return AbstentionRates(
            *(
                None if value is None else round(value, digits)
                for value in (self.recall, self.false_rate)
            )
        )


def abstention_rates(abstained: Sequence[bool], answerable: Sequence[bool]) -> AbstentionRates:
    """Abstention recall and false-abstention rate of paired decisions and labels.

    The one definition behind the evaluation report and ``ragqa calibrate``.

    >>> abstention_rates([True, False, True, True], [False, False, True, True])
    AbstentionRates(recall=0.5, false_rate=1.0)
    >>> abstention_rates([False], [True])
    AbstentionRates(recall=None, false_rate=0.0)
    """
    pairs = list(zip(abstained, answerable, strict=True))
    return AbstentionRates(
        recall=rate([bool(gave_up) for gave_up, can in pairs if not can]),
        false_rate=rate([bool(gave_up) for gave_up, can in pairs if can]),
    )


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
    abstention = abstention_rates(
        [r["abstained"] for r in records], [r["answerable"] for r in records]
    )
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
        "abstention": asdict(abstention),
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
