"""Retrieval: dense, keyword and hybrid search composed from their parts,
the joiners, and the query embedded once per question.

Unit tests run over a real FAISS store built with the hash embedder
(:mod:`tests.fakes`); one integration test uses the real embedder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.documents import Document
from corpus.errors import ConfigError
from indexer.builder import IndexBuilder
from indexer.embedder import EmbedderConfig
from indexer.local_store import LocalStore
from qa import answerer as answerer_module
from qa.abstention import AbstentionModel
from qa.fusion import (
    ReciprocalRankJoiner,
    WeightedJoiner,
    make_joiner,
    reciprocal_rank_fusion,
    weighted_fusion,
)
from qa.pipeline import Pipeline, PipelineConfig
from qa.reranker import RerankConfig
from qa.retriever import (
    DenseRetriever,
    KeywordRetriever,
    RetrievalConfig,
    Retriever,
    make_retriever,
)
from qa.types import Hit, Query
from tests.fakes import HashEmbedder, RecordingEmbedder

TEXTS = {
    "bio": (
        "Lei Jun was born on December 16, 1969, in Xiantao, Hubei, China. "
        "He studied computer science at Wuhan University."
    ),
    "xiaomi": (
        "When Lei Jun launched Xiaomi in 2010 he was already 40. "
        "Xiaomi sells phones, scooters and rice cookers."
    ),
    "kingsoft": "Kingsoft went public in Hong Kong in 2007. Lei Jun was its chief executive.",
    "weather": "Wuhan summers are hot and humid; the Yangtze floods in some years.",
}
QUERY = "Where did Lei Jun study computer science?"


def _documents() -> list[Document]:
    return [
        Document(doc_id=doc_id, title=doc_id.title(), source_path=f"{doc_id}.txt", text=text)
        for doc_id, text in TEXTS.items()
    ]


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def store(tmp_path: Path, embedder: HashEmbedder) -> LocalStore:
    IndexBuilder(embedder).build(_documents(), tmp_path / "index")
    return LocalStore(tmp_path / "index", embedding_model=embedder.model_name)


def _query(text: str, embedder: HashEmbedder) -> Query:
    return Query.embed(text, embedder)


def _best_first(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=scores.__getitem__, reverse=True)


# --- the parts -------------------------------------------------------------------------
def test_dense_retriever_ranks_by_cosine(store: LocalStore, embedder: HashEmbedder) -> None:
    query = _query(QUERY, embedder)
    found = DenseRetriever(store).run(query, 10)
    assert len(found) == store.count()
    chunk_ids = list(found)
    cosine = store.vectors(chunk_ids) @ query.vector
    np.testing.assert_allclose(list(found.values()), cosine, atol=1e-5)
    assert list(found.values()) == sorted(found.values(), reverse=True)


def test_keyword_retriever_finds_the_words(store: LocalStore, embedder: HashEmbedder) -> None:
    found = KeywordRetriever(store).run(_query("Kingsoft Hong Kong", embedder), 10)
    (top, *_) = store.chunks([_best_first(found)[0]])
    assert top.doc_id == "kingsoft"
    assert "weather" not in {c.doc_id for c in store.chunks(list(found))}


@pytest.mark.parametrize(
    ("joiner", "fuse"),
    [
        (ReciprocalRankJoiner(k=60), lambda d, k: reciprocal_rank_fusion([d, k], k=60)),
        (WeightedJoiner(dense_weight=0.3), None),
    ],
    ids=["rrf", "weighted"],
)
def test_joiners_wrap_the_fusion_functions(joiner, fuse) -> None:
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}
    keyword = {"c": 7.0, "d": 3.0}
    joined = joiner.run(dense, keyword)
    if fuse is not None:
        assert joined == fuse(_best_first(dense), _best_first(keyword))
    else:
        assert joined == weighted_fusion(dense, keyword, 0.3)
    assert set(joined) == {"a", "b", "c", "d"}


def test_rrf_only_counts_ranks() -> None:
    joined = ReciprocalRankJoiner(k=1).run({"a": 100.0, "b": 99.0}, {"b": 0.001})
    assert joined == {"a": 1 / 2, "b": 1 / 3 + 1 / 2}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_joiner("max"), "Unknown fusion 'max'"),
        (lambda: ReciprocalRankJoiner(k=0), "rrf_k must be at least 1"),
        (lambda: WeightedJoiner(dense_weight=1.5), r"dense_weight must be in \[0, 1\]"),
    ],
    ids=["unknown fusion", "rrf k", "weight"],
)
def test_bad_joiner_settings_are_refused(call, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


def test_a_retriever_needs_its_parts(store: LocalStore) -> None:
    with pytest.raises(ConfigError, match="needs a dense retriever, a keyword one, or both"):
        Retriever(store)
    with pytest.raises(ConfigError, match="joiner is needed exactly when both"):
        Retriever(store, dense=DenseRetriever(store), keyword=KeywordRetriever(store))
    with pytest.raises(ConfigError, match="joiner is needed exactly when both"):
        Retriever(store, dense=DenseRetriever(store), joiner=ReciprocalRankJoiner())


# --- composition by mode -------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "dense", "keyword", "joiner"),
    [
        ("dense", True, False, None),
        ("keyword", False, True, None),
        ("hybrid", True, True, ReciprocalRankJoiner),
    ],
)
def test_the_mode_setting_picks_the_parts(
    store: LocalStore, mode: str, dense: bool, keyword: bool, joiner: type | None
) -> None:
    retriever = make_retriever(store, RetrievalConfig(mode=mode))
    assert isinstance(retriever.dense, DenseRetriever) == dense
    assert isinstance(retriever.keyword, KeywordRetriever) == keyword
    assert (retriever.joiner is None) == (joiner is None)
    if joiner is not None:
        assert isinstance(retriever.joiner, joiner)


def test_weighted_fusion_is_chosen_by_setting(store: LocalStore) -> None:
    retriever = make_retriever(store, RetrievalConfig(fusion="weighted", dense_weight=0.7))
    assert isinstance(retriever.joiner, WeightedJoiner) and retriever.joiner.dense_weight == 0.7


def test_dense_mode_hits(store: LocalStore, embedder: HashEmbedder) -> None:
    query = _query(QUERY, embedder)
    hits = make_retriever(store, RetrievalConfig(mode="dense", top_k=3)).run(query)
    expected = _best_first(DenseRetriever(store).run(query, 30))[:3]
    assert [h.chunk.chunk_id for h in hits] == expected
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(h.keyword_score is None for h in hits)
    assert all(h.score == pytest.approx(h.dense_score, abs=1e-5) for h in hits)


def test_keyword_mode_hits_still_carry_a_cosine(store: LocalStore, embedder: HashEmbedder) -> None:
    query = _query("Kingsoft Hong Kong", embedder)
    hits = make_retriever(store, RetrievalConfig(mode="keyword")).run(query)
    assert hits[0].chunk.doc_id == "kingsoft"
    for hit in hits:
        assert hit.keyword_score == hit.score
        cosine = float(store.vectors([hit.chunk.chunk_id])[0] @ query.vector)
        assert hit.dense_score == pytest.approx(cosine, abs=1e-5)


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_hybrid_is_the_join_of_dense_and_keyword(
    store: LocalStore, embedder: HashEmbedder, fusion: str
) -> None:
    config = RetrievalConfig(mode="hybrid", fusion=fusion, top_k=4, candidates=10)
    query = _query(QUERY, embedder)
    dense = DenseRetriever(store).run(query, 10)
    keyword = KeywordRetriever(store).run(query, 10)
    joined = make_joiner(fusion, rrf_k=config.rrf_k, dense_weight=config.dense_weight).run(
        dense, keyword
    )
    hits = make_retriever(store, config).run(query)
    assert [h.chunk.chunk_id for h in hits] == _best_first(joined)[:4]
    for hit in hits:
        assert hit.score == pytest.approx(joined[hit.chunk.chunk_id])
        assert hit.keyword_score == keyword.get(hit.chunk.chunk_id)


def test_top_k_per_call_and_from_the_settings(store: LocalStore, embedder: HashEmbedder) -> None:
    retriever = make_retriever(store, RetrievalConfig(top_k=2))
    query = _query(QUERY, embedder)
    assert store.count() == len(TEXTS) == 4  # one chunk each
    assert len(retriever.run(query)) == 2
    assert len(retriever.run(query, top_k=3)) == 3
    assert len(retriever.run(query, top_k=50)) == 4


def test_retrieval_never_embeds(store: LocalStore, embedder: HashEmbedder) -> None:
    query = _query(QUERY, embedder)
    calls = embedder.calls
    for mode in ("dense", "keyword", "hybrid"):
        make_retriever(store, RetrievalConfig(mode=mode)).run(query)
    assert embedder.calls == calls


class RecordingReranker:
    """Reverses the candidates and remembers the query it was handed."""

    def __init__(self) -> None:
        self.queries: list[Query] = []

    def rerank(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        self.queries.append(query)
        return [
            Hit(h.chunk, h.score, rank, h.dense_score, h.keyword_score)
            for rank, h in enumerate(reversed(hits), start=1)
        ]


def test_the_reranker_gets_every_candidate_and_the_same_query(
    store: LocalStore, embedder: HashEmbedder
) -> None:
    reranker = RecordingReranker()
    query = _query(QUERY, embedder)
    plain = make_retriever(store, RetrievalConfig(candidates=30)).run(query, top_k=30)
    reranked = make_retriever(store, RetrievalConfig(candidates=30), reranker).run(query, top_k=2)
    assert reranker.queries == [query]
    assert [h.chunk.chunk_id for h in reranked] == [h.chunk.chunk_id for h in plain[::-1][:2]]


# --- in the pipeline: the query embedded once, the stages built once -------------------


def _pipeline(tmp_path: Path, embedder: HashEmbedder, **config: object) -> Pipeline:
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=tmp_path / "pipeline-index",
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
            **config,  # type: ignore[arg-type]
        ),
        embedder=embedder,
    )
    pipeline.build_index([_source_folder(tmp_path)])
    return pipeline


def _source_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for doc_id, text in TEXTS.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("reranker", ["none", "sentence"])
def test_the_query_is_embedded_once_per_question(tmp_path: Path, reranker: str) -> None:
    embedder = RecordingEmbedder()
    pipeline = _pipeline(tmp_path, embedder, rerank=RerankConfig(kind=reranker))
    question = "Where did Lei Jun study computer science?"
    follow_up = "When was he born?"
    embedder.embedded.clear()
    pipeline.ask(question)
    answer = pipeline.ask(follow_up, history=[(question, "At Wuhan University. [1]")])
    assert answer.retrieval_query == "When was Lei Jun born?"
    assert embedder.embedded.count(question) == 1
    assert embedder.embedded.count("When was Lei Jun born?") == 1
    assert follow_up not in embedder.embedded  # the rewritten query is what is searched for


def test_the_stages_are_built_once_per_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Path | None] = []
    real_load = AbstentionModel.load.__func__  # type: ignore[attr-defined]

    def counting_load(
        cls: type[AbstentionModel], path: Path | None = None, *, embedding_model: str
    ) -> AbstentionModel:
        loads.append(path)
        return real_load(cls, path, embedding_model=embedding_model)

    monkeypatch.setattr(
        answerer_module.AbstentionModel, "load", classmethod(counting_load), raising=True
    )
    pipeline = _pipeline(tmp_path, HashEmbedder())
    answerer, retriever = pipeline.answerer(), pipeline.retriever
    for question in ("When was Lei Jun born?", "Who founded Xiaomi?", "Where is Kingsoft?"):
        pipeline.ask(question)
        list(pipeline.stream(question))
    assert len(loads) == 1, "the abstention model file is read once per pipeline"
    assert pipeline.answerer() is answerer and pipeline.retriever is retriever
    assert answerer.retriever is retriever


@pytest.mark.integration
def test_real_embedder_retrieves_the_answering_passage(
    default_index_dir: Path, real_embedder
) -> None:
    store = LocalStore(default_index_dir, embedding_model=real_embedder.model_name)
    query = Query.embed("When was Lei Jun born?", real_embedder)
    for mode in ("dense", "keyword", "hybrid"):
        hits = make_retriever(store, RetrievalConfig(mode=mode)).run(query, top_k=5)
        assert any("1969" in h.chunk.text for h in hits), mode
        assert all(-1.0 <= (h.dense_score or 0.0) <= 1.0 for h in hits)
    store.close()
