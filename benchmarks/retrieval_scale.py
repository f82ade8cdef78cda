"""Benchmark 3: vector search latency, recall and memory by collection size.

For 10k, 100k and 1M chunks it builds each index type through the project's
own :mod:`indexer.vector_index` (``flat`` exact, ``hnsw``, ``ivf``) plus an
IVF-PQ index built with FAISS directly, then searches one query at a time as
the retriever does. Reported per configuration: build time, peak resident
memory while building, resident memory of a fresh process that loads the
saved index and searches it, single-query latency p50/p95, and recall@10
against exact search. Each build and each search runs in its own child
process, so the memory figures are that configuration's alone.

The vectors are generated, not embedded (embedding 1M texts would take days
on 2 cores), but they are shaped like real ones: real all-MiniLM-L6-v2
embeddings of the SQuAD paragraphs are the topic centres, each centre gets
sub-topics (centre plus noise) and each chunk is a sub-topic plus noise, all
L2-normalised; queries are drawn the same way, so they are not in the index.

    python -m benchmarks.retrieval_scale            # 10k, 100k, 1M (about an hour on 2 cores)
    python -m benchmarks.retrieval_scale --quick    # 10k and 100k, fewer queries
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CACHE,
    ROOT,
    SQUAD_DOCS,
    child_env,
    emit,
    log,
    machine,
    percentile,
    run_process,
)

DIMENSION = 384
TOP_K = 10
SEARCH_SWEEP = {
    "hnsw": ("ef_search", [16, 32, 64, 128, 256]),
    "ivf": ("nprobe", [4, 8, 16, 32, 64]),
    "ivfpq": ("nprobe", [8, 16, 32, 64]),
    "flat": ("none", [0]),
}
TARGET_RECALL = 0.95
TARGET_P50_MS = 10.0
TARGET_RSS_MIB = 8 * 1024


# --- data -------------------------------------------------------------------
def real_centres(path: Path) -> np.ndarray:
    """MiniLM vectors of the SQuAD paragraphs, embedded once and cached."""
    if path.is_file():
        return np.load(path)
    log("embedding the SQuAD paragraphs once for the topic centres (cached afterwards)")
    paragraphs = [
        p.strip()
        for f in sorted(SQUAD_DOCS.glob("*.txt"))
        for p in f.read_text(encoding="utf-8").split("\n\n")
        if len(p.split()) >= 8
    ]
    from indexer.embedder import EmbedderConfig, make_embedder

    vectors = make_embedder(EmbedderConfig()).embed(paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def _normalised(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def generate(
    centres: np.ndarray, n: int, n_queries: int, directory: Path, seed: int = 0
) -> tuple[Path, Path]:
    """Write ``n`` chunk vectors and ``n_queries`` query vectors as .npy files."""
    base_path = directory / f"base_{n}.npy"
    query_path = directory / f"queries_{n}_{n_queries}.npy"
    if base_path.is_file() and query_path.is_file():
        return base_path, query_path
    rng = np.random.default_rng(seed)
    n_topics = max(len(centres), n // 50)
    topics = centres[rng.integers(0, len(centres), n_topics)].astype(np.float32)
    topics = _normalised(topics + rng.standard_normal(topics.shape, dtype=np.float32) * 0.03)

    def draw(count: int) -> np.ndarray:
        rows = topics[rng.integers(0, n_topics, count)]
        return _normalised(rows + rng.standard_normal(rows.shape, dtype=np.float32) * 0.035)

    base = np.lib.format.open_memmap(
        directory / f".base_{n}.npy", mode="w+", dtype=np.float32, shape=(n, DIMENSION)
    )
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        base[start:stop] = draw(stop - start)
    base.flush()
    del base
    (directory / f".base_{n}.npy").rename(base_path)
    np.save(query_path, draw(n_queries))
    return base_path, query_path


# --- children -----------------------------------------------------------------
def _rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def _peak_rss_mib() -> float:
    """This process's peak RSS. ``ru_maxrss`` survives ``exec`` (a child would
    report its parent's peak), so read the kernel's high-water mark instead."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(kind: str, base_path: Path, index_path: Path) -> dict[str, Any]:
    import faiss

    from indexer.vector_index import VectorIndexConfig, build_vector_index, save_vector_index

    before = _rss_mib()
    vectors = np.load(base_path)
    started = time.perf_counter()
    if kind == "ivfpq":
        n = len(vectors)
        n_lists = max(1, min(int(4 * np.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(DIMENSION)
        index = faiss.IndexIVFPQ(quantizer, DIMENSION, n_lists, 48, 8, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(1).permutation(n)[: max(64 * n_lists, 10_000)]
        index.train(vectors[np.sort(sample)])
        index.add(vectors)
        description: dict[str, Any] = {"type": "ivfpq", "n_lists": n_lists, "pq_m": 48}
    else:
        index, description = build_vector_index(vectors, VectorIndexConfig(kind=kind))
    build_seconds = time.perf_counter() - started
    save_vector_index(index, index_path)
    return {
        "build_s": build_seconds,
        "build_peak_rss_mib": _peak_rss_mib(),
        "rss_before_data_mib": before,
        "vectors_mib": vectors.nbytes / 2**20,
        "index_file_mib": index_path.stat().st_size / 2**20,
        "description": description,
    }


def child_search(
    kind: str, index_path: Path, query_path: Path, truth_path: Path, n: int
) -> dict[str, Any]:
    import faiss

    from indexer.vector_index import (
        VectorIndexConfig,
        load_vector_index,
        search,
        tune_for_search,
    )

    rss_libraries = _rss_mib()
    queries = np.load(query_path)
    index = load_vector_index(index_path, dimension=DIMENSION, n_vectors=n)
    rss_loaded = _rss_mib()
    truth = np.load(truth_path) if truth_path.is_file() else None
    parameter, values = SEARCH_SWEEP[kind]
    results = []
    for value in values:
        if kind == "hnsw":
            tune_for_search(index, VectorIndexConfig(kind="hnsw", hnsw_ef_search=value))
        elif kind == "ivf":
            tune_for_search(index, VectorIndexConfig(kind="ivf", ivf_nprobe=value))
        elif kind == "ivfpq":
            faiss.extract_index_ivf(index).nprobe = value
        search(index, queries[:5], TOP_K)  # warm up
        latencies, found = [], []
        for query in queries:
            started = time.perf_counter()
            _, ids = search(index, query[None, :], TOP_K)
            latencies.append((time.perf_counter() - started) * 1000)
            found.append(ids[0])
        found_ids = np.stack(found)
        if truth is None:
            np.save(truth_path, found_ids)
            recall = 1.0
        else:
            recall = float(
                np.mean(
                    [len(set(f) & set(t)) / TOP_K for f, t in zip(found_ids, truth, strict=True)]
                )
            )
        results.append(
            {
                parameter: value,
                "p50_ms": percentile(latencies, 50),
                "p95_ms": percentile(latencies, 95),
                "recall_at_10": recall,
            }
        )
    return {
        "rss_libraries_mib": rss_libraries,
        "rss_loaded_mib": rss_loaded,
        "search_peak_rss_mib": _peak_rss_mib(),
        "sweep": results,
    }


# --- parent -------------------------------------------------------------------
def _child(arguments: list[str]) -> dict[str, Any]:
    run = run_process(
        [sys.executable, "-m", "benchmarks.retrieval_scale", *arguments], env=child_env(), cwd=ROOT
    ).check(" ".join(arguments))
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def best_setting(sweep: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest sweep point that reaches the recall target, if any."""
    good = [s for s in sweep if s["recall_at_10"] >= TARGET_RECALL]
    return min(good, key=lambda s: s["p50_ms"]) if good else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k only, 200 queries")
    parser.add_argument("--sizes", help="comma-separated sizes (default 10000,100000,1000000)")
    parser.add_argument(
        "--kinds",
        default="flat,hnsw,ivf",
        help="flat,hnsw,ivf and optionally ivfpq (slow to train)",
    )
    parser.add_argument("--queries", type=int, help="queries per configuration (default 500)")
    parser.add_argument("--workdir", type=Path, default=CACHE / "retrieval_scale")
    parser.add_argument("--child", choices=["build", "search", "centres"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--query-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "centres":
        print(json.dumps({"centres": len(real_centres(args.base))}))
        return 0
    if args.child == "build":
        print(json.dumps(child_build(args.kind, args.base, args.index)))
        return 0
    if args.child == "search":
        print(json.dumps(child_search(args.kind, args.index, args.query_file, args.truth, args.n)))
        return 0

    sizes = [
        int(s)
        for s in (args.sizes or ("10000,100000" if args.quick else "10000,100000,1000000")).split(
            ","
        )
    ]
    n_queries = args.queries or (200 if args.quick else 500)
    kinds = [k for k in args.kinds.split(",") if k]
    if kinds and kinds[0] != "flat" and "flat" in kinds:
        kinds.remove("flat")
        kinds.insert(0, "flat")
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    centres_path = CACHE / "squad_paragraph_vectors.npy"
    if not centres_path.is_file():  # in a child, so this process stays small
        _child(["--child", "centres", "--base", str(centres_path)])
    centres = np.load(centres_path)
    log(f"{len(centres)} real topic centres; sizes {sizes}; kinds {kinds}; {n_queries} queries")

    configurations: list[dict[str, Any]] = []
    for n in sizes:
        base_path, query_path = generate(centres, n, n_queries, args.workdir)
        truth_path = args.workdir / f"truth_{n}_{n_queries}.npy"
        truth_path.unlink(missing_ok=True)
        for kind in kinds:
            if kind != "flat" and not truth_path.is_file():
                raise SystemExit("flat (exact) must run first: it provides the ground truth")
            index_path = args.workdir / f"{kind}_{n}.faiss"
            log(f"n={n:,} {kind}: building")
            build = _child(
                [
                    "--child",
                    "build",
                    "--kind",
                    kind,
                    "--base",
                    str(base_path),
                    "--index",
                    str(index_path),
                ]
            )
            log(f"n={n:,} {kind}: built in {build['build_s']:.1f} s; searching")
            found = _child(
                [
                    "--child", "search", "--kind", kind, "--n", str(n), "--index", str(index_path),
                    "--query-file", str(query_path), "--truth", str(truth_path),
                ]
            )  # fmt: skip
            index_path.unlink(missing_ok=True)
            configuration = {
                "n": n,
                "kind": kind,
                **build,
                **found,
                "best": best_setting(found["sweep"]),
            }
            configurations.append(configuration)
            log(json.dumps({k: v for k, v in configuration.items() if k != "sweep"}, default=float))
        base_path.unlink(missing_ok=True)

    rows = []
    for c in configurations:
        for point in c["sweep"]:
            parameter = next(k for k in point if k not in ("p50_ms", "p95_ms", "recall_at_10"))
            rows.append(
                [
                    f"{c['n']:,}",
                    c["kind"],
                    f"{parameter}={point[parameter]}" if parameter != "none" else "exact",
                    round(c["build_s"], 1),
                    round(c["build_peak_rss_mib"]),
                    round(c["search_peak_rss_mib"]),
                    round(point["p50_ms"], 2),
                    round(point["p95_ms"], 2),
                    round(point["recall_at_10"], 3),
                ]
            )
    million = [c for c in configurations if c["n"] == 1_000_000]
    meets = [
        c
        for c in million
        if c["best"]
        and c["best"]["p50_ms"] <= TARGET_P50_MS
        and max(c["build_peak_rss_mib"], c["search_peak_rss_mib"]) <= TARGET_RSS_MIB
    ]
    result = {
        "benchmark": "retrieval_scale",
        "machine": info,
        "n_queries": n_queries,
        "top_k": TOP_K,
        "data": "synthetic: real MiniLM SQuAD paragraph vectors as topic centres, sub-topics and chunks "
        "as Gaussian perturbations, L2-normalised",
        "configurations": configurations,
        "targets": {
            "recall_at_10": TARGET_RECALL,
            "p50_ms_at_1m": TARGET_P50_MS,
            "rss_mib_at_1m": TARGET_RSS_MIB,
            "met_at_1m_by": [c["kind"] for c in meets] if million else None,
        },
    }
    emit(
        result,
        ["chunks", "index", "search setting", "build s", "build RSS MiB", "search RSS MiB",
         "p50 ms", "p95 ms", "recall@10"],
        rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
