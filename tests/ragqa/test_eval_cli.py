"""Tests for ``ragqa eval`` and ``ragqa eval-retrieval`` (the report itself:
tests/evaluation/test_report.py).

Input errors are checked before any model loads, so those tests are fast;
the real runs are marked ``integration``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.metrics import summarise
from evaluation.report import REPORT_FILES
from ragqa.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RAGQA_INDEX_DIR", raising=False)
    monkeypatch.delenv("RAGQA_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./ragqa.toml from the working tree


def five_questions(path: Path) -> Path:
    """Four answerable questions and one unanswerable from the dev set."""
    rows = [json.loads(line) for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    chosen = [r for r in rows if r["answerable"]][:4] + [r for r in rows if not r["answerable"]][:1]
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    return path


def tiny_beir(root: Path) -> Path:
    corpus = [
        ("d1", "Xiaomi", "Lei Jun founded Xiaomi in 2010 together with seven partners."),
        ("d2", "Kingsoft", "Lei Jun joined Kingsoft in 1992 and later became its CEO."),
        ("d3", "Wuhan", "Lei Jun studied computer science at Wuhan University."),
        ("d4", "Phones", "The Mi 1 smartphone was released in 2011 at a low price."),
    ]
    queries = [("q1", "When was Xiaomi founded?"), ("q2", "Where did Lei Jun go to university?")]
    root.mkdir()
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in corpus)
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": x}) + "\n" for i, x in queries)
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return root


# --- input errors: exit 2 with file, line and reason, before any model loads ------------


def test_eval_rejects_a_malformed_question_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "question": "Why?", "answers": ["x"], "evidence": [], "answerable": true}\n'
        '{"id": "b", "question": "Why?", "answers": "x", "evidence": [], "answerable": true}\n'
    )
    assert main(["eval", "--questions", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:2: 'answers' must be a list" in captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sample", "0"], "--sample must be 1 or more"),
        (["--out", "{file}"], "is a file; give a folder"),
    ],
)
def test_eval_checks_options_first(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    questions = five_questions(tmp_path / "q.jsonl")
    extra = [e.replace("{file}", str(questions)) for e in extra]
    assert main(["eval", "--questions", str(questions), *extra]) == 2
    assert message in capsys.readouterr().err


def test_eval_needs_an_existing_index_dir(tmp_path: Path, capsys) -> None:
    questions = five_questions(tmp_path / "q.jsonl")
    code = main(["eval", "--questions", str(questions), "--index-dir", str(tmp_path / "none")])
    assert code == 2
    assert "No index at" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beir", "{root}/nowhere"], "is not a folder"),
        (["--beir", "{root}/beir", "--top-k", "0"], "--top-k must be 1 or more"),
        (["--beir", "{root}/beir", "--mode", "fuzzy"], "Unknown retrieval mode 'fuzzy'"),
        (["--beir", "{root}/beir", "--split", "dev"], "qrels/dev.tsv is missing"),
    ],
)
def test_eval_retrieval_input_errors(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    tiny_beir(tmp_path / "beir")
    args = [a.replace("{root}", str(tmp_path)) for a in args]
    assert main(["eval-retrieval", *args, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


# --- real runs ----------------------------------------------------------------------------

FORMAT_KEYS = {
    "n_questions": int,
    "retrieval": dict,
    "answer": dict,
    "citations": dict,
    "abstention": dict,
    "latency_ms": dict,
    "per_question": list,
}
GROUP_KEYS = {
    "retrieval": {"hit@1", "hit@3", "hit@5", "hit@10", "mrr"},
    "answer": {"accuracy", "mean_words"},
    "citations": {"precision", "recall"},
    "abstention": {"recall", "false_rate"},
    "latency_ms": {"p50", "p95"},
}
RECORD_KEYS = {
    "id",
    "answer",
    "abstained",
    "citations",
    "retrieved",
    "hit_rank",
    "correct",
    "latency_ms",
}


@pytest.mark.integration
def test_eval_json_on_five_questions(tmp_path: Path, capfd, default_index_dir: Path) -> None:
    questions = five_questions(tmp_path / "five.jsonl")
    out = tmp_path / "report"
    code = main(
        [
            "eval",
            "--questions",
            str(questions),
            "--index-dir",
            str(default_index_dir),
            "--json",
            "--out",
            str(out),
        ]
    )
    captured = capfd.readouterr()  # file-descriptor level: catches native libraries too
    assert code == 0, captured.err
    assert captured.out.count("\n") == 1 and captured.out.endswith("}\n")
    result = json.loads(captured.out)  # exactly one JSON object, nothing else

    for key, kind in FORMAT_KEYS.items():
        assert isinstance(result[key], kind), key
    for group, keys in GROUP_KEYS.items():
        assert set(result[group]) >= keys, group
        for key in keys:
            value = result[group][key]
            assert value is None or isinstance(value, float | int), (group, key)
    assert result["n_questions"] == 5
    assert result["abstention"]["recall"] in (0.0, 1.0)
    assert result["retrieval"]["hit@10"] >= result["retrieval"]["hit@1"]
    assert result["run"]["questions"] == str(questions)

    assert [r["id"] for r in result["per_question"]] == [
        json.loads(line)["id"] for line in questions.read_text().splitlines()
    ]
    for record in result["per_question"]:
        assert set(record) >= RECORD_KEYS
        assert "kind" in record  # extra fields are copied
        assert len(record["retrieved"]) == 10
        assert all(set(hit) >= {"chunk_id", "score", "text"} for hit in record["retrieved"])
        assert all(set(c) >= {"chunk_id", "text"} for c in record["citations"])
        assert record["latency_ms"] > 0
    # The JSON alone is enough to recompute every metric.
    again = summarise(result["per_question"])
    for group in ("retrieval", "answer", "citations", "abstention"):
        for key, value in again[group].items():
            expected = None if value is None else pytest.approx(value, abs=1e-4)
            assert result[group][key] == expected, (group, key)

    assert sorted(p.name for p in out.iterdir()) == sorted([*REPORT_FILES, "per_question.jsonl"])
    assert json.loads((out / "results.json").read_text()) == result
    saved = [json.loads(line) for line in (out / "per_question.jsonl").read_text().splitlines()]
    assert saved == result["per_question"]  # written as the run went
    assert (out / "metrics.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.integration
def test_eval_retrieval_json_on_a_tiny_beir_set(tmp_path: Path, capfd, real_embedder) -> None:
    root = tiny_beir(tmp_path / "tiny")
    assert main(["eval-retrieval", "--beir", str(root), "--json", "--top-k", "3"]) == 0
    first = json.loads(capfd.readouterr().out)
    assert set(first) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "n_queries", "seconds"}
    assert first["n_queries"] == 2
    assert first["index_reused"] is False
    assert first["mrr@10"] == 1.0  # both answers are unmistakable
    assert first["ndcg@10"] == 1.0
    assert Path(first["index_dir"]).parent == tmp_path / "data" / "beir"

    assert main(["eval-retrieval", "--beir", str(root), "--json", "--mode", "dense"]) == 0
    second = json.loads(capfd.readouterr().out)
    assert second["index_reused"] is True  # the mode does not change the index
    assert second["retrieval"]["mode"] == "dense"
