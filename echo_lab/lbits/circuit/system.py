"""Circuit l-bits of one Hamiltonian: :class:`CircuitLBitSystem` and :func:`build`.

The l-bit unitary U is a circuit of local gates on a :class:`~echo_lab.lbits.circuit.layout.Layout`
(docs/pages/conventions.md section 9): U maps |s> to (approximately) the eigenstate assigned to s,
and tau^a_i = U sigma^a_i U^dag is an exact Pauli algebra for any gates, only approximately
conserved.
Everything here is local: tau^a_i lives on the pulse cone of i (at most 2d sites for a depth-d
brickwork), and no object of size 2^n is built unless a method says so (``tau_dense``,
``unitary_matrix``: n <= 14).

Conventions: a local circuit is returned as a :class:`LocalCircuit` (circuit, qubits), where
circuit qubit k is chain site ``qubits[k]``; dense local blocks use the same order (qubits[0] least
significant). The pulse circuit of tau^a_p is U_lc^dag, then sigma^a_p, then U_lc (U_lc: the gates
of p's pulse cone); the readout circuit is U_lc^dag, after which sigma^a_p is measured.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate
from qiskit.quantum_info import SparsePauliOp

from echo_lab.dynamics.pulses import PULSE_AXES, rotate_about
from echo_lab.dynamics.readouts import RotatedPauli
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.cones import ConeEngine, decode_z_string
from echo_lab.lbits.circuit.dense import DenseEngine
from echo_lab.lbits.circuit.gates import FAMILIES
from echo_lab.lbits.circuit.layout import Layout, block_layout, site_cone
from echo_lab.lbits.circuit.localops import extend, schrodinger_step
from echo_lab.lbits.circuit.optimize import (
    FitResult,
    fit_gates,
    frobenius_loss,
    initial_gates,
)
from echo_lab.lbits.circuit.terms import conserves_sz, local_blocks
from echo_lab.lbits.source import LBitSource
from echo_lab.physics import pauli
from echo_lab.physics.linalg import embed
from echo_lab.physics.models import Lattice
from echo_lab.resources import dense_operator_bytes, require_memory

__all__ = [
    "COSTS",
    "ENGINES",
    "MAX_ECHO_QUBITS",
    "CircuitLBitSystem",
    "LocalCircuit",
    "build",
]

#: Cost engines: ``"dense"`` (whole chain, n <= 14), ``"cones"`` (light cones, any n), ``"auto"``.
ENGINES = ("auto", "dense", "cones")

#: Costs: ``"frobenius"`` (epsilon, any n) and ``"echo"`` (epsilon first, then the echo-weighted
#: cost of :meth:`~echo_lab.lbits.circuit.dense.DenseEngine.echo_loss`, n <= ``MAX_ECHO_QUBITS``).
COSTS = ("frobenius", "echo")

#: Largest chain of the echo-weighted cost (it needs U^dag H U sector by sector).
MAX_ECHO_QUBITS = 12

#: ``engine="auto"`` uses the dense engine up to this many sites (it shares the work of all
#: cones; the light-cone engine, O(n) per evaluation, wins beyond: a timing of the engines when
#: they were written, not a recorded benchmark).
AUTO_DENSE_QUBITS = 10

#: Largest n for the dense 2^n x 2^n methods.
MAX_DENSE_METHOD_QUBITS = 14

#: Pauli coefficients of tau below this are dropped from :meth:`CircuitLBitSystem.tau` (rounding).
TAU_ATOL = 1e-12

_PAULI = {
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "z": np.array([[1, 0], [0, -1]], dtype=complex),
}


class LocalCircuit(NamedTuple):
    """A circuit on ``len(qubits)`` qubits; circuit qubit k is chain site ``qubits[k]``."""

    circuit: QuantumCircuit
    qubits: tuple[int, ...]


@dataclass(eq=False)
class CircuitLBitSystem(LBitSource):
    """Fitted circuit l-bits (module docstring), an :class:`~echo_lab.lbits.source.LBitSource` of
    every site.

    Attributes
    ----------
    hamiltonian : the Hermitian ``SparsePauliOp`` (site i = qubit i of an open chain).
    layout : where the gates sit; ``gates[j]`` is the unitary of ``layout.slots[j]``.
    family : ``"sz"`` or ``"general"`` (:mod:`~echo_lab.lbits.circuit.gates`).
    epsilon, epsilon_start : epsilon of the fitted gates and of the start gates.
    fits : the fits that produced the gates, in order (:class:`FitResult`: objective, loss,
        iterations, seconds).
    info : build details (engine, cost, build seconds).
    """

    hamiltonian: SparsePauliOp
    layout: Layout
    family: str
    gates: list[np.ndarray]
    epsilon: float
    epsilon_start: float
    fits: list[FitResult] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    method = "circuit"

    @property
    def n(self) -> int:
        """Number of sites (= qubits = l-bits)."""
        return self.layout.n

    @property
    def offdiagonal_fraction(self) -> float:
        """epsilon = ||offdiag(U^dag H U)||_F^2 / ||H - Tr(H)/2^n||_F^2 (0 for exact l-bits)."""
        return self.epsilon

    def _check_site(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < self.n:
            raise ConfigError(f"site {i!r} is outside 0..{self.n - 1}")
        return int(i)

    @staticmethod
    def _check_axis(a: str, allowed: Sequence[str] = ("x", "y", "z")) -> str:
        if a not in allowed:
            raise ConfigError(f"unknown l-bit operator {a!r}; choose one of {tuple(allowed)}")
        return a

    def light_cone(self, i: int) -> tuple[list[int], tuple[int, ...]]:
        """Gate indices of the pulse cone of site i (application order) and its sites."""
        gates, (lo, hi) = site_cone(self.layout, self._check_site(i))
        return gates, tuple(range(lo, hi + 1))

    def local_tau(self, a: str, i: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """tau^a_i as a dense block on its light cone: ``(2^c, 2^c)`` array and the c sites.

        Built gate by gate from sigma^a_i (O(4^c) per gate); c <= 2d for a depth-d brickwork.
        """
        a = self._check_axis(a)
        gates, sites = self.light_cone(i)
        require_memory(
            4 * dense_operator_bytes(len(sites)),
            what=f"tau^{a}_{i} on its light cone of {len(sites)} sites",
            suggestion="Use fewer layers or smaller blocks.",
        )
        op, lo, hi = _PAULI[a], int(i), int(i)
        for k in gates:
            slot = self.layout.slots[k]
            new_lo, new_hi = min(lo, slot.lo), max(hi, slot.hi)
            op = extend(op, lo, hi, new_lo, new_hi)
            lo, hi = new_lo, new_hi
            op = schrodinger_step(op, self.gates[k], slot.lo - lo)
        return op, sites

    def tau(self, a: str, i: int) -> SparsePauliOp:
        """tau^a_i = U sigma^a_i U^dag as an n-qubit ``SparsePauliOp`` supported on i's light cone.

        Pauli coefficients below ``TAU_ATOL`` (rounding) are dropped. Cost O(c 4^c).
        """
        op, sites = self.local_tau(a, i)
        local = pauli.to_sparse_pauli_op(pauli.decompose(op), atol=TAU_ATOL)
        return local.apply_layout(list(sites), self.n)

    def tau_dense(self, a: str, i: int) -> np.ndarray:
        """tau^a_i as a dense ``(2^n, 2^n)`` matrix (n <= 14 only)."""
        self._check_dense("tau_dense")
        op, sites = self.local_tau(a, i)
        return embed(op, sites, self.n)

    def unitary_matrix(self) -> np.ndarray:
        """U as a dense ``(2^n, 2^n)`` matrix (n <= 14 only), column s = U|s>."""
        self._check_dense("unitary_matrix")
        unitary = np.eye(1 << self.n, dtype=complex)
        for slot, gate in zip(self.layout.slots, self.gates, strict=True):
            unitary = embed(gate, slot.sites, self.n) @ unitary
        return unitary

    def _check_dense(self, what: str) -> None:
        if self.n > MAX_DENSE_METHOD_QUBITS:
            raise ConfigError(
                f"{what} builds a 2^n x 2^n matrix and is limited to n <= "
                f"{MAX_DENSE_METHOD_QUBITS} (got n = {self.n}); use the light-cone methods"
            )
        require_memory(
            3 * dense_operator_bytes(self.n),
            what=f"a dense {self.n}-qubit operator",
            suggestion="Use the light-cone methods (tau, local_tau).",
        )

    def mean_range(self, a: str = "z") -> np.ndarray:
        """Mean range sum_P |c_P|^2 range(P) of tau^a_i for every site; shape ``(n,)``."""
        out = np.empty(self.n)
        for i in range(self.n):
            op, sites = self.local_tau(a, i)
            out[i] = pauli.mean_range(pauli.support_weights(op), Lattice.chain(len(sites)))
        return out

    def effective_hamiltonian(
        self, *, max_body: int | None = None, max_range: int | None = None
    ) -> dict[tuple[int, ...], float]:
        """Z-string part of U^dag H U: ``{sorted sites S: c_S}`` for |S| >= 1.

        c_S = Tr(Z_S U^dag H U) / 2^n, computed on the light cones of H's terms (every S with a
        nonzero coefficient lies inside one cone); only |S| <= ``max_body`` and range(S) <=
        ``max_range`` are kept when given. h_i = c_(i,), J_ij = c_(i, j).
        """
        for name, limit in (("max_body", max_body), ("max_range", max_range)):
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise ConfigError(f"{name} must be None or an integer >= 0, got {limit!r}")
        body = self.n if max_body is None else max_body
        reach = self.n if max_range is None else max_range
        return {
            sites: value
            for sites, value in _z_coefficients(self).items()
            if len(sites) <= body and sites[-1] - sites[0] <= reach
        }

    def unitary_circuit(self) -> QuantumCircuit:
        """U as an n-qubit ``QuantumCircuit``: one ``UnitaryGate`` per slot, layer 0 first."""
        qc = QuantumCircuit(self.n, name="U")
        for slot, gate in zip(self.layout.slots, self.gates, strict=True):
            qc.append(_gate(gate, f"L{slot.layer}"), list(slot.sites))
        return qc

    def readout_circuit(self, p: int) -> LocalCircuit:
        """U_lc^dag on p's light cone: apply it, then measure sigma^a_p to read tau^a_p."""
        gates, sites = self.light_cone(p)
        qc = QuantumCircuit(len(sites), name=f"readout_{p}")
        for k in reversed(gates):
            slot = self.layout.slots[k]
            qubits = [s - sites[0] for s in slot.sites]
            qc.append(_gate(self.gates[k].conj().T, f"L{slot.layer}^dag"), qubits)
        return LocalCircuit(qc, sites)

    def pulse_circuit(self, p: int, axis: str = "x", *, angle_error: float = 0.0) -> LocalCircuit:
        """tau^axis_p as U_lc sigma^axis_p U_lc^dag on p's light cone.

        With ``angle_error`` eps the middle gate is a rotation by pi (1 + eps) about the axis
        (``rx`` / ``ry``), i.e. the circuit of ``rotate_about(tau, angle_error=eps)``.
        """
        axis = self._check_axis(axis, PULSE_AXES)
        readout, sites = self.readout_circuit(p)
        qc = readout.copy(name=f"tau^{axis}_{p}")
        middle = int(p) - sites[0]
        if angle_error == 0.0:
            getattr(qc, axis)(middle)
        else:
            getattr(qc, f"r{axis}")(np.pi * (1.0 + float(angle_error)), middle)
        gates, _ = self.light_cone(p)
        for k in gates:
            slot = self.layout.slots[k]
            qc.append(_gate(self.gates[k], f"L{slot.layer}"), [s - sites[0] for s in slot.sites])
        return LocalCircuit(qc, sites)

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """The circuit l-bit flip tau^axis_p as a :class:`~echo_lab.dynamics.schedule.Pulse`.

        Dense matrix on the light-cone qubits (``rotate_about(tau, angle_error)``), with the
        pulse circuit attached (circuit backends play its gates). Label ``"tau^x_p[circuit]"``,
        kind ``"circuit"``. Circuit l-bits already live on a light cone and are not truncated:
        a ``radius`` raises :class:`ConfigError`.
        """
        if radius is not None:
            raise ConfigError(
                f"circuit l-bits are not truncated (they live on the light cone of p): got "
                f"radius {radius!r}; leave it out"
            )
        axis = self._check_axis(axis, PULSE_AXES)
        tau, sites = self.local_tau(axis, p)
        circuit, _ = self.pulse_circuit(p, axis, angle_error=angle_error)
        return Pulse(
            rotate_about(tau, angle_error=angle_error),
            sites,
            label=f"tau^{axis}_{p}[circuit]",
            kind="circuit",
            meta={"site": int(p), "axis": axis, "angle_error": float(angle_error)},
            circuit=circuit,
        )

    def encoding_pulses(self) -> list[Pulse]:
        """U as one pulse per gate (layer 0 first), kind ``"circuit-encoding"``.

        Put in front of a pulse sequence, they start any backend in U|psi0>, e.g. the l-bit
        product state U|b, +> of the echo figure of merit (docs/pages/conventions.md section 9).
        """
        return [
            Pulse(
                gate,
                slot.sites,
                label=f"U[L{slot.layer}:{slot.lo}-{slot.hi}]",
                kind="circuit-encoding",
                meta={"layer": slot.layer},
            )
            for slot, gate in zip(self.layout.slots, self.gates, strict=True)
        ]

    def tau_observable(self, a: str, i: int) -> RotatedPauli:
        """tau^a_i as a :class:`~echo_lab.dynamics.readouts.RotatedPauli`: readout circuit, then
        sigma^a_i."""
        a = self._check_axis(a)
        readout, sites = self.readout_circuit(i)
        return RotatedPauli(readout, sites, a.upper(), int(i))


