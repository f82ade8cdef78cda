"""Benchmark 4: time to first token and to the full answer, per generator backend.

The default collection is indexed into a temporary folder, the pipeline is
built as the CLI builds it, one question warms the models up, then every
question of eval/dev_questions.jsonl is streamed through
``Pipeline.stream()``. Per question: time to the first streamed token (from
the call, so retrieval is included), time to the final :class:`Answer`, and
the stage timings the answerer records. Questions the system abstains on
before generating have no first token; they count for the full-answer
figures only. Generator speed is measured apart from the pipeline: decode
tokens per second over the streamed pieces after the first.

    python -m benchmarks.answer_latency            # all 80 dev questions (llama-cpp), 20 (transformers)
    python -m benchmarks.answer_latency --quick    # 15 and 5
    python -m benchmarks.answer_latency --backends llama-cpp --isolation both
        # the generator in its supervised child process vs in this process
    python -m benchmarks.answer_latency --backends llama-cpp --drafts both
        # answers without drafts (the default) beside answers that wait for one

Without drafts no model writes anything: the answer (the quote with its
citation) is the first thing on screen, so "answer p50" is both the time to
the answer and to the end of the turn; with drafts the answer replaces the
streamed draft at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import CACHE, DEV_QUESTIONS, emit, log, machine, median, percentile

TARGET_ANSWER_P50_S = 0.5  # the answer (the quote and its citation) on screen
TARGET_TURN_P50_S = 1.0  # the turn finished
STAGES = ("retrieve_ms", "generate_ms", "ground_ms")


def run_backend(
    pipeline: Any, backend: str, questions: list[dict[str, Any]], label: str = ""
) -> dict[str, Any]:
    from qa.types import Answer, Token

    started = time.perf_counter()
    if pipeline.config.answer.draft:
        pipeline.generator(backend)
    load_s = time.perf_counter() - started
    list(pipeline.stream("Who founded Xiaomi?", backend=backend))  # warm-up
    records = []
    for question in questions:
        pieces: list[float] = []
        answer: Answer | None = None
        started = time.perf_counter()
        for event in pipeline.stream(question["question"], backend=backend):
            if isinstance(event, Token):
                pieces.append(time.perf_counter())
            elif isinstance(event, Answer):
                answer = event
        total = time.perf_counter() - started
        assert answer is not None
        decode_s = pieces[-1] - pieces[0] if len(pieces) > 1 else 0.0
        records.append(
            {
                "id": question["id"],
                "ttft_s": pieces[0] - started if pieces else None,
                "total_s": total,
                "pieces": len(pieces),
                "decode_s": decode_s,
                "abstained": answer.abstained,
                "timings_ms": asdict(answer.timings),
            }
        )
    ttft = [r["ttft_s"] for r in records if r["ttft_s"] is not None]
    totals = [r["total_s"] for r in records]
    generated = [r for r in records if r["pieces"] > 1]
    tokens_per_s = sum(r["pieces"] - 1 for r in generated) / max(
        1e-9, sum(r["decode_s"] for r in generated)
    )
    total_ms = sum(r["timings_ms"]["total_ms"] for r in records) or 1.0
    shares = {s: sum(r["timings_ms"].get(s, 0.0) for r in records) / total_ms for s in STAGES}
    shares["other"] = max(0.0, 1 - sum(shares.values()))
    generate_ms = [r["timings_ms"]["generate_ms"] for r in records if r["pieces"]]
    return {
        "backend": label or backend,
        "load_s": load_s,
        "n_questions": len(records),
        "n_with_first_token": len(ttft),
        "ttft_s": {"p50": percentile(ttft, 50), "p95": percentile(ttft, 95)},
        "total_s": {"p50": percentile(totals, 50), "p95": percentile(totals, 95)},
        "retrieve_ms_p50": median([r["timings_ms"]["retrieve_ms"] for r in records]),
        "generate_ms_p50": median(generate_ms),
        "ground_ms_p50": median([r["timings_ms"]["ground_ms"] for r in records if r["pieces"]]),
        "decode_tokens_per_s": tokens_per_s,
        "mean_pieces": sum(r["pieces"] for r in records) / len(records),
        "stage_share_of_total": shares,
        # The answer replaces the draft (if any) when the turn ends: both
        # targets are about the total.
        "meets_targets": bool(
            percentile(totals, 50) <= TARGET_ANSWER_P50_S
            and percentile(totals, 50) <= TARGET_TURN_P50_S
        ),
        "per_question": records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 questions (5 for transformers)")
    parser.add_argument("--backends", default="llama-cpp,transformers")
    parser.add_argument("--questions", type=int, help="questions for llama-cpp (default all)")
    parser.add_argument("--transformers-questions", type=int, help="default 20 (quick: 5)")
    parser.add_argument(
        "--embedder-backend", help="embedding backend (default: the shipped default)"
    )
    parser.add_argument(
        "--drafts",
        choices=("off", "on", "both"),
        default="off",
        help="answer without drafts (the default), with drafts, or both side by side",
    )
    parser.add_argument(
        "--isolation",
        choices=("child", "in-process", "both"),
        default="child",
        help="run the generator in its supervised child process (the default), here, or both",
    )
    args = parser.parse_args(argv)

    from indexer.embedder import EmbedderConfig
    from qa.answerer import AnswerConfig
    from qa.generator import GeneratorConfig
    from qa.pipeline import Pipeline, PipelineConfig

    info = machine()
    questions = [
        json.loads(line)
        for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    limits = {
        "llama-cpp": args.questions or (15 if args.quick else len(questions)),
        "transformers": args.transformers_questions or (5 if args.quick else 20),
    }
    with tempfile.TemporaryDirectory(prefix="ragqa-answer-bench-") as tmp:
        config = PipelineConfig(index_dir=Path(tmp) / "index")
        if args.embedder_backend:
            config = replace(
                config,
                embedder=EmbedderConfig(
                    backend=args.embedder_backend, cache_dir=str(CACHE / "onnx")
                ),
            )
        pipeline = Pipeline(config)
        log("indexing the default collection")
        pipeline.build_index(None)
        pipelines: dict[str, Any] = {}
        if args.drafts in ("off", "both"):
            pipelines["no drafts"] = pipeline
        if args.drafts in ("on", "both"):
            isolations = ["child", "in-process"] if args.isolation == "both" else [args.isolation]
            for isolation in isolations:
                drafting = replace(
                    config,
                    answer=AnswerConfig(draft=True),
                    generator=GeneratorConfig(isolated=isolation == "child"),
                )
                pipelines[f"drafts, {isolation}"] = Pipeline(drafting, embedder=pipeline.embedder)
        results = []
        for backend in [b for b in args.backends.split(",") if b]:
            # Spread the subset over the file, so every kind of question is in it.
            limit = limits.get(backend, len(questions))
            step = max(1, len(questions) // limit)
            subset = questions[::step][:limit]
            for variant, chosen in pipelines.items():
                if variant == "no drafts" and backend != args.backends.split(",")[0]:
                    continue  # no generator is asked: one run is enough
                label = "no drafts" if variant == "no drafts" else f"{backend} ({variant})"
                log(f"{label}: {len(subset)} questions")
                results.append(run_backend(chosen, backend, subset, label))
                log(
                    f"{label}: {json.dumps({k: v for k, v in results[-1].items() if k != 'per_question'}, default=float)}"
                )
        for chosen in pipelines.values():
            chosen.reload_index()

    rows = [
        [
            r["backend"],
            f"{r['n_questions']} ({r['n_with_first_token']} generated)",
            round(r["ttft_s"]["p50"], 2),
            round(r["ttft_s"]["p95"], 2),
            round(r["total_s"]["p50"], 2),
            round(r["total_s"]["p95"], 2),
            round(r["decode_tokens_per_s"], 1),
            " / ".join(f"{r['stage_share_of_total'][s]:.0%}" for s in (*STAGES, "other")),
            round(r["load_s"], 1),
        ]
        for r in results
    ]
    result = {
        "benchmark": "answer_latency",
        "machine": info,
        "embedder_backend": config.embedder.backend,
        "targets": {"answer_p50_s": TARGET_ANSWER_P50_S, "turn_p50_s": TARGET_TURN_P50_S},
        "backends": results,
    }
    emit(
        result,
        ["generator", "questions", "TTFT p50 s", "TTFT p95 s", "answer p50 s", "answer p95 s",
         "decode tok/s", "share retrieve / generate / ground / other", "load s"],
        rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
