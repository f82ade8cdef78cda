"""Ranking the sentences of retrieved chunks by how likely each answers.

The answer ragqa shows is a sentence quoted from the documents, so picking
that sentence is most of the answer's quality. Cosine similarity to the
question alone prefers sentences that *restate* the question over the one
that answers it, so each sentence is scored on several signals:

* ``similarity``: its embedding cosine to the question;
* ``coverage``: the share of the question's terms it holds, each weighted by
  its inverse document frequency in the collection (so "tuberculosis" counts
  and the collection's subject, "Lei Jun", hardly does);
* ``context``: the same share over the sentence and its neighbours (answers
  often sit in the sentence after the one that names the topic);
* ``answer_type``: whether it holds the kind of answer asked for (a year for
  "when", a number for "how many", a name for "who");
* ``chunk_rank``: how high its chunk was retrieved;
* ``draft``: the share of the generator's draft's new words that it holds; the
  small model often points at the right sentence even when its own wording is
  wrong ("The answer is 2013.").

The weights (:class:`EvidenceWeights`) were chosen by measuring answer
accuracy on the dev set together with a SQuAD sample (see the README), with a
coarse grid so that they do not fit individual questions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from indexer.embedder import Embedder
from indexer.keyword_index import stems
from qa.answer_type import AnswerType, has_answer_type
from qa.grounding import PassageSentence, novel_words
from qa.types import Hit


@dataclass(frozen=True)
class EvidenceWeights:
    similarity: float = 0.4
    coverage: float = 0.5
    context: float = 0.1
    answer_type: float = 0.15
    chunk_rank: float = 0.1
    draft: float = 0.1


@dataclass(frozen=True)
class ScoredSentence:
    """A passage sentence with the signals that rank it (all in [0, 1],
    cosines aside)."""

    sentence: PassageSentence
    hit: Hit
    similarity: float
    coverage: float
    context: float
    answer_type: float  # 1: holds the asked-for kind, 0: lacks it, 0.5: question is open
    chunk_rank: float
    draft: float = 0.0

    def score(self, weights: EvidenceWeights) -> float:
        return (
            weights.similarity * self.similarity
            + weights.coverage * self.coverage
            + weights.context * self.context
            + weights.answer_type * self.answer_type
            + weights.chunk_rank * self.chunk_rank
            + weights.draft * self.draft
        )


def term_coverage(term_weights: Mapping[str, float], terms: set[str]) -> float:
    """Weighted share of ``term_weights`` found in ``terms``.

    >>> term_coverage({"born": 2.0, "lei": 0.5}, {"born", "1969"})
    0.8
    """
    total = sum(term_weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in term_weights.items() if t in terms) / total


def score_sentences(
    question: str,
    answer_type: AnswerType | None,
    sentences: Sequence[PassageSentence],
    hits: Sequence[Hit],
    similarities: np.ndarray,
    term_weights: Mapping[str, float],
) -> list[ScoredSentence]:
    """Score every sentence (``sentences[i].hit_index`` indexes ``hits``)."""
    sentence_terms = [stems(s.text) for s in sentences]
    scored = []
    for i, sentence in enumerate(sentences):
        window = set(sentence_terms[i])
        for j in (i - 1, i + 1):
            if 0 <= j < len(sentences) and sentences[j].hit_index == sentence.hit_index:
                window |= sentence_terms[j]
        scored.append(
            ScoredSentence(
                sentence=sentence,
                hit=hits[sentence.hit_index],
                similarity=float(similarities[i]),
                coverage=term_coverage(term_weights, sentence_terms[i]),
                context=term_coverage(term_weights, window),
                answer_type=(
                    0.5
                    if answer_type is None
                    else float(has_answer_type(sentence.text, question, answer_type))
                ),
                chunk_rank=1.0 / (1 + sentence.hit_index),
            )
        )
    return scored


def draft_overlap(draft: str, question: str, sentence: str) -> float:
    """Share of the draft's new content words (not in the question) that
    ``sentence`` holds, matched on stems.

    >>> draft_overlap("He was hospitalised with tuberculosis.", "What disease did he catch?",
    ...               "He was hospitalized with a tuberculosis infection.")
    0.5
    """
    new = novel_words(draft, question)
    if not new:
        return 0.0
    held = stems(sentence)
    return sum(1 for word in new if stems(word) <= held) / len(new)


def with_draft(scored: Sequence[ScoredSentence], draft: str, question: str) -> list[ScoredSentence]:
    return [replace(s, draft=draft_overlap(draft, question, s.sentence.text)) for s in scored]


def rank(scored: Sequence[ScoredSentence], weights: EvidenceWeights) -> list[ScoredSentence]:
    return sorted(scored, key=lambda s: s.score(weights), reverse=True)


class SentenceVectors:
    """Embeds passage sentences, remembering the last ``max_entries`` of them.

    Ranking embeds every sentence of the top chunks for every question, and
    in a conversation the same chunks come back again and again; the cache
    saves that embedding time (about 0.5 s a question on 2 cores). One cache
    serves one embedding model.
    """

    def __init__(self, embedder: Embedder, max_entries: int = 50_000) -> None:
        self.embedder = embedder
        self.max_entries = max_entries
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = self.embedder.embed(missing) if missing else None
        with self._lock:
            if fresh is not None:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[text] = vector
            found = []
            for text in texts:
                vector = self._vectors.get(text)
                if vector is None:  # evicted meanwhile by another thread
                    vector = self.embedder.embed([text])[0]
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
                found.append(vector)
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)
        return np.stack(found) if found else np.zeros((0, self.embedder.dimension), np.float32)
