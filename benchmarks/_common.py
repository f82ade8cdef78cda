"""Shared helpers for the benchmark scripts: timing child processes, medians,
the machine description, and printing the JSON result plus a table.

Every benchmark reports medians of several runs and, where it compares two
things, ratios measured pairwise in the same run (the machine is shared, so
absolute times drift with the load; interleaved pairs see the same load).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SQUAD_DOCS = SHARED_DATA / "squad11-dev-even" / "docs"
SCIFACT = SHARED_DATA / "scifact"
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
# Scratch space for generated vectors and throw-away indexes (gigabytes at 1M):
# outside the repository so nothing large is ever committed.
CACHE = Path(tempfile.gettempdir()) / "ragqa-benchmarks"
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on, including how busy it was."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = 0.0
    try:
        import psutil

        memory_gib = psutil.virtual_memory().total / 2**30
    except ImportError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "gpu": None,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100].

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


@dataclass(frozen=True)
class ProcessRun:
    """A child process timed from spawn to exit, with its own peak memory."""

    seconds: float
    returncode: int
    max_rss_mib: float
    stdout: str
    stderr: str

    def check(self, what: str) -> ProcessRun:
        if self.returncode != 0:
            raise RuntimeError(
                f"{what} failed with exit code {self.returncode}:\n{self.stderr[-3000:]}"
            )
        return self


def run_process(
    command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> ProcessRun:
    """Run ``command`` to completion; wall time and that child's peak RSS
    (from ``wait4``, so other children do not blur it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            list(command), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessRun(
            seconds=seconds,
            returncode=child.returncode,
            max_rss_mib=usage.ru_maxrss / 1024,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: offline model loading, quiet libraries."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRANSFORMERS_VERBOSITY="error",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra)
    return env


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, so it can be pasted into the README as is.

    >>> print(format_table(["a", "b"], [[1, 2.5]]))
    | a | b |
    |---|---|
    | 1 | 2.5 |
    """

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def emit(result: dict[str, Any], headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """JSON on standard output, the table on standard error."""
    print(format_table(headers, rows), file=sys.stderr)
    print(json.dumps(result, indent=1, default=float))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
