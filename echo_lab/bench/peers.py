r"""The Trotter step of the XXZ chain on other state-vector simulators, side by side with ours.

Every peer runs the same gates (:func:`echo_lab.bench.circuits.rotation_sequence`: ``rz`` per
field, XX + YY + ZZ rotations per bond, in the order of the first-order product formula) from
the same product state; :func:`check_same_state` verifies that, amplitude by amplitude, against
Aer's gate-by-gate circuit and against ``trotter.circuit(H, order=1, fold_fields=False)``
(the same unitary). Variants (:data:`VARIANTS`):

=============================  ==================================================================
``echo_lab_order1``            ``trotter.circuit(H, order=1)`` (fields folded, fused 3-qubit
                               blocks) on Aer statevector
``echo_lab_order2``            the same at order 2 (Strang), the study default: the same cost
                               per step, one order more accurate
``aer_gate_by_gate_lie``       the plain first-order circuit on Aer, Aer's fusion on (default)
``aer_gate_by_gate_lie_nofuse``  the same with ``fusion_enable=False``
``aer_gate_by_gate_strang``    the Strang circuit gate by gate (the older headline's baseline)
``qulacs_lie_optimized``       qulacs, the first-order gates merged by
                               ``QuantumCircuitOptimizer.optimize(circuit, block_size)`` (once,
                               outside the timing)
``qsim_lie_fused``             qsim through ``qsimcirq`` (single precision, its own gate fusion
                               up to ``max_fused_gate_size`` qubits)
=============================  ==================================================================

Timing rule as in :mod:`echo_lab.bench.trotter_step`: (t(k_high) - t(k_low)) / (k_high - k_low),
every variant and both step counts interleaved, minimum and median over repeats, the load
recorded; each simulator limited to ``threads`` threads. Each time is also divided by the
fastest variant's (``over_fastest``). qulacs and qsimcirq come with ``pip install
'echo_lab[bench]'``; a peer that is not installed is recorded as such and left out.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any

import numpy as np
import scipy.sparse.linalg
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from echo_lab.bench.circuits import RotationSequence, gate_by_gate_circuit, rotation_sequence
from echo_lab.bench.model import (
    DT,
    benchmark_hamiltonian,
    model_record,
    prepared,
    run_aer,
    step_counts,
)
from echo_lab.bench.timing import (
    make_ratio,
    summarize,
    time_interleaved,
    time_per_step,
    watch_load,
)
from echo_lab.bench.trotter_step import timed_circuit
from echo_lab.dynamics import trotter
from echo_lab.errors import ConfigError
from echo_lab.resources import require_memory, statevector_bytes

__all__ = [
    "DEFAULT_ENGINE_STEPS",
    "PEER_DISTRIBUTIONS",
    "VARIANTS",
    "bench_default_engine",
    "bench_qsim_backend",
    "bench_trotter_peers",
    "check_same_state",
    "peer_versions",
    "qsim_state",
    "qulacs_state",
]

#: Distributions whose versions every peer record carries.
PEER_DISTRIBUTIONS = ("qiskit", "qiskit-aer", "qulacs", "qsimcirq", "cirq-core")

VARIANTS = (
    "echo_lab_order1",
    "echo_lab_order2",
    "aer_gate_by_gate_lie",
    "aer_gate_by_gate_lie_nofuse",
    "aer_gate_by_gate_strang",
    "qulacs_lie_optimized",
    "qsim_lie_fused",
)

#: The variant that stands for echo_lab's path in ``peer_over_echo_lab`` (same order as the peers).
ECHO_LAB_PATH = "echo_lab_order1"

#: (k_low, k_high) of qsim: its steps cost a tenth of the others', its fixed cost (circuit
#: translation, returning the state) does not; with Aer's counts its difference was noise.
QSIM_STEPS = (2, 12)

_QULACS_PAULI = {"X": 1, "Y": 2, "Z": 3}


def peer_versions() -> dict[str, str]:
    """Installed version of each of :data:`PEER_DISTRIBUTIONS` (``"not installed"`` if absent)."""
    versions = {}
    for name in PEER_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _prepare_angles(n: int) -> list[float]:
    """The ry angles of the benchmarks' product state (:func:`echo_lab.bench.model.prepared`)."""
    return [0.3 + 0.1 * q for q in range(n)]


