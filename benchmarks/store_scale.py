"""Benchmark 6: the vector stores side by side at 10k, 100k and 1M chunks.

Where :mod:`benchmarks.retrieval_scale` measures bare FAISS indexes, this one
goes through the :class:`~indexer.store.VectorStore` protocol, as ragqa does:
the local store (FAISS + bm25s + SQLite, ``vector_index = auto``) and the
Milvus store on embedded Milvus Lite (``FLAT``, exact; and ``HNSW`` where the
engine takes it), built and searched in the same run on the same data.

Per store and size: build time through the store writer (chunk rows, vectors,
keyword index, publish), peak resident memory while building, resident
memory of a fresh process that opens the store and searches it, dense
search latency p50/p95 one query at a time (as the retriever asks), recall@10
against exact search (numpy over the same vectors), and keyword (BM25) search
latency. Each build and each search runs in its own child process, so its
memory is its own; Milvus Lite runs inside that process, so its engine is
counted too.

The vectors are generated as in retrieval_scale (real MiniLM SQuAD paragraph
vectors as topic centres, chunks as perturbations); each chunk gets a short
text of topic words so that BM25 has something to index. 50 chunks make one
document.

    python -m benchmarks.store_scale                      # 10k, 100k, 1M (hours at 1M)
    python -m benchmarks.store_scale --sizes 10000,100000 # what was run here
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CACHE, ROOT, child_env, emit, log, machine, percentile, run_process
from benchmarks.retrieval_scale import _peak_rss_mib, _rss_mib, generate

TOP_K = 10
CHUNKS_PER_DOCUMENT = 50
WRITE_BATCH = 20_000
STORES = {
    "faiss": {"kind": "faiss"},
    "milvus-flat": {"kind": "milvus", "index_type": "FLAT"},
    "milvus-hnsw": {"kind": "milvus", "index_type": "HNSW"},
}
EMBEDDING_MODEL = "benchmark/generated-vectors"


def chunk_text(row: int, rng: np.random.Generator) -> str:
    """A dozen words: three shared by a topic, the rest from a 20k-word vocabulary.

    >>> chunk_text(120, np.random.default_rng(0)).split()[:3]
    ['topic2a', 'topic2b', 'topic2c']
    """
    topic = row // CHUNKS_PER_DOCUMENT
    words = [f"word{w}" for w in rng.integers(0, 20_000, 9)]
    return " ".join([f"topic{topic}a", f"topic{topic}b", f"topic{topic}c", *words])


def make_store_for(name: str, folder: Path) -> Any:
    from indexer.store import VectorStoreConfig, make_store

    config = VectorStoreConfig(uri=str(folder / "milvus.db"), **STORES[name])  # type: ignore[arg-type]
    return make_store(config, index_dir=folder / "index", embedding_model=EMBEDDING_MODEL)


def child_build(name: str, base_path: Path, folder: Path) -> dict[str, Any]:
    from corpus.documents import Chunk, Document

    before = _rss_mib()
    vectors = np.load(base_path, mmap_mode="r")
    n, dimension = vectors.shape
    rng = np.random.default_rng(7)
    store = make_store_for(name, folder)
    started = time.perf_counter()
    with store.writer(embedding_model=EMBEDDING_MODEL, dimension=dimension) as writer:
        for low in range(0, n, WRITE_BATCH):
            high = min(n, low + WRITE_BATCH)
            documents, chunks = [], []
            for first in range(low, high, CHUNKS_PER_DOCUMENT):
                texts = [
                    chunk_text(r, rng) for r in range(first, min(high, first + CHUNKS_PER_DOCUMENT))
                ]
                text = "\n".join(texts)
                doc_id = f"d{first // CHUNKS_PER_DOCUMENT:06d}"
                documents.append(Document(doc_id, doc_id, f"/generated/{doc_id}.txt", text))
                offset = 0
                for number, piece in enumerate(texts):
                    row = first + number
                    chunks.append(
                        Chunk(
                            f"{row:07d}",
                            doc_id,
                            doc_id,
                            f"/generated/{doc_id}.txt",
                            offset,
                            offset + len(piece),
                            piece,
                        )
                    )
                    offset += len(piece) + 1
            writer.upsert(documents, chunks, np.asarray(vectors[low:high], dtype=np.float32))
        description = writer.commit(chunking={"max_tokens": 0, "overlap_tokens": 0})
    build_seconds = time.perf_counter() - started
    store.close()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "build_s": build_seconds,
        "build_peak_rss_mib": _peak_rss_mib(),
        "rss_before_data_mib": before,
        "on_disk_mib": size / 2**20,
        "description": description,
    }


def child_search(name: str, folder: Path, query_path: Path, truth_path: Path) -> dict[str, Any]:
    rss_libraries = _rss_mib()
    queries = np.load(query_path)
    truth = np.load(truth_path)
    store = make_store_for(name, folder)
    started = time.perf_counter()
    store.count()  # opens (and for the local store verifies) the index
    open_seconds = time.perf_counter() - started
    rss_loaded = _rss_mib()
    for query in queries[:5]:
        store.dense_search(query, TOP_K)  # warm up
    latencies, recalls = [], []
    for query, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        hits = store.dense_search(query, TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        found = {int(h.chunk_id) for h in hits}
        recalls.append(len(found & {int(t) for t in expected}) / TOP_K)
    rng = np.random.default_rng(11)
    keyword_latencies = []
    n_topics = max(1, store.count() // CHUNKS_PER_DOCUMENT)
    for _ in range(len(queries)):
        words = f"topic{rng.integers(0, n_topics)}b word{rng.integers(0, 20_000)}"
        started = time.perf_counter()
        store.keyword_search(words, TOP_K)
        keyword_latencies.append((time.perf_counter() - started) * 1000)
    store.close()
    return {
        "open_s": open_seconds,
        "rss_libraries_mib": rss_libraries,
        "rss_loaded_mib": rss_loaded,
        "search_peak_rss_mib": _peak_rss_mib(),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "recall_at_10": float(np.mean(recalls)),
        "keyword_p50_ms": percentile(keyword_latencies, 50),
        "keyword_p95_ms": percentile(keyword_latencies, 95),
    }


def exact_truth(base_path: Path, query_path: Path, truth_path: Path) -> None:
    """Exact top-10 rows for every query, by brute force in blocks."""
    base = np.load(base_path, mmap_mode="r")
    queries = np.load(query_path)
    best_scores = np.full((len(queries), TOP_K), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), TOP_K), dtype=np.int64)
    for low in range(0, len(base), 100_000):
        block = np.asarray(base[low : low + 100_000])
        scores = queries @ block.T
        scores_all = np.concatenate([best_scores, scores], axis=1)
        rows_all = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(low, low + len(block)), scores.shape)], axis=1
        )
        keep = np.argsort(-scores_all, axis=1)[:, :TOP_K]
        best_scores = np.take_along_axis(scores_all, keep, axis=1)
        best_rows = np.take_along_axis(rows_all, keep, axis=1)
    np.save(truth_path, best_rows)


def _child(arguments: list[str]) -> dict[str, Any]:
    run = run_process(
        [sys.executable, "-m", "benchmarks.store_scale", *arguments], env=child_env(), cwd=ROOT
    ).check(" ".join(arguments))
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--stores", default=",".join(STORES), help=f"among {', '.join(STORES)}")
    parser.add_argument("--queries", type=int, default=200, help="queries per configuration")
    parser.add_argument("--workdir", type=Path, default=CACHE / "store_scale")
    parser.add_argument("--child", choices=["build", "search"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--query-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "build":
        print(json.dumps(child_build(args.store, args.base, args.folder), default=str))
        return 0
    if args.child == "search":
        print(json.dumps(child_search(args.store, args.folder, args.query_file, args.truth)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    stores = [s for s in args.stores.split(",") if s]
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        raise SystemExit(f"unknown store(s) {', '.join(unknown)}; choose among {', '.join(STORES)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    centres_path = CACHE / "squad_paragraph_vectors.npy"
    if not centres_path.is_file():
        run_process(
            [
                sys.executable,
                "-m",
                "benchmarks.retrieval_scale",
                "--child",
                "centres",
                "--base",
                str(centres_path),
            ],
            env=child_env(),
            cwd=ROOT,
        ).check("centres")
    centres = np.load(centres_path)
    log(f"sizes {sizes}; stores {stores}; {args.queries} queries")

    configurations: list[dict[str, Any]] = []
    for n in sizes:
        base_path, query_path = generate(centres, n, args.queries, args.workdir)
        truth_path = args.workdir / f"store_truth_{n}_{args.queries}.npy"
        exact_truth(base_path, query_path, truth_path)
        for name in stores:
            folder = args.workdir / f"{name}_{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            log(f"n={n:,} {name}: building")
            try:
                build = _child(
                    [
                        "--child",
                        "build",
                        "--store",
                        name,
                        "--base",
                        str(base_path),
                        "--folder",
                        str(folder),
                    ]
                )
            except Exception as error:  # an engine that refuses a setting is a result too
                log(f"n={n:,} {name}: build failed: {error}")
                configurations.append({"n": n, "store": name, "error": str(error)[-500:]})
                continue
            log(f"n={n:,} {name}: built in {build['build_s']:.1f} s; searching")
            found = _child(
                ["--child", "search", "--store", name, "--folder", str(folder),
                 "--query-file", str(query_path), "--truth", str(truth_path)]
            )  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)
            configuration = {"n": n, "store": name, **build, **found}
            configurations.append(configuration)
            log(json.dumps(configuration, default=str))
        base_path.unlink(missing_ok=True)

    rows = [
        [
            f"{c['n']:,}",
            c["store"],
            round(c["build_s"], 1),
            round(c["build_peak_rss_mib"]),
            round(c["search_peak_rss_mib"]),
            round(c["open_s"], 2),
            round(c["p50_ms"], 2),
            round(c["p95_ms"], 2),
            round(c["recall_at_10"], 3),
            round(c["keyword_p50_ms"], 2),
        ]
        if "error" not in c
        else [f"{c['n']:,}", c["store"], "failed", "", "", "", "", "", "", ""]
        for c in configurations
    ]
    emit(
        {
            "benchmark": "store_scale",
            "machine": info,
            "n_queries": args.queries,
            "top_k": TOP_K,
            "data": "synthetic vectors as in retrieval_scale; 12-word chunk texts, 50 chunks a document",
            "configurations": configurations,
        },
        ["chunks", "store", "build s", "build RSS MiB", "search RSS MiB", "open s",
         "dense p50 ms", "dense p95 ms", "recall@10", "BM25 p50 ms"],
        rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
