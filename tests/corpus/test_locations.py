"""The location model: where a citation points, in the reader's terms.

Checks the typed :class:`Location`, the offset look-ups, and
:func:`clean_sections`, whose job is to keep every location offset exact in
the cleaned text: a table of awkward sections, then hypothesis on random ones.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.cleaning import clean_sections, clean_text
from corpus.documents import (
    Chunk,
    Document,
    Location,
    LocationKind,
    location_at,
    locations_within,
)
from corpus.reading import Section

PAGE = LocationKind.PAGE
SECTION = LocationKind.SECTION
ROW = LocationKind.ROW


@pytest.mark.parametrize(
    ("start", "kind", "label", "message"),
    [
        (-1, "page", "page 1", "start must be 0 or more"),
        (0, "paragraph", "p 1", "kind must be one of page, section, slide, row, chapter"),
        (0, "page", "", "one non-empty line"),
        (0, "page", "   ", "one non-empty line"),
        (0, "page", "page\n2", "one non-empty line"),
    ],
)
def test_bad_locations_are_refused(start: int, kind: str, label: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Location(start, kind, label)  # type: ignore[arg-type]


def test_kind_is_typed_and_serialises() -> None:
    location = Location(5, "slide", "slide 2: Plans")  # type: ignore[arg-type]
    assert location.kind is LocationKind.SLIDE
    assert location.to_dict() == {"kind": "slide", "label": "slide 2: Plans"}


MARKS = (Location(0, PAGE, "page 1"), Location(10, PAGE, "page 2"), Location(25, PAGE, "page 4"))


@pytest.mark.parametrize(
    ("offset", "label"),
    [(0, "page 1"), (9, "page 1"), (10, "page 2"), (24, "page 2"), (25, "page 4"), (999, "page 4")],
)
def test_location_at(offset: int, label: str) -> None:
    found = location_at(MARKS, offset)
    assert found is not None and found.label == label


def test_no_location_before_the_first_or_without_any() -> None:
    assert location_at((Location(4, SECTION, "Intro"),), 3) is None
    assert location_at((), 0) is None


@pytest.mark.parametrize(
    ("start", "end", "labels"),
    [
        (0, 5, ["page 1"]),
        (5, 11, ["page 1", "page 2"]),
        (10, 25, ["page 2"]),
        (9, 26, ["page 1", "page 2", "page 4"]),
        (30, 40, ["page 4"]),
    ],
)
def test_locations_within(start: int, end: int, labels: list[str]) -> None:
    assert [m.label for m in locations_within(MARKS, start, end)] == labels


def test_document_refuses_locations_out_of_order_or_past_its_text() -> None:
    text = "x" * 30
    with pytest.raises(ValueError, match="increasing offsets"):
        Document("d", "T", "t.pdf", text, locations=(MARKS[1], MARKS[0]))
    with pytest.raises(ValueError, match="past the end"):
        Document("d", "T", "t.pdf", "short", locations=MARKS)
    document = Document("d", "T", "t.pdf", text, locations=MARKS)
    assert document.location_at(12) == MARKS[1]


def test_chunk_refuses_a_location_past_its_end() -> None:
    with pytest.raises(ValueError, match="location past its end"):
        Chunk("d:0", "d", "T", "t.pdf", 0, 5, "hello", locations=MARKS[:2])


# --- cleaning sections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "text", "marks"),
    [
        ([Section("one")], "one", []),
        (
            [Section("  Page one  \r\n", PAGE, "page 1"), Section("\tPage\ttwo", PAGE, "page 2")],
            "Page one\n\nPage two",
            [(0, "page 1"), (10, "page 2")],
        ),
        (  # a section that cleans to nothing is dropped with its location
            [Section("a", PAGE, "page 1"), Section("\u200b \n", PAGE, "page 2"),
             Section("c", PAGE, "page 3")],
            "a\n\nc",
            [(0, "page 1"), (3, "page 3")],
        ),
        (  # rows join with a single line break
            [Section("Columns: A", ROW, "row 1"), Section("A: 1", ROW, "row 2", gap="\n")],
            "Columns: A\nA: 1",
            [(0, "row 1"), (11, "row 2")],
        ),
        (  # ...but never after a line-end hyphen, which a second cleaning would join
            [Section("well-", ROW, "row 1"), Section("known", ROW, "row 2", gap="\n")],
            "well-\n\nknown",
            [(0, "row 1"), (7, "row 2")],
        ),
        (  # the same label twice in a row is one location
            [Section("a", SECTION, "Setup"), Section("b", SECTION, "Setup")],
            "a\n\nb",
            [(0, "Setup")],
        ),
        (  # text before the first heading has no location
            [Section("Intro"), Section("# Setup\nrun it", SECTION, " Setup\u200b ")],
            "Intro\n\n# Setup\nrun it",
            [(7, "Setup")],
        ),
        (  # a blank label is no location
            [Section("a", SECTION, " \u200b ")],
            "a",
            [],
        ),
    ],
)  # fmt: skip
def test_clean_sections(sections: list[Section], text: str, marks: list[tuple[int, str]]) -> None:
    joined, locations = clean_sections(sections)
    assert joined == text
    assert [(m.start, m.label) for m in locations] == marks
    assert clean_text(joined) == joined


def test_long_labels_are_cut() -> None:
    _, (location,) = clean_sections([Section("a", SECTION, "word " * 100)])
    assert len(location.label) <= 200 and location.label.endswith("…")


# Pieces that stress the cleaner at section edges: hyphens at line ends,
# soft hyphens, invisible and combining characters, CRLF, tabs.
_PIECES = ["ab", "x-", "-", " ", "\n", "\t", "\r\n", "\u00ad", "\u200b", "é", "\u0301", "#", "Q"]
_SECTION_TEXT = st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_SECTION_TEXT, st.booleans(), st.sampled_from(["\n", "\n\n"])),
        min_size=1,
        max_size=8,
    )
)
def test_random_sections_keep_exact_offsets(raw: list[tuple[str, bool, str]]) -> None:
    sections = [
        Section(text, PAGE, f"page {i}") if located else Section(text, gap=gap)
        for i, (text, located, gap) in enumerate(raw)
    ]
    joined, locations = clean_sections(sections)
    assert clean_text(joined) == joined  # a fixed point: re-cleaning moves nothing
    by_label = {f"page {i}": clean_text(text) for i, (text, _, _) in enumerate(raw)}
    for location in locations:
        assert joined[location.start :].startswith(by_label[location.label])
        assert location.start == 0 or joined[location.start - 1] == "\n"
    if joined:
        Document("d", "T", "t", joined, locations=locations)  # passes its own checks
