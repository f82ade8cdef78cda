"""Loading a saved index, verified before anything in it is deserialised.

Order of checks: ``CURRENT`` names a generation; its manifest parses, has our
format version and the configured embedding model; the manifest's own
checksum holds and it lists every file we are about to read; every listed
file has its recorded size and SHA-256. Only then do SQLite, FAISS and bm25s
see the files. The embeddings are memory-mapped once, at open, so a reader
keeps working when a later build replaces (and deletes) its generation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import IndexCorruptError, SavedIndexError
from indexer.chunk_store import ChunkStore
from indexer.keyword_index import KEYWORD_DIR, KeywordIndex
from indexer.layout import REBUILD_HINT, live_generation
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
            f"The index manifest {path} is missing or unreadable ({error}). {REBUILD_HINT}"
        ) from error
    return Manifest.from_json(text, where=path)


def required_files(generation: Path) -> list[str]:
    """The files a load reads, each of which the manifest must vouch for: the
    fixed ones and whatever lies in the keyword index folder."""
    keyword_dir = generation / KEYWORD_DIR
    keyword_files = (
        sorted(f"{KEYWORD_DIR}/{p.name}" for p in keyword_dir.iterdir())
        if keyword_dir.is_dir()
        else []
    )
    return [CHUNKS_FILE, EMBEDDINGS_FILE, VECTORS_FILE, *keyword_files]


def verified_manifest(generation: Path, *, embedding_model: str, where: Path) -> Manifest:
    """Read the manifest of ``generation`` and check it and every file it
    lists; raises the project's index errors, having parsed nothing else."""
    manifest = read_manifest(generation)
    manifest.check_compatible(embedding_model=embedding_model, where=where)
    verify_files(manifest, generation, required_files(generation))
    return manifest


@dataclass
class SavedIndex:
    """A verified index: manifest, chunk store, FAISS vectors and BM25."""

    directory: Path
    manifest: Manifest
    store: ChunkStore
    vectors: Any
    keywords: KeywordIndex
    _embeddings: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        embedding_model: str,
        vector_config: VectorIndexConfig | None = None,
    ) -> SavedIndex:
        """Check the manifest, the format version, the embedding model and every
        file's checksum, then load. Raises the project's index errors.

        A build that publishes a new generation while this one is being opened
        may delete the old one under us; the open is then retried on the new.
        """
        for attempt in range(3):
            generation = live_generation(index_dir)
            try:
                return cls._open_generation(
                    generation, index_dir, embedding_model, vector_config or VectorIndexConfig()
                )
            except SavedIndexError:
                if attempt == 2 or live_generation(index_dir) == generation:
                    raise
                logger.info("The index was replaced while opening it; opening the new one.")
        raise AssertionError("unreachable")

    @classmethod
    def _open_generation(
        cls,
        generation: Path,
        index_dir: Path,
        embedding_model: str,
        vector_config: VectorIndexConfig,
    ) -> SavedIndex:
        manifest = verified_manifest(generation, embedding_model=embedding_model, where=index_dir)
        store = ChunkStore(generation / CHUNKS_FILE)
        try:
            if len(store) != manifest.n_chunks:
                raise IndexCorruptError(
                    f"The chunk store in {generation} holds {len(store)} chunks but the "
                    f"manifest says {manifest.n_chunks}. {REBUILD_HINT}"
                )
            embeddings = load_embeddings(generation)
            if embeddings.shape != (manifest.n_chunks, manifest.embedding_dimension):
                raise IndexCorruptError(
                    f"{generation / EMBEDDINGS_FILE} holds an array of shape {embeddings.shape}, "
                    f"but the manifest says ({manifest.n_chunks}, "
                    f"{manifest.embedding_dimension}). {REBUILD_HINT}"
                )
            vectors = load_vector_index(
                generation / VECTORS_FILE,
                dimension=manifest.embedding_dimension,
                n_vectors=manifest.n_chunks,
            )
            tune_for_search(vectors, vector_config)
            keywords = KeywordIndex(generation, manifest.n_chunks)
        except BaseException:
            store.close()
            raise
        return cls(generation, manifest, store, vectors, keywords, embeddings)

    def embeddings(self) -> np.ndarray:
        """All chunk vectors, memory-mapped (rows match the chunk store)."""
        if self._embeddings is None:
            self._embeddings = load_embeddings(self.directory)
        return self._embeddings

    def close(self) -> None:
        self.store.close()


def load_embeddings(generation: Path) -> np.ndarray:
    try:
        array = np.load(generation / EMBEDDINGS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise IndexCorruptError(
            f"{generation / EMBEDDINGS_FILE} is unreadable ({error}). {REBUILD_HINT}"
        ) from error
    if array.ndim != 2 or array.dtype != np.float32:
        raise IndexCorruptError(
            f"{generation / EMBEDDINGS_FILE} holds a {array.dtype} array of shape "
            f"{array.shape}, not float32 rows of vectors. {REBUILD_HINT}"
        )
    return array
