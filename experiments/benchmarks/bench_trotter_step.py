r"""Benchmark: more Trotter-step variants and Aer options than ``echo-lab bench`` times.

One Trotter step of the random-field XXZ chain (W = 8, J = Jz = 1, seed 1, dt = 0.05) on
``AerSimulator(method="statevector")`` (CPU), with the suite's rules
(:mod:`echo_lab.bench.timing`): per step ``(t(k_high) - t(k_low)) / (k_high - k_low)``, every
variant and step count interleaved, min and median over repeats, the load average recorded and
every ratio naming its baseline. Variants:

* ``ours``: ``trotter.circuit(H, order=2)``, fields folded into the bonds, 3-qubit fused blocks;
* ``ours_order1``: the same at order 1;
* ``ours_fuse2``: ``fuse_qubits=2`` (one 4 x 4 unitary per bond block);
* ``ours_unfolded``: ``fold_fields=False`` (a field layer, then the bond layers);
* ``gate_by_gate_lie`` / ``gate_by_gate_strang``: :func:`echo_lab.bench.gate_by_gate_circuit`
  with order 1 (the plain first-order circuit) and 2 (the unitary of ``ours_unfolded``).

Main table: ``--threads`` Aer threads (default 1). Options table at ``--options-size``: the
multi-threaded default, fusion off, ``fusion_max_qubit`` 3 and 4, ``fusion_threshold`` 30 and
cache blocking, each ratio against ``gate_by_gate_lie`` under the same options.

Run (about 6 minutes on 2 idle cores)::

    .venv/bin/python experiments/benchmarks/bench_trotter_step.py \
        --out experiments/benchmarks/trotter_step.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from echo_lab.bench import (
    gate_by_gate_circuit,
    make_ratio,
    measure_copy_bandwidth,
    time_per_step,
    watch_load,
    write_record,
)
from echo_lab.bench.model import DT, benchmark_hamiltonian, model_record, run_aer, step_counts
from echo_lab.bench.trotter_step import timed_circuit
from echo_lab.dynamics import trotter
from echo_lab.info import environment_info
from echo_lab.resources import statevector_bytes

BASELINE = "gate_by_gate_lie"

OPTION_SETS: list[dict[str, Any]] = [
    {"max_parallel_threads": 0},
    {"max_parallel_threads": 1, "fusion_enable": False},
    {"max_parallel_threads": 1, "fusion_max_qubit": 3},
    {"max_parallel_threads": 1, "fusion_max_qubit": 4},
    {"max_parallel_threads": 1, "fusion_threshold": 30},
    {"max_parallel_threads": 1, "blocking_enable": True, "blocking_qubits": 18},
]


def builders(n: int) -> dict[str, Callable[[int], QuantumCircuit]]:
    """Variant name -> k-step circuit."""
    h = benchmark_hamiltonian(n)
    return {
        "ours": lambda k: trotter.circuit(h, time=k * DT, steps=k, order=2),
        "ours_order1": lambda k: trotter.circuit(h, time=k * DT, steps=k, order=1),
        "ours_fuse2": lambda k: trotter.circuit(h, time=k * DT, steps=k, order=2, fuse_qubits=2),
        "ours_unfolded": lambda k: trotter.circuit(
            h, time=k * DT, steps=k, order=2, fold_fields=False
        ),
        "gate_by_gate_lie": lambda k: gate_by_gate_circuit(h, dt=DT, steps=k, order=1),
        "gate_by_gate_strang": lambda k: gate_by_gate_circuit(h, dt=DT, steps=k, order=2),
    }


def time_variants(n: int, repeats: int, options: dict[str, Any]) -> dict[str, Any]:
    """Per-step times of every variant at n under Aer ``options``, ratios to the baseline."""
    simulator = AerSimulator(method="statevector", enable_truncation=False, **options)
    made = builders(n)

    def runs(build: Callable[[int], QuantumCircuit]) -> Callable[[int], Callable[[], object]]:
        def with_steps(k: int) -> Callable[[], object]:
            qc = timed_circuit(build(k))
            return lambda: run_aer(simulator, qc)

        return with_steps

    k_low, k_high = step_counts(n)
    with watch_load() as load:
        variants = time_per_step(
            {name: runs(build) for name, build in made.items()},
            k_low=k_low,
            k_high=k_high,
            repeats=repeats,
        )
    for name, variant in variants.items():
        variant["gates_per_step"] = (made[name](k_high).size() - made[name](k_low).size()) / (
            k_high - k_low
        )
        variant[f"over_{BASELINE}"] = make_ratio(
            variant["seconds_per_step"],
            variants[BASELINE]["seconds_per_step"],
            numerator_name=name,
            baseline_name=BASELINE,
            load=load,
        )
    return {"n": n, "k_low": k_low, "k_high": k_high, "aer_options": options, "load": load,
            "variants": variants}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("trotter_step.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 20, 22, 24])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="Aer threads (0 = all cores)")
    parser.add_argument("--options-size", type=int, default=22)
    args = parser.parse_args()
    bandwidth = measure_copy_bandwidth()
    record: dict[str, Any] = {
        "description": __doc__.split("\n\n")[0].strip(),
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        "model": model_record(dt=DT),
        "copy_bandwidth_bytes_per_second": bandwidth,
        "sizes": [],
        "aer_options": [],
    }
    for n in args.sizes:
        entry = time_variants(n, args.repeats, {"max_parallel_threads": args.threads})
        for variant in entry["variants"].values():
            bound = variant["gates_per_step"] * 2 * statevector_bytes(n) / bandwidth
            variant["bandwidth_bound_seconds_per_step"] = bound
        record["sizes"].append(entry)
        print(f"N = {n} done", file=sys.stderr, flush=True)
    for options in OPTION_SETS:
        record["aer_options"].append(time_variants(args.options_size, 2, options))
        print(f"options {options} done", file=sys.stderr, flush=True)
    write_record(record, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
