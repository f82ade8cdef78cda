"""Tests for evaluation.report: the files of ``ragqa eval --out DIR``, drawn
from a synthetic result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation.metrics import summarise
from evaluation.report import REPORT_FILES, failures, markdown_report, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the report, from a synthetic result --------------------------------------------------


def synthetic_result() -> dict[str, Any]:
    def record(qid: str, answerable: bool, answer: str, abstained: bool, **more: Any) -> dict:
        return {
            "id": qid,
            "question": f"Question {qid} | with a pipe?",
            "answerable": answerable,
            "answers": ["2010"] if answerable else [],
            "evidence": ["founded Xiaomi in 2010"] if answerable else [],
            "answer": answer,
            "abstained": abstained,
            "reason": "no passage is close to the question" if abstained else "",
            "citations": [],
            "retrieved": [{"rank": 1, "chunk_id": "c", "score": 1.0, "text": "Nothing."}],
            "latency_ms": 1500.0,
            "kind": "fact" if answerable else "unanswerable",
            **more,
        }

    records = [
        record("q1", True, "In 2010 [1].", False, correct=True, hit_rank=None),
        record("q2", True, "In 2011 [1].", False, correct=False, hit_rank=None),
        record("q3", True, "The documents don't say.", True, correct=False, hit_rank=None),
        record("q4", False, "Blue [1].", False, correct=False, hit_rank=None),
    ]
    result = summarise(records)
    result["by_kind"] = {"fact": summarise(records[:3]), "unanswerable": summarise(records[3:])}
    result["run"] = {"questions": "q.jsonl", "sample": None, "seed": None, "started": "now"}
    # Cited after summarising, so the metrics above stay as they are.
    records[1]["citations"] = [
        {"number": 1, "chunk_id": "r:0002", "document": "Annual report", "location": "page 3",
         "text": "In 2011 it grew.", "quote": "In 2011 it grew."}
    ]  # fmt: skip
    result["per_question"] = records
    return result


def test_failures_table_rows() -> None:
    rows = failures(synthetic_result())
    assert [r["id"] for r in rows] == ["q2", "q3", "q4"]
    assert rows[0] == {
        "id": "q2",
        "kind": "fact",
        "question": "Question q2 | with a pipe?",
        "expected": "2010",
        "answer": "In 2011 [1].",
        "cited": "[1] Annual report, page 3",
        "evidence_rank": ">10",
    }
    assert rows[1]["cited"] == "none"
    assert rows[1]["answer"] == "(abstained: no passage is close to the question)"
    assert rows[2]["expected"] == "(abstain)"
    assert rows[2]["evidence_rank"] == "n/a"


def test_write_report(tmp_path: Path) -> None:
    result = synthetic_result()
    paths = write_report(result, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(REPORT_FILES)
    for name in ("metrics.png", "latency.png"):
        assert paths[name].read_bytes().startswith(PNG_SIGNATURE)
    assert json.loads(paths["results.json"].read_text()) == result
    report = paths["report.md"].read_text()
    assert "| answer accuracy | 0.333 | 3 answerable questions |" in report
    assert "| citation precision | n/a |" in report
    assert "## Failures (3)" in report
    assert "Question q2 \\| with a pipe?" in report  # cell text escaped
    assert "| [1] Annual report, page 3 |" in report  # where the citation points
    assert "## By kind" in report
    assert paths["failures.csv"].read_text().count("\n") == 4  # header + 3 rows


def test_markdown_report_without_failures() -> None:
    result = synthetic_result()
    result["per_question"] = result["per_question"][:1]
    assert "None: every question was answered correctly" in markdown_report(result)
