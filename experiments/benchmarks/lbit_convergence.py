"""Record: how close the scalable l-bits (window, circuit) are to the exact ones (#24 item 3).

Random-field XXZ chains (J = Jz = 1, open), N in ``--n``, W in ``--W``; realization k of every
(N, W) cell has the fields of ``models.disorder_seeds(seed, k + 1)[k]`` (the project's seeding,
conventions section 2: the same k draws the same uniforms at every W). For each realization, at
the centre site p = N // 2:

* the exact l-bits: ``overlap`` always, ``range`` where N <= ``lbits.MAX_RANGE_QUBITS`` (10),
  sharing one diagonalization (their build seconds are recorded apart);
* the constructions compared with them (:func:`echo_lab.lbits.fidelity.compare`): the bare spin,
  window l-bits of width w in ``--widths`` (w < N), circuit l-bits of ``--layers`` brickwork
  layers (the light-cone engine at every N: it fits the same epsilon as the dense engine of
  ``engine="auto"`` at N = 10, 0.0161146393 for both on one W = 8 chain, in 1 s instead of 7 s),
  and the ``range`` l-bits against ``overlap``; F_z, a_z, D and F_x against each exact
  assignment;
* the kept fraction of the p-bit Hahn echo (exact evolution in the overlap eigenbasis, 8 z-random
  backgrounds drawn from seed k, :func:`echo_lab.study.reports.kept_in_readouts`) read out in
  every construction and in the exact overlap l-bit (``exact``);
* the CX count of the pulse circuit of every circuit l-bit
  (:func:`echo_lab.lbits.circuit.report.count_cx`), its epsilon and fit iterations, and the build
  seconds of every construction.

Every realization's record (fields, seed entropy and spawn key, values) is stored, so any cell
can be recomputed: ``RandomFieldXXZ(n=N, W=W, seed=SeedSequence(entropy, spawn_key=key))``
or ``RandomFieldXXZ(n=N, fields=fields)``. The cells (median and mean of every value) are
recomputed from the realizations at every write.

The loop runs realization index k outermost, so a run stopped by ``--max-seconds`` leaves every
cell with nearly the same count; the JSON is rewritten after each realization (under a lock, so
several processes, e.g. one per N or two on one N, can fill one file: each claims the
realization it computes) and realizations already present are skipped: rerunning the command
resumes. ``--figure-only`` redraws the figure from the JSON.

Run (the recorded file, on the 2-core machine shared with other jobs: ``--n 10`` in one
process, ``--n 12`` in two processes at once, then ``--n 10 --range-realizations 1``, which
redoes realization 0 of every N = 10 cell with the ``range`` reference; each run's command,
machine, load and seconds are in the file's ``runs``)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/benchmarks/lbit_convergence.py \
        --n 10 --max-seconds 1500
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/benchmarks/lbit_convergence.py \
        --n 12 --max-seconds 1500     # twice, at the same time
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/benchmarks/lbit_convergence.py \
        --n 10 --range-realizations 1

N = 14: ``--n 14`` in two processes at once, run twice (30 realizations per cell; a rerun
resumes). The file's ``n14_timing`` holds the first N = 14 realization timed alone
(``--n 14 --W 8 --realizations 1 --out OTHER.json``), under load.

Results: experiments/benchmarks/lbit_convergence.json and lbit_convergence.png (median D against
the overlap l-bits and median |kept - exact| per construction, one line per W); the table and
what it says: docs/pages/findings.md, "How close scalable l-bits are to the exact ones".
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from echo_lab import lbits
from echo_lab.bench.records import cells_of, realization_key
from echo_lab.info import environment_info
from echo_lab.lbits.circuit.report import count_cx
from echo_lab.lbits.fidelity import compare
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.study.reports import KEPT_TIMES, kept_in_readouts

OUT = Path(__file__).with_name("lbit_convergence.json")
FIGURE = OUT.with_suffix(".png")
BACKGROUNDS = 8
#: The values summarized per cell for every construction and reference.
FIDELITY_FIELDS = ("f_z", "a_z", "d", "f_x")


def one_realization(
    n: int, W: float, index: int, seed: int, widths: list[int], layers: list[int], with_range: bool
) -> dict[str, Any]:
    """Every construction of realization ``index`` of (n, W) against the exact l-bits."""
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    hamiltonian = model.hamiltonian()
    p = n // 2
    seconds: dict[str, float] = {}

    began = time.perf_counter()
    references = {"overlap": lbits.construct(hamiltonian, "overlap", lattice=model.lattice)}
    seconds["overlap"] = time.perf_counter() - began
    overlap = references["overlap"]
    if with_range:
        began = time.perf_counter()
        references["range"] = lbits.construct(
            hamiltonian,
            "range",
            lattice=model.lattice,
            eigensystem=(overlap.energies, overlap.vectors),
        )
        seconds["range"] = time.perf_counter() - began

    sources: dict[str, lbits.LBitSource | None] = {"bare": None}
    circuits: dict[str, dict[str, Any]] = {}
    for width in widths:
        if width < n:
            began = time.perf_counter()
            sources[f"window w={width}"] = window_lbits(model, p, width=width)
            seconds[f"window w={width}"] = time.perf_counter() - began
    for depth in layers:
        label = f"circuit layers={depth}"
        began = time.perf_counter()
        system = lbits.construct(hamiltonian, "circuit", layers=depth, engine="cones")
        seconds[label] = time.perf_counter() - began
        sources[label] = system
        circuits[label] = {
            "pulse_cx": count_cx(system.pulse_circuit(p).circuit),
            "epsilon": float(system.epsilon),
            "iterations": int(sum(fit.iterations for fit in system.fits)),
        }
    if "range" in references:
        sources["range"] = references["range"]

    fidelity: dict[str, dict[str, dict[str, float]]] = {}
    for method, reference in references.items():
        fidelity[method] = {}
        for label, source in sources.items():
            if source is reference:
                continue
            result = compare(reference, source, p)
            fidelity[method][label] = {
                name: float(getattr(result, name)) for name in FIDELITY_FIELDS
            }
    if "range" in references:
        # overlap against range: the same pair as range against overlap, stored under both.
        fidelity["range"]["overlap"] = {
            name: float(getattr(compare(references["range"], overlap, p), name))
            for name in FIDELITY_FIELDS
        }
    began = time.perf_counter()
    kept = kept_in_readouts(overlap, sources, p, backgrounds=BACKGROUNDS, seed=index)
    seconds["kept_in_readouts"] = time.perf_counter() - began
    return {
        "key": realization_key(n, W, index),
        "n": n,
        "W": W,
        "index": index,
        "site": p,
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "kept_seed": index,
        "fields": [float(h) for h in model.fields],
        "fidelity": fidelity,
        "kept": kept,
        "circuits": circuits,
        "build_seconds": seconds,
        "load_average": list(os.getloadavg()),
    }


def claimed_elsewhere(record: dict[str, Any], key: str) -> bool:
    """Whether another live process of this machine is computing ``key`` (several workers can
    fill one file; a claim of a process that is gone is ignored)."""
    pid = record.get("claims", {}).get(key)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stats(values: list[float]) -> dict[str, float | int]:
    data = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if data.size == 0:
        return {"count": 0}
    return {"median": float(np.median(data)), "mean": float(data.mean()), "count": int(data.size)}


def summarize(realizations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median and mean of every recorded value per (N, W) cell and construction."""
    summary = []
    for n, W, rows in cells_of(realizations):
        labels = list(dict.fromkeys(label for r in rows for label in r["kept"]))
        methods = list(dict.fromkeys(method for r in rows for method in r["fidelity"]))
        constructions: dict[str, Any] = {}
        for label in labels:
            entry: dict[str, Any] = {}
            for method in methods:
                having = [r for r in rows if label in r["fidelity"].get(method, {})]
                if having:
                    entry[f"vs_{method}"] = {
                        name: _stats([r["fidelity"][method][label][name] for r in having])
                        for name in FIDELITY_FIELDS
                    }
            having = [r for r in rows if label in r["kept"]]
            error = [r["kept"][label] - r["kept"]["exact"] for r in having]
            entry["kept"] = _stats([r["kept"][label] for r in having])
            entry["kept_minus_exact"] = _stats(error)
            entry["abs_kept_minus_exact"] = _stats([abs(e) for e in error])
            having = [r for r in rows if label in r["circuits"]]
            if having:
                entry["pulse_cx"] = _stats([r["circuits"][label]["pulse_cx"] for r in having])
                entry["epsilon"] = _stats([r["circuits"][label]["epsilon"] for r in having])
            having = [r for r in rows if label in r["build_seconds"]]
            if having:
                entry["build_seconds"] = _stats([r["build_seconds"][label] for r in having])
            constructions[label] = entry
        summary.append(
            {
                "n": n,
                "W": W,
                "realizations": len(rows),
                "exact_build_seconds": _stats([r["build_seconds"]["overlap"] for r in rows]),
                "constructions": constructions,
            }
        )
    return summary


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``.lock (several processes fill one JSON)."""
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"record": "lbit_convergence", "runs": [], "realizations": [], "cells": []}


def store(path: Path, record: dict[str, Any]) -> None:
    record["realizations"].sort(key=lambda r: (r["n"], r["W"], r["index"]))
    record["cells"] = summarize(record["realizations"])
    scratch = path.with_suffix(f".json.{os.getpid()}")
    scratch.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(scratch, path)


def draw(record: dict[str, Any], path: Path) -> None:
    """Median D (against overlap) and median |kept - exact| per scalable construction (the
    bare spin, windows, circuits; not the exact ``range`` l-bits), a line per W."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from echo_lab.study.drawing import save_png

    sizes = sorted({cell["n"] for cell in record["cells"]})
    figure = Figure(figsize=(5.2 * len(sizes), 7.0))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(sizes), squeeze=False)
    for column, n in enumerate(sizes):
        cells = [cell for cell in record["cells"] if cell["n"] == n]
        labels = list(
            dict.fromkeys(
                label
                for cell in cells
                for label in cell["constructions"]
                if label not in ("exact", "range")
            )
        )
        positions = np.arange(len(labels))
        for cell in cells:
            entries = cell["constructions"]
            d = [
                entries.get(label, {}).get("vs_overlap", {}).get("d", {}).get("median", np.nan)
                for label in labels
            ]
            gap = [
                entries.get(label, {}).get("abs_kept_minus_exact", {}).get("median", np.nan)
                for label in labels
            ]
            name = f"W = {cell['W']:g} ({cell['realizations']})"
            axes[0, column].plot(positions, d, "o-", ms=4, label=name)
            axes[1, column].plot(positions, gap, "o-", ms=4, label=name)
        axes[0, column].axhline(0.85, color="grey", ls="--", lw=0.8)
        axes[1, column].axhline(0.03, color="grey", ls="--", lw=0.8)
        axes[0, column].set_title(f"N = {n}, centre site")
        axes[0, column].set_ylabel("median D vs overlap l-bit")
        axes[1, column].set_ylabel("median |kept - kept(exact l-bit)|")
        for row in range(2):
            axes[row, column].set_xticks(positions, labels, rotation=30, ha="right", fontsize=7)
        axes[0, column].legend(fontsize="x-small")
    figure.suptitle(
        "scalable l-bits against the exact ones (dashed: the #24 goals D >= 0.85, 0.03)",
        fontsize=9,
    )
    figure.tight_layout()
    save_png(figure, path, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 12])
    parser.add_argument("--W", type=float, nargs="+", default=[4.0, 6.0, 8.0, 12.0, 16.0])
    parser.add_argument("--realizations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--widths", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--layers", type=int, nargs="+", default=[2])
    parser.add_argument(
        "--range-realizations",
        type=int,
        default=0,
        help="build the range l-bits (N <= 10) for realizations k < this; a rerun with a larger "
        "value redoes those realizations with range",
    )
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument("--figure-only", action="store_true")
    args = parser.parse_args()
    if args.figure_only:
        draw(load(args.out), args.figure)
        print(f"wrote {args.figure}")
        return
    settings = {
        "W": args.W,
        "seed": args.seed,
        "widths": args.widths,
        "layers": args.layers,
        "circuit_options": "block 2, engine cones, cost frobenius, max_iterations 500",
        "kept": f"p-bit Hahn echo, {BACKGROUNDS} z-random backgrounds (seed k), "
        f"{KEPT_TIMES.size} times T = {KEPT_TIMES[0]:g}..{KEPT_TIMES[-1]:g}, late T >= T_max/10",
        "site": "N // 2",
        "model": "RandomFieldXXZ(n, W, J=1, Jz=1), open chain",
    }
    with locked(args.out):
        record = load(args.out)
        record.setdefault("settings", settings)
        if record["settings"] != settings:
            raise SystemExit(f"{args.out} was made with other settings: {record['settings']}")
        record["runs"].append(
            {
                "command": " ".join([sys.executable, *sys.argv]),
                "n": args.n,
                "environment": environment_info(),
                "load_average_before": list(os.getloadavg()),
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        run = len(record["runs"]) - 1
        store(args.out, record)
    began = time.perf_counter()
    done = 0
    with threadpool_limits(limits=1, user_api="blas"):
        for index in range(args.realizations):
            for n in args.n:
                for W in args.W:
                    if time.perf_counter() - began > args.max_seconds:
                        break
                    key = realization_key(n, W, index)
                    with_range = n <= lbits.MAX_RANGE_QUBITS and index < args.range_realizations
                    with locked(args.out):
                        record = load(args.out)
                        present = {
                            r["key"]: "range" in r["fidelity"] for r in record["realizations"]
                        }
                        if key in present and (present[key] or not with_range):
                            continue
                        if claimed_elsewhere(record, key):
                            continue
                        record.setdefault("claims", {})[key] = os.getpid()
                        store(args.out, record)
                    started = time.perf_counter()
                    row = one_realization(
                        n, W, index, args.seed, args.widths, args.layers, with_range
                    )
                    row["seconds"] = time.perf_counter() - started
                    with locked(args.out):
                        record = load(args.out)
                        record["realizations"] = [
                            r for r in record["realizations"] if r["key"] != key
                        ] + [row]
                        record.get("claims", {}).pop(key, None)
                        record["runs"][run]["realizations_added"] = done = done + 1
                        record["runs"][run]["seconds"] = time.perf_counter() - began
                        record["runs"][run]["load_average_after"] = list(os.getloadavg())
                        store(args.out, record)
                    d = {k: v["d"] for k, v in row["fidelity"]["overlap"].items()}
                    print(
                        f"{row['key']:>16}  D {' '.join(f'{v:.2f}' for v in d.values())}  "
                        f"kept exact {row['kept']['exact']:.3f}  {row['seconds']:.1f} s",
                        flush=True,
                    )
    with locked(args.out):
        draw(load(args.out), args.figure)
    print(f"{done} realizations added in {time.perf_counter() - began:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
