"""Normalise extracted text so that every later offset points into stable text.

The cleaned text is what a :class:`~corpus.documents.Document` stores, what
chunks are cut from and what citations quote, so cleaning is deliberately
conservative: it removes what no reader can see (control and zero-width
characters, soft hyphens) and evens out whitespace, but never rewrites visible
characters. Curly quotes, dashes and non-breaking spaces stay as they are.

:func:`clean_text` is idempotent, which lets it run again on already-clean text
(re-indexing, tests) without moving any offset. The order of the steps matters
for that: invisible characters go before NFC, because removing one between a
letter and a combining accent would otherwise leave a composable pair behind;
trailing spaces go before de-hyphenation, so ``"infor- \\nmation"`` is joined on
the first pass rather than the second.

Concession: joining ``"well-\\nknown"`` yields ``"wellknown"``; a line-end
hyphen between two lowercase letters is taken to be a hyphenation break.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from corpus.documents import Location
from corpus.reading import Section

# Line breaks other than \n that Unicode or old formats use; each becomes \n so
# that no line silently glues to the next.
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# A soft hyphen (U+00AD) at a line end marks a word broken by hyphenation.
_SOFT_HYPHEN_BREAK = re.compile("\u00ad *\n(?=\\w)")
INVISIBLE_CHARACTERS = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # control characters other than \t and \n
    "\u00ad"  # soft hyphen
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; LTR/RTL marks
    "\u202a-\u202e"  # bidirectional embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidirectional isolates
    "\ufeff"  # zero-width no-break space (byte-order mark)
    "\ud800-\udfff"  # lone surrogates: cannot even be written out as UTF-8
    "\U000e0000-\U000e007f"  # tag characters, used to hide text from readers
    "]"
)
_TRAILING_SPACE = re.compile(r"[^\S\n]+(?=\n|\Z)")
_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])-\n(?=[^\W\d_])")
_SPACE_RUN = re.compile(" {2,}")
_BLANK_LINES = re.compile("\n{3,}")


def clean_text(raw: str) -> str:
    """Normalise whitespace and remove invisible characters, keeping visible text.

    >>> clean_text("  The infor-\\nmation\\u00ad age\\r\\n\\r\\n\\r\\n“quoted”  — yes\\t ")
    'The information age\\n\\n“quoted” — yes'
    """
    text = _LINE_BREAKS.sub("\n", raw)
    text = text.replace("\t", " ")
    text = _SOFT_HYPHEN_BREAK.sub("", text)
    text = INVISIBLE_CHARACTERS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _LINE_END_HYPHEN.sub(_join_if_lowercase, text)
    text = _SPACE_RUN.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _join_if_lowercase(match: re.Match[str]) -> str:
    """Drop a line-end hyphen only between two lowercase letters.

    >>> _LINE_END_HYPHEN.sub(_join_if_lowercase, "infor-\\nmation, Jean-\\nPaul")
    'information, Jean-\\nPaul'
    """
    text = match.string
    before, after = text[match.start() - 1], text[match.end()]
    return "" if before.islower() and after.islower() else match.group()


def clean_sections(sections: Sequence[Section]) -> tuple[str, tuple[Location, ...]]:
    """Clean each section on its own and join them, noting where each located
    one starts in the joined text.

    Cleaning sections separately is what keeps the offsets exact: no cleaning
    step ever reaches across a section boundary, so nothing can move a
    location after it was noted. The joined text is itself clean (each piece
    is, and a blank line or a line break after stripped text changes nothing),
    so cleaning it again moves nothing either. Sections that clean to nothing
    are dropped with their location.

    >>> from corpus.documents import LocationKind as K
    >>> text, marks = clean_sections([Section(" Intro "), Section("Page  two", K.PAGE, "page 2")])
    >>> text, [(m.start, m.label) for m in marks]
    ('Intro\\n\\nPage two', [(7, 'page 2')])
    """
    parts: list[str] = []
    locations: list[Location] = []
    length = 0
    for section in sections:
        cleaned = clean_text(section.text)
        if not cleaned:
            continue
        if parts:
            # A line-end hyphen before a single break would be joined by a
            # second cleaning; a blank line keeps the text a fixed point.
            gap = "\n\n" if parts[-1].endswith("-") else section.gap
            parts.append(gap)
            length += len(gap)
        label = _tidy_label(section.label)
        repeated = bool(locations) and (locations[-1].kind, locations[-1].label) == (
            section.kind,
            label,
        )
        if section.kind is not None and label is not None and not repeated:
            locations.append(Location(length, section.kind, label))
        parts.append(cleaned)
        length += len(cleaned)
    return "".join(parts), tuple(locations)


MAX_LABEL_CHARS = 200


def _tidy_label(raw: str | None) -> str | None:
    """One line of visible characters, cut to :data:`MAX_LABEL_CHARS`.

    >>> _tidy_label(" Setup\\n  and\\u200b  use "), _tidy_label(" ")
    ('Setup and use', None)
    """
    label = " ".join(INVISIBLE_CHARACTERS.sub("", raw or "").split())
    if len(label) > MAX_LABEL_CHARS:
        label = label[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return label or None
