r"""Benchmark: the Hahn echo of long XXZ chains on MPS engines, echo_lab against quimb and TeNPy.

Issue 23, item 7. The instances, the engines and why they run the same product formula with the
same truncation: :mod:`echo_lab.bench.mps_peers`. Per instance (order, N, W) the script

1. computes the **reference**: echo_lab's ``trotter-exact`` backend for N <= 12 (the product
   formula without truncation), otherwise ``--reference-engine`` at ``--reference-bond``
   (256; its own convergence is the largest deviation of the timed runs at the largest bond,
   ``reference_vs_largest_bond``), and for N <= 16 the true dynamics (``krylov``, Trotter error
   included, ``error_vs_exact``);
2. per BLAS thread count (``threadpoolctl`` limits every BLAS and OpenMP pool of the process) and
   bond dimension chi, times the engines **interleaved** (A B C A B C ..., ``--repeats`` rounds)
   and records per engine every wall time, min and median, the echo, the error
   ``max_T |echo - reference|``, the bond dimension reached and the load average;
3. summarizes per (order, N, W, threads): the fastest **converged** run of each engine (error
   <= ``--tolerance``, 1e-2) and ``echo_lab_aer`` over the fastest converged peer (the goal of
   the issue: <= 1).

Before timing anything it checks at N = ``--check-n`` (10) that every engine reproduces
``trotter-exact`` to 1e-6 at a bond dimension that truncates nothing (else it stops). The record
(``--out``, rewritten after every instance so that a stopped run keeps what it measured) holds
the machine, versions, git commit, command, threads and load.

Runs (the grid is heavy: run it alone on an idle machine)::

    .venv/bin/python experiments/benchmarks/bench_mps_peers.py --quick   # mps_peers_quick.json
    .venv/bin/python experiments/benchmarks/bench_mps_peers.py           # mps_peers.json

``--quick``: N = 24, W = 8 and 16, chi = 32 and 64, one thread, T = 5 and 10, order 2, one
repeat. The full grid: N = 24, 40, 64; W = 6, 8, 16; chi = 32, 64, 128; one and two threads;
T = 5, 10, 20; orders 2 and 4; dt = 0.1; two repeats. Every axis has its flag (``--sizes``,
``--disorders``, ``--bonds``, ``--threads``, ``--times``, ``--orders``, ``--repeats``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from echo_lab.bench.mps_peers import (
    EchoInstance,
    Truncation,
    available_engines,
    exact_echo,
    run_engine,
    trotter_exact_echo,
)
from echo_lab.bench.timing import summarize, time_interleaved, watch_load
from echo_lab.info import environment_info

HERE = Path(__file__).resolve().parent
#: Largest deviation from trotter-exact the convention check accepts.
CHECK_TOLERANCE = 1e-6
#: Largest n whose reference is trotter-exact (its dense step: MAX_TROTTER_EXACT_QUBITS).
TROTTER_EXACT_MAX_N = 12
#: Largest n whose exact (Krylov) echo is recorded beside the reference.
EXACT_MAX_N = 16
PEER_DISTRIBUTIONS = ("quimb", "physics-tenpy", "cotengra", "numba", "qiskit-aer", "threadpoolctl")

QUICK = {
    "sizes": [24],
    "disorders": [8.0, 16.0],
    "bonds": [32, 64],
    "threads": [1],
    "times": [5.0, 10.0],
    "orders": [2],
    "repeats": 1,
}
FULL = {
    "sizes": [24, 40, 64],
    "disorders": [6.0, 8.0, 16.0],
    "bonds": [32, 64, 128],
    "threads": [1, 2],
    "times": [5.0, 10.0, 20.0],
    "orders": [2, 4],
    "repeats": 2,
}


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick subset (docstring)")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--disorders", type=float, nargs="+")
    parser.add_argument("--bonds", type=int, nargs="+")
    parser.add_argument("--threads", type=int, nargs="+")
    parser.add_argument("--times", type=float, nargs="+")
    parser.add_argument("--orders", type=int, nargs="+")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--cutoff", type=float, default=1e-10, help="discarded weight per SVD")
    parser.add_argument("--tolerance", type=float, default=1e-2, help="converged: error <= this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--realization", type=int, default=0)
    parser.add_argument("--reference-bond", type=int, default=256)
    parser.add_argument("--reference-engine", default="quimb_tebd")
    parser.add_argument("--engines", nargs="+", help="default: every available engine")
    parser.add_argument("--check-n", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    for key, value in grid.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        args.out = HERE / ("mps_peers_quick.json" if args.quick else "mps_peers.json")
    return args


def versions() -> dict[str, str]:
    out = {}
    for name in PEER_DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def max_deviation(echo: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(echo) - np.asarray(reference))))


def check_conventions(engines: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every engine against trotter-exact at n = --check-n, untruncated; SystemExit if off."""
    instance = EchoInstance(n=args.check_n, W=8.0, seed=args.seed)
    untruncated = 2 ** (args.check_n // 2)
    record: dict[str, Any] = {"n": args.check_n, "W": 8.0, "max_bond": untruncated, "orders": {}}
    for order in args.orders:
        truncation = Truncation(dt=args.dt, order=order, max_bond=untruncated, cutoff=0.0)
        reference = trotter_exact_echo(instance, args.times, truncation)
        deviations = {
            name: max_deviation(run_engine(name, instance, args.times, truncation).echo, reference)
            for name in engines
        }
        record["orders"][str(order)] = deviations
        print(f"convention check, order {order}: {deviations}", file=sys.stderr, flush=True)
        bad = {name: d for name, d in deviations.items() if not d <= CHECK_TOLERANCE}
        if bad:
            raise SystemExit(f"engines differ from trotter-exact by more than 1e-6: {bad}")
    return record


def reference_for(instance: EchoInstance, order: int, args: argparse.Namespace) -> dict[str, Any]:
    truncation = Truncation(
        dt=args.dt, order=order, max_bond=args.reference_bond, cutoff=args.cutoff
    )
    start = time.perf_counter()
    with threadpool_limits(limits=max(args.threads)):
        if instance.n <= TROTTER_EXACT_MAX_N:
            source, echo = "trotter-exact", trotter_exact_echo(instance, args.times, truncation)
        else:
            source = f"{args.reference_engine} at max_bond {args.reference_bond}"
            echo = run_engine(args.reference_engine, instance, args.times, truncation).echo
        out: dict[str, Any] = {"source": source, "echo": [float(v) for v in echo]}
        out["seconds"] = time.perf_counter() - start
        if instance.n <= EXACT_MAX_N:
            out["exact_echo"] = [float(v) for v in exact_echo(instance, args.times)]
    print(
        f"n = {instance.n} W = {instance.W} order {order}: reference {source} "
        f"({out['seconds']:.1f} s)",
        file=sys.stderr,
        flush=True,
    )
    return out


def time_engines(
    instance: EchoInstance,
    engines: list[str],
    truncation: Truncation,
    threads: int,
    reference: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    runs: dict[str, Any] = {}

    def action(name: str) -> Any:
        return lambda: run_engine(name, instance, args.times, truncation)

    with watch_load() as load, threadpool_limits(limits=threads):
        seconds, results = time_interleaved(
            {name: action(name) for name in engines}, repeats=args.repeats
        )
    for name in engines:
        echo = results[name].echo
        entry = summarize(seconds[name])
        entry["echo"] = [float(v) for v in echo]
        entry["max_bond_reached"] = results[name].max_bond_reached
        entry["error"] = max_deviation(echo, reference["echo"])
        entry["converged"] = bool(entry["error"] <= args.tolerance)
        if "exact_echo" in reference:
            entry["error_vs_exact"] = max_deviation(echo, reference["exact_echo"])
        runs[name] = entry
        print(
            f"  n = {instance.n} W = {instance.W} order {truncation.order} chi = "
            f"{truncation.max_bond} threads {threads} {name}: {entry['min']:.2f} s, "
            f"error {entry['error']:.1e}",
            file=sys.stderr,
            flush=True,
        )
    return {"max_bond": truncation.max_bond, "threads": threads, "load": load, "engines": runs}


def summarize_instance(timings: list[dict[str, Any]], engines: list[str]) -> dict[str, Any]:
    """Per thread count: each engine's fastest converged run, and echo_lab_aer over the fastest
    converged peer (the issue's goal: <= 1)."""
    out: dict[str, Any] = {}
    for threads in sorted({t["threads"] for t in timings}):
        best: dict[str, Any] = {}
        for name in engines:
            converged = [
                (t["engines"][name]["min"], t["max_bond"])
                for t in timings
                if t["threads"] == threads and t["engines"][name]["converged"]
            ]
            if converged:
                seconds, bond = min(converged)
                best[name] = {"min_s": seconds, "max_bond": bond}
        peers = {k: v for k, v in best.items() if not k.startswith("echo_lab")}
        entry: dict[str, Any] = {"fastest_converged": best}
        if "echo_lab_aer" in best and peers:
            fastest = min(peers, key=lambda k: peers[k]["min_s"])
            entry["echo_lab_aer_over_fastest_peer"] = {
                "value": best["echo_lab_aer"]["min_s"] / peers[fastest]["min_s"],
                "fastest_peer": fastest,
                "goal": "<= 1",
            }
        out[str(threads)] = entry
    return out


def main(argv: Sequence[str]) -> None:
    args = parse_arguments(argv)
    status = available_engines()
    engines = args.engines or [name for name, s in status.items() if s == "available"]
    for name, why in status.items():
        if why != "available":
            print(f"note: engine {name} is skipped: {why}", file=sys.stderr, flush=True)
    unavailable = [name for name in engines if status.get(name) != "available"]
    if unavailable:
        raise SystemExit(f"engines not available: {unavailable} ({status})")
    record: dict[str, Any] = {
        "benchmark": "Hahn echo of the central spin on MPS engines: echo_lab vs quimb vs TeNPy",
        "command": " ".join([sys.executable, *sys.argv]),
        "environment": environment_info(),
        "versions": versions(),
        "threadpools": threadpool_info(),
        "engines": status,
        "settings": {
            key: getattr(args, key)
            for key in (
                "sizes",
                "disorders",
                "bonds",
                "threads",
                "times",
                "orders",
                "repeats",
                "dt",
                "cutoff",
                "tolerance",
                "seed",
                "realization",
                "reference_bond",
                "reference_engine",
            )
        },
        "state": "probe n // 2 in |+>, z-random background of the realization (echo studies)",
        "convention_check": check_conventions(engines, args),
        "instances": [],
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for order in args.orders:
        for n in args.sizes:
            for w in args.disorders:
                instance = EchoInstance(n=n, W=w, seed=args.seed, realization=args.realization)
                reference = reference_for(instance, order, args)
                timings = [
                    time_engines(
                        instance,
                        engines,
                        Truncation(dt=args.dt, order=order, max_bond=chi, cutoff=args.cutoff),
                        threads,
                        reference,
                        args,
                    )
                    for threads in args.threads
                    for chi in args.bonds
                ]
                entry: dict[str, Any] = {
                    "order": order,
                    "instance": instance.describe(),
                    "reference": reference,
                    "timings": timings,
                    "summary": summarize_instance(timings, engines),
                }
                if reference["source"] != "trotter-exact":
                    largest = [t for t in timings if t["max_bond"] == max(args.bonds)]
                    entry["reference_vs_largest_bond"] = max(
                        run["error"] for t in largest for run in t["engines"].values()
                    )
                record["instances"].append(entry)
                args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
