"""Several collections in one server: the picker in headless Chromium, the
OpenAI-compatible API's models and ``/ask`` (hash embedder, real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from gradio_client import Client

from corpus.documents import Document
from indexer.builder import IndexBuilder
from qa.collections import CollectionPipelines
from tests.fakes import HashEmbedder
from tests.ui.conftest import Server, fake_pipeline, running_app

HARBOUR = "The harbour of Quillport froze every winter until 1998, when the new breakwater opened."


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, CollectionPipelines]]:
    root = tmp_path_factory.mktemp("collections")
    first = fake_pipeline(root / "index" / "default")
    harbour = Document(doc_id="harbour", title="Harbour report", source_path="h.txt", text=HARBOUR)
    IndexBuilder(HashEmbedder()).build([harbour], root / "index" / "harbour")
    collections = CollectionPipelines(first, "default", root / "index")
    (root / "data").mkdir()
    with running_app(first, root / "data", collections=collections) as server:
        yield server, collections


def test_every_collection_is_a_model_answering_from_its_own_documents(served) -> None:
    server, _ = served
    with openai.OpenAI(base_url=server.url + "v1", api_key="unused", max_retries=0) as client:
        assert [m.id for m in client.models.list()] == ["ragqa-default", "ragqa-harbour"]
        reply = client.chat.completions.create(
            model="ragqa-harbour",
            messages=[{"role": "user", "content": "When did the harbour of Quillport freeze?"}],
        )
        citations = reply.model_extra["ragqa"]["citations"]
        assert {c["document"] for c in citations} == {"Harbour report"}
        with pytest.raises(openai.NotFoundError, match="ragqa-papers"):
            client.chat.completions.create(
                model="ragqa-papers", messages=[{"role": "user", "content": "Who?"}]
            )


def test_ask_endpoint_takes_a_collection(served) -> None:
    server, _ = served
    client = Client(server.url, verbose=False)
    try:
        harbour = client.predict(
            "When did the harbour freeze?", None, 5, "harbour", api_name="/ask"
        )
        assert {c["document"] for c in harbour["citations"]} == {"Harbour report"}
        default = client.predict("When was Lei Jun born?", None, 5, None, api_name="/ask")
        assert "Harbour report" not in {c["document"] for c in default["citations"]}
    finally:
        client.close()


@pytest.mark.browser
@pytest.mark.integration
def test_the_picker_switches_collections_and_uploads_go_to_the_one_shown(
    browser,
    served,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    from playwright.sync_api import expect

    from tests.ui.test_browser import ask

    server, collections = served
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server.url)
        page.locator("#question textarea").wait_for()
        first = ask(page, "When was Lei Jun born?")
        assert "Harbour report" not in first

        page.locator("#collection input").click()
        page.get_by_role("option", name="harbour").click()
        expect(page.locator("#chat .bot-row")).to_have_count(0)  # a new conversation
        answer = ask(page, "When did the harbour of Quillport freeze?")
        assert "Harbour report" in answer and "1998" in answer

        note = tmp_path / "ferry timetable.txt"
        note.write_text("The Quillport ferry leaves at seven every morning.\n", encoding="utf-8")
        page.locator("#upload input[type=file]").set_input_files(str(note))
        expect(page.locator("#upload-status")).to_contain_text("Added", timeout=60_000)
        titles = {d.title for d in collections.pipeline("harbour").store.documents()}
        assert "ferry timetable" in {t.lower() for t in titles}
        assert not any(
            "ferry" in d.title.lower() for d in collections.pipeline("default").store.documents()
        )
        page.screenshot(path=str(artifacts_dir / "ui-collections.png"), full_page=True)
    finally:
        context.close()
