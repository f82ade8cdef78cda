"""Benchmark 5: start-up of `ragqa ask` (cold, first answer) and `ragqa ui`.

An index of the default collection is built first (untimed), as after
``ragqa index``. Then, for each embedding backend:

- ``ask``: ``ragqa ask QUESTION --json`` as a fresh process, timed from spawn
  to exit (imports, model loads, retrieval, generation, grounding);
- ``ui``: ``ragqa ui --port P`` as a fresh process, timed from spawn until
  ``GET /`` on 127.0.0.1 answers 200 with the page; the process is then
  stopped (by its own id).

Rounds alternate the backends so each pair sees the same load. One more
``ragqa ask`` run with ``python -X importtime`` shows which imports cost the
most.

    python -m benchmarks.startup            # 5 rounds
    python -m benchmarks.startup --quick    # 2 rounds
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CACHE,
    child_env,
    emit,
    log,
    machine,
    median,
    run_process,
    running_ragqa_ui,
)

TARGET_S = 5.0
QUESTION = "When did Lei Jun found Xiaomi?"
UI_TIMEOUT_S = 180.0


def import_costs(importtime_stderr: str, top: int = 12) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time, from ``-X importtime``."""
    costs: dict[str, float] = {}
    for line in importtime_stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:
            package = match.group(3).split(".")[0]
            costs[package] = costs.get(package, 0.0) + int(match.group(1)) / 1e6
    return sorted(costs.items(), key=lambda item: -item[1])[:top]


def ui_available() -> bool:
    try:
        from ui import app
    except Exception:
        return False
    return hasattr(app, "serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--backends", default="torch,onnx", help="embedding backends")
    parser.add_argument("--skip-ui", action="store_true")
    parser.add_argument("--ui-timeout", type=float, default=UI_TIMEOUT_S, help="seconds")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    backends = [b for b in args.backends.split(",") if b]
    info = machine()
    ragqa = str(Path(sys.executable).with_name("ragqa"))
    with_ui = not args.skip_ui and ui_available()
    if not with_ui and not args.skip_ui:
        log("ui/app.py has no serve() yet: measuring `ragqa ask` only")

    with tempfile.TemporaryDirectory(prefix="ragqa-startup-") as tmp:
        data = Path(tmp) / "data"
        index_dir = Path(tmp) / "index"
        cache_dir = CACHE / "onnx"

        def env(backend: str) -> dict[str, str]:
            return child_env(
                RAGQA_DATA_DIR=str(data),
                RAGQA_EMBEDDER__BACKEND=backend,
                RAGQA_EMBEDDER__CACHE_DIR=str(cache_dir),
            )

        log("building the default index and exporting ONNX models (untimed)")
        run_process([ragqa, "index", "--index-dir", str(index_dir)], env=env(backends[0])).check(
            "index"
        )
        for backend in backends[1:]:  # the export is a one-off cost, like the index build
            run_process(
                [ragqa, "ask", QUESTION, "--index-dir", str(index_dir)], env=env(backend)
            ).check("warm-up")

        ask: dict[str, list[float]] = {b: [] for b in backends}
        ask_rss: dict[str, list[float]] = {b: [] for b in backends}
        ui: dict[str, list[float]] = {b: [] for b in backends}
        for round_number in range(rounds):
            order = backends if round_number % 2 == 0 else backends[::-1]
            for backend in order:
                run = run_process(
                    [ragqa, "ask", QUESTION, "--json", "--index-dir", str(index_dir)],
                    env=env(backend),
                ).check("ragqa ask")
                ask[backend].append(run.seconds)
                ask_rss[backend].append(run.max_rss_mib)
                message = f"round {round_number + 1}: ask ({backend}) {run.seconds:.1f} s"
                if with_ui:
                    with running_ragqa_ui(
                        ["--index-dir", str(index_dir)], env(backend), timeout_s=args.ui_timeout
                    ) as running:
                        seconds = running.seconds_to_ready
                    ui[backend].append(seconds)
                    message += f"; ui ({backend}) {seconds:.1f} s"
                log(message)

        profiled: dict[str, list[tuple[str, float]]] = {}
        for backend in backends:
            run = run_process(
                [sys.executable, "-X", "importtime", "-m", "ragqa.cli", "ask", QUESTION, "--json",
                 "--index-dir", str(index_dir)],
                env=env(backend),
            ).check("importtime run")  # fmt: skip
            profiled[backend] = import_costs(run.stderr)

    summary: dict[str, Any] = {}
    rows = []
    for backend in backends:
        summary[backend] = {
            "ask_cold_s": ask[backend],
            "ask_cold_s_median": median(ask[backend]),
            "ask_peak_rss_mib_median": median(ask_rss[backend]),
            "ui_ready_s": ui[backend],
            "ui_ready_s_median": median(ui[backend]) if ui[backend] else None,
            "top_imports_s": profiled[backend],
        }
        rows.append(["ragqa ask (cold, first answer)", backend, round(median(ask[backend]), 2),
                     round(min(ask[backend]), 2), round(max(ask[backend]), 2)])  # fmt: skip
        if ui[backend]:
            rows.append(["ragqa ui (page served)", backend, round(median(ui[backend]), 2),
                         round(min(ui[backend]), 2), round(max(ui[backend]), 2)])  # fmt: skip
    if len(backends) == 2:
        a, b = backends
        summary["ask_ratio_median"] = median([y / x for x, y in zip(ask[a], ask[b], strict=True)])
    result = {
        "benchmark": "startup",
        "machine": info,
        "rounds": rounds,
        "question": QUESTION,
        "ui_measured": with_ui,
        "target_s": TARGET_S,
        "backends": summary,
    }
    emit(result, ["command", "embedder", "median s", "min s", "max s"], rows)
    for backend in backends:
        print(f"slowest imports ({backend}): " + ", ".join(f"{p} {s:.1f}s" for p, s in profiled[backend]),
              file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
