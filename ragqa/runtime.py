"""What the process sets up once, at the entry point, before any stage runs.

Some libraries take their switches from environment variables, several of
them when they are first imported (huggingface_hub's offline flag,
transformers' verbosity). ragqa sets them here, once, from ``ragqa``'s
``main`` (the chat window is one of its subcommands), before a model is
loaded; the stages read their config only and never touch the environment.
A library user who builds a :class:`~qa.pipeline.Pipeline` directly calls
:func:`configure_process` first, or sets the variables themselves.

Values already in the environment win (``setdefault``): a person who exports
``TOKENIZERS_PARALLELISM=true`` keeps it.

>>> process_environment(Path("/d"))["GRADIO_TEMP_DIR"]
'/d/cache/gradio'
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.data_dir import cache_dir

if TYPE_CHECKING:
    from ragqa.settings import Settings

# Nothing is downloaded: every model ships in a package (see README).
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# Standard error carries ragqa's messages, not the libraries' chatter.
QUIET = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
# The fast tokenizers' own thread pool does not survive the fork of the
# supervised generator process; the runtimes' thread counts are the
# embedder's and generator's ``threads`` settings.
THREADS = {"TOKENIZERS_PARALLELISM": "false"}


def process_environment(data_dir: Path) -> dict[str, str]:
    """The environment variables ragqa sets, for a data directory ``data_dir``.

    Everything ragqa and its libraries write stays in ``data_dir``: Gradio's
    copies of uploaded files (deleted once stored), and the libraries' own
    caches, which would otherwise go to the home directory (onnxruntime
    writes a device id under ``~/.cache/Microsoft``, matplotlib makes
    ``~/.config/matplotlib``, Hugging Face libraries use ``~/.cache/huggingface``).
    """
    libraries = cache_dir(data_dir) / "libraries"
    return {
        **OFFLINE,
        **QUIET,
        **THREADS,
        "GRADIO_TEMP_DIR": str(cache_dir(data_dir) / "gradio"),
        "XDG_CACHE_HOME": str(libraries),
        "MPLCONFIGDIR": str(libraries / "matplotlib"),
    }


def configure_process(
    settings: Settings, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Set :func:`process_environment` in ``environ`` (the process's), keeping
    values already there; returns what is in effect for those variables."""
    environ = os.environ if environ is None else environ
    for name, value in process_environment(settings.data_dir).items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in process_environment(settings.data_dir)}
