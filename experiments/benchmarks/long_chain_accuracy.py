"""Accuracy of the long-chain echo settings, realization by realization, against exact evolution.

The long-chain scaling files (experiments/echo_scaling_long_n*.toml: Hahn echo of the central
spin, p-bit and circuit l-bit pulses, readouts <sigma^x_p> and the circuit l-bit <ctau^x_p>,
Trotter circuits on Aer's matrix_product_state method, T = 0.5-20) are approximate twice: the
product formula (order, dt) and the MPS truncation (bond cap, threshold). This script runs whole
work units of ``echo_scaling_long_n12.toml`` (``echo_lab.study.kinds.echo.run_echo_unit``, the
code the study runs) at N = 12 and 16 with the file's settings overridden by each candidate
setting, and once on an exact backend (``exact`` at N = 12, ``krylov`` (Chebyshev, 1e-12) at
N = 16) with the same fields, the same circuit l-bits and the same initial states, and records
per realization the largest |deviation| of every echo variable over the times, pulses and
backgrounds, with the wall time of each unit.

Candidates (``--settings``): ``strang`` (the files as run until 2026-12-07: order 2, dt = 0.1,
chi <= 32), ``order4`` (order 4, dt = 0.1, chi <= 32) and ``order4-chi64``. Run (one process,
BLAS pinned to one thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python \\
        experiments/benchmarks/long_chain_accuracy.py --realizations 4

Results go to experiments/benchmarks/long_chain_accuracy.json (the goal of issue #23: every
single-realization echo within 1e-2 of exact evolution for W = 6-16, T <= 20).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from threadpoolctl import threadpool_limits

from echo_lab.info import environment_info
from echo_lab.study.kinds.echo import run_echo_unit
from echo_lab.study.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("long_chain_accuracy.json")
STUDY = "echo_scaling_long_n12.toml"

#: Candidate settings: name -> (order, dt, bond cap).
SETTINGS: dict[str, tuple[int, float, int]] = {
    "strang": (2, 0.1, 32),
    "order4": (4, 0.1, 32),
    "order4-chi64": (4, 0.1, 64),
}

#: The exact backend of each size (dense sectors to 12 sites, Chebyshev beyond).
REFERENCE = {12: {"name": "exact"}, 16: {"name": "krylov", "options": {"tolerance": 1e-12}}}


def study_text(n: int, backend: dict[str, Any]) -> str:
    """The scaling file at ``n`` sites with ``backend`` as its [backend] table."""
    raw = tomllib.loads((ROOT / "experiments" / STUDY).read_text())
    raw["model"]["n"] = n
    raw["backend"] = backend
    raw.pop("accuracy", None)
    return tomli_w.dumps(raw)


def run_unit(n: int, w: float, realization: int, backend: dict[str, Any]) -> dict[str, Any]:
    """One work unit: its echo variables (time dimension) and wall time."""
    spec = parse_spec(study_text(n, backend), source=f"{STUDY} at n = {n}")
    start = time.perf_counter()
    unit = run_echo_unit(spec, {"W": w}, realization)
    seconds = time.perf_counter() - start
    data = {
        name: np.asarray(var.values, dtype=float)
        for name, var in unit.dataset.data_vars.items()
        if "time" in var.dims
    }
    return {"seconds": seconds, "data": data, "times": unit.dataset["time"].values}


def mps_backend(order: int, dt: float, cap: int) -> dict[str, Any]:
    return {
        "name": "aer",
        "method": "matrix_product_state",
        "dt": dt,
        "order": order,
        "options": {"mps_options": {"truncation_threshold": 1e-7, "max_bond_dimension": cap}},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[12, 16])
    parser.add_argument("--W", type=float, nargs="+", default=[6.0, 8.0, 12.0, 16.0])
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    cases = []
    with threadpool_limits(1):
        for n in args.n:
            for w in args.W:
                for realization in range(args.realizations):
                    reference = run_unit(n, w, realization, REFERENCE[n])
                    case: dict[str, Any] = {
                        "n": n,
                        "W": w,
                        "realization": realization,
                        "reference": REFERENCE[n]["name"],
                        "reference_seconds": round(reference["seconds"], 2),
                        "settings": {},
                    }
                    for name in args.settings:
                        run = run_unit(n, w, realization, mps_backend(*SETTINGS[name]))
                        deviation = {
                            var: float(np.nanmax(np.abs(run["data"][var] - values)))
                            for var, values in reference["data"].items()
                            if var in run["data"]
                        }
                        case["settings"][name] = {
                            "seconds": round(run["seconds"], 2),
                            "max_deviation": deviation,
                            "worst": max(deviation.values()),
                        }
                    cases.append(case)
                    print(
                        n,
                        w,
                        realization,
                        {k: round(v["worst"], 5) for k, v in case["settings"].items()},
                        flush=True,
                    )
    summary = {}
    for name in args.settings:
        for n in args.n:
            worst = [c["settings"][name]["worst"] for c in cases if c["n"] == n]
            seconds = [c["settings"][name]["seconds"] for c in cases if c["n"] == n]
            summary[f"{name} n={n}"] = {
                "order_dt_cap": SETTINGS[name],
                "max_worst": max(worst),
                "median_worst": float(np.median(worst)),
                "within_1e-2": int(sum(v <= 1e-2 for v in worst)),
                "units": len(worst),
                "mean_seconds": float(np.mean(seconds)),
            }
    result = {
        "environment": environment_info(),
        "study": STUDY,
        "command": "long_chain_accuracy.py " + " ".join(argv),
        "summary": summary,
        "cases": cases,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
