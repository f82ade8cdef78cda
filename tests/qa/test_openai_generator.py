"""The OpenAI-compatible HTTP generator against real servers on 127.0.0.1.

The real one is llama-cpp-python's server over the shipped GGUF
(``tests.openai_server``, a child process); the misbehaving ones are small
real HTTP servers in this process that refuse, stall, or send garbage.
"""

from __future__ import annotations

import contextlib
import http.server
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from corpus.errors import ConfigError, GeneratorError
from qa.generator import GeneratorConfig, make_backend, make_generator
from qa.openai_generator import OpenAICompatibleGenerator
from tests.openai_server import MODEL_ALIAS
from tests.ui.conftest import free_port

QUESTION = [{"role": "user", "content": "What is the capital of France? One word."}]


def http_generator(base_url: str, **settings) -> OpenAICompatibleGenerator:
    config = GeneratorConfig(backend="openai", base_url=base_url, **settings)
    generator = make_generator(config)
    assert isinstance(generator, OpenAICompatibleGenerator)
    return generator


# --- settings -------------------------------------------------------------------
def test_the_backend_needs_a_server_url() -> None:
    with pytest.raises(ConfigError, match="needs base_url"):
        GeneratorConfig(backend="openai")
    with pytest.raises(ConfigError, match="needs base_url"):
        GeneratorConfig(backend="openai", base_url="localhost:8000")


def test_the_api_key_is_never_shown() -> None:
    config = GeneratorConfig(
        backend="openai", base_url="http://127.0.0.1:9/v1", api_key="sk-secret"
    )
    assert "sk-secret" not in repr(config)
    generator = http_generator(config.base_url, api_key="sk-secret", retries=0)
    with pytest.raises(GeneratorError) as raised:
        "".join(generator.stream(QUESTION, 4))
    assert "sk-secret" not in str(raised.value)


# --- a real llama.cpp server ------------------------------------------------------
@contextmanager
def llama_cpp_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.openai_server", str(port)])
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the llama.cpp server exited with {process.returncode}"
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the llama.cpp server did not start in 120 s"
            time.sleep(0.3)
        yield base_url, process
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def real_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with llama_cpp_server() as server:
        yield server


@pytest.mark.integration
def test_streams_the_same_greedy_answer_as_the_local_backend(real_server) -> None:
    base_url, _ = real_server
    remote = http_generator(base_url, model=MODEL_ALIAS)
    pieces = list(remote.stream(QUESTION, 16))
    assert len(pieces) > 1, "the answer arrives in pieces"
    local = make_backend(GeneratorConfig(isolated=False))
    assert "".join(pieces) == "".join(local.stream(QUESTION, 16))


@pytest.mark.integration
def test_a_server_dying_mid_answer_is_a_clear_error() -> None:
    with llama_cpp_server() as (base_url, process):
        generator = http_generator(base_url, retries=0)
        stream = generator.stream([{"role": "user", "content": "Count from 1 to 200."}], 400)
        assert next(stream)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with pytest.raises(GeneratorError, match="stopped in the middle of an answer"):
            for _ in stream:
                pass
        with pytest.raises(GeneratorError, match=r"cannot be reached.*is the server running"):
            "".join(generator.stream(QUESTION, 4))


# --- servers that misbehave ---------------------------------------------------------
@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes, kind: str = "text/event-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Garbage(_Quiet):
    def do_POST(self) -> None:
        self.reply(200, b"data: <html>this is not json</html>\n\n")


class Unauthorised(_Quiet):
    def do_POST(self) -> None:
        self.reply(401, b'{"error": "invalid api key"}', "application/json")


class Slow(_Quiet):
    def do_POST(self) -> None:
        time.sleep(3)
        with contextlib.suppress(OSError):  # the client gave up long ago
            self.reply(200, b"data: [DONE]\n\n")


class BusyThenFine(_Quiet):
    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            self.reply(503, b"busy", "text/plain")
            return
        self.reply(
            200,
            b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\n'
            b'data: {"choices": [{"delta": {"content": "Par"}}]}\n\n'
            b": keep-alive\n\n"
            b'data: {"choices": [{"delta": {"content": "is"}}]}\n\n'
            b"data: [DONE]\n\n",
        )


def test_garbage_from_the_server_is_a_clear_error() -> None:
    with (
        serving(Garbage) as base_url,
        pytest.raises(GeneratorError, match="not an OpenAI chat-completion stream"),
    ):
        "".join(http_generator(base_url).stream(QUESTION, 4))


def test_a_refused_key_names_the_status_and_what_to_check() -> None:
    with (
        serving(Unauthorised) as base_url,
        pytest.raises(GeneratorError, match=r"HTTP 401.*invalid api key.*api_key"),
    ):
        "".join(http_generator(base_url).stream(QUESTION, 4))


def test_a_slow_server_times_out_with_a_message() -> None:
    with serving(Slow) as base_url:
        generator = http_generator(base_url, timeout_s=0.5, retries=1, retry_backoff_s=0)
        started = time.monotonic()
        with pytest.raises(
            GeneratorError, match=r"did not answer within 0 s|did not answer within 1 s"
        ):
            "".join(generator.stream(QUESTION, 4))
        assert time.monotonic() - started < 10


def test_a_busy_server_is_retried() -> None:
    BusyThenFine.calls = 0
    with serving(BusyThenFine) as base_url:
        generator = http_generator(base_url, retry_backoff_s=0.01)
        assert list(generator.stream(QUESTION, 4)) == ["Par", "is"]
    assert BusyThenFine.calls == 2


def test_nothing_listening_is_a_clear_error() -> None:
    generator = http_generator(f"http://127.0.0.1:{free_port()}/v1", retry_backoff_s=0.01)
    with pytest.raises(GeneratorError, match=r"cannot be reached.*is the server running"):
        "".join(generator.stream(QUESTION, 4))
