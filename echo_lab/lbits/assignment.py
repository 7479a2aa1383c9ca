"""Assignments of configurations to eigenstates, the core of the l-bit construction
(docs/pages/conventions.md sec. 4; the operators built from them live in :mod:`echo_lab.lbits`).

An assignment ``pi`` maps every configuration s in {0,1}^n to an eigenstate index. This module
diagonalizes H block by block (:func:`diagonalize_blocks`), makes the assignment that maximizes
the total log-overlap (:func:`overlap_assignment`), lowers the average range of the tau^z by
exchanging the eigenstates of two configurations (:func:`minimize_range`, the seed's criterion)
and applies the sign convention Tr(tau^z_i sigma^z_i) >= 0 (:func:`enforce_signs`).

Range minimization: the mean range of tau^z_i is the quadratic form sigma_i^T K sigma_i, where
sigma_i[e] = +-1 is the tau^z_i eigenvalue of eigenstate e and
K[e, f] = sum_P range(P) c_P(|e><e|) c_P(|f><f|) (R is diagonal in the Pauli basis). A swap
changes sigma_i at two entries (a rank-2 change of tau^z_i), so the exact change of every swap
follows from K and g_i = K sigma_i, all swaps at once by three matrix products. Each sweep
applies the improving swaps best first, each re-checked exactly; the average range therefore
never increases. K costs O(16^n) time and a few 4^n arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import linear_sum_assignment

from echo_lab.errors import ConfigError
from echo_lab.physics import pauli
from echo_lab.physics.models import Lattice
from echo_lab.physics.spectrum import basis_blocks, conserves_magnetization, diagonalize
from echo_lab.resources import COMPLEX_BYTES, REAL_BYTES, require_memory
from echo_lab.timing import stage

__all__ = [
    "EigenvectorBlock",
    "bits",
    "blocks_from_eigensystem",
    "diagonalize_blocks",
    "enforce_signs",
    "estimate_bytes",
    "minimize_range",
    "overlap_assignment",
    "range_matrix",
    "z_expectations",
]

#: Swaps must lower the summed mean range by more than this to be applied (rounding guard).
_SWAP_TOLERANCE = 1e-10


@dataclass(frozen=True)
class EigenvectorBlock:
    """Eigenvectors of one block of H: ``basis`` (d,) basis indices, ``states`` (d,) global
    eigenstate indices, ``vectors`` (d, d) with column j the eigenstate ``states[j]``."""

    basis: np.ndarray
    states: np.ndarray
    vectors: np.ndarray


def bits(values: np.ndarray, n: int) -> np.ndarray:
    """``bits[i, k] = bit i of values[k]``, shape ``(n, len(values))``, int64."""
    return (np.asarray(values)[None, :] >> np.arange(n)[:, None]) & 1


def _sparse_matrix(hamiltonian: SparsePauliOp) -> sp.csr_matrix:
    matrix = sp.csr_matrix(hamiltonian.to_matrix(sparse=True))
    if matrix.nnz and float(np.max(np.abs(matrix.data.imag))) == 0.0:
        matrix = sp.csr_matrix(matrix.real)
    matrix.eliminate_zeros()
    return matrix


def diagonalize_blocks(hamiltonian: SparsePauliOp) -> tuple[np.ndarray, list[EigenvectorBlock]]:
    """Energies (ascending) and eigenvector blocks of H.

    The blocks are the connected components of H's matrix graph in the computational basis;
    with a single component this is ``spectrum.diagonalize``.
    """
    matrix = _sparse_matrix(hamiltonian)
    dim = matrix.shape[0]
    bases = basis_blocks(matrix)
    if len(bases) == 1:
        energies, vectors = diagonalize(hamiltonian)
        everything = np.arange(dim)
        return energies, [EigenvectorBlock(everything, everything, vectors)]
    itemsize = COMPLEX_BYTES if np.iscomplexobj(matrix.data) else REAL_BYTES
    sizes = np.array([basis.size for basis in bases])
    squares = sizes.astype(float) ** 2
    require_memory(
        itemsize * float(np.sum(squares) + 3 * np.max(squares)),
        what=f"diagonalizing the {len(bases)} blocks of a {hamiltonian.num_qubits}-qubit "
        "Hamiltonian",
        suggestion="Use fewer qubits.",
    )
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for basis in bases:
        block = matrix[basis][:, basis].toarray()
        with stage("diagonalization"):
            values, vectors = np.linalg.eigh(block)
        parts.append((basis, values, vectors))
    energies = np.concatenate([values for _, values, _ in parts])
    ranking = np.argsort(energies, kind="stable")
    position = np.empty(dim, dtype=np.int64)
    position[ranking] = np.arange(dim)
    blocks = [
        EigenvectorBlock(basis, position[starts[c] : starts[c + 1]], vectors)
        for c, (basis, _, vectors) in enumerate(parts)
    ]
    return energies[ranking], blocks


def blocks_from_eigensystem(
    eigensystem: tuple[np.ndarray, np.ndarray], hamiltonian: SparsePauliOp
) -> tuple[np.ndarray, list[EigenvectorBlock]]:
    """Validate a given ``(E, V)`` (shapes, finiteness, residual of a few columns)."""
    try:
        energies, vectors = eigensystem
    except (TypeError, ValueError) as exc:
        raise ConfigError("eigensystem must be a pair (energies, vectors)") from exc
    energies = np.asarray(energies, dtype=float)
    vectors = np.asarray(vectors)
    dim = 1 << hamiltonian.num_qubits
    if energies.shape != (dim,) or vectors.shape != (dim, dim):
        raise ConfigError(
            f"eigensystem must have energies of shape {(dim,)} and vectors of shape {(dim, dim)}, "
            f"got {energies.shape} and {vectors.shape}"
        )
    if not (np.all(np.isfinite(energies)) and np.all(np.isfinite(vectors))):
        raise ConfigError("eigensystem contains NaN or infinite values")
    probe = np.unique(np.linspace(0, dim - 1, min(dim, 8)).astype(np.int64))
    matrix = _sparse_matrix(hamiltonian)
    residual = matrix @ vectors[:, probe] - vectors[:, probe] * energies[probe]
    scale = max(1.0, float(np.max(np.abs(energies))))
    if float(np.max(np.abs(residual))) > 1e-8 * scale:
        raise ConfigError(
            "eigensystem does not diagonalize this Hamiltonian (H v != E v): pass the (E, V) "
            "of the same Hamiltonian, e.g. (lb.energies, lb.vectors)"
        )
    everything = np.arange(dim)
    return energies, [EigenvectorBlock(everything, everything, vectors)]


def overlap_assignment(blocks: list[EigenvectorBlock], dim: int) -> np.ndarray:
    """Per block, maximize sum_s log |<s|E_pi(s)>|^2 (zero overlaps count as log(tiny)).

    The cost matrix is built in place: one d x d real array per block at a time.
    """
    assignment = np.empty(dim, dtype=np.int64)
    tiny = np.finfo(float).tiny
    for block in blocks:
        cost = np.abs(block.vectors)
        np.square(cost, out=cost)
        np.maximum(cost, tiny, out=cost)
        np.log(cost, out=cost)
        np.negative(cost, out=cost)
        rows, cols = linear_sum_assignment(cost)
        assignment[block.basis[rows]] = block.states[cols]
    return assignment


def range_matrix(vectors: np.ndarray, lattice: Lattice) -> np.ndarray:
    """K[e, f] = sum_P range(P) c_P(|e><e|) c_P(|f><f|), shape ``(2^n, 2^n)``.

    ``vectors`` is the dense eigenvector matrix (column e the eigenstate e). For every X mask x:
    A[r, e] = <r|e> conj(<r^x|e>), a Walsh-Hadamard transform over r gives 2^n c_{x,z}(e) up to
    the phase i^{|x & z|} (which cancels in c(e) conj(c(f))), and the range-weighted Gram matrix
    is accumulated. Time O(16^n), memory a few 4^n arrays.
    """
    dim = vectors.shape[0]
    masks = np.arange(dim)
    ranges = pauli.support_ranges(lattice).astype(float)
    gram = np.zeros((dim, dim))
    for x in range(dim):
        products = vectors * np.conj(vectors[masks ^ x, :])
        transformed = pauli.walsh_hadamard(products, axis=0)
        weighted = transformed * ranges[x | masks][:, None]
        gram += np.real(weighted.T @ np.conj(transformed))
    return gram / (dim * dim)


def minimize_range(
    vectors: np.ndarray, lattice: Lattice, assignment: np.ndarray, *, max_sweeps: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Lower the average range of the tau^z by swaps (module docstring); new assignment and
    ``info`` (average range before and after, sweeps, moves)."""
    n = lattice.n
    dim = 1 << n
    gram = range_matrix(vectors, lattice)
    config_of_state = np.empty(dim, dtype=np.int64)
    config_of_state[assignment] = np.arange(dim)
    sigma = (1 - 2 * bits(config_of_state, n)).astype(float)
    g = sigma @ gram
    total = float(np.sum(sigma * g))
    before = total / n
    diagonal = np.diag(gram)
    swap_curvature = diagonal[:, None] + diagonal[None, :] - 2.0 * gram
    upper = np.triu_indices(dim, k=1)
    sweeps = moves = 0
    for _ in range(max_sweeps):
        sweeps += 1
        cross = sigma.T @ g
        own = np.sum(sigma * g, axis=0)
        linear = cross + cross.T - own[:, None] - own[None, :]
        flips = 2.0 * n - 2.0 * (sigma.T @ sigma)
        gains = (2.0 * linear + flips * swap_curvature)[upper]
        candidates = np.flatnonzero(gains < -_SWAP_TOLERANCE)
        applied = 0
        for k in candidates[np.argsort(gains[candidates], kind="stable")]:
            e, f = int(upper[0][k]), int(upper[1][k])
            t = sigma[:, f] - sigma[:, e]
            if not np.any(t):
                continue
            delta = 2.0 * float(t @ (g[:, e] - g[:, f])) + float(t @ t) * swap_curvature[e, f]
            if delta < -_SWAP_TOLERANCE:
                sigma[:, [e, f]] = sigma[:, [f, e]]
                g += np.outer(t, gram[e] - gram[f])
                config_of_state[[e, f]] = config_of_state[[f, e]]
                total += delta
                applied += 1
        moves += applied
        if applied == 0:
            break
    improved = np.empty(dim, dtype=np.int64)
    improved[config_of_state] = np.arange(dim)
    info = {
        "average_range_before": before,
        "average_range_after": total / n,
        "sweeps": sweeps,
        "moves": moves,
    }
    return improved, info


