"""The Milvus store: one ragqa collection = one Milvus collection behind an alias.

The same :class:`pymilvus.MilvusClient` talks to embedded Milvus Lite (``uri``
names a ``.db`` file; nothing to start) or to a cluster (``uri =
"http://host:19530"`` plus a token). For a ragqa collection named ``default``:

* alias ``ragqa_default`` -> collection ``ragqa_default__<build>`` holding one
  row per chunk: the dense vector, the chunk text and its metadata (document
  id, title, source, offsets), the text's SHA-256 (to reuse vectors), and
  ``terms``, from which Milvus's own BM25 function makes the sparse vector
  that the keyword search ranks by;
* collection ``ragqa_default__<build>_docs``: the documents' full text (in
  parts, as a VARCHAR holds 64 KiB), and the manifest and term statistics as
  JSON rows. Its name follows from the chunk collection's, so the one alias
  switches both at once.

A build fills new collections, copies over the untouched documents of the
live one, and only then moves the alias: until that moment readers answer
from the old content, and a build that fails or is killed leaves it in place
(its half-filled collections are dropped by the next build).

Concession: Milvus Lite 3.2.2's analyzer knows only the ``standard``
tokenizer and ignores stemming and stop-word filters, so ``terms`` holds the
text already analysed the way bm25s analyses it (English stop words removed,
Snowball-stemmed) and queries are analysed the same way. Milvus still does
the BM25 indexing and scoring; its parameters are its own (k1 = 1.2, b =
0.75; Lite ignores ``bm25_k1``), so scores differ a little from bm25s's
(k1 = 1.5). Milvus keeps its BM25 statistics inside the engine, so the term
statistics the answerer needs are stored beside the manifest.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from corpus.analysis import text_analyzer
from corpus.documents import Chunk, Document, Location, LocationKind
from corpus.errors import (
    CollectionError,
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    RagqaError,
    SavedIndexError,
)
from indexer.collections import CollectionSummary, check_collection_name
from indexer.local_store import text_key
from indexer.manifest import DocumentEntry
from indexer.store import LiveContent, StoreHit, TermStatistics, VectorStoreConfig

logger = logging.getLogger(__name__)

FORMAT_NAME = "ragqa-milvus"
FORMAT_VERSION = 1
PART_CHARS = 16_000  # a VARCHAR holds 65,535 bytes; UTF-8 needs at most 4 per character
_MAX_FILTER_IDS = 500
_QUERY_WINDOW = 16_000  # Milvus answers at most 16,384 rows per query
_CHUNK_FIELDS = [
    "chunk_id",
    "seq",
    "doc_id",
    "title",
    "source_path",
    "start",
    "end",
    "text",
    "text_key",
    "terms",
    "locations",
]
_DOC_FIELDS = ["key", "kind", "doc_id", "part", "title", "source_path", "content_hash", "body"]


def _milvus() -> Any:
    try:
        import pymilvus
    except ImportError as error:
        raise ConfigError(
            "The Milvus vector store needs pymilvus - install it with "
            "`pip install pymilvus==3.0.2 milvus-lite==3.2.2` (or `make setup`), or set "
            '[vector_store] kind = "faiss".'
        ) from error
    return pymilvus


def collection_alias(index_dir: Path, configured: str = "") -> str:
    """The alias readers use: ``ragqa_`` + the index folder's name, cleaned up
    to the letters, digits and underscores Milvus allows.

    >>> collection_alias(Path("/data/index/default")), collection_alias(Path("x"), "Team docs")
    ('ragqa_default', 'ragqa_team_docs')
    """
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", configured or index_dir.name).strip("_").lower()
    return f"ragqa_{name or 'default'}"[:200]


def terms_of(texts: Sequence[str]) -> list[list[str]]:
    """Each text analysed as the keyword index analyses it (stop words out, stemmed).

    >>> terms_of(["The founders founded it", "the"])
    [['founder', 'found'], []]
    """
    analyzer = text_analyzer()
    return [analyzer.keyword_terms(text) for text in texts]


def _quoted(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _dump_locations(locations: Sequence[Location]) -> str:
    """Locations as stored, the chunk store's form: ``[[start, kind, label], ...]``.

    >>> _dump_locations([Location(0, "page", "page 1")])
    '[[0, "page", "page 1"]]'
    """
    return json.dumps([[m.start, m.kind.value, m.label] for m in locations], ensure_ascii=False)


def _load_locations(saved: str, where: str) -> tuple[Location, ...]:
    try:
        return tuple(
            Location(int(start), LocationKind(kind), str(label))
            for start, kind, label in json.loads(saved or "[]")
        )
    except (ValueError, TypeError) as error:
        raise IndexCorruptError(
            f"{where} holds unreadable locations ({error}). Rebuild the index with `ragqa index`."
        ) from error


def _parts(text: str) -> list[str]:
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()


def _lite_opened(path: str) -> None:
    with _lite_lock:
        _lite_users[path] = _lite_users.get(path, 0) + 1


def _lite_closed(path: str) -> None:
    """Stop the embedded engine once no store of this process uses the file,
    so another process (an index build, a test) may open it: Milvus Lite
    locks its file for as long as its engine runs, which is otherwise until
    the process exits."""
    with _lite_lock:
        _lite_users[path] = _lite_users.get(path, 1) - 1
        if _lite_users[path] > 0:
            return
        del _lite_users[path]
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:  # another engine build; it stops at exit
        return
    server_manager_instance.release_server(path)


def _public_uri(uri: str) -> str:
    """The URI without any user:password part, for messages and describe()."""
    return re.sub(r"//[^/@]*@", "//", uri)


def default_uri(config: VectorStoreConfig, collections_dir: Path) -> str:
    """``[vector_store] uri``, or the Milvus Lite file beside the index
    folders (one per data dir).

    >>> default_uri(VectorStoreConfig(kind="milvus"), Path("/data/index"))
    '/data/index/milvus.db'
    """
    return config.uri or str(collections_dir / "milvus.db")


def _lite_path(uri: str) -> str:
    return str(Path(uri).expanduser().absolute())


def connect(config: VectorStoreConfig, uri: str) -> Any:
    """A client for the Milvus at ``uri`` (a server, or a Lite file made if
    missing); every client made here is released with :func:`disconnect`."""
    pymilvus = _milvus()
    if not config.is_server:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        if config.is_server:
            client = pymilvus.MilvusClient(uri=uri, token=config.token)
        else:
            # The embedded engine's gRPC server allows a keep-alive ping
            # every 5 minutes, pymilvus pings every 10 s even when idle: the
            # server answers "too_many_pings" and gRPC prints it on stderr
            # in the middle of a chat. The engine is in this process: no pings.
            client = pymilvus.MilvusClient(
                uri=_lite_path(uri),
                grpc_options={
                    "grpc.keepalive_time_ms": 300_000,
                    "grpc.keepalive_permit_without_calls": False,
                },
            )
    except Exception as error:
        hint = (
            "Check [vector_store] uri and RAGQA_VECTOR_STORE__TOKEN, and that the server runs."
            if config.is_server
            else "Milvus Lite serves one process at a time: close the other ragqa "
            "(chat window, index build) using this file, or point [vector_store] uri "
            "at a Milvus server."
        )
        raise SavedIndexError(
            f"Cannot open Milvus at {_public_uri(uri)} ({error!r}). {hint}"
        ) from error
    if not config.is_server:
        _lite_opened(_lite_path(uri))
    return client


def disconnect(config: VectorStoreConfig, uri: str, client: Any) -> None:
    client.close()
    if not config.is_server:
        _lite_closed(_lite_path(uri))


def read_meta(client: Any, collection: str, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and term statistics stored beside chunk collection ``collection``."""
    for name in (collection, f"{collection}_docs"):
        client.load_collection(name)
    rows = client.query(
        f"{collection}_docs", filter='kind == "meta"', output_fields=["doc_id", "part", "body"]
    )
    meta: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        meta.setdefault(row["doc_id"], []).append((int(row["part"]), row["body"]))
    try:
        manifest = json.loads("".join(b for _, b in sorted(meta["manifest"])))
        terms = json.loads("".join(b for _, b in sorted(meta["terms"])))
    except (KeyError, ValueError) as error:
        raise IndexCorruptError(
            f"{where}: the manifest of {collection} is missing or unreadable "
            f"({error!r}). Rebuild the index with `ragqa index`."
        ) from error
    return manifest, terms