def _gate(matrix: np.ndarray, label: str) -> UnitaryGate:
    return UnitaryGate(matrix, label=label, check_input=False)


def _z_coefficients(system: CircuitLBitSystem) -> dict[tuple[int, ...], float]:
    """All Z-string coefficients c_S (S != {}) of U^dag H U.

    Up to ``AUTO_DENSE_QUBITS`` sites from the whole diagonal (Walsh transform of e(s)), beyond
    from the light cones (:meth:`~echo_lab.lbits.circuit.cones.ConeEngine.z_coefficients`).
    """
    n = system.n
    if n > AUTO_DENSE_QUBITS:
        engine = ConeEngine(system.hamiltonian, system.layout)
        return {decode_z_string(k): v for k, v in engine.z_coefficients(system.gates).items()}
    dense = DenseEngine(system.hamiltonian, system.layout, conserving=system.family == "sz")
    coefficients = pauli.walsh_hadamard(dense.diagonal(system.gates)) / (1 << n)
    return {
        tuple(int(b) for b in range(n) if mask >> b & 1): float(coefficients[mask])
        for mask in range(1, 1 << n)
    }


def _make_engine(
    hamiltonian: SparsePauliOp, layout: Layout, family: str, engine: str
) -> tuple[str, DenseEngine | ConeEngine]:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if engine == "auto":
        engine = "dense" if layout.n <= AUTO_DENSE_QUBITS else "cones"
    if engine == "dense":
        return engine, DenseEngine(hamiltonian, layout, conserving=family == "sz")
    return engine, ConeEngine(hamiltonian, layout)


