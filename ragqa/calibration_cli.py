"""``ragqa calibrate``: fit the abstention model on a question set.

This module parses the arguments and prints; the fitting is
:func:`evaluation.calibration.calibrate`. The shipped
``qa/abstention_model.json`` was made with::

    ragqa calibrate --questions eval/dev_questions.jsonl --out qa/abstention_model.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragqa import app

# evaluation.calibration's defaults, repeated so that building the parser (and
# `--help`) need not import the answering stack; a test keeps them equal.
DEFAULT_MAX_FALSE_RATE = 0.1
DEFAULT_L2 = 0.1


def rebuild_command(args: argparse.Namespace) -> str:
    """This ``ragqa calibrate`` command, as the model file's manifest records it.

    >>> args = argparse.Namespace(questions=Path("q.jsonl"), out=Path("m.json"), l2=0.5,
    ...     max_false_rate=DEFAULT_MAX_FALSE_RATE, collection="papers", index_dir=None, config=None)
    >>> rebuild_command(args)
    'ragqa calibrate --questions q.jsonl --out m.json --l2 0.5 --collection papers'
    """
    words = ["ragqa", "calibrate", "--questions", str(args.questions), "--out", str(args.out)]
    if args.max_false_rate != DEFAULT_MAX_FALSE_RATE:
        words += ["--max-false-rate", f"{args.max_false_rate:g}"]
    if args.l2 != DEFAULT_L2:
        words += ["--l2", f"{args.l2:g}"]
    for flag, value in (
        ("--collection", args.collection),
        ("--index-dir", args.index_dir),
        ("--config", args.config),
    ):
        if value:
            words += [flag, str(value)]
    return shlex.join(words)


def _never_abstaining(embedding_model: str, folder: Path) -> Path:
    """A model file that answers everything, for ``embedding_model``.

    Calibration reads each answer's features, which do not depend on the
    model consulted; the model in the settings may be the very one being
    replaced (refused, say, for another embedding model), so it is not used."""
    from qa.abstention import AbstentionFeatures, AbstentionModel

    path = folder / "never-abstaining.json"
    model = AbstentionModel(dict.fromkeys(AbstentionFeatures.names(), 0.0), bias=0.0, threshold=0.0)
    model.save(path, embedding_model=embedding_model, rebuild_command="ragqa calibrate")
    return path


def run_calibrate(args: argparse.Namespace) -> int:
    from evaluation.calibration import calibrate, check_both_kinds
    from evaluation.questions import load_questions

    path: Path = args.questions
    questions = load_questions(path)
    check_both_kinds(questions, path)  # before any model loads
    settings = app.load(args.config, collection=args.collection, index_dir=args.index_dir)

    def show(asked: int) -> None:
        print(f"\r{asked}/{len(questions)} questions", end="", file=sys.stderr, flush=True)

    if settings.answer.selector == "learned":
        return _calibrate_selector(args, settings, questions, show)
    with tempfile.TemporaryDirectory(prefix="ragqa-calibrate-") as folder:
        neutral = _never_abstaining(settings.embedder.model, Path(folder))
        settings = settings.replace(answer=replace(settings.answer, abstention_model=str(neutral)))
        pipeline = app.open_pipeline(settings)
        try:
            model = calibrate(
                pipeline,
                questions,
                path,
                max_false_rate=args.max_false_rate,
                l2=args.l2,
                on_question=show,
            )
        finally:
            print(file=sys.stderr)
    if args.out:
        model.save(
            args.out,
            embedding_model=pipeline.embedder.model_name,
            rebuild_command=rebuild_command(args),
        )
    print(
        json.dumps(
            {
                "weights": model.weights,
                "bias": model.bias,
                "threshold": model.threshold,
                **model.notes,
            },
            indent=2,
        )
    )
    return 0


def _calibrate_selector(
    args: argparse.Namespace, settings: Any, questions: Any, show: Callable[[int], None]
) -> int:
    """``ragqa calibrate`` with the learned selector: refit its threshold."""
    from evaluation.calibration import calibrate_selector_threshold
    from qa.selector import SelectorThreshold

    pipeline = app.build_pipeline(settings)
    selector = pipeline.selector
    assert selector is not None  # the settings choose the learned selector
    with tempfile.TemporaryDirectory(prefix="ragqa-calibrate-") as folder:
        neutral = Path(folder) / "never-abstaining.json"
        SelectorThreshold(0.0).save(neutral, selector, rebuild_command="ragqa calibrate")
        settings = settings.replace(answer=replace(settings.answer, abstention_model=str(neutral)))
        pipeline = app.open_pipeline(settings)
        try:
            threshold = calibrate_selector_threshold(
                pipeline,
                questions,
                args.questions,
                max_false_rate=args.max_false_rate,
                on_question=show,
            )
        finally:
            print(file=sys.stderr)
    if args.out:
        threshold.save(args.out, selector, rebuild_command=rebuild_command(args))
    print(json.dumps({"abstain_below": threshold.abstain_below, **threshold.notes}, indent=2))
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
        help=f"share of answerable questions the threshold may abstain on (default {DEFAULT_MAX_FALSE_RATE})",
    )
    parser.add_argument(
        "--l2",
        type=_number_type(0.0),
        default=DEFAULT_L2,
        help=f"L2 penalty of the logistic fit (default {DEFAULT_L2})",
    )
    add_common(parser)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"calibrate": run_calibrate}
