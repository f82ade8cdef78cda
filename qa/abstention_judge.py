"""The abstention judge: do the passages answer, or do the documents not say?

:class:`AbstentionJudge` turns the best sentence, the passages and the draft
into :class:`~qa.abstention.AbstentionFeatures` and asks the fitted model
(:mod:`qa.abstention`, read once when the judge is made) for the probability
that the question is answerable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from indexer.keyword_index import stems
from qa.abstention import AbstentionFeatures, AbstentionModel
from qa.evidence import ScoredSentence, term_coverage
from qa.evidence_ranker import Evidence
from qa.grounding import unsupported_terms
from qa.types import QuestionContext

_MEASURE = re.compile(
    r"\bhow\s+(old|many|much|long|far|big|tall|large|often|soon)\b", re.IGNORECASE
)


def measure_words(question: str) -> list[str]:
    """The words of "how old / many / much ..." phrases: they name the kind
    of answer, not what it is about.

    >>> measure_words("How old was Lei Jun when he founded Xiaomi? How many children?")
    ['old', 'many']
    """
    return [match.group(1).casefold() for match in _MEASURE.finditer(question)]


def abstain_reason(features: AbstentionFeatures) -> str:
    """Why the judge abstained, in words, from the features that weigh most."""
    if features.invented:
        return "the draft named things or numbers that no passage holds"
    if features.coverage < 0.5:
        return "the passages do not mention most of what the question asks about"
    if features.answer_type == 0.0:
        return "no passage sentence holds the kind of answer the question asks for"
    return "the passages do not answer the question closely enough"


@dataclass(frozen=True)
class Judgement:
    """The judge's verdict on one answer attempt."""

    features: AbstentionFeatures
    probability: float  # P(answerable), or the learned selector's score
    answerable: bool
    learned: bool = False  # decided by the learned selector's score

    @property
    def reason(self) -> str:
        if self.learned:
            return "no passage sentence answers the question closely enough (learned selector)"
        return abstain_reason(self.features)


class Judge(Protocol):
    """Decides whether the best sentence answers the question."""

    def run(
        self, context: QuestionContext, evidence: Evidence, best: ScoredSentence, draft: str = ""
    ) -> Judgement: ...


class AbstentionJudge:
    """Judges whether the best sentence answers, with the fitted model."""

    def __init__(self, model: AbstentionModel, *, evidence_hits: int = 5) -> None:
        self.model = model
        self.evidence_hits = evidence_hits

    def features(
        self, context: QuestionContext, evidence: Evidence, best: ScoredSentence, draft: str = ""
    ) -> AbstentionFeatures:
        question, hits = context.question.text, context.hits
        passages = [h.chunk.embedding_text for h in hits[: self.evidence_hits]]
        passage_terms: set[str] = set().union(*(stems(p) for p in passages))
        # The passages need not hold the word of a "how old / many / much"
        # phrase: it names the kind of answer ("40"), not its subject.
        measure = stems(" ".join(measure_words(question)))
        judged = {t: w for t, w in evidence.terms.items() if t not in measure}
        return AbstentionFeatures(
            retrieval=max((h.dense_score or 0.0) for h in hits),
            evidence=best.similarity,
            coverage=term_coverage(judged, passage_terms),
            sentence=term_coverage(judged, stems(best.sentence.text)),
            context=best.context,
            answer_type=best.answer_type,
            draft=best.draft,
            invented=float(bool(draft and unsupported_terms(draft, [*passages, question]))),
        )

    def run(
        self, context: QuestionContext, evidence: Evidence, best: ScoredSentence, draft: str = ""
    ) -> Judgement:
        features = self.features(context, evidence, best, draft)
        probability = self.model.probability(features)
        return Judgement(features, probability, probability >= self.model.threshold)


class SelectorJudge:
    """Judges with the learned selector's score of the best sentence: the
    passages answer when it reaches ``abstain_below`` (the threshold calibrated
    with the model, :mod:`qa.selector`) and the ``hand`` judge (the fitted
    hand-signal model) does not find from its features that they do not."""

    def __init__(self, abstain_below: float, hand: AbstentionJudge) -> None:
        if not 0.0 <= abstain_below < 1.0:
            raise ValueError(f"abstain_below must be in [0, 1). Currently it is {abstain_below}")
        self.abstain_below = abstain_below
        self.hand = hand

    def run(
        self, context: QuestionContext, evidence: Evidence, best: ScoredSentence, draft: str = ""
    ) -> Judgement:
        if evidence.learned is None:
            raise ValueError("The selector judge needs the selector's scores of the evidence.")
        vetoed = self.hand.run(context, evidence, best, draft)
        # ``best`` may be a drafted copy: find its sentence by place, not identity.
        index = next(
            i
            for i, s in enumerate(evidence.sentences)
            if s.sentence == best.sentence and s.hit.chunk.chunk_id == best.hit.chunk.chunk_id
        )
        score = float(evidence.learned[index])
        if score < self.abstain_below:
            return Judgement(vetoed.features, score, False, learned=True)
        return Judgement(vetoed.features, score, vetoed.answerable, learned=vetoed.answerable)
