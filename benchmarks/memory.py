"""Benchmark: memory of `ragqa ui` while it answers many questions.

``ragqa ui`` is started as a person would (over an index of the default
collection), then asked the dev questions in turn through its ``/ask`` API
(``gradio_client``), 200 by default. After 20 questions and at every
checkpoint it records the resident memory of the server and of its children
(the generator's process when drafts are on), and the server's peak
(``VmHWM``). Growth between question 20 and the last says whether anything
(the sentence-vector cache, Gradio's state) grows without bound.

Variants as in ``benchmarks.startup``: ``before`` (torch embedder with
drafts, the earlier defaults) and ``after`` (today's defaults).

    python -m benchmarks.memory                       # 200 questions, before and after
    python -m benchmarks.memory --questions 60 --variants after
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CACHE,
    DEV_QUESTIONS,
    child_env,
    emit,
    log,
    machine,
    run_process,
    running_ragqa_ui,
)
from benchmarks.startup import VARIANTS


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory of ``pid`` and its descendants, and ``pid``'s peak."""
    children = _descendants(pid)
    return {
        "server_rss_mib": _status_kib(pid, "VmRSS") / 1024,
        "server_peak_mib": _status_kib(pid, "VmHWM") / 1024,
        "children_rss_mib": sum(_status_kib(c, "VmRSS") for c in children) / 1024,
    }


def run_variant(
    variant: str, index_dir: Path, data: Path, questions: list[str], n: int
) -> dict[str, Any]:
    from gradio_client import Client

    env = child_env(
        RAGQA_DATA_DIR=str(data), RAGQA_EMBEDDER__CACHE_DIR=str(CACHE / "onnx"), **VARIANTS[variant]
    )
    checkpoints = sorted({20, *range(50, n + 1, 50), n} & set(range(1, n + 1)))
    samples: list[dict[str, Any]] = []
    with running_ragqa_ui(["--index-dir", str(index_dir)], env) as running:
        client = Client(running.url, verbose=False)
        try:
            samples.append({"questions": 0, **memory_mib(running.pid)})
            for asked in range(1, n + 1):
                client.predict(questions[(asked - 1) % len(questions)], None, 5, api_name="/ask")
                if asked in checkpoints:
                    samples.append({"questions": asked, **memory_mib(running.pid)})
                    log(f"{variant}: {json.dumps(samples[-1])}")
        finally:
            client.close()
    at_20 = next(s for s in samples if s["questions"] == min(20, n))
    last = samples[-1]
    total = lambda s: s["server_rss_mib"] + s["children_rss_mib"]  # noqa: E731
    return {
        "variant": variant,
        "settings": VARIANTS[variant],
        "questions": n,
        "rss_after_20_mib": total(at_20),
        "server_peak_after_20_mib": at_20["server_peak_mib"],
        "rss_last_mib": total(last),
        "growth_20_to_last_mib": total(last) - total(at_20),
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--variants", default="before,after")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    questions = [
        json.loads(line)["question"]
        for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    info = machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="ragqa-memory-") as tmp:
        index_dir, data = Path(tmp) / "index", Path(tmp) / "data"
        run_process(
            [str(Path(sys.executable).with_name("ragqa")), "index", "--index-dir", str(index_dir)],
            env=child_env(RAGQA_DATA_DIR=str(data), RAGQA_EMBEDDER__CACHE_DIR=str(CACHE / "onnx")),
        ).check("index")
        for variant in variants:
            results.append(run_variant(variant, index_dir, data, questions, args.questions))
    rows = [
        [r["variant"], r["questions"], round(r["rss_after_20_mib"]), round(r["server_peak_after_20_mib"]),
         round(r["rss_last_mib"]), round(r["growth_20_to_last_mib"], 1)]
        for r in results
    ]  # fmt: skip
    emit(
        {"benchmark": "memory", "machine": info, "variants": results},
        ["variant", "questions", "RSS after 20 MiB (with children)", "server peak after 20 MiB",
         "RSS at the end MiB", "growth 20 -> end MiB"],
        rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
