r"""Transpile once, bind many: disorder realizations of one FID trace, and what one gate costs.

The binding metric (issue 14): the **marginal cost** of one more realization,
m = (t(R) - t(1)) / (R - 1), against the **per-gate floor**: Aer's measured cost of each gate
(:func:`measure_gate_seconds`) times the gates of one realization's circuit
(:func:`bound_fid_circuit`), divided by the experiments Aer runs at once (one per core below
``PARALLEL_BINDINGS_QUBITS`` qubits). m / floor near 1 means a realization costs its simulation
and nothing else; the target is <= 1.3 on CPU. (The former t(R) / t(1) was dominated by the fixed
cost of one run.)

:func:`bench_batched_binding` runs the same bound circuit with all realizations in one Aer call
(``parameter_binds`` with R values per parameter), on each device, with Aer's runtime parameter
binding off and on: the GPU check of :mod:`experiments/benchmarks/gpu_check.sh`, which also runs
on CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, ParameterVector
from qiskit.circuit.library import RZGate, UnitaryGate
from qiskit.quantum_info import SparsePauliOp, random_unitary
from qiskit.transpiler import PassManager
from qiskit.transpiler.passes import Collect2qBlocks, ConsolidateBlocks

from echo_lab.bench.model import (
    DT,
    JZ,
    ORDER,
    J,
    W,
    check_aer_devices,
    fid_times,
    probe_x,
    run_aer,
)
from echo_lab.bench.report import headline
from echo_lab.bench.timing import (
    make_ratio,
    summarize,
    time_interleaved,
    watch_load,
)
from echo_lab.dynamics import parametric
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.resources import usable_cores

__all__ = [
    "bench_batched_binding",
    "bench_binding",
    "binding_headlines",
    "bound_fid_circuit",
    "measure_gate_seconds",
    "realization_inputs",
]


def realization_inputs(n: int, realizations: int) -> tuple[list[models.RandomFieldXXZ], list[Any]]:
    """The models (fields from ``SeedSequence(11)``) and initial states (z-random background
    from ``SeedSequence(12)``, probe n // 2 in |+>) of the binding benchmarks."""
    from echo_lab.physics.states import probe_state

    seeds = np.random.SeedSequence(11).spawn(realizations)
    chain = [models.RandomFieldXXZ(n=n, W=W, J=J, Jz=JZ, seed=s) for s in seeds]
    states = [
        probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(s))
        for s in np.random.SeedSequence(12).spawn(realizations)
    ]
    return chain, states


def bound_fid_circuit(
    model: models.HamiltonianModel, times: np.ndarray, *, initial: QuantumCircuit
) -> tuple[QuantumCircuit, ParameterVector]:
    """The FID trace as one circuit with the fields as parameters, as Aer binds it.

    ``initial`` prepares the state; then, for each time of ``times`` (multiples of DT), the
    Strang steps since the previous time (``parametric.parameterized_circuit`` with dt bound, each
    bond's gates consolidated into one two-qubit unitary, as
    :meth:`~echo_lab.backends.aer.AerBackend.run_realizations` does) and a save of <sigma^x_p>
    labelled ``"sx@k"`` (k steps). Returns the circuit and its field parameters (one per qubit).
    """
    n = model.n
    fields = ParameterVector("h", n)
    consolidate = PassManager([Collect2qBlocks(), ConsolidateBlocks(force_consolidate=True)])
    qc = initial.copy()
    done = 0
    for k in np.unique(np.round(np.asarray(times) / DT).astype(int)):
        if k > done:
            piece, own_fields, own_dt = parametric.parameterized_circuit(
                model, steps=int(k - done), order=ORDER
            )
            mapping: dict[Any, Any] = {own_dt: DT, **dict(zip(own_fields, fields, strict=True))}
            qc.compose(consolidate.run(piece.assign_parameters(mapping)), inplace=True)
            done = int(k)
        qc.save_expectation_value(probe_x(n), list(range(n)), label=f"sx@{k}")
    return qc, fields


