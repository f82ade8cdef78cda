"""Tests for ui.uploads: uploaded files land in the uploads folder and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus.loaders import SUPPORTED_SUFFIXES
from ui.uploads import (
    UploadError,
    UploadPolicy,
    discard_temporary,
    remove_stored,
    safe_filename,
    store_uploads,
)

POLICY = UploadPolicy(max_bytes=1000, allowed_suffixes=SUPPORTED_SUFFIXES, max_files=3)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("notes.txt", "notes.txt"),
        ("My Notes (final).md", "My Notes _final_.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/job.txt", "job.txt"),
        ("C:\\Users\\me\\evil.txt", "evil.txt"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        (".bashrc.txt", "bashrc.txt"),
        ("...hidden.md", "hidden.md"),
        ("  spaced  .txt ", "spaced.txt"),
        ("trailing dots.txt...", "trailing dots.txt"),
        ("REPORT.PDF", "REPORT.pdf"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("semi;colon|pipe&amp.html", "semi_colon_pipe_amp.html"),
        ("<script>alert(1)</script>.html", "script_.html"),  # "/" ends a folder name
        ("<b onmouseover=x>.html", "_b onmouseover_x_.html"),
        ("Passwörter.txt", "Passw_rter.txt"),
        ("ＦＵＬＬＷＩＤＴＨ.txt", "FULLWIDTH.txt"),  # NFKC first
        ("noextension", "noextension"),
        ("x" * 300 + ".txt", "x" * 116 + ".txt"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")


@pytest.mark.parametrize("name", ["", ".", "..", "...", "/", "../", "\\", " . ", "dir/..", "/.."])
def test_safe_filename_refuses_names_with_nothing_left(name: str) -> None:
    with pytest.raises(UploadError, match="not a usable file name"):
        safe_filename(name)


def test_foreign_names_get_a_stable_stand_in() -> None:
    name = safe_filename("雷军传记.txt")
    assert name.startswith("upload-") and name.endswith(".txt")
    assert safe_filename("雷军传记.txt") == name != safe_filename("小米.txt")


def everything_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(sandbox root, incoming folder, uploads folder), all inside tmp_path."""
    incoming, uploads = tmp_path / "incoming" / "deep" / "er", tmp_path / "data" / "uploads"
    incoming.mkdir(parents=True)
    return tmp_path, incoming, uploads


def incoming_file(folder: Path, content: bytes = b"Some text about Xiaomi.\n") -> Path:
    path = folder / f"tmp{len(list(folder.iterdir()))}"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "hostile",
    [
        "../../escape.txt",
        "../data/escape.txt",
        "/tmp/escape.txt",
        "..\\..\\escape.txt",
        "uploads/../../escape.txt",
        "escape.txt/../../../x.txt",
    ],
)
def test_nothing_is_written_outside_the_uploads_folder(layout, hostile: str) -> None:
    root, incoming, uploads = layout
    source = incoming_file(incoming)
    before = everything_under(root)
    absolute_existed = Path("/tmp/escape.txt").exists()
    stored = store_uploads([(hostile, source)], uploads, POLICY)
    assert len(stored.saved) == 1 and not stored.refused
    saved = stored.saved[0]
    assert saved.parent == uploads.resolve()
    assert saved.read_bytes() == source.read_bytes()
    created = everything_under(root) - before
    assert created <= {Path("data"), Path("data/uploads"), Path("data/uploads") / saved.name}
    assert Path("/tmp/escape.txt").exists() == absolute_existed


def test_refusals_name_the_file_and_say_why(layout) -> None:
    _, incoming, uploads = layout
    files = [
        ("good.txt", incoming_file(incoming)),
        ("program.exe", incoming_file(incoming)),
        ("README", incoming_file(incoming)),
        ("..", incoming_file(incoming)),
    ]
    stored = store_uploads(files, uploads, UploadPolicy(1000, SUPPORTED_SUFFIXES, max_files=10))
    assert [p.name for p in stored.saved] == ["good.txt"]
    reasons = {r.name: r.reason for r in stored.refused}
    assert ".exe is not a supported type" in reasons["program.exe"]
    assert ".txt" in reasons["program.exe"] and ".pdf" in reasons["program.exe"]
    assert "without an extension" in reasons["README"]
    assert "not a usable file name" in reasons[".."]
    assert sorted(p.name for p in uploads.iterdir()) == ["good.txt"]


