r"""Benchmark: circuit l-bits (echo_lab.lbits.circuit) against exact l-bits, at scale, long chains.

Three parts (``--part``), each writing one JSON record with the machine, versions, command and
the load average before and after (other developers share the 2-core machine: times are under
load, the lead reruns them on an idle machine):

``front`` (issue items 1-2). Random-field XXZ chains, J = Jz = 1, open, N sites (``--n``, 10 by
default), probe p = N // 2, W in ``--W``, ``--realizations`` disorder realizations per W (child
seeds of ``SeedSequence(--seed)`` per W). Per realization and layout (``--layouts``: ``brick:d``
= brickwork of 2-qubit S^z gates of depth d, ``blocks:l:d`` = d layers of l-site blocks,
a suffix ``+echo`` refines the epsilon fit with the echo-weighted cost, and the epsilon stage
is recorded under the base name as well):

* epsilon before and after the fit, and the mean over sites of |Tr(tau^z_circ tau^z_exact)|/2^N;
* the Hahn echo kept fraction at T = 100 and 1000 (``--times``): start U|b> with the probe in
  |+>, circuit pulse tau^x_p, read the circuit tau^x_p; ``--bitstrings`` random b per
  realization (exact evolution, ``circuit_lbits.merit``);
* the CX count of the pulse circuit of tau^x_p and of its readout circuit (``transpile``,
  basis cx/rz/sx/x, optimization level 3).

The same bitstrings give the references: the bare p-bit (start |b, +>, pulse X_p, read
sigma^x_p) and the exact l-bits truncated to radius r (``lbit:r``, r in ``--radii``; start
U_exact|b, +>, read the exact tau^x_p), with the CX count of the (2r+1)-qubit pulse unitary.
The figure (``--figure``) draws the front: mean kept fraction against pulse CX count, per W.

``scale`` (item 3). W = 12, N in ``--sizes``: build time of ``lbits.construct(H,
method="circuit", layers=--layers)`` (light-cone engine) with ``--iterations`` L-BFGS
iterations, the peak Python heap (tracemalloc) and the process's peak RSS, epsilon, and the
time per iteration and site.

``long`` (item 4). N = ``--n`` (use 40), W = 12: Hahn echo of the central spin on Aer MPS
(dt = 0.1, truncation 1e-10) at the total times ``--times`` (e.g. 0 10 25 50) for
``--realizations`` realizations, z-random background b: the p-bit pulse read out in sigma^x;
the circuit pulse (``--layers``) from the same |b, +>, read out in sigma^x and in the circuit
tau^x; and the circuit pulse from the l-bit state U|b, +> (the encoding gates as pulses at
T = 0), read out in tau^x. Kept fraction = value(T) / value(0); runtimes per case.

``merge`` joins front records (``--inputs``, e.g. one process per W) into one, with the figure.

Run (one process per W; the front of the issue took hours under load)::

    PYTHONPATH=. .venv/bin/python experiments/benchmarks/bench_circuit_lbits.py --part front \
        --W 16 --layouts brick:2 brick:4+echo --out front_W16.json
    PYTHONPATH=. .venv/bin/python experiments/benchmarks/bench_circuit_lbits.py --part merge \
        --inputs front_W*.json --out experiments/benchmarks/circuit_lbits_front.json \
        --figure experiments/benchmarks/circuit_lbits_front.png
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate
from threadpoolctl import threadpool_limits

from echo_lab import lbits
from echo_lab.dynamics.pulses import pbit_pulse, truncated_lbit_pulse
from echo_lab.info import environment_info
from echo_lab.lbits.circuit import CircuitLBitSystem, merit
from echo_lab.lbits.circuit.layout import Layout, block_layout
from echo_lab.lbits.circuit.optimize import encoding_unitary
from echo_lab.lbits.circuit.report import count_cx
from echo_lab.physics import models


def make_layout(spec: str, n: int) -> Layout:
    """``brick:d`` or ``blocks:l:d`` (module docstring)."""
    parts = spec.split(":")
    if parts[0] == "brick":
        return block_layout(n, block=2, layers=int(parts[1]))
    if parts[0] == "blocks":
        return block_layout(n, block=int(parts[1]), layers=int(parts[2]))
    raise SystemExit(f"unknown layout spec {spec!r}")


def kept(
    energies: np.ndarray,
    vectors: np.ndarray,
    states: np.ndarray,
    pulse: Any,
    observable: tuple[np.ndarray, Any],
    times: list[float],
) -> np.ndarray:
    """Kept fraction per time and bitstring, shape (T, B)."""
    return merit.hahn_signal(energies, vectors, states, pulse, observable, times)


def summary(values: np.ndarray) -> dict[str, Any]:
    """Mean and median over the bitstrings per time, plus the values."""
    return {
        "mean": np.mean(values, axis=1).tolist(),
        "values": np.round(values, 6).tolist(),
    }


def measure_realization(
    n: int, W: float, seed: np.random.SeedSequence, args: argparse.Namespace
) -> dict[str, Any]:
    probe = n // 2
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed)
    hamiltonian = model.hamiltonian()
    exact = lbits.construct(hamiltonian)
    energies, vectors = exact.energies, exact.vectors
    rng = np.random.default_rng(seed.spawn(1)[0])
    bits = merit.random_bitstrings(n, args.bitstrings, rng)
    product = merit.probe_product_states(n, probe, bits)
    out: dict[str, Any] = {"fields": model.fields.tolist(), "bitstrings": bits.tolist()}
    out["pbit"] = summary(
        kept(
            energies,
            vectors,
            product,
            pbit_pulse(probe),
            merit.pbit_observable(probe),
            args.times,
        )
    )
    exact_states = encoding_unitary(exact) @ product
    tau_x = exact.tau("x", probe)
    for radius in args.radii:
        pulse = truncated_lbit_pulse(tau_x, probe, radius)
        values = kept(energies, vectors, exact_states, pulse, (tau_x, range(n)), args.times)
        out[f"lbit:{radius}"] = summary(values)
    for spec in args.layouts:
        base, _, cost = spec.partition("+")
        layout = make_layout(base, n)
        began = time.perf_counter()
        system = lbits.construct(
            hamiltonian,
            method="circuit",
            layout=layout,
            cost=cost or "frobenius",
            max_iterations=args.iterations,
        )
        seconds = time.perf_counter() - began
        stages = [(spec, system)]
        if cost == "echo":
            # The first stage of the echo fit is the epsilon fit: record it as the base layout.
            first = system.fits[0]
            epsilon_fit = CircuitLBitSystem(
                hamiltonian, layout, system.family, first.gates, first.loss, first.loss_start
            )
            stages.append((base, epsilon_fit))
        for key, stage in stages:
            out[key] = evaluate_stage(stage, exact, energies, vectors, product, probe, args)
            out[key]["seconds"] = seconds
    return out


def evaluate_stage(
    system: CircuitLBitSystem,
    exact: lbits.LBitSystem,
    energies: np.ndarray,
    vectors: np.ndarray,
    product: np.ndarray,
    probe: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Kept fractions, epsilon, tau^z agreement and CX counts of one fitted circuit."""
    states = merit.encode_states(system, product)
    values = kept(
        energies, vectors, states, system.pulse(probe), system.local_tau("x", probe), args.times
    )
    record = summary(values)
    record.update(
        {
            "layout": system.layout.name,
            "epsilon_start": system.epsilon_start,
            "epsilon": system.offdiagonal_fraction,
            "iterations": [fit.iterations for fit in system.fits],
            "tau_z_agreement": float(np.mean(merit.tau_z_agreement(system, exact))),
            "pulse_cx": count_cx(system.pulse_circuit(probe).circuit),
            "readout_cx": count_cx(system.readout_circuit(probe).circuit),
        }
    )
    return record


