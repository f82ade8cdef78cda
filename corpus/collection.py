"""Turn folders and files into :class:`Document` objects.

A collection is any set of paths; folders are walked recursively. A file that
cannot be used never stops the others: it is reported in
:attr:`LoadReport.skipped` with the reason, and the caller logs it. Hidden
files and folders (names starting with ``.``), links to folders and files that
are not regular files are skipped the same way, each one named, so nothing is
left out silently.

File names are whatever bytes the file system holds: one that is not UTF-8,
or that carries control or bidirectional characters, gets an id, a title and a
shown path that can always be written out (see :func:`displayable_path`). A folder may hold a ``collection.json`` that names the title and
origin of its files (the shipped default collection does).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.cleaning import INVISIBLE_CHARACTERS, clean_sections
from corpus.documents import Document
from corpus.errors import CollectionError, DocumentError, RagqaError
from corpus.loaders import DEFAULT_MAX_FILE_BYTES, SUPPORTED_SUFFIXES, extract_text

logger = logging.getLogger(__name__)

COLLECTION_MANIFEST = "collection.json"


def default_collection_dir() -> Path:
    """The Lei Jun texts shipped inside the package."""
    return Path(__file__).resolve().parent / "default_collection"


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the collection, and why."""

    path: str
    reason: str


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


# What a shown path escapes besides undecodable bytes: control characters
# (a newline would split a log line) and invisible or bidirectional ones (a
# right-to-left override makes "gpj.exe" look like "exe.jpg").
_UNSHOWABLE = re.compile(rf"[\x00-\x1f\x7f-\x9f]|{INVISIBLE_CHARACTERS.pattern}")


def _path_bytes(path: Path | str) -> bytes:
    """The bytes of a path as the file system holds them."""
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that did not come from a file name
        return str(path).encode("utf-8", errors="surrogatepass")


def displayable_path(path: Path | str) -> str:
    """``path`` as text that can always be written out (logs, JSON, SQLite)
    and read unambiguously: bytes of a file name that are not UTF-8 become
    ``\\xNN``, control and invisible characters ``\\n`` or ``\\uNNNN``;
    ordinary names are unchanged.

    >>> displayable_path(Path(os.fsdecode(b"/tmp/caf\\xe9 menu.txt")))
    '/tmp/caf\\\\xe9 menu.txt'
    >>> displayable_path("/tmp/new\\nline\\u202etxt.exe")
    '/tmp/new\\\\nline\\\\u202etxt.exe'
    """
    text = _path_bytes(path).decode("utf-8", errors="backslashreplace")
    return _UNSHOWABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def document_id(path: Path) -> str:
    """A stable, readable id for a file: its slugged stem and a short hash of
    its resolved path (the bytes the file system holds, so a name that is not
    UTF-8 hashes too), so two ``notes.txt`` in different folders differ.

    >>> document_id(Path("/tmp/My Notes.txt"))[:9]
    'my-notes-'
    >>> document_id(Path(os.fsdecode(b"/tmp/latin1_\\xe9\\xff.txt")))[:7]
    'latin1-'
    """
    resolved = _path_bytes(path.resolve())
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "doc"
    return f"{slug}-{hashlib.sha1(resolved).hexdigest()[:8]}"


MAX_TITLE_CHARS = 150
"""Titles are embedded with every chunk of their document, so a long one (a
PDF's metadata, a run-on Markdown heading) would crowd out the passage."""


