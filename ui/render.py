"""Markdown and HTML for the chat window, built from untrusted text.

Documents and the model's drafts are data, never markup: a passage that says
``<img src=x onerror=...>`` must be shown as those characters. Two targets:

* **Chat messages are Markdown.** :func:`escape_markdown` backslash-escapes
  every ASCII punctuation character, so nothing in the text can become a tag,
  a link, an image, emphasis or a formula; the Chatbot's own HTML sanitiser
  stays on as a second line of defence.
* **The passage viewer is HTML.** Every piece of text goes through
  :func:`html.escape`; the only tags are the ones written here.

Nothing in this module imports Gradio, so it is cheap to test.
"""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import PurePath

from corpus.documents import Document
from qa.types import Answer, Citation

CONTEXT_CHARS = 400
WHOLE_DOCUMENT_CHARS = 200_000
SNIPPET_CHARS = 160
ABSTAIN_HEADING = "The documents don't say."
CONFLICT_HEADING = "The documents disagree."
CONFLICT_NOTE = (
    "They say different things about what you asked, so both are quoted below instead "
    "of one being picked. Check the sources before relying on either."
)
CURSOR = "▍"

# Every character that can start Markdown, HTML, an entity or a formula.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&=])")


def escape_markdown(text: str) -> str:
    r"""``text`` as Markdown that renders to exactly ``text``.

    >>> escape_markdown("<b>*hi*</b> [1]")
    '\\<b\\>\\*hi\\*\\</b\\> \\[1\\]'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    """One line of at most ``width`` characters, cut at a word.

    >>> snippet("Lei Jun was born\\n in 1969 in Xiantao.", 24)
    'Lei Jun was born in …'
    """
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder=" …")


def _score(citation: Citation) -> str:
    return f"score {citation.score:.2f}"


def where(citation: Citation) -> str:
    """Where the citation points in the reader's terms, or nothing.

    >>> from corpus.documents import Location
    >>> c = Citation(1, "d:0", "d", "Report", "/r.pdf", 0, 2, "Hi",
    ...              location=Location(0, "page", "page 3"))
    >>> where(c)
    'page 3'
    """
    return citation.location.label if citation.location is not None else ""


def citation_label(citation: Citation, *, show_scores: bool = False) -> str:
    """Plain text naming a citation, for the clickable list (the widget escapes it)."""
    place = f", {where(citation)}" if where(citation) else ""
    label = f"[{citation.number}] {citation.document}{place} — “{snippet(citation.text, 90)}”"
    return f"{label} ({_score(citation)})" if show_scores else label


def _citation_line(citation: Citation, show_scores: bool) -> str:
    place = f" ({escape_markdown(where(citation))})" if where(citation) else ""
    line = (
        f"{escape_markdown(f'[{citation.number}]')} *{escape_markdown(citation.document)}*{place} — "
        f"“{escape_markdown(snippet(citation.text))}”"
    )
    return f"{line} ({escape_markdown(_score(citation))})" if show_scores else line


# The model's draft is not the answer (the answer quotes the documents, and
# the draft may name a wrong year); say so while it streams.
DRAFT_LABEL = "*Draft, being checked against the documents:*"


def draft_markdown(draft: str) -> str:
    """The model's draft while it is being written, labelled as such, with a cursor."""
    if not draft.strip():
        return CURSOR
    return f"{DRAFT_LABEL} {escape_markdown(draft.strip())} {CURSOR}"


def answer_markdown(
    answer: Answer, *, show_scores: bool = False, searched_for: str | None = None
) -> str:
    """The finished answer as a chat message: text, then its numbered sources.

    An abstention is shown as such, under its own heading, with the closest
    passages labelled as not being an answer; so is a disagreement between
    documents, with each side's quote and source.
    """
    parts: list[str] = []
    if answer.conflict:
        parts.append(f"**{escape_markdown(CONFLICT_HEADING)}**")
        parts.append(escape_markdown(CONFLICT_NOTE))
        parts.append(escape_markdown(answer.text.removeprefix(CONFLICT_HEADING).strip()))
        if show_scores and answer.reason:
            parts.append(f"*{escape_markdown('Why: ' + answer.reason)}*")
    elif answer.abstained:
        parts.append(f"**{escape_markdown(ABSTAIN_HEADING)}**")
        parts.append(
            escape_markdown(
                "No passage answers this question well enough, so there is no answer."
                if not answer.citations
                else "No passage answers this question well enough. The closest passages "
                "are below: they are what was found, not an answer."
            )
        )
        if show_scores and answer.reason:
            parts.append(f"*{escape_markdown('Why: ' + answer.reason)}*")
    else:
        parts.append(escape_markdown(answer.text))
    if searched_for:
        parts.append(f"*{escape_markdown('Searched for: ' + searched_for)}*")
    if answer.citations:
        heading = "Closest passages" if answer.abstained else "Sources"
        lines = [_citation_line(c, show_scores) for c in answer.citations]
        parts.append(f"**{heading}**\n" + "\n".join(lines))
    return "\n\n".join(parts)


