"""From a question to a grounded, cited answer, or an honest abstention.

1. **Retrieve** chunks (hybrid dense + BM25 by default).
2. **Select evidence**: split the top chunks into sentences and score each by
   its similarity to the question blended with its chunk's score; the best
   few (with their neighbours) become the numbered passages of the prompt.
   Short prompts keep the tiny generator on topic and fast.
3. **Generate** a one-sentence draft (streamed).
4. **Ground** each draft sentence: its names and numbers must occur in the
   evidence, and it must be close to an evidence sentence, which becomes its
   citation. A draft that invents names or numbers means the passages do not
   hold the answer: abstain. A draft that is merely unsupported is replaced by
   the best-matching quote, if that is good enough.
5. **Abstain** when retrieval or support scores fall below the thresholds
   (fitted on the dev set, see ``benchmarks/fit_thresholds.py``), listing the
   closest passages instead.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.cleaning import INVISIBLE_CHARACTERS
from corpus.errors import QuestionError
from indexer.embedder import Embedder
from qa.abstention import AbstentionFeatures, AbstentionModel
from qa.generator import Generator, Message
from qa.grounding import (
    PassageSentence,
    best_support,
    content_words,
    lexical_support,
    missing_share,
    novel_words,
    passage_sentences,
    split_answer,
    unsupported_terms,
)
from qa.retriever import Retriever
from qa.types import Answer, Citation, Hit, StageTimings

MAX_QUESTION_CHARS = 1000
ABSTAIN_TEXT = "The documents don't say."

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages you are given. "
    "Answer in one short sentence. If the passages do not contain the answer, "
    "say that the documents don't say."
)


@dataclass(frozen=True)
class AnswerConfig:
    """Answering settings; thresholds are cosine similarities."""

    top_k: int = 5
    evidence_sentences: int = 4
    evidence_hits: int = 5
    sentence_weight: float = 0.7
    max_new_tokens: int = 48
    max_answer_sentences: int = 1
    min_retrieval_score: float = 0.05
    min_support: float = 0.55
    min_lexical_support: float = 0.8
    max_question_chars: int = MAX_QUESTION_CHARS
    abstention_model: str = ""  # path of a refitted model; empty: the shipped one


@dataclass(frozen=True)
class Token:
    """A piece of the draft as the generator writes it."""

    text: str


# Citation markers written inside documents ("[2]") must never pass for ours.
_CITATION_MARKER = re.compile(r"\s*\[\d{1,3}\]")


def strip_citation_markers(text: str) -> str:
    """Remove ``[n]`` markers a document carries, so only ragqa's own remain.

    >>> strip_citation_markers("Founded by Ada Lund [1] [2].")
    'Founded by Ada Lund.'
    """
    return _CITATION_MARKER.sub("", text)


def clean_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """Validate and tidy a question; raises :class:`QuestionError`.

    >>> clean_question("  When was Lei Jun born?\\x07 ")
    'When was Lei Jun born?'
    """
    if not isinstance(question, str):
        raise QuestionError(f"A question must be text, not {type(question).__name__}.")
    text = INVISIBLE_CHARACTERS.sub(" ", unicodedata.normalize("NFC", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty: type a question about your documents.")
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text)} characters long; the limit is {max_chars}. "
            "Ask something shorter (one question at a time)."
        )
    if not any(ch.isalnum() for ch in text):
        raise QuestionError(
            "The question has no words in it: type a question about your documents."
        )
    return text


@dataclass(frozen=True)
class _Evidence:
    sentence: PassageSentence
    hit: Hit
    question_score: float  # blended with the chunk's score, for ranking
    similarity: float  # the sentence's own cosine to the question
    vector: np.ndarray


@dataclass(frozen=True)
class _CheckedSentence:
    """A draft sentence and what the grounding checks found."""

    sentence: str
    support: _Evidence
    similarity: float
    invented: bool
    restates: bool
    lexical: float  # share of its new words that the supporting sentence holds

    def supported(self, min_support: float, min_lexical: float) -> bool:
        return (
            not self.invented
            and not self.restates
            and self.similarity >= min_support
            and self.lexical >= min_lexical
        )


def _abstain_reason(features: AbstentionFeatures, checked: Sequence[_CheckedSentence]) -> str:
    if features.invented:
        return "the draft named things or numbers that no passage holds"
    if features.missing >= 0.5:
        return "the passages do not mention what the question asks about"
    if checked and all(c.restates for c in checked):
        return "the draft only restated the question"
    return "the passages do not answer the question closely enough"


def _is_statement(sentence: str) -> bool:
    """A sentence worth quoting: a few words, ending like a sentence (headings
    such as "Early Life and Education" do not).

    >>> _is_statement("Early Life and Educational Pursuits"), _is_statement("He was 40.")
    (False, True)
    """
    words = len(sentence.split())
    return words >= 3 and (
        sentence.rstrip().endswith((".", "!", "?", '"', "”", "’", "'", ")")) or words >= 10
    )


def shorten_quote(sentence: str, question: str, max_words: int = 30) -> str:
    """Cut a long quoted sentence down to the clause that shares most words with
    the question (with its neighbours while under ``max_words``).

    >>> shorten_quote("Short one.", "anything")
    'Short one.'
    """
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    clauses = [c.strip() for c in re.split(r"(?<=[,;:])\s+|\s+[-–—]\s+", sentence) if c.strip()]
    asked = content_words(question)
    overlap = [len(content_words(c) & asked) for c in clauses]
    best = max(range(len(clauses)), key=lambda i: (overlap[i], -abs(len(clauses[i].split()) - 15)))
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


def _span_citation(
    number: int, hit: Hit, start: int, end: int, score: float, supports: bool
) -> Citation:
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
    )


def build_prompt(question: str, passages: Sequence[str]) -> list[Message]:
    numbered = "\n".join(
        f"[{i}] {strip_citation_markers(text)}" for i, text in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"},
    ]


class Answerer:
    """Answers questions over a saved index; one instance serves many questions."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        embedder: Embedder,
        config: AnswerConfig | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.embedder = embedder
        self.config = config or AnswerConfig()
        self.abstention_model = AbstentionModel.load(
            Path(self.config.abstention_model) if self.config.abstention_model else None
        )

    def run(
        self, question: str, *, top_k: int | None = None, retrieval_query: str | None = None
    ) -> Answer:
        """Answer ``question`` and return the finished :class:`Answer`."""
        for event in self.stream(question, top_k=top_k, retrieval_query=retrieval_query):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream() ended without an answer")  # pragma: no cover

    def stream(
        self, question: str, *, top_k: int | None = None, retrieval_query: str | None = None
    ) -> Iterator[Token | Answer]:
        """Yield :class:`Token` pieces of the draft, then the final :class:`Answer`."""
        started = time.perf_counter()
        question = clean_question(question, self.config.max_question_chars)
        query = (
            clean_question(retrieval_query, self.config.max_question_chars * 2)
            if retrieval_query
            else question
        )
        hits = self.retriever.run(query, top_k=top_k or self.config.top_k)
        retrieved = time.perf_counter()
        timings = {"retrieve_ms": (retrieved - started) * 1000}

        top_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
        if not hits or top_dense < self.config.min_retrieval_score:
            yield self._abstain(
                question, query, hits, "no passage is close to the question", timings, started
            )
            return

        evidence = self._select_evidence(query, hits)
        prompt_evidence = evidence[: self.config.evidence_sentences]
        # Present passages in document order of the chosen sentences' rank.
        messages = build_prompt(question, [e.sentence.text for e in prompt_evidence])
        draft_parts: list[str] = []
        first_token_at = 0.0
        for piece in self.generator.stream(messages, self.config.max_new_tokens):
            if not first_token_at:
                first_token_at = time.perf_counter()
            draft_parts.append(piece)
            yield Token(piece)
            if "\n" in piece and "".join(draft_parts).strip():
                break
        generated = time.perf_counter()
        timings["generate_ms"] = (generated - retrieved) * 1000
        timings["first_token_ms"] = ((first_token_at or generated) - started) * 1000
        draft = "".join(draft_parts).strip()

        answer = self._ground(question, query, draft, evidence, hits, timings, started)
        yield answer

    def _select_evidence(self, query: str, hits: Sequence[Hit]) -> list[_Evidence]:
        top_hits = list(hits[: self.config.evidence_hits])
        sentences = passage_sentences([h.chunk.text for h in top_hits])
        # Headings and fragments make poor evidence and worse quotes.
        sentences = [s for s in sentences if _is_statement(s.text)] or sentences
        vectors = self.embedder.embed([query, *[s.text for s in sentences]])
        question_vector, sentence_vectors = vectors[0], vectors[1:]
        similarity = sentence_vectors @ question_vector
        weight = self.config.sentence_weight
        scored = [
            _Evidence(
                sentence=s,
                hit=top_hits[s.hit_index],
                question_score=weight * float(sim)
                + (1 - weight) * float(top_hits[s.hit_index].dense_score or 0.0),
                similarity=float(sim),
                vector=sentence_vectors[i],
            )
            for i, (s, sim) in enumerate(zip(sentences, similarity, strict=True))
        ]
        return sorted(scored, key=lambda e: e.question_score, reverse=True)

    def _ground(
        self,
        question: str,
        query: str,
        draft: str,
        evidence: Sequence[_Evidence],
        hits: Sequence[Hit],
        timings: dict[str, float],
        started: float,
    ) -> Answer:
        grounding_started = time.perf_counter()
        if not evidence:
            return self._abstain(
                question, query, hits, "no passage sentences", timings, started, draft
            )
        passages = [h.chunk.embedding_text for h in hits[: self.config.evidence_hits]]
        evidence_vectors = np.stack([e.vector for e in evidence])
        checked = self._check_draft(question, draft, passages, evidence, evidence_vectors)
        supported = [
            c
            for c in checked
            if c.supported(self.config.min_support, self.config.min_lexical_support)
        ]
        features = AbstentionFeatures(
            retrieval=max((h.dense_score or 0.0) for h in hits),
            evidence=max(e.similarity for e in evidence),
            support=max((c.similarity for c in checked if not c.invented), default=0.0),
            invented=float(any(c.invented for c in checked)),
            missing=missing_share(content_words(query), passages),
            restates=float(all(c.restates for c in checked)) if checked else 1.0,
        )
        probability = self.abstention_model.probability(features)
        timings["ground_ms"] = (time.perf_counter() - grounding_started) * 1000
        if probability < self.abstention_model.threshold:
            reason = _abstain_reason(features, checked)
            return self._abstain(question, query, hits, reason, timings, started, draft, features)

        if supported:
            kept = [(c.sentence, c.support, c.similarity) for c in supported]
            reason = "draft supported by the cited passages"
        else:
            best = evidence[0]
            kept = [
                (
                    shorten_quote(strip_citation_markers(best.sentence.text), question),
                    best,
                    best.similarity,
                )
            ]
            reason = "quoted the best-matching passage sentence (the draft was not supported)"

        citations: list[Citation] = []
        parts: list[str] = []
        for sentence, support, score in kept:
            span_start = support.hit.chunk.start + support.sentence.start
            citation = next(
                (
                    c
                    for c in citations
                    if c.chunk_id == support.hit.chunk.chunk_id and c.start == span_start
                ),
                None,
            )
            if citation is None:
                citation = _span_citation(
                    len(citations) + 1,
                    support.hit,
                    support.sentence.start,
                    support.sentence.end,
                    score,
                    True,
                )
                citations.append(citation)
            parts.append(f"{sentence.rstrip()} [{citation.number}]")
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return Answer(
            question=question,
            text=" ".join(parts),
            abstained=False,
            citations=citations,
            hits=list(hits),
            timings=StageTimings(**timings),
            draft=draft,
            reason=reason,
            confidence=probability,
            retrieval_query=query,
            features=features,
        )

    def _check_draft(
        self,
        question: str,
        draft: str,
        passages: Sequence[str],
        evidence: Sequence[_Evidence],
        evidence_vectors: np.ndarray,
    ) -> list[_CheckedSentence]:
        sentences = split_answer(draft, self.config.max_answer_sentences)
        if not sentences:
            return []
        vectors = self.embedder.embed(sentences)
        checked = []
        for sentence, vector in zip(sentences, vectors, strict=True):
            index, similarity = best_support(vector, evidence_vectors)
            checked.append(
                _CheckedSentence(
                    sentence=sentence,
                    support=evidence[index],
                    similarity=similarity,
                    invented=bool(unsupported_terms(sentence, [*passages, question])),
                    restates=not novel_words(sentence, question),
                    lexical=lexical_support(sentence, question, evidence[index].sentence.text),
                )
            )
        return checked

    def _abstain(
        self,
        question: str,
        query: str,
        hits: Sequence[Hit],
        reason: str,
        timings: dict[str, float],
        started: float,
        draft: str = "",
        features: AbstentionFeatures | None = None,
    ) -> Answer:
        closest = [
            _span_citation(i, hit, 0, len(hit.chunk.text), hit.dense_score or 0.0, False)
            for i, hit in enumerate(hits[:3], start=1)
        ]
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        text = ABSTAIN_TEXT + (" The closest passages are listed below." if closest else "")
        return Answer(
            question=question,
            text=text,
            abstained=True,
            citations=closest,
            hits=list(hits),
            timings=StageTimings(**timings),
            draft=draft,
            reason=reason,
            confidence=0.0,
            retrieval_query=query,
            features=features,
        )
