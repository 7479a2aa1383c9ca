"""Diagnostic: the static weight a_p of the centre circuit l-bit vs chain length and fit budget.

In the long-chain scaling files (experiments/echo_scaling_long_n*.toml) the circuit l-bit's
a_p = Tr(sigma^x_p ctau^x_p) / 2^N of the centre spin falls with N at W = 8 (0.943 / 0.934 /
0.916 at N = 12 / 24 / 40, 100 realizations). This script asks two questions on the fields of
those files (W = 8, same seeds, probe N // 2):

* **budget**: circuit l-bits (two brickwork layers, as in the files) fitted with
  ``max_iterations`` 100 (the files) and 400, at N = 12, 24, 40: a_p, epsilon and the
  iterations L-BFGS-B used;
* **exact**: a_p of the exact (overlap) l-bit next to the circuit one at N = 8, 10, 12.

Run (3 min on the idle 2-core machine, 2026-12-02)::

    .venv/bin/python experiments/benchmarks/circuit_lbit_static_weight.py

Results go to experiments/benchmarks/circuit_lbit_static_weight.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab import lbits
from echo_lab.info import environment_info
from echo_lab.study.kinds.base import UnitSetup, setup_unit
from echo_lab.study.kinds.echo_scaling import static_weight
from echo_lab.study.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("circuit_lbit_static_weight.json")
W = 8.0


def setups(n: int, count: int) -> list[UnitSetup]:
    """The first ``count`` realizations at W = 8 of the long-chain file, at chain length n."""
    text = (ROOT / "experiments" / "echo_scaling_long_n12.toml").read_text()
    spec = parse_spec(re.sub(r"^n = 12$", f"n = {n}", text, flags=re.MULTILINE))
    return [setup_unit(spec, {"W": W}, k) for k in range(count)]


def circuit_weight(setup: UnitSetup, iterations: int) -> dict[str, Any]:
    """a_p of the centre circuit l-bit (the X_p coefficient of ctau^x_p) and the fit's record."""
    system = lbits.construct(
        setup.model.hamiltonian(), method="circuit", layers=2, max_iterations=iterations
    )
    return {
        "a_p": static_weight(system, setup.n // 2),
        "epsilon": float(system.epsilon),
        "iterations": [fit.iterations for fit in system.fits],
    }


def exact_weight(setup: UnitSetup) -> float:
    """a_p of the exact (overlap) l-bit of the centre spin."""
    system = lbits.construct(setup.model.hamiltonian(), method="overlap", lattice=setup.lattice)
    return static_weight(system, setup.n // 2)


def mean_sem(values: list[float]) -> dict[str, float]:
    data = np.asarray(values)
    return {"mean": float(data.mean()), "sem": float(data.std(ddof=1) / np.sqrt(data.size))}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget-realizations", type=int, default=8)
    parser.add_argument("--exact-realizations", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    budget = []
    for n in (12, 24, 40):
        rows = [
            {it: circuit_weight(setup, it) for it in (100, 400)}
            for setup in setups(n, args.budget_realizations)
        ]
        entry = {
            "n": n,
            "a_p_100": mean_sem([row[100]["a_p"] for row in rows]),
            "largest_change_400_vs_100": max(abs(r[400]["a_p"] - r[100]["a_p"]) for r in rows),
            "iterations_100": [r[100]["iterations"][0] for r in rows],
            "iterations_400": [r[400]["iterations"][0] for r in rows],
        }
        budget.append(entry)
        print(json.dumps(entry), flush=True)
    exact = []
    for n in (8, 10, 12):
        chosen = setups(n, args.exact_realizations)
        entry = {
            "n": n,
            "exact_a_p": mean_sem([exact_weight(setup) for setup in chosen]),
            "circuit_a_p": mean_sem([circuit_weight(setup, 100)["a_p"] for setup in chosen]),
        }
        exact.append(entry)
        print(json.dumps(entry), flush=True)
    result = {"environment": environment_info(), "W": W, "budget": budget, "exact": exact}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
