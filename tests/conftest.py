"""Shared fixtures. Real models are loaded once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_DIR = REPO_ROOT / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The generation smoke check runs first: where generation crashes, the
    run says so at once (and goes on to report everything else)."""
    items.sort(key=lambda item: item.get_closest_marker("smoke") is None)


@pytest.fixture(autouse=True)
def _process_environment_restored() -> Iterator[None]:
    """``ragqa.cli.main`` sets process-wide variables from its data folder
    (:func:`ragqa.runtime.configure_process`); put them back after each test,
    so that no test inherits another's temporary folder."""
    from ragqa.runtime import process_environment

    names = list(process_environment(Path("unused")))
    before = {name: os.environ.get(name) for name in names}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _shipped_abstention_model_serves_the_hash_embedder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shipped abstention model is fitted on the real embedding model's
    similarities and refuses any other (qa/model_files.py). The unit tests'
    pipelines embed with the hash embedder and only need *a* model, so for
    them, and only for the shipped file, it stands in for the real one."""
    from indexer.embedder import DEFAULT_EMBEDDING_MODEL
    from qa.abstention import SHIPPED_MODEL, AbstentionModel
    from tests.fakes import HashEmbedder

    load = AbstentionModel.load.__func__  # type: ignore[attr-defined]

    def load_for_tests(
        cls: type[AbstentionModel], path: Path | None = None, *, embedding_model: str
    ) -> AbstentionModel:
        if embedding_model == HashEmbedder.model_name and path in (None, SHIPPED_MODEL):
            embedding_model = DEFAULT_EMBEDDING_MODEL
        return load(cls, path, embedding_model=embedding_model)

    monkeypatch.setattr(AbstentionModel, "load", classmethod(load_for_tests))


@pytest.fixture(scope="session")
def real_embedder():
    from indexer.embedder import make_embedder

    return make_embedder()


@pytest.fixture(scope="session")
def real_generator():
    from qa.generator import GeneratorConfig, make_generator

    return make_generator(GeneratorConfig())


@pytest.fixture(scope="session")
def default_index_dir(tmp_path_factory, real_embedder) -> Path:
    """The shipped Lei Jun collection, indexed once with the real embedder."""
    from qa.pipeline import Pipeline, PipelineConfig

    index_dir = tmp_path_factory.mktemp("default-index") / "index"
    Pipeline(PipelineConfig(index_dir=index_dir), embedder=real_embedder).build_index(None)
    return index_dir


@pytest.fixture(scope="session")
def real_pipeline(default_index_dir, real_embedder, real_generator):
    """The real pipeline over the default collection (read-only: do not add documents)."""
    from qa.pipeline import Pipeline, PipelineConfig

    return Pipeline(
        PipelineConfig(index_dir=default_index_dir),
        embedder=real_embedder,
        generator=real_generator,
    )


SCRIPTED_REPLY = "Lei Jun founded Xiaomi in 2010 [1]."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For driving ``ragqa.cli.main`` in-process: a clean environment with the
    data folder in ``tmp_path`` and the fake models; returns the data folder."""
    import qa.pipeline
    from tests.fakes import HashEmbedder, ScriptedGenerator

    for name in list(os.environ):
        if name.startswith("RAGQA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RAGQA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RAGQA_EMBEDDER__MODEL", HashEmbedder.model_name)
    monkeypatch.setattr(qa.pipeline, "make_embedder", lambda config=None: HashEmbedder())
    monkeypatch.setattr(
        qa.pipeline, "make_generator", lambda config=None: ScriptedGenerator(SCRIPTED_REPLY)
    )
    return data_dir


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


# --- the real browser ---------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium).")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        yield chromium
        chromium.close()
