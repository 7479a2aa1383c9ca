"""The backend registry: a backend registered from here (not the package) runs a real study; the
registry, the ``[backend]`` table, the docs and the import layering agree."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import SparsePauliOp

import echo_lab.backends as backends_package
from echo_lab.backends import BACKEND_NAMES, Backend, get_backend
from echo_lab.backends import options as backend_options
from echo_lab.backends.base import (
    Operator,
    apply_pulse,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.backends.registry import (
    RULES,
    TABLE_KEYS,
    BackendEntry,
    BackendRules,
    backend_entries,
    backend_entry,
    backend_names,
    register_backend,
    registered_backends,
    unregister_backend,
)
from echo_lab.dynamics.schedule import Free, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.states import ProductState
from echo_lab.study import spec as spec_module
from echo_lab.study.results import load_results
from echo_lab.study.runner import (
    assemble_results,
    check_resources,
    compute_unit,
    list_units,
    run_study,
)
from echo_lab.study.spec import parse_spec
from echo_lab.tables import Table

ROOT = Path(__file__).resolve().parents[1]
TOY = "dense-expm"


class DenseExpmBackend:
    """A toy backend: every free segment is ``scipy.linalg.expm`` of the dense H, per time."""

    name = TOY

    def __init__(self, *, max_qubits: int = 8) -> None:
        self.max_qubits = max_qubits

    def run(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        *,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> dict[str, np.ndarray]:
        times, n = check_inputs(hamiltonian, state, times)
        if n > self.max_qubits:
            raise ConfigError(f"{TOY} takes at most {self.max_qubits} qubits, got {n}")
        matrix = hamiltonian.to_matrix()
        columns = []
        for t in times:
            psi = state.vector().astype(complex)
            for segment in sequence.segments:
                if isinstance(segment, Free):
                    psi = scipy.linalg.expm(-1j * segment.fraction * t * matrix) @ psi
                else:
                    psi = apply_pulse(segment, psi, n)
            columns.append(psi)
        states = np.stack(columns, axis=1)
        result = {name: evaluate_observable(op, states, n) for name, op in observables.items()}
        if entropy:
            result["entropy"] = half_chain_entropy(states, n)
        check_health(result, norms=np.linalg.norm(states, axis=0))
        return result


TOY_ENTRY = BackendEntry(
    name=TOY,
    factory=f"{__name__}:DenseExpmBackend",
    rules=BackendRules(
        (),
        {},
        dense=True,
        max_qubits=8,
        limit_reason="the dense-expm backend exponentiates 2^n x 2^n matrices",
    ),
    description="scipy.linalg.expm of the dense Hamiltonian (a test's toy)",
)

STUDY = """
[study]
name = "toy_echo"
kind = "echo"
realizations = 2
seed = 5

[model]
n = 5
W = 6.0

[protocol]
sequence = "hahn"
pulses = ["pbit", "lbit", "lbit:1"]
background = ["z-random", "x"]

