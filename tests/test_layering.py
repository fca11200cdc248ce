"""The import direction of ARCHITECTURE.md: cli -> runtime -> sandbox/projections -> events,
and no two modules that import each other, not even through a function-level import or
one made for the type checker only.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "llmx"

# What each package may import from llmx besides itself.
ALLOWED: dict[str, set[str]] = {
    "events": set(),
    "sandbox": set(),
    "projections": {"events"},
    "runtime": {"events", "projections", "sandbox"},
    "cli": {"events", "projections", "sandbox", "runtime"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _edges(path: Path) -> set[str]:
    """The llmx modules ``path`` imports, wherever the import statement is (module level,
    inside a function, under ``if TYPE_CHECKING``): for each, the innermost module named.

    ``from llmx.runtime.config import types`` names the module ``llmx.runtime.config.types``; ``from
    llmx.runtime import ThreadManager`` names the package ``llmx.runtime``.
    """
    modules = _modules()
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([source] if source else [])])
            for alias in node.names:
                inner = f"{source}.{alias.name}"
                names.append(inner if inner in modules else source)
    found: set[str] = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    found.discard(module)
    return found


def _import_graph() -> dict[str, set[str]]:
    return {name: _edges(path) for name, path in _modules().items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    graph = _import_graph()
    members = [name for name in graph if _package(name) == package]
    assert members, f"llmx.{package} has no modules"
    offenders = []
    for name in members:
        # ``from llmx import __version__`` names the top-level module, not a package.
        bad = {_package(target) for target in graph[name]} - ALLOWED[package] - {package, ""}
        if bad:
            offenders.append(f"{name} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_no_two_modules_import_each_other() -> None:
    cycles = _cycles(_import_graph())
    assert not cycles, "import cycles (each group imports itself through the others):\n" + (
        "\n".join(" <-> ".join(group) for group in cycles))


def test_the_cycle_check_sees_imports_inside_functions_and_for_the_type_checker() -> None:
    graph = {
        "llmx.a": {"llmx.b"},
        "llmx.b": {"llmx.c"},
        "llmx.c": {"llmx.a"},
        "llmx.d": {"llmx.a"},
    }
    assert _cycles(graph) == [["llmx.a", "llmx.b", "llmx.c"]]
    # The exec command imports its runner inside its handler: that edge is in the graph.
    assert "llmx.cli.exec_run" in _edges(_modules()["llmx.cli.exec_cmd"])
    # A thread's configuration type is imported for the type checker only: also an edge.
    assert "llmx.runtime.config.tables" in _edges(_modules()["llmx.runtime.threads.thread"])


def test_the_runtime_door_is_its_public_surface() -> None:
    import llmx.runtime

    exported = set(llmx.runtime.__all__)
    assert {"ThreadManager", "AgentThread", "ThreadOptions", "ThreadRef", "ThreadError",
            "ThreadEvents"} <= exported
    assert all(hasattr(llmx.runtime, name) for name in exported)
    # Frontends reach threads through the door only: no frontend builds a session.
    for name, path in _modules().items():
        if _package(name) == "cli":
            assert not {"llmx.runtime.session", "llmx.runtime.turn"} & _edges(path), name


def test_no_other_top_level_packages() -> None:
    top = PACKAGE_ROOT.parent
    packages = {p.parent.name for p in top.glob("*/__init__.py")}
    assert packages == {"llmx"}
