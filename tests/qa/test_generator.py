"""Generator settings and the CPU-dependent choice of llama.cpp's weight layout.

The AMX crash cannot be seen on a machine without AMX, so the decision is
tested from CPU flags: the parsing of ``/proc/cpuinfo`` and the rule that
turns llama.cpp's weight repacking off where AMX is present.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import ConfigError, GeneratorError
from qa.generator import (
    GeneratorConfig,
    LlamaCppGenerator,
    _llama_model_params,
    cpu_flags,
    repack_weights,
)

SAPPHIRE_RAPIDS = (
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n\n"
    "processor\t: 1\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
)
EPYC = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 avx512_vp2intersect\n"
)
OLD_LAPTOP = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx avx2 fma\n"


@pytest.mark.parametrize(
    ("cpuinfo", "setting", "repacks"),
    [
        (SAPPHIRE_RAPIDS, "auto", False),
        (EPYC, "auto", True),
        (OLD_LAPTOP, "auto", True),
        ("", "auto", True),  # no flags known: llama.cpp's default
        (SAPPHIRE_RAPIDS, "on", True),  # a user who knows their build is fixed
        (EPYC, "off", False),
    ],
)
def test_weight_repacking_follows_the_cpu_flags(
    tmp_path: Path, cpuinfo: str, setting: str, repacks: bool
) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert repack_weights(setting, cpu_flags(path)) is repacks


def test_cpu_flags_reads_the_flags_line(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(SAPPHIRE_RAPIDS)
    assert {"amx_tile", "avx512f", "fpu"} <= cpu_flags(path)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_this_machine_has_readable_flags() -> None:
    flags = cpu_flags()
    if Path("/proc/cpuinfo").is_file():
        assert "fpu" in flags or "sse2" in flags, sorted(flags)[:10]


def test_repack_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="repack_weights must be one of auto, on, off"):
        GeneratorConfig(repack_weights="maybe")


def test_model_parameter_overrides_apply_only_during_the_load() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    library = llama_cpp.llama_cpp
    assert library.llama_model_default_params().use_extra_bufts is True
    with _llama_model_params(use_extra_bufts=False):
        assert library.llama_model_default_params().use_extra_bufts is False
    assert library.llama_model_default_params().use_extra_bufts is True


def test_unknown_model_parameter_is_refused() -> None:
    pytest.importorskip("llama_cpp")
    with (
        pytest.raises(GeneratorError, match="no model parameter use_amx_magic"),
        _llama_model_params(use_amx_magic=False),
    ):
        pass


def test_missing_or_damaged_model_file_is_a_generator_error(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    with pytest.raises(GeneratorError, match="does not exist"):
        LlamaCppGenerator(GeneratorConfig(model_path=str(tmp_path / "none.gguf"), isolated=False))
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(GeneratorError, match="could not load"):
        LlamaCppGenerator(GeneratorConfig(model_path=str(damaged), isolated=False))


@pytest.mark.integration
@pytest.mark.parametrize("repack", ["on", "off"])
def test_llama_cpp_generates_with_and_without_repacking(repack: str) -> None:
    """Both weight layouts give the same greedy answer (on an AMX CPU only
    "off" is safe; elsewhere both run)."""
    generator = LlamaCppGenerator(GeneratorConfig(repack_weights=repack, isolated=False))
    assert generator.repacks_weights is (repack == "on")
    reply = "".join(generator.stream([{"role": "user", "content": "Name a colour."}], 12))
    assert reply.strip()
