r"""One Trotter step of the XXZ chain on Aer statevector: ours, gate by gate, and the bound.

Timing rule: a step takes ``(t(k_high) - t(k_low)) / (k_high - k_low)`` with t a full Aer run
(state preparation, k merged steps, one expectation value), so the fixed cost of a run cancels;
all variants and both step counts run interleaved (:func:`~echo_lab.bench.timing.time_per_step`).
No truncation (Aer would otherwise simulate only the light cone of the saved observable).

The memory-bandwidth bound of a circuit is (gates per step) x 2 x 16 x 2^N bytes / copy
bandwidth: every gate is one read and one write of the complex128 state vector. One-thread runs
are held against the bandwidth of one copying thread, all-core runs against all cores copying.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from echo_lab.bench.circuits import gate_by_gate_circuit
from echo_lab.bench.model import (
    DT,
    ORDER,
    benchmark_hamiltonian,
    check_aer_devices,
    model_record,
    prepared,
    run_aer,
    step_counts,
)
from echo_lab.bench.report import headline
from echo_lab.bench.timing import (
    make_ratio,
    measure_copy_bandwidth,
    time_per_step,
    watch_load,
)
from echo_lab.dynamics import trotter
from echo_lab.resources import require_memory, statevector_bytes, usable_cores

__all__ = [
    "bench_trotter_devices",
    "bench_trotter_step",
    "timed_circuit",
    "trotter_device_headlines",
    "trotter_step_headlines",
]

#: The baselines of the step ratio: the plain first-order circuit most users write, and the
#: Strang circuit written gate by gate (the older headline's baseline).
BASELINES = ("gate_by_gate_lie", "gate_by_gate_strang")


def timed_circuit(body: QuantumCircuit) -> QuantumCircuit:
    """:func:`~echo_lab.bench.model.prepared` ``body`` plus one <Z...Z> save (no big result)."""
    n = body.num_qubits
    qc = prepared(body)
    qc.save_expectation_value(SparsePauliOp("Z" * n), list(range(n)), label="z")
    return qc


def _aer_runs(
    builders: Mapping[str, tuple[Callable[[int], QuantumCircuit], Any]],
) -> dict[str, Callable[[int], Callable[[], object]]]:
    """Per variant: k -> the action running its prebuilt k-step circuit on its simulator."""

    def prepare(build: Callable[[int], QuantumCircuit], simulator: Any) -> Callable[..., Any]:
        def with_steps(k: int) -> Callable[[], object]:
            qc = timed_circuit(build(k))
            return lambda: run_aer(simulator, qc)

        return with_steps

    return {name: prepare(build, simulator) for name, (build, simulator) in builders.items()}


def _gate_by_gate(hamiltonian: SparsePauliOp, k: int, *, order: int) -> QuantumCircuit:
    return gate_by_gate_circuit(hamiltonian, dt=DT, steps=k, order=order)


def _step_builders(
    n: int, *, gate_by_gate: bool, threads: Sequence[int]
) -> dict[str, tuple[Callable[[int], QuantumCircuit], int]]:
    """name -> (k-step circuit builder, Aer threads) of the variants timed at ``n``."""
    hamiltonian = benchmark_hamiltonian(n)

    def ours(k: int) -> QuantumCircuit:
        return trotter.circuit(hamiltonian, time=k * DT, steps=k, order=ORDER)

    builders: dict[str, tuple[Callable[[int], QuantumCircuit], int]] = {"ours": (ours, 1)}
    if max(threads) > 1:
        builders["ours_all_cores"] = (ours, max(threads))
    if gate_by_gate:
        for order, name in ((1, BASELINES[0]), (2, BASELINES[1])):
            builders[name] = (functools.partial(_gate_by_gate, hamiltonian, order=order), 1)
    return builders


def _trotter_size(
    n: int, *, repeats: int, gate_by_gate: bool, bandwidth: Mapping[int, float]
) -> dict[str, Any]:
    """One N of :func:`bench_trotter_step`; ``bandwidth`` maps thread counts to bytes/s."""
    from qiskit_aer import AerSimulator

    k_low, k_high = step_counts(n)
    builders = _step_builders(n, gate_by_gate=gate_by_gate, threads=list(bandwidth))
    simulators = {
        threads: AerSimulator(
            method="statevector", max_parallel_threads=threads, enable_truncation=False
        )
        for threads in bandwidth
    }
    runs = _aer_runs({name: (build, simulators[t]) for name, (build, t) in builders.items()})
    with watch_load() as load:
        variants = time_per_step(
            runs, k_low=k_low, k_high=k_high, repeats=repeats if n < 24 else max(1, repeats - 1)
        )
    for name, (build, threads) in builders.items():
        gates = (build(k_high).size() - build(k_low).size()) / (k_high - k_low)
        bound = gates * 2 * statevector_bytes(n) / bandwidth[threads]
        step = variants[name]["seconds_per_step"]
        variants[name].update(
            gates_per_step=gates,
            aer_threads=threads,
            bandwidth_bound_seconds_per_step=bound,
            over_bandwidth_bound=make_ratio(
                step,
                {"min": bound, "median": bound},
                numerator_name=name,
                baseline_name=f"bandwidth bound ({threads} copying threads)",
                load=load,
            ),
        )
    ratios = {
        f"ours_over_{baseline}": make_ratio(
            variants["ours"]["seconds_per_step"],
            variants[baseline]["seconds_per_step"],
            numerator_name="ours",
            baseline_name=baseline,
            load=load,
        )
        for baseline in BASELINES
        if baseline in variants
    }
    return {"n": n, "k_low": k_low, "k_high": k_high, "load": load, "variants": variants, **ratios}


def _same_state_check(n: int, steps: int) -> dict[str, float]:
    """The gate-by-gate baselines against ours, amplitude by amplitude, at a small N."""
    hamiltonian = benchmark_hamiltonian(n)

    def state(qc: QuantumCircuit) -> Statevector:
        return Statevector(prepared(qc))

    out: dict[str, float] = {"n": n, "steps": steps}
    for order, name in ((1, BASELINES[0]), (2, BASELINES[1])):
        baseline = state(gate_by_gate_circuit(hamiltonian, dt=DT, steps=steps, order=order))
        unfolded = state(
            trotter.circuit(
                hamiltonian, time=steps * DT, steps=steps, order=order, fold_fields=False
            )
        )
        out[f"{name}_vs_ours_unfolded_order{order}_max_abs_difference"] = float(
            np.max(np.abs(baseline.data - unfolded.data))
        )
    ours = state(trotter.circuit(hamiltonian, time=steps * DT, steps=steps, order=ORDER))
    strang = state(gate_by_gate_circuit(hamiltonian, dt=DT, steps=steps, order=2))
    out["ours_vs_gate_by_gate_strang_infidelity"] = float(1.0 - abs(strang.inner(ours)) ** 2)
    return out


def bench_trotter_step(
    *, sizes: Sequence[int], repeats: int, gate_by_gate_max_n: int, check_n: int = 8
) -> dict[str, Any]:
    """Seconds per Trotter step on Aer statevector: ours vs two gate-by-gate baselines vs the bound.

    Per N, interleaved: ``ours`` (``trotter.circuit``, order 2, fields folded into the bonds,
    blocks fused into 3-qubit unitaries) on one Aer thread and on all cores
    (``ours_all_cores``); up to ``gate_by_gate_max_n`` the baselines ``gate_by_gate_lie`` (the
    plain first-order circuit) and ``gate_by_gate_strang`` (:func:`gate_by_gate_circuit`, Aer's
    own fusion on), one thread each. Ratios ``ours_over_<baseline>`` and each variant's
    ``over_bandwidth_bound`` (module docstring) name their baselines. ``same_state`` checks at
    ``check_n`` that each baseline equals ``trotter.circuit(..., fold_fields=False)`` of its
    order amplitude by amplitude (ours, with folded fields, is another Strang splitting: its
    infidelity against the Strang baseline is O(dt^6) per step, not zero). Memory: about three
    state vectors of the largest N, checked first; cost dominated by the largest N.
    """
    largest = max(sizes)
    require_memory(
        3 * statevector_bytes(largest),
        what=f"the Trotter-step benchmark at N = {largest}",
        suggestion="Leave out the largest sizes.",
    )
    cores = usable_cores()
    bandwidth = {threads: measure_copy_bandwidth(threads=threads) for threads in {1, cores}}
    return {
        "model": model_record(dt=DT, order=ORDER),
        "aer_options": {"method": "statevector", "max_parallel_threads": sorted(bandwidth)},
        "copy_bandwidth_bytes_per_second": {str(t): b for t, b in sorted(bandwidth.items())},
        "cores": cores,
        "same_state": _same_state_check(check_n, 3),
        "sizes": [
            _trotter_size(
                int(n), repeats=repeats, gate_by_gate=n <= gate_by_gate_max_n, bandwidth=bandwidth
            )
            for n in sizes
        ],
    }


def trotter_step_headlines(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Headlines: ours / each baseline (target <= 0.7 against Strang at N = 22-24, the original
    target), ours / bandwidth bound (target <= 3) on one thread and on all cores."""
    lines = []
    for entry in result["sizes"]:
        n, variants = entry["n"], entry["variants"]
        context = f"ours {variants['ours']['seconds_per_step']['min']:.3g} s/step"
        for baseline in BASELINES:
            if f"ours_over_{baseline}" in entry:
                target = 0.7 if baseline == "gate_by_gate_strang" and 22 <= n <= 24 else None
                lines.append(
                    headline(
                        f"Trotter step ours / {baseline}, N = {n}",
                        entry[f"ours_over_{baseline}"],
                        target=target,
                        comparison="<=",
                        context=context,
                    )
                )
        for name in ("ours", "ours_all_cores"):
            if name in variants:
                variant = variants[name]
                lines.append(
                    headline(
                        f"Trotter step {name} / bandwidth bound, N = {n}",
                        variant["over_bandwidth_bound"],
                        target=3.0,
                        comparison="<=",
                        context=f"{variant['gates_per_step']:.1f} gates/step, "
                        f"{variant['aer_threads']} Aer threads",
                    )
                )
    return lines


