"""Benchmark: Hahn echoes on a 40-site chain with Aer's matrix_product_state method.

Random-field XXZ chain, n = 40, W = 12, J = Jz = 1 (Pauli units), fields from seed 2014; probe
p = n // 2 in |+>, the other sites in a z-random background drawn from ``default_rng(seed + 1)``.
Sequences: the FID and Hahn echoes whose pulse is the p-bit X_p, the window l-bit tau^x_p of the
w = 8 window around p (:func:`echo_lab.lbits.window.window_lbits`), and that window l-bit truncated
to radius r = 1 and 2, at total times T = 0.5, 1, 2, 5, 10, 20. Trotter: Strang (order 2), dt =
0.05, circuits from :func:`echo_lab.dynamics.trotter.sequence_circuit`; Aer MPS with
``max_memory_mb=-1`` and a truncation threshold eps (discarded squared Schmidt weight per SVD; no
bond-dimension cap).

Every circuit ends with ``save_matrix_product_state``; the observables come from the reduced
density matrix of the window sites (:func:`echo_lab.lbits.window.mps_window_density_matrix`):
<sigma^x_p>, <sigma^y_p>, the coherence and the window l-bit proxy <tau^x_p>, <tau^y_p>; Aer's own
``save_expectation_value(X_p)`` is recorded as a cross-check of that contraction. Each time point is
its own circuit and run, so its wall time and bond dimensions are those of that point.

Checks recorded in the JSON:

* **truncation convergence**: the p-bit echo and the window-l-bit echo at the largest T with
  eps / 10; the difference of the observables bounds the truncation error;
* **validation** on an n = 12 chain (same W, seed, probe n // 2, window w = 8): the same
  circuits on the MPS and on Aer's statevector method (equal up to truncation), and the exact
  evolution (sparse Krylov, ``echo_lab.backends.krylov.evolve``) of the same sequences (equal up to
  the Trotter error, O(dt^2)).

Run (measured on 2 cores shared with other jobs, load average 8-15: 15 minutes in all, of which
the 30 long-chain echo points take 7 minutes, the convergence check 3 and the validation 3)::

    .venv/bin/python experiments/benchmarks/bench_mps_long_chain.py

``--help`` lists the parameters; results go to experiments/benchmarks/mps_long_chain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector, partial_trace
from qiskit_aer import AerSimulator

from echo_lab.backends.aer import AerBackend
from echo_lab.backends.krylov import evolve
from echo_lab.dynamics import trotter
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.schedule import Free, PulseSequence
from echo_lab.info import environment_info
from echo_lab.lbits.window import (
    WindowLBits,
    mps_bond_dimensions,
    mps_window_density_matrix,
    window_lbits,
)
from echo_lab.physics import models
from echo_lab.physics.linalg import apply_local
from echo_lab.physics.states import ProductState, probe_state
from echo_lab.protocols.sequences import build_fid, build_hahn

OUT = Path(__file__).with_name("mps_long_chain.json")

PAULI_X = np.array([[0, 1], [1, 0]], dtype=complex)
PAULI_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="chain length")
    parser.add_argument("--W", type=float, default=12.0, help="disorder strength")
    parser.add_argument("--seed", type=int, default=2014, help="seed of the fields")
    parser.add_argument("--dt", type=float, default=0.05, help="Trotter step")
    parser.add_argument("--order", type=int, default=2, help="Trotter order")
    parser.add_argument("--times", type=float, nargs="+", default=[0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
    parser.add_argument("--width", type=int, default=8, help="window width w")
    parser.add_argument("--radii", type=int, nargs="*", default=[1, 2], help="truncation radii")
    parser.add_argument(
        "--threshold", type=float, default=1e-7, help="MPS truncation threshold eps"
    )
    parser.add_argument("--validate-n", type=int, default=12, help="chain of the validation")
    parser.add_argument("--output", type=Path, default=OUT)
    return parser.parse_args(argv)


def build_sequences(
    probe: int, windowed: WindowLBits, radii: list[int]
) -> dict[str, PulseSequence]:
    """FID and the Hahn echoes of every pulse, by name."""
    sequences = {"fid": build_fid(), "pbit": build_hahn(pbit_pulse(probe))}
    sequences[f"window:w={windowed.width}"] = build_hahn(windowed.pulse(windowed.probe))
    for r in radii:
        sequences[f"window:w={windowed.width},r={r}"] = build_hahn(
            windowed.pulse(windowed.probe, radius=r)
        )
    return sequences


def window_observables(rho: np.ndarray, windowed: WindowLBits) -> dict[str, float]:
    """<sigma^x_p>, <sigma^y_p>, coherence and the window l-bit <tau^x_p>, <tau^y_p> from rho."""
    local = [windowed.local_probe]
    w = windowed.width
    eye = np.eye(2**w, dtype=complex)
    sx = float(np.real(np.trace(rho @ apply_local(PAULI_X, local, eye, w))))
    sy = float(np.real(np.trace(rho @ apply_local(PAULI_Y, local, eye, w))))
    return {
        "sx": sx,
        "sy": sy,
        "coherence": float(np.hypot(sx, sy)),
        "tau_x": float(np.real(np.trace(rho @ windowed.tau("x", windowed.probe)))),
        "tau_y": float(np.real(np.trace(rho @ windowed.tau("y", windowed.probe)))),
    }


def mps_simulator(threshold: float, dt: float, order: int) -> AerSimulator:
    """Aer MPS simulator as AerBackend configures it (``max_memory_mb=-1`` included)."""
    backend = AerBackend(
        method="matrix_product_state",
        dt=dt,
        order=order,
        mps_options={"truncation_threshold": threshold},
    )
    return backend.simulator()


def echo_circuit(
    hamiltonian: SparsePauliOp,
    sequence: PulseSequence,
    total_time: float,
    state: ProductState,
    probe: int,
    *,
    dt: float,
    order: int,
    save: Callable[[QuantumCircuit], None],
) -> QuantumCircuit:
    """The sequence's Trotter circuit with Aer's <X_p> and the saves of ``save`` at the end."""
    qc = trotter.sequence_circuit(
        hamiltonian, sequence, total_time, dt=dt, order=order, initial_state=state
    )
    n = hamiltonian.num_qubits
    qc.save_expectation_value(
        SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], n), list(range(n)), label="aer_sx"
    )
    save(qc)
    return qc


def run_mps_point(
    simulator: AerSimulator,
    qc: QuantumCircuit,
    windowed: WindowLBits,
) -> dict[str, Any]:
    """Run one circuit on the MPS simulator; observables, bond dimensions and wall time."""
    start = time.perf_counter()
    data = simulator.run(qc).result().data(0)
    wall = time.perf_counter() - start
    mps = data["mps"]
    bonds = mps_bond_dimensions(mps)
    point = window_observables(mps_window_density_matrix(mps, windowed.window), windowed)
    point.update(
        {
            "aer_sx": float(np.real(data["aer_sx"])),
            "max_bond_dimension": int(bonds.max(initial=1)),
            "bond_dimensions": bonds.tolist(),
            "wall_s": wall,
        }
    )
    return point


def save_mps(qc: QuantumCircuit) -> None:
    qc.save_matrix_product_state(label="mps")


def run_long_chain(args: argparse.Namespace) -> dict[str, Any]:
    """All sequences at all times on the long chain, then the truncation convergence check."""
    model = models.RandomFieldXXZ(n=args.n, W=args.W, J=1.0, Jz=1.0, seed=args.seed)
    hamiltonian = model.hamiltonian()
    probe = args.n // 2
    state = probe_state(
        args.n, probe, background="z-random", rng=np.random.default_rng(args.seed + 1)
    )
    start = time.perf_counter()
    windowed = window_lbits(model, probe, width=args.width)
    lbit_seconds = time.perf_counter() - start
    sequences = build_sequences(probe, windowed, args.radii)
    simulator = mps_simulator(args.threshold, args.dt, args.order)
    results: dict[str, Any] = {}
    for name, sequence in sequences.items():
        points = []
        for total_time in args.times:
            qc = echo_circuit(
                hamiltonian,
                sequence,
                total_time,
                state,
                probe,
                dt=args.dt,
                order=args.order,
                save=save_mps,
            )
            point = run_mps_point(simulator, qc, windowed)
            points.append(point)
            print(
                f"{name:>16} T={total_time:5.1f} sx={point['sx']:+.4f} tau_x={point['tau_x']:+.4f}"
                f" chi={point['max_bond_dimension']:3d} {point['wall_s']:.1f}s",
                flush=True,
            )
        results[name] = {
            key: [p[key] for p in points]
            for key in ("sx", "sy", "coherence", "tau_x", "tau_y", "aer_sx", "wall_s")
        } | {
            "max_bond_dimension": [p["max_bond_dimension"] for p in points],
            "bond_dimensions_at_last_time": points[-1]["bond_dimensions"],
            "pulse": sequence.pulses[0].label if sequence.pulses else None,
        }
    convergence = {}
    finer = mps_simulator(args.threshold / 10, args.dt, args.order)
    last = args.times[-1]
    for name in ("pbit", f"window:w={windowed.width}"):
        qc = echo_circuit(
            hamiltonian,
            sequences[name],
            last,
            state,
            probe,
            dt=args.dt,
            order=args.order,
            save=save_mps,
        )
        fine = run_mps_point(finer, qc, windowed)
        coarse = {key: results[name][key][-1] for key in ("sx", "sy", "tau_x", "tau_y")}
        convergence[name] = {
            "total_time": last,
            "threshold": args.threshold,
            "finer_threshold": args.threshold / 10,
            "max_abs_difference": max(abs(fine[k] - coarse[k]) for k in coarse),
            "finer_values": {k: fine[k] for k in coarse},
            "finer_max_bond_dimension": fine["max_bond_dimension"],
            "finer_wall_s": fine["wall_s"],
        }
        print(f"convergence {name}: {convergence[name]['max_abs_difference']:.2e}", flush=True)
    return {
        "fields": model.fields.tolist(),
        "background_bits": state.bits().tolist(),
        "probe": probe,
        "window_sites": list(windowed.window),
        "window_lbit_seconds": lbit_seconds,
        "pulses": {name: seq.pulses[0].label for name, seq in sequences.items() if seq.pulses},
        "sequences": results,
        "truncation_convergence": convergence,
    }


def exact_states(
    hamiltonian: SparsePauliOp, sequence: PulseSequence, state: ProductState, times: list[float]
) -> list[np.ndarray]:
    """Exact final states of ``sequence`` at each total time (sparse Krylov evolution)."""
    n = hamiltonian.num_qubits
    matrix = sp.csr_matrix(hamiltonian.to_matrix(sparse=True))
    states = []
    for total_time in times:
        psi = state.vector()
        for segment in sequence.segments:
            if isinstance(segment, Free):
                psi = evolve(matrix, psi, segment.fraction * total_time)
            else:
                psi = apply_local(segment.matrix, segment.qubits, psi, n)
        states.append(psi)
    return states


def window_rho_from_vector(psi: np.ndarray, sites: tuple[int, ...], n: int) -> np.ndarray:
    """Reduced density matrix of ``sites`` from a state vector (qiskit's partial trace)."""
    traced = [q for q in range(n) if q not in sites]
    return np.asarray(partial_trace(Statevector(psi), traced).data)


def run_validation(args: argparse.Namespace) -> dict[str, Any]:
    """MPS vs Aer statevector (same circuits) vs exact evolution on a short chain."""
    n = args.validate_n
    model = models.RandomFieldXXZ(n=n, W=args.W, J=1.0, Jz=1.0, seed=args.seed)
    hamiltonian = model.hamiltonian()
    probe = n // 2
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(args.seed + 1))
    windowed = window_lbits(model, probe, width=min(args.width, n))
    sequences = build_sequences(probe, windowed, args.radii)
    mps = mps_simulator(args.threshold, args.dt, args.order)
    statevector = AerSimulator(method="statevector")
    keys = ("sx", "sy", "tau_x", "tau_y")
    out: dict[str, Any] = {"n": n, "probe": probe, "window_sites": list(windowed.window)}
    for name, sequence in sequences.items():
        reference = exact_states(hamiltonian, sequence, state, args.times)
        rows = []
        for total_time, psi_exact in zip(args.times, reference, strict=True):
            qc = echo_circuit(
                hamiltonian,
                sequence,
                total_time,
                state,
                probe,
                dt=args.dt,
                order=args.order,
                save=save_mps,
            )
            mps_point = run_mps_point(mps, qc, windowed)
            sv_qc = echo_circuit(
                hamiltonian,
                sequence,
                total_time,
                state,
                probe,
                dt=args.dt,
                order=args.order,
                save=lambda c: c.save_statevector(label="psi"),
            )
            psi_trotter = np.asarray(statevector.run(sv_qc).result().data(0)["psi"])
            sv_point = window_observables(
                window_rho_from_vector(psi_trotter, windowed.window, n), windowed
            )
            exact_point = window_observables(
                window_rho_from_vector(psi_exact, windowed.window, n), windowed
            )
            rows.append(
                {
                    "mps": {k: mps_point[k] for k in keys},
                    "statevector": {k: sv_point[k] for k in keys},
                    "exact": {k: exact_point[k] for k in keys},
                    "mps_vs_statevector": max(abs(mps_point[k] - sv_point[k]) for k in keys),
                    "statevector_vs_exact": max(abs(sv_point[k] - exact_point[k]) for k in keys),
                    "aer_sx_vs_rho_sx": abs(mps_point["aer_sx"] - mps_point["sx"]),
                }
            )
        out[name] = {
            "times": list(args.times),
            "points": rows,
            "max_mps_vs_statevector": max(r["mps_vs_statevector"] for r in rows),
            "max_trotter_error": max(r["statevector_vs_exact"] for r in rows),
        }
        print(
            f"validate {name:>16}: |mps - sv| <= {out[name]['max_mps_vs_statevector']:.1e}, "
            f"|sv - exact| <= {out[name]['max_trotter_error']:.1e}",
            flush=True,
        )
    return out


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    validation = run_validation(args)
    validation_seconds = time.perf_counter() - start
    start = time.perf_counter()
    long_chain = run_long_chain(args)
    long_chain_seconds = time.perf_counter() - start
    record = {
        "benchmark": "mps_long_chain",
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "machine": environment_info(),
        "load_average_at_end": list(os.getloadavg()),
        "parameters": {
            "n": args.n,
            "W": args.W,
            "J": 1.0,
            "Jz": 1.0,
            "seed": args.seed,
            "background": "z-random",
            "background_seed": args.seed + 1,
            "dt": args.dt,
            "order": args.order,
            "times": list(args.times),
            "window_width": args.width,
            "radii": list(args.radii),
            "truncation_threshold": args.threshold,
            "max_bond_dimension": None,
            "aer_options": {"method": "matrix_product_state", "max_memory_mb": -1},
        },
        "validation": validation,
        "validation_seconds": validation_seconds,
        "long_chain": long_chain,
        "long_chain_seconds": long_chain_seconds,
    }
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, args.output)
    print(
        f"wrote {args.output} (validation {validation_seconds:.0f} s, "
        f"long chain {long_chain_seconds:.0f} s)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
