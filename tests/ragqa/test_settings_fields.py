"""Every setting is read somewhere: a field nobody reads is a knob that does nothing.

Walks every field of :class:`ragqa.settings.Settings`, through the nested
config dataclasses, and looks in the project's packages for code that reads
it: an attribute read ``.<field>`` outside the functions of ``ragqa/settings.py``
that fill the fields in (the methods of ``Settings`` that hand them on count)
and outside the config class itself (whose ``__post_init__`` only checks the
value). Names are shared (``max_tokens`` is a chunking, an
embedder and a generator word), so a read counts for a config class only when
its receiver is that class's section (``settings.generator.max_tokens``) or
the file names the class (imports it, annotates with it or defines it):
``config.max_tokens`` in ``corpus/chunking.py`` is the chunking setting, not
the generator's.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.errors import ConfigError
from ragqa.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = REPO_ROOT / "ragqa" / "settings.py"
# Settings nothing reads by ``.name`` on purpose: dotted name -> why.
UNUSED_BY_DESIGN: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class Setting:
    dotted: str  # "generator.max_tokens"
    owner: type  # GeneratorConfig
    name: str  # "max_tokens"
    section: str  # "generator"; "" for the top-level ones


def _walk(kind: type, instance: object, section: str = "") -> Iterator[Setting]:
    for item in dataclasses.fields(kind):
        value = getattr(instance, item.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _walk(type(value), value, item.name)
        else:
            dotted = f"{section}.{item.name}" if section else item.name
            yield Setting(dotted, kind, item.name, section)


SETTINGS = list(_walk(Settings, load_settings(environ={"HOME": "/nonexistent"})))
OWNERS = {setting.owner.__name__ for setting in SETTINGS}


def _project_files() -> Iterator[Path]:
    for folder in sorted(REPO_ROOT.iterdir()):
        if (folder / "__init__.py").is_file() and folder.name != "tests":
            yield from sorted(folder.rglob("*.py"))


def _receiver(node: ast.Attribute) -> str:
    """The last name before the attribute: ``self.config.x`` -> ``config``."""
    value = node.value
    if isinstance(value, ast.Name):
        return value.id
    return value.attr if isinstance(value, ast.Attribute) else ""


@dataclasses.dataclass(frozen=True)
class Read:
    name: str
    receiver: str
    path: str
    names_in_file: frozenset[str]


def _reads() -> list[Read]:
    found: list[Read] = []
    for path in _project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names: set[str] = set()
        inside_owner: set[int] = set()
        if path == SETTINGS_MODULE:  # its functions fill the settings in; they read none
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    inside_owner.update(id(inner) for inner in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.ImportFrom):
                names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.ClassDef):
                names.add(node.name)
                if node.name in OWNERS - {"Settings"}:
                    inside_owner.update(id(inner) for inner in ast.walk(node))
        where = str(path.relative_to(REPO_ROOT))
        found.extend(
            Read(node.attr, _receiver(node), where, frozenset(names))
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and id(node) not in inside_owner
        )
    return found


READS = _reads()


def readers(setting: Setting) -> list[str]:
    """The files that read ``setting``."""
    section_names = {"settings", setting.section} if setting.section else {"settings"}
    return sorted(
        {
            read.path
            for read in READS
            if read.name == setting.name
            and (read.receiver in section_names or setting.owner.__name__ in read.names_in_file)
        }
    )


def test_the_walk_reaches_every_section() -> None:
    dotted = {setting.dotted for setting in SETTINGS}
    assert {"data_dir", "retrieval.top_k", "generator.backend", "answer.draft"} <= dotted
    assert "retrieval" not in dotted  # sections are walked into, not counted as settings
    assert {s.section for s in SETTINGS} >= {"", "chunking", "embedder", "ui", "api"}


def test_a_read_counts_for_the_class_it_belongs_to() -> None:
    """``config.max_tokens`` in corpus/chunking.py is the chunking budget only."""
    chunking = next(s for s in SETTINGS if s.dotted == "chunking.max_tokens")
    assert "corpus/chunking.py" in readers(chunking)
    assert all(
        "corpus/chunking.py" not in readers(s)
        for s in SETTINGS
        if s.name == "max_tokens" and s.section != "chunking"
    )


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.dotted for s in SETTINGS])
def test_every_setting_is_read(setting: Setting) -> None:
    if setting.dotted in UNUSED_BY_DESIGN:
        pytest.skip(UNUSED_BY_DESIGN[setting.dotted])
    assert readers(setting), (
        f"Setting {setting.dotted} ({setting.owner.__name__}.{setting.name}) is never read "
        "outside its definition: remove it, or make the stage that should obey it read it."
    )


def test_the_exceptions_name_real_settings() -> None:
    assert set(UNUSED_BY_DESIGN) <= {s.dotted for s in SETTINGS}


# --- the draft's length: answer.max_new_tokens is its one owner ----------------------


def test_the_draft_length_has_one_owner() -> None:
    names = {s.dotted for s in SETTINGS}
    assert "answer.max_new_tokens" in names and "generator.max_tokens" not in names
    assert load_settings(environ={"RAGQA_ANSWER__MAX_NEW_TOKENS": "12"}).answer.max_new_tokens == 12


@pytest.mark.parametrize("value", ["0", "1025"])
def test_the_draft_length_is_checked(value: str) -> None:
    with pytest.raises(ConfigError, match=f"max_new_tokens must be between 1 and 1024.*{value}"):
        load_settings(environ={"RAGQA_ANSWER__MAX_NEW_TOKENS": value})


def test_the_removed_generator_max_tokens_points_to_its_owner(tmp_path: Path) -> None:
    settings_file = tmp_path / "ragqa.toml"
    settings_file.write_text("[generator]\nmax_tokens = 64\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"generator\.max_tokens is gone.*answer\.max_new_tokens"):
        load_settings(settings_file, environ={})
    with pytest.raises(ConfigError, match=r"answer\.max_new_tokens"):
        load_settings(environ={"RAGQA_GENERATOR__MAX_TOKENS": "64"})
