"""Sparse evolution for chains beyond exact diagonalization (N ~ 16-20): S^z sectors + Chebyshev.

Each free segment applies exp(-i H tau) with a Chebyshev expansion
(:mod:`echo_lab.physics.chebyshev`)
on the sparse blocks of H; nothing of size 4^n is ever built.

* **Sectors.** When H conserves the total sigma^z, a state is kept as its parts in the S^z
  sectors it touches (:func:`echo_lab.physics.sectors.split_states`): a z-random background with the
  probe in |+> touches two sectors, X_p and l-bit pulses move weight to the neighbouring ones.
  Each sector block is built from the Pauli terms
  (:func:`echo_lab.physics.spectrum.restrict_to_sector`)
  when first touched, with its own spectral bounds. Without that symmetry the whole space is
  one block. Pulses and observables act on full vectors, rebuilt from the parts.
* **Propagator.** Chebyshev with rigorous Gershgorin bounds: the number of sparse products
  grows with the spectral half-width a of the block times the duration (about 80 per unit time
  at W = 8, J = Jz = 1), not with the 1-norm of H as in Taylor methods (scipy's
  ``expm_multiply``, QuSpin's ``expm_multiply_parallel``).
* **Reuse across the time grid.** Up to the first pulse every total time starts from the same
  state, so one recurrence to the longest time gives them all (the first half of every Hahn
  echo of a trace costs one evolution to the longest half time). Times are processed in sorted
  batches of :data:`MAX_BATCH`; the leading state is carried from one batch to the next. After a
  pulse each time has its own state; the batch runs as one sparse-times-dense product per
  order, each column leaving once its own degree is reached.

Costs, with a the half-width (~ sum |h_i| + 2 J (n - 1) for the XXZ chain), d the touched
sector sizes and T the total times:

* leading segment (fraction f0): D(a f0 T_max) sparse products on the starting sectors;
* each later free segment (fraction f): sum_k D(a f T_k) column products on the sectors touched
  after the pulse;
* memory (:meth:`KrylovBackend.estimate_memory`, checked before anything is allocated): the
  sector blocks of H (12 bytes per nonzero for real H), a few ``(2^n, min(K, MAX_BATCH))``
  complex arrays (pulses, observables) and the sector work arrays: n = 20 with 8 times needs
  about 1.5 GiB.

Results are deterministic (no random numbers, fixed order) and equal those of the exact backend
to about 1e-12 at n = 12 up to T = 100.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from threadpoolctl import threadpool_limits

from echo_lab.backends.base import (
    Operator,
    RotatedPauli,
    apply_pulse,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.chebyshev import DEFAULT_TOLERANCE, ChebyshevPropagator
from echo_lab.physics.linalg import operator_matrix
from echo_lab.physics.sectors import join_states, largest_sector_size, sector_bases, split_states
from echo_lab.physics.spectrum import conserves_magnetization, restrict_to_sector
from echo_lab.physics.states import ProductState
from echo_lab.resources import COMPLEX_BYTES, REAL_BYTES, require_memory, statevector_bytes

__all__ = [
    "CSR_ENTRY_BYTES",
    "MAX_BATCH",
    "WORK_VECTORS",
    "KrylovBackend",
    "SectorPropagators",
    "estimate_sparse_bytes",
    "evolve",
]

#: Bytes per stored nonzero of a complex CSR matrix (value + int32 column index).
CSR_ENTRY_BYTES = COMPLEX_BYTES + 4

#: Full-space work vectors per time of a batch (rebuilt states, pulse copies, observables).
WORK_VECTORS = 12

#: Total times evolved together; a fixed number, so results do not depend on free memory.
MAX_BATCH = 8


def estimate_sparse_bytes(hamiltonian: SparsePauliOp) -> int:
    """Bytes of the CSR form of ``hamiltonian`` (complex), built twice over during conversion.

    A Pauli string maps each basis state to one other, set by its X part, so the number of
    distinct X parts bounds the nonzeros per row. An upper bound of the sector blocks too.
    """
    flip_patterns = len({tuple(row) for row in np.asarray(hamiltonian.paulis.x)})
    return 2 * CSR_ENTRY_BYTES * flip_patterns * 2**hamiltonian.num_qubits


def evolve(matrix: sp.spmatrix | sp.sparray, psi: np.ndarray, duration: float) -> np.ndarray:
    """``exp(-i H duration) psi`` for a sparse Hermitian ``matrix`` H; shape of ``psi`` (d,).

    One Chebyshev expansion (:class:`~echo_lab.physics.chebyshev.ChebyshevPropagator`), D(a
    duration) sparse products; negative durations evolve backwards.
    """
    operator = sp.csr_matrix(matrix)
    if duration < 0:
        operator, duration = -operator, -duration
    return ChebyshevPropagator(operator).evolve(psi, np.array([duration]))[:, 0]


class SectorPropagators:
    """Chebyshev propagators of the S^z sector blocks of one Hamiltonian, built on first use.

    ``bases[key]`` are the sorted basis indices of block ``key`` (the sector n_up, or the whole
    space as key 0 when H does not conserve the total sigma^z); ``propagator(key)`` builds the
    block (:func:`~echo_lab.physics.spectrum.restrict_to_sector`, O(terms * d * n)) and its
    Gershgorin bounds once.
    """

    def __init__(
        self, hamiltonian: SparsePauliOp, *, tolerance: float = DEFAULT_TOLERANCE, threads: int = 1
    ) -> None:
        self.hamiltonian = hamiltonian
        self.n = int(hamiltonian.num_qubits)
        self.tolerance = tolerance
        self.threads = int(threads)
        self.conserving = conserves_magnetization(hamiltonian)
        if self.conserving:
            self.bases = sector_bases(self.n)
        else:
            self.bases = {0: np.arange(1 << self.n)}
        self._propagators: dict[int, ChebyshevPropagator] = {}

    def propagator(self, key: int) -> ChebyshevPropagator:
        """The propagator of block ``key``."""
        if key not in self._propagators:
            if self.conserving:
                block = restrict_to_sector(self.hamiltonian, key)
            else:
                block = sp.csr_matrix(self.hamiltonian.to_matrix(sparse=True))
            self._propagators[key] = ChebyshevPropagator(block, tolerance=self.tolerance)
        return self._propagators[key]

    def split(self, states: np.ndarray) -> dict[int, np.ndarray]:
        """Block parts ``{key: (d, K)}`` of full states ``(2^n, K)`` (touched blocks only)."""
        return split_states(states, self.n, bases=self.bases)

    def join(self, parts: Mapping[int, np.ndarray], columns: int) -> np.ndarray:
        """Full states ``(2^n, columns)`` from block parts."""
        return join_states(parts, self.n, columns=columns, bases=self.bases)

    def evolve(
        self, parts: Mapping[int, np.ndarray], durations: np.ndarray
    ) -> dict[int, np.ndarray]:
        """``parts`` evolved for ``durations`` (K,): ``{key: (d, K)}``. Parts of one column are
        one shared start evolved to every duration; parts of K columns evolve column k for
        ``durations[k]``."""
        keys = sorted(parts, key=lambda key: -parts[key].shape[0])
        propagators = {key: self.propagator(key) for key in keys}

        def one(key: int) -> np.ndarray:
            part = parts[key]
            if part.shape[1] == 1:
                return propagators[key].evolve(part[:, 0], durations)
            return propagators[key].evolve_each(part, durations)

        workers = min(self.threads, len(keys))
        if workers <= 1:
            return {key: one(key) for key in keys}
        # The sparse products release the GIL, so sectors run in parallel; each sector's
        # arithmetic is the same whatever the thread count (results are deterministic).
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(keys, pool.map(one, keys), strict=True))


class KrylovBackend:
    """Chebyshev evolution on the touched S^z sectors (see module docstring for costs).

    ``tolerance`` is the series truncation relative to the state norm. ``threads`` sectors are
    evolved at once (default: the CPU cores this process may use); BLAS is held to one thread
    meanwhile. Results do not depend on ``threads``. The sector blocks of the last Hamiltonian
    are kept, so several sequences on one H build them once.
    """

    name = "krylov"

    def __init__(self, *, tolerance: float = DEFAULT_TOLERANCE, threads: int | None = None) -> None:
        if not (np.isfinite(tolerance) and 0 < tolerance < 1e-6):
            raise ConfigError(f"the Krylov tolerance must lie in (0, 1e-6), got {tolerance}")
        if threads is None:
            threads = len(os.sched_getaffinity(0))
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
        self.tolerance = float(tolerance)
        self.threads = threads
        self._cache: SectorPropagators | None = None

    def estimate_memory(
        self,
        hamiltonian: SparsePauliOp,
        *,
        n_times: int,
        observables: Mapping[str, Operator] | None = None,
    ) -> int:
        """Peak bytes of :meth:`run` for ``n_times`` total times (module docstring).

        The sector blocks of H (bounded by :func:`estimate_sparse_bytes`, all sectors),
        :data:`WORK_VECTORS` full vectors per batch column, eight work arrays per column of the
        largest block, and the sparse observables.
        """
        n = hamiltonian.num_qubits
        columns = max(1, min(int(n_times), MAX_BATCH))
        block = largest_sector_size(n) if conserves_magnetization(hamiltonian) else 1 << n
        sector_lists = 2 * REAL_BYTES * (1 << n) + REAL_BYTES * (1 << n)
        observable_bytes = sum(
            CSR_ENTRY_BYTES * 2**n if isinstance(op, SparsePauliOp) else 0
            for op in (observables or {}).values()
        )
        return int(
            estimate_sparse_bytes(hamiltonian) // 2
            + WORK_VECTORS * columns * statevector_bytes(n)
            + 8 * columns * COMPLEX_BYTES * block
            + sector_lists
            + observable_bytes
        )

    def _propagators(self, hamiltonian: SparsePauliOp) -> SectorPropagators:
        if self._cache is None or not (
            self._cache.hamiltonian == hamiltonian and self._cache.tolerance == self.tolerance
        ):
            self._cache = SectorPropagators(
                hamiltonian, tolerance=self.tolerance, threads=self.threads
            )
        return self._cache

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
        require_memory(
            self.estimate_memory(hamiltonian, n_times=times.size, observables=observables),
            what=f"Krylov evolution of a {n}-qubit chain",
            suggestion="Use a shorter chain, or 'aer' with method='matrix_product_state'.",
        )
        with threadpool_limits(limits=1, user_api="blas"):
            return self._run(hamiltonian, sequence, state, times, observables, entropy)

    def _run(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        observables: Mapping[str, Operator],
        entropy: bool,
    ) -> dict[str, np.ndarray]:
        n = hamiltonian.num_qubits
        space = self._propagators(hamiltonian)
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
        lead = space.split(state.vector())
        elapsed = 0.0
        order = np.argsort(times, kind="stable")
        for start in range(0, order.size, MAX_BATCH):
            batch = order[start : start + MAX_BATCH]
            targets = leading_fraction * times[batch]
            parts = space.evolve(lead, targets - elapsed)
            lead = {key: part[:, -1:] for key, part in parts.items()}
            elapsed = float(targets[-1])
            for segment in trailing:
                if isinstance(segment, Free):
                    if segment.fraction:
                        parts = space.evolve(parts, segment.fraction * times[batch])
                else:
                    full = apply_pulse(segment, space.join(parts, batch.size), n)
                    parts = space.split(full)
            final = space.join(parts, batch.size)
            for name, op in operators.items():
                result[name][batch] = evaluate_observable(op, final, n)
            if entropy:
                entropies[batch] = half_chain_entropy(final, n)
            norms[batch] = np.linalg.norm(final, axis=0)
        if entropy:
            result["entropy"] = entropies
        check_health(result, norms=norms)
        return result
