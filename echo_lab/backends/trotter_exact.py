"""The Trotter circuit evaluated exactly: diagonalize one Trotter step, then take powers of it.

For n <= 12 the unitary of one step, ``U = Operator(trotter.step_circuit(H, dt=dt, order=order))``,
is diagonalized once, ``U = V diag(exp(-i theta)) V^dag``; a free segment of k steps is then
``V diag(exp(-i k theta)) V^dag`` for any k, vectorized over all requested total times. The steps
per segment come from :func:`echo_lab.dynamics.trotter.segment_steps`: a segment of length L is
``k = ceil(L / dt)`` steps of ``L / k`` (exactly dt when L is a multiple of dt), so it is
simulated for exactly L. Each distinct step length gets its own diagonalized step: the one of dt
is cached with the Hamiltonian, the others are built for the total times that need them (the
times that share all their step lengths are evolved together) and dropped after the run, so a
trace off the grid of dt costs one diagonalization per time. The result is the same unitary the
Aer backends apply gate by gate, so the two agree to rounding (1e-10 after 10^4 steps), while a
10^4-step trace costs no more than a 10-step one.

Diagonalization: when H conserves a quantity that splits the basis (the connected components of
H's sparsity pattern, e.g. total sigma^z sectors of the XXZ model) and U is verified to be block
diagonal on them, each block is diagonalized separately. A block ``B`` (unitary) is rotated by a
phase so that its eigenvalues avoid -1, and the Hermitian Cayley transform
``G = i (1 - B)(1 + B)^-1`` (same eigenvectors; its eigenvalues tan(theta/2) are a one-to-one
function of the eigenphase) is diagonalized with ``eigh``, which returns an orthonormal V even
for degenerate eigenvalues. The eigenphases are read off ``V^dag B V``; if its off-diagonal part
exceeds ``RESIDUAL_TOLERANCE`` the block falls back to a complex Schur decomposition (slower,
always exact).

Costs: building U takes 16 * 4^n bytes (256 MiB at n = 12) and O(gates * 4^n) time;
diagonalizing the sectors costs sum_b O(d_b^3) (``eigh``; n = 12: 924^3 for the largest);
evaluating K total times costs two ``(d_b x d_b) @ (d_b x K)`` products per block and segment, and
one ``apply_local`` per pulse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from qiskit.quantum_info import Operator as QiskitOperator
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import (
    Operator,
    apply_pulse,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.backends.options import MAX_TROTTER_EXACT_QUBITS
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Free, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.spectrum import basis_blocks
from echo_lab.physics.states import ProductState
from echo_lab.resources import dense_operator_bytes, require_memory

#: Largest off-diagonal element of V^dag U V accepted from the Cayley diagonalization.
RESIDUAL_TOLERANCE = 1e-13

#: Largest element of U outside the sectors of H for the sectors to be used.
LEAKAGE_TOLERANCE = 1e-13


@dataclass(frozen=True)
class StepEigensystem:
    """One Trotter step U = sum_b V_b diag(exp(-i theta_b)) V_b^dag over index blocks ``b``.

    ``blocks[b] = (indices, theta, vectors)``: basis indices of the block (shape ``(d_b,)``),
    eigenphases (``(d_b,)``) and orthonormal eigenvectors (``(d_b, d_b)``).
    """

    num_qubits: int
    blocks: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]

    def power(self, states: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """``U^steps[k] @ states[:, k]`` for every column k; states shape ``(2^n, K)``."""
        out = np.empty_like(states, dtype=complex)
        for indices, theta, vectors in self.blocks:
            coeffs = vectors.conj().T @ states[indices]
            coeffs *= np.exp(-1j * np.outer(theta, steps))
            out[indices] = vectors @ coeffs
        return out


def _sectors(hamiltonian: SparsePauliOp) -> list[np.ndarray]:
    return basis_blocks(hamiltonian.to_matrix(sparse=True))


def _diagonalize_unitary(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenphases theta and orthonormal V with ``block = V diag(exp(-i theta)) V^dag``."""
    dim = block.shape[0]
    # Rotate so that the trace (the eigenvalues' centre of mass) points to +1: for small dt all
    # eigenvalues lie on an arc around it, far from -1 where the Cayley transform is singular.
    trace = np.trace(block)
    rotation = np.conj(trace) / abs(trace) if abs(trace) > 1e-8 * dim else 1.0
    rotated = rotation * block
    identity = np.eye(dim)
    generator = 1j * np.linalg.solve(identity + rotated, identity - rotated)
    _, vectors = np.linalg.eigh(0.5 * (generator + generator.conj().T))
    diagonal = vectors.conj().T @ block @ vectors
    off_diagonal = diagonal - np.diag(np.diag(diagonal))
    if np.max(np.abs(off_diagonal), initial=0.0) > RESIDUAL_TOLERANCE:
        schur, vectors = scipy.linalg.schur(block, output="complex")
        diagonal = schur
    return -np.angle(np.diag(diagonal)), vectors


