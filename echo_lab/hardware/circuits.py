"""Echo circuits for a device: logical circuits, ISA transpilation, pulse costs, reports.

**Logical circuits** follow the rule of :mod:`echo_lab.dynamics.trotter` (each ``Free(f)``
segment at total time T, of length L = f T, is ``k = ceil(L / dt)`` Trotter steps of L / k, so it
is simulated for exactly L; steps of exactly dt when L is a multiple of dt), built with
``fuse_qubits=2``: every bond block (its fields folded in) is one two-qubit unitary, which the
transpiler synthesizes into three entanglers (``cz`` / ``ecr``) or three native ``rzz`` on a
device with fractional gates. (The simulator default, three-qubit fused blocks, would cost up to
twenty entanglers each on hardware.) A labelled barrier separates the segments.

**Pulses** (:func:`pulse_instruction`): a :class:`~echo_lab.dynamics.schedule.Pulse` that carries a
``circuit`` (circuit l-bit pulses: a ``QuantumCircuit`` on ``len(pulse.qubits)`` qubits) is
appended as that circuit; otherwise as :func:`echo_lab.dynamics.trotter.pulse_instruction` (``x`` /
``y`` for p-bits, a dense ``UnitaryGate`` otherwise, which the transpiler synthesizes). A dense
pulse on k >= 2 qubits costs up to the quantum-Shannon bound (23/48) 4^k - (3/2) 2^k + 4/3
entanglers (k = 3: 20, k = 5: 443); :func:`check_pulse_costs` refuses any whose synthesized count
exceeds ``pulse_budget`` (the estimate is checked first, so a 9-qubit block is refused without being
synthesized).

**Reference circuits** (:func:`reference_circuit`, the compute-uncompute normalization): the
same preparation, m Trotter steps of dt forward, a barrier, the inverse of those steps (the
Hamiltonian evolution reversed), a barrier, then every pulse of the sequence in order. It has the
echo's gates (the same number of Trotter steps, the same pulses; the step length changes angles,
not gates) but its ideal final state is
P_m ... P_1 |psi0>, known exactly, so its measured decay is the noise's alone.

**ISA** (:func:`isa_pass_manager`): Qiskit's preset pass manager on the line's target with the
trivial layout (chain site k on line qubit k); nearest-neighbour bond blocks need no routing,
dense pulses wider than two qubits may (the final layout is kept on the circuit). Its circuits
act on the line's n qubits; :func:`device_width_circuit` places one on the device's physical
qubits at the device's full width (what a device, or ``SamplerV2(mode=backend)``, accepts as
it is), and :func:`echo_lab.export.compact_circuit` renumbers it back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.circuit import Instruction, Qubit
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import Layout, PassManager, TranspileLayout, generate_preset_pass_manager

from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.hardware.devices import TWO_QUBIT_GATES, DeviceLine
from echo_lab.physics.states import ProductState

__all__ = [
    "DEFAULT_PULSE_BUDGET",
    "CircuitReport",
    "check_isa",
    "check_pulse_costs",
    "device_width_circuit",
    "echo_circuit",
    "isa_pass_manager",
    "pulse_instruction",
    "reference_circuit",
    "reference_values",
    "report_circuit",
    "shannon_bound",
]

#: Default most entanglers a synthesized dense pulse may cost (``lbit:1``, 3 qubits, needs <= 20).
DEFAULT_PULSE_BUDGET = 40
#: Largest state the exact reference values are computed for (a state vector of 2^n amplitudes).
MAX_REFERENCE_QUBITS = 24

_BARRIER_FREE = "free"


def shannon_bound(k: int) -> int:
    """Entanglers needed by a generic dense unitary on ``k`` qubits (quantum Shannon bound).

    0 for k = 1, 3 for k = 2, ceil((23/48) 4^k - (3/2) 2^k + 4/3) for k >= 3 (Shende, Bullock,
    Markov 2006): 20 for k = 3, 100 for k = 4, 443 for k = 5.
    """
    if k <= 1:
        return 0
    if k == 2:
        return 3
    return math.ceil(23 / 48 * 4**k - 1.5 * 2**k + 4 / 3 - 1e-9)


def pulse_instruction(pulse: Pulse) -> Instruction:
    """The pulse as an instruction: its ``circuit`` if it has one, else its matrix (module doc)."""
    circuit = getattr(pulse, "circuit", None)
    if circuit is None:
        return trotter.pulse_instruction(pulse)
    if not isinstance(circuit, QuantumCircuit) or circuit.num_qubits != len(pulse.qubits):
        raise ConfigError(
            f"pulse {pulse.label!r} carries a circuit that is not a QuantumCircuit on its "
            f"{len(pulse.qubits)} qubits"
        )
    instruction = circuit.to_instruction(label=pulse.label)
    return instruction


def _is_dense(pulse: Pulse) -> bool:
    return getattr(pulse, "circuit", None) is None and len(pulse.qubits) >= 2


def check_pulse_costs(
    sequence: PulseSequence, line: DeviceLine, *, pulse_budget: int = DEFAULT_PULSE_BUDGET
) -> dict[str, int]:
    """Entanglers of each pulse of ``sequence`` once synthesized on ``line``, by label.

    Dense pulses on k >= 2 qubits are refused with a ConfigError (the count and the option
    ``pulse_budget``) when the quantum-Shannon estimate or the synthesized count exceeds
    ``pulse_budget``; circuit pulses and one-qubit pulses are counted, never refused. Cost: one
    transpilation per distinct pulse.
    """
    if isinstance(pulse_budget, bool) or not isinstance(pulse_budget, int) or pulse_budget < 0:
        raise ConfigError(f"pulse_budget must be an integer >= 0, got {pulse_budget!r}")
    counts: dict[str, int] = {}
    for pulse in sequence.pulses:
        if pulse.label in counts:
            continue
        if max(pulse.qubits) >= line.num_qubits:
            raise ConfigError(
                f"pulse {pulse.label!r} acts on qubits {pulse.qubits}, outside the "
                f"{line.num_qubits}-qubit line"
            )
        k = len(pulse.qubits)
        if _is_dense(pulse) and shannon_bound(k) > pulse_budget:
            raise ConfigError(_budget_message(pulse, shannon_bound(k), pulse_budget, "about"))
        qc = QuantumCircuit(line.num_qubits)
        qc.append(pulse_instruction(pulse), list(pulse.qubits))
        isa = isa_pass_manager(line).run(qc)
        count = sum(isa.count_ops().get(name, 0) for name in TWO_QUBIT_GATES)
        if _is_dense(pulse) and count > pulse_budget:
            raise ConfigError(_budget_message(pulse, count, pulse_budget, "synthesized into"))
        counts[pulse.label] = int(count)
    return counts


def _budget_message(pulse: Pulse, count: int, budget: int, how: str) -> str:
    return (
        f"pulse {pulse.label!r} is a dense unitary on {len(pulse.qubits)} qubits, {how} {count} "
        f"two-qubit gates, above the pulse budget of {budget}: raise pulse_budget to at least "
        f"{count} to run it anyway, or use a narrower pulse ('lbit:1': 3 qubits, 20-36 two-qubit "
        "gates) or a circuit l-bit pulse"
    )


def _prepared(state: ProductState | None, n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    if state is not None:
        if state.n != n:
            raise ConfigError(f"initial state has {state.n} sites, the Hamiltonian {n}")
        qc.compose(state.circuit(), inplace=True)
    return qc


def _evolution(split: trotter.TrotterSplit, *, dt: float, steps: int, order: int) -> QuantumCircuit:
    return trotter.evolution_circuit(split, dt=dt, steps=steps, order=order, fuse_qubits=2)


def echo_circuit(
    hamiltonian: SparsePauliOp,
    sequence: PulseSequence,
    total_time: float,
    *,
    dt: float,
    order: int = 2,
    initial_state: ProductState | None = None,
    split: trotter.TrotterSplit | None = None,
) -> QuantumCircuit:
    """Logical circuit of ``sequence`` at ``total_time`` (module docstring), no measurements.

    Same unitary as :func:`echo_lab.dynamics.trotter.sequence_circuit` (same steps and split), with
    two-qubit fused blocks and :func:`pulse_instruction`. Pass ``split``
    (``trotter.split_layers(H)``) to reuse its cached block matrices over many total times.
    """
    split = trotter.split_layers(hamiltonian) if split is None else split
    steps = trotter.segment_steps(sequence, total_time, dt=dt)
    qc = _prepared(initial_state, split.num_qubits)
    free_index = 0
    for segment in sequence.segments:
        if isinstance(segment, Free):
            k, tau = steps[free_index]
            free_index += 1
            qc.barrier(label=f"{_BARRIER_FREE} {k}x{tau:g}")
            if k > 0:
                qc.compose(_evolution(split, dt=tau, steps=k, order=order), inplace=True)
        else:
            qc.barrier(label=segment.label)
            qc.append(pulse_instruction(segment), list(segment.qubits))
    qc.name = f"{sequence.name}@{total_time:g}"
    return qc


def reference_circuit(
    hamiltonian: SparsePauliOp,
    sequence: PulseSequence,
    total_time: float,
    *,
    dt: float,
    order: int = 2,
    initial_state: ProductState | None = None,
    split: trotter.TrotterSplit | None = None,
) -> QuantumCircuit:
    """Compute-uncompute reference of the echo circuit (module docstring), no measurements.

    With k = the echo's total Trotter steps (:func:`echo_lab.dynamics.trotter.segment_steps`),
    ceil(k / 2) steps of dt forward and their inverse, then the pulses. Its ideal state is the
    pulses applied to the initial state (:func:`reference_values`), whatever H is.
    """
    split = trotter.split_layers(hamiltonian) if split is None else split
    total_steps = sum(s.steps for s in trotter.segment_steps(sequence, total_time, dt=dt))
    forward_steps = (total_steps + 1) // 2
    qc = _prepared(initial_state, split.num_qubits)
    if forward_steps > 0:
        forward = _evolution(split, dt=dt, steps=forward_steps, order=order)
        qc.barrier(label=f"{_BARRIER_FREE} {forward_steps}x{dt:g}")
        qc.compose(forward, inplace=True)
        qc.barrier(label=f"reversed {forward_steps}x{dt:g}")
        qc.compose(forward.inverse(), inplace=True)
    for pulse in sequence.pulses:
        qc.barrier(label=pulse.label)
        qc.append(pulse_instruction(pulse), list(pulse.qubits))
    qc.name = f"{sequence.name}-reference@{total_time:g}"
    return qc


def reference_values(
    sequence: PulseSequence,
    initial_state: ProductState,
    observables: Sequence[SparsePauliOp],
) -> np.ndarray:
    """Ideal values of ``observables`` on the reference circuit's final state, shape ``(m,)``.

    The state is P_m ... P_1 |psi0> (the pulses on the initial state), a state vector of 2^n
    amplitudes (n <= 24).
    """
    n = initial_state.n
    if n > MAX_REFERENCE_QUBITS:
        raise ConfigError(
            f"the compute-uncompute reference needs a {n}-qubit state vector; at most "
            f"{MAX_REFERENCE_QUBITS} qubits are supported"
        )
    qc = initial_state.circuit()
    for pulse in sequence.pulses:
        qc.append(pulse_instruction(pulse), list(pulse.qubits))
    state = Statevector(qc)
    return np.array([float(np.real(state.expectation_value(op))) for op in observables])


def isa_pass_manager(
    line: DeviceLine, *, optimization_level: int = 2, seed: int = 0
) -> PassManager:
    """Preset pass manager to the line's ISA: trivial layout, deterministic for a fixed ``seed``."""
    if optimization_level not in (0, 1, 2, 3):
        raise ConfigError(f"optimization_level must be 0..3, got {optimization_level!r}")
    return generate_preset_pass_manager(
        optimization_level=optimization_level,
        target=line.target,
        initial_layout=list(range(line.num_qubits)),
        layout_method="trivial",
        seed_transpiler=seed,
    )


