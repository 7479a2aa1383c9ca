"""Circuit l-bits: finite-depth unitaries that diagonalize H (physics.md section 9)."""

from __future__ import annotations

import numpy as np
import pytest

from echo_lab import models
from echo_lab.circuit_lbits.cones import ConeEngine
from echo_lab.circuit_lbits.dense import DenseEngine
from echo_lab.circuit_lbits.gates import allowed_entries
from echo_lab.circuit_lbits.layout import Layout, block_layout, site_cone, term_cone
from echo_lab.circuit_lbits.optimize import _Parameters, initial_gates
from echo_lab.errors import ConfigError
from echo_lab.linalg import embed


def random_gate(width: int, family: str, rng: np.random.Generator) -> np.ndarray:
    dim = 1 << width
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    a = (a + a.conj().T) * allowed_entries(width, family)
    values, vectors = np.linalg.eigh(a)
    return (vectors * np.exp(1j * values)) @ vectors.conj().T


def random_gates(layout: Layout, family: str, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [random_gate(s.width, family, rng) for s in layout.slots]


def full_unitary(layout: Layout, gates: list[np.ndarray]) -> np.ndarray:
    unitary = np.eye(1 << layout.n, dtype=complex)
    for slot, gate in zip(layout.slots, gates, strict=True):
        unitary = embed(gate, slot.sites, layout.n) @ unitary
    return unitary


def test_brickwork_and_block_layouts_and_their_cones() -> None:
    brick = block_layout(8, block=2, layers=3)
    assert [s.sites for s in brick.slots if s.layer == 0] == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert [s.sites for s in brick.slots if s.layer == 1] == [(1, 2), (3, 4), (5, 6)]
    blocks = block_layout(10, block=4, layers=2)
    assert [s.sites for s in blocks.slots if s.layer == 1] == [
        (0, 1),
        (2, 3, 4, 5),
        (6, 7, 8, 9),
    ]
    # A bond aligned with a last-layer gate has a 2d-site cone, a straddling one 2d + 2.
    assert term_cone(brick, 2, 3)[1] == (0, 5)
    assert term_cone(brick, 3, 4)[1] == (0, 7)
    gates, interval = site_cone(brick, 4)
    assert interval == (2, 7)
    assert [brick.slots[k].layer for k in gates] == [0, 1, 1, 2, 2, 2]
    with pytest.raises(ConfigError, match="block"):
        block_layout(3, block=4, layers=2)


def test_dense_cost_is_the_z_string_weight_of_the_rotated_hamiltonian() -> None:
    n = 6
    hamiltonian = models.RandomFieldXXZ(n=n, W=4.0, Jz=0.7, seed=1).hamiltonian()
    layout = block_layout(n, block=2, layers=3)
    for family, conserving in (("sz", True), ("general", False)):
        gates = random_gates(layout, family, 5)
        value, _ = DenseEngine(hamiltonian, layout, conserving=conserving).evaluate(gates)
        unitary = full_unitary(layout, gates)
        rotated = unitary.conj().T @ hamiltonian.to_matrix() @ unitary
        mean = np.trace(hamiltonian.to_matrix()).real / 2**n
        assert value == pytest.approx(np.mean(np.diag(rotated).real ** 2) - mean**2, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "block", "layers", "family"),
    [(8, 2, 3, "sz"), (9, 2, 4, "general"), (10, 3, 2, "sz"), (8, 4, 2, "general")],
)
def test_light_cone_cost_and_gradient_equal_the_dense_ones(
    n: int, block: int, layers: int, family: str
) -> None:
    hamiltonian = models.RandomFieldXXZ(n=n, W=4.0, Jz=0.7, seed=n).hamiltonian()
    layout = block_layout(n, block=block, layers=layers)
    gates = random_gates(layout, family, n + block)
    dense_value, dense_grads = DenseEngine(hamiltonian, layout, conserving=family == "sz").evaluate(
        gates
    )
    cone_value, cone_grads = ConeEngine(hamiltonian, layout).evaluate(gates)
    assert cone_value == pytest.approx(dense_value, rel=1e-12)
    assert dense_grads is not None and cone_grads is not None
    # The gradients agree on the tangent space of the unitary group, dg = g i K.
    rng = np.random.default_rng(0)
    for slot, gate, a, b in zip(layout.slots, gates, dense_grads, cone_grads, strict=True):
        k = random_gate(slot.width, family, rng)
        tangent = gate @ (1j * (k + k.conj().T))
        assert np.real(np.trace(a @ tangent)) == pytest.approx(
            np.real(np.trace(b @ tangent)), abs=1e-10 * (1 + np.abs(a).max())
        )


def test_parameter_gradient_matches_finite_differences() -> None:
    n = 6
    hamiltonian = models.RandomFieldXXZ(n=n, W=3.0, seed=2).hamiltonian()
    layout = block_layout(n, block=3, layers=2)
    engine = ConeEngine(hamiltonian, layout)
    params = _Parameters(layout, "sz", initial_gates(hamiltonian, layout, "sz"))
    rng = np.random.default_rng(1)
    theta = 0.4 * rng.normal(size=params.size)
    _, grads = engine.evaluate(params.gates(theta))
    assert grads is not None
    analytic = params.gradient(grads)
    direction = rng.normal(size=params.size)
    step = 1e-6
    plus = engine.evaluate(params.gates(theta + step * direction), gradient=False)[0]
    minus = engine.evaluate(params.gates(theta - step * direction), gradient=False)[0]
    assert (plus - minus) / (2 * step) == pytest.approx(analytic @ direction, rel=1e-7)
