"""One pipeline per collection, sharing the first one's models (hash embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.documents import Document
from corpus.errors import CollectionError, ConfigError
from indexer.builder import IndexBuilder
from indexer.embedder import EmbedderConfig
from qa.collections import CollectionPipelines
from qa.pipeline import Pipeline, PipelineConfig
from tests.fakes import HashEmbedder, ScriptedGenerator


def make(root: Path, name: str, text: str) -> None:
    document = Document(doc_id=name, title=name.title(), source_path=f"{name}.txt", text=text)
    IndexBuilder(HashEmbedder()).build([document], root / name)


@pytest.fixture
def served(tmp_path: Path) -> CollectionPipelines:
    root = tmp_path / "index"
    make(root, "default", "Lei Jun founded Xiaomi in 2010. " * 5)
    make(root, "harbour", "The harbour froze every winter until 1998. " * 5)
    config = PipelineConfig(
        index_dir=root / "default", embedder=EmbedderConfig(model=HashEmbedder.model_name)
    )
    first = Pipeline(config, embedder=HashEmbedder(), generator=ScriptedGenerator("x"))
    return CollectionPipelines(first, "default", root)


def test_names_put_the_served_collection_first(served: CollectionPipelines) -> None:
    assert served.names() == ["default", "harbour"]


def test_each_collection_answers_from_its_own_index_with_the_shared_embedder(served) -> None:
    harbour = served.pipeline("harbour")
    assert harbour is served.pipeline("harbour")
    assert harbour.embedder is served.first.embedder
    answer = harbour.ask("When did the harbour freeze?")
    assert {c.document for c in answer.citations} == {"Harbour"}
    assert served.pipeline("default").ask("Who founded Xiaomi?").citations[0].document == "Default"


def test_unknown_and_bad_names_are_refused(served) -> None:
    with pytest.raises(CollectionError, match="no collection named 'papers'"):
        served.pipeline("papers")
    with pytest.raises(ConfigError):
        served.pipeline("../default")


def test_an_index_given_by_folder_is_the_only_collection(tmp_path: Path, served) -> None:
    alone = CollectionPipelines(served.first, "default", None)
    assert alone.names() == ["default"]
    with pytest.raises(CollectionError):
        alone.pipeline("harbour")
