"""The import graph of ragqa's packages: layers point one way, and no module
depends on itself through others.

The graph is read from the source with :mod:`ast` (nothing is imported), and
counts every import: at module level, inside functions (the lazy imports
that keep ``ragqa --help`` fast) and under ``TYPE_CHECKING``. The layers are
the pipeline, from the bottom::

    corpus -> indexer -> qa -> evaluation -> ragqa
                            \\-> ui ---------/

A package may import the packages of :data:`ALLOWED` and itself, nothing
else: ``evaluation`` (question files, metrics, BEIR, calibration) and ``ui``
(the chat window) both stand on ``qa`` and neither needs the other; ``ragqa``
(settings, :mod:`ragqa.app` and the command line) wires them all; and no
package imports the tests, benchmarks or training scripts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, frozenset[str]] = {
    "corpus": frozenset(),
    "indexer": frozenset({"corpus"}),
    "qa": frozenset({"corpus", "indexer"}),
    "evaluation": frozenset({"corpus", "indexer", "qa"}),
    "ui": frozenset({"corpus", "indexer", "qa"}),
    "ragqa": frozenset({"corpus", "indexer", "qa", "evaluation", "ui"}),
    # Rebuilding the shipped models: above everything it trains, below nothing.
    "training": frozenset({"corpus", "indexer", "qa", "evaluation"}),
}
"""The packages each package may import besides itself."""

KNOWN_CYCLES: dict[frozenset[str], str] = {
    frozenset({"indexer.store", "indexer.local_store", "indexer.milvus_store"}): (
        "indexer.store holds both the VectorStore protocol the backends import and "
        "make_store(), which imports the backends lazily; the way out is make_store() in a "
        "module of its own"
    ),
    frozenset({"qa.generator", "qa.openai_generator", "qa.supervised_generator"}): (
        "qa.generator holds both the Generator protocol and config the backends import and "
        "make_generator()/make_backend(), which import the backends lazily; the way out is "
        "the factories in a module of their own"
    ),
}
"""Cycles that were there before this test, each with why and the way out.
Nothing may be added; an entry whose cycle is gone must be deleted."""

PACKAGES = tuple(ALLOWED)
NEVER_IMPORTED = ("tests", "benchmarks", "training")
"""Top-level folders of the repository that no package may import."""


@dataclass(frozen=True)
class Import:
    """One import statement of a module, resolved to the module it loads."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{module_path(self.importer)}:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    """``qa/pipeline.py`` -> ``qa.pipeline``; ``qa/__init__.py`` -> ``qa``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str) -> str:
    path = ROOT.joinpath(*name.split("."))
    return str(
        (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(ROOT)
    )


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by ``from X import ...``, relative ones included."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import in ``path``; ``from pkg import mod`` counts as importing
    ``pkg.mod`` where that is a module, else ``pkg``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, path.name == "__init__.py", node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield Import(name, submodule if submodule in known else source, node.lineno)


def import_graph() -> list[Import]:
    modules = project_modules()
    known = set(modules)
    return [found for name, path in modules.items() for found in imports_of(name, path, known)]


def top(name: str) -> str:
    return name.partition(".")[0]


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan),
    plus any module that imports itself."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set())
        if edge.imported in graph or top(edge.imported) in PACKAGES:
            graph[edge.importer].add(edge.imported)
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    return import_graph()


def test_the_graph_sees_every_package(edges: list[Import]) -> None:
    importers = {top(edge.importer) for edge in edges}
    assert importers == set(PACKAGES), "a package has no imports: is the walk broken?"
    assert any(edge.imported == "ragqa.app" for edge in edges)  # `from ragqa import app`


def test_imports_follow_the_layers(edges: list[Import]) -> None:
    against = [
        str(edge)
        for edge in edges
        if top(edge.imported) in PACKAGES
        and top(edge.imported) != top(edge.importer)
        and top(edge.imported) not in ALLOWED[top(edge.importer)]
    ]
    assert not against, (
        "imports against the layers corpus -> indexer -> qa -> (evaluation, ui) -> ragqa "
        "(move the code to the lower package, or pass what it needs down):\n  "
        + "\n  ".join(against)
    )


def test_no_package_imports_tests_benchmarks_or_training(edges: list[Import]) -> None:
    wrong = [
        str(edge)
        for edge in edges
        if top(edge.imported) in NEVER_IMPORTED and top(edge.imported) != top(edge.importer)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles(edges: list[Import]) -> None:
    found = [c for c in cycles(edges) if frozenset(c) not in KNOWN_CYCLES]
    assert not found, "modules that import each other (directly or through others):\n  " + (
        "\n  ".join(" <-> ".join(component) for component in found)
    )


def test_every_known_cycle_is_still_there(edges: list[Import]) -> None:
    found = {frozenset(c) for c in cycles(edges)}
    gone = [" <-> ".join(sorted(cycle)) for cycle in KNOWN_CYCLES if cycle not in found]
    assert not gone, "fixed, so delete from KNOWN_CYCLES:\n  " + "\n  ".join(gone)


def test_the_cycle_finder_finds_cycles() -> None:
    def edge(a: str, b: str) -> Import:
        return Import(a, b, 1)

    assert cycles([edge("qa.a", "qa.b"), edge("qa.b", "qa.c"), edge("qa.c", "qa.a")]) == [
        ["qa.a", "qa.b", "qa.c"]
    ]
    assert cycles([edge("qa.a", "qa.a")]) == [["qa.a"]]
    assert cycles([edge("qa.a", "qa.b"), edge("qa.b", "corpus.c")]) == []


def test_relative_imports_are_resolved() -> None:
    node = ast.parse("from .pipeline import Pipeline").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve("qa.answerer", False, node) == "qa.pipeline"
    assert _resolve("qa", True, node) == "qa.pipeline"
