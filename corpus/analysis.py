"""The one text analyzer: word lists, the stemmer and the citation marker.

Every stage that looks at words (the keyword index, evidence scoring,
grounding, answer types, the conversation rewriter, the chunker) takes them
from here, so that "which words carry no meaning", "which words are numbers"
and "what is a stem" have one answer each. In the spirit of bm25s's
``Tokenizer``: one object built once (:func:`text_analyzer`), holding the
stopword lists and one PyStemmer instance with its cache.

Where a maintained library carries a list, it is used: the keyword index's
stopwords are bm25s's English list (Lucene's 33 words), the content-word
stopwords are bm25s's longer English list (NLTK's) plus the words a question
is phrased with, and stems are Snowball's (PyStemmer).

Concessions, each kept so that answers and indexes on disk do not change:

* Two stopword lists. The keyword index drops only Lucene's 33 words: its
  terms are stored on disk (and in Milvus), so a longer list would need a
  rebuild of every index. Content words drop NLTK's list as well as question
  phrasing ("tell", "name", "many"), which is what weighs a question's terms.
* Two name filters. :data:`CLAUSE_OPENERS` are the capitalised words that
  are no names when they open a clause (grounding's salient terms);
  :data:`NOT_NAMES` is the conversation rewriter's longer list, which also
  leaves out imperatives ("Tell", "List"), months and job titles ("CEO").
  Grounding with the longer list changes which dev-set sentences are taken
  to name a person or place (598 of 50,160 sentence-question checks).
* One list of number words (:data:`CARDINALS`); the checks that count fewer
  (:data:`SALIENT_NUMBER_WORDS`, :data:`NUMBER_VALUES`) say why.

Everything here is built lazily, so importing ``corpus`` does not import
bm25s (and scipy) before an index is opened.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# --- citation markers --------------------------------------------------------------------

CITATION_MARKER = re.compile(r"\[\d{1,3}\]")
"""A citation marker, ``[1]`` to ``[999]``: how ragqa cites a passage. A
bracketed year ("[2010]") is text, not a marker."""

_MARKER_WITH_SPACE = re.compile(r"\s*" + CITATION_MARKER.pattern)


def strip_citation_markers(text: str) -> str:
    """``text`` without its ``[n]`` markers (and the space before each): a
    document's own markers must never pass for ragqa's.

    >>> strip_citation_markers("Founded by Ada Lund [1] [2].")
    'Founded by Ada Lund.'
    """
    return _MARKER_WITH_SPACE.sub("", text)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _in_order(text: str) -> list[str]:
    return text.split()


# --- number words ------------------------------------------------------------------------

_UNITS = _in_order(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = _in_order("twenty thirty forty fifty sixty seventy eighty ninety")
_ORDINALS = _in_order(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
)

CARDINALS: Mapping[str, int] = {
    **{word: value for value, word in enumerate(_UNITS)},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS)},
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
    "dozen": 12,
}
"""Number words and their values ("dozen" is 12)."""

ORDINALS: Mapping[str, int] = {word: value for value, word in enumerate(_ORDINALS, 1)}
"""Ordinal words up to "twelfth", which name a count as often as a place."""

MULTIPLICATIVES: Mapping[str, int] = {"once": 1, "twice": 2}

NUMBER_WORDS: frozenset[str] = frozenset(CARDINALS) | frozenset(MULTIPLICATIVES) | {"half"}
"""Words that answer "how many / much / often" ("twelve", "twice", "half")."""

SALIENT_NUMBER_WORDS: frozenset[str] = frozenset(CARDINALS) - {"one"}
"""Number words that a hallucination gets wrong (grounding's salient terms).
"one" is a pronoun as often as a number ("one of the founders"), and "half",
"once" and "twice" are ordinary words as often ("half of", "once he left"):
counted, they change which dev-set sentences are taken to name a person."""

NUMBER_VALUES: Mapping[str, int] = {
    word: value
    for word, value in {**CARDINALS, **ORDINALS, **MULTIPLICATIVES}.items()
    if value < 1_000
}
"""The values of number words up to "hundred", for comparing the numbers two
sentences state ("six" and "6", "sixth" and "6"). "thousand" and larger
multiply the number before them ("two million") rather than state a value:
taken alone, "$170 billion" would state "1000000000"."""


# --- names and abbreviations --------------------------------------------------------------

MONTHS = _words(
    "january february march april may june july august september october november december"
)
MONTH_ABBREVIATIONS = _words("jan feb mar apr jun jul aug sep sept oct nov dec")
WEEKDAYS = _words("monday tuesday wednesday thursday friday saturday sunday")
TITLES = _words("mr mrs ms dr")
"""Abbreviated titles before a name ("Dr. Lin")."""

HONORIFICS = TITLES | {"prof", "sir", "madam"}
"""Words that start a person's name in the conversation rewriter."""

ABBREVIATIONS = (
    TITLES
    | MONTH_ABBREVIATIONS
    | _words("prof sr jr st vs etc e.g i.e inc ltd co corp no fig approx u.s u.k min max")
)
"""Lower-cased words (without their final full stop) after which a full stop
does not end a sentence."""

CLAUSE_OPENERS = TITLES | _words("""
    a an the he she it they his her its their this that these those there here i we you in on
    at of for to from by with as and but or so yet if when while after before since during what
    who whom which where why how yes no also however although because once today yesterday
    according
    """)
"""Capitalised words that are not names when they open a clause (grounding)."""

NOT_NAMES = (
    MONTHS
    | WEEKDAYS
    | _words("""
        a about above according after again against all also although am an and another any are
        as at be because been before being besides between both but by can could did do does
        doing done during each either even ever every for from further had has have having he
        her here hers herself him himself his how however i if in into is it its itself just let
        like many may me might more most much must my neither no nor not now of off on once one
        only or other our out over own please same shall she should since so some such than that
        the their theirs them themselves then there these they this those though through thus to
        too under until up upon us very was we were what whatever when whenever where whereas
        wherever whether which while who whom whose why will with within without would yes yet
        you your
        tell give list name describe explain show summarise summarize compare find
        documents document passage passages answer question sources closest
        ceo cto cfo coo ipo ai faq
        """)
)
"""Capitalised words that are not names (sentence starts, question words,
imperatives, months, job titles): the conversation rewriter's list."""

QUESTION_PHRASING = _words("""
    also many much did does done get got make made one ones kind name named called tell know
    could would don's
    """)
"""Words a question is phrased with that say nothing about what it asks."""

_NLTK_LEFT_OUT = _words("""
    ain aren aren't couldn couldn't d didn didn't doesn doesn't don don't hadn hadn't hasn hasn't
    haven haven't isn isn't it's ll m ma mightn mightn't mustn mustn't needn needn't o ourselves
    re shan shan't she's should've shouldn shouldn't that'll ve wasn wasn't weren weren't won
    won't wouldn wouldn't y you'd you'll you're you've yourself yourselves
    """)
"""NLTK's contractions and their stems, which the content-word list has never
held: "won" is a verb here, and "didn't" carries a question's meaning."""

KEYWORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")
"""A keyword term before stemming: two or more word characters (bm25s's default)."""

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")


@dataclass(frozen=True)
class TextAnalyzer:
    """The stopword lists and the stemmer every stage shares; get the one
    instance from :func:`text_analyzer`.

    >>> analyzer = text_analyzer()
    >>> analyzer.keyword_terms("The founders founded the company")
    ['founder', 'found', 'compani']
    >>> sorted(analyzer.content_words("What is Lei Jun's wife's name?"))
    ['jun', 'lei', 'wife']
    """

    keyword_stopwords: frozenset[str]
    content_stopwords: frozenset[str]
    stemmer: Any = field(repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def stem(self, word: str) -> str:
        """The Snowball stem of a lower-cased word; repeats come from the
        stemmer's cache.

        >>> text_analyzer().stem("founders")
        'founder'
        """
        # A PyStemmer object is not safe to share between threads unguarded.
        with self._lock:
            return str(self.stemmer.stemWord(word))

    def keyword_terms(self, text: str) -> list[str]:
        """``text`` as the keyword index sees it: lower-cased, cut into terms
        of two or more word characters, stopwords out, stemmed, in order.
        Indexes on disk hold these terms: changing what this returns needs
        a new index format version (indexer/manifest.py)."""
        words = [w for w in KEYWORD_TOKEN.findall(text.lower()) if w not in self.keyword_stopwords]
        if not words:
            return []
        with self._lock:
            return list(self.stemmer.stemWords(words))

    def stems(self, text: str) -> set[str]:
        """The distinct keyword terms of ``text``.

        >>> sorted(text_analyzer().stems("The founders founded the company"))
        ['compani', 'found', 'founder']
        """
        return set(self.keyword_terms(text))

    def content_words(self, text: str) -> set[str]:
        """Lower-cased words that carry meaning (no stopwords, possessives cut)."""
        words = set()
        for match in _WORD.finditer(text.casefold()):
            word = _POSSESSIVE.sub("", match.group())
            if word not in self.content_stopwords and (len(word) > 1 or word.isdigit()):
                words.add(word)
        return words


@cache
def text_analyzer() -> TextAnalyzer:
    """The one English analyzer (built on first use, then shared).

    >>> text_analyzer() is text_analyzer()
    True
    """
    import Stemmer  # PyStemmer
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS

    return TextAnalyzer(
        keyword_stopwords=frozenset(STOPWORDS_EN),
        content_stopwords=(frozenset(STOPWORDS_EN_PLUS) - _NLTK_LEFT_OUT) | QUESTION_PHRASING,
        stemmer=Stemmer.Stemmer("english"),
    )
