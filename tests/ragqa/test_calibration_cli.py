"""``ragqa calibrate``: the command around evaluation.calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.errors import SavedModelError
from evaluation import calibration
from qa.abstention import FORMAT_VERSION, AbstentionFeatures, AbstentionModel
from ragqa import calibration_cli
from tests.fakes import HashEmbedder
from tests.ragqa.test_cli import assert_user_error, built_index, run  # noqa: F401 (built_index is a fixture)


def test_the_parser_defaults_are_the_fitting_defaults() -> None:
    assert calibration_cli.DEFAULT_MAX_FALSE_RATE == calibration.DEFAULT_MAX_FALSE_RATE
    assert calibration_cli.DEFAULT_L2 == calibration.DEFAULT_L2


def _question_file(
    path: Path,
    answerable: list[bool],
    unanswerable: str = "Which food did Lei Jun like in Xiantao?",
) -> Path:
    lines = [
        json.dumps(
            {
                "id": f"q{i}",
                "question": "When did Lei Jun found Xiaomi?" if y else unanswerable,
                "answers": ["2010"] if y else [],
                "evidence": ["Lei Jun founded Xiaomi in 2010."] if y else [],
                "answerable": y,
            }
        )
        for i, y in enumerate(answerable)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_calibrate_needs_both_kinds_of_question(
    built_index: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    questions = _question_file(tmp_path / "q.jsonl", [True, True])
    result = run(
        capsys, "calibrate", "--questions", str(questions), "--index-dir", str(built_index)
    )
    assert_user_error(result, "q.jsonl", "both answerable and unanswerable")


def test_calibrate_says_when_every_unanswerable_question_was_decided_before_the_model(
    built_index: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGQA_ANSWER__SELECTOR", "weighted")  # the hand-weighted model's check
    questions = _question_file(tmp_path / "q.jsonl", [True, False], unanswerable="Quelle heure?")
    result = run(
        capsys, "calibrate", "--questions", str(questions), "--index-dir", str(built_index)
    )
    assert_user_error(result, "q.jsonl", "only answerable questions are left")


def test_calibrate_refuses_an_unreadable_file(
    env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1", "question": \n', encoding="utf-8")
    assert_user_error(run(capsys, "calibrate", "--questions", str(broken)), "broken.jsonl")


def test_calibrate_writes_a_model_the_answerer_can_load(
    built_index: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGQA_ANSWER__SELECTOR", "weighted")  # the hand-weighted mode's model
    questions = _question_file(tmp_path / "q.jsonl", [True, False] * 6)
    out = tmp_path / "model.json"
    printed = _calibrate_twelve(capsys, questions, out, built_index)
    model = AbstentionModel.load(out, embedding_model=HashEmbedder.model_name)
    assert model.threshold == pytest.approx(printed["threshold"])
    assert set(model.weights) == set(AbstentionFeatures.names())
    assert printed["n_questions"] == 12 and printed["n_unanswerable"] == 6
    assert printed["n_decided_before_the_model"] == 0
    assert "at most 20%" in model.notes["how"]
    manifest = json.loads(out.read_text(encoding="utf-8"))["manifest"]
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["depends_on"] == {"embedding_model": HashEmbedder.model_name}
    assert manifest["rebuild_command"] == (
        f"ragqa calibrate --questions {questions} --out {out} --max-false-rate 0.2 "
        f"--index-dir {built_index}"
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-false-rate", "1.5", "below 1"),
        ("--max-false-rate", "-0.1", "at least 0"),
        ("--max-false-rate", "lots", "not a number"),
        ("--l2", "-1", "at least 0"),
    ],
)
def test_calibrate_refuses_bad_settings(
    env: Path,
    tmp_path: Path,
    flag: str,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    questions = _question_file(tmp_path / "q.jsonl", [True, False])
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "calibrate", "--questions", str(questions), flag, value)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_with_the_learned_selector_calibrate_refits_its_threshold(
    built_index: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its score threshold is refitted on the user's questions, saved for
    that network only, and the answerer uses it."""
    from qa.selector import AnswerSelector, SelectorThreshold

    monkeypatch.setenv("RAGQA_ANSWER__SELECTOR", "learned")
    questions = _question_file(tmp_path / "q.jsonl", [True, False] * 6)
    out = tmp_path / "threshold.json"
    printed = _calibrate_twelve(capsys, questions, out, built_index)
    assert printed["n_questions"] == 12 and printed["n_unanswerable"] == 6
    assert printed["training"]["abstention.false_rate"] <= 0.2
    selector = AnswerSelector.load()
    saved = SelectorThreshold.load(out, selector)
    assert saved.abstain_below == pytest.approx(printed["abstain_below"])
    manifest = json.loads(out.read_text(encoding="utf-8"))["manifest"]
    assert manifest["kind"] == "answer selector threshold"
    assert manifest["depends_on"] == {"model_sha256": selector.model_sha256}
    # The weighted mode's loader refuses it: another kind of model file.
    with pytest.raises(SavedModelError, match="answer selector threshold"):
        AbstentionModel.load(out, embedding_model=HashEmbedder.model_name)


def _calibrate_twelve(
    capsys: pytest.CaptureFixture[str], questions: Path, out: Path, index: Path
) -> dict[str, object]:
    """``ragqa calibrate`` with a 20% false-abstention budget; its printed JSON."""
    code, stdout, _ = run(
        capsys,
        "calibrate",
        "--questions",
        str(questions),
        "--out",
        str(out),
        "--max-false-rate",
        "0.2",
        "--index-dir",
        str(index),
    )
    assert code == 0
    return json.loads(stdout)
