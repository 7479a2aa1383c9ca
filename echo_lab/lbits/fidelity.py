"""How close an l-bit of one construction is to the exact one: F_z, a_z, D, F_x and range weights.

docs/pages/conventions.md section 10. For a site p, a reference :class:`~echo_lab.lbits.exact.
LBitSystem` (tau, exact l-bits of the whole chain) and another l-bit source A of the same chain
(window, circuit, the other exact assignment, any :class:`~echo_lab.lbits.source.LBitSource`, or
``None`` for the bare spin sigma_p):

* ``F_z = Tr(A^z_p tau^z_p) / 2^N``; it does not depend on the eigenvector phases once the
  assignments are fixed (1 for A = tau).
* ``a_z = Tr(sigma^z_p tau^z_p) / 2^N``, the bare spin's F_z (>= 0 by the sign convention of
  section 4).
* ``D = (F_z - a_z) / (1 - a_z)``: the share of the dressing A captures, 0 for the bare spin and 1
  for the exact l-bit (NaN when a_z = 1: nothing to capture).
* ``F_x = sqrt(Tr(A^x_p tau^x_p)^2 + Tr(A^x_p tau^y_p)^2) / 2^N``. It depends on the phase
  gauge of the eigenvectors: echo_lab fixes each column of U by ``<s|E_pi(s)>`` real and >= 0
  (section 4), in the reference and in window l-bits alike; circuit l-bits carry the gauge of
  their fitted gates. Summing the tau^x and tau^y overlaps in quadrature removes a common phase
  rotation exp(i phi tau^z_p) of the flip, not a phase that differs from eigenstate to
  eigenstate.
* ``range_weights[r]``: the Pauli weight of A^z_p on the strings supported within distance r of
  p but not within r - 1 (r = 0..max distance), which sums to Tr((A^z_p)^2) / 2^N = 1 for an
  involution.

The ceiling of a support (:func:`support_ceiling`): no operator B supported on a set S of sites
with Tr(B^2) / 2^N = 1 (every l-bit Pauli operator, every pulse circuit whose light cone of p is
S) has ``Tr(B tau^z_p) / 2^N`` above ``sqrt(w_S)``, where ``w_S`` is the Pauli weight of tau^z_p on
the strings inside S (Cauchy-Schwarz on the Pauli coefficients; the bound is reached by the
normalized truncation of tau^z_p to S, which is in general not an involution). So
``D <= (sqrt(w_S) - a_z) / (1 - a_z)`` for every construction on S: a floor on the support a
construction needs, measured on the exact l-bit itself.

Block by block, no 4^N arrays (:func:`compare`):

* A supported on a few sites S (window l-bits: the window; circuit l-bits: the light cone of p;
  the bare spin: {p}; any source whose ``tau`` is a ``SparsePauliOp``: the sites its strings
  touch): ``Tr(A tau) / 2^N = Tr_S(A Tr_out(tau)) / 2^|S|`` with the partial trace
  :meth:`~echo_lab.lbits.exact.LBitSystem.window_operator` (O(2^(|S|-1) 4^N) time, work arrays
  of at most 64 MiB), three of them per site (tau^z, tau^x, tau^y).
* A another :class:`LBitSystem` of the same eigenvectors (``overlap`` against ``range`` of one
  Hamiltonian): ``Tr(U_A s_a U_A^dag U s_b U^dag) = Tr(s_a M s_b M^dag)`` with
  ``M = U_A^dag U`` a permutation times phases, O(2^N) per trace, and the range weights from the
  partial traces onto the windows around p up to N = 12 (beyond: not computed, ``None``).
* A an :class:`LBitSystem` with other eigenvectors (another Hamiltonian): the dense taus, N <= 12.

Both sides must describe N <= :data:`MAX_FIDELITY_QUBITS` (14) sites; larger chains, unknown
sources and sites the source does not hold raise :class:`~echo_lab.errors.ConfigError` before
any work.

>>> from echo_lab import lbits
>>> from echo_lab.physics import models
>>> H = models.RandomFieldXXZ(n=6, W=8.0, seed=3).hamiltonian()
>>> exact = lbits.construct(H, method="overlap")
>>> result = compare(exact, exact, 2)
>>> round(result.f_z, 12), round(result.d, 12), round(result.f_x, 12)
(1.0, 1.0, 1.0)
>>> compare(exact, None, 2).d
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import PauliList, SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.lbits.exact import LBitSystem
from echo_lab.lbits.source import LBitSource
from echo_lab.lbits.window import WindowLBits
from echo_lab.physics import pauli
from echo_lab.physics.linalg import PAULI_MATRICES

__all__ = [
    "DENSE_FIDELITY_QUBITS",
    "F_X_GAUGE",
    "MAX_FIDELITY_QUBITS",
    "LBitFidelity",
    "SupportCeiling",
    "compare",
    "compare_sites",
    "support_ceiling",
]

#: Largest chain of a comparison (one side is the exact l-bits of the whole chain).
MAX_FIDELITY_QUBITS = 14

#: Largest chain for the dense paths (two exact l-bit systems of different eigenvectors; the
#: range weights of an exact l-bit).
DENSE_FIDELITY_QUBITS = 12

#: The phase gauge F_x depends on (module docstring), recorded in every result.
F_X_GAUGE = "<s|E_pi(s)> real and >= 0 (conventions section 4)"


@dataclass(frozen=True)
class LBitFidelity:
    """The comparison of one l-bit with the exact one at ``site`` (module docstring).

    Attributes
    ----------
    site : the chain site p.
    method : the compared construction (``"window"``, ``"circuit"``, ``"compiled"``,
        ``"overlap"``, ``"range"``, ...; ``"bare"`` for the bare spin).
    reference_method : the exact assignment of the reference (``"overlap"`` or ``"range"``).
    f_z, a_z, d, f_x : F_z, a_z, D and F_x.
    range_weights : weight of A^z_p by distance r from p, shape ``(max distance + 1,)``, or
        ``None`` where it is not computed (an exact A beyond N = 12).
    sites : the sites A is supported on in the computation (the window, the light cone, ...).
    gauge : the eigenvector phase gauge F_x depends on.
    """

    site: int
    method: str
    reference_method: str
    f_z: float
    a_z: float
    d: float
    f_x: float
    range_weights: np.ndarray | None
    sites: tuple[int, ...]
    gauge: str = F_X_GAUGE


@dataclass(frozen=True)
class SupportCeiling:
    """The most of the exact l-bit at ``site`` any operator on ``width`` sites can capture.

    Attributes
    ----------
    site : the chain site p.
    width : the number of contiguous sites (p among them).
    sites : the best such window (the one holding the most weight of tau^z_p).
    weight : w_S, the Pauli weight of tau^z_p on the strings inside ``sites``.
    f_z : sqrt(w_S), the largest F_z of a normalized operator on ``sites``.
    a_z : the bare spin's F_z.
    d : (f_z - a_z) / (1 - a_z), the largest D (NaN when a_z = 1).
    """

    site: int
    width: int
    sites: tuple[int, ...]
    weight: float
    f_z: float
    a_z: float
    d: float


def support_ceiling(
    reference: LBitSystem, site: int, widths: Sequence[int] | None = None
) -> list[SupportCeiling]:
    """For each width w in ``widths`` (default 1..N): the largest F_z and D that any operator
    supported on w contiguous sites containing ``site`` can reach against ``reference``'s
    tau^z (module docstring, "The ceiling of a support"), and the window that reaches it.
    Windows are runs of consecutive site indices, the windows of a chain (on another lattice
    they are still valid supports, though not its natural neighbourhoods).

    One dense tau^z and its Pauli support weights (O(N 4^N) time, three 4^N real arrays), then
    a sum over the supports inside each window; N <= :data:`DENSE_FIDELITY_QUBITS`. Raises
    :class:`ConfigError` for a reference that is not exact, a longer chain, a site outside the
    chain or a width outside 1..N, before any work.
    """
    p = _check(reference, None, site)
    n = reference.n
    if n > DENSE_FIDELITY_QUBITS:
        raise ConfigError(
            f"the support ceiling expands the dense tau^z in Pauli strings and is limited to "
            f"n <= {DENSE_FIDELITY_QUBITS} (got n = {n})"
        )
    chosen = list(range(1, n + 1)) if widths is None else list(widths)
    for width in chosen:
        if isinstance(width, bool) or not isinstance(width, int | np.integer):
            raise ConfigError(f"widths must be integers 1..{n}, got {width!r}")
        if not 1 <= width <= n:
            raise ConfigError(f"width {width} is outside 1..{n} (the chain has {n} sites)")
    weights = pauli.support_weights(reference.tau("z", p))
    masks = np.arange(1 << n)
    a_z = float(_local_trace(reference, p, [p], PAULI_MATRICES["Z"], "z"))
    ceilings = []
    for width in chosen:
        best, best_start = -1.0, p
        for start in range(max(0, p - width + 1), min(p, n - width) + 1):
            window = ((1 << width) - 1) << start
            inside = float(weights[(masks & ~window) == 0].sum())
            if inside > best:
                best, best_start = inside, start
        # sigma^z_p itself lies on every window, so the ceiling is never below a_z (this only
        # removes rounding: sqrt(w_{p}) equals a_z up to it).
        f_z = max(math.sqrt(min(max(best, 0.0), 1.0)), a_z)
        d = (f_z - a_z) / (1.0 - a_z) if a_z < 1.0 else math.nan
        sites = tuple(range(best_start, best_start + int(width)))
        ceilings.append(SupportCeiling(p, int(width), sites, best, f_z, a_z, d))
    return ceilings


def compare(reference: LBitSystem, other: LBitSource | None, site: int) -> LBitFidelity:
    """F_z, a_z, D, F_x and the range weights of ``other``'s l-bit at ``site`` against
    ``reference`` (module docstring); ``other=None`` is the bare spin (F_z = a_z, D = 0).

    Raises :class:`ConfigError` for a reference that is not an exact :class:`LBitSystem`, chains
    of more than :data:`MAX_FIDELITY_QUBITS` sites, sources of another length, a site ``other``
    does not hold, or a source this module cannot read, all before any trace is computed.
    """
    p = _check(reference, other, site)
    bare = _local_trace(reference, p, [p], PAULI_MATRICES["Z"], "z")
    a_z = float(bare)
    if other is None:
        f_x = math.hypot(
            _local_trace(reference, p, [p], PAULI_MATRICES["X"], "x"),
            _local_trace(reference, p, [p], PAULI_MATRICES["X"], "y"),
        )
        bare_weights = np.zeros(_max_distance(reference, p) + 1)
        bare_weights[0] = 1.0
        return LBitFidelity(p, "bare", reference.method, a_z, a_z, 0.0, f_x, bare_weights, (p,))
    weights: np.ndarray | None
    if isinstance(other, LBitSystem):
        f_z, f_x, weights = _exact_pair(reference, other, p)
        sites: tuple[int, ...] = tuple(range(reference.n))
    else:
        block_z, window = _local_block(other, "z", p)
        block_x, window_x = _local_block(other, "x", p)
        f_z = _local_trace(reference, p, window, block_z, "z")
        f_x = math.hypot(
            _local_trace(reference, p, window_x, block_x, "x"),
            _local_trace(reference, p, window_x, block_x, "y"),
        )
        weights = _range_weights(reference, p, block_z, window)
        sites = tuple(window)
    d = (f_z - a_z) / (1.0 - a_z) if a_z < 1.0 else math.nan
    return LBitFidelity(p, other.method, reference.method, f_z, a_z, d, f_x, weights, sites)


def compare_sites(
    reference: LBitSystem, other: LBitSource | None, sites: Sequence[int] | None = None
) -> list[LBitFidelity]:
    """:func:`compare` for ``sites`` (default: every site ``other`` holds; all for the bare
    spin)."""
    if sites is None:
        sites = other.sites() if other is not None else tuple(range(reference.n))
    return [compare(reference, other, int(p)) for p in sites]


def _check(reference: LBitSystem, other: LBitSource | None, site: int) -> int:
    if not isinstance(reference, LBitSystem):
        raise ConfigError(
            f"the reference must be exact l-bits (lbits.construct(H, method='overlap' or "
            f"'range')), got {type(reference).__name__}"
        )
    n = reference.n
    if n > MAX_FIDELITY_QUBITS:
        raise ConfigError(
            f"an l-bit comparison needs the exact l-bits of the whole chain and is limited to "
            f"n <= {MAX_FIDELITY_QUBITS} (got n = {n})"
        )
    if other is not None:
        if not isinstance(other, LBitSource):
            raise ConfigError(
                f"expected an l-bit source (LBitSource) or None, got {type(other).__name__}"
            )
        if other.n != n:
            raise ConfigError(
                f"the {other.method} l-bits describe {other.n} sites, the reference {n}: "
                "compare l-bits of the same chain"
            )
        p = other.check_site(site)
        if isinstance(other, LBitSystem) and n > DENSE_FIDELITY_QUBITS:
            if not _same_eigenvectors(reference, other):
                raise ConfigError(
                    f"two exact l-bit systems with different eigenvectors are compared through "
                    f"their dense taus, n <= {DENSE_FIDELITY_QUBITS} (got n = {n}); build both "
                    "from the same Hamiltonian"
                )
        return p
    if isinstance(site, bool) or not isinstance(site, int | np.integer) or not 0 <= site < n:
        raise ConfigError(f"site {site!r} is outside 0..{n - 1}")
    return int(site)


def _local_trace(
    reference: LBitSystem, p: int, sites: Sequence[int], block: np.ndarray, b: str
) -> float:
    """``Tr(block tau^b_p) / 2^N`` for ``block`` on ``sites`` (sites[0] least significant):
    ``Tr_S(block Tr_out(tau)) / 2^|S|`` through the reference's partial trace."""
    reduced = reference.window_operator(b, p, list(sites))
    # Tr(X Y) = sum(X * Y^T) = vdot(Y, X) for Hermitian Y.
    return float(np.real(np.vdot(reduced, block))) / (1 << len(sites))


