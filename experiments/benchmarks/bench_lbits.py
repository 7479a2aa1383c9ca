r"""Benchmark: the l-bit pipeline (echo_lab.lbits) and the Pauli transform (echo_lab.pauli).

Random-field XXZ chains, W = 8, J = Jz = 1, seed 1. For n in ``--sizes`` (default 8, 10, 12):

* ``diagonalize``: eigenvectors block by block (the chain conserves the total sigma^z);
* ``assign``: the ``overlap`` assignment (linear assignment per block) and the sign convention;
* ``tau``: forming tau^z_i and tau^x_i for all sites (2n dense operators, 2 W W^T - 1);
* ``expand``: their Pauli weights per support and mean ranges (2n fast transforms);
* ``pipeline``: all of the above through the public API, ``lbits.construct(H)`` then
  ``mean_range("z")`` and ``mean_range("x")`` (the issue's target: n = 12 in <= 60 s);
* ``pipeline_dense``: the same with a dense eigensystem (``spectrum.diagonalize``) passed in, the
  path of a Hamiltonian without block structure (``--dense-sizes``, default 10 and 12).

At n = 12 the transform is compared side by side with ``SparsePauliOp.from_operator(O, atol=0,
rtol=0)`` on a real operator (tau^z_0) and on a random complex one: ``decompose`` (complex
coefficients, phases included), ``pauli_weights`` and ``support_weights`` (what the pipeline uses).

Every time is the minimum over ``--repeats`` runs (other jobs may share the machine); the JSON
records the machine, versions, the command and the load average before and after.

Run (about 4 minutes on 2 idle cores)::

    PYTHONPATH=. .venv/bin/python experiments/benchmarks/bench_lbits.py \
        --out experiments/benchmarks/lbits_pipeline.json
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
import scipy
from qiskit.quantum_info import SparsePauliOp
from threadpoolctl import threadpool_info

from echo_lab import __version__, lbits, models, pauli, spectrum


def best_time(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Minimum wall time over ``repeats`` runs and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def hamiltonian(n: int) -> SparsePauliOp:
    return models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=1).hamiltonian()


def all_mean_ranges(system: lbits.LBitSystem) -> tuple[np.ndarray, np.ndarray]:
    return system.mean_range("z"), system.mean_range("x")


def stages(n: int, repeats: int) -> dict[str, Any]:
    h = hamiltonian(n)
    t_diag, (_, blocks) = best_time(lambda: lbits._diagonalize_blocks(h), repeats)
    t_assign, _ = best_time(lambda: lbits.construct(h, cache_bytes=0), 1)
    system = lbits.construct(h, cache_bytes=0)
    t_overlap, _ = best_time(lambda: lbits._overlap_assignment(blocks, 2**n), repeats)

    def form_all() -> None:
        for a in ("z", "x"):
            for i in range(n):
                system._tau_cache.clear()
                system.tau(a, i)

    t_tau, _ = best_time(form_all, repeats)
    operators = [system.tau("z", 0), system.tau("x", 0)]
    t_one_expand, _ = best_time(
        lambda: [pauli.mean_range(pauli.support_weights(op), system.lattice) for op in operators],
        repeats,
    )

    def pipeline() -> tuple[np.ndarray, np.ndarray]:
        return all_mean_ranges(lbits.construct(h, cache_bytes=0))

    t_pipeline, (range_z, range_x) = best_time(pipeline, repeats)
    return {
        "n": n,
        "blocks": len(blocks),
        "diagonalize_s": t_diag,
        "overlap_assignment_s": t_overlap,
        "construct_s": t_assign,
        "form_2n_taus_s": t_tau,
        "expand_2n_taus_s": n * t_one_expand,
        "pipeline_s": t_pipeline,
        "average_range_z": float(np.mean(range_z)),
        "average_range_x": float(np.mean(range_x)),
    }


def dense_pipeline(n: int, repeats: int) -> dict[str, Any]:
    h = hamiltonian(n)

    def pipeline() -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        start = time.perf_counter()
        eigensystem = spectrum.diagonalize(h)
        eigh_s = time.perf_counter() - start
        system = lbits.construct(h, eigensystem=eigensystem, cache_bytes=0)
        return eigh_s, all_mean_ranges(system)

    t_total, (eigh_s, (range_z, range_x)) = best_time(pipeline, repeats)
    return {
        "n": n,
        "pipeline_dense_s": t_total,
        "dense_eigh_s_last_run": eigh_s,
        "average_range_z": float(np.mean(range_z)),
        "average_range_x": float(np.mean(range_x)),
    }


def transform_comparison(n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    real_op = np.array(lbits.construct(hamiltonian(n)).tau("z", 0))
    dim = 2**n
    complex_op = rng.standard_normal((dim, dim)) + 1j * rng.standard_normal((dim, dim))
    out: dict[str, Any] = {"n": n}
    for name, op in (("real_tau_z", real_op), ("random_complex", complex_op)):
        t_qiskit, reference = best_time(
            lambda op=op: SparsePauliOp.from_operator(op, atol=0, rtol=0), repeats
        )
        t_decompose, coeffs = best_time(lambda op=op: pauli.decompose(op), repeats)
        t_weights, _ = best_time(lambda op=op: pauli.pauli_weights(op), repeats)
        t_support, _ = best_time(lambda op=op: pauli.support_weights(op), repeats)
        weights = 1 << np.arange(n)
        xs, zs = reference.paulis.x @ weights, reference.paulis.z @ weights
        labelled = reference.coeffs * (-1j) ** reference.paulis.phase
        mismatch = float(np.max(np.abs(coeffs[xs, zs] - labelled)))
        out[name] = {
            "from_operator_s": t_qiskit,
            "decompose_s": t_decompose,
            "pauli_weights_s": t_weights,
            "support_weights_s": t_support,
            "max_abs_difference": mismatch,
            "qiskit_terms": len(reference),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10, 12])
    parser.add_argument("--dense-sizes", type=int, nargs="*", default=[10, 12])
    parser.add_argument("--transform-n", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="experiments/benchmarks/lbits_pipeline.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    record: dict[str, Any] = {
        "benchmark": "lbits_pipeline",
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "blas": [
                {k: v for k, v in lib.items() if k in ("internal_api", "num_threads", "version")}
                for lib in threadpool_info()
            ],
        },
        "versions": {
            "echo_lab": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "qiskit": qiskit.__version__,
        },
        "model": "RandomFieldXXZ(W=8, J=1, Jz=1, seed=1), open chain",
        "repeats": args.repeats,
        "timing": "minimum over repeats, seconds",
        "stages": [],
        "dense": [],
    }
    for n in args.sizes:
        record["stages"].append(stages(n, args.repeats))
        print(json.dumps(record["stages"][-1]), flush=True)
    for n in args.dense_sizes:
        record["dense"].append(dense_pipeline(n, 1 if n >= 12 else args.repeats))
        print(json.dumps(record["dense"][-1]), flush=True)
    record["transform"] = transform_comparison(args.transform_n, args.repeats)
    print(json.dumps(record["transform"]), flush=True)
    record["load_average_before"] = load_before
    record["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
