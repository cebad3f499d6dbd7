"""The package's layout: a core (digitlib/*.py), the picture wing (digitlib/pictures/) and the
research wing (digitlib/research/). Imports run one way, core <- pictures <- research, with no
circle, counting the imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

from digitlib import config

PACKAGE = config.PROJ_ROOT / "digitlib"
FLOORS = {"core": 0, "pictures": 1, "research": 2, "command line": 3}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> str:
    if module == "digitlib.__main__":
        return "command line"
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in FLOORS else "core"


def import_graph() -> dict[str, set[str]]:
    """Every digitlib module and the digitlib modules it imports, anywhere in it."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {other for other in found if other in modules and other != name and other != "digitlib"}
    return graph


def test_imports_never_run_up_a_floor():
    upward = [
        f"{module} ({_floor(module)}) imports {other} ({_floor(other)})"
        for module, imported in import_graph().items()
        for other in imported
        if FLOORS[_floor(other)] > FLOORS[_floor(module)]
    ]
    assert upward == []


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("circle: " + " -> ".join(path[path.index(module) :] + [module]))
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_layout_test_sees_the_package():
    graph = import_graph()
    assert {"digitlib.training", "digitlib.pictures.predict", "digitlib.research.sweep"} <= set(graph)
    assert "digitlib.pictures.rule" in graph["digitlib.pictures.predict"]
    assert "digitlib.evaluation" in graph["digitlib.training"]  # function-level imports count too