def test_too_big_and_empty_files_are_refused(layout) -> None:
    _, incoming, uploads = layout
    stored = store_uploads(
        [
            ("big.txt", incoming_file(incoming, b"x" * 1001)),
            ("edge.txt", incoming_file(incoming, b"x" * 1000)),
            ("empty.md", incoming_file(incoming, b"")),
        ],
        uploads,
        POLICY,
    )
    assert [p.name for p in stored.saved] == ["edge.txt"]
    reasons = {r.name: r.reason for r in stored.refused}
    assert "larger than the 0.0 MB limit" in reasons["big.txt"]
    assert reasons["empty.md"] == "is empty"
    assert sorted(p.name for p in uploads.iterdir()) == ["edge.txt"]  # no .part- leftovers


def test_too_many_files_at_once(layout) -> None:
    _, incoming, uploads = layout
    files = [(f"f{i}.txt", incoming_file(incoming)) for i in range(5)]
    stored = store_uploads(files, uploads, POLICY)
    assert len(stored.saved) == 3
    assert [r.name for r in stored.refused] == ["f3.txt", "f4.txt"]
    assert "only 3 files" in stored.refused[0].reason


def test_missing_source_is_refused(layout) -> None:
    _, incoming, uploads = layout
    stored = store_uploads([("gone.txt", incoming / "missing")], uploads, POLICY)
    assert not stored.saved and "upload it again" in stored.refused[0].reason


def test_same_name_twice_in_one_upload_is_deduplicated(layout) -> None:
    _, incoming, uploads = layout
    first, second = incoming_file(incoming, b"first\n"), incoming_file(incoming, b"second\n")
    stored = store_uploads([("a/notes.txt", first), ("b/NOTES.txt", second)], uploads, POLICY)
    assert [p.name for p in stored.saved] == ["notes.txt", "NOTES-2.txt"]
    assert [p.read_bytes() for p in stored.saved] == [b"first\n", b"second\n"]


def test_a_later_upload_with_the_same_name_replaces_the_file(layout) -> None:
    _, incoming, uploads = layout
    store_uploads([("notes.txt", incoming_file(incoming, b"old\n"))], uploads, POLICY)
    stored = store_uploads([("notes.txt", incoming_file(incoming, b"new\n"))], uploads, POLICY)
    assert (uploads / "notes.txt").read_bytes() == b"new\n"
    assert stored.saved == [uploads.resolve() / "notes.txt"]


def test_a_symlink_planted_in_the_uploads_folder_is_replaced_not_followed(layout) -> None:
    root, incoming, uploads = layout
    uploads.mkdir(parents=True)
    target = root / "victim.txt"
    target.write_text("precious\n")
    os.symlink(target, uploads / "notes.txt")
    store_uploads([("notes.txt", incoming_file(incoming, b"upload\n"))], uploads, POLICY)
    assert target.read_text() == "precious\n"
    assert not (uploads / "notes.txt").is_symlink()
    assert (uploads / "notes.txt").read_bytes() == b"upload\n"


def test_remove_stored_only_touches_the_uploads_folder(layout) -> None:
    root, incoming, uploads = layout
    stored = store_uploads([("x.txt", incoming_file(incoming))], uploads, POLICY)
    outside = root / "outside.txt"
    outside.write_text("keep\n")
    remove_stored([*stored.saved, outside], uploads)
    assert outside.exists() and not any(uploads.iterdir())


def test_discard_temporary_removes_the_copy_and_its_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "gradio" / "abc123"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("x")
    discard_temporary([folder / "notes.txt", tmp_path / "never-existed.txt"])
    assert not folder.exists() and (tmp_path / "gradio").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_files": 0}, "max_files"),
        ({"allowed_suffixes": frozenset()}, "allowed_suffixes"),
    ],
)
def test_policy_checks_itself(changes, message) -> None:
    fields = {"max_bytes": 10, "allowed_suffixes": frozenset({".txt"}), "max_files": 1}
    with pytest.raises(ValueError, match=message):
        UploadPolicy(**{**fields, **changes})