def lbit_cx(n: int, radius: int) -> int:
    """CX count of a generic (2r+1)-qubit pulse unitary (the lbit:r pulse) in the bulk."""
    width = min(2 * radius + 1, n)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2**width, 2**width)) + 1j * rng.normal(size=(2**width, 2**width))
    q, _ = np.linalg.qr(a)
    qc = QuantumCircuit(width)
    qc.append(UnitaryGate(q), list(range(width)))
    return count_cx(qc)


def aggregate(realizations: list[dict[str, Any]], keys: list[str], times: list[float]) -> dict:
    """Kept fractions per key and time: mean, median, standard error and minimum over the
    realizations (each the mean over its bitstrings), and the median and the share above 0.9
    over all (realization, bitstring) pairs."""
    out: dict[str, Any] = {}
    for key in keys:
        per_real = np.array([r[key]["mean"] for r in realizations])  # (R, T)
        pairs = np.array([r[key]["values"] for r in realizations])  # (R, T, bitstrings)
        entry: dict[str, Any] = {
            f"T={t:g}": {
                "mean": float(per_real[:, k].mean()),
                "median": float(np.median(per_real[:, k])),
                "sem": float(per_real[:, k].std(ddof=1) / np.sqrt(len(per_real))),
                "min": float(per_real[:, k].min()),
                "median_of_pairs": float(np.median(pairs[:, k, :])),
                "pairs_above_0.9": float(np.mean(pairs[:, k, :] > 0.9)),
            }
            for k, t in enumerate(times)
        }
        if "epsilon" in realizations[0][key]:
            for field in ("epsilon", "epsilon_start", "tau_z_agreement", "pulse_cx", "seconds"):
                values = np.array([r[key][field] for r in realizations], dtype=float)
                entry[field] = {"mean": float(values.mean()), "median": float(np.median(values))}
            entry["readout_cx"] = float(np.median([r[key]["readout_cx"] for r in realizations]))
        out[key] = entry
    return out


