"""Tests for ui.app's wiring: safety defaults, serve(), and the API over HTTP (fake models)."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.ui.conftest import running_app
from ui import app as ui_app
from ui.app import API_NAME, UPLOAD_CACHE_SWEEP, build_app, is_loopback, launch_options
from ui.config import UiConfig


def components(app: gr.Blocks) -> dict[str, gr.components.Component]:
    return {
        block.elem_id: block
        for block in app.blocks.values()
        if isinstance(block, gr.components.Component) and block.elem_id
    }


def test_gradio_is_recent_enough() -> None:
    major, minor = (int(part) for part in gr.__version__.split(".")[:2])
    assert (major, minor) >= (6, 20)


def test_launch_options_carry_the_safety_defaults() -> None:
    options = launch_options(UiConfig())
    assert options["server_name"] == "127.0.0.1"
    assert options["max_file_size"] == "20mb"
    assert options["share"] is False and options["show_error"] is False
    custom = launch_options(UiConfig(host="0.0.0.0", port=8080, max_upload_mb=5))
    assert (custom["server_name"], custom["server_port"], custom["max_file_size"]) == (
        "0.0.0.0",
        8080,
        "5mb",
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.10", False), ("::", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_app_has_a_bounded_queue_and_no_raw_html(pipeline, data_dir) -> None:
    config = UiConfig(concurrency_limit=2, max_queue_size=7)
    app = build_app(pipeline, config, data_dir / "uploads", data_dir / "feedback.jsonl")
    assert app._queue.max_size == 7
    assert app._queue.default_concurrency_limit == 2
    parts = components(app)
    chat = parts["chat"]
    assert isinstance(chat, gr.Chatbot)
    assert chat.sanitize_html is True and chat.allow_tags is False
    assert chat.latex_delimiters == []
    upload = parts["upload"]
    assert isinstance(upload, gr.File)
    assert set(upload.file_types or []) == set(config.allowed_suffixes)
    assert {".txt", ".md", ".html", ".pdf", ".docx"} <= set(config.allowed_suffixes)
    # Only the /ask endpoint is public; the window's own events are private.
    public = [
        fn.api_name
        for fn in app.fns.values()
        if fn.api_visibility != "private" and fn.api_name is not None
    ]
    assert public == [API_NAME]


def test_serve_launches_with_the_defaults(pipeline, data_dir, monkeypatch) -> None:
    launched: dict = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: launched.update(kwargs))
    ui_app.serve(
        pipeline,
        UiConfig(),
        uploads_dir=data_dir / "uploads",
        feedback_log=data_dir / "feedback.jsonl",
    )
    routes = launched.pop("app_kwargs")["routes"]
    assert launched == launch_options(UiConfig())  # and no login: none is configured
    assert {route.path for route in routes} >= {"/v1/models", "/v1/chat/completions"}


def test_serve_warns_when_not_on_loopback(pipeline, data_dir, monkeypatch, capsys) -> None:
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: None)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(data_dir / "tmp"))
    ui_app.serve(
        pipeline,
        UiConfig(host="0.0.0.0"),
        uploads_dir=data_dir / "uploads",
        feedback_log=data_dir / "feedback.jsonl",
    )
    assert "reachable from other machines" in capsys.readouterr().err


def test_api_over_http_with_gradio_client(pipeline, data_dir) -> None:
    with running_app(pipeline, data_dir) as server:
        with urllib.request.urlopen(server.url, timeout=30) as page:
            assert page.status == 200
        client = Client(server.url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert list(endpoints) == [f"/{API_NAME}"]
        result = client.predict(
            "When did he join Kingsoft?",
            [["Who is Lei Jun?", "Lei Jun founded Xiaomi."]],
            3,
            api_name=f"/{API_NAME}",
        )
        assert result["retrieval_query"] == "When did Lei Jun join Kingsoft?"
        assert len(result["retrieved"]) == 3 and result["citations"]
        with pytest.raises(AppError, match="question is empty"):
            client.predict("   ", None, 3, api_name=f"/{API_NAME}")
        client.close()


def test_the_upload_cache_is_swept_within_minutes(pipeline, data_dir) -> None:
    """Issue 16, case 9: files posted to Gradio's upload route but never
    passed to the upload event used to stay fetchable for up to 90 minutes
    (``delete_cache=(1800, 3600)``)."""
    app = build_app(pipeline, UiConfig(), data_dir / "uploads", data_dir / "feedback.jsonl")
    assert app.delete_cache == UPLOAD_CACHE_SWEEP
    every, older_than = UPLOAD_CACHE_SWEEP
    assert every <= 120 and older_than <= 600, "a stray upload must be gone within minutes"


def test_a_stray_upload_is_deleted_and_no_longer_served(
    pipeline, data_dir, tmp_path, monkeypatch
) -> None:
    """Through the real server: a file posted to ``/gradio_api/upload`` with
    no upload event is served from the cache at first, then deleted from the
    disk by the sweep and no longer served (a short sweep stands in for the
    shipped five minutes)."""
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))  # read when the server starts
    with running_app(pipeline, data_dir, upload_cache_sweep=(1, 2)) as server:
        posted = httpx.post(
            f"{server.url}gradio_api/upload",
            files={"files": ("stray.txt", b"not for the index\n", "text/plain")},
            timeout=30,
        )
        assert posted.status_code == 200, posted.text
        [stored] = posted.json()
        path = Path(stored)
        assert path.is_file() and path.resolve().is_relative_to(cache.resolve())
        url = f"{server.url}gradio_api/file={stored}"
        first = httpx.get(url, timeout=30)
        assert first.status_code == 200 and first.content == b"not for the index\n"
        deadline = time.monotonic() + 20
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not path.exists(), "the stray upload was not swept"
        assert httpx.get(url, timeout=30).status_code in (403, 404)
