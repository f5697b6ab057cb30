"""The architecture holds: the import contracts of ``.importlinter`` (the layers of DESIGN.md) are kept, and
Forewarn's import graph has no cycles, between modules or between packages.

The only imports left out are the ``ignore_imports`` lines of the acyclic contract in ``.importlinter`` (each
says why and who removes it), read from that file so there is one list. Imports inside functions count: a lazy import still ties two
modules together.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="the dev tools (import-linter) are not installed")
importlinter_cli = pytest.importorskip("importlinter.cli", reason="the dev tools (import-linter) are not installed")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"


def _ignored_imports() -> set[tuple[str, str]]:
    """The ``ignore_imports`` of the acyclic contract: the imports known to close a loop, each with its owner."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    pairs = set()
    for line in parser["importlinter:contract:acyclic"].get("ignore_imports", "").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            importer, imported = (part.strip() for part in line.split("->"))
            pairs.add((importer, imported))
    return pairs


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    built = grimp.build_graph("forewarn", cache_dir=None)
    for importer, imported in _ignored_imports():
        built.remove_import(importer=importer, imported=imported)
    return built


def _cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_finds_a_loop() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_no_module_imports_itself_back(graph) -> None:  # type: ignore[no-untyped-def]
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _cycles(edges) == []


def test_no_cycles_between_packages(graph) -> None:  # type: ignore[no-untyped-def]
    """forewarn's children (cli, serve, stream, train, ... base) as nodes; the top package is one node too."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if package(imported) != package(module):
                edges.setdefault(package(module), set()).add(package(imported))
    assert _cycles(edges) == []


def test_import_contracts_are_kept() -> None:
    """``lint-imports``: the DESIGN.md layers, no cycles among siblings, frameworks kept in their layers."""
    assert importlinter_cli.lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True) == 0
