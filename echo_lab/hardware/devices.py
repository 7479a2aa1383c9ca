"""Devices: fake IBM backends by short name or a generic device, a line of qubits, its noise.

A :class:`Device` is a full Qiskit ``Target`` (native gates, coupling map, per-gate errors and
durations in seconds, T1 / T2 per qubit) plus the asymmetric readout errors of each qubit:

* :func:`load_device` ``("fez")`` builds it from ``qiskit_ibm_runtime.fake_provider.FakeFez``
  (calibration snapshots, offline); :func:`fake_device_names` maps the short names
  (``"fez"``, ``"torino"``, ``"sherbrooke"``, ...) to the classes. ``fractional_gates=True``
  adds the device's native ``rx`` and ``rzz`` (0 <= angle <= pi/2) where its snapshot has them
  (Heron devices such as fez, torino, kingston, marrakesh);
* a :class:`GenericDevice` gives the error rates (one- and two-qubit gate error, readout error,
  T1, T2, gate and readout times) of a line of qubits.

:func:`choose_line` picks the line of N coupled qubits with the lowest reported errors
(:func:`line_cost`); :func:`reduce_device` restricts the device to that line, renumbered 0..N-1,
as a :class:`DeviceLine`: its target, its Aer noise model (Aer's device model: depolarizing
error plus thermal relaxation over the gate time per gate, readout errors per qubit) and an Aer
simulator. Restricting matters: Aer sizes its memory check by the circuit's qubits, and a
156-qubit circuit is refused even when only 8 qubits are used.

**Two-qubit error scale** s: every two-qubit gate gets s times its reported error *and* s times
its duration. Aer explains a gate's error first by thermal relaxation over its duration and
models the rest as depolarizing; scaling the error alone would leave the relaxation part, which
is a third of a Heron CZ's error, so that s = 0.1 would barely lower it. With both scaled the
gate's error is s times the reported one to first order (a faster, better gate).

Idle qubits do not decohere in this model (Aer adds relaxation to ``delay`` instructions only,
and the circuits are not scheduled): a circuit's noise is the noise of its gates and readouts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from echo_lab.errors import ConfigError
from echo_lab.hardware import hardware_missing

try:
    from qiskit.circuit import Delay, Parameter
    from qiskit.circuit.library import (
        CXGate,
        CZGate,
        ECRGate,
        IGate,
        Measure,
        Reset,
        RXGate,
        RZGate,
        RZZGate,
        SXGate,
        XGate,
    )
    from qiskit.providers import BackendV2, Options
    from qiskit.quantum_info import Kraus, Pauli
    from qiskit.transpiler import InstructionProperties, QubitProperties, Target
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, QuantumError, pauli_error
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.utils.backend_converter import convert_to_target
except ImportError:
    raise hardware_missing() from None

__all__ = [
    "FRACTIONAL_GATES",
    "TWO_QUBIT_GATES",
    "Device",
    "DeviceLine",
    "GenericDevice",
    "choose_line",
    "fake_device_names",
    "line_cost",
    "load_device",
    "pauli_twirled",
    "reduce_device",
]

#: Native fractional gates of IBM Heron devices (arbitrary-angle RX, RZZ with 0 <= angle <= pi/2).
FRACTIONAL_GATES = ("rx", "rzz")
#: Two-qubit gate names counted as entanglers in reports and error scaling.
TWO_QUBIT_GATES = ("cz", "ecr", "cx", "rzz")
#: Angle bounds of IBM's fractional RZZ (what the hardware can play).
RZZ_ANGLE_BOUNDS = [(0.0, math.pi / 2)]
#: Range of the two-qubit error scale factor.
SCALE_RANGE = (0.0, 10.0)
#: A coupler with a reported error at or above this is treated as broken (snapshots report 1.0).
BROKEN_ERROR = 0.5

_CONTROL_FLOW = frozenset({"if_else", "for_loop", "switch_case", "while_loop"})
_ENTANGLERS = {"cz": CZGate, "ecr": ECRGate, "cx": CXGate}


@cache
def fake_device_names() -> dict[str, str]:
    """Short name -> class name of every fake backend: ``{"fez": "FakeFez", ...}``.

    The short name is the class name without ``Fake`` and a trailing ``V2`` / ``Backend``, in
    lower case (``FakeManilaV2`` -> ``"manila"``, ``FakeFractionalBackend`` -> ``"fractional"``).
    """
    names = {}
    for cls_name in dir(fake_provider):
        if not cls_name.startswith("Fake") or cls_name.startswith("FakeProvider"):
            continue
        short = cls_name[4:].removesuffix("V2").removesuffix("Backend").lower()
        names[short] = cls_name
    return dict(sorted(names.items()))


@dataclass(frozen=True)
class GenericDevice:
    """A line of ``num_qubits`` identical qubits with given error rates (times in seconds).

    ``two_qubit_gate`` is the native entangler (``"cz"``, ``"ecr"`` or ``"cx"``), on both
    directions of every neighbouring pair; with ``fractional_gates`` the device also plays
    ``rx`` (single-qubit error and time) and ``rzz`` (two-qubit error and time). Errors are
    probabilities (Qiskit's "gate error": 1 - average gate fidelity); ``t2 <= 2 t1``.
    Defaults are typical of a 2025 IBM Heron device.
    """

    num_qubits: int
    two_qubit_gate: str = "cz"
    single_qubit_error: float = 2.5e-4
    two_qubit_error: float = 3e-3
    readout_error: float = 1.5e-2
    t1: float = 200e-6
    t2: float = 150e-6
    single_qubit_time: float = 24e-9
    two_qubit_time: float = 68e-9
    readout_time: float = 1.5e-6
    fractional_gates: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.num_qubits, bool) or not isinstance(self.num_qubits, int):
            raise ConfigError(
                f"generic device num_qubits must be an integer, got {self.num_qubits}"
            )
        if self.num_qubits < 1:
            raise ConfigError(f"generic device num_qubits must be >= 1, got {self.num_qubits}")
        if self.two_qubit_gate not in _ENTANGLERS:
            raise ConfigError(
                f"generic device two_qubit_gate {self.two_qubit_gate!r} is unknown; choose one "
                f"of {sorted(_ENTANGLERS)}"
            )
        for name in ("single_qubit_error", "two_qubit_error", "readout_error"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"generic device {name} must be in [0, 1), got {value}")
        for name in ("t1", "t2", "single_qubit_time", "two_qubit_time", "readout_time"):
            value = getattr(self, name)
            if not value > 0 or math.isnan(value):
                raise ConfigError(f"generic device {name} must be > 0 seconds, got {value}")
        if math.isfinite(self.t2) and self.t2 > 2 * self.t1:
            raise ConfigError(
                f"generic device t2 = {self.t2} exceeds 2 t1 = {2 * self.t1}, which no physical "
                "qubit allows: lower t2 or raise t1"
            )

    def target(self) -> Target:
        """The device as a Qiskit ``Target`` on a line of ``num_qubits`` qubits."""
        n = self.num_qubits
        qubit_properties = [QubitProperties(t1=self.t1, t2=self.t2) for _ in range(n)]
        target = Target(num_qubits=n, qubit_properties=qubit_properties, description="generic")

        def props(error: float, duration: float, pairs: bool = False) -> dict[Any, Any]:
            keys: list[tuple[int, ...]] = [(q,) for q in range(n)]
            if pairs:
                keys = [(q, q + 1) for q in range(n - 1)]
                keys += [(q + 1, q) for q in range(n - 1)]
            return {k: InstructionProperties(error=error, duration=duration) for k in keys}

        one_q = (self.single_qubit_error, self.single_qubit_time)
        target.add_instruction(IGate(), props(*one_q))
        target.add_instruction(RZGate(Parameter("theta")), props(0.0, 0.0))
        target.add_instruction(SXGate(), props(*one_q))
        target.add_instruction(XGate(), props(*one_q))
        if n > 1:
            two_q = (self.two_qubit_error, self.two_qubit_time)
            target.add_instruction(_ENTANGLERS[self.two_qubit_gate](), props(*two_q, pairs=True))
        if self.fractional_gates:
            target.add_instruction(RXGate(Parameter("theta")), props(*one_q))
            if n > 1:
                target.add_instruction(
                    RZZGate(Parameter("theta")),
                    props(*two_q, pairs=True),
                    angle_bounds=RZZ_ANGLE_BOUNDS,
                )
        measure = props(self.readout_error, self.readout_time)
        for prop in measure.values():
            prop.prob_meas1_prep0 = self.readout_error
            prop.prob_meas0_prep1 = self.readout_error
        target.add_instruction(Measure(), measure)
        target.add_instruction(Reset(), props(0.0, self.readout_time))
        target.add_instruction(Delay(Parameter("t")), props(0.0, 0.0))
        return target


@dataclass(frozen=True, eq=False)
class Device:
    """A full device: ``target`` (Qiskit ``Target``), ``name`` and whether fractional gates are on.

    The measure properties of ``target`` carry ``prob_meas1_prep0`` and ``prob_meas0_prep1``
    (the asymmetric readout errors) where the snapshot reports them.
    """

    name: str
    target: Target
    fractional_gates: bool = False

    @property
    def num_qubits(self) -> int:
        return int(self.target.num_qubits)

    @property
    def entangler(self) -> str:
        """Name of the native (non-fractional) two-qubit gate: ``"cz"``, ``"ecr"`` or ``"cx"``."""
        for name in ("cz", "ecr", "cx"):
            if name in self.target.operation_names:
                return name
        raise ConfigError(f"device {self.name!r} has no two-qubit gate among cz, ecr, cx")

    @property
    def trotter_gate(self) -> str:
        """The two-qubit gate Trotter blocks are synthesized into: ``rzz`` if fractional, else
        :attr:`entangler`."""
        return "rzz" if self.fractional_gates else self.entangler

    def two_qubit_error(self, a: int, b: int, *, gate: str | None = None) -> float:
        """Lowest reported error of ``gate`` (default :attr:`trotter_gate`) on the pair (a, b),
        either direction; inf if the pair has none."""
        props = self.target[gate or self.trotter_gate]
        errors = [
            p.error if p is not None and p.error is not None else 0.0
            for key in ((a, b), (b, a))
            if key in props
            for p in [props[key]]
        ]
        return min(errors) if errors else math.inf

    def single_qubit_error(self, q: int, name: str) -> float:
        """Reported error of one-qubit instruction ``name`` (e.g. ``"sx"``, ``"measure"``) on q."""
        prop = self.target[name].get((q,)) if name in self.target.operation_names else None
        if prop is None or prop.error is None:
            return 0.0
        return float(prop.error)


def _fake_backend(name: str) -> Any:
    names = fake_device_names()
    key = name.lower().removeprefix("fake_").removeprefix("ibm_")
    if key not in names:
        raise ConfigError(
            f"unknown device {name!r}; choose a fake IBM device by short name ({', '.join(names)}) "
            "or give a GenericDevice with your error rates"
        )
    return getattr(fake_provider, names[key])()


def _has_fractional_calibrations(backend: Any) -> bool:
    gates = {g.gate for g in backend.properties().gates}
    return all(name in gates for name in FRACTIONAL_GATES)


def load_device(device: str | GenericDevice, *, fractional_gates: bool = False) -> Device:
    """The :class:`Device` of a fake backend short name (``"fez"``) or a :class:`GenericDevice`.

    ``fractional_gates=True`` adds native ``rx`` and ``rzz`` from the snapshot's calibrations;
    ConfigError if the device has none (e.g. Eagle devices such as sherbrooke). Cost: parsing the
    snapshot, linear in its qubits and gates.
    """
    if isinstance(device, GenericDevice):
        if fractional_gates and not device.fractional_gates:
            device = GenericDevice(**{**device.__dict__, "fractional_gates": True})
        return Device("generic", device.target(), fractional_gates=device.fractional_gates)
    if not isinstance(device, str):
        raise ConfigError(
            f"device must be a fake device name or a GenericDevice, got {type(device).__name__}"
        )
    backend = _fake_backend(device)
    configuration = backend.configuration()
    properties = backend.properties()
    basis = list(configuration.basis_gates)
    if fractional_gates:
        if not _has_fractional_calibrations(backend):
            raise ConfigError(
                f"device {device!r} has no fractional gates (native rx and rzz) in its snapshot; "
                "use fractional_gates=False, or a Heron device such as 'fez' or 'torino'"
            )
        basis += [g for g in FRACTIONAL_GATES if g not in basis]
    else:
        basis = [g for g in basis if g not in FRACTIONAL_GATES]
    configuration.basis_gates = basis
    target = convert_to_target(
        configuration, properties, include_control_flow=False, include_fractional_gates=True
    )
    for q, prop in target["measure"].items():
        if prop is None:
            continue
        qubit = properties.qubit_property(q[0])
        for key in ("prob_meas1_prep0", "prob_meas0_prep1"):
            if key in qubit:
                setattr(prop, key, float(qubit[key][0]))
    return Device(backend.name, target, fractional_gates=fractional_gates)


def line_cost(device: Device, line: Sequence[int]) -> float:
    """-log of the success probability of one Trotter layer on ``line`` (lower is better).

    Per bond three two-qubit gates (a general two-qubit block; ``rzz`` with fractional gates,
    else the entangler), per qubit four ``sx`` and one readout:
    cost = sum_bonds -3 log(1 - e_2q) + sum_qubits [-4 log(1 - e_sx) - log(1 - e_readout)];
    A bond whose ``rzz`` is broken counts with its entangler (the transpiler falls back to it);
    inf when a bond is missing or broken (error >= 0.5).
    """
    cost = 0.0
    for a, b in itertools.pairwise(line):
        error = device.two_qubit_error(a, b)
        if error >= BROKEN_ERROR:
            error = device.two_qubit_error(a, b, gate=device.entangler)
        if error >= BROKEN_ERROR:
            return math.inf
        cost -= 3.0 * math.log1p(-error)
    for q in line:
        cost -= 4.0 * math.log1p(-min(device.single_qubit_error(q, "sx"), 0.999))
        cost -= math.log1p(-min(device.single_qubit_error(q, "measure"), 0.999))
    return cost


def _neighbours(device: Device) -> dict[int, list[int]]:
    graph: dict[int, set[int]] = {q: set() for q in range(device.num_qubits)}
    for a, b in device.target.build_coupling_map().get_edges():
        if device.two_qubit_error(a, b, gate=device.entangler) < BROKEN_ERROR:
            graph[a].add(b)
            graph[b].add(a)
    return {q: sorted(nbrs) for q, nbrs in graph.items()}


def choose_line(device: Device, n: int) -> tuple[int, ...]:
    """The line (simple path) of ``n`` coupled qubits with the lowest :func:`line_cost`.

    Depth-first search over all simple paths of ``n`` qubits (both orientations are the same
    line; the one starting at the smaller qubit is returned). Cost: the number of such paths, a
    few thousand on a heavy-hex device at n = 12. ConfigError if the device has none.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of qubits n must be an integer >= 1, got {n!r}")
    if n > device.num_qubits:
        raise ConfigError(f"device {device.name!r} has {device.num_qubits} qubits, fewer than {n}")
    graph = _neighbours(device)
    best: tuple[float, tuple[int, ...]] = (math.inf, ())

    def extend(path: list[int]) -> None:
        nonlocal best
        if len(path) == n:
            if path[0] <= path[-1]:
                cost = line_cost(device, path)
                if cost < best[0]:
                    best = (cost, tuple(path))
            return
        for q in graph[path[-1]]:
            if q not in path:
                path.append(q)
                extend(path)
                path.pop()

    for start in range(device.num_qubits):
        extend([start])
    if not best[1]:
        raise ConfigError(
            f"device {device.name!r} has no line of {n} coupled working qubits; use fewer qubits"
        )
    return best[1]


def check_line(device: Device, layout: Sequence[int]) -> tuple[int, ...]:
    """``layout`` as a tuple after checking it is a line of distinct, coupled device qubits."""
    line = tuple(int(q) for q in layout)
    if len(set(line)) != len(line) or not all(0 <= q < device.num_qubits for q in line):
        raise ConfigError(
            f"layout {list(layout)} must list distinct qubits of device {device.name!r} "
            f"(0..{device.num_qubits - 1})"
        )
    for a, b in itertools.pairwise(line):
        if device.two_qubit_error(a, b, gate=device.entangler) >= BROKEN_ERROR:
            raise ConfigError(
                f"layout qubits {a} and {b} are not coupled (or their coupler is broken) on "
                f"device {device.name!r}: a layout must be a line of coupled qubits"
            )
    return line


class ReducedBackend(BackendV2):
    """A ``BackendV2`` that only holds a target (for Aer and the runtime's estimator)."""

    def __init__(self, target: Target, *, name: str) -> None:
        super().__init__(name=name)
        self._reduced_target = target

    @property
    def target(self) -> Target:
        return self._reduced_target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    def run(self, run_input: Any, **options: Any) -> Any:
        raise ConfigError("a reduced device runs through its Aer simulator (DeviceLine.simulator)")


@dataclass(frozen=True, eq=False)
class DeviceLine:
    """A device restricted to a line of qubits, renumbered 0..n-1 (module docstring).

    ``layout[k]`` is the device qubit that plays chain site k; ``target`` has n qubits and the
    scaled two-qubit errors and durations.
    """

    device_name: str
    layout: tuple[int, ...]
    target: Target
    two_qubit_error_scale: float
    fractional_gates: bool

    @property
    def num_qubits(self) -> int:
        return len(self.layout)

    def backend(self) -> ReducedBackend:
        """The line as a ``BackendV2`` (target only)."""
        return ReducedBackend(self.target, name=f"{self.device_name}{list(self.layout)}")

    def noise_model(self) -> NoiseModel:
        """Aer's device noise model of the line (``NoiseModel.from_backend`` of its target)."""
        return NoiseModel.from_backend(self.backend())

    def pauli_noise_model(self) -> NoiseModel:
        """The noise model with every gate error replaced by its twirl (:func:`pauli_twirled`).

        Same readout errors. Pauli twirling of the gates turns the device channel into exactly
        this one on average, and Aer samples a Pauli channel as plain gates on a trajectory,
        without the norm computations a thermal-relaxation Kraus channel costs.
        """
        model = NoiseModel(basis_gates=list(self.target.operation_names))
        for qubits, error in basic_device_readout_errors(target=self.target):
            model.add_readout_error(error, qubits)
        for name, qubits, error in basic_device_gate_errors(target=self.target):
            model.add_quantum_error(pauli_twirled(error), name, qubits)
        return model

    def simulator(
        self, *, method: str, seed: int | None = None, pauli_noise: bool = False
    ) -> AerSimulator:
        """An Aer simulator with the line's target and noise model.

        ``method`` is ``"density_matrix"`` (exact noisy state, 16 * 4^n bytes) or
        ``"statevector"`` (one noisy trajectory per shot, 16 * 2^n bytes); ``pauli_noise`` uses
        :meth:`pauli_noise_model`.
        """
        if method not in ("density_matrix", "statevector"):
            raise ConfigError(f"method must be 'density_matrix' or 'statevector', got {method!r}")
        noise = self.pauli_noise_model() if pauli_noise else self.noise_model()
        options: dict[str, Any] = {"method": method, "noise_model": noise}
        if seed is not None:
            options["seed_simulator"] = int(seed)
        return AerSimulator.from_backend(self.backend(), **options)


def pauli_twirled(error: QuantumError) -> QuantumError:
    """The Pauli channel of ``error`` averaged over Pauli twirls.

    Probability of Pauli P: p_P = sum_k |Tr(P K_k)|^2 / d^2 over the Kraus operators K_k of the
    channel (d = 2^k); p_I is the channel's process fidelity, which twirling keeps. Cost O(16^k).
    """
    k = error.num_qubits
    kraus = Kraus(error.to_quantumchannel()).data
    terms = []
    for letters in itertools.product("IXYZ", repeat=k):
        label = "".join(letters)
        pauli = Pauli(label).to_matrix()
        weight = sum(abs(np.trace(pauli @ op)) ** 2 for op in kraus) / 4**k
        if weight > 1e-15:
            terms.append((label, float(weight)))
    total = sum(w for _, w in terms)
    return pauli_error([(label, w / total) for label, w in terms])


def _scaled(prop: InstructionProperties | None, scale: float) -> InstructionProperties | None:
    if prop is None or scale == 1.0:
        return prop
    error = None if prop.error is None else min(prop.error * scale, 1.0)
    duration = None if prop.duration is None else prop.duration * scale
    return InstructionProperties(error=error, duration=duration)


def reduce_device(
    device: Device, layout: Sequence[int], *, two_qubit_error_scale: float = 1.0
) -> DeviceLine:
    """The :class:`DeviceLine` of ``device`` on ``layout`` (a line of coupled qubits).

    Keeps every instruction whose qubits all lie in the layout (renumbered), the qubits' T1 / T2
    and the readout errors, except broken two-qubit gates (reported error >= 0.5, e.g. an
    uncalibrated ``rzz``: the transpiler then uses the entangler there); multiplies every
    two-qubit gate's error and duration by ``two_qubit_error_scale`` (module docstring).
    Control-flow instructions are dropped.
    """
    line = check_line(device, layout)
    scale = float(two_qubit_error_scale)
    if not SCALE_RANGE[0] < scale <= SCALE_RANGE[1] or math.isnan(scale):
        raise ConfigError(
            f"two_qubit_error_scale must be in ({SCALE_RANGE[0]}, {SCALE_RANGE[1]}], got {scale}"
        )
    index = {q: k for k, q in enumerate(line)}
    full = device.target
    qubit_properties = None
    if full.qubit_properties is not None:
        qubit_properties = [full.qubit_properties[q] for q in line]
    reduced = Target(
        num_qubits=len(line),
        dt=full.dt,
        qubit_properties=qubit_properties,
        description=f"{device.name} qubits {list(line)}",
    )
    for name in full.operation_names:
        if name in _CONTROL_FLOW:
            continue
        operation = full.operation_from_name(name)
        props: dict[tuple[int, ...], InstructionProperties | None] = {}
        for qargs, prop in full[name].items():
            if qargs is None or not all(q in index for q in qargs):
                continue
            two_qubit = len(qargs) == 2
            if two_qubit and prop is not None and (prop.error or 0.0) >= BROKEN_ERROR:
                continue
            props[tuple(index[q] for q in qargs)] = _scaled(prop, scale) if two_qubit else prop
        if not props:
            continue
        bounds = RZZ_ANGLE_BOUNDS if name == "rzz" else None
        reduced.add_instruction(operation, props, name=name, angle_bounds=bounds)
    return DeviceLine(device.name, line, reduced, scale, device.fractional_gates)
