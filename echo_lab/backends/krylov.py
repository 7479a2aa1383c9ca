"""Sparse Krylov evolution for chains beyond dense diagonalization (N ~ 16-20).

Each free segment applies exp(-i H tau) to a state with ``scipy.sparse.linalg.expm_multiply``
(truncated Taylor series with scaling, accurate to double precision), on the sparse CSR form of
H; nothing of size 4^n is ever built.

Costs, with ``||H||_1`` the largest absolute column sum of H and ``nnz ~ 2^n * (1 + #bonds)``:

* one matrix-vector product costs O(nnz); evolving for a time tau costs O(||H||_1 tau) of them;
* leading segment (before the first pulse): the requested total times are sorted and the state
  is stepped from one time to the next, so this part costs O(||H||_1 f0 T_max) products in all
  (an FID trace of any number of points costs one evolution to the longest time);
* after the first pulse every total time T_k needs its own evolution, O(||H||_1 (1 - f0) T_k)
  products each (an echo trace costs about half the sum of its total times);
* memory: the sparse H (20 bytes per nonzero), the observables (CSR, 20 bytes per nonzero) and a
  handful of state vectors (16 * 2^n bytes each); states at the requested times are not kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import expm_multiply

from echo_lab.backends.base import (
    Operator,
    RotatedPauli,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.linalg import apply_local, operator_matrix
from echo_lab.resources import COMPLEX_BYTES, require_memory, statevector_bytes
from echo_lab.schedule import Free, Pulse, PulseSequence
from echo_lab.states import ProductState

#: Bytes per stored nonzero of a complex CSR matrix (value + int32 column index).
CSR_ENTRY_BYTES = COMPLEX_BYTES + 4

#: Work vectors expm_multiply and the segment loop hold at once (estimate for the memory check).
WORK_VECTORS = 12


def estimate_sparse_bytes(hamiltonian: SparsePauliOp) -> int:
    """Bytes of the CSR form of ``hamiltonian``, built twice over during conversion.

    A Pauli string maps each basis state to one other, set by its X part, so the number of
    distinct X parts bounds the nonzeros per row.
    """
    flip_patterns = len({tuple(row) for row in np.asarray(hamiltonian.paulis.x)})
    return 2 * CSR_ENTRY_BYTES * flip_patterns * 2**hamiltonian.num_qubits


def estimate_memory(hamiltonian: SparsePauliOp) -> int:
    """Peak bytes of a run of ``hamiltonian``: its CSR form and :data:`WORK_VECTORS` states."""
    return estimate_sparse_bytes(hamiltonian) + WORK_VECTORS * statevector_bytes(
        hamiltonian.num_qubits
    )


def evolve(matrix: sp.csr_matrix, psi: np.ndarray, duration: float, *, trace: float) -> np.ndarray:
    """``exp(-i H duration) psi`` for a sparse Hermitian ``matrix`` H of trace ``trace``.

    ``psi`` has shape ``(2^n,)``; costs O(||H||_1 duration) sparse products.
    """
    if duration == 0.0:
        return psi
    with _fixed_global_random_state():
        return np.asarray(
            expm_multiply((-1j * duration) * matrix, psi, traceA=-1j * duration * trace)
        )


@contextmanager
def _fixed_global_random_state() -> Iterator[None]:
    """Run with numpy's global random state fixed, and restore the caller's state afterwards.

    ``expm_multiply`` chooses its Taylor degree from norm estimates (``onenormest``) that draw
    from ``np.random``; without this, the same evolution differs in the last bits between
    processes (seen: 1e-15 between a serial and a Dask run), and the caller's random stream would
    be consumed.
    """
    saved = np.random.get_state()  # noqa: NPY002 - scipy reads the legacy global state
    np.random.seed(0)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


class KrylovBackend:
    """Sparse Krylov evolution through a pulse sequence (see module docstring for costs).

    Results equal :class:`~echo_lab.backends.exact.ExactBackend` to about 1e-12 where both run.
    """

    name = "krylov"

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
        """Observables (optionally the half-chain entropy) at each total time, shape ``(K,)``."""
        times, n = check_inputs(hamiltonian, state, times)
        observable_bytes = sum(
            CSR_ENTRY_BYTES * 2**n if isinstance(op, SparsePauliOp) else 0
            for op in observables.values()
        )
        require_memory(
            estimate_sparse_bytes(hamiltonian)
            + observable_bytes
            + WORK_VECTORS * statevector_bytes(n),
            what=f"Krylov evolution of a {n}-qubit chain",
            suggestion="Use a shorter chain, or 'aer' with method='matrix_product_state'.",
        )
        matrix = sp.csr_matrix(hamiltonian.to_matrix(sparse=True))
        trace = float(np.real(matrix.diagonal().sum()))
        operators = {
            name: op if isinstance(op, RotatedPauli) else operator_matrix(op)
            for name, op in observables.items()
        }

        segments = sequence.segments
        first_pulse = next((k for k, s in enumerate(segments) if isinstance(s, Pulse)), None)
        leading = segments if first_pulse is None else segments[:first_pulse]
        trailing = () if first_pulse is None else segments[first_pulse:]
        leading_fraction = sum(s.fraction for s in leading if isinstance(s, Free))

        result = {name: np.empty(times.size) for name in observables}
        entropies = np.empty(times.size)
        norms = np.empty(times.size)
        psi = state.vector()
        elapsed = 0.0
        for k in np.argsort(times, kind="stable"):
            target = leading_fraction * times[k]
            psi = evolve(matrix, psi, target - elapsed, trace=trace)
            elapsed = target
            final = psi
            for segment in trailing:
                if isinstance(segment, Free):
                    final = evolve(matrix, final, segment.fraction * times[k], trace=trace)
                else:
                    final = apply_local(segment.matrix, segment.qubits, final, n)
            for name, op in operators.items():
                result[name][k] = evaluate_observable(op, final, n)
            if entropy:
                entropies[k] = half_chain_entropy(final, n)
            norms[k] = np.linalg.norm(final)
        if entropy:
            result["entropy"] = entropies
        check_health(result, norms=norms)
        return result
