"""The whole question-answering pipeline behind one object.

:class:`Pipeline` owns the models (loaded once, lazily) and the index
location, and offers the three things the CLI and the chat window do:
index documents, ask a question, and look a document up. It takes a
:class:`PipelineConfig` made of each stage's own settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.chunking import ChunkingConfig
from corpus.collection import LoadReport, default_collection_dir, load_collection
from corpus.documents import Document
from corpus.loaders import DEFAULT_MAX_FILE_BYTES
from indexer.builder import BuildReport, IndexBuilder
from indexer.embedder import Embedder, EmbedderConfig, make_embedder
from indexer.store import VectorStore, VectorStoreConfig, make_store
from indexer.vector_index import VectorIndexConfig
from qa.answerer import AnswerConfig, Answerer, Token, clean_question
from qa.evidence import SentenceVectors
from qa.generator import Generator, GeneratorConfig, make_generator
from qa.reranker import RerankConfig, make_reranker
from qa.retriever import RetrievalConfig, Retriever
from qa.types import Answer, Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineConfig:
    index_dir: Path
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    vector_index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    vector_store: VectorStoreConfig = field(default_factory=VectorStoreConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass(frozen=True)
class IndexOutcome:
    build: BuildReport
    load: LoadReport


class Pipeline:
    """Index and ask, with models loaded on first use and shared afterwards."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.config = config
        self._embedder = embedder
        self._generators: dict[str, Generator] = {}
        if generator is not None:
            self._generators[config.generator.backend] = generator
        self._store: VectorStore | None = None
        self._sentence_vectors: SentenceVectors | None = None
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.config.embedder)
            return self._embedder

    def generator(self, backend: str | None = None) -> Generator:
        backend = backend or self.config.generator.backend
        with self._lock:
            if backend not in self._generators:
                config = GeneratorConfig(**{**self.config.generator.__dict__, "backend": backend})
                self._generators[backend] = make_generator(config)
            return self._generators[backend]

    @property
    def store(self) -> VectorStore:
        """The vector store the settings name (FAISS locally, or Milvus);
        it loads its index on first read."""
        with self._lock:
            if self._store is None:
                self._store = make_store(
                    self.config.vector_store,
                    index_dir=self.config.index_dir,
                    embedding_model=self.config.embedder.model,
                    vector_index=self.config.vector_index,
                )
            return self._store

    def warm_up(self) -> None:
        """Load the models and open the index now, so the first question is
        fast (the chat server calls it while Gradio loads)."""
        self.embedder.embed(["warm up"])
        self.retrieve("warm up", top_k=1)
        if self.config.answer.draft:
            generator = self.generator()
            wait = getattr(generator, "warm_up", None)  # a supervised child: wait for its load
            if wait is not None:
                wait()

    def reload_index(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.reload()

    def index_exists(self) -> bool:
        return self.store.exists()

    # --- indexing -------------------------------------------------------
    def build_index(
        self, paths: Sequence[Path] | None = None, *, show_progress: bool = False
    ) -> IndexOutcome:
        """Make the index hold exactly the documents under ``paths``
        (default: the shipped collection)."""
        load = load_collection(
            list(paths or [default_collection_dir()]), max_bytes=self.config.max_file_bytes
        )
        return self._build(load, show_progress)

    def add_documents(self, paths: Sequence[Path], *, show_progress: bool = False) -> IndexOutcome:
        """Add (or update) files in the index, keeping what it already holds."""
        load = load_collection(list(paths), max_bytes=self.config.max_file_bytes)
        existing: list[Document] = self.store.documents() if self.index_exists() else []
        new_ids = {d.doc_id for d in load.documents}
        merged = [d for d in existing if d.doc_id not in new_ids] + load.documents
        return self._build(
            LoadReport(documents=merged, skipped=load.skipped), show_progress, added=load
        )

    def _build(
        self, load: LoadReport, show_progress: bool, added: LoadReport | None = None
    ) -> IndexOutcome:
        builder = IndexBuilder(self.embedder, self.config.chunking, self.config.vector_index)
        with self._lock:
            report = builder.build(load.documents, self.store, show_progress=show_progress)
            self.reload_index()
        return IndexOutcome(build=report, load=added or load)

    # --- asking ---------------------------------------------------------
    def answerer(self, backend: str | None = None) -> Answerer:
        store = self.store
        # Read from the store first: a missing or damaged index is reported
        # before any model loads.
        term_statistics = store.term_statistics()
        retriever = Retriever(
            store,
            self.embedder,
            self.config.retrieval,
            make_reranker(self.config.rerank, self.embedder),
        )
        with self._lock:
            if self._sentence_vectors is None:
                self._sentence_vectors = SentenceVectors(self.embedder)
        # The generator is loaded only where drafts are asked for.
        return Answerer(
            retriever,
            self.generator(backend) if self.config.answer.draft else None,
            self.embedder,
            self.config.answer,
            self._sentence_vectors,
            term_statistics=term_statistics,
        )

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        backend: str | None = None,
        retrieval_query: str | None = None,
    ) -> Answer:
        clean_question(question, self.config.answer.max_question_chars)  # before loading anything
        return self.answerer(backend).run(question, top_k=top_k, retrieval_query=retrieval_query)

    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        backend: str | None = None,
        retrieval_query: str | None = None,
    ) -> Iterator[Token | Answer]:
        clean_question(question, self.config.answer.max_question_chars)  # before loading anything
        return self.answerer(backend).stream(question, top_k=top_k, retrieval_query=retrieval_query)

    def retrieve(self, query: str, top_k: int = 10) -> list[Hit]:
        self.store.count()  # a missing or damaged index is reported before any model loads
        return Retriever(
            self.store,
            self.embedder,
            self.config.retrieval,
            make_reranker(self.config.rerank, self.embedder),
        ).run(query, top_k=top_k)

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)
