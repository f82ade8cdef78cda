"""The chat through gradio_client, against the real server with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(real_ui_server):
    client = Client(real_ui_server.url, verbose=False)
    yield client
    client.close()


def test_ask_returns_the_answer_json(client) -> None:
    result = client.predict("When was Lei Jun born?", None, 5, api_name="/ask")
    assert result["question"] == "When was Lei Jun born?"
    assert isinstance(result["answer"], str) and result["answer"]
    assert isinstance(result["abstained"], bool)
    assert result["citations"], "an answer or an abstention always lists passages"
    for citation in result["citations"]:
        assert citation["end"] - citation["start"] == len(citation["text"])
        assert citation["supports_answer"] is not result["abstained"]
    assert len(result["retrieved"]) == 5


def test_follow_up_with_history(client) -> None:
    result = client.predict(
        "When did he join Kingsoft?",
        [["Who is Lei Jun?", "Lei Jun is the founder of Xiaomi. [1]"]],
        5,
        api_name="/ask",
    )
    assert result["retrieval_query"] == "When did Lei Jun join Kingsoft?"
    assert any("Kingsoft" in hit["text"] for hit in result["retrieved"])


def test_bad_question_is_a_plain_error(client) -> None:
    with pytest.raises(AppError, match="question is empty"):
        client.predict("", None, 5, api_name="/ask")


def _strings(value) -> list[str]:
    """Every string anywhere in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_ask_names_documents_never_server_paths(client, real_ui_server) -> None:
    """Issue 16, case 9: ``/ask`` used to return each citation's absolute
    ``source_path`` (where the server keeps the collection and uploads)."""
    result = client.predict("When was Lei Jun born?", None, 5, api_name="/ask")
    assert result["citations"]
    for citation in result["citations"]:
        assert "source_path" not in citation
        assert citation["document"] and citation["file"] == Path(citation["file"]).name
        assert citation["file"].endswith(".txt")
    server_paths = {
        str(Path(d.source_path).parent) for d in real_ui_server.pipeline.store.documents()
    } | {str(real_ui_server.uploads_dir.parent), str(Path.cwd()), str(Path.home())}
    for text in _strings(result):
        assert not any(path in text for path in server_paths), text
