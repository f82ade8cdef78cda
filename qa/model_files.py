"""Saved model files say what they are and what they were made from.

A fitted model is only right beside what it was fitted on: the abstention
model's weights weigh one embedding model's cosine similarities, and a model
trained on top of a base model needs that base model. So every model file we
save carries a manifest, a JSON object under its ``"manifest"`` key::

    {"manifest": {"kind": "abstention model",
                  "format_version": 1,
                  "depends_on": {"embedding_model": "sentence-transformers/all-MiniLM-L6-v2"},
                  "rebuild_command": "ragqa calibrate --questions q.jsonl --out m.json",
                  "validation": {}},
     ... the model's own fields ...}

and its loader states what it needs in a :class:`ModelRequirement`.
:func:`read_model_file` refuses a file that is damaged, has no manifest, is of
another kind or format version, or depends on something other than what it
is about to be used with, raising :class:`~corpus.errors.SavedModelError`
(:class:`~corpus.errors.SavedModelMismatchError` for the last two) with the
command that rebuilds it, instead of giving quietly wrong answers.

``depends_on`` holds whatever the model needs to be right: an embedding or
base model's name, a training set's checksum. The loader checks the
dependencies it can name and ignores the others; ``validation`` keeps the
figures measured when the model was made (cross-validated rates, a held-out
score), for people and reports to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import SavedModelError, SavedModelMismatchError

MANIFEST_KEY = "manifest"


@dataclass(frozen=True)
class ModelManifest:
    """What a model file is, in which format, what it depends on and how it was made.

    >>> manifest = ModelManifest("abstention model", 1, {"embedding_model": "m"}, "make it")
    >>> ModelManifest.from_dict(manifest.to_dict()) == manifest
    True
    """

    kind: str
    format_version: int
    depends_on: Mapping[str, str]
    rebuild_command: str
    validation: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"kind must be a non-empty text. Currently it is {self.kind!r}")
        if (
            not isinstance(self.format_version, int)
            or isinstance(self.format_version, bool)
            or self.format_version < 1
        ):
            raise ValueError(
                f"format_version must be a whole number from 1. Currently it is "
                f"{self.format_version!r}"
            )
        if not isinstance(self.depends_on, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in self.depends_on.items()
        ):
            raise ValueError(
                f"depends_on must map names to non-empty texts. Currently it is {self.depends_on!r}"
            )
        if not isinstance(self.rebuild_command, str) or not self.rebuild_command.strip():
            raise ValueError(
                f"rebuild_command must be a command. Currently it is {self.rebuild_command!r}"
            )
        if not isinstance(self.validation, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in self.validation.items()
        ):
            raise ValueError(
                f"validation must map names to numbers. Currently it is {self.validation!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format_version": self.format_version,
            "depends_on": dict(self.depends_on),
            "rebuild_command": self.rebuild_command,
            "validation": dict(self.validation),
        }

    @classmethod
    def from_dict(cls, data: object) -> ModelManifest:
        """The manifest in ``data``; ``ValueError`` naming what is missing or wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"the manifest must be a JSON object, not {type(data).__name__}")
        missing = [
            name
            for name in ("kind", "format_version", "depends_on", "rebuild_command")
            if name not in data
        ]
        if missing:
            raise ValueError(f"the manifest has no {', '.join(missing)}")
        return cls(
            kind=data["kind"],
            format_version=data["format_version"],
            depends_on=data["depends_on"],
            rebuild_command=data["rebuild_command"],
            validation=data.get("validation", {}),
        )


@dataclass(frozen=True)
class ModelRequirement:
    """What a loader needs of a model file.

    ``depends_on``: what the model will be used with (``{"embedding_model":
    "sentence-transformers/all-MiniLM-L6-v2"}``); the file must record the
    same. ``rebuild_command`` is shown when the file cannot say how it was
    made (damaged, or without a manifest); otherwise the file's own is.
    """

    kind: str
    format_version: int
    depends_on: Mapping[str, str]
    rebuild_command: str


def refusal(
    path: Path, kind: str, problem: str, command: str, *, mismatch: bool = False
) -> SavedModelError:
    """The error for model file ``path``: what is wrong, and the command that rebuilds it."""
    error = SavedModelMismatchError if mismatch else SavedModelError
    return error(f"The {kind} {path} {problem}, so it is not used. Rebuild it: `{command}`")


def check_model_manifest(data: object, required: ModelRequirement, path: Path) -> ModelManifest:
    """The manifest of the model file ``path`` (parsed JSON ``data``), checked
    against ``required``.

    >>> needs = ModelRequirement("abstention model", 1, {"embedding_model": "a"}, "refit")
    >>> made = ModelManifest("abstention model", 1, {"embedding_model": "b"}, "refit it")
    >>> check_model_manifest({"manifest": made.to_dict()}, needs, Path("m.json"))
    Traceback (most recent call last):
    ...
    corpus.errors.SavedModelMismatchError: The abstention model m.json was made for embedding model 'b', not 'a' (the one in use), so it is not used. Rebuild it: `refit it`
    """
    if not isinstance(data, Mapping) or MANIFEST_KEY not in data:
        raise refusal(
            path,
            required.kind,
            "has no manifest (made before model files recorded their format and what "
            "they depend on, or not one of ours)",
            required.rebuild_command,
        )
    try:
        manifest = ModelManifest.from_dict(data[MANIFEST_KEY])
    except ValueError as error:
        raise refusal(
            path, required.kind, f"has a damaged manifest: {error}", required.rebuild_command
        ) from None
    command = manifest.rebuild_command
    if manifest.kind != required.kind:
        raise refusal(
            path,
            required.kind,
            f"is of kind {manifest.kind!r}, not {required.kind!r}",
            required.rebuild_command,
            mismatch=True,
        )
    if manifest.format_version != required.format_version:
        raise refusal(
            path,
            required.kind,
            f"has format version {manifest.format_version}; this ragqa reads version "
            f"{required.format_version}",
            command,
            mismatch=True,
        )
    for name, expected in required.depends_on.items():
        words = name.replace("_", " ")
        found = manifest.depends_on.get(name)
        if found is None:
            raise refusal(path, required.kind, f"does not record its {words}", command)
        if found != expected:
            raise refusal(
                path,
                required.kind,
                f"was made for {words} {found!r}, not {expected!r} (the one in use)",
                command,
                mismatch=True,
            )
    return manifest


def read_model_file(path: Path, required: ModelRequirement) -> tuple[dict[str, Any], ModelManifest]:
    """The JSON object in model file ``path`` and its checked manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise refusal(
            path, required.kind, f"cannot be read ({error})", required.rebuild_command
        ) from error
    manifest = check_model_manifest(data, required, path)
    return dict(data), manifest
