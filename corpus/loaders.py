"""Turn one file on disk into raw text and, where the format has one, a title.

Design: :func:`extract_text` reads the file's bytes once, with the size limit
checked before and during the read, and hands them to one small extractor per
format. Every file is untrusted data, so each extractor treats the parsing
library as something that may fail in any way: whatever it raises is wrapped in
a :class:`~corpus.errors.DocumentError` naming the file, and only the project's
own errors ever leave this module.

Concessions:

* HTML: only text hidden by the markup itself (``hidden``, ``aria-hidden``,
  inline ``display:none`` and the like) is dropped; text hidden by a separate
  stylesheet cannot be detected without a browser.
* .docx: headers, footers, footnotes and comments are not read, only the body's
  paragraphs and tables.
* PDF: text comes from the text layer; scanned pages need OCR first.
* Markdown is returned as written; its markup is left for the cleaner and the
  chunker to live with.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag
from bs4.dammit import EncodingDetector
from docx.table import Table
from pypdf import PdfReader
from pypdf.errors import DependencyError

from corpus.errors import (
    ConfigError,
    DocumentError,
    DocumentTooLargeError,
    UnsupportedFileTypeError,
)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
)
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024

_MB = 1024 * 1024
# A .docx may unpack to at most this many times its own size (but never less
# than 20 MB, never more than the absolute cap), and no single sizeable member
# may be compressed more than _ZIP_MAX_RATIO to 1: ordinary Word files stay far
# below these, zip bombs far above.
_ZIP_EXPANSION_FACTOR = 20
_ZIP_MIN_BASE_BYTES = 1 * _MB
_ZIP_MAX_TOTAL_BYTES = 200 * _MB
_ZIP_MAX_RATIO = 100
# Members smaller than this cannot hurt even at a huge ratio, and tiny
# repetitive XML parts legitimately compress very well.
_ZIP_RATIO_MIN_MEMBER_BYTES = 64 * 1024

# Control characters other than the whitespace ones (\t \n \v \f \r), incl. C1.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.10
_BINARY_REASON = "looks like a binary file, not text; check the file or give it the right extension"

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_MARKDOWN_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class ExtractedText:
    """The raw text of one file and its title, if the file names one.

    >>> ExtractedText(text="Hello", title=None).text
    'Hello'
    """

    text: str
    title: str | None


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
    except Exception as error:
        # A parser failed in a way its extractor did not foresee; the file is
        # still just unreadable data, not a bug to stop the whole run for.
        raise DocumentError(
            path, f"could not be read ({_describe(error)}); re-save it or remove it"
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
    return ExtractedText(text=_decode(path, data), title=None)


def _extract_markdown(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    text = _decode(path, data)
    return ExtractedText(text=text, title=markdown_title(text))


def markdown_title(text: str) -> str | None:
    """The first level-one ATX heading (``# Title``) of a markdown text, if any.

    >>> markdown_title("intro\\n# Getting started #\\nbody")
    'Getting started'
    >>> markdown_title("## Only a subheading") is None
    True
    """
    match = _MARKDOWN_H1.search(text)
    return _tidy_title(match.group(1)) if match else None


def _decode(path: Path, data: bytes, declared: str | None = None) -> str:
    """Decode text bytes: BOM, then UTF-8, then a declared charset, then cp1252.

    The single-byte fallbacks accept any bytes, so they are only tried when the
    bytes look like text; the decoded text is checked again either way.

    >>> _decode(Path("a.txt"), "café".encode("cp1252"))
    'café'
    """
    text = _decode_by_bom(path, data)
    if text is None:
        text = _try_decode(data, "utf-8")
    if text is None and declared is not None:
        text = _try_decode(data, declared)
    if text is None:
        if _bytes_look_binary(data):
            raise DocumentError(path, _BINARY_REASON)
        text = _try_decode(data, "cp1252") or data.decode("latin-1")
    if _text_looks_binary(text):
        raise DocumentError(path, _BINARY_REASON)
    return text


def _decode_by_bom(path: Path, data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _try_decode(data, encoding)
            if text is None:
                raise DocumentError(
                    path,
                    f"starts with a {encoding} byte-order mark but is not valid {encoding}; "
                    "re-save it as UTF-8",
                )
            return text
    return None


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _bytes_look_binary(data: bytes) -> bool:
    return b"\x00" in data or _share(len(_CONTROL_BYTES.findall(data)), len(data))


def _text_looks_binary(text: str) -> bool:
    return "\x00" in text or _share(len(_CONTROL_CHARS.findall(text)), len(text))


def _share(count: int, total: int) -> bool:
    return total > 0 and count / total > _MAX_CONTROL_SHARE


# --- HTML ------------------------------------------------------------------------

_DROPPED_TAGS = ("script", "style", "noscript", "template", "head", "title")
# Elements that start a new line, and those that start a new paragraph.
_LINE_TAGS = frozenset(
    {"br", "div", "li", "dt", "dd", "tr", "caption", "figcaption", "address", "legend"}
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "aside", "header",
     "footer", "main", "nav", "blockquote", "pre", "ul", "ol", "dl", "table", "figure",
     "form", "fieldset", "details", "summary", "hr"}
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def _extract_html(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    soup = BeautifulSoup(_decode(path, data, declared), "html.parser")
    title_tag = soup.find("title")
    title = _tidy_title(title_tag.get_text()) if title_tag is not None else None
    page = _VisibleText()
    page.walk(soup)
    return ExtractedText(text=page.text(), title=title or page.heading)


def is_hidden(attrs: dict[str, Any]) -> bool:
    """Whether an element's own attributes hide it from a reader of the page.

    Hidden text must never reach the index: it is a classic way to smuggle
    instructions to a language model past the human who checks the page.

    >>> is_hidden({"style": "color: red; DISPLAY: none !important"})
    True
    >>> is_hidden({"aria-hidden": "false", "style": "font-size: 0.9em"})
    False
    """
    if "hidden" in attrs:
        return True
    if str(attrs.get("aria-hidden", "")).strip().lower() == "true":
        return True
    style = attrs.get("style")
    if isinstance(style, list):
        style = " ".join(style)
    return isinstance(style, str) and _style_hides(style)


def _style_hides(style: str) -> bool:
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        name = name.strip().lower()
        value = re.sub(r"\s+", "", value.lower()).removesuffix("!important")
        if (
            (name == "display" and value == "none")
            or (name == "visibility" and value in {"hidden", "collapse"})
            or (name == "opacity" and re.fullmatch(r"0*\.?0*%?", value) and value)
            or (name == "font-size" and re.fullmatch(r"0*\.?0*(px|pt|em|rem|%)?", value) and value)
        ):
            return True
    return False


class _VisibleText:
    """Collects the visible text of a parsed page and its first visible <h1>.

    The walk uses an explicit stack and never modifies the tree: deeply nested
    pages can neither exhaust the recursion limit nor trigger bs4's tree
    surgery, which costs time proportional to the depth for every edit.
    """

    def __init__(self) -> None:
        self.pieces: list[str | int] = []  # text, or a number of line breaks
        self.heading: str | None = None
        self._heading_start: int | None = None
        self._in_pre = 0

    def walk(self, root: Tag) -> None:
        stack: list[tuple[Tag, Iterator[PageElement]]] = [(root, iter(root.contents))]
        while stack:
            tag, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                self._close(tag)
            elif isinstance(child, Tag):
                if child.name not in _DROPPED_TAGS and not is_hidden(child.attrs):
                    self._open(child)
                    stack.append((child, iter(child.contents)))
            elif type(child) in (NavigableString, CData):  # not comments, doctypes...
                raw = str(child)
                self.pieces.append(raw if self._in_pre else _HTML_SPACE.sub(" ", raw))

    def text(self) -> str:
        return _join_pieces(self.pieces)

    def _open(self, tag: Tag) -> None:
        self._add_breaks(tag.name)
        self._in_pre += tag.name == "pre"
        if tag.name == "h1" and self.heading is None and self._heading_start is None:
            self._heading_start = len(self.pieces)

    def _close(self, tag: Tag) -> None:
        if tag.name in _CELL_TAGS:
            self.pieces.append(" ")
        self._add_breaks(tag.name)
        self._in_pre -= tag.name == "pre"
        if tag.name == "h1" and self._heading_start is not None and self.heading is None:
            words = self.pieces[self._heading_start :]
            self.heading = _tidy_title("".join(p for p in words if isinstance(p, str)))
            self._heading_start = None

    def _add_breaks(self, name: str) -> None:
        if name in _PARAGRAPH_TAGS:
            self.pieces.append(2)
        elif name in _LINE_TAGS:
            self.pieces.append(1)


def _join_pieces(pieces: list[str | int]) -> str:
    """Join text pieces and line-break counts; adjacent breaks merge into the larger.

    >>> _join_pieces(["a ", 1, 2, " b", 1, "c"])
    'a\\n\\nb\\nc'
    """
    out: list[str] = []
    pending = 0
    for piece in pieces:
        if isinstance(piece, int):
            pending = max(pending, piece)
        elif piece.strip() or not pending:
            if pending:
                out.append("\n" * pending)
                pending = 0
            out.append(piece)
    text = "".join(out)
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text).strip()


# --- PDF -------------------------------------------------------------------------


def _extract_pdf(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _unlock_pdf(path, reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _pdf_title(reader)
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(
            path, f"cannot be read as a PDF: {_describe(error)}; re-export it or remove it"
        ) from error
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentError(
            path,
            "has no text layer (it is probably scanned images); run OCR on it "
            "(e.g. ocrmypdf) or remove it",
        )
    return ExtractedText(text=text, title=title)


def _unlock_pdf(path: Path, reader: PdfReader) -> None:
    """Open PDFs that are encrypted without a password; refuse the others."""
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
    return _tidy_title(title) if isinstance(title, str) else None


# --- DOCX ------------------------------------------------------------------------


def _extract_docx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    _check_zip(path, data)
    try:
        document = docx.Document(io.BytesIO(data))
        lines = list(_docx_lines(document))
        title = document.core_properties.title
    except Exception as error:
        raise DocumentError(
            path,
            f"cannot be read as a .docx: {_describe(error)}; re-save it from Word or remove it",
        ) from error
    return ExtractedText(
        text="\n".join(lines), title=_tidy_title(title) if isinstance(title, str) else None
    )


def _check_zip(path: Path, data: bytes) -> None:
    """Refuse archives that are not zips or that would unpack to far too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise DocumentError(
            path,
            f"is not a valid .docx (not a zip archive: {_describe(error)}); "
            "re-save it from Word or remove it",
        ) from error
    budget = min(_ZIP_EXPANSION_FACTOR * max(len(data), _ZIP_MIN_BASE_BYTES), _ZIP_MAX_TOTAL_BYTES)
    total = sum(member.file_size for member in members)
    if total > budget:
        raise DocumentTooLargeError(
            path,
            f"unpacks to {total:,} bytes, over the limit of {budget:,} bytes "
            "(it looks like a zip bomb); remove it",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _ZIP_RATIO_MIN_MEMBER_BYTES and ratio > _ZIP_MAX_RATIO:
            raise DocumentTooLargeError(
                path,
                f"member {member.filename!r} is compressed {ratio:,.0f} to 1 "
                "(it looks like a zip bomb); remove it",
            )


def _docx_lines(container: Any) -> Iterator[str]:
    """Paragraphs and table cells in document order; merged cells once."""
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        yield from _docx_lines(cell)
        elif block.text.strip():
            yield block.text


# --- shared helpers ----------------------------------------------------------------


def _tidy_title(raw: str) -> str | None:
    """Collapse a title's whitespace; an empty title is no title.

    >>> _tidy_title("  Annual\\n report ") , _tidy_title(" ")
    ('Annual report', None)
    """
    title = " ".join(raw.split())
    return title or None


def _describe(error: BaseException) -> str:
    message = str(error).strip() or "no details"
    if len(message) > 200:
        message = message[:200] + "..."
    return f"{type(error).__name__}: {message}"


_EXTRACTORS: dict[str, Callable[[Path, bytes, int], ExtractedText]] = {
    ".txt": _extract_plain,
    ".md": _extract_markdown,
    ".markdown": _extract_markdown,
    ".html": _extract_html,
    ".htm": _extract_html,
    ".pdf": _extract_pdf,
    ".docx": _extract_docx,
}
