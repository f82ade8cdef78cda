"""The ``ragqa`` command line with bad inputs, driven in-process.

Every user error exits with status 2, prints one message on standard error
that names the problem, and leaves standard output empty. Most tests swap the
models for the fast fakes (the hash embedder, a scripted generator); the few
marked ``integration`` use the real ones on the shipped collection.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa.pipeline
from corpus.collection import load_collection
from corpus.errors import RagqaError
from indexer.builder import IndexBuilder
from indexer.embedder import DEFAULT_EMBEDDING_MODEL
from indexer.manifest import MANIFEST_FILE
from indexer.saved_index import SavedIndex
from qa.answerer import MAX_QUESTION_CHARS
from ragqa.cli import DEFAULT_MAX_QUESTION_CHARS, build_parser, main
from tests.fakes import HashEmbedder

GOOD_TEXT = (
    "Lei Jun founded Xiaomi in 2010. He was born in Xiantao, Hubei, in 1969. "
    "He studied computer science at Wuhan University.\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(result: tuple[int, str, str], *named: str) -> str:
    code, out, err = result
    assert code == 2, f"exit {code}; stderr: {err}"
    assert out == "", "standard output must stay empty on errors"
    assert err.startswith("error: ") or "\nerror: " in err, err
    assert "Traceback" not in err
    for text in named:
        assert text in err, f"{text!r} not in: {err}"
    return err


def make_folder(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "docs"
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    return folder


@pytest.fixture
def built_index(env: Path, tmp_path: Path) -> Path:
    """An index of two small files built with the fake embedder."""
    folder = make_folder(
        tmp_path, {"a.txt": GOOD_TEXT, "b.md": "# Xiaomi\n\nXiaomi makes phones and scooters.\n"}
    )
    index_dir = tmp_path / "index"
    assert main(["index", str(folder), "--index-dir", str(index_dir)]) == 0
    return index_dir


def subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(action.choices)


# --- help ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], *([c] for c in subcommands())], ids=str)
def test_help_works_for_every_subcommand(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ragqa") and len(out) > 80


def test_core_subcommands_exist() -> None:
    assert {"index", "ask", "ui"} <= set(subcommands())


def test_ask_help_documents_the_question_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert DEFAULT_MAX_QUESTION_CHARS == MAX_QUESTION_CHARS
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    assert f"at most {MAX_QUESTION_CHARS} characters" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["ask"], ["index", "--top-k", "3"]])
def test_bad_usage_exits_with_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage:" in captured.err


# --- questions -------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", " ", "\t\n  ", "\x00\x07 \x1b"])
def test_empty_question(question: str, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_user_error(run(capsys, "ask", question), "The question is empty")


def test_question_over_the_limit(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    question = "Who " + "is " * MAX_QUESTION_CHARS + "Lei Jun?"
    assert_user_error(run(capsys, "ask", question), f"the limit is {MAX_QUESTION_CHARS}")


def test_question_limit_follows_the_settings(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_ANSWER__MAX_QUESTION_CHARS", "20")
    question = "When was Lei Jun born, and where?"
    assert_user_error(run(capsys, "ask", question), "the limit is 20")


@pytest.mark.parametrize("question", ["?", "?!?...", "¿¡", "-- // **", "🙂🙂"])
def test_question_without_words(
    question: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_user_error(run(capsys, "ask", question), "no words")


@pytest.mark.parametrize("top_k", ["0", "-3", "1000"])
def test_bad_top_k(top_k: str, built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_user_error(
        run(
            capsys, "ask", "Who founded Xiaomi?", "--top-k", top_k, "--index-dir", str(built_index)
        ),
        f"--top-k {top_k}",
    )


def check_answer_json(out: str, index_dir: Path) -> dict[str, Any]:
    """Standard output is exactly one JSON object of the documented shape, and
    every citation's span is the exact text of its document."""
    assert out.endswith("\n") and out.count("\n") == 1
    answer = json.loads(out)
    assert isinstance(answer, dict)
    assert isinstance(answer["answer"], str) and answer["answer"]
    assert isinstance(answer["abstained"], bool)
    assert isinstance(answer["citations"], list)
    index = SavedIndex.open(
        index_dir,
        embedding_model=json.loads(
            (index_dir / (index_dir / "CURRENT").read_text().strip() / MANIFEST_FILE).read_text()
        )["embedding_model"],
    )
    try:
        for citation in answer["citations"]:
            assert isinstance(citation, dict)
            for key, kind in [
                ("chunk_id", str),
                ("document", str),
                ("start", int),
                ("end", int),
                ("text", str),
            ]:
                assert isinstance(citation[key], kind), (key, citation)
            chunk = index.store.chunk(citation["chunk_id"])
            assert chunk is not None and chunk.title == citation["document"]
            document = index.store.document(chunk.doc_id)
            assert document is not None
            assert document.text[citation["start"] : citation["end"]] == citation["text"]
    finally:
        index.close()
    return answer


