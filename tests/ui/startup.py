"""Time ``ragqa ui`` from start to a page that answers (used by a test, and runnable).

``python -m tests.ui.startup --runs 3`` indexes the default collection into a
temporary data directory once, then starts ``ragqa ui`` on a free port that
many times and prints each time and the median, as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ragqa_command() -> list[str]:
    script = Path(sys.executable).with_name("ragqa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ragqa.cli"]


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
    env["RAGQA_DATA_DIR"] = str(data_dir)
    env.pop("GRADIO_TEMP_DIR", None)
    return env


@dataclass
class RunningUi:
    process: subprocess.Popen
    url: str
    seconds_to_ready: float
    cpu_seconds_to_ready: float | None  # less sensitive to a busy machine (Linux only)


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_ragqa_ui(data_dir: Path, timeout: float = 240.0) -> Iterator[RunningUi]:
    """Start ``ragqa ui --port N`` and wait until its page answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    process = subprocess.Popen(
        [*ragqa_command(), "ui", "--port", str(port)],
        cwd=data_dir,
        env=environment(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"ragqa ui exited with {process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(url, timeout=2) as page:
                    if page.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"ragqa ui did not serve {url} within {timeout:.0f} s")
            time.sleep(0.1)
        yield RunningUi(process, url, time.monotonic() - started, cpu_seconds(process.pid))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        subprocess.run(
            [*ragqa_command(), "index"],
            cwd=data_dir,
            env=environment(data_dir),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times, cpu = [], []
        for _ in range(args.runs):
            with running_ragqa_ui(data_dir) as ui:
                times.append(round(ui.seconds_to_ready, 2))
                cpu.append(round(ui.cpu_seconds_to_ready or 0.0, 2))
    summary = {
        "seconds_to_ready": times,
        "median": statistics.median(times),
        "cpu_seconds_to_ready": cpu,
        "median_cpu": statistics.median(cpu),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
