"""Tests for evaluation.beir: loading the BEIR layout, the standard metrics on
hand-computed cases, document ranking from chunks, and the index cache."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from corpus.chunking import ChunkingConfig
from corpus.documents import Chunk
from corpus.errors import EvaluationError
from evaluation.beir import (
    evaluate_beir,
    index_cache_dir,
    load_beir,
    rank_documents,
    retrieve_documents,
    score_run,
)
from indexer.embedder import EmbedderConfig
from indexer.vector_index import VectorIndexConfig
from qa.types import Hit

# --- metrics on hand-computed cases ------------------------------------------------------

# q1: graded judgements (2, 1, and an explicit 0), an unjudged document at rank 1.
#   DCG  = 2/log2(3) + 0/log2(4) + 1/log2(5);  IDCG = 2/log2(2) + 1/log2(3)
# q2: its only relevant document at rank 11.
# q3: judged, but the system returned nothing.
QRELS = {"q1": {"d1": 2, "d2": 1, "d3": 0}, "q2": {"d5": 1}, "q3": {"d9": 1}}
RUN = {
    "q1": ["unjudged", "d1", "d3", "d2"],
    "q2": [f"n{i}" for i in range(10)] + ["d5"],
    "q3": [],
}
Q1_NDCG = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3))


def test_metrics_per_query_by_hand() -> None:
    scores = score_run(QRELS, RUN)["per_query"]
    assert scores["q1"]["ndcg@10"] == pytest.approx(Q1_NDCG)
    assert scores["q1"]["recall@10"] == 1.0  # d1 and d2; d3 (score 0) is not relevant
    assert scores["q1"]["recall@100"] == 1.0
    assert scores["q1"]["mrr@10"] == 0.5
    assert scores["q2"] == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 1.0, "mrr@10": 0.0}
    assert scores["q3"] == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}


def test_means_cover_every_judged_query() -> None:
    result = score_run(QRELS, RUN)
    assert result["n_queries"] == 3
    assert result["mean"]["ndcg@10"] == pytest.approx(Q1_NDCG / 3)
    assert result["mean"]["recall@10"] == pytest.approx(1 / 3)
    assert result["mean"]["recall@100"] == pytest.approx(2 / 3)
    assert result["mean"]["mrr@10"] == pytest.approx(0.5 / 3)


def test_graded_gains_are_linear_as_in_trec_eval() -> None:
    # The more relevant document second: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    scores = score_run({"q": {"a": 1, "b": 2}}, {"q": ["a", "b"]})["per_query"]["q"]
    assert scores["ndcg@10"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_relevant_documents_never_retrieved_lower_recall_and_ndcg() -> None:
    scores = score_run({"q": {"a": 1, "b": 1}}, {"q": ["a"]})["per_query"]["q"]
    assert scores["recall@10"] == 0.5
    assert scores["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_the_run_order_is_kept_and_duplicates_dropped() -> None:
    # trec_eval sorts by score and breaks ties by doc id; the order given must win.
    assert score_run({"q": {"a": 1}}, {"q": ["b", "a"]})["mean"]["mrr@10"] == 0.5
    assert score_run({"q": {"b": 1}}, {"q": ["b", "a"]})["mean"]["mrr@10"] == 1.0
    assert score_run({"q": {"b": 1}}, {"q": ["a", "a", "b"]})["mean"]["mrr@10"] == 0.5


def test_recall_at_100_stops_at_100() -> None:
    run = {"q": [f"n{i}" for i in range(100)] + ["a"]}
    assert score_run({"q": {"a": 1}}, run)["mean"]["recall@100"] == 0.0


def test_unjudged_queries_in_the_run_are_ignored() -> None:
    result = score_run({"q": {"a": 1}}, {"q": ["a"], "other": ["a"]})
    assert result["n_queries"] == 1
    assert result["mean"]["ndcg@10"] == 1.0


# --- from chunk hits to a document ranking ----------------------------------------------


def hit(doc_id: str, n: int, rank: int) -> Hit:
    text = f"text of {doc_id} part {n}"
    chunk = Chunk(f"{doc_id}:{n:04d}", doc_id, doc_id, f"c#{doc_id}", 0, len(text), text)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank)


def test_documents_ranked_by_their_best_chunk() -> None:
    hits = [hit("d1", 1, 1), hit("d2", 0, 2), hit("d1", 0, 3), hit("d3", 0, 4)]
    assert rank_documents(hits, 10) == ["d1", "d2", "d3"]
    assert rank_documents(hits, 2) == ["d1", "d2"]
    assert rank_documents(list(reversed(hits)), 10) == ["d1", "d2", "d3"]  # by rank, not order


def test_more_chunks_are_fetched_when_documents_repeat() -> None:
    # 50 chunks of one long document come first, then one chunk per document.
    ranked = [hit("long", n, n + 1) for n in range(50)] + [
        hit(f"d{i}", 0, 51 + i) for i in range(200)
    ]
    depths = []

    def retrieve(query: str, k: int) -> list[Hit]:
        depths.append(k)
        return ranked[:k]

    ranking = retrieve_documents(retrieve, "q", top_k=20, max_chunks=len(ranked))
    assert ranking == ["long"] + [f"d{i}" for i in range(19)]
    assert depths == [60, 120]  # 3 chunks per document first, then doubled


def test_fetching_stops_when_the_index_runs_out() -> None:
    ranked = [hit("only", n, n + 1) for n in range(5)]
    ranking = retrieve_documents(lambda q, k: ranked[:k], "q", top_k=100, max_chunks=5)
    assert ranking == ["only"]


# --- loading the BEIR layout -------------------------------------------------------------

CORPUS = [
    {"_id": "d1", "title": "Xiaomi", "text": "Lei Jun launched Xiaomi in 2010 in Beijing."},
    {"_id": "d2", "title": "Kingsoft", "text": "Lei Jun joined Kingsoft in 1992 as an engineer."},
    {"_id": "d3", "title": "Only a title", "text": ""},
    {"_id": "d4", "title": "", "text": "   "},
    {
        "_id": "d5",
        "title": "Wuhan",
        "text": "Lei Jun studied computer science at Wuhan University.",
    },
]
QUERIES = [
    {"_id": "1", "text": "When was Xiaomi launched?"},
    {"_id": "2", "text": "Where did Lei Jun study?"},
    {"_id": "3", "text": "An unjudged query"},
]
QRELS_TSV = "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td5\t2\n2\td2\t0\n99\td1\t1\n"


def make_dataset(
    root: Path, *, gz: bool = False, corpus=CORPUS, queries=QUERIES, qrels=QRELS_TSV
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(row) + "\n" if isinstance(row, dict) else row for row in corpus)
    if gz:
        with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        (root / "corpus.jsonl").write_text(lines, encoding="utf-8")
    (root / "queries.jsonl").write_text(
        "".join(json.dumps(row) + "\n" if isinstance(row, dict) else row for row in queries),
        encoding="utf-8",
    )
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


@pytest.mark.parametrize("gz", [False, True])
def test_loads_a_dataset(tmp_path: Path, gz: bool) -> None:
    dataset = load_beir(make_dataset(tmp_path / "tiny", gz=gz))
    assert dataset.name == "tiny"
    assert [d.doc_id for d in dataset.documents] == ["d1", "d2", "d3", "d5"]
    assert dataset.skipped_documents == ["d4"]
    first = dataset.documents[0]
    assert first.title == "Xiaomi"
    assert first.text == "Lei Jun launched Xiaomi in 2010 in Beijing."
    assert first.source_path.endswith(("corpus.jsonl#d1", "corpus.jsonl.gz#d1"))
    assert dataset.documents[2].text == "Only a title"  # a title-only entry keeps its title
    assert dataset.qrels == {"1": {"d1": 1}, "2": {"d5": 2, "d2": 0}}  # "99" has no query
    assert dataset.judged_queries == ["1", "2"]


def test_qrels_without_header_and_in_trec_form(tmp_path: Path) -> None:
    dataset = load_beir(make_dataset(tmp_path / "a", qrels="1 0 d1 1\n2 0 d5 1\n"))
    assert dataset.qrels == {"1": {"d1": 1}, "2": {"d5": 1}}


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"corpus": [CORPUS[0], "{oops\n"]}, "corpus.jsonl:2: invalid JSON"),
        ({"corpus": [CORPUS[0], "[1]\n"]}, "corpus.jsonl:2: expected a JSON object"),
        ({"corpus": [CORPUS[0], CORPUS[0]]}, "corpus.jsonl:2: _id 'd1' already used on line 1"),
        ({"corpus": [{"title": "t", "text": "x"}]}, "corpus.jsonl:1: missing or empty '_id'"),
        ({"corpus": [{"_id": "a", "text": ["x"]}]}, "corpus.jsonl:1: 'text' must be a string"),
        ({"queries": [QUERIES[0], {"_id": "2"}]}, "queries.jsonl:2: a query needs"),
        ({"qrels": "query-id\tcorpus-id\tscore\n1\td1\tyes\n"}, "test.tsv:2: the score 'yes'"),
        ({"qrels": "1\td1\n"}, "test.tsv:1: expected 3 tab-separated columns"),
        ({"qrels": "77\td1\t1\n"}, "No query of .* has a judgement"),
        ({"corpus": [CORPUS[3]]}, "holds no documents with text"),
    ],
)
def test_rejects_bad_files_naming_file_and_line(tmp_path: Path, files: dict, reason: str) -> None:
    root = make_dataset(tmp_path / "bad", **files)
    with pytest.raises(EvaluationError, match=reason):
        load_beir(root)


def test_missing_pieces_are_named(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="is not a folder"):
        load_beir(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvaluationError, match=r"no corpus\.jsonl or corpus\.jsonl\.gz"):
        load_beir(tmp_path / "empty")
    root = make_dataset(tmp_path / "x")
    with pytest.raises(EvaluationError, match="splits found: test; choose one with --split"):
        load_beir(root, split="dev")
    (root / "queries.jsonl").unlink()
    with pytest.raises(EvaluationError, match=r"queries\.jsonl is missing"):
        load_beir(root)


# --- the index cache and a whole run with the fake embedder -----------------------------


def test_cache_folder_depends_on_path_and_indexing_settings(tmp_path: Path) -> None:
    def folder(path: Path, chunking: ChunkingConfig | None = None) -> Path:
        return index_cache_dir(
            tmp_path / "data",
            path,
            EmbedderConfig(),
            chunking or ChunkingConfig(),
            VectorIndexConfig(),
        )

    assert folder(tmp_path / "scifact") == folder(tmp_path / "scifact")
    assert folder(tmp_path / "scifact").name.startswith("scifact-")
    assert folder(tmp_path / "scifact") != folder(tmp_path / "other" / "scifact")
    assert folder(tmp_path / "scifact") != folder(tmp_path / "scifact", ChunkingConfig(100, 20))


def fake_pipeline(index_dir: Path):
    from qa.pipeline import Pipeline, PipelineConfig
    from tests.fakes import HashEmbedder

    embedder = HashEmbedder()
    config = PipelineConfig(index_dir=index_dir, embedder=EmbedderConfig(model=embedder.model_name))
    return Pipeline(config, embedder=embedder), embedder


def test_evaluate_builds_once_then_reuses_the_index(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    pipeline, embedder = fake_pipeline(tmp_path / "cache")
    first = evaluate_beir(pipeline, load_beir(root), top_k=10)
    assert set(first) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "n_queries", "seconds"}
    assert first["n_queries"] == 2
    assert first["n_documents"] == 4
    assert first["index_reused"] is False
    assert all(0.0 <= first[m] <= 1.0 for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10"))
    assert first["recall@100"] == 1.0  # 4 documents, all retrieved

    embedded = embedder.texts_embedded
    pipeline, embedder = fake_pipeline(tmp_path / "cache")
    second = evaluate_beir(pipeline, load_beir(root), top_k=10)
    assert second["index_reused"] is True
    assert embedder.texts_embedded == 2  # only the queries
    assert {k: second[k] for k in ("ndcg@10", "mrr@10")} == {
        k: first[k] for k in ("ndcg@10", "mrr@10")
    }
    assert embedded > 2

    changed = [*CORPUS[:4], {**CORPUS[4], "text": "He studied at Wuhan University, 1987-1991."}]
    make_dataset(root, corpus=changed)
    pipeline, _ = fake_pipeline(tmp_path / "cache")
    assert evaluate_beir(pipeline, load_beir(root), top_k=10)["index_reused"] is False


def test_never_overwrites_an_index_of_other_documents(tmp_path: Path) -> None:
    docs = tmp_path / "mine"
    docs.mkdir()
    (docs / "notes.txt").write_text("My own notes about Lei Jun.", encoding="utf-8")
    pipeline, _ = fake_pipeline(tmp_path / "index")
    pipeline.build_index([docs])
    with pytest.raises(EvaluationError, match="holds an index of other documents"):
        evaluate_beir(pipeline, load_beir(make_dataset(tmp_path / "tiny")))
    (entry,) = pipeline.store.content().documents.values()
    assert entry.source_path.endswith("notes.txt")
