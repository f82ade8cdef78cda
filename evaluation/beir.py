"""Retrieval evaluation on any dataset in the BEIR layout.

A BEIR dataset is a folder holding ``corpus.jsonl`` (or ``corpus.jsonl.gz``;
one ``{"_id", "title", "text"}`` object per line), ``queries.jsonl``
(``{"_id", "text"}``) and ``qrels/<split>.tsv`` (``query-id corpus-id score``,
tab-separated, usually with a header line).

Each corpus entry becomes one :class:`~corpus.documents.Document` whose
``doc_id`` is the BEIR ``_id``, indexed exactly as ``ragqa index`` would index
a file (same chunking, embedding and BM25), in a cache folder reused while the
corpus and the indexing settings stay the same. Retrieval runs on chunks; a
document's score is that of its best chunk, and documents are ranked by it.

The metrics are the standard BEIR ones, computed by ``pytrec_eval`` (the
trec_eval library BEIR itself uses): nDCG@10 with linear gains from graded
judgements, Recall@10, Recall@100, and MRR@10 (the reciprocal rank of the
first relevant document within the top 10). A retrieved document with no
judgement counts as not relevant. Every query with a judgement in the qrels
is scored; one the system returns nothing for scores 0. Unlike BEIR's script,
a document whose id equals the query's id is not dropped (SciFact has none).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.chunking import ChunkingConfig
from corpus.cleaning import clean_text
from corpus.documents import Document
from corpus.errors import EvaluationError, RagqaError
from indexer.builder import BuildReport, IndexBuilder
from indexer.embedder import EmbedderConfig
from indexer.store import LiveContent, VectorStore
from indexer.vector_index import VectorIndexConfig
from qa.types import Hit

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

logger = logging.getLogger(__name__)

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
_TREC_MEASURES = {"ndcg_cut.10": "ndcg@10", "recall.10": "recall@10", "recall.100": "recall@100"}
MAX_REPORTED_ERRORS = 20


# --- loading ------------------------------------------------------------------------


@dataclass(frozen=True)
class BeirDataset:
    """A loaded BEIR dataset: documents ready to index, queries and judgements.

    ``qrels`` maps a query id to ``{corpus id: relevance}``, kept only for
    queries present in ``queries.jsonl``; those are the queries evaluated.
    """

    name: str
    directory: Path
    split: str
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    skipped_documents: list[str] = field(default_factory=list)

    @property
    def judged_queries(self) -> list[str]:
        return [qid for qid in self.queries if qid in self.qrels]


def _open_text(path: Path) -> io.TextIOWrapper:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig")


def _read_jsonl(path: Path, errors: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a JSON Lines file (plain or gzip) with their line numbers;
    bad lines are added to ``errors`` as ``file:line: reason``."""
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as error:
                    errors.append(
                        f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})"
                    )
                    continue
                if not isinstance(data, dict):
                    errors.append(f"{path}:{number}: expected a JSON object")
                    continue
                yield number, data
    except (OSError, EOFError, UnicodeDecodeError) as error:
        errors.append(f"{path}: unreadable ({error})")


def _string_field(data: Mapping[str, Any], name: str, where: str, errors: list[str]) -> str | None:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str | int):
        errors.append(f"{where}: '{name}' must be a string, not {type(value).__name__}")
        return None
    return str(value)


