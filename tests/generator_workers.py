"""A generator child process that really crashes, for the supervision tests.

Run as ``python -m tests.generator_workers CONFIG``: it speaks the real
worker protocol (:func:`qa.supervised_generator.main`) with a scripted
backend that answers "Lei Jun founded Xiaomi." unless the question asks it
to die: ``SEGFAULT`` sends itself SIGSEGV, ``ABORT`` calls ``os.abort()``,
``HANG`` sleeps past any timeout. ``RAGQA_TEST_WORKER_FAILS_TO_LOAD=1``
makes loading fail.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence

from corpus.errors import GeneratorError
from qa.generator import GeneratorConfig, Message
from qa.supervised_generator import main

REPLY = ["Lei Jun ", "founded ", "Xiaomi."]
COMMAND = [sys.executable, "-m", "tests.generator_workers"]


class DyingBackend:
    name = "dying"

    def __init__(self, config: GeneratorConfig) -> None:
        if os.environ.get("RAGQA_TEST_WORKER_FAILS_TO_LOAD") == "1":
            raise GeneratorError("the test model file is damaged")

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        prompt = messages[-1]["content"]
        yield REPLY[0]
        if "SEGFAULT" in prompt:
            os.kill(os.getpid(), signal.SIGSEGV)
        if "ABORT" in prompt:
            os.abort()
        if "HANG" in prompt:
            time.sleep(3600)
        yield from REPLY[1:]


if __name__ == "__main__":
    sys.exit(main(make=DyingBackend))
