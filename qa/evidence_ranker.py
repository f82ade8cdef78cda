"""The evidence-ranking stage: which passage sentences most likely answer.

:class:`EvidenceRanker` splits the top retrieved chunks into sentences,
scores each on the signals of :mod:`qa.evidence` (similarity to the query's
embedding, the share of its rare terms, the kind of answer, the chunk's
rank) and ranks them with the hand-chosen :class:`~qa.evidence.EvidenceWeights`.

A learned model can replace or join that ranking: a :class:`SentenceScorer`
is given every sentence once per question, as (document title, sentence)
pairs, and its score times ``scorer_weight`` is added to each sentence's
weighted sum (all-zero :class:`~qa.evidence.EvidenceWeights` leave the
ranking to the model alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from indexer.store import TermWeights
from qa.answer_type import expected_answer_type
from qa.evidence import (
    EvidenceWeights,
    ScoredSentence,
    SentenceVectors,
    gives_orders,
    rank,
    score_sentences,
    untrusted_documents,
    with_draft,
)
from qa.grounding import content_words, passage_sentences
from qa.types import QuestionContext


class SentenceScorer(Protocol):
    """Scores how likely each sentence answers ``question``; higher is better.

    ``sentences`` are (document title, sentence text) pairs; the result holds
    one score per pair, in their order.
    """

    def score(self, question: str, sentences: Sequence[tuple[str, str]]) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Evidence:
    """The scored sentences of one question, in passage order.

    ``terms`` are the query's content terms with their weight in the
    collection; ``learned`` the :class:`SentenceScorer`'s scores, if one ran.
    """

    sentences: tuple[ScoredSentence, ...]
    terms: Mapping[str, float]
    learned: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.learned is not None and len(self.learned) != len(self.sentences):
            raise ValueError(
                f"A learned score is needed for each of the {len(self.sentences)} sentences. "
                f"Currently there are {len(self.learned)}"
            )

    @property
    def any_trusted(self) -> bool:
        return any(s.trusted for s in self.sentences)


def is_statement(sentence: str) -> bool:
    """A sentence worth quoting: a few words, ending like a sentence (headings
    such as "Early Life and Education" do not).

    >>> is_statement("Early Life and Educational Pursuits"), is_statement("He was 40.")
    (False, True)
    """
    words = len(sentence.split())
    return words >= 3 and (
        sentence.rstrip().endswith((".", "!", "?", '"', "”", "’", "'", ")")) or words >= 10
    )


class EvidenceRanker:
    """Scores the sentences of the top ``evidence_hits`` chunks and ranks them.

    Sentence embeddings come from the pipeline's shared cache; the query's
    is the one retrieval used.
    """

    def __init__(
        self,
        sentence_vectors: SentenceVectors,
        *,
        evidence_hits: int = 5,
        weights: EvidenceWeights | None = None,
        scorer: SentenceScorer | None = None,
        scorer_weight: float = 1.0,
    ) -> None:
        if evidence_hits < 1:
            raise ValueError(f"evidence_hits must be 1 or more. Currently it is {evidence_hits}")
        self.sentence_vectors = sentence_vectors
        self.evidence_hits = evidence_hits
        self.weights = weights or EvidenceWeights()
        self.scorer = scorer
        self.scorer_weight = scorer_weight

    def run(self, context: QuestionContext, term_statistics: TermWeights) -> Evidence:
        """Score every candidate sentence; none when the passages hold no statement."""
        question, query = context.question.text, context.query
        # The query's content terms, stemmed, with their IDF in the collection;
        # words that carry no meaning ("what", "did") are left out, however rare.
        terms = term_statistics.term_weights(" ".join(sorted(content_words(query.text))))
        top_hits = list(context.hits[: self.evidence_hits])
        sentences = passage_sentences([h.chunk.text for h in top_hits])
        # Headings and fragments make poor evidence and worse quotes.
        sentences = [s for s in sentences if is_statement(s.text)] or sentences
        # Orders to the assistant state nothing, so they are never evidence.
        sentences = [s for s in sentences if not gives_orders(s.text)]
        if not sentences:
            return Evidence((), terms)
        sentence_vectors = self.sentence_vectors.embed([s.text for s in sentences])
        scored = score_sentences(
            question,
            expected_answer_type(question),
            sentences,
            top_hits,
            sentence_vectors @ query.vector,
            terms,
            untrusted_documents(top_hits),
        )
        learned = None
        if self.scorer is not None:
            pairs = [(s.hit.chunk.title, s.sentence.text) for s in scored]
            learned = np.asarray(self.scorer.score(question, pairs), dtype=np.float64)
        return Evidence(tuple(scored), terms, learned)

    def rank(self, evidence: Evidence, question: str, draft: str = "") -> list[ScoredSentence]:
        """The sentences best first, the ``draft`` (if any) voting for the one it draws on."""
        drafted = with_draft(evidence.sentences, draft, question) if draft else evidence.sentences
        if evidence.learned is None:
            return rank(drafted, self.weights)
        learned = evidence.learned
        order = sorted(
            range(len(drafted)),
            key=lambda i: drafted[i].score(self.weights) + self.scorer_weight * learned[i],
            reverse=True,
        )
        return [drafted[i] for i in order]
