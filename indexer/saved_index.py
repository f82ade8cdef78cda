"""Loading a saved index, verified before anything in it is deserialised."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import IndexCorruptError
from indexer.chunk_store import ChunkStore
from indexer.keyword_index import KeywordIndex
from indexer.layout import live_generation
from indexer.manifest import MANIFEST_FILE, Manifest, verify_files
from indexer.vector_index import VectorIndexConfig, load_vector_index, tune_for_search

logger = logging.getLogger(__name__)

CHUNKS_FILE = "chunks.sqlite"
EMBEDDINGS_FILE = "embeddings.npy"
VECTORS_FILE = "vectors.faiss"


def read_manifest(generation: Path) -> Manifest:
    path = generation / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IndexCorruptError(
            f"The index manifest {path} is missing or unreadable ({error}). "
            "Rebuild the index with `ragqa index`."
        ) from error
    return Manifest.from_json(text, where=path)


@dataclass
class SavedIndex:
    """A verified index: manifest, chunk store, FAISS vectors and BM25."""

    directory: Path
    manifest: Manifest
    store: ChunkStore
    vectors: Any
    keywords: KeywordIndex

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        embedding_model: str,
        vector_config: VectorIndexConfig | None = None,
    ) -> SavedIndex:
        """Check the manifest, the format version, the embedding model and every
        file's checksum, then load. Raises the project's index errors."""
        generation = live_generation(index_dir)
        manifest = read_manifest(generation)
        manifest.check_compatible(embedding_model=embedding_model, where=index_dir)
        verify_files(manifest, generation)
        store = ChunkStore(generation / CHUNKS_FILE)
        if len(store) != manifest.n_chunks:
            store.close()
            raise IndexCorruptError(
                f"The chunk store in {generation} holds {len(store)} chunks but the manifest "
                f"says {manifest.n_chunks}. Rebuild the index with `ragqa index`."
            )
        vectors = load_vector_index(
            generation / VECTORS_FILE,
            dimension=manifest.embedding_dimension,
            n_vectors=manifest.n_chunks,
        )
        tune_for_search(vectors, vector_config or VectorIndexConfig())
        keywords = KeywordIndex(generation, manifest.n_chunks)
        return cls(generation, manifest, store, vectors, keywords)

    def embeddings(self) -> np.ndarray:
        """All chunk vectors, memory-mapped (rows match the chunk store)."""
        return load_embeddings(self.directory)

    def close(self) -> None:
        self.store.close()


def load_embeddings(generation: Path) -> np.ndarray:
    try:
        array = np.load(generation / EMBEDDINGS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise IndexCorruptError(
            f"{generation / EMBEDDINGS_FILE} is unreadable ({error})."
        ) from error
    return array
