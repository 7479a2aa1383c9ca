"""Dense operators on an interval of chain sites, and gates acting on them.

An operator on sites [lo, hi] is a ``(2^w, 2^w)`` array, w = hi - lo + 1, site lo the least
significant bit (Qiskit order). A gate on the contiguous sites [a, a + k) acts on qubits
``offset = a - lo`` .. ``offset + k - 1`` of it. Every function costs O(4^w 2^k) time (one BLAS
product with a small inner dimension) and one or two arrays of the operator's size.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "apply_left",
    "apply_right",
    "environment",
    "extend",
    "heisenberg_step",
    "partial_trace",
    "schrodinger_step",
]


def extend(op: np.ndarray, lo: int, hi: int, new_lo: int, new_hi: int) -> np.ndarray:
    """``op`` on [lo, hi] as an operator on [new_lo, new_hi] (identity on the added sites)."""
    if (new_lo, new_hi) == (lo, hi):
        return op
    out = op
    if lo > new_lo:
        out = np.kron(out, np.eye(1 << (lo - new_lo)))
    if new_hi > hi:
        out = np.kron(np.eye(1 << (new_hi - hi)), out)
    return out


def apply_left(gate: np.ndarray, op: np.ndarray, offset: int) -> np.ndarray:
    """(1 x gate x 1) @ op; the gate's first site is qubit ``offset`` of op's sites."""
    dim, k = op.shape[0], gate.shape[0]
    low = 1 << offset
    return np.matmul(gate, op.reshape(dim // (k * low), k, low * dim)).reshape(dim, dim)


def apply_right(op: np.ndarray, gate: np.ndarray, offset: int) -> np.ndarray:
    """op @ (1 x gate x 1), same conventions as :func:`_left`."""
    dim, k = op.shape[0], gate.shape[0]
    low = 1 << offset
    # One BLAS product (rows x k) @ (k x k), then the gate axis moved back in place.
    product = np.tensordot(op.reshape(dim * dim // (k * low), k, low), gate, axes=([1], [0]))
    return np.ascontiguousarray(product.transpose(0, 2, 1)).reshape(dim, dim)


def heisenberg_step(op: np.ndarray, gate: np.ndarray, offset: int) -> np.ndarray:
    """gate^dag op gate (Heisenberg step) on op's sites."""
    return apply_right(apply_left(gate.conj().T, op, offset), gate, offset)


def partial_trace(op: np.ndarray, total: int, low: int, high: int) -> np.ndarray:
    """Trace out the ``low`` lowest and ``high`` highest of op's ``total`` sites."""
    if low == 0 and high == 0:
        return op
    keep = 1 << (total - low - high)
    blocks = op.reshape(1 << high, keep, 1 << low, 1 << high, keep, 1 << low)
    return np.einsum("aibajb->ij", blocks)


def environment(y: np.ndarray, p: np.ndarray, offset: int, k: int) -> np.ndarray:
    """Tr_rest(y p) on the gate's sites: E[a, b] = sum y[(h, a, l), K] p[K, (h, b, l)]."""
    dim = y.shape[0]
    low = 1 << offset
    high = dim // (k * low)
    y4 = y.reshape(high, k, low, dim)
    p4 = p.reshape(dim, high, k, low)
    return np.tensordot(y4, p4, axes=([0, 2, 3], [1, 3, 0]))


def schrodinger_step(op: np.ndarray, gate: np.ndarray, offset: int) -> np.ndarray:
    """gate op gate^dag on op's sites."""
    return apply_left(gate, apply_right(op, gate.conj().T, offset), offset)
