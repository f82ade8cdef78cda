"""The pure checks that decide whether a draft answer is grounded."""

from __future__ import annotations

import pytest

from qa.fusion import min_max_normalise, reciprocal_rank_fusion, weighted_fusion
from qa.grounding import (
    content_words,
    novel_words,
    passage_sentences,
    salient_terms,
    unsupported_terms,
)
from qa.normalise import contains, mentions, normalise

PASSAGE = (
    "Lei Jun was born on December 16, 1969, in Xiantao, Hubei, China. "
    "When Lei Jun launched Xiaomi in 2010 he was already 40. Kingsoft raised USD80 million."
)


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("Lei Jun was 40 when he founded Xiaomi.", []),
        ("Lei Jun was 42 when he founded Xiaomi.", ["42"]),
        ("His wife is Li Wei.", ["Li", "Wei"]),
        ("He was born in 1,969.", []),  # digits match whatever the separators
        ("Kingsoft raised 80 million.", []),  # "USD80" holds the number 80
        ("Xiaomi was founded in twenty ten.", ["twenty", "ten"]),
        ("He was born in Wuhan.", ["Wuhan"]),
        ("It started in 2010.", []),
        ("The IPO was in 2007.", ["IPO", "2007"]),
    ],
)
def test_unsupported_terms(sentence: str, missing: list[str]) -> None:
    assert unsupported_terms(sentence, [PASSAGE]) == missing


def test_salient_terms_skip_sentence_openers_and_pronouns() -> None:
    assert salient_terms("The company was founded by Xiaopeng in 2014.") == ["Xiaopeng", "2014"]
    assert salient_terms("When did it start?") == []


@pytest.mark.parametrize(
    ("answer", "question", "novel"),
    [
        ("Lei Jun's wife is Lei Jun.", "Who is Lei Jun's wife?", set()),
        ("He was born in Xiantao.", "Where was Lei Jun born?", {"xiantao"}),
        ("Lei Jun founded it.", "Who founded Xiaomi?", {"lei", "jun"}),
    ],
)
def test_novel_words(answer: str, question: str, novel: set[str]) -> None:
    assert novel_words(answer, question) == novel


def test_content_words() -> None:
    assert content_words("What is the name of Lei Jun's wife?") == {"lei", "jun", "wife"}


def test_passage_sentences_keep_offsets() -> None:
    texts = [PASSAGE, "Second chunk. Another sentence here."]
    for sentence in passage_sentences(texts):
        assert texts[sentence.hit_index][sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lei Jun’s “Xiaomi”", 'lei jun\'s "xiaomi"'),
        ("  A\t\nB  ", "a b"),
        ("2010–2014 — ok", "2010-2014 - ok"),
        ("ＡＢＣ", "abc"),  # NFKC folds full-width letters
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_contains_and_mentions() -> None:
    assert contains("Lei Jun’s company", "lei jun's")
    assert mentions("Founded in 2010.", "2010")
    assert not mentions("Founded in 2010.", "2")
    assert not mentions("anything", "")


def test_reciprocal_rank_fusion_and_weighted() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 2]], k=1)
    assert fused[2] == pytest.approx(1 / 3 + 1 / 3)
    assert fused[3] == pytest.approx(1 / 4 + 1 / 2)
    assert max(fused, key=fused.__getitem__) == 3
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([[1]], k=0)
    assert min_max_normalise({1: 5.0, 2: 5.0}) == {1: 1.0, 2: 1.0}
    assert weighted_fusion({1: 1.0}, {}, dense_weight=1.0) == {1: 1.0}
    with pytest.raises(ValueError, match="dense_weight"):
        weighted_fusion({}, {}, dense_weight=2.0)
