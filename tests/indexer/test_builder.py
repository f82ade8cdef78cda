"""Tests for indexer.builder: incremental re-indexing, the manifest, offsets,
the folder it refuses to touch, and the lock against a second build."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from corpus.chunking import ChunkingConfig
from corpus.documents import Document, content_hash
from corpus.errors import CollectionError, ConfigError, IndexWriteError, SavedIndexError
from indexer.builder import BuildReport, IndexBuilder
from indexer.layout import LOCK_FILE, MARKER_FILE, POINTER_FILE
from indexer.manifest import FORMAT_VERSION, file_sha256
from indexer.vector_index import search
from tests.fakes import HashEmbedder, RecordingEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document, make_documents, open_index

Build = Callable[..., BuildReport]


def stored_chunk_texts(index_dir: Path) -> dict[str, list[str]]:
    index = open_index(index_dir)
    try:
        by_doc: dict[str, list[str]] = {}
        for chunk in index.store.all_chunks():
            by_doc.setdefault(chunk.doc_id, []).append(chunk.text)
        return by_doc
    finally:
        index.close()


def assert_offsets_point_at_the_text(index_dir: Path) -> None:
    index = open_index(index_dir)
    try:
        chunks = index.store.all_chunks()
        assert chunks
        for chunk in chunks:
            document = index.store.document(chunk.doc_id)
            assert document is not None
            assert document.text[chunk.start : chunk.end] == chunk.text
    finally:
        index.close()


# --- incremental re-indexing ------------------------------------------------------


def test_first_build_embeds_every_chunk(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    report = build(make_documents(4), tmp_path / "index")
    assert report.n_documents == 4 and report.n_chunks > 4
    assert report.n_embedded == report.n_chunks == embedder.texts_embedded
    assert report.n_reused == 0
    assert len(report.added) == 4 and report.changed == report.removed == []


def test_unchanged_rebuild_embeds_nothing(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    documents = make_documents(4)
    first = build(documents, tmp_path / "index")
    chunks = stored_chunk_texts(tmp_path / "index")
    before = embedder.texts_embedded
    again = build(documents, tmp_path / "index")
    assert embedder.texts_embedded == before
    assert again.n_embedded == 0 and again.n_reused == first.n_chunks
    assert again.added == again.changed == again.removed == []
    assert stored_chunk_texts(tmp_path / "index") == chunks


def test_rebuild_embeds_only_new_and_changed_documents_and_drops_deleted(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    index_dir = tmp_path / "index"
    documents = make_documents(5)
    build(documents, index_dir)
    before = embedder.texts_embedded

    changed = make_document(1, version=100)  # every sentence different
    added = make_document(7)
    deleted = documents[3]
    new_documents = [documents[0], changed, documents[2], documents[4], added]
    report = build(new_documents, index_dir)

    chunks = stored_chunk_texts(index_dir)
    expected_new = len(chunks[changed.doc_id]) + len(chunks[added.doc_id])
    assert embedder.texts_embedded - before == report.n_embedded == expected_new
    assert report.n_reused == report.n_chunks - expected_new
    assert report.added == [added.source_path]
    assert report.changed == [changed.source_path]
    assert report.removed == [deleted.source_path]
    assert deleted.doc_id not in chunks
    index = open_index(index_dir)
    try:
        assert {d.doc_id for d in index.store.documents()} == {d.doc_id for d in new_documents}
        assert index.store.document(deleted.doc_id) is None
        assert index.vectors.ntotal == report.n_chunks == len(index.store)
    finally:
        index.close()
    assert_offsets_point_at_the_text(index_dir)


def test_appending_to_a_document_reuses_its_unchanged_chunks(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    index_dir = tmp_path / "index"
    original = make_document(0, sentences=20)
    build([original], index_dir)
    before = embedder.texts_embedded
    longer = dataclasses.replace(
        original, text=original.text + " A new closing sentence about Xiaomi.", content_hash=""
    )
    report = build([longer], index_dir)
    assert report.changed == [original.source_path]
    assert 0 < report.n_embedded < report.n_chunks
    assert embedder.texts_embedded - before == report.n_embedded
    assert_offsets_point_at_the_text(index_dir)


def test_a_changed_title_is_re_embedded_and_stored(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    index_dir = tmp_path / "index"
    document = make_document(0)
    first = build([document], index_dir)
    renamed = dataclasses.replace(document, title="A Brand New Title")
    report = build([renamed], index_dir)
    assert report.changed == [document.source_path]
    assert report.n_embedded == first.n_chunks, "the title is part of every embedded text"
    index = open_index(index_dir)
    try:
        assert {c.title for c in index.store.all_chunks()} == {"A Brand New Title"}
        stored = index.store.document(document.doc_id)
        assert stored is not None and stored.title == "A Brand New Title"
        assert [e.title for e in index.manifest.documents] == ["A Brand New Title"]
    finally:
        index.close()


def test_new_chunking_settings_rechunk_but_reuse_identical_vectors(
    tmp_path: Path, build: Build, embedder: HashEmbedder
) -> None:
    index_dir = tmp_path / "index"
    documents = make_documents(3)
    build(documents[:2], index_dir, ChunkingConfig(max_tokens=48, overlap_tokens=0))
    report = build(documents[1:], index_dir, ChunkingConfig(max_tokens=48, overlap_tokens=20))
    assert report.added == [documents[2].source_path]
    assert report.removed == [documents[0].source_path]
    assert report.changed == []
    index = open_index(index_dir)
    try:
        assert index.manifest.chunking == {"max_tokens": 48, "overlap_tokens": 20}
    finally:
        index.close()
    assert_offsets_point_at_the_text(index_dir)


def test_reused_vectors_equal_freshly_embedded_ones(tmp_path: Path, build: Build) -> None:
    index_dir = tmp_path / "index"
    documents = make_documents(3)
    build(documents[:2], index_dir)
    build(documents, index_dir)
    index = open_index(index_dir)
    try:
        texts = [c.embedding_text for c in index.store.all_chunks()]
        np.testing.assert_allclose(index.embeddings(), HashEmbedder().embed(texts), atol=1e-6)
    finally:
        index.close()


def test_documents_with_unicode_keep_exact_offsets(tmp_path: Path, build: Build) -> None:
    text = "雷军创办了小米。" * 40 + " Lei Jun 😀 likes phones. " * 20 + "Café naïve. " * 20
    document = Document(doc_id="u", title="Unicode", source_path="/u.txt", text=text)
    build([document], tmp_path / "index")
    assert_offsets_point_at_the_text(tmp_path / "index")


# --- what the build leaves on disk --------------------------------------------------


def test_manifest_records_how_the_index_was_made(tmp_path: Path, build: Build) -> None:
    index_dir = tmp_path / "index"
    documents = make_documents(3)
    report = build(documents, index_dir)
    index = open_index(index_dir)
    try:
        manifest = index.manifest
        assert manifest.format_version == FORMAT_VERSION
        assert manifest.embedding_model == HashEmbedder.model_name
        assert manifest.embedding_dimension == HashEmbedder().dimension
        assert manifest.chunking == dataclasses.asdict(SMALL_CHUNKS)
        assert manifest.n_chunks == report.n_chunks
        assert manifest.vector_index["type"] == "flat"
        assert {e.doc_id: e.content_hash for e in manifest.documents} == {
            d.doc_id: content_hash(d.text) for d in documents
        }
        assert sum(e.n_chunks for e in manifest.documents) == report.n_chunks
        names = set(manifest.files)
        assert {"chunks.sqlite", "embeddings.npy", "vectors.faiss"} <= names
        assert any(name.startswith("bm25/") for name in names)
        on_disk = {
            str(p.relative_to(index.directory))
            for p in index.directory.rglob("*")
            if p.is_file() and p.name != "manifest.json"
        }
        assert names == on_disk, "every file is covered by a checksum"
        for name, entry in manifest.files.items():
            assert entry.sha256 == file_sha256(index.directory / name)
            assert entry.bytes == (index.directory / name).stat().st_size
        assert manifest.checksum == manifest.content_checksum()
    finally:
        index.close()


def test_only_the_live_generation_remains_after_builds(tmp_path: Path, build: Build) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    (index_dir / ".building-deadbeef").mkdir()
    (index_dir / ".building-deadbeef" / "chunks.sqlite").write_bytes(b"half")
    (index_dir / "gen-000077").mkdir()
    (index_dir / ".building-pointer-1234").write_text("gen-000077\n")
    build(make_documents(3), index_dir)
    live = (index_dir / POINTER_FILE).read_text().strip()
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(
        [POINTER_FILE, LOCK_FILE, MARKER_FILE, live]
    )


def test_search_finds_the_right_document(tmp_path: Path, build: Build) -> None:
    documents = make_documents(6)
    build(documents, tmp_path / "index")
    index = open_index(tmp_path / "index")
    try:
        target = index.store.all_chunks()[7]
        _, rows = search(index.vectors, HashEmbedder().embed([target.embedding_text]), 3)
        assert int(rows[0][0]) == 7
        scores, keyword_rows = index.keywords.search("televisions", 5)
        found = index.store.chunks_by_rows([int(r) for r in keyword_rows])
        assert found and all("televisions" in c.embedding_text for c in found)
        assert (scores > 0).all()
    finally:
        index.close()


def test_chunks_with_title_fit_the_embedding_model(tmp_path: Path) -> None:
    embedder = HashEmbedder(max_tokens=100)
    long_title = " ".join(["Extremely"] * 30)
    document = make_document(0, sentences=40, title=long_title)
    IndexBuilder(embedder, ChunkingConfig(max_tokens=90, overlap_tokens=10)).build(
        [document], tmp_path / "index"
    )
    index = open_index(tmp_path / "index")
    try:
        for chunk in index.store.all_chunks():
            assert embedder.count_tokens(chunk.embedding_text) <= embedder.max_tokens
    finally:
        index.close()


def test_chunk_budget_over_the_model_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_tokens=160"):
        IndexBuilder(HashEmbedder(max_tokens=128), ChunkingConfig(max_tokens=160))


# --- what the build refuses ----------------------------------------------------------


def test_refuses_a_folder_with_foreign_files_and_deletes_nothing(
    tmp_path: Path, build: Build
) -> None:
    folder = tmp_path / "my-documents"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"precious")
    (folder / "notes").mkdir()
    (folder / "notes" / "a.txt").write_text("keep me")
    (folder / ".building-x").mkdir()  # looks like ours, must survive too
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    with pytest.raises(
        SavedIndexError, match=r"not a ragqa index \(.building-x, notes, thesis.docx\)"
    ):
        build(make_documents(1), folder)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before
    assert (folder / "thesis.docx").read_bytes() == b"precious"


def test_refuses_a_file_as_index_folder(tmp_path: Path, build: Build) -> None:
    path = tmp_path / "index"
    path.write_text("not a folder")
    with pytest.raises(SavedIndexError, match="is a file"):
        build(make_documents(1), path)
    assert path.read_text() == "not a folder"


def test_refuses_an_empty_build_and_keeps_the_index(tmp_path: Path, build: Build) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    pointer = (index_dir / POINTER_FILE).read_text()
    with pytest.raises(CollectionError, match="No documents to index"):
        build([], index_dir)
    assert (index_dir / POINTER_FILE).read_text() == pointer
    assert len(stored_chunk_texts(index_dir)) == 2


def test_refuses_duplicate_document_ids(tmp_path: Path, build: Build) -> None:
    document = make_document(0)
    with pytest.raises(ConfigError, match="doc_id"):
        build([document, document], tmp_path / "index")


class BlockingEmbedder(HashEmbedder):
    """Waits in ``embed`` until released, so a build can be caught mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.entered.set()
        assert self.release.wait(10), "test did not release the embedder"
        return super().embed(texts, show_progress=show_progress)


