"""``ragqa ui`` as a person runs it, with a key and a login, used through the official
``openai`` client with the real models (one process start, several checks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import openai
import pytest

from benchmarks._common import child_env, running_ragqa_ui
from ui.openai_api import DEFAULT_MODEL

pytestmark = pytest.mark.integration

KEY = "real-api-key-0123456789abcdef"
PASSWORD = "real-login-pw-0123"


def test_ragqa_ui_serves_the_openai_api_and_the_login(
    tmp_path: Path, default_index_dir: Path
) -> None:
    shutil.copytree(default_index_dir, tmp_path / "index" / "default")
    env = child_env(
        RAGQA_DATA_DIR=str(tmp_path),
        RAGQA_API__KEY=KEY,
        RAGQA_UI__LOGIN=f"alice:{PASSWORD}",
        GRADIO_TEMP_DIR=str(tmp_path / "gradio"),
    )
    log = tmp_path / "ragqa-ui.log"
    with running_ragqa_ui(["--verbose"], env, cwd=tmp_path, log=log) as running:
        url = running.url
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "v1", api_key="wrong-key-0123456789").models.list()
        client = openai.OpenAI(base_url=url + "v1", api_key=KEY, max_retries=0, timeout=240)
        assert [m.id for m in client.models.list()] == [DEFAULT_MODEL]

        completion = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[
                {"role": "user", "content": "Who is Lei Jun?"},
                {"role": "assistant", "content": "Lei Jun is the founder of Xiaomi. [1]"},
                {"role": "user", "content": "When did he join Kingsoft?"},
            ],
        )
        extra = completion.model_extra["ragqa"]
        assert extra["retrieval_query"] == "When did Lei Jun join Kingsoft?"
        assert extra["citations"], "an answer or an abstention always lists passages"
        if not extra["abstained"]:
            assert "[1]" in completion.choices[0].message.content
            assert "Kingsoft" in extra["citations"][0]["text"]

        chunks = list(
            client.chat.completions.create(
                model=DEFAULT_MODEL,
                messages=[{"role": "user", "content": "When was Lei Jun born?"}],
                stream=True,
            )
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks)
        final = chunks[-1].model_extra["ragqa"]
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert final["abstained"] is False and "1969" in content and content.endswith("[1]")
        assert "1969" in final["citations"][0]["text"]

        assert httpx.get(url + "gradio_api/info", timeout=30).status_code == 401
        login = httpx.post(
            url + "login", data={"username": "alice", "password": PASSWORD}, timeout=30
        )
        assert login.status_code == 200
        with httpx.Client(cookies=login.cookies, timeout=30) as browser:
            assert browser.get(url + "gradio_api/info").status_code == 200
    output = log.read_text(encoding="utf-8", errors="replace")
    assert "Running on local URL" in output  # the log is the server's
    assert KEY not in output and PASSWORD not in output
