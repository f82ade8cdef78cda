"""Tests for corpus.collection: walking folders, skipping bad files, titles.

A file that cannot be used never stops the others; it is skipped with a
warning that names it. A path that does not exist is an error, not a skip.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from corpus.collection import (
    COLLECTION_MANIFEST,
    MAX_TITLE_CHARS,
    default_collection_dir,
    discover_files,
    displayable_path,
    document_id,
    load_collection,
    usable_title,
)
from corpus.errors import CollectionError

GOOD_TEXT = "Lei Jun founded Xiaomi in 2010. He was born in Xiantao.\n"


def write(folder: Path, name: str, data: str | bytes = GOOD_TEXT) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def loaded_names(report) -> list[str]:
    return sorted(Path(d.source_path).name for d in report.documents)


def test_unsupported_file_is_skipped_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "notes.txt")
    write(tmp_path, "photo.jpeg", b"\xff\xd8\xff\xe0 not text")
    write(tmp_path, "Makefile", "all:\n")
    with caplog.at_level(logging.WARNING):
        report = load_collection([tmp_path])
    assert loaded_names(report) == ["notes.txt"]
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"photo.jpeg", "Makefile"}
    assert "'.jpeg'" in skipped["photo.jpeg"] and ".txt" in skipped["photo.jpeg"]
    assert "photo.jpeg" in caplog.text and "Makefile" in caplog.text


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02garbage bytes that are not a pdf" * 20,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n%%EOF" + b"\xff" * 50,
        b"%PDF-",
    ],
    ids=["random bytes", "truncated structure", "header only"],
)
def test_corrupt_pdf_is_skipped_and_the_others_are_loaded(
    tmp_path: Path, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "a.txt")
    write(tmp_path, "x.pdf", garbage)
    write(tmp_path, "sub/b.md", "# Bee\n\nXiaomi makes phones.\n")
    with caplog.at_level(logging.WARNING):
        report = load_collection([tmp_path])
    assert loaded_names(report) == ["a.txt", "b.md"]
    assert [Path(s.path).name for s in report.skipped] == ["x.pdf"]
    assert report.skipped[0].path == str((tmp_path / "x.pdf").resolve())
    reason = report.skipped[0].reason
    assert "PDF" in reason and str(tmp_path) not in reason, "the path is not repeated"
    assert f"Skipped {report.skipped[0].path}: {reason}" in caplog.text


def test_nonexistent_path_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "a.txt")
    missing = tmp_path / "no-such-folder"
    with pytest.raises(CollectionError, match="no-such-folder does not exist"):
        load_collection([tmp_path, missing])


def test_no_paths_is_an_error() -> None:
    with pytest.raises(CollectionError, match="No paths given"):
        load_collection([])


def test_hidden_files_and_folders_are_skipped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Hidden names are not read, but never left out silently: each hidden
    file, and each hidden folder (once, not its contents), is named."""
    write(tmp_path, "visible.txt")
    write(tmp_path, ".hidden.txt")
    write(tmp_path, ".git/objects/readme.txt")
    write(tmp_path, "sub/.cache/notes.md")
    write(tmp_path, ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(tmp_path, "..\\..\\evil_backslash.txt")
    with caplog.at_level(logging.WARNING):
        report = load_collection([tmp_path])
    assert loaded_names(report) == ["visible.txt"]
    skipped = {str(Path(s.path).relative_to(tmp_path)): s.reason for s in report.skipped}
    assert set(skipped) == {
        ".hidden.txt",
        ".git",
        "sub/.cache",
        ".DS_Store",
        "..\\..\\evil_backslash.txt",
    }
    assert "hidden folder" in skipped[".git"] and "hidden file" in skipped[".hidden.txt"]
    for name in skipped:
        assert name in caplog.text


def test_links_to_folders_and_special_files_are_skipped_and_named(tmp_path: Path) -> None:
    write(tmp_path, "a/x.txt")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "a" / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(tmp_path / "a" / "pipe.txt")
    report = load_collection([tmp_path])
    assert loaded_names(report) == ["x.txt"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"loop", "broken.txt", "pipe.txt"}
    assert "link to a folder" in reasons["loop"]
    assert "not a regular file" in reasons["broken.txt"] == reasons["pipe.txt"]


def test_folder_inside_a_hidden_folder_given_explicitly_is_walked(tmp_path: Path) -> None:
    write(tmp_path, ".config/docs/a.txt")
    assert loaded_names(load_collection([tmp_path / ".config" / "docs"])) == ["a.txt"]


def test_collection_json_titles_are_used(tmp_path: Path) -> None:
    write(tmp_path, "a.txt")
    write(tmp_path, "b_second-file.txt")
    write(tmp_path, "c.md", "# Markdown Heading\n\nXiaomi.\n")
    manifest = {
        "documents": [
            {"file": "a.txt", "title": "The First Document"},
            {"file": "c.md", "title": "  Spaced\n  Title "},
            {"file": "missing.txt", "title": "Nobody"},
        ]
    }
    write(tmp_path, COLLECTION_MANIFEST, json.dumps(manifest))
    report = load_collection([tmp_path])
    titles = {Path(d.source_path).name: d.title for d in report.documents}
    assert titles == {
        "a.txt": "The First Document",
        "b_second-file.txt": "B second file",
        "c.md": "Spaced Title",
    }
    assert report.skipped == [], "collection.json itself is not a skipped file"


@pytest.mark.parametrize(
    "manifest",
    ["{not json", "[1, 2, 3]", '{"documents": "nope"}', '{"documents": ["a.txt"]}', "\xff"],
)
def test_malformed_collection_json_is_ignored_with_a_warning(
    tmp_path: Path, manifest: str, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "a.txt")
    write(tmp_path, COLLECTION_MANIFEST, manifest)
    with caplog.at_level(logging.WARNING):
        report = load_collection([tmp_path])
    assert [d.title for d in report.documents] == ["A"]


def test_default_collection_loads_with_its_titles() -> None:
    report = load_collection([default_collection_dir()])
    assert report.skipped == []
    assert sorted(d.title for d in report.documents) == [
        "Lei Jun: a short biography",
        "Xiaomi Founder Lei Jun: The People's Entrepreneur",
    ]


def test_empty_and_whitespace_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "good.txt")
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "blank.md", " \n\t\n\u00a0\n")
    report = load_collection([tmp_path])
    assert loaded_names(report) == ["good.txt"]
    assert sorted(Path(s.path).name for s in report.skipped) == ["blank.md", "empty.txt"]


