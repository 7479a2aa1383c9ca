"""The package's shape: layers that import only downwards, no import cycles, docs that exist.

The import graph is built from the source with ``ast`` (module-level and function-level imports;
``if TYPE_CHECKING:`` blocks are left out, they never run), so a lazy import inside a function
counts like any other.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "echo_lab"

#: The layers, lowest first: a module may import its own layer and the layers before it only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("echo_lab", "echo_lab.errors", "echo_lab.resources", "echo_lab.timing", "echo_lab.tables"),
    ("echo_lab.info",),
    ("echo_lab.physics", "echo_lab.models"),
    ("echo_lab.dynamics", "echo_lab.trotter"),
    ("echo_lab.backends",),
    ("echo_lab.lbits",),
    ("echo_lab.protocols",),
    ("echo_lab.hardware",),
    ("echo_lab.study",),
    ("echo_lab.export", "echo_lab.bench"),
    ("echo_lab.cli",),
)

#: Most modules directly in echo_lab/ (the rest live in the layer sub-packages).
MAX_FLAT_MODULES = 12


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The echo_lab modules that ``name`` (at ``path``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("echo_lab"):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("echo_lab"):
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in known else target


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {target for target in imports_of(name, path, known) if target != name}
        for name, path in found.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def layer_of(name: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank < 0:
        raise AssertionError(f"module {name} belongs to no layer: add it to LAYERS")
    return rank


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports(tmp_path: Path) -> None:
    source = "def f():\n    from echo_lab.physics import models\n"
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert set(imports_of("echo_lab.probe", path, {"echo_lab.physics.models"})) == {
        "echo_lab.physics.models"
    }


def test_the_package_has_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_import_goes_to_the_same_or_a_lower_layer() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_the_top_level_holds_few_modules() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= MAX_FLAT_MODULES, flat


def test_the_public_entry_points_are_the_layer_modules() -> None:
    from echo_lab import lbits, models, trotter
    from echo_lab.dynamics import trotter as dynamics_trotter
    from echo_lab.physics import models as physics_models

    assert models is physics_models
    assert trotter is dynamics_trotter
    hamiltonian = models.RandomFieldXXZ(n=4, W=8.0, seed=3).hamiltonian()
    system = lbits.construct(hamiltonian, method="overlap")
    assert isinstance(system, lbits.LBitSource)
    assert trotter.circuit(hamiltonian, time=0.5, steps=2, order=2).num_qubits == 4


DOCUMENT = re.compile(r"(?<![\w<>])([A-Za-z][\w./-]*\.(?:md|rst))\b")


@pytest.mark.parametrize("folder", ["echo_lab", "experiments", "tests"])
def test_cited_documents_exist_in_the_repository(folder: str) -> None:
    missing = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix not in (".py", ".toml") or "__pycache__" in path.parts:
            continue
        for cited in DOCUMENT.findall(path.read_text(encoding="utf-8")):
            if cited.endswith("_summary.md"):  # a file the figures step writes, not a citation
                continue
            if not (ROOT / cited).exists() and not (path.parent / cited).exists():
                missing.append(f"{path.relative_to(ROOT)} cites {cited}")
    assert missing == []
