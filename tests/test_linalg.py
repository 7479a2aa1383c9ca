"""Local operator application against full kron-built operators (independent constructions)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import Operator, SparsePauliOp, random_unitary

from echo_lab.errors import ConfigError
from echo_lab.physics.linalg import apply_local, embed, expectations


@pytest.mark.parametrize("qubits", [(0,), (3,), (1, 3), (3, 0), (2, 0, 4)])
def test_embed_matches_qiskit_operator(qubits: tuple[int, ...]) -> None:
    n = 5
    local = random_unitary(2 ** len(qubits), seed=7).data
    expected = Operator(np.eye(2**n)).compose(Operator(local), qargs=list(qubits)).data
    np.testing.assert_allclose(embed(local, qubits, n), expected, atol=1e-12)


def test_apply_local_batch_equals_columns() -> None:
    n = 4
    rng = np.random.default_rng(1)
    states = rng.normal(size=(2**n, 3)) + 1j * rng.normal(size=(2**n, 3))
    local = random_unitary(4, seed=3).data
    full = embed(local, (2, 1), n)
    np.testing.assert_allclose(apply_local(local, (2, 1), states, n), full @ states, atol=1e-12)
    np.testing.assert_allclose(
        apply_local(local, (2, 1), states[:, 0], n), full @ states[:, 0], atol=1e-12
    )


def test_pauli_label_order_and_expectations() -> None:
    # "XIZ": Z on qubit 0, X on qubit 2; |psi> = |+> on qubit 2 and |1> on qubit 0.
    plus = np.array([1, 1]) / np.sqrt(2)
    one = np.array([0, 1])
    zero = np.array([1, 0])
    psi = np.kron(plus, np.kron(zero, one))
    value = expectations(SparsePauliOp("XIZ"), psi[:, None])
    np.testing.assert_allclose(value, [-1.0])


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ConfigError, match="2-qubit operator"):
        apply_local(np.eye(2), (0, 1), np.ones(8), 3)
    with pytest.raises(ConfigError, match="outside"):
        apply_local(np.eye(2), (5,), np.ones(8), 3)


def test_entropy_of_weights_one_formula() -> None:
    from echo_lab.physics.linalg import entropy_of_weights

    assert entropy_of_weights(np.array([1.0, 0.0])) == 0.0
    assert np.isclose(entropy_of_weights(np.full(4, 0.25)), np.log(4), rtol=0, atol=1e-15)
    # a truncated spectrum (sum 0.5) is renormalized; rounding noise below zero is dropped
    assert np.isclose(entropy_of_weights(np.array([0.25, 0.25, -1e-17])), np.log(2), atol=1e-15)
