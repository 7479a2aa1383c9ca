"""Record: compiled l-bit pulses, a short circuit for the device goal of #24 (D >= 0.5 at W = 8).

The compiled l-bit (:func:`echo_lab.lbits.compiled.compiled_lbits`) of the centre site p = N // 2:
the sign of the (N - 2)-site window l-bit truncated to ``--support`` sites, carried by a brickwork
of magnetization-conserving two-qubit gates fitted with analytic gradients. No exact
diagonalization of the chain is used to build it. Per realization (the seeding of
``lbit_convergence.py``: realization k draws ``models.disorder_seeds(seed, k + 1)[k]``):

* the exact ``overlap`` l-bits of the chain (the reference only);
* the support ceiling of the support width (:func:`echo_lab.lbits.fidelity.support_ceiling`,
  the most D any operator on that many sites can reach) and D of the target B itself;
* for every ``--layers`` value: the compiled l-bit's D and F_x against the exact l-bit
  (:func:`echo_lab.lbits.fidelity.compare`, the package's readout path), the cosine between its
  tau^z and B, the CX count of its pulse circuit (Qiskit ``transpile`` level 3, all-to-all,
  :meth:`CompiledLBits.cx_count`), L-BFGS iterations and build seconds (window included).

Run (resumable; every realization's fields and seed are stored)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/compiled_lbit_pulse.py \\
        --n 12 --W 8 --W 8 12 16 --layers 4 6 --realizations 30

Results: experiments/benchmarks/compiled_lbit_pulse.json; the table is in
docs/pages/findings.md, "Device pulses: compiled l-bits".
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab import lbits
from echo_lab.bench.records import cells_of, fill_realizations
from echo_lab.lbits.compiled import compiled_lbits
from echo_lab.lbits.fidelity import compare, support_ceiling
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.study.reports import kept_in_readouts

OUT = Path(__file__).with_name("compiled_lbit_pulse.json")


def one_realization(
    n: int, W: float, index: int, seed: int, support: int, layer_counts: list[int], starts: int
) -> dict[str, Any]:
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    began = time.perf_counter()
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    reference_seconds = time.perf_counter() - began
    p = n // 2
    fits: dict[str, Any] = {}
    readouts: dict[str, Any] = {}
    window = window_lbits(model, p, width=n - 2)
    window_fidelity = compare(reference, window, p)
    for layers in layer_counts:
        began = time.perf_counter()
        compiled = compiled_lbits(
            model, p, window=n - 2, support=support, layers=layers, starts=starts
        )
        seconds = time.perf_counter() - began
        fidelity = compare(reference, compiled, p)
        readouts[str(layers)] = compiled
        fits[str(layers)] = {
            "gates": len(compiled.gates),
            "d": fidelity.d,
            "f_z": fidelity.f_z,
            "f_x": fidelity.f_x,
            "overlap_with_target": dict(compiled.overlaps),
            "pulse_cx": compiled.cx_count(),
            "iterations": compiled.fit.iterations,
            "seconds": seconds,
        }
    sites = compiled.support_sites
    ceiling = support_ceiling(reference, p, [support])[0]
    a_z = compare(reference, None, p).a_z
    # D of the target B_z itself (the sign of the truncated window l-bit), on the same support.
    exact_part = reference.window_operator("z", p, list(sites))
    f_target = float(np.vdot(exact_part, compiled.targets["z"]).real) / (1 << support)
    d_target = (f_target - a_z) / (1.0 - a_z)
    # The kept fraction of the p-bit echo read out in each compiled l-bit, in the window l-bit
    # it was fitted to and in the exact l-bit (one exact evolution for all readouts).
    began = time.perf_counter()
    kept = kept_in_readouts(reference, {"window": window, **readouts}, p, seed=index)
    kept_seconds = time.perf_counter() - began
    for key in fits:
        fits[key]["kept"] = kept[key]
    return {
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "fields": [float(h) for h in model.fields],
        "sites": list(sites),
        "a_z": a_z,
        "d_ceiling": ceiling.d,
        "ceiling_sites": list(ceiling.sites),
        "d_target": d_target,
        "window": {"d": window_fidelity.d, "f_x": window_fidelity.f_x, "kept": kept["window"]},
        "kept_exact": kept["exact"],
        "kept_seconds": kept_seconds,
        "reference_seconds": reference_seconds,
        "fits": fits,
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells = []
    for n, W, group in cells_of(rows):
        layers = sorted({key for row in group for key in row["fits"]}, key=int)

        def median(values: list[float]) -> float:
            return float(np.median(values))

        cells.append(
            {
                "n": n,
                "W": W,
                "realizations": len(group),
                "median_d_ceiling": median([row["d_ceiling"] for row in group]),
                "median_d_target": median([row["d_target"] for row in group]),
                "median_d_window": median([row["window"]["d"] for row in group]),
                "mean_kept_exact": float(np.mean([row["kept_exact"] for row in group])),
                "mean_kept_window": float(np.mean([row["window"]["kept"] for row in group])),
                "fits": {
                    key: {
                        "median_d": median([row["fits"][key]["d"] for row in group]),
                        "mean_d": float(np.mean([row["fits"][key]["d"] for row in group])),
                        "share_d_at_least_0.5": float(
                            np.mean([row["fits"][key]["d"] >= 0.5 for row in group])
                        ),
                        "median_f_x": median([row["fits"][key]["f_x"] for row in group]),
                        "mean_kept": float(np.mean([row["fits"][key]["kept"] for row in group])),
                        "median_abs_kept_error": median(
                            [abs(row["fits"][key]["kept"] - row["kept_exact"]) for row in group]
                        ),
                        "median_pulse_cx": median([row["fits"][key]["pulse_cx"] for row in group]),
                        "median_seconds": median([row["fits"][key]["seconds"] for row in group]),
                    }
                    for key in layers
                },
            }
        )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--W", type=float, nargs="+", default=[8.0])
    parser.add_argument("--support", type=int, default=6)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--realizations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--max-seconds", type=float, default=float("inf"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    settings = {
        "seed": args.seed,
        "support": args.support,
        "layers": args.layers,
        "starts": args.starts,
        "window": "N - 2 sites around N // 2",
        "construction": "echo_lab.lbits.compiled.compiled_lbits (sign targets of tau^z and "
        "tau^x, sz brickwork)",
        "kept": "study.reports.kept_in_readouts, p-bit Hahn echo, 8 z-random backgrounds, seed k",
    }
    fill_realizations(
        args.out,
        settings,
        args.n,
        args.W,
        args.realizations,
        lambda n, W, k: one_realization(n, W, k, args.seed, args.support, args.layers, args.starts),
        summarize,
        max_seconds=args.max_seconds,
        progress=lambda row: print(
            row["key"],
            f"ceiling {row['d_ceiling']:.3f} target {row['d_target']:.3f}",
            {k: (round(v["d"], 3), v["pulse_cx"]) for k, v in row["fits"].items()},
            flush=True,
        ),
    )


if __name__ == "__main__":
    main()
