"""A helper the reliability tests share."""

from __future__ import annotations

from collections.abc import Callable

from qa.pipeline import Pipeline
from qa.types import Answer


def cached_asker(pipeline: Pipeline) -> Callable[[str], Answer]:
    """``pipeline.ask``, once per question (several tests check one answer)."""
    answers: dict[str, Answer] = {}

    def cached(question: str) -> Answer:
        if question not in answers:
            answers[question] = pipeline.ask(question)
        return answers[question]

    return cached