def test_a_second_concurrent_build_is_refused(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    slow = BlockingEmbedder()
    errors: list[BaseException] = []

    def first_build() -> None:
        try:
            IndexBuilder(slow, SMALL_CHUNKS).build(make_documents(3), index_dir)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=first_build)
    thread.start()
    try:
        assert slow.entered.wait(10)
        with pytest.raises(SavedIndexError, match=r"Another `ragqa index` is writing to"):
            IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(make_documents(1), index_dir)
    finally:
        slow.release.set()
        thread.join(20)
    assert not errors
    assert len(stored_chunk_texts(index_dir)) == 3, "the first build finished untouched"


def test_a_build_in_another_process_holding_the_lock_is_respected(
    tmp_path: Path, build: Build
) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(1), index_dir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('locked', flush=True); sys.stdin.read()",
            str(index_dir / LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(SavedIndexError, match="wait for it to finish"):
            build(make_documents(2), index_dir)
    finally:
        holder.communicate("", timeout=10)
    with (index_dir / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with its holder
    build(make_documents(2), index_dir)
    assert len(stored_chunk_texts(index_dir)) == 2


# --- what a failed build leaves (issue 16, item 2) ---------------------------------


def _raise(error: BaseException) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    return fail


DISK_FULL = [
    pytest.param(
        "faiss.write_index",
        RuntimeError(
            "Error in faiss::FileIOWriter::operator()(...) at faiss/impl/io.cpp:100: Error "
            "'ret == (n)' failed: write error in /idx/vectors.faiss: 0 != 1 "
            "(No space left on device)"
        ),
        id="faiss",
    ),
    pytest.param(
        "indexer.local_store.write_chunk_store",
        sqlite3.OperationalError("database or disk is full"),
        id="sqlite",
    ),
    pytest.param(
        "indexer.local_store.build_keyword_index",
        OSError(errno.ENOSPC, "No space left on device", "/idx/bm25/vocab.index.json"),
        id="bm25",
    ),
]


@pytest.mark.parametrize(("target", "error"), DISK_FULL)
def test_a_full_disk_is_reported_in_one_line_and_the_partial_build_removed(
    tmp_path: Path, build: Build, monkeypatch: pytest.MonkeyPatch, target: str, error: Exception
) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    before = sorted(p.name for p in index_dir.iterdir())
    pointer = (index_dir / POINTER_FILE).read_text()
    monkeypatch.setattr(target, _raise(error))
    with pytest.raises(IndexWriteError) as raised:
        build(make_documents(5), index_dir)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("The disk is full") and str(index_dir) in message
    assert "mounted at /" in message and "free of" in message and "left as it was" in message
    assert sorted(p.name for p in index_dir.iterdir()) == before, "no partial build is left"
    assert (index_dir / POINTER_FILE).read_text() == pointer
    assert len(stored_chunk_texts(index_dir)) == 2, "the old index still opens, as it was"


def test_a_folder_that_cannot_be_written_is_reported_and_cleaned(
    tmp_path: Path, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    before = sorted(p.name for p in index_dir.iterdir())
    denied = PermissionError(errno.EACCES, "Permission denied", str(index_dir / "x"))
    monkeypatch.setattr("indexer.local_store.build_keyword_index", _raise(denied))
    with pytest.raises(IndexWriteError, match=r"Could not write the index at .*Permission denied"):
        build(make_documents(5), index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == before


def test_an_interrupted_build_removes_its_partial_generation(
    tmp_path: Path, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    before = sorted(p.name for p in index_dir.iterdir())
    monkeypatch.setattr("indexer.local_store.build_keyword_index", _raise(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        build(make_documents(5), index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == before


# --- which folders are ours (issue 16, items 3 and 4) ---------------------------------


def test_a_folder_with_our_names_but_no_marker_is_refused_untouched(
    tmp_path: Path, build: Build
) -> None:
    folder = tmp_path / "mine"
    (folder / "gen-000001").mkdir(parents=True)
    (folder / POINTER_FILE).write_text("my reading list\n")
    (folder / "gen-000001" / "photos.txt").write_text("holiday photos\n")
    (folder / ".building-permit.pdf").write_bytes(b"%PDF-1.4 permit")
    (folder / LOCK_FILE).write_text("")
    before = {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(SavedIndexError, match=r"is not a ragqa index \(.building-permit.pdf, CURR"):
        build(make_documents(1), folder)
    assert {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_an_index_made_before_the_marker_is_still_ours(tmp_path: Path, build: Build) -> None:
    index_dir = tmp_path / "index"
    build(make_documents(2), index_dir)
    (index_dir / MARKER_FILE).unlink()  # as ragqa wrote indexes before the marker
    (index_dir / ".building-0123456789ab").mkdir()  # and a crashed build's leftovers
    report = build(make_documents(3), index_dir)
    assert report.n_reused > 0, "the old generation was recognised by its manifest"
    assert (index_dir / MARKER_FILE).is_file()
    assert not (index_dir / ".building-0123456789ab").exists()


def test_an_empty_folder_or_one_with_only_our_lock_file_is_usable(
    tmp_path: Path, build: Build
) -> None:
    for name in ("empty", "locked"):
        (tmp_path / name).mkdir()
    (tmp_path / "locked" / LOCK_FILE).write_text("")
    for name in ("empty", "locked"):
        build(make_documents(1), tmp_path / name)
        assert len(stored_chunk_texts(tmp_path / name)) == 1


# --- memory stays flat: vectors stream to disk (issue 16, item 7) --------------------


def test_chunks_are_embedded_a_window_at_a_time_and_written_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("indexer.builder.EMBED_WINDOW", 8)
    embedder = RecordingEmbedder()
    documents = [make_document(n, sentences=30) for n in range(4)]
    report = IndexBuilder(embedder, SMALL_CHUNKS).build(documents, tmp_path / "index")
    assert report.n_chunks > 3 * 8
    assert max(embedder.call_sizes) <= 8, "never the whole collection at once"
    assert sum(embedder.call_sizes) == report.n_chunks
    index = open_index(tmp_path / "index")
    try:
        chunks = index.store.all_chunks()
        expected = HashEmbedder().embed([c.embedding_text for c in chunks])
        np.testing.assert_array_equal(np.asarray(index.embeddings()), expected)
    finally:
        index.close()

    # A re-index with one changed document embeds only its chunks, still in windows.
    embedder.call_sizes.clear()
    documents[2] = make_document(2, version=1, sentences=30)
    report = IndexBuilder(embedder, SMALL_CHUNKS).build(documents, tmp_path / "index")
    assert 0 < report.n_embedded < report.n_chunks
    assert sum(embedder.call_sizes) == report.n_embedded and max(embedder.call_sizes) <= 8
    index = open_index(tmp_path / "index")
    try:
        chunks = index.store.all_chunks()
        expected = HashEmbedder().embed([c.embedding_text for c in chunks])
        np.testing.assert_allclose(np.asarray(index.embeddings()), expected, atol=1e-6)
    finally:
        index.close()
