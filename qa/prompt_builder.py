"""The draft's prompt, and the generator writing the draft.

Only with ``answer.draft = true``: the small generator reads the best few
sentences of trusted documents, numbered, and writes a one-sentence draft.
Its wording is never shown as the answer; the draft only votes for the
sentence it draws on (:meth:`qa.evidence_ranker.EvidenceRanker.rank`) and
feeds the abstention features.
"""

from __future__ import annotations

import collections.abc
import time
from collections.abc import Sequence

from corpus.analysis import strip_citation_markers
from qa.evidence import ScoredSentence
from qa.generator import Generator, Message
from qa.types import QuestionContext, Token

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages you are given. "
    "Answer in one short sentence. If the passages do not contain the answer, "
    "say that the documents don't say."
)


def build_prompt(question: str, passages: Sequence[str]) -> list[Message]:
    numbered = "\n".join(
        f"[{i}] {strip_citation_markers(text)}" for i, text in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"},
    ]


class PromptBuilder:
    """The draft prompt: the question and the best ``evidence_sentences``
    sentences of trusted documents (the model never sees the others)."""

    def __init__(self, evidence_sentences: int = 4) -> None:
        if evidence_sentences < 1:
            raise ValueError(
                f"evidence_sentences must be 1 or more. Currently it is {evidence_sentences}"
            )
        self.evidence_sentences = evidence_sentences

    def run(self, question: str, ranked: Sequence[ScoredSentence]) -> list[Message]:
        trusted = [s for s in ranked if s.trusted][: self.evidence_sentences]
        return build_prompt(question, [s.sentence.text for s in trusted])


class DraftWriter:
    """Streams the generator's one-sentence draft, stopping at its first line."""

    def __init__(self, generator: Generator, max_new_tokens: int = 48) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens

    def run(
        self, messages: Sequence[Message], context: QuestionContext
    ) -> collections.abc.Generator[Token, None, tuple[str, QuestionContext]]:
        """Yield the draft's :class:`Token` pieces; return the draft and the
        context with ``generate_ms`` and ``first_token_ms``."""
        asked = time.perf_counter()
        parts: list[str] = []
        first_token_at = 0.0
        for piece in self.generator.stream(messages, self.max_new_tokens):
            if not first_token_at:
                first_token_at = time.perf_counter()
            parts.append(piece)
            yield Token(piece)
            if "\n" in piece and "".join(parts).strip():
                break
        generated = time.perf_counter()
        draft = "".join(parts).strip().split("\n")[0].strip()
        return draft, context.timed(
            generate_ms=(generated - asked) * 1000,
            first_token_ms=((first_token_at or generated) - context.question.started) * 1000,
        )
