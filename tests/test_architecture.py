"""The shape the code keeps: layers point down, no import cycle inside handlers/, short functions and
classes (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "handlers", "storage")


def modules(folder: str) -> dict[str, ast.Module]:
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "migrations/versions" in str(path):
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_layers_point_down() -> None:
    for lower, upper in (("handlers", ("bot",)), ("storage", ("bot", "handlers"))):
        for name, tree in modules(lower).items():
            climbing = {m for m in imported(tree) if m.split(".")[0] in upper}
            assert not climbing, f"{name} imports {climbing}"


def test_no_import_cycle_inside_handlers() -> None:
    found = modules("handlers")
    graph = defaultdict(set)
    for name, tree in found.items():
        graph[name] = {m for m in imported(tree) if m in found and m != name}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in graph[node]:
            assert state.get(target) != 1, " -> ".join(path[path.index(target) :] + [node, target])
            if target not in state:
                visit(target, [*path, node])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [])


def test_no_function_over_60_lines_and_no_class_over_150() -> None:
    long = []
    for folder in LAYERS:
        for name, tree in modules(folder).items():
            for node in ast.walk(tree):
                size = (node.end_lineno or 0) - node.lineno + 1 if hasattr(node, "lineno") else 0
                if isinstance(node, ast.ClassDef) and size > 150:
                    long.append(f"class {name}.{node.name}: {size} lines")
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and size > 60:
                    long.append(f"{name}.{node.name}: {size} lines")
    assert not long, long
