"""Data carried from the corpus stage to the later stages.

A :class:`Document` is one file after loading and cleaning; its ``text`` is the
reference every offset points into. A :class:`Chunk` is a span of that text:
``document.text[chunk.start:chunk.end] == chunk.text`` always holds, which is
what lets the chat window highlight a citation in its document.

A document may also carry :class:`Location` marks: where each page, section,
slide, row or chapter begins in that text. A location holds from its ``start``
up to the next one's, so :func:`location_at` turns any offset (a citation's
start) into the words a reader uses to find the passage: "page 3",
"Installation › Linux", "slide 4", "Budget, row 7", "chapter 2: The storm".
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


def content_hash(text: str) -> str:
    """Stable hash of a document's cleaned text, used to detect changes.

    >>> content_hash("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LocationKind(StrEnum):
    """What a location counts in; the first word a reader looks for."""

    PAGE = "page"
    SECTION = "section"
    SLIDE = "slide"
    ROW = "row"
    CHAPTER = "chapter"


@dataclass(frozen=True)
class Location:
    """Where a stretch of a document's text begins, in the reader's terms.

    >>> Location(start=120, kind="page", label="page 2")
    Location(start=120, kind=<LocationKind.PAGE: 'page'>, label='page 2')
    """

    start: int
    kind: LocationKind
    label: str

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError(f"Location.start must be 0 or more. Currently it is {self.start}")
        try:
            object.__setattr__(self, "kind", LocationKind(self.kind))
        except ValueError:
            kinds = ", ".join(kind.value for kind in LocationKind)
            raise ValueError(
                f"Location.kind must be one of {kinds}. Currently it is {self.kind!r}"
            ) from None
        if not self.label.strip() or "\n" in self.label:
            raise ValueError(
                f"Location.label must be one non-empty line. Currently it is {self.label!r}"
            )

    def to_dict(self) -> dict[str, str]:
        """The JSON shape a citation's ``location`` takes."""
        return {"kind": self.kind.value, "label": self.label}


def check_locations(locations: Sequence[Location], text_length: int, owner: str) -> None:
    """Refuse locations that are out of order or point past the text."""
    previous = -1
    for location in locations:
        if location.start <= previous:
            raise ValueError(
                f"{owner}: locations must start at increasing offsets; "
                f"{location.start} follows {previous}"
            )
        if location.start >= max(text_length, 1):
            raise ValueError(
                f"{owner}: location {location.label!r} starts at {location.start}, "
                f"past the end of a text of {text_length} characters"
            )
        previous = location.start


def location_at(locations: Sequence[Location], offset: int) -> Location | None:
    """The location in force at ``offset``: the last one starting at or before it.

    ``None`` before the first location (text ahead of a document's first
    heading) or when there are none (plain text).

    >>> marks = [Location(0, "page", "page 1"), Location(40, "page", "page 2")]
    >>> location_at(marks, 39).label, location_at(marks, 40).label
    ('page 1', 'page 2')
    >>> location_at([Location(10, "section", "Intro")], 3) is None
    True
    """
    index = bisect.bisect_right(locations, offset, key=_start)
    return locations[index - 1] if index else None


def locations_within(locations: Sequence[Location], start: int, end: int) -> tuple[Location, ...]:
    """The locations a span ``[start, end)`` touches: the one in force at
    ``start`` and any that begin inside the span.

    >>> marks = [Location(0, "page", "page 1"), Location(40, "page", "page 2"),
    ...          Location(90, "page", "page 3")]
    >>> [m.label for m in locations_within(marks, 30, 50)]
    ['page 1', 'page 2']
    """
    first = max(bisect.bisect_right(locations, start, key=_start) - 1, 0)
    last = bisect.bisect_left(locations, end, key=_start)
    return tuple(locations[first:last])


def _start(location: Location) -> int:
    return location.start


@dataclass(frozen=True)
class Document:
    """One loaded, cleaned document.

    ``doc_id`` is stable across runs for the same source path (see
    :func:`corpus.collection.document_id`), so re-indexing can tell new,
    changed and deleted documents apart.
    """

    doc_id: str
    title: str
    source_path: str
    text: str
    content_hash: str = field(default="")
    locations: tuple[Location, ...] = ()

    def __post_init__(self) -> None:
        if not self.doc_id:
            raise ValueError("Document.doc_id must not be empty")
        if not self.text.strip():
            raise ValueError(f"Document {self.source_path!r} has no text")
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self.text))
        object.__setattr__(self, "locations", tuple(self.locations))
        check_locations(self.locations, len(self.text), f"Document {self.source_path!r}")

    def location_at(self, offset: int) -> Location | None:
        """Where ``offset`` falls, in the reader's terms (see :func:`location_at`)."""
        return location_at(self.locations, offset)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, with exact character offsets into its text."""

    chunk_id: str
    doc_id: str
    title: str
    source_path: str
    start: int
    end: int
    text: str
    locations: tuple[Location, ...] = ()
    """The document's locations that this chunk touches (see :func:`locations_within`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "locations", tuple(self.locations))
        if any(location.start >= self.end for location in self.locations):
            raise ValueError(f"Chunk {self.chunk_id!r} has a location past its end")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(
                f"Chunk {self.chunk_id!r} has an empty or negative span [{self.start}, {self.end})"
            )
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"Chunk {self.chunk_id!r}: text length {len(self.text)} does not "
                f"match span [{self.start}, {self.end})"
            )

    def location_at(self, offset: int) -> Location | None:
        """Where document offset ``offset`` (inside this chunk) falls, e.g. a
        citation's start."""
        return location_at(self.locations, offset)

    @property
    def embedding_text(self) -> str:
        """What is embedded and keyword-indexed: the title keeps a passage that
        says "he" findable by the name of its subject."""
        return f"{self.title}\n{self.text}" if self.title else self.text
