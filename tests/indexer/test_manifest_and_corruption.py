"""A damaged or foreign index is detected before use, reported with how to
rebuild, and never loaded: FAISS never sees a file that failed its checksum.

Each case damages one file of a built generation (truncate, flip a byte,
delete, swap in the same file from another index, ...), checks that opening
fails with the project's error and without any call to ``faiss.read_index``,
then checks that a rebuild works again and reuses nothing from the damage.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    SavedIndexError,
)
from indexer import saved_index as saved_index_module
from indexer import vector_index
from indexer.builder import IndexBuilder
from indexer.layout import POINTER_FILE
from indexer.manifest import FORMAT_VERSION, MANIFEST_FILE, Manifest
from indexer.saved_index import SavedIndex
from tests.fakes import HashEmbedder
from tests.indexer.helpers import SMALL_CHUNKS, make_document, make_documents, open_index

DOCUMENTS = make_documents(4)

GENERATION_FILES = [
    "chunks.sqlite",
    "embeddings.npy",
    "vectors.faiss",
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
    MANIFEST_FILE,
]


def truncate(path: Path, other: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def truncate_to_empty(path: Path, other: Path) -> None:
    path.write_bytes(b"")


def flip_a_byte(path: Path, other: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def flip_the_last_byte(path: Path, other: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))


def append_a_byte(path: Path, other: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"\x00")


def delete(path: Path, other: Path) -> None:
    path.unlink()


def swap_from_another_index(path: Path, other: Path) -> None:
    shutil.copyfile(other, path)


DAMAGE: dict[str, Callable[[Path, Path], None]] = {
    "truncate": truncate,
    "truncate-to-empty": truncate_to_empty,
    "flip-a-byte": flip_a_byte,
    "flip-the-last-byte": flip_the_last_byte,
    "append-a-byte": append_a_byte,
    "delete": delete,
    "swap-from-another-index": swap_from_another_index,
}


@pytest.fixture
def faiss_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path ``faiss.read_index`` is asked to read."""
    calls: list[str] = []
    real_read_index = vector_index.faiss.read_index

    def recording_read_index(path: str, *args: Any) -> Any:
        calls.append(path)
        return real_read_index(path, *args)

    monkeypatch.setattr(vector_index.faiss, "read_index", recording_read_index)
    return calls