def _local_block(other: LBitSource, a: str, p: int) -> tuple[np.ndarray, list[int]]:
    """``other``'s tau^a_p as a dense block and its sorted chain sites."""
    if isinstance(other, WindowLBits):
        return np.asarray(other.tau(a, p)), list(other.window)
    local_tau = getattr(other, "local_tau", None)
    if callable(local_tau):  # circuit and compiled l-bits: (block, its sorted chain sites)
        block, cone = local_tau(a, p)
        return np.asarray(block), list(cone)
    tau = other.tau(a, p)
    if isinstance(tau, SparsePauliOp):
        return _restricted_matrix(tau)
    if isinstance(tau, np.ndarray) and tau.shape == (1 << other.n, 1 << other.n):
        if other.n > DENSE_FIDELITY_QUBITS:
            raise ConfigError(
                f"the {other.method} l-bits give dense 2^n x 2^n taus, compared up to n = "
                f"{DENSE_FIDELITY_QUBITS} (got n = {other.n})"
            )
        return tau, list(range(other.n))
    raise ConfigError(
        f"cannot compare {other.method} l-bits: their tau is a {type(tau).__name__}, not a "
        "SparsePauliOp or a dense 2^n x 2^n array"
    )


def _restricted_matrix(op: SparsePauliOp) -> tuple[np.ndarray, list[int]]:
    """A SparsePauliOp on n qubits as a dense block on the sites its strings touch."""
    support = np.asarray(op.paulis.x) | np.asarray(op.paulis.z)
    sites = [int(q) for q in np.flatnonzero(np.any(support, axis=0))]
    if not sites:
        sites = [0]
    if len(sites) > DENSE_FIDELITY_QUBITS:
        raise ConfigError(
            f"an l-bit supported on {len(sites)} sites is compared as a dense block of at most "
            f"{DENSE_FIDELITY_QUBITS} sites"
        )
    relabelled = PauliList.from_symplectic(
        np.asarray(op.paulis.z)[:, sites], np.asarray(op.paulis.x)[:, sites], op.paulis.phase
    )
    return SparsePauliOp(relabelled, np.asarray(op.coeffs)).to_matrix(), sites


