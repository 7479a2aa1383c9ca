"""Small dense linear-algebra helpers in Qiskit qubit order (qubit 0 least significant).

* :func:`apply_local` applies a k-qubit matrix to a batch of n-qubit states without building the
  2^n x 2^n operator: cost O(2^n 4^k) per state instead of O(4^n).
* :func:`embed` builds that full operator (for small n, tests and reference checks).
* :func:`expectations` evaluates <psi|O|psi> for a batch of states and a SparsePauliOp or dense O.
* :func:`entropy_of_weights` is the von Neumann entropy of a spectrum (Schmidt weights or the
  eigenvalues of a density matrix), the one formula behind every entropy the package reports.
* :data:`PAULI_MATRICES` are the one-qubit Pauli matrices X, Y, Z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import LinearOperator

from echo_lab.errors import ConfigError

__all__ = [
    "ENTROPY_WEIGHT_FLOOR",
    "NORMALIZATION_TOLERANCE",
    "PAULI_MATRICES",
    "apply_local",
    "embed",
    "entropy_of_weights",
    "expectations",
    "operator_matrix",
]

#: The one-qubit Pauli matrices (complex, read-only).
PAULI_MATRICES: dict[str, np.ndarray] = {
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}
for _matrix in PAULI_MATRICES.values():
    _matrix.setflags(write=False)

#: Weights at or below this are dropped from an entropy (zeros, and the tiny negative values
#: rounding gives the eigenvalues of a density matrix; p log p -> 0 anyway).
ENTROPY_WEIGHT_FLOOR = 1e-300

#: Weights whose sum differs from 1 by more than this (a truncated matrix product state) are
#: renormalized before the entropy is taken; a normalized state's weights are used as they are.
NORMALIZATION_TOLERANCE = 1e-12


def entropy_of_weights(weights: np.ndarray) -> float:
    """Von Neumann entropy -sum p log p (natural log) of a spectrum ``weights``.

    ``weights`` are Schmidt values squared or density-matrix eigenvalues. Weights at or below
    :data:`ENTROPY_WEIGHT_FLOOR` are dropped, and the rest renormalized to sum 1 when their sum
    is off by more than :data:`NORMALIZATION_TOLERANCE` (a truncated MPS).
    """
    p = np.asarray(weights, dtype=float).ravel()
    p = p[p > ENTROPY_WEIGHT_FLOOR]
    total = float(np.sum(p))
    if p.size == 0 or total == 0.0:
        return 0.0
    if abs(total - 1.0) > NORMALIZATION_TOLERANCE:
        p = p / total
    return float(-np.sum(p * np.log(p)))


def apply_local(
    matrix: np.ndarray, qubits: Sequence[int], states: np.ndarray, n: int
) -> np.ndarray:
    """Return ``(M on qubits) @ states``; ``states`` has shape ``(2^n,)`` or ``(2^n, K)``.

    ``matrix`` is ``2^k x 2^k`` with ``qubits[0]`` as its least significant index bit.
    """
    k = len(qubits)
    if matrix.shape != (2**k, 2**k):
        raise ConfigError(f"a {k}-qubit operator needs shape {(2**k, 2**k)}, got {matrix.shape}")
    if any(not 0 <= q < n for q in qubits):
        raise ConfigError(f"qubits {tuple(qubits)} are outside 0..{n - 1}")
    squeeze = states.ndim == 1
    batch = states.reshape(2**n, -1)
    nbatch = batch.shape[1]
    tensor = batch.reshape((2,) * n + (nbatch,))
    # Tensor axis of qubit q is n - 1 - q; the matrix's row/col axes are ordered
    # (q_{k-1}, ..., q_0) because qubits[0] is its least significant bit.
    axes = [n - 1 - q for q in reversed(qubits)]
    op = matrix.reshape((2,) * (2 * k))
    moved = np.moveaxis(tensor, axes, range(k))
    result = np.tensordot(op, moved, axes=(list(range(k, 2 * k)), list(range(k))))
    result = np.moveaxis(result, range(k), axes)
    out = result.reshape(2**n, nbatch)
    return out[:, 0] if squeeze else out


def embed(matrix: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """The full ``2^n x 2^n`` operator of a k-qubit ``matrix`` acting on ``qubits``."""
    return apply_local(matrix, qubits, np.eye(2**n, dtype=complex), n)


def operator_matrix(
    op: SparsePauliOp | np.ndarray | sp.spmatrix | LinearOperator,
) -> np.ndarray | sp.csr_matrix | LinearOperator:
    """A form usable with ``@``: CSR for a SparsePauliOp, a ``LinearOperator`` as it is (its
    action, e.g. an l-bit operator block by block), the array itself otherwise."""
    if isinstance(op, SparsePauliOp):
        return sp.csr_matrix(op.to_matrix(sparse=True))
    if sp.issparse(op):
        return sp.csr_matrix(op)
    if isinstance(op, LinearOperator):
        return op
    return np.asarray(op)


def expectations(
    op: SparsePauliOp | np.ndarray | sp.spmatrix | LinearOperator, states: np.ndarray
) -> np.ndarray:
    """Real parts of <psi_k|O|psi_k> for the columns of ``states`` (shape ``(2^n, K)``).

    ``op`` may be a ``scipy.sparse.linalg.LinearOperator`` (applied to the whole batch)."""
    mat = operator_matrix(op)
    batch = states.reshape(states.shape[0], -1)
    if mat.shape[0] != batch.shape[0]:
        raise ConfigError(
            f"operator of dimension {mat.shape[0]} does not match states of dimension "
            f"{batch.shape[0]}"
        )
    values = np.real(np.einsum("ik,ik->k", batch.conj(), mat @ batch))
    return values if states.ndim > 1 else values[0]
