r"""Benchmark: one Trotter step of the random-field XXZ chain on Aer statevector (CPU).

Compares, on ``AerSimulator(method="statevector")`` in the same run:

* ``ours``: ``trotter.circuit(H, order=2)`` as the library builds it: Strang steps with the fields
  folded into the even-bond blocks, half steps merged across steps (two bond layers per step),
  consecutive blocks fused into 3-qubit ``UnitaryGate``\ s (about n / 2 gates per step);
* ``ours-fuse2``: the same with ``fuse_qubits=2``: one 4 x 4 ``UnitaryGate`` per bond (n - 1 per
  step);
* ``ours-unfolded``: ``fold_fields=False`` (a field layer, then even and odd bonds, the split the
  parameterized circuits use), fused into 3-qubit gates;
* ``gate-by-gate``: exactly the unitary of ``ours-unfolded``, written as ``rz`` + ``rxx`` +
  ``ryy`` + ``rzz`` gates (the plain-Aer way); the script checks that the two give the same state
  (``same_state_infidelity_n10``).

Per-step time: every circuit is timed at ``k_low`` and ``k_high`` steps (state preparation +
steps + ``save_statevector``), each the minimum over ``repeats`` runs interleaved between the
variants; the time per step is ``(t(k_high) - t(k_low)) / (k_high - k_low)``, which removes the
fixed cost (allocation, preparation, saving, Python and result overhead).

Memory-bandwidth bound: a pass over the state vector reads and writes 2 x 16 x 2^n bytes; the
copy bandwidth is measured with ``numpy.copyto`` on a 2^24-amplitude complex array. The bound of
a variant is (its gates per step) x 2 x 16 x 2^n / bandwidth: one pass per gate, as if Aer
fused nothing further (``fusion_verbose`` shows that it leaves our 3-qubit gates alone).

The main table runs Aer with ``max_parallel_threads=1`` (``--threads``): on a shared,
oversubscribed machine two OpenMP threads per gate stall each other and the timings become
scheduling noise; the options table records the multi-threaded default and the fusion settings.

Run (about 5 minutes on 2 idle cores)::

    PYTHONPATH=. .venv/bin/python experiments/benchmarks/bench_trotter_step.py \
        --out experiments/benchmarks/trotter_step.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import qiskit
import qiskit_aer
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from qiskit_aer import AerSimulator

from echo_lab import __version__, models, trotter

DT = 0.1
GATE_NAMES = {"Z": "rz", "XX": "rxx", "YY": "ryy", "ZZ": "rzz"}


def build_gate_by_gate(hamiltonian: Any, *, dt: float, steps: int) -> QuantumCircuit:
    """The unfolded Strang circuit with every block written as rz / rxx / ryy / rzz gates."""
    split = trotter.split_layers(hamiltonian, fold_fields=False)
    qc = QuantumCircuit(split.num_qubits)
    for index, fraction in trotter.step_schedule(len(split.layers), steps=steps, order=2):
        for block in split.layers[index].blocks:
            for label, local, coeff in block.operator.to_sparse_list():
                qubits = [block.qubits[k] for k in local]
                getattr(qc, GATE_NAMES[label])(2 * coeff.real * fraction * dt, *qubits)
    return qc


def prepared(n: int, body: QuantumCircuit) -> QuantumCircuit:
    """Product state (ry rotations), then ``body``, then save the state vector."""
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(0.3 + 0.1 * q, q)
    qc.compose(body, inplace=True)
    qc.save_statevector()
    return qc


def variants(model: models.RandomFieldXXZ) -> dict[str, Callable[[int], QuantumCircuit]]:
    hamiltonian = model.hamiltonian()
    return {
        "ours": lambda k: trotter.circuit(hamiltonian, time=DT * k, steps=k, order=2),
        "ours-fuse2": lambda k: trotter.circuit(
            hamiltonian, time=DT * k, steps=k, order=2, fuse_qubits=2
        ),
        "ours-unfolded": lambda k: trotter.circuit(
            hamiltonian, time=DT * k, steps=k, order=2, fold_fields=False
        ),
        "gate-by-gate": lambda k: build_gate_by_gate(hamiltonian, dt=DT, steps=k),
    }


def gates_per_step(qc_low: QuantumCircuit, qc_high: QuantumCircuit, steps: int) -> float:
    return (qc_high.size() - qc_low.size()) / steps


def time_variants(
    n: int,
    builders: dict[str, Callable[[int], QuantumCircuit]],
    *,
    k_low: int,
    k_high: int,
    repeats: int,
    options: dict[str, Any],
) -> dict[str, dict[str, float]]:
    simulator = AerSimulator(method="statevector", **options)
    circuits = {
        (name, k): prepared(n, build(k))
        for name, build in builders.items()
        for k in (k_low, k_high)
    }
    best = dict.fromkeys(circuits, np.inf)
    for _ in range(repeats):
        for key, qc in circuits.items():
            start = time.perf_counter()
            result = simulator.run(qc, shots=1).result()
            best[key] = min(best[key], time.perf_counter() - start)
            if not result.success:
                raise RuntimeError(f"Aer failed on {key}: {result.status}")
    out = {}
    for name in builders:
        per_step = (best[(name, k_high)] - best[(name, k_low)]) / (k_high - k_low)
        out[name] = {
            "seconds_per_step": per_step,
            "seconds_k_low": best[(name, k_low)],
            "seconds_k_high": best[(name, k_high)],
            "gates_per_step": gates_per_step(
                circuits[(name, k_low)], circuits[(name, k_high)], k_high - k_low
            ),
        }
    return out


def copy_bandwidth(*, log2_size: int = 24, repeats: int = 5) -> float:
    """Bytes per second moved by numpy.copyto (read + write) on a complex128 array."""
    source = np.ones(2**log2_size, dtype=complex)
    target = np.empty_like(source)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best


def check_same_state(model: models.RandomFieldXXZ, steps: int) -> float:
    """Infidelity between ``ours-unfolded`` and ``gate-by-gate`` (the same unitary)."""
    builders = variants(model)
    a = Statevector(builders["ours-unfolded"](steps))
    b = Statevector(builders["gate-by-gate"](steps))
    return float(1.0 - abs(a.inner(b)) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/benchmarks/trotter_step.json")
    parser.add_argument("--sizes", default="16,20,22,24")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--options-size", type=int, default=22)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="Aer max_parallel_threads of the main table (0 = all cores)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    main_options = {"max_parallel_threads": args.threads}

    bandwidth = copy_bandwidth()
    results: dict[str, Any] = {
        "description": (
            "One Strang (order-2) Trotter step of the random-field XXZ chain (W = 8, J = Jz = 1, "
            f"seed 1, dt = {DT}) on AerSimulator(method='statevector') CPU. seconds_per_step = "
            "(t(k_high) - t(k_low)) / (k_high - k_low) with t the minimum over repeats of a full "
            "run (prepare + k steps + save_statevector): fixed overhead subtracted. "
            "bandwidth_bound = gates_per_step x 2 x 16 x 2^n bytes / copy bandwidth (no fusion). "
            "Main table: Aer options main_aer_options (max_parallel_threads=1 by default: on a "
            "shared, oversubscribed 2-core machine OpenMP threads stall each other)."
        ),
        "main_aer_options": main_options,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "qiskit": qiskit.__version__,
            "qiskit_aer": qiskit_aer.__version__,
            "echo_lab": __version__,
            "load_average_at_start": list(os.getloadavg()),
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "copy_bandwidth_bytes_per_second": bandwidth,
        "same_state_infidelity_n10": check_same_state(
            models.RandomFieldXXZ(n=10, W=8.0, seed=1), 3
        ),
        "sizes": {},
        "aer_options": {},
    }

    for n in sizes:
        k_low, k_high = (1, 4) if n >= 24 else (2, 10)
        repeats = 2 if n >= 24 else args.repeats
        model = models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=1)
        timings = time_variants(
            n, variants(model), k_low=k_low, k_high=k_high, repeats=repeats, options=main_options
        )
        for entry in timings.values():
            bound = entry["gates_per_step"] * 2 * 16 * 2**n / bandwidth
            entry["bandwidth_bound_seconds_per_step"] = bound
            entry["ratio_to_bound"] = entry["seconds_per_step"] / bound
        gbg = timings["gate-by-gate"]["seconds_per_step"]
        results["sizes"][str(n)] = {
            "k_low": k_low,
            "k_high": k_high,
            "variants": timings,
            "ours_over_gate_by_gate": timings["ours"]["seconds_per_step"] / gbg,
            "ours_fuse2_over_gate_by_gate": timings["ours-fuse2"]["seconds_per_step"] / gbg,
            "ours_unfolded_over_gate_by_gate": timings["ours-unfolded"]["seconds_per_step"] / gbg,
        }
        print(json.dumps({n: results["sizes"][str(n)]}, indent=1), flush=True)

    n = args.options_size
    model = models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=1)
    builders = variants(model)
    option_sets: list[dict[str, Any]] = [
        {"max_parallel_threads": 0},
        {"max_parallel_threads": 1, "fusion_enable": False},
        {"max_parallel_threads": 1, "fusion_max_qubit": 3},
        {"max_parallel_threads": 1, "fusion_max_qubit": 4},
        {"max_parallel_threads": 1, "fusion_threshold": 30},
        {"max_parallel_threads": 1, "blocking_enable": True, "blocking_qubits": 18},
    ]
    for options in option_sets:
        timings = time_variants(n, builders, k_low=1, k_high=5, repeats=2, options=options)
        key = json.dumps(options, sort_keys=True)
        results["aer_options"][key] = {
            "n": n,
            **{name: t["seconds_per_step"] for name, t in timings.items()},
        }
        print(key, results["aer_options"][key], flush=True)

    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