[times]
values = [0.0, 0.3, 2.0, 11.0]
"""


@pytest.fixture
def toy() -> Iterator[BackendEntry]:
    entry = register_backend(TOY_ENTRY)
    try:
        yield entry
    finally:
        unregister_backend(TOY)


def test_a_backend_registered_from_tests_runs_a_study_equal_to_exact(
    toy: BackendEntry, tmp_path: Path
) -> None:
    backend = get_backend(TOY, max_qubits=6)
    assert isinstance(backend, DenseExpmBackend) and isinstance(backend, Backend)
    assert TOY in backend_names() and TOY in backend_options.BACKEND_NAMES
    assert TOY in backends_package.BACKEND_NAMES and RULES[TOY] is TOY_ENTRY.rules

    toy_spec = parse_spec(STUDY + f'\n[backend]\nname = "{TOY}"\n')
    exact_spec = parse_spec(STUDY + '\n[backend]\nname = "exact"\n')
    assert check_resources(toy_spec) > 0  # built, dense steps counted (rules.dense)
    toy_ds = load_results(run_study(toy_spec, out=tmp_path / "toy", progress=False))
    units = {unit: compute_unit(exact_spec, unit) for unit in list_units(exact_spec)}
    exact_ds = assemble_results(exact_spec, units)  # the same path, without drawing figures
    assert toy_ds.attrs["backend"] == TOY and exact_ds.attrs["backend"] == "exact"
    assert set(toy_ds.data_vars) == set(exact_ds.data_vars)
    assert {"sx", "sy", "tau_x", "coherence"} <= set(toy_ds.data_vars)
    for name in exact_ds.data_vars:
        np.testing.assert_allclose(
            toy_ds[name].values, exact_ds[name].values, rtol=0, atol=1e-10, err_msg=name
        )
    assert np.ptp(exact_ds["sx"].values) > 0.1  # the echoes are not trivially equal


def test_the_study_file_reference_names_a_backend_registered_after_import(
    toy: BackendEntry,
) -> None:
    from echo_lab.study.reference import study_file_reference

    row = next(
        line
        for line in study_file_reference().splitlines()
        if line.startswith("| `name` |") and "`auto`" in line
    )
    assert f"`{TOY}`" in row and "`exact`" in row


def test_toy_rules_reach_the_study_checks(toy: BackendEntry) -> None:
    with pytest.raises(ConfigError, match="dense-expm backend exponentiates"):
        parse_spec(STUDY.replace("n = 5", "n = 9") + f'\n[backend]\nname = "{TOY}"\n')
    with pytest.raises(ConfigError, match=r"backend\.dt is not used by backend 'dense-expm'"):
        parse_spec(STUDY + f'\n[backend]\nname = "{TOY}"\ndt = 0.1\n')
    # a [check] backend may be the toy too
    spec = parse_spec(STUDY + f'\n[check]\nbackend = "{TOY}"\ntimes = [0.5]\ntolerance = 1e-9\n')
    assert spec.study_kind.backends(spec)["check"].name == TOY


def test_factories_are_imported_only_when_built() -> None:
    entry = register_backend(
        BackendEntry(
            name="not-installed",
            factory="echo_lab_no_such_module.engine:Engine",
            rules=BackendRules((), {}),
            description="a backend whose module is missing",
        )
    )
    try:
        assert "not-installed" in registered_backends()  # registering imports nothing
        assert entry.state_bytes(backend_options.BackendSpec(), SparsePauliOp("ZZ")) == 0
        with pytest.raises(ModuleNotFoundError, match="echo_lab_no_such_module"):
            get_backend("not-installed")
    finally:
        unregister_backend("not-installed")
    assert "not-installed" not in registered_backends()


def test_registration_refuses_taken_names_and_keys_a_table_cannot_hold() -> None:
    with pytest.raises(ConfigError, match="'exact' is already registered"):
        register_backend(TOY_ENTRY.__class__(**{**TOY_ENTRY.__dict__, "name": "exact"}))
    bad_keys = BackendEntry(
        name="bond",
        factory=f"{__name__}:DenseExpmBackend",
        rules=BackendRules(("bond_dimension",), {}),
        description="",
    )
    with pytest.raises(ConfigError, match="take other settings through options"):
        register_backend(bad_keys)
    with pytest.raises(ConfigError, match="'module:attribute'"):
        register_backend(BackendEntry("plain", "a_module", BackendRules((), {}), ""))
    with pytest.raises(ConfigError, match="built in"):
        unregister_backend("krylov")
    with pytest.raises(ConfigError, match=r"unknown backend 'qpu'; choose one of .*'device'"):
        get_backend("qpu")
    assert "bond" not in registered_backends() and "plain" not in registered_backends()


def test_registry_table_keys_and_docs_agree() -> None:
    entries = backend_entries()
    names = tuple(e.name for e in entries)
    in_files = tuple(e.name for e in entries if e.in_study_files)
    assert names == registered_backends() == tuple(RULES)
    assert in_files == backend_names() == BACKEND_NAMES == backend_options.BACKEND_NAMES
    assert in_files == ("exact", "krylov", "trotter-exact", "aer", "estimator", "qsim", "quimb")
    assert "device" in names and "device" not in in_files
    for entry in entries:
        assert set(entry.rules.keys) <= set(TABLE_KEYS), entry.name
        factory = _resolve(entry.factory)  # every factory path names a class with that name
        assert getattr(factory, "name", None) == entry.name
    union = {key for e in entries if e.in_study_files for key in e.rules.keys}
    assert set(backend_options.ALL_BACKEND_KEYS) == union
    assert spec_module._COMMON_KEYS["backend"] == ("name", *backend_options.ALL_BACKEND_KEYS)
    # the [backend] table takes exactly the names in files, and each backend's own keys
    for name in in_files:
        table = Table({"name": name}, "backend", ("name",))
        assert backend_options.parse_backend(table).name == name
    with pytest.raises(ConfigError, match="'device' is not known"):
        backend_options.parse_backend(Table({"name": "device"}, "backend", ("name",)))
    # the package docstring is generated from the registry: one line per backend
    listed = re.findall(r"^\* ``([a-z-]+)``: ", backends_package.__doc__ or "", re.M)
    assert tuple(listed) == names
    # the study-file reference (generated) lists the names files may use, the Trotter backends
    # for dt and each backend's own options
    from echo_lab.study.reference import study_file_reference

    reference = study_file_reference()
    line = re.search(r"^\| `name` \| string \| `\"exact\"` \| (.*?) \|", reference, re.M)
    assert line is not None
    # and "auto", which a study resolves to one of them (echo_lab.backends.auto)
    assert tuple(re.findall(r"`([a-z-]+)`", line.group(1))) == (*in_files, "auto")
    dt = re.search(r"^\| `dt` \| number \| `0.05` \|  \| Backends: (.*?)\. ", reference, re.M)
    trotter = (*(e.name for e in entries if e.in_study_files and e.rules.trotter), "auto")
    assert dt is not None and tuple(dt.group(1).split(", ")) == trotter
    for entry in entries:
        for option in entry.rules.options if entry.in_study_files else ():
            assert f"| `{entry.name}` | `{option}` |" in reference, (entry.name, option)


def _resolve(target: object) -> object:
    module, _, attribute = str(target).partition(":")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


def test_state_memory_comes_from_the_registry() -> None:
    h = SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], 1.0) for i in range(9)], 10)
    spec = backend_options.BackendSpec
    assert backend_options.estimate_state_bytes(spec("exact"), h) == 0
    assert backend_options.estimate_state_bytes(spec("estimator"), h) == 2 * 16 * 2**10
    assert backend_options.estimate_state_bytes(spec("qsim"), h) == 8 * 2**10 + 2 * 16 * 2**10
    # two MPS of 16 n chi^2 bytes and the SVD work arrays; chi = 64 unless options.max_bond
    assert backend_options.estimate_state_bytes(spec("quimb"), h) == (
        2 * 16 * 10 * 64**2 + 4 * 16 * 128**2
    )
    quimb_32 = spec("quimb", options=(("max_bond", 32),))
    assert backend_options.estimate_state_bytes(quimb_32, h) == 2 * 16 * 10 * 32**2 + 4 * 16 * 64**2
    assert backend_options.estimate_state_bytes(spec("aer", method="density_matrix"), h) == (
        16 * 4**10
    )
    assert backend_options.estimate_state_bytes(spec("device", method="auto"), h) == 16 * 4**10
    assert backend_options.estimate_state_bytes(spec("device", method="statevector"), h) == (
        16 * 2**10
    )
    assert backend_entry("aer").holds_state and not backend_entry("exact").holds_state


# ----------------------------------------------------------------------------------------------
# Layering: the backends import neither their own package nor the layers above them
# ----------------------------------------------------------------------------------------------

UPPER_LAYERS = ("echo_lab.lbits", "echo_lab.protocols", "echo_lab.hardware", "echo_lab.study")


def _imports(path: Path, package: str) -> set[str]:
    """Modules a file imports, at module or function level (TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if base == "echo_lab"}
    return found


def test_backend_modules_import_no_cycle_and_no_upper_layer() -> None:
    folder = ROOT / "echo_lab" / "backends"
    graph = {}
    for path in sorted(folder.glob("*.py")):
        module = "echo_lab.backends" + ("" if path.stem == "__init__" else f".{path.stem}")
        imports = _imports(path, "echo_lab.backends")
        if path.stem != "__init__":
            assert "echo_lab.backends" not in imports, f"{module} imports its package"
        upper = [m for m in imports if m.startswith(UPPER_LAYERS)]
        assert not upper, f"{module} imports {upper}"
        graph[module] = {m for m in imports if m.startswith("echo_lab.backends.")}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*path, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
