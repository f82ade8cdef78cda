"""Keep uploaded files, safely, in the uploads folder of the data directory.

An uploaded file's name is something the browser says, so it is data: it may
be ``../../.bashrc``, ``/etc/passwd``, ``C:\\evil.txt`` or a name full of
control characters. :func:`safe_filename` reduces it to a plain base name of
``[A-Za-z0-9._ -]``; :func:`store_uploads` checks type and size, copies each
file into ``uploads_dir`` under that name (never where the name points) and
says, file by file, what it refused and why.

The copy is written next to its destination and renamed into place, so a
failed upload never leaves half a file behind. Uploading a file with the same
name as an earlier one replaces it: that is how a document is updated.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import RagqaError

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(RagqaError):
    """An uploaded file cannot be kept; the message names the file."""


@dataclass(frozen=True)
class UploadPolicy:
    """What the upload panel accepts."""

    max_bytes: int
    allowed_suffixes: frozenset[str]
    max_files: int = 10

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1. Currently it is {self.max_bytes}")
        if self.max_files < 1:
            raise ValueError(f"max_files must be at least 1. Currently it is {self.max_files}")
        if not self.allowed_suffixes:
            raise ValueError("allowed_suffixes must name at least one file type")


@dataclass(frozen=True)
class Refusal:
    name: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class StoredUploads:
    saved: list[Path] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def safe_filename(name: str) -> str:
    """A base name that is safe to create in a folder, derived from ``name``.

    Directories are dropped, characters outside ``[A-Za-z0-9._ -]`` become
    ``_``, and leading dots and spaces go (no hidden files). A name with
    nothing usable left raises :class:`UploadError`; a name whose stem is all
    foreign letters gets a stable stand-in stem so it is still accepted.

    >>> safe_filename("../../etc/Passwörter Liste.txt")
    'Passw_rter Liste.txt'
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name))[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    suffix = suffix.lower().strip("_ ")
    if not cleaned or (not stem and not suffix):
        raise UploadError(f"{name!r} is not a usable file name; rename the file and try again.")
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = "upload-" + hashlib.sha1(name.encode("utf-8", "replace")).hexdigest()[:8]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" .")
    return f"{stem}.{suffix}" if suffix else stem


def _copy_limited(source: Path, destination_dir: Path, max_bytes: int) -> Path:
    """Copy ``source`` to a new temporary file in ``destination_dir``, refusing
    to go past ``max_bytes`` (the size may change while it is read)."""
    descriptor, part_name = tempfile.mkstemp(dir=destination_dir, prefix=".part-")
    part = Path(part_name)
    try:
        with os.fdopen(descriptor, "wb") as handle, source.open("rb") as reader:
            copied = 0
            while chunk := reader.read(1024 * 1024):
                copied += len(chunk)
                if copied > max_bytes:
                    raise UploadError(f"is larger than the {_megabytes(max_bytes)} limit")
                handle.write(chunk)
        return part
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _unique(name: str, taken: set[str]) -> str:
    if name.lower() not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, dot = (stem, dot) if dot else (name, "")
    n = 2
    while f"{stem}-{n}{dot}{suffix}".lower() in taken:
        n += 1
    return f"{stem}-{n}{dot}{suffix}"


def _store_one(name: str, source: Path, root: Path, policy: UploadPolicy) -> Path:
    """Copy one file to ``root / name``; raises :class:`UploadError` with the reason."""
    suffix = Path(name).suffix.lower()
    if suffix not in policy.allowed_suffixes:
        raise UploadError(
            f"{suffix or 'a file without an extension'} is not a supported type "
            f"(use {', '.join(sorted(policy.allowed_suffixes))})"
        )
    try:
        if not source.is_file():
            raise UploadError("was not received completely; upload it again")
        size = source.stat().st_size
        if size > policy.max_bytes:
            raise UploadError(
                f"is {_megabytes(size)}, larger than the {_megabytes(policy.max_bytes)} limit"
            )
        if size == 0:
            raise UploadError("is empty")
        destination = root / name
        if destination.parent != root:  # cannot happen after safe_filename; stay sure
            raise UploadError("has a name that points outside the uploads folder")
        part = _copy_limited(source, root, policy.max_bytes)
        try:
            os.replace(part, destination)
        except OSError:
            part.unlink(missing_ok=True)
            raise
    except OSError as error:
        raise UploadError(f"could not be saved ({error.strerror or error})") from error
    return destination


def store_uploads(
    files: Sequence[tuple[str, Path]], uploads_dir: Path, policy: UploadPolicy
) -> StoredUploads:
    """Copy uploaded files into ``uploads_dir``; refuse the ones that do not fit.

    ``files`` pairs each file's name as uploaded with where its bytes are now
    (Gradio's temporary copy). Returns the saved paths, all directly inside
    ``uploads_dir``, and a :class:`Refusal` naming each file left out.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    root = uploads_dir.resolve()
    result = StoredUploads()
    taken: set[str] = set()
    for index, (shown_name, source) in enumerate(files):
        display = _UNSAFE.sub("_", shown_name)[:MAX_NAME_CHARS] or "(no name)"
        if index >= policy.max_files:
            reason = f"only {policy.max_files} files can be added at a time"
            result.refused.append(Refusal(display, reason))
            continue
        try:
            name = _unique(safe_filename(shown_name), taken)
        except UploadError:
            reason = "is not a usable file name; rename the file and try again"
            result.refused.append(Refusal(display, reason))
            continue
        try:
            result.saved.append(_store_one(name, source, root, policy))
        except UploadError as error:
            result.refused.append(Refusal(display, str(error)))
            continue
        taken.add(name.lower())
    return result


def remove_stored(paths: Sequence[Path], uploads_dir: Path) -> None:
    """Delete files this module stored (for uploads the indexer could not read)."""
    root = uploads_dir.resolve()
    for path in paths:
        if path.parent.resolve() == root and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)


def discard_temporary(paths: Sequence[Path]) -> None:
    """Delete Gradio's temporary copies once they have been stored (best effort)."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            if path.parent.is_dir() and not any(path.parent.iterdir()):
                shutil.rmtree(path.parent, ignore_errors=True)
        except OSError:
            continue
