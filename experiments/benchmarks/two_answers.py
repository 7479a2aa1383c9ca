"""Why the exact-l-bit answer and the long-chain answer differ, measured on the same chains (#24).

echo_lab gives two kept fractions for a bare p-bit pulse:

* **exact** (``echo_scaling.toml``, N = 8-14): late-time <tau^x_p> of the exact overlap l-bit,
  T on the log grid 0.1-10^4 (late: T >= 1000);
* **long chain** (``echo_scaling_long_n*.toml``): late-time <ctau^x_p> of fitted circuit l-bits
  (2 brickwork layers, 100 L-BFGS iterations), T = 0.5, 1, 2, 5, 10, 20 (late: T >= 2).

They differ in two things at once, the readout operator and the time window. Here both are
changed one at a time on the same realizations and the same echoes (exact evolution of the p-bit
Hahn echo in the eigenbasis, 8 z-random backgrounds from seed k, the fields of
``lbit_convergence.py``: realization k of (N, W) is ``models.disorder_seeds(2024, k + 1)[k]``),
with :func:`echo_lab.study.reports.kept_in_readouts`:

=================  =============================  ==============================
readout            T <= 10^4 (late T >= 1000)     T <= 20 (late T >= 2)
=================  =============================  ==============================
exact l-bit        ``exact_long_time``  (answer 1) ``exact_short_time``
circuit l-bit      ``circuit_long_time``          ``circuit_short_time`` (answer 2)
=================  =============================  ==============================

Per realization the kept fraction of each readout is the ratio of means over its backgrounds
(late-time over initial value); per cell the mean over realizations with its standard error (the
studies instead sum late and initial values over realizations first, which weights realizations
by their initial coherence), and the paired differences: time window (``exact_short_time -
exact_long_time``) and operator (``circuit_short_time - exact_short_time``), which add up to the
whole gap.

Run (one core; about 10 s a realization at N = 10 and 30 s at N = 12)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/two_answers.py \
        --n 10 --realizations 30
    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/two_answers.py \
        --n 12 --realizations 20

Writes two_answers.json after every realization; realizations already in it are skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab import lbits
from echo_lab.bench.records import cells_of, fill_realizations
from echo_lab.physics import models
from echo_lab.study.reports import KEPT_TIMES, kept_in_readouts

OUT = Path(__file__).with_name("two_answers.json")
BACKGROUNDS = 8
#: The long-chain study files' times and circuit l-bits.
SHORT_TIMES = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
CIRCUIT = {"layers": 2, "max_iterations": 100}
CELLS = ("exact_long_time", "exact_short_time", "circuit_long_time", "circuit_short_time")


def one_realization(n: int, W: float, index: int, seed: int) -> dict[str, Any]:
    began = time.perf_counter()
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    hamiltonian = model.hamiltonian()
    p = n // 2
    exact = lbits.construct(hamiltonian, "overlap", lattice=model.lattice)
    circuit = lbits.construct(hamiltonian, "circuit", **CIRCUIT)
    values: dict[str, float] = {}
    for window, times in (("long_time", KEPT_TIMES), ("short_time", SHORT_TIMES)):
        kept = kept_in_readouts(
            exact, {"circuit": circuit}, p, times=times, backgrounds=BACKGROUNDS, seed=index
        )
        values[f"exact_{window}"] = kept["exact"]
        values[f"circuit_{window}"] = kept["circuit"]
    return {
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "fields": [float(h) for h in model.fields],
        "kept": values,
        "seconds": time.perf_counter() - began,
    }


def _mean(values: list[float]) -> dict[str, float]:
    data = np.asarray(values, dtype=float)
    sem = data.std(ddof=1) / np.sqrt(data.size) if data.size > 1 else float("nan")
    return {"mean": float(data.mean()), "sem": float(sem)}


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for n, W, group in cells_of(rows):

        def ensemble(name: str, rows: list[dict[str, Any]] = group) -> dict[str, float]:
            return _mean([r["kept"][name] for r in rows])

        def paired(first: str, second: str, rows: list[dict[str, Any]] = group) -> dict[str, float]:
            return _mean([r["kept"][first] - r["kept"][second] for r in rows])

        summary.append(
            {
                "n": n,
                "W": W,
                "realizations": len(group),
                **{name: ensemble(name) for name in CELLS},
                "time_window_effect": paired("exact_short_time", "exact_long_time"),
                "operator_effect": paired("circuit_short_time", "exact_short_time"),
                "operator_effect_long_time": paired("circuit_long_time", "exact_long_time"),
                "whole_gap": paired("circuit_short_time", "exact_long_time"),
            }
        )
    return summary


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--W", type=float, nargs="+", default=[8.0, 12.0, 16.0])
    parser.add_argument("--realizations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--max-seconds", type=float, default=7200.0)
    args = parser.parse_args(argv)
    settings = {
        "seed": args.seed,
        "backgrounds": BACKGROUNDS,
        "circuit": CIRCUIT,
        "short_times": SHORT_TIMES.tolist(),
        "long_times": "numpy.logspace(-1, 4, 25)",
        "late": "T >= T_max / 10",
    }
    fill_realizations(
        OUT,
        settings,
        args.n,
        args.W,
        args.realizations,
        lambda n, W, k: one_realization(n, W, k, args.seed),
        summarize,
        max_seconds=args.max_seconds,
        progress=lambda row: print(
            row["key"], {k: round(v, 3) for k, v in row["kept"].items()}, flush=True
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
