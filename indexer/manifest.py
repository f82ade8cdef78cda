"""The versioned manifest saved beside every index.

``manifest.json`` is human-readable and says what the index holds and how it
was made: the format version, the embedding model and its dimension, the
chunking settings, one content hash per document and a SHA-256 checksum of
every other file. :func:`verify_files` checks the checksums *before* any file
is opened by FAISS or SQLite, so a truncated, flipped or swapped file is
reported instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import IndexCorruptError, IndexMismatchError

FORMAT_NAME = "ragqa-index"
FORMAT_VERSION = 1
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: Path) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT_NAME:
                raise IndexCorruptError(
                    f"{where} is not a ragqa index manifest (format={data.get('format')!r}). "
                    "Rebuild the index with `ragqa index`."
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
            )
        except IndexCorruptError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IndexCorruptError(
                f"The index manifest {where} is unreadable ({error!r}). "
                "Rebuild the index with `ragqa index`."
            ) from error

    def check_compatible(self, *, embedding_model: str, where: Path) -> None:
        """Refuse an index made by another format version or embedding model."""
        if self.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {where} has format version {self.format_version}, but this "
                f"ragqa reads version {FORMAT_VERSION}. Rebuild it with `ragqa index` "
                "(add the folders you indexed, and --index-dir if you used one)."
            )
        if self.embedding_model != embedding_model:
            raise IndexMismatchError(
                f"The index at {where} was built with the embedding model "
                f"{self.embedding_model!r}, but ragqa is set to use {embedding_model!r}. "
                "Rebuild it with `ragqa index` or set the embedding model back."
            )


def verify_files(manifest: Manifest, directory: Path) -> None:
    """Check size and SHA-256 of every file the manifest lists."""
    if not manifest.files:
        raise IndexCorruptError(f"The manifest in {directory} lists no files. Rebuild the index.")
    for name, expected in manifest.files.items():
        path = directory / name
        if ".." in Path(name).parts or Path(name).is_absolute() or not path.is_file():
            raise IndexCorruptError(
                f"The index file {path} is missing. Rebuild the index with `ragqa index`."
            )
        size = path.stat().st_size
        if size != expected.bytes or file_sha256(path) != expected.sha256:
            raise IndexCorruptError(
                f"The index file {path} does not match its checksum in the manifest "
                "(truncated, edited or swapped). It was not loaded. "
                "Rebuild the index with `ragqa index`."
            )


def describe_files(directory: Path, names: list[str]) -> dict[str, FileEntry]:
    return {
        name: FileEntry(
            sha256=file_sha256(directory / name), bytes=(directory / name).stat().st_size
        )
        for name in names
    }
