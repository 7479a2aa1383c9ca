r"""Record: how much the seed's ``range`` assignment lowers the average range below ``overlap``.

Random-field XXZ chains, n = 8, J = Jz = 1, W in {4, 8, 16}, 20 realizations each with the
seeds ``models.disorder_seeds(seed, 20)`` (base seed 2024). For every realization both methods
share one diagonalization; the record keeps the average range of tau^z and tau^x for ``overlap``
and ``range``, the lowering of the tau^z average range (the optimized quantity; mean, min, max),
the sweeps and moves of the optimization and the time per realization of each method (the
``range`` time includes its own ``overlap`` start and the K matrix), plus the fields of every
realization.

Run (about 2 minutes on 2 idle cores)::

    PYTHONPATH=. .venv/bin/python experiments/benchmarks/range_assignment.py \
        --out experiments/benchmarks/range_assignment.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np
import qiskit
import scipy

from echo_lab import __version__, lbits
from echo_lab.physics import models


def run_disorder(n: int, W: float, seeds: list[np.random.SeedSequence]) -> dict[str, Any]:
    rows = []
    for seed in seeds:
        model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed)
        h = model.hamiltonian()
        start = time.perf_counter()
        overlap = lbits.construct(h, method="overlap", lattice=model.lattice)
        overlap_z, overlap_x = overlap.average_range("z"), overlap.average_range("x")
        overlap_s = time.perf_counter() - start
        eigensystem = (overlap.energies, overlap.vectors)
        start = time.perf_counter()
        optimized = lbits.construct(
            h, method="range", lattice=model.lattice, eigensystem=eigensystem
        )
        range_construct_s = time.perf_counter() - start
        range_z, range_x = optimized.average_range("z"), optimized.average_range("x")
        range_s = time.perf_counter() - start
        rows.append(
            {
                "fields": model.fields.tolist(),
                "overlap_z": overlap_z,
                "overlap_x": overlap_x,
                "range_z": range_z,
                "range_x": range_x,
                "lowering_z": overlap_z - range_z,
                "sweeps": optimized.info["sweeps"],
                "moves": optimized.info["moves"],
                "overlap_s": overlap_s,
                "range_construct_s": range_construct_s,
                "range_s": range_s,
            }
        )

    def column(key: str) -> np.ndarray:
        return np.array([row[key] for row in rows], dtype=float)

    lowering = column("lowering_z")
    return {
        "W": W,
        "realizations": len(rows),
        "mean_overlap_z": float(column("overlap_z").mean()),
        "mean_range_z": float(column("range_z").mean()),
        "mean_overlap_x": float(column("overlap_x").mean()),
        "mean_range_x": float(column("range_x").mean()),
        "lowering_z_mean": float(lowering.mean()),
        "lowering_z_min": float(lowering.min()),
        "lowering_z_max": float(lowering.max()),
        "realizations_lowered": int(np.sum(lowering > 1e-9)),
        "mean_moves": float(column("moves").mean()),
        "overlap_s_per_realization": float(column("overlap_s").mean()),
        "range_s_per_realization": float(column("range_s").mean()),
        "range_construct_s_per_realization": float(column("range_construct_s").mean()),
        "per_realization": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--W", type=float, nargs="+", default=[4.0, 8.0, 16.0])
    parser.add_argument("--realizations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", default="experiments/benchmarks/range_assignment.json")
    args = parser.parse_args()
    record: dict[str, Any] = {
        "record": "range_assignment",
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            "echo_lab": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "qiskit": qiskit.__version__,
        },
        "model": f"RandomFieldXXZ(n={args.n}, J=1, Jz=1), open chain",
        "base_seed": args.seed,
        "load_average_before": os.getloadavg(),
        "disorder": [],
    }
    seeds = models.disorder_seeds(args.seed, args.realizations)
    header = (
        f"{'W':>5} {'overlap z':>10} {'range z':>8} {'overlap x':>10} {'range x':>8} "
        f"{'lower mean':>11} {'min':>8} {'max':>8} {'lowered':>8} {'s/real':>7}"
    )
    print(header)
    for W in args.W:
        summary = run_disorder(args.n, W, seeds)
        record["disorder"].append(summary)
        print(
            f"{W:5g} {summary['mean_overlap_z']:10.4f} {summary['mean_range_z']:8.4f} "
            f"{summary['mean_overlap_x']:10.4f} {summary['mean_range_x']:8.4f} "
            f"{summary['lowering_z_mean']:11.4f} {summary['lowering_z_min']:8.4f} "
            f"{summary['lowering_z_max']:8.4f} "
            f"{summary['realizations_lowered']:>4d}/{summary['realizations']:<3d} "
            f"{summary['range_s_per_realization']:7.2f}",
            flush=True,
        )
    record["load_average_after"] = os.getloadavg()
    with open(args.out, "w") as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
