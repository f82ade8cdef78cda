"""Data passed out of the QA stage: retrieval hits, citations and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from corpus.documents import Chunk, Location


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
class StageTimings:
    """Milliseconds spent in each stage of one question."""

    rewrite_ms: float = 0.0
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    first_token_ms: float = 0.0
    ground_ms: float = 0.0
    total_ms: float = 0.0


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
