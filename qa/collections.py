"""One pipeline per collection, for a server that offers several.

The chat window's collection picker and the OpenAI-compatible API's models
both ask this object for a collection's :class:`~qa.pipeline.Pipeline`.
Pipelines are made on first use and kept; they share the first pipeline's
embedder (and its generator, where drafts are on), so a second collection
costs its index, not another model.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from corpus.errors import CollectionError
from indexer.collections import check_collection_name, collection_dir
from indexer.store import make_catalog
from qa.pipeline import Pipeline


class CollectionPipelines:
    """The collections under ``collections_dir``; ``first`` is the one the
    server was started on (shown first, and the source of the shared models).
    Without ``collections_dir`` (an index given by folder) it is the only one."""

    def __init__(self, first: Pipeline, first_name: str, collections_dir: Path | None) -> None:
        self.first_name = check_collection_name(first_name)
        self.collections_dir = collections_dir
        self._pipelines: dict[str, Pipeline] = {self.first_name: first}
        self._lock = threading.Lock()

    @property
    def first(self) -> Pipeline:
        return self._pipelines[self.first_name]

    def names(self) -> list[str]:
        """The collection served first, then every other built collection, by name."""
        if self.collections_dir is None:
            return [self.first_name]
        catalog = make_catalog(self.first.config.vector_store, self.collections_dir)
        built = [c.name for c in catalog.list_collections() if not c.problem]
        return [self.first_name, *(name for name in built if name != self.first_name)]

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline of collection ``name``; raises if there is none."""
        name = check_collection_name(name)
        with self._lock:
            if name in self._pipelines:
                return self._pipelines[name]
        if name not in self.names():
            raise CollectionError(
                f"There is no collection named {name!r}; build it with "
                f"`ragqa index PATH --collection {name}`."
            )
        assert self.collections_dir is not None  # names() lists only the first without it
        first = self.first
        config = replace(first.config, index_dir=collection_dir(self.collections_dir, name))
        generator = first.generator() if first.config.answer.draft else None
        made = Pipeline(config, embedder=first.embedder, generator=generator)
        with self._lock:
            return self._pipelines.setdefault(name, made)
