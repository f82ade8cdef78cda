"""Training pairs for the answer selector: split by article, honest labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from corpus.errors import EvaluationError
from qa.normalise import mentions
from training.selector_data import (
    build_pairs,
    is_validation_article,
    read_articles,
    split_articles,
)

ARTICLES = {
    "Ada Lund": (
        "Ada Lund was born in 1901 in Oslo. She studied physics in Bergen.\n\n"
        "In 1931 she founded the Lund Institute. The institute studies glaciers. "
        "Its first director was Per Holm."
    ),
    "River Tay": (
        "The River Tay is the longest river in Scotland. It flows through Perth.\n\n"
        "Salmon fishing on the Tay began in the 1800s. The river floods in winter."
    ),
}
QUESTIONS = [
    ("q1", "Ada Lund", "When was Ada Lund born?", ["1901"], "Ada Lund was born in 1901 in Oslo."),
    (
        "q2",
        "Ada Lund",
        "Who was the first director?",
        ["Per Holm"],
        "Its first director was Per Holm.",
    ),
    (
        "q3",
        "River Tay",
        "Which city does the Tay flow through?",
        ["Perth"],
        "It flows through Perth.",
    ),
    ("q4", "River Tay", "What is missing?", ["nowhere"], "Not a sentence of the article."),
]


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for title, body in ARTICLES.items():
        (docs / f"{title.replace(' ', '_')}.txt").write_text(f"{title}\n\n{body}\n")
    lines = [
        {"id": i, "question": q, "answers": a, "evidence": [e], "answerable": True, "article": t}
        for i, t, q, a, e in QUESTIONS
    ]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return tmp_path


def test_articles_are_read_as_paragraphs_of_sentences(tmp_path: Path) -> None:
    articles = read_articles(_folder(tmp_path))
    assert set(articles) == set(ARTICLES)
    assert articles["Ada Lund"].paragraphs[1] == [
        "In 1931 she founded the Lund Institute.",
        "The institute studies glaciers.",
        "Its first director was Per Holm.",
    ]


def test_the_split_is_by_article_disjoint_and_independent_of_order() -> None:
    titles = [f"Article {n}" for n in range(40)]
    training, validation = split_articles(titles, 0.3)
    assert set(training).isdisjoint(validation)
    assert set(training) | set(validation) == set(titles)
    shuffled = titles[:]
    random.Random(1).shuffle(shuffled)
    assert split_articles(shuffled, 0.3) == (training, validation)
    assert all(is_validation_article(t, 0.3) for t in validation)


def test_a_split_that_leaves_a_side_empty_is_refused() -> None:
    with pytest.raises(EvaluationError, match="one side empty"):
        split_articles(["Only one"], 0.3)


def test_positives_answer_and_negatives_never_mention_an_answer(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    pairs = list(build_pairs(folder, list(ARTICLES), seed=3))
    answers = {i: a for i, _, _, a, _ in QUESTIONS}
    positives = [p for p in pairs if p.label == 1]
    assert {p.question_id for p in positives} == {"q1", "q2", "q3"}  # q4's evidence is not there
    assert {p.sentence for p in positives} == {
        "Ada Lund was born in 1901 in Oslo.",
        "Its first director was Per Holm.",
        "It flows through Perth.",
    }
    negatives = [p for p in pairs if p.label == 0]
    assert negatives
    for pair in negatives:
        assert not any(mentions(pair.sentence, a) for a in answers[pair.question_id])
    # Hard negatives first: the same paragraph's other sentences are used.
    q2 = {p.sentence for p in negatives if p.question_id == "q2"}
    assert "In 1931 she founded the Lund Institute." in q2


def test_pairs_only_come_from_the_articles_asked_for(tmp_path: Path) -> None:
    pairs = list(build_pairs(_folder(tmp_path), ["River Tay"], seed=3))
    assert {p.article for p in pairs} == {"River Tay"}
    assert {p.title for p in pairs} == {"River Tay"}  # no other article to borrow from


def test_a_folder_without_docs_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="squad11-dev-even"):
        read_articles(tmp_path)


def test_the_validation_set_holds_only_its_articles_split_in_two_halves(tmp_path: Path) -> None:
    from training.validation_set import write_validation_set

    out = tmp_path / "out"
    count = write_validation_set(_folder(tmp_path), out, ["River Tay"])
    assert count == 2
    assert [p.name for p in (out / "docs").iterdir()] == ["River_Tay.txt"]
    halves = [
        [json.loads(line)["id"] for line in (out / name).read_text().splitlines()]
        for name in ("calibration.jsonl", "report.jsonl")
    ]
    assert sorted(halves[0] + halves[1]) == ["q3", "q4"]
    assert len(halves[0]) == len(halves[1]) == 1
