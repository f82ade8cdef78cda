"""A generator that really crashes never takes ragqa down.

The generator child is ``tests.generator_workers``: the real worker protocol
with a backend that sends itself SIGSEGV when the prompt says ``SEGFAULT``.
The chat window is the real server (in this process) driven by headless
Chromium and gradio_client; the CLI is ``ragqa.cli.main`` in this process, so
a crash that escaped the child would end the test run itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import qa.pipeline
from indexer.embedder import EmbedderConfig
from qa.answerer import AnswerConfig
from qa.generator import GeneratorConfig
from qa.pipeline import Pipeline, PipelineConfig
from qa.supervised_generator import SupervisedGenerator
from tests.fakes import HashEmbedder
from tests.generator_workers import COMMAND
from tests.ui.conftest import running_app
from tests.ui.test_browser import ask

CRASHING_QUESTION = "When did Lei Jun found Xiaomi? SEGFAULT"
QUESTION = "When did Lei Jun found Xiaomi?"


def crashing_generator() -> SupervisedGenerator:
    return SupervisedGenerator(GeneratorConfig(), command=COMMAND, reply_timeout_s=30)


def crash_pipeline(index_dir: Path) -> Pipeline:
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=index_dir,
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            answer=AnswerConfig(draft=True),  # drafts: the generator is asked every question
        ),
        embedder=HashEmbedder(),
        generator=crashing_generator(),
    )
    pipeline.build_index(None)
    return pipeline


@pytest.fixture(scope="module")
def crash_server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("crash-server")
    pipeline = crash_pipeline(root / "index")
    (root / "data").mkdir()
    with running_app(pipeline, root / "data") as server:
        yield server
    pipeline.generator().close()


@pytest.mark.browser
@pytest.mark.integration
def test_chat_window_survives_a_segfault_and_keeps_the_conversation(
    browser,
    crash_server,
    artifacts_dir,
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(crash_server.url)
        page.locator("#question textarea").wait_for()
        first = ask(page, QUESTION)
        assert "Could not answer" not in first
        crashed = ask(page, CRASHING_QUESTION)
        assert "Could not answer" in crashed
        assert "llama-cpp generator crashed" in crashed and "SIGSEGV" in crashed
        after = ask(page, QUESTION)
        assert "Could not answer" not in after
        chat = page.locator("#chat").inner_text()
        assert chat.count(QUESTION) == 3, "every earlier turn stays in the conversation"
        page.screenshot(path=str(artifacts_dir / "ui-generator-crash.png"), full_page=True)
    finally:
        context.close()


def test_api_reports_the_crash_and_answers_the_next_question(crash_server) -> None:
    client = Client(crash_server.url, verbose=False)
    try:
        with pytest.raises(AppError, match=r"generator crashed.*SIGSEGV"):
            client.predict(CRASHING_QUESTION, None, 5, api_name="/ask")
        result = client.predict(QUESTION, None, 5, api_name="/ask")
        assert result["question"] == QUESTION and result["citations"]
    finally:
        client.close()


def test_cli_exits_with_a_message_naming_the_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ragqa.cli import main

    for name in [n for n in os.environ if n.startswith("RAGQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGQA_EMBEDDER__MODEL", HashEmbedder.model_name)
    monkeypatch.setenv("RAGQA_ANSWER__DRAFT", "true")
    monkeypatch.setattr(qa.pipeline, "make_embedder", lambda config=None: HashEmbedder())
    monkeypatch.setattr(qa.pipeline, "make_generator", lambda config=None: crashing_generator())
    assert main(["index"]) == 0
    capsys.readouterr()

    code = main(["ask", CRASHING_QUESTION])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "error: The llama-cpp generator crashed" in captured.err
    assert "SIGSEGV" in captured.err and "Traceback" not in captured.err

    assert main(["ask", QUESTION]) == 0
    assert "[1]" in capsys.readouterr().out
