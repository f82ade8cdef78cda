"""Benchmark: a bounded burst of concurrent API clients against the real chat server.

The chat window is served in this process on 127.0.0.1 and a free port, with
the real models over a freshly built index of the default collection, and the
queue settings of :class:`ui.config.UiConfig` (``concurrency_limit``,
``max_queue_size``). Then ``--clients`` threads, each with its own
``gradio_client.Client``, start together and send ``--questions`` questions
each to ``/ask``, one after another, with no retries: the burst stops by
itself.

Every request ends in exactly one of three ways:

* **answered**: the answer JSON for the question that client sent;
* **busy**: refused by the queue limit. Gradio answers the join request with
  HTTP 503 once ``max_queue_size`` events wait, and ``gradio_client`` raises
  ``QueueError("Queue is full! Please try again.")`` (:data:`BUSY_MESSAGE`);
* **error**: anything else (an error from the app, no answer within
  ``--timeout``, or an answer that is not the one to the question sent).

So that answers cannot be mixed up unnoticed, client ``c`` asks question
``(c + t) % 8`` of :data:`QUESTIONS` at turn ``t`` with ``top_k`` of 4 or 5
(by ``c // 8``): up to 16 clients never have the same request in flight at the
same turn, and each answer must echo its question, list ``top_k`` retrieved
passages, one of which names the question's keyword, and cite passages or
abstain. ``tests/reliability/test_load.py`` runs a smaller burst of the same
code with a small queue and asserts on all of this.

Throughput is answers per second of wall time (from the start signal to the
last client finishing); latency is per answered request, from submitting to
the result, so it includes the time spent waiting in the queue.

    python -m benchmarks.load                         # 16 clients x 5 questions, shipped queue settings
    python -m benchmarks.load --clients 8 --questions 2 --max-queue-size 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Set before gradio_client is imported: its clients would otherwise report
# telemetry, and all traffic here stays on 127.0.0.1.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks._common import emit, log, machine, percentile

API_NAME = "/ask"
BUSY_MESSAGE = "Queue is full! Please try again."
# Lei Jun questions whose top 4 retrieved passages name the keyword.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Which book inspired Lei Jun when he was young?", "Fire in the Valley"),
    ("Which software giant did Lei Jun fight against while he was at Kingsoft?", "Microsoft"),
    ("Which company did Lei Jun join as its sixth employee?", "Kingsoft"),
    ("What is the name of Xiaomi's electric car?", "SU7"),
    ("What was the name of the antivirus program Lei Jun developed?", "Immunity 90"),
    ("On which Chinese social media platform does Lei Jun have a huge following?", "Weibo"),
    ("When was Lei Jun born?", "1969"),
    ("How many monthly active users does WPS have on desktop?", "271 million"),
)
TOP_K_CHOICES = (4, 5)
Status = Literal["answered", "busy", "error"]


@dataclass(frozen=True)
class Request:
    """One question a client sends, with what identifies its answer."""

    client: int
    turn: int
    question: str
    keyword: str
    top_k: int


@dataclass(frozen=True)
class Outcome:
    """How one request ended; ``answer`` is the JSON returned when it was answered."""

    request: Request
    status: Status
    seconds: float
    detail: str = ""
    answer: dict[str, Any] | None = field(default=None, repr=False)


def planned_requests(client: int, n_questions: int) -> list[Request]:
    """The questions client ``client`` sends, in order.

    >>> [(r.question[:14], r.top_k) for r in planned_requests(9, 2)]
    [('Which software', 5), ('Which company ', 5)]
    """
    if n_questions < 1:
        raise ValueError(f"n_questions must be at least 1. Currently it is {n_questions}")
    top_k = TOP_K_CHOICES[(client // len(QUESTIONS)) % len(TOP_K_CHOICES)]
    requests = []
    for turn in range(n_questions):
        question, keyword = QUESTIONS[(client + turn) % len(QUESTIONS)]
        requests.append(Request(client, turn, question, keyword, top_k))
    return requests


def mismatch(request: Request, answer: Any) -> str | None:
    """Why ``answer`` is not a complete answer to ``request``; None when it is.

    >>> request = Request(0, 0, "When was Lei Jun born?", "1969", 4)
    >>> mismatch(request, {"question": "Who founded Xiaomi?"})
    "the answer to 'Who founded Xiaomi?' came back for 'When was Lei Jun born?'"
    """
    if not isinstance(answer, dict):
        return f"expected the answer JSON, got {type(answer).__name__}: {answer!r:.200}"
    if answer.get("question") != request.question:
        return f"the answer to {answer.get('question')!r} came back for {request.question!r}"
    retrieved = answer.get("retrieved") or []
    if len(retrieved) != request.top_k:
        return f"{len(retrieved)} passages retrieved for top_k={request.top_k}"
    if not any(request.keyword.lower() in str(hit.get("text", "")).lower() for hit in retrieved):
        return f"no passage retrieved for {request.question!r} names {request.keyword!r}"
    if not isinstance(answer.get("answer"), str) or not answer["answer"]:
        return "the answer text is empty"
    if not answer.get("citations") and answer.get("abstained") is not True:
        return "an answer without citations that is not an abstention"
    return None


def ask(client: Any, request: Request, timeout: float) -> Outcome:
    """Send one request and classify how it ended (never raises)."""
    from gradio_client.utils import QueueError

    started = time.perf_counter()
    job = client.submit(request.question, None, request.top_k, api_name=API_NAME)
    try:
        answer = job.result(timeout=timeout)
    except QueueError as error:
        return Outcome(request, "busy", time.perf_counter() - started, str(error))
    except TimeoutError:
        job.cancel()
        seconds = time.perf_counter() - started
        return Outcome(request, "error", seconds, f"no answer within {timeout:.0f} s")
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        return Outcome(request, "error", time.perf_counter() - started, detail)
    seconds = time.perf_counter() - started
    problem = mismatch(request, answer)
    if problem is not None:
        return Outcome(request, "error", seconds, f"wrong answer: {problem}", answer)
    return Outcome(request, "answered", seconds, answer=answer)


def run_client(
    url: str, requests: list[Request], start: threading.Barrier, timeout: float
) -> list[Outcome]:
    """One client: connect, wait for the start signal, send the requests in turn."""
    from gradio_client import Client

    client = None
    failure = ""
    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    except Exception as error:
        failure = f"could not connect: {type(error).__name__}: {error}"
    try:
        start.wait()
    except threading.BrokenBarrierError:
        failure = failure or "the burst was called off before it started"
    try:
        if client is None or failure:
            return [Outcome(request, "error", 0.0, failure) for request in requests]
        return [ask(client, request, timeout) for request in requests]
    finally:
        if client is not None:
            client.close()


@dataclass(frozen=True)
class Burst:
    """Every request's outcome, and the wall time from start signal to last client done."""

    outcomes: tuple[Outcome, ...]
    wall_s: float
    clients: int
    questions: int

    def with_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def summary(self) -> dict[str, Any]:
        answered = self.with_status("answered")
        busy = self.with_status("busy")
        errors = self.with_status("error")
        latency_ms = [1000 * o.seconds for o in answered]
        return {
            "clients": self.clients,
            "questions_per_client": self.questions,
            "requests": len(self.outcomes),
            "answered": len(answered),
            "abstained": sum(bool(o.answer and o.answer.get("abstained")) for o in answered),
            "busy": len(busy),
            "errors": len(errors),
            "throughput_answers_per_s": len(answered) / self.wall_s if self.wall_s else 0.0,
            "latency_ms": {
                "p50": percentile(latency_ms, 50),
                "p95": percentile(latency_ms, 95),
                "max": max(latency_ms),
            }
            if latency_ms
            else None,
            "busy_refusal_ms_p50": percentile([1000 * o.seconds for o in busy], 50)
            if busy
            else None,
            "wall_s": self.wall_s,
            "error_details": sorted({o.detail for o in errors})[:10],
        }