class _Live:
    """What a reader resolved the alias to, loaded once."""

    def __init__(self, collection: str, manifest: dict[str, Any], terms: TermStatistics) -> None:
        self.collection = collection
        self.docs = f"{collection}_docs"
        self.manifest = manifest
        self.terms = terms
        self.entries = [DocumentEntry(**e) for e in manifest["documents"]]


class MilvusStore:
    """A ragqa collection in Milvus, as a :class:`~indexer.store.VectorStore`."""

    kind = "milvus"

    def __init__(self, config: VectorStoreConfig, *, index_dir: Path, embedding_model: str) -> None:
        self.config = config
        self.embedding_model = embedding_model
        self.alias = collection_alias(index_dir, config.collection)
        # The ragqa collection's name, as `ragqa collections` shows it.
        self.collection_name = index_dir.name
        self.uri = default_uri(config, index_dir.expanduser().parent)
        self.location = f"Milvus {_public_uri(self.uri)}, collection {self.alias}"
        self._client: Any = None
        self._live: _Live | None = None
        self._lock = threading.RLock()

    # --- connection and the live collection --------------------------------
    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = connect(self.config, self.uri)
            return self._client

    def _alias_target(self) -> str | None:
        client = self.client
        if self.alias not in client.list_aliases().get("aliases", []):
            return None
        return str(client.describe_alias(alias=self.alias)["collection_name"])

    def exists(self) -> bool:
        return self._alias_target() is not None

    @property
    def live(self) -> _Live:
        with self._lock:
            if self._live is None:
                self._live = self._open()
            return self._live

    def _open(self) -> _Live:
        collection = self._alias_target()
        if collection is None:
            raise IndexNotFoundError(
                f"No index in {self.location}. Build one with `ragqa index` (with "
                'RAGQA_VECTOR_STORE__KIND=milvus, or [vector_store] kind = "milvus").'
            )
        manifest, terms = read_meta(self.client, collection, self.location)
        if (
            manifest.get("format") != FORMAT_NAME
            or manifest.get("format_version") != FORMAT_VERSION
        ):
            raise IndexMismatchError(
                f"{self.location} holds format {manifest.get('format')!r} version "
                f"{manifest.get('format_version')!r}; this ragqa reads {FORMAT_NAME} version "
                f"{FORMAT_VERSION}. Rebuild the index with `ragqa index`."
            )
        if manifest.get("embedding_model") != self.embedding_model:
            raise IndexMismatchError(
                f"The index in {self.location} was built with the embedding model "
                f"{manifest.get('embedding_model')!r}, but ragqa is set to use "
                f"{self.embedding_model!r}. Rebuild the index with `ragqa index`, or set the "
                "embedding model back."
            )
        return _Live(collection, manifest, TermStatistics(int(terms["n_chunks"]), terms["df"]))

    def _read(self, operation: Any) -> Any:
        """Run ``operation(live)``; if a newer build dropped the collection
        this reader had resolved, resolve the alias again and retry once."""
        live = self.live
        try:
            return operation(live)
        except RagqaError:
            raise
        except Exception as error:
            self.reload()
            if self._alias_target() in (None, live.collection):
                raise SavedIndexError(f"{self.location}: {error}") from error
            return operation(self.live)

    # --- reading ------------------------------------------------------------
    def _search_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.config.index_type == "HNSW":
            params["params"] = {"ef": 96}
        elif self.config.index_type == "IVF_FLAT":
            params["params"] = {"nprobe": 24}
        return params

    def dense_search(self, query_vector: np.ndarray, top_k: int) -> list[StoreHit]:
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1).tolist()

        def run(live: _Live) -> list[StoreHit]:
            result = self.client.search(
                live.collection,
                data=[vector],
                anns_field="vector",
                limit=max(1, top_k),
                search_params=self._search_params(),
            )
            return [StoreHit(str(h["chunk_id"]), float(h["distance"])) for h in result[0]]

        return self._read(run)

    def keyword_search(self, query: str, top_k: int) -> list[StoreHit]:
        terms = terms_of([query])[0]
        if not terms:
            return []

        def run(live: _Live) -> list[StoreHit]:
            result = self.client.search(
                live.collection,
                data=[" ".join(terms)],
                anns_field="sparse",
                limit=max(1, top_k),
                search_params={"metric_type": "BM25"},
            )
            # Milvus Lite 3.2.2 reports BM25 similarities negated; a cluster, positive.
            return [StoreHit(str(h["chunk_id"]), abs(float(h["distance"]))) for h in result[0]]

        return self._read(run)

    def _query_chunks(
        self, live: _Live, chunk_ids: Sequence[str], fields: list[str]
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(chunk_ids), _MAX_FILTER_IDS):
            batch = chunk_ids[start : start + _MAX_FILTER_IDS]
            for row in self.client.query(
                live.collection, filter=f"chunk_id in {_quoted(batch)}", output_fields=fields
            ):
                found[row["chunk_id"]] = row
        return found

    def _to_chunk(self, row: Mapping[str, Any]) -> Chunk:
        return Chunk(
            row["chunk_id"],
            row["doc_id"],
            row["title"],
            row["source_path"],
            int(row["start"]),
            int(row["end"]),
            row["text"],
            _load_locations(row["locations"], f"{self.location}, chunk {row['chunk_id']}"),
        )

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        ids = list(chunk_ids)
        found = self._read(lambda live: self._query_chunks(live, ids, _CHUNK_FIELDS))
        return [self._to_chunk(found[i]) for i in ids if i in found]

    def chunk(self, chunk_id: str) -> Chunk | None:
        found = self.chunks([chunk_id])
        return found[0] if found else None

    def _chunk_rows(
        self, collection: str, entries: Sequence[DocumentEntry], fields: list[str]
    ) -> Iterator[dict[str, Any]]:
        """Every chunk row of these documents, in batches that stay under
        Milvus's query window (no query iterator: Milvus Lite cannot give one
        a timestamp and its gRPC server logs a traceback for each)."""
        batch: list[str] = []
        size = 0
        for entry in [*entries, None]:
            if entry is None or size + entry.n_chunks > _QUERY_WINDOW or len(batch) >= 500:
                if batch:
                    yield from self.client.query(
                        collection,
                        filter=f"doc_id in {_quoted(batch)}",
                        output_fields=fields,
                        limit=_QUERY_WINDOW,
                    )
                batch, size = [], 0
            if entry is None:
                break
            if entry.n_chunks > _QUERY_WINDOW:
                for low in range(0, entry.n_chunks, _QUERY_WINDOW):
                    yield from self.client.query(
                        collection,
                        filter=f"doc_id == {json.dumps(entry.doc_id)} and seq >= {low} "
                        f"and seq < {low + _QUERY_WINDOW}",
                        output_fields=fields,
                        limit=_QUERY_WINDOW,
                    )
                continue
            batch.append(entry.doc_id)
            size += entry.n_chunks

    def _doc_rows(
        self, collection: str, doc_ids: Sequence[str], fields: list[str]
    ) -> Iterator[dict[str, Any]]:
        """The text parts of these documents (a part holds 16,000 characters)
        and of their locations (kind ``loc``)."""
        for start in range(0, len(doc_ids), 20):
            yield from self.client.query(
                collection,
                filter=f'kind in ["doc", "loc"] and doc_id in {_quoted(doc_ids[start : start + 20])}',
                output_fields=fields,
                limit=_QUERY_WINDOW,
            )

    def all_chunks(self) -> list[Chunk]:
        def run(live: _Live) -> list[Chunk]:
            order = {e.doc_id: n for n, e in enumerate(live.entries)}
            rows = list(self._chunk_rows(live.collection, live.entries, _CHUNK_FIELDS))
            rows.sort(key=lambda r: (order.get(r["doc_id"], len(order)), int(r["seq"])))
            return [self._to_chunk(r) for r in rows]

        return self._read(run)

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        ids = list(chunk_ids)
        found = self._read(lambda live: self._query_chunks(live, ids, ["chunk_id", "vector"]))
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"No chunk {missing[0]!r} in {self.location}")
        dimension = int(self.live.manifest["embedding_dimension"])
        return np.asarray([found[i]["vector"] for i in ids], dtype=np.float32).reshape(
            len(ids), dimension
        )

    def _documents(self, doc_ids: Sequence[str] | None) -> list[Document]:
        def run(live: _Live) -> list[Document]:
            wanted = [e.doc_id for e in live.entries] if doc_ids is None else list(doc_ids)
            parts: dict[str, list[dict[str, Any]]] = {}
            marks: dict[str, list[dict[str, Any]]] = {}
            for row in self._doc_rows(live.docs, wanted, _DOC_FIELDS):
                (parts if row["kind"] == "doc" else marks).setdefault(row["doc_id"], []).append(row)
            documents = []
            for doc_id, rows in parts.items():
                rows.sort(key=lambda r: int(r["part"]))
                first = rows[0]
                saved = "".join(
                    r["body"] for r in sorted(marks.get(doc_id, []), key=lambda r: int(r["part"]))
                )
                documents.append(
                    Document(
                        doc_id,
                        first["title"],
                        first["source_path"],
                        "".join(r["body"] for r in rows),
                        first["content_hash"],
                        _load_locations(saved, f"{self.location}, document {doc_id}"),
                    )
                )
            return sorted(documents, key=lambda d: d.title)

        return self._read(run)

    def document(self, doc_id: str) -> Document | None:
        found = self._documents([doc_id])
        return found[0] if found else None

    def documents(self) -> list[Document]:
        return self._documents(None)

    def content(self) -> LiveContent:
        live = self.live
        return LiveContent({e.doc_id: e for e in live.entries}, dict(live.manifest["chunking"]))

    def term_statistics(self) -> TermStatistics:
        return self.live.terms

    def count(self) -> int:
        return int(self.live.manifest["n_chunks"])

    def describe(self) -> dict[str, Any]:
        live = self.live
        return {
            "kind": self.kind,
            "uri": _public_uri(self.uri),
            "alias": self.alias,
            "collection": live.collection,
            "n_documents": len(live.entries),
            "n_chunks": int(live.manifest["n_chunks"]),
            "embedding_model": live.manifest["embedding_model"],
            "vector_index": dict(live.manifest["vector_index"]),
            "keyword_index": "milvus-bm25",
        }

    def reload(self) -> None:
        with self._lock:
            self._live = None

    def close(self) -> None:
        with self._lock:
            self._live = None
            if self._client is not None:
                disconnect(self.config, self.uri, self._client)
                self._client = None

    # --- writing --------------------------------------------------------------
    @contextmanager
    def writer(self, *, embedding_model: str, dimension: int) -> Iterator[MilvusWriter]:
        """Drop what crashed builds left, then stage into new collections that
        are dropped again unless the build commits."""
        self.reload()
        live: _Live | None = None
        if self.exists():
            try:
                live = self.live
            except RagqaError as error:
                logger.warning("Not reusing the existing index (%s); embedding everything.", error)
        self._drop_stale(keep={live.collection} if live else set())
        writer = MilvusWriter(self, live, embedding_model=embedding_model, dimension=dimension)
        try:
            yield writer
        finally:
            if not writer.committed:
                writer.abort()
            self.reload()

    def _physical(self) -> list[str]:
        prefix = f"{self.alias}__"
        return sorted(
            name
            for name in self.client.list_collections()
            if name.startswith(prefix) and not name.endswith("_docs")
        )

    def _drop_stale(self, keep: set[str]) -> None:
        for name in self._physical():
            if name not in keep:
                logger.info("Dropping %s, left by an earlier build", name)
                for target in (name, f"{name}_docs"):
                    if self.client.has_collection(target):
                        self.client.drop_collection(target)


