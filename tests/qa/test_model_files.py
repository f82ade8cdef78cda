"""Saved model files carry a manifest, and a file that does not fit is refused
with the command that rebuilds it (qa/model_files.py, qa/abstention.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus.errors import SavedModelError, SavedModelMismatchError
from indexer.embedder import DEFAULT_EMBEDDING_MODEL
from qa.abstention import FORMAT_VERSION, SHIPPED_MODEL, AbstentionFeatures, AbstentionModel
from qa.model_files import (
    ModelManifest,
    ModelRequirement,
    check_model_manifest,
    read_model_file,
)
from ragqa.cli import main
from tests.fakes import HashEmbedder

EMBEDDER = "test/embedder-a"
COMMAND = "ragqa calibrate --questions mine.jsonl --out model.json --collection papers"
SHIPPED_COMMAND = (
    "ragqa calibrate --questions eval/dev_questions.jsonl --out qa/abstention_model.json"
)


def _model() -> AbstentionModel:
    return AbstentionModel(dict.fromkeys(AbstentionFeatures.names(), 0.5), bias=-1.0, threshold=0.4)


def _saved(path: Path, embedding_model: str = EMBEDDER) -> dict[str, Any]:
    _model().save(path, embedding_model=embedding_model, rebuild_command=COMMAND)
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_saved_model_records_its_format_and_embedding_model(tmp_path: Path) -> None:
    data = _saved(tmp_path / "model.json")
    assert data["manifest"] == {
        "kind": "abstention model",
        "format_version": FORMAT_VERSION,
        "depends_on": {"embedding_model": EMBEDDER},
        "rebuild_command": COMMAND,
        "validation": {},
    }
    assert AbstentionModel.load(tmp_path / "model.json", embedding_model=EMBEDDER) == _model()


def test_the_shipped_model_records_what_it_was_fitted_on() -> None:
    manifest = json.loads(SHIPPED_MODEL.read_text(encoding="utf-8"))["manifest"]
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["depends_on"] == {"embedding_model": DEFAULT_EMBEDDING_MODEL}
    assert manifest["rebuild_command"] == SHIPPED_COMMAND
    AbstentionModel.load(embedding_model=DEFAULT_EMBEDDING_MODEL)


def _without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["manifest"].pop(key)


def _setting(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["manifest"].__setitem__(key, value)


# (what is done to a good file, the error, words of its message, the command it gives)
REFUSALS: list[tuple[str, Callable[[dict[str, Any]], None], type, str, str]] = [
    (
        "other format version",
        _setting("format_version", 2),
        SavedModelMismatchError,
        "format version 2; this ragqa reads version 1",
        COMMAND,
    ),
    (
        "other embedding model",
        _setting("depends_on", {"embedding_model": "other/model"}),
        SavedModelMismatchError,
        "made for embedding model 'other/model', not 'test/embedder-a'",
        COMMAND,
    ),
    (
        "other kind",
        _setting("kind", "reranker"),
        SavedModelMismatchError,
        "is of kind 'reranker', not 'abstention model'",
        "--out {path}",
    ),
    (
        "no manifest",
        lambda data: data.pop("manifest"),
        SavedModelError,
        "has no manifest",
        "--out {path}",
    ),
    (
        "no format version",
        _without("format_version"),
        SavedModelError,
        "the manifest has no format_version",
        "--out {path}",
    ),
    (
        "no dependencies",
        _without("depends_on"),
        SavedModelError,
        "the manifest has no depends_on",
        "--out {path}",
    ),
    (
        "no embedding model",
        _setting("depends_on", {}),
        SavedModelError,
        "does not record its embedding model",
        COMMAND,
    ),
    (
        "format version as text",
        _setting("format_version", "1"),
        SavedModelError,
        "format_version must be a whole number",
        "--out {path}",
    ),
    (
        "manifest not an object",
        lambda data: data.__setitem__("manifest", []),
        SavedModelError,
        "the manifest must be a JSON object",
        "--out {path}",
    ),
    (
        "no weights",
        lambda data: data.pop("weights"),
        SavedModelError,
        "has damaged weights",
        COMMAND,
    ),
    (
        "no threshold",
        lambda data: data.pop("threshold"),
        SavedModelError,
        "has damaged weights",
        COMMAND,
    ),
    (
        "a weight missing",
        lambda data: data["weights"].pop("draft"),
        SavedModelError,
        "has damaged weights",
        COMMAND,
    ),
    (
        "a weight as text",
        lambda data: data["weights"].__setitem__("draft", "high"),
        SavedModelError,
        "has damaged weights",
        COMMAND,
    ),
]


@pytest.mark.parametrize(
    ("case", "damage", "error", "problem", "command"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_a_model_file_that_does_not_fit_is_refused_with_the_command_that_refits_it(
    tmp_path: Path,
    case: str,
    damage: Callable[[dict[str, Any]], None],
    error: type,
    problem: str,
    command: str,
) -> None:
    path = tmp_path / "model.json"
    data = _saved(path)
    damage(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(error) as refused:
        AbstentionModel.load(path, embedding_model=EMBEDDER)
    message = str(refused.value)
    assert str(path) in message and problem in message, message
    assert "Rebuild it: `ragqa calibrate --questions " in message
    assert command.format(path=path) in message, message


@pytest.mark.parametrize(
    ("case", "content"),
    [
        ("damaged JSON", b'{"manifest": {"kind": '),
        ("not UTF-8", b"\xff\xfe\x00"),
        ("empty", b""),
        ("a list", b"[1, 2]"),
    ],
)
def test_an_unreadable_model_file_is_refused(tmp_path: Path, case: str, content: bytes) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(SavedModelError, match="Rebuild it: `ragqa calibrate --questions"):
        AbstentionModel.load(path, embedding_model=EMBEDDER)


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SavedModelError, match="cannot be read"):
        AbstentionModel.load(tmp_path / "absent.json", embedding_model=EMBEDDER)


def test_the_shipped_model_refused_for_another_embedder_names_its_own_refit(
    tmp_path: Path,
) -> None:
    with pytest.raises(SavedModelMismatchError) as refused:
        AbstentionModel.load(embedding_model="other/model")
    assert f"`{SHIPPED_COMMAND}`" in str(refused.value)


def test_a_version_1_file_from_before_manifests_is_refused(tmp_path: Path) -> None:
    """The shipped file as it was before it recorded its format and embedder."""
    old = {k: v for k, v in json.loads(SHIPPED_MODEL.read_text()).items() if k != "manifest"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(SavedModelError, match="has no manifest"):
        AbstentionModel.load(path, embedding_model=DEFAULT_EMBEDDING_MODEL)


# --- the reusable pieces, on their own ------------------------------------------------
REQUIRED = ModelRequirement(
    "learned model", 3, {"base_model": "base-a", "data_sha256": "abc"}, "make"
)


def _manifest(**changes: Any) -> dict[str, Any]:
    made = ModelManifest(
        "learned model",
        3,
        {"base_model": "base-a", "data_sha256": "abc", "tokenizer": "t"},
        "make --from data.jsonl",
        {"accuracy": 0.9},
    )
    return {"manifest": made.to_dict() | changes, "weights": "w.safetensors"}


def test_a_manifest_that_fits_is_returned_and_extra_dependencies_are_ignored() -> None:
    manifest = check_model_manifest(_manifest(), REQUIRED, Path("m.json"))
    assert manifest.validation == {"accuracy": 0.9} and manifest.format_version == 3


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"depends_on": {"base_model": "base-b", "data_sha256": "abc"}}, "base model 'base-b'"),
        ({"depends_on": {"base_model": "base-a", "data_sha256": "def"}}, "data sha256 'def'"),
        ({"format_version": 4}, "format version 4"),
    ],
)
def test_a_learned_model_built_on_something_else_is_refused(changes: dict, words: str) -> None:
    with pytest.raises(SavedModelMismatchError, match=f"{words}.*`make --from data.jsonl`"):
        check_model_manifest(_manifest(**changes), REQUIRED, Path("m.json"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"rebuild_command": " "}, "rebuild_command must be a command"),
        ({"validation": {"accuracy": "high"}}, "validation must map names to numbers"),
        ({"depends_on": {"base_model": 7}}, "depends_on must map names to non-empty texts"),
        ({"kind": ""}, "kind must be a non-empty text"),
        ({"format_version": True}, "format_version must be a whole number"),
        ({"format_version": 0}, "format_version must be a whole number"),
    ],
)
def test_a_damaged_manifest_is_refused_with_the_loaders_command(changes: dict, words: str) -> None:
    with pytest.raises(SavedModelError, match=f"damaged manifest: {words}.*`make`$"):
        check_model_manifest(_manifest(**changes), REQUIRED, Path("m.json"))


def test_read_model_file_returns_the_data_and_its_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_manifest()), encoding="utf-8")
    data, manifest = read_model_file(path, REQUIRED)
    assert data["weights"] == "w.safetensors" and manifest.kind == "learned model"


# --- through the command line --------------------------------------------------------
def test_ask_refuses_a_model_fitted_for_another_embedder(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "other.json"
    _model().save(model, embedding_model="other/model", rebuild_command=COMMAND)
    monkeypatch.setenv("RAGQA_ANSWER__ABSTENTION_MODEL", str(model))
    monkeypatch.setenv("RAGQA_ANSWER__SELECTOR", "weighted")  # the hand-weighted mode's model file
    assert main(["index"]) == 0
    capsys.readouterr()
    assert main(["ask", "When was Lei Jun born?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The abstention model") and "Traceback" not in err
    assert f"made for embedding model 'other/model', not '{HashEmbedder.model_name}'" in err
    assert f"`{COMMAND}`" in err


def test_calibrate_refits_a_model_that_is_refused(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command a refusal gives works: calibration does not consult the refused model."""
    model = tmp_path / "model.json"
    _model().save(model, embedding_model="other/model", rebuild_command=COMMAND)
    monkeypatch.setenv("RAGQA_ANSWER__ABSTENTION_MODEL", str(model))
    monkeypatch.setenv("RAGQA_ANSWER__SELECTOR", "weighted")  # the hand-weighted mode's model file
    questions = tmp_path / "q.jsonl"
    asked = [
        ("When was Lei Jun born?", ["1969"]),
        ("Where did Lei Jun study?", ["Wuhan University"]),
        ("What did Lei Jun eat for breakfast?", []),
        ("What is Lei Jun's favourite colour?", []),
    ]
    rows = [
        {"id": f"q{n}", "question": q, "answers": a, "evidence": [], "answerable": bool(a)}
        for n, (q, a) in enumerate(asked)
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["calibrate", "--questions", str(questions), "--out", str(model)]) == 0, (
        capsys.readouterr().err
    )
    assert AbstentionModel.load(model, embedding_model=HashEmbedder.model_name)
