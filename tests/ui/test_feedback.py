"""Tests for ui.feedback: one complete JSON object per line, whatever happens."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from qa.types import Answer, Citation
from ui.feedback import FEEDBACK_FORMAT, FeedbackLog, feedback_record, rating_from_like


def an_answer(text: str = "Lei Jun was born in 1969. [1]") -> Answer:
    cite = Citation(1, "bio:0000", "bio", "Bio", "/c/bio.txt", 10, 35, "Lei Jun was born in 1969.")
    return Answer(
        question="When was Lei Jun born?",
        text=text,
        abstained=False,
        citations=[cite],
        hits=[],
        retrieval_query="When was Lei Jun born?",
    )


@pytest.mark.parametrize(
    ("liked", "rating"),
    [(True, "up"), (False, "down"), ("", "cleared"), (None, "cleared"), ("Like", "up"),
     ("Dislike", "down")],
)  # fmt: skip
def test_rating_from_like(liked, rating) -> None:
    assert rating_from_like(liked) == rating


def test_record_carries_question_answer_and_citations() -> None:
    record = feedback_record(an_answer(), "up", turn=2)
    assert record["format"] == FEEDBACK_FORMAT
    assert record["rating"] == "up" and record["turn"] == 2
    assert record["question"] == "When was Lei Jun born?"
    assert record["answer"] == "Lei Jun was born in 1969. [1]"
    assert record["retrieval_query"] == "When was Lei Jun born?"
    assert record["citations"] == [
        {
            "number": 1,
            "chunk_id": "bio:0000",
            "document": "Bio",
            "source_path": "/c/bio.txt",
            "start": 10,
            "end": 35,
            "location": None,
            "text": "Lei Jun was born in 1969.",
            "score": 0.0,
            "supports_answer": True,
        }
    ]
    assert record["time"].endswith("+00:00")


def test_log_appends_json_lines_and_creates_its_folder(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "deep" / "feedback.jsonl")
    assert log.read() == []
    log.append(feedback_record(an_answer("line one\nline two \u2028 “quotes” 中文"), "up"))
    log.append(feedback_record(an_answer(), "down"))
    lines = log.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["rating"] for line in lines] == ["up", "down"]
    assert log.read()[0]["answer"] == "line one\nline two \u2028 “quotes” 中文"


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    record = feedback_record(an_answer("x" * 20_000), "up")

    def vote() -> None:
        for _ in range(20):
            log.append(record)

    threads = [threading.Thread(target=vote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.read()) == 160
