"""What kind of answer a question expects, and whether a sentence has one.

"When ..." wants a date, "how many ..." a number, "who ..." a name. A
sentence that lacks the expected kind of answer cannot be the one that
answers, however close its wording is to the question: the embedding model
cannot tell "Lei Jun founded Xiaomi in 2010" from "Lei Jun founded Xiaomi"
by the year. Used to rank evidence sentences and as an abstention feature.
"""

from __future__ import annotations

import re
from enum import Enum

from corpus.analysis import MONTH_ABBREVIATIONS, MONTHS, NUMBER_WORDS
from qa.grounding import salient_terms


class AnswerType(Enum):
    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    PLACE = "place"


_QUESTION_PATTERNS = (
    (
        AnswerType.DATE,
        re.compile(
            r"\b(when (did|does|do|was|were|is|are|will|has|have|had|could|would|can)"
            r"|what (year|date|decade|century|month)|which (year|date|decade|century|month)"
            r"|since what year|in what year|by what year)\b"
        ),
    ),
    (
        AnswerType.NUMBER,
        re.compile(
            r"\b(how (many|much|old|long|far|large|big|tall|high|fast|often)"
            r"|what (percentage|percent|share|age|number|amount|price)|at what age)\b"
        ),
    ),
    (AnswerType.PERSON, re.compile(r"\b(who|whom|whose)\b")),
    (AnswerType.PLACE, re.compile(r"\bwhere\b")),
)

_YEAR = re.compile(r"(?<!\d)(1[0-9]\d\d|20\d\d)s?(?!\d)")
_MONTH = re.compile(
    r"\b(" + "|".join(sorted(m.capitalize() for m in MONTHS | MONTH_ABBREVIATIONS)) + r")\b\.?"
)
_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = re.compile(r"\b(" + "|".join(sorted(NUMBER_WORDS)) + r")\b", re.IGNORECASE)


def expected_answer_type(question: str) -> AnswerType | None:
    """The kind of answer ``question`` asks for, or None when it is open.

    >>> expected_answer_type("When did Lei Jun found Xiaomi?")
    <AnswerType.DATE: 'date'>
    >>> expected_answer_type("How old was he?"), expected_answer_type("Why did he?")
    (<AnswerType.NUMBER: 'number'>, None)
    >>> expected_answer_type("How old was he when he launched Xiaomi?")
    <AnswerType.NUMBER: 'number'>
    """
    lowered = question.casefold()
    found = [
        (match.start(), answer_type)
        for answer_type, pattern in _QUESTION_PATTERNS
        if (match := pattern.search(lowered))
    ]
    return min(found, key=lambda item: item[0])[1] if found else None


def has_answer_type(sentence: str, question: str, answer_type: AnswerType | None) -> bool:
    """Whether ``sentence`` holds something of ``answer_type`` that the
    question does not already name (the year in "In 2010 ..." answers
    "When ...?", but not "What happened in 2010?").

    >>> has_answer_type("He founded Xiaomi in 2010.", "When was Xiaomi founded?", AnswerType.DATE)
    True
    >>> has_answer_type("He founded Xiaomi.", "When was Xiaomi founded?", AnswerType.DATE)
    False
    """
    if answer_type is None:
        return False

    def key(word: str) -> str:  # "2010s" and "2010", "Jobs" and "Jobs." compare equal
        return word.casefold().rstrip(".s")

    asked = {key(w) for w in re.findall(r"\w+", question)}

    def new(matches: list[str]) -> bool:
        return any(key(m) not in asked for m in matches)

    if answer_type is AnswerType.DATE:
        found = [m.group(1) for m in _YEAR.finditer(sentence)]
        found += [m.group(1) for m in _MONTH.finditer(sentence)]
        return new(found)
    if answer_type is AnswerType.NUMBER:
        numbers = re.findall(r"\d[\d,.]*", sentence) + _NUMBER_WORDS.findall(sentence)
        return new([n.rstrip(".,") for n in numbers])
    names = [t for t in salient_terms(sentence) if not _DIGIT.match(t)]
    return new(names)
