"""Sentence-aware chunking with exact character offsets.

The cleaned document text is cut into sentences (each a ``(start, end)`` span),
then sentences are packed greedily into chunks that stay within a token budget
measured with the embedding model's own tokenizer. Consecutive chunks share
their last sentences up to ``overlap_tokens`` so that an answer straddling a
boundary is still whole in one chunk. A sentence longer than the budget is cut
at word boundaries.

Every chunk is a slice of the document text: ``text[chunk.start:chunk.end] ==
chunk.text``; nothing is rewritten, so the chat window can highlight it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from corpus.analysis import ABBREVIATIONS
from corpus.documents import Chunk, Document, locations_within

TokenCounter = Callable[[str], int]
"""Counts the word pieces a text costs the embedding model (no special tokens)."""


def approximate_token_count(text: str) -> int:
    """A tokenizer-free estimate (about 1.3 word pieces per word), for tests and
    for fake embedders.

    >>> approximate_token_count("Lei Jun founded Xiaomi in 2010.")
    8
    """
    words = len(text.split())
    return (words * 13 + 9) // 10


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut. ``max_tokens`` is the budget for the passage
    itself; the title prepended for embedding is counted on top of it and must
    leave room within the embedding model's limit (checked by the indexer)."""

    max_tokens: int = 200
    overlap_tokens: int = 40

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16. Currently it is {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError(
                "overlap_tokens must be between 0 and max_tokens - 1. "
                f"Currently it is {self.overlap_tokens} (max_tokens={self.max_tokens})"
            )


# A sentence ends at . ! ? (optionally followed by closing quotes or brackets)
# when whitespace and then something that can start a sentence follow.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9\u00C0-\uFFFF])")
_LINE_BREAK = re.compile(r"\n+")


def _ends_with_abbreviation(text: str) -> bool:
    last_word = text.rsplit(None, 1)[-1] if text.split() else ""
    word = last_word.rstrip(".").lower()
    # Single initials ("J.") and known abbreviations do not end a sentence.
    return (len(word) == 1 and word.isalpha()) or word in ABBREVIATIONS


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans; every line break also ends a sentence.

    >>> t = "Lei Jun was born in 1969. He studied at Wuhan University.\\nKingsoft"
    >>> [t[s:e] for s, e in sentence_spans(t)]
    ['Lei Jun was born in 1969.', 'He studied at Wuhan University.', 'Kingsoft']
    """
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line_break in [*_LINE_BREAK.finditer(text), None]:
        line_end = line_break.start() if line_break else len(text)
        sentence_start = line_start
        for match in _SENTENCE_END.finditer(text, line_start, line_end):
            if _ends_with_abbreviation(text[sentence_start : match.start() + 1]):
                continue
            span = _trimmed(text, sentence_start, match.end())
            if span:
                spans.append(span)
            sentence_start = match.end()
        span = _trimmed(text, sentence_start, line_end)
        if span:
            spans.append(span)
        if line_break:
            line_start = line_break.end()
    return spans


def _split_long_span(
    text: str, start: int, end: int, max_tokens: int, count_tokens: TokenCounter
) -> Iterator[tuple[int, int]]:
    """Cut a span that is over budget at word boundaries (or, for a run with no
    spaces, at character positions) into pieces that fit."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    piece_start = 0
    while piece_start < len(words):
        piece_end = piece_start + 1
        while piece_end < len(words):
            s, e = start + words[piece_start][0], start + words[piece_end][1]
            if count_tokens(text[s:e]) > max_tokens:
                break
            piece_end += 1
        s, e = start + words[piece_start][0], start + words[piece_end - 1][1]
        if count_tokens(text[s:e]) > max_tokens:
            # One "word" over budget (e.g. a long URL, or CJK text, which has
            # no spaces and costs about a word piece per character).
            while s < e:
                cut = _fitting_prefix_end(text, s, e, max_tokens, count_tokens)
                yield s, cut
                s = cut
        else:
            yield s, e
        piece_start = piece_end


def _fitting_prefix_end(
    text: str, start: int, end: int, max_tokens: int, count_tokens: TokenCounter
) -> int:
    """The largest ``cut`` with ``text[start:cut]`` within ``max_tokens`` (found by
    bisection, always at least one character on), for cutting a run with no spaces.

    >>> _fitting_prefix_end("雷军创办了小米", 0, 7, 3, len)
    3
    """
    # No word piece spans more than a few dozen characters, so a piece of this
    # length is already over any budget; it bounds the tokenizer calls' cost.
    low, high = start + 1, min(end, start + 32 * max(1, max_tokens))
    if count_tokens(text[start:high]) <= max_tokens:
        return high
    high -= 1
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[start:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return low


def _units(
    text: str, config: ChunkingConfig, count_tokens: TokenCounter
) -> list[tuple[int, int, int]]:
    """Sentences (cut further when too long), each with its token cost."""
    units: list[tuple[int, int, int]] = []
    for start, end in sentence_spans(text):
        cost = count_tokens(text[start:end])
        if cost <= config.max_tokens:
            units.append((start, end, cost))
            continue
        for s, e in _split_long_span(text, start, end, config.max_tokens, count_tokens):
            units.append((s, e, count_tokens(text[s:e])))
    return units


def chunk_spans(
    text: str, config: ChunkingConfig, count_tokens: TokenCounter = approximate_token_count
) -> list[tuple[int, int]]:
    """Pack sentences into ``(start, end)`` chunk spans within the budget.

    The token cost of a chunk is estimated as the sum of its sentences' costs,
    which is what one tokenizer pass per sentence allows; word pieces do not
    merge across sentence boundaries, so the sum is exact up to whitespace.
    """
    units = _units(text, config, count_tokens)
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first
        budget = units[first][2]
        while last + 1 < len(units) and budget + units[last + 1][2] <= config.max_tokens:
            last += 1
            budget += units[last][2]
        spans.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        # Step back over trailing sentences that fit the overlap budget, but
        # always move forward by at least one unit, and only as far as still
        # leaves room for the next new unit: otherwise the next chunk would be
        # the overlap alone, a duplicate of text the previous chunk holds.
        next_first = last + 1
        new_cost = units[next_first][2]
        overlap = 0
        while next_first - 1 > first:
            cost = units[next_first - 1][2]
            if overlap + cost > config.overlap_tokens:
                break
            if overlap + cost + new_cost > config.max_tokens:
                break
            next_first -= 1
            overlap += cost
        first = next_first
    return spans


def chunk_document(
    document: Document,
    config: ChunkingConfig,
    count_tokens: TokenCounter = approximate_token_count,
) -> list[Chunk]:
    """Cut a document into :class:`Chunk` objects with stable ids.

    >>> doc = Document(doc_id="d1", title="T", source_path="t.txt", text="One. Two.")
    >>> [c.text for c in chunk_document(doc, ChunkingConfig())]
    ['One. Two.']
    """
    return [
        Chunk(
            chunk_id=f"{document.doc_id}:{ordinal:04d}",
            doc_id=document.doc_id,
            title=document.title,
            source_path=document.source_path,
            start=start,
            end=end,
            text=document.text[start:end],
            locations=locations_within(document.locations, start, end),
        )
        for ordinal, (start, end) in enumerate(chunk_spans(document.text, config, count_tokens))
    ]
