"""l-bits of long chains from a window, and window observables of matrix product states.

For chains too long for full diagonalization (n > 14) the l-bit of a probe site p is built from
the exact diagonalization of the Hamiltonian **restricted to a window** of w <= 12 sites around
p (docs/pages/conventions.md section 4 applied to the window):

* :func:`window_sites`: the w sites nearest to p in graph distance, ties broken towards the lower
  site index. On an open chain this is the window centred on p (for even w one more site on the
  left), shifted to stay inside the chain: [p - w//2 ... p + (w-1)//2] in the bulk, [0, w - 1]
  near the left end and [n - w, n - 1] near the right end. On any graph the window is connected.
* :func:`window_hamiltonian`: the terms of H whose support lies entirely inside the window,
  relabelled so that window qubit k is chain site ``sites[k]`` (sites sorted). Boundary handling:
  **open** boundaries, bonds that leave the window are dropped; the fields and couplings inside
  are those of the chain. (The neighbours' sigma^z are not folded in as effective fields: the
  window l-bit does not depend on the background state.)
* :func:`window_lbits`: :func:`echo_lab.lbits.construct` of the window Hamiltonian, wrapped as a
  :class:`WindowLBits` that knows where the window sits in the chain, an
  :class:`~echo_lab.lbits.source.LBitSource` that holds the probe's l-bit only. ``tau(a, p)`` is
  the probe's l-bit operator on the window qubits (2^w x 2^w), ``pulse(p, radius=r)`` the
  corresponding echo pulse on the chain sites of the window, optionally truncated to radius r
  around p (:func:`echo_lab.dynamics.pulses.truncated_lbit_pulse` applied on the window), and
  ``tau_observable(a, p)`` the readout U^dag on the window, then sigma^a_p.

When the window covers the whole chain the window l-bits are the full construction's l-bits.
At strong disorder tau^a_p of the window converges to the full one exponentially in the distance
from p to the window edges (an l-bit is quasi-local with localization length xi).

Costs: those of ``lbits.construct`` on w qubits (O(8^w) time; memory about six dense 2^w x 2^w
matrices, 100 MiB at w = 12) plus O(#terms * n) to select the window terms; the long chain itself
is never built as a matrix.

Matrix product states (Qiskit Aer's ``save_matrix_product_state``): :func:`mps_bond_dimensions`
and :func:`mps_window_density_matrix`, the reduced density matrix of a contiguous window, from
which any window observable (sigma^x_p, a window tau^x_p) follows as ``Tr(rho O)``. Aer's saved
MPS is in Vidal form, ``(gammas, lambdas)``: ``gammas[k] = (Gamma_k^0, Gamma_k^1)`` (matrices of
shape ``(chi_{k-1}, chi_k)``) for qubit k, ``lambdas[k]`` the Schmidt values of the bond between
qubits k and k + 1, and |psi> = sum_s Gamma_0^{s_0} Lambda_0 Gamma_1^{s_1} ... Gamma_{n-1}^{s_{n-1}}
|s>, with qubit 0 the least significant bit.

Examples
--------
>>> from echo_lab.physics import models
>>> model = models.RandomFieldXXZ(n=40, W=12.0, seed=1)
>>> wl = window_lbits(model, 20, width=6)
>>> wl.window
(17, 18, 19, 20, 21, 22)
>>> wl.pulse(20, radius=1).qubits
(19, 20, 21)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate
from qiskit.quantum_info import PauliList, SparsePauliOp

from echo_lab.dynamics.pulses import PULSE_AXES, lbit_pulse, truncated_lbit_pulse
from echo_lab.dynamics.readouts import RotatedPauli
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError
from echo_lab.lbits import exact as lbits
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.models import HamiltonianModel, Lattice
from echo_lab.resources import COMPLEX_BYTES, dense_operator_bytes, require_memory

__all__ = [
    "MAX_WINDOW_SITES",
    "WindowLBits",
    "mps_bond_dimensions",
    "mps_window_density_matrix",
    "resolve_chain",
    "window_hamiltonian",
    "window_lbits",
    "window_sites",
]

#: Largest window: the l-bit construction diagonalizes 2^w x 2^w matrices.
MAX_WINDOW_SITES = 12

#: Largest contiguous window of :func:`mps_window_density_matrix` (a 4^k density matrix).
MAX_DENSITY_MATRIX_SITES = 12

ModelOrHamiltonian: TypeAlias = HamiltonianModel | SparsePauliOp


def resolve_chain(
    model_or_h: ModelOrHamiltonian, lattice: Lattice | None
) -> tuple[SparsePauliOp, Lattice]:
    """The chain Hamiltonian and its lattice (the model's, else ``lattice``, else an open chain);
    :class:`ConfigError` for anything else or a lattice that does not fit."""
    if isinstance(model_or_h, HamiltonianModel):
        if lattice is not None and lattice != model_or_h.lattice:
            raise ConfigError(
                "lattice disagrees with the model's own lattice: leave lattice out for a model"
            )
        return model_or_h.hamiltonian(), model_or_h.lattice
    if not isinstance(model_or_h, SparsePauliOp):
        raise ConfigError(
            f"expected an echo_lab model or a qiskit SparsePauliOp, got {type(model_or_h).__name__}"
        )
    n = model_or_h.num_qubits
    if lattice is None:
        return model_or_h, Lattice.chain(n)
    if not isinstance(lattice, Lattice) or lattice.n != n:
        raise ConfigError(f"lattice must be a models.Lattice with {n} sites to match H")
    return model_or_h, lattice


def _check_width(width: int, n: int) -> int:
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
        raise ConfigError(f"window width must be an integer >= 1, got {width!r}")
    if width > MAX_WINDOW_SITES:
        raise ConfigError(
            f"window width {width} exceeds {MAX_WINDOW_SITES} sites: the window is diagonalized "
            f"exactly (2^w x 2^w); use width <= {MAX_WINDOW_SITES}"
        )
    if width > n:
        raise ConfigError(
            f"window width {width} is larger than the chain of {n} sites; use width <= {n}"
        )
    return int(width)


def window_sites(lattice: Lattice | int, probe: int, *, width: int) -> list[int]:
    """The ``width`` sites nearest to ``probe`` (graph distance, ties to the lower index), sorted.

    ``lattice`` is a :class:`~echo_lab.physics.models.Lattice` or the length of an open chain. On
    an open chain: [p - w//2, p + (w-1)//2] shifted to stay inside [0, n - 1] (module docstring).
    Raises :class:`ConfigError` for a probe outside the lattice or a width outside 1..min(n, 12).

    >>> window_sites(10, 0, width=4), window_sites(10, 5, width=4), window_sites(10, 9, width=3)
    ([0, 1, 2, 3], [3, 4, 5, 6], [7, 8, 9])
    """
    if isinstance(lattice, bool) or not isinstance(lattice, Lattice | int | np.integer):
        raise ConfigError(f"lattice must be a models.Lattice or a chain length, got {lattice!r}")
    if not isinstance(lattice, Lattice):
        lattice = Lattice.chain(int(lattice))
    n = lattice.n
    if isinstance(probe, bool) or not isinstance(probe, int | np.integer) or not 0 <= probe < n:
        raise ConfigError(f"probe site {probe!r} is outside the lattice 0..{n - 1}")
    width = _check_width(width, n)
    order = np.lexsort((np.arange(n), lattice.distances[int(probe)]))
    return sorted(int(s) for s in order[:width])


def window_hamiltonian(model_or_h: ModelOrHamiltonian, sites: Sequence[int]) -> SparsePauliOp:
    """Terms of H supported inside ``sites``, on ``len(sites)`` qubits (qubit k = sorted site k).

    ``model_or_h`` is an echo_lab model or a Hermitian ``SparsePauliOp`` on n qubits. Terms with
    any non-identity factor outside ``sites`` are dropped (open window boundaries); an identity
    term is kept. Cost O(#terms * n); nothing of size 2^n is built. For a ``RandomFieldXXZ``
    chain and contiguous sites this is the open-chain XXZ Hamiltonian of the window with the
    window's fields.
    """
    hamiltonian, _ = resolve_chain(model_or_h, None)
    n = hamiltonian.num_qubits
    chosen = sorted({int(s) for s in sites})
    if not chosen or len(chosen) != len(sites) or chosen[0] < 0 or chosen[-1] >= n:
        raise ConfigError(f"window sites must be distinct sites in 0..{n - 1}, got {list(sites)!r}")
    support = np.asarray(hamiltonian.paulis.x) | np.asarray(hamiltonian.paulis.z)
    outside = np.ones(n, dtype=bool)
    outside[chosen] = False
    keep = ~np.any(support[:, outside], axis=1)
    if not np.any(keep):
        return SparsePauliOp("I" * len(chosen), coeffs=[0.0])
    inside = hamiltonian[np.flatnonzero(keep)]
    x = np.asarray(inside.paulis.x)[:, chosen]
    z = np.asarray(inside.paulis.z)[:, chosen]
    phase = np.asarray(inside.paulis.phase)
    relabelled = PauliList.from_symplectic(z, x, phase)
    return SparsePauliOp(relabelled, coeffs=np.asarray(inside.coeffs)).simplify(atol=0.0, rtol=0.0)


@dataclass(frozen=True, eq=False)
class WindowLBits(LBitSource):
    """l-bits of the window Hamiltonian around ``probe`` (module docstring): an
    :class:`~echo_lab.lbits.source.LBitSource` of the chain (``n`` = chain length, method
    ``"window"``) that holds the l-bit of the probe only (``sites() == (probe,)``).

    Attributes
    ----------
    probe : the probe site p on the chain.
    window : the window's chain sites, sorted; window qubit k is chain site ``window[k]``.
    chain_sites : number of sites n of the chain.
    lattice : the window's :class:`~echo_lab.physics.models.Lattice` (the bonds inside the window,
        relabelled; an open chain of w sites for a chain window).
    system : the :class:`~echo_lab.lbits.LBitSystem` of the window Hamiltonian (w qubits).
    """

    probe: int
    window: tuple[int, ...]
    chain_sites: int
    lattice: Lattice
    system: lbits.LBitSystem

    method = "window"

    @property
    def n(self) -> int:
        """Number of chain sites (the chain, not the window)."""
        return self.chain_sites

    @property
    def width(self) -> int:
        """Number of window sites w."""
        return len(self.window)

    @property
    def local_probe(self) -> int:
        """Window qubit of the probe: ``window.index(probe)``."""
        return self.window.index(self.probe)

    @property
    def assignment_method(self) -> str:
        """The l-bit assignment of the window (``"overlap"`` or ``"range"``)."""
        return self.system.method

    def sites(self) -> tuple[int, ...]:
        """The one chain site whose l-bit the window holds: ``(probe,)``."""
        return (self.probe,)

    def tau(self, a: str, i: int) -> np.ndarray:
        """tau^a of the probe ``i`` on the window qubits, dense ``(2^w, 2^w)``, Qiskit order.

        ``a`` is ``"x"``, ``"y"`` or ``"z"``; ``i`` must be the probe. As an operator on the chain
        it is this block on :attr:`window` (``linalg.embed(tau, window, n)`` for small n). Cached
        by the l-bit system; do not modify the array.
        """
        self.check_site(i)
        return self.system.tau(a, self.local_probe)

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """Echo pulse tau^axis_p of the window, on the chain sites of the window (p: the probe).

        ``radius=None``: the whole window l-bit, a w-qubit block on :attr:`window` (label
        ``"tau^x_p[w=w]"``, kind ``"lbit-window"``). ``radius=r``: the window l-bit truncated to
        the window sites within distance r of p and replaced by its polar factor
        (:func:`echo_lab.dynamics.pulses.truncated_lbit_pulse` on the window; label
        ``"tau^x_p[w=w,r=r]"``, kind ``"lbit-window:r"``), r <= w - 1. Both are Hermitian,
        unitary and involutory; ``angle_error`` rotates by pi (1 + angle_error) instead.
        Cost O(4^w) (plus O(8^k) for the k-site polar factor).
        """
        self.check_site(p)
        if axis not in PULSE_AXES:
            raise ConfigError(f"pulse axis must be one of {PULSE_AXES}, got {axis!r}")
        tau = self.tau(axis, self.probe)
        if radius is None:
            local = lbit_pulse(tau, self.local_probe, axis=axis, angle_error=angle_error)
            label = f"tau^{axis}_{self.probe}[w={self.width}]"
            kind = "lbit-window"
        else:
            local = truncated_lbit_pulse(
                tau,
                self.local_probe,
                radius,
                lattice=self.lattice,
                axis=axis,
                angle_error=angle_error,
            )
            label = f"tau^{axis}_{self.probe}[w={self.width},r={radius}]"
            kind = f"lbit-window:{radius}"
        meta: dict[str, object] = dict(local.meta)
        meta.update({"site": self.probe, "window": list(self.window)})
        return Pulse(
            local.dense_matrix(),
            tuple(self.window[q] for q in local.qubits),
            label=label,
            kind=kind,
            meta=meta,
        )

    def encoding_unitary(self) -> np.ndarray:
        """The window's encoding unitary U = sum_s |E_pi(s)><s| as a dense ``(2^w, 2^w)`` array
        on the window qubits (column s: the eigenvector assigned to configuration s), so that
        tau^a_p = U sigma^a_p U^dag. Built once per call, O(sum_b d_b^2 2^w)."""
        dim = 1 << self.width
        require_memory(
            3 * dense_operator_bytes(self.width),
            what=f"the encoding unitary of a {self.width}-site window",
            suggestion="Use a narrower window.",
        )
        return np.asarray(self.system.from_lbit_basis(np.eye(dim, dtype=complex)))

    def tau_observable(self, a: str, i: int) -> RotatedPauli:
        """tau^a_p as a :class:`~echo_lab.dynamics.readouts.RotatedPauli`: the readout circuit
        U^dag on the window sites (one ``UnitaryGate`` of :meth:`encoding_unitary`), then
        sigma^a_p measured, since U sigma^a_p U^dag = tau^a_p. Any backend reads it; its
        dense block is a ``2^w x 2^w`` matrix."""
        self.check_site(i)
        if a not in ("x", "y", "z"):
            raise ConfigError(f"unknown l-bit operator {a!r}; choose one of ('x', 'y', 'z')")
        readout = QuantumCircuit(self.width, name=f"window_readout_{self.probe}")
        gate = UnitaryGate(self.encoding_unitary().conj().T, label="U^dag", check_input=False)
        readout.append(gate, list(range(self.width)))
        return RotatedPauli(readout, self.window, a.upper(), self.probe)


def window_lbits(
    model_or_h: ModelOrHamiltonian,
    probe: int,
    *,
    width: int,
    method: str = "overlap",
    lattice: Lattice | None = None,
) -> WindowLBits:
    """l-bits of the ``width``-site window around ``probe`` (module docstring).

    ``model_or_h``: an echo_lab model (its lattice is used) or a Hermitian ``SparsePauliOp`` on
    n qubits with an optional ``lattice`` (default an open chain). ``method`` is an l-bit
    assignment method of :func:`echo_lab.lbits.construct`. Raises :class:`ConfigError` for a
    width outside 1..min(n, 12), a probe outside the chain or an unknown method, before any
    diagonalization; the construction checks its memory estimate itself.
    """
    hamiltonian, chain = resolve_chain(model_or_h, lattice)
    if method not in lbits.METHODS:
        raise ConfigError(f"unknown l-bit method {method!r}; choose one of {lbits.METHODS}")
    sites = window_sites(chain, probe, width=width)
    position = {site: k for k, site in enumerate(sites)}
    bonds = [(position[i], position[j]) for i, j in chain.bonds if i in position and j in position]
    local_lattice = (
        Lattice.chain(len(sites))
        if chain.kind == "chain"
        else Lattice.from_edges(len(sites), bonds)
    )
    local_h = window_hamiltonian(hamiltonian, sites)
    system = lbits.construct(local_h, method, lattice=local_lattice)
    return WindowLBits(int(probe), tuple(sites), chain.n, local_lattice, system)


def _vidal_tensors(mps: Any) -> list[np.ndarray]:
    """Site tensors A_k[s, a, b] = Gamma_k^s Lambda_k (Lambda_{n-1} = 1) of an Aer MPS."""
    try:
        gammas, lambdas = mps
        tensors = [np.stack([np.asarray(g[0]), np.asarray(g[1])]) for g in gammas]
    except (TypeError, ValueError, IndexError) as exc:
        raise ConfigError(
            "expected the (gammas, lambdas) pair saved by Aer's save_matrix_product_state"
        ) from exc
    if len(lambdas) != len(tensors) - 1:
        raise ConfigError(
            f"an MPS of {len(tensors)} qubits needs {len(tensors) - 1} Schmidt vectors, "
            f"got {len(lambdas)}"
        )
    for k, schmidt in enumerate(lambdas):
        tensors[k] = tensors[k] * np.asarray(schmidt)[None, None, :]
    return tensors


def mps_bond_dimensions(mps: Any) -> np.ndarray:
    """Bond dimensions of an Aer MPS: ``len(lambdas[k])`` for the n - 1 bonds, int array.

    Bond k sits between qubits k and k + 1; its dimension is the Schmidt rank kept there.
    """
    _vidal_tensors(mps)
    return np.array([len(schmidt) for schmidt in mps[1]], dtype=np.int64)


def mps_window_density_matrix(mps: Any, sites: Sequence[int]) -> np.ndarray:
    """Reduced density matrix of the contiguous ``sites`` of an Aer MPS, ``(2^k, 2^k)``.

    ``sites`` must be consecutive qubits a..b (k = b - a + 1 <= 12); ``sites[0]`` is the least
    significant bit of the result (Qiskit order, as ``qiskit.quantum_info.partial_trace``). The
    environments left of a and right of b are contracted exactly (they need not be in canonical
    form); the result is divided by its trace, so a slightly unnormalized truncated MPS still
    gives a unit-trace rho. Cost O(n chi^3) for the environments and O(2^k chi^3 + 4^k chi^2)
    for the window; memory O(2^k chi^2 + 4^k) complex numbers, checked first.
    """
    tensors = _vidal_tensors(mps)
    n = len(tensors)
    chosen = [int(s) for s in sites]
    if not chosen or chosen != list(range(chosen[0], chosen[0] + len(chosen))):
        raise ConfigError(f"sites must be consecutive qubits a, a+1, ..., b; got {list(sites)}")
    first, last = chosen[0], chosen[-1]
    if first < 0 or last >= n:
        raise ConfigError(f"sites {chosen} are outside the MPS qubits 0..{n - 1}")
    if len(chosen) > MAX_DENSITY_MATRIX_SITES:
        raise ConfigError(
            f"a window of {len(chosen)} sites gives a 4^{len(chosen)} density matrix; use at most "
            f"{MAX_DENSITY_MATRIX_SITES} sites"
        )
    chi = max(t.shape[1] for t in tensors[first : last + 1])
    chi = max(chi, tensors[last].shape[2])
    dim = 2 ** len(chosen)
    require_memory(
        COMPLEX_BYTES * (3 * dim * chi**2 + 2 * dim**2),
        what=f"the density matrix of {len(chosen)} MPS sites at bond dimension {chi}",
        suggestion="Use a smaller window.",
    )
    left = np.ones((1, 1), dtype=complex)
    for tensor in tensors[:first]:
        left = np.einsum("sab,ac,scd->bd", tensor, left, tensor.conj(), optimize=True)
    right = np.ones((1, 1), dtype=complex)
    for tensor in reversed(tensors[last + 1 :]):
        right = np.einsum("sab,bd,scd->ac", tensor, right, tensor.conj(), optimize=True)
    # Ket of the window, indices (left bond, window configuration, right bond); each later site
    # becomes the more significant digit of the configuration.
    ket = np.transpose(tensors[first], (1, 0, 2))
    for tensor in tensors[first + 1 : last + 1]:
        ket = np.einsum("aub,sbc->asuc", ket, tensor, optimize=True)
        ket = ket.reshape(ket.shape[0], -1, ket.shape[-1])
    rho = np.einsum("aub,ac,bd,cvd->uv", ket, left, right, ket.conj(), optimize=True)
    return rho / np.real(np.trace(rho))
