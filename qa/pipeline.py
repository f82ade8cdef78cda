"""The whole question-answering pipeline behind one object.

:class:`Pipeline` owns the models and the stages (each built once, on first
use) and the index location, and offers the three things the CLI, the chat
window and the API do: index documents, ask a question, and look a document
up. It takes a :class:`PipelineConfig` made of each stage's own settings.

Asking has one way in, :meth:`Pipeline.stream` (and :meth:`Pipeline.ask`,
which waits for the answer): it takes the question and the conversation so
far, validates the question once, resolves a follow-up against the
conversation, retrieves and answers; callers only render what comes back.
"""

from __future__ import annotations

import collections.abc
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
from qa.answerer import AnswerConfig, Answerer, make_answerer, prepare_question
from qa.evidence import SentenceVectors
from qa.generator import Generator, GeneratorConfig, make_generator
from qa.reranker import RerankConfig, make_reranker
from qa.retriever import RetrievalConfig, Retriever, make_retriever
from qa.selector import AnswerSelector
from qa.types import Answer, Hit, Query, Question, Token

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


class AnswerStream(Iterator[Token | Answer]):
    """One question's events: the draft's :class:`Token` pieces, then the
    :class:`Answer`. ``question`` (validated, the follow-up resolved) is
    known before anything is retrieved; the work happens while iterating."""

    def __init__(
        self, question: Question, events: collections.abc.Generator[Token | Answer, None, None]
    ) -> None:
        self.question = question
        self._events = events

    def __next__(self) -> Token | Answer:
        return next(self._events)

    def close(self) -> None:
        """Stop early (a client that went away): the draft stops at its next token."""
        self._events.close()

    def answer(self) -> Answer:
        """Run to the end and return the answer."""
        for event in self:
            if isinstance(event, Answer):
                return event
        raise AssertionError("the answer stream ended without an answer")  # pragma: no cover


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
        self._retriever: Retriever | None = None
        self._sentence_vectors: SentenceVectors | None = None
        self._answerers: dict[str, Answerer] = {}
        self._selector: AnswerSelector | None = None
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
        self.answerer()  # the stages, and the abstention model read
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
    @property
    def retriever(self) -> Retriever:
        """The retriever (and its reranker), built once."""
        with self._lock:
            if self._retriever is None:
                self._retriever = make_retriever(
                    self.store,
                    self.config.retrieval,
                    make_reranker(self.config.rerank, self.embedder),
                )
            return self._retriever

    @property
    def selector(self) -> AnswerSelector | None:
        """The learned answer selector where the settings choose it, loaded once."""
        if self.config.answer.selector != "learned":
            return None
        with self._lock:
            if self._selector is None:
                self._selector = AnswerSelector.load()
            return self._selector

    def answerer(self, backend: str | None = None) -> Answerer:
        """The answerer, built once (one per generator backend where drafts are on)."""
        backend = backend or self.config.generator.backend
        key = backend if self.config.answer.draft else ""
        with self._lock:
            if key not in self._answerers:
                # Read from the store first: a missing or damaged index is
                # reported before any model loads.
                self.store.term_statistics()
                if self._sentence_vectors is None:  # one cache for every backend's answerer
                    self._sentence_vectors = SentenceVectors(self.embedder)
                self._answerers[key] = make_answerer(
                    self.store,
                    self.embedder,
                    self.retriever,
                    self.config.answer,
                    sentence_vectors=self._sentence_vectors,
                    # The generator is loaded only where drafts are asked for.
                    generator=self.generator(backend) if self.config.answer.draft else None,
                    selector=self.selector,
                )
            return self._answerers[key]

    def stream(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        top_k: int | None = None,
        backend: str | None = None,
    ) -> AnswerStream:
        """Answer ``question``, asked after the (question, answer) turns of
        ``history`` (oldest first), as a stream of draft tokens and the answer.

        The question is validated now, before anything loads (raising
        :class:`~corpus.errors.QuestionError`); the rest happens while the
        stream is read. ``top_k`` defaults to the retrieval settings'.
        """
        asked = prepare_question(question, history, self.config.answer.max_question_chars)

        def events() -> collections.abc.Generator[Token | Answer, None, None]:
            yield from self.answerer(backend).stream(asked, top_k=top_k)

        return AnswerStream(asked, events())

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        top_k: int | None = None,
        backend: str | None = None,
    ) -> Answer:
        """:meth:`stream`, waiting for the answer."""
        return self.stream(question, history=history, top_k=top_k, backend=backend).answer()

    def retrieve(self, query: str, top_k: int = 10) -> list[Hit]:
        """The ``top_k`` chunks that best match ``query`` (no answering)."""
        self.store.count()  # a missing or damaged index is reported before any model loads
        return self.retriever.run(Query.embed(query, self.embedder), top_k=top_k)

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)
