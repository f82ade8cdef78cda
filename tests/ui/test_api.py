"""The chat through gradio_client, against the real server with the real models."""

from __future__ import annotations

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