def run_front(args: argparse.Namespace) -> dict[str, Any]:
    record: dict[str, Any] = {"n": args.n, "probe": args.n // 2, "times": args.times}
    record["lbit_cx"] = {f"lbit:{r}": lbit_cx(args.n, r) for r in args.radii}
    keys = ["pbit"] + [f"lbit:{r}" for r in args.radii]
    for spec in args.layouts:
        keys += [spec] if "+" not in spec else [spec, spec.partition("+")[0]]
    for W in args.W:
        seeds = np.random.SeedSequence([args.seed, round(W * 1000)]).spawn(args.realizations)
        realizations = []
        for k, seed in enumerate(seeds):
            realizations.append(measure_realization(args.n, W, seed, args))
            print(f"W={W} realization {k} done", file=sys.stderr, flush=True)
        record[f"W={W:g}"] = {
            "summary": aggregate(realizations, keys, args.times),
            "realizations": realizations,
        }
    return record


def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"W": 12.0, "layers": args.layers, "iterations": args.iterations}
    for n in args.sizes:
        hamiltonian = models.RandomFieldXXZ(n=n, W=12.0, seed=args.seed).hamiltonian()
        tracemalloc.start()
        began = time.perf_counter()
        system = lbits.construct(
            hamiltonian,
            method="circuit",
            layers=args.layers,
            engine="cones",
            max_iterations=args.iterations,
            tolerance=1e-14,
        )
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        fit = system.fits[0]
        evaluations = fit.evaluations
        out[f"N={n}"] = {
            "build_seconds": seconds,
            "fit_seconds": fit.seconds,
            "evaluations": evaluations,
            "iterations": fit.iterations,
            "seconds_per_evaluation_and_site": fit.seconds / evaluations / n,
            "peak_heap_bytes": peak,
            "peak_rss_bytes_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "epsilon_start": system.epsilon_start,
            "epsilon": system.offdiagonal_fraction,
        }
        print(f"N={n}: {out[f'N={n}']}", file=sys.stderr, flush=True)
    return out


