"""Nothing lost, nothing hidden: the data-loss cases of issue 16, through the real CLI.

Each test runs ``ragqa`` as a user does, in a child process with its own
standard streams (not a terminal), and checks what the user sees (exit status,
one-line errors, warnings, progress) and what is left on disk. Most run the
real command with the hash-based fake embedder swapped in (``FAKE_RAGQA``), so
a build takes a second; the refusals run the installed ``ragqa`` itself (they
happen before any model loads), and one integration test indexes odd file
names with the real models.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.layout import MARKER_FILE, POINTER_FILE
from indexer.saved_index import SavedIndex
from tests.fakes import HashEmbedder

REPO_ROOT = Path(__file__).resolve().parents[2]

# The real `ragqa` command with the fake embedder swapped in. Tests tune the
# fake's speed and the progress reports through TEST_* variables, read here
# only (the product reads no such variable).
FAKE_RAGQA = """
import os, sys, time
import indexer.progress
import qa.pipeline
from tests.fakes import HashEmbedder

class SlowHashEmbedder(HashEmbedder):
    def embed(self, texts, *, show_progress=False):
        time.sleep(float(os.environ.get("TEST_EMBED_DELAY_S", "0")) * len(texts))
        return super().embed(texts, show_progress=show_progress)

qa.pipeline.make_embedder = lambda config=None: SlowHashEmbedder()
if "TEST_PROGRESS_INTERVAL_S" in os.environ:
    indexer.progress.PROGRESS_INTERVAL_S = float(os.environ["TEST_PROGRESS_INTERVAL_S"])
    indexer.progress.LONG_JOB_S = float(os.environ["TEST_LONG_JOB_S"])
from ragqa.cli import main
sys.exit(main(sys.argv[1:]))
"""

TEXT = (
    "Lei Jun founded Xiaomi in 2010. He was born in Xiantao, Hubei, in 1969. "
    "He studied computer science at Wuhan University.\n"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _environment(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RAGQA_", "TEST_"))}
    environment.update(
        PYTHONPATH=str(REPO_ROOT),
        RAGQA_DATA_DIR=str(data_dir),
        RAGQA_EMBEDDER__MODEL=HashEmbedder.model_name,
        **(extra or {}),
    )
    return environment


def fake_ragqa(
    data_dir: Path, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``ragqa ARGS`` with the fake embedder, as a child process."""
    return subprocess.run(
        [sys.executable, "-c", FAKE_RAGQA, *map(str, args)],
        cwd=data_dir.parent,
        env=_environment(data_dir, env),
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
    )


