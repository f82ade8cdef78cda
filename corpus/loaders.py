"""Turn one file on disk into raw text, its sections and, where the format has one, a title.

Design: :func:`extract_text` reads the file's bytes once, with the size limit
checked before and during the read, and hands them to one small extractor per
format. Every file is untrusted data, so each extractor treats the parsing
library as something that may fail in any way: whatever it raises is wrapped in
a :class:`~corpus.errors.DocumentError` naming the file, and only the project's
own errors ever leave this module. Zip-based formats are checked for zip bombs
before their library opens them (:func:`corpus.reading.check_zip`).

Each extractor cuts its text into :class:`~corpus.reading.Section` pieces where
the reader would look for it: PDF pages, the heading path of Markdown, HTML
and .docx, slides (:mod:`corpus.office`), sheets and rows, e-book chapters
(:mod:`corpus.ebook`).

Concessions:

* HTML: see :mod:`corpus.html_text` for what counts as hidden.
* .docx: headers, footers, footnotes and comments are not read, only the body's
  paragraphs and tables.
* PDF: text comes from the text layer; scanned pages need OCR first.
* Markdown is returned as written; its markup is left for the cleaner and the
  chunker to live with.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.documents import LocationKind

if TYPE_CHECKING:
    from pypdf import PdfReader
from corpus.errors import (
    ConfigError,
    DocumentError,
    DocumentTooLargeError,
    UnsupportedFileTypeError,
)
from corpus.reading import ExtractedText, Section, check_zip, decode, describe, tidy_title

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "ExtractedText",
    "extract_text",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv",
     ".epub"}
)  # fmt: skip
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024

_MARKDOWN_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_MARKDOWN_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MARKDOWN_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MARKDOWN_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def extract_text(path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> ExtractedText:
    """Read ``path`` and return its text, choosing the reader by the file's suffix.

    Only :class:`~corpus.errors.RagqaError` subclasses are raised: a
    :class:`~corpus.errors.DocumentError` (or one of its subclasses) naming the
    file and what to do, or a :class:`~corpus.errors.ConfigError` for a
    non-positive ``max_bytes``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     note = Path(folder) / "note.md"
    ...     _ = note.write_text("# Shopping\\n\\nMilk and bread.\\n", encoding="utf-8")
    ...     extract_text(note).title
    'Shopping'
    """
    if max_bytes <= 0:
        raise ConfigError(f"max_bytes must be greater than 0. Currently, max_bytes is {max_bytes}")
    path = Path(path)
    info = _stat_file(path)
    extractor = _EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        raise _unsupported(path)
    data = _read_bytes(path, info.st_size, max_bytes)
    if not data.strip():
        raise _empty(path)
    try:
        result = extractor(path, data, max_bytes)
    except DocumentError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as error:  # also a Rust panic in a native parser
        # A parser failed in a way its extractor did not foresee; the file is
        # still just unreadable data, not a bug to stop the whole run for.
        raise DocumentError(
            path, f"could not be read ({describe(error)}); re-save it or remove it"
        ) from error
    if not result.text.strip():
        raise _empty(path)
    return result


# --- reading the bytes -----------------------------------------------------

_PERMISSION_DENIED = "cannot be read: permission denied; check the file's permissions"


def _stat_file(path: Path) -> os.stat_result:
    """Refuse paths that do not exist, cannot be reached or are not plain files."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DocumentError(path, "does not exist; check the path") from None
    except PermissionError:
        raise DocumentError(path, _PERMISSION_DENIED) from None
    except (OSError, ValueError) as error:
        raise DocumentError(path, f"cannot be read ({error}); check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise DocumentError(path, "is a directory, not a file; give the path of a file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(path, "is not a regular file; give the path of an ordinary file")
    return info


def _read_bytes(path: Path, size: int, max_bytes: int) -> bytes:
    """Read the whole file, checking the size limit before and during the read."""
    if size > max_bytes:
        raise _too_large(path, size, max_bytes)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except PermissionError:
        raise DocumentError(path, _PERMISSION_DENIED) from None
    except OSError as error:
        raise DocumentError(path, f"cannot be read ({error}); check the file") from None
    if len(data) > max_bytes:  # the file grew after it was measured
        raise _too_large(path, len(data), max_bytes)
    return data


def _unsupported(path: Path) -> UnsupportedFileTypeError:
    suffix = path.suffix or "(no extension)"
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return UnsupportedFileTypeError(
        path, f"has unsupported file type {suffix!r}; supported types are {supported}"
    )


def _too_large(path: Path, size: int, max_bytes: int) -> DocumentTooLargeError:
    return DocumentTooLargeError(
        path,
        f"is {size:,} bytes, over the limit of {max_bytes:,} bytes; "
        "split it into smaller files or raise the size limit",
    )


def _empty(path: Path) -> DocumentError:
    return DocumentError(path, "is empty (no text to index); add text to it or remove it")


# --- plain text and markdown ---------------------------------------------------


def _extract_plain(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    return ExtractedText(text=decode(path, data), title=None)


def _extract_markdown(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    text = decode(path, data)
    # The sections' lines are exactly the text's lines: ``text`` stays as written.
    return ExtractedText(text, markdown_title(text), tuple(markdown_sections(text)))


def markdown_sections(text: str) -> list[Section]:
    """Markdown cut before each ATX (``## Setup``) or setext heading, each
    section labelled with the path of headings it falls under; fenced code
    is never taken for a heading.

    >>> [(s.label, s.text) for s in markdown_sections("Hi\\n# A\\nx\\n## B\\ny\\n# C\\n")]
    [(None, 'Hi\\n'), ('A', '# A\\nx\\n'), ('A › B', '## B\\ny\\n'), ('C', '# C\\n')]
    """
    lines = text.splitlines(keepends=True)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    fence: str | None = None

    def start_section(level: int, heading: str, first: int) -> None:
        nonlocal current
        if current[:first]:
            sections.append(_markdown_section(current[:first], path))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading))
        current = current[first:]

    for line in lines:
        marker = _MARKDOWN_FENCE.match(line)
        if fence is not None:
            fence = None if marker and marker.group(1)[0] == fence else fence
            current.append(line)
            continue
        if marker:
            fence = marker.group(1)[0]
            current.append(line)
            continue
        atx = _MARKDOWN_ATX.match(line.rstrip("\r\n"))
        setext = _MARKDOWN_SETEXT.match(line.rstrip("\r\n"))
        previous = current[-1].strip() if current else ""
        current.append(line)
        heading = tidy_title(atx.group(2) or "") if atx else None
        if atx and heading:
            start_section(len(atx.group(1)), heading, len(current) - 1)
        elif setext and previous and not _MARKDOWN_ATX.match(previous) and len(current) >= 2:
            heading = tidy_title(previous)
            if heading:
                start_section(1 if setext.group(1)[0] == "=" else 2, heading, len(current) - 2)
    sections.append(_markdown_section(current, path))
    return [section for section in sections if section.text.strip()]


def _markdown_section(lines: list[str], path: list[tuple[int, str]]) -> Section:
    text = "".join(lines)
    if not path:
        return Section(text)
    return Section(text, LocationKind.SECTION, " › ".join(heading for _, heading in path))


def markdown_title(text: str) -> str | None:
    """The first level-one ATX heading (``# Title``) of a markdown text, if any.

    >>> markdown_title("intro\\n# Getting started #\\nbody")
    'Getting started'
    >>> markdown_title("## Only a subheading") is None
    True
    """
    match = _MARKDOWN_H1.search(text)
    return tidy_title(match.group(1)) if match else None


# --- PDF -------------------------------------------------------------------------


def _extract_pdf(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _unlock_pdf(path, reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _pdf_title(reader)
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(
            path, f"cannot be read as a PDF: {describe(error)}; re-export it or remove it"
        ) from error
    # One section per page of the text layer: the page number is the page's
    # place in the file, the number a PDF viewer's page box takes.
    sections = [
        Section(page.strip(), LocationKind.PAGE, f"page {number}")
        for number, page in enumerate(pages, start=1)
        if page.strip()
    ]
    if not sections:
        raise DocumentError(
            path,
            "has no text layer (it is probably scanned images); run OCR on it "
            "(e.g. ocrmypdf) or remove it",
        )
    return ExtractedText.of_sections(sections, title)


def _unlock_pdf(path: Path, reader: PdfReader) -> None:
    """Open PDFs that are encrypted without a password; refuse the others."""
    from pypdf.errors import DependencyError

    try:
        unlocked = bool(reader.decrypt(""))
    except DependencyError:  # AES needs the optional 'cryptography' package
        unlocked = False
    if not unlocked:
        raise DocumentError(
            path,
            "cannot be read as a PDF: it is encrypted or password-protected; "
            "re-export it without a password or remove it",
        )


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken info dictionary must not cost us the text
        return None
    return tidy_title(title) if isinstance(title, str) else None


# --- DOCX ------------------------------------------------------------------------


_DOCX_HEADING_STYLE = re.compile(r"heading\s*([1-9])$|title$", re.IGNORECASE)


def _extract_docx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    check_zip(path, data, ".docx", "re-save it from Word or remove it")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        lines = list(_docx_lines(document))
        title = document.core_properties.title
    except Exception as error:
        raise DocumentError(
            path,
            f"cannot be read as a .docx: {describe(error)}; re-save it from Word or remove it",
        ) from error
    sections: list[Section] = []
    path_so_far: list[tuple[int, str]] = []
    current: list[str] = []
    for line, level in lines:
        heading = tidy_title(line) if level is not None else None
        if level is not None and heading:
            sections.append(_docx_section(current, path_so_far))
            while path_so_far and path_so_far[-1][0] >= level:
                path_so_far.pop()
            path_so_far.append((level, heading))
            current = []
        current.append(line)
    sections.append(_docx_section(current, path_so_far))
    return ExtractedText.of_sections(
        [section for section in sections if section.text.strip()],
        tidy_title(title) if isinstance(title, str) else None,
    )


def _docx_section(lines: list[str], path: list[tuple[int, str]]) -> Section:
    text = "\n".join(lines)
    if not path:
        return Section(text)
    return Section(text, LocationKind.SECTION, " › ".join(heading for _, heading in path))


def _docx_lines(container: Any, in_table: bool = False) -> Iterator[tuple[str, int | None]]:
    """Paragraphs and table cells in document order, merged cells once, each
    with its heading level (``Title`` is 0) or ``None``."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        yield from _docx_lines(cell, in_table=True)
        elif block.text.strip():
            yield block.text, None if in_table else _docx_heading_level(block)


def _docx_heading_level(paragraph: Any) -> int | None:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except Exception:  # a style the file names but does not define
        return None
    match = _DOCX_HEADING_STYLE.match(str(name or "").strip())
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


# --- shared helpers ----------------------------------------------------------------


# The parsers for the other formats are imported on first use: asking a
# question never reads a document, so `ragqa ask` does not pay for them.
def _extract_html(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    from corpus.html_text import extract_html

    return extract_html(path, data, max_bytes)


def _extract_pptx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    from corpus.office import extract_pptx

    return extract_pptx(path, data, max_bytes)


def _extract_xlsx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    from corpus.office import extract_xlsx

    return extract_xlsx(path, data, max_bytes)


def _extract_csv(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    from corpus.office import extract_csv

    return extract_csv(path, data, max_bytes)


def _extract_epub(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    from corpus.ebook import extract_epub

    return extract_epub(path, data, max_bytes)


_EXTRACTORS: dict[str, Callable[[Path, bytes, int], ExtractedText]] = {
    ".txt": _extract_plain,
    ".md": _extract_markdown,
    ".markdown": _extract_markdown,
    ".html": _extract_html,
    ".htm": _extract_html,
    ".pdf": _extract_pdf,
    ".docx": _extract_docx,
    ".pptx": _extract_pptx,
    ".xlsx": _extract_xlsx,
    ".csv": _extract_csv,
    ".epub": _extract_epub,
}
