"""Probe: a short circuit for a device l-bit pulse with D >= 0.5 at W = 8 (#24, device goal).

Status: a probe on a few realizations, not a construction of the package. It tests the route the
support ceiling (``lbit_support_ceiling.py``) points to: no operator on 4 sites reaches median
D >= 0.5 at N = 12, W = 8, but the sign of a wide window's l-bit truncated to w = 5-6 sites comes
close to the ceiling of that support. Can a shallow circuit carry that operator?

Per realization (the seeding of ``lbit_convergence.py``; centre site p = N // 2):

1. the window l-bit of N - 2 sites around p (scalable: no exact diagonalization of the chain);
2. its tau^z_p truncated to the w contiguous sites that hold the most of its weight (chosen from
   the window alone), and the nearest involution B (:func:`echo_lab.dynamics.pulses.
   polar_factor`);
3. a brickwork V of ``layers`` layers of magnetization-conserving two-qubit gates on those w
   sites (the "sz" family of the circuit l-bits: a phase on |00> and on |11>, a U(2) on
   {|01>, |10>}; 6 real parameters per gate), fitted by L-BFGS
   (finite-difference gradients, two random starts) to maximize Tr(B V Z_p V^dag) / 2^w;
4. D against the exact ``overlap`` l-bit of the whole chain for B and for V Z_p V^dag, and the
   CX count of the pulse V X_p V^dag after Qiskit's ``transpile`` (cx, rz, sx, x; level 2).

Run (resumable)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/device_pulse_probe.py \\
        --width 6 --layers 4 6 --realizations 8

Results: experiments/benchmarks/device_pulse_probe.json; discussed in docs/pages/findings.md,
"The ceiling of a support".
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from echo_lab import lbits
from echo_lab.bench.records import cells_of, fill_realizations
from echo_lab.dynamics.pulses import polar_factor, truncate_to_window
from echo_lab.lbits.circuit.gates import exponentiate, parametrization
from echo_lab.lbits.circuit.layout import Layout, block_layout
from echo_lab.lbits.fidelity import compare
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.physics.linalg import apply_local

OUT = Path(__file__).with_name("device_pulse_probe.json")


#: The magnetization-conserving two-qubit gates of the circuit l-bits (6 real parameters).
SZ_GATES = parametrization(2, "sz")


def brickwork(params: np.ndarray, layout: Layout) -> tuple[np.ndarray, list[Any]]:
    """The unitary of the brickwork ``layout`` with gate parameters ``params`` (one row of
    ``SZ_GATES.size`` per slot), and its gates as ``(matrix, first site)``."""
    w = layout.n
    matrices, _, _ = exponentiate(SZ_GATES.generator(params))
    unitary = np.eye(1 << w, dtype=complex)
    gates = []
    for gate, slot in zip(matrices, layout.slots, strict=True):
        gates.append((gate, slot.lo))
        unitary = apply_local(gate, list(slot.sites), unitary, w)
    return unitary, gates


def pulse_cx(gates: list[Any], w: int, local_p: int) -> int:
    """CX count of V X_p V^dag after Qiskit's generic synthesis of each two-qubit gate."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.library import UnitaryGate

    circuit = QuantumCircuit(w)
    for gate, q in reversed(gates):  # V^dag
        circuit.append(UnitaryGate(gate.conj().T, check_input=False), [q, q + 1])
    circuit.x(local_p)
    for gate, q in gates:
        circuit.append(UnitaryGate(gate, check_input=False), [q, q + 1])
    compiled = transpile(
        circuit, basis_gates=["cx", "rz", "sx", "x"], optimization_level=2, seed_transpiler=1
    )
    return int(compiled.count_ops().get("cx", 0))


