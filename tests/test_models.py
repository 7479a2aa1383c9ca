"""Models, lattices and disorder seeding (docs/pages/conventions.md sections 1 and 2)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from functools import reduce

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import models

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0.0, 1.0], [1.0, 0.0]]),
    "Y": np.array([[0.0, -1j], [1j, 0.0]]),
    "Z": np.diag([1.0, -1.0]),
}


def site_operator(op: str, site: int, n: int) -> np.ndarray:
    """Pauli ``op`` on ``site`` by explicit Kronecker products, qubit 0 the rightmost factor."""
    factors = [PAULI[op] if q == site else PAULI["I"] for q in reversed(range(n))]
    return reduce(np.kron, factors)


def kron_hamiltonian(
    n: int,
    bonds: list[tuple[int, int]],
    *,
    J: float,
    Jz: float,
    fields: np.ndarray,
    g: np.ndarray | None = None,
) -> np.ndarray:
    """docs/pages/conventions.md section 2, written out term by term."""
    h = np.zeros((2**n, 2**n), dtype=complex)
    for i, j in bonds:
        for op, coupling in (("X", J), ("Y", J), ("Z", Jz)):
            h += coupling * site_operator(op, i, n) @ site_operator(op, j, n)
    for i in range(n):
        h += fields[i] * site_operator("Z", i, n)
        if g is not None:
            h += g[i] * site_operator("X", i, n)
    return h


def test_qiskit_label_order() -> None:
    assert models.pauli_label(3, {0: "Z", 2: "X"}) == "XIZ"
    # "XIZ": Z on qubit 0 (least significant bit), X on qubit 2.
    np.testing.assert_array_equal(
        SparsePauliOp("XIZ").to_matrix(), site_operator("X", 2, 3) @ site_operator("Z", 0, 3)
    )
    # Basis index 1 has qubit 0 in |1>, i.e. sigma^z_0 = -1.
    assert site_operator("Z", 0, 3)[1, 1] == -1.0
    assert site_operator("Z", 2, 3)[1, 1] == 1.0


@pytest.mark.parametrize(
    ("lattice", "bonds"),
    [
        (models.Lattice.chain(5), [(0, 1), (1, 2), (2, 3), (3, 4)]),
        (models.Lattice.chain(5, periodic=True), [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]),
        (
            models.Lattice.square(3, 2),
            [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)],
        ),
        (models.Lattice.from_edges(4, [(0, 2), (2, 3), (1, 3), (0, 1)]), None),
    ],
    ids=["open", "periodic", "square", "edges"],
)
def test_hamiltonian_matches_kron_build(
    lattice: models.Lattice, bonds: list[tuple[int, int]] | None
) -> None:
    if bonds is not None:
        assert sorted(map(sorted, lattice.bonds)) == sorted(map(sorted, bonds))
    n = lattice.n
    g = np.linspace(0.2, 0.7, n)
    model = models.RandomFieldXXZ(lattice=lattice, W=2.5, J=0.8, Jz=1.3, g=g, seed=17)
    expected = kron_hamiltonian(n, list(lattice.bonds), J=0.8, Jz=1.3, fields=model.fields, g=g)
    np.testing.assert_allclose(model.hamiltonian().to_matrix(), expected, atol=1e-13)
    np.testing.assert_allclose(model.matrix(), expected, atol=1e-13)
    sparse = model.matrix(sparse=True)
    assert sp.issparse(sparse)
    np.testing.assert_allclose(sparse.toarray(), expected, atol=1e-13)


def test_matrix_is_real_for_the_xxz_family_and_complex_with_y_fields() -> None:
    dense = models.RandomFieldXXZ(4, W=1.0, g=0.3, seed=0).matrix()
    assert dense.dtype == np.float64
    op = SparsePauliOp.from_sparse_list([("Y", [0], 0.5), ("ZZ", [0, 1], 1.0)], 2)
    dense = models.PauliModel(op).matrix()
    assert np.iscomplexobj(dense)
    np.testing.assert_allclose(
        dense, 0.5 * site_operator("Y", 0, 2) + site_operator("Z", 0, 2) @ site_operator("Z", 1, 2)
    )


def test_fields_reproducible_from_the_seed() -> None:
    model = models.RandomFieldXXZ(6, W=3.0, seed=42)
    np.testing.assert_array_equal(model.fields, np.random.default_rng(42).uniform(-3.0, 3.0, 6))
    np.testing.assert_array_equal(models.RandomFieldXXZ(6, W=3.0, seed=42).fields, model.fields)
    assert not np.array_equal(models.RandomFieldXXZ(6, W=3.0, seed=43).fields, model.fields)
    assert np.all(np.abs(model.fields) <= 3.0)


def test_seeding_leaves_the_global_random_state_alone() -> None:
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    models.RandomFieldXXZ(6, W=3.0, seed=1)
    models.RandomFieldXXZ(6, W=3.0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_explicit_fields_override_w_and_seed() -> None:
    fields = [0.5, -1.0, 2.0]
    model = models.RandomFieldXXZ(3, W=10.0, seed=5, fields=fields)
    np.testing.assert_array_equal(model.fields, fields)
    expected = kron_hamiltonian(3, [(0, 1), (1, 2)], J=1.0, Jz=1.0, fields=np.array(fields))
    np.testing.assert_allclose(model.hamiltonian().to_matrix(), expected, atol=1e-13)
    assert models.RandomFieldXXZ(3, fields=2.0).fields.tolist() == [2.0, 2.0, 2.0]


def test_disorder_seeds_are_the_spawned_children() -> None:
    seeds = models.disorder_seeds(7, 5)
    children = np.random.SeedSequence(7).spawn(5)
    assert len(seeds) == 5
    for seed, child in zip(seeds, children, strict=True):
        np.testing.assert_array_equal(seed.generate_state(4), child.generate_state(4))
    fields = [models.RandomFieldXXZ(4, W=2.0, seed=s).fields for s in seeds]
    np.testing.assert_array_equal(
        fields[3], np.random.default_rng(np.random.SeedSequence(7).spawn(5)[3]).uniform(-2, 2, 4)
    )
    assert len({tuple(f) for f in fields}) == 5
    assert models.disorder_seeds(7, 0) == []


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: models.RandomFieldXXZ(4, W=-1.0), "W must be >= 0"),
        (lambda: models.RandomFieldXXZ(4, W=float("nan")), "W must be finite"),
        (lambda: models.RandomFieldXXZ(4, Jz=float("inf")), "Jz must be finite"),
        (lambda: models.RandomFieldXXZ(4, fields=[1.0, 2.0, 3.0]), "fields must be"),
        (lambda: models.RandomFieldXXZ(4, fields=[1.0, 2.0, 3.0, np.nan]), "finite"),
        (lambda: models.RandomFieldXXZ(4, g=[1.0, 2.0]), "g must be"),
        (lambda: models.RandomFieldXXZ(0), "n must be >= 1"),
        (lambda: models.RandomFieldXXZ(), "give the number of sites"),
        (lambda: models.RandomFieldXXZ(4, lattice=models.Lattice.chain(3)), "disagrees"),
        (lambda: models.Lattice.from_edges(3, [(0, 3)]), "bond"),
        (lambda: models.Lattice.from_edges(3, [(1, 1)]), "bond"),
        (lambda: models.Lattice.from_edges(3, [(-1, 0)]), "bond"),
        (lambda: models.Lattice.square(0, 3), "square lattice"),
        (lambda: models.disorder_seeds(1, -1), "realization count"),
        (lambda: models.PauliModel(np.eye(2)), "SparsePauliOp"),
        (lambda: models.PauliModel(SparsePauliOp(["XX"], [np.nan])), "non-finite"),
    ],
)
def test_invalid_inputs_raise_config_error(build: Callable[[], object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build()


def test_random_field_ising_has_no_xy_exchange() -> None:
    model = models.RandomFieldIsing(4, W=2.0, Jz=1.5, g=0.7, seed=3)
    assert model.J == 0.0
    expected = kron_hamiltonian(
        4, [(0, 1), (1, 2), (2, 3)], J=0.0, Jz=1.5, fields=model.fields, g=np.full(4, 0.7)
    )
    np.testing.assert_allclose(model.hamiltonian().to_matrix(), expected, atol=1e-13)
    labels = model.hamiltonian().paulis.to_labels()
    assert not any("Y" in label for label in labels)
    assert not model.conserves_magnetization
    np.testing.assert_array_equal(model.fields, models.RandomFieldXXZ(4, W=2.0, seed=3).fields)


def test_pauli_model_rejects_non_hermitian_and_reads_fields() -> None:
    with pytest.raises(ConfigError, match="not Hermitian"):
        models.PauliModel(SparsePauliOp(["XX", "ZI"], [1.0, 0.5j]))
    with pytest.raises(ConfigError, match="not Hermitian"):
        models.PauliModel(SparsePauliOp(["-iX"]))
    op = SparsePauliOp(["IZ", "ZI", "XZ", "ZZ"], [2.0, 3.0, 1.0, 0.5])
    model = models.PauliModel(op)
    np.testing.assert_array_equal(model.fields, [2.0, 3.0])
    np.testing.assert_allclose(model.matrix(), op.to_matrix())
    assert model.describe()["terms"] == [["IZ", 2.0], ["ZI", 3.0], ["XZ", 1.0], ["ZZ", 0.5]]


def test_conserves_magnetization() -> None:
    assert models.RandomFieldXXZ(5, W=3.0, seed=1).conserves_magnetization
    assert models.RandomFieldXXZ(5, W=3.0, Jz=0.0, seed=1).conserves_magnetization
    assert not models.RandomFieldXXZ(5, W=3.0, g=0.2, seed=1).conserves_magnetization
    assert not models.RandomFieldXXZ(5, g=[0, 0, 0.1, 0, 0]).conserves_magnetization
    assert models.PauliModel(SparsePauliOp(["XY", "YX"], [1.0, -1.0])).conserves_magnetization
    assert not models.PauliModel(SparsePauliOp(["XY", "YX"], [1.0, 1.0])).conserves_magnetization
    # Independent check: the total sigma^z commutes with the matrix exactly when conserved.
    for g in (0.0, 0.2):
        h = models.RandomFieldXXZ(4, W=1.0, g=g, seed=2).matrix()
        total_z = sum(site_operator("Z", i, 4) for i in range(4))
        assert np.allclose(h @ total_z, total_z @ h) == (g == 0.0)


def test_chain_distances_and_windows() -> None:
    open_chain = models.Lattice.chain(6)
    i, j = np.indices((6, 6))
    np.testing.assert_array_equal(open_chain.distances, np.abs(i - j))
    ring = models.Lattice.chain(6, periodic=True)
    np.testing.assert_array_equal(ring.distances, np.minimum(np.abs(i - j), 6 - np.abs(i - j)))
    assert ring.distance(0, 5) == 1
    assert open_chain.window(1, 2) == [0, 1, 2, 3]
    assert ring.window(0, 1) == [0, 1, 5]
    assert models.Lattice.chain(2, periodic=True).bonds == ((0, 1),)
    # A disconnected pair is at distance n.
    assert models.Lattice.from_edges(4, [(0, 1)]).distance(0, 3) == 4


def test_square_lattice_distances() -> None:
    lattice = models.Lattice.square(4, 3)
    xy = [(s % 4, s // 4) for s in range(12)]
    manhattan = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in xy] for a in xy])
    np.testing.assert_array_equal(lattice.distances, manhattan)
    torus = models.Lattice.square(4, 3, periodic=True)
    wrapped = np.array(
        [
            [
                min(abs(a[0] - b[0]), 4 - abs(a[0] - b[0]))
                + min(abs(a[1] - b[1]), 3 - abs(a[1] - b[1]))
                for b in xy
            ]
            for a in xy
        ]
    )
    np.testing.assert_array_equal(torus.distances, wrapped)
    assert len(torus.bonds) == 24


def test_open_chain_bond_layers_are_even_then_odd() -> None:
    assert models.Lattice.chain(6).bond_layers() == [
        [(0, 1), (2, 3), (4, 5)],
        [(1, 2), (3, 4)],
    ]
    assert models.Lattice.chain(5).bond_layers() == [[(0, 1), (2, 3)], [(1, 2), (3, 4)]]
    assert models.Lattice.chain(1).bond_layers() == []


def _assert_proper_colouring(lattice: models.Lattice) -> None:
    layers = lattice.bond_layers()
    flat = [bond for layer in layers for bond in layer]
    assert sorted(flat) == sorted(lattice.bonds)
    for layer in layers:
        sites = [s for bond in layer for s in bond]
        assert len(sites) == len(set(sites))
    degree = np.bincount(np.ravel(lattice.bonds), minlength=lattice.n) if lattice.bonds else [0]
    assert len(layers) <= max(1, 2 * int(np.max(degree)) - 1)


@pytest.mark.parametrize(
    "lattice",
    [
        models.Lattice.chain(7, periodic=True),
        models.Lattice.chain(8, periodic=True),
        models.Lattice.square(3, 3),
        models.Lattice.square(4, 3, periodic=True),
    ],
)
def test_bond_layers_are_proper_colourings(lattice: models.Lattice) -> None:
    _assert_proper_colouring(lattice)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=2, max_value=8).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(
                    lambda b: b[0] < b[1]
                ),
                max_size=12,
            ),
        )
    )
)
def test_bond_layers_colour_random_graphs(graph: tuple[int, set[tuple[int, int]]]) -> None:
    n, edges = graph
    _assert_proper_colouring(models.Lattice.from_edges(n, sorted(edges)))


def test_describe_round_trips_through_json() -> None:
    model = models.RandomFieldXXZ(lattice=models.Lattice.square(2, 2), W=2.0, Jz=0.5, g=0.1, seed=9)
    info = json.loads(json.dumps(model.describe()))
    rebuilt = models.RandomFieldXXZ(
        lattice=models.Lattice.from_edges(info["n"], info["bonds"]),
        J=info["J"],
        Jz=info["Jz"],
        g=info["g"],
        fields=info["fields"],
    )
    assert rebuilt.hamiltonian().equiv(model.hamiltonian())
    assert info["lattice"] == "square"


def test_dense_matrix_is_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "64M")
    model = models.RandomFieldXXZ(14, W=1.0, seed=0)
    tracemalloc.start()
    try:
        with pytest.raises(ResourceError, match="dense 14-qubit Hamiltonian"):
            model.matrix()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    # The sparse form is not refused: O(2^n n) entries.
    assert model.matrix(sparse=True).shape == (2**14, 2**14)


def test_one_hermiticity_check_for_every_entry_point() -> None:
    from qiskit.quantum_info import SparsePauliOp

    from echo_lab import lbits
    from echo_lab.dynamics import trotter
    from echo_lab.errors import ConfigError

    bad = SparsePauliOp(["XI", "ZZ"], coeffs=[1.0, 1e-6j])
    rounding = SparsePauliOp(["XI", "ZZ"], coeffs=[1e6, 1e-7j])  # 1e-13 relative: rounding
    assert models.check_hermitian(rounding) is rounding
    for entry in (
        models.check_hermitian,
        models.PauliModel,
        trotter.check_hamiltonian,
        lambda op: lbits.construct(op),
    ):
        with pytest.raises(ConfigError, match="not Hermitian"):
            entry(bad)
