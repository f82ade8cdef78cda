"""A build killed at any moment leaves the old index or the new one, whole.

A child process rebuilds an index of ~200 generated documents (with the fake
embedder, so a build takes about a second) and is SIGKILLed at a seeded
random moment. After every kill the index must open, be exactly the previous
or the new generation, answer searches, and never be a ``.building-*``
folder; the next complete build must sweep away whatever the kills left.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from indexer.layout import LOCK_FILE, MARKER_FILE, POINTER_FILE
from indexer.vector_index import search
from tests.fakes import HashEmbedder
from tests.indexer.helpers import make_document, open_index

REPO_ROOT = Path(__file__).resolve().parents[2]
N_DOCUMENTS = 200
TRIALS = 20

BUILD_SCRIPT = """
import sys
from pathlib import Path

import numpy as np

from indexer.builder import IndexBuilder
from tests.fakes import HashEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document

index_dir, count, version = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
documents = [make_document(n, version) for n in range(count)]
print("ready", flush=True)
IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(documents, index_dir)
print("done", flush=True)
"""


def start_build(index_dir: Path, count: int, version: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD_SCRIPT, str(index_dir), str(count), str(version)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", "the build script failed to start"
    return process


def complete_build(index_dir: Path, count: int, version: int) -> float:
    """Run a build to the end; returns how long the build itself took."""
    process = start_build(index_dir, count, version)
    started = time.perf_counter()
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and out.strip() == "done"
    return time.perf_counter() - started


def check_index(index_dir: Path, candidates: dict[str, tuple[int, int]]) -> str:
    """Open the index, check it is one of ``candidates`` (label -> (count,
    version)) in full, that search works; return the label it matched."""
    index = open_index(index_dir)
    try:
        assert re.fullmatch(r"gen-\d{6}", index.directory.name), index.directory
        count = len(index.manifest.documents)
        matches = [label for label, (n, _) in candidates.items() if n == count]
        assert len(matches) == 1, f"{count} documents: neither the old nor the new index"
        label = matches[0]
        version = candidates[label][1]
        for number in (0, count // 2, count - 1):
            expected = make_document(number, version)
            stored = index.store.document(expected.doc_id)
            assert stored is not None and stored.text == expected.text, "a mixed generation"
        assert len(index.store) == index.vectors.ntotal == index.manifest.n_chunks
        chunk = index.store.all_chunks()[index.manifest.n_chunks // 2]
        query = HashEmbedder().embed([chunk.embedding_text])
        scores, rows = search(index.vectors, query, 1)
        assert scores[0][0] > 0.999  # the fake embedder may give twins the same vector
        np.testing.assert_allclose(index.embeddings()[int(rows[0][0])], query[0], atol=1e-6)
        assert index.keywords.search("scooters", 5)[1].size > 0
        return label
    finally:
        index.close()


def test_killed_rebuilds_leave_the_old_or_the_new_index(tmp_path: Path) -> None:
    rng = random.Random(1234)
    index_dir = tmp_path / "index"
    live = (N_DOCUMENTS, 0)
    duration = complete_build(index_dir, *live)
    outcomes: list[str] = []
    for trial in range(1, TRIALS + 1):
        new = (N_DOCUMENTS + trial, trial)
        process = start_build(index_dir, *new)
        time.sleep(rng.uniform(0.0, duration * 1.1))
        process.kill()
        process.communicate(timeout=30)
        outcome = check_index(index_dir, {"old": live, "new": new})
        outcomes.append(outcome)
        if outcome == "new":
            live = new
    assert "old" in outcomes, f"no kill landed mid-build: {outcomes}"

    final = (N_DOCUMENTS - 1, TRIALS + 1)
    complete_build(index_dir, *final)
    assert check_index(index_dir, {"final": final}) == "final"
    generation = (index_dir / POINTER_FILE).read_text().strip()
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(
        [POINTER_FILE, LOCK_FILE, MARKER_FILE, generation]
    ), "leftovers of the killed builds were not cleaned"
