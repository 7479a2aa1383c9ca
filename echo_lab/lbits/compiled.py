"""Compiled l-bits: the window l-bit of one probe carried by a short circuit (device pulses).

A device can play an l-bit pulse only as a circuit of few two-qubit gates. The support ceiling
(:func:`echo_lab.lbits.fidelity.support_ceiling`) bounds what any operator on w sites can capture
of the exact l-bit, and at W = 8 it takes w >= 5 to reach D = 0.5 in median. This module builds
such a pulse from the chain's Hamiltonian alone (no exact diagonalization of the chain), in three
steps for the probe p:

1. **Targets.** The window l-bit of the ``window`` sites around p
   (:func:`echo_lab.lbits.window.window_lbits`); the ``support`` contiguous window sites around
   p that hold the most of its tau^z_p's Pauli weight; for each fitted axis a (``axes``, by
   default z and x) the window's tau^a_p truncated to those sites (partial trace,
   :func:`echo_lab.dynamics.pulses.truncate_to_window`) and the nearest involution B_a of that
   truncation (:func:`echo_lab.dynamics.pulses.polar_factor`).
2. **Circuit.** A brickwork V of ``layers`` layers of S^z-conserving two-qubit gates (the
   ``"sz"`` family of the circuit l-bits, 6 real parameters per gate;
   :func:`echo_lab.lbits.circuit.layout.block_layout` on the support) fitted so that
   V sigma^a_p V^dag is as close as possible to B_a: the loss is

       L(V) = 1 - (1 / |A|) sum_{a in A} Tr(B_a V sigma^a_p V^dag) / 2^s

   (s = ``support``, A the fitted axes; 0 when every V sigma^a_p V^dag = B_a), minimized by
   L-BFGS with its exact gradient (reverse sweep over the gates, then the Daleckii-Krein
   pull-back of :mod:`echo_lab.lbits.circuit.gates`) from ``starts`` random starts near the
   identity; the best fit is kept. D is linear in tau^z, so B_z alone would decide it; B_x fixes
   the phases V gives tau^x, which V Z_p V^dag does not see (gate phases that commute with Z_p).
   Fitted to tau^z alone, tau^x = V X_p V^dag keeps arbitrary conditional phases: on one
   N = 12, W = 8 chain its F_x was 0.09 and the echo read out in it kept -0.85 of the
   coherence (exact l-bit: 0.87); fitting both gave F_x 0.86 and 0.81, for D 0.817 instead of
   0.831.
3. **l-bit.** tau^a_p = V sigma^a_p V^dag on the support. The pulse is the circuit V^dag, then
   X_p (or Y_p), then V; the readout of tau^a_p is V^dag, then sigma^a_p measured. Pulse and
   readout are therefore the same l-bit on every backend, the MPS ones included (all gates act
   on two neighbouring qubits), and on devices (``"compiled:s"`` pulses of the
   ``hardware_echo`` study).

:class:`CompiledLBits` is an :class:`~echo_lab.lbits.source.LBitSource` (method
``"compiled"``) that holds the probe's l-bit only, like the window l-bits it comes from.

Costs: the window's exact diagonalization, O(8^window); the fit, per evaluation about 4 dense
2^s x 2^s gate conjugations per gate and axis (s = 6, 4 layers: 10 gates, milliseconds), a few
hundred evaluations per start: 3-20 s per probe on one core at s = 6, 4-6 layers. CX count of
the pulse: :meth:`CompiledLBits.cx_count` (Qiskit ``transpile`` at level 3, as
:func:`echo_lab.lbits.circuit.report.count_cx`).

Examples
--------
>>> from echo_lab.physics import models
>>> model = models.RandomFieldXXZ(n=10, W=8.0, seed=1)
>>> compiled = compiled_lbits(model, 5, window=8, support=4, layers=2, starts=1)
>>> compiled.support_sites, compiled.method
((3, 4, 5, 6), 'compiled')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate

from echo_lab.dynamics.pulses import (
    PULSE_AXES,
    ZERO_EIGENVALUE_TOLERANCE,
    polar_factor,
    rotate_about,
    truncate_to_window,
)
from echo_lab.dynamics.readouts import RotatedPauli
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.lbits.circuit.gates import exponentiate, parametrization
from echo_lab.lbits.circuit.layout import Layout, Slot, block_layout
from echo_lab.lbits.circuit.optimize import FitResult, fit_gates
from echo_lab.lbits.source import LBitSource
from echo_lab.lbits.window import ModelOrHamiltonian, resolve_chain, window_lbits
from echo_lab.physics.linalg import PAULI_MATRICES, apply_local, embed
from echo_lab.physics.models import Lattice

__all__ = [
    "DEFAULT_AXES",
    "DEFAULT_LAYERS",
    "DEFAULT_SUPPORT",
    "DEFAULT_WINDOW",
    "CompiledLBits",
    "PulseTargetLoss",
    "best_support",
    "compiled_lbits",
]

#: Default window of the target l-bit (sites around the probe; capped at the chain length).
DEFAULT_WINDOW = 10
#: Default number of sites of the circuit (the support of the pulse).
DEFAULT_SUPPORT = 6
#: Default number of brickwork layers of V.
DEFAULT_LAYERS = 4
#: Default l-bit operators fitted: tau^z (what D measures) and tau^x (the pulse itself).
DEFAULT_AXES = ("z", "x")
#: Largest support: the fit keeps dense 2^s x 2^s operators.
MAX_SUPPORT = 10

#: The l-bit operators a compiled l-bit has (the Pauli axes of the probe).
_AXES = ("x", "y", "z")

#: Scale of the random start generators (gates start within about this of the identity).
_START_SCALE = 0.05


def _conjugate(gate: np.ndarray, slot: Slot, operator: np.ndarray, n: int) -> np.ndarray:
    """g O g^dag with g on ``slot`` of an n-qubit register."""
    left = apply_local(gate, slot.sites, operator, n)
    return apply_local(gate, slot.sites, left.conj().T, n).conj().T


def _reduce(operator: np.ndarray, slot: Slot, n: int) -> np.ndarray:
    """Partial trace of an n-qubit operator over every qubit outside the contiguous ``slot``."""
    lo, width = slot.lo, slot.width
    high = 1 << (n - lo - width)
    shaped = operator.reshape(high, 1 << width, 1 << lo, high, 1 << width, 1 << lo)
    return np.einsum("abcadc->bd", shaped)


class PulseTargetLoss:
    """L(V) = 1 - (1 / |A|) sum_{a in A} Tr(B_a V sigma^a_q V^dag) / 2^s and its gate gradients,
    for the fit of :func:`~echo_lab.lbits.circuit.optimize.fit_gates` (module docstring).

    ``targets`` maps each fitted axis a in A (``"x"``, ``"y"``, ``"z"``) to a Hermitian operator
    B_a on the s qubits of ``layout``, scaled here to Tr(B_a^2) / 2^s = 1 (an involution already
    is), so that 1 - L is the mean cosine between B_a and V sigma^a_q V^dag; ``local_probe`` is
    the qubit q. V = g_m ... g_1 with the gates in slot order (layer 0 first). The gradient
    follows from dTr(B V P V^dag) = 2 Re Tr(B dV P V^dag): for gate j, with C_j the gates before
    it and A_j those after it, G_j = -(2 / (|A| 2^s)) sum_a Tr_rest(C_j P_a C_j^dag g_j^dag
    A_j^dag B_a A_j), so that dL = sum_j Re Tr(G_j dg_j). Cost: about four gate conjugations of
    dense 2^s x 2^s matrices per gate and axis.
    """

    def __init__(self, targets: Mapping[str, np.ndarray], layout: Layout, local_probe: int) -> None:
        dim = 1 << layout.n
        if not 0 <= local_probe < layout.n:
            raise ConfigError(f"probe qubit {local_probe} is outside 0..{layout.n - 1}")
        if not targets or any(a not in _AXES for a in targets):
            raise ConfigError(
                f"targets must map some of the axes ('x', 'y', 'z') to operators, got "
                f"{sorted(targets)}"
            )
        self.layout = layout
        self.local_probe = int(local_probe)
        self.targets: dict[str, np.ndarray] = {}
        self.paulis: dict[str, np.ndarray] = {}
        for a, target in targets.items():
            matrix = np.asarray(target, dtype=complex)
            if matrix.shape != (dim, dim):
                raise ConfigError(
                    f"the {a} target of a {layout.n}-qubit layout must be {dim} x {dim}, got "
                    f"{matrix.shape}"
                )
            matrix = 0.5 * (matrix + matrix.conj().T)
            norm = np.sqrt(float(np.vdot(matrix, matrix).real) / dim)
            if norm == 0.0:
                raise ConfigError(f"the {a} target operator is zero: there is nothing to fit")
            self.targets[a] = matrix / norm
            self.paulis[a] = embed(PAULI_MATRICES[a.upper()], [local_probe], layout.n)

    def rotated(self, gates: Sequence[np.ndarray], a: str = "z") -> np.ndarray:
        """V sigma^a_q V^dag for ``gates`` (one per slot), any axis a."""
        current = embed(PAULI_MATRICES[a.upper()], [self.local_probe], self.layout.n)
        for slot, gate in zip(self.layout.slots, gates, strict=True):
            current = _conjugate(gate, slot, current, self.layout.n)
        return current

    def overlaps(self, gates: Sequence[np.ndarray]) -> dict[str, float]:
        """Tr(B_a V sigma^a_q V^dag) / 2^s for every fitted axis a."""
        dim = 1 << self.layout.n
        return {
            a: float(np.vdot(target, self.rotated(gates, a)).real) / dim
            for a, target in self.targets.items()
        }

    def __call__(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        n, dim = self.layout.n, 1 << self.layout.n
        slots = self.layout.slots
        scale = 1.0 / len(self.targets)
        value = 1.0
        grads = [np.zeros((1 << slot.width,) * 2, dtype=complex) for slot in slots]
        for a, target in self.targets.items():
            before = []
            current = self.paulis[a]
            for slot, gate in zip(slots, gates, strict=True):
                before.append(current)
                current = _conjugate(gate, slot, current, n)
            value -= scale * float(np.vdot(target, current).real) / dim
            if not gradient:
                continue
            after = target
            for j in range(len(slots) - 1, -1, -1):
                slot = slots[j]
                # C P C^dag g^dag (A^dag B A): g^dag acts on the columns of C P C^dag.
                product = apply_local(gates[j], slot.sites, before[j].conj().T, n).conj().T @ after
                grads[j] += (-2.0 * scale / dim) * _reduce(product, slot, n)
                after = _conjugate(np.asarray(gates[j]).conj().T, slot, after, n)
        return value, (grads if gradient else None)


def best_support(
    tau: np.ndarray, window: Sequence[int], probe: int, support: int
) -> tuple[tuple[int, ...], np.ndarray]:
    """The ``support`` contiguous sites of ``window`` (sorted chain sites, ``tau`` a dense
    operator on them) that contain ``probe`` and hold the largest weight
    ||Tr_rest(tau)||^2 / 2^s of ``tau`` (the first such run on a tie), and the truncation of
    ``tau`` to them (:func:`~echo_lab.dynamics.pulses.truncate_to_window`)."""
    sites = list(window)
    local = sites.index(probe)
    best: tuple[float, tuple[int, ...], np.ndarray] | None = None
    for start in range(max(0, local - support + 1), min(local, len(sites) - support) + 1):
        chosen = sites[start : start + support]
        if chosen != list(range(chosen[0], chosen[0] + support)):
            continue
        part = truncate_to_window(tau, list(range(start, start + support)))
        weight = float(np.vdot(part, part).real) / (1 << support)
        if best is None or weight > best[0]:
            best = (weight, tuple(chosen), part)
    if best is None:
        raise ConfigError(
            f"the window {tuple(sites)} holds no {support} contiguous sites around {probe}"
        )
    return best[1], best[2]


@dataclass(frozen=True, eq=False)
class CompiledLBits(LBitSource):
    """The probe's l-bit as V sigma^a_p V^dag, V a fitted brickwork (module docstring): an
    :class:`~echo_lab.lbits.source.LBitSource` of the chain (method ``"compiled"``) that holds
    the probe's l-bit only.

    Attributes
    ----------
    probe : the probe site p on the chain.
    chain_sites : number of sites n of the chain.
    support_sites : the chain sites of the circuit, sorted; qubit k of ``layout`` is
        ``support_sites[k]``.
    layout : the brickwork of V on the support (:class:`~echo_lab.lbits.circuit.layout.Layout`).
    gates : the fitted gates, one per slot of ``layout`` (layer 0 first).
    window : the chain sites of the window whose l-bit is the target.
    targets : for every fitted axis a, B_a, the nearest involution of the window's tau^a_p
        truncated to the support, dense ``(2^s, 2^s)`` on the support (what V sigma^a_p V^dag
        is fitted to).
    target_weight : ||Tr_rest(tau^z_p)||^2 / 2^s of the window's l-bit on the support.
    overlaps : Tr(B_a V sigma^a_p V^dag) / 2^s for every fitted axis a, how well V carries
        each target (1: exactly).
    fit : the :class:`~echo_lab.lbits.circuit.optimize.FitResult` of the best start.
    """

    probe: int
    chain_sites: int
    support_sites: tuple[int, ...]
    layout: Layout
    gates: tuple[np.ndarray, ...]
    window: tuple[int, ...]
    targets: Mapping[str, np.ndarray]
    target_weight: float
    overlaps: Mapping[str, float]
    fit: FitResult

    method = "compiled"

    @property
    def n(self) -> int:
        """Number of chain sites (the chain, not the support)."""
        return self.chain_sites

    @property
    def width(self) -> int:
        """Number of support sites s."""
        return len(self.support_sites)

    @property
    def overlap(self) -> float:
        """The mean of :attr:`overlaps` over the fitted axes (1 - the fit's final loss)."""
        return float(np.mean(list(self.overlaps.values())))

    @property
    def local_probe(self) -> int:
        """Support qubit of the probe."""
        return self.support_sites.index(self.probe)

    def sites(self) -> tuple[int, ...]:
        """The one chain site whose l-bit this source holds: ``(probe,)``."""
        return (self.probe,)

    def unitary(self) -> np.ndarray:
        """V as a dense ``(2^s, 2^s)`` array on the support (Qiskit order)."""
        current = np.eye(1 << self.width, dtype=complex)
        for slot, gate in zip(self.layout.slots, self.gates, strict=True):
            current = apply_local(gate, slot.sites, current, self.width)
        return current

    def local_tau(self, a: str, i: int) -> tuple[np.ndarray, tuple[int, ...]]:
        """tau^a_i = V sigma^a_i V^dag as a dense block and the support's chain sites."""
        self.check_site(i)
        if a not in _AXES:
            raise ConfigError(f"unknown l-bit operator {a!r}; choose one of ('x', 'y', 'z')")
        v = self.unitary()
        pauli = apply_local(PAULI_MATRICES[a.upper()], (self.local_probe,), v.conj().T, self.width)
        return v @ pauli, self.support_sites

    def tau(self, a: str, i: int) -> np.ndarray:
        """tau^a_i on the support qubits, dense ``(2^s, 2^s)`` (:meth:`local_tau`)."""
        return self.local_tau(a, i)[0]

    def readout_circuit(self) -> QuantumCircuit:
        """V^dag on the support: the gates in reverse order, each conjugated."""
        circuit = QuantumCircuit(self.width, name=f"compiled_readout_{self.probe}")
        for slot, gate in reversed(list(zip(self.layout.slots, self.gates, strict=True))):
            circuit.append(
                UnitaryGate(gate.conj().T, label=f"V{slot.layer}^dag", check_input=False),
                list(slot.sites),
            )
        return circuit

    def pulse_circuit(self, axis: str = "x", *, angle_error: float = 0.0) -> QuantumCircuit:
        """V^dag, then X_p (``axis`` "x") or Y_p, then V: the pulse tau^axis_p as a circuit on
        the support; with ``angle_error`` eps the middle gate is a rotation by pi (1 + eps)."""
        if axis not in PULSE_AXES:
            raise ConfigError(f"pulse axis must be one of {PULSE_AXES}, got {axis!r}")
        circuit = self.readout_circuit().copy(name=f"tau^{axis}_{self.probe}[compiled]")
        if angle_error == 0.0:
            getattr(circuit, axis)(self.local_probe)
        else:
            getattr(circuit, f"r{axis}")(np.pi * (1.0 + float(angle_error)), self.local_probe)
        for slot, gate in zip(self.layout.slots, self.gates, strict=True):
            circuit.append(
                UnitaryGate(gate, label=f"V{slot.layer}", check_input=False), list(slot.sites)
            )
        return circuit

    def cx_count(self, axis: str = "x") -> int:
        """CX gates of :meth:`pulse_circuit` after Qiskit's ``transpile`` (level 3, all-to-all;
        :func:`echo_lab.lbits.circuit.report.count_cx`)."""
        from echo_lab.lbits.circuit.report import count_cx

        return count_cx(self.pulse_circuit(axis))

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """The compiled l-bit flip tau^axis_p as a :class:`~echo_lab.dynamics.schedule.Pulse`
        on the support: dense matrix ``rotate_about(tau, angle_error)`` with
        :meth:`pulse_circuit` attached (circuit backends play its gates). Label
        ``"tau^x_p[compiled s=6,d=4]"``, kind ``"compiled"``. Compiled l-bits already live on
        their support: a ``radius`` raises :class:`ConfigError`."""
        if radius is not None:
            raise ConfigError(
                f"compiled l-bits are not truncated (they live on their {self.width}-site "
                f"support): got radius {radius!r}; leave it out"
            )
        self.check_site(p)
        if axis not in PULSE_AXES:
            raise ConfigError(f"pulse axis must be one of {PULSE_AXES}, got {axis!r}")
        return Pulse(
            rotate_about(self.tau(axis, p), angle_error=angle_error),
            self.support_sites,
            label=f"tau^{axis}_{p}[compiled s={self.width},d={self.layout.depth}]",
            kind="compiled",
            meta={
                "site": int(p),
                "axis": axis,
                "angle_error": float(angle_error),
                "support": list(self.support_sites),
                "window": list(self.window),
                "overlap": self.overlap,
            },
            circuit=self.pulse_circuit(axis, angle_error=angle_error),
        )

    def tau_observable(self, a: str, i: int) -> RotatedPauli:
        """tau^a_p as a :class:`~echo_lab.dynamics.readouts.RotatedPauli`: V^dag on the
        support, then sigma^a_p measured."""
        self.check_site(i)
        if a not in _AXES:
            raise ConfigError(f"unknown l-bit operator {a!r}; choose one of ('x', 'y', 'z')")
        return RotatedPauli(self.readout_circuit(), self.support_sites, a.upper(), self.probe)


def _check_count(name: str, value: int, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be at most {high}, got {value}")
    return int(value)


def compiled_lbits(
    model_or_h: ModelOrHamiltonian,
    probe: int,
    *,
    window: int = DEFAULT_WINDOW,
    support: int = DEFAULT_SUPPORT,
    layers: int = DEFAULT_LAYERS,
    starts: int = 2,
    seed: int = 0,
    method: str = "overlap",
    max_iterations: int = 500,
    axes: Sequence[str] = DEFAULT_AXES,
    lattice: Lattice | None = None,
) -> CompiledLBits:
    """The compiled l-bit of ``probe`` (module docstring).

    ``window``: sites of the target's window (capped at the chain length); ``support``: sites
    of the circuit (2 <= support <= min(window, 10)); ``layers``: brickwork layers of V;
    ``starts``: random starts of the fit (the generators of start k are drawn from
    ``numpy.random.default_rng([seed, k])``), the best is kept; ``method``: the window's l-bit
    assignment; ``max_iterations``: L-BFGS iterations per start. Only chains (the support is a
    run of neighbouring sites). Raises :class:`ConfigError` for bad options before any
    diagonalization, and :class:`NumericalError` when the truncated target has an eigenvalue
    ~ 0 (its sign is undefined: use a wider support).
    """
    _, chain = resolve_chain(model_or_h, lattice)
    n = chain.n
    width = min(_check_count("window", window, 2, None), n)
    support = _check_count("support", support, 2, min(MAX_SUPPORT, width))
    layers = _check_count("layers", layers, 1)
    starts = _check_count("starts", starts, 1)
    max_iterations = _check_count("max_iterations", max_iterations, 0)
    fitted = tuple(axes) if not isinstance(axes, str) else (axes,)
    if not fitted or "z" not in fitted or any(a not in _AXES for a in fitted):
        raise ConfigError(
            f"axes must list 'z' and optionally 'x' and 'y' (the l-bit operators fitted), got "
            f"{axes!r}"
        )
    if chain.kind != "chain":
        raise ConfigError(
            "compiled l-bits put a brickwork on a run of neighbouring sites and need an open "
            f"chain, got a {chain.kind!r} lattice; use window_lbits on other lattices"
        )
    source = window_lbits(model_or_h, probe, width=width, method=method, lattice=lattice)
    tau = np.asarray(source.tau("z", source.probe))
    sites, truncated = best_support(tau, source.window, source.probe, support)
    first = source.window.index(sites[0])
    targets = {}
    for a in fitted:
        part = (
            truncated
            if a == "z"
            else truncate_to_window(
                np.asarray(source.tau(a, source.probe)), list(range(first, first + support))
            )
        )
        target, smallest, largest = polar_factor(part)
        if smallest <= ZERO_EIGENVALUE_TOLERANCE * largest:
            raise NumericalError(
                f"the window l-bit tau^{a}_{probe} truncated to sites {sites} has an eigenvalue "
                f"{smallest:.2e} ~ 0, so its sign is undefined: use a wider support"
            )
        targets[a] = target
    local_probe = sites.index(int(probe))
    layout = block_layout(support, block=2, layers=layers)
    loss = PulseTargetLoss(targets, layout, local_probe)
    family = parametrization(2, "sz")
    best: FitResult | None = None
    for k in range(starts):
        rng = np.random.default_rng([int(seed), k])
        generators = family.generator(
            _START_SCALE * rng.normal(size=(len(layout.slots), family.size))
        )
        start = list(exponentiate(generators)[0])
        result = fit_gates(
            loss, layout, "sz", start, objective="pulse-target", max_iterations=max_iterations
        )
        if best is None or result.loss < best.loss:
            best = result
    assert best is not None
    return CompiledLBits(
        probe=int(probe),
        chain_sites=n,
        support_sites=tuple(sites),
        layout=layout,
        gates=tuple(np.asarray(g) for g in best.gates),
        window=tuple(source.window),
        targets=targets,
        target_weight=float(np.vdot(truncated, truncated).real) / (1 << support),
        overlaps=loss.overlaps(best.gates),
        fit=best,
    )