def diagonalize_step(hamiltonian: SparsePauliOp, *, dt: float, order: int) -> StepEigensystem:
    """Diagonalize one Trotter step of ``hamiltonian`` (module docstring for method and cost)."""
    n = hamiltonian.num_qubits
    if n > MAX_TROTTER_EXACT_QUBITS:
        raise ConfigError(
            f"the trotter-exact backend is limited to n <= {MAX_TROTTER_EXACT_QUBITS} qubits "
            f"(got {n}): use the 'aer' backend for longer chains"
        )
    require_memory(
        4 * dense_operator_bytes(n),
        what=f"the dense Trotter-step unitary of {n} qubits and its eigenvectors",
        suggestion="Use the 'aer' backend for this size.",
    )
    unitary = QiskitOperator(trotter.step_circuit(hamiltonian, dt=dt, order=order)).data
    sectors = _sectors(hamiltonian)
    if len(sectors) > 1:
        leakage = unitary.copy()
        for indices in sectors:
            leakage[np.ix_(indices, indices)] = 0.0
        if np.max(np.abs(leakage)) > LEAKAGE_TOLERANCE:
            sectors = [np.arange(2**n)]
    blocks = []
    for indices in sectors:
        theta, vectors = _diagonalize_unitary(unitary[np.ix_(indices, indices)])
        blocks.append((indices, theta, vectors))
    return StepEigensystem(n, tuple(blocks))


class TrotterExactBackend:
    """Powers of the diagonalized Trotter step (n <= 12); see the module docstring.

    ``dt`` is the Trotter step (the largest step; a segment that is not a multiple of dt gets
    shorter ones, module docstring), ``order`` 1, 2 or 4. The diagonalized step of dt for the last
    Hamiltonian is cached, so several sequences on one H pay for it once.
    """

    name = "trotter-exact"

    def __init__(self, *, dt: float = trotter.DEFAULT_DT, order: int = 2) -> None:
        settings = trotter.TrotterSettings(dt, order)
        self.dt = settings.dt
        self.order = settings.order
        self._cache: tuple[SparsePauliOp, StepEigensystem] | None = None

    def eigensystem(self, hamiltonian: SparsePauliOp, dt: float | None = None) -> StepEigensystem:
        """The diagonalized step of length ``dt`` (default: the backend's) of ``hamiltonian``;
        the step of the backend's dt is cached for the last H seen, other lengths are not."""
        if dt is not None and dt != self.dt:
            return diagonalize_step(hamiltonian, dt=dt, order=self.order)
        if self._cache is not None and self._cache[0] == hamiltonian:
            return self._cache[1]
        system = diagonalize_step(hamiltonian, dt=self.dt, order=self.order)
        self._cache = (hamiltonian, system)
        return system

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
        """Observables at each total time (shape ``(K,)``) for the Trotterized sequence."""
        times, n = check_inputs(hamiltonian, state, times)
        steps, lengths = trotter.segment_table(sequence, times, dt=self.dt)
        states = np.repeat(state.vector()[:, None], times.size, axis=1)
        # Times whose segments share their step lengths are evolved together (all of them when
        # every segment is a multiple of dt).
        groups: dict[tuple[float, ...], list[int]] = {}
        for k, row in enumerate(lengths):
            groups.setdefault(tuple(row.tolist()), []).append(k)
        for taus, columns in groups.items():
            if len(columns) == times.size:
                states = self._evolve(hamiltonian, sequence, states, steps, taus)
            else:
                states[:, columns] = self._evolve(
                    hamiltonian, sequence, states[:, columns], steps[columns], taus
                )
        result = {name: evaluate_observable(op, states, n) for name, op in observables.items()}
        if entropy:
            result["entropy"] = half_chain_entropy(states, n)
        check_health(result, norms=np.linalg.norm(states, axis=0))
        return result

    def _evolve(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        states: np.ndarray,
        steps: np.ndarray,
        taus: tuple[float, ...],
    ) -> np.ndarray:
        """The sequence on the columns of ``states``: ``steps[:, j]`` steps of ``taus[j]`` for the
        j-th free segment (one diagonalized step per distinct length, built once here)."""
        n = hamiltonian.num_qubits
        systems: dict[float, StepEigensystem] = {}
        free_index = 0
        for segment in sequence.segments:
            if isinstance(segment, Free):
                tau = taus[free_index]
                if tau not in systems:
                    systems[tau] = self.eigensystem(hamiltonian, tau)
                states = systems[tau].power(states, steps[:, free_index])
                free_index += 1
            else:
                states = apply_pulse(segment, states, n)
        return states
