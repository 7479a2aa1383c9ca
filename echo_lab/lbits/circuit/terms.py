"""A chain Hamiltonian as local dense blocks, and the norms the cost is measured against.

:func:`local_blocks` groups the Pauli terms of a Hermitian ``SparsePauliOp`` by the interval of
sites [lo, hi] their support spans and returns one dense 2^w x 2^w block per interval (w = hi -
lo + 1, site lo least significant); the identity term is dropped (it is a constant, invisible to
the cost). :func:`pauli_norms` gives the mean energy c_I = Tr(H) / 2^n and the weight
sum_{P != I} c_P^2 = ||H - Tr(H)/2^n||_F^2 / 2^n, the denominator of epsilon.
Cost: O(#terms * n) to scan the terms plus O(4^w) per block; nothing of size 2^n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError

__all__ = ["MAX_TERM_SPAN", "LocalBlock", "conserves_sz", "local_blocks", "pauli_norms"]

#: Longest interval one Hamiltonian term may span (a longer term makes every light cone wide).
MAX_TERM_SPAN = 6


@dataclass(frozen=True)
class LocalBlock:
    """Sum of the terms of H whose support spans exactly [lo, hi], as a dense ``matrix``."""

    lo: int
    hi: int
    matrix: np.ndarray


def _simplified(hamiltonian: SparsePauliOp) -> SparsePauliOp:
    if not isinstance(hamiltonian, SparsePauliOp):
        raise ConfigError(
            f"circuit l-bits need a qiskit SparsePauliOp, got {type(hamiltonian).__name__}"
        )
    coeffs = np.asarray(hamiltonian.coeffs)
    if not np.all(np.isfinite(coeffs)):
        raise ConfigError("the Hamiltonian has non-finite coefficients")
    scale = max(1.0, float(np.max(np.abs(coeffs), initial=0.0)))
    if float(np.max(np.abs(coeffs.imag), initial=0.0)) > 1e-12 * scale:
        raise ConfigError("the Hamiltonian is not Hermitian: remove the imaginary coefficients")
    return hamiltonian.simplify(atol=0.0, rtol=0.0)


def pauli_norms(hamiltonian: SparsePauliOp) -> tuple[float, float]:
    """``(c_I, sum_{P != I} c_P^2)`` of H; the second is ||H - Tr(H)/2^n||_F^2 / 2^n."""
    op = _simplified(hamiltonian)
    support = np.asarray(op.paulis.x) | np.asarray(op.paulis.z)
    identity = ~np.any(support, axis=1)
    coeffs = np.real(np.asarray(op.coeffs))
    return float(np.sum(coeffs[identity])), float(np.sum(coeffs[~identity] ** 2))


def local_blocks(hamiltonian: SparsePauliOp) -> list[LocalBlock]:
    """Terms of H grouped by the interval their support spans, as dense blocks (docstring).

    Raises :class:`ConfigError` for a term spanning more than ``MAX_TERM_SPAN`` sites (circuit
    l-bits assume a chain with short-range terms).
    """
    op = _simplified(hamiltonian)
    n = op.num_qubits
    support = np.asarray(op.paulis.x) | np.asarray(op.paulis.z)
    labels = op.paulis.to_labels()
    grouped: dict[tuple[int, int], list[tuple[str, complex]]] = {}
    for k, row in enumerate(support):
        sites = np.flatnonzero(row)
        if sites.size == 0:
            continue
        lo, hi = int(sites[0]), int(sites[-1])
        if hi - lo + 1 > MAX_TERM_SPAN:
            raise ConfigError(
                f"the term {labels[k]} spans sites {lo}..{hi}; circuit l-bits need terms within "
                f"{MAX_TERM_SPAN} consecutive sites of a chain"
            )
        local = labels[k][n - 1 - hi : n - lo]
        grouped.setdefault((lo, hi), []).append((local, complex(op.coeffs[k])))
    blocks = []
    for (lo, hi), terms in sorted(grouped.items()):
        matrix = SparsePauliOp([t[0] for t in terms], coeffs=[t[1] for t in terms]).to_matrix()
        blocks.append(LocalBlock(lo, hi, np.asarray(matrix)))
    return blocks


def conserves_sz(blocks: list[LocalBlock]) -> bool:
    """True when H = sum of ``blocks`` commutes with the total sigma^z.

    Each block is checked on its own: the Pauli strings of blocks with different intervals have
    different supports, so their non-conserving parts cannot cancel. O(sum 4^w); the local form
    avoids anything of size n^2 or more on long chains.
    """
    for block in blocks:
        dim = block.matrix.shape[0]
        ups = np.array([bin(k).count("1") for k in range(dim)])
        changing = ups[:, None] != ups[None, :]
        if np.any(np.abs(block.matrix[changing]) > 1e-12):
            return False
    return True
