"""Tests for ragqa.settings: defaults, the TOML file, RAGQA_<SECTION>__<KEY>
environment variables, and bad values, each a ConfigError naming the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.chunking import ChunkingConfig
from corpus.errors import ConfigError
from corpus.loaders import DEFAULT_MAX_FILE_BYTES
from ragqa.settings import SECTIONS, Settings, load_settings


@pytest.fixture(autouse=True)
def _no_settings_file_nearby(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``ragqa.toml`` in the working directory would be read implicitly."""
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    loaded = load_settings(environ={"XDG_DATA_HOME": str(tmp_path)})
    assert loaded.data_dir == tmp_path / "ragqa"
    assert loaded.index_dir == tmp_path / "ragqa" / "index" / "default"
    assert loaded.max_file_bytes == DEFAULT_MAX_FILE_BYTES
    for name, kind in SECTIONS.items():
        assert getattr(loaded, name) == kind()
    assert loaded.uploads_dir == loaded.data_dir / "uploads"


def test_toml_file_is_read(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        data_dir = "~/ragqa-data"
        max_file_bytes = 1000
        [retrieval]
        top_k = 8
        dense_weight = 1
        [chunking]
        max_tokens = 100
        overlap_tokens = 20
        [generator]
        backend = "transformers"
        [ui]
        show_scores = true
        """,
    )
    loaded = load_settings(path, environ={})
    assert loaded.data_dir == Path("~/ragqa-data").expanduser()
    assert loaded.index_dir == loaded.data_dir / "index" / "default"
    assert loaded.max_file_bytes == 1000
    assert loaded.retrieval.top_k == 8 and loaded.retrieval.dense_weight == 1.0
    assert isinstance(loaded.retrieval.dense_weight, float)
    assert loaded.chunking == ChunkingConfig(100, 20)
    assert loaded.generator.backend == "transformers"
    assert loaded.ui.show_scores is True
    config = loaded.pipeline_config()
    assert config.chunking == loaded.chunking and config.index_dir == loaded.index_dir
    assert config.max_file_bytes == 1000


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[retrieval]\ntop_k = 8\n[ui]\nport = 9000\n")
    loaded = load_settings(
        path,
        environ={
            "RAGQA_RETRIEVAL__TOP_K": "12",
            "ragqa_ui__port": "not read: the prefix is upper case",
            "RAGQA_UI__SHOW_SCORES": "yes",
            "RAGQA_DATA_DIR": str(tmp_path / "data"),
            "RAGQA_INDEX_DIR": str(tmp_path / "elsewhere"),
            "RAGQA_MAX_FILE_BYTES": "2048",
            "UNRELATED__VARIABLE": "x",
        },
    )
    assert loaded.retrieval.top_k == 12
    assert loaded.ui.port == 9000 and loaded.ui.show_scores is True
    assert loaded.data_dir == tmp_path / "data"
    assert loaded.index_dir == tmp_path / "elsewhere"
    assert loaded.max_file_bytes == 2048


def test_which_file_is_read(tmp_path: Path) -> None:
    explicit = write_toml(tmp_path, "[retrieval]\ntop_k = 1\n", "explicit.toml")
    from_env = write_toml(tmp_path, "[retrieval]\ntop_k = 2\n", "from-env.toml")
    write_toml(tmp_path, "[retrieval]\ntop_k = 3\n", "ragqa.toml")
    environ = {"RAGQA_CONFIG": str(from_env)}
    assert load_settings(explicit, environ=environ).retrieval.top_k == 1
    assert load_settings(None, environ=environ).retrieval.top_k == 2
    assert load_settings(None, environ={}).retrieval.top_k == 3


def test_overrides_and_replace(tmp_path: Path) -> None:
    loaded = load_settings(environ={}, index_dir=tmp_path / "i", data_dir=None)
    assert loaded.index_dir == tmp_path / "i"
    changed = loaded.replace(chunking=ChunkingConfig(32, 8))
    assert isinstance(changed, Settings) and changed.chunking.max_tokens == 32
    assert loaded.chunking == ChunkingConfig()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("true", True), (" Yes ", True), ("ON", True)],
        *[("0", False), ("false", False), ("no", False), ("Off", False)],
    ],
)
def test_boolean_words_in_the_environment(value: str, expected: bool) -> None:
    assert load_settings(environ={"RAGQA_UI__SHOW_SCORES": value}).ui.show_scores is expected


BAD_ENVIRONMENT = [
    ("RAGQA_RETRIEVAL__TOP_K", "abc", "retrieval.top_k"),
    ("RAGQA_RETRIEVAL__TOP_K", "", "retrieval.top_k"),
    ("RAGQA_RETRIEVAL__TOP_K", "2.5", "retrieval.top_k"),
    ("RAGQA_RETRIEVAL__TOP_K", "0", "top_k must be between 1 and 100"),
    ("RAGQA_RETRIEVAL__DENSE_WEIGHT", "nan", "retrieval.dense_weight"),
    ("RAGQA_RETRIEVAL__DENSE_WEIGHT", "inf", "retrieval.dense_weight"),
    ("RAGQA_RETRIEVAL__MODE", "telepathy", "telepathy"),
    ("RAGQA_UI__SHOW_SCORES", "maybe", "ui.show_scores"),
    ("RAGQA_UI__PORT", "70000", "port must be between"),
    ("RAGQA_GENERATOR__BACKEND", "gpt", "gpt"),
    ("RAGQA_CHUNKING__MAX_TOKENS", "10", "max_tokens must be at least 16"),
    ("RAGQA_CHUNKING__OVERLAP_TOKENS", "500", "overlap_tokens"),
    ("RAGQA_VECTOR_INDEX__KIND", "annoy", "annoy"),
    ("RAGQA_RERANK__KIND", "magic", "magic"),
    ("RAGQA_EMBEDDER__BATCH_SIZE", "0", "batch_size"),
    ("RAGQA_RETRIEVAL__TOPK", "5", "topk"),
    ("RAGQA_RETRIVAL__TOP_K", "5", "RAGQA_RETRIVAL__TOP_K"),
    ("RAGQA_MAX_FILE_BYTES", "0", "max_file_bytes"),
    ("RAGQA_MAX_FILE_BYTES", "-5", "max_file_bytes"),
    ("RAGQA_MAX_FILE_BYTES", "big", "max_file_bytes"),
    ("RAGQA_CONFIG", "/no/such/file.toml", "/no/such/file.toml"),
]


@pytest.mark.parametrize(("variable", "value", "named"), BAD_ENVIRONMENT)
def test_bad_environment_values_are_config_errors_naming_them(
    variable: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value})
    assert named in str(caught.value)


BAD_FILES = [
    ("[retrieval]\ntop_k = 8.5\n", "retrieval.top_k"),
    ("[retrieval]\ntop_k = true\n", "retrieval.top_k"),
    ("[retrieval]\ntop_k = 0\n", "[retrieval] top_k must be between 1 and 100"),
    ("[retrieval]\nmode = 3\n", "retrieval.mode"),
    ('[ui]\nshow_scores = "sometimes"\n', "ui.show_scores"),
    ("[ui]\nshow_scores = 1\n", "ui.show_scores"),
    ("[ui]\nhost = [1, 2]\n", "ui.host"),
    ("retrieval = 5\n", "[retrieval] must be a table"),
    ("[retrieval]\nnonsense = 1\n", "nonsense"),
    ("[retrieval.deeper]\nx = 1\n", "deeper"),
    ("[nosuchsection]\nx = 1\n", "nosuchsection"),
    ("top_k = 5\n", "top_k"),
    ("data_dir = 5\n", "data_dir"),
    ("max_file_bytes = 0\n", "max_file_bytes"),
    ("max_file_bytes = -1\n", "max_file_bytes"),
    ("[retrieval\ntop_k = 5\n", "Cannot read the settings file"),
    ("top_k = = 5\n", "Cannot read the settings file"),
]


@pytest.mark.parametrize(("text", "named"), BAD_FILES)
def test_bad_file_values_are_config_errors_naming_them(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert named in str(caught.value)


def test_unreadable_settings_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="Cannot read the settings file"):
        load_settings(tmp_path, environ={})  # a folder
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match=r"binary\.toml"):
        load_settings(binary, environ={})


def test_environment_into_a_section_the_file_got_wrong(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "retrieval = 5\n")
    with pytest.raises(ConfigError, match="retrieval"):
        load_settings(path, environ={"RAGQA_RETRIEVAL__TOP_K": "5"})


FIELDS = [
    (f"RAGQA_{section.upper()}__{field.name.upper()}")
    for section, kind in SECTIONS.items()
    for field in dataclasses.fields(kind)
] + ["RAGQA_DATA_DIR", "RAGQA_INDEX_DIR", "RAGQA_MAX_FILE_BYTES"]


@settings(max_examples=300, deadline=None)
@given(variable=st.sampled_from(FIELDS), value=st.text(max_size=12))
def test_any_environment_value_loads_or_is_a_config_error(variable: str, value: str) -> None:
    try:
        loaded = load_settings(environ={variable: value})
    except ConfigError as error:
        assert str(error)
    else:
        assert isinstance(loaded, Settings)


def test_vector_store_section_reaches_the_pipeline(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        '[vector_store]\nkind = "milvus"\nuri = "http://milvus:19530"\ncollection = "team"\n',
    )
    loaded = load_settings(
        path, environ={"RAGQA_VECTOR_STORE__TOKEN": "root:s3cret", "XDG_DATA_HOME": str(tmp_path)}
    )
    store = loaded.pipeline_config().vector_store
    assert (store.kind, store.uri, store.collection, store.token) == (
        "milvus",
        "http://milvus:19530",
        "team",
        "root:s3cret",
    )
    assert "s3cret" not in repr(loaded), "the token shows in the settings' repr"


def test_the_vector_store_token_is_refused_in_a_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[vector_store]\nkind = "milvus"\ntoken = "root:s3cret"\n')
    with pytest.raises(ConfigError, match="RAGQA_VECTOR_STORE__TOKEN") as caught:
        load_settings(path, environ={})
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RAGQA_VECTOR_STORE__KIND", "chroma"), ("RAGQA_VECTOR_STORE__INDEX_TYPE", "DISKANN")],
)
def test_unknown_vector_store_choices_name_the_alternatives(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=value):
        load_settings(environ={variable: value})