def real_ragqa(
    data_dir: Path, *args: str | Path, real_model: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The installed ``ragqa`` command (this checkout's code), as a child process."""
    command = Path(sys.executable).with_name("ragqa")
    argv = [str(command)] if command.is_file() else [sys.executable, "-m", "ragqa.cli"]
    environment = _environment(data_dir)
    if real_model:
        del environment["RAGQA_EMBEDDER__MODEL"]
    return subprocess.run(
        [*argv, *map(str, args)],
        cwd=data_dir.parent,
        env=environment,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *named: str) -> str:
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr}"
    assert result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for text in named:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    return errors[0]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def documents_in(index_dir: Path) -> list:
    index = SavedIndex.open(index_dir, embedding_model=HashEmbedder.model_name)
    try:
        return index.store.documents()
    finally:
        index.close()


# --- 1. a file name that is not UTF-8 ----------------------------------------------


def test_a_file_name_that_is_not_utf8_is_indexed_with_the_others(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "x"
    docs.mkdir()
    (docs / os.fsdecode(b"latin1_\xe9\xff.txt")).write_bytes(b"some text about Latin names\n")
    (docs / "good.txt").write_text(TEXT, encoding="utf-8")
    index_dir = tmp_path / "index"

    result = fake_ragqa(data_dir, "index", docs, "--index-dir", index_dir)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Indexed 2 documents" in result.stdout

    result = fake_ragqa(data_dir, "index", docs, "--index-dir", index_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["documents"] == 2 and report["skipped"] == []
    stored = {Path(d.source_path).name: d for d in documents_in(index_dir)}
    assert set(stored) == {"latin1_\\xe9\\xff.txt", "good.txt"}
    assert stored["latin1_\\xe9\\xff.txt"].doc_id.startswith("latin1-")
    assert "some text about Latin names" in stored["latin1_\\xe9\\xff.txt"].text


# --- 2. a full disk ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (needs root and a kernel that lets this process mount)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_is_one_line_error_and_the_partial_build_is_removed(
    tmp_path: Path, data_dir: Path, small_disk: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.txt").write_text(TEXT, encoding="utf-8")
    index_dir = small_disk / "index"
    result = fake_ragqa(data_dir, "index", small, "--index-dir", index_dir)
    assert result.returncode == 0, result.stderr
    before = snapshot(index_dir)

    # 30 articles of ~110 kB: the chunk store alone outgrows the 4 MB disk.
    large = tmp_path / "large"
    large.mkdir()
    for number in range(30):
        words = " ".join(f"article{number} word{i} about Xiaomi." for i in range(4000))
        (large / f"article-{number:02d}.txt").write_text(words, encoding="utf-8")
    result = fake_ragqa(data_dir, "index", large, "--index-dir", index_dir)
    error = assert_one_line_error(result, "disk is full", str(small_disk), "left as it was")
    assert "free of" in error
    assert snapshot(index_dir) == before, "the old index is exactly as it was"
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".building-")]
    assert [Path(d.source_path).name for d in documents_in(index_dir)] == ["a.txt"]
    usage = shutil.disk_usage(small_disk)
    assert usage.free > usage.total / 2, "the partial build's space was given back"


# --- 3. a folder of the user's files whose names look like ours -----------------------


def test_a_folder_that_only_looks_like_an_index_is_refused_untouched(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(TEXT, encoding="utf-8")
    mine = tmp_path / "mine"
    (mine / "gen-000001").mkdir(parents=True)
    (mine / POINTER_FILE).write_text("my current reading list\n", encoding="utf-8")
    (mine / "gen-000001" / "photos.txt").write_text("holiday photos\n", encoding="utf-8")
    (mine / ".building-permit.pdf").write_bytes(b"%PDF-1.4 the permit")
    before = snapshot(mine)

    result = real_ragqa(data_dir, "index", docs, "--index-dir", mine)
    assert_one_line_error(result, str(mine), "not a ragqa index", "nothing in it was touched")
    assert snapshot(mine) == before

    result = real_ragqa(data_dir, "ask", "Who founded Xiaomi?", "--index-dir", mine)
    assert_one_line_error(result, str(mine))
    assert snapshot(mine) == before


def test_a_look_alike_file_inside_a_real_index_is_refused_untouched(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(TEXT, encoding="utf-8")
    index_dir = tmp_path / "index"
    assert fake_ragqa(data_dir, "index", docs, "--index-dir", index_dir).returncode == 0
    assert (index_dir / MARKER_FILE).is_file()
    (index_dir / ".building-permit.pdf").write_bytes(b"%PDF-1.4 the permit")
    before = snapshot(index_dir)
    result = fake_ragqa(data_dir, "index", docs, "--index-dir", index_dir)
    assert_one_line_error(result, ".building-permit.pdf", "nothing in it was touched")
    assert snapshot(index_dir) == before


# --- 4. a missing CURRENT at the default location -----------------------------------


def test_a_missing_current_is_reported_as_damage_not_replaced_by_the_demo(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("primes", "rivers", "moons"):
        (docs / f"{name}.txt").write_text(f"Facts about {name}. Two is the only even prime.\n")
    result = fake_ragqa(data_dir, "index", docs)  # the default location
    assert result.returncode == 0, result.stderr
    default_index = data_dir / "index" / "default"
    (default_index / POINTER_FILE).unlink()
    before = snapshot(default_index)

    result = real_ragqa(data_dir, "ask", "What is the only even prime number?")
    assert_one_line_error(result, "is damaged", "gen-000001", "ragqa index")
    assert "Lei Jun" not in result.stderr
    assert snapshot(default_index) == before, "the user's generations are untouched"

    result = fake_ragqa(data_dir, "index", docs)  # the repair the message names
    assert result.returncode == 0, result.stderr
    assert sorted(Path(d.source_path).name for d in documents_in(default_index)) == [
        "moons.txt",
        "primes.txt",
        "rivers.txt",
    ]


# --- 7. long indexing outside a terminal -------------------------------------------


def test_long_indexing_reports_progress_and_a_warning_in_logs(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    sentences = " ".join(
        f"Sentence {i} says Xiaomi sold phones in {1990 + i % 30}." for i in range(12000)
    )
    (docs / "long.txt").write_text(sentences, encoding="utf-8")
    timing = {
        "TEST_EMBED_DELAY_S": "0.005",
        "TEST_PROGRESS_INTERVAL_S": "0.3",
        "TEST_LONG_JOB_S": "0.5",
    }
    result = fake_ragqa(data_dir, "index", docs, "--index-dir", tmp_path / "i", env=timing)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    warnings = [line for line in lines if "This is a large input" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), result.stderr
    assert re.search(r"chunks will take about \d+ (s|min)", warnings[0]), warnings[0]
    progress = [
        line
        for line in lines
        if re.search(r"Embedded [\d,]+ of [\d,]+ chunks \(\d+%\), [\d.,]+ chunks/s", line)
    ]
    assert len(progress) >= 2, result.stderr
    assert any("left" in line for line in progress), progress
    assert lines.index(warnings[0]) < lines.index(progress[0]), "the warning comes first"


def test_a_short_build_prints_no_progress(tmp_path: Path, data_dir: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(TEXT, encoding="utf-8")
    result = fake_ragqa(data_dir, "index", docs, "--index-dir", tmp_path / "i")
    assert result.returncode == 0 and result.stderr == "", result.stderr


# --- 8. odd names ---------------------------------------------------------------------

ODD_NAMES = {
    "report_\u202egnp.exe.txt": "Report gnp.exe",
    "new\nline.txt": "New line",
    "bell\x07and\x1b[31mred.md": "Bell and [31mred",
}


def test_odd_names_give_clean_titles_and_every_skipped_file_is_named(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ODD_NAMES:
        (docs / name).write_text("Plain text without a heading.\n", encoding="utf-8")
    (docs / "..\\..\\evil_backslash.txt").write_text(TEXT, encoding="utf-8")
    index_dir = tmp_path / "index"
    result = fake_ragqa(data_dir, "index", docs, "--index-dir", index_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [Path(s["path"]).name for s in report["skipped"]] == ["..\\..\\evil_backslash.txt"]
    assert "hidden file" in report["skipped"][0]["reason"]
    assert "evil_backslash.txt" in result.stderr and "WARNING" in result.stderr
    titles = sorted(d.title for d in documents_in(index_dir))
    assert titles == sorted(ODD_NAMES.values())
    for title in titles:
        assert title.isprintable() and not re.search(
            "[\u200e\u200f\u202a-\u202e\u2066-\u2069]", title
        )


@pytest.mark.integration
def test_the_real_ragqa_indexes_odd_and_undecodable_names(tmp_path: Path, data_dir: Path) -> None:
    """Items 1 and 8 with the installed command and the real embedding model."""
    docs = tmp_path / "x"
    docs.mkdir()
    (docs / os.fsdecode(b"latin1_\xe9\xff.txt")).write_bytes(b"some text about Latin names\n")
    (docs / "rtl_\u202egnp.txt").write_text("A file with a right-to-left override.\n")
    (docs / "new\nline.txt").write_text("A file with a newline in its name.\n")
    (docs / "..\\..\\evil_backslash.txt").write_text(TEXT)
    result = real_ragqa(data_dir, "index", docs, "--index-dir", tmp_path / "i", real_model=True)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Indexed 3 documents" in result.stdout
    assert "skipped" in result.stdout and "evil_backslash.txt" in result.stdout
    assert "evil_backslash.txt" in result.stderr
    assert "\u202e" not in result.stdout + result.stderr
