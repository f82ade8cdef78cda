"""The learned answer selector: refusals of bad model files, and the shipped model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus.errors import SavedModelError
from qa.selector import (
    DEFAULT_SELECTOR_DIR,
    MANIFEST_FILE,
    MODEL_FILE,
    REBUILD_COMMAND,
    AnswerSelector,
    SelectorThreshold,
    passage_text,
    read_manifest,
)


@pytest.fixture(scope="module")
def shipped() -> AnswerSelector:
    return AnswerSelector.load()


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "selector"
    shutil.copytree(DEFAULT_SELECTOR_DIR, target)
    return target


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / MANIFEST_FILE
    data = json.loads(path.read_text())
    data["manifest"].update(changes)
    path.write_text(json.dumps(data))


def _edit_dependency(folder: Path, **changes: str) -> None:
    path = folder / MANIFEST_FILE
    data = json.loads(path.read_text())
    data["manifest"]["depends_on"].update(changes)
    path.write_text(json.dumps(data))


def test_the_shipped_model_is_small_and_its_manifest_says_how_to_rebuild_it() -> None:
    data = read_manifest(DEFAULT_SELECTOR_DIR)
    assert (DEFAULT_SELECTOR_DIR / MODEL_FILE).stat().st_size < 30 * 1024 * 1024
    assert data["manifest"]["rebuild_command"] == REBUILD_COMMAND
    assert data["training_data"]["sha256"]
    assert set(data["training_data"]["training_articles"]).isdisjoint(
        data["training_data"]["validation_articles"]
    )
    assert data["manifest"]["validation"]["top1"] > 0.5
    assert 0.0 < data["calibration"]["abstain_below"] < 1.0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / MANIFEST_FILE).unlink(), "cannot be read"),
        (lambda f: (f / MANIFEST_FILE).write_text("{not json"), "cannot be read"),
        (lambda f: (f / MANIFEST_FILE).write_text("{}"), "has no manifest"),
        (lambda f: _edit_manifest(f, format_version=99), "format version 99"),
        (lambda f: _edit_manifest(f, kind="abstention model"), "not 'answer selector'"),
        (lambda f: (f / MODEL_FILE).unlink(), "has no model.onnx"),
        (lambda f: (f / MODEL_FILE).write_bytes(b"garbage"), "model sha256"),
        (lambda f: _edit_dependency(f, base_model_sha256="0" * 64), "base model sha256"),
    ],
)
def test_a_damaged_or_mismatched_model_is_refused_with_the_rebuild_command(
    copy: Path, damage: object, message: str
) -> None:
    damage(copy)  # type: ignore[operator]
    with pytest.raises(SavedModelError, match=message) as raised:
        AnswerSelector.load(copy)
    assert REBUILD_COMMAND in str(raised.value)


def test_the_answering_sentence_scores_above_its_neighbours(shipped: AnswerSelector) -> None:
    sentences = [
        ("Lei Jun", "Lei Jun studied computer science at Wuhan University."),
        ("Lei Jun", "In 1992, he started as the sixth employee at Kingsoft."),
        ("Lei Jun", "He founded Xiaomi in 2010 with several partners."),
    ]
    scores = shipped.score("When did Lei Jun join Kingsoft?", sentences)
    assert scores.shape == (3,)
    assert int(scores.argmax()) == 1
    assert all(0.0 < s < 1.0 for s in scores)


def test_scores_barely_depend_on_batching_and_repeat_exactly(shipped: AnswerSelector) -> None:
    """Int8 activations are quantised per batch, so a score moves slightly
    with its batch-mates (about 0.001 here); the same candidates always get
    the same scores, and the answering sentence stays on top."""
    question = "Where did Lei Jun study?"
    candidates = [
        ("Lei Jun", f"Sentence number {n} says little about anything at all.") for n in range(40)
    ]
    candidates.append(("Lei Jun", "He attended Wuhan University."))
    together = shipped.score(question, candidates)
    alone = shipped.score(question, candidates[-1:])
    assert together[-1] == pytest.approx(alone[0], abs=0.01)
    assert int(together.argmax()) == len(candidates) - 1
    assert (shipped.score(question, candidates) == together).all()
    assert shipped.score(question, []).shape == (0,)


def test_the_passage_carries_the_title() -> None:
    assert passage_text(" Lei  Jun ", "He was born.") == "Lei Jun | He was born."
    assert passage_text("", "He was born.") == "He was born."


def test_a_refitted_threshold_is_kept_for_its_own_selector_only(
    shipped: AnswerSelector, tmp_path: Path
) -> None:
    path = tmp_path / "threshold.json"
    SelectorThreshold(0.25, {"fitted_on": "q.jsonl"}).save(
        path, shipped, rebuild_command="ragqa calibrate --questions q.jsonl --out t.json"
    )
    loaded = SelectorThreshold.load(path, shipped)
    assert loaded.abstain_below == 0.25 and loaded.notes == {"fitted_on": "q.jsonl"}
    data = json.loads(path.read_text())
    data["manifest"]["depends_on"]["model_sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(SavedModelError, match=r"ragqa calibrate --questions q\.jsonl"):
        SelectorThreshold.load(path, shipped)
    with pytest.raises(ValueError, match="abstain_below"):
        SelectorThreshold(1.5)


def test_the_pipeline_quotes_the_selectors_choice_and_abstains_below_its_threshold(
    tmp_path: Path,
) -> None:
    """The learned selector with the fake embedder: the sentence that answers
    is quoted, scored at or above the threshold."""
    from indexer.embedder import EmbedderConfig
    from qa.answerer import AnswerConfig
    from qa.pipeline import Pipeline, PipelineConfig
    from tests.fakes import HashEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ada.txt").write_text(
        "Ada Lund\n\nAda Lund grew up in Bergen and loved the sea. In 1931 she founded "
        "the Lund Institute, which studies glaciers. She died in Oslo in 1980.",
        encoding="utf-8",
    )
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=tmp_path / "index",
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            answer=AnswerConfig(selector="learned"),
        ),
        embedder=HashEmbedder(),
    )
    pipeline.build_index([docs])
    assert pipeline.selector is not None
    answer = pipeline.ask("When did Ada Lund found the institute?")
    assert not answer.abstained
    assert "1931" in answer.text
    assert answer.confidence >= pipeline.selector.abstain_below