def z_expectations(blocks: list[EigenvectorBlock], n: int) -> np.ndarray:
    """``<E|sigma^z_i|E>`` for every site and eigenstate, shape ``(n, 2^n)``."""
    values = np.zeros((n, 1 << n))
    for block in blocks:
        signs = 1 - 2 * bits(block.basis, n)
        values[:, block.states] = signs @ np.abs(block.vectors) ** 2
    return values


def enforce_signs(
    assignment: np.ndarray, expectations: np.ndarray, n: int
) -> tuple[np.ndarray, list[int]]:
    """Relabel bit i wherever Tr(tau^z_i sigma^z_i) < 0 (this flips the sign of tau^z_i only).

    ``expectations`` is :func:`z_expectations`; returns the new assignment and the relabelled
    bits."""
    configs = np.arange(assignment.size)
    relabelled = []
    for i in range(n):
        signs = 1 - 2 * ((configs >> i) & 1)
        if float(signs @ expectations[i, assignment]) < 0:
            assignment = assignment[configs ^ (1 << i)]
            relabelled.append(i)
    return assignment, relabelled


def estimate_bytes(hamiltonian: SparsePauliOp, *, real: bool = True) -> float:
    """Peak of the construction: the eigenvector blocks (one per S^z sector when H conserves the
    total sigma^z, else one dense block), three more copies of the largest during its ``eigh``,
    and the real cost matrix of the largest assignment. Dense tau operators check their own."""
    n = hamiltonian.num_qubits
    if conserves_magnetization(hamiltonian):
        sizes = [math.comb(n, n_up) for n_up in range(n + 1)]
    else:
        sizes = [1 << n]
    itemsize = REAL_BYTES if real else COMPLEX_BYTES
    largest = float(max(sizes)) ** 2
    stored = float(sum(float(size) ** 2 for size in sizes))
    return itemsize * (stored + 3 * largest) + REAL_BYTES * largest
