"""Evaluation subcommands of ``ragqa`` (registered by :mod:`ragqa.cli`).

``ragqa eval``            answers, citations, abstention and retrieval on a
                          question file (shared EVAL_FORMAT.md)
``ragqa eval-retrieval``  nDCG@10, Recall@10/100 and MRR@10 on a BEIR dataset

Both check their input before any model loads, send progress to standard
error, and with ``--json`` print exactly one JSON object on standard output.
This module only parses and prints: the settings and pipeline come from
:mod:`ragqa.app`, the measuring from the :mod:`evaluation` package.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.errors import EvaluationError
from qa.generator import GENERATOR_BACKENDS
from ragqa import app

PARTIAL_FILE = "per_question.jsonl"


def add_commands(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="measure answers, citations and retrieval on a question file",
        description="Ask every question of a question file (JSON Lines: one object per line with id, "
        "question, answers, evidence and answerable) and "
        "report retrieval hit@k and MRR, answer accuracy, citation precision and recall, "
        "abstention and latency. With no --index-dir, uses (and if needed builds) the default "
        "collection's index.",
    )
    evaluate.add_argument(
        "--questions", type=Path, required=True, metavar="FILE", help="question file (.jsonl)"
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print one JSON object on standard output"
    )
    evaluate.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="also write a report there: report.md, results.json, PNG plots, failures.csv "
        "(and per_question.jsonl as the run goes)",
    )
    evaluate.add_argument(
        "--sample", type=int, metavar="N", help="evaluate a random sample of N questions"
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of --sample (default 0)"
    )
    evaluate.add_argument("--backend", choices=GENERATOR_BACKENDS, help="generator backend")
    add_common(evaluate)

    retrieval = commands.add_parser(
        "eval-retrieval",
        help="measure retrieval on a BEIR dataset",
        description="Index a BEIR dataset's corpus (cached between runs), retrieve for every "
        "judged query and print nDCG@10, Recall@10, Recall@100 and MRR@10.",
    )
    retrieval.add_argument(
        "--beir",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with corpus.jsonl[.gz], queries.jsonl and qrels/<split>.tsv",
    )
    retrieval.add_argument(
        "--json", action="store_true", help="print one JSON object on standard output"
    )
    retrieval.add_argument(
        "--top-k", type=int, default=100, metavar="N", help="documents per query (default 100)"
    )
    retrieval.add_argument("--split", default="test", help="qrels split (default: test)")
    retrieval.add_argument(
        "--mode", help="retrieval mode: hybrid, dense or keyword (default from settings)"
    )
    retrieval.add_argument(
        "--rebuild", action="store_true", help="re-index the corpus even if a cached index matches"
    )
    retrieval.add_argument(
        "--index-dir",
        type=Path,
        help="where to keep the dataset's index (default: <data dir>/beir/<name>-<hash>)",
    )
    retrieval.add_argument("--config", type=Path, help="settings file (TOML); see README")
    retrieval.add_argument(
        "-v", "--verbose", action="store_true", help="log more to standard error"
    )


def _plain_progress(total: int, label: str) -> Callable[[Any], None]:
    """Progress lines on standard error when it is not a terminal (logs, CI)."""
    started = time.perf_counter()
    done = 0
    step = max(1, total // 10)

    def tick(_: Any) -> None:
        nonlocal done
        done += 1
        if done % step == 0 or done == total:
            elapsed = time.perf_counter() - started
            print(f"{label}: {done}/{total} in {elapsed:.0f} s", file=sys.stderr, flush=True)

    return tick


def _check_out_dir(out: Path | None) -> None:
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise EvaluationError(f"--out {out} is a file; give a folder for the report.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EvaluationError(f"Cannot create the report folder {out}: {error}.") from error


def _progress(
    total: int, label: str, *, plain_label: str | None = None
) -> tuple[Callable[[Any], None], Callable[[], None]]:
    """Progress on standard error, as ``(tick, close)``: a bar on a terminal;
    elsewhere (logs, CI) a line every tenth of the way if ``plain_label`` is
    given, else nothing."""
    if not sys.stderr.isatty():
        plain = _plain_progress(total, plain_label) if plain_label else (lambda _: None)
        return plain, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="q", file=sys.stderr)

    def tick(_: Any) -> None:
        bar.update()

    return tick, bar.close


def _print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def run_eval(args: argparse.Namespace) -> int:
    from evaluation.questions import load_questions, sample_questions
    from evaluation.report import metrics_table, write_report
    from evaluation.runner import evaluate

    started = datetime.now(UTC).isoformat(timespec="seconds")
    questions = sample_questions(load_questions(args.questions), args.sample, args.seed)
    _check_out_dir(args.out)
    settings = app.load(
        args.config, collection=args.collection, index_dir=args.index_dir, backend=args.backend
    )
    pipeline = app.open_pipeline(settings)

    tick, close_progress = _progress(len(questions), "questions", plain_label="eval")
    with contextlib.ExitStack() as stack:
        stack.callback(close_progress)
        # With --out, each record is saved as it is made, so a long run that is
        # interrupted keeps what it measured.
        partial = (
            stack.enter_context((args.out / PARTIAL_FILE).open("w", encoding="utf-8"))
            if args.out
            else None
        )

        def on_record(record: dict[str, Any]) -> None:
            if partial is not None:
                partial.write(json.dumps(record, ensure_ascii=False) + "\n")
                partial.flush()
            tick(record)

        result = evaluate(pipeline, questions, on_record=on_record)
    per_question = result.pop("per_question")
    result["run"] = {
        "questions": str(args.questions),
        "sample": args.sample,
        "seed": args.seed if args.sample else None,
        "started": started,
    }
    result["per_question"] = per_question
    if args.out:
        paths = write_report(result, args.out)
        print(f"Report written to {paths['report.md']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    counts = result["counts"]
    n_failed = sum(1 for r in per_question if not r["correct"])
    print(
        f"Evaluated {result['n_questions']} questions from {args.questions} "
        f"({counts['answerable']} answerable, {counts['unanswerable']} unanswerable) "
        f"in {result['seconds']:.0f} s.\n\n{metrics_table(result)}\n\n"
        f"{n_failed} failure(s)"
        + (f": see {args.out / 'report.md'}." if args.out else "; add --out DIR for the table.")
    )
    return 0


def run_eval_retrieval(args: argparse.Namespace) -> int:
    from evaluation.beir import evaluate_beir, load_beir

    if args.top_k < 1:
        raise EvaluationError(f"--top-k must be 1 or more. Currently it is {args.top_k}.")
    settings = app.load(args.config, retrieval_mode=args.mode)
    dataset = load_beir(args.beir, args.split)
    settings = app.for_beir_dataset(settings, args.beir, args.index_dir)
    pipeline = app.build_pipeline(settings)
    tick, close_progress = _progress(len(dataset.judged_queries), "queries")
    try:
        result = evaluate_beir(
            pipeline,
            dataset,
            top_k=args.top_k,
            rebuild=args.rebuild,
            show_progress=sys.stderr.isatty(),
            announce=_print_to_stderr,
            on_query=tick,
        )
    finally:
        close_progress()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    index_note = (
        "cached index reused"
        if result["index_reused"]
        else f"indexed in {result['index_seconds']:.0f} s"
    )
    print(
        f"{result['dataset']} ({result['split']}): {result['n_queries']} queries over "
        f"{result['n_documents']:,} documents ({result['n_chunks']:,} chunks), retrieval "
        f"{result['retrieval']['mode']}, top {result['top_k']}\n\n"
        "| nDCG@10 | Recall@10 | Recall@100 | MRR@10 |\n|---:|---:|---:|---:|\n"
        f"| {result['ndcg@10']:.4f} | {result['recall@10']:.4f} | {result['recall@100']:.4f} "
        f"| {result['mrr@10']:.4f} |\n\n"
        f"{result['seconds']:.0f} s ({index_note}; {result['ms_per_query']:.0f} ms per query)."
    )
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "eval": run_eval,
    "eval-retrieval": run_eval_retrieval,
}
