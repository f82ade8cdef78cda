"""Generation smoke check: the first test of the run (see conftest's ordering).

It generates one real answer with the default backend in its supervised
child process. Where generation crashes on this machine (a CPU-specific
kernel bug, a broken build), it fails within seconds with the cause, and
the rest of the suite still runs and reports: every generator runs in a
child, so a crash costs a test, not the test run.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from corpus.errors import GeneratorError
from qa.generator import AMX_FLAGS, GeneratorConfig, cpu_flags, repack_weights
from qa.supervised_generator import SupervisedGenerator

pytestmark = [pytest.mark.smoke, pytest.mark.integration]


def _cpu() -> str:
    flags = cpu_flags()
    amx = sorted(flags & AMX_FLAGS)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(errors="replace").splitlines() if cpuinfo.is_file() else []
    model = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    return f"{model}; AMX: {', '.join(amx) or 'none'}"


def test_the_default_generator_answers_on_this_cpu() -> None:
    config = GeneratorConfig()
    generator = SupervisedGenerator(config, start_timeout_s=180, reply_timeout_s=60)
    try:
        reply = "".join(
            generator.stream([{"role": "user", "content": "Who founded Xiaomi? One word."}], 8)
        )
    except GeneratorError as error:
        pytest.fail(
            f"Generation fails on this machine ({_cpu()}; weight repacking "
            f"{'on' if repack_weights(config.repack_weights, cpu_flags()) else 'off'}): {error} "
            "Every test that uses the real generator will fail the same way.",
            pytrace=False,
        )
    finally:
        generator.close()
    assert reply.strip(), "the generator answered with nothing"
