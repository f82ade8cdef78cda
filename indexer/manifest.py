"""The versioned manifest saved beside every index.

``manifest.json`` is human-readable and says what the index holds and how it
was made: the format version, the embedding model and its dimension, the
chunking settings, one content hash per document and a SHA-256 checksum of
every other file. :func:`verify_files` checks the checksums *before* any file
is opened by FAISS or SQLite, so a truncated, flipped or swapped file is
reported instead of loaded.

The manifest also carries a checksum of its own content (``checksum``), so an
edited manifest is caught too. It is checked after the format version and the
embedding model, so that an index made by another version or model is reported
as such (with how to rebuild) rather than as damaged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import IndexCorruptError, IndexMismatchError
from indexer.layout import REBUILD_HINT

FORMAT_NAME = "ragqa-index"
# 2: the manifest carries a checksum of itself.
FORMAT_VERSION = 2
MANIFEST_FILE = "manifest.json"


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class DocumentEntry:
    doc_id: str
    title: str
    source_path: str
    content_hash: str
    n_chunks: int


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    embedding_model: str
    embedding_dimension: int
    chunking: dict[str, int]
    vector_index: dict[str, Any]
    documents: list[DocumentEntry]
    n_chunks: int
    files: dict[str, FileEntry] = field(default_factory=dict)
    created_at: str = ""
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    checksum: str = ""

    def content_checksum(self) -> str:
        """SHA-256 of everything but ``checksum`` itself, in a canonical form."""
        data = asdict(self)
        del data["checksum"]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        """The manifest as saved, with its own checksum filled in."""
        data = {**asdict(self), "checksum": self.content_checksum()}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: Path) -> Manifest:
        """Parse a saved manifest. A manifest of another format version raises
        :class:`IndexMismatchError` before its fields are read, since they may
        differ; anything unreadable raises :class:`IndexCorruptError`."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
                found = data.get("format") if isinstance(data, dict) else type(data).__name__
                raise IndexCorruptError(
                    f"{where} is not a ragqa index manifest (format={found!r}). {REBUILD_HINT}"
                )
            if data.get("format_version") != FORMAT_VERSION:
                raise IndexMismatchError(
                    f"The index manifest {where} has format version "
                    f"{data.get('format_version')!r}, but this ragqa reads version "
                    f"{FORMAT_VERSION}. {REBUILD_HINT}"
                )
            return cls(
                embedding_model=str(data["embedding_model"]),
                embedding_dimension=int(data["embedding_dimension"]),
                chunking={str(k): int(v) for k, v in data["chunking"].items()},
                vector_index=dict(data["vector_index"]),
                documents=[DocumentEntry(**entry) for entry in data["documents"]],
                n_chunks=int(data["n_chunks"]),
                files={name: FileEntry(**entry) for name, entry in data["files"].items()},
                created_at=str(data.get("created_at", "")),
                format=str(data["format"]),
                format_version=int(data["format_version"]),
                checksum=str(data["checksum"]),
            )
        except (IndexCorruptError, IndexMismatchError):
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IndexCorruptError(
                f"The index manifest {where} is unreadable ({error!r}). {REBUILD_HINT}"
            ) from error

    def check_compatible(self, *, embedding_model: str, where: Path) -> None:
        """Refuse an index made by another format version or embedding model."""
        if self.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {where} has format version {self.format_version}, but this "
                f"ragqa reads version {FORMAT_VERSION}. {REBUILD_HINT}"
            )
        if self.embedding_model != embedding_model:
            raise IndexMismatchError(
                f"The index at {where} was built with the embedding model "
                f"{self.embedding_model!r}, but ragqa is set to use {embedding_model!r}. "
                f"{REBUILD_HINT[:-1]}, or set the embedding model back."
            )


def verify_files(manifest: Manifest, directory: Path, required: Iterable[str] = ()) -> None:
    """Check the manifest's own checksum, that it lists every ``required`` file,
    and the size and SHA-256 of every file it lists. Nothing is opened but to
    be hashed, so a damaged file never reaches a parser."""
    if manifest.checksum != manifest.content_checksum():
        raise IndexCorruptError(
            f"The index manifest {directory / MANIFEST_FILE} does not match its own checksum "
            f"(edited or damaged). The index was not loaded. {REBUILD_HINT}"
        )
    unlisted = sorted(set(required) - set(manifest.files))
    if not manifest.files or unlisted:
        raise IndexCorruptError(
            f"The manifest in {directory} does not list {', '.join(unlisted) or 'any file'}. "
            f"The index was not loaded. {REBUILD_HINT}"
        )
    for name, expected in manifest.files.items():
        path = directory / name
        if ".." in Path(name).parts or Path(name).is_absolute() or not path.is_file():
            raise IndexCorruptError(f"The index file {path} is missing. {REBUILD_HINT}")
        size = path.stat().st_size
        if size != expected.bytes or file_sha256(path) != expected.sha256:
            raise IndexCorruptError(
                f"The index file {path} does not match its checksum in the manifest "
                f"(truncated, edited or swapped). It was not loaded. {REBUILD_HINT}"
            )


def describe_files(directory: Path, names: list[str]) -> dict[str, FileEntry]:
    return {
        name: FileEntry(
            sha256=file_sha256(directory / name), bytes=(directory / name).stat().st_size
        )
        for name in names
    }
