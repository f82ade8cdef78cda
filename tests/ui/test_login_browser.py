"""The chat window's login in a real headless Chromium (fake models: the login is the subject).

Debian's ``chromium`` (``make browser``) driven by Playwright, as in ``test_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.pipeline import Pipeline
from tests.conftest import TIMEOUT_MS
from tests.ui.conftest import Server, running_app
from ui.auth import set_password
from ui.config import UiConfig

pytestmark = pytest.mark.browser

PASSWORD = "browser-login-pw-7"


@pytest.fixture
def guarded(tmp_path: Path, pipeline: Pipeline) -> Iterator[Server]:
    path = tmp_path / "passwords"
    set_password(path, "alice", PASSWORD)
    (tmp_path / "data").mkdir()
    with running_app(pipeline, tmp_path / "data", UiConfig(password_file=str(path))) as server:
        yield server


def test_login_page_then_the_chat(browser, guarded: Server, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(guarded.url)
        name, password = page.get_by_test_id("textbox"), page.get_by_test_id("password")
        expect(page.get_by_text("Log in to ask the documents.")).to_be_visible()
        assert page.locator("#question").count() == 0, "the chat shows before the login"

        name.fill("alice")
        password.fill("not-the-password")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        assert page.locator("#question").count() == 0

        name.fill("alice")  # the form is cleared after a failed attempt
        password.fill(PASSWORD)
        page.screenshot(path=str(artifacts_dir / "login.png"))
        page.get_by_role("button", name="Login").click()
        box = page.locator("#question textarea")
        expect(box).to_be_visible()
        box.fill("When was Lei Jun born?")
        box.press("Enter")
        expect(page.locator("#chat .bot-row").last).to_contain_text("1969")
        page.screenshot(path=str(artifacts_dir / "after-login.png"))
    finally:
        context.close()
