"""Environment variables are set once, by the entry point, and every cache
lives under the data directory."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.data_dir import default_data_dir
from indexer import embedder as embedder_module
from indexer.embedder import EmbedderConfig, OnnxEmbedder, onnx_cache_dir
from ragqa.cli import main
from ragqa.runtime import configure_process, process_environment
from ragqa.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_process_environment_keeps_models_offline_and_caches_in_the_data_dir() -> None:
    variables = process_environment(Path("/data"))
    assert variables["HF_HUB_OFFLINE"] == variables["TRANSFORMERS_OFFLINE"] == "1"
    assert variables["TOKENIZERS_PARALLELISM"] == "false"
    for name in ("GRADIO_TEMP_DIR", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
        assert Path(variables[name]).is_relative_to("/data/cache"), name


def test_configure_process_keeps_what_the_environment_already_says(tmp_path: Path) -> None:
    settings = load_settings(environ={"RAGQA_DATA_DIR": str(tmp_path)})
    environ = {"TOKENIZERS_PARALLELISM": "true"}
    in_effect = configure_process(settings, environ)
    assert environ["TOKENIZERS_PARALLELISM"] == "true"  # a person's own choice wins
    assert environ["GRADIO_TEMP_DIR"] == str(tmp_path / "cache" / "gradio")
    assert in_effect == environ and set(environ) == set(process_environment(tmp_path))


def test_main_sets_the_environment_before_the_subcommand_runs(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in process_environment(env):
        monkeypatch.delenv(name, raising=False)
    seen: dict[str, str] = {}

    def collections(args: object) -> int:
        seen.update(os.environ)
        return 0

    monkeypatch.setattr("ragqa.cli.run_collections", collections)
    assert main(["collections"]) == 0
    assert {name: seen.get(name) for name in process_environment(env)} == process_environment(env)


def _environment_writers(path: Path) -> list[str]:
    """Where ``path`` writes ``os.environ`` (or a mapping named ``environ``):
    item assignment, ``setdefault``/``update``/``pop``/``clear``, ``os.putenv``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = str(path.relative_to(REPO_ROOT))
    found = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("setdefault", "update", "pop", "clear", "__setitem__"):
                target = node.func.value
            elif node.func.attr in ("putenv", "unsetenv"):
                found.append(f"{where}:{node.lineno}")
        if (isinstance(target, ast.Attribute) and target.attr == "environ") or (
            isinstance(target, ast.Name) and target.id == "environ"
        ):
            found.append(f"{where}:{node.lineno}")
    return found


def test_only_the_entry_point_sets_environment_variables() -> None:
    writers = [
        where
        for package in ("corpus", "indexer", "qa", "ui", "ragqa")
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for where in _environment_writers(path)
    ]
    assert [w for w in writers if not w.startswith("ragqa/runtime.py")] == []
    assert writers, "the scan found not even ragqa/runtime.py: it no longer sees writes"


def test_the_library_default_onnx_cache_is_in_the_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without settings (the embedder used as a library) the export goes
    under the same default data directory the settings use, not ~/.cache."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    exported: list[Path] = []

    class Exported(Exception):
        pass

    def export(model_dir: Path, target: Path, *, quantized: bool) -> Path:
        exported.append(target)
        raise Exported

    monkeypatch.setattr(embedder_module, "export_onnx", export)
    with pytest.raises(Exported):
        OnnxEmbedder(EmbedderConfig(backend="onnx", cache_dir=""))
    [target] = exported
    assert target.parent == onnx_cache_dir(default_data_dir()) == tmp_path / "ragqa/cache/onnx"


def test_the_settings_put_the_onnx_cache_in_their_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"RAGQA_DATA_DIR": str(tmp_path)})
    assert Path(settings.pipeline_config().embedder.cache_dir) == tmp_path / "cache" / "onnx"


@pytest.mark.integration
def test_nothing_is_written_to_the_home_directory(tmp_path: Path, default_index_dir: Path) -> None:
    """Asking with the real models (the ONNX export included), and the
    libraries the chat window and the evaluation report load, with a data
    directory set: the home directory stays empty."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    shutil.copytree(default_index_dir, data / "index" / "default")
    inherited = ("XDG_", "HF_", "MPLCONFIGDIR", "GRADIO_", "TRANSFORMERS_", "RAGQA_")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    environ |= {"HOME": str(home), "RAGQA_DATA_DIR": str(data), "PYTHONPATH": str(REPO_ROOT)}
    ragqa = [sys.executable, "-m", "ragqa.cli"]
    libraries = (
        "from ragqa.runtime import configure_process; from ragqa.settings import load_settings;"
        "configure_process(load_settings());"
        "import gradio; from matplotlib.figure import Figure;"
        "figure = Figure(); figure.subplots().plot([1, 2]); figure.savefig('plot.png')"
    )
    for command in (
        [*ragqa, "ask", "When was Lei Jun born?"],
        [sys.executable, "-c", libraries],
    ):
        done = subprocess.run(
            command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == []
    assert any((data / "cache" / "onnx").iterdir()), "the ONNX export is in the data directory"
    shutil.rmtree(data)
