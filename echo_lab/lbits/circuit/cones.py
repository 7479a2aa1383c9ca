"""The circuit l-bit cost as a sum over light cones: O(n) per evaluation, any chain length.

H = sum_k h_k is split into local blocks (:mod:`~echo_lab.lbits.circuit.terms`), grouped by the
gates of their Heisenberg cones (:func:`~echo_lab.lbits.circuit.layout.term_cone`). For each group
the operator h~_k = V_k^dag h_k V_k (V_k: the gates of the cone) is built as a dense matrix on the
cone's c sites, conjugating gate by gate from the last layer down while its support grows. Its
diagonal d_k(s) (2^c values) has the Walsh transform

    c^(k)_S = 2^-c sum_s d_k(s) prod_{i in S} (1 - 2 s_i)    (S a set of cone sites),

the Z-string coefficients of h~_k; the coefficient of S in H~ = U^dag H U is c_S = sum_k c^(k)_S
(summed over the cones that contain S), and the cost is F = sum_{S != {}} c_S^2 as in the dense
engine (the two agree to rounding). Cross terms between overlapping cones are exactly the
products of their shared Z strings.

Gradient: dF / dd_k(s) = W_k(s) = 2^(1-c) sum_S c_S prod_{i in S}(1 - 2 s_i) (the inverse
transform of the summed coefficients on the cone), and dF = Tr(W_k d(h~_k)) =
sum_j 2 Re Tr(R_j g_j^dag M_j dg_j) over the cone's gates j (application order), where
M_j = (gates after j)^dag h_k (gates after j) is stored from the downward pass and
R_j = (gates before j) W_k (gates before j)^dag is built on the way up. Both are kept only on the
sites still needed (partial traces of R), so every step works on the support of M_j.

Cost per group with gradient: about ten passes over a dense 4^c array per gate of the cone's
lowest layers; memory one stored M_j per cone gate. For a brickwork of depth d, c <= 2d + 2:
d = 3 costs 4^8 per pass, d = 4 4^10 (16 MiB per array). Nothing of size 2^n appears.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.layout import Layout, term_cone
from echo_lab.lbits.circuit.localops import (
    apply_left,
    apply_right,
    environment,
    extend,
    heisenberg_step,
    partial_trace,
)
from echo_lab.lbits.circuit.terms import local_blocks, pauli_norms
from echo_lab.physics.pauli import walsh_hadamard
from echo_lab.resources import COMPLEX_BYTES, require_memory

__all__ = ["MAX_CONE_SITES", "ConeEngine", "decode_z_string"]

#: Widest light cone (a dense 4^c array per stored step; 4^12 complex numbers are 256 MiB).
MAX_CONE_SITES = 12

#: Bits of a Z-string key that hold the pattern (the site of its first bit sits above them).
_KEY_BITS = 24


@dataclass(frozen=True)
class _Group:
    """Hamiltonian blocks that share a light cone: their sum ``matrix`` on [lo, hi]."""

    lo: int
    hi: int
    matrix: np.ndarray
    gates: tuple[int, ...]
    cone: tuple[int, int]


@functools.cache
def _mask_keys(width: int) -> tuple[np.ndarray, np.ndarray]:
    """For masks S = 1..2^c - 1: trailing zeros and S >> trailing zeros."""
    masks = np.arange(1, 1 << width, dtype=np.int64)
    lowest = masks & -masks
    shift = np.log2(lowest).astype(np.int64)
    return shift, masks >> shift


def decode_z_string(key: int) -> tuple[int, ...]:
    """Sorted sites of the Z string with key ``(first site << 24) | (pattern)``."""
    first, pattern = key >> _KEY_BITS, key & ((1 << _KEY_BITS) - 1)
    return tuple(first + b for b in range(_KEY_BITS) if pattern >> b & 1)


class ConeEngine:
    """F(U) and its gradient from the light cones of H's terms (module docstring)."""

    def __init__(self, hamiltonian: SparsePauliOp, layout: Layout) -> None:
        if hamiltonian.num_qubits != layout.n:
            raise ConfigError(
                f"the layout has {layout.n} sites but the Hamiltonian {hamiltonian.num_qubits}"
            )
        self.n = layout.n
        self.layout = layout
        self.identity_coefficient, self.weight = pauli_norms(hamiltonian)
        self.groups = self._group(local_blocks(hamiltonian))
        widest = max((g.cone[1] - g.cone[0] + 1 for g in self.groups), default=1)
        if widest > MAX_CONE_SITES:
            raise ConfigError(
                f"the layout {layout.name} gives light cones of {widest} sites; the light-cone "
                f"engine handles at most {MAX_CONE_SITES}: use fewer layers or smaller blocks"
            )
        stored = max((len(g.gates) for g in self.groups), default=0) + 4
        require_memory(
            stored * COMPLEX_BYTES * float(4**widest),
            what=f"the light cones of {widest} sites of layout {layout.name}",
            suggestion="Use fewer layers or smaller blocks.",
        )

    def _group(self, blocks: Sequence) -> list[_Group]:
        by_gates: dict[tuple[int, ...], list] = {}
        for block in blocks:
            gates, _ = term_cone(self.layout, block.lo, block.hi)
            by_gates.setdefault(tuple(gates), []).append(block)
        groups = []
        for members in by_gates.values():
            lo = min(b.lo for b in members)
            hi = max(b.hi for b in members)
            matrix = sum(extend(b.matrix, b.lo, b.hi, lo, hi) for b in members)
            gates, cone = term_cone(self.layout, lo, hi)
            groups.append(_Group(lo, hi, np.asarray(matrix, dtype=complex), tuple(gates), cone))
        return groups

    def _heisenberg(
        self, group: _Group, gates: Sequence[np.ndarray], *, keep: bool
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, int, int, int, int]]]:
        """h~ of a group on its cone; with ``keep`` each step's (M_j, lo, hi, old lo, old hi)."""
        op, lo, hi = group.matrix, group.lo, group.hi
        steps = []
        for k in group.gates:
            slot = self.layout.slots[k]
            new_lo, new_hi = min(lo, slot.lo), max(hi, slot.hi)
            op = extend(op, lo, hi, new_lo, new_hi)
            if keep:
                steps.append((op, new_lo, new_hi, lo, hi))
            lo, hi = new_lo, new_hi
            op = heisenberg_step(op, gates[k], slot.lo - lo)
        return op, steps

    def diagonals(self, gates: Sequence[np.ndarray]) -> list[np.ndarray]:
        """d_k(s) = <s|h~_k|s> on each group's cone, shape ``(2^c,)`` per group."""
        return [
            np.real(np.diagonal(self._heisenberg(g, gates, keep=False)[0])).copy()
            for g in self.groups
        ]

    def z_coefficients(self, gates: Sequence[np.ndarray]) -> dict[int, float]:
        """Every nonzero Z-string coefficient c_S of U^dag H U (S != {}), keyed as
        :func:`decode_z_string` reads them."""
        keys, totals, _ = self._totals(self.diagonals(gates))
        return {int(k): float(v) for k, v in zip(keys, totals, strict=True)}

    def _totals(
        self, diagonals: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Summed c_S over groups: (keys, c_S, per group the index of its masks in keys)."""
        key_parts, value_parts = [], []
        for group, d in zip(self.groups, diagonals, strict=True):
            width = group.cone[1] - group.cone[0] + 1
            shift, pattern = _mask_keys(width)
            key_parts.append(((group.cone[0] + shift) << _KEY_BITS) | pattern)
            value_parts.append(walsh_hadamard(d)[1:] / (1 << width))
        keys, inverse = np.unique(np.concatenate(key_parts), return_inverse=True)
        totals = np.bincount(inverse, weights=np.concatenate(value_parts), minlength=keys.size)
        bounds = np.cumsum([0] + [part.size for part in key_parts])
        return keys, totals, [inverse[a:b] for a, b in itertools.pairwise(bounds)]

    def evaluate(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        """F(U) and, with ``gradient``, the G_j with dF = sum_j Re Tr(G_j dg_j)."""
        _, totals, where = self._totals(self.diagonals(gates))
        value = float(totals @ totals)
        if not gradient:
            return value, None
        grads = [np.zeros((1 << s.width, 1 << s.width), dtype=complex) for s in self.layout.slots]
        for group, index in zip(self.groups, where, strict=True):
            width = group.cone[1] - group.cone[0] + 1
            coefficients = np.concatenate([[0.0], totals[index]])
            weights = walsh_hadamard(coefficients) * (2.0 / (1 << width))
            self._backward(group, gates, weights, grads)
        return value, grads

    def _backward(
        self,
        group: _Group,
        gates: Sequence[np.ndarray],
        weights: np.ndarray,
        grads: list[np.ndarray],
    ) -> None:
        """Add this group's 2 Tr_rest(R_j g_j^dag M_j) to ``grads`` (module docstring)."""
        _, steps = self._heisenberg(group, gates, keep=True)
        r = np.diag(weights.astype(complex))
        for k, (m, lo, hi, old_lo, old_hi) in zip(
            reversed(group.gates), reversed(steps), strict=True
        ):
            slot, gate = self.layout.slots[k], gates[k]
            offset = slot.lo - lo
            y = apply_right(r, gate.conj().T, offset)
            grads[k] += 2.0 * environment(y, m, offset, gate.shape[0])
            r = apply_left(gate, y, offset)
            r = partial_trace(r, hi - lo + 1, old_lo - lo, hi - old_hi)
