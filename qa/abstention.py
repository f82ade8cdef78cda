"""Deciding when to say "the documents don't say".

The decision is a logistic model over a few scores that every answer
produces (:class:`AbstentionFeatures`). Its weights are *fitted* on a question
set with both answerable and unanswerable questions, by
``ragqa calibrate`` (see the README), and shipped in
``qa/abstention_model.json`` with the data they were fitted on and their
cross-validated figures. A user can refit on their own questions and point
``answer.abstention_model`` at the result.

The weights weigh one embedding model's cosine similarities, so the file's
manifest (:mod:`qa.model_files`) records that model and the command that
made the file; a file fitted for another embedding model, of another format
version, or damaged is refused with that command rather than used.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from corpus.errors import ConfigError
from qa.model_files import MANIFEST_KEY, ModelManifest, ModelRequirement, read_model_file, refusal

SHIPPED_MODEL = Path(__file__).resolve().parent / "abstention_model.json"
KIND = "abstention model"
# 1: weights, bias, threshold and notes beside a manifest naming the embedding model.
FORMAT_VERSION = 1
# How the shipped model was made (run from the repository's root).
SHIPPED_QUESTIONS = "eval/dev_questions.jsonl"


def refit_command(path: Path | None, questions: str = "QUESTIONS.jsonl") -> str:
    """The ``ragqa calibrate`` command that refits the model at ``path`` (None: the shipped one).

    >>> refit_command(Path("/tmp/my model.json"), "q.jsonl")
    "ragqa calibrate --questions q.jsonl --out '/tmp/my model.json'"
    """
    if path is None or path == SHIPPED_MODEL:
        return f"ragqa calibrate --questions {SHIPPED_QUESTIONS} --out qa/abstention_model.json"
    return shlex.join(["ragqa", "calibrate", "--questions", questions, "--out", str(path)])


@dataclass(frozen=True)
class AbstentionFeatures:
    """Scores in [0, 1] (cosines may dip below 0) describing one answer attempt."""

    retrieval: float  # best chunk cosine to the question
    evidence: float  # cosine of the quoted sentence to the question
    coverage: float  # weighted share of the question's terms the passages hold
    sentence: float  # ... that the quoted sentence holds
    context: float  # ... that the quoted sentence and its neighbours hold
    answer_type: float  # 1: it holds the kind of answer asked for, 0: not, 0.5: open question
    draft: float  # share of the draft's new words the quoted sentence holds
    invented: float  # 1: the draft names things or numbers no passage holds

    def vector(self) -> list[float]:
        return [float(getattr(self, f.name)) for f in fields(self)]

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(AbstentionFeatures)]


@dataclass(frozen=True)
class AbstentionModel:
    """``P(answerable) = sigmoid(bias + weights . features)``; abstain below ``threshold``."""

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5
    notes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = set(AbstentionFeatures.names())
        if set(self.weights) != expected:
            raise ConfigError(
                f"Abstention model weights must name exactly {sorted(expected)}; got {sorted(self.weights)}."
            )

    def probability(self, features: AbstentionFeatures) -> float:
        z = self.bias + sum(
            self.weights[name] * value
            for name, value in zip(AbstentionFeatures.names(), features.vector(), strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def should_abstain(self, features: AbstentionFeatures) -> bool:
        return self.probability(features) < self.threshold

    def save(self, path: Path, *, embedding_model: str, rebuild_command: str = "") -> None:
        """Write the model with its manifest: the ``embedding_model`` whose
        similarities it was fitted on and the command that made it."""
        manifest = ModelManifest(
            KIND,
            FORMAT_VERSION,
            {"embedding_model": embedding_model},
            rebuild_command or refit_command(path),
        )
        data = {
            MANIFEST_KEY: manifest.to_dict(),
            "weights": self.weights,
            "bias": self.bias,
            "threshold": self.threshold,
            "notes": self.notes,
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None, *, embedding_model: str) -> AbstentionModel:
        """The model at ``path`` (None: the shipped one), for a pipeline that embeds
        with ``embedding_model``; raises :class:`~corpus.errors.SavedModelError`."""
        path = path or SHIPPED_MODEL
        required = ModelRequirement(
            KIND, FORMAT_VERSION, {"embedding_model": embedding_model}, refit_command(path)
        )
        data, manifest = read_model_file(path, required)
        try:
            return cls(
                weights={str(k): float(v) for k, v in data["weights"].items()},
                bias=float(data["bias"]),
                threshold=float(data["threshold"]),
                notes=dict(data.get("notes", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as error:
            raise refusal(
                path, KIND, f"has damaged weights ({error!r})", manifest.rebuild_command
            ) from error


def fit_logistic(
    features: Sequence[AbstentionFeatures],
    answerable: Sequence[bool],
    *,
    l2: float = 0.1,
    steps: int = 4000,
    learning_rate: float = 0.5,
) -> tuple[dict[str, float], float]:
    """Fit weights and bias by gradient descent on the L2-regularised log loss,
    classes weighted equally (unanswerable questions are the minority).

    >>> f = [AbstentionFeatures(0.8, 0.8, 0.9, 0.8, 0.9, 1, 0.8, 0),
    ...      AbstentionFeatures(0.2, 0.2, 0.3, 0.1, 0.2, 0, 0.0, 1)]
    >>> w, b = fit_logistic(f, [True, False])
    >>> w["coverage"] > 0 and w["invented"] < 0
    True
    """
    if len(features) != len(answerable) or not features:
        raise ValueError("features and labels must be non-empty and of equal length")
    x = np.array([f.vector() for f in features], dtype=np.float64)
    y = np.array(answerable, dtype=np.float64)
    positives = max(1.0, y.sum())
    negatives = max(1.0, len(y) - y.sum())
    sample_weight = np.where(y > 0, len(y) / (2 * positives), len(y) / (2 * negatives))
    weights = np.zeros(x.shape[1])
    bias = 0.0
    for _ in range(steps):
        z = np.clip(x @ weights + bias, -50, 50)
        p = 1.0 / (1.0 + np.exp(-z))
        error = (p - y) * sample_weight
        weights -= learning_rate * (x.T @ error / len(y) + l2 * weights)
        bias -= learning_rate * float(error.mean())
    return dict(zip(AbstentionFeatures.names(), map(float, weights), strict=True)), float(bias)


def choose_threshold(answerable_probabilities: Sequence[float], max_false_rate: float) -> float:
    """The highest threshold that abstains on at most ``max_false_rate`` of the
    answerable questions (abstain when ``P(answerable) < threshold``): as many
    unanswerable questions caught as that budget of false abstentions allows.

    >>> choose_threshold([0.9, 0.8, 0.3, 0.6], 0.25)
    0.6
    >>> choose_threshold([0.9, 0.8], 0.0)
    0.8
    """
    if not answerable_probabilities:
        return 0.5
    ordered = sorted(answerable_probabilities)
    allowed = int(max_false_rate * len(ordered) + 1e-9)
    return float(ordered[min(allowed, len(ordered) - 1)])
