"""The package reads as the data flow: every import goes down a layer, and none goes round."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symbp"
# lower numbers sit lower; a module may import its own subpackage and anything strictly lower
# (train is at the numeric level, just above it: it runs the generated gradients)
LAYERS = {"core": 0, "printing": 1, "proof": 2, "numeric": 2, "figures": 2, "train": 2.5,
          "document": 3, "render": 4, "api": 5, "cli": 6, "__init__": 7, "__main__": 8}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every symbp module ``path`` imports, anywhere in it (functions, TYPE_CHECKING too)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "symbp"}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            if target.split(".")[0] != "symbp":
                continue
            for alias in node.names:  # "from . import registry" imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Each module's symbp imports: parsed when a test here runs, not when a worker collects."""
    return {_module(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_circle(graph):
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module, path):
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target == module or target not in graph:
                continue
            if state.get(target) == 1:
                circle = [*path[path.index(target):], target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_every_import_goes_down_a_layer(graph):
    upward = []
    for module, targets in graph.items():
        for target in targets:
            mine, theirs = _layer(module), _layer(target)
            if mine != theirs and LAYERS[theirs] >= LAYERS[mine]:
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_every_subpackage_has_a_layer(graph):
    assert {_layer(m) for m in graph} <= set(LAYERS)
