"""The answer-building stage: quote, cite, and report disagreement.

:class:`AnswerBuilder` quotes the winning sentence (cut to its answering
clause when long) with its exact span cited, or, when another document states
a different value of the kind asked for, says the documents disagree and
quotes both (:func:`qa.evidence.find_conflict`). It also writes the
abstentions, listing the closest passages instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.analysis import strip_citation_markers
from qa.abstention import AbstentionFeatures
from qa.abstention_judge import Judgement
from qa.answer_type import expected_answer_type, has_answer_type
from qa.evidence import EvidenceWeights, ScoredSentence, answer_values, find_conflict
from qa.evidence_ranker import Evidence
from qa.grounding import content_words, novel_words
from qa.types import Answer, Citation, Hit, QuestionContext

ABSTAIN_TEXT = "The documents don't say."
CONFLICT_TEXT = "The documents disagree."


def shorten_quote(sentence: str, question: str, max_words: int = 40, draft: str = "") -> str:
    """Cut a long quoted sentence down to its clause that most likely answers:
    the one holding the kind of answer asked for, then the most words of the
    draft and of the question, grown with its neighbours while under
    ``max_words``.

    >>> shorten_quote("Short one.", "anything")
    'Short one.'
    """
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    clauses = [c.strip() for c in re.split(r"(?<=[,;:])\s+|\s+[-–—]\s+", sentence) if c.strip()]
    asked = content_words(question)
    drafted = novel_words(draft, question) if draft else set()
    kind = expected_answer_type(question)

    def merit(i: int) -> tuple[bool, int, int, int]:
        clause = clauses[i]
        held = content_words(clause)
        return (
            has_answer_type(clause, question, kind),
            len(held & drafted),
            len(held & asked),
            -abs(len(clause.split()) - 15),
        )

    best = max(range(len(clauses)), key=merit)
    first, last = best, best
    while True:
        grown = False
        for candidate in (last + 1, first - 1):
            if 0 <= candidate < len(clauses):
                lo, hi = min(first, candidate), max(last, candidate)
                if len(" ".join(clauses[lo : hi + 1]).split()) <= max_words:
                    first, last, grown = lo, hi, True
                    break
        if not grown:
            break
    text = " ".join(clauses[first : last + 1])
    if len(text.split()) > max_words:
        text = " ".join(text.split()[:max_words])
    return text.rstrip(",;:") + ("" if text.endswith((".", "!", "?")) else "…")


def span_citation(
    number: int, hit: Hit, start: int, end: int, score: float, supports: bool
) -> Citation:
    """Citation ``number`` of ``hit``'s text from ``start`` to ``end`` (chunk offsets)."""
    chunk = hit.chunk
    return Citation(
        number=number,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        document=chunk.title,
        source_path=chunk.source_path,
        start=chunk.start + start,
        end=chunk.start + end,
        text=chunk.text[start:end],
        score=score,
        supports_answer=supports,
        location=chunk.location_at(chunk.start + start),
    )


class AnswerBuilder:
    """Writes the :class:`~qa.types.Answer`: a quote with its citation, both
    sides of a disagreement, or an abstention with the closest passages."""

    def __init__(self, *, max_answer_words: int = 40, weights: EvidenceWeights | None = None):
        self.max_answer_words = max_answer_words
        self.weights = weights or EvidenceWeights()

    def run(
        self,
        context: QuestionContext,
        evidence: Evidence,
        ranked: Sequence[ScoredSentence],
        best: ScoredSentence,
        judgement: Judgement,
        draft: str = "",
    ) -> Answer:
        """Quote ``best`` (or both sides, when another document disagrees)."""
        question = context.question.text
        kind = expected_answer_type(question)
        other = find_conflict(question, kind, best, ranked, self.weights, evidence.terms)
        sides = [best] if other is None else [best, other]
        quotes = [
            shorten_quote(
                strip_citation_markers(s.sentence.text), question, self.max_answer_words, draft
            ).rstrip()
            for s in sides
        ]
        citations = [
            span_citation(n, s.hit, s.sentence.start, s.sentence.end, s.similarity, True)
            for n, s in enumerate(sides, start=1)
        ]
        if other is None:
            text = f"{quotes[0]} [1]"
            reason = "quoted the passage sentence that best answers the question"
        else:
            text = f"{CONFLICT_TEXT} One says: {quotes[0]} [1] Another says: {quotes[1]} [2]"
            said = [
                ", ".join(sorted(answer_values(s.sentence.text, question, kind))) for s in sides
            ]
            reason = (
                f"the documents disagree about the {kind.value if kind else 'answer'} asked for: "
                f"{said[0]} in [1], {said[1]} in [2]"
            )
            if not other.trusted:
                reason += "; the document of [2] also gives the assistant orders"
        return Answer(
            question=question,
            text=text,
            abstained=False,
            citations=citations,
            hits=list(context.hits),
            ranked=list(context.ranked),
            timings=context.finished(),
            draft=draft,
            reason=reason,
            confidence=judgement.probability,
            retrieval_query=context.query.text,
            features=judgement.features,
            conflict=other is not None,
        )

    def abstention(
        self,
        context: QuestionContext,
        reason: str,
        draft: str = "",
        features: AbstentionFeatures | None = None,
    ) -> Answer:
        """ "The documents don't say", with the three closest passages listed."""
        closest = [
            span_citation(i, hit, 0, len(hit.chunk.text), hit.dense_score or 0.0, False)
            for i, hit in enumerate(context.hits[:3], start=1)
        ]
        text = ABSTAIN_TEXT + (" The closest passages are listed below." if closest else "")
        return Answer(
            question=context.question.text,
            text=text,
            abstained=True,
            citations=closest,
            hits=list(context.hits),
            ranked=list(context.ranked),
            timings=context.finished(),
            draft=draft,
            reason=reason,
            confidence=0.0,
            retrieval_query=context.query.text,
            features=features,
        )
