"""Floor of #24's D goal: how much the exact l-bit of the centre changes with the field at the end.

The realizations of ``lbit_convergence.py`` (same seeds: realization k of (N, W) has the fields of
``models.disorder_seeds(seed, k + 1)[k]``), centre site p = N // 2. For each one the field h_0 of
the first site (distance N // 2 from p, outside every window of width <= N - 2 around p) is
redrawn from the same distribution, uniform in [-W, W] from ``default_rng([seed, N, k])``, so
both chains are equally typical draws of the ensemble. Recorded per realization
(:func:`echo_lab.lbits.fidelity.compare`, conventions section 10):

* ``end``: F_z, a_z and D of the exact overlap l-bit of the redrawn chain against that of the
  original one (``end_reverse``: the other way round, with the redrawn chain's a_z);
* ``window w``: F_z and D of the window l-bits (width w, blind to h_0 by construction, so the
  same operator for both chains) against each chain's exact l-bit;
* ``blind_ceiling``: for any construction C that does not depend on h_0,
  ``sqrt(1 - F)`` is a metric distance between +-1 operators (``||A - B||^2 / 2^N = 2 (1 - F)``),
  so ``max(1 - F(C, tau), 1 - F(C, tau')) >= (1 - F(tau, tau')) / 4``, hence
  ``min(D, D') <= 1 - (1 - F_end) / (4 max(1 - a_z, 1 - a_z'))``: on at least one of the two
  equally likely chains, C captures no more than this share of the dressing;
* ``kept``: the kept fraction of the p-bit Hahn echo of the original chain (exact evolution, 8
  z-random backgrounds, seed k; :func:`echo_lab.study.reports.kept_in_readouts`) read out in its
  exact l-bit (``exact``), in the redrawn chain's exact l-bit (``end``) and in the windows.

The question it answers: is a D of 0.85 against the exact l-bit of a finite chain reachable at all
by a construction that does not see the chain's far end, or does a field 5-6 sites away already
move the exact l-bit by more (resonances the finite chain's exact assignment includes)?

Run (one core; N = 10 in about 10 min, N = 12 about 30 s a realization)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/lbit_end_sensitivity.py \\
        --n 10 --W 4 6 8 12 16 --realizations 30
    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/lbit_end_sensitivity.py \\
        --n 12 --W 8 12 16 --realizations 20

``--continuity`` instead shifts h_0 by small amounts (``--deltas``, default 1e-4 to 1) and
records D of the shifted chain's exact l-bit against the original one per realization, in
lbit_end_continuity.json: whether the change is a jump of the assignment at any perturbation
(D < 1 already at 1e-4) or grows with the shift as avoided crossings are passed::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/lbit_end_sensitivity.py \
        --continuity --n 10 --W 8 12 16 --realizations 30

The JSON (lbit_end_sensitivity.json) is rewritten after every realization and realizations
already present are skipped, so rerunning resumes; the cells (medians, means, counts) are
recomputed from the realizations at every write.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from echo_lab import lbits
from echo_lab.bench.records import cells_of, fill_realizations
from echo_lab.info import environment_info
from echo_lab.lbits.fidelity import compare
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.study.reports import kept_in_readouts

OUT = Path(__file__).with_name("lbit_end_sensitivity.json")
CONTINUITY = OUT.with_name("lbit_end_continuity.json")
BACKGROUNDS = 8


def one_realization(n: int, W: float, index: int, seed: int, widths: list[int]) -> dict[str, Any]:
    """The exact l-bit of the centre with h_0 as drawn and redrawn, and h_0-blind windows."""
    began = time.perf_counter()
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    fields = np.array(model.fields, dtype=float)
    redrawn = fields.copy()
    redrawn[0] = np.random.default_rng([seed, n, index]).uniform(-W, W)
    other = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, fields=redrawn)
    p = n // 2
    exact = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    exact_end = lbits.construct(other.hamiltonian(), "overlap", lattice=other.lattice)

    def values(reference: lbits.LBitSystem, source: lbits.LBitSource) -> dict[str, float]:
        result = compare(reference, source, p)
        return {"f_z": float(result.f_z), "a_z": float(result.a_z), "d": float(result.d)}

    end = values(exact, exact_end)
    end_reverse = values(exact_end, exact)
    windows = {}
    sources: dict[str, lbits.LBitSource | None] = {"end": exact_end}
    for width in widths:
        window = window_lbits(model, p, width=width)
        if 0 in window.window:
            raise SystemExit(f"width {width} reaches site 0 at N = {n}; use widths <= {n - 2}")
        windows[f"window w={width}"] = {
            "original": values(exact, window),
            "redrawn": values(exact_end, window),
        }
        sources[f"window w={width}"] = window
    worst_bare = max(1.0 - end["a_z"], 1.0 - end_reverse["a_z"])
    ceiling = 1.0 - (1.0 - end["f_z"]) / (4.0 * worst_bare) if worst_bare > 0 else float("nan")
    kept = kept_in_readouts(exact, sources, p, backgrounds=BACKGROUNDS, seed=index)
    return {
        "site": p,
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "fields": [float(h) for h in fields],
        "redrawn_h0": float(redrawn[0]),
        "end": end,
        "end_reverse": end_reverse,
        "windows": windows,
        "blind_ceiling": float(ceiling),
        "kept": {label: float(value) for label, value in kept.items()},
        "seconds": time.perf_counter() - began,
    }


def continuity(
    n: int, Ws: list[float], realizations: int, seed: int, deltas: list[float]
) -> dict[str, Any]:
    """D of the exact l-bit of the centre with h_0 shifted by each delta, against the original."""
    rows = []
    for W in Ws:
        for index in range(realizations):
            sequence = models.disorder_seeds(seed, index + 1)[index]
            model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
            exact = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
            d = []
            for delta in deltas:
                fields = np.array(model.fields, dtype=float)
                fields[0] += delta
                shifted = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, fields=fields)
                other = lbits.construct(shifted.hamiltonian(), "overlap", lattice=shifted.lattice)
                d.append(float(compare(exact, other, n // 2).d))
            rows.append({"n": n, "W": W, "index": index, "d": d})
            print(n, W, index, [round(v, 3) for v in d], flush=True)
    cells = [
        {
            "n": n,
            "W": W,
            "deltas": deltas,
            "median_d": [
                float(np.median([r["d"][j] for r in rows if r["W"] == W]))
                for j in range(len(deltas))
            ],
            "mean_d": [
                float(np.mean([r["d"][j] for r in rows if r["W"] == W])) for j in range(len(deltas))
            ],
            "share_below_0.99": [
                float(np.mean([r["d"][j] < 0.99 for r in rows if r["W"] == W]))
                for j in range(len(deltas))
            ],
        }
        for W in Ws
    ]
    return {"cells": cells, "rows": rows}


def _stats(values: list[float]) -> dict[str, float | int]:
    data = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if data.size == 0:
        return {"count": 0}
    return {
        "median": float(np.median(data)),
        "mean": float(data.mean()),
        "q25": float(np.quantile(data, 0.25)),
        "count": int(data.size),
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for n, W, group in cells_of(rows):
        labels = list(group[0]["windows"])
        exact_kept = [r["kept"]["exact"] for r in group]
        summary.append(
            {
                "n": n,
                "W": W,
                "realizations": len(group),
                "end_d": _stats([r["end"]["d"] for r in group]),
                "end_f_z": _stats([r["end"]["f_z"] for r in group]),
                "end_d_below_0.85": sum(r["end"]["d"] < 0.85 for r in group),
                "blind_ceiling": _stats([r["blind_ceiling"] for r in group]),
                "blind_ceiling_below_0.85": sum(r["blind_ceiling"] < 0.85 for r in group),
                "windows": {
                    label: {
                        "d_original": _stats([r["windows"][label]["original"]["d"] for r in group]),
                        "d_redrawn": _stats([r["windows"][label]["redrawn"]["d"] for r in group]),
                    }
                    for label in labels
                },
                "kept_exact": _stats(exact_kept),
                "abs_kept_end_minus_exact": _stats(
                    [abs(r["kept"]["end"] - r["kept"]["exact"]) for r in group]
                ),
                "abs_kept_window_minus_exact": {
                    label: _stats([abs(r["kept"][label] - r["kept"]["exact"]) for r in group])
                    for label in labels
                },
            }
        )
    return summary


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--W", type=float, nargs="+", required=True)
    parser.add_argument("--realizations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--widths", type=int, nargs="+", default=[6, 8])
    parser.add_argument("--max-seconds", type=float, default=7200.0)
    parser.add_argument("--continuity", action="store_true")
    parser.add_argument("--deltas", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 0.1, 1.0])
    args = parser.parse_args(argv)
    if args.continuity:
        began = time.perf_counter()
        with threadpool_limits(1):
            result = continuity(args.n, args.W, args.realizations, args.seed, args.deltas)
        result["run"] = {
            "command": " ".join([sys.executable, *sys.argv]),
            "environment": environment_info(),
            "seconds": time.perf_counter() - began,
            "load_average_after": list(os.getloadavg()),
        }
        CONTINUITY.write_text(json.dumps(result, indent=1) + "\n")
        return
    fill_realizations(
        OUT,
        {"seed": args.seed, "backgrounds": BACKGROUNDS},
        args.n,
        args.W,
        args.realizations,
        lambda n, W, k: one_realization(n, W, k, args.seed, args.widths),
        summarize,
        max_seconds=args.max_seconds,
        progress=lambda row: print(
            row["key"], round(row["end"]["d"], 3), round(row["blind_ceiling"], 3), flush=True
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