def run_long(args: argparse.Namespace) -> dict[str, Any]:
    from qiskit.quantum_info import SparsePauliOp

    from echo_lab.backends.aer import AerBackend
    from echo_lab.dynamics.schedule import PulseSequence
    from echo_lab.physics.states import probe_state
    from echo_lab.protocols.sequences import build_sequence

    n, probe = args.n, args.n // 2
    times = np.array(args.times)
    backend = AerBackend(
        method="matrix_product_state", dt=0.1, mps_options={"truncation_threshold": 1e-10}
    )
    out: dict[str, Any] = {"n": n, "W": 12.0, "times": times.tolist(), "dt": 0.1, "runs": []}
    sx = SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], n)
    for seed in np.random.SeedSequence(args.seed).spawn(args.realizations):
        model = models.RandomFieldXXZ(n=n, W=12.0, seed=seed)
        hamiltonian = model.hamiltonian()
        began = time.perf_counter()
        system = lbits.construct(
            hamiltonian, method="circuit", layers=args.layers, max_iterations=args.iterations
        )
        run: dict[str, Any] = {
            "fields": model.fields.tolist(),
            "build_seconds": time.perf_counter() - began,
            "epsilon": system.offdiagonal_fraction,
        }
        state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(seed))
        pbit = build_sequence("hahn", n=n, probe=probe)
        circuit = build_sequence("hahn", n=n, probe=probe, pulse="circuit", source=system)
        # The l-bit figure of merit starts in U|b, +>: the encoding gates as pulses at T = 0.
        encoded = PulseSequence([*system.encoding_pulses(), *circuit.segments], name="hahn")
        tau_x = system.tau_observable("x", probe)
        cases = {
            "pbit": (pbit, {"sx": sx}),
            "circuit": (circuit, {"sx": sx, "tau_x": tau_x}),
            "circuit_lbit_state": (encoded, {"sx": sx, "tau_x": tau_x}),
        }
        for name, (sequence, observables) in cases.items():
            began = time.perf_counter()
            result = backend.run(hamiltonian, sequence, state, times, observables=observables)
            run[name] = {
                "seconds": time.perf_counter() - began,
                **{key: np.asarray(value).tolist() for key, value in result.items()},
            }
        out["runs"].append(run)
        print(f"long chain realization done: {run['epsilon']:.2e}", file=sys.stderr, flush=True)
    return out


def draw_front(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [key for key in record if key.startswith("W=")]
    times = record["times"]
    fig, axes = plt.subplots(1, len(times), figsize=(6 * len(times), 4.5), squeeze=False)
    for ax, t in zip(axes[0], times, strict=True):
        for color, w in zip(plt.cm.viridis(np.linspace(0, 0.9, len(ws))), ws, strict=True):
            summary_w = record[w]["summary"]
            points = []
            for key, entry in summary_w.items():
                if key == "pbit":
                    cx = 0.0
                elif key.startswith("lbit:"):
                    cx = float(record["lbit_cx"][key])
                else:
                    cx = float(entry["pulse_cx"]["median"])
                points.append((cx, entry[f"T={t:g}"]["mean"], key))
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color=color, label=w)
            for cx, value, key in points:
                ax.annotate(key, (cx, value), fontsize=6, xytext=(2, 2), textcoords="offset points")
        for cx, goal, label in ((60, 0.92, "goal W=16"), (150, 0.80, "goal W=8")):
            ax.plot([cx], [goal], "k*", markersize=9)
            ax.annotate(label, (cx, goal), fontsize=7, xytext=(4, -8), textcoords="offset points")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("pulse CX count (transpile, optimization level 3)")
        ax.set_ylabel("mean kept fraction <tau^x_p>")
        ax.set_title(f"Hahn echo, T = {t:g}, N = {record['n']}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def limiting_realizations(
    entry: dict[str, Any], key: str, probe: int, *, time_index: int = -1, count: int = 6
) -> list[dict[str, Any]]:
    """The ``count`` realizations where ``key`` keeps least, with the field gaps near the probe.

    ``gaps``: |h_i - h_j| for all pairs i < j within distance 2 of each other and with a site
    within distance 2 of the probe, smallest first (a gap below ~2 J is a resonance).
    """
    rows = []
    for index, realization in enumerate(entry["realizations"]):
        h = np.asarray(realization["fields"])
        pairs = [
            (abs(h[i] - h[j]), i, j)
            for i in range(h.size)
            for j in range(i + 1, min(i + 3, h.size))
            if min(abs(i - probe), abs(j - probe)) <= 2
        ]
        pairs.sort()
        rows.append(
            {
                "realization": index,
                "kept": realization[key]["mean"][time_index],
                "pbit": realization["pbit"]["mean"][time_index],
                "gaps": [[round(g, 2), i, j] for g, i, j in pairs[:3]],
            }
        )
    rows.sort(key=lambda row: row["kept"])
    return rows[:count]


