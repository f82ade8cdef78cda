"""Write the selector's validation articles as a collection and question file.

    python -m training.validation_set --data ../shared/data/squad11-dev-even --out /tmp/squad-val

The articles the selector never trained on (the manifest lists them) are
copied to ``OUT/docs`` and their questions split, by a seeded shuffle, into
``OUT/calibration.jsonl`` (where the abstention threshold is set:
``python -m training.calibrate_selector``) and ``OUT/report.jsonl`` (what the
README reports), so ``ragqa index OUT/docs`` then
``ragqa eval --questions OUT/report.jsonl`` measure ragqa on them, retrieving
over those articles as one collection.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

from qa.selector import DEFAULT_SELECTOR_DIR, read_manifest
from training.selector_data import read_questions

SPLIT_SEED = 29


def write_validation_set(data: Path, out: Path, articles: Sequence[str]) -> int:
    kept = set(articles)
    docs = out / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for path in sorted((data / "docs").glob("*.txt")):
        if path.read_text(encoding="utf-8").partition("\n")[0].strip() in kept:
            shutil.copyfile(path, docs / path.name)
    questions = [q for q in read_questions(data) if q.get("article") in kept]
    random.Random(SPLIT_SEED).shuffle(questions)
    half = len(questions) // 2
    for name, part in (("calibration.jsonl", questions[:half]), ("report.jsonl", questions[half:])):
        with (out / name).open("w", encoding="utf-8") as lines:
            for question in part:
                lines.write(json.dumps(question, ensure_ascii=False) + "\n")
    return len(questions)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.validation_set", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="SQuAD-style folder")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--selector", type=Path, default=DEFAULT_SELECTOR_DIR)
    args = parser.parse_args(argv)
    articles = read_manifest(args.selector)["training_data"]["validation_articles"]
    count = write_validation_set(args.data, args.out, articles)
    print(f"{len(articles)} articles, {count} questions in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