def _find_corpus(directory: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (directory / name).is_file():
            return directory / name
    raise EvaluationError(
        f"{directory} holds no corpus.jsonl or corpus.jsonl.gz; a BEIR dataset folder holds "
        "corpus.jsonl[.gz], queries.jsonl and qrels/<split>.tsv."
    )


def read_corpus(path: Path, errors: list[str]) -> tuple[list[Document], list[str]]:
    """Documents of a BEIR corpus file, and the ids of entries with no text."""
    documents: list[Document] = []
    skipped: list[str] = []
    first_line: dict[str, int] = {}
    source = path.resolve()
    for number, data in _read_jsonl(path, errors):
        where = f"{path}:{number}"
        doc_id = _string_field(data, "_id", where, errors)
        title = _string_field(data, "title", where, errors)
        text = _string_field(data, "text", where, errors)
        if doc_id is None or title is None or text is None:
            continue
        if not doc_id.strip():
            errors.append(f"{where}: missing or empty '_id'")
            continue
        if doc_id in first_line:
            errors.append(f"{where}: _id {doc_id!r} already used on line {first_line[doc_id]}")
            continue
        first_line[doc_id] = number
        title = " ".join(title.split())
        body = clean_text(text) or title
        if not body.strip():
            skipped.append(doc_id)
            continue
        documents.append(
            Document(doc_id=doc_id, title=title, source_path=f"{source}#{doc_id}", text=body)
        )
    return documents, skipped


def read_queries(path: Path, errors: list[str]) -> dict[str, str]:
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, data in _read_jsonl(path, errors):
        where = f"{path}:{number}"
        query_id = _string_field(data, "_id", where, errors)
        text = _string_field(data, "text", where, errors)
        if query_id is None or text is None:
            continue
        if not query_id.strip() or not text.strip():
            errors.append(f"{where}: a query needs a non-empty '_id' and 'text'")
            continue
        if query_id in first_line:
            errors.append(f"{where}: _id {query_id!r} already used on line {first_line[query_id]}")
            continue
        first_line[query_id] = number
        queries[query_id] = " ".join(text.split())
    return queries


def read_qrels(path: Path, errors: list[str]) -> dict[str, dict[str, int]]:
    """Judgements from a TSV of ``query-id corpus-id score`` (BEIR) or
    ``query-id iteration corpus-id score`` (TREC), as ``{query: {doc: score}}``;
    a header line is skipped and bad lines are added to ``errors``.
    """
    qrels: dict[str, dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        errors.append(f"{path}: unreadable ({error})")
        return qrels
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in (line.split("\t") if "\t" in line else line.split())]
        if len(parts) not in (3, 4):
            errors.append(
                f"{path}:{number}: expected 3 tab-separated columns "
                f"(query-id, corpus-id, score), found {len(parts)}"
            )
            continue
        query_id, doc_id, score = parts[0], parts[-2], parts[-1]
        is_header, first = first and not re.fullmatch(r"[+-]?\d+", score), False
        if is_header:
            continue
        if not re.fullmatch(r"[+-]?\d+", score):
            errors.append(f"{path}:{number}: the score {score!r} is not a whole number")
            continue
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def load_beir(directory: Path, split: str = "test") -> BeirDataset:
    """Read and check a BEIR dataset folder; raises :class:`EvaluationError`
    naming each bad line as ``file:line: reason``."""
    directory = directory.expanduser()
    if not directory.is_dir():
        raise EvaluationError(f"{directory} is not a folder; pass a BEIR dataset folder to --beir.")
    corpus_path = _find_corpus(directory)
    queries_path = directory / "queries.jsonl"
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not queries_path.is_file():
        raise EvaluationError(f"{queries_path} is missing; a BEIR dataset needs queries.jsonl.")
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
        hint = (
            f"splits found: {', '.join(splits)}; choose one with --split"
            if splits
            else ("a BEIR dataset holds its judgements in qrels/<split>.tsv")
        )
        raise EvaluationError(f"{qrels_path} is missing ({hint}).")

    errors: list[str] = []
    documents, skipped = read_corpus(corpus_path, errors)
    queries = read_queries(queries_path, errors)
    qrels = read_qrels(qrels_path, errors)
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        raise EvaluationError(
            f"The BEIR dataset {directory} has {len(errors)} problem(s):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
    if not documents:
        raise EvaluationError(f"{corpus_path} holds no documents with text.")
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        logger.warning(
            "%d judged query id(s) of %s are not in %s and are ignored (e.g. %s).",
            len(unknown),
            qrels_path,
            queries_path,
            unknown[0],
        )
    judged = {qid: docs for qid, docs in qrels.items() if qid in queries}
    if not judged:
        raise EvaluationError(
            f"No query of {queries_path} has a judgement in {qrels_path}: nothing to evaluate."
        )
    if skipped:
        logger.warning("%d corpus entries have no text and were left out.", len(skipped))
    return BeirDataset(
        name=directory.resolve().name,
        directory=directory,
        split=split,
        documents=documents,
        queries=queries,
        qrels=judged,
        skipped_documents=skipped,
    )


# --- metrics (pure) -------------------------------------------------------------------


def rank_documents(hits: Sequence[Hit], limit: int) -> list[str]:
    """Document ids in order of their best chunk, at most ``limit``.

    Hits arrive best first, so a document's first hit is its best chunk.
    """
    ranking: list[str] = []
    seen: set[str] = set()
    for hit in sorted(hits, key=lambda h: h.rank):
        if hit.chunk.doc_id not in seen:
            seen.add(hit.chunk.doc_id)
            ranking.append(hit.chunk.doc_id)
            if len(ranking) == limit:
                break
    return ranking


def _as_scores(ranking: Sequence[str], depth: int | None = None) -> dict[str, float]:
    """Strictly decreasing scores in ranking order, so trec_eval, which sorts by
    score, keeps our order exactly (it would otherwise break ties by doc id)."""
    unique = list(dict.fromkeys(ranking))[:depth]
    return {doc_id: float(len(unique) - position) for position, doc_id in enumerate(unique)}


def score_run(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 of a run (ranked doc ids per
    query), averaged over every judged query.

    >>> score_run({"q": {"a": 1}}, {"q": ["x", "a"]})["mean"]["mrr@10"]
    0.5
    """
    try:
        import pytrec_eval
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise EvaluationError(
            "pytrec_eval is not available - install pytrec-eval-terrier to score BEIR runs "
            "(`pip install pytrec-eval-terrier==0.5.11`)."
        ) from error

    judged = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    full = {q: _as_scores(run[q]) for q in judged if run.get(q)}
    top10 = {q: _as_scores(run[q], 10) for q in judged if run.get(q)}
    scores = pytrec_eval.RelevanceEvaluator(judged, set(_TREC_MEASURES)).evaluate(full)
    reciprocal = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)

    per_query: dict[str, dict[str, float]] = {}
    for query_id in judged:
        values = scores.get(query_id, {})
        per_query[query_id] = {
            name: float(values.get(measure.replace(".", "_"), 0.0))
            for measure, name in _TREC_MEASURES.items()
        }
        per_query[query_id]["mrr@10"] = float(reciprocal.get(query_id, {}).get("recip_rank", 0.0))
    n = len(per_query)
    mean = {
        metric: (sum(q[metric] for q in per_query.values()) / n if n else 0.0) for metric in METRICS
    }
    return {"mean": mean, "per_query": per_query, "n_queries": n}


# --- indexing and retrieval -------------------------------------------------------------


def index_cache_dir(
    data_dir: Path,
    directory: Path,
    embedder: EmbedderConfig,
    chunking: ChunkingConfig,
    vector_index: VectorIndexConfig,
) -> Path:
    """Where the index of a BEIR corpus is cached: one folder per dataset path
    and indexing settings (the manifest then tells whether the corpus changed).

    >>> index_cache_dir(Path("/d"), Path("/x/scifact"), EmbedderConfig(), ChunkingConfig(),
    ...                 VectorIndexConfig()).parent
    PosixPath('/d/beir')
    """
    resolved = directory.expanduser().resolve()
    key = json.dumps(
        {
            "path": str(resolved),
            "model": embedder.model,
            "chunking": asdict(chunking),
            "vector_index": asdict(vector_index),
        },
        sort_keys=True,
    )
    slug = re.sub(r"[^a-z0-9]+", "-", resolved.name.lower()).strip("-")[:40] or "dataset"
    return data_dir / "beir" / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def live_content(store: VectorStore) -> LiveContent | None:
    """What ``store`` holds, or None where it holds no usable index (none
    yet, another embedding model, damaged)."""
    try:
        return store.content() if store.exists() else None
    except RagqaError:
        return None


def index_matches(
    store: VectorStore, documents: Sequence[Document], chunking: ChunkingConfig
) -> bool:
    """Whether ``store`` holds exactly ``documents``, made with the configured
    embedding model (the store refuses any other) and this chunking."""
    content = live_content(store)
    if content is None or dict(content.chunking) != asdict(chunking):
        return False
    saved = {(e.doc_id, e.title, e.content_hash) for e in content.documents.values()}
    wanted = {(d.doc_id, d.title, d.content_hash) for d in documents}
    return saved == wanted and len(content.documents) == len(documents)


def _refuse_foreign_index(store: VectorStore, dataset: BeirDataset) -> None:
    """Never rebuild over an index of other documents (say, the user's own)."""
    content = live_content(store)
    if content is None:
        return
    prefixes = {d.source_path.rpartition("#")[0] for d in dataset.documents}
    foreign = [
        e for e in content.documents.values() if e.source_path.rpartition("#")[0] not in prefixes
    ]
    if foreign:
        raise EvaluationError(
            f"{store.location} holds an index of other documents (such as {foreign[0].source_path}); "
            "it was left alone. Give --index-dir a new folder, or leave it out to use the cache."
        )


def ensure_index(
    pipeline: Pipeline,
    dataset: BeirDataset,
    *,
    rebuild: bool = False,
    show_progress: bool = False,
    announce: Callable[[str], None] = logger.info,
) -> BuildReport | None:
    """Index the dataset's corpus at the pipeline's index folder unless an
    index of exactly these documents is there already (returns None then).

    ``announce`` is told, in one sentence, when a (long) build starts.
    """
    config = pipeline.config
    store = pipeline.store
    if not rebuild and index_matches(store, dataset.documents, config.chunking):
        try:
            store.count()  # opening verifies every file's checksum
        except RagqaError as error:
            logger.warning("The cached index is unusable (%s); rebuilding it.", error)
            pipeline.reload_index()
        else:
            logger.info("Reusing the cached index at %s", config.index_dir)
            return None
    _refuse_foreign_index(store, dataset)
    announce(
        f"Indexing {len(dataset.documents):,} documents of {dataset.name} into "
        f"{config.index_dir} (cached for later runs)..."
    )
    builder = IndexBuilder(pipeline.embedder, config.chunking, config.vector_index)
    report = builder.build(dataset.documents, store, show_progress=show_progress)
    pipeline.reload_index()
    return report


def retrieve_documents(
    retrieve: Callable[[str, int], list[Hit]], query: str, top_k: int, max_chunks: int
) -> list[str]:
    """The top ``top_k`` documents for ``query``, fetching more chunks while
    too few distinct documents came back."""
    depth = min(max_chunks, top_k * 3)
    while True:
        hits = retrieve(query, depth)
        ranking = rank_documents(hits, top_k)
        if len(ranking) >= top_k or len(hits) < depth or depth >= max_chunks:
            return ranking
        depth = min(max_chunks, depth * 2)


def evaluate_beir(
    pipeline: Pipeline,
    dataset: BeirDataset,
    *,
    top_k: int = 100,
    rebuild: bool = False,
    show_progress: bool = False,
    announce: Callable[[str], None] = logger.info,
    on_query: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Index (or reuse) the corpus, retrieve ``top_k`` documents per judged
    query, and score the run. Returns the ``--json`` object of
    ``ragqa eval-retrieval``.

    ``show_progress`` and ``announce`` concern indexing (see
    :func:`ensure_index`); ``on_query`` sees each query id once it is retrieved for.
    """
    if top_k < 1:
        raise EvaluationError(f"--top-k must be 1 or more. Currently it is {top_k}.")
    started = time.perf_counter()
    report = ensure_index(
        pipeline, dataset, rebuild=rebuild, show_progress=show_progress, announce=announce
    )
    indexed = time.perf_counter()
    n_chunks = pipeline.store.count()

    query_ids = dataset.judged_queries
    run: dict[str, list[str]] = {}
    for query_id in query_ids:
        run[query_id] = retrieve_documents(
            lambda q, k: pipeline.retrieve(q, top_k=k), dataset.queries[query_id], top_k, n_chunks
        )
        if on_query is not None:
            on_query(query_id)
    retrieved = time.perf_counter()
    scores = score_run(dataset.qrels, run)
    config = pipeline.config
    return {
        **{metric: round(scores["mean"][metric], 4) for metric in METRICS},
        "n_queries": scores["n_queries"],
        "seconds": round(time.perf_counter() - started, 1),
        "dataset": dataset.name,
        "split": dataset.split,
        "n_documents": len(dataset.documents),
        "n_chunks": n_chunks,
        "top_k": top_k,
        "retrieval": asdict(config.retrieval),
        "rerank": config.rerank.kind,
        "embedding_model": config.embedder.model,
        "index_dir": str(config.index_dir),
        "index_reused": report is None,
        "index_seconds": round(indexed - started, 1),
        "retrieval_seconds": round(retrieved - indexed, 1),
        "ms_per_query": round(1000 * (retrieved - indexed) / max(1, len(query_ids)), 1),
    }
