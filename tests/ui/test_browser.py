"""The chat window in a real headless Chromium, with the real models.

Debian's ``chromium`` (``make browser`` installs it) is driven by Playwright's
sync API against the app served in this process on 127.0.0.1. Screenshots are
saved under ``artifacts/`` for a person to look at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CURSOR = "▍"

# Records every state of the latest answer that still shows the writing cursor.
WATCH_DRAFTS = """() => {
  window.__drafts = [];
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const rows = chat.querySelectorAll('.bot-row');
    const last = rows.length ? rows[rows.length - 1].innerText : '';
    if (last.includes('CURSOR') && window.__drafts[window.__drafts.length - 1] !== last) {
      window.__drafts.push(last);
    }
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}""".replace("CURSOR", CURSOR)


@pytest.fixture
def page(browser, real_ui_server) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(real_ui_server.url)
    page.locator("#question textarea").wait_for()
    yield page
    context.close()


def ask(page, question: str) -> str:
    """Type ``question``, press Enter, wait for the finished answer; returns its text."""
    answers_before = page.locator("#chat .bot-row").count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """([n, cursor]) => {
          const rows = document.querySelectorAll('#chat .bot-row');
          return rows.length > n && !rows[rows.length - 1].innerText.includes(cursor);
        }""",
        arg=[answers_before, CURSOR],
        timeout=TIMEOUT_MS,
    )
    return page.locator("#chat .bot-row").last.inner_text()


def source_labels(page) -> list[str]:
    page.locator("#sources label").first.wait_for()
    return page.locator("#sources label").all_inner_texts()


def wait_for_records(path: Path, n: int, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            records = [json.loads(line) for line in path.read_text().splitlines() if line]
            if len(records) >= n:
                return records
        time.sleep(0.2)
    raise AssertionError(f"{path} did not get {n} feedback record(s)")


def test_ask_see_streamed_answer_open_a_citation_and_vote(
    page, real_ui_server, artifacts_dir
) -> None:
    from playwright.sync_api import expect

    page.evaluate(WATCH_DRAFTS)
    answer = ask(page, "When was Lei Jun born?")

    # No drafts by default: nothing but the cursor shows before the answer.
    drafts = page.evaluate("window.__drafts")
    assert all(d.strip() == CURSOR for d in drafts), f"a draft was shown: {drafts}"
    assert "Sources" in answer or "Closest passages" in answer
    labels = source_labels(page)
    assert labels and labels[0].startswith("[1] ")

    page.locator("#sources label").first.click()
    mark = page.locator("#passage mark")
    expect(mark).to_be_visible()
    assert mark.inner_text().strip()
    title = labels[0].removeprefix("[1] ").split(" — ")[0]
    expect(page.locator("#passage h3")).to_contain_text(title)
    passage_text = page.locator("#passage").inner_text()
    assert len(passage_text) > len(mark.inner_text()), "the neighbouring text is shown too"

    page.locator("#whole-document-box").get_by_text("Whole document").click()
    expect(page.locator("#whole-document mark")).to_be_visible()
    assert len(page.locator("#whole-document").inner_text()) >= len(passage_text) - 10

    page.locator("#chat").get_by_role("button", name="Like", exact=True).last.click()
    (record,) = wait_for_records(real_ui_server.feedback_log, 1)[-1:]
    assert record["rating"] == "up"
    assert record["question"] == "When was Lei Jun born?"
    assert record["citations"]

    page.locator("#whole-document-box").get_by_text("Whole document").click()  # fold it
    page.screenshot(path=str(artifacts_dir / "ui-chat.png"), full_page=True)


def test_follow_up_settings_and_examples(page, real_ui_server) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="What is Xiaomi's vision statement?").click()
    expect(page.locator("#question textarea")).to_have_value("What is Xiaomi's vision statement?")

    ask(page, "Who is Lei Jun?")
    follow_up = ask(page, "When did he join Kingsoft?")
    assert "Searched for: When did Lei Jun join Kingsoft?" in follow_up
    cited = []
    for label in page.locator("#sources label").all():
        label.click()
        page.locator("#passage mark").wait_for()
        cited.append(page.locator("#passage").inner_text())
    assert any("Kingsoft" in text for text in cited)

    page.locator("#settings").get_by_text("Settings").click()
    page.locator("#scores").get_by_label("Show retrieval scores").check()
    expect(page.locator("#sources label").first).to_contain_text("(score ")
    config = real_ui_server.pipeline.config
    expect(page.locator("#top-k input[type=number]")).to_have_value(str(config.retrieval.top_k))
    # No drafts by default, so no generator to choose.
    expect(page.locator("#backend")).to_be_hidden()


def test_upload_a_document_and_ask_about_it(page, real_ui_server, tmp_path, artifacts_dir) -> None:
    from playwright.sync_api import expect

    notes = tmp_path / "zorblax notes.txt"
    notes.write_text(
        "Zorblax festival notes.\n\n"
        "The Zorblax festival is held every April in the harbour town of Quillport. "
        'Visitors bring lanterns. <img src=x onerror="window.__pwned=1"> ${7*6}\n'
    )
    program = tmp_path / "tool.exe"
    program.write_bytes(b"MZ\x90\x00")

    page.locator("#upload input[type=file]").set_input_files([str(program)])
    expect(page.get_by_text("Invalid file type: tool.exe")).to_be_visible()

    page.locator("#upload input[type=file]").set_input_files([str(notes)])
    expect(page.locator("#upload-status")).to_contain_text("Added: zorblax notes.txt")
    assert (real_ui_server.uploads_dir / "zorblax notes.txt").read_bytes() == notes.read_bytes()
    assert not (real_ui_server.uploads_dir / "tool.exe").exists()

    ask(page, "When is the Zorblax festival held?")
    labels = source_labels(page)
    position = next(i for i, label in enumerate(labels) if "Zorblax notes" in label)
    page.locator("#sources label").nth(position).click()
    expect(page.locator("#passage h3")).to_contain_text("Zorblax notes")
    passage = page.locator("#passage").inner_text()
    assert '<img src=x onerror="window.__pwned=1"> ${7*6}' in passage
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(artifacts_dir / "ui-upload.png"), full_page=True)
