"""A generator backend in a child process that ragqa restarts when it dies.

llama.cpp is native code: a bad build, a CPU-specific kernel bug, a corrupt
GGUF or the kernel's out-of-memory killer end the process that runs it. So
the backend runs in a child (``python -m qa.supervised_generator CONFIG``)
and this process talks to it in JSON lines:

* the child answers ``{"ready": true}`` once the model is loaded (or
  ``{"error": ...}`` if it cannot load it, and exits);
* each request ``{"messages": [...], "max_tokens": n}`` is answered with
  ``{"text": ...}`` pieces and then ``{"done": true}`` (or ``{"error": ...}``).

When the child dies, the question being answered gets a
:class:`~corpus.errors.GeneratorCrashedError` that names the backend and the
signal, and the next question starts a fresh child. The child starts loading
as soon as the supervisor is made, so its load overlaps the parent's own.
"""

from __future__ import annotations

import collections
import faulthandler
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from corpus.errors import GeneratorCrashedError, GeneratorError
from qa.generator import Generator, GeneratorConfig, Message, make_backend

logger = logging.getLogger(__name__)

WORKER_MODULE = "qa.supervised_generator"
START_TIMEOUT_S = 600.0  # the transformers backend imports torch and dequantises
REPLY_TIMEOUT_S = 120.0  # between two pieces of one answer
_STDERR_LINES_KEPT = 20


def describe_exit(returncode: int | None) -> str:
    """How a child process ended, in words.

    >>> describe_exit(-11)
    'was killed by signal SIGSEGV (Segmentation fault)'
    >>> describe_exit(3)
    'exited with status 3'
    """
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"was killed by signal {number}"
        return f"was killed by signal {name} ({signal.strsignal(number)})"
    return f"exited with status {returncode}"


def worker_command() -> list[str]:
    """The command that starts a child: this module, with this Python."""
    return [sys.executable, "-m", WORKER_MODULE]


