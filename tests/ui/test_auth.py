"""The chat window's login: hashes, the password file, ``ragqa passwd``, and the login
over HTTP against the real server (what it protects, and what it does not)."""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

from corpus.errors import ConfigError
from qa.pipeline import Pipeline
from ragqa import cli
from ragqa.settings import load_settings
from tests.ui.conftest import Server, running_app
from ui.auth import (
    Accounts,
    accounts_from,
    hash_password,
    is_hash,
    read_password_file,
    set_password,
    verify_password,
)
from ui.config import ApiConfig, UiConfig

PASSWORD = "tr0ub4dor&3-not-in-logs"
KEY = "api-key-0123456789abcdef-not-in-logs"


# --- hashes and the password file ----------------------------------------------------------
@pytest.mark.parametrize("password", ["p", "correct horse battery staple", "пароль ✓", " spaced "])
def test_hash_round_trip(password: str) -> None:
    encoded = hash_password(password)
    assert is_hash(encoded) and (len(password) < 8 or password not in encoded)
    assert verify_password(password, encoded)
    assert not verify_password(password + "x", encoded)
    assert not verify_password(password.upper() + "!", encoded)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-password",
        "scrypt$16384$8$1$c2FsdHNhbHQ=",  # a field missing
        "bcrypt$16384$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$1000$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",  # N not a power of 2
        "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",  # 1 TiB of memory
        "scrypt$16384$8$1$not base64!$a2V5a2V5a2V5a2V5a2V5a2V5",
    ],
)
def test_malformed_hashes_never_match(encoded: str) -> None:
    assert not is_hash(encoded)
    assert not verify_password("plain-password", encoded)


def test_set_password_writes_a_private_file_and_replaces_one_account(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "passwords"
    assert set_password(path, "alice", "first") is True
    assert set_password(path, "bob", "other") is True
    assert set_password(path, " alice ", "second") is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "first" not in text and "second" not in text
    accounts = read_password_file(path)
    assert sorted(accounts) == ["alice", "bob"]
    assert verify_password("second", accounts["alice"])
    assert not verify_password("first", accounts["alice"])
    assert [p.name for p in path.parent.iterdir()] == ["passwords"]  # no temporary left


@pytest.mark.parametrize("name", ["", "  ", "a:b", "two\nlines"])
def test_set_password_refuses_unusable_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be used"):
        set_password(tmp_path / "passwords", name, "pw")


def test_a_bad_password_file_line_is_named_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    path.write_text(f"# comment\n\nalice:{hash_password('x')}\nbob:{PASSWORD}\n")
    with pytest.raises(ConfigError, match=r"passwords, line 4") as error:
        read_password_file(path)
    assert PASSWORD not in str(error.value)


def test_accounts_from_settings(tmp_path: Path) -> None:
    assert accounts_from(UiConfig()) is None
    path = tmp_path / "passwords"
    set_password(path, "alice", "from-file")
    hashed = hash_password("hashed-env")
    accounts = accounts_from(UiConfig(password_file=str(path), login=f"bob:{PASSWORD}"))
    assert accounts is not None and accounts.names == ["alice", "bob"]
    assert accounts.check_now("alice", "from-file") and accounts.check_now("bob", PASSWORD)
    assert not accounts.check_now("alice", PASSWORD) and not accounts.check_now("carol", PASSWORD)
    from_hash = accounts_from(UiConfig(login=f"carol:{hashed}"))
    assert from_hash is not None and from_hash.check_now("carol", "hashed-env")
    assert not from_hash.check_now("carol", hashed), "a hash is not a password"
    assert PASSWORD not in repr(accounts) and PASSWORD not in repr(UiConfig(login=f"b:{PASSWORD}"))


def test_a_named_password_file_must_exist_and_hold_accounts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the password file"):
        accounts_from(UiConfig(password_file=str(tmp_path / "missing")))
    empty = tmp_path / "empty"
    empty.write_text("# nobody yet\n")
    with pytest.raises(ConfigError, match="has no accounts"):
        accounts_from(UiConfig(password_file=str(empty)))
    with pytest.raises(ConfigError):
        Accounts({})


def test_secrets_from_the_environment_stay_out_of_reprs_and_errors() -> None:
    settings = load_settings(
        environ={"RAGQA_UI__LOGIN": f"alice:{PASSWORD}", "RAGQA_API__KEY": KEY, "HOME": "/tmp"}
    )
    assert settings.ui.login == f"alice:{PASSWORD}" and settings.api.key == KEY
    assert PASSWORD not in repr(settings) and KEY not in repr(settings)
    with pytest.raises(ConfigError, match="too short") as short:
        load_settings(environ={"RAGQA_API__KEY": "short-secret", "HOME": "/tmp"})
    assert "short-secret" not in str(short.value)
    with pytest.raises(ConfigError, match="NAME:PASSWORD") as bad:
        load_settings(environ={"RAGQA_UI__LOGIN": "no-colon-secret", "HOME": "/tmp"})
    assert "no-colon-secret" not in str(bad.value)


def test_ragqa_ui_turns_the_login_on_once_ragqa_passwd_wrote_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[UiConfig, dict]] = []
    monkeypatch.setattr("ui.app.serve", lambda pipeline, config, **kw: served.append((config, kw)))
    monkeypatch.setattr("ragqa.app.ensure_index", lambda pipeline, settings: None)
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RAGQA_API__KEY", KEY)
    assert cli.main(["ui"]) == 0
    assert served[0][0].password_file == "" and accounts_from(served[0][0]) is None
    set_password(tmp_path / "passwords", "alice", PASSWORD)
    assert cli.main(["ui", "--port", "7999"]) == 0
    config, options = served[1]
    assert config.password_file == str(tmp_path / "passwords") and config.port == 7999
    assert options["api"].key == KEY and options["collection"] == "default"
    (tmp_path / "index" / "papers").mkdir(parents=True)
    assert cli.main(["ui", "--collection", "papers"]) == 0
    assert served[2][1]["collection"] == "papers"