def _max_distance(reference: LBitSystem, p: int) -> int:
    return int(reference.lattice.distances[p].max())


def _range_weights(
    reference: LBitSystem, p: int, block: np.ndarray, sites: Sequence[int]
) -> np.ndarray:
    """Pauli weight of ``block`` (on ``sites``) by the largest distance from p of its support."""
    weights = pauli.support_weights(block)
    radius = pauli.mask_radii(reference.lattice.distances[p, list(sites)])
    return np.bincount(radius, weights=weights, minlength=_max_distance(reference, p) + 1)


def _same_eigenvectors(first: LBitSystem, second: LBitSystem) -> bool:
    blocks_a, blocks_b = first._blocks, second._blocks
    if first is second:
        return True
    return len(blocks_a) == len(blocks_b) and all(
        a is b
        or (
            np.array_equal(a.basis, b.basis)
            and np.array_equal(a.states, b.states)
            and np.array_equal(a.vectors, b.vectors)
        )
        for a, b in zip(blocks_a, blocks_b, strict=True)
    )


def _exact_pair(
    reference: LBitSystem, other: LBitSystem, p: int
) -> tuple[float, float, np.ndarray | None]:
    """F_z, F_x and the range weights of another exact l-bit system."""
    if _same_eigenvectors(reference, other):

        def trace(a: str, b: str) -> float:
            return _permutation_trace(other, reference, p, a, b)

    else:
        dense = {b: reference.tau(b, p) for b in "zxy"}

        def trace(a: str, b: str) -> float:
            return float(np.real(np.vdot(dense[b], other.tau(a, p)))) / (1 << reference.n)

    f_z = trace("z", "z")
    f_x = math.hypot(trace("x", "x"), trace("x", "y"))
    weights = None
    if reference.n <= DENSE_FIDELITY_QUBITS:
        weights = _range_weights(reference, p, other.tau("z", p), list(range(reference.n)))
    return f_z, f_x, weights


