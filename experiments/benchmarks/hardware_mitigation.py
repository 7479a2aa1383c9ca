r"""Benchmark: echoes on simulated IBM devices, their mitigation, Trotter error and cost.

Three parts, one JSON file:

* ``trotter_error``: the second-order Trotter error of the p-bit Hahn echo <sigma^x_p>(T) against
  exact evolution, N = 8, W = 8 and 16, Jz = 1, T = 2 k dt in [0.5, 10] (times the circuits
  simulate exactly), for dt = 0.05 ... 0.5, over ``--realizations`` disorder realizations (max over
  T per realization, then its mean and worst over realizations; and the mean |error| over T).
* ``mitigation``: at N = 6 and 8 on the best line of ``--device``, the p-bit Hahn echo at a few
  times with dt = 0.25: the noiseless value of the same circuit (``ideal``: the diagonalized
  Trotter step, no noise, no shots), exact evolution, the raw device estimate, ZNE (twirling +
  TREX + gate folding at 1, 3, 5, exponential and linear fits), and the compute-uncompute
  normalized echo (raw and mitigated). ``off`` = |raw - ideal| > 0.1; ``agrees`` = |mitigated -
  ideal| <= 2 stderr.
* ``cost``: wall seconds for one echo circuit (T = 4, dt = 0.25) per method: raw; raw + twirling
  (8 randomizations); raw + ZNE (untwirled); raw + twirling + readout + ZNE; density matrix at
  N = 8, trajectories at N = 8 and 12. Each mitigated figure includes the raw run.

Timings are under whatever load the machine has: the load average before and after each part is
recorded. ``--parts`` reruns some parts and keeps the others of an existing ``--out``.

Run (about 8 minutes on 2 busy cores)::

    PYTHONPATH=. .venv/bin/python experiments/benchmarks/hardware_mitigation.py \
        --out experiments/benchmarks/hardware_mitigation.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import qiskit
import qiskit_aer
import qiskit_ibm_runtime

from echo_lab import __version__
from echo_lab.backends.exact import ExactBackend
from echo_lab.backends.trotter_exact import TrotterExactBackend
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.hardware.backend import DeviceBackend
from echo_lab.hardware.mitigation import MitigationSpec
from echo_lab.physics import models, states
from echo_lab.protocols import observables
from echo_lab.protocols import sequences as protocols

FULL = ("twirling", "readout", "zne", "normalize")


def _case(n: int, W: float, seed: int) -> tuple[Any, Any, Any, dict[str, Any]]:
    p = n // 2 - 1
    H = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed).hamiltonian()
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(seed))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    return H, sequence, state, ops


def trotter_error(realizations: int) -> list[dict[str, Any]]:
    rows = []
    for W in (8.0, 16.0):
        for dt in (0.05, 0.1, 0.125, 0.25, 0.5):
            times = np.arange(1, round(10 / (2 * dt)) + 1) * 2 * dt
            times = times[times >= 0.5 - 1e-12]
            worst, mean = [], []
            for seed in range(realizations):
                H, sequence, state, ops = _case(8, W, seed)
                exact = ExactBackend().run(H, sequence, state, times, observables=ops)["sx"]
                trot = TrotterExactBackend(dt=dt, order=2).run(
                    H, sequence, state, times, observables=ops
                )["sx"]
                error = np.abs(trot - exact)
                worst.append(float(error.max()))
                mean.append(float(error.mean()))
            rows.append(
                {
                    "W": W,
                    "dt": dt,
                    "steps_per_unit_time": 1 / dt,
                    "max_error_mean_over_realizations": float(np.mean(worst)),
                    "max_error_worst_realization": float(np.max(worst)),
                    "mean_abs_error": float(np.mean(mean)),
                }
            )
    return rows


def mitigation_check(device: str, n: int, times: np.ndarray, shots: int) -> dict[str, Any]:
    H, sequence, state, ops = _case(n, 8.0, seed=1)
    ideal = TrotterExactBackend(dt=0.25).run(H, sequence, state, times, observables=ops)["sx"]
    exact = ExactBackend().run(H, sequence, state, times, observables=ops)["sx"]
    spec = MitigationSpec.from_names(FULL, randomizations=8)
    backend = DeviceBackend(device, dt=0.25, shots=shots, mitigation=spec, seed=7)
    start = time.perf_counter()
    out = backend.run(H, sequence, state, times, observables=ops)
    seconds = time.perf_counter() - start
    rows = []
    for k, t in enumerate(times):
        row = {"T": float(t), "ideal": float(ideal[k]), "exact_evolution": float(exact[k])}
        for key, value in out.items():
            if key.startswith("sx") and value.ndim == 1:
                row[key] = float(value[k])
        row["off"] = bool(abs(row["sx_raw"] - row["ideal"]) > 0.1)
        for name in ("sx_mitigated", "sx_zne_exponential", "sx_zne_linear", "sx"):
            error = row[f"{name}_stderr"]
            row[f"{name}_z"] = (row[name] - row["ideal"]) / error if error > 0 else None
        row["agrees"] = bool(
            abs(row["sx_mitigated"] - row["ideal"]) <= 2 * row["sx_mitigated_stderr"]
        )
        normalized_raw = row["sx_raw"] * row["sx_reference_ideal"] / row["sx_reference"]
        row["normalized_raw_only"] = normalized_raw
        row["two_qubit_gates"] = int(out["two_qubit_gates"][k])
        row["success_probability"] = float(out["success_probability"][k])
        rows.append(row)
    return {
        "device": device,
        "n": n,
        "W": 8.0,
        "dt": 0.25,
        "shots": shots,
        "randomizations": 8,
        "layout": out["layout"].tolist(),
        "seconds": seconds,
        "rows": rows,
    }


def cost(device: str) -> list[dict[str, Any]]:
    rows = []
    everything = ((), ("twirling",), ("zne",), ("twirling", "readout", "zne"))
    settings = [
        (8, "density_matrix", 4000, everything),
        (8, "statevector", 1000, everything),
        # Measured once under load 8: twirling 392 s, ZNE 949 s per circuit at N = 12.
        (12, "statevector", 1000, ((),)),
    ]
    for n, method, shots, mitigations in settings:
        H, sequence, state, ops = _case(n, 8.0, seed=1)
        for names in mitigations:
            spec = MitigationSpec.from_names(names, randomizations=8)
            backend = DeviceBackend(
                device, dt=0.25, shots=shots, mitigation=spec, method=method, seed=1
            )
            start = time.perf_counter()
            out = backend.run(H, sequence, state, np.array([4.0]), observables=ops)
            rows.append(
                {
                    "n": n,
                    "method": method,
                    "shots": shots,
                    "mitigation": list(names),
                    "seconds_per_circuit": time.perf_counter() - start,
                    "two_qubit_gates": int(out["two_qubit_gates"][0]),
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("hardware_mitigation.json"))
    parser.add_argument("--device", default="fez")
    parser.add_argument("--realizations", type=int, default=8)
    parser.add_argument("--shots", type=int, default=8000)
    parser.add_argument(
        "--parts",
        default="trotter_error,mitigation,cost",
        help="comma-separated parts to (re)run; the others are kept from an existing --out",
    )
    args = parser.parse_args()
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    result["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count()}
    result["versions"] = {
        "echo_lab": __version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "qiskit_ibm_runtime": qiskit_ibm_runtime.__version__,
    }
    parts = {
        "trotter_error": lambda: trotter_error(args.realizations),
        "mitigation": lambda: [
            mitigation_check(args.device, 6, np.array([1.0, 2.0, 3.0, 4.0]), args.shots),
            mitigation_check(args.device, 8, np.array([1.0, 2.0, 4.0]), args.shots),
        ],
        "cost": lambda: cost(args.device),
    }
    for part in args.parts.split(","):
        load_before = os.getloadavg()
        result[part] = parts[part]()
        result[f"{part}_load_before_after"] = [load_before, os.getloadavg()]
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(part, "done", flush=True)


if __name__ == "__main__":
    main()
