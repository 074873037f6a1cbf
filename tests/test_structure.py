"""The sub-packages of modelport depend on each other without a cycle.

Every ``import`` of every module under ``src/modelport`` (at the top, inside functions
and under ``TYPE_CHECKING`` alike) is an edge from its sub-package (``api``, ``cli``,
``monitoring``, ...; a top-level module such as ``server`` is its own node) to the one
it imports. The shared vocabulary (``config``, ``errors``, ``vocabulary``, ``schema``,
``batch``, ``telemetry``) may be imported by anyone, so edges into it do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import modelport

ROOT = Path(modelport.__file__).parent
SHARED = {"config", "errors", "vocabulary", "schema", "batch", "telemetry"}


def _node(module: str) -> str | None:
    """The sub-package (or top-level module) a dotted module name belongs to."""
    parts = module.split(".")
    if parts[0] != "modelport":
        return None
    if len(parts) == 1:
        return "modelport"
    name = parts[1]
    if (ROOT / name / "__init__.py").is_file() or (ROOT / f"{name}.py").is_file():
        return name
    return "modelport"  # a name the package's __init__ defines


def _module(path: Path) -> list[str]:
    """The dotted name of the module at ``path`` (a package for ``__init__.py``)."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, as absolute dotted names."""
    package = list(path.relative_to(ROOT.parent).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            # ``from modelport import monitoring`` imports the sub-package itself.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def dependency_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.relative_to(ROOT).parts:
            continue
        source = _node(".".join(_module(path)))
        assert source is not None
        graph.setdefault(source, set())
        for module in _imported(path):
            target = _node(module)
            if target is not None and target != source and target not in SHARED:
                graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_the_finder_reports_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_sub_packages_import_each_other_without_a_cycle() -> None:
    graph = dependency_graph()
    assert {"api", "cli", "monitoring", "predlog", "registry", "serving"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
