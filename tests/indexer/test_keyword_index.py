"""The BM25 index's term weights, which rank evidence sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.keyword_index import KeywordIndex, build_keyword_index, stems

TEXTS = [
    "Lei Jun founded Xiaomi in 2010.",
    "Lei Jun joined Kingsoft in 1992.",
    "Lei Jun caught tuberculosis from coding at night.",
    "Lei Jun studied at Wuhan University.",
]


@pytest.fixture
def keywords(tmp_path: Path) -> KeywordIndex:
    build_keyword_index(TEXTS, tmp_path)
    return KeywordIndex(tmp_path, n_rows=len(TEXTS))


def test_rare_terms_weigh_more_than_common_ones(keywords: KeywordIndex) -> None:
    weights = keywords.term_weights("Lei tuberculosis")
    assert set(weights) == {"lei", "tuberculosi"}
    assert weights["tuberculosi"] > weights["lei"] > 0


def test_unseen_terms_weigh_most(keywords: KeywordIndex) -> None:
    weights = keywords.term_weights("wife tuberculosis")
    assert weights["wife"] > weights["tuberculosi"]


def test_text_without_terms_has_no_weights(keywords: KeywordIndex) -> None:
    assert keywords.term_weights("") == {}
    assert keywords.term_weights("the of and") == {}


def test_stems_match_the_index_tokens() -> None:
    assert stems("Founders founded") == {"founder", "found"}
    assert stems("") == set()