def _worker_environment() -> dict[str, str]:
    """The parent's environment, with this checkout importable by the child
    however the parent found it (editable install, PYTHONPATH or cwd)."""
    environment = dict(os.environ)
    project_root = str(Path(__file__).resolve().parents[1])
    paths = [project_root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment


class _Worker:
    """One child process, with threads draining its stdout and stderr."""

    def __init__(self, command: Sequence[str], config: GeneratorConfig) -> None:
        self.process = subprocess.Popen(
            [*command, json.dumps(asdict(config))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_worker_environment(),
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
        self.ready = False
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(
            target=self._read_replies, args=(self.process.stdout,), daemon=True
        ).start()
        threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True).start()

    def _read_replies(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                reply = json.loads(line)
            except json.JSONDecodeError:
                logger.debug("generator worker wrote a non-protocol line: %r", line)
                continue
            if isinstance(reply, dict):
                self.replies.put(reply)
        self.replies.put(None)  # end of output: the child has gone

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.rstrip()
            if line:
                self.stderr_tail.append(line)
                logger.debug("generator worker: %s", line)

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def reply(self, timeout: float) -> dict[str, Any] | None:
        """The next reply; None when the child has gone. Raises queue.Empty on timeout."""
        return self.replies.get(timeout=timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        _stop(self.process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a kill that does not land
        logger.warning("generator worker %d did not exit after SIGKILL", process.pid)


class SupervisedGenerator:
    """A :class:`~qa.generator.Generator` whose backend runs in a child process.

    ``command`` starts the child (default: this module's worker with this
    Python); the config is appended as one JSON argument.
    """

    def __init__(
        self,
        config: GeneratorConfig,
        *,
        command: Sequence[str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.config = config
        self.name = config.backend
        self._command = list(command or worker_command())
        self._start_timeout_s = start_timeout_s
        self._reply_timeout_s = reply_timeout_s
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._unfinished = False  # a stream was abandoned before its "done"
        self._starts = 0
        self._start()

    # --- the child's life -------------------------------------------------
    def _start(self) -> _Worker:
        worker = _Worker(self._command, self.config)
        weakref.finalize(self, _stop, worker.process)
        self._starts += 1
        self._worker = worker
        self._unfinished = False
        return worker

    def _running_worker(self) -> _Worker:
        """A child that has loaded the model, started anew if the last one died."""
        worker = self._worker
        if worker is None or not worker.alive():
            if worker is not None:
                logger.warning(
                    "Restarting the %s generator: its process %s",
                    self.name,
                    describe_exit(worker.process.poll()),
                )
            worker = self._start()
        if self._unfinished:
            self._finish_abandoned(worker)
        if not worker.ready:
            reply = self._next(worker, self._start_timeout_s, "load the model")
            if reply.get("ready"):
                worker.ready = True
            else:
                self._discard(worker)
                raise GeneratorError(
                    f"The {self.name} generator could not start: {reply.get('error', reply)}"
                )
        return worker

    def _finish_abandoned(self, worker: _Worker) -> None:
        """Read what is left of an answer whose reader stopped early."""
        self._unfinished = False
        try:
            while True:
                reply = self._next(worker, self._reply_timeout_s, "finish the last answer")
                if reply.get("done") or "error" in reply:
                    return
        except GeneratorError:
            self._discard(worker)
            self._start()

    def _discard(self, worker: _Worker) -> None:
        worker.stop()
        if self._worker is worker:
            self._worker = None

    def _next(self, worker: _Worker, timeout: float, doing: str) -> dict[str, Any]:
        try:
            reply = worker.reply(timeout)
        except queue.Empty:
            self._discard(worker)
            raise GeneratorError(
                f"The {self.name} generator did not {doing} within {timeout:.0f} s; "
                "it was stopped and restarts with the next question."
            ) from None
        if reply is None:
            raise self._crashed(worker)
        return reply

    def _crashed(self, worker: _Worker) -> GeneratorCrashedError:
        try:
            returncode: int | None = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        self._discard(worker)
        last = next(
            (line for line in reversed(worker.stderr_tail) if "error" in line.lower()),
            worker.stderr_tail[-1] if worker.stderr_tail else "",
        )
        detail = f" Its last message: {last.strip()}" if last else ""
        return GeneratorCrashedError(
            f"The {self.name} generator crashed: its process {describe_exit(returncode)}. "
            f"This question could not be answered; the generator restarts for the next one.{detail}"
        )

    @property
    def restarts(self) -> int:
        """How many times a child was started again after one died or hung."""
        return self._starts - 1

    # --- the Generator protocol ---------------------------------------------
    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:
            worker = self._running_worker()
            try:
                worker.send({"messages": list(messages), "max_tokens": max_tokens})
            except OSError:
                raise self._crashed(worker) from None
            finished = False
            try:
                while True:
                    reply = self._next(worker, self._reply_timeout_s, "answer")
                    if "text" in reply:
                        yield str(reply["text"])
                    elif reply.get("done"):
                        finished = True
                        return
                    elif "error" in reply:
                        finished = True
                        raise GeneratorError(f"The {self.name} generator failed: {reply['error']}")
            finally:
                if not finished and self._worker is worker:
                    self._unfinished = True

    def warm_up(self) -> None:
        """Wait until the child has loaded the model (raises if it cannot)."""
        with self._lock:
            self._running_worker()

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._discard(self._worker)


# --- the child's side ---------------------------------------------------------
def serve(
    config: GeneratorConfig,
    requests: IO[str],
    replies: IO[str],
    make: Callable[[GeneratorConfig], Generator] = make_backend,
) -> int:
    """Load the backend, then answer requests until ``requests`` ends."""

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    try:
        backend = make(config)
    except GeneratorError as error:
        reply({"error": str(error)})
        return 1
    reply({"ready": True})
    for line in requests:
        try:
            request = json.loads(line)
            for piece in backend.stream(request["messages"], int(request["max_tokens"])):
                reply({"text": piece})
        except Exception as error:  # reported to the parent, which raises it there
            reply({"error": f"{type(error).__name__}: {error}"})
            continue
        reply({"done": True})
    return 0


def protocol_streams() -> tuple[IO[str], IO[str]]:
    """stdin for requests, and a private copy of stdout for replies: stdout
    itself is pointed at stderr so that native code printing cannot corrupt
    the protocol."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin, replies


def main(
    argv: Sequence[str] | None = None,
    make: Callable[[GeneratorConfig], Generator] = make_backend,
) -> int:
    """The child's entry point: ``argv[0]`` is the config as JSON."""
    argv = list(sys.argv[1:] if argv is None else argv)
    faulthandler.enable()  # a native crash leaves a traceback on stderr for the parent
    config = GeneratorConfig(**{**json.loads(argv[0]), "isolated": False})
    requests, replies = protocol_streams()
    return serve(config, requests, replies, make)


if __name__ == "__main__":
    sys.exit(main())
