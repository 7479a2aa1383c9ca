r"""Benchmark: what one gate costs in Aer statevector, against a copy of the state.

The Trotter step misses its bound of 3x the memory-bandwidth limit because of the cost of one
gate in Aer's statevector kernel; this script measures it directly. Per N and thread count: the
time of one dense k-qubit ``UnitaryGate`` (k = 1..4), of ``rz`` and ``rzz`` (diagonal) and
``cx`` (permutation), each from :func:`echo_lab.bench.measure_gate_seconds` (Aer's own
``time_taken``, fusion off, no truncation, minimum over repeats), and the time of a copy of the
state vector (``numpy.copyto``, read + write). ``over_copy`` = gate / copy: a circuit of k-qubit
gates can come no closer to its bandwidth bound than ``over_copy`` of its gates. (The per-gate
floor of the binding benchmark is measured by ``echo-lab bench`` itself.)

Run (about 2 minutes on 2 idle cores)::

    .venv/bin/python experiments/benchmarks/bench_aer_kernels.py \
        --out experiments/benchmarks/aer_kernels.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.circuit import Gate
from qiskit.circuit.library import CXGate, RZGate, RZZGate, UnitaryGate
from qiskit.quantum_info import random_unitary

from echo_lab.bench import (
    measure_copy_bandwidth,
    measure_gate_seconds,
    time_repeats,
    watch_load,
    write_record,
)
from echo_lab.info import environment_info
from echo_lab.resources import statevector_bytes, usable_cores


def gate_kinds() -> dict[str, list[Gate]]:
    kinds: dict[str, list[Gate]] = {
        f"unitary{k}": [UnitaryGate(random_unitary(2**k, seed=10 * k + i)) for i in range(4)]
        for k in (1, 2, 3, 4)
    }
    kinds["rz"] = [RZGate(0.1 + 0.2 * i) for i in range(4)]
    kinds["rzz"] = [RZZGate(0.1 + 0.2 * i) for i in range(4)]
    kinds["cx"] = [CXGate()]
    return kinds


def copy_seconds(n: int, threads: int, bandwidth: dict[int, float]) -> float:
    """One read + write of a 2^n state: from the bandwidth, or timed directly while in cache."""
    if n >= 20:
        return 2 * statevector_bytes(n) / bandwidth[threads]
    source = np.ones(2**n, dtype=complex)
    target = np.empty_like(source)

    def copies() -> None:
        for _ in range(200):
            np.copyto(target, source)

    seconds, _ = time_repeats(copies, repeats=50)
    return min(seconds) / 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 22])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    thread_counts = sorted({1, usable_cores()})
    bandwidth = {t: measure_copy_bandwidth(threads=t) for t in thread_counts}
    record: dict[str, Any] = {
        "description": __doc__.split("\n\n")[0].strip(),
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        "copy_bandwidth_bytes_per_second": {str(t): b for t, b in bandwidth.items()},
        "sizes": [],
    }
    kinds = gate_kinds()
    with watch_load() as load:
        for n in args.sizes:
            entry: dict[str, Any] = {"n": n, "threads": {}}
            for threads in thread_counts:
                copy = copy_seconds(n, threads, bandwidth)
                per_kind = {}
                for name, gates in kinds.items():
                    seconds = measure_gate_seconds(n, gates, repeats=args.repeats, threads=threads)
                    per_kind[name] = {
                        "seconds_per_gate": seconds,
                        "nanoseconds_per_amplitude": seconds / 2**n * 1e9,
                        "over_copy": seconds / copy,
                    }
                entry["threads"][str(threads)] = {"copy_seconds": copy, "gates": per_kind}
            record["sizes"].append(entry)
            print(f"N = {n} done", file=sys.stderr, flush=True)
    record["load"] = load
    write_record(record, args.out)


if __name__ == "__main__":
    main()