class MilvusWriter:
    """A staged change: new collections filled as changes come, published
    by moving the alias in :meth:`commit`."""

    def __init__(
        self, store: MilvusStore, live: _Live | None, *, embedding_model: str, dimension: int
    ) -> None:
        self.store = store
        self.client = store.client
        self._live = live
        self.embedding_model = embedding_model
        self.dimension = dimension
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.collection = f"{store.alias}__{stamp}_{uuid.uuid4().hex[:8]}"
        self.docs = f"{self.collection}_docs"
        # What was staged is in the new collection already; only its entries
        # and running term counts are kept, so staging a million chunks in
        # windows needs no more memory here than staging a thousand.
        self._staged: dict[str, DocumentEntry] = {}
        self._deleted: set[str] = set()
        self._n_chunks = 0
        self._frequencies: dict[str, int] = {}
        self.committed = False
        self._create()

    def _create(self) -> None:
        pymilvus = _milvus()
        DataType, Function, FunctionType = (
            pymilvus.DataType,
            pymilvus.Function,
            pymilvus.FunctionType,
        )
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=512, is_primary=True)
        schema.add_field("seq", DataType.INT64)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field("title", DataType.VARCHAR, max_length=8192)
        schema.add_field("source_path", DataType.VARCHAR, max_length=8192)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("text_key", DataType.VARCHAR, max_length=64)
        schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
        schema.add_field("locations", DataType.VARCHAR, max_length=65535)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_function(
            Function(
                name="terms_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index_type = self.store.config.index_type
        params: dict[str, Any] = {}
        if index_type == "HNSW":
            params = {"M": 32, "efConstruction": 80}
        elif index_type == "IVF_FLAT":
            params = {"nlist": 1024}
        indexes = self.client.prepare_index_params()
        indexes.add_index(
            field_name="vector", index_type=index_type, metric_type="IP", params=params
        )
        indexes.add_index(
            field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
        )
        # Milvus Lite cannot hand out the timestamp pymilvus waits for an index
        # build with (its gRPC server logs a traceback instead); it builds
        # indexes at once anyway, and loading waits for them on a server too.
        wait = self.store.config.is_server
        self.client.create_collection(self.collection, schema=schema)
        self.client.create_index(self.collection, indexes, sync=wait)

        docs = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("key", DataType.VARCHAR, max_length=1024, is_primary=True)
        docs.add_field("kind", DataType.VARCHAR, max_length=16)
        docs.add_field("doc_id", DataType.VARCHAR, max_length=512)
        docs.add_field("part", DataType.INT64)
        docs.add_field("title", DataType.VARCHAR, max_length=8192)
        docs.add_field("source_path", DataType.VARCHAR, max_length=8192)
        docs.add_field("content_hash", DataType.VARCHAR, max_length=128)
        docs.add_field("body", DataType.VARCHAR, max_length=65535)
        # Milvus wants a vector field in every collection; this one is never searched.
        docs.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        doc_indexes = self.client.prepare_index_params()
        doc_indexes.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        self.client.create_collection(self.docs, schema=docs)
        self.client.create_index(self.docs, doc_indexes, sync=wait)

    @property
    def live(self) -> LiveContent | None:
        if self._live is None:
            return None
        return LiveContent(
            {e.doc_id: e for e in self._live.entries}, dict(self._live.manifest["chunking"])
        )

    def reusable_vectors(self, text_keys: Collection[str]) -> dict[str, np.ndarray]:
        if self._live is None or not text_keys:
            return {}
        keys = list(text_keys)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _MAX_FILTER_IDS):
            batch = keys[start : start + _MAX_FILTER_IDS]
            for row in self.client.query(
                self._live.collection,
                filter=f"text_key in {_quoted(batch)}",
                output_fields=["text_key", "vector"],
            ):
                found[row["text_key"]] = np.asarray(row["vector"], dtype=np.float32)
        return found

    def _count_terms(self, terms: Collection[str]) -> None:
        """Count one chunk towards the term statistics (each term once)."""
        self._n_chunks += 1
        for term in set(terms):
            self._frequencies[term] = self._frequencies.get(term, 0) + 1

    def _insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        size = self.store.config.batch_size
        for start in range(0, len(rows), size):
            self.client.insert(collection, rows[start : start + size])

    def upsert(
        self, documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        wanted = {d.doc_id for d in documents}
        if again := wanted & set(self._staged):
            raise ValueError(f"Document {sorted(again)[0]} was staged twice in one build")
        texts = [c.embedding_text for c in chunks]
        term_lists = terms_of(texts)
        seq: dict[str, int] = {}
        rows = []
        for chunk, vector, terms, text in zip(chunks, vectors, term_lists, texts, strict=True):
            if chunk.doc_id not in wanted:
                raise ValueError(f"Chunk {chunk.chunk_id} belongs to no staged document")
            number = seq.get(chunk.doc_id, 0)
            seq[chunk.doc_id] = number + 1
            self._count_terms(terms)
            rows.append(
                {
                    "chunk_id": chunk.chunk_id,
                    "seq": number,
                    "doc_id": chunk.doc_id,
                    "title": chunk.title,
                    "source_path": chunk.source_path,
                    "start": chunk.start,
                    "end": chunk.end,
                    "text": chunk.text,
                    "text_key": text_key(text),
                    "terms": " ".join(terms),
                    "locations": _dump_locations(chunk.locations),
                    "vector": np.asarray(vector, dtype=np.float32).tolist(),
                }
            )
        self._insert(self.collection, rows)
        doc_rows = []
        for document in documents:
            self._staged[document.doc_id] = DocumentEntry(
                document.doc_id,
                document.title,
                document.source_path,
                document.content_hash,
                seq.get(document.doc_id, 0),
            )
            self._deleted.discard(document.doc_id)
            for number, body in enumerate(_parts(document.text)):
                doc_rows.append(
                    self._doc_row("doc", document.doc_id, number, body, document=document)
                )
            if document.locations:
                saved = _dump_locations(document.locations)
                for number, body in enumerate(_parts(saved)):
                    doc_rows.append(self._doc_row("loc", document.doc_id, number, body))
        self._insert(self.docs, doc_rows)

    @staticmethod
    def _doc_row(
        kind: str, doc_id: str, part: int, body: str, document: Document | None = None
    ) -> dict[str, Any]:
        return {
            "key": f"{kind}:{doc_id}#{part:06d}",
            "kind": kind,
            "doc_id": doc_id,
            "part": part,
            "title": document.title if document else "",
            "source_path": document.source_path if document else "",
            "content_hash": document.content_hash if document else "",
            "body": body,
            "unused": [0.0, 0.0],
        }

    def delete_documents(self, doc_ids: Collection[str]) -> None:
        staged = set(doc_ids) & set(self._staged)
        if staged:
            raise ValueError(f"Document {sorted(staged)[0]} was staged and deleted in one build")
        self._deleted.update(doc_ids)

    def _carry_over(self) -> list[DocumentEntry]:
        """Copy the live documents this build did not touch; returns their entries."""
        live = self._live
        if live is None:
            return []
        touched = set(self._staged) | self._deleted
        kept = [e for e in live.entries if e.doc_id not in touched]
        if not kept:
            return []
        rows: list[dict[str, Any]] = []
        fields = [*_CHUNK_FIELDS, "vector"]
        for row in self.store._chunk_rows(live.collection, kept, fields):
            self._count_terms(row["terms"].split())
            rows.append({k: row[k] for k in [*_CHUNK_FIELDS, "vector"]})
            if len(rows) >= self.store.config.batch_size:
                self._insert(self.collection, rows)
                rows = []
        self._insert(self.collection, rows)
        doc_rows = [
            {**{k: row[k] for k in _DOC_FIELDS}, "unused": [0.0, 0.0]}
            for row in self.store._doc_rows(live.docs, [e.doc_id for e in kept], _DOC_FIELDS)
        ]
        self._insert(self.docs, doc_rows)
        return kept

    def commit(
        self, *, chunking: Mapping[str, int], order: Sequence[str] | None = None
    ) -> dict[str, Any]:
        kept = self._carry_over()
        entries = kept + list(self._staged.values())
        if order is not None:
            position = {doc_id: n for n, doc_id in enumerate(order)}
            entries.sort(key=lambda e: position.get(e.doc_id, len(position)))
        n_chunks = sum(e.n_chunks for e in entries)
        if n_chunks != self._n_chunks:
            raise IndexCorruptError(
                f"{self.store.location}: the new collection would hold {self._n_chunks} chunks "
                f"but its documents count {n_chunks}; it was not published."
            )
        vector_index = {"type": self.store.config.index_type, "metric": "IP"}
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "ragqa_collection": self.store.collection_name,
            "embedding_model": self.embedding_model,
            "embedding_dimension": self.dimension,
            "chunking": dict(chunking),
            "vector_index": vector_index,
            "documents": [asdict(e) for e in entries],
            "n_chunks": n_chunks,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        terms = {"n_chunks": self._n_chunks, "df": self._frequencies}
        meta_rows = [
            self._doc_row("meta", name, number, body)
            for name, value in (("manifest", manifest), ("terms", terms))
            for number, body in enumerate(_parts(json.dumps(value, ensure_ascii=False)))
        ]
        self._insert(self.docs, meta_rows)
        for name in (self.collection, self.docs):
            self.client.flush(name)
            self.client.load_collection(name)
        counted = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        if int(counted[0]["count(*)"]) != n_chunks:
            raise IndexCorruptError(
                f"{self.store.location}: {self.collection} holds {counted[0]['count(*)']} chunks, "
                f"not {n_chunks}; it was not published."
            )
        previous = self.store._alias_target()
        if previous is None:
            self.client.create_alias(collection_name=self.collection, alias=self.store.alias)
        else:
            self.client.alter_alias(collection_name=self.collection, alias=self.store.alias)
        self.committed = True
        # Keep the previous collection for readers that resolved it a moment ago.
        self.store._drop_stale(keep={self.collection, *([previous] if previous else [])})
        return {
            "kind": MilvusStore.kind,
            "uri": _public_uri(self.store.uri),
            "collection": self.collection,
            "n_documents": len(entries),
            "n_chunks": n_chunks,
            "vector_index": vector_index,
        }

    def abort(self) -> None:
        for name in (self.collection, self.docs):
            try:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            except Exception as error:  # the next build drops it
                logger.warning("Could not drop %s after a failed build: %s", name, error)


class MilvusCatalog:
    """The ragqa collections in one Milvus, as an
    :class:`~indexer.collections.CollectionCatalog`: every ``ragqa_*`` alias
    that names a collection ragqa built (``<alias>__<build>``). Other
    collections in the same Milvus are neither listed nor touched."""

    def __init__(self, config: VectorStoreConfig, collections_dir: Path) -> None:
        self.config = config
        self.uri = default_uri(config, collections_dir.expanduser())
        self.collections_dir = collections_dir
        self.location = f"Milvus {_public_uri(self.uri)}"

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        """A client for the length of one listing or deletion; ``None`` where
        the Milvus Lite file does not exist yet (it is not made for a listing)."""
        if not self.config.is_server and not Path(self.uri).expanduser().exists():
            yield None
            return
        client = connect(self.config, self.uri)
        try:
            yield client
        finally:
            disconnect(self.config, self.uri, client)

    def _summaries(self, client: Any) -> list[tuple[str, CollectionSummary]]:
        found = []
        for alias in client.list_aliases().get("aliases", []):
            if not alias.startswith("ragqa_"):
                continue
            target = str(client.describe_alias(alias=alias)["collection_name"])
            if not target.startswith(f"{alias}__"):
                continue  # an alias someone else made
            found.append((alias, self._summary(client, alias, target)))
        return sorted(found, key=lambda pair: pair[1].name)

    def _summary(self, client: Any, alias: str, target: str) -> CollectionSummary:
        fallback = alias.removeprefix("ragqa_")
        try:
            manifest, _ = read_meta(client, target, f"{self.location}, collection {alias}")
            name = str(manifest.get("ragqa_collection") or fallback)
            if not _is_collection_name(name):
                name = fallback
            return CollectionSummary(
                name,
                self.collections_dir / name,
                len(manifest["documents"]),
                int(manifest["n_chunks"]),
                str(manifest.get("created_at", "")),
            )
        except (RagqaError, KeyError, TypeError, ValueError) as error:
            return CollectionSummary(
                fallback, self.collections_dir / fallback, 0, 0, "", str(error)
            )

    def list_collections(self) -> list[CollectionSummary]:
        with self._connected() as client:
            return [] if client is None else [s for _, s in self._summaries(client)]

    def delete_collection(self, name: str) -> CollectionSummary:
        """Drop the alias first (readers then see no index, never half of
        one), then every collection built under it; a crash in between
        leaves unaliased collections that the next build of that name drops."""
        check_collection_name(name)
        with self._connected() as client:
            found = {} if client is None else {s.name: (a, s) for a, s in self._summaries(client)}
            if name not in found:
                known = ", ".join(found) or "none yet"
                raise CollectionError(
                    f"There is no collection named {name!r} in {self.location} (collections: "
                    f"{known}); `ragqa collections` lists them."
                )
            alias, summary = found[name]
            client.drop_alias(alias=alias)
            for built in client.list_collections():
                if built.startswith(f"{alias}__"):
                    client.drop_collection(built)
        return summary


def _is_collection_name(name: str) -> bool:
    try:
        check_collection_name(name)
    except ConfigError:
        return False
    return True