def _device_size(n: int, devices: Sequence[str], *, cpu_max_n: int, repeats: int) -> dict[str, Any]:
    """One N of :func:`bench_trotter_devices`: the devices interleaved."""
    from qiskit.exceptions import QiskitError
    from qiskit_aer import AerSimulator

    hamiltonian = benchmark_hamiltonian(n)
    k_low, k_high = step_counts(n)

    def ours(k: int) -> QuantumCircuit:
        return trotter.circuit(hamiltonian, time=k * DT, steps=k, order=ORDER)

    timed = [d for d in devices if not (d == "CPU" and n > cpu_max_n)]
    builders = {
        d: (ours, AerSimulator(method="statevector", device=d, enable_truncation=False))
        for d in timed
    }
    entry: dict[str, Any] = {"n": n, "k_low": k_low, "k_high": k_high, "devices": {}}
    if not builders:  # only the CPU asked for, above cpu_max_n
        return entry
    try:
        with watch_load() as load:
            entry["devices"] = time_per_step(
                _aer_runs(builders), k_low=k_low, k_high=k_high, repeats=repeats
            )
    except (RuntimeError, QiskitError) as exc:  # e.g. the state does not fit on the device
        entry["failed"] = str(exc)
        return entry
    entry["load"] = load
    if "CPU" in entry["devices"] and "GPU" in entry["devices"]:
        entry["gpu_over_cpu"] = make_ratio(
            entry["devices"]["GPU"]["seconds_per_step"],
            entry["devices"]["CPU"]["seconds_per_step"],
            numerator_name="GPU",
            baseline_name=f"CPU, {usable_cores()} cores",
            load=load,
        )
    return entry


