"""A Milvus build killed with SIGKILL leaves the old collection answering.

A child process rebuilds a Milvus Lite collection (the fake embedder; about a
second) and is killed at a marked moment: while embedding (new collections
made, nothing published) and while committing (the changed documents
written, the untouched ones being copied, the alias not yet moved). The
alias must still name the old collection, whole, and the next build must
drop what the killed one left.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.store import VectorStoreConfig, make_store
from tests.fakes import HashEmbedder
from tests.indexer.helpers import make_document

pytestmark = pytest.mark.milvus

REPO_ROOT = Path(__file__).resolve().parents[2]
N_DOCUMENTS = 40

BUILD_SCRIPT = """
import sys
from pathlib import Path

from indexer.builder import IndexBuilder
from indexer.milvus_store import MilvusWriter
from indexer.store import VectorStoreConfig, make_store
from tests.fakes import HashEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document

folder, changed, pause_at = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


class SignallingEmbedder(HashEmbedder):
    def embed(self, texts, *, show_progress=False):
        if pause_at == "embedding":
            print("embedding", flush=True)
            sys.stdin.readline()  # the parent kills us here
        return super().embed(texts, show_progress=show_progress)


commit = MilvusWriter.commit


def signalling_commit(self, **kwargs):
    if pause_at == "committing":
        print("committing", flush=True)
        sys.stdin.readline()
    return commit(self, **kwargs)


MilvusWriter.commit = signalling_commit
documents = [make_document(n, 1 if n < changed else 0) for n in range({n_documents} + 1)]
if changed == 0:
    documents = documents[:-1]
store = make_store(
    VectorStoreConfig(kind="milvus", uri=str(folder / "milvus.db"), batch_size=16),
    index_dir=folder / "notes",
    embedding_model=HashEmbedder.model_name,
)
IndexBuilder(SignallingEmbedder(), SMALL_CHUNKS).build(documents, store)
print("done", flush=True)
""".replace("{n_documents}", str(N_DOCUMENTS))


def run_build(folder: Path, changed: int, kill_at: str = "") -> None:
    """Build (``changed`` documents at version 1, one added); with ``kill_at``,
    SIGKILL the build when it reports that moment."""
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD_SCRIPT, str(folder), str(changed), kill_at or "-"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if kill_at:
        assert line == kill_at, f"the build never reached {kill_at!r} (said {line!r})"
        time.sleep(0.2)
        process.kill()
        process.wait(timeout=30)
        assert process.returncode == -9
    else:
        assert line == "done", f"the build failed: {line!r}"
        assert process.wait(timeout=60) == 0


def open_store(folder: Path):
    return make_store(
        VectorStoreConfig(kind="milvus", uri=str(folder / "milvus.db")),
        index_dir=folder / "notes",
        embedding_model=HashEmbedder.model_name,
    )


def check_live(folder: Path, *, n_documents: int, changed: int) -> tuple[str, list[str]]:
    """The live collection holds exactly the expected documents, and answers;
    returns its name and every physical collection of this ragqa collection."""
    store = open_store(folder)
    try:
        assert [e.doc_id for e in store.content().documents.values()] == [
            f"doc-{n:04d}" for n in range(n_documents)
        ]
        for number in (0, changed, n_documents - 1):
            expected = make_document(number, 1 if number < changed else 0)
            assert store.document(expected.doc_id) == expected, "a mix of old and new content"
        chunks = store.all_chunks()
        assert len(chunks) == store.count()
        assert {c.doc_id for c in chunks} == {f"doc-{n:04d}" for n in range(n_documents)}
        target = chunks[len(chunks) // 2]
        hit = store.dense_search(HashEmbedder().embed([target.embedding_text])[0], 1)[0]
        assert hit.score > 0.999
        assert store.keyword_search("scooters", 5)
        live = store.describe()["collection"]
        physical = sorted(n for n in store.client.list_collections() if not n.endswith("_docs"))
        return live, physical
    finally:
        store.close()


def test_a_killed_milvus_build_keeps_the_old_collection_answering(tmp_path: Path) -> None:
    run_build(tmp_path, changed=0)
    first, _ = check_live(tmp_path, n_documents=N_DOCUMENTS, changed=0)

    for moment in ("embedding", "committing"):
        run_build(tmp_path, changed=10, kill_at=moment)
        live, physical = check_live(tmp_path, n_documents=N_DOCUMENTS, changed=0)
        assert live == first, f"killed while {moment}, the alias moved"
        assert len(physical) == 2, f"the killed build made no collection: {physical}"

    run_build(tmp_path, changed=10)
    live, physical = check_live(tmp_path, n_documents=N_DOCUMENTS + 1, changed=10)
    assert live != first
    assert physical == sorted([first, live]), "leftovers of the killed builds were not dropped"