def test_a_file_given_twice_is_loaded_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt")
    (tmp_path / "link.txt").symlink_to(path)
    report = load_collection([tmp_path, path, tmp_path / "." / "a.txt"])
    assert len(report.documents) == 1


def test_symlink_loops_and_broken_links_do_not_hang_or_fail(tmp_path: Path) -> None:
    write(tmp_path, "a/x.txt")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    (tmp_path / "a" / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    assert loaded_names(load_collection([tmp_path])) == ["x.txt"]


def test_single_unsupported_file_given_directly_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "data.ods", "a,b\n1,2\n")
    files, skipped = discover_files([path])
    assert files == [] and [Path(s.path).name for s in skipped] == ["data.ods"]


def test_suffixes_are_case_insensitive(tmp_path: Path) -> None:
    write(tmp_path, "LOUD.TXT")
    write(tmp_path, "Page.HTM", "<html><body><p>Hello from HTML.</p></body></html>")
    assert loaded_names(load_collection([tmp_path])) == ["LOUD.TXT", "Page.HTM"]


def test_document_ids_are_stable_and_distinct_for_same_names(tmp_path: Path) -> None:
    a = write(tmp_path, "one/notes.txt")
    b = write(tmp_path, "two/notes.txt")
    assert document_id(a) == document_id(tmp_path / "one" / "." / "notes.txt")
    assert document_id(a) != document_id(b)
    report = load_collection([tmp_path])
    assert len({d.doc_id for d in report.documents}) == 2


