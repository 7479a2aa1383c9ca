"""Record: how much of the exact l-bit any operator on w sites can capture (#24, items 2 and 3).

For the realizations of ``lbit_convergence.json`` (same seeding: realization k of every (N, W)
cell has the fields of ``models.disorder_seeds(seed, k + 1)[k]``; centre site p = N // 2), the
ceiling of F_z and D over all operators supported on w contiguous sites containing p
(:func:`echo_lab.lbits.fidelity.support_ceiling`: the norm of the exact tau^z_p truncated to the
best such window), for every w = 1..N, against the exact ``overlap`` l-bits.

Every construction on w sites (a window l-bit of width w, a pulse circuit whose light cone of p
has w sites) has D at most this ceiling, so the record answers two questions of issue #24 with a
measurement instead of a construction:

* the support a construction needs for median D >= 0.85 (the scalable-l-bit goal) and for
  median D >= 0.5 (the device-pulse goal);
* how far the window l-bits of ``lbit_convergence.json`` (and ``lbit_convergence_w10.json``)
  are from the ceiling of their own width: the cells join their median D by realization key and
  check that both records describe the same chain (the same a_z to 1e-9);
* how close an involution on few sites gets to the ceiling: for radius r = 1, 2 (the 3 and 5
  sites [p - r, p + r]), D of the polar factor (sign) of tau^z_p truncated to those sites (the
  construction the ``lbit:r`` / ``window:w:r`` pulses apply to tau^x,
  :func:`echo_lab.dynamics.pulses.polar_factor`), once from the exact l-bit (``exact``, block
  by block) and once from the window l-bit of width N - 2 (``window``, scalable: it needs no
  exact diagonalization of the chain).

For scale, ``generic_pulse_cx`` holds the CX count of a w-site window pulse (w = 2..6, the
first N = 12, W = 8 realization) compiled by Qiskit's generic unitary synthesis (``transpile``
to cx, rz, sx, x at optimization level 2, seed 1): what a pulse on w sites costs on a device
when nothing but its support is known.

Every row stores the fields, the seed and every ceiling, so any cell can be recomputed.
Resumable (:func:`echo_lab.bench.records.fill_realizations`); ``--cells-only`` recomputes the
cells after the convergence records grew::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/benchmarks/lbit_support_ceiling.py \\
        --n 10 12
    .venv/bin/python experiments/benchmarks/lbit_support_ceiling.py --cells-only

Results: experiments/benchmarks/lbit_support_ceiling.json and lbit_support_ceiling.png; the
table and what it says: docs/pages/findings.md, "The ceiling of a support".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab import lbits
from echo_lab.bench.records import cells_of, fill_realizations
from echo_lab.dynamics.pulses import ZERO_EIGENVALUE_TOLERANCE, polar_factor, truncate_to_window
from echo_lab.lbits.fidelity import support_ceiling
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.study.results import write_text_atomically

HERE = Path(__file__).parent
OUT = HERE / "lbit_support_ceiling.json"
FIGURE = OUT.with_suffix(".png")
CONVERGENCE = (HERE / "lbit_convergence.json", HERE / "lbit_convergence_w10.json")
#: The goals of issue #24 the cells are read against.
GOALS = {"scalable": 0.85, "device": 0.5}
#: Radii of the truncated involutions (3 and 5 sites around the centre).
RADII = (1, 2)


def truncated_d(
    reference: lbits.LBitSystem, model: models.RandomFieldXXZ, p: int, a_z: float
) -> dict[str, dict[str, Any]]:
    """D of the polar factor of tau^z_p truncated to [p - r, p + r], from the exact l-bit and
    from the (N - 2)-site window l-bit (None where the truncation has a zero eigenvalue)."""
    n = model.n
    window = window_lbits(model, p, width=n - 2)
    local_tau = np.asarray(window.tau("z", p))
    out: dict[str, dict[str, Any]] = {}
    for radius in RADII:
        sites = list(range(p - radius, p + radius + 1))
        exact_part = reference.window_operator("z", p, sites)
        truncations = {
            "exact": exact_part,
            "window": truncate_to_window(local_tau, [window.window.index(s) for s in sites]),
        }
        entry: dict[str, Any] = {"sites": sites}
        for name, truncated in truncations.items():
            involution, smallest, largest = polar_factor(truncated)
            if smallest <= ZERO_EIGENVALUE_TOLERANCE * largest:
                entry[name] = None
                continue
            f_z = float(np.vdot(exact_part, involution).real) / (1 << len(sites))
            entry[name] = (f_z - a_z) / (1.0 - a_z)
        out[f"r={radius}"] = entry
    return out


def one_realization(n: int, W: float, index: int, seed: int) -> dict[str, Any]:
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    p = n // 2
    ceilings = support_ceiling(reference, p)
    return {
        "truncated": truncated_d(reference, model, p, ceilings[0].a_z),
        "site": p,
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "fields": [float(h) for h in model.fields],
        "a_z": ceilings[0].a_z,
        "ceiling_d": [c.d for c in ceilings],
        "ceiling_f_z": [c.f_z for c in ceilings],
        "best_window_start": [c.sites[0] for c in ceilings],
    }


def constructions_by_key() -> dict[str, dict[str, Any]]:
    """The overlap-reference D and a_z of every construction in the convergence records."""
    joined: dict[str, dict[str, Any]] = {}
    for path in CONVERGENCE:
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["realizations"]:
            entry = joined.setdefault(row["key"], {"d": {}, "a_z": None})
            for label, values in row["fidelity"]["overlap"].items():
                entry["d"][label] = values["d"]
                entry["a_z"] = values["a_z"]
    return joined


def _median(values: list[float]) -> float | None:
    data = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(data)) if data else None


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    joined = constructions_by_key()
    cells = []
    for n, W, group in cells_of(rows):
        widths = list(range(1, n + 1))
        table = np.array([row["ceiling_d"] for row in group], dtype=float)
        median = np.nanmedian(table, axis=0)
        cell: dict[str, Any] = {
            "n": n,
            "W": W,
            "realizations": len(group),
            "median_ceiling_d": {str(w): float(m) for w, m in zip(widths, median, strict=True)},
            "share_at_or_above": {
                name: {str(w): float(np.mean(table[:, w - 1] >= goal)) for w in widths}
                for name, goal in GOALS.items()
            },
            "smallest_width_median_at_or_above": {
                name: next((w for w, m in zip(widths, median, strict=True) if m >= goal), None)
                for name, goal in GOALS.items()
            },
        }
        constructions: dict[str, Any] = {}
        for row in group:
            other = joined.get(row["key"])
            if other is None:
                continue
            if abs(other["a_z"] - row["a_z"]) > 1e-9:
                raise SystemExit(
                    f"{row['key']}: a_z {row['a_z']} here, {other['a_z']} in the convergence "
                    "record: not the same chain"
                )
            for label, d in other["d"].items():
                if label.startswith("window w="):
                    width = int(label.split("=")[1])
                    entry = constructions.setdefault(label, {"d": [], "ceiling_d": []})
                    entry["d"].append(d)
                    entry["ceiling_d"].append(row["ceiling_d"][width - 1])
        cell["truncated"] = {
            f"r={radius}": {
                "sites": 2 * radius + 1,
                "median_ceiling_d": float(median[2 * radius]),
                **{
                    f"median_d_{name}": _median(
                        [row["truncated"][f"r={radius}"][name] for row in group]
                    )
                    for name in ("exact", "window")
                },
            }
            for radius in RADII
        }
        cell["windows"] = {
            label: {
                "realizations": len(entry["d"]),
                "median_d": _median(entry["d"]),
                "median_ceiling_d": _median(entry["ceiling_d"]),
                "median_share_of_ceiling": _median(
                    [
                        d / c if c > 0 else None
                        for d, c in zip(entry["d"], entry["ceiling_d"], strict=True)
                    ]
                ),
            }
            for label, entry in sorted(constructions.items(), key=lambda i: int(i[0][9:]))
        }
        cells.append(cell)
    return cells


def generic_pulse_cx(seed: int, widths: range = range(2, 7)) -> dict[str, Any]:
    """CX counts of w-site window pulses through Qiskit's generic synthesis (module docstring)."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.library import UnitaryGate

    sequence = models.disorder_seeds(seed, 1)[0]
    model = models.RandomFieldXXZ(n=12, W=8.0, J=1.0, Jz=1.0, seed=sequence)
    counts = {}
    for width in widths:
        pulse = window_lbits(model, 6, width=width).pulse(6)
        circuit = QuantumCircuit(width)
        circuit.append(UnitaryGate(pulse.dense_matrix(), check_input=False), range(width))
        compiled = transpile(
            circuit, basis_gates=["cx", "rz", "sx", "x"], optimization_level=2, seed_transpiler=1
        )
        counts[str(width)] = int(compiled.count_ops().get("cx", 0))
    return {"realization": "n=12 W=8 k=0, site 6", "cx": counts}


