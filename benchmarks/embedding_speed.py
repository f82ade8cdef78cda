"""Benchmark 2: faster embedding that keeps retrieval quality.

Speed: the SQuAD chunks (as the indexer cuts them) are embedded by each
variant in turn, round after round, in one process, so all variants see the
same load; reported are the median texts per second and the median of the
per-round speed ratio against the old default (torch, batch 64).

Quality, for each backend: ``retrieval.hit@5`` on eval/dev_questions.jsonl
(the default collection indexed by the real pipeline, hybrid retrieval as
shipped) and SciFact nDCG@10 with dense retrieval alone (title + abstract,
exact cosine, as MTEB scores all-MiniLM-L6-v2: published 0.6451). A backend
may replace torch only if neither figure drops by more than 0.01.

    python -m benchmarks.embedding_speed            # 192 chunks x 3 rounds, full SciFact
    python -m benchmarks.embedding_speed --quick    # 64 chunks x 2 rounds, SciFact subset
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CACHE, DEV_QUESTIONS, SCIFACT, SQUAD_DOCS, emit, log, machine, median

MAX_QUALITY_DROP = 0.01


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str
    batch_size: int
    threads: int = 0
    sort_by_length: bool = True


VARIANTS = [
    Variant("torch b64 (old default)", "torch", 64),
    Variant("torch b32", "torch", 32),
    Variant("torch b32 1 thread", "torch", 32, threads=1),
    Variant("onnx b32", "onnx", 32),
    Variant("onnx-int8 b64", "onnx-int8", 64),
    Variant("onnx-int8 b32", "onnx-int8", 32),
    Variant("onnx-int8 b32 unsorted", "onnx-int8", 32, sort_by_length=False),
    Variant("onnx-int8 b32 1 thread", "onnx-int8", 32, threads=1),
]


# --- metrics (EVAL_FORMAT.md) -----------------------------------------------------
def norm(text: str) -> str:
    """The shared normalisation: NFKC, straight quotes, '-' dashes, case-folded,
    whitespace collapsed.

    >>> norm("  Lei\\u2019s  “SU7”\\u2014car ")
    'lei\\'s "su7"-car'
    """
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\u2018\u2019\u201a\u201b\u2032]", "'", text)
    text = re.sub(r"[\u201c\u201d\u201e\u201f\u2033]", '"', text)
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text.casefold()).strip()


def hit_at_k(passages: Sequence[str], evidence: Sequence[str], k: int) -> bool:
    """Whether the top ``k`` passages together contain every evidence string."""
    joined = [norm(p) for p in passages[:k]]
    return all(any(norm(e) in p for p in joined) for e in evidence)


def ndcg_at_10(ranking: Sequence[str], relevant: dict[str, int]) -> float:
    """nDCG@10 with graded gains, as BEIR (pytrec_eval) computes it.

    >>> ndcg_at_10(["a", "b"], {"a": 1}), round(ndcg_at_10(["b", "a"], {"a": 1}), 4)
    (1.0, 0.6309)
    """
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


# --- speed ----------------------------------------------------------------------------
def chunk_texts(count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """The texts the indexer would embed for the SQuAD collection (first ``limit``,
    taken evenly across documents)."""
    from corpus.chunking import ChunkingConfig, chunk_document
    from corpus.collection import load_collection

    documents = load_collection([SQUAD_DOCS]).documents
    texts = [
        chunk.embedding_text
        for document in documents
        for chunk in chunk_document(document, ChunkingConfig(), count_tokens)
    ]
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]


def _embedder(variant: Variant, cache_dir: Path) -> Any:
    from indexer.embedder import EmbedderConfig, make_embedder

    return make_embedder(
        EmbedderConfig(
            backend=variant.backend,
            batch_size=variant.batch_size,
            threads=variant.threads,
            cache_dir=str(cache_dir),
        )
    )


def measure_speed(texts: list[str], rounds: int, cache_dir: Path) -> list[dict[str, Any]]:
    import torch

    default_threads = torch.get_num_threads()
    embedders = {v.name: _embedder(v, cache_dir) for v in VARIANTS}
    reference = embedders[VARIANTS[0].name].embed(texts[:32])
    seconds: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    for round_number in range(rounds):
        # Rotate the order so no variant always runs first (cold caches) or last.
        shift = round_number % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            embedder = embedders[variant.name]
            if variant.backend == "torch":
                torch.set_num_threads(variant.threads or default_threads)
            started = time.perf_counter()
            if variant.sort_by_length:
                embedder.embed(texts)
            else:
                for i in range(0, len(texts), variant.batch_size):
                    embedder.embed(texts[i : i + variant.batch_size])
            seconds[variant.name].append(time.perf_counter() - started)
            log(f"round {round_number + 1}: {variant.name}: {seconds[variant.name][-1]:.1f} s")
        torch.set_num_threads(default_threads)
    baseline = seconds[VARIANTS[0].name]
    rows = []
    for variant in VARIANTS:
        vectors = embedders[variant.name].embed(texts[:32])
        cosine = np.sum(vectors * reference, axis=1)
        rows.append(
            {
                "variant": variant.name,
                "backend": variant.backend,
                "batch_size": variant.batch_size,
                "threads": variant.threads or "all",
                "sorted_by_length": variant.sort_by_length,
                "seconds": seconds[variant.name],
                "texts_per_s_median": len(texts) / median(seconds[variant.name]),
                "speedup_vs_old_default_median": median(
                    [b / s for b, s in zip(baseline, seconds[variant.name], strict=True)]
                ),
                "cosine_to_torch_min": float(cosine.min()),
                "cosine_to_torch_mean": float(cosine.mean()),
            }
        )
    return rows


# --- quality ----------------------------------------------------------------------
def dev_hit_at_5(backend: str, cache_dir: Path) -> dict[str, Any]:
    """retrieval.hit@5 on the dev set: default collection, shipped retrieval."""
    from indexer.embedder import EmbedderConfig
    from qa.pipeline import Pipeline, PipelineConfig

    questions = [
        json.loads(line)
        for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    answerable = [q for q in questions if q["answerable"]]
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-") as tmp:
        config = PipelineConfig(index_dir=Path(tmp) / "index")
        config = replace(config, embedder=EmbedderConfig(backend=backend, cache_dir=str(cache_dir)))
        pipeline = Pipeline(config)
        pipeline.build_index(None)
        hits = {1: 0, 3: 0, 5: 0, 10: 0}
        for question in answerable:
            found = [h.chunk.text for h in pipeline.retrieve(question["question"], top_k=10)]
            for k in hits:
                hits[k] += hit_at_k(found, question["evidence"], k)
        pipeline.reload_index()
    return {f"hit@{k}": v / len(answerable) for k, v in hits.items()} | {"n": len(answerable)}


def load_scifact(
    quick: bool,
) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        item = json.loads(line)
        if item["_id"] in qrels:
            queries[item["_id"]] = item["text"]
    ids, texts = [], []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            ids.append(item["_id"])
            texts.append(f"{item['title']} {item['text']}".strip())
    if quick:
        rng = np.random.default_rng(0)
        chosen = sorted(rng.choice(sorted(queries), 100, replace=False))
        queries = {q: queries[q] for q in chosen}
        qrels = {q: qrels[q] for q in chosen}
        keep = {d for q in chosen for d in qrels[q]}
        keep |= set(rng.choice(ids, 1000, replace=False))
        pairs = [(i, t) for i, t in zip(ids, texts, strict=True) if i in keep]
        ids, texts = [p[0] for p in pairs], [p[1] for p in pairs]
    return ids, texts, queries, qrels


def scifact_ndcg(backend: str, cache_dir: Path, quick: bool) -> dict[str, Any]:
    from indexer.embedder import EmbedderConfig, make_embedder

    ids, texts, queries, qrels = load_scifact(quick)
    embedder = make_embedder(EmbedderConfig(backend=backend, cache_dir=str(cache_dir)))
    started = time.perf_counter()
    corpus = embedder.embed(texts)
    corpus_seconds = time.perf_counter() - started
    query_ids = sorted(queries)
    query_vectors = embedder.embed([queries[q] for q in query_ids])
    scores = query_vectors @ corpus.T
    top = np.argsort(-scores, axis=1)[:, :10]
    values = [ndcg_at_10([ids[j] for j in top[i]], qrels[q]) for i, q in enumerate(query_ids)]
    return {
        "ndcg@10": float(np.mean(values)),
        "n_queries": len(query_ids),
        "n_documents": len(ids),
        "corpus_docs_per_s": len(ids) / corpus_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer texts, 2 rounds, SciFact subset"
    )
    parser.add_argument("--texts", type=int, help="chunks to embed per variant and round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--quality-backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args(argv)
    n_texts = args.texts or (64 if args.quick else 192)
    rounds = args.rounds or (2 if args.quick else 3)
    cache_dir = CACHE / "onnx"
    info = machine()

    speed: list[dict[str, Any]] = []
    if not args.skip_speed:
        from indexer.embedder import EmbedderConfig, make_embedder

        counter = make_embedder(EmbedderConfig(backend="onnx", cache_dir=str(cache_dir)))
        texts = chunk_texts(counter.count_tokens, n_texts)
        log(f"speed: {len(texts)} SQuAD chunks, {rounds} rounds, {len(VARIANTS)} variants")
        speed = measure_speed(texts, rounds, cache_dir)

    quality: dict[str, dict[str, Any]] = {}
    if not args.skip_quality:
        for backend in [b for b in args.quality_backends.split(",") if b]:
            log(f"quality: {backend}: dev hit@5")
            dev = dev_hit_at_5(backend, cache_dir)
            log(f"quality: {backend}: dev {dev}; SciFact nDCG@10")
            scifact = scifact_ndcg(backend, cache_dir, args.quick)
            log(f"quality: {backend}: SciFact {scifact}")
            quality[backend] = {"dev": dev, "scifact": scifact}

    verdicts = {}
    if "torch" in quality:
        for backend, q in quality.items():
            dev_drop = quality["torch"]["dev"]["hit@5"] - q["dev"]["hit@5"]
            sci_drop = quality["torch"]["scifact"]["ndcg@10"] - q["scifact"]["ndcg@10"]
            verdicts[backend] = {
                "hit@5_drop": dev_drop,
                "ndcg@10_drop": sci_drop,
                "keeps_quality": dev_drop <= MAX_QUALITY_DROP and sci_drop <= MAX_QUALITY_DROP,
            }

    rows: list[list[Any]] = []
    for row in speed:
        q = quality.get(row["backend"], {})
        rows.append(
            [
                row["variant"],
                round(row["texts_per_s_median"], 1),
                round(row["speedup_vs_old_default_median"], 2),
                round(row["cosine_to_torch_min"], 4),
                q.get("dev", {}).get("hit@5"),
                q.get("scifact", {}).get("ndcg@10"),
            ]
        )
    if not speed:
        rows = [
            [b, None, None, None, q["dev"]["hit@5"], q["scifact"]["ndcg@10"]]
            for b, q in quality.items()
        ]
    result = {
        "benchmark": "embedding_speed",
        "machine": info,
        "texts": n_texts,
        "rounds": rounds,
        "quick": args.quick,
        "speed": speed,
        "quality": quality,
        "verdicts": verdicts,
        "max_quality_drop": MAX_QUALITY_DROP,
    }
    emit(
        result,
        ["variant", "chunks/s (median)", "speed-up vs torch b64 (median ratio)",
         "min cosine to torch", "dev hit@5 (backend)", "SciFact nDCG@10 (backend)"],
        rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
