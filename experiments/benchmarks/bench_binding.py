"""Benchmark: "transpile once, bind many" for 100 disorder realizations of one FID trace.

N = 12, W = 8, J = Jz = 1, probe 6 in |+> with a z-random background per realization, 20
log-spaced total times up to t = 10 snapped to multiples of dt = 0.05, Strang order 2.

* ``bound``: :meth:`AerBackend.run_realizations`: one parameterized circuit (fields and initial
  Bloch angles as parameters) transpiled once for Aer, all 100 realizations bound by Aer in one
  ``run`` call; also timed for a single realization;
* ``rebuild``: for each realization, build its Hamiltonian's circuit from scratch
  (``AerBackend.run``, which builds the FID circuit with saves) and run it;
* ``rebuild+transpile``: the same plus ``transpile`` of the circuit against ``AerSimulator()``
  (what a generic Qiskit workflow does for every circuit), timed on 10 realizations and scaled.

Writes experiments/benchmarks/binding.json. Run:
``.venv/bin/python experiments/benchmarks/bench_binding.py``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from bench_backends import machine_info
from qiskit import transpile
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

from echo_lab import models, trotter
from echo_lab.backends.aer import AerBackend
from echo_lab.schedule import Free, PulseSequence
from echo_lab.states import probe_state

OUT = Path(__file__).with_name("binding.json")
N, W, DT, ORDER, T_MAX, POINTS, REALIZATIONS, TRANSPILED = 12, 8.0, 0.05, 2, 10.0, 20, 100, 10


def main() -> None:
    """Time the three strategies and write the JSON record."""
    seeds = np.random.SeedSequence(11).spawn(REALIZATIONS)
    realizations = [models.RandomFieldXXZ(n=N, W=W, Jz=1.0, seed=s) for s in seeds]
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(12).spawn(REALIZATIONS)]
    states = [probe_state(N, N // 2, background="z-random", rng=r) for r in rngs]
    fields = np.array([m.fields for m in realizations])
    times = np.round(np.geomspace(DT, T_MAX, POINTS) / DT) * DT
    fid = PulseSequence([Free(1.0)], name="fid")
    observables = {"sx": SparsePauliOp.from_sparse_list([("X", [N // 2], 1.0)], N)}
    backend = AerBackend(method="statevector", dt=DT, order=ORDER)

    start = time.perf_counter()
    backend.run_realizations(
        realizations[0], fid, states[:1], times, fields_list=fields[:1], observables=observables
    )
    one_bound = time.perf_counter() - start

    start = time.perf_counter()
    bound = backend.run_realizations(
        realizations[0], fid, states, times, fields_list=fields, observables=observables
    )
    all_bound = time.perf_counter() - start

    start = time.perf_counter()
    rebuilt = [
        backend.run(m.hamiltonian(), fid, s, times, observables=observables)
        for m, s in zip(realizations, states, strict=True)
    ]
    rebuild = time.perf_counter() - start

    simulator = AerSimulator(method="statevector")
    start = time.perf_counter()
    for m, s in zip(realizations[:TRANSPILED], states[:TRANSPILED], strict=True):
        qc = s.circuit()
        done = 0
        for k in np.unique(np.round(times / DT).astype(int)):
            qc.compose(
                trotter.circuit(m.hamiltonian(), time=(k - done) * DT, steps=int(k - done)),
                inplace=True,
            )
            done = int(k)
            qc.save_expectation_value(observables["sx"], range(N), label=f"sx@{k}")
        simulator.run(transpile(qc, simulator, optimization_level=1)).result()
    rebuild_transpile = (time.perf_counter() - start) * REALIZATIONS / TRANSPILED

    # the bound circuit splits fields into their own layer (trotter.parameterized_circuit), the
    # rebuilt one folds them into the bonds: both are Strang formulas, they differ by O(dt^2)
    difference = max(
        float(np.max(np.abs(b["sx"] - r["sx"]))) for b, r in zip(bound, rebuilt, strict=True)
    )
    record = {
        "benchmark": "transpile once, bind many: 100 disorder realizations of one FID trace",
        "command": "python experiments/benchmarks/bench_binding.py",
        "settings": {
            "n": N,
            "W": W,
            "dt": DT,
            "order": ORDER,
            "t_max": T_MAX,
            "points": POINTS,
            "realizations": REALIZATIONS,
            "times": times.tolist(),
        },
        "machine": machine_info(),
        "note": "2 CPU cores shared with other concurrent jobs; rebuild+transpile timed on "
        f"{TRANSPILED} realizations and scaled to {REALIZATIONS}",
        "wall_seconds": {
            "bound, 1 realization": one_bound,
            f"bound, {REALIZATIONS} realizations, one Aer call": all_bound,
            f"rebuild each, {REALIZATIONS} realizations": rebuild,
            f"rebuild+transpile each, {REALIZATIONS} realizations (scaled)": rebuild_transpile,
        },
        "ratio bound(100) / bound(1)": all_bound / one_bound,
        "speedup vs rebuild": rebuild / all_bound,
        "speedup vs rebuild+transpile": rebuild_transpile / all_bound,
        "max |sx(bound) - sx(rebuilt)| (split vs folded fields, O(dt^2))": difference,
    }
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["wall_seconds"], indent=2), record["ratio bound(100) / bound(1)"])


if __name__ == "__main__":
    main()