def run_burst(
    url: str,
    *,
    clients: int,
    questions: int,
    timeout: float,
    connect_timeout: float = 120.0,
) -> Burst:
    """Start ``clients`` clients together against ``url`` and wait for all of them.

    Bounded: each request waits at most ``timeout`` seconds, each client at most
    ``connect_timeout`` seconds for the others to connect, and a client thread
    still running after all that is reported as errors rather than waited for.
    """
    if clients < 1:
        raise ValueError(f"clients must be at least 1. Currently it is {clients}")
    plans = [planned_requests(c, questions) for c in range(clients)]
    results: list[list[Outcome] | None] = [None] * clients
    start = threading.Barrier(clients + 1, timeout=connect_timeout)

    def work(index: int) -> None:
        results[index] = run_client(url, plans[index], start, timeout)

    threads = [
        threading.Thread(target=work, args=(c,), name=f"load-client-{c}", daemon=True)
        for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # the clients report it
        start.wait()
    started = time.perf_counter()
    deadline = time.monotonic() + connect_timeout + questions * (timeout + 30.0)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    wall_s = time.perf_counter() - started
    outcomes: list[Outcome] = []
    for plan, result in zip(plans, results, strict=True):
        if result is None:
            result = [Outcome(r, "error", wall_s, "the client did not finish") for r in plan]
        outcomes.extend(result)
    return Burst(tuple(outcomes), wall_s, clients, questions)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(pipeline: Any, config: Any, data_dir: Path) -> Iterator[str]:
    """Serve the chat window on 127.0.0.1 and a free port; yields its URL."""
    from ui.app import build_app, launch_options

    config = replace(config, host="127.0.0.1", port=free_port())
    app = build_app(pipeline, config, data_dir / "uploads", data_dir / "feedback.jsonl")
    app.launch(prevent_thread_lock=True, quiet=True, **launch_options(config))
    try:
        yield f"http://127.0.0.1:{config.port}/"
    finally:
        # Gradio announces the closing on standard output, which holds the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            app.close()


def main(argv: list[str] | None = None) -> int:
    from ui.config import UiConfig

    shipped = UiConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=5, help="questions per client")
    parser.add_argument("--concurrency-limit", type=int, default=shipped.concurrency_limit)
    parser.add_argument("--max-queue-size", type=int, default=shipped.max_queue_size)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per request")
    args = parser.parse_args(argv)

    from gradio_client import Client

    from qa.pipeline import Pipeline, PipelineConfig
    from ui.app import preload

    info = machine()
    config = replace(
        shipped, concurrency_limit=args.concurrency_limit, max_queue_size=args.max_queue_size
    )
    with tempfile.TemporaryDirectory(prefix="ragqa-load-bench-") as tmp:
        pipeline = Pipeline(PipelineConfig(index_dir=Path(tmp) / "index"))
        log("indexing the default collection and loading the models")
        pipeline.build_index(None)
        preload(pipeline)
        (Path(tmp) / "data").mkdir()
        with serving(pipeline, config, Path(tmp) / "data") as url:
            warm_up = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            warm_up.predict(QUESTIONS[0][0], None, TOP_K_CHOICES[0], api_name=API_NAME)
            warm_up.close()
            log(f"{args.clients} clients x {args.questions} questions against {url}")
            burst = run_burst(
                url, clients=args.clients, questions=args.questions, timeout=args.timeout
            )
        pipeline.reload_index()

    summary = burst.summary()
    result = {
        "benchmark": "load",
        "machine": info,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "queue": {
            "concurrency_limit": config.concurrency_limit,
            "max_queue_size": config.max_queue_size,
        },
        **summary,
        "per_request": [
            {
                "client": o.request.client,
                "turn": o.request.turn,
                "question": o.request.question,
                "top_k": o.request.top_k,
                "status": o.status,
                "ms": round(1000 * o.seconds, 1),
                "abstained": o.answer.get("abstained") if o.answer else None,
                "detail": o.detail,
            }
            for o in burst.outcomes
        ],
    }
    emit(
        result,
        ["clients x questions", "concurrency / queue", "requests", "answered", "busy", "errors",
         "answers/s", "latency p50 ms", "latency p95 ms", "wall s"],
        [[
            f"{args.clients} x {args.questions}",
            f"{config.concurrency_limit} / {config.max_queue_size}",
            summary["requests"], summary["answered"], summary["busy"], summary["errors"],
            round(summary["throughput_answers_per_s"], 3),
            *(
                (round(latency["p50"]), round(latency["p95"]))
                if (latency := summary["latency_ms"])
                else ("", "")
            ),
            round(summary["wall_s"], 1),
        ]],
    )  # fmt: skip
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