def _qulacs_circuit(sequence: RotationSequence, *, block_size: int | None) -> Any:
    """The preparation and ``sequence`` as a qulacs circuit, merged by its optimizer if asked."""
    import qulacs
    from qulacs.circuit import QuantumCircuitOptimizer

    n = sequence.num_qubits
    circuit = qulacs.QuantumCircuit(n)
    for rotation in sequence.rotations:
        ids = [_QULACS_PAULI[p] for p in rotation.label]
        # qulacs rotates by exp(+i angle / 2 P); Qiskit's convention is exp(-i angle / 2 P).
        circuit.add_multi_Pauli_rotation_gate(list(rotation.qubits), ids, -rotation.angle)
    if block_size is not None:
        QuantumCircuitOptimizer().optimize(circuit, block_size)
    prepare = qulacs.QuantumCircuit(n)
    for q, angle in enumerate(_prepare_angles(n)):
        prepare.add_RotY_gate(q, angle)  # exp(-i angle / 2 Y), as Qiskit's ry
    return prepare, circuit


def _qulacs_action(sequence: RotationSequence, *, block_size: int | None, threads: int) -> Any:
    import qulacs
    from threadpoolctl import threadpool_limits

    prepare, circuit = _qulacs_circuit(sequence, block_size=block_size)

    def run() -> Any:
        with threadpool_limits(limits=threads, user_api="openmp"):
            state = qulacs.QuantumState(sequence.num_qubits)
            prepare.update_quantum_state(state)
            circuit.update_quantum_state(state)
        return state

    return run


def qulacs_state(sequence: RotationSequence, *, block_size: int | None = 2) -> np.ndarray:
    """Final state of the preparation and ``sequence`` on qulacs, shape ``(2^n,)``, Qiskit order.

    qulacs orders amplitudes as Qiskit does (qubit 0 least significant); the global phase of
    ``sequence`` is applied.
    """
    state = _qulacs_action(sequence, block_size=block_size, threads=1)()
    return np.asarray(state.get_vector()) * np.exp(1j * sequence.global_phase)


def _cirq_circuit(sequence: RotationSequence) -> tuple[Any, list[Any]]:
    """The preparation and ``sequence`` as a Cirq circuit; its qubits, qubit n - 1 first."""
    import cirq

    qubits = cirq.LineQubit.range(sequence.num_qubits)
    gates: dict[str, Any] = {
        "X": cirq.XPowGate,
        "Y": cirq.YPowGate,
        "Z": cirq.ZPowGate,
        "XX": cirq.XXPowGate,
        "YY": cirq.YYPowGate,
        "ZZ": cirq.ZZPowGate,
    }
    operations = [
        cirq.ry(angle)(q) for q, angle in zip(qubits, _prepare_angles(len(qubits)), strict=True)
    ]
    for rotation in sequence.rotations:
        # exponent t, global shift -1/2: exp(-i pi t / 2 P), Qiskit's rotation by angle pi t.
        gate = gates[rotation.label](exponent=rotation.angle / np.pi, global_shift=-0.5)
        operations.append(gate(*(qubits[q] for q in rotation.qubits)))
    # Cirq's first qubit is the most significant: reversed, the order is Qiskit's.
    return cirq.Circuit(operations), list(reversed(qubits))


def _qsim_action(sequence: RotationSequence, *, fused_gate_size: int, threads: int) -> Any:
    import qsimcirq

    circuit, order = _cirq_circuit(sequence)
    options = qsimcirq.QSimOptions(max_fused_gate_size=fused_gate_size, cpu_threads=threads)
    simulator = qsimcirq.QSimSimulator(qsim_options=options)
    return lambda: simulator.simulate(circuit, qubit_order=order).final_state_vector