def _gate_circuit(n: int, gates: Sequence[Gate], count: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    for i in range(count):
        gate = gates[i % len(gates)]
        start = (5 * i) % (n - gate.num_qubits + 1)
        qc.append(gate, list(range(start, start + gate.num_qubits)))
    qc.save_expectation_value(SparsePauliOp("Z" * n), list(range(n)))
    return qc


def measure_gate_seconds(
    n: int, gates: Sequence[Gate], *, extra: int | None = None, repeats: int = 3, threads: int = 1
) -> float:
    """Seconds Aer statevector spends on one of ``gates`` (cycled, on varied qubits) at ``n``.

    ``(t(8 + extra) - t(8)) / extra`` with t Aer's own ``time_taken`` of a circuit of that many
    gates, the minimum over ``repeats``, the two circuits interleaved; fusion off (every gate one
    pass), no truncation, ``threads`` OpenMP threads. ``extra`` defaults to enough gates that
    the difference is far above the noise (2^(21 - n), at least 8).
    """
    from qiskit_aer import AerSimulator

    extra = max(8, 2 ** max(0, 21 - n)) if extra is None else extra
    if extra < 1:
        raise ConfigError(f"extra must be >= 1, got {extra}")
    simulator = AerSimulator(
        method="statevector",
        max_parallel_threads=threads,
        statevector_parallel_threshold=min(14, n - 1),
        fusion_enable=False,
        enable_truncation=False,
    )
    circuits = {count: _gate_circuit(n, gates, count) for count in (8, 8 + extra)}
    taken: dict[int, list[float]] = {count: [] for count in circuits}
    for _ in range(repeats):
        for count, qc in circuits.items():
            taken[count].append(run_aer(simulator, qc).results[0].time_taken)
    return (min(taken[8 + extra]) - min(taken[8])) / extra


def _gate_costs(n: int, counts: Mapping[str, int], *, repeats: int) -> dict[str, float]:
    """Seconds per gate of each operation of ``counts`` (2-qubit unitaries, 1-qubit rotations)."""
    rng_unitaries = [UnitaryGate(random_unitary(4, seed=20 + i)) for i in range(4)]
    one_qubit = [RZGate(0.1 + 0.2 * i) for i in range(4)]
    costs = {}
    for name in counts:
        if name.startswith("save"):
            continue
        gates = rng_unitaries if name == "unitary" else one_qubit
        costs[name] = measure_gate_seconds(n, gates, repeats=repeats)
    return costs


def _per_gate_floor(
    n: int, circuit: QuantumCircuit, *, parallel: int, repeats: int
) -> dict[str, Any]:
    counts = {name: int(c) for name, c in circuit.count_ops().items()}
    if any(name not in ("unitary", "rz", "ry") and not name.startswith("save") for name in counts):
        raise ConfigError(f"unexpected operations in the bound circuit: {sorted(counts)}")
    costs = _gate_costs(n, counts, repeats=repeats)
    one_core = sum(counts[name] * cost for name, cost in costs.items())
    return {
        "gate_counts": counts,
        "seconds_per_gate": costs,
        "seconds_per_realization_one_core": one_core,
        "parallel_experiments": parallel,
        "seconds_per_realization": one_core / parallel,
    }


def _time_binding(
    chain: list[models.RandomFieldXXZ], states: list[Any], *, rebuilt: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, Any]]:
    """Interleaved times of bound_one, bound_all and rebuild, their results, the load."""
    from echo_lab.backends.aer import AerBackend
    from echo_lab.dynamics.schedule import Free, PulseSequence

    n = chain[0].n
    fields = np.array([m.fields for m in chain])
    times = fid_times()
    fid = PulseSequence([Free(1.0)], name="fid")
    observables = {"sx": probe_x(n)}
    backend = AerBackend(method="statevector", dt=DT, order=ORDER)

    def bound(count: int) -> Any:
        return lambda: backend.run_realizations(
            chain[0],
            fid,
            states[:count],
            times,
            fields_list=fields[:count],
            observables=observables,
        )

    def rebuild() -> list[dict[str, np.ndarray]]:
        return [
            backend.run(m.hamiltonian(), fid, s, times, observables=observables)
            for m, s in zip(chain[:rebuilt], states[:rebuilt], strict=True)
        ]

    with watch_load() as load:
        seconds, results = time_interleaved(
            {"bound_one": bound(1), "bound_all": bound(len(chain)), "rebuild": rebuild},
            repeats=repeats,
        )
    return seconds, results, load


