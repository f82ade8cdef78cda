"""Benchmark 9: the regex sentence splitter against maintained ones that keep offsets.

The sentence splitter decides what an answer quote is, so it is compared with
pysbd (0.3.4, ``char_span=True``) and blingfire (0.1.8) on:

- ``dev``: the share of the dev set's evidence strings (eval/dev_questions.jsonl)
  that lie inside one sentence of the default collection: a quote can only
  hold the evidence whole if the splitter does not cut through it;
- ``squad``: the share of SQuAD evidence sentences (the dev-even sample's
  ``evidence`` field) that a splitter returns exactly, as one sentence;
- ``speed``: the time to split the 24 SQuAD articles (median of rounds).

Every splitter sees one line at a time, since ragqa ends a sentence at every
line break (headings, list items); the comparison is about where full stops
end sentences. pysbd and blingfire are not project dependencies: install
them into the environment to compare (``pip install pysbd==0.3.4
blingfire==0.1.8``); a splitter that is missing is reported as such.

    python -m benchmarks.sentence_splitters            # 5 speed rounds
    python -m benchmarks.sentence_splitters --quick    # 1 round
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEV_QUESTIONS, ROOT, SQUAD_DOCS, machine, median
from corpus.chunking import sentence_spans

Spans = list[tuple[int, int]]
Splitter = Callable[[str], Spans]

SQUAD_QUESTIONS = SQUAD_DOCS.parent / "questions.jsonl"
DEFAULT_COLLECTION = ROOT / "corpus" / "default_collection"


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for match in re.finditer(r"[^\n]+", text):
        yield match.start(), match.group()


def _per_line(split_line: Splitter) -> Splitter:
    """A splitter that ends a sentence at every line break too, as ragqa's does."""

    def split(text: str) -> Spans:
        spans = []
        for offset, line in _lines(text):
            for start, end in split_line(line):
                piece = line[start:end]
                first = offset + start + len(piece) - len(piece.lstrip())
                if piece.strip():  # spans without the whitespace around the sentence
                    spans.append((first, first + len(piece.strip())))
        return spans

    return split


def _pysbd() -> Splitter | None:
    try:
        import pysbd
    except ImportError:
        return None
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return _per_line(lambda line: [(s.start, s.end) for s in segmenter.segment(line)])


def _blingfire() -> Splitter | None:
    try:
        import blingfire
    except ImportError:
        return None

    def split_line(line: str) -> Spans:
        _, offsets = blingfire.text_to_sentences_and_offsets(line)
        return [(int(start), int(end)) for start, end in offsets]

    return _per_line(split_line)


def splitters() -> dict[str, Splitter | None]:
    return {
        "regex (corpus/chunking.py)": sentence_spans,
        "pysbd": _pysbd(),
        "blingfire": _blingfire(),
    }


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evidence_within_one_sentence(
    split: Splitter, texts: list[str], evidence: list[str]
) -> dict[str, Any]:
    """How many evidence strings found verbatim lie inside one sentence.

    >>> evidence_within_one_sentence(sentence_spans, ["Ab cd. Ef gh. Ij."], ["Ef", "cd. Ef"])
    {'found': 2, 'within': 1, 'share': 0.5}
    """
    spans = [split(text) for text in texts]
    found = within = 0
    for string in evidence:
        places = [
            (i, m.start())
            for i, text in enumerate(texts)
            for m in re.finditer(re.escape(string), text)
        ]
        if not places:
            continue
        found += 1
        within += any(
            s <= start and start + len(string) <= e for i, start in places for s, e in spans[i]
        )
    return {"found": found, "within": within, "share": within / found if found else None}


def sentences_reproduced(
    split: Splitter, texts: dict[str, str], pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    """How many evidence sentences (article, sentence) found verbatim come out
    exactly as one sentence.

    >>> sentences_reproduced(sentence_spans, {"a": "Dr. Li came. He left."}, [("a", "Dr. Li came.")])
    {'found': 1, 'exact': 1, 'share': 1.0}
    """
    sentences = {name: {text[s:e] for s, e in split(text)} for name, text in texts.items()}
    found = exact = 0
    for article, sentence in pairs:
        if article not in texts or sentence not in texts[article]:
            continue
        found += 1
        exact += sentence in sentences[article]
    return {"found": found, "exact": exact, "share": exact / found if found else None}


def seconds_to_split(split: Splitter, texts: list[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            split(text)
        times.append(time.perf_counter() - started)
    return median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one speed round instead of five")
    args = parser.parse_args(argv)

    collection = [p.read_text(encoding="utf-8") for p in sorted(DEFAULT_COLLECTION.glob("*.txt"))]
    dev_evidence = [e for q in _read_jsonl(DEV_QUESTIONS) for e in q.get("evidence", [])]
    squad_texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SQUAD_DOCS.glob("*.txt"))}
    squad_pairs = sorted(
        {
            (q["article"].replace(" ", "_"), e)
            for q in _read_jsonl(SQUAD_QUESTIONS)
            for e in q.get("evidence", [])
        }
    )
    rows: dict[str, Any] = {}
    for name, split in splitters().items():
        if split is None:
            rows[name] = None
            continue
        rows[name] = {
            "dev": evidence_within_one_sentence(split, collection, dev_evidence),
            "squad": sentences_reproduced(split, squad_texts, squad_pairs),
            "seconds_squad_docs": seconds_to_split(
                split, list(squad_texts.values()), 1 if args.quick else 5
            ),
        }
    print(json.dumps({"machine": machine(), "splitters": rows}, indent=2))
    print(
        "| splitter | dev evidence in one sentence | SQuAD evidence sentences exact | "
        "time for 24 SQuAD articles |",
        file=sys.stderr,
    )
    print("|---|---|---|---|", file=sys.stderr)
    for name, row in rows.items():
        if row is None:
            print(f"| {name} | not installed | | |", file=sys.stderr)
            continue
        dev, squad = row["dev"], row["squad"]
        print(
            f"| {name} | {dev['within']}/{dev['found']} ({dev['share']:.1%}) "
            f"| {squad['exact']}/{squad['found']} ({squad['share']:.1%}) "
            f"| {row['seconds_squad_docs'] * 1000:.0f} ms |",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
