r"""Benchmark: what one gate costs in Aer statevector, against a copy of the state.

Two targets were missed on this machine: a Trotter step within 3x of the memory-bandwidth bound,
and 100 disorder realizations of an N = 12 FID trace within 3x of one. Both limits come from
the cost of one gate in Aer's statevector kernel; this script measures it directly.

Per N and thread count: the time of one dense k-qubit ``UnitaryGate`` (k = 1..4), of ``rz`` and
``rzz`` (diagonal) and ``cx`` (permutation), each as ``(t(G + g) - t(G)) / g`` from Aer's own
``time_taken`` of circuits of G and G + g gates on varied qubits (minimum over repeats), with
Aer's fusion off (every gate is one pass) and no truncation; and the time of a copy of the state
vector (``numpy.copyto``, read + write, with as many threads copying slices). ``over_copy`` =
gate / copy: the bandwidth bound of a circuit is its gate count times one copy, so a circuit of
k-qubit gates can come no closer to it than ``over_copy`` of its gates.

At N = 12 the same numbers give the simulation floor of one disorder realization of the binding
benchmark (200 Strang steps): the bound circuit has 17 two-qubit unitaries and 13 ``rz`` per step
(fields are parameters, so they cannot be folded into the bonds), a per-realization circuit
with folded fields about 5.7 three-qubit unitaries per step.

Run (about 2 minutes on 2 idle cores)::

    .venv/bin/python experiments/benchmarks/bench_aer_kernels.py \
        --out experiments/benchmarks/aer_kernels.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Gate
from qiskit.circuit.library import CXGate, RZGate, RZZGate, UnitaryGate
from qiskit.quantum_info import SparsePauliOp, random_unitary
from qiskit_aer import AerSimulator

from echo_lab.bench import measure_copy_bandwidth
from echo_lab.info import environment_info
from echo_lab.resources import statevector_bytes


def gate_kinds() -> dict[str, list[Gate]]:
    kinds: dict[str, list[Gate]] = {
        f"unitary{k}": [UnitaryGate(random_unitary(2**k, seed=10 * k + i)) for i in range(4)]
        for k in (1, 2, 3, 4)
    }
    kinds["rz"] = [RZGate(0.1 + 0.2 * i) for i in range(4)]
    kinds["rzz"] = [RZZGate(0.1 + 0.2 * i) for i in range(4)]
    kinds["cx"] = [CXGate()]
    return kinds


def circuit(n: int, gates: list[Gate], count: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    for i in range(count):
        gate = gates[i % len(gates)]
        start = (5 * i) % (n - gate.num_qubits + 1)
        qc.append(gate, list(range(start, start + gate.num_qubits)))
    qc.save_expectation_value(SparsePauliOp("Z" * n), list(range(n)))
    return qc


def seconds_per_gate(
    simulator: AerSimulator, n: int, gates: list[Gate], extra: int, repeats: int
) -> float:
    base = 8
    times = []
    for count in (base, base + extra):
        qc = circuit(n, gates, count)
        times.append(
            min(simulator.run(qc, shots=1).result().results[0].time_taken for _ in range(repeats))
        )
    return (times[1] - times[0]) / extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 22])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    bandwidth = {t: measure_copy_bandwidth(threads=t) for t in thread_counts}
    record: dict[str, Any] = {
        "description": __doc__.split("\n\n")[0].strip(),
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        "load_average_start": list(os.getloadavg()),
        "copy_bandwidth_bytes_per_second": {str(t): b for t, b in bandwidth.items()},
        "sizes": [],
    }
    kinds = gate_kinds()
    for n in args.sizes:
        extra = max(8, 2 ** max(0, 21 - n))  # enough gates that the difference is well above noise
        entry: dict[str, Any] = {"n": n, "gates_timed": extra, "threads": {}}
        for threads in thread_counts:
            simulator = AerSimulator(
                method="statevector",
                max_parallel_threads=threads,
                statevector_parallel_threshold=min(14, n - 1),
                fusion_enable=False,
                enable_truncation=False,
            )
            copy = 2 * statevector_bytes(n) / bandwidth[threads]
            if n < 20:  # in cache: time the copy of this very size instead
                source = np.ones(2**n, dtype=complex)
                target = np.empty_like(source)
                copy_times = []
                for _ in range(50):
                    start = time.perf_counter()
                    for _ in range(200):
                        np.copyto(target, source)
                    copy_times.append((time.perf_counter() - start) / 200)
                copy = min(copy_times)
            per_kind = {}
            for name, gates in kinds.items():
                seconds = seconds_per_gate(simulator, n, gates, extra, args.repeats)
                per_kind[name] = {
                    "seconds_per_gate": seconds,
                    "nanoseconds_per_amplitude": seconds / 2**n * 1e9,
                    "over_copy": seconds / copy,
                }
            entry["threads"][str(threads)] = {"copy_seconds": copy, "gates": per_kind}
        record["sizes"].append(entry)
        print(f"N = {n} done", file=sys.stderr, flush=True)
    for entry in record["sizes"]:
        if entry["n"] != 12:
            continue
        one = entry["threads"]["1"]["gates"]
        bound = 17 * one["unitary2"]["seconds_per_gate"] + 13 * one["rz"]["seconds_per_gate"]
        folded = 5.66 * one["unitary3"]["seconds_per_gate"]
        record["binding_floor_n12"] = {
            "steps": 200,
            "bound_circuit_seconds_per_realization_one_core": 200 * bound,
            "folded_fused_seconds_per_realization_one_core": 200 * folded,
            "note": "realizations run one per core, so the wall-clock marginal cost is these over "
            "the core count",
        }
    record["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(record.get("binding_floor_n12", {}), indent=1))


if __name__ == "__main__":
    main()
