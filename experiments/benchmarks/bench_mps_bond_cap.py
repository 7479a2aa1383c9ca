"""Benchmark: the MPS bond-dimension cap of the long-chain scaling files, its cost and its error.

The long-chain parts of the scaling study (experiments/echo_scaling_long_n12.toml, _n24.toml,
_n40.toml: Hahn echo of the central spin, p-bit and circuit l-bit pulses, readout <ctau^x_p>,
Aer matrix_product_state, Strang steps dt = 0.1, T = 0.5-20) cap the bond dimension at 32. This
script runs whole work units of those files (``echo_lab.study.kinds.echo.run_echo_unit``, the code
the study runs) at several caps and records, per unit and cap, the wall time and the echoes
<ctau^x_p>(T) of both pulses, and per unit the largest deviation of each cap from the largest
cap, overall and for T <= 10. At N = 12 a cap of 64 is no cap at all (a bond of a 12-site chain
has at most 2^6 states), so there the reference is the untruncated MPS.

Default cases: the resonant N = 40, W = 12 realization 3 (uncapped it ran for more than 10 min),
the first two N = 24, W = 8 realizations (uncapped units of 2-16 min at W = 8), and two N = 12,
W = 8 realizations. Run (one process; 11 min on the idle 2-core machine, 2026-12-02)::

    .venv/bin/python experiments/benchmarks/bench_mps_bond_cap.py

Results go to experiments/benchmarks/mps_bond_cap.json.
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

from echo_lab.info import environment_info
from echo_lab.study.kinds.echo import run_echo_unit
from echo_lab.study.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("mps_bond_cap.json")

#: (study file, W, realization, caps); the last cap is the reference.
CASES: list[tuple[str, float, int, tuple[int, ...]]] = [
    ("echo_scaling_long_n12.toml", 8.0, 0, (16, 32, 64)),
    ("echo_scaling_long_n12.toml", 8.0, 1, (16, 32, 64)),
    ("echo_scaling_long_n24.toml", 8.0, 0, (16, 32, 64)),
    ("echo_scaling_long_n24.toml", 8.0, 1, (16, 32, 64)),
    ("echo_scaling_long_n40.toml", 12.0, 3, (16, 32, 64)),
]


def run_case(study: str, w: float, realization: int, cap: int) -> dict[str, Any]:
    """One work unit of ``study`` at disorder ``w`` with the bond dimension capped at ``cap``."""
    raw = tomllib.loads((ROOT / "experiments" / study).read_text())
    raw["backend"]["options"]["mps_options"]["max_bond_dimension"] = cap
    spec = parse_spec(tomli_w.dumps(raw), source=f"{study} (cap {cap})")
    start = time.perf_counter()
    unit = run_echo_unit(spec, {"W": w}, realization)
    seconds = time.perf_counter() - start
    echo = unit.dataset["ctau_x"].sel(background="z-random")
    return {
        "cap": cap,
        "seconds": round(seconds, 2),
        "times": [float(t) for t in echo.time.values],
        "ctau_x": {str(p): echo.sel(pulse=p).values.round(6).tolist() for p in echo.pulse.values},
    }


def deviations(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest |<ctau^x_p>| deviation of each cap from the last (largest) one."""
    reference = runs[-1]
    times = np.asarray(reference["times"])
    out = []
    for run in runs[:-1]:
        diff = np.array(
            [
                np.abs(np.asarray(run["ctau_x"][p]) - np.asarray(reference["ctau_x"][p]))
                for p in reference["ctau_x"]
            ]
        )
        out.append(
            {
                "cap": run["cap"],
                "reference_cap": reference["cap"],
                "max_deviation": float(diff.max()),
                "max_deviation_t_le_10": float(diff[:, times <= 10].max()),
            }
        )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    cases = []
    for study, w, realization, caps in CASES:
        runs = [run_case(study, w, realization, cap) for cap in caps]
        case = {"study": study, "W": w, "realization": realization, "runs": runs}
        case["deviations"] = deviations(runs)
        cases.append(case)
        print(study, w, realization, [r["seconds"] for r in runs], case["deviations"], flush=True)
    result = {"environment": environment_info(), "cases": cases}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
