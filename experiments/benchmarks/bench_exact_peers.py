r"""Benchmark: a Hahn echo trace by exact evolution, echo_lab's Krylov backend vs QuSpin.

The trace (issues 12 and 14): random-field XXZ chain, W = 8, J = Jz = 1, fields of seed 1, the
central spin p = n // 2 in |+> on a z-random background (``default_rng(1)``), a Hahn echo with
the p-bit pulse X_p at 8 total times log-spaced from 0.1 to 100, <sigma^x_p> and <sigma^y_p>,
at n = 16, 18, 20 (``--sizes``). Variants, interleaved in every repeat:

* ``ours``: ``KrylovBackend(threads=--threads)`` (S^z sectors, Chebyshev with rigorous bounds,
  the first half of every echo from one recurrence), a fresh backend per repeat so that
  building the sector blocks is timed;
* ``ours_all_cores`` (when ``--threads`` is below the usable cores): the same on all cores;
* ``quspin_full``: QuSpin 1.x ``expm_multiply_parallel`` on the full 2^n basis (the issue's
  anchor), the way a QuSpin user writes the trace: the first halves chained over the sorted
  times, each second half from its own pulsed state; building the QuSpin Hamiltonian is timed;
* ``quspin_sectors``: the same propagator on the same S^z sector blocks as ``ours`` (split,
  pulse and join shared with ours): it isolates the propagator (Taylor with the 1-norm vs
  Chebyshev with the spectral width).

QuSpin conventions: its full basis lists the states in decreasing integer order, its site j is
bit n - 1 - j and its sigma^z is +1 on a 1 bit, while Qiskit's qubit i is bit i with Z = +1 on a
0 bit. So a QuSpin vector reversed is ours, QuSpin site j is our qubit n - 1 - j and the fields
change sign; X_p flips bit p in both orders. The script checks that the two Hamiltonians are the
same matrix under that map at n = 8 before timing.

QuSpin's OpenMP threads come from ``--quspin-threads`` (set as OMP_NUM_THREADS before QuSpin is
imported). Two OpenMP threads on a loaded 2-core machine busy-wait and slow down ~20x: take
ratios on a loaded machine with one thread for both (``--threads 1 --quspin-threads 1``), and
the all-cores ratio on an idle machine. The JSON records the machine, the versions (QuSpin's
included), the command, per n every repeat of every variant, min and median, the largest
deviation of each variant from ``ours`` and the load average before and after each n. CPU
seconds (all threads of the process) are recorded beside the wall times: with one thread each
they are what an idle machine would show as wall time, up to memory-bandwidth contention.

Run (on an idle 2-core machine, ~25 minutes, most of it QuSpin at n = 20)::

    .venv/bin/python experiments/benchmarks/bench_exact_peers.py \
        --out experiments/benchmarks/exact_peers.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

W, J, JZ, SEED = 8.0, 1.0, 1.0, 1
TIMES = np.logspace(-1, 2, 8)


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 18, 20])
    parser.add_argument(
        "--repeats", type=int, nargs="+", default=[3, 2, 1], help="per size, or one for all"
    )
    parser.add_argument("--threads", type=int, default=usable_cores())
    parser.add_argument("--quspin-threads", type=int, default=usable_cores())
    parser.add_argument("--no-quspin-sectors", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("exact_peers.json"))
    return parser.parse_args()


ARGS = parse_arguments() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["OMP_NUM_THREADS"] = str(ARGS.quspin_threads)

# QuSpin reads OMP_NUM_THREADS when it is imported.
from qiskit.quantum_info import SparsePauliOp  # noqa: E402
from quspin.basis import spin_basis_1d  # noqa: E402
from quspin.operators import hamiltonian as quspin_hamiltonian  # noqa: E402
from quspin.tools.evolution import expm_multiply_parallel  # noqa: E402

from echo_lab.backends.krylov import KrylovBackend  # noqa: E402
from echo_lab.physics import models  # noqa: E402
from echo_lab.physics.linalg import expectations  # noqa: E402
from echo_lab.physics.sectors import join_states, sector_bases, split_states  # noqa: E402
from echo_lab.physics.spectrum import restrict_to_sector  # noqa: E402
from echo_lab.physics.states import ProductState, probe_state  # noqa: E402
from echo_lab.protocols.sequences import build_sequence  # noqa: E402


def setup(n: int) -> tuple[models.RandomFieldXXZ, ProductState, dict[str, SparsePauliOp]]:
    model = models.RandomFieldXXZ(n=n, W=W, J=J, Jz=JZ, seed=SEED)
    probe = n // 2
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(SEED))
    observables = {
        name: SparsePauliOp.from_sparse_list([(pauli, [probe], 1.0)], n)
        for name, pauli in (("sx", "X"), ("sy", "Y"))
    }
    return model, state, observables


def quspin_matrix(model: models.RandomFieldXXZ) -> Any:
    """The chain's H on QuSpin's full basis (site j = our qubit n - 1 - j, fields negated)."""
    n = model.n
    basis = spin_basis_1d(n, pauli=1)
    bonds = [[J, j, j + 1] for j in range(n - 1)]
    zz = [[JZ, j, j + 1] for j in range(n - 1)]
    fields = [[-float(model.fields[n - 1 - j]), j] for j in range(n)]
    static = [["xx", bonds], ["yy", bonds], ["zz", zz], ["z", fields]]
    operator = quspin_hamiltonian(
        static,
        [],
        basis=basis,
        dtype=np.float64,
        check_herm=False,
        check_symm=False,
        check_pcon=False,
    )
    return operator.tocsr()


def check_conventions(n: int = 8) -> float:
    """Largest entry of H_quspin - P H_ours P^T with P the reversal of the basis order."""
    model, _, _ = setup(n)
    ours = model.hamiltonian().to_matrix()
    reverse = np.arange(2**n)[::-1]
    theirs = quspin_matrix(model).toarray()
    return float(np.max(np.abs(theirs - ours[np.ix_(reverse, reverse)])))


def pulse_x(states: np.ndarray, probe: int) -> np.ndarray:
    """X_probe on full vectors in either order (it flips bit ``probe`` in both)."""
    return states[np.arange(states.shape[0]) ^ (1 << probe)]


def evolve_taylor(matrix: Any, psi: np.ndarray, duration: float) -> np.ndarray:
    if duration == 0.0:
        return psi
    propagator = expm_multiply_parallel(matrix, a=-1j * duration, dtype=np.complex128)
    return propagator.dot(np.ascontiguousarray(psi, dtype=np.complex128))


def hahn_with(
    evolve: Callable[[np.ndarray, float], np.ndarray], psi0: np.ndarray, probe: int
) -> np.ndarray:
    """Final states (one column per total time, sorted order restored) of the Hahn trace."""
    finals = np.empty((psi0.size, TIMES.size), dtype=complex)
    psi, elapsed = psi0.astype(complex), 0.0
    for k in np.argsort(TIMES, kind="stable"):
        half = 0.5 * TIMES[k]
        psi, elapsed = evolve(psi, half - elapsed), half
        finals[:, k] = evolve(pulse_x(psi, probe), half)
    return finals


def run_quspin_full(n: int) -> dict[str, np.ndarray]:
    model, state, observables = setup(n)
    matrix = quspin_matrix(model)
    reverse = np.arange(2**n)[::-1]
    finals = hahn_with(
        lambda psi, t: evolve_taylor(matrix, psi, t), state.vector()[reverse], n // 2
    )[reverse]
    return {name: expectations(op, finals) for name, op in observables.items()}


def run_quspin_sectors(n: int) -> dict[str, np.ndarray]:
    model, state, observables = setup(n)
    hamiltonian = model.hamiltonian()
    bases = sector_bases(n)
    blocks: dict[int, Any] = {}

    def block(n_up: int) -> Any:
        if n_up not in blocks:
            blocks[n_up] = restrict_to_sector(hamiltonian, n_up)
        return blocks[n_up]

    def evolve(psi: np.ndarray, duration: float) -> np.ndarray:
        parts = split_states(psi, n, bases=bases)
        moved = {
            n_up: evolve_taylor(block(n_up), part[:, 0], duration)[:, None]
            for n_up, part in parts.items()
        }
        return join_states(moved, n, columns=1, bases=bases)[:, 0]

    finals = hahn_with(evolve, state.vector(), n // 2)
    return {name: expectations(op, finals) for name, op in observables.items()}


def run_ours(n: int, threads: int) -> dict[str, np.ndarray]:
    model, state, observables = setup(n)
    sequence = build_sequence("hahn", n=n, probe=n // 2, pulse="pbit")
    backend = KrylovBackend(threads=threads)
    return backend.run(model.hamiltonian(), sequence, state, TIMES, observables=observables)


def versions() -> dict[str, str]:
    names = ("echo_lab", "numpy", "scipy", "qiskit", "quspin", "quspin-extensions")
    names += ("parallel-sparse-tools", "numba")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def measure(n: int, repeats: int, variants: dict[str, Callable[[int], Any]]) -> dict[str, Any]:
    load_before = os.getloadavg()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in variants}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, action in variants.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            results[name] = action(n)
            seconds[name].append(time.perf_counter() - start)
            cpu_seconds[name].append(time.process_time() - cpu_start)
            print(f"n = {n} {name}: {seconds[name][-1]:.2f} s", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    reference = results["ours"]
    summary: dict[str, Any] = {"n": n, "repeats": repeats}
    for name, values in seconds.items():
        deviation = max(
            float(np.max(np.abs(np.asarray(results[name][key]) - reference[key])))
            for key in ("sx", "sy")
        )
        summary[name] = {
            "seconds": values,
            "cpu_seconds": cpu_seconds[name],
            "min_s": min(values),
            "median_s": statistics.median(values),
            "max_deviation_from_ours": deviation,
        }
    for name in variants:
        if name.startswith("quspin"):
            summary[f"{name}_over_ours_min"] = summary[name]["min_s"] / summary["ours"]["min_s"]
    summary["ours_sx"] = [float(v) for v in reference["sx"]]
    summary["load_average_before"] = list(load_before)
    summary["load_average_after"] = list(load_after)
    return summary


def main() -> None:
    assert ARGS is not None
    repeats = ARGS.repeats * len(ARGS.sizes) if len(ARGS.repeats) == 1 else ARGS.repeats
    if len(repeats) != len(ARGS.sizes):
        raise SystemExit("--repeats needs one value, or one per size")
    variants: dict[str, Callable[[int], Any]] = {
        "ours": lambda n: run_ours(n, ARGS.threads),
        "quspin_full": run_quspin_full,
    }
    if ARGS.threads < usable_cores():
        variants["ours_all_cores"] = lambda n: run_ours(n, usable_cores())
    if not ARGS.no_quspin_sectors:
        variants["quspin_sectors"] = run_quspin_sectors
    record: dict[str, Any] = {
        "benchmark": "Hahn echo trace by exact evolution: echo_lab Krylov vs QuSpin",
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "usable_cores": usable_cores(),
        },
        "versions": versions(),
        "threads": {"ours": ARGS.threads, "quspin_omp": ARGS.quspin_threads},
        "model": {"W": W, "J": J, "Jz": JZ, "seed": SEED, "probe": "n // 2"},
        "state": "probe in |+>, z-random background from default_rng(1)",
        "total_times": [float(t) for t in TIMES],
        "convention_check_max_abs": check_conventions(),
        "sizes": [],
    }
    for n, count in zip(ARGS.sizes, repeats, strict=True):
        record["sizes"].append(measure(n, count, variants))
        ARGS.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