# Control characters (a newline in a file name, a PDF's metadata) become
# spaces; invisible and bidirectional characters (a right-to-left override that
# reverses what the chat window shows) and lone surrogates go.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def usable_title(raw: str | None) -> str | None:
    """Drop control, invisible and bidirectional characters, collapse
    whitespace and cut a title to :data:`MAX_TITLE_CHARS` at a word boundary;
    an empty title is no title.

    >>> usable_title("  Lei Jun:   a short   biography ")
    'Lei Jun: a short biography'
    >>> usable_title("invoice\\u202egnp.exe\\nfinal")
    'invoicegnp.exe final'
    >>> usable_title("word " * 100)[-6:]
    ' word…'
    """
    visible = INVISIBLE_CHARACTERS.sub("", _CONTROL.sub(" ", raw or ""))
    title = " ".join(unicodedata.normalize("NFC", visible).split())
    if len(title) <= MAX_TITLE_CHARS:
        return title or None
    cut = title[: MAX_TITLE_CHARS - 1]
    if " " in cut[MAX_TITLE_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def _title_from_stem(path: Path) -> str:
    """The file name as a title; bytes that are not UTF-8 show as U+FFFD."""
    stem = _path_bytes(path.stem).decode("utf-8", errors="replace")
    words = usable_title(re.sub(r"[_\-]+", " ", stem)) or ""
    return words[:1].upper() + words[1:] if words else displayable_path(path.name)


def _manifest_titles(folder: Path) -> dict[str, str]:
    """Titles given by a folder's ``collection.json``, keyed by file name."""
    manifest = folder / COLLECTION_MANIFEST
    if not manifest.is_file():
        return {}
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return {
            str(entry["file"]): str(entry["title"])
            for entry in data.get("documents", [])
            if "file" in entry and "title" in entry
        }
    except (OSError, ValueError, TypeError, AttributeError) as error:
        logger.warning("Ignoring %s: %s", manifest, error)
        return {}


def _walk(root: Path, skipped: list[SkippedFile]) -> list[Path]:
    """Every regular file under ``root``, sorted; whatever is passed over
    (hidden names, links to folders, pipes, unreadable folders) is added to
    ``skipped`` with the reason."""

    def unreadable(error: OSError) -> None:
        where = error.filename if error.filename is not None else root
        skipped.append(
            SkippedFile(displayable_path(where), f"folder cannot be read ({error.strerror})")
        )

    found: list[Path] = []
    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        here = Path(folder)
        kept = []
        for name in sorted(subfolders):
            path = here / name
            if name.startswith("."):
                skipped.append(SkippedFile(displayable_path(path), _HIDDEN_FOLDER))
            elif path.is_symlink():
                skipped.append(
                    SkippedFile(
                        displayable_path(path), "a link to a folder; links are not followed"
                    )
                )
            else:
                kept.append(name)
        subfolders[:] = kept
        for name in names:
            path = here / name
            if name.startswith("."):
                skipped.append(SkippedFile(displayable_path(path), _HIDDEN_FILE))
            elif not path.is_file():
                skipped.append(SkippedFile(displayable_path(path), _NOT_A_FILE))
            else:
                found.append(path)
    return sorted(found)


_HIDDEN_FILE = "hidden file (its name starts with '.'); rename it to index it"
_HIDDEN_FOLDER = "hidden folder (its name starts with '.'); its files were not read"
_NOT_A_FILE = "not a regular file (a broken link, a pipe or a device)"


def discover_files(paths: Sequence[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """List the supported files under ``paths``; everything else met on the
    way is skipped with a reason. A path that does not exist is an error, not
    a skip."""
    if not paths:
        raise CollectionError("No paths given: name at least one file or folder to index.")
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        root = root.expanduser()
        if not root.exists():
            raise CollectionError(
                f"{displayable_path(root)} does not exist. Check the path, or give a folder of "
                f"documents ({', '.join(sorted(SUPPORTED_SUFFIXES))})."
            )
        candidates = _walk(root, skipped) if root.is_dir() else [root]
        for path in candidates:
            if path.name == COLLECTION_MANIFEST:
                continue
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                skipped.append(
                    SkippedFile(
                        displayable_path(path),
                        f"unsupported file type {path.suffix or '(none)'!r}; ragqa reads "
                        f"{', '.join(sorted(SUPPORTED_SUFFIXES))}",
                    )
                )
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, skipped


def load_document(
    path: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES, title: str | None = None
) -> Document:
    """Load, clean and wrap one file. Raises :class:`DocumentError` subclasses."""
    extracted = extract_text(path, max_bytes=max_bytes)
    text, locations = clean_sections(extracted.all_sections())
    if not text.strip():
        raise DocumentError(path, "has no text after cleaning; check that it is not empty")
    return Document(
        doc_id=document_id(path),
        title=usable_title(title)
        or usable_title(extracted.title)
        or usable_title(_title_from_stem(path))
        or displayable_path(path.name),
        source_path=displayable_path(path.resolve()),
        text=text,
        locations=locations,
    )


def load_collection(
    paths: Sequence[Path], *, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> LoadReport:
    """Load every supported file under ``paths``; bad files are skipped, logged
    with their reason, and listed in the report."""
    files, skipped = discover_files(paths)
    report = LoadReport(skipped=list(skipped))
    titles_by_folder: dict[Path, dict[str, str]] = {}
    for path in files:
        folder_titles = titles_by_folder.setdefault(path.parent, _manifest_titles(path.parent))
        try:
            report.documents.append(
                load_document(path, max_bytes=max_bytes, title=folder_titles.get(path.name))
            )
        except DocumentError as error:
            # The path is the skip's own field; the reason need not repeat it.
            reason = error.reason if error.path == str(path) else str(error)
            report.skipped.append(SkippedFile(displayable_path(path), reason))
        except RagqaError as error:
            report.skipped.append(SkippedFile(displayable_path(path), str(error)))
    for skip in report.skipped:
        logger.warning("Skipped %s: %s", skip.path, skip.reason)
    return report
