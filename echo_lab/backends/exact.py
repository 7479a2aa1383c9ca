"""Exact evolution through the eigenbasis: U(t) = V exp(-i E t) V^dagger (docs/pages/conventions.md
section 5).

The eigensystem is kept block by block (:class:`echo_lab.physics.sectors.BlockEigensystem`): when H
conserves the total sigma^z, one block per S^z sector, each diagonalized only when a state first
touches it (a z-random background with the probe in |+> touches two sectors; X_p and l-bit
pulses move weight to the neighbouring ones). Without that symmetry it is one dense block.

Cost, with d_b the sizes of the touched blocks and K the number of total times:

* diagonalization: O(d_b^3) per touched block, once per Hamiltonian (cached; half filling
  d_b = 924, 3,432 and 12,870 at n = 12, 14 and 16); dense (no symmetry) O(8^n), n <= 14;
* per pulse: two basis changes, ``sum_b d_b^2 K`` each, plus the pulse itself on ``(2^n, K)``
  states (an l-bit pulse with an ``action`` costs two more basis changes);
* free evolution is a phase in the eigenbasis, vectorized over all K times at once;
* memory: the diagonalized blocks (``sum_b d_b^2`` reals: 0.3 GiB at n = 14, 5 GiB at n = 16
  for all sectors, checked per block before ``eigh``) and a few ``(2^n, K)`` arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import (
    Operator,
    apply_pulse,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.sectors import BlockEigensystem, diagonalize_sectors
from echo_lab.physics.spectrum import MAX_EXACT_QUBITS, conserves_magnetization, diagonalize
from echo_lab.physics.states import ProductState

__all__ = [
    "MAX_EXACT_QUBITS",
    "ExactBackend",
    "diagonalize",
    "evolve_in_eigenbasis",
    "evolve_sequence",
]


def evolve_in_eigenbasis(
    eigensystem: BlockEigensystem,
    sequence: PulseSequence,
    psi0: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """Final states of ``sequence`` at each total time, shape ``(2^n, len(times))``.

    Free segments multiply the block coefficients by exp(-i E f T); pulses are applied in the
    computational basis between two basis changes (only of the blocks the states touch).
    """
    n = eigensystem.n
    times = np.asarray(times, dtype=float)
    start = eigensystem.to_eigenbasis(np.asarray(psi0).reshape(-1, 1))
    coefficients = {b: np.repeat(c.astype(complex), times.size, axis=1) for b, c in start.items()}
    for segment in sequence.segments:
        if isinstance(segment, Free):
            if segment.fraction:
                for b, coeffs in coefficients.items():
                    energies = eigensystem.block(b).energies
                    coeffs *= np.exp(-1j * np.outer(energies, segment.fraction * times))
        elif isinstance(segment, Pulse):
            states = eigensystem.from_eigenbasis(coefficients, times.size)
            coefficients = eigensystem.to_eigenbasis(apply_pulse(segment, states, n))
        else:  # pragma: no cover - PulseSequence only holds these two
            raise TypeError(f"unknown segment {segment!r}")
    return eigensystem.from_eigenbasis(coefficients, times.size)


def evolve_sequence(
    energies: np.ndarray,
    vectors: np.ndarray,
    sequence: PulseSequence,
    psi0: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """:func:`evolve_in_eigenbasis` with a dense ``(E, V)``; shape ``(2^n, len(times))``."""
    return evolve_in_eigenbasis(
        BlockEigensystem.from_dense(energies, vectors), sequence, psi0, times
    )


class ExactBackend:
    """Exact evolution in the eigenbasis, sector by sector. See module docstring for costs.

    ``eigensystem`` reuses a diagonalization done elsewhere: a dense ``(E, V)``, or a
    :class:`~echo_lab.physics.sectors.BlockEigensystem` such as ``lb.eigensystem`` of the l-bit
    construction of the same Hamiltonian (no dense matrix at all). Otherwise the backend
    diagonalizes ``hamiltonian`` itself, by sectors when it conserves the total sigma^z, and
    keeps that eigensystem for the next run on the same Hamiltonian.
    """

    name = "exact"

    def __init__(
        self,
        *,
        eigensystem: tuple[np.ndarray, np.ndarray] | BlockEigensystem | None = None,
    ) -> None:
        if eigensystem is None or isinstance(eigensystem, BlockEigensystem):
            self.eigensystem = eigensystem
        else:
            self.eigensystem = BlockEigensystem.from_dense(*eigensystem)
        self._cache: tuple[SparsePauliOp, BlockEigensystem] | None = None

    def block_eigensystem(self, hamiltonian: SparsePauliOp) -> BlockEigensystem:
        """The eigensystem used for ``hamiltonian``: the given one, or the cached / new one."""
        if self.eigensystem is not None:
            return self.eigensystem
        if self._cache is not None and self._cache[0] == hamiltonian:
            return self._cache[1]
        if conserves_magnetization(hamiltonian):
            system = diagonalize_sectors(hamiltonian)
        else:
            system = BlockEigensystem.from_dense(*diagonalize(hamiltonian))
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
        times, n = check_inputs(hamiltonian, state, times)
        system = self.block_eigensystem(hamiltonian)
        if system.n != n:
            raise ConfigError("the given eigensystem does not match the Hamiltonian's size")
        states = evolve_in_eigenbasis(system, sequence, state.vector(), times)
        result = {name: evaluate_observable(op, states, n) for name, op in observables.items()}
        if entropy:
            result["entropy"] = half_chain_entropy(states, n)
        check_health(result, norms=np.linalg.norm(states, axis=0))
        return result
