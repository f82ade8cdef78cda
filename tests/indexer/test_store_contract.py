"""One contract for every vector store: the local FAISS store and Milvus
(embedded Milvus Lite, pip-installed, no server) pass the same tests.

Builds use the hash embedder, so the vectors are known exactly and a test can
say which chunk a query must find first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from corpus.errors import CollectionError, IndexMismatchError, IndexNotFoundError, SavedIndexError
from indexer.builder import IndexBuilder
from indexer.store import StoreWriter, VectorStore, VectorStoreConfig, make_store
from qa.retriever import RetrievalConfig, make_retriever
from qa.types import Query
from tests.fakes import HashEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document, make_documents

STORES = [
    pytest.param("faiss", id="faiss"),
    pytest.param("milvus", id="milvus", marks=pytest.mark.milvus),
]

OpenStore = Callable[..., VectorStore]


@pytest.fixture(params=STORES)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """``open_store(model=...)``: a fresh handle on the same store location."""
    kind = request.param
    handles: list[VectorStore] = []

    def opener(model: str = HashEmbedder.model_name) -> VectorStore:
        config = VectorStoreConfig(kind=kind, uri=str(tmp_path / "milvus.db"))
        store = make_store(config, index_dir=tmp_path / "index" / "notes", embedding_model=model)
        handles.append(store)
        return store

    yield opener
    for store in handles:
        store.close()


def build(store: VectorStore, documents, embedder: HashEmbedder | None = None):
    return IndexBuilder(embedder or HashEmbedder(), SMALL_CHUNKS).build(documents, store)


def test_a_build_holds_every_chunk_with_exact_offsets(open_store: OpenStore) -> None:
    store = open_store()
    assert not store.exists()
    documents = make_documents(4)
    report = build(store, documents)
    assert store.exists()
    assert report.n_embedded == report.n_chunks == store.count() > len(documents)
    chunks = store.all_chunks()
    assert len(chunks) == store.count()
    assert [c.doc_id for c in chunks] == sorted(c.doc_id for c in chunks), "document order kept"
    by_id = {d.doc_id: d for d in store.documents()}
    assert set(by_id) == {d.doc_id for d in documents}
    for chunk in chunks:
        assert by_id[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    assert store.chunks([chunks[2].chunk_id, "no-such-chunk", chunks[0].chunk_id]) == [
        chunks[2],
        chunks[0],
    ]
    assert store.chunk(chunks[1].chunk_id) == chunks[1]
    assert store.chunk("no-such-chunk") is None
    assert store.document(documents[3].doc_id) == documents[3]
    assert store.document("no-such-document") is None
    content = store.content()
    assert list(content.documents) == [d.doc_id for d in documents]
    assert content.documents[documents[0].doc_id].content_hash == documents[0].content_hash
    description = store.describe()
    assert description["kind"] == store.kind and description["n_chunks"] == store.count()


def test_dense_search_finds_the_chunk_whose_text_is_asked(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(6))
    embedder = HashEmbedder()
    target = store.all_chunks()[7]
    hits = store.dense_search(embedder.embed([target.embedding_text])[0], 3)
    assert hits[0].chunk_id == target.chunk_id
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    np.testing.assert_allclose(
        store.vectors([target.chunk_id, hits[1].chunk_id]),
        embedder.embed([target.embedding_text, store.chunk(hits[1].chunk_id).embedding_text]),
        atol=1e-6,
    )
    with pytest.raises(KeyError):
        store.vectors(["no-such-chunk"])


def test_keyword_search_ranks_by_the_stemmed_terms(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(6))
    hits = store.keyword_search("Which television?", 50)  # stemmed: matches "televisions"
    assert hits, "BM25 found nothing"
    found = store.chunks([h.chunk_id for h in hits])
    assert {c.title for c in found} == {"Report 5 on televisions"}
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert store.keyword_search("the of and", 5) == [], "stop words alone match nothing"
    assert store.keyword_search("zeppelin", 5) == []


def test_term_statistics_weigh_rare_terms_above_common_ones(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(6))
    weights = store.term_statistics().term_weights("Xiaomi scooters zeppelin")
    assert set(weights) == {"xiaomi", "scooter", "zeppelin"}
    assert weights["zeppelin"] > weights["scooter"] > weights["xiaomi"]


def test_rebuilding_embeds_only_new_text_and_forgets_deleted_documents(
    open_store: OpenStore,
) -> None:
    store = open_store()
    build(store, make_documents(5))
    before = {c.chunk_id: c for c in store.all_chunks()}
    embedder = HashEmbedder()
    changed = make_document(1, version=7)
    added = make_document(9)
    documents = [make_document(0), changed, make_document(2), make_document(3), added]
    report = build(store, documents, embedder)

    assert report.removed == ["/collection/report-0004.txt"]
    assert report.added == [added.source_path] and report.changed == [changed.source_path]
    new_chunks = [c for c in store.all_chunks() if c.doc_id in (changed.doc_id, added.doc_id)]
    assert embedder.texts_embedded == report.n_embedded <= len(new_chunks)
    assert report.n_embedded > 0 and report.n_reused == store.count() - report.n_embedded
    after = store.all_chunks()
    assert {c.doc_id for c in after} == {d.doc_id for d in documents}
    assert [c for c in after if c.doc_id == "doc-0000"] == [
        c for c in before.values() if c.doc_id == "doc-0000"
    ]
    assert store.document("doc-0004") is None
    assert not [
        h for h in store.keyword_search("routers", 50) if h.chunk_id.startswith("doc-0004")
    ], "a deleted document's chunks still answer"
    assert list(store.content().documents) == [d.doc_id for d in documents]


def test_the_writer_stages_upserts_and_deletions_until_commit(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(3))
    embedder = HashEmbedder()
    extra = make_document(8)
    extra_chunks = IndexBuilder(embedder, SMALL_CHUNKS)._chunk(extra)
    with store.writer(embedding_model=embedder.model_name, dimension=embedder.dimension) as writer:
        assert isinstance(writer, StoreWriter)
        assert writer.live is not None and set(writer.live.documents) == {
            "doc-0000",
            "doc-0001",
            "doc-0002",
        }
        writer.upsert(
            [extra], extra_chunks, embedder.embed([c.embedding_text for c in extra_chunks])
        )
        writer.delete_documents(["doc-0001"])
        described = writer.commit(chunking=asdict(SMALL_CHUNKS))
    reader = open_store()
    assert described["n_chunks"] == reader.count()
    assert [d.doc_id for d in reader.documents()] == ["doc-0000", "doc-0002", "doc-0008"]
    assert {c.doc_id for c in reader.all_chunks()} == {"doc-0000", "doc-0002", "doc-0008"}


def test_a_failed_build_leaves_the_old_content_answering(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(3))
    before = store.all_chunks()
    embedder = HashEmbedder()

    class Interrupted(Exception):
        pass

    with (
        pytest.raises(Interrupted),
        store.writer(embedding_model=embedder.model_name, dimension=embedder.dimension) as writer,
    ):
        chunks = IndexBuilder(embedder, SMALL_CHUNKS)._chunk(make_document(9))
        writer.upsert([make_document(9)], chunks, embedder.embed([c.text for c in chunks]))
        writer.delete_documents(["doc-0000"])
        raise Interrupted
    reader = open_store()
    assert reader.all_chunks() == before
    assert reader.dense_search(embedder.embed([before[0].embedding_text])[0], 1)[0].chunk_id == (
        before[0].chunk_id
    )


def test_an_empty_collection_is_refused_and_the_index_kept(open_store: OpenStore) -> None:
    store = open_store()
    build(store, make_documents(2))
    with pytest.raises(CollectionError, match="left as it was"):
        build(store, [])
    assert {d.doc_id for d in open_store().documents()} == {"doc-0000", "doc-0001"}


def test_reading_before_any_build_says_how_to_build(open_store: OpenStore) -> None:
    with pytest.raises(IndexNotFoundError, match="ragqa index"):
        open_store().count()


def test_another_embedding_model_is_refused_then_rebuilt_from_scratch(
    open_store: OpenStore,
) -> None:
    build(open_store(), make_documents(2))
    with pytest.raises(IndexMismatchError, match="test/hash-embedder"):
        open_store(model="other/model").count()

    class OtherEmbedder(HashEmbedder):
        model_name = "other/model"

    other = OtherEmbedder(dimension=32)
    report = build(open_store(model="other/model"), make_documents(2), other)
    assert report.n_embedded == report.n_chunks, "vectors of another model were reused"
    rebuilt = open_store(model="other/model")
    assert rebuilt.vectors([rebuilt.all_chunks()[0].chunk_id]).shape == (1, 32)


def test_both_stores_retrieve_the_same_chunks(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    documents = make_documents(6)
    embedder = HashEmbedder()
    rankings = {}
    for kind in ("faiss", "milvus"):
        store = make_store(
            VectorStoreConfig(kind=kind, uri=str(tmp_path / "milvus.db")),
            index_dir=tmp_path / kind,
            embedding_model=embedder.model_name,
        )
        build(store, documents)
        dense_retriever = make_retriever(store, RetrievalConfig(mode="dense"))
        keyword_retriever = make_retriever(store, RetrievalConfig(mode="keyword"))
        for query in ("scooters sold in year 2005", "Report 3 on laptops", "rice cookers"):
            dense = dense_retriever.run(Query.embed(query, embedder), 5)
            rankings.setdefault(kind, []).append(
                (
                    [round(h.dense_score or 0.0, 5) for h in dense],
                    [h.chunk.chunk_id for h in dense[:2]],
                )
            )
        for query in ("televisions 2004", "scooters 2007"):
            top = keyword_retriever.run(Query.embed(query, embedder), 1)[0]
            rankings[kind].append(top.chunk.chunk_id)
        store.close()
    # Exact search in both (ties may come in another order). BM25 scores differ
    # a little (Milvus's own k1), which can reorder chunks that tie on the
    # title's words, so hybrid order is compared on the dev set instead (README).
    assert rankings["faiss"] == rankings["milvus"]


def test_the_milvus_token_never_shows(tmp_path: Path) -> None:
    config = VectorStoreConfig(kind="milvus", uri="http://user:pw@db:19530", token="s3cret")
    assert "s3cret" not in repr(config)
    store = make_store(config, index_dir=tmp_path / "x", embedding_model="m")
    assert "s3cret" not in store.location and "pw" not in store.location


@pytest.mark.milvus
def test_a_second_process_on_a_milvus_lite_file_gets_a_clear_error(tmp_path: Path) -> None:
    """Milvus Lite serves one process per file; the second is told so."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; "
            "c = MilvusClient(sys.argv[1]); print('up', flush=True); time.sleep(60)",
            str(tmp_path / "milvus.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"
        store = make_store(
            VectorStoreConfig(kind="milvus", uri=str(tmp_path / "milvus.db")),
            index_dir=tmp_path / "notes",
            embedding_model="m",
        )
        with pytest.raises(SavedIndexError, match="one process at a time"):
            store.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.integration
@pytest.mark.milvus
def test_milvus_finds_what_faiss_finds_with_the_real_embedder(
    tmp_path: Path, real_embedder, default_index_dir: Path
) -> None:
    """The shipped collection, embedded by the real model, in both stores:
    the same dense hits with the same cosine scores."""
    from corpus.collection import default_collection_dir, load_collection

    documents = load_collection([default_collection_dir()]).documents
    milvus = make_store(
        VectorStoreConfig(kind="milvus", uri=str(tmp_path / "milvus.db")),
        index_dir=tmp_path / "default",
        embedding_model=real_embedder.model_name,
    )
    report = IndexBuilder(real_embedder).build(documents, milvus)
    faiss = make_store(
        VectorStoreConfig(), index_dir=default_index_dir, embedding_model=real_embedder.model_name
    )
    assert report.n_chunks == faiss.count() == milvus.count()
    for question in ("When was Lei Jun born?", "Which university did Lei Jun attend?"):
        vector = real_embedder.embed([question])[0]
        expected = faiss.dense_search(vector, 5)
        found = milvus.dense_search(vector, 5)
        assert [h.chunk_id for h in found[:3]] == [h.chunk_id for h in expected[:3]]
        np.testing.assert_allclose([h.score for h in found], [h.score for h in expected], atol=1e-5)
        query = Query.embed(question, real_embedder)
        top = make_retriever(milvus).run(query, 1)[0]
        assert top.chunk == make_retriever(faiss).run(query, 1)[0].chunk
    milvus.close()
    faiss.close()


def test_locations_survive_the_store(open_store: OpenStore) -> None:
    """Citations say where they point: document and chunk locations come back."""
    from corpus.documents import Document, Location, locations_within

    text = " ".join(f"Sentence {i} about scooters and page turns." for i in range(60))
    middle = text.index("Sentence 30")
    document = Document(
        "paged",
        "Paged report",
        "/collection/paged.pdf",
        text,
        locations=(Location(0, "page", "page 1"), Location(middle, "page", "page 2")),
    )
    build(open_store(), [document, make_document(1)])
    store = open_store()
    assert store.document("paged") == document
    chunks = [c for c in store.all_chunks() if c.doc_id == "paged"]
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.locations == locations_within(document.locations, chunk.start, chunk.end)
    assert {m.label for c in chunks for m in c.locations} == {"page 1", "page 2"}
