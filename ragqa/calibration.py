"""``ragqa calibrate``: fit the abstention model on a question set.

Runs every question of a file in the evaluation format (it must hold both
answerable and unanswerable questions), records each answer's
:class:`~qa.abstention.AbstentionFeatures`, fits the logistic model, and
reports abstention recall and false-abstention rate both on the fitting data
and by k-fold cross-validation (the honest estimate for unseen questions).
The shipped ``qa/abstention_model.json`` was made with::

    ragqa calibrate --questions eval/dev_questions.jsonl --out qa/abstention_model.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from corpus.errors import EvaluationError
from qa.abstention import AbstentionFeatures, AbstentionModel, choose_threshold, fit_logistic


def _rates(
    model: AbstentionModel, features: Sequence[AbstentionFeatures], labels: Sequence[bool]
) -> dict[str, float]:
    unanswerable = [f for f, y in zip(features, labels, strict=True) if not y]
    answerable = [f for f, y in zip(features, labels, strict=True) if y]
    recall = sum(model.should_abstain(f) for f in unanswerable) / max(1, len(unanswerable))
    false_rate = sum(model.should_abstain(f) for f in answerable) / max(1, len(answerable))
    return {"abstention.recall": round(recall, 4), "abstention.false_rate": round(false_rate, 4)}


DEFAULT_L2 = 0.1
DEFAULT_MAX_FALSE_RATE = 0.1


def fit_model(
    features: Sequence[AbstentionFeatures],
    labels: Sequence[bool],
    max_false_rate: float = DEFAULT_MAX_FALSE_RATE,
    l2: float = DEFAULT_L2,
) -> AbstentionModel:
    """Fit the weights, then the threshold that keeps false abstentions on
    these questions within ``max_false_rate``."""
    weights, bias = fit_logistic(features, labels, l2=l2)
    model = AbstentionModel(weights, bias)
    answerable = [model.probability(f) for f, y in zip(features, labels, strict=True) if y]
    return replace(model, threshold=choose_threshold(answerable, max_false_rate))


def cross_validate(
    features: Sequence[AbstentionFeatures],
    labels: Sequence[bool],
    folds: int = 5,
    seed: int = 7,
    max_false_rate: float = DEFAULT_MAX_FALSE_RATE,
    l2: float = DEFAULT_L2,
) -> dict[str, float]:
    """Abstention recall and false rate of models fitted without the fold they judge."""
    order = list(range(len(features)))
    random.Random(seed).shuffle(order)
    abstained = [False] * len(features)
    for fold in range(folds):
        held_out = set(order[fold::folds])
        train = [i for i in order if i not in held_out]
        model = fit_model(
            [features[i] for i in train], [labels[i] for i in train], max_false_rate, l2
        )
        for i in held_out:
            abstained[i] = model.should_abstain(features[i])
    unanswerable = [i for i, y in enumerate(labels) if not y]
    answerable = [i for i, y in enumerate(labels) if y]
    return {
        "abstention.recall": round(
            sum(abstained[i] for i in unanswerable) / max(1, len(unanswerable)), 4
        ),
        "abstention.false_rate": round(
            sum(abstained[i] for i in answerable) / max(1, len(answerable)), 4
        ),
        "folds": folds,
    }


def collect_features(
    pipeline: Any, questions: Sequence[dict[str, Any]]
) -> tuple[list[AbstentionFeatures], list[bool]]:
    features, labels = [], []
    for number, item in enumerate(questions, start=1):
        answer = pipeline.ask(item["question"])
        if answer.features is None:  # abstained before the model was asked (no close passage)
            continue
        features.append(answer.features)
        labels.append(bool(item["answerable"]))
        print(f"\r{number}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return features, labels


def run_calibrate(args: argparse.Namespace) -> int:
    from ragqa.cli import _ensure_index, _pipeline

    path: Path = args.questions
    try:
        questions = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError) as error:
        raise EvaluationError(f"{path}: cannot read the question file ({error})") from error
    if {bool(q.get("answerable")) for q in questions} != {True, False}:
        raise EvaluationError(
            f"{path}: calibration needs both answerable and unanswerable questions."
        )
    settings, pipeline = _pipeline(args)
    _ensure_index(pipeline, settings)
    features, labels = collect_features(pipeline, questions)
    decided_before = len(questions) - len(labels)
    if set(labels) != {True, False}:
        raise EvaluationError(
            f"{path}: after {decided_before} of {len(questions)} questions were abstained on "
            "before the abstention model is consulted (no passage close to them), only "
            f"{'answerable' if any(labels) else 'unanswerable'} questions are left to fit on. "
            "Add unanswerable questions that the documents come close to answering."
        )
    model = fit_model(features, labels, args.max_false_rate, args.l2)
    report = {
        "fitted_on": str(path),
        "n_questions": len(labels),
        "n_unanswerable": labels.count(False),
        "n_decided_before_the_model": decided_before,
        "training": _rates(model, features, labels),
        "cross_validated": cross_validate(
            features, labels, max_false_rate=args.max_false_rate, l2=args.l2
        ),
        "how": (
            f"L2-regularised logistic regression (l2={args.l2}), classes weighted equally, "
            f"threshold set so that at most {args.max_false_rate:.0%} of the answerable "
            "questions are abstained on; refit with `ragqa calibrate --questions FILE --out FILE`"
        ),
    }
    model = replace(model, notes=report)
    if args.out:
        model.save(args.out)
    print(
        json.dumps(
            {"weights": model.weights, "bias": model.bias, "threshold": model.threshold, **report},
            indent=2,
        )
    )
    return 0


def _number_type(minimum: float, below: float | None = None) -> Callable[[str], float]:
    """An argparse type: a number at least ``minimum`` (and below ``below``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
        if value < minimum or (below is not None and value >= below):
            bounds = f"at least {minimum:g}" + (f" and below {below:g}" if below else "")
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value:g}")
        return value

    return parse


def add_command(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "calibrate",
        help="fit the abstention model on a question set",
        description="Fit when to abstain from a question file (evaluation format) that holds "
        "answerable and unanswerable questions; prints the weights and cross-validated rates.",
    )
    parser.add_argument("--questions", type=Path, required=True, help="question file (JSON Lines)")
    parser.add_argument("--out", type=Path, help="write the fitted model here (JSON)")
    parser.add_argument(
        "--max-false-rate",
        type=_number_type(0.0, below=1.0),
        default=DEFAULT_MAX_FALSE_RATE,
        help="share of answerable questions the threshold may abstain on (default 0.1)",
    )
    parser.add_argument(
        "--l2",
        type=_number_type(0.0),
        default=DEFAULT_L2,
        help="L2 penalty of the logistic fit (default 0.1)",
    )
    add_common(parser)
