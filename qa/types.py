"""Data passed between the QA stages and out of them.

One question travels as frozen objects, each stage adding what it found:
:class:`Question` (validated, follow-up rewritten), :class:`Query` (the text
searched for with its embedding, made once), :class:`QuestionContext` (the
retrieved :class:`Hit` list and the :class:`StageTimings` so far), and at the
end an :class:`Answer` with its :class:`Citation` list.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.documents import Chunk, Location

if TYPE_CHECKING:
    from indexer.embedder import Embedder


RANKED_DEPTH = 10  # how many retrieved chunks a question keeps for evaluation (hit@10, MRR)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score (higher is better) and 1-based rank."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    keyword_score: float | None = None

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"rank must be 1 or more. Currently it is {self.rank}")


@dataclass(frozen=True)
class Citation:
    """A numbered reference from an answer to the text that supports it.

    ``start``/``end`` are offsets into the cleaned text of the cited document,
    and ``text`` is exactly that slice: the span the chat window highlights.
    ``location`` says where ``start`` lies in the reader's terms (page,
    section, slide, row, chapter), when the document has such marks.
    """

    number: int
    chunk_id: str
    doc_id: str
    document: str
    source_path: str
    start: int
    end: int
    text: str
    score: float = 0.0
    supports_answer: bool = True
    location: Location | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start or len(self.text) != self.end - self.start:
            raise ValueError(
                f"Citation {self.number}: span [{self.start}, {self.end}) does not match its text"
            )


@dataclass(frozen=True)
class Token:
    """A piece of the draft as the generator writes it."""

    text: str


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent in each stage of one question."""

    rewrite_ms: float = 0.0
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    first_token_ms: float = 0.0
    ground_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class Question:
    """A question that passed validation, as asked and as searched for.

    ``retrieval_query`` is the question itself, or for a follow-up ("When
    did he join Kingsoft?") the question with the names its pronouns stand
    for. ``started`` is when it was asked (``time.perf_counter``).

    >>> Question("When did he join Kingsoft?", "When did Lei Jun join Kingsoft?").follow_up_query
    'When did Lei Jun join Kingsoft?'
    """

    text: str
    retrieval_query: str
    rewrite_ms: float = 0.0
    started: float = field(default_factory=time.perf_counter, compare=False)

    def __post_init__(self) -> None:
        if not self.text or not self.retrieval_query:
            raise ValueError(
                f"A question needs text and a retrieval query. Currently they are "
                f"{self.text!r} and {self.retrieval_query!r}"
            )

    @property
    def follow_up_query(self) -> str | None:
        """The rewritten query when it differs from the question, else None."""
        return self.retrieval_query if self.retrieval_query != self.text else None


@dataclass(frozen=True, eq=False)
class Query:
    """What retrieval searches with: the text and its unit embedding.

    Made once per question (:meth:`embed`) and shared by the dense search,
    the keyword search, the reranker and evidence scoring.
    """

    text: str
    vector: np.ndarray

    def __post_init__(self) -> None:
        if self.vector.ndim != 1:
            raise ValueError(
                f"A query vector is one embedding. Currently its shape is {self.vector.shape}"
            )

    @classmethod
    def embed(cls, text: str, embedder: Embedder) -> Query:
        return cls(text, embedder.embed([text])[0])


@dataclass(frozen=True, eq=False)
class QuestionContext:
    """Everything known about one question so far, handed from stage to stage.

    Stages never change it: :meth:`timed` returns a copy with more timings.
    """

    question: Question
    query: Query
    hits: tuple[Hit, ...]
    timings: StageTimings = field(default_factory=StageTimings)
    # The same ranking as ``hits``, longer (the top RANKED_DEPTH): what an
    # evaluation lists, read from this one retrieval instead of a second one.
    ranked: tuple[Hit, ...] = ()

    def timed(self, **milliseconds: float) -> QuestionContext:
        """A copy with these stage timings set.

        >>> context = QuestionContext(Question("Q?", "Q?"), Query("Q?", np.ones(2)), ())
        >>> context.timed(retrieve_ms=2.0).timings.retrieve_ms
        2.0
        """
        return replace(self, timings=replace(self.timings, **milliseconds))

    def finished(self) -> StageTimings:
        """The timings with ``total_ms`` measured from when the question was asked."""
        return replace(self.timings, total_ms=(time.perf_counter() - self.question.started) * 1000)


@dataclass(frozen=True)
class Answer:
    """What the system says to a question, with everything needed to check it."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    timings: StageTimings = field(default_factory=StageTimings)
    draft: str = ""
    reason: str = ""
    confidence: float = 0.0
    retrieval_query: str = ""
    features: Any = None  # qa.abstention.AbstentionFeatures, when grounding ran
    # The documents disagree about what was asked: the answer quotes each side,
    # citation 1 the best-supported one, citation 2 the other.
    conflict: bool = False
    # The retrieval ranking beyond ``hits`` (the top RANKED_DEPTH), for evaluation.
    ranked: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.conflict and (self.abstained or len(self.citations) < 2):
            raise ValueError(
                "A conflict answer quotes both sides: it needs two citations and no abstention. "
                f"Currently abstained={self.abstained}, citations={len(self.citations)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by ``ragqa ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "conflict": self.conflict,
            "reason": self.reason,
            "confidence": round(self.confidence, 4),
            "citations": [
                {
                    "number": c.number,
                    "chunk_id": c.chunk_id,
                    "document": c.document,
                    "source_path": c.source_path,
                    "start": c.start,
                    "end": c.end,
                    "location": c.location.to_dict() if c.location is not None else None,
                    "text": c.text,
                    "score": round(c.score, 4),
                    "supports_answer": c.supports_answer,
                }
                for c in self.citations
            ],
            "retrieved": [
                {
                    "rank": h.rank,
                    "chunk_id": h.chunk.chunk_id,
                    "document": h.chunk.title,
                    "score": round(h.score, 4),
                    "text": h.chunk.text,
                }
                for h in self.hits
            ],
            "draft": self.draft,
            "retrieval_query": self.retrieval_query,
            "features": asdict(self.features) if self.features is not None else None,
            "timings_ms": {k: round(v, 1) for k, v in asdict(self.timings).items()},
        }