def merge_fronts(paths: list[Path]) -> dict[str, Any]:
    """One front record from several runs (e.g. one process per W); their W keys are joined."""
    records = [json.loads(path.read_text()) for path in paths]
    merged: dict[str, Any] = {"parts": [], "times": records[0]["times"], "n": records[0]["n"]}
    merged["probe"] = records[0]["probe"]
    merged["lbit_cx"] = records[0]["lbit_cx"]
    for path, record in zip(paths, records, strict=True):
        if (record["n"], record["times"]) != (merged["n"], merged["times"]):
            raise SystemExit(f"{path} has another n or other times")
        merged["parts"].append(
            {
                key: record[key]
                for key in ("command", "seconds", "load_average_before", "load_average_after")
            }
        )
        merged["environment"] = record["environment"]
        merged.update({key: value for key, value in record.items() if key.startswith("W=")})
    for key, entry in merged.items():
        if key.startswith("W="):
            entry["summary"] = aggregate(
                entry["realizations"], list(entry["summary"]), merged["times"]
            )
            best = max(
                (k for k in entry["summary"] if k != "pbit" and not k.startswith("lbit:")),
                key=lambda k: entry["summary"][k][f"T={merged['times'][-1]:g}"]["mean"],
            )
            entry["limiting"] = {
                "layout": best,
                "realizations": limiting_realizations(entry, best, merged["probe"]),
            }
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["front", "scale", "long", "merge"], required=True)
    parser.add_argument("--inputs", type=Path, nargs="*", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--W", type=float, nargs="+", default=[6.0, 8.0, 12.0, 16.0])
    parser.add_argument("--realizations", type=int, default=20)
    parser.add_argument("--bitstrings", type=int, default=16)
    parser.add_argument("--times", type=float, nargs="+", default=[100.0, 1000.0])
    parser.add_argument("--radii", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--layouts", nargs="*", default=["brick:2", "brick:4"])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.part == "merge":
        merged = merge_fronts(args.inputs)
        merged["benchmark"] = "circuit_lbits_front"
        args.out.write_text(json.dumps(merged, indent=1))
        if args.figure is not None:
            draw_front(merged, args.figure)
        return
    record: dict[str, Any] = {
        "benchmark": f"circuit_lbits_{args.part}",
        "command": " ".join([sys.executable, *sys.argv]),
        "environment": environment_info(),
        "load_average_before": os.getloadavg(),
    }
    began = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        if args.part == "front":
            record.update(run_front(args))
        elif args.part == "scale":
            record.update(run_scale(args))
        else:
            record.update(run_long(args))
    record["seconds"] = time.perf_counter() - began
    record["load_average_after"] = os.getloadavg()
    args.out.write_text(json.dumps(record, indent=1))
    if args.figure is not None and args.part == "front":
        draw_front(record, args.figure)


if __name__ == "__main__":
    main()
