"""Sentence ranking signals and the expected-answer-type checks."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.documents import Chunk
from qa.answer_type import AnswerType, expected_answer_type, has_answer_type
from qa.evidence import (
    EvidenceWeights,
    SentenceVectors,
    draft_overlap,
    rank,
    score_sentences,
    term_coverage,
)
from qa.grounding import passage_sentences
from qa.types import Hit
from tests.fakes import HashEmbedder


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did Lei Jun found Xiaomi?", AnswerType.DATE),
        ("In what year was he born?", AnswerType.DATE),
        ("Since what year has Xiaomi made cars?", AnswerType.DATE),
        ("How many followers does he have?", AnswerType.NUMBER),
        ("How old was he when he launched Xiaomi?", AnswerType.NUMBER),
        ("What percentage of donations went to Wuhan?", AnswerType.NUMBER),
        ("Who founded Kingsoft?", AnswerType.PERSON),
        ("Whose idea was it?", AnswerType.PERSON),
        ("Where is Xiaomi headquartered?", AnswerType.PLACE),
        ("What is Xiaomi's vision?", None),
        ("Why did he price the car so low?", None),
    ],
)
def test_expected_answer_type(question: str, expected: AnswerType | None) -> None:
    assert expected_answer_type(question) is expected


@pytest.mark.parametrize(
    ("sentence", "question", "kind", "expected"),
    [
        ("He launched Xiaomi in 2010.", "When did he launch Xiaomi?", AnswerType.DATE, True),
        ("He was born on December 16.", "When was he born?", AnswerType.DATE, True),
        ("He launched Xiaomi.", "When did he launch Xiaomi?", AnswerType.DATE, False),
        # A year the question already names is not an answer to it.
        ("In 2010 he was busy.", "What did he do in 2010?", AnswerType.DATE, False),
        ("He has 25 million followers.", "How many followers?", AnswerType.NUMBER, True),
        ("He battled them for sixteen years.", "How long?", AnswerType.NUMBER, True),
        ("He has many followers.", "How many followers?", AnswerType.NUMBER, False),
        ("Kingsoft was founded by Qiu Bojun.", "Who founded Kingsoft?", AnswerType.PERSON, True),
        ("Kingsoft was founded long ago.", "Who founded Kingsoft?", AnswerType.PERSON, False),
        # Names the question already holds are no answer, plural-looking or not.
        ("Steve Jobs was famous.", "Who was Steve Jobs?", AnswerType.PERSON, False),
        ("The 1990s were busy.", "When were the 1990s?", AnswerType.DATE, False),
        ("Anything at all.", "Why?", None, False),
    ],
)
def test_has_answer_type(
    sentence: str, question: str, kind: AnswerType | None, expected: bool
) -> None:
    assert has_answer_type(sentence, question, kind) is expected


def test_term_coverage_weighs_rare_terms() -> None:
    weights = {"tuberculosi": 3.0, "lei": 0.1, "jun": 0.1}
    assert term_coverage(weights, {"tuberculosi"}) == pytest.approx(3.0 / 3.2)
    assert term_coverage(weights, {"lei", "jun"}) == pytest.approx(0.2 / 3.2)
    assert term_coverage({}, {"anything"}) == 0.0


def test_draft_overlap_counts_only_new_words() -> None:
    question = "Which streaming platform has Lei Jun invested in?"
    assert draft_overlap("He invested in iQiyi.", question, "Lei Jun backed iQiyi early.") == 1.0
    assert draft_overlap("He invested in iQiyi.", question, "Lei Jun invested a lot.") == 0.0
    assert draft_overlap("Lei Jun invested.", question, "anything") == 0.0


def _hit(text: str, rank_: int) -> Hit:
    chunk = Chunk(
        chunk_id=f"c{rank_}",
        doc_id="d",
        title="T",
        source_path="d.txt",
        start=0,
        end=len(text),
        text=text,
    )
    return Hit(chunk=chunk, score=1.0, rank=rank_, dense_score=0.5)


def test_answering_sentence_outranks_the_restating_one() -> None:
    """Two sentences equally close to the question by embedding: the one with
    the year and the question's rare term wins."""
    question = "In what year did Kingsoft go public?"
    text = "Kingsoft was a public topic for years. Kingsoft went public in Hong Kong in 2007."
    hits = [_hit(text, 1)]
    sentences = passage_sentences([text])
    similarities = np.array([0.6, 0.6])
    weights = {"kingsoft": 0.2, "public": 2.0, "go": 1.5}
    scored = score_sentences(
        question, expected_answer_type(question), sentences, hits, similarities, weights
    )
    best = rank(scored, EvidenceWeights())[0]
    assert best.sentence.text.endswith("in 2007.")
    assert best.answer_type == 1.0 and scored[0].answer_type == 0.0


def test_sentence_vectors_embed_each_text_once_and_stay_bounded() -> None:
    embedder = HashEmbedder()
    cache = SentenceVectors(embedder, max_entries=3)
    first = cache.embed(["a b", "c d", "a b"])
    assert embedder.texts_embedded == 2  # the repeat inside one call is embedded once
    np.testing.assert_allclose(first, embedder.embed(["a b", "c d", "a b"]), atol=1e-6)
    embedder.texts_embedded = 0
    cache.embed(["c d", "a b"])
    assert embedder.texts_embedded == 0  # both remembered
    cache.embed(["e f", "g h"])  # four distinct texts seen, room for three
    embedder.texts_embedded = 0
    cache.embed(["c d"])  # least recently used of the first two is gone
    assert embedder.texts_embedded == 1
    assert cache.embed([]).shape == (0, embedder.dimension)