def _check_options(
    hamiltonian: SparsePauliOp, gates: str | None, cost: str, max_iterations: int, tolerance: float
) -> str:
    """Validate the options of :func:`build`; return the gate family."""
    if not isinstance(hamiltonian, SparsePauliOp):
        raise ConfigError(
            f"circuit l-bits need a qiskit SparsePauliOp, got {type(hamiltonian).__name__}"
        )
    conserving = conserves_sz(local_blocks(hamiltonian))
    family = gates if gates is not None else ("sz" if conserving else "general")
    if family not in FAMILIES:
        raise ConfigError(f"unknown gate family {family!r}; choose one of {FAMILIES}")
    if family == "sz" and not conserving:
        raise ConfigError(
            "gates='sz' conserve total sigma^z, which this Hamiltonian does not: use "
            "gates='general'"
        )
    if cost not in COSTS:
        raise ConfigError(f"unknown cost {cost!r}; choose one of {COSTS}")
    if cost == "echo" and hamiltonian.num_qubits > MAX_ECHO_QUBITS:
        raise ConfigError(
            f"cost='echo' needs U^dag H U of the whole chain and is limited to n <= "
            f"{MAX_ECHO_QUBITS} (got n = {hamiltonian.num_qubits}); use cost='frobenius'"
        )
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int):
        raise ConfigError(f"max_iterations must be an integer >= 0, got {max_iterations!r}")
    if max_iterations < 0:
        raise ConfigError(f"max_iterations must be an integer >= 0, got {max_iterations!r}")
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise ConfigError(f"tolerance must be a positive number, got {tolerance!r}")
    return family


