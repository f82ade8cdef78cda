"""``RAGQA_VECTOR_STORE__KIND=milvus ragqa ui``, as ``make chat`` runs it from a
clean data folder: the default collection is indexed into Milvus Lite on
first start and a question is answered, with citations, through the HTTP API
(real models, real process)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from benchmarks._common import child_env, running_ragqa_ui
from ui.openai_api import DEFAULT_MODEL

pytestmark = [pytest.mark.integration, pytest.mark.milvus]


def test_ragqa_ui_indexes_into_milvus_lite_and_answers_with_citations(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    env = child_env(
        RAGQA_DATA_DIR=str(tmp_path),
        RAGQA_VECTOR_STORE__KIND="milvus",
        GRADIO_TEMP_DIR=str(tmp_path / "gradio"),
    )
    log = tmp_path / "ragqa-ui.log"
    with running_ragqa_ui([], env, cwd=tmp_path, log=log, timeout_s=600) as running:
        client = openai.OpenAI(
            base_url=running.url + "v1", api_key="unused", max_retries=0, timeout=240
        )
        completion = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": "When was Lei Jun born?"}],
        )
    content = completion.choices[0].message.content or ""
    extra = completion.model_extra["ragqa"]
    output = log.read_text(encoding="utf-8", errors="replace")
    assert extra["abstained"] is False, output[-2000:]
    assert "1969" in content and "[1]" in content
    assert "1969" in extra["citations"][0]["text"]
    assert "Lei Jun" in extra["citations"][0]["document"]
    assert "indexing the default Lei Jun collection first" in output
    assert (tmp_path / "index" / "milvus.db").exists(), "the index is in Milvus Lite"
    assert not (tmp_path / "index" / "default").exists(), "and not in a local FAISS folder"
