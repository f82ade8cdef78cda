"""BM25 keyword index (bm25s) kept beside the dense index.

Dense retrieval misses rare names and numbers that BM25 catches, and the
reverse for paraphrases; the retriever fuses both. The index is saved as
``.npy`` arrays and JSON by bm25s itself (never pickle) and rebuilt from the
chunk texts on every index build, which costs no embedding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus.analysis import text_analyzer
from corpus.errors import IndexCorruptError
from indexer.layout import REBUILD_HINT

logger = logging.getLogger(__name__)

KEYWORD_DIR = "bm25"
KEYWORD_FILES = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
    "vocab.index.json",
    "params.index.json",
    "nonoccurrence_array.index.npy",
)


def _tokenized(texts: Sequence[str]) -> Any:
    """``texts`` as bm25s's ``Tokenized`` (term ids and their vocabulary), each
    analysed by the shared analyzer (:meth:`TextAnalyzer.keyword_terms`)."""
    from bm25s.tokenization import Tokenized

    analyzer = text_analyzer()
    vocabulary: dict[str, int] = {}
    ids = [
        [vocabulary.setdefault(term, len(vocabulary)) for term in analyzer.keyword_terms(text)]
        for text in texts
    ]
    return Tokenized(ids=ids, vocab=vocabulary)


def stems(text: str) -> set[str]:
    """The stemmed terms of ``text``, as the keyword index sees them.

    >>> sorted(stems("The founders founded the company"))
    ['compani', 'found', 'founder']
    """
    return text_analyzer().stems(text)


def build_keyword_index(texts: Sequence[str], directory: Path) -> list[str]:
    """Index ``texts`` (row ``i`` = chunk row ``i``) and save under ``directory``;
    returns the saved file names relative to ``directory``."""
    import bm25s

    retriever = bm25s.BM25()
    if texts:
        retriever.index(_tokenized(texts), show_progress=False)
    else:
        retriever.index(_tokenized(["empty"]), show_progress=False)
    target = directory / KEYWORD_DIR
    retriever.save(str(target))
    return sorted(f"{KEYWORD_DIR}/{path.name}" for path in target.iterdir() if path.is_file())


class KeywordIndex:
    """A loaded BM25 index; :meth:`search` returns scores and chunk rows."""

    def __init__(self, directory: Path, n_rows: int) -> None:
        import bm25s

        try:
            self._retriever = bm25s.BM25.load(
                str(directory / KEYWORD_DIR), allow_pickle=False, show_progress=False, verbosity=0
            )
        except (OSError, ValueError, KeyError) as error:
            raise IndexCorruptError(
                f"The keyword index in {directory} is unreadable ({error}). {REBUILD_HINT}"
            ) from error
        self._n_rows = n_rows

    def term_weights(self, text: str) -> dict[str, float]:
        """Inverse document frequency of each (stemmed) term of ``text``, as
        BM25 weighs it: rare terms carry a question, common ones (the
        collection's subject, "Lei Jun") do not. Terms the index has never
        seen get the highest weight."""
        terms = text_analyzer().keyword_terms(text)
        if not terms:
            return {}
        scores = self._retriever.scores
        frequencies = np.diff(np.asarray(scores["indptr"]))
        n_docs = max(1, int(scores["num_docs"]))
        vocabulary = self._retriever.vocab_dict
        weights = {}
        for term in terms:
            row = vocabulary.get(term)
            frequency = int(frequencies[row]) if row is not None and row < len(frequencies) else 0
            weights[term] = float(np.log(1 + (n_docs - frequency + 0.5) / (frequency + 0.5)))
        return weights

    def search(self, query: str, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._n_rows == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        terms = text_analyzer().keyword_terms(query)
        if not terms:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        k = min(top_k, self._n_rows)
        rows, scores = self._retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), rows[0][keep].astype(np.int64)
