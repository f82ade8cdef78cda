"""Fitting the abstention model on a question file (``ragqa calibrate``).

Every question of a file in the evaluation format (it must hold both
answerable and unanswerable questions) is asked; each answer's
:class:`~qa.abstention.AbstentionFeatures` are recorded, the logistic model
is fitted, and abstention recall and false-abstention rate are reported both
on the fitting data and by k-fold cross-validation (the honest estimate for
unseen questions). With the learned selector (``answer.selector = "learned"``, the default)
what is refitted is its score threshold instead
(:func:`calibrate_selector_threshold`). The shipped ``qa/abstention_model.json``
(for ``answer.selector = "weighted"``) was made with::

    ragqa calibrate --questions eval/dev_questions.jsonl --out qa/abstention_model.json
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import EvaluationError
from evaluation.metrics import AbstentionRates, abstention_rates
from evaluation.questions import EvalQuestion
from qa.abstention import AbstentionFeatures, AbstentionModel, choose_threshold, fit_logistic
from qa.selector import SelectorThreshold

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

DEFAULT_L2 = 0.1
DEFAULT_MAX_FALSE_RATE = 0.1


def _as_report(rates: AbstentionRates) -> dict[str, Any]:
    rounded = rates.rounded(4)
    return {"abstention.recall": rounded.recall, "abstention.false_rate": rounded.false_rate}


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


def training_rates(
    model: AbstentionModel, features: Sequence[AbstentionFeatures], labels: Sequence[bool]
) -> dict[str, Any]:
    """Abstention recall and false rate of ``model`` on the questions it was fitted on."""
    return _as_report(abstention_rates([model.should_abstain(f) for f in features], labels))


def cross_validate(
    features: Sequence[AbstentionFeatures],
    labels: Sequence[bool],
    folds: int = 5,
    seed: int = 7,
    max_false_rate: float = DEFAULT_MAX_FALSE_RATE,
    l2: float = DEFAULT_L2,
) -> dict[str, Any]:
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
    return {**_as_report(abstention_rates(abstained, labels)), "folds": folds}


@dataclass(frozen=True)
class Observations:
    """The features of every answer the abstention model was consulted on,
    with whether its question is answerable; ``decided_before`` counts the
    questions abstained on before the model was asked (no close passage)."""

    features: list[AbstentionFeatures]
    labels: list[bool]
    decided_before: int


def collect_features(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    on_question: Callable[[int], None] | None = None,
) -> Observations:
    """Ask every question; ``on_question`` sees how many have been asked."""
    features, labels = [], []
    for number, question in enumerate(questions, start=1):
        answer = pipeline.ask(question.question)
        if answer.features is not None:  # None: abstained before the model was asked
            features.append(answer.features)
            labels.append(question.answerable)
        if on_question is not None:
            on_question(number)
    return Observations(features, labels, decided_before=len(questions) - len(labels))


def check_both_kinds(questions: Sequence[EvalQuestion], path: Path) -> None:
    """Refuse a question file that cannot teach when to abstain."""
    if {q.answerable for q in questions} != {True, False}:
        raise EvaluationError(
            f"{path}: calibration needs both answerable and unanswerable questions."
        )


def calibrate(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    path: Path,
    *,
    max_false_rate: float = DEFAULT_MAX_FALSE_RATE,
    l2: float = DEFAULT_L2,
    on_question: Callable[[int], None] | None = None,
) -> AbstentionModel:
    """Fit the abstention model on ``questions`` (read from ``path``); the
    model's ``notes`` say what it was fitted on and its training and
    cross-validated rates."""
    check_both_kinds(questions, path)
    seen = collect_features(pipeline, questions, on_question)
    if set(seen.labels) != {True, False}:
        raise EvaluationError(
            f"{path}: after {seen.decided_before} of {len(questions)} questions were abstained "
            "on before the abstention model is consulted (no passage close to them), only "
            f"{'answerable' if any(seen.labels) else 'unanswerable'} questions are left to fit "
            "on. Add unanswerable questions that the documents come close to answering."
        )
    model = fit_model(seen.features, seen.labels, max_false_rate, l2)
    notes = {
        "fitted_on": str(path),
        "n_questions": len(seen.labels),
        "n_unanswerable": seen.labels.count(False),
        "n_decided_before_the_model": seen.decided_before,
        "training": training_rates(model, seen.features, seen.labels),
        "cross_validated": cross_validate(
            seen.features, seen.labels, max_false_rate=max_false_rate, l2=l2
        ),
        "how": (
            f"L2-regularised logistic regression (l2={l2}), classes weighted equally, "
            f"threshold set so that at most {max_false_rate:.0%} of the answerable "
            "questions are abstained on; refit with `ragqa calibrate --questions FILE --out FILE`"
        ),
    }
    return replace(model, notes=notes)


def quoted_sentence_scores(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    on_question: Callable[[int], None] | None = None,
) -> list[float]:
    """The learned selector's score of the sentence each answer quotes (0
    where it abstained before the selector was consulted), with a pipeline
    whose selector never abstains."""
    scores = []
    for number, question in enumerate(questions, start=1):
        answer = pipeline.ask(question.question)
        scores.append(0.0 if answer.abstained else float(answer.confidence))
        if on_question is not None:
            on_question(number)
    return scores


def calibrate_selector_threshold(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    path: Path,
    *,
    max_false_rate: float = DEFAULT_MAX_FALSE_RATE,
    on_question: Callable[[int], None] | None = None,
) -> SelectorThreshold:
    """Refit the learned selector's threshold on ``questions``: the highest
    that abstains on at most ``max_false_rate`` of the answerable ones. The
    pipeline must never abstain on the selector's score while asked (the CLI
    points it at a zero threshold); each answer's ``confidence`` is then the
    score of the sentence it quotes, and 0 where it abstained for another
    reason (no close passage), which any threshold abstains on too."""
    check_both_kinds(questions, path)
    scores = quoted_sentence_scores(pipeline, questions, on_question)
    labels = [q.answerable for q in questions]
    answerable = [s for s, can in zip(scores, labels, strict=True) if can]
    threshold = choose_threshold(answerable, max_false_rate)
    rates = abstention_rates([s < threshold for s in scores], labels)
    return SelectorThreshold(
        round(threshold, 6),
        notes={
            "fitted_on": str(path),
            "n_questions": len(labels),
            "n_unanswerable": labels.count(False),
            "training": _as_report(rates),
            "how": (
                f"the highest score threshold that abstains on at most {max_false_rate:.0%} of "
                "the answerable questions; refit with `ragqa calibrate --questions FILE --out FILE`"
            ),
        },
    )