def qsim_state(sequence: RotationSequence, *, fused_gate_size: int = 3) -> np.ndarray:
    """Final state of the preparation and ``sequence`` on qsim (complex64), in Qiskit order."""
    state = _qsim_action(sequence, fused_gate_size=fused_gate_size, threads=1)()
    return np.asarray(state) * np.exp(1j * sequence.global_phase)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_same_state(
    n: int, *, steps: int = 3, qulacs_block_size: int = 2, qsim_fused_gate_size: int = 3
) -> dict[str, Any]:
    """Every first-order variant's final state against Aer's gate-by-gate one, at ``n`` qubits.

    Returns the largest amplitude difference of each (qulacs and qsim where installed, and
    ``trotter.circuit(H, order=1, fold_fields=False)``): ~1e-15 in double precision, ~1e-7 for
    qsim's single precision. Context: the distance of the Lie state, and of echo_lab's default
    (order 2, folded fields), from the exact exp(-i H t)|psi> (their Trotter errors).
    """
    hamiltonian = benchmark_hamiltonian(n)
    sequence = rotation_sequence(hamiltonian, dt=DT, steps=steps, order=1)
    reference = Statevector(
        prepared(gate_by_gate_circuit(hamiltonian, dt=DT, steps=steps, order=1))
    )
    states = {
        "echo_lab_order1_unfolded": Statevector(
            prepared(
                trotter.circuit(
                    hamiltonian, time=steps * DT, steps=steps, order=1, fold_fields=False
                )
            )
        ).data
    }
    if _installed("qulacs"):
        states["qulacs_lie_optimized"] = qulacs_state(sequence, block_size=qulacs_block_size)
    if _installed("qsimcirq"):
        states["qsim_lie_fused"] = qsim_state(sequence, fused_gate_size=qsim_fused_gate_size)
    initial = Statevector(prepared(QuantumCircuit(n))).data
    exact = scipy.sparse.linalg.expm_multiply(
        -1j * steps * DT * hamiltonian.to_matrix(sparse=True), initial
    )
    strang = Statevector(
        prepared(trotter.circuit(hamiltonian, time=steps * DT, steps=steps, order=2))
    ).data
    return {
        "n": n,
        "steps": steps,
        "max_abs_difference_vs_aer_gate_by_gate_lie": {
            name: float(np.max(np.abs(state - reference.data))) for name, state in states.items()
        },
        "trotter_error_lie_vs_exact": float(np.linalg.norm(reference.data - exact)),
        "trotter_error_echo_lab_order2_vs_exact": float(np.linalg.norm(strang - exact)),
    }


def _peer_runs(
    n: int, *, threads: int, qulacs_block_size: int, qsim_fused_gate_size: int
) -> dict[str, Callable[[int], Callable[[], object]]]:
    """Per variant of :data:`VARIANTS` (installed ones): k -> the action running k steps."""
    from qiskit_aer import AerSimulator

    hamiltonian = benchmark_hamiltonian(n)
    aer = AerSimulator(method="statevector", max_parallel_threads=threads, enable_truncation=False)
    aer_nofuse = AerSimulator(
        method="statevector",
        max_parallel_threads=threads,
        enable_truncation=False,
        fusion_enable=False,
    )

    def on_aer(
        build: Callable[[int], Any], simulator: Any
    ) -> Callable[[int], Callable[[], object]]:
        def with_steps(k: int) -> Callable[[], object]:
            qc = timed_circuit(build(k))
            return lambda: run_aer(simulator, qc)

        return with_steps

    def ours(order: int) -> Callable[[int], Any]:
        return lambda k: trotter.circuit(hamiltonian, time=k * DT, steps=k, order=order)

    def plain(order: int) -> Callable[[int], Any]:
        return lambda k: gate_by_gate_circuit(hamiltonian, dt=DT, steps=k, order=order)

    def lie(k: int) -> RotationSequence:
        return rotation_sequence(hamiltonian, dt=DT, steps=k, order=1)

    runs = {
        "echo_lab_order1": on_aer(ours(1), aer),
        "echo_lab_order2": on_aer(ours(2), aer),
        "aer_gate_by_gate_lie": on_aer(plain(1), aer),
        "aer_gate_by_gate_lie_nofuse": on_aer(plain(1), aer_nofuse),
        "aer_gate_by_gate_strang": on_aer(plain(2), aer),
    }
    if _installed("qulacs"):
        runs["qulacs_lie_optimized"] = lambda k: _qulacs_action(
            lie(k), block_size=qulacs_block_size, threads=threads
        )
    if _installed("qsimcirq"):
        runs["qsim_lie_fused"] = lambda k: _qsim_action(
            lie(k), fused_gate_size=qsim_fused_gate_size, threads=threads
        )
    return runs