def test_ask_json_with_fake_models(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "ask", "Who founded Xiaomi?", "--json", "--index-dir", str(built_index)
    )
    assert code == 0, err
    answer = check_answer_json(out, built_index)
    assert answer["citations"], "a cited answer or the closest passages"


def test_ask_plain_text(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(built_index))
    assert code == 0, err
    assert out.strip() and not out.lstrip().startswith("{")


@pytest.mark.parametrize(
    "question",
    [
        "Who founded Xiaomi?\x07\x1b[31m",
        "雷军是谁？",
        "Кто основал Xiaomi?",
        "من أسس شاومي؟",
        "<script>alert('x')</script> Who founded Xiaomi?",
        "**Who** _founded_ [Xiaomi](http://x)?",
        "Who founded Xiaomi?' OR 1=1; --",
        "x" * MAX_QUESTION_CHARS,
        "{{ question }} %s %(x)s {0}",
    ],
    ids=[
        "control characters",
        "chinese",
        "cyrillic",
        "arabic",
        "html",
        "markdown",
        "sql",
        "at the limit",
        "format strings",
    ],
)
def test_odd_questions_get_an_answer_or_a_clear_message(
    question: str, built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ask", question, "--json", "--index-dir", str(built_index))
    if code == 0:
        check_answer_json(out, built_index)
    else:
        assert_user_error((code, out, err))


# --- indexing ----------------------------------------------------------------------


def test_index_path_that_does_not_exist(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_user_error(run(capsys, "index", "/no/such/folder"), "/no/such/folder does not exist")


def test_index_skips_unsupported_file_with_a_warning_naming_it(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path, {"a.txt": GOOD_TEXT, "photo.jpeg": b"\xff\xd8\xff\xe0JFIF"})
    code, out, err = run(capsys, "index", str(folder), "--index-dir", str(tmp_path / "i"))
    assert code == 0, err
    assert "Indexed 1 documents" in out
    assert "photo.jpeg" in out and "unsupported file type" in out
    assert "WARNING" in err and "photo.jpeg" in err
    assert "DEBUG" not in err, "library debug logs leak at the default level"


def test_index_json_report_names_skipped_files(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(
        tmp_path,
        {"a.txt": GOOD_TEXT, "b.md": "# B\n\nScooters.\n", "x.pdf": b"\x00garbage" * 40},
    )
    code, out, err = run(capsys, "index", str(folder), "--json", "--index-dir", str(tmp_path / "i"))
    assert code == 0, err
    report = json.loads(out)
    assert report["documents"] == 2 and report["chunks"] >= 2
    assert [Path(s["path"]).name for s in report["skipped"]] == ["x.pdf"]
    assert report["skipped"][0]["reason"]
    assert "x.pdf" in err


def test_index_with_corrupt_pdf_names_it_and_indexes_the_others(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(
        tmp_path, {"a.txt": GOOD_TEXT, "sub/b.txt": "Xiaomi sells phones.\n", "bad.pdf": b"%PDF-"}
    )
    index_dir = tmp_path / "i"
    code, out, err = run(capsys, "index", str(folder), "--index-dir", str(index_dir))
    assert code == 0, err
    assert "Indexed 2 documents" in out and "bad.pdf" in out and "bad.pdf" in err
    index = SavedIndex.open(index_dir, embedding_model=HashEmbedder.model_name)
    try:
        assert sorted(Path(d.source_path).name for d in index.store.documents()) == [
            "a.txt",
            "b.txt",
        ]
    finally:
        index.close()


def test_index_with_nothing_readable_keeps_the_old_index(
    built_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    pointer = (built_index / "CURRENT").read_text()
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "x.pdf").write_bytes(b"not a pdf at all")
    (folder / "y.exe").write_bytes(b"MZ\x00\x00")
    err = assert_user_error(
        run(capsys, "index", str(folder), "--json", "--index-dir", str(built_index)),
        "No documents to index",
    )
    assert "x.pdf" in err and "y.exe" in err
    assert (built_index / "CURRENT").read_text() == pointer


def test_index_into_a_folder_of_other_files_deletes_nothing(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path, {"a.txt": GOOD_TEXT})
    target = tmp_path / "my-stuff"
    target.mkdir()
    (target / "thesis.docx").write_bytes(b"precious")
    assert_user_error(run(capsys, "index", str(folder), "--index-dir", str(target)), "thesis.docx")
    assert sorted(p.name for p in target.iterdir()) == ["thesis.docx"]


def test_index_dir_below_a_file(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_folder(tmp_path, {"a.txt": GOOD_TEXT})
    (tmp_path / "file").write_text("x")
    assert_user_error(
        run(capsys, "index", str(folder), "--index-dir", str(tmp_path / "file" / "index")),
        str(tmp_path / "file"),
    )


def test_bad_settings_are_reported(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_RETRIEVAL__TOP_K", "many")
    assert_user_error(run(capsys, "ask", "Who founded Xiaomi?"), "retrieval.top_k", "'many'")
    monkeypatch.delenv("RAGQA_RETRIEVAL__TOP_K")
    assert_user_error(
        run(capsys, "index", "--config", "missing.toml"), "settings file", "missing.toml"
    )


# --- the index a question needs ----------------------------------------------------


def test_no_index_at_a_given_location(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "nowhere"
    assert_user_error(
        run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(where)),
        f"No index at {where}",
        "ragqa index",
    )
    assert not where.exists()


def test_no_index_yet_at_the_default_location_builds_the_default_collection(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ask", "Who founded Xiaomi?", "--json")
    assert code == 0, err
    assert "indexing the default Lei Jun collection" in err
    check_answer_json(out, env / "index" / "default")


def test_index_built_with_another_embedding_model(
    built_index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_EMBEDDER__MODEL", "another/model")
    assert_user_error(
        run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(built_index)),
        "another/model",
        HashEmbedder.model_name,
        "ragqa index",
    )


def test_index_of_another_format_version(
    built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_path = built_index / (built_index / "CURRENT").read_text().strip() / MANIFEST_FILE
    data = json.loads(manifest_path.read_text())
    data["format_version"] = 999
    manifest_path.write_text(json.dumps(data))
    assert_user_error(
        run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(built_index)),
        "format version 999",
        "ragqa index",
    )


def test_damaged_index(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faiss_file = built_index / (built_index / "CURRENT").read_text().strip() / "vectors.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    assert_user_error(
        run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(built_index)),
        "vectors.faiss",
        "ragqa index",
    )
    docs = str(built_index.parent / "docs")
    code, out, err = run(capsys, "index", docs, "--index-dir", str(built_index))
    assert code == 0 and "2 embedded, 0 reused" in out, "nothing reused from a damaged index"
    code, out, err = run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(built_index))
    assert code == 0 and out, err


def test_errors_are_project_errors_not_tracebacks(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RagqaError raised anywhere under a command is shown as a message."""

    def failing(*args: object, **kwargs: object) -> None:
        raise RagqaError("something the user can fix")

    monkeypatch.setattr(qa.pipeline.Pipeline, "build_index", failing)
    assert_user_error(run(capsys, "index"), "something the user can fix")


def test_index_built_with_the_hash_embedder_is_refused_by_the_default_settings(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAGQA_EMBEDDER__MODEL")
    folder = make_folder(tmp_path, {"a.txt": GOOD_TEXT})
    index_dir = tmp_path / "hash-index"
    IndexBuilder(HashEmbedder()).build(load_collection([folder]).documents, index_dir)
    assert_user_error(
        run(capsys, "ask", "Who founded Xiaomi?", "--index-dir", str(index_dir)),
        HashEmbedder.model_name,
        DEFAULT_EMBEDDING_MODEL,
        "ragqa index",
    )


# --- with the real models -------------------------------------------------------------


@pytest.fixture
def real_models(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_embedder: Any, real_generator: Any
) -> Iterator[None]:
    """The CLI with the session's real models (loaded once, not per command)."""
    for name in list(os.environ):
        if name.startswith("RAGQA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(qa.pipeline, "make_embedder", lambda config=None: real_embedder)
    monkeypatch.setattr(qa.pipeline, "make_generator", lambda config=None: real_generator)
    yield


@pytest.mark.integration
def test_ask_json_with_the_real_models(
    real_models: None, default_index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "ask",
        "When was Lei Jun born?",
        "--json",
        "--index-dir",
        str(default_index_dir),
    )
    assert code == 0, err
    answer = check_answer_json(out, default_index_dir)
    assert answer["citations"]
    if not answer["abstained"]:
        assert "1969" in answer["answer"]


@pytest.mark.milvus
def test_index_and_ask_with_the_milvus_store(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`RAGQA_VECTOR_STORE__KIND=milvus ragqa index && ragqa ask ...`: the
    index lives in Milvus Lite beside the index folders, nothing in them."""
    from indexer.store import VectorStoreConfig, make_store

    monkeypatch.setenv("RAGQA_VECTOR_STORE__KIND", "milvus")
    folder = make_folder(tmp_path, {"lei.txt": GOOD_TEXT, "other.md": "# Rice\nRice cookers."})
    code, out, err = run(capsys, "index", str(folder), "--json")
    assert code == 0, err
    assert json.loads(out)["documents"] == 2
    code, out, err = run(capsys, "index", str(folder), "--json")
    assert code == 0, err
    assert json.loads(out)["embedded"] == 0, "unchanged documents were embedded again"

    code, out, err = run(capsys, "ask", "Who founded Xiaomi?", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["citations"]
    index_dir = env / "index" / "default"
    assert not index_dir.exists(), "the local store was written too"
    store = make_store(
        VectorStoreConfig(kind="milvus"),
        index_dir=index_dir,
        embedding_model=HashEmbedder.model_name,
    )
    for citation in answer["citations"]:
        chunk = store.chunk(citation["chunk_id"])
        assert chunk is not None and chunk.text[: len(citation["text"])] in GOOD_TEXT
    assert (env / "index" / "milvus.db").exists()


def test_the_retrieval_top_k_setting_is_what_answers_use(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "index")[0] == 0
    monkeypatch.setenv("RAGQA_RETRIEVAL__TOP_K", "8")
    code, out, _ = run(capsys, "ask", "When was Lei Jun born?", "--json")
    assert code == 0 and len(json.loads(out)["retrieved"]) == 8
    code, out, _ = run(capsys, "ask", "When was Lei Jun born?", "--json", "--top-k", "3")
    assert code == 0 and len(json.loads(out)["retrieved"]) == 3
