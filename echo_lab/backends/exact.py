"""Exact evolution through the eigenbasis: U(t) = V exp(-i E t) V^dagger (physics.md section 5).

Cost: one dense ``eigh`` of the 2^n matrix (N = 10: 0.2 s, N = 12: ~10 s on 2 cores; memory
16 * 4^n bytes for V plus the matrix), then per pulse two dense products of V with the
``(2^n, K)`` block of states at all K times at once. Free evolution is a phase in the eigenbasis,
vectorized over times, so a whole log-spaced trace costs little more than one time point.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import (
    Operator,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.errors import ConfigError
from echo_lab.linalg import apply_local
from echo_lab.schedule import Free, Pulse, PulseSequence
from echo_lab.spectrum import MAX_EXACT_QUBITS, diagonalize
from echo_lab.states import ProductState

__all__ = ["MAX_EXACT_QUBITS", "ExactBackend", "diagonalize", "evolve_sequence"]


def evolve_sequence(
    energies: np.ndarray,
    vectors: np.ndarray,
    sequence: PulseSequence,
    psi0: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """Final states of ``sequence`` at each total time: array of shape ``(2^n, len(times))``.

    Works in the eigenbasis: free segments multiply by exp(-i E f T), pulses are applied in the
    computational basis between two basis changes.
    """
    dim = vectors.shape[0]
    n = dim.bit_length() - 1
    times = np.asarray(times, dtype=float)
    coeffs = np.repeat((vectors.conj().T @ psi0)[:, None], times.size, axis=1)
    for segment in sequence.segments:
        if isinstance(segment, Free):
            if segment.fraction:
                coeffs = coeffs * np.exp(-1j * np.outer(energies, segment.fraction * times))
        elif isinstance(segment, Pulse):
            states = vectors @ coeffs
            states = apply_local(segment.matrix, segment.qubits, states, n)
            coeffs = vectors.conj().T @ states
        else:  # pragma: no cover - PulseSequence only holds these two
            raise TypeError(f"unknown segment {segment!r}")
    return vectors @ coeffs


class ExactBackend:
    """Exact evolution in the eigenbasis (N <= 14). See module docstring for costs.

    Pass ``eigensystem=(E, V)`` to reuse a diagonalization done elsewhere (e.g. by the l-bit
    construction of the same Hamiltonian); otherwise each ``run`` diagonalizes ``hamiltonian``.
    """

    name = "exact"

    def __init__(self, *, eigensystem: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.eigensystem = eigensystem

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
        times, n = check_inputs(hamiltonian, state, times)
        energies, vectors = self.eigensystem or diagonalize(hamiltonian)
        if vectors.shape[0] != 2**n:
            raise ConfigError("the given eigensystem does not match the Hamiltonian's size")
        states = evolve_sequence(energies, vectors, sequence, state.vector(), times)
        result = {name: evaluate_observable(op, states, n) for name, op in observables.items()}
        if entropy:
            result["entropy"] = half_chain_entropy(states, n)
        check_health(result, norms=np.linalg.norm(states, axis=0))
        return result
