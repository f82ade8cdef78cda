"""Benchmark 7: the dev set's retrieval through each vector store, by mode.

Milvus ranks keywords with its own BM25 function where the local store uses
bm25s; this measures what that changes on the dev set, without generating
answers (``ragqa eval`` does that, at a minute or more per run): for each
store and retrieval mode (dense, keyword, hybrid), hit@1/5/10 and MRR@10 over
the answerable questions (evidence located as ``ragqa eval`` locates it), and
how many questions get exactly the same top-10 chunks from both stores.

    python -m benchmarks.store_retrieval --data-dir /tmp/store-retrieval
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CACHE, DEV_QUESTIONS, emit, log, machine

MODES = ("dense", "keyword", "hybrid")
STORES = ("faiss", "milvus")
DEPTH = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--data-dir", type=Path, default=CACHE / "store_retrieval")
    args = parser.parse_args(argv)

    from evaluation.metrics import evidence_rank, reciprocal_rank
    from evaluation.questions import load_questions
    from indexer.embedder import make_embedder
    from qa.answerer import clean_question
    from qa.reranker import make_reranker
    from qa.retriever import make_retriever
    from qa.types import Query
    from ragqa.settings import load_settings

    questions = [q for q in load_questions(args.questions) if q.answerable and q.evidence]
    embedder = make_embedder()
    texts = [clean_question(q.question) for q in questions]
    log(f"embedding {len(texts)} questions once")
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    real_embed = embedder.embed

    def embed_once(batch: list[str], *, show_progress: bool = False) -> Any:
        """Questions come from the table above; anything else is embedded."""
        import numpy as np

        if all(t in vectors for t in batch):
            return np.stack([vectors[t] for t in batch])
        return real_embed(batch, show_progress=show_progress)

    embedder.embed = embed_once  # type: ignore[method-assign]
    rankings: dict[tuple[str, str], list[list[str]]] = {}
    results: dict[str, Any] = {}
    for kind in STORES:
        from qa.pipeline import Pipeline

        settings = load_settings(
            environ={"RAGQA_DATA_DIR": str(args.data_dir), "RAGQA_VECTOR_STORE__KIND": kind}
        )
        pipeline = Pipeline(settings.pipeline_config(), embedder=embedder)
        if not pipeline.index_exists():
            log(f"{kind}: indexing the default collection")
            pipeline.build_index(None)
        reranker = make_reranker(settings.rerank, embedder)
        for mode in MODES:
            log(f"{kind}: {mode}")
            retriever = make_retriever(
                pipeline.store, replace(settings.retrieval, mode=mode), reranker
            )
            ranks, ids = [], []
            for question in questions:
                query = Query.embed(clean_question(question.question), embedder)
                hits = retriever.run(query, DEPTH)
                ids.append([h.chunk.chunk_id for h in hits])
                ranks.append(evidence_rank([h.chunk.text for h in hits], question.evidence))
            rankings[(kind, mode)] = ids
            results[f"{kind}/{mode}"] = {
                **{
                    f"hit@{k}": round(sum(r is not None and r <= k for r in ranks) / len(ranks), 4)
                    for k in (1, 5, 10)
                },
                "mrr@10": round(sum(reciprocal_rank(r, DEPTH) for r in ranks) / len(ranks), 4),
            }
        pipeline.store.close()
    for mode in MODES:
        same = sum(
            a == b
            for a, b in zip(rankings[("faiss", mode)], rankings[("milvus", mode)], strict=True)
        )
        top1 = sum(
            a[:1] == b[:1]
            for a, b in zip(rankings[("faiss", mode)], rankings[("milvus", mode)], strict=True)
        )
        results[f"same/{mode}"] = {"same_top10": same, "same_top1": top1, "of": len(questions)}
    rows = [
        [name, *(metrics.get(k, "") for k in ("hit@1", "hit@5", "hit@10", "mrr@10"))]
        for name, metrics in results.items()
        if not name.startswith("same/")
    ] + [
        [
            name,
            f"top-1 same {m['same_top1']}/{m['of']}",
            f"top-10 same {m['same_top10']}/{m['of']}",
            "",
            "",
        ]
        for name, m in results.items()
        if name.startswith("same/")
    ]
    emit(
        {
            "benchmark": "store_retrieval",
            "machine": machine(),
            "n_questions": len(questions),
            "results": results,
        },
        ["store/mode", "hit@1", "hit@5", "hit@10", "MRR@10"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
