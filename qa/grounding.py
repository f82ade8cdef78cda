"""Checks that tie an answer to the passages it came from.

The generator is tiny and never cites; asked something the passages do not
cover it invents names and numbers. These pure functions find the names and
numbers a text states (:func:`salient_terms`), which of them no passage holds
(:func:`unsupported_terms`), the meaningful words of a text
(:func:`content_words`) and what an answer adds to its question
(:func:`novel_words`); the answerer and the evidence ranking build on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from corpus.analysis import CLAUSE_OPENERS, SALIENT_NUMBER_WORDS, text_analyzer
from corpus.chunking import sentence_spans
from qa.normalise import normalise

_NUMBER = re.compile(r"(?<![\w.])[$€£¥]?\d[\d,.]*\d?%?")
_CAPITALISED = re.compile(r"\b[A-Z][\w’'\-]*[\w]|\b[A-Z]\b")


def salient_terms(sentence: str) -> list[str]:
    """Names and numbers in a sentence: what a hallucination gets wrong.

    >>> salient_terms("Lei Jun's wife is Li Wei, born in 1971.")
    ['Lei', 'Jun', 'Li', 'Wei', '1971']
    """
    terms: list[str] = []
    for match in _CAPITALISED.finditer(sentence):
        word = re.sub(r"[’']s$", "", match.group())
        if word.casefold() not in CLAUSE_OPENERS and len(word) > 1:
            terms.append(word)
    for match in _NUMBER.finditer(sentence):
        number = match.group().rstrip(".,")
        if number:
            terms.append(number)
    for word in re.findall(r"[A-Za-z]+", sentence):
        if word.casefold() in SALIENT_NUMBER_WORDS:
            terms.append(word.casefold())
    return list(dict.fromkeys(terms))


def _digits(term: str) -> str:
    return re.sub(r"[^\d]", "", term)


def unsupported_terms(sentence: str, passages: Sequence[str]) -> list[str]:
    """The salient terms of ``sentence`` that occur in none of ``passages``.

    Numbers match on their digits ("1,000" = "1000"); words match case-blind
    at word boundaries.

    >>> unsupported_terms("Lei Jun married Li Wei in 1999.", ["Lei Jun was born in 1969."])
    ['Li', 'Wei', '1999']
    """
    joined = normalise(" ".join(passages))
    joined_digits = " " + re.sub(r"(?<=\d)[,.](?=\d)", "", joined) + " "
    missing = []
    for term in salient_terms(sentence):
        if term[0].isdigit() or term[0] in "$€£¥":
            digits = _digits(term)
            if digits and not re.search(r"(?<!\d)" + digits + r"(?!\d)", joined_digits):
                missing.append(term)
        elif not re.search(r"(?<!\w)" + re.escape(normalise(term)) + r"(?!\w)", joined):
            missing.append(term)
    return missing


@dataclass(frozen=True)
class PassageSentence:
    """A sentence of a retrieved chunk: where it is, and how it scores."""

    hit_index: int
    start: int  # offsets into the chunk text
    end: int
    text: str


def passage_sentences(chunk_texts: Sequence[str]) -> list[PassageSentence]:
    """All sentences of the given chunks, with offsets into each chunk."""
    return [
        PassageSentence(index, start, end, text[start:end])
        for index, text in enumerate(chunk_texts)
        for start, end in sentence_spans(text)
    ]


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stopwords, possessives cut).

    >>> sorted(content_words("What is Lei Jun's wife's name?"))
    ['jun', 'lei', 'wife']
    """
    return text_analyzer().content_words(text)


def novel_words(answer: str, question: str) -> set[str]:
    """Content words of the answer whose stem the question did not already
    hold: an answer without any only restates the question.

    >>> novel_words("Lei Jun's wife is Lei Jun.", "Who is Lei Jun's wife?")
    set()
    """
    analyzer = text_analyzer()
    asked = {analyzer.stem(w) for w in analyzer.content_words(question)}
    return {w for w in analyzer.content_words(answer) if analyzer.stem(w) not in asked}
