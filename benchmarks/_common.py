"""Shared helpers for the benchmark scripts: timing child processes, medians,
the machine description, and printing the JSON result plus a table.

Every benchmark reports medians of several runs and, where it compares two
things, ratios measured pairwise in the same run (the machine is shared, so
absolute times drift with the load; interleaved pairs see the same load).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
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
    """The environment for a child: offline model loading, quiet libraries,
    and only the ``RAGQA_*`` settings given here (a developer's own must not
    change what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
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


def ragqa_command() -> list[str]:
    """The ``ragqa`` entry point of this environment."""
    script = Path(sys.executable).with_name("ragqa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ragqa.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningUi:
    url: str
    seconds_to_ready: float
    cpu_seconds_to_ready: float | None  # less sensitive to a busy machine (Linux only)
    pid: int = 0


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_ragqa_ui(
    arguments: Sequence[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout_s: float = 240.0,
    log: Path | None = None,
) -> Iterator[RunningUi]:
    """Start ``ragqa ui --port P ARGUMENTS`` as a person would, wait until its
    page is served, and stop it (SIGINT, then kill) when the block ends. Its
    output goes to ``log`` when given (to read afterwards), else it is dropped."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with log.open("w+b") if log is not None else tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(
            [*ragqa_command(), "ui", "--port", str(port), *arguments],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                if child.poll() is not None:
                    output.seek(0)
                    tail = output.read().decode("utf-8", "replace")[-2000:]
                    raise RuntimeError(f"ragqa ui exited with {child.returncode}:\n{tail}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as page:
                        if page.status == 200 and page.read():
                            break
                except OSError:
                    pass
                if time.perf_counter() - started > timeout_s:
                    raise TimeoutError(f"ragqa ui did not serve {url} within {timeout_s:.0f} s")
                time.sleep(0.05)
            yield RunningUi(url, time.perf_counter() - started, cpu_seconds(child.pid), child.pid)
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


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
