"""The shape of the code, checked from its source: the layers, no import cycles, no reaching into
another module's private names. See docs/architecture.md."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "sim_desk"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def top_level_imports(
    module: str, *, deferred: bool = False
) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for the imports a module runs when it is
    loaded; with ``deferred``, those inside functions too (a cycle hidden in a function is a
    cycle all the same). Imports under ``if TYPE_CHECKING`` are left out."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if is_package(module) else module.rpartition(".")[0]

    def walk(body: list[ast.stmt]) -> Iterator[tuple[str, list[str], int]]:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, [], node.lineno
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                yield base, [a.name for a in node.names], node.lineno
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    yield from walk(node.body)
                    yield from walk(node.orelse)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
                for handler in node.handlers:
                    yield from walk(handler.body)
            elif (
                deferred
                and isinstance(
                    node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With
                )
            ) or (deferred and isinstance(node, ast.For | ast.While)):
                yield from walk(node.body)

    yield from walk(tree.body)


def dependencies(module: str) -> set[str]:
    """The sim_desk modules ``module`` imports, at load time or later in a function (an
    imported name that is itself a module counts as that module)."""
    found = set()
    for target, names, _ in top_level_imports(module, deferred=True):
        if target.split(".")[0] != "sim_desk":
            continue
        found.add(target)
        found.update(f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES)
    return {m for m in found if m in MODULES and m != module}


def imports_of(prefix: str) -> Iterator[tuple[str, str, int]]:
    for module in MODULES:
        if module == prefix or module.startswith(prefix + "."):
            for target, _, line in top_level_imports(module):
                yield module, target, line


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("sim_desk.records", ("PySide6", "reportlab", "sim_desk.ui", "sim_desk.reports")),
        ("sim_desk.records", ("sim_desk.exchange", "sim_desk.cli", "sim_desk.demo")),
        ("sim_desk.reports", ("PySide6", "sim_desk.ui", "sim_desk.cli")),
        ("sim_desk.exchange", ("PySide6", "sim_desk.ui", "sim_desk.cli", "reportlab")),
        ("sim_desk.demo", ("PySide6", "sim_desk.ui", "sim_desk.cli")),
        ("sim_desk.teamserver", ("PySide6", "sim_desk.ui")),
        ("sim_desk.ui", ("sqlalchemy", "sqlcipher3", "sim_desk.records.model")),
    ],
)
def test_each_layer_imports_only_what_is_below_it(layer, forbidden):
    wrong = [
        f"{module}:{line} imports {target}"
        for module, target, line in imports_of(layer)
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    ]
    assert wrong == []


def test_no_import_cycle_anywhere():
    graph = {module: dependencies(module) for module in MODULES}
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            # a package's face loading its own submodules is how packages work, not a cycle
            if state.get(nxt) == 1 and not module.startswith(nxt + "."):
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_takes_a_private_name_from_another():
    wrong = []
    for module in MODULES:
        for target, names, line in top_level_imports(module, deferred=True):
            if target.split(".")[0] != "sim_desk" or target == module:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{module}:{line} takes {private} from {target}")
        # module._name on a sim_desk module imported by name
        modules = {
            alias: f"{target}.{name}"
            for target, names, _ in top_level_imports(module)
            for name, alias in ((n, n) for n in names)
            if f"{target}.{name}" in MODULES
        }
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                wrong.append(f"{module}:{node.lineno} uses {modules[node.value.id]}.{node.attr}")
    assert wrong == []


def test_no_records_or_cli_module_is_much_over_400_lines():
    long = {
        module: n
        for module, path in MODULES.items()
        if module.startswith(("sim_desk.records", "sim_desk.cli"))
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 440
    }
    assert long == {}
