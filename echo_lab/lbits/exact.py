"""l-bits of a fully many-body-localized Hamiltonian: the seed's construction
(docs/pages/conventions.md sec. 4).

An **assignment** pi maps every configuration s in {0,1}^n to an eigenstate |E_pi(s)>. It defines
the encoding unitary U = sum_s |E_pi(s)><s| (column s of U is the assigned eigenvector, its phase
fixed so that <s|E_pi(s)> is real and >= 0; where that overlap is exactly 0 the eigensolver's
phase is kept) and the l-bit Pauli operators tau^a_i = U sigma^a_i U^dagger::

    tau^z_i = sum_s (1 - 2 s_i) |E_pi(s)><E_pi(s)|                                 (seed Eq. 1)
    tau^x_i = sum_{s_i = 0} |E_pi(s)><E_pi(s^i)| + h.c.,  s^i = s with bit i flipped  (Eq. 2)
    H = sum_S c_S prod_{i in S} tau^z_i,   c_S = 2^-n sum_s E_pi(s) prod_{i in S} (1 - 2 s_i).

Sign convention: Tr(tau^z_i sigma^z_i) >= 0. Flipping the sign of tau^z_i is the same as
relabelling bit i of every configuration (s -> s ^ 2^i), which changes no range; the
construction applies that relabelling to every l-bit that violates the convention.

Methods (``construct(H, method=...)``):

* ``"overlap"``: maximize sum_s log |<s|E_pi(s)>|^2 by linear assignment
  (``scipy.optimize.linear_sum_assignment``; zero overlaps count as log of the smallest normal
  float). Recovers planted l-bits when the dressing unitary is near the identity and, at
  Jz = 0 with strong disorder, non-interacting l-bits (all c_S with |S| >= 2 vanish). Near
  resonances it can pick another assignment: at n = 8, W = 4, Jz = 0 four of 20 realizations
  have a larger total log-overlap than the free-fermion (orbital product) assignment.
* ``"range"``: the seed's criterion. Starting from ``"overlap"``, lower the average range of the
  tau^z_i by exchanging the eigenstates of two configurations. The mean range of tau^z_i is the
  quadratic form sigma_i^T K sigma_i, where sigma_i[e] = +-1 is the tau^z_i eigenvalue of
  eigenstate e and K[e, f] = sum_P range(P) c_P(|e><e|) c_P(|f><f|) (R is diagonal in the Pauli
  basis). A swap changes sigma_i at two entries (a rank-2 change of tau^z_i), so the exact
  change of every swap follows from K and g_i = K sigma_i, all swaps at once by three matrix
  products. Each sweep applies the improving swaps best first, each re-checked exactly; the
  average range therefore never increases. ``lb.info`` records it before and after.

The ``time-average`` diagnostic (Chandran et al.) is :meth:`LBitSystem.time_averaged_tau`,
tilde tau_i = sum_E <E|sigma^z_i|E> |E><E|, with :meth:`LBitSystem.time_averaged_mean_range`. It
is not an involution and defines no assignment, so it is not a ``construct`` method.

Costs (the measured times are on docs/pages/benchmarks.md). When H is block diagonal in the
computational basis (the XXZ chain without transverse field conserves the total sigma^z), each
block is diagonalized separately, sum_b O(d_b^3) for block sizes d_b, and every tau is assembled
block by block. Without block structure (or with a given dense ``eigensystem``) it is one dense
``eigh`` (``spectrum.diagonalize``, O(8^n)) and per tau one 2^n x 2^(n-1) by 2^(n-1) x 2^n
product, O(8^n). The Pauli expansion of one tau costs O(n 4^n) (:mod:`echo_lab.physics.pauli`).

Operator actions, no 4^n objects (what the exact references use at n = 14-16):
:meth:`LBitSystem.apply_tau` (tau^a_i @ states, block by block: U sigma^a_i U^dag psi),
:meth:`LBitSystem.tau_expectation`, :meth:`LBitSystem.tau_operator` (a scipy
``LinearOperator``), :meth:`LBitSystem.window_operator` (the reduced operator of tau on a window,
for the truncated pulses ``lbit:r``), :meth:`LBitSystem.to_lbit_basis` /
:meth:`~LBitSystem.from_lbit_basis` and :attr:`LBitSystem.eigensystem` (a
:class:`~echo_lab.physics.sectors.BlockEigensystem` for the exact backend). Each costs one or two
basis changes, ``sum_b d_b^2`` per state (d_b the block sizes).

Memory per step, for real H (complex H or tau^y: twice), n = 12 / 14 / 16 with the total sigma^z
conserved (blocks = S^z sectors):

* eigenvectors: sum_b d_b^2 entries (21 MiB / 0.3 GiB / 4.5 GiB), plus three copies of the
  largest block during its ``eigh`` and one real cost matrix for its assignment; without
  block structure one dense matrix (128 MiB / 2 GiB) plus those copies;
* ``lb.vectors`` assembles the dense matrix on first use (128 MiB / 2 GiB / 32 GiB);
* one dense tau: the result plus the column matrices, about two matrices (256 MiB / 4 GiB);
* its Pauli expansion: three matrices (384 MiB / 6 GiB);
* the tau cache: at most ``cache_bytes`` (default 1 GiB); support weights are kept (2^n each).

``construct`` checks its own estimate (eigenvector blocks and the largest diagonalization:
0.65 GiB at n = 14, 9.4 GiB at n = 16) with :func:`echo_lab.resources.require_memory` before any
allocation; dense operators (``tau``, ``vectors``, Pauli expansions) check theirs when asked
for, so n = 16 l-bits work through the operator actions while ``lb.tau`` refuses (64 GiB).
The ``"range"`` method costs O(16^n) for K and is refused above n = ``MAX_RANGE_QUBITS`` (10).

Examples
--------
>>> from echo_lab import lbits
>>> from echo_lab.physics import models
>>> H = models.RandomFieldXXZ(n=6, W=8.0, J=1.0, Jz=1.0, seed=3).hamiltonian()
>>> lb = lbits.construct(H, method="overlap")
>>> lb.tau("z", 0).shape
(64, 64)
>>> bool(lb.mean_range("z").max() < 1.0)
True
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import LinearOperator

from echo_lab.dynamics.pulses import (
    DENSE_LBIT_QUBITS,
    check_angle_error,
    check_axis,
    rotate_about,
    truncation_window,
    window_polar_pulse,
)
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.lbits.assignment import (
    EigenvectorBlock,
    bits,
    blocks_from_eigensystem,
    diagonalize_blocks,
    enforce_signs,
    estimate_bytes,
    minimize_range,
    overlap_assignment,
    z_expectations,
)
from echo_lab.lbits.encoding import EncodingUnitary
from echo_lab.lbits.source import LBitSource
from echo_lab.physics import pauli
from echo_lab.physics.models import Lattice, check_hermitian
from echo_lab.physics.sectors import BlockEigensystem, EigenBlock
from echo_lab.resources import dense_operator_bytes, format_bytes, require_memory

__all__ = [
    "COUPLING_FIT_FLOOR",
    "DEFAULT_CACHE_BYTES",
    "MAX_RANGE_QUBITS",
    "METHODS",
    "TAIL_FIT_FLOOR",
    "LBitSystem",
    "construct",
    "estimate_bytes",
    "lbit_action_pulse",
    "truncated_lbit_pulse_from_system",
]

METHODS = ("overlap", "range")

#: Largest n for the ``"range"`` method (its K matrix costs O(16^n) time).
MAX_RANGE_QUBITS = 10

#: Byte budget of the tau-operator cache of one :class:`LBitSystem` (least recently used first).
DEFAULT_CACHE_BYTES = 2**30

#: Relative floor of the tail fit: tails below 1e-20 of the largest are numerical noise (tau is
#: accurate to ~1e-15 per matrix element, its weights to ~1e-25 in total).
TAIL_FIT_FLOOR = 1e-20

#: Relative floor of the coupling fit: c_S comes from sums of energies accurate to ~1e-14.
COUPLING_FIT_FLOOR = 1e-12

_OPERATORS = ("x", "y", "z")


@dataclass
class LBitSystem(LBitSource):
    """The l-bits of one Hamiltonian for one assignment (module docstring), an
    :class:`~echo_lab.lbits.source.LBitSource` of every site.

    Attributes
    ----------
    hamiltonian : the Hermitian ``SparsePauliOp`` on n qubits.
    lattice : the :class:`~echo_lab.physics.models.Lattice` that defines ranges and distances.
    method : the assignment method.
    energies : shape ``(2^n,)``, ascending.
    assignment : shape ``(2^n,)``; ``assignment[s]`` is the index of the eigenstate assigned to
        configuration s (bit i of s = 0 means tau^z_i = +1).
    info : method details (e.g. ``average_range_before`` / ``average_range_after`` for
        ``"range"``, ``relabelled_bits`` for the sign convention).
    """

    hamiltonian: SparsePauliOp
    lattice: Lattice
    method: str
    energies: np.ndarray
    assignment: np.ndarray
    info: dict[str, Any]
    _blocks: list[EigenvectorBlock] = field(repr=False)
    cache_bytes: int = DEFAULT_CACHE_BYTES
    _unitary: EncodingUnitary = field(init=False, repr=False)
    _tau_cache: OrderedDict[tuple[str, int], np.ndarray] = field(init=False, repr=False)
    _weight_cache: dict[tuple[str, int], np.ndarray] = field(init=False, repr=False)
    _dense_vectors: np.ndarray | None = field(init=False, repr=False, default=None)
    _block_eigensystem: BlockEigensystem | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._unitary = EncodingUnitary(self.n, self._blocks, self.assignment)
        self._tau_cache = OrderedDict()
        self._weight_cache = {}

    @property
    def n(self) -> int:
        """Number of sites (= qubits = l-bits)."""
        return int(self.hamiltonian.num_qubits)

    @property
    def is_real(self) -> bool:
        """True when all eigenvectors are real (real H), so tau^x and tau^z are real."""
        return self._unitary.is_real

    @property
    def vectors(self) -> np.ndarray:
        """Eigenvectors as a dense ``(2^n, 2^n)`` array, column k for ``energies[k]``.

        ``V @ diag(E) @ V^dag == H``; reusable as ``ExactBackend(eigensystem=(lb.energies,
        lb.vectors))``. Assembled from the blocks on first use (one dense matrix of memory).
        """
        if self._dense_vectors is None:
            dim = 1 << self.n
            require_memory(
                dense_operator_bytes(self.n, real=self.is_real),
                what=f"the dense eigenvectors of {self.n} qubits",
                suggestion="Use fewer qubits.",
            )
            dense = np.zeros((dim, dim), dtype=float if self.is_real else complex)
            for block in self._blocks:
                dense[np.ix_(block.basis, block.states)] = block.vectors
            self._dense_vectors = dense
        return self._dense_vectors

    @property
    def eigensystem(self) -> BlockEigensystem:
        """The eigenvectors block by block (:class:`~echo_lab.physics.sectors.BlockEigensystem`).

        Shares the arrays of the construction (no copy, no 4^n matrix); pass it to
        ``ExactBackend(eigensystem=lb.eigensystem)`` to evolve without a dense matrix.
        """
        if self._block_eigensystem is None:
            blocks = [
                EigenBlock(block.basis, self.energies[block.states], block.vectors)
                for block in self._blocks
            ]
            self._block_eigensystem = BlockEigensystem.from_blocks(self.n, blocks)
        return self._block_eigensystem

    def _check_states(self, states: np.ndarray) -> np.ndarray:
        batch = np.asarray(states)
        if batch.ndim not in (1, 2) or batch.shape[0] != 1 << self.n:
            raise ConfigError(
                f"states must have shape (2^n,) or (2^n, K) with 2^n = {1 << self.n}, got "
                f"{batch.shape}"
            )
        return batch.reshape(1 << self.n, -1)

    def to_lbit_basis(self, states: np.ndarray) -> np.ndarray:
        """Amplitudes on the l-bit configurations: ``U^dag @ states``, same shape.

        Row s is <E_pi(s)|psi> with the phase convention of U (module docstring), so that
        ``tau^z_i`` is diagonal with entries 1 - 2 s_i in this basis. ``states`` has shape
        ``(2^n,)`` or ``(2^n, K)``. Cost: one basis change, ``sum_b d_b^2 K`` (block sizes
        d_b), plus O(2^n K); memory a few ``(2^n, K)`` arrays.
        """
        batch = self._check_states(states)
        return self._unitary.adjoint_apply(batch).reshape(np.shape(states))

    def from_lbit_basis(self, coefficients: np.ndarray) -> np.ndarray:
        """States from l-bit amplitudes: ``U @ coefficients``, the inverse of
        :meth:`to_lbit_basis`; shape ``(2^n,)`` or ``(2^n, K)``, same cost."""
        batch = self._check_states(coefficients)
        return self._unitary.apply(batch).reshape(np.shape(coefficients))

    def _apply_pauli(self, a: str, i: int, coefficients: np.ndarray) -> np.ndarray:
        """sigma^a_i on l-bit amplitudes ``(2^n, K)`` (bit i = 0 is the +1 eigenstate of z)."""
        configs = np.arange(1 << self.n)
        signs = (1 - 2 * ((configs >> i) & 1))[:, None]
        if a == "z":
            return signs * coefficients
        flipped = coefficients[configs ^ (1 << i)]
        # (Y c)[s] = -i (1 - 2 s_i) c[s ^ 2^i], since Y|0> = i|1> and Y|1> = -i|0>.
        return flipped if a == "x" else -1j * signs * flipped

    def apply_tau(self, a: str, i: int, states: np.ndarray) -> np.ndarray:
        """``tau^a_i @ states`` = U sigma^a_i U^dag psi, block by block; same shape as ``states``.

        ``states`` has shape ``(2^n,)`` or ``(2^n, K)`` (Qiskit order). Equals
        ``lb.tau(a, i) @ states`` without forming the 2^n x 2^n operator: two basis changes,
        ``2 sum_b d_b^2 K`` operations (n = 14: ~8e7 K, n = 16: ~1.2e9 K for all sectors),
        memory a few ``(2^n, K)`` arrays.
        """
        a = self._check_operator_name(a)
        i = self._check_site(i)
        batch = self._check_states(states)
        moved = self._apply_pauli(a, i, self.to_lbit_basis(batch))
        return self.from_lbit_basis(moved).reshape(np.shape(states))

    def tau_expectation(self, a: str, i: int, states: np.ndarray) -> np.ndarray:
        """<psi_k|tau^a_i|psi_k> (real) for the columns of ``states``: shape ``(K,)``, or a
        0-d array for one state of shape ``(2^n,)``. One basis change, ``sum_b d_b^2 K``."""
        a = self._check_operator_name(a)
        i = self._check_site(i)
        batch = self._check_states(states)
        coefficients = self.to_lbit_basis(batch)
        moved = self._apply_pauli(a, i, coefficients)
        values = np.real(np.einsum("sk,sk->k", coefficients.conj(), moved))
        return values if np.ndim(states) == 2 else values[0]

    def tau_operator(self, a: str, i: int) -> LinearOperator:
        """tau^a_i as a ``scipy.sparse.linalg.LinearOperator`` of shape ``(2^n, 2^n)``.

        ``op @ states`` calls :meth:`apply_tau`; it is Hermitian (``op.H`` is ``op``). The exact
        and Krylov backends accept it as an observable; nothing of size 4^n is stored.
        """
        a = self._check_operator_name(a)
        i = self._check_site(i)
        dim = 1 << self.n

        def apply(states: np.ndarray) -> np.ndarray:
            return self.apply_tau(a, i, states)

        return LinearOperator(
            (dim, dim), matvec=apply, rmatvec=apply, matmat=apply, rmatmat=apply, dtype=complex
        )

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """Echo pulse on the l-bit of site ``p``: the exact tau^axis_p acting block by block
        (:func:`lbit_action_pulse`), or with ``radius`` r its part on the sites within r of p
        (on :attr:`lattice`) made unitary (:func:`truncated_lbit_pulse_from_system`)."""
        if radius is None:
            return lbit_action_pulse(self, p, axis=axis, angle_error=angle_error)
        return truncated_lbit_pulse_from_system(
            self, p, radius, lattice=self.lattice, axis=axis, angle_error=angle_error
        )

    def tau_observable(self, a: str, i: int) -> np.ndarray | LinearOperator:
        """tau^a_i as a readout: the dense :meth:`tau` for n <= :data:`DENSE_LBIT_QUBITS` (every
        backend reads it), above the block-by-block :meth:`tau_operator` (exact and Krylov
        backends), so that no 4^n array is built."""
        if self.n > DENSE_LBIT_QUBITS:
            return self.tau_operator(a, i)
        return self.tau(a, i)

    def window_operator(self, a: str, i: int, window: Sequence[int]) -> np.ndarray:
        """The part of tau^a_i supported in ``window``: ``Tr_out(tau) / 2^(n - k)``, ``(2^k, 2^k)``.

        Equals :func:`echo_lab.dynamics.pulses.truncate_to_window` ``(lb.tau(a, i), window)`` (the
        sum of the Pauli components c_P P of tau whose support lies in the window) without any 4^n
        array: tau = sum_s w_s u_f(s) u_s^dag over the columns u_s of U (f(s) = s for z, s with
        bit i flipped for x and y), so the partial trace pairs the entries of u_f(s) and u_s that
        share their bits outside the window. Block by block, the columns are scattered into
        ``(outside bits, window bits, columns)`` arrays and contracted over the outside bits and
        the columns (:meth:`~echo_lab.lbits.encoding.EncodingUnitary.window_half`). ``window`` is a
        sorted list of distinct sites; ``window[0]`` is the least significant bit of the result.

        Cost O(2^(k-1) 4^n) (n = 14: k = 3 ~1e9, k = 7 ~2e10 operations) and work arrays of at
        most :data:`echo_lab.lbits.encoding.WINDOW_CHUNK_BYTES`.
        """
        a = self._check_operator_name(a)
        i = self._check_site(i)
        sites = [int(q) for q in window]
        if not sites or sites != sorted(set(sites)) or not 0 <= sites[0] <= sites[-1] < self.n:
            raise ConfigError(
                f"window must be a sorted list of distinct sites in 0..{self.n - 1}, got "
                f"{list(window)}"
            )
        k = len(sites)
        configs = np.arange(1 << self.n)
        # Half of the columns and the Hermitian conjugate: tau^z = 2 sum_{s_i=0} u_s u_s^dag - 1,
        # tau^x = sum_{s_i=0} u_{s^i} u_s^dag + h.c., tau^y the same with a factor i.
        first = configs[(configs >> i) & 1 == 0]
        second = first if a == "z" else first | (1 << i)
        complex_out = a == "y" or not self.is_real
        half = self._unitary.window_half(first, second, sites, complex_out=complex_out)
        if a == "z":
            return 2.0 * half - np.eye(1 << k)
        factor = 1.0 if a == "x" else 1j
        return factor * half + np.conj(factor) * half.conj().T

    def _check_site(self, i: int) -> int:
        if not (isinstance(i, int | np.integer) and 0 <= i < self.n):
            raise ConfigError(f"site {i!r} is outside 0..{self.n - 1}")
        return int(i)

    @staticmethod
    def _check_operator_name(a: str) -> str:
        if a not in _OPERATORS:
            raise ConfigError(f"unknown l-bit operator {a!r}; choose one of {_OPERATORS}")
        return a

    def tau(self, a: str, i: int) -> np.ndarray:
        """l-bit Pauli operator tau^a_i = U sigma^a_i U^dag, dense ``(2^n, 2^n)``, Qiskit order.

        ``a`` is ``"x"``, ``"y"`` or ``"z"``. Real for real H except tau^y (imaginary). Built from
        the columns u_s of U: tau^z_i = 2 W W^dag - 1 with W the 2^(n-1) columns with s_i = 0,
        tau^x_i = W' W^dag + h.c. and tau^y_i = i W' W^dag + h.c. with W' the partner columns
        u_{s^i}; block by block when H is block diagonal.
        Cached (least recently used evicted beyond ``cache_bytes``); the array is read-only.
        """
        a = self._check_operator_name(a)
        i = self._check_site(i)
        key = (a, i)
        if key in self._tau_cache:
            self._tau_cache.move_to_end(key)
            return self._tau_cache[key]
        configs = np.arange(1 << self.n)
        first = configs[(configs >> i) & 1 == 0]
        if a == "z":
            operator = self._unitary.assemble(first, None, 1.0, complex_out=not self.is_real)
        else:
            factor = 1.0 if a == "x" else 1j
            complex_out = a == "y" or not self.is_real
            second = first | (1 << i)
            operator = self._unitary.assemble(first, second, factor, complex_out=complex_out)
        self._store(key, operator)
        return operator

    def _store(self, key: tuple[str, int], operator: np.ndarray) -> None:
        operator.flags.writeable = False
        self._tau_cache[key] = operator
        while self._tau_cache and (
            sum(op.nbytes for op in self._tau_cache.values()) > self.cache_bytes
        ):
            self._tau_cache.popitem(last=False)

    def support_weights(self, a: str, i: int) -> np.ndarray:
        """Pauli weight of tau^a_i per support mask
        (:func:`echo_lab.physics.pauli.support_weights`).

        Shape ``(2^n,)``, sums to 1. Cached; costs one Pauli transform on first use.
        """
        a = self._check_operator_name(a)
        i = self._check_site(i)
        key = (a, i)
        if key not in self._weight_cache:
            self._weight_cache[key] = pauli.support_weights(self.tau(a, i))
        return self._weight_cache[key]

    def mean_range(self, a: str = "z") -> np.ndarray:
        """Mean range lbar_i = sum_P |c_P|^2 range(P) of tau^a_i for every site; shape ``(n,)``."""
        return np.array(
            [pauli.mean_range(self.support_weights(a, i), self.lattice) for i in range(self.n)]
        )

    def average_range(self, a: str = "z") -> float:
        """Average range of the assignment: the mean of :meth:`mean_range` over sites."""
        return float(np.mean(self.mean_range(a)))

    def weights_by_range(self, a: str, i: int) -> np.ndarray:
        """Pauli weight of tau^a_i per range r = 0..max; shape ``(max + 1,)``."""
        return pauli.weights_by_range(self.support_weights(a, i), self.lattice)

    def tail_profile(self, a: str, i: int) -> np.ndarray:
        """Weight of tau^a_i outside the window of radius r around site i, r = 0..max."""
        return pauli.tail_profile(self.support_weights(a, i), self._check_site(i), self.lattice)

    def xi_tails(self, a: str = "z") -> float:
        """Localization length from the tails of all tau^a_i, fitted together.

        Pools the points (r, tail_i(r)) of every site and fits tail ~ exp(-r / xi) with
        :func:`echo_lab.physics.pauli.fit_localization_length` (floor ``TAIL_FIT_FLOOR``, so exact
        zeros and rounding noise are left out).
        """
        profiles = np.array([self.tail_profile(a, i) for i in range(self.n)])
        radii = np.broadcast_to(np.arange(profiles.shape[1]), profiles.shape)
        return pauli.fit_localization_length(radii, profiles, floor=TAIL_FIT_FLOOR)

    def effective_coefficients(self) -> np.ndarray:
        """All c_S indexed by the site mask S (bit i set when i is in S), shape ``(2^n,)``.

        c_S = 2^-n sum_s E_pi(s) prod_{i in S} (1 - 2 s_i): a Walsh-Hadamard transform,
        O(n 2^n). Entry 0 is the mean energy; sum_S c_S prod (1 - 2 s_i) = E_pi(s) exactly.
        """
        return pauli.walsh_hadamard(self.energies[self.assignment]) / (1 << self.n)

    def effective_hamiltonian(self) -> dict[tuple[int, ...], float]:
        """H = c_0 + sum_S c_S prod_{i in S} tau^z_i as ``{sorted sites: c_S}``, all |S| >= 1.

        Has 2^n - 1 entries; h_i = c_(i,), J_ij = c_(i, j), K_ijk = c_(i, j, k).
        """
        coeffs = self.effective_coefficients()
        masks = bits(np.arange(coeffs.size), self.n)
        return {
            tuple(int(i) for i in np.flatnonzero(masks[:, mask])): float(coeffs[mask])
            for mask in range(1, coeffs.size)
        }

    def couplings(self) -> np.ndarray:
        """J_ij = c_{ij}, symmetric ``(n, n)`` with zero diagonal."""
        coeffs = self.effective_coefficients()
        sites = np.arange(self.n)
        masks = (1 << sites)[:, None] | (1 << sites)[None, :]
        matrix = coeffs[masks]
        np.fill_diagonal(matrix, 0.0)
        return matrix

    def xi_couplings(self) -> float:
        """Localization length from |J_ij| ~ J0 exp(-d_ij / xi).

        For every lattice distance d >= 1, the median of log|J_ij| over the pairs at distance d
        (exact zeros give -inf and fall below the fit floor); these medians are fitted with
        :func:`echo_lab.physics.pauli.fit_localization_length` (floor ``COUPLING_FIT_FLOOR``).
        """
        distances, medians = self.coupling_medians()
        return pauli.fit_localization_length(distances, medians, floor=COUPLING_FIT_FLOOR)

    def coupling_medians(self) -> tuple[np.ndarray, np.ndarray]:
        """Distances d >= 1 present in the lattice and exp(median log|J_ij|) at each d."""
        magnitude = np.abs(self.couplings())
        dist = self.lattice.distances
        upper = np.triu_indices(self.n, k=1)
        distances = np.unique(dist[upper])
        with np.errstate(divide="ignore"):
            logs = np.log(magnitude[upper])
        medians = np.array([np.exp(np.median(logs[dist[upper] == d])) for d in distances])
        return distances.astype(float), medians

    def time_averaged_tau(self, i: int) -> np.ndarray:
        """Time-averaged sigma^z_i: sum_E <E|sigma^z_i|E> |E><E|, dense ``(2^n, 2^n)``.

        The diagnostic of Chandran et al. (PRB 91, 085425, 2015): commutes with H but is not an
        involution. Not cached.
        """
        i = self._check_site(i)
        dim = 1 << self.n
        require_memory(
            2 * dense_operator_bytes(self.n, real=self.is_real),
            what=f"a dense {self.n}-qubit time-averaged operator",
            suggestion="Use fewer qubits.",
        )
        out = np.zeros((dim, dim), dtype=float if self.is_real else complex)
        expectations = z_expectations(self._blocks, self.n)[i]
        for block in self._blocks:
            weighted = block.vectors * expectations[block.states]
            gram = weighted @ block.vectors.conj().T
            if block.basis.size == dim:
                out = gram[np.ix_(np.argsort(block.basis), np.argsort(block.basis))]
            else:
                out[np.ix_(block.basis, block.basis)] = gram
        return out

    def time_averaged_mean_range(self) -> np.ndarray:
        """Mean range of every time-averaged sigma^z_i, shape ``(n,)``.

        The weights are normalized by their sum (this operator is not an involution).
        """
        return np.array(
            [
                pauli.mean_range(pauli.support_weights(self.time_averaged_tau(i)), self.lattice)
                for i in range(self.n)
            ]
        )


def lbit_action_pulse(
    lbit_system: LBitSystem, p: int, *, axis: str = "x", angle_error: float = 0.0
) -> Pulse:
    """Exact l-bit flip tau^axis_p that acts block by block (``lbit_system.apply_tau``).

    ``action(states)`` applies R = cos(theta/2) - i sin(theta/2) tau (tau itself when
    ``angle_error == 0``) to states ``(2^n,)`` or ``(2^n, K)`` at two basis changes, sum_b d_b^2
    per state (n = 14: ~1e8, n = 16: ~1e9 operations), so exact pulses reach n = 16 on the exact
    and Krylov backends. For n <= :data:`~echo_lab.dynamics.pulses.DENSE_LBIT_QUBITS` the pulse
    also carries the dense matrix (circuit backends need it); above, ``matrix`` is None. Label
    ``"tau^x_p"``, kind ``"lbit"``, like :func:`echo_lab.dynamics.pulses.lbit_pulse`.
    """
    check_axis(axis)
    eps = check_angle_error(angle_error)
    n = int(lbit_system.n)
    if not (isinstance(p, int | np.integer) and 0 <= p < n):
        raise ConfigError(f"pulse site {p} is outside the chain 0..{n - 1}")
    half = 0.5 * np.pi * (1.0 + eps)

    def action(states: np.ndarray) -> np.ndarray:
        flipped = lbit_system.apply_tau(axis, int(p), states)
        if eps == 0.0:
            return flipped
        return np.cos(half) * states - 1j * np.sin(half) * flipped

    matrix = None
    if n <= DENSE_LBIT_QUBITS:
        matrix = rotate_about(lbit_system.tau(axis, int(p)), angle_error=eps)
    return Pulse(
        matrix,
        tuple(range(n)),
        label=f"tau^{axis}_{p}",
        kind="lbit",
        meta={"site": int(p), "axis": axis, "angle_error": eps},
        action=action,
    )


def truncated_lbit_pulse_from_system(
    lbit_system: LBitSystem,
    p: int,
    radius: int,
    *,
    lattice: Lattice | None = None,
    axis: str = "x",
    angle_error: float = 0.0,
) -> Pulse:
    """:func:`~echo_lab.dynamics.pulses.truncated_lbit_pulse` with the window part of tau^axis_p
    computed block by block (``lbit_system.window_operator``): no 4^n array, so ``lbit:r`` works
    at n = 14-16. The window is ``lattice.window(p, radius)``, or [p - r, p + r] clipped to the
    chain without a lattice.

    Cost O(2^(k-1) 4^n) for the window operator (k = window size) plus O(8^k).
    """
    check_axis(axis)
    n = int(lbit_system.n)
    if not (isinstance(p, int | np.integer) and 0 <= p < n):
        raise ConfigError(f"pulse site {p} is outside the chain 0..{n - 1}")
    window = truncation_window(n, int(p), radius, lattice)
    truncated = lbit_system.window_operator(axis, int(p), window)
    return window_polar_pulse(truncated, window, int(p), radius, axis=axis, angle_error=angle_error)


def construct(
    hamiltonian: SparsePauliOp,
    method: str = "overlap",
    *,
    lattice: Lattice | None = None,
    eigensystem: tuple[np.ndarray, np.ndarray] | None = None,
    max_sweeps: int = 100,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> LBitSystem:
    """Construct the exact l-bits of a Hermitian ``hamiltonian`` with the assignment ``method``.

    The ``"overlap"`` and ``"range"`` entries of :func:`echo_lab.lbits.construct` call this.

    Parameters
    ----------
    hamiltonian : Hermitian ``SparsePauliOp`` on n qubits (site i = qubit i).
    method : ``"overlap"`` or ``"range"`` (module docstring).
    lattice : defines ranges and distances; default an open chain of n sites.
    eigensystem : ``(E, V)`` of this Hamiltonian to reuse (``V @ diag(E) @ V^dag == H``);
        default: diagonalize (block by block when H is block diagonal).
    max_sweeps : ``"range"`` only: at most this many sweeps over all swaps.
    cache_bytes : byte budget of the tau cache.

    Returns an :class:`LBitSystem`. Raises :class:`ConfigError` on invalid input and
    :class:`~echo_lab.errors.ResourceError` when n is too large for memory (see module
    docstring), both before any expensive step.
    """
    n = int(check_hermitian(hamiltonian).num_qubits)
    lattice = _check_options(n, method, lattice, max_sweeps=max_sweeps, cache_bytes=cache_bytes)
    real = bool(np.all(np.asarray(hamiltonian.coeffs).imag == 0))
    # overflow of huge coefficients is reported once, by _check_spectrum, not as warnings
    with np.errstate(over="ignore", invalid="ignore"):
        estimate = estimate_bytes(hamiltonian, real=real)
        require_memory(
            estimate,
            what=f"the l-bit construction for n = {n} (eigenvectors block by block and the "
            f"diagonalization of the largest block, {format_bytes(estimate)})",
            suggestion="Use n <= 16 for a Hamiltonian that conserves the total sigma^z (n <= 14 "
            "without that symmetry).",
        )
        if eigensystem is None:
            energies, blocks = diagonalize_blocks(hamiltonian)
        else:
            energies, blocks = blocks_from_eigensystem(eigensystem, hamiltonian)
    _check_spectrum(energies, blocks, n)
    assignment = overlap_assignment(blocks, 1 << n)
    info: dict[str, Any] = {}
    if method == "range":
        overlap = LBitSystem(hamiltonian, lattice, "overlap", energies, assignment, {}, blocks)
        assignment, info = minimize_range(
            overlap.vectors, lattice, assignment, max_sweeps=max_sweeps
        )
    assignment, relabelled = enforce_signs(assignment, z_expectations(blocks, n), n)
    info["relabelled_bits"] = relabelled
    return LBitSystem(hamiltonian, lattice, method, energies, assignment, info, blocks, cache_bytes)


def _check_spectrum(energies: np.ndarray, blocks: Sequence[Any], n: int) -> None:
    """NumericalError unless every energy and eigenvector entry is finite and the energies
    leave room for the effective Hamiltonian (its Walsh-Hadamard transform sums 2^n of them),
    as the circuit method's fit refuses a NaN loss: coefficients near the float limit (1e308)
    overflow when the terms are summed, and every l-bit quantity would be NaN without an
    error."""
    finite = bool(np.all(np.isfinite(energies))) and all(
        bool(np.all(np.isfinite(block.vectors))) for block in blocks
    )
    largest = float(np.max(np.abs(energies), initial=0.0)) if finite else math.inf
    if not largest * 2.0**n < np.finfo(float).max:
        what = "is not finite (NaN or infinite energies or eigenvectors)"
        if finite:
            what = (
                f"reaches |E| = {largest:.3g}, too large for the effective Hamiltonian (sums of "
                f"2^{n} energies overflow double precision)"
            )
        raise NumericalError(
            f"the spectrum of the Hamiltonian {what}: its coefficients are too close to the "
            "largest double (1.8e308); scale the Hamiltonian down (e.g. to units of its largest "
            "coupling)"
        )


def _check_options(
    n: int, method: str, lattice: Lattice | None, *, max_sweeps: int, cache_bytes: int
) -> Lattice:
    """Validate :func:`construct`'s options for an n-qubit H; the lattice (default a chain)."""
    if method == "time-average":
        raise ConfigError(
            "'time-average' is a diagnostic, not an assignment: construct with 'overlap' and use "
            "lb.time_averaged_tau(i) / lb.time_averaged_mean_range()"
        )
    if method not in METHODS:
        choices = ", ".join(repr(m) for m in (*METHODS, "circuit"))
        raise ConfigError(f"unknown l-bit method {method!r}; choose one of {choices}")
    if lattice is None:
        lattice = Lattice.chain(n)
    if not isinstance(lattice, Lattice) or lattice.n != n:
        raise ConfigError(f"lattice must be a models.Lattice with {n} sites to match H")
    if not isinstance(max_sweeps, int) or max_sweeps < 0:
        raise ConfigError(f"max_sweeps must be an integer >= 0, got {max_sweeps!r}")
    if not isinstance(cache_bytes, int) or cache_bytes < 0:
        raise ConfigError(f"cache_bytes must be an integer >= 0, got {cache_bytes!r}")
    if method == "range" and n > MAX_RANGE_QUBITS:
        raise ConfigError(
            f"the 'range' method costs O(16^n) and is limited to n <= {MAX_RANGE_QUBITS} "
            f"(got n = {n}); use method='overlap' for longer chains"
        )
    return lattice