def draw(record: dict[str, Any], path: Path) -> None:
    """Median ceiling of D against the width w (lines, one per W), the median D of the window
    l-bits of that width (open circles) and of the truncated exact involutions (crosses)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from echo_lab.study.drawing import save_png

    sizes = sorted({cell["n"] for cell in record["cells"]})
    figure = Figure(figsize=(5.0 * len(sizes), 4.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(sizes), squeeze=False)[0]
    for axis, n in zip(axes, sizes, strict=True):
        for cell in (c for c in record["cells"] if c["n"] == n):
            widths = [int(w) for w in cell["median_ceiling_d"]]
            line = axis.plot(
                widths, list(cell["median_ceiling_d"].values()), "-", label=f"W = {cell['W']:g}"
            )[0]
            windows = cell["windows"]
            axis.plot(
                [int(label[9:]) for label in windows],
                [entry["median_d"] for entry in windows.values()],
                "o",
                mfc="none",
                color=line.get_color(),
            )
            truncated = cell["truncated"].values()
            axis.plot(
                [entry["sites"] for entry in truncated],
                [entry["median_d_exact"] for entry in truncated],
                "x",
                color=line.get_color(),
            )
        for goal in GOALS.values():
            axis.axhline(goal, color="grey", ls="--", lw=0.8)
        axis.set_xlabel("sites w of the support (contiguous, containing p)")
        axis.set_ylabel("median D")
        axis.set_title(f"N = {n}, centre site", fontsize=9)
        axis.legend(fontsize="x-small")
    figure.suptitle(
        "ceiling of D on w sites (lines); window l-bits (o) and truncated exact l-bits (x) "
        "of that width",
        fontsize=8,
    )
    figure.tight_layout()
    save_png(figure, path, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 12])
    parser.add_argument("--W", type=float, nargs="+", default=[4.0, 6.0, 8.0, 12.0, 16.0])
    parser.add_argument("--realizations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--max-seconds", type=float, default=float("inf"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument(
        "--cells-only",
        action="store_true",
        help="recompute the cells (after the convergence records grew) without new rows",
    )
    args = parser.parse_args()
    if args.cells_only:
        record = json.loads(args.out.read_text())
        record["cells"] = summarize(record["rows"])
        record["generic_pulse_cx"] = generic_pulse_cx(args.seed)
        write_text_atomically(args.out, json.dumps(record, indent=1) + "\n")
        draw(record, args.figure)
        print(f"recomputed {len(record['cells'])} cells; wrote {args.out} and {args.figure}")
        return
    settings = {
        "seed": args.seed,
        "site": "N // 2",
        "reference": "overlap",
        "model": "RandomFieldXXZ(n, W, J=1, Jz=1), open chain",
        "widths": "1..N, contiguous windows containing the site, best placement",
    }
    for n in args.n:
        added = fill_realizations(
            args.out,
            settings,
            n,
            args.W,
            args.realizations,
            lambda n, W, k: one_realization(n, W, k, args.seed),
            summarize,
            max_seconds=args.max_seconds,
            progress=lambda row: print(
                f"{row['key']:>16}  ceiling D " + " ".join(f"{d:.2f}" for d in row["ceiling_d"]),
                flush=True,
            ),
        )
        print(f"n = {n}: {added} realizations added; wrote {args.out}", flush=True)
    record = json.loads(args.out.read_text())
    record["generic_pulse_cx"] = generic_pulse_cx(args.seed)
    write_text_atomically(args.out, json.dumps(record, indent=1) + "\n")
    draw(record, args.figure)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