def bench_binding(*, n: int, realizations: int, rebuilt: int, repeats: int = 2) -> dict[str, Any]:
    """R disorder realizations of one FID trace at ``n``: the marginal cost against the floor.

    FID of site n // 2 in |+> with a z-random background per realization, 20 log-spaced times to
    t = 10 snapped to dt = 0.05 (200 Strang steps), W = 8, J = Jz = 1. Interleaved:
    :meth:`AerBackend.run_realizations` with all R realizations (``bound_all``) and with the
    first (``bound_one``), and :meth:`AerBackend.run` per realization (``rebuild``, a fused
    circuit built for each, on the first ``rebuilt``). ``marginal_over_floor`` (module
    docstring; target <= 1.3) names its baseline; ``all_over_one`` (the former metric) is kept
    as context.
    """
    from echo_lab.backends.aer import PARALLEL_BINDINGS_QUBITS

    if not 1 <= rebuilt <= realizations or realizations < 2:
        raise ConfigError("bench_binding needs realizations >= 2 and 1 <= rebuilt <= realizations")
    chain, states = realization_inputs(n, realizations)
    seconds, results, load = _time_binding(chain, states, rebuilt=rebuilt, repeats=repeats)
    times = fid_times()
    one, every = summarize(seconds["bound_one"]), summarize(seconds["bound_all"])
    marginal = {stat: (every[stat] - one[stat]) / (realizations - 1) for stat in ("min", "median")}
    parallel = min(usable_cores(), realizations) if n < PARALLEL_BINDINGS_QUBITS else 1
    circuit, _ = bound_fid_circuit(chain[0], times, initial=states[0].circuit())
    floor = _per_gate_floor(n, circuit, parallel=parallel, repeats=3)
    floor_timing = {
        "min": floor["seconds_per_realization"],
        "median": floor["seconds_per_realization"],
    }
    difference = max(
        float(np.max(np.abs(b["sx"] - r["sx"])))
        for b, r in zip(results["bound_all"][:rebuilt], results["rebuild"], strict=True)
    )
    return {
        "n": n,
        "realizations": realizations,
        "rebuilt": rebuilt,
        "model": {"W": W, "J": J, "Jz": JZ, "dt": DT, "order": ORDER},
        "steps": round(float(times[-1]) / DT),
        "load": load,
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "marginal_seconds_per_realization": marginal,
        "per_gate_floor": floor,
        "marginal_over_floor": make_ratio(
            marginal,
            floor_timing,
            numerator_name="marginal cost per realization",
            baseline_name="per-gate floor (Aer's cost per gate x gates / parallel experiments)",
            load=load,
        ),
        "all_over_one": make_ratio(
            seconds["bound_all"],
            seconds["bound_one"],
            numerator_name=f"bound, {realizations} realizations",
            baseline_name="bound, 1 realization",
            load=load,
        ),
        "max_abs_difference_bound_vs_rebuilt": difference,
        "note": "bound circuits keep the fields in their own Trotter layer, rebuilt ones fold "
        "them into the bonds: both are Strang formulas and differ by O(dt^2)",
    }


def binding_headlines(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Headline: marginal cost per realization / per-gate floor, target <= 1.3."""
    floor = result["per_gate_floor"]["seconds_per_realization"]
    return [
        headline(
            f"binding: marginal cost / per-gate floor, N = {result['n']}",
            result["marginal_over_floor"],
            target=1.3,
            comparison="<=",
            context=f"floor {floor * 1e3:.3g} ms per realization",
        )
    ]


def _batched_run(
    circuit: QuantumCircuit, parameters: ParameterVector, fields: np.ndarray, simulator: Any
) -> np.ndarray:
    """<sigma^x_p> of every realization and time, shape ``(R, K)``, from one Aer call."""
    binds = [{p: fields[:, q].tolist() for q, p in enumerate(parameters)}]
    result = run_aer(simulator, [circuit], parameter_binds=binds, max_parallel_experiments=0)
    saved = [label for label in result.results[0].data.to_dict() if label.startswith("sx@")]
    labels = sorted(saved, key=lambda label: int(label.removeprefix("sx@")))
    return np.array(
        [[float(np.real(r.data.to_dict()[label])) for label in labels] for r in result.results]
    )


def bench_batched_binding(
    *,
    n: int,
    realizations: int,
    devices: Sequence[str] = ("CPU",),
    repeats: int = 2,
) -> dict[str, Any]:
    """R realizations of the FID trace in one Aer call per device, runtime binding off and on.

    One :func:`bound_fid_circuit` (one initial state for all), ``parameter_binds`` with R values
    per field, on each Aer device of ``devices`` with ``runtime_parameter_bind_enable`` False and
    True, interleaved. Records times, seconds per realization, and the largest difference of
    every variant from :meth:`AerBackend.run_realizations` on the CPU (equal to rounding).
    ConfigError before any work for a device Aer does not see.
    """
    from qiskit_aer import AerSimulator

    from echo_lab.backends.aer import AerBackend
    from echo_lab.dynamics.schedule import Free, PulseSequence

    check_aer_devices(devices)
    chain, states = realization_inputs(n, realizations)
    fields = np.array([m.fields for m in chain])
    times = fid_times()
    circuit, parameters = bound_fid_circuit(chain[0], times, initial=states[0].circuit())
    variants = {
        f"{device}_runtime_binding_{'on' if flag else 'off'}": AerSimulator(
            method="statevector", device=device, runtime_parameter_bind_enable=flag
        )
        for device in devices
        for flag in (False, True)
    }
    with watch_load() as load:
        seconds, results = time_interleaved(
            {
                name: functools.partial(_batched_run, circuit, parameters, fields, simulator)
                for name, simulator in variants.items()
            },
            repeats=repeats,
        )
    reference = AerBackend(method="statevector", device="CPU", dt=DT, order=ORDER).run_realizations(
        chain[0],
        PulseSequence([Free(1.0)], name="fid"),
        states[0],
        times,
        fields_list=fields,
        observables={"sx": probe_x(n)},
    )
    expected = np.array([r["sx"] for r in reference])
    return {
        "n": n,
        "realizations": realizations,
        "steps": round(float(times[-1]) / DT),
        "load": load,
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "seconds_per_realization": {name: min(s) / realizations for name, s in seconds.items()},
        "max_abs_difference_vs_run_realizations": {
            name: float(np.max(np.abs(values - expected))) for name, values in results.items()
        },
    }
