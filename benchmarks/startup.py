"""Benchmark 5: start-up of `ragqa ask` (cold, first answer) and `ragqa ui`.

An index of the default collection is built first (untimed), as after
``ragqa index``. Then, for each variant of the settings (``before``: the
torch embedder with generator drafts, the defaults until December 2026;
``after``: today's defaults, the ONNX embedder and no drafts):

- ``ask``: ``ragqa ask QUESTION --json`` as a fresh process, timed from spawn
  to exit (imports, model loads, retrieval, generation, grounding);
- ``ui``: ``ragqa ui --port P`` as a fresh process, timed from spawn until
  ``GET /`` on 127.0.0.1 answers 200 with the page; the process is then
  stopped (by its own id).

Rounds alternate the variants so each pair sees the same load. One more
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

TARGET_ASK_S = 2.0
TARGET_UI_S = 4.0
QUESTION = "When did Lei Jun found Xiaomi?"
# Settings each variant runs with (environment variables of the child).
VARIANTS: dict[str, dict[str, str]] = {
    "before": {"RAGQA_EMBEDDER__BACKEND": "torch", "RAGQA_ANSWER__DRAFT": "true"},
    "after": {},
    "torch": {"RAGQA_EMBEDDER__BACKEND": "torch"},
    "onnx": {"RAGQA_EMBEDDER__BACKEND": "onnx"},
    "onnx-int8": {"RAGQA_EMBEDDER__BACKEND": "onnx-int8"},
    "drafts": {"RAGQA_ANSWER__DRAFT": "true"},
}
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
    parser.add_argument(
        "--variants", default="before,after", help=f"settings to compare: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--skip-ui", action="store_true")
    parser.add_argument("--ui-timeout", type=float, default=UI_TIMEOUT_S, help="seconds")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    variants = [b for b in args.variants.split(",") if b]
    unknown = [b for b in variants if b not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    info = machine()
    ragqa = str(Path(sys.executable).with_name("ragqa"))
    with_ui = not args.skip_ui and ui_available()
    if not with_ui and not args.skip_ui:
        log("ui/app.py has no serve() yet: measuring `ragqa ask` only")

    with tempfile.TemporaryDirectory(prefix="ragqa-startup-") as tmp:
        data = Path(tmp) / "data"
        index_dir = Path(tmp) / "index"
        cache_dir = CACHE / "onnx"

        def env(variant: str) -> dict[str, str]:
            return child_env(
                RAGQA_DATA_DIR=str(data),
                RAGQA_EMBEDDER__CACHE_DIR=str(cache_dir),
                **VARIANTS[variant],
            )

        log("building the default index and exporting ONNX models (untimed)")
        run_process([ragqa, "index", "--index-dir", str(index_dir)], env=env(variants[0])).check(
            "index"
        )
        for variant in variants[1:]:  # the export is a one-off cost, like the index build
            run_process(
                [ragqa, "ask", QUESTION, "--index-dir", str(index_dir)], env=env(variant)
            ).check("warm-up")

        ask: dict[str, list[float]] = {b: [] for b in variants}
        ask_rss: dict[str, list[float]] = {b: [] for b in variants}
        ui: dict[str, list[float]] = {b: [] for b in variants}
        for round_number in range(rounds):
            order = variants if round_number % 2 == 0 else variants[::-1]
            for variant in order:
                run = run_process(
                    [ragqa, "ask", QUESTION, "--json", "--index-dir", str(index_dir)],
                    env=env(variant),
                ).check("ragqa ask")
                ask[variant].append(run.seconds)
                ask_rss[variant].append(run.max_rss_mib)
                message = f"round {round_number + 1}: ask ({variant}) {run.seconds:.1f} s"
                if with_ui:
                    with running_ragqa_ui(
                        ["--index-dir", str(index_dir)], env(variant), timeout_s=args.ui_timeout
                    ) as running:
                        seconds = running.seconds_to_ready
                    ui[variant].append(seconds)
                    message += f"; ui ({variant}) {seconds:.1f} s"
                log(message)

        profiled: dict[str, list[tuple[str, float]]] = {}
        for variant in variants:
            run = run_process(
                [sys.executable, "-X", "importtime", "-m", "ragqa.cli", "ask", QUESTION, "--json",
                 "--index-dir", str(index_dir)],
                env=env(variant),
            ).check("importtime run")  # fmt: skip
            profiled[variant] = import_costs(run.stderr)

    summary: dict[str, Any] = {}
    rows = []
    for variant in variants:
        summary[variant] = {
            "ask_cold_s": ask[variant],
            "ask_cold_s_median": median(ask[variant]),
            "ask_peak_rss_mib_median": median(ask_rss[variant]),
            "ui_ready_s": ui[variant],
            "ui_ready_s_median": median(ui[variant]) if ui[variant] else None,
            "top_imports_s": profiled[variant],
        }
        rows.append(["ragqa ask (cold, first answer)", variant, round(median(ask[variant]), 2),
                     round(min(ask[variant]), 2), round(max(ask[variant]), 2)])  # fmt: skip
        if ui[variant]:
            rows.append(["ragqa ui (page served)", variant, round(median(ui[variant]), 2),
                         round(min(ui[variant]), 2), round(max(ui[variant]), 2)])  # fmt: skip
    if len(variants) == 2:
        a, b = variants
        summary["ask_ratio_median"] = median([y / x for x, y in zip(ask[a], ask[b], strict=True)])
    result = {
        "benchmark": "startup",
        "machine": info,
        "rounds": rounds,
        "question": QUESTION,
        "ui_measured": with_ui,
        "target_s": {"ask": TARGET_ASK_S, "ui": TARGET_UI_S},
        "settings": {name: VARIANTS[name] for name in variants},
        "variants": summary,
    }
    emit(result, ["command", "variant", "median s", "min s", "max s"], rows)
    for variant in variants:
        print(f"slowest imports ({variant}): " + ", ".join(f"{p} {s:.1f}s" for p, s in profiled[variant]),
              file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
