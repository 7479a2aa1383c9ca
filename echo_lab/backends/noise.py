"""Noise for the circuit backends: Markovian gate and idle channels, and quasi-static dephasing.

A :class:`NoiseSpec` describes the noise in the time units of the dynamics (1/J). The Aer
backend turns it into circuit instructions while it builds the Trotter circuits:

* **gate errors** (:func:`gate_error`, :func:`insert_gate_errors`): after every one- and
  two-qubit gate, a depolarizing channel (probability ``depolarizing_1q`` / ``depolarizing_2q``)
  composed with thermal relaxation over the gate time (``gate_time_1q`` / ``gate_time_2q``, with
  ``t1``, ``t2``). Gates on three or more qubits (wide l-bit pulses) get no error.
* **idle relaxation** (:func:`step_error`): thermal relaxation for the step time dt on every
  qubit after each Trotter step, so a free evolution of duration T decoheres as exp(-T/T2)
  whatever the number of gates. Both channels need the density-matrix method (or shots).
* **hardware noise** (``backend``): ``NoiseModel.from_backend`` of a Qiskit ``BackendV2`` (e.g.
  ``qiskit.providers.fake_provider.GenericBackendV2``); circuits are then translated to that
  backend's basis gates so its per-gate errors apply. Its durations are the hardware's, not 1/J.
  It cannot be combined with the gate errors above.
* **quasi-static dephasing** on ``static_dephasing_qubits``: an extra field delta Z_q with
  delta ~ N(0, sigma), constant during one run. It is not a Markovian channel, so a run is
  averaged over the Gauss-Hermite quadrature of delta (:func:`dephasing_quadrature`), each node
  adding ``rz(2 delta dt)`` per step on the chosen qubits. For H = 0 and a probe in |+> the FID
  is E[cos(2 delta t)] = exp(-2 sigma^2 t^2), and a Hahn echo refocuses it completely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from echo_lab.errors import ConfigError, aer_missing

try:
    from qiskit_aer.noise import (
        NoiseModel,
        QuantumError,
        depolarizing_error,
        thermal_relaxation_error,
    )
except ImportError:
    raise aer_missing() from None

__all__ = [
    "NoiseSpec",
    "backend_noise_model",
    "dephasing_quadrature",
    "gate_error",
    "insert_gate_errors",
    "step_error",
]

#: Instructions that are not gates and never receive gate errors.
NON_GATES = frozenset({"barrier", "measure", "reset", "delay", "quantum_channel", "kraus"})


@dataclass(frozen=True)
class NoiseSpec:
    """Noise of a circuit run (module docstring); times in units of 1/J, rates are probabilities.

    ``t2 <= 2 t1`` (physical limit); ``inf`` switches relaxation off. ``static_dephasing_points``
    is the number of Gauss-Hermite nodes: exact for polynomials of degree < 2 * points in delta,
    and each node costs one more run.
    """

    depolarizing_1q: float = 0.0
    depolarizing_2q: float = 0.0
    t1: float = math.inf
    t2: float = math.inf
    gate_time_1q: float = 0.0
    gate_time_2q: float = 0.0
    backend: Any = None
    static_dephasing_sigma: float = 0.0
    static_dephasing_qubits: tuple[int, ...] = field(default=())
    static_dephasing_points: int = 24

    def __post_init__(self) -> None:
        for name in ("depolarizing_1q", "depolarizing_2q"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"noise {name} must be a probability in [0, 1], got {value}")
        for name in ("t1", "t2"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"noise {name} must be > 0 (inf for none), got {value}")
        if math.isfinite(self.t2) and self.t2 > 2 * self.t1:
            raise ConfigError(
                f"noise t2 = {self.t2} exceeds 2 * t1 = {2 * self.t1}, which no physical qubit "
                "allows: lower t2 or raise t1"
            )
        for name in ("gate_time_1q", "gate_time_2q", "static_dephasing_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"noise {name} must be finite and >= 0, got {value}")
        if self.static_dephasing_points < 1:
            raise ConfigError(
                f"noise static_dephasing_points must be >= 1, got {self.static_dephasing_points}"
            )
        object.__setattr__(
            self, "static_dephasing_qubits", tuple(int(q) for q in self.static_dephasing_qubits)
        )
        if self.static_dephasing_sigma > 0 and not self.static_dephasing_qubits:
            raise ConfigError(
                "noise static_dephasing_sigma > 0 needs static_dephasing_qubits (e.g. the probe)"
            )
        if self.backend is not None and self.has_gate_errors:
            raise ConfigError(
                "noise: give either a hardware backend or depolarizing / gate-time errors, not "
                "both (the backend's noise model already sets every gate's error)"
            )

    @property
    def relaxes(self) -> bool:
        """True when T1 or T2 is finite."""
        return math.isfinite(self.t1) or math.isfinite(self.t2)

    @property
    def has_gate_errors(self) -> bool:
        """True when gates get a depolarizing or relaxation error."""
        timed = self.relaxes and (self.gate_time_1q > 0 or self.gate_time_2q > 0)
        return self.depolarizing_1q > 0 or self.depolarizing_2q > 0 or timed

    @property
    def has_channels(self) -> bool:
        """True when the noise includes a non-unitary (Markovian) channel."""
        return self.has_gate_errors or self.relaxes or self.backend is not None


def _relaxation(spec: NoiseSpec, duration: float) -> QuantumError | None:
    if not spec.relaxes or duration <= 0:
        return None
    return thermal_relaxation_error(spec.t1, min(spec.t2, 2 * spec.t1), duration)


def gate_error(spec: NoiseSpec, num_qubits: int) -> QuantumError | None:
    """Error after a ``num_qubits``-qubit gate (1 or 2), or None when it is ideal.

    Depolarizing with probability p (``depolarizing_error(p * 4^k / (4^k - 1))``: the state is
    replaced by the maximally mixed one with probability p * 4^k / (4^k - 1), i.e. a random
    non-identity Pauli with probability p), then thermal relaxation over the gate time on each
    qubit.
    """
    if num_qubits not in (1, 2):
        return None
    probability = spec.depolarizing_1q if num_qubits == 1 else spec.depolarizing_2q
    duration = spec.gate_time_1q if num_qubits == 1 else spec.gate_time_2q
    error: QuantumError | None = None
    if probability > 0:
        dim = 4**num_qubits
        error = depolarizing_error(probability * dim / (dim - 1), num_qubits)
    relax = _relaxation(spec, duration)
    if relax is not None:
        if num_qubits == 2:
            relax = relax.expand(relax)
        error = relax if error is None else error.compose(relax)
    return error


def step_error(spec: NoiseSpec, dt: float) -> QuantumError | None:
    """Thermal relaxation of one qubit over one Trotter step of duration ``dt`` (or None)."""
    return _relaxation(spec, dt)


def insert_gate_errors(circuit: QuantumCircuit, spec: NoiseSpec) -> QuantumCircuit:
    """Copy of ``circuit`` with :func:`gate_error` after every one- and two-qubit gate.

    Cost O(number of instructions); the circuit must have no classical bits in use.
    """
    errors = {k: gate_error(spec, k) for k in (1, 2)}
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        out.append(instruction)
        operation = instruction.operation
        error = errors.get(operation.num_qubits)
        if (
            error is not None
            and operation.name not in NON_GATES
            and not operation.name.startswith("save_")
        ):
            out.append(error, instruction.qubits)
    return out


def backend_noise_model(spec: NoiseSpec) -> NoiseModel | None:
    """``NoiseModel.from_backend(spec.backend)``, or None without a backend."""
    if spec.backend is None:
        return None
    return NoiseModel.from_backend(spec.backend)


def dephasing_quadrature(spec: NoiseSpec) -> tuple[np.ndarray, np.ndarray]:
    """Nodes delta_j and weights w_j with E[f(delta)] ~ sum_j w_j f(delta_j), delta ~ N(0, sigma).

    Gauss-Hermite: delta_j = sqrt(2) sigma x_j, w_j = a_j / sqrt(pi) (weights add up to 1).
    Without static dephasing: one node at 0 with weight 1. Shapes ``(points,)``.
    """
    if spec.static_dephasing_sigma == 0:
        return np.zeros(1), np.ones(1)
    nodes, weights = np.polynomial.hermite.hermgauss(spec.static_dephasing_points)
    return np.sqrt(2.0) * spec.static_dephasing_sigma * nodes, weights / np.sqrt(np.pi)
