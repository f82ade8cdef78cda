"""Fixtures for the chat window: fake and real pipelines, and live servers.

Servers run in this process on 127.0.0.1 and a free port (``launch`` with
``prevent_thread_lock=True``), with the same launch options ``ragqa ui`` uses.
The real-model server gets its own copy of the default index, because it
adds uploaded documents and ``real_pipeline`` is shared read-only.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from indexer.embedder import EmbedderConfig
from qa.answerer import AnswerConfig
from qa.generator import Message
from qa.pipeline import Pipeline, PipelineConfig
from tests.fakes import HashEmbedder, ScriptedGenerator
from ui.config import ApiConfig, UiConfig

_PASSAGE = re.compile(r"^\[1\] (.+)$", re.MULTILINE)


def first_passage(messages: Sequence[Message]) -> str:
    """A scripted reply that is grounded by construction: passage [1] itself."""
    found = _PASSAGE.search(messages[-1]["content"])
    return found.group(1) if found else "I do not know."


def fake_pipeline(index_dir: Path, reply: str | None = None, *, draft: bool = False) -> Pipeline:
    """The default collection indexed with the hash embedder (builds in well under a second);
    ``draft`` turns on the scripted generator's drafts."""
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=index_dir,
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            answer=AnswerConfig(draft=draft),
        ),
        embedder=HashEmbedder(),
        generator=ScriptedGenerator(reply, reply_for=None if reply else first_passage),
    )
    pipeline.build_index(None)
    return pipeline


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    pipeline: Pipeline
    uploads_dir: Path
    feedback_log: Path


@contextmanager
def running_app(
    pipeline: Pipeline,
    data_dir: Path,
    config: UiConfig | None = None,
    api: ApiConfig | None = None,
    *,
    as_if_host: str | None = None,
    **build_options,
):
    """Serve the chat window for ``pipeline`` (with the OpenAI-compatible API
    and the login its settings ask for) until the block ends.

    The server always binds to loopback; ``as_if_host`` makes the API and the
    login behave as they would when bound to that address. ``build_options``
    go to ``build_app``.
    """
    from ui.app import build_app, launch_options, server_options

    config = replace(config or UiConfig(), host="127.0.0.1", port=free_port())
    uploads_dir, feedback_log = data_dir / "uploads", data_dir / "feedback.jsonl"
    options = server_options(
        pipeline,
        replace(config, host=as_if_host or config.host),
        api or ApiConfig(),
        collections=build_options.get("collections"),
    )
    app = build_app(pipeline, config, uploads_dir, feedback_log, **build_options)
    app.launch(prevent_thread_lock=True, quiet=True, **launch_options(config), **options)
    try:
        yield Server(f"http://127.0.0.1:{config.port}/", pipeline, uploads_dir, feedback_log)
    finally:
        app.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return fake_pipeline(tmp_path / "index")


@pytest.fixture(scope="session")
def real_ui_server(
    tmp_path_factory: pytest.TempPathFactory, default_index_dir, real_embedder, real_generator
) -> Iterator[Server]:
    """The chat window with the real models over its own copy of the default index."""
    root = tmp_path_factory.mktemp("ui-server")
    shutil.copytree(default_index_dir, root / "index")
    pipeline = Pipeline(
        PipelineConfig(index_dir=root / "index"), embedder=real_embedder, generator=real_generator
    )
    from ui.app import preload

    preload(pipeline)
    (root / "data").mkdir()
    with running_app(pipeline, root / "data") as server:
        yield server