def check_isa(qc: QuantumCircuit, line: DeviceLine) -> None:
    """ConfigError unless every instruction of ``qc`` is supported by the line's target.

    Checks the gate name, its qubits (so the coupling map) and angle bounds (native ``rzz``);
    barriers are allowed.
    """
    target = line.target
    for instruction in qc.data:
        name = instruction.operation.name
        if name == "barrier":
            continue
        qargs = tuple(qc.find_bit(q).index for q in instruction.qubits)
        params = [float(p) for p in instruction.operation.params] or None
        if not target.instruction_supported(name, qargs, parameters=params):
            raise ConfigError(
                f"instruction {name}{list(qargs)} with parameters {params} is not native to "
                f"{line.device_name} on qubits {[line.layout[q] for q in qargs]}"
            )


def device_width_circuit(isa: QuantumCircuit, line: DeviceLine, num_qubits: int) -> QuantumCircuit:
    """The ISA circuit ``isa`` of ``line`` at the full width of its device (``num_qubits``).

    Line qubit k becomes device qubit ``line.layout[k]``; the gates are unchanged (a line's
    target holds its device's instructions on those qubits), so the circuit is an ISA circuit
    of the whole device, which ``SamplerV2(mode=backend)`` / ``EstimatorV2`` accept as it is.
    Its :class:`~qiskit.transpiler.TranspileLayout` maps the chain sites (the logical circuit's
    qubits) to their device qubits, the other device qubits as ancillas, with the routing
    permutation of ``isa`` (``observable.apply_layout(qc.layout)`` places an n-site
    observable). :func:`echo_lab.export.compact_circuit` undoes it.
    """
    n = isa.num_qubits
    if n != line.num_qubits or num_qubits < max(line.layout) + 1:
        raise ConfigError(
            f"a {n}-qubit circuit of the line {list(line.layout)} does not fit a "
            f"{num_qubits}-qubit device"
        )
    physical = list(line.layout)
    wide = QuantumCircuit(
        QuantumRegister(num_qubits, "q"),
        *isa.cregs,
        name=isa.name,
        global_phase=isa.global_phase,
        metadata=dict(isa.metadata or {}),
    )
    for instruction in isa.data:
        qubits = [wide.qubits[physical[isa.find_bit(q).index]] for q in instruction.qubits]
        clbits = [wide.clbits[isa.find_bit(c).index] for c in instruction.clbits]
        wide.append(instruction.operation, qubits, clbits, copy=False)
    old = isa.layout
    initial = old.initial_index_layout(filter_ancillas=True) if old is not None else range(n)
    routing = old.routing_permutation() if old is not None else list(range(n))
    used = [physical[k] for k in initial]
    free = sorted(set(range(num_qubits)) - set(used))
    # virtual qubits without registers: QPY then writes the layout byte for byte the same on
    # every export (with the registers "q" and "ancilla" their order in the file varied)
    virtual = [Qubit() for _ in range(n)]
    ancillas = [Qubit() for _ in free]
    mapping = dict(zip(virtual, used, strict=True))
    mapping.update(zip(ancillas, free, strict=True))
    final = list(range(num_qubits))
    for k, j in enumerate(routing):
        final[physical[k]] = physical[j]
    wide._layout = TranspileLayout(
        initial_layout=Layout(mapping),
        input_qubit_mapping={bit: k for k, bit in enumerate([*virtual, *ancillas])},
        final_layout=Layout({wide.qubits[k]: final[k] for k in range(num_qubits)}),
        _input_qubit_count=n,
        _output_qubit_list=list(wide.qubits),
    )
    return wide


