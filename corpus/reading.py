"""What every reader shares: the extracted-text type, decoding, zip checks.

A reader returns an :class:`ExtractedText`: the raw text of a file cut into
:class:`Section` pieces, each with the location a reader would use to find it
(page, heading path, slide, sheet and row, chapter) or none. The sections are
cleaned one by one and joined by :func:`corpus.cleaning.clean_sections`, which
is what keeps every location offset exact in the cleaned text.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from corpus.documents import LocationKind
from corpus.errors import DocumentError, DocumentTooLargeError

_MB = 1024 * 1024
# A zip-based file may unpack to at most this many times its own size (but
# never less than 20 MB, never more than the absolute cap), and no single
# sizeable member may be compressed more than _ZIP_MAX_RATIO to 1: ordinary
# office files and e-books stay far below these, zip bombs far above.
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
BINARY_REASON = "looks like a binary file, not text; check the file or give it the right extension"

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Section:
    """A stretch of a file's raw text and where it lies in the reader's terms.

    ``kind``/``label`` are both set or both ``None`` (text before a document's
    first heading has no location). ``gap`` is what joins the section to the
    one before it once both are cleaned: a blank line, or a single line break
    for the rows of a table.

    >>> Section("Revenue rose.", LocationKind.PAGE, "page 2").label
    'page 2'
    """

    text: str
    kind: LocationKind | None = None
    label: str | None = None
    gap: str = "\n\n"

    def __post_init__(self) -> None:
        if (self.kind is None) != (self.label is None):
            raise ValueError(
                f"Section: kind and label go together; got {self.kind!r}, {self.label!r}"
            )
        if self.gap not in ("\n", "\n\n"):
            raise ValueError(f"Section.gap must be a line break or a blank line, not {self.gap!r}")


@dataclass(frozen=True)
class ExtractedText:
    """The raw text of one file, its title if the file names one, and its sections.

    Readers of formats without locations give only ``text``; the others give
    ``sections`` too, and ``text`` is then their plain join.

    >>> ExtractedText(text="Hello", title=None).text
    'Hello'
    >>> ExtractedText.of_sections([Section("a"), Section("b", gap="\\n")], None).text
    'a\\nb'
    """

    text: str
    title: str | None
    sections: tuple[Section, ...] = field(default=())

    @classmethod
    def of_sections(cls, sections: list[Section], title: str | None) -> ExtractedText:
        parts: list[str] = []
        for section in sections:
            if parts:
                parts.append(section.gap)
            parts.append(section.text)
        return cls(text="".join(parts), title=title, sections=tuple(sections))

    def all_sections(self) -> tuple[Section, ...]:
        """The sections to clean: the text as one section when the reader gave none."""
        return self.sections or (Section(self.text),)


def decode(path: Path, data: bytes, declared: str | None = None) -> str:
    """Decode text bytes: BOM, then UTF-8, then a declared charset, then cp1252.

    The single-byte fallbacks accept any bytes, so they are only tried when the
    bytes look like text; the decoded text is checked again either way.

    >>> decode(Path("a.txt"), "café".encode("cp1252"))
    'café'
    """
    text = _decode_by_bom(path, data)
    if text is None:
        text = _try_decode(data, "utf-8")
    if text is None and declared is not None:
        text = _try_decode(data, declared)
    if text is None:
        if _bytes_look_binary(data):
            raise DocumentError(path, BINARY_REASON)
        text = _try_decode(data, "cp1252") or data.decode("latin-1")
    if _text_looks_binary(text):
        raise DocumentError(path, BINARY_REASON)
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


def check_zip(path: Path, data: bytes, kind: str, fix: str) -> None:
    """Refuse archives that are not zips or that would unpack to far too much.

    Every zip-based format (.docx, .pptx, .xlsx, .epub) passes through here
    before its library sees a byte: the limits are checked on the archive's
    directory, without unpacking anything.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise DocumentError(
            path,
            f"is not a valid {kind} (not a zip archive: {describe(error)}); {fix}",
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


def tidy_title(raw: str) -> str | None:
    """Collapse a title's whitespace; an empty title is no title.

    >>> tidy_title("  Annual\\n report ") , tidy_title(" ")
    ('Annual report', None)
    """
    title = " ".join(raw.split())
    return title or None


def describe(error: BaseException) -> str:
    message = str(error).strip() or "no details"
    if len(message) > 200:
        message = message[:200] + "..."
    return f"{type(error).__name__}: {message}"