def bench_trotter_devices(
    *,
    sizes: Sequence[int],
    devices: Sequence[str] = ("CPU", "GPU"),
    cpu_max_n: int = 26,
    repeats: int = 2,
) -> dict[str, Any]:
    """Seconds per Strang step of our circuit on each Aer device (CPU: all cores), per N.

    The timing rule of :func:`bench_trotter_step`, devices interleaved. The CPU is timed up to
    ``cpu_max_n`` (its state checked against the free memory first); the GPU at every N, and an
    N whose state does not fit on the device is recorded with Aer's message (``failed``) instead
    of times. ``gpu_over_cpu`` where both ran. ConfigError, before any work, for a device Aer
    does not see (with the install hint for the GPU build).
    """
    available = check_aer_devices(devices)
    cpu_sizes = [n for n in sizes if n <= cpu_max_n]
    if "CPU" in devices and cpu_sizes:
        require_memory(
            2 * statevector_bytes(max(cpu_sizes)),
            what=f"the CPU Trotter step at N = {max(cpu_sizes)}",
            suggestion="Lower cpu_max_n.",
        )
    return {
        "model": model_record(dt=DT, order=ORDER),
        "aer_devices": available,
        "cpu_threads": usable_cores(),
        "sizes": [
            _device_size(int(n), devices, cpu_max_n=cpu_max_n, repeats=repeats) for n in sizes
        ],
    }


def trotter_device_headlines(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Headlines: GPU / CPU (all cores) per N where both devices ran (no target)."""
    return [
        headline(
            f"Trotter step GPU / CPU, N = {entry['n']}",
            entry["gpu_over_cpu"],
            target=None,
            comparison="<=",
            context=f"GPU {entry['devices']['GPU']['seconds_per_step']['min']:.3g} s/step",
        )
        for entry in result["sizes"]
        if "gpu_over_cpu" in entry
    ]