@dataclass(frozen=True)
class CircuitReport:
    """Cost of one ISA circuit on a line.

    ``success_probability`` is the product of (1 - error) over its gates (the line's scaled
    errors) and over the readouts of all line qubits: a rough estimate of the chance that no
    error occurs. ``layout[k]`` is the device qubit of chain site k (after any routing).
    """

    depth: int
    two_qubit_gates: int
    success_probability: float
    layout: tuple[int, ...]
    gate_counts: dict[str, int]


def report_circuit(qc: QuantumCircuit, line: DeviceLine) -> CircuitReport:
    """:class:`CircuitReport` of an ISA circuit of ``line``."""
    target = line.target
    log_success = 0.0
    for instruction in qc.data:
        name = instruction.operation.name
        if name == "barrier" or name not in target.operation_names:
            continue
        qargs = tuple(qc.find_bit(q).index for q in instruction.qubits)
        prop = target[name].get(qargs)
        if prop is not None and prop.error:
            log_success += math.log1p(-min(prop.error, 1.0 - 1e-15))
    for q in range(line.num_qubits):
        prop = target["measure"].get((q,)) if "measure" in target.operation_names else None
        if prop is not None and prop.error:
            log_success += math.log1p(-prop.error)
    counts = {str(k): int(v) for k, v in qc.count_ops().items() if k != "barrier"}
    final = qc.layout.final_index_layout() if qc.layout is not None else range(line.num_qubits)
    return CircuitReport(
        depth=int(qc.depth(lambda ins: ins.operation.name != "barrier")),
        two_qubit_gates=sum(counts.get(name, 0) for name in TWO_QUBIT_GATES),
        success_probability=math.exp(log_success),
        layout=tuple(line.layout[q] for q in final),
        gate_counts=counts,
    )
