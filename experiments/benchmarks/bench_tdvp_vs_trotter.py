r"""Benchmark: TDVP (no Trotter error) against order-4 Trotter on MPS for the Hahn echo.

Issue 23, item 2: is an evolution without Trotter error (TeNPy's two-site TDVP on the chain's
MPO, :func:`echo_lab.bench.mps_peers.tdvp_echo`) a better trade for long chains than the
order-4 product formula on MPS (echo_lab's Aer MPS, TeNPy's and quimb's TEBD)? The instances are
those of :mod:`echo_lab.bench.mps_peers` (random-field XXZ, J = Jz = 1, central Hahn echo, X_p
pulse at T/2, readout <sigma^x_p>, z-random background of realization r of seed 1).

Per instance (N, W, realization) the script computes the **reference** (N <= 16: the exact
dynamics, echo_lab's ``krylov`` backend; above: ``--reference`` = TDVP or TEBD at
``--reference-bond`` and the smallest dt, named in the record) and, per bond cap chi, runs each
engine once, one after the other, under one BLAS thread (``threadpoolctl``):

* ``tdvp dt=...``: two-site TDVP at each ``--tdvp-dts`` (second order in dt);
* ``echo_lab_aer``, ``tenpy_tebd``, ``quimb_tebd``: order ``--trotter-order`` (4) at
  ``--trotter-dt`` (0.1);

the same truncation everywhere (chi, discarded weight ``--cutoff`` per SVD). It records per run
the echo, the error ``max_T |echo - reference|``, the wall time, the steps taken (Trotter steps or
TDVP sweeps; Aer runs one circuit per T, the peers chain the first halves) and seconds per step,
the bond dimension reached and the load average before and after. TeNPy runs at its
optimization level ``--tenpy-optimization`` (3, "skip_arg_checks": its documented switch that
drops argument checks; both TeNPy engines alike). The record (``--out``) is rewritten after
every run, so a stopped run keeps what it measured; ``--append`` adds to an existing record.

On a shared, loaded machine (timings under load: the record holds the load average)::

    nice -n 5 .venv/bin/python experiments/benchmarks/bench_tdvp_vs_trotter.py \
        --sizes 16 --disorders 8 16 --realizations 0 --bonds 32 --times 5 10 --tdvp-dts 0.2
    nice -n 5 .venv/bin/python experiments/benchmarks/bench_tdvp_vs_trotter.py --append \
        --sizes 16 --disorders 8 --realizations 0 --bonds 64 --times 5 10 --tdvp-dts

made the record in the repository (docs/pages/benchmarks.md, "TDVP or Trotter for long chains").
Every axis has its flag; the issue's full grid (N = 16, W = 8 and 16, realizations 0 and 1,
T = 5, 10, 20, chi = 32 and 64, TDVP dt = 0.05, 0.1, 0.2) is the default and takes hours on
a loaded 2-core machine (TDVP at N = 16, chi = 32: about 2.5 s per sweep there).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from echo_lab.bench.mps_peers import (
    EchoInstance,
    EchoRun,
    Truncation,
    chained_step_count,
    echo_lab_aer_echo,
    exact_echo,
    quimb_echo,
    tdvp_echo,
    tenpy_echo,
)
from echo_lab.dynamics.trotter import fitted_steps
from echo_lab.info import environment_info

HERE = Path(__file__).resolve().parent
#: Largest n whose reference is the exact (Krylov) echo.
EXACT_MAX_N = 16
DISTRIBUTIONS = ("physics-tenpy", "quimb", "qiskit-aer", "numpy", "scipy", "threadpoolctl")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16])
    parser.add_argument("--disorders", type=float, nargs="+", default=[8.0, 16.0])
    parser.add_argument("--realizations", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--bonds", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--times", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    parser.add_argument("--tdvp-dts", type=float, nargs="*", default=[0.2, 0.1, 0.05])
    parser.add_argument("--trotter-dt", type=float, default=0.1)
    parser.add_argument("--trotter-order", type=int, default=4)
    parser.add_argument(
        "--trotter-engines",
        nargs="*",
        default=["echo_lab_aer", "tenpy_tebd", "quimb_tebd"],
        choices=["echo_lab_aer", "tenpy_tebd", "quimb_tebd"],
    )
    parser.add_argument("--cutoff", type=float, default=1e-10, help="discarded weight per SVD")
    parser.add_argument("--tolerance", type=float, default=1e-2, help="converged: error <= this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tenpy-optimization", type=int, default=3)
    parser.add_argument("--reference", default="tdvp", choices=["tdvp", "tenpy_tebd", "quimb_tebd"])
    parser.add_argument("--reference-bond", type=int, default=128)
    parser.add_argument("--reference-dt", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=HERE / "tdvp_vs_trotter.json")
    parser.add_argument("--append", action="store_true", help="add to the record at --out")
    return parser.parse_args(argv)


TROTTER_FUNCTIONS: dict[str, Callable[[EchoInstance, Sequence[float], Truncation], EchoRun]] = {
    "echo_lab_aer": echo_lab_aer_echo,
    "tenpy_tebd": tenpy_echo,
    "quimb_tebd": quimb_echo,
}


def versions() -> dict[str, str]:
    out = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def runs_for(chi: int, args: argparse.Namespace) -> list[tuple[str, Any, Truncation]]:
    """(label, echo function, truncation) of every timed run at bond cap chi."""
    out: list[tuple[str, Any, Truncation]] = [
        (f"tdvp dt={dt:g}", tdvp_echo, Truncation(dt, 2, chi, args.cutoff)) for dt in args.tdvp_dts
    ]
    for name in args.trotter_engines:
        truncation = Truncation(args.trotter_dt, args.trotter_order, chi, args.cutoff)
        out.append(
            (
                f"{name} order {args.trotter_order} dt={args.trotter_dt:g}",
                TROTTER_FUNCTIONS[name],
                truncation,
            )
        )
    return out


def steps_of(label: str, times: Sequence[float], dt: float) -> int:
    if label.startswith("echo_lab_aer"):  # one circuit per total time
        return sum(2 * fitted_steps(0.5 * t, dt).steps for t in times)
    return chained_step_count(times, dt)


def reference_for(instance: EchoInstance, args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    if instance.n <= EXACT_MAX_N:
        source, echo = "exact (krylov backend)", exact_echo(instance, args.times)
    else:
        if args.reference == "tdvp":
            truncation = Truncation(args.reference_dt, 2, args.reference_bond, args.cutoff)
            run = tdvp_echo(instance, args.times, truncation)
        else:
            truncation = Truncation(
                args.reference_dt, args.trotter_order, args.reference_bond, args.cutoff
            )
            run = TROTTER_FUNCTIONS[args.reference](instance, args.times, truncation)
        source = (
            f"{args.reference} at chi {args.reference_bond}, dt {args.reference_dt:g}"
            f" (bond reached {run.max_bond_reached})"
        )
        echo = run.echo
    seconds = time.perf_counter() - start
    print(f"{instance.n=} {instance.W=}: reference {source} ({seconds:.1f} s)", file=sys.stderr)
    return {"source": source, "echo": [float(v) for v in echo], "seconds": seconds}


def main(argv: Sequence[str]) -> None:
    args = parse_arguments(argv)
    from tenpy.tools import optimization

    optimization.set_level(args.tenpy_optimization)
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.append and args.out.exists():
        record = json.loads(args.out.read_text())
        record.setdefault("commands", []).append(" ".join([sys.executable, *sys.argv]))
    else:
        record = {
            "benchmark": "Hahn echo on MPS: TeNPy two-site TDVP against order-4 Trotter (TEBD)",
            "commands": [" ".join([sys.executable, *sys.argv])],
            "environment": environment_info(),
            "versions": versions(),
            "note": "runs one after the other, one repeat each, on a shared machine: timings "
            "under load (load average recorded per run)",
            "instances": [],
        }
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "append")}
    for n in args.sizes:
        for w in args.disorders:
            for realization in args.realizations:
                instance = EchoInstance(n=n, W=w, seed=args.seed, realization=realization)
                with threadpool_limits(limits=args.threads):
                    reference = reference_for(instance, args)
                entry: dict[str, Any] = {
                    "instance": instance.describe(),
                    "settings": settings,
                    "reference": reference,
                    "runs": [],
                }
                record["instances"].append(entry)
                for chi in args.bonds:
                    for label, function, truncation in runs_for(chi, args):
                        load_before = os.getloadavg()[0]
                        start = time.perf_counter()
                        with threadpool_limits(limits=args.threads):
                            run = function(instance, args.times, truncation)
                        seconds = time.perf_counter() - start
                        steps = steps_of(label, args.times, truncation.dt)
                        error = float(np.max(np.abs(run.echo - np.asarray(reference["echo"]))))
                        entry["runs"].append(
                            {
                                "engine": label,
                                "max_bond": chi,
                                "dt": truncation.dt,
                                "order": truncation.order if "tdvp" not in label else None,
                                "seconds": seconds,
                                "steps": steps,
                                "seconds_per_step": seconds / steps,
                                "error": error,
                                "converged": bool(error <= args.tolerance),
                                "max_bond_reached": run.max_bond_reached,
                                "echo": [float(v) for v in run.echo],
                                "load": {"before": load_before, "after": os.getloadavg()[0]},
                            }
                        )
                        print(
                            f"  N={n} W={w:g} r={realization} chi={chi} {label}: "
                            f"error {error:.1e}, {seconds:.1f} s ({seconds / steps:.3f} s/step), "
                            f"bond {run.max_bond_reached}, load {load_before:.1f}",
                            file=sys.stderr,
                            flush=True,
                        )
                        args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