def one_realization(
    n: int, W: float, index: int, seed: int, width: int, layer_counts: list[int]
) -> dict[str, Any]:
    sequence = models.disorder_seeds(seed, index + 1)[index]
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=sequence)
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    p = n // 2
    a_z = compare(reference, None, p).a_z
    window = window_lbits(model, p, width=n - 2)
    local_tau = np.asarray(window.tau("z", p))
    placements = []
    for start in range(max(0, p - width + 1), min(p, n - width) + 1):
        sites = list(range(start, start + width))
        if set(sites) <= set(window.window):
            part = truncate_to_window(local_tau, [window.window.index(s) for s in sites])
            placements.append((float(np.vdot(part, part).real) / (1 << width), sites, part))
    _, sites, part = max(placements, key=lambda item: item[0])
    target = polar_factor(part)[0]
    exact_part = reference.window_operator("z", p, sites)

    def d_of(operator: np.ndarray) -> float:
        f_z = float(np.vdot(exact_part, operator).real) / (1 << width)
        return (f_z - a_z) / (1.0 - a_z)

    local_p = p - sites[0]
    z = np.diag([1.0 - 2.0 * ((s >> local_p) & 1) for s in range(1 << width)])
    fits = {}
    for layers in layer_counts:
        layout = block_layout(width, block=2, layers=layers)

        def cost(params: np.ndarray, layout: Layout = layout) -> float:
            unitary, _ = brickwork(params, layout)
            rotated = unitary @ z @ unitary.conj().T
            return -float(np.vdot(target, rotated).real) / (1 << width)

        began = time.perf_counter()
        rng = np.random.default_rng(index)
        # The starts of the recorded runs, which wrote the {01, 10} block's generator as
        # a X - b Y: parametrization's imaginary part is -b.
        signs = np.tile([1.0, 1.0, 1.0, 1.0, 1.0, -1.0], len(layout.slots))
        best = min(
            (
                minimize(
                    cost,
                    signs * 0.05 * rng.normal(size=SZ_GATES.size * len(layout.slots)),
                    method="L-BFGS-B",
                    options={"maxiter": 300},
                )
                for _ in range(2)
            ),
            key=lambda result: result.fun,
        )
        unitary, gates = brickwork(best.x, layout)
        fits[str(layers)] = {
            "gates": len(layout.slots),
            "d": d_of(unitary @ z @ unitary.conj().T),
            "overlap_with_target": -float(best.fun),
            "pulse_cx": pulse_cx(gates, width, local_p),
            "seconds": time.perf_counter() - began,
        }
    return {
        "seed": {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key)},
        "fields": [float(h) for h in model.fields],
        "sites": sites,
        "a_z": a_z,
        "d_target": d_of(target),
        "fits": fits,
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells = []
    for n, W, group in cells_of(rows):
        layers = sorted({key for row in group for key in row["fits"]}, key=int)
        cells.append(
            {
                "n": n,
                "W": W,
                "realizations": len(group),
                "median_d_target": float(np.median([row["d_target"] for row in group])),
                "fits": {
                    key: {
                        "median_d": float(np.median([row["fits"][key]["d"] for row in group])),
                        "median_pulse_cx": float(
                            np.median([row["fits"][key]["pulse_cx"] for row in group])
                        ),
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
    parser.add_argument("--width", type=int, default=6)
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--realizations", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    settings = {
        "seed": args.seed,
        "width": args.width,
        "layers": args.layers,
        "window": "N - 2 sites around N // 2",
        "fit": "L-BFGS-B, finite differences, 2 starts, 300 iterations",
    }
    fill_realizations(
        args.out,
        settings,
        args.n,
        args.W,
        args.realizations,
        lambda n, W, k: one_realization(n, W, k, args.seed, args.width, args.layers),
        summarize,
        progress=lambda row: print(
            row["key"],
            f"D target {row['d_target']:.3f}",
            {k: (round(v["d"], 3), v["pulse_cx"]) for k, v in row["fits"].items()},
            flush=True,
        ),
    )


if __name__ == "__main__":
    main()
