"""evaluation.calibration: fitting the abstention model and its threshold
(the ``ragqa calibrate`` command: tests/ragqa/test_calibration_cli.py)."""

from __future__ import annotations

import random

import pytest

from evaluation.calibration import cross_validate, fit_model
from qa.abstention import AbstentionFeatures


def _features(answerable: bool, rng: random.Random) -> AbstentionFeatures:
    """Answerable attempts cover the question well, unanswerable ones less so
    (with overlap, as in real data)."""
    centre = 0.7 if answerable else 0.4
    return AbstentionFeatures(
        *(min(1.0, max(0.0, rng.gauss(centre, 0.15))) for _ in AbstentionFeatures.names())
    )


def _data(n_answerable: int = 60, n_unanswerable: int = 20) -> tuple[list, list[bool]]:
    rng = random.Random(3)
    labels = [True] * n_answerable + [False] * n_unanswerable
    return [_features(y, rng) for y in labels], labels


@pytest.mark.parametrize("max_false_rate", [0.0, 0.05, 0.1, 0.25])
def test_threshold_keeps_false_abstentions_within_the_budget(max_false_rate: float) -> None:
    features, labels = _data()
    model = fit_model(features, labels, max_false_rate)
    answerable = [f for f, y in zip(features, labels, strict=True) if y]
    false_rate = sum(model.should_abstain(f) for f in answerable) / len(answerable)
    assert false_rate <= max_false_rate
    unanswerable = [f for f, y in zip(features, labels, strict=True) if not y]
    assert sum(model.should_abstain(f) for f in unanswerable) > 0


def test_a_larger_budget_catches_at_least_as_many_unanswerable_questions() -> None:
    features, labels = _data()
    unanswerable = [f for f, y in zip(features, labels, strict=True) if not y]
    caught = [
        sum(fit_model(features, labels, budget).should_abstain(f) for f in unanswerable)
        for budget in (0.0, 0.1, 0.3)
    ]
    assert caught == sorted(caught)


def test_cross_validation_reports_both_rates_in_range() -> None:
    features, labels = _data()
    rates = cross_validate(features, labels, folds=5, max_false_rate=0.1)
    assert 0 < rates["abstention.recall"] <= 1
    assert 0 <= rates["abstention.false_rate"] <= 0.3  # held-out: may exceed the budget a little
    assert rates["folds"] == 5
