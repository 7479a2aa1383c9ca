"""One FID trace on every exact and circuit backend, and one on Aer's MPS against chain length."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from echo_lab import lbits
from echo_lab.bench.model import (
    DT,
    ORDER,
    SEED,
    benchmark_hamiltonian,
    fid_times,
    model_record,
    probe_x,
    run_aer,
)
from echo_lab.bench.report import headline
from echo_lab.bench.timing import make_ratio, summarize, time_interleaved, watch_load
from echo_lab.dynamics import trotter
from echo_lab.resources import require_memory, statevector_bytes

__all__ = ["MPS_TRUNCATION", "bench_backends", "bench_mps", "mps_headlines"]

#: Aer MPS truncation threshold of :func:`bench_mps` (discarded squared Schmidt weight per SVD).
MPS_TRUNCATION = 1e-10

#: Seed of the fields and of the background of :func:`bench_backends`.
BACKENDS_SEED = 7


def _backend_runs(n: int) -> dict[str, Callable[[], np.ndarray]]:
    """name -> a from-scratch run of the FID trace on that backend (its <sigma^x_p> trace)."""
    from echo_lab.backends import get_backend
    from echo_lab.dynamics.schedule import Free, PulseSequence
    from echo_lab.physics.states import probe_state

    hamiltonian = benchmark_hamiltonian(n, seed=BACKENDS_SEED)
    state = probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(BACKENDS_SEED))
    times = fid_times()
    observables = {"sx": probe_x(n)}
    fid = PulseSequence([Free(1.0)], name="fid")

    def exact() -> np.ndarray:
        # The sector-by-sector eigensystem, as studies pass it to the exact backend.
        system = lbits.construct(hamiltonian)
        backend = get_backend("exact", eigensystem=(system.energies, system.vectors))
        return backend.run(hamiltonian, fid, state, times, observables=observables)["sx"]

    def runner(name: str, **options: Any) -> Callable[[], np.ndarray]:
        return lambda: get_backend(name, **options).run(
            hamiltonian, fid, state, times, observables=observables
        )["sx"]

    return {
        "exact": exact,
        "trotter-exact": runner("trotter-exact", dt=DT, order=ORDER),
        "krylov": runner("krylov"),
        "aer": runner("aer", method="statevector", dt=DT, order=ORDER),
    }


def _backend_size(n: int, repeats: int) -> dict[str, Any]:
    with watch_load() as load:
        seconds, traces = time_interleaved(_backend_runs(n), repeats=repeats)

    def difference(a: str, b: str) -> float:
        return float(np.max(np.abs(traces[a] - traces[b])))

    return {
        "n": n,
        "load": load,
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "over_exact": {
            name: make_ratio(
                s, seconds["exact"], numerator_name=name, baseline_name="exact", load=load
            )
            for name, s in seconds.items()
        },
        "max_abs_difference": {
            "krylov vs exact": difference("krylov", "exact"),
            "aer vs trotter-exact": difference("aer", "trotter-exact"),
            "trotter-exact vs exact (Trotter error)": difference("trotter-exact", "exact"),
        },
    }


def bench_backends(*, sizes: Sequence[int], repeats: int = 1) -> dict[str, Any]:
    """One FID trace (20 log-spaced times to t = 10) on the exact, trotter-exact, krylov and aer
    statevector backends at each N, each from scratch (its diagonalization or circuit
    construction included), interleaved over ``repeats`` rounds; times, ``over_exact`` ratios
    and the largest differences of <sigma^x_p>.

    Probe N // 2 in |+>, z-random background and fields from seed 7, W = 8, J = Jz = 1, Strang
    dt = 0.05. The exact backend uses the sector-by-sector eigensystem of ``lbits.construct``; the
    trotter-exact backend diagonalizes one Trotter step (dense, the slowest step at N = 12).
    """
    return {
        "model": model_record(seed=BACKENDS_SEED, dt=DT, order=ORDER),
        "times": fid_times().tolist(),
        "sizes": [_backend_size(int(n), repeats) for n in sizes],
    }


def _mps_fid_circuit(n: int, steps: int) -> QuantumCircuit:
    from echo_lab.physics.states import probe_state

    state = probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(SEED))
    qc = state.circuit()
    body = trotter.circuit(benchmark_hamiltonian(n), time=steps * DT, steps=steps, order=ORDER)
    qc.compose(body, inplace=True)
    qc.save_expectation_value(probe_x(n), list(range(n)), label="sx")
    return qc


def _statevector_check(entry: dict[str, Any], steps: int) -> dict[str, Any]:
    """|<sigma^x_p>| difference of the MPS ``entry`` from the statevector method (same circuit)."""
    from qiskit_aer import AerSimulator

    n = entry["n"]
    require_memory(
        2 * statevector_bytes(n),
        what=f"the statevector cross-check of the MPS at N = {n}",
        suggestion="Include a small chain (N <= 20) in the MPS sizes.",
    )
    reference = run_aer(AerSimulator(method="statevector"), _mps_fid_circuit(n, steps))
    return {"n": n, "abs_sx_difference": abs(float(np.real(reference.data()["sx"])) - entry["sx"])}


def bench_mps(
    *,
    sizes: Sequence[int],
    total_time: float,
    repeats: int,
    truncation_threshold: float = MPS_TRUNCATION,
) -> dict[str, Any]:
    """FID of the middle spin at ``total_time`` with Aer's MPS method for each chain length.

    One circuit per N (state preparation, ``round(total_time / dt)`` merged Strang steps, saves of
    <sigma^x_p> and of the MPS), the sizes interleaved over ``repeats`` rounds; records the time,
    the largest bond dimension and <sigma^x_p>. ``truncation_threshold`` is Aer's discarded
    squared Schmidt weight per SVD (its default 1e-16 keeps rounding noise and inflates the bond
    dimension). At the smallest N the same circuit also runs on the statevector method:
    ``statevector_difference`` bounds the truncation error there. Memory grows as N chi^2.
    """
    from echo_lab.backends.aer import AerBackend

    steps = round(total_time / DT)
    simulator = AerBackend(
        method="matrix_product_state",
        dt=DT,
        order=ORDER,
        mps_options={"truncation_threshold": truncation_threshold},
    ).simulator()
    circuits = {}
    for n in sizes:
        circuits[n] = _mps_fid_circuit(n, steps)
        circuits[n].save_matrix_product_state(label="mps")
    with watch_load() as load:
        seconds, results = time_interleaved(
            {n: functools.partial(run_aer, simulator, qc) for n, qc in circuits.items()},
            repeats=repeats,
        )
    entries = [_mps_entry(n, seconds[n], results[n].data()) for n in sizes]
    smallest = min(entries, key=lambda entry: entry["n"])
    longest, shortest = max(sizes), min(sizes)
    return {
        "model": model_record(dt=DT, order=ORDER),
        "truncation_threshold": truncation_threshold,
        "total_time": steps * DT,
        "steps": steps,
        "load": load,
        "sizes": entries,
        "statevector_difference": _statevector_check(smallest, steps),
        "longest_over_shortest": make_ratio(
            seconds[longest],
            seconds[shortest],
            numerator_name=f"N = {longest}",
            baseline_name=f"N = {shortest}",
            load=load,
        ),
    }


def _mps_entry(n: int, seconds: list[float], data: dict[str, Any]) -> dict[str, Any]:
    """One size of :func:`bench_mps`: times, largest bond dimension, <sigma^x_p>."""
    from echo_lab.lbits.window import mps_bond_dimensions

    return {
        "n": n,
        "seconds": summarize(seconds),
        "max_bond_dimension": int(mps_bond_dimensions(data["mps"]).max()),
        "sx": float(np.real(data["sx"])),
    }


def mps_headlines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline: MPS time of the longest chain / the shortest (context, no target)."""
    ratio = result["longest_over_shortest"]
    return [
        headline(
            f"MPS time {ratio['numerator']} / {ratio['baseline']}",
            ratio,
            target=None,
            comparison="<=",
            context=f"max bond dimension {max(e['max_bond_dimension'] for e in result['sizes'])}",
        )
    ]