def test_ragqa_passwd_reads_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["passwd", "alice"]) == 0
    out, err = capsys.readouterr()
    assert f"Added alice in {tmp_path / 'passwords'}" in out
    assert PASSWORD not in out + err
    assert verify_password(PASSWORD, read_password_file(tmp_path / "passwords")["alice"])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert cli.main(["passwd", "alice", "--file", str(tmp_path / "other")]) == 2
    assert "password is empty" in capsys.readouterr().err


# --- the login on the real server ------------------------------------------------------------
@pytest.fixture
def guarded(
    tmp_path: Path, pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> Iterator[Server]:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "passwords"
    set_password(path, "alice", PASSWORD)
    (tmp_path / "data").mkdir()
    with running_app(pipeline, tmp_path / "data", UiConfig(password_file=str(path))) as server:
        yield server


def login(url: str, name: str, password: str) -> httpx.Response:
    return httpx.post(url + "login", data={"username": name, "password": password}, timeout=30)


def test_login_over_http(guarded: Server, capfd: pytest.CaptureFixture[str], caplog) -> None:
    url = guarded.url
    assert httpx.get(url + "config", timeout=30).status_code == 401
    assert httpx.get(url + "gradio_api/info", timeout=30).status_code == 401
    page = httpx.get(url, timeout=30).text
    assert '"auth_required":true' in page.replace(" ", "") and "ask your documents" not in page
    assert login(url, "alice", "wrong").status_code == 400
    assert login(url, "mallory", PASSWORD).status_code == 400
    accepted = login(url, "alice", PASSWORD)
    assert accepted.status_code == 200 and accepted.json() == {"success": True}
    with httpx.Client(cookies=accepted.cookies, timeout=30) as browser:
        assert browser.get(url + "config").status_code == 200
        assert "ask your documents" in browser.get(url).text
        assert browser.get(url + "gradio_api/info").status_code == 200
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err + caplog.text


def test_the_login_guards_gradio_client_too(guarded: Server) -> None:
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(guarded.url, verbose=False)
    client = Client(guarded.url, auth=("alice", PASSWORD), verbose=False)
    result = client.predict("When was Lei Jun born?", None, 3, api_name="/ask")
    client.close()
    assert "1969" in result["answer"]


def test_the_login_does_not_guard_the_openai_api(guarded: Server) -> None:
    """The /v1 routes are ragqa's, not Gradio's: its login does not cover them.
    On loopback without a key they are open; beyond loopback they need the key."""
    response = httpx.get(guarded.url + "v1/models", timeout=30)
    assert response.status_code == 200


def test_beyond_loopback_login_and_key_guard_each_their_part(
    tmp_path: Path, pipeline: Pipeline
) -> None:
    config = UiConfig(login=f"alice:{PASSWORD}")
    with running_app(pipeline, tmp_path, config, ApiConfig(key=KEY), as_if_host="0.0.0.0") as srv:
        assert httpx.get(srv.url + "gradio_api/info", timeout=30).status_code == 401
        session = login(srv.url, "alice", PASSWORD)
        assert session.status_code == 200
        with httpx.Client(cookies=session.cookies, timeout=30) as browser:
            assert browser.get(srv.url + "v1/models").status_code == 401, "a login is not a key"
            keyed = browser.get(srv.url + "v1/models", headers={"Authorization": f"Bearer {KEY}"})
            assert keyed.status_code == 200
        # and the key opens no Gradio route
        key_only = httpx.get(
            srv.url + "gradio_api/info", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        )
        assert key_only.status_code == 401


def test_ui_serve_warns_without_a_login_beyond_loopback(
    tmp_path: Path, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from ui import app as ui_app

    launched: list[dict] = []
    monkeypatch.setattr(ui_app, "preload", lambda p: None)
    monkeypatch.setattr(ui_app.gr.Blocks, "launch", lambda self, **kw: launched.append(kw))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    ui_app.serve(
        pipeline,
        UiConfig(host="0.0.0.0"),
        uploads_dir=tmp_path / "uploads",
        feedback_log=tmp_path / "f.jsonl",
    )
    err = capsys.readouterr().err
    assert "with no login" in err and "refuses every request" in err
    assert "auth" not in launched[0] and launched[0]["app_kwargs"]["routes"]
    ui_app.serve(
        pipeline,
        UiConfig(host="0.0.0.0", login=f"alice:{PASSWORD}"),
        uploads_dir=tmp_path / "uploads",
        feedback_log=tmp_path / "f.jsonl",
        api=ApiConfig(key=KEY),
    )
    err = capsys.readouterr().err
    assert "with no login" not in err and "refuses" not in err
    assert PASSWORD not in err and KEY not in err
    assert callable(launched[1]["auth"])
    assert os.environ["GRADIO_TEMP_DIR"] == str(tmp_path / "gradio")
