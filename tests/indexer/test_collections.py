"""Named collections: names, listing and deleting, with the hash embedder."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from corpus.documents import Document
from corpus.errors import CollectionError, ConfigError
from indexer.builder import IndexBuilder
from indexer.collections import (
    check_collection_name,
    collection_dir,
    delete_collection,
    list_collections,
)
from indexer.layout import LOCK_FILE
from tests.fakes import HashEmbedder


def build(root: Path, name: str, n_documents: int = 1) -> Path:
    documents = [
        Document(
            doc_id=f"d{i}",
            title=f"Doc {i}",
            source_path=f"d{i}.txt",
            text=f"Text number {i}. " * 20,
        )
        for i in range(n_documents)
    ]
    index_dir = collection_dir(root, name)
    IndexBuilder(HashEmbedder()).build(documents, index_dir)
    return index_dir


@pytest.mark.parametrize("name", ["default", "papers", "Contracts_2026", "a", "x" * 64, "9-lives"])
def test_good_names(name: str) -> None:
    assert check_collection_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "..", "../etc", "a/b", "-dash", "_under", "x" * 65, "with space", "é", ".hidden"]
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="is not a collection name"):
        check_collection_name(name)


def test_list_counts_documents_and_chunks_and_skips_other_folders(tmp_path: Path) -> None:
    build(tmp_path, "papers", 3)
    build(tmp_path, "default", 1)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"not an index")
    (tmp_path / "notes.txt").write_text("not a folder")
    found = list_collections(tmp_path)
    assert [c.name for c in found] == ["default", "papers"]
    papers = found[1]
    assert papers.documents == 3 and papers.chunks >= 3 and not papers.problem
    assert papers.built_at
    assert list_collections(tmp_path / "missing") == []


def test_a_damaged_collection_is_listed_with_its_problem(tmp_path: Path) -> None:
    index_dir = build(tmp_path, "papers")
    (index_dir / "CURRENT").unlink()
    (found,) = list_collections(tmp_path)
    assert found.name == "papers" and found.problem


def test_delete_removes_the_folder_and_reports_what_it_held(tmp_path: Path) -> None:
    index_dir = build(tmp_path, "papers", 2)
    build(tmp_path, "default")
    gone = delete_collection(tmp_path, "papers")
    assert gone.documents == 2
    assert not index_dir.exists()
    assert [c.name for c in list_collections(tmp_path)] == ["default"]


def test_delete_refuses_unknown_names_and_folders_that_are_not_indexes(tmp_path: Path) -> None:
    build(tmp_path, "default")
    with pytest.raises(CollectionError, match=r"no collection named 'papers'.*default"):
        delete_collection(tmp_path, "papers")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"mine")
    with pytest.raises(CollectionError, match="not a ragqa index folder"):
        delete_collection(tmp_path, "photos")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"mine"
    with pytest.raises(ConfigError):
        delete_collection(tmp_path, "../default")


def test_delete_waits_for_no_build(tmp_path: Path) -> None:
    index_dir = build(tmp_path, "papers")
    with (index_dir / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(CollectionError, match="being indexed right now"):
            delete_collection(tmp_path, "papers")
    assert index_dir.is_dir()
