"""Collections kept in Milvus: ``ragqa collections`` lists and deletes them, and
the chat window's picker offers them, through a real Milvus Lite file (hash embedder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.documents import Document
from corpus.errors import CollectionError
from indexer.builder import IndexBuilder
from indexer.collections import LocalCatalog
from indexer.embedder import EmbedderConfig
from indexer.milvus_store import MilvusCatalog, MilvusStore, connect, disconnect
from indexer.store import VectorStoreConfig, make_catalog, make_store
from qa.collections import CollectionPipelines
from qa.pipeline import Pipeline, PipelineConfig
from tests.fakes import HashEmbedder
from tests.ragqa.test_cli import assert_user_error, run

pytestmark = pytest.mark.milvus


def build(config: VectorStoreConfig, root: Path, name: str, n_documents: int) -> None:
    documents = [
        Document(f"{name}{i}", f"{name.title()} {i}", f"{name}{i}.txt", f"{name} line {i}. " * 30)
        for i in range(n_documents)
    ]
    store = make_store(config, index_dir=root / name, embedding_model=HashEmbedder.model_name)
    try:
        IndexBuilder(HashEmbedder()).build(documents, store)
    finally:
        store.close()


@pytest.fixture
def milvus(tmp_path: Path) -> Iterator[tuple[VectorStoreConfig, Path]]:
    """Two ragqa collections in one Milvus Lite file, beside a collection
    that ragqa did not make."""
    pytest.importorskip("pymilvus")
    root = tmp_path / "index"
    config = VectorStoreConfig(kind="milvus", uri=str(tmp_path / "milvus.db"))
    build(config, root, "default", 2)
    build(config, root, "papers", 3)
    client = connect(config, config.uri)
    try:
        client.create_collection("someone_else", dimension=4)
        client.create_alias(collection_name="someone_else", alias="ragqa_theirs")
    finally:
        disconnect(config, config.uri, client)
    yield config, root


def test_the_factory_picks_the_catalog_of_the_configured_store(tmp_path: Path) -> None:
    assert isinstance(make_catalog(VectorStoreConfig(), tmp_path), LocalCatalog)
    milvus = make_catalog(VectorStoreConfig(kind="milvus"), tmp_path)
    assert isinstance(milvus, MilvusCatalog) and milvus.location == f"Milvus {tmp_path}/milvus.db"


def test_list_shows_only_the_collections_ragqa_made(milvus) -> None:
    config, root = milvus
    found = make_catalog(config, root).list_collections()
    assert [c.name for c in found] == ["default", "papers"]
    assert [c.documents for c in found] == [2, 3]
    assert all(c.chunks >= c.documents and c.built_at and not c.problem for c in found)


def test_delete_drops_the_alias_and_every_build_under_it(milvus) -> None:
    config, root = milvus
    catalog = make_catalog(config, root)
    gone = catalog.delete_collection("papers")
    assert (gone.name, gone.documents) == ("papers", 3)
    assert [c.name for c in catalog.list_collections()] == ["default"]
    client = connect(config, config.uri)
    try:
        left = client.list_collections()
    finally:
        disconnect(config, config.uri, client)
    assert not [name for name in left if name.startswith("ragqa_papers")]
    assert "someone_else" in left
    default = MilvusStore(
        config, index_dir=root / "default", embedding_model=HashEmbedder.model_name
    )
    try:
        assert default.count() > 0 and default.keyword_search("default line", 1)
    finally:
        default.close()
    with pytest.raises(
        CollectionError, match=r"no collection named 'papers'.*collections: default"
    ):
        catalog.delete_collection("papers")
    with pytest.raises(CollectionError, match="no collection named 'theirs'"):
        catalog.delete_collection("theirs")


def test_a_missing_lite_file_lists_nothing_and_is_not_made(tmp_path: Path) -> None:
    config = VectorStoreConfig(kind="milvus", uri=str(tmp_path / "none.db"))
    catalog = make_catalog(config, tmp_path)
    assert catalog.list_collections() == []
    with pytest.raises(CollectionError, match="none yet"):
        catalog.delete_collection("default")
    assert not (tmp_path / "none.db").exists()


def test_the_picker_offers_the_milvus_collections(milvus) -> None:
    config, root = milvus
    first = Pipeline(
        PipelineConfig(
            index_dir=root / "papers",
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            vector_store=config,
        ),
        embedder=HashEmbedder(),
    )
    served = CollectionPipelines(first, "papers", root)
    try:
        assert first.index_exists()  # the served store holds the file open, as in `ragqa ui`
        assert served.names() == ["papers", "default"]
        answer = served.pipeline("default").ask("Which line is the default line 1?")
        assert {c.document for c in answer.citations} <= {"Default 0", "Default 1"}
        make_catalog(config, root).delete_collection("default")
        assert served.names() == ["papers"]
    finally:
        for name in ("papers", "default"):
            if name in served._pipelines:
                served._pipelines[name].store.close()


def test_ragqa_collections_lists_and_deletes_milvus_collections(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGQA_VECTOR_STORE__KIND", "milvus")
    code, out, _ = run(capsys, "collections")
    assert code == 0 and f"No collections yet in Milvus {env / 'index' / 'milvus.db'}" in out
    assert run(capsys, "index")[0] == 0
    assert not (env / "index" / "default").exists(), "nothing local with the Milvus store"

    code, out, _ = run(capsys, "collections", "--json")
    assert [(c["name"], c["documents"]) for c in json.loads(out)] == [("default", 2)]
    code, out, _ = run(capsys, "collections", "delete", "default")
    assert code == 0 and "Deleted collection 'default' (2 documents" in out
    assert json.loads(run(capsys, "collections", "--json")[1]) == []
    assert_user_error(run(capsys, "collections", "delete", "default"), "no collection named")
