"""The shared text analyzer: word lists, stemming, the citation marker."""

from __future__ import annotations

import re
from pathlib import Path

import bm25s
import pytest
import Stemmer

import qa.grounding
from corpus.analysis import (
    ABBREVIATIONS,
    CARDINALS,
    CITATION_MARKER,
    NUMBER_VALUES,
    NUMBER_WORDS,
    SALIENT_NUMBER_WORDS,
    TextAnalyzer,
    strip_citation_markers,
    text_analyzer,
)
from indexer.keyword_index import stems


def test_one_shared_instance() -> None:
    assert text_analyzer() is text_analyzer()
    assert isinstance(text_analyzer(), TextAnalyzer)


def test_the_stemmer_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    analyzer = text_analyzer()

    def no_new_stemmer(*args: object, **kwargs: object) -> None:
        raise AssertionError("a stemmer was built per call")

    monkeypatch.setattr(Stemmer, "Stemmer", no_new_stemmer)
    assert stems("Founders founded") == {"founder", "found"}
    assert qa.grounding.novel_words("He founded Xiaomi.", "Who founded it?") == {"xiaomi"}
    assert text_analyzer().stemmer is analyzer.stemmer
    assert analyzer.stemmer.maxCacheSize > 0  # PyStemmer's own cache keeps repeats


@pytest.mark.parametrize(
    ("word", "stem"),
    [("founders", "founder"), ("founded", "found"), ("tuberculosis", "tuberculosi"), ("", "")],
)
def test_stem(word: str, stem: str) -> None:
    assert text_analyzer().stem(word) == stem


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The founders founded the company",
        "Lei Jun's wife, Li Wei — born 1971 — was not in it.",
        "ÉCOLE Normale; naïve café 2,000 μm",
        "a an the of and",
        "雷军 founded 小米 in 2010",
    ],
)
def test_keyword_terms_match_bm25s_tokenize(text: str) -> None:
    """Indexes on disk hold bm25s's terms: the analyzer must reproduce them."""
    tokens = bm25s.tokenize(
        [text], stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False
    )
    by_id = {number: term for term, number in tokens.vocab.items()}
    assert text_analyzer().keyword_terms(text) == [by_id[i] for i in tokens.ids[0]]


def test_stopword_lists() -> None:
    analyzer = text_analyzer()
    # The keyword index drops Lucene's 33 words (bm25s "en"), no more.
    assert analyzer.keyword_stopwords == frozenset(bm25s.stopwords.STOPWORDS_EN)
    assert "what" not in analyzer.keyword_stopwords
    # Content words also drop NLTK's list and question phrasing ...
    assert {"what", "tell", "name", "many", "one"} <= analyzer.content_stopwords
    # ... but not NLTK's contraction stems: "won" is a verb here.
    assert "won" not in analyzer.content_stopwords
    assert analyzer.content_words("Which prize has Lei Jun won?") == {"prize", "lei", "jun", "won"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What is the name of Lei Jun's wife?", {"lei", "jun", "wife"}),
        ("", set()),
        ("I, a 4 b", {"4"}),
        ("Xiaomi’s IPO", {"xiaomi", "ipo"}),
    ],
)
def test_content_words(text: str, words: set[str]) -> None:
    assert text_analyzer().content_words(text) == words


def test_number_words_are_one_list() -> None:
    assert CARDINALS["twelve"] == 12
    assert CARDINALS["dozen"] == 12
    assert CARDINALS["ninety"] == 90
    assert {"one", "dozen", "half", "once", "twice", "zero", "fifteen"} <= NUMBER_WORDS
    # "one" is a pronoun as often as a number, "half" and "once" ordinary words.
    assert "one" not in SALIENT_NUMBER_WORDS
    assert not {"half", "once", "twice"} & SALIENT_NUMBER_WORDS
    assert {"dozen", "fifteen", "million"} <= SALIENT_NUMBER_WORDS <= frozenset(CARDINALS)
    # Values are compared up to "hundred"; larger words multiply.
    assert NUMBER_VALUES["sixth"] == 6
    assert NUMBER_VALUES["twice"] == 2
    assert "million" not in NUMBER_VALUES


def test_abbreviations_do_not_end_sentences() -> None:
    assert {"dr", "mr", "e.g", "u.s", "sept", "no"} <= ABBREVIATIONS
    assert "may" not in ABBREVIATIONS  # a whole word that does end sentences


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("Founded by Ada Lund [1] [2].", "Founded by Ada Lund."),
        ("In [2010] he left.", "In [2010] he left."),  # a bracketed year is text
        ("x[12]y [999]", "xy"),
        ("[1000] and [a]", "[1000] and [a]"),
        ("", ""),
    ],
)
def test_citation_markers(text: str, stripped: str) -> None:
    assert strip_citation_markers(text) == stripped


def test_one_marker_pattern_is_used_everywhere() -> None:
    import evaluation.metrics
    import qa.answerer
    import qa.conversation
    import qa.prompt_builder

    assert evaluation.metrics.answer_words("He left [1] [2].") == 2
    assert [n.text for n in qa.conversation.find_names("Lei Jun [1] Xiaomi")] == [
        "Lei Jun",
        "Xiaomi",
    ]
    assert CITATION_MARKER.fullmatch("[7]")
    assert not CITATION_MARKER.fullmatch("[2010]")
    for module in (
        qa.answerer,
        qa.conversation,
        evaluation.metrics,
        qa.grounding,
        qa.prompt_builder,
    ):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        assert not re.search(r"\\\[\\d", source), f"{module.__name__} has its own [n] pattern"
