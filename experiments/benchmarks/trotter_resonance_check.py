"""Order-4 Trotter error of every unit of the N = 12 long-chain file, against exact evolution.

``experiments/echo_scaling_long_n12.toml`` with 20 realizations (p-bit and circuit l-bit pulses,
circuit l-bit readouts, T = 0.5-20): every work unit on ``trotter-exact`` (the Trotter circuits'
step unitary, no truncation) at order 4 and dt = 0.1 and 0.05, and on ``exact``; the largest
|<ctau^x_p> - exact| per unit. Found by the paired N = 12 run (long_chain_paired.json): at
W = 16 a realization with fields near +-15.6 (h dt ~ 1.6 rad per step at dt = 0.1) is off by
0.137 at dt = 0.1 and by 5e-4 at dt = 0.05. Arguments: W or a comma-separated list of W, then
the realizations::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/trotter_resonance_check.py 16 17

writes trotter_resonance_check.json, the resonant unit. A unit costs about 1-3 min on one core
(the dense 4096 x 4096 step unitary of trotter-exact is diagonalized for each dt, and the circuit
l-bits are fitted for every backend). ``--only order4_dt0.05`` leaves out the dt = 0.1 column and
``--out NAME.json`` writes another file of this folder; every unit of the file at its committed
settings (order 4, dt = 0.05), 1-3 min a unit::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/trotter_resonance_check.py \
        --only order4_dt0.05 --out trotter_committed_check.json 16,12,8 $(seq 0 19)

The file is written after every unit; units already in it are skipped, so rerunning a stopped
run resumes it.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from echo_lab.info import environment_info
from echo_lab.study.kinds.echo import run_echo_unit
from echo_lab.study.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("trotter_resonance_check.json")
BACKENDS: dict[str, dict[str, Any]] = {
    "exact": {"name": "exact"},
    "order4_dt0.1": {"name": "trotter-exact", "dt": 0.1, "order": 4},
    "order4_dt0.05": {"name": "trotter-exact", "dt": 0.05, "order": 4},
}


def echo(w: float, realization: int, backend: dict[str, Any]) -> np.ndarray:
    raw = tomllib.loads((ROOT / "experiments" / "echo_scaling_long_n12.toml").read_text())
    raw["study"]["realizations"] = 20
    raw["backend"] = backend
    raw.pop("accuracy", None)
    spec = parse_spec(tomli_w.dumps(raw), source="echo_scaling_long_n12 (20 realizations)")
    return np.asarray(run_echo_unit(spec, {"W": w}, realization).dataset["ctau_x"].values)


def main(argv: list[str]) -> None:
    out = OUT
    backends = dict(BACKENDS)
    while argv and argv[0].startswith("--"):
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--only":
            backends = {"exact": BACKENDS["exact"], value: BACKENDS[value]}
        elif flag == "--out":
            out = OUT.with_name(Path(value).name)
        else:
            raise SystemExit(f"unknown option {flag}; use --only NAME or --out FILE.json")
    disorders = [float(w) for w in argv[0].split(",")] if argv else [16.0]
    realizations = [int(a) for a in argv[1:]] or list(range(20))
    # units already in the output file are kept and skipped: rerunning resumes
    units = json.loads(out.read_text())["units"] if out.exists() else []
    done = {(u["W"], u["realization"]) for u in units}
    for w in disorders:
        for realization in realizations:
            if (w, realization) in done:
                continue
            values = {name: echo(w, realization, backend) for name, backend in backends.items()}
            errors = {
                name: float(np.abs(values[name] - values["exact"]).max())
                for name in backends
                if name != "exact"
            }
            units.append({"W": w, "realization": realization, "max_abs_error": errors})
            print(w, realization, {k: round(v, 5) for k, v in errors.items()}, flush=True)
            write(out, backends, units)


def write(out: Path, backends: dict[str, Any], units: list[dict[str, Any]]) -> None:
    summary = {
        f"W={w:g} {name}": {
            "max": max(u["max_abs_error"][name] for u in units if u["W"] == w),
            "units_above_1e-2": sum(u["max_abs_error"][name] > 1e-2 for u in units if u["W"] == w),
            "units": sum(u["W"] == w for u in units),
        }
        for w in sorted({u["W"] for u in units})
        for name in backends
        if name != "exact"
    }
    record = {"environment": environment_info(), "summary": summary, "units": units}
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
