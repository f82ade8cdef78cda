"""The generator in a supervised child process: real children, real crashes.

The child is ``tests.generator_workers``: the real worker protocol with a
backend that sends itself SIGSEGV, aborts or hangs when asked to.
"""

from __future__ import annotations

import pytest

from corpus.errors import GeneratorCrashedError, GeneratorError
from qa.generator import GeneratorConfig, make_generator
from qa.supervised_generator import SupervisedGenerator
from tests.generator_workers import COMMAND, REPLY


def ask(generator, question: str) -> str:
    return "".join(generator.stream([{"role": "user", "content": question}], 16))


@pytest.fixture
def generator():
    supervised = SupervisedGenerator(GeneratorConfig(), command=COMMAND, reply_timeout_s=20)
    yield supervised
    supervised.close()


def test_answers_through_the_child(generator) -> None:
    assert ask(generator, "Who founded Xiaomi?") == "".join(REPLY)
    assert ask(generator, "And again?") == "".join(REPLY)
    assert generator.restarts == 0


@pytest.mark.parametrize(
    ("trigger", "signal_name"), [("SEGFAULT", "SIGSEGV"), ("ABORT", "SIGABRT")]
)
def test_a_crash_is_an_error_naming_the_generator_and_the_next_question_works(
    generator, trigger: str, signal_name: str
) -> None:
    with pytest.raises(GeneratorCrashedError) as raised:
        ask(generator, f"please {trigger}")
    message = str(raised.value)
    assert "llama-cpp generator crashed" in message
    assert signal_name in message
    assert "restarts for the next one" in message
    assert ask(generator, "Who founded Xiaomi?") == "".join(REPLY)
    assert generator.restarts == 1


def test_the_crash_message_carries_the_native_traceback_line(generator) -> None:
    with pytest.raises(GeneratorCrashedError, match="Segmentation fault"):
        ask(generator, "SEGFAULT")


def test_a_hang_is_stopped_with_a_clear_error() -> None:
    generator = SupervisedGenerator(GeneratorConfig(), command=COMMAND, reply_timeout_s=2)
    try:
        with pytest.raises(GeneratorError, match="did not answer within 2 s"):
            ask(generator, "HANG")
        assert ask(generator, "Who founded Xiaomi?") == "".join(REPLY)
    finally:
        generator.close()


def test_a_model_that_cannot_load_is_reported(monkeypatch) -> None:
    monkeypatch.setenv("RAGQA_TEST_WORKER_FAILS_TO_LOAD", "1")
    generator = SupervisedGenerator(GeneratorConfig(), command=COMMAND)
    try:
        with pytest.raises(GeneratorError, match="could not start: the test model file is damaged"):
            ask(generator, "Who founded Xiaomi?")
    finally:
        generator.close()


def test_an_abandoned_answer_does_not_leak_into_the_next(generator) -> None:
    stream = generator.stream([{"role": "user", "content": "first"}], 16)
    assert next(stream) == REPLY[0]
    stream.close()
    assert ask(generator, "second") == "".join(REPLY)


def test_a_killed_child_is_restarted(generator) -> None:
    generator.warm_up()
    generator._worker.process.kill()
    generator._worker.process.wait()
    assert ask(generator, "Who founded Xiaomi?") == "".join(REPLY)
    assert generator.restarts == 1


def test_make_generator_isolates_by_default() -> None:
    assert isinstance(
        make_generator(GeneratorConfig(model_path="/nonexistent")), SupervisedGenerator
    )


@pytest.mark.integration
def test_the_real_model_answers_in_its_child(real_generator) -> None:
    assert isinstance(real_generator, SupervisedGenerator)
    assert ask(real_generator, "Name a colour.").strip()
