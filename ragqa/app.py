"""From settings to a ready pipeline: the one place every subcommand goes through.

The command-line modules (:mod:`ragqa.cli`, :mod:`ragqa.evaluation_cli`,
:mod:`ragqa.calibration_cli`) only parse arguments, call these functions and
the :mod:`evaluation` package, and print. What a subcommand's options change
in the settings (``--collection``, ``--index-dir``, ``--backend``,
``--mode``), where a BEIR dataset's index is cached, and when the default
collection is indexed on first use are decided here, once::

    settings = load(config_file, collection="contracts")
    pipeline = open_pipeline(settings)   # built, and its index there
    answer = pipeline.ask("What does the contract say about notice periods?")
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.errors import ConfigError, IndexNotFoundError

if TYPE_CHECKING:
    from qa.pipeline import Pipeline
    from ragqa.settings import Settings


def load(
    config_file: Path | None = None,
    *,
    collection: str | None = None,
    index_dir: Path | None = None,
    backend: str | None = None,
    retrieval_mode: str | None = None,
) -> Settings:
    """The settings (file, environment) with a subcommand's options applied.

    ``collection`` and ``index_dir`` both say where the index is, so only one
    may be given; ``backend`` picks the generator, ``retrieval_mode`` how
    passages are retrieved.
    """
    # Imported here, like every stage below: `ragqa --help` need not load them.
    from ragqa.settings import load_settings

    settings = load_settings(config_file)
    if collection and index_dir:
        raise ConfigError(
            "Give --collection or --index-dir, not both: a collection's index is "
            "<data dir>/index/<collection>."
        )
    if collection:
        settings = settings.for_collection(collection)
    if index_dir:
        settings = settings.replace(index_dir=index_dir.expanduser())
    if backend:
        settings = settings.replace(generator=replace(settings.generator, backend=backend))
    if retrieval_mode:
        settings = settings.replace(retrieval=replace(settings.retrieval, mode=retrieval_mode))
    return settings


def for_beir_dataset(settings: Settings, dataset_dir: Path, index_dir: Path | None) -> Settings:
    """``settings`` with the index of a BEIR dataset: ``index_dir`` if given,
    else a cache folder under the data directory keyed by the dataset's path
    and the indexing settings."""
    from evaluation.beir import index_cache_dir

    return settings.replace(
        index_dir=index_dir.expanduser()
        if index_dir
        else index_cache_dir(
            settings.data_dir,
            dataset_dir,
            settings.embedder,
            settings.chunking,
            settings.vector_index,
        )
    )


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline these settings describe; models load on first use."""
    from qa.pipeline import Pipeline

    return Pipeline(settings.pipeline_config())


def ensure_index(pipeline: Pipeline, settings: Settings) -> None:
    """Build the default collection's index on first use of the default
    location; anywhere else, a missing index is the user's to build. An index
    that is there but damaged (generations without ``CURRENT``) is reported,
    never built over."""
    from indexer.layout import live_generation

    if pipeline.index_exists():
        return
    with contextlib.suppress(IndexNotFoundError):
        live_generation(settings.index_dir)  # raises IndexCorruptError for a damaged index
    default_location = settings.data_dir / "index" / "default"
    if settings.index_dir.expanduser().resolve() != default_location.expanduser().resolve():
        where = (
            f"--collection {settings.collection}"
            if settings.index_dir == settings.collections_dir / settings.collection
            else f"--index-dir {settings.index_dir}"
        )
        raise IndexNotFoundError(
            f"No index at {settings.index_dir}. Build one with `ragqa index PATH {where}`."
        )
    print("No index yet: indexing the default Lei Jun collection first...", file=sys.stderr)
    pipeline.build_index(None)


def open_pipeline(settings: Settings) -> Pipeline:
    """The pipeline of ``settings`` with its index there (see :func:`ensure_index`)."""
    pipeline = build_pipeline(settings)
    ensure_index(pipeline, settings)
    return pipeline