@pytest.fixture(scope="module")
def other_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, different index to swap files in from."""
    index_dir = tmp_path_factory.mktemp("other") / "index"
    documents = [make_document(n, version=50) for n in range(10, 13)]
    IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(documents, index_dir)
    return index_dir / (index_dir / POINTER_FILE).read_text().strip()


def build(index_dir: Path, embedder: HashEmbedder | None = None):
    return IndexBuilder(embedder or HashEmbedder(), SMALL_CHUNKS).build(DOCUMENTS, index_dir)


def generation_of(index_dir: Path) -> Path:
    return index_dir / (index_dir / POINTER_FILE).read_text().strip()


def assert_refused(index_dir: Path, faiss_reads: list[str], error: type = SavedIndexError) -> str:
    with pytest.raises(error) as caught:
        open_index(index_dir)
    message = str(caught.value)
    assert "`ragqa index`" in message, f"no rebuild advice in: {message}"
    assert faiss_reads == [], "FAISS read a file that had not passed its checks"
    return message


def assert_rebuild_works_and_reuses_nothing(index_dir: Path) -> None:
    embedder = HashEmbedder()
    report = build(index_dir, embedder)
    assert report.n_embedded == report.n_chunks == embedder.texts_embedded, (
        "nothing may be reused from a damaged index"
    )
    index = open_index(index_dir)
    try:
        assert len(index.store) == index.vectors.ntotal == report.n_chunks
        for chunk in index.store.all_chunks():
            document = index.store.document(chunk.doc_id)
            assert document is not None
            assert document.text[chunk.start : chunk.end] == chunk.text
    finally:
        index.close()


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=list(DAMAGE))
@pytest.mark.parametrize("name", GENERATION_FILES)
def test_damaged_file_is_detected_never_loaded_and_rebuild_works(
    tmp_path: Path,
    name: str,
    damage: Callable[[Path, Path], None],
    other_index: Path,
    faiss_reads: list[str],
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    open_index(index_dir).close()
    faiss_reads.clear()
    damage(generation_of(index_dir) / name, other_index / name)
    message = assert_refused(index_dir, faiss_reads)
    assert name in message or MANIFEST_FILE in message or "manifest" in message
    assert_rebuild_works_and_reuses_nothing(index_dir)


@pytest.mark.parametrize(
    "pointer",
    [b"gen-000042\n", b"", b"\xff\xfe\x00garbage", b"../../etc\n", b".building-abc\n", b"gen-1"],
    ids=["missing generation", "empty", "binary", "path escape", "building folder", "bad name"],
)
def test_current_pointing_nowhere_is_detected(
    tmp_path: Path, pointer: bytes, faiss_reads: list[str]
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    (index_dir / ".building-abc").mkdir()
    (index_dir / POINTER_FILE).write_bytes(pointer)
    assert_refused(index_dir, faiss_reads, IndexCorruptError)
    assert_rebuild_works_and_reuses_nothing(index_dir)


def test_missing_current_is_damage_not_an_empty_place(
    tmp_path: Path, faiss_reads: list[str]
) -> None:
    """Generations without ``CURRENT`` are a damaged index (issue 16, item 4):
    reported with how to rebuild, so nothing mistakes it for no index and
    builds something else over it."""
    index_dir = tmp_path / "index"
    build(index_dir)
    (index_dir / POINTER_FILE).unlink()
    message = assert_refused(index_dir, faiss_reads, IndexCorruptError)
    assert "is damaged" in message and "gen-000001" in message and "ragqa index" in message
    assert (index_dir / "gen-000001" / MANIFEST_FILE).is_file(), "nothing was changed"
    assert_rebuild_works_and_reuses_nothing(index_dir)


def test_no_index_at_all(tmp_path: Path, faiss_reads: list[str]) -> None:
    assert "--index-dir" in assert_refused(tmp_path / "nothing", faiss_reads, IndexNotFoundError)


def edit_manifest(index_dir: Path, edit: Callable[[dict], None]) -> None:
    path = generation_of(index_dir) / MANIFEST_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def rewrite_manifest_consistently(index_dir: Path, **changes: Any) -> None:
    """Edit the manifest and recompute its own checksum, as a newer or older
    ragqa (or a careful hand) would have written it."""
    path = generation_of(index_dir) / MANIFEST_FILE
    manifest = Manifest.from_json(path.read_text(encoding="utf-8"), where=path)
    path.write_text(dataclasses.replace(manifest, **changes).to_json(), encoding="utf-8")


class OtherModelEmbedder(HashEmbedder):
    model_name = "someone/else-minilm"


def test_index_built_with_another_embedding_model_is_refused(
    tmp_path: Path, faiss_reads: list[str]
) -> None:
    index_dir = tmp_path / "index"
    IndexBuilder(OtherModelEmbedder(), SMALL_CHUNKS).build(DOCUMENTS, index_dir)
    message = assert_refused(index_dir, faiss_reads, IndexMismatchError)
    assert "someone/else-minilm" in message and HashEmbedder.model_name in message
    assert_rebuild_works_and_reuses_nothing(index_dir)


def test_manifest_edited_to_another_model_is_refused(
    tmp_path: Path, faiss_reads: list[str]
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    edit_manifest(index_dir, lambda data: data.update(embedding_model="other/model"))
    assert "other/model" in assert_refused(index_dir, faiss_reads, IndexMismatchError)
    assert_rebuild_works_and_reuses_nothing(index_dir)


@pytest.mark.parametrize("version", [FORMAT_VERSION - 1, FORMAT_VERSION + 1, 99, "2", None])
def test_manifest_of_another_format_version_is_refused(
    tmp_path: Path, version: object, faiss_reads: list[str]
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)

    def set_version(data: dict) -> None:
        if version is None:
            del data["format_version"]
        else:
            data["format_version"] = version

    edit_manifest(index_dir, set_version)
    message = assert_refused(index_dir, faiss_reads, IndexMismatchError)
    assert f"reads version {FORMAT_VERSION}" in message
    assert_rebuild_works_and_reuses_nothing(index_dir)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["documents"][0].update(title="Edited"),
        lambda d: d.update(n_chunks=d["n_chunks"] + 1),
        lambda d: d.update(embedding_dimension=32),
        lambda d: d["files"].pop("vectors.faiss"),
        lambda d: d["files"]["vectors.faiss"].update(bytes=1),
        lambda d: d.update(checksum="0" * 64),
        lambda d: d.pop("checksum"),
        lambda d: d.update(format="something-else"),
        lambda d: d.update(files=[]),
        lambda d: d["files"].update({"../../etc/passwd": {"sha256": "0", "bytes": 1}}),
    ],
    ids=[
        "title",
        "n_chunks",
        "dimension",
        "drop a file",
        "file size",
        "checksum",
        "no checksum",
        "format name",
        "files type",
        "path escape",
    ],
)
def test_hand_edited_manifest_is_refused(
    tmp_path: Path, edit: Callable[[dict], None], faiss_reads: list[str]
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    edit_manifest(index_dir, edit)
    assert_refused(index_dir, faiss_reads, IndexCorruptError)
    assert_rebuild_works_and_reuses_nothing(index_dir)


def test_manifest_that_no_longer_vouches_for_the_faiss_file_is_refused(
    tmp_path: Path, faiss_reads: list[str]
) -> None:
    """Even with a self-consistent manifest, a file it does not list is not read."""
    index_dir = tmp_path / "index"
    build(index_dir)
    path = generation_of(index_dir) / MANIFEST_FILE
    manifest = Manifest.from_json(path.read_text(encoding="utf-8"), where=path)
    files = {k: v for k, v in manifest.files.items() if k != "vectors.faiss"}
    rewrite_manifest_consistently(index_dir, files=files)
    assert "vectors.faiss" in assert_refused(index_dir, faiss_reads, IndexCorruptError)


def test_unlisted_extra_keyword_file_is_refused(tmp_path: Path, faiss_reads: list[str]) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    (generation_of(index_dir) / "bm25" / "corpus.jsonl").write_text("{}\n")
    assert "bm25/corpus.jsonl" in assert_refused(index_dir, faiss_reads, IndexCorruptError)


def test_consistent_manifest_edit_is_accepted(tmp_path: Path) -> None:
    """The self-checksum is about damage, not authorship: a manifest rewritten
    with its checksum recomputed still opens."""
    index_dir = tmp_path / "index"
    build(index_dir)
    rewrite_manifest_consistently(index_dir, created_at="2000-01-01T00:00:00+00:00")
    index = open_index(index_dir)
    assert index.manifest.created_at.startswith("2000")
    index.close()


def test_an_open_index_keeps_working_after_a_rebuild_replaces_it(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    index = open_index(index_dir)
    old_generation = index.directory
    IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(make_documents(6), index_dir)
    assert not old_generation.exists()
    try:
        assert index.embeddings().shape == (len(index.store), HashEmbedder().dimension)
        assert len(index.store.all_chunks()) == index.manifest.n_chunks
        assert index.keywords.search("scooters", 3)[1].size
    finally:
        index.close()


def test_open_retries_when_the_generation_is_replaced_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build(index_dir)
    real = saved_index_module.verified_manifest
    calls: list[Path] = []

    def rebuild_first(generation: Path, **kwargs: object) -> Manifest:
        calls.append(generation)
        if len(calls) == 1:  # a build publishes and deletes this generation now
            IndexBuilder(HashEmbedder(), SMALL_CHUNKS).build(make_documents(6), index_dir)
        return real(generation, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(saved_index_module, "verified_manifest", rebuild_first)
    index = SavedIndex.open(index_dir, embedding_model=HashEmbedder.model_name)
    try:
        assert len(calls) == 2 and calls[0] != calls[1] == index.directory
        assert len(index.manifest.documents) == 6
    finally:
        index.close()
