"""The apps depend on each other in one direction only: api <- users <- conversations,
and config, which wires them together, above all three.

Built from the source with `ast`, so an import added anywhere (outside
migrations) that runs upward or closes a cycle fails here.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: each may import only the ones before it.
LAYERS = ["api", "users", "conversations", "config"]
NOT_APPS = {"tests", "bench"}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (relative imports stay inside its own)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def import_graph() -> dict[str, dict[str, list[str]]]:
    """For each app, the other apps it imports and the modules that do."""
    graph: dict[str, dict[str, list[str]]] = {app: {} for app in LAYERS}
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for package in imported_packages(path) & set(LAYERS) - {app}:
                graph[app].setdefault(package, []).append(str(path.relative_to(ROOT)))
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    found = []

    def visit(app: str, path: list[str]) -> None:
        for target in graph[app]:
            if target in path:
                found.append([*path[path.index(target) :], target])
            else:
                visit(target, [*path, target])

    for app in graph:
        visit(app, [app])
    return found


def test_every_python_package_at_the_top_is_a_known_layer():
    packages = {
        path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in NOT_APPS
    }
    assert packages == set(LAYERS)


def test_no_app_imports_one_above_it():
    graph = import_graph()
    upward = {
        f"{app} -> {target}": modules
        for app, targets in graph.items()
        for target, modules in targets.items()
        if LAYERS.index(target) > LAYERS.index(app)
    }
    assert upward == {}


def test_the_app_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_api_imports_no_app():
    assert import_graph()["api"] == {}


# The checks themselves, on made-up graphs: they must be able to fail.
@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": []}, "b": {}}, []),
        ({"a": {"b": []}, "b": {"a": []}}, [["a", "b", "a"], ["b", "a", "b"]]),
        ({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}, 3),
    ],
)
def test_cycles_are_found(graph, expected):
    found = cycles(graph)
    if isinstance(expected, int):
        assert len(found) == expected
    else:
        assert found == expected


def test_imports_are_read_from_source(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import users.models\nfrom conversations import x\nfrom . import y\n")

    assert imported_packages(module) == {"users", "conversations"}