def _peer_size(n: int, *, repeats: int, threads: int, **options: int) -> dict[str, Any]:
    k_low, k_high = step_counts(n)
    runs = _peer_runs(n, threads=threads, **options)
    with watch_load() as load:
        variants = time_per_step(
            runs,
            k_low=k_low,
            k_high=k_high,
            repeats=repeats,
            step_counts={"qsim_lie_fused": QSIM_STEPS} if "qsim_lie_fused" in runs else None,
        )
    resolved = [name for name in variants if variants[name]["resolved"]]
    if not resolved:
        raise RuntimeError(f"no step time at N = {n} stood above the noise; use more repeats")
    fastest = min(resolved, key=lambda name: variants[name]["seconds_per_step"]["min"])
    for name, variant in variants.items():
        variant["over_fastest"] = make_ratio(
            variant["seconds_per_step"],
            variants[fastest]["seconds_per_step"],
            numerator_name=name,
            baseline_name=fastest,
            load=load,
        )
    peer_over_echo_lab = {
        name: make_ratio(
            variants[ECHO_LAB_PATH]["seconds_per_step"],
            variants[name]["seconds_per_step"],
            numerator_name=ECHO_LAB_PATH,
            baseline_name=name,
            load=load,
        )["value"]
        for name in variants
        if not name.startswith("echo_lab") and variants[name]["resolved"]
    }
    return {
        "n": n,
        "k_low": k_low,
        "k_high": k_high,
        "load": load,
        "fastest": fastest,
        "variants": variants,
        "echo_lab_over_peer": peer_over_echo_lab,
    }


