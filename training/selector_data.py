"""Training pairs for the answer selector, built from SQuAD-style articles.

The selector scores (question, sentence) pairs: does this sentence of the
documents answer the question? Its data comes from a folder laid out like
``shared/data/squad11-dev-even`` (one ``docs/*.txt`` file per article, title on
the first line, paragraphs separated by blank lines; ``questions.jsonl`` in
the project's evaluation format with an ``article`` field).

* **Split by article**, never by question: a hash of the article's title puts
  it in training or validation, so no sentence is seen on both sides.
* **Positive**: the sentence, as ragqa's own splitter cuts it, that holds the
  question's evidence sentence and mentions one of its answers.
* **Hard negatives**: the other sentences of the same paragraph, then the
  sentences elsewhere in the article sharing the most content words with the
  question (what retrieval would bring), then sentences of another article.
  None of them mentions any accepted answer, so no answering sentence is
  labelled as not answering. Together they teach the score to stay low when
  the passages at hand hold no answer, which is what abstention reads.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from corpus.chunking import sentence_spans
from corpus.errors import EvaluationError
from qa.normalise import contains, mentions, normalise

_WORD = re.compile(r"[^\W_]+")
_COMMON = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "as",
        "and",
        "or",
        "but",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "their",
        "his",
        "her",
        "they",
        "he",
        "she",
    ]
)


@dataclass(frozen=True)
class Sentence:
    article: str
    paragraph: int
    text: str


@dataclass(frozen=True)
class SelectorPair:
    """One training example: ``label`` 1 when ``sentence`` answers ``question``."""

    question_id: str
    article: str
    question: str
    title: str
    sentence: str
    label: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: list[list[str]]

    def sentences(self) -> list[Sentence]:
        return [
            Sentence(self.title, number, text)
            for number, paragraph in enumerate(self.paragraphs)
            for text in paragraph
        ]


def read_articles(folder: Path) -> dict[str, Article]:
    """Every ``*.txt`` article under ``folder/docs``, split into paragraphs and
    sentences with the splitter that cuts ragqa's answer quotes."""
    docs = folder / "docs"
    if not docs.is_dir():
        raise EvaluationError(
            f"{folder} has no docs/ folder: point --data at a SQuAD-style folder "
            "such as ../shared/data/squad11-dev-even"
        )
    articles: dict[str, Article] = {}
    for path in sorted(docs.glob("*.txt")):
        title, _, body = path.read_text(encoding="utf-8").partition("\n")
        paragraphs = [
            [p[s:e] for s, e in sentence_spans(p)] for p in re.split(r"\n\s*\n", body) if p.strip()
        ]
        articles[title.strip()] = Article(title.strip(), paragraphs)
    if not articles:
        raise EvaluationError(f"{docs} holds no .txt articles")
    return articles


def read_questions(folder: Path) -> list[dict[str, object]]:
    path = folder / "questions.jsonl"
    if not path.is_file():
        raise EvaluationError(f"{folder} has no questions.jsonl")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def is_validation_article(title: str, validation_share: float) -> bool:
    """A fixed, order-free split: the article's SHA-256 decides its side."""
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < validation_share


def split_articles(titles: Iterable[str], validation_share: float) -> tuple[list[str], list[str]]:
    titles = sorted(titles)
    validation = [t for t in titles if is_validation_article(t, validation_share)]
    training = [t for t in titles if t not in validation]
    if not validation or not training:
        raise EvaluationError(
            f"validation share {validation_share} leaves one side empty "
            f"({len(training)} training, {len(validation)} validation articles)"
        )
    return training, validation


@lru_cache(maxsize=65536)
def content_words(text: str) -> frozenset[str]:
    return frozenset({w for w in _WORD.findall(normalise(text)) if w not in _COMMON and len(w) > 1})


def _answering_sentence(article: Article, evidence: str, answers: Sequence[str]) -> Sentence | None:
    """The sentence that holds (or is held by) the evidence and mentions an answer."""
    for sentence in article.sentences():
        overlapping = contains(evidence, sentence.text) or contains(sentence.text, evidence)
        if overlapping and any(mentions(sentence.text, a) for a in answers):
            return sentence
    return None


def pairs_for_question(
    record: dict[str, object],
    article: Article,
    other_articles: Sequence[Article],
    rng: random.Random,
    *,
    paragraph_negatives: int = 3,
    article_negatives: int = 2,
    foreign_negatives: int = 1,
) -> list[SelectorPair]:
    """The positive and the hard negatives of one question (empty when its
    answering sentence cannot be found exactly)."""
    answers = [str(a) for a in record.get("answers", []) if str(a).strip()]  # type: ignore[attr-defined]
    evidence = " ".join(str(e) for e in record.get("evidence", []))  # type: ignore[attr-defined]
    question = str(record["question"])
    positive = _answering_sentence(article, evidence, answers)
    if positive is None:
        return []

    def usable(sentence: Sentence) -> bool:
        return sentence != positive and not any(mentions(sentence.text, a) for a in answers)

    chosen: list[Sentence] = []
    same_paragraph = [
        s for s in article.sentences() if s.paragraph == positive.paragraph and usable(s)
    ]
    rng.shuffle(same_paragraph)
    chosen += same_paragraph[:paragraph_negatives]
    asked = content_words(question)
    elsewhere = [s for s in article.sentences() if s.paragraph != positive.paragraph and usable(s)]
    elsewhere.sort(key=lambda s: (-len(asked & content_words(s.text)), rng.random()))
    chosen += elsewhere[:article_negatives]
    for _ in range(foreign_negatives if other_articles else 0):
        other = rng.choice(list(other_articles))
        candidates = [s for s in other.sentences() if usable(s)]
        candidates.sort(key=lambda s: (-len(asked & content_words(s.text)), rng.random()))
        chosen += candidates[:1]

    def pair(sentence: Sentence, label: int) -> SelectorPair:
        return SelectorPair(
            question_id=str(record["id"]),
            article=article.title,
            question=question,
            title=sentence.article,
            sentence=sentence.text,
            label=label,
        )

    return [pair(positive, 1)] + [pair(s, 0) for s in chosen]


def build_pairs(
    folder: Path, articles_kept: Sequence[str], seed: int, **negatives: int
) -> Iterator[SelectorPair]:
    """All pairs of the questions whose article is in ``articles_kept``."""
    articles = read_articles(folder)
    kept = set(articles_kept)
    others = [a for t, a in articles.items() if t in kept]
    rng = random.Random(seed)
    for record in read_questions(folder):
        title = str(record.get("article", ""))
        if title not in kept:
            continue
        foreign = [a for a in others if a.title != title]
        yield from pairs_for_question(record, articles[title], foreign, rng, **negatives)


def file_checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_pairs(path: Path) -> list[SelectorPair]:
    with path.open(encoding="utf-8") as lines:
        return [SelectorPair(**json.loads(line)) for line in lines if line.strip()]


def write_pairs(pairs: Iterable[SelectorPair], path: Path) -> None:
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as lines:
        for pair in pairs:
            lines.write(pair.to_json() + "\n")
    partial.replace(path)
