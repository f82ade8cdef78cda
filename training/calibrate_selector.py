"""Set the learned selector's abstention threshold on held-out questions.

    python -m training.calibrate_selector --questions /tmp/squad-val/calibration.jsonl \
        --index-dir /tmp/squad-val-index [--max-false-rate 0.05]

Works on the selector ragqa loads (``qa/models/answer_selector``). Asks
every question with the selector never abstaining, takes the score of
the sentence it would quote, and writes into the selector's manifest the
highest threshold that abstains on at most ``--max-false-rate`` of these
answerable questions (:func:`qa.abstention.choose_threshold`). The questions
must come from articles the selector never trained on
(``python -m training.validation_set`` writes them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from evaluation.calibration import quoted_sentence_scores
from evaluation.questions import load_questions
from qa.abstention import choose_threshold
from qa.answerer import AnswerConfig
from qa.pipeline import Pipeline, PipelineConfig
from qa.selector import (
    DEFAULT_SELECTOR_DIR,
    MANIFEST_FILE,
    AnswerSelector,
    SelectorThreshold,
    read_manifest,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.calibrate_selector", description=__doc__
    )
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--max-false-rate", type=float, default=0.05)
    args = parser.parse_args(argv)

    questions = [q for q in load_questions(args.questions) if q.answerable]
    manifest = read_manifest(DEFAULT_SELECTOR_DIR)
    with tempfile.TemporaryDirectory(prefix="ragqa-selector-") as folder:
        # Never abstain on the score while measuring, the way `ragqa calibrate`
        # does: a zero threshold file, so the shipped manifest is only written
        # once the new threshold is known.
        neutral = Path(folder) / "never-abstaining.json"
        SelectorThreshold(0.0).save(neutral, AnswerSelector.load(), rebuild_command=__name__)
        answer = replace(AnswerConfig(), selector="learned", abstention_model=str(neutral))
        config = PipelineConfig(index_dir=args.index_dir, answer=answer)
        scores = quoted_sentence_scores(
            Pipeline(config),
            questions,
            lambda n: print(f"\r{n}/{len(questions)}", end="", file=sys.stderr),
        )
    threshold = choose_threshold(scores, args.max_false_rate)
    manifest["calibration"] = {
        "abstain_below": round(threshold, 6),
        "max_false_rate": args.max_false_rate,
        "questions": len(questions),
        "question_file": args.questions.name,
        "command": "python -m training.calibrate_selector --questions <validation>/calibration.jsonl "
        f"--index-dir <its index> --max-false-rate {args.max_false_rate}",
    }
    (DEFAULT_SELECTOR_DIR / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["calibration"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