def bench_trotter_peers(
    *,
    sizes: Sequence[int] = (20, 22, 24),
    repeats: int = 3,
    threads: int = 1,
    check_n: int = 12,
    qulacs_block_size: int = 2,
    qsim_fused_gate_size: int = 3,
) -> dict[str, Any]:
    """Seconds per first-order step of the XXZ chain on every installed peer (module docstring).

    Per N of ``sizes``: each variant's ``seconds_per_step`` (min and median), ``over_fastest``
    (its time / the fastest variant's, both named) and ``echo_lab_over_peer`` (echo_lab's order-1
    time / each other variant's: above 1 the peer is faster). ``same_state``:
    :func:`check_same_state` at ``check_n``. Memory: about three state vectors of the largest N
    (checked first); cost: the gate-by-gate runs without fusion dominate (4N - 3 gates per step,
    each a pass over the 2^N amplitudes).
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    largest = max(sizes)
    require_memory(
        3 * statevector_bytes(largest),
        what=f"the Trotter peer comparison at N = {largest}",
        suggestion="Leave out the largest sizes.",
    )
    options = {"qulacs_block_size": qulacs_block_size, "qsim_fused_gate_size": qsim_fused_gate_size}
    return {
        "model": model_record(dt=DT, order=1),
        "versions": peer_versions(),
        "threads": threads,
        "options": options,
        "echo_lab_path": ECHO_LAB_PATH,
        "same_state": check_same_state(check_n, **options),
        "sizes": [_peer_size(int(n), repeats=repeats, threads=threads, **options) for n in sizes],
    }


def bench_qsim_backend(*, n: int = 20, repeats: int = 2) -> dict[str, Any]:
    """One FID trace (20 log-spaced times to t = 10) at ``n``: the aer and qsim backends.

    Both run echo_lab's Strang circuits (dt = 0.05, fields folded) from the same z-random
    product state on all cores (their defaults), interleaved; records their times,
    ``aer_over_qsim`` and the largest difference of <sigma^x_p> (qsim is single precision:
    about 1e-6).
    """
    from echo_lab.backends.aer import AerBackend
    from echo_lab.backends.base import Backend
    from echo_lab.backends.qsim import QsimBackend
    from echo_lab.bench.model import fid_times, probe_x
    from echo_lab.physics.states import probe_state
    from echo_lab.protocols.sequences import build_fid

    hamiltonian = benchmark_hamiltonian(n)
    state = probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(7))
    times = fid_times()
    observables = {"sx": probe_x(n)}
    backends: dict[str, Backend] = {
        "aer": AerBackend(method="statevector", dt=DT, order=2),
        "qsim": QsimBackend(dt=DT, order=2),
    }
    with watch_load() as load:
        seconds, traces = time_interleaved(
            {
                name: functools.partial(
                    backend.run, hamiltonian, build_fid(), state, times, observables=observables
                )
                for name, backend in backends.items()
            },
            repeats=repeats,
        )
    return {
        "n": n,
        "times": times.tolist(),
        "load": load,
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "aer_over_qsim": make_ratio(
            seconds["aer"], seconds["qsim"], numerator_name="aer", baseline_name="qsim", load=load
        ),
        "max_abs_difference_sx": float(np.max(np.abs(traces["aer"]["sx"] - traces["qsim"]["sx"]))),
    }


#: Hahn-echo Trotter steps (k_low, k_high; even, half per free segment) of the default-engine
#: timing: qsim's steps are cheap, so the difference needs more of them than Aer's counts.
DEFAULT_ENGINE_STEPS = (4, 24)


def _default_engine_size(
    n: int, *, repeats: int, threads: int, steps: tuple[int, int]
) -> dict[str, Any]:
    """One N of :func:`bench_default_engine`."""
    import qsimcirq
    from qiskit.circuit.library import UnitaryGate

    from echo_lab.backends.auto import resolve_auto_backend
    from echo_lab.backends.options import BackendSpec, build_backend
    from echo_lab.backends.qsim import circuit_to_cirq
    from echo_lab.bench.model import probe_x
    from echo_lab.dynamics.pulses import pbit_pulse
    from echo_lab.physics.states import probe_state
    from echo_lab.protocols.sequences import build_hahn

    hamiltonian = benchmark_hamiltonian(n)
    probe = n // 2
    pulse = pbit_pulse(probe)
    sequence = build_hahn(pulse)
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(7))
    observables = {"sx": probe_x(n)}
    auto = BackendSpec(name="auto", trotter=trotter.TrotterSettings(DT, 2))
    spec, choice = resolve_auto_backend(auto, n=n, longest_time=steps[1] * DT)
    if spec.name == "qsim":
        spec = dataclasses.replace(spec, options=(("threads", threads),))
    backend = build_backend(spec)
    split = trotter.split_layers(hamiltonian)
    options = qsimcirq.QSimOptions(
        max_fused_gate_size=3, cpu_threads=threads, denormals_are_zeros=True
    )
    simulator = qsimcirq.QSimSimulator(qsim_options=options)
    start = state.vector().astype(np.complex64)

    def default(k: int) -> Callable[[], Any]:
        times = np.array([k * DT])
        return lambda: backend.run(hamiltonian, sequence, state, times, observables=observables)

    def raw_circuit(k: int) -> tuple[Any, list[Any]]:
        half = trotter.evolution_circuit(split, dt=DT, steps=k // 2, order=2)
        qc = half.copy()
        qc.append(UnitaryGate(pulse.dense_matrix()), [probe])
        qc.compose(half, inplace=True)
        return circuit_to_cirq(qc)

    def raw(k: int) -> Callable[[], Any]:
        circuit, order = raw_circuit(k)
        return lambda: simulator.simulate(circuit, qubit_order=order, initial_state=start)

    def timed() -> dict[str, Any]:
        return time_per_step(
            {"default": default, "raw_qsim": raw}, k_low=steps[0], k_high=steps[1], repeats=repeats
        )

    # Raw qsim with denormals_are_zeros sets the flush-to-zero flags of the thread that calls it
    # and leaves them set (the backend calls qsim from a thread of its own for that reason): both
    # variants run in one thread of their own too, so the caller keeps IEEE subnormals.
    with watch_load() as load, ThreadPoolExecutor(1, thread_name_prefix="raw-qsim") as own:
        variants = own.submit(timed).result()
        raw_result = own.submit(lambda: raw(steps[1])()).result()
    raw_state = np.asarray(raw_result.final_state_vector, dtype=complex)
    raw_sx = float(np.real(np.vdot(raw_state, probe_x(n).to_matrix(sparse=True) @ raw_state)))
    default_sx = float(default(steps[1])()["sx"][0])
    return {
        "n": n,
        "load": load,
        "backend_chosen": choice.name,
        "backend_choice": choice.reason,
        "variants": variants,
        "default_over_raw": make_ratio(
            variants["default"]["seconds_per_step"],
            variants["raw_qsim"]["seconds_per_step"],
            numerator_name="default",
            baseline_name="raw_qsim",
            load=load,
        ),
        "max_abs_difference_sx": abs(raw_sx - default_sx),
    }


def bench_default_engine(
    *,
    sizes: Sequence[int] = (20, 22),
    repeats: int = 3,
    threads: int = 1,
    steps: tuple[int, int] = DEFAULT_ENGINE_STEPS,
) -> dict[str, Any]:
    """Seconds per Trotter step of a Hahn echo on the default engine, against raw qsim.

    Per N of ``sizes``: ``[backend] name = "auto"`` resolved as a study would
    (:func:`echo_lab.backends.auto.resolve_auto_backend`; the record names the choice) and built
    with ``threads``, running a Hahn echo (p-bit pulse on the middle site, Strang order 2,
    dt = 0.05, one total time of k steps) through its ``run`` (circuit building and translation,
    the pulse in numpy, <sigma^x_p>: everything a study pays per step), against
    ``qsimcirq.QSimSimulator.simulate`` of the same circuit (both halves and the pulse as one
    Cirq circuit, translated once outside the timing, the same qsim options). Timing rule of
    :func:`echo_lab.bench.timing.time_per_step` (k_high - k_low steps, interleaved, min and
    median). ``default_over_raw``: above 1 the default path is slower per step (goal: <= 1.3).
    ``max_abs_difference_sx``: <sigma^x_p> of the two at k_high (the same circuit: ~1e-7).
    Memory: four state vectors of the largest N (checked first).
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    if any(k < 2 or k % 2 for k in steps) or steps[0] >= steps[1]:
        raise ConfigError(f"steps must be two even counts k_low < k_high, got {steps!r}")
    require_memory(
        4 * statevector_bytes(max(sizes)),
        what=f"the default-engine timing at N = {max(sizes)}",
        suggestion="Leave out the largest sizes.",
    )
    return {
        "model": model_record(dt=DT, order=2, sequence="hahn", pulse="pbit", probe="n // 2"),
        "versions": peer_versions(),
        "threads": threads,
        "steps": list(steps),
        "sizes": [
            _default_engine_size(int(n), repeats=repeats, threads=threads, steps=steps)
            for n in sizes
        ],
    }
