"""Checks the development question set eval/dev_questions.jsonl.

The file follows shared EVAL_FORMAT.md: one JSON object per line with id,
question, answers, evidence, answerable (plus the extra field "kind").  These
tests check the structure, that every evidence string is copied exactly from
one of the default collection's texts, and that the answers of answerable
questions really appear in (or right next to) their evidence.
"""

import json
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
COLLECTION = ROOT / "corpus" / "default_collection"
DOC_FILES = ["lei_jun_peoples_entrepreneur.txt", "lei_jun_biography.txt"]

KINDS = {"fact", "paraphrase", "multi-doc", "number-date", "unanswerable"}
REQUIRED = {
    "id": str,
    "question": str,
    "answers": list,
    "evidence": list,
    "answerable": bool,
    "kind": str,
}
MIN_QUESTIONS = 60
MIN_UNANSWERABLE = 12
# How far around an evidence string an answer may sit and still count as
# "near" it (characters on each side).
NEAR = 300


def norm(s):
    """Normalisation of EVAL_FORMAT.md: NFKC, straight quotes, '-' dashes,
    case-folded, whitespace collapsed."""
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"[\u2018\u2019\u201a\u201b\u2032]", "'", s)
    s = re.sub(r"[\u201c\u201d\u201e\u201f\u2033]", '"', s)
    s = re.sub(r"[\u2010-\u2015\u2212]", "-", s)
    s = s.casefold()
    return re.sub(r"\s+", " ", s).strip()


@pytest.fixture(scope="module")
def docs():
    texts = {}
    for name in DOC_FILES:
        path = COLLECTION / name
        assert path.is_file(), f"missing collection text {path}"
        texts[name] = path.read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="module")
def questions():
    assert QUESTIONS.is_file(), f"missing {QUESTIONS}"
    items = []
    with QUESTIONS.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            assert line.strip(), f"{QUESTIONS.name}:{lineno}: blank line"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                pytest.fail(f"{QUESTIONS.name}:{lineno}: invalid JSON: {e}")
            assert isinstance(obj, dict), f"{QUESTIONS.name}:{lineno}: not an object"
            items.append((lineno, obj))
    return items


def where(lineno, q):
    return f"{QUESTIONS.name}:{lineno} ({q.get('id')})"


def test_fields_and_types(questions):
    for lineno, q in questions:
        for field, typ in REQUIRED.items():
            assert field in q, f"{where(lineno, q)}: missing field {field!r}"
            assert isinstance(q[field], typ), (
                f"{where(lineno, q)}: {field!r} should be {typ.__name__}"
            )
        assert q["id"].strip(), f"{where(lineno, q)}: empty id"
        assert q["question"].strip(), f"{where(lineno, q)}: empty question"
        assert q["kind"] in KINDS, f"{where(lineno, q)}: unknown kind {q['kind']!r}"
        for field in ("answers", "evidence"):
            for s in q[field]:
                assert isinstance(s, str) and s.strip(), (
                    f"{where(lineno, q)}: {field} must hold non-empty strings"
                )
        assert (q["kind"] == "unanswerable") == (not q["answerable"]), (
            f"{where(lineno, q)}: kind and answerable disagree"
        )


def test_ids_unique(questions):
    ids = [q["id"] for _, q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate ids: {dupes}"


def test_counts(questions):
    assert len(questions) >= MIN_QUESTIONS
    unanswerable = [q for _, q in questions if q["answerable"] is False]
    assert len(unanswerable) >= MIN_UNANSWERABLE


def test_answers_and_evidence_presence(questions):
    for lineno, q in questions:
        if q["answerable"]:
            assert q["answers"], f"{where(lineno, q)}: answerable without answers"
            assert q["evidence"], f"{where(lineno, q)}: answerable without evidence"
        else:
            assert q["answers"] == [], f"{where(lineno, q)}: unanswerable with answers"
            assert q["evidence"] == [], f"{where(lineno, q)}: unanswerable with evidence"


def test_evidence_is_exact_substring(questions, docs):
    for lineno, q in questions:
        for ev in q["evidence"]:
            assert "\n" not in ev, f"{where(lineno, q)}: evidence spans a line break: {ev!r}"
            assert any(ev in text for text in docs.values()), (
                f"{where(lineno, q)}: evidence not found verbatim in the collection: {ev!r}"
            )


def test_multi_doc_evidence_spans_both_documents(questions, docs):
    for lineno, q in questions:
        if q["kind"] != "multi-doc":
            continue
        found_in = {name for ev in q["evidence"] for name, text in docs.items() if ev in text}
        assert found_in == set(docs), (
            f"{where(lineno, q)}: multi-doc evidence should come from both documents"
        )


def test_answers_grounded_near_evidence(questions, docs):
    for lineno, q in questions:
        if not q["answerable"]:
            continue
        # the joined evidence, plus a window of text around each occurrence
        haystacks = [" ".join(q["evidence"])]
        for ev in q["evidence"]:
            for text in docs.values():
                start = text.find(ev)
                while start != -1:
                    haystacks.append(text[max(0, start - NEAR) : start + len(ev) + NEAR])
                    start = text.find(ev, start + 1)
        hay = [norm(h) for h in haystacks]
        assert any(norm(a) in h for a in q["answers"] for h in hay), (
            f"{where(lineno, q)}: none of {q['answers']!r} occurs in or near the evidence"
        )