def _pauli_columns(a: str, p: int, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sigma^a_p: the row f(d) of the nonzero entry of column d, and its value."""
    bit = (configs >> p) & 1
    if a == "z":
        return configs, (1 - 2 * bit).astype(complex)
    flipped = configs ^ (1 << p)
    if a == "x":
        return flipped, np.ones(configs.size, dtype=complex)
    return flipped, 1j * (1 - 2 * bit)


def _permutation_trace(first: LBitSystem, second: LBitSystem, p: int, a: str, b: str) -> float:
    """``Tr(U_1 s_a U_1^dag U_2 s_b U_2^dag) / 2^N`` for two encodings of the same eigenvectors.

    ``M = U_1^dag U_2`` has one entry per column t: row m(t) = pi_1^-1(pi_2(t)), value
    conj(phase_1[m(t)]) phase_2[t]; the trace of s_a M s_b M^dag is then a sum over columns
    l of v_a(j) mu_k v_b(l) conj(mu_l) with k = f_b(l), j = m(k), where m(l) = f_a(j). O(2^N).
    """
    configs = np.arange(1 << first.n)
    inverse = np.empty_like(configs)
    inverse[first.assignment] = configs
    m = inverse[second.assignment]
    mu = np.conj(first._unitary.phases[m]) * second._unitary.phases
    f_a, v_a = _pauli_columns(a, p, configs)
    f_b, v_b = _pauli_columns(b, p, configs)
    k = f_b
    j = m[k]
    keep = m == f_a[j]
    terms = v_a[j] * mu[k] * v_b * np.conj(mu)
    return float(np.real(np.sum(terms[keep]))) / (1 << first.n)
