"""The package has no import circle, and the pytest side (`run/`) imports only downward.

The graph is built with `ast` from every ``import`` in the package, including imports inside
functions (a lazy import is still a dependency). Imports under ``if TYPE_CHECKING:`` count for
the layering of `run/`, but not for the package-wide circle check (the emulator's wire
modules name each other's types for the type checker only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_cfgateway

PKG = Path(pytest_cfgateway.__file__).resolve().parent
NAME = "pytest_cfgateway"

#: run/'s layers, lowest first: a module imports only modules listed before it
RUN_LAYERS = [
    "settings",
    "record",
    "errors",
    "ledger",
    "budget",
    "pytest_compat",
    "feedback",
    "state",
    "targets",
    "hooks",
    "render",
    "prewarm",
    "grader",
    "schedule",
    "binding",
    "case",
    "fixtures",
    "items",
    "report",
    "after_hooks",
    "outcome",
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _resolve(current: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = current.split(".") if is_pkg else current.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                inside.update(id(n) for n in ast.walk(stmt))
    return inside


def import_graph(*, type_checking: bool = True) -> dict[str, set[str]]:
    modules = _package_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        skip = set() if type_checking else _type_checking_blocks(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(name, is_pkg, node)
            for target in targets:
                # the most specific module of the package that the import names
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target.startswith(NAME) and target != name:
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep.startswith(node + "."):  # a package importing its own modules
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph(type_checking=False)
    assert f"{NAME}.run.case" in graph  # the graph covers the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_run_modules_import_only_lower_layers() -> None:
    graph = import_graph()
    run_modules = {n.rsplit(".", 1)[1] for n in graph if n.startswith(f"{NAME}.run.")}
    assert run_modules == set(RUN_LAYERS), "list every run/ module in RUN_LAYERS"
    for i, name in enumerate(RUN_LAYERS):
        allowed = {f"{NAME}.run.{lower}" for lower in RUN_LAYERS[:i]}
        ups = {
            dep for dep in graph[f"{NAME}.run.{name}"] if dep.startswith(f"{NAME}.run.")
        } - allowed
        assert not ups, f"run/{name}.py imports a module above it: {sorted(ups)}"


def test_lower_packages_know_nothing_of_the_pytest_side() -> None:
    graph = import_graph()
    for name, deps in graph.items():
        top = name.split(".")[1] if "." in name else ""
        if top in (
            "gateway",
            "config",
            "assertions",
            "snapshots",
            "emulator",
            "usercode",
            "report",
        ):
            bad = {d for d in deps if d.startswith(f"{NAME}.run") or d == f"{NAME}.plugin"}
            assert not bad, f"{name} imports the pytest side: {sorted(bad)}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
