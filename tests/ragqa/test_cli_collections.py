"""``--collection`` and ``ragqa collections`` through the CLI, in-process, with fake models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragqa.settings import load_settings
from tests.ragqa.test_cli import assert_user_error, make_folder, run

PAPERS = {
    "a.txt": "The harbour froze every winter until 1998.\n",
    "b.txt": "Gulls nest on the pier.\n",
}


def test_collections_are_indexed_listed_asked_and_deleted(
    env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = make_folder(tmp_path, PAPERS)
    assert run(capsys, "index")[0] == 0
    code, out, _ = run(capsys, "index", str(folder), "--collection", "harbour")
    assert code == 0 and "2 documents" in out
    assert (env / "index" / "harbour").is_dir()

    code, out, _ = run(capsys, "collections", "--json")
    listed = {c["name"]: c for c in json.loads(out)}
    assert set(listed) == {"default", "harbour"}
    assert listed["harbour"]["documents"] == 2 and listed["default"]["documents"] == 2
    code, out, _ = run(capsys, "collections")
    assert "harbour  2 documents" in out

    code, out, _ = run(
        capsys, "ask", "When did the harbour freeze?", "--collection", "harbour", "--json"
    )
    answer = json.loads(out)
    assert {c["document"] for c in answer["citations"]} <= {"A", "B"}

    code, out, _ = run(capsys, "collections", "delete", "harbour")
    assert code == 0 and "Deleted collection 'harbour' (2 documents" in out
    assert not (env / "index" / "harbour").exists()
    assert_user_error(
        run(capsys, "ask", "When?", "--collection", "harbour"),
        "No index at",
        "ragqa index PATH --collection harbour",
    )


def test_bad_collection_arguments_are_user_errors(env: Path, capsys) -> None:
    assert_user_error(run(capsys, "ask", "Who?", "--collection", "../etc"), "not a collection name")
    assert_user_error(
        run(capsys, "ask", "Who?", "--collection", "a", "--index-dir", str(env / "x")),
        "--collection or --index-dir, not both",
    )
    assert_user_error(run(capsys, "collections", "delete"), "Name the collection to delete")
    assert_user_error(run(capsys, "collections", "delete", "nothing"), "no collection named")


def test_collection_setting_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"RAGQA_DATA_DIR": str(tmp_path), "RAGQA_COLLECTION": "papers"}
    )
    assert settings.collection == "papers"
    assert settings.index_dir == tmp_path / "index" / "papers"
    with pytest.raises(Exception, match="not both"):
        load_settings(
            environ={
                "RAGQA_DATA_DIR": str(tmp_path),
                "RAGQA_COLLECTION": "p",
                "RAGQA_INDEX_DIR": "/x",
            }
        )
