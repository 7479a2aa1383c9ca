"""The circuit l-bit cost on the whole chain, for small chains (n <= 12): the reference engine.

Cost (docs/pages/conventions.md section 9): with H~ = U^dag H U and e(s) = <s|H~|s> = <u_s|H|u_s>,
u_s = U|s>,

    F(U) = sum_{S != {}} c_S(H~)^2 = 2^-n sum_s e(s)^2 - c_I^2,

the weight of the Z strings of H~ (Parseval over the Walsh transform of e), so that
epsilon = 1 - F / sum_{P != I} c_P(H)^2. This engine keeps every column u_s: when all gates
conserve S^z (family ``"sz"``) U is block diagonal in the number of up spins m, and each sector is
a ``(d_m, d_m)`` block, sum_m d_m^2 = binomial(2n, n) numbers in all (2.7 million at n = 12);
otherwise one ``(2^n, 2^n)`` block. A k-site gate acts on the rows of a block through index
arrays that line up the rows by the gate's local bits (one gather, one small matrix product and
one scatter per group of local patterns that the gate mixes).

Gradient (reverse mode): dF = Re Tr(Lambda^dag dPsi) with Lambda = 4 2^-n H Psi diag(e); walking
back through the gates, psi_{j-1} = g_j^dag psi_j and lambda_{j-1} = g_j^dag lambda_j, and gate j
gets G_j[b', b] = sum psi_{j-1}[(r, b'), c] conj(lambda_j[(r, b), c]) with dF = Re Tr(G_j dg_j).
Cost per evaluation with gradient: about four gate applications per gate, each O(size of Psi).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.layout import Layout, Slot
from echo_lab.lbits.circuit.terms import pauli_norms
from echo_lab.resources import COMPLEX_BYTES, require_memory

__all__ = ["MAX_DENSE_QUBITS", "DenseEngine"]

#: Largest chain of the dense engine (its U has binomial(2n, n) or 4^n entries).
MAX_DENSE_QUBITS = 14


def _popcount(values: np.ndarray) -> np.ndarray:
    counts = np.zeros(values.shape, dtype=np.int64)
    work = values.copy()
    while np.any(work):
        counts += work & 1
        work >>= 1
    return counts


class DenseEngine:
    """F(U) and its gradient on all 2^n columns of U (module docstring).

    ``conserving`` declares that every gate conserves S^z (then U is stored by sectors).
    """

    def __init__(self, hamiltonian: SparsePauliOp, layout: Layout, *, conserving: bool) -> None:
        n = layout.n
        if n > MAX_DENSE_QUBITS:
            raise ConfigError(
                f"the dense circuit-l-bit engine handles n <= {MAX_DENSE_QUBITS}, got {n}; use "
                "the light-cone engine"
            )
        self.n = n
        self.layout = layout
        self.conserving = conserving
        self.identity_coefficient, self.weight = pauli_norms(hamiltonian)
        states = np.arange(1 << n, dtype=np.int64)
        counts = _popcount(states) if conserving else np.zeros(1 << n, dtype=np.int64)
        self.sectors = [states[counts == m] for m in np.unique(counts)]
        sizes = np.array([s.size for s in self.sectors], dtype=float)
        require_memory(
            4 * COMPLEX_BYTES * float(np.sum(sizes**2)),
            what=f"the dense circuit-l-bit cost of {n} qubits (U, H U and the adjoint)",
            suggestion="Use the light-cone engine (engine='cones') for this chain.",
        )
        self.position = np.empty(1 << n, dtype=np.int64)
        for basis in self.sectors:
            self.position[basis] = np.arange(basis.size)
        full = sp.csr_matrix(hamiltonian.to_matrix(sparse=True))
        self.blocks = [sp.csr_matrix(full[basis][:, basis]) for basis in self.sectors]
        self._rows: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray]]] = {}

    def _row_groups(self, slot: Slot, sector: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per group of local patterns the gate mixes: (patterns, rows ``(len(patterns), r)``)."""
        key = (slot.lo, slot.width, sector)
        if key in self._rows:
            return self._rows[key]
        basis = self.sectors[sector]
        mask = (1 << slot.width) - 1
        local = (basis >> slot.lo) & mask
        rest = basis & ~(mask << slot.lo)
        patterns = np.arange(mask + 1)
        classes = _popcount(patterns) if self.conserving else np.zeros(mask + 1, dtype=np.int64)
        groups = []
        for c in np.unique(classes):
            members = patterns[classes == c]
            first = np.sort(rest[local == members[0]])
            if first.size == 0:
                continue
            rows = self.position[first[None, :] | (members[:, None] << slot.lo)]
            groups.append((members, rows))
        self._rows[key] = groups
        return groups

    def _apply(self, gate: np.ndarray, slot: Slot, psi: list[np.ndarray]) -> None:
        """psi <- (gate on slot) psi, in place, for every sector block."""
        for m, block in enumerate(psi):
            for members, rows in self._row_groups(slot, m):
                sub = gate[np.ix_(members, members)]
                gathered = block[rows]
                block[rows] = np.matmul(sub, gathered.reshape(members.size, -1)).reshape(
                    gathered.shape
                )

    def _gate_gradient(
        self, slot: Slot, psi: list[np.ndarray], lam: list[np.ndarray]
    ) -> np.ndarray:
        dim = 1 << slot.width
        out = np.zeros((dim, dim), dtype=complex)
        for m in range(len(psi)):
            for members, rows in self._row_groups(slot, m):
                p = psi[m][rows].reshape(members.size, -1)
                q = lam[m][rows].reshape(members.size, -1)
                out[np.ix_(members, members)] += p @ q.conj().T
        return out

    def columns(self, gates: Sequence[np.ndarray]) -> list[np.ndarray]:
        """U by sector blocks: block m has column j = U|sectors[m][j]> on the rows of sector m."""
        psi = [np.eye(basis.size, dtype=complex) for basis in self.sectors]
        for slot, gate in zip(self.layout.slots, gates, strict=True):
            self._apply(gate, slot, psi)
        return psi

    def diagonal(self, gates: Sequence[np.ndarray]) -> np.ndarray:
        """e(s) = <s|U^dag H U|s> for every configuration s, shape ``(2^n,)``."""
        psi = self.columns(gates)
        out = np.empty(1 << self.n)
        for basis, block, h in zip(self.sectors, psi, self.blocks, strict=True):
            out[basis] = np.real(np.sum(block.conj() * (h @ block), axis=0))
        return out

    def evaluate(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        """F(U) and, with ``gradient``, the G_j with dF = sum_j Re Tr(G_j dg_j)."""
        psi = self.columns(gates)
        scale = 1.0 / (1 << self.n)
        applied = [h @ block for h, block in zip(self.blocks, psi, strict=True)]
        energies = [
            np.real(np.sum(b.conj() * hb, axis=0)) for b, hb in zip(psi, applied, strict=True)
        ]
        value = scale * sum(float(e @ e) for e in energies) - self.identity_coefficient**2
        if not gradient:
            return value, None
        lam = [4.0 * scale * hb * e[None, :] for hb, e in zip(applied, energies, strict=True)]
        return value, self._backpropagate(gates, psi, lam)

    def echo_loss(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True, floor: float = 1e-3
    ) -> tuple[float, list[np.ndarray] | None]:
        """The echo-weighted cost L(U) and, with ``gradient``, G_j with dL = sum Re Tr(G_j dg_j).

        With H~ = U^dag H U = D + O (diagonal and off-diagonal parts) and Delta_ac = D_a - D_c,

            L = 2^-n sum_a sum_{c != a} 2 |O_ac|^2 / (Delta_ac^2 + 4 |O_ac|^2 + floor^2):

        for one pair of configurations coupled by O_ac at detuning Delta_ac, 2|O|^2 / (Delta^2 +
        4|O|^2) is the long-time probability that |a> has left its state, so L estimates what an
        echo started in U|a> loses, averaged over a. The Frobenius cost weighs the same pair by
        |O_ac|^2 alone, so resonances (Delta ~ |O|), which dominate the echo's losses, barely
        count there. ``floor`` keeps L smooth where Delta and O vanish together. Needs H~ per
        S^z sector: sum_m d_m^3 operations (n = 10: 4e7, n = 12: 2e9).
        """
        psi = self.columns(gates)
        scale = 1.0 / (1 << self.n)
        applied = [h @ block for h, block in zip(self.blocks, psi, strict=True)]
        total = 0.0
        lam = []
        for block, hb in zip(psi, applied, strict=True):
            rotated = block.conj().T @ hb
            rotated = 0.5 * (rotated + rotated.conj().T)
            diagonal = np.real(np.diagonal(rotated))
            delta = diagonal[:, None] - diagonal[None, :]
            squared = np.abs(rotated) ** 2
            np.fill_diagonal(squared, 0.0)
            denominator = delta**2 + 4.0 * squared + floor**2
            total += float(np.sum(2.0 * squared / denominator))
            if gradient:
                by_square = 2.0 * (delta**2 + floor**2) / denominator**2
                np.fill_diagonal(by_square, 0.0)
                by_delta = -4.0 * squared * delta / denominator**2
                # dL = Re Tr(B dH~) with B = 2 by_square o H~ + diag(sum_c by_delta_ac -
                # by_delta_ca); dH~ = dPsi^dag H Psi + h.c. gives Lambda = 2 H Psi B^dag.
                weights = 2.0 * by_square * rotated
                weights[np.diag_indices_from(weights)] = by_delta.sum(axis=1) - by_delta.sum(axis=0)
                lam.append(2.0 * scale * hb @ weights.conj().T)
        if not gradient:
            return scale * total, None
        return scale * total, self._backpropagate(gates, psi, lam)

    def _backpropagate(
        self, gates: Sequence[np.ndarray], psi: list[np.ndarray], lam: list[np.ndarray]
    ) -> list[np.ndarray]:
        """G_j for dX = Re Tr(Lambda^dag dPsi), walking back through the gates (in place)."""
        grads: list[np.ndarray] = [np.empty(0)] * len(gates)
        for j in range(len(gates) - 1, -1, -1):
            slot, inverse = self.layout.slots[j], gates[j].conj().T
            self._apply(inverse, slot, psi)
            grads[j] = self._gate_gradient(slot, psi, lam)
            self._apply(inverse, slot, lam)
        return grads
