"""Thumbs up/down on answers, appended to a JSON Lines log.

Each line is one complete JSON object (written with a single ``write`` under a
lock, so concurrent sessions never interleave lines) carrying everything needed
to judge the answer later without the index: the question, the query that was
searched for, the answer and its citations.

Example line (wrapped here)::

    {"format": "ragqa-feedback v1", "time": "2025-01-01T12:00:00+00:00",
     "rating": "up", "question": "When was Lei Jun born?", "retrieval_query": "...",
     "answer": "Lei Jun was born on December 16, 1969. [1]", "abstained": false,
     "citations": [{"number": 1, "document": "...", ...}]}
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from qa.types import Answer

FEEDBACK_FORMAT = "ragqa-feedback v1"
Rating = Literal["up", "down", "cleared"]


def rating_from_like(liked: bool | str | None) -> Rating:
    """Map Gradio's like value (True, False, or "" when a vote is withdrawn).

    >>> rating_from_like(True), rating_from_like(False), rating_from_like("")
    ('up', 'down', 'cleared')
    """
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return "cleared"


def feedback_record(answer: Answer, rating: Rating, *, turn: int = 0) -> dict[str, Any]:
    """The JSON object logged for one vote on ``answer``."""
    answer_json = answer.to_dict()
    return {
        "format": FEEDBACK_FORMAT,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "turn": turn,
        "question": answer.question,
        "retrieval_query": answer.retrieval_query,
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "citations": answer_json["citations"],
    }


@dataclass
class FeedbackLog:
    """Appends feedback records to ``path`` (created, with its folder, on first use)."""

    path: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        # U+2028/U+2029 are valid inside JSON strings but end a line for many
        # readers (Python's str.splitlines among them): keep them escaped.
        line = json.dumps(record, ensure_ascii=False)
        line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log:
                log.write(line)

    def read(self) -> list[dict[str, Any]]:
        """Every record so far (for tests and analysis)."""
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]
