"""Turn folders and files into :class:`Document` objects.

A collection is any set of paths; folders are walked recursively (hidden files
and folders are skipped). A file that cannot be used never stops the others:
it is reported in :attr:`LoadReport.skipped` with the reason, and the caller
logs it. A folder may hold a ``collection.json`` that names the title and
origin of its files (the shipped default collection does).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.cleaning import clean_text
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


def document_id(path: Path) -> str:
    """A stable, readable id for a file: its slugged stem and a short hash of
    its resolved path, so two ``notes.txt`` in different folders differ.

    >>> document_id(Path("/tmp/My Notes.txt"))[:9]
    'my-notes-'
    """
    resolved = str(path.resolve())
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "doc"
    return f"{slug}-{hashlib.sha1(resolved.encode('utf-8')).hexdigest()[:8]}"


MAX_TITLE_CHARS = 150
"""Titles are embedded with every chunk of their document, so a long one (a
PDF's metadata, a run-on Markdown heading) would crowd out the passage."""


# Control characters and lone surrogates (a PDF's metadata can hold either):
# the title is stored as UTF-8 and shown in the chat window.
_UNWRITABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def usable_title(raw: str | None) -> str | None:
    """Drop control characters, collapse whitespace and cut a title to :data:`MAX_TITLE_CHARS` at a word
    boundary; an empty title is no title.

    >>> usable_title("  Lei Jun:   a short   biography ")
    'Lei Jun: a short biography'
    >>> usable_title("word " * 100)[-6:]
    ' word…'
    """
    title = " ".join(_UNWRITABLE.sub(" ", raw or "").split())
    if len(title) <= MAX_TITLE_CHARS:
        return title or None
    cut = title[: MAX_TITLE_CHARS - 1]
    if " " in cut[MAX_TITLE_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def _title_from_stem(path: Path) -> str:
    words = re.sub(r"[_\-]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


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


def discover_files(paths: Sequence[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """List the supported files under ``paths``; unsupported ones are skipped
    with a reason. A path that does not exist is an error, not a skip."""
    if not paths:
        raise CollectionError("No paths given: name at least one file or folder to index.")
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        root = root.expanduser()
        if not root.exists():
            raise CollectionError(
                f"{root} does not exist. Check the path, or give a folder of documents "
                f"({', '.join(sorted(SUPPORTED_SUFFIXES))})."
            )
        candidates: Iterable[Path]
        if root.is_dir():
            candidates = sorted(
                p
                for p in root.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        else:
            candidates = [root]
        for path in candidates:
            if path.name == COLLECTION_MANIFEST:
                continue
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                skipped.append(
                    SkippedFile(
                        str(path),
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
    text = clean_text(extracted.text)
    if not text.strip():
        raise DocumentError(path, "has no text after cleaning; check that it is not empty")
    return Document(
        doc_id=document_id(path),
        title=usable_title(title)
        or usable_title(extracted.title)
        or usable_title(_title_from_stem(path))
        or path.name,
        source_path=str(path.resolve()),
        text=text,
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
            report.skipped.append(SkippedFile(str(path), reason))
        except RagqaError as error:
            report.skipped.append(SkippedFile(str(path), str(error)))
    for skip in report.skipped:
        logger.warning("Skipped %s: %s", skip.path, skip.reason)
    return report
