"""Text normalisation shared by grounding checks and evaluation
(the ``norm`` of shared/EVAL_FORMAT.md)."""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
    }
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, straight quotes, ``-`` for dashes, case-folded, spaces collapsed.

    >>> normalise("  Lei  Jun’s “Xiaomi” — 2010 ")
    'lei jun\\'s "xiaomi" - 2010'
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def contains(haystack: str, needle: str) -> bool:
    """``norm(needle) in norm(haystack)`` ("A contains B")."""
    return normalise(needle) in normalise(haystack)


def mentions(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` at word boundaries after normalisation
    ("A mentions B"), so "2" is not found in "2010".

    >>> mentions("He founded Xiaomi in 2010.", "2010"), mentions("in 2010", "2")
    (True, False)
    """
    needle = normalise(phrase)
    if not needle:
        return False
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", normalise(text)) is not None
