"""Tests for ui.render: nothing from a document or the model becomes markup."""

from __future__ import annotations

import html
import re

import pytest

from corpus.documents import Document, Location, LocationKind
from qa.types import Answer, Citation
from ui import render

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![img](http://example.com/x.png)",
    "**bold** _it_ `code` ~~del~~",
    "# heading\n---\n> quote\n1. item\n- item",
    "$$x^2$$ and $y$",
    "&lt;script&gt; &amp; &#60;b&#62;",
    "<https://example.com> www.example.com",
    "| a | b |\n|---|---|",
    "${7*6} `${x}`",
    "back\\slash \\[1\\]",
    "",
    "plain words, nothing special",
    "emoji 🚀 and 中文 and \u202eRTL",
]


def markdown_unescape(text: str) -> str:
    """What CommonMark makes of backslash escapes (the renderer's job)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_round_trips(text: str) -> None:
    escaped = render.escape_markdown(text)
    assert markdown_unescape(escaped) == text
    for special in "<>[]()*_`#$&!|~":
        assert re.search(rf"(?<!\\){re.escape(special)}", escaped) is None, special


def citation(text: str, start: int, number: int = 1, **changes) -> Citation:
    fields = {
        "number": number,
        "chunk_id": "doc:0000",
        "doc_id": "doc",
        "document": "A <b>title</b>",
        "source_path": "/data/uploads/notes <1>.txt",
        "start": start,
        "end": start + len(text),
        "text": text,
        "score": 0.8123,
        "supports_answer": True,
    }
    fields.update(changes)
    return Citation(**fields)


def answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(
        question="q?",
        text=text,
        abstained=abstained,
        citations=citations,
        hits=[],
        reason="because <reasons>",
    )


@pytest.mark.parametrize(
    ("text", "start", "end", "marked"),
    [
        ("abc", 0, 3, "abc"),
        ("a <b> c", 2, 5, "&lt;b&gt;"),
        ("line one\nline two", 5, 13, "one<br>line"),
        ("x&y", 1, 2, "&amp;"),
        ("中文 text", 0, 2, "中文"),
    ],
)
def test_highlight_marks_the_exact_span(text: str, start: int, end: int, marked: str) -> None:
    out = render.highlight(text, start, end)
    assert out.count("<mark>") == 1
    assert re.search(r"<mark>(.*)</mark>", out, re.DOTALL).group(1) == marked  # type: ignore[union-attr]
    plain = html.unescape(out.replace("<br>", "\n").replace("<mark>", "").replace("</mark>", ""))
    assert plain == text


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (2, 2), (3, 1), (0, 99)])
def test_highlight_refuses_spans_outside_the_text(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="span"):
        render.highlight("some text", start, end)


@pytest.mark.parametrize(
    ("text", "start", "end", "chars", "window"),
    [
        ("one two three four five", 8, 13, 4, (4, 18)),
        ("one two three four five", 8, 13, 100, (0, 23)),
        ("one two three four five", 0, 3, 0, (0, 3)),
        ("abcdefghij", 4, 6, 2, (0, 10)),  # no spaces: widen to the whole word
    ],
)
def test_context_window(text, start, end, chars, window) -> None:
    assert render.context_window(text, start, end, chars) == window


def test_passage_shows_title_span_and_neighbours_escaped() -> None:
    span = "Lei Jun <i>was</i> born in 1969."
    before, after = "x " * 400 + "Before. ", " After <script>x()</script>." + " y" * 400
    text = before + span + after
    document = Document("doc", "A <b>title</b>", "/data/notes.txt", text)
    shown = render.passage_html(document, citation(span, len(before)), show_scores=False)
    assert "<mark>Lei Jun &lt;i&gt;was&lt;/i&gt; born in 1969.</mark>" in shown
    assert "A &lt;b&gt;title&lt;/b&gt;" in shown
    assert "Before." in shown and "After &lt;script&gt;x()&lt;/script&gt;." in shown
    assert "<script>" not in shown and "<b>" not in shown and "<i>" not in shown
    assert shown.count("x ") < 260  # only the neighbourhood, not the whole text
    assert "… " in shown and " …" in shown
    assert "notes &lt;1&gt;.txt" in shown and "/data/uploads" not in shown
    assert "score" not in shown
    assert "score 0.81" in render.passage_html(
        document, citation(span, len(before)), show_scores=True
    )


def test_passage_falls_back_to_the_citation_when_the_document_changed() -> None:
    document = Document("doc", "Title", "/d.txt", "completely different text now")
    shown = render.passage_html(document, citation("old <span>", 3))
    assert "<mark>old &lt;span&gt;</mark>" in shown
    assert "has changed" in shown
    assert "<mark>old &lt;span&gt;</mark>" in render.passage_html(None, citation("old <span>", 3))


def test_whole_document_is_escaped_and_marked() -> None:
    text = "Intro <b>bold</b>.\n\nThe span is here. Outro & more."
    start = text.index("The span")
    document = Document("doc", "T<i>", "/d.txt", text)
    shown = render.document_html(document, citation("The span is here.", start))
    assert "<mark>The span is here.</mark>" in shown
    assert "Intro &lt;b&gt;bold&lt;/b&gt;.<br><br>" in shown and "Outro &amp; more." in shown
    assert "T&lt;i&gt;" in shown
    assert "no longer in the index" in render.document_html(None, citation("x", 0))


def test_whole_document_is_windowed_when_huge() -> None:
    text = "word " * 100_000 + "NEEDLE." + " word" * 100_000
    start = text.index("NEEDLE.")
    shown = render.document_html(
        Document("doc", "Big", "/d.txt", text), citation("NEEDLE.", start), max_chars=1000
    )
    assert "<mark>NEEDLE.</mark>" in shown
    assert "Showing characters" in shown
    assert len(shown) < 3000


def test_answer_markdown_lists_numbered_sources() -> None:
    cites = [citation("Lei Jun was born in 1969.", 0), citation("<b>x</b>", 40, number=2)]
    shown = render.answer_markdown(answer("Born in 1969 [1] <b>!</b>", cites), show_scores=False)
    assert shown.startswith(render.escape_markdown("Born in 1969 [1] <b>!</b>"))
    assert "**Sources**" in shown
    assert render.escape_markdown("[1]") + " *A \\<b\\>title\\</b\\>*" in shown
    assert render.escape_markdown("[2]") in shown
    assert "<b>" not in shown and "score" not in shown
    assert "Searched for" not in shown
    with_extras = render.answer_markdown(
        answer("Born [1]", cites[:1]), show_scores=True, searched_for="When was Lei Jun born?"
    )
    assert "score 0" in with_extras
    assert "*Searched for: When was Lei Jun born?*" in markdown_unescape(with_extras)


def test_abstention_is_shown_as_such() -> None:
    closest = [citation("Something nearby.", 0, supports_answer=False)]
    shown = render.answer_markdown(
        answer("The documents don't say. The closest passages are listed below.", closest, True)
    )
    assert shown.startswith(f"**{render.escape_markdown(render.ABSTAIN_HEADING)}**")
    assert "**Closest passages**" in shown and "**Sources**" not in shown
    assert "not an answer" in shown
    assert "Why" not in shown
    assert "Why: because \\<reasons\\>" in render.answer_markdown(
        answer("x", closest, True), show_scores=True
    )
    assert "**Closest passages**" not in render.answer_markdown(answer("x", [], True))


def test_citation_label_is_plain_text_with_optional_score() -> None:
    cite = citation("Lei Jun was born " + "long " * 50, 0)
    label = render.citation_label(cite)
    assert label.startswith("[1] A <b>title</b> — “Lei Jun was born")  # the widget escapes it
    assert label.endswith("…”") and len(label) < 140
    assert render.citation_label(cite, show_scores=True).endswith("(score 0.81)")


@pytest.mark.parametrize(
    ("draft", "shown"),
    [
        ("", render.CURSOR),
        ("   ", render.CURSOR),
        ("Lei *Jun*", render.DRAFT_LABEL + " Lei \\*Jun\\* " + render.CURSOR),
    ],
)
def test_draft_markdown(draft: str, shown: str) -> None:
    assert render.draft_markdown(draft) == shown


# --- where a citation points ------------------------------------------------------------

PAGE_3 = Location(0, LocationKind.PAGE, "page 3")
HOSTILE_PLACE = Location(0, LocationKind.SECTION, "<img src=x onerror=alert(1)> › *Setup*")


def test_sources_and_label_name_the_location() -> None:
    cite = citation("Lei Jun was born in 1969.", 0, location=PAGE_3)
    assert render.citation_label(cite).startswith("[1] A <b>title</b>, page 3 — “Lei Jun")
    shown = render.answer_markdown(answer("Born [1]", [cite]))
    assert " *A \\<b\\>title\\</b\\>* (page 3) — " in shown
    assert "page 3" not in render.answer_markdown(answer("Born [1]", [citation("x", 0)]))


def test_hostile_location_labels_stay_text() -> None:
    cite = citation("Lei Jun was born in 1969.", 0, location=HOSTILE_PLACE)
    shown = render.answer_markdown(answer("Born [1]", [cite]))
    assert f"({render.escape_markdown(HOSTILE_PLACE.label)})" in shown  # escaped whole
    assert markdown_unescape(shown).count(HOSTILE_PLACE.label) == 1
    viewer = render.passage_html(None, cite)
    assert "<img" not in viewer
    assert f'<span class="ragqa-where">{html.escape(HOSTILE_PLACE.label)}</span>' in viewer


def test_viewer_shows_the_location_beside_the_offsets() -> None:
    text = "Lei Jun was born in 1969."
    document = Document("doc", "A <b>title</b>", "/d.pdf", text, locations=(PAGE_3,))
    viewer = render.passage_html(document, citation(text, 0, location=PAGE_3))
    assert '<span class="ragqa-where">page 3</span> · characters 0–25' in viewer
    assert "ragqa-where" not in render.passage_html(document, citation(text, 0))


def test_a_conflict_is_shown_under_its_own_heading_with_both_sources() -> None:
    sides = [
        citation("born in 1969", 0, 1, document="Lei Jun: a short biography"),
        citation("born in 1975 <b>x</b>", 40, 2, document="Official correction"),
    ]
    answer = Answer(
        "When was he born?",
        "The documents disagree. One says: born in 1969 [1] Another says: born in 1975 <b>x</b> [2]",
        False,
        sides,
        [],
        conflict=True,
    )
    markdown = render.answer_markdown(answer)
    assert markdown.startswith(f"**{render.escape_markdown(render.CONFLICT_HEADING)}**")
    shown = markdown_unescape(markdown)
    assert render.CONFLICT_NOTE in shown
    assert shown.count(render.CONFLICT_HEADING) == 1  # the heading, not repeated by the text
    assert "born in 1969 [1]" in shown and "born in 1975 <b>x</b> [2]" in shown
    assert "Lei Jun: a short biography" in shown and "Official correction" in shown
    assert "<b>" not in markdown  # still escaped


def test_a_conflict_needs_two_citations_and_no_abstention() -> None:
    with pytest.raises(ValueError, match="two citations"):
        Answer("Q?", "The documents disagree.", False, [citation("x", 0)], [], conflict=True)