def build(
    hamiltonian: SparsePauliOp,
    *,
    block: int = 2,
    layers: int = 4,
    gates: str | None = None,
    layout: Layout | None = None,
    cost: str = "frobenius",
    engine: str = "auto",
    max_iterations: int = 500,
    tolerance: float = 1e-12,
) -> CircuitLBitSystem:
    """Fit circuit l-bits of ``hamiltonian`` (an open chain, terms within 6 sites).

    Parameters
    ----------
    block, layers : :func:`~echo_lab.lbits.circuit.layout.block_layout` (block=2: brickwork of
        depth ``layers``; block=l, layers=2: two layers of l-site blocks). Ignored when a
        ``layout`` is given.
    gates : gate family, ``"sz"`` (S^z-conserving; the default when H conserves total sigma^z)
        or ``"general"``.
    cost : ``"frobenius"``: minimize epsilon. ``"echo"``: minimize epsilon, then refine with the
        echo-weighted cost (:meth:`~echo_lab.lbits.circuit.dense.DenseEngine.echo_loss`;
        n <= 12), which weighs near-resonant pairs by what an echo loses to them.
    engine : ``"dense"`` (whole chain, n <= 14), ``"cones"`` (light cones, O(n)) or ``"auto"``
        (dense up to 10 sites), for epsilon.
    max_iterations, tolerance : L-BFGS-B limits of each fit
        (:func:`~echo_lab.lbits.circuit.optimize.fit_gates`).

    Cost: one loss evaluation per iteration; the light-cone engine is O(n) per evaluation with
    a constant of ~4^(2d+2) for a depth-d brickwork. Raises :class:`ConfigError` for bad input
    (checked before any fitting).
    """
    family = _check_options(hamiltonian, gates, cost, max_iterations, tolerance)
    if layout is None:
        layout = block_layout(hamiltonian.num_qubits, block=block, layers=layers)
    elif not isinstance(layout, Layout) or layout.n != hamiltonian.num_qubits:
        raise ConfigError(f"layout must be a Layout of {hamiltonian.num_qubits} sites")
    began = time.perf_counter()
    engine, frobenius_engine = _make_engine(hamiltonian, layout, family, engine)
    epsilon = frobenius_loss(frobenius_engine)
    start = initial_gates(hamiltonian, layout, family)
    limits: dict[str, Any] = {"max_iterations": max_iterations, "tolerance": tolerance}
    fits = [fit_gates(epsilon, layout, family, start, **limits)]
    if cost == "echo":
        dense = (
            frobenius_engine
            if isinstance(frobenius_engine, DenseEngine)
            else DenseEngine(hamiltonian, layout, conserving=family == "sz")
        )
        fits.append(
            fit_gates(dense.echo_loss, layout, family, fits[-1].gates, objective="echo", **limits)
        )
    final = fits[-1].gates
    info = {"engine": engine, "cost": cost, "build_seconds": time.perf_counter() - began}
    return CircuitLBitSystem(
        hamiltonian,
        layout,
        family,
        final,
        epsilon(final, gradient=False)[0],
        fits[0].loss_start,
        fits,
        info,
    )