def test_a_long_title_is_cut_so_it_leaves_room_for_the_passage(tmp_path: Path) -> None:
    long_heading = "# " + "Very long heading word " * 40 + "\n\nLei Jun founded Xiaomi.\n"
    write(tmp_path, "long.md", long_heading)
    (document,) = load_collection([tmp_path]).documents
    assert len(document.title) <= MAX_TITLE_CHARS
    assert document.title.startswith("Very long heading word") and document.title.endswith("…")


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        (None, None),
        ("", None),
        ("  \n ", None),
        ("Plain", "Plain"),
        ("a\tb\nc", "a b c"),
        ("PDF\ud800 title\x00\x07", "PDF title"),
        ("Annual \u202eroper\u202c report", "Annual roper report"),
        ("first line\nsecond\u2028line", "first line second\u2028line".replace("\u2028", " ")),
        ("雷" * 400, "雷" * (MAX_TITLE_CHARS - 1) + "…"),
    ],
)
def test_usable_title(raw: str | None, title: str | None) -> None:
    assert usable_title(raw) == title


# --- file names that are not UTF-8, or carry control and bidirectional characters ---


def bytes_name(folder: Path, name: bytes) -> Path:
    """A path whose file name is exactly ``name`` as the file system holds it."""
    return folder / os.fsdecode(name)


def test_a_file_name_that_is_not_utf8_is_loaded_under_a_safe_id(tmp_path: Path) -> None:
    bad = bytes_name(tmp_path, b"latin1_\xe9\xff.txt")
    bad.write_text("Some text in a file whose name is Latin-1.\n", encoding="utf-8")
    other = bytes_name(tmp_path, b"latin1_\xe8\xff.txt")  # differs in one undecodable byte
    other.write_text("Other text.\n", encoding="utf-8")
    write(tmp_path, "good.txt")
    report = load_collection([tmp_path])
    assert report.skipped == []
    by_name = {Path(d.source_path).name: d for d in report.documents}
    assert set(by_name) == {"latin1_\\xe9\\xff.txt", "latin1_\\xe8\\xff.txt", "good.txt"}
    document = by_name["latin1_\\xe9\\xff.txt"]
    assert document.doc_id == document_id(bad) != document_id(other)
    assert document.doc_id.startswith("latin1-")
    assert document.title == "Latin1 \ufffd\ufffd"
    for d in report.documents:  # everything stored can be written as UTF-8
        for text in (d.doc_id, d.title, d.source_path):
            text.encode("utf-8")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain name.txt", "plain name.txt"),
        ("雷军 传记.txt", "雷军 传记.txt"),
        (os.fsdecode(b"caf\xe9.txt"), "caf\\xe9.txt"),
        ("new\nline.txt", "new\\nline.txt"),
        ("tab\tand\x1b[31mred.txt", "tab\\tand\\x1b[31mred.txt"),
        ("invoice_\u202egnp.exe", "invoice_\\u202egnp.exe"),
        ("zero\u200bwidth\u2066isolate.txt", "zero\\u200bwidth\\u2066isolate.txt"),
        ("..\\..\\evil_backslash.txt", "..\\..\\evil_backslash.txt"),
    ],
)
def test_displayable_path_is_writable_and_unambiguous(name: str, shown: str) -> None:
    assert displayable_path(Path("/docs") / name) == f"/docs/{shown}"
    assert displayable_path(name).encode("utf-8").decode("utf-8").isprintable()


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("report_\u202egnp.exe.txt", "Report gnp.exe"),
        ("new\nline.txt", "New line"),
        ("bell\x07and\x7fdel\x9bcsi.txt", "Bell and del csi"),
        ("\u2067isolated\u2069 \u200fmarks\u200e.md", "Isolated marks"),
        ("tag\U000e0041\U000e0042s.txt", "Tags"),
    ],
)
def test_titles_from_odd_file_names_have_no_control_or_bidi_characters(
    tmp_path: Path, name: str, title: str
) -> None:
    write(tmp_path, name, "Plain text without a heading.\n")
    (document,) = load_collection([tmp_path]).documents
    assert document.title == title
    assert document.title.isprintable()
    assert document.source_path.isprintable(), "the shown path escapes them"