def error_markdown(message: str) -> str:
    return f"**{escape_markdown('Could not answer:')}** {escape_markdown(message)}"


def _paragraphs(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def highlight(text: str, start: int, end: int) -> str:
    """Escaped ``text`` with ``text[start:end]`` in a ``<mark>``.

    >>> highlight("a <b> c", 2, 5)
    'a <mark>&lt;b&gt;</mark> c'
    """
    if not 0 <= start < end <= len(text):
        raise ValueError(
            f"span [{start}, {end}) does not lie inside a text of {len(text)} characters"
        )
    return (
        f"{_paragraphs(text[:start])}<mark>{_paragraphs(text[start:end])}</mark>"
        f"{_paragraphs(text[end:])}"
    )


def context_window(text: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> tuple[int, int]:
    """About ``chars`` characters either side of ``[start, end)``, widened to
    whole words.

    >>> context_window("one two three four five", 8, 13, 4)
    (4, 18)
    """
    left = max(0, start - chars)
    right = min(len(text), end + chars)
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    while right < len(text) and not text[right].isspace():
        right += 1
    return left, right


def _locate(document: Document | None, citation: Citation) -> tuple[str, int, int, bool]:
    """The text to show, the span in it, and whether that is the document: it
    is if the offsets still match (it may have been re-indexed since), else the
    citation's own text stands in."""
    if document is not None and document.text[citation.start : citation.end] == citation.text:
        return document.text, citation.start, citation.end, True
    return citation.text, 0, len(citation.text), False


def passage_html(
    document: Document | None,
    citation: Citation,
    *,
    show_scores: bool = False,
    context_chars: int = CONTEXT_CHARS,
) -> str:
    """The viewer: title, where the passage comes from, and the passage in its
    neighbouring text with the cited span marked."""
    text, start, end, in_document = _locate(document, citation)
    left, right = context_window(text, start, end, context_chars)
    body = highlight(text[left:right], start - left, end - left)
    before = "… " if left > 0 else ""
    after = " …" if right < len(text) else ""
    role = "supports the answer" if citation.supports_answer else "closest passage, not an answer"
    meta = [
        html.escape(PurePath(citation.source_path).name or citation.source_path),
        *(
            [f'<span class="ragqa-where">{html.escape(where(citation))}</span>']
            if where(citation)
            else []
        ),
        f"characters {citation.start}–{citation.end}",
        role,
    ]
    if show_scores:
        meta.append(_score(citation))
    stale = (
        ""
        if in_document
        else '<p class="ragqa-note">The document has changed since this answer; '
        "showing the cited text only.</p>"
    )
    return (
        '<div class="ragqa-passage">'
        f'<h3 class="ragqa-title">[{citation.number}] {html.escape(citation.document)}</h3>'
        f'<p class="ragqa-meta">{" · ".join(meta)}</p>{stale}'
        f'<div class="ragqa-context">{before}{body}{after}</div>'
        "</div>"
    )


def document_html(
    document: Document | None, citation: Citation, *, max_chars: int = WHOLE_DOCUMENT_CHARS
) -> str:
    """The whole document with the cited span marked (a window of
    ``max_chars`` around it for very long documents)."""
    if document is None:
        return '<p class="ragqa-note">This document is no longer in the index.</p>'
    text, start, end, _ = _locate(document, citation)
    note = ""
    if len(text) > max_chars:
        half = max(0, (max_chars - (end - start)) // 2)
        left, right = context_window(text, start, end, half)
        note = f'<p class="ragqa-note">Showing characters {left}–{right} of {len(text)}.</p>'
        text, start, end = text[left:right], start - left, end - left
    return (
        '<div class="ragqa-document">'
        f'<h3 class="ragqa-title">{html.escape(document.title)}</h3>{note}'
        f'<div class="ragqa-context">{highlight(text, start, end)}</div>'
        "</div>"
    )


EMPTY_VIEWER = (
    '<p class="ragqa-note">Click a citation under an answer to read the passage it points to.</p>'
)
