r"""The benchmark suite behind ``echo-lab bench``: where the time goes and the performance targets.

:func:`run_benchmarks` runs seven benchmarks in one process and writes one JSON record
(``suite.json``, or ``suite_quick.json`` with ``quick=True``) and a summary figure beside it
(``suite.png`` / ``suite_quick.png``, 150 dpi). Every headline figure is a **ratio of two times
measured in the same run** (absolute times are context only: other jobs may share the machine);
every time is recorded raw, all repeats, and summarized by the minimum over repeats.

=================  ===========================================================================
benchmark          what it measures (headline ratio)
=================  ===========================================================================
``lbits``          l-bit pipeline stages at each N: block diagonalization, overlap assignment,
                   forming all tau^z_i, tau^x_i, their Pauli expansions and mean ranges; our
                   Pauli transform vs ``SparsePauliOp.from_operator(atol=0, rtol=0)``
                   (speed-up)
``trotter_step``   one Strang step of the XXZ chain on Aer statevector: ours
                   (:func:`echo_lab.trotter.circuit`, fused 3-qubit blocks) vs the gate-by-gate
                   circuit (:func:`gate_by_gate_circuit`), and the memory-bandwidth bound
                   (ours / gate-by-gate, target <= 0.7 at N = 22-24; ours / bound, target <= 3)
``backends``       one FID trace on the exact, trotter-exact, krylov and aer backends, with
                   their largest differences (time relative to exact)
``mps``            Aer's matrix-product-state method on chains of growing length at a fixed
                   time: time and bond dimension (time ratio longest / shortest chain)
``study``          a whole study through :func:`echo_lab.study.run_study_file`, profiled: the
                   share of diagonalization, l-bits, pulses, evolution, checks, I/O and plots
``dask``           a 40-realization echo sweep at N = 12 (Aer statevector), serial vs a local
                   Dask cluster (throughput ratio, target >= 1.7; results identical bit for bit)
``binding``        transpile once, bind many: R disorder realizations of one FID trace through
                   :meth:`~echo_lab.backends.aer.AerBackend.run_realizations` vs one
                   (t(R) / t(1), target <= 3 for R = 100)
``trotter_gpu``    only where Aer sees a GPU: our Trotter step on the GPU at N = 24-30 against
                   all CPU cores at N = 24-26 (:func:`bench_trotter_devices`; GPU / CPU)
=================  ===========================================================================

Timing rules. The Trotter step time is ``(t(k_high) - t(k_low)) / (k_high - k_low)``, t the
minimum over repeats of a full Aer run with k merged Strang steps, which removes the fixed cost
(allocation, state preparation, result handling). Every variant runs with one Aer thread
(``max_parallel_threads=1``) against the bandwidth of one copying thread, and ours also with all
cores (``ours_all_cores``: Aer's default threading) against the bandwidth of all cores copying
(:func:`measure_copy_bandwidth` with ``threads``): each bound applies to the hardware its run
used. The bound of a circuit is (gates per step) x 2 x 16 x 2^N bytes / copy bandwidth: every
gate is one read and one write of the complex128 state vector.

Costs: ``quick=True`` about 1-2 minutes on 2 cores, the full suite 8-15 minutes; its largest
steps, about two minutes each, are the N = 12 l-bit pipeline with repeats, the Trotter steps at
N = 22-26 (1 GiB per state vector at N = 26) and the 150-unit main study. The suite needs the
repository checkout for the main study file (``experiments/echo_pbit_vs_lbit.toml``).
"""

from __future__ import annotations

import cProfile
import dataclasses
import functools
import importlib
import itertools
import json
import os
import pstats
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from echo_lab import lbits, models, pauli, trotter
from echo_lab.errors import ConfigError
from echo_lab.resources import require_memory, statevector_bytes

__all__ = [
    "FULL",
    "QUICK",
    "SUITE_FORMAT",
    "SuiteSettings",
    "bench_backends",
    "bench_binding",
    "bench_dask",
    "bench_lbits",
    "bench_mps",
    "bench_study",
    "bench_trotter_devices",
    "bench_trotter_step",
    "gate_by_gate_circuit",
    "measure_copy_bandwidth",
    "plot_summary",
    "run_benchmarks",
    "time_repeats",
]

#: Version of the JSON layout written by :func:`run_benchmarks`.
SUITE_FORMAT = 1

#: The model of every benchmark: random-field XXZ chain, Pauli units.
W, J, JZ, SEED = 8.0, 1.0, 1.0, 1

#: Trotter step and order of the circuit benchmarks.
DT, ORDER = 0.05, 2

#: Aer MPS truncation threshold of :func:`bench_mps` (discarded squared Schmidt weight per SVD).
MPS_TRUNCATION = 1e-10

#: The main study, relative to the repository root.
MAIN_STUDY = Path("experiments") / "echo_pbit_vs_lbit.toml"

_ROTATION_GATES = {"X": "rx", "Y": "ry", "Z": "rz", "XX": "rxx", "YY": "ryy", "ZZ": "rzz"}

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class SuiteSettings:
    """Sizes of one suite run (:data:`QUICK`, :data:`FULL`, or tiny ones for tests).

    ``study_realizations`` None runs ``study_file`` as it is, an integer runs a copy with that
    many realizations. ``gate_by_gate_max_n`` is the largest N where the (slow) gate-by-gate
    baseline is timed; ours and the bound are timed at every N of ``trotter_sizes``.
    """

    lbit_sizes: tuple[int, ...]
    transform_n: int
    trotter_sizes: tuple[int, ...]
    gate_by_gate_max_n: int
    backend_sizes: tuple[int, ...]
    mps_sizes: tuple[int, ...]
    mps_time: float
    study_file: Path
    study_realizations: int | None
    dask_n: int
    dask_realizations: int
    dask_workers: int
    binding_n: int
    binding_realizations: int
    binding_rebuilt: int
    repeats: int
    #: Sizes of the GPU Trotter step (run only where Aer sees a GPU); CPU up to 26 beside it.
    gpu_sizes: tuple[int, ...] = (24, 26, 28, 30)

    def __post_init__(self) -> None:
        for name in ("lbit_sizes", "trotter_sizes", "backend_sizes", "mps_sizes", "gpu_sizes"):
            sizes = getattr(self, name)
            if not sizes or any(not isinstance(n, int) or n < 2 for n in sizes):
                raise ConfigError(f"SuiteSettings.{name} must be chain lengths >= 2, got {sizes}")
        counts = {
            "transform_n": self.transform_n,
            "dask_n": self.dask_n,
            "dask_realizations": self.dask_realizations,
            "dask_workers": self.dask_workers,
            "binding_n": self.binding_n,
            "binding_realizations": self.binding_realizations,
            "binding_rebuilt": self.binding_rebuilt,
            "repeats": self.repeats,
        }
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SuiteSettings.{name} must be an integer >= 1, got {value!r}")
        if self.binding_rebuilt > self.binding_realizations:
            raise ConfigError("SuiteSettings.binding_rebuilt must be <= binding_realizations")
        if not (np.isfinite(self.mps_time) and self.mps_time >= DT):
            raise ConfigError(f"SuiteSettings.mps_time must be >= dt = {DT}, got {self.mps_time}")
        if self.study_realizations is not None and self.study_realizations < 1:
            raise ConfigError("SuiteSettings.study_realizations must be None or >= 1")


def _repository_root() -> Path:
    return Path(__file__).resolve().parent.parent


#: ``echo-lab bench --quick``: about a minute or two on 2 cores.
QUICK = SuiteSettings(
    lbit_sizes=(8, 10),
    transform_n=10,
    trotter_sizes=(16, 18, 20),
    gate_by_gate_max_n=20,
    backend_sizes=(10,),
    mps_sizes=(10, 20, 40),
    mps_time=2.0,
    study_file=_repository_root() / MAIN_STUDY,
    study_realizations=2,
    dask_n=12,
    dask_realizations=16,
    dask_workers=2,
    binding_n=10,
    binding_realizations=100,
    binding_rebuilt=5,
    repeats=2,
    gpu_sizes=(20, 22),
)

#: ``echo-lab bench``: the sizes of the performance targets, 8-15 minutes on 2 cores.
FULL = dataclasses.replace(
    QUICK,
    lbit_sizes=(8, 10, 12),
    transform_n=12,
    trotter_sizes=(16, 18, 20, 22, 24, 26),
    gate_by_gate_max_n=24,
    backend_sizes=(10, 12),
    study_realizations=None,
    dask_realizations=40,
    binding_n=12,
    binding_rebuilt=10,
    repeats=3,
    gpu_sizes=(24, 26, 28, 30),
)


# ----------------------------------------------------------------------------------------------
# Timing helpers
# ----------------------------------------------------------------------------------------------


def time_repeats(action: Callable[[], R], *, repeats: int) -> tuple[list[float], R]:
    """Wall times (``time.perf_counter``) of ``repeats`` calls of ``action`` and the last result."""
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def measure_copy_bandwidth(*, log2_size: int = 23, repeats: int = 5, threads: int = 1) -> float:
    """Bytes per second moved by ``numpy.copyto`` of a complex128 array (read + write).

    The array has 2^log2_size amplitudes (128 MiB at the default, far beyond the caches); the
    result is ``2 * nbytes / min(time)``. With ``threads`` > 1 that many threads copy equal
    slices at once (numpy releases the GIL while copying): the bandwidth of all cores. Memory:
    two such arrays.
    """
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    require_memory(
        2 * statevector_bytes(log2_size),
        what=f"the copy-bandwidth probe (2 arrays of 2^{log2_size} amplitudes)",
        suggestion="Use a smaller log2_size.",
    )
    source = np.ones(2**log2_size, dtype=complex)
    target = np.empty_like(source)
    bounds = np.linspace(0, source.size, threads + 1).astype(int)
    slices = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(threads) as pool:

        def copy() -> None:
            list(pool.map(lambda part: np.copyto(target[part], source[part]), slices))

        seconds, _ = time_repeats(copy, repeats=repeats)
    return 2 * source.nbytes / min(seconds)


def _hamiltonian(n: int, *, seed: int | np.random.SeedSequence = SEED) -> SparsePauliOp:
    return models.RandomFieldXXZ(n=n, W=W, J=J, Jz=JZ, seed=seed).hamiltonian()


def _probe_x(n: int) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list([("X", [n // 2], 1.0)], n)


# ----------------------------------------------------------------------------------------------
# 1. l-bit pipeline
# ----------------------------------------------------------------------------------------------


def _lbit_stages(n: int, repeats: int) -> dict[str, Any]:
    hamiltonian = _hamiltonian(n)
    diagonalize_s, (_, blocks) = time_repeats(
        lambda: lbits._diagonalize_blocks(hamiltonian), repeats=repeats
    )
    assign_s, _ = time_repeats(lambda: lbits._overlap_assignment(blocks, 1 << n), repeats=repeats)
    # cache_bytes=0: every tau() call forms its operator anew.
    system = lbits.construct(hamiltonian, cache_bytes=0)
    operators = [(a, i) for a in ("z", "x") for i in range(n)]
    form_s, taus = time_repeats(lambda: [system.tau(a, i) for a, i in operators], repeats=repeats)
    expand_s, ranges = time_repeats(
        lambda: [pauli.mean_range(pauli.support_weights(op), system.lattice) for op in taus],
        repeats=repeats,
    )

    def pipeline() -> tuple[np.ndarray, np.ndarray]:
        fresh = lbits.construct(hamiltonian, cache_bytes=0)
        return fresh.mean_range("z"), fresh.mean_range("x")

    pipeline_s, (range_z, range_x) = time_repeats(pipeline, repeats=repeats)
    return {
        "n": n,
        "blocks": len(blocks),
        "seconds": {
            "diagonalize": diagonalize_s,
            "overlap_assignment": assign_s,
            "form_all_tau": form_s,
            "expand_all_tau": expand_s,
            "pipeline": pipeline_s,
        },
        "average_range_z": float(np.mean(range_z)),
        "average_range_x": float(np.mean(range_x)),
        "stage_ranges_match_pipeline": bool(
            np.allclose(ranges[:n], range_z, rtol=0, atol=1e-12)
            and np.allclose(ranges[n:], range_x, rtol=0, atol=1e-12)
        ),
    }


def _transform_comparison(n: int, repeats: int) -> dict[str, Any]:
    """Our Pauli transform vs ``SparsePauliOp.from_operator`` on tau^x of the middle site."""
    system = lbits.construct(_hamiltonian(n))
    operator = np.asarray(system.tau("x", n // 2))
    ours_s, coeffs = time_repeats(lambda: pauli.decompose(operator), repeats=repeats)
    weights_s, _ = time_repeats(lambda: pauli.support_weights(operator), repeats=repeats)
    qiskit_s, reference = time_repeats(
        lambda: SparsePauliOp.from_operator(operator, atol=0.0, rtol=0.0),
        repeats=max(1, repeats - 1),
    )
    dense = np.zeros_like(coeffs)
    for label, coeff in zip(reference.paulis.to_labels(), reference.coeffs, strict=True):
        dense[pauli.pauli_index(label)] = coeff
    return {
        "n": n,
        "operator": f"tau^x_{n // 2} (real, dense {2**n} x {2**n})",
        "seconds": {
            "ours_decompose": ours_s,
            "ours_support_weights": weights_s,
            "qiskit_from_operator": qiskit_s,
        },
        "max_abs_coefficient_difference": float(np.max(np.abs(dense - coeffs))),
        "speedup_decompose": min(qiskit_s) / min(ours_s),
    }


def bench_lbits(*, sizes: Sequence[int], transform_n: int, repeats: int) -> dict[str, Any]:
    """l-bit pipeline stage times at each N and the Pauli-transform comparison at ``transform_n``.

    Model: random-field XXZ chain (W = 8, J = Jz = 1, seed 1). Stages (minimum of ``repeats``):
    sector-by-sector diagonalization, overlap assignment, forming all 2N tau^z_i and tau^x_i, their
    Pauli expansions with mean ranges, and the whole public pipeline (``lbits.construct`` then
    ``mean_range("z")`` and ``mean_range("x")``). Cost at N = 12: about 10 s per repeat, plus
    ~5 s for each ``from_operator``; memory a few dense 4^N arrays (128 MiB each at N = 12).
    """
    return {
        "model": {"W": W, "J": J, "Jz": JZ, "seed": SEED},
        "sizes": [_lbit_stages(int(n), repeats) for n in sizes],
        "transform": _transform_comparison(int(transform_n), repeats),
    }


# ----------------------------------------------------------------------------------------------
# 2. One Trotter step on Aer statevector
# ----------------------------------------------------------------------------------------------


def gate_by_gate_circuit(hamiltonian: SparsePauliOp, *, dt: float, steps: int) -> QuantumCircuit:
    """Strang circuit of H written gate by gate: ``rz`` per field, ``rxx``/``ryy``/``rzz`` per bond.

    The plain-Aer baseline of :func:`bench_trotter_step`. It is exactly the product formula of
    ``trotter.circuit(H, time=steps * dt, steps=steps, order=2, fold_fields=False)`` (a field
    layer, then the bond colours), one rotation gate per Pauli term instead of fused blocks, so
    both circuits have the same unitary, global phase included. Every term of H must be a
    one-qubit X, Y, Z or a two-qubit XX, YY, ZZ, and the terms of one block must commute
    (ConfigError otherwise, e.g. for a transverse field g X next to a field h Z).
    """
    split = trotter.split_layers(hamiltonian, fold_fields=False)
    for layer in split.layers:
        for block in layer.blocks:
            paulis = block.operator.paulis
            labels = [label for label, _, _ in block.operator.to_sparse_list()]
            if any(label not in _ROTATION_GATES for label in labels) or not all(
                a.commutes(b) for a in paulis for b in paulis
            ):
                raise ConfigError(
                    f"the gate-by-gate circuit needs commuting X/Y/Z fields and XX/YY/ZZ bonds; "
                    f"qubits {block.qubits} carry terms {labels}"
                )
    qc = QuantumCircuit(split.num_qubits, name="gate_by_gate")
    for index, fraction in trotter.step_schedule(len(split.layers), steps=steps, order=2):
        tau = fraction * dt
        for block in split.layers[index].blocks:
            for label, local, coeff in block.operator.to_sparse_list():
                qubits = [block.qubits[k] for k in local]
                getattr(qc, _ROTATION_GATES[label])(2.0 * float(np.real(coeff)) * tau, *qubits)
    qc.global_phase -= split.constant * dt * steps
    return qc


def _timed_circuit(n: int, body: QuantumCircuit) -> QuantumCircuit:
    """:func:`_timed_body` and one expectation value over all qubits (no big result)."""
    qc = _timed_body(body)
    qc.save_expectation_value(SparsePauliOp("Z" * n), list(range(n)), label="z")
    return qc


def _step_counts(n: int) -> tuple[int, int]:
    if n >= 24:
        return 1, 2
    if n >= 22:
        return 1, 3
    return 2, 6


def _seconds_per_step(
    low: Sequence[float], high: Sequence[float], k_low: int, k_high: int
) -> float:
    """Trotter benchmarks timing rule: (min t(k_high) - min t(k_low)) / (k_high - k_low)."""
    return (min(high) - min(low)) / (k_high - k_low)


def _trotter_size(
    n: int, *, repeats: int, gate_by_gate: bool, bandwidth: Mapping[int, float]
) -> dict[str, Any]:
    """One N of :func:`bench_trotter_step`; ``bandwidth`` maps Aer thread counts to bytes/s."""
    from qiskit_aer import AerSimulator

    hamiltonian = _hamiltonian(n)
    k_low, k_high = _step_counts(n)

    def ours(k: int) -> QuantumCircuit:
        return trotter.circuit(hamiltonian, time=k * DT, steps=k, order=ORDER)

    all_cores = max(bandwidth)
    # name -> (circuit builder, Aer threads)
    builders: dict[str, tuple[Callable[[int], QuantumCircuit], int]] = {"ours": (ours, 1)}
    if all_cores > 1:
        builders["ours_all_cores"] = (ours, all_cores)
    if gate_by_gate:
        builders["gate_by_gate"] = (
            lambda k: gate_by_gate_circuit(hamiltonian, dt=DT, steps=k),
            1,
        )
    circuits = {
        (name, k): _timed_circuit(n, build(k))
        for name, (build, _) in builders.items()
        for k in (k_low, k_high)
    }
    # No truncation: Aer would otherwise simulate only the light cone of the saved observable.
    simulators = {
        threads: AerSimulator(
            method="statevector", max_parallel_threads=threads, enable_truncation=False
        )
        for threads in bandwidth
    }
    raw: dict[tuple[str, int], list[float]] = {key: [] for key in circuits}
    for _ in range(repeats if n < 24 else max(1, repeats - 2)):
        for key, qc in circuits.items():  # interleaved, so load changes hit every variant
            start = time.perf_counter()
            _run_aer(simulators[builders[key[0]][1]], qc)
            raw[key].append(time.perf_counter() - start)
    variants: dict[str, Any] = {}
    for name, (_, threads) in builders.items():
        low, high = circuits[(name, k_low)], circuits[(name, k_high)]
        per_step = _seconds_per_step(raw[(name, k_low)], raw[(name, k_high)], k_low, k_high)
        gates = (high.size() - low.size()) / (k_high - k_low)
        bound = gates * 2 * statevector_bytes(n) / bandwidth[threads]
        variants[name] = {
            "seconds_k_low": raw[(name, k_low)],
            "seconds_k_high": raw[(name, k_high)],
            "seconds_per_step": per_step,
            "gates_per_step": gates,
            "bandwidth_bound_seconds_per_step": bound,
            "over_bandwidth_bound": per_step / bound,
            "aer_threads": threads,
        }
    entry: dict[str, Any] = {"n": n, "k_low": k_low, "k_high": k_high, "variants": variants}
    if gate_by_gate:
        entry["ours_over_gate_by_gate"] = (
            variants["ours"]["seconds_per_step"] / variants["gate_by_gate"]["seconds_per_step"]
        )
    return entry


def _same_state_check(n: int, steps: int) -> dict[str, float]:
    """State fidelity checks of the gate-by-gate baseline against our circuits at small N."""
    hamiltonian = _hamiltonian(n)
    baseline = Statevector(_timed_body(gate_by_gate_circuit(hamiltonian, dt=DT, steps=steps)))
    unfolded = Statevector(
        _timed_body(
            trotter.circuit(
                hamiltonian, time=steps * DT, steps=steps, order=ORDER, fold_fields=False
            )
        )
    )
    ours = Statevector(
        _timed_body(trotter.circuit(hamiltonian, time=steps * DT, steps=steps, order=ORDER))
    )
    return {
        "n": n,
        "steps": steps,
        "max_abs_amplitude_difference_vs_ours_unfolded": float(
            np.max(np.abs(baseline.data - unfolded.data))
        ),
        "infidelity_vs_ours_default": float(1.0 - abs(baseline.inner(ours)) ** 2),
    }


def _timed_body(body: QuantumCircuit) -> QuantumCircuit:
    """``body`` after the benchmark's product-state preparation (no saves)."""
    n = body.num_qubits
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(0.3 + 0.1 * q, q)
    return qc.compose(body)


def bench_trotter_step(
    *, sizes: Sequence[int], repeats: int, gate_by_gate_max_n: int, check_n: int = 8
) -> dict[str, Any]:
    """Seconds per Strang step on Aer statevector: ours vs gate-by-gate vs the bandwidth bound.

    Per N: ours (``trotter.circuit``, fields folded into the bonds, blocks fused into 3-qubit
    unitaries) and, up to ``gate_by_gate_max_n``, :func:`gate_by_gate_circuit`; module
    docstring for the timing rule and the bound. ``same_state`` checks at ``check_n`` that the
    baseline equals ``trotter.circuit(..., fold_fields=False)`` amplitude by amplitude (the
    default ``fold_fields=True`` is a different Strang splitting of the same H, so its infidelity
    is O(dt^6) per step, not zero). Memory: about three state vectors of the largest N
    (checked first); cost dominated by the largest N (N = 26: ~1 GiB per state).
    """
    largest = max(sizes)
    require_memory(
        3 * statevector_bytes(largest),
        what=f"the Trotter-step benchmark at N = {largest}",
        suggestion="Leave out the largest sizes.",
    )
    cores = os.cpu_count() or 1
    bandwidth = {threads: measure_copy_bandwidth(threads=threads) for threads in {1, cores}}
    return {
        "model": {"W": W, "J": J, "Jz": JZ, "seed": SEED, "dt": DT, "order": ORDER},
        "aer_options": {"method": "statevector", "max_parallel_threads": [1, cores]},
        "copy_bandwidth_bytes_per_second": bandwidth[1],
        "copy_bandwidth_all_cores_bytes_per_second": bandwidth[cores],
        "cores": cores,
        "same_state": _same_state_check(check_n, 3),
        "sizes": [
            _trotter_size(
                int(n), repeats=repeats, gate_by_gate=n <= gate_by_gate_max_n, bandwidth=bandwidth
            )
            for n in sizes
        ],
    }


def bench_trotter_devices(
    *,
    sizes: Sequence[int],
    devices: Sequence[str] = ("CPU", "GPU"),
    cpu_max_n: int = 26,
    repeats: int = 2,
) -> dict[str, Any]:
    """Seconds per Strang step of our circuit on each Aer device (CPU: all cores), per N.

    The timing rule of :func:`bench_trotter_step` (t(k_high) - t(k_low), minimum over repeats).
    The CPU is timed up to ``cpu_max_n`` (its state is checked against the free memory first);
    the GPU at every N, and an N whose state does not fit on the device is recorded with Aer's
    message instead of a time. ``gpu_over_cpu`` where both ran. ConfigError, before any work,
    for a device Aer does not see (with the install hint for the GPU build).
    """
    from qiskit.exceptions import QiskitError
    from qiskit_aer import AerSimulator

    from echo_lab.backends.aer import GPU_INSTALL_HINT

    available = AerSimulator().available_devices()
    for device in devices:
        if device not in ("CPU", "GPU"):
            raise ConfigError(f"devices must be 'CPU' and/or 'GPU', got {device!r}")
        if device not in available:
            hint = GPU_INSTALL_HINT if device == "GPU" else "Aer reports no CPU device"
            raise ConfigError(f"Aer sees no {device} (devices: {list(available)}): {hint}")
    cpu_sizes = [n for n in sizes if n <= cpu_max_n]
    if "CPU" in devices and cpu_sizes:
        require_memory(
            2 * statevector_bytes(max(cpu_sizes)),
            what=f"the CPU Trotter step at N = {max(cpu_sizes)}",
            suggestion="Lower cpu_max_n.",
        )
    entries = []
    for n in sizes:
        hamiltonian = _hamiltonian(n)
        k_low, k_high = _step_counts(n)
        circuits = {
            k: _timed_circuit(n, trotter.circuit(hamiltonian, time=k * DT, steps=k, order=ORDER))
            for k in (k_low, k_high)
        }
        entry: dict[str, Any] = {"n": n, "k_low": k_low, "k_high": k_high, "devices": {}}
        for device in devices:
            if device == "CPU" and n > cpu_max_n:
                continue
            simulator = AerSimulator(method="statevector", device=device, enable_truncation=False)
            raw: dict[int, list[float]] = {k_low: [], k_high: []}
            try:
                for _ in range(repeats):
                    for k, qc in circuits.items():
                        start = time.perf_counter()
                        _run_aer(simulator, qc)
                        raw[k].append(time.perf_counter() - start)
            except (RuntimeError, QiskitError) as exc:  # e.g. the state does not fit on the device
                entry["devices"][device] = {"failed": str(exc)}
                continue
            entry["devices"][device] = {
                "seconds_per_step": _seconds_per_step(raw[k_low], raw[k_high], k_low, k_high),
                "seconds_k_low": raw[k_low],
                "seconds_k_high": raw[k_high],
            }
        timed = {
            d: v["seconds_per_step"] for d, v in entry["devices"].items() if "seconds_per_step" in v
        }
        if "CPU" in timed and "GPU" in timed:
            entry["gpu_over_cpu"] = timed["GPU"] / timed["CPU"]
        entries.append(entry)
    return {
        "model": {"W": W, "J": J, "Jz": JZ, "seed": SEED, "dt": DT, "order": ORDER},
        "aer_devices": list(available),
        "cpu_threads": os.cpu_count() or 1,
        "sizes": entries,
    }


# ----------------------------------------------------------------------------------------------
# 3. Backends on one FID trace
# ----------------------------------------------------------------------------------------------


def _fid_times(t_max: float = 10.0, points: int = 20) -> np.ndarray:
    """Log-spaced total times snapped to multiples of DT (so Trotter backends hit them)."""
    return np.unique(np.round(np.geomspace(DT, t_max, points) / DT) * DT)


def _backend_size(n: int) -> dict[str, Any]:
    from echo_lab.backends import get_backend
    from echo_lab.schedule import Free, PulseSequence
    from echo_lab.states import probe_state

    hamiltonian = _hamiltonian(n, seed=7)
    state = probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(7))
    times = _fid_times()
    observables = {"sx": _probe_x(n)}
    fid = PulseSequence([Free(1.0)], name="fid")

    def exact() -> np.ndarray:
        # The sector-by-sector eigensystem, as studies pass it to the exact backend.
        system = lbits.construct(hamiltonian)
        backend = get_backend("exact", eigensystem=(system.energies, system.vectors))
        return backend.run(hamiltonian, fid, state, times, observables=observables)["sx"]

    def runner(name: str, **options: Any) -> Callable[[], np.ndarray]:
        backend = get_backend(name, **options)
        return lambda: backend.run(hamiltonian, fid, state, times, observables=observables)["sx"]

    runs: dict[str, Callable[[], np.ndarray]] = {
        "exact": exact,
        "trotter-exact": runner("trotter-exact", dt=DT, order=ORDER),
        "krylov": runner("krylov"),
        "aer": runner("aer", method="statevector", dt=DT, order=ORDER),
    }
    seconds: dict[str, list[float]] = {}
    traces: dict[str, np.ndarray] = {}
    for name, run in runs.items():
        seconds[name], traces[name] = time_repeats(run, repeats=1)

    def difference(a: str, b: str) -> float:
        return float(np.max(np.abs(traces[a] - traces[b])))

    return {
        "n": n,
        "seconds": seconds,
        "over_exact": {name: min(s) / min(seconds["exact"]) for name, s in seconds.items()},
        "max_abs_difference": {
            "krylov vs exact": difference("krylov", "exact"),
            "aer vs trotter-exact": difference("aer", "trotter-exact"),
            "trotter-exact vs exact (Trotter error)": difference("trotter-exact", "exact"),
        },
    }


def bench_backends(*, sizes: Sequence[int]) -> dict[str, Any]:
    """One FID trace (20 log-spaced times to t = 10) on the exact, trotter-exact, krylov and aer
    statevector backends at each N, each timed once from scratch (its diagonalization or circuit
    construction included), and their largest differences in <sigma^x_p>.

    Probe N // 2 in |+>, z-random background (seed 7), W = 8, J = Jz = 1, fields seed 7, Strang
    dt = 0.05. The exact backend uses the sector-by-sector eigensystem of ``lbits.construct``; the
    trotter-exact backend diagonalizes one Trotter step (dense, the slowest step at N = 12).
    """
    times = _fid_times()
    return {
        "model": {"W": W, "J": J, "Jz": JZ, "seed": 7, "dt": DT, "order": ORDER},
        "times": times.tolist(),
        "sizes": [_backend_size(int(n)) for n in sizes],
    }


# ----------------------------------------------------------------------------------------------
# 4. Matrix product states against chain length
# ----------------------------------------------------------------------------------------------


def _run_aer(simulator: Any, qc: QuantumCircuit) -> Any:
    """One Aer run of ``qc`` (one shot); its ``Result``."""
    result = simulator.run(qc, shots=1).result()
    if not result.success:
        raise RuntimeError(f"Aer failed on circuit {qc.name!r}: {result.status}")
    return result


def bench_mps(
    *,
    sizes: Sequence[int],
    total_time: float,
    repeats: int,
    truncation_threshold: float = MPS_TRUNCATION,
) -> dict[str, Any]:
    """FID of the middle spin at ``total_time`` with Aer's MPS method for each chain length.

    One circuit per N (state preparation, ``round(total_time / dt)`` merged Strang steps, saves of
    <sigma^x_p> and of the MPS), run ``repeats`` times; records the time, the largest bond
    dimension and <sigma^x_p>. ``truncation_threshold`` is Aer's discarded squared Schmidt weight
    per SVD (its default 1e-16 keeps rounding noise and inflates the bond dimension). At the
    smallest N the same circuit also runs on the statevector method: ``statevector_difference``
    bounds the truncation error there. Memory grows as N chi^2.
    """
    from qiskit_aer import AerSimulator

    from echo_lab.backends.aer import AerBackend
    from echo_lab.states import probe_state
    from echo_lab.window import mps_bond_dimensions

    steps = round(total_time / DT)
    simulator = AerBackend(
        method="matrix_product_state",
        dt=DT,
        order=ORDER,
        mps_options={"truncation_threshold": truncation_threshold},
    ).simulator()

    def fid_circuit(n: int) -> QuantumCircuit:
        state = probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(SEED))
        qc = state.circuit()
        qc.compose(
            trotter.circuit(_hamiltonian(n), time=steps * DT, steps=steps, order=ORDER),
            inplace=True,
        )
        qc.save_expectation_value(_probe_x(n), list(range(n)), label="sx")
        return qc

    entries: list[dict[str, Any]] = []
    for n in sizes:
        qc = fid_circuit(n)
        qc.save_matrix_product_state(label="mps")
        seconds, result = time_repeats(functools.partial(_run_aer, simulator, qc), repeats=repeats)
        data = result.data()
        entries.append(
            {
                "n": n,
                "seconds": seconds,
                "max_bond_dimension": int(mps_bond_dimensions(data["mps"]).max()),
                "sx": float(np.real(data["sx"])),
            }
        )
    smallest = min(range(len(entries)), key=lambda k: entries[k]["n"])
    n_check = entries[smallest]["n"]
    require_memory(
        2 * statevector_bytes(n_check),
        what=f"the statevector cross-check of the MPS at N = {n_check}",
        suggestion="Include a small chain (N <= 20) in the MPS sizes.",
    )
    reference = _run_aer(AerSimulator(method="statevector"), fid_circuit(n_check))
    difference = abs(float(np.real(reference.data()["sx"])) - entries[smallest]["sx"])
    return {
        "model": {"W": W, "J": J, "Jz": JZ, "seed": SEED, "dt": DT, "order": ORDER},
        "truncation_threshold": truncation_threshold,
        "total_time": steps * DT,
        "steps": steps,
        "sizes": entries,
        "statevector_difference": {"n": n_check, "abs_sx_difference": difference},
        "time_ratio_longest_over_shortest": min(entries[-1]["seconds"])
        / min(entries[0]["seconds"]),
    }


# ----------------------------------------------------------------------------------------------
# 5. A whole study, profiled
# ----------------------------------------------------------------------------------------------

#: Stages of a study run: (name, [(file suffix, function name), ...]). A stage's time is the sum
#: of the cumulative times of its functions, less the time of any stage function they call
#: directly (construct -> _diagonalize_blocks, plot_file -> load_results), so stages do not
#: overlap as long as stage functions nest only directly.
STUDY_STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "diagonalization",
        (("echo_lab/lbits.py", "_diagonalize_blocks"), ("echo_lab/spectrum.py", "diagonalize")),
    ),
    ("l-bit assignment", (("echo_lab/lbits.py", "construct"),)),
    ("l-bit observables", (("echo_lab/observables.py", "probe_observables"),)),
    ("pulses", (("echo_lab/protocols.py", "build_sequence"),)),
    ("evolution (main backend)", (("echo_lab/backends/exact.py", "run"),)),
    ("check backend", (("echo_lab/backends/trotter_exact.py", "run"),)),
    (
        "results and checkpoint I/O",
        (("echo_lab/results.py", "save_results"), ("echo_lab/results.py", "load_results")),
    ),
    ("plots", (("echo_lab/plot.py", "plot_file"),)),
)

_ProfileKey = tuple[str, int, str]


def _stage_seconds(stats: pstats.Stats, total: float) -> dict[str, float]:
    """Seconds per stage of :data:`STUDY_STAGES` from a profile, plus ``other`` (the rest)."""
    table: dict[_ProfileKey, tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]

    def matches(key: _ProfileKey, suffix: str, function: str) -> bool:
        return key[2] == function and key[0].replace(os.sep, "/").endswith(suffix)

    stage_of = {
        key: name
        for name, functions in STUDY_STAGES
        for key in table
        if any(matches(key, suffix, function) for suffix, function in functions)
    }
    stages = dict.fromkeys((name for name, _ in STUDY_STAGES), 0.0)
    for key, name in stage_of.items():
        stages[name] += float(table[key][3])
        callers: dict[_ProfileKey, tuple[Any, ...]] = table[key][4]
        for caller, values in callers.items():
            if caller in stage_of:
                stages[stage_of[caller]] -= float(values[3])
    stages["other"] = total - sum(stages.values())
    return stages


def _reduced_study(path: Path, realizations: int, folder: Path) -> Path:
    """A copy of the study file with ``[study] realizations`` replaced."""
    text = path.read_text(encoding="utf-8")
    header = re.search(r"(?ms)^\[study\]\s*$.*?(?=^\[|\Z)", text)
    if header is None or not re.search(r"(?m)^realizations\s*=", header.group(0)):
        raise ConfigError(f"{path} has no [study] realizations key to reduce")
    reduced = (
        text[: header.start()]
        + re.sub(
            r"(?m)^realizations\s*=.*$", f"realizations = {realizations}", header.group(0), count=1
        )
        + text[header.end() :]
    )
    copy = folder / path.name
    copy.write_text(reduced, encoding="utf-8")
    return copy


def bench_study(path: Path, *, realizations: int | None) -> dict[str, Any]:
    """Run the study file ``path`` end to end (serially) under cProfile; time per stage.

    With ``realizations`` a copy with that many realizations runs instead. Output goes to a
    temporary folder (removed afterwards). Stages are the cumulative times of the functions in
    :data:`STUDY_STAGES`; ``other`` is the rest (configuration, seeding, dataset assembly,
    profiling overhead). Cost: the study's own (main study: ~150 units of ~1 s on 2 cores).
    """
    from echo_lab.config import load_spec
    from echo_lab.study import list_units, run_study_file

    if not path.is_file():
        raise ConfigError(
            f"study file {path} not found: run the benchmarks from a checkout of the repository"
        )
    with tempfile.TemporaryDirectory(prefix="echo-lab-bench-") as tmp:
        folder = Path(tmp)
        study = path if realizations is None else _reduced_study(path, realizations, folder)
        spec = load_spec(study)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        run_study_file(study, out=folder / "out", progress=False)
        profiler.disable()
        total = time.perf_counter() - start
    stages = _stage_seconds(pstats.Stats(profiler), total)
    units = len(list_units(spec))
    return {
        "study_file": str(path),
        "realizations": spec.realizations,
        "units": units,
        "seconds_total": total,
        "seconds_per_unit": total / units,
        "stage_seconds": stages,
        "stage_fractions": {name: value / total for name, value in stages.items()},
        "note": "cumulative times under cProfile (its overhead lands mostly in Python-heavy "
        "stages); serial run, BLAS limited to one thread per unit as in every study",
    }


# ----------------------------------------------------------------------------------------------
# 6. Dask scale-out
# ----------------------------------------------------------------------------------------------


def _dask_study_text(n: int, realizations: int) -> str:
    """Hahn echo (p-bit pulse) and FID of the middle spin on Aer statevector, 11 times to T = 10."""
    return f"""
[study]
name = "bench_dask"
kind = "echo"
realizations = {realizations}
seed = 20140601

[model]
type = "xxz"
n = {n}
J = {J}
Jz = {JZ}
W = {W}

[protocol]
sequence = "hahn"
pulses = ["pbit"]
fid = true
probe = "center"
background = "z-random"

[times]
start = 0.1
stop = 10.0
num = 11
spacing = "log"

[backend]
name = "aer"
method = "statevector"
dt = {DT}
order = {ORDER}
"""


def _import_study() -> None:
    importlib.import_module("echo_lab.study")


def bench_dask(*, n: int, realizations: int, workers: int) -> dict[str, Any]:
    """An echo sweep of ``realizations`` units at ``n``: serial vs a local Dask cluster.

    Each unit is one realization of a Hahn echo with a p-bit pulse and the FID of the middle spin
    (z-random background, W = 8, J = Jz = 1, 11 log-spaced times to T = 10) as Strang circuits
    (dt = 0.05) on Aer statevector (N = 12: ~0.8 s per unit on one core; single-threaded below
    N = 14, so deterministic). Serial:
    :func:`echo_lab.sweep.run_units` with ``workers=0``. Parallel: a
    ``LocalCluster(n_workers=workers, threads_per_worker=1)`` is started and its workers import
    echo_lab (``cluster_startup``), then the same ``run_units`` runs through its scheduler address
    (the ``--scheduler`` path of ``echo-lab run``). ``throughput_ratio`` = serial / parallel
    sweep time; ``end_to_end_ratio`` includes the startup. ``identical`` is True when every unit's
    Dataset is identical (values, coordinates and attributes) in both runs.
    """
    import distributed

    from echo_lab.config import parse_spec
    from echo_lab.study import compute_unit, list_units
    from echo_lab.sweep import run_units, start_local_cluster

    spec = parse_spec(_dask_study_text(n, realizations), source="bench_dask")
    units = list_units(spec)
    compute = functools.partial(compute_unit, spec)
    start = time.perf_counter()
    serial = dict(run_units(compute, units, progress=False))
    serial_s = time.perf_counter() - start

    start = time.perf_counter()
    cluster = start_local_cluster(workers)
    try:
        with distributed.Client(cluster) as client:
            client.run(_import_study)
            startup_s = time.perf_counter() - start
            start = time.perf_counter()
            parallel = dict(
                run_units(compute, units, scheduler=cluster.scheduler_address, progress=False)
            )
            parallel_s = time.perf_counter() - start
    finally:
        cluster.close()
    identical = all(serial[k].identical(parallel[k]) for k in range(len(units)))
    return {
        "study": {
            "kind": "echo",
            "backend": "krylov",
            "n": n,
            "W": W,
            "realizations": realizations,
        },
        "workers": workers,
        "seconds": {"serial": serial_s, "parallel": parallel_s, "cluster_startup": startup_s},
        "throughput_ratio": serial_s / parallel_s,
        "end_to_end_ratio": serial_s / (parallel_s + startup_s),
        "identical": identical,
    }


# ----------------------------------------------------------------------------------------------
# 7. Transpile once, bind many
# ----------------------------------------------------------------------------------------------


def bench_binding(*, n: int, realizations: int, rebuilt: int) -> dict[str, Any]:
    """R disorder realizations of one FID trace at ``n``: one bound Aer call vs one realization.

    FID of site n // 2 in |+> with a z-random background per realization, 20 log-spaced times to
    t = 10 snapped to dt = 0.05 (200 Strang steps), W = 8, J = Jz = 1.
    ``bound_all`` / ``bound_one``: :meth:`AerBackend.run_realizations` with R realizations and with
    the first one. ``rebuild``: :meth:`AerBackend.run` per realization (a fused circuit built for
    each), timed on ``rebuilt`` realizations and scaled to R. ``marginal_seconds_per_realization``
    = (t(R) - t(1)) / (R - 1): the simulation of one realization, which sets the floor of the
    ratio t(R) / t(1) >= 1 + (R - 1) marginal / t(1).
    """
    from echo_lab.backends.aer import AerBackend
    from echo_lab.schedule import Free, PulseSequence
    from echo_lab.states import probe_state

    seeds = np.random.SeedSequence(11).spawn(realizations)
    realization_models = [models.RandomFieldXXZ(n=n, W=W, J=J, Jz=JZ, seed=s) for s in seeds]
    state_seeds = np.random.SeedSequence(12).spawn(realizations)
    states = [
        probe_state(n, n // 2, background="z-random", rng=np.random.default_rng(s))
        for s in state_seeds
    ]
    fields = np.array([m.fields for m in realization_models])
    times = _fid_times()
    fid = PulseSequence([Free(1.0)], name="fid")
    observables = {"sx": _probe_x(n)}
    backend = AerBackend(method="statevector", dt=DT, order=ORDER)
    template = realization_models[0]

    def bound(count: int) -> list[dict[str, np.ndarray]]:
        return backend.run_realizations(
            template,
            fid,
            states[:count],
            times,
            fields_list=fields[:count],
            observables=observables,
        )

    one_s, _ = time_repeats(lambda: bound(1), repeats=2)
    all_s, bound_results = time_repeats(lambda: bound(realizations), repeats=1)
    rebuild_s, rebuilt_results = time_repeats(
        lambda: [
            backend.run(m.hamiltonian(), fid, s, times, observables=observables)
            for m, s in zip(realization_models[:rebuilt], states[:rebuilt], strict=True)
        ],
        repeats=1,
    )
    rebuild_scaled = min(rebuild_s) * realizations / rebuilt
    difference = max(
        float(np.max(np.abs(b["sx"] - r["sx"])))
        for b, r in zip(bound_results[:rebuilt], rebuilt_results, strict=True)
    )
    marginal = (min(all_s) - min(one_s)) / max(1, realizations - 1)
    return {
        "n": n,
        "realizations": realizations,
        "model": {"W": W, "J": J, "Jz": JZ, "dt": DT, "order": ORDER},
        "steps": round(float(times[-1]) / DT),
        "seconds": {
            "bound_one": one_s,
            "bound_all": all_s,
            f"rebuild_{rebuilt}": rebuild_s,
            "rebuild_all_scaled": rebuild_scaled,
        },
        "ratio_all_over_one": min(all_s) / min(one_s),
        "marginal_seconds_per_realization": marginal,
        "fixed_seconds": min(one_s) - marginal,
        "speedup_vs_rebuild": rebuild_scaled / min(all_s),
        "max_abs_difference_bound_vs_rebuilt": difference,
        "note": "bound circuits keep the fields in their own Trotter layer, rebuilt ones fold "
        "them into the bonds: both are Strang formulas and differ by O(dt^2)",
    }


# ----------------------------------------------------------------------------------------------
# The suite
# ----------------------------------------------------------------------------------------------


def _headlines(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ratios of the performance targets (and the context ratios) of one suite run."""
    lines: list[dict[str, Any]] = []

    def add(name: str, value: float, target: float | None, comparison: str, context: str) -> None:
        met = None
        if target is not None:
            met = bool(value <= target) if comparison == "<=" else bool(value >= target)
        lines.append(
            {
                "name": name,
                "value": float(value),
                "target": target,
                "comparison": comparison,
                "met": met,
                "context": context,
            }
        )

    transform = results["lbits"]["transform"]
    add(
        f"Pauli transform speed-up vs from_operator, N = {transform['n']}",
        transform["speedup_decompose"],
        None,
        ">=",
        f"ours {min(transform['seconds']['ours_decompose']):.3g} s",
    )
    for entry in results["trotter_step"]["sizes"]:
        n = entry["n"]
        ours = entry["variants"]["ours"]
        if "ours_over_gate_by_gate" in entry:
            add(
                f"Trotter step ours / gate-by-gate, N = {n}",
                entry["ours_over_gate_by_gate"],
                0.7 if 22 <= n <= 24 else None,
                "<=",
                f"ours {ours['seconds_per_step']:.3g} s/step",
            )
        add(
            f"Trotter step ours / bandwidth bound, 1 thread, N = {n}",
            ours["over_bandwidth_bound"],
            3.0,
            "<=",
            f"{ours['gates_per_step']:.1f} gates/step",
        )
        if "ours_all_cores" in entry["variants"]:
            every = entry["variants"]["ours_all_cores"]
            add(
                f"Trotter step ours / bandwidth bound, {every['aer_threads']} threads, N = {n}",
                every["over_bandwidth_bound"],
                3.0,
                "<=",
                f"ours {every['seconds_per_step']:.3g} s/step on all cores",
            )
    mps = results["mps"]
    add(
        f"MPS time N = {mps['sizes'][-1]['n']} / N = {mps['sizes'][0]['n']}",
        mps["time_ratio_longest_over_shortest"],
        None,
        "<=",
        f"max bond dimension {mps['sizes'][-1]['max_bond_dimension']}",
    )
    dask = results["dask"]
    add(
        f"Dask throughput, {dask['workers']} workers / serial",
        dask["throughput_ratio"],
        1.7,
        ">=",
        f"identical results: {dask['identical']}",
    )
    binding = results["binding"]
    add(
        f"bind {binding['realizations']} realizations / 1, N = {binding['n']}",
        binding["ratio_all_over_one"],
        3.0 if binding["realizations"] >= 100 else None,
        "<=",
        f"marginal {binding['marginal_seconds_per_realization']:.3g} s per realization",
    )
    for entry in results.get("trotter_gpu", {}).get("sizes", []):
        gpu = entry["devices"].get("GPU", {})
        if "gpu_over_cpu" in entry:
            add(
                f"GPU / CPU ({results['trotter_gpu']['cpu_threads']} cores) Trotter step, "
                f"N = {entry['n']}",
                entry["gpu_over_cpu"],
                None,
                "<=",
                f"GPU {gpu['seconds_per_step']:.3g} s/step",
            )
        elif "seconds_per_step" in gpu:
            add(
                f"GPU Trotter step, N = {entry['n']} (seconds)",
                gpu["seconds_per_step"],
                None,
                "<=",
                "CPU not timed at this N",
            )
    return lines


def run_benchmarks(*, out: Path, quick: bool, settings: SuiteSettings | None = None) -> Path:
    """Run the suite and write ``out/suite[_quick].json`` and ``.png``; returns the JSON path.

    ``settings`` overrides the sizes (default :data:`QUICK` or :data:`FULL`). The JSON holds
    ``format``, ``quick``, ``command``, ``started`` / ``finished`` (UTC), ``environment``
    (:func:`echo_lab.info.environment_info`), the load average at start and end, ``settings``,
    one entry per benchmark (parameters, raw times of every repeat, ratios, its wall time) and
    ``headlines``: every target ratio with its value, target and whether it was met.
    ConfigError before any work if ``out`` is a file or the study file is missing.
    """
    from echo_lab.info import environment_info

    suite = settings if settings is not None else (QUICK if quick else FULL)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the benchmark records")
    if not suite.study_file.is_file():
        raise ConfigError(
            f"study file {suite.study_file} not found: run `echo-lab bench` from a checkout of the "
            "repository (the suite runs experiments/echo_pbit_vs_lbit.toml)"
        )
    importlib.import_module("echo_lab.backends.aer")  # ConfigError now if Qiskit Aer is missing
    out.mkdir(parents=True, exist_ok=True)
    stem = "suite_quick" if quick else "suite"
    record: dict[str, Any] = {
        "format": SUITE_FORMAT,
        "quick": quick,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "load_average_start": list(os.getloadavg()),
        "settings": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in dataclasses.asdict(suite).items()
        },
    }
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "lbits": lambda: bench_lbits(
            sizes=suite.lbit_sizes, transform_n=suite.transform_n, repeats=suite.repeats
        ),
        "trotter_step": lambda: bench_trotter_step(
            sizes=suite.trotter_sizes,
            repeats=suite.repeats,
            gate_by_gate_max_n=suite.gate_by_gate_max_n,
        ),
        "backends": lambda: bench_backends(sizes=suite.backend_sizes),
        "mps": lambda: bench_mps(
            sizes=suite.mps_sizes, total_time=suite.mps_time, repeats=suite.repeats
        ),
        "study": lambda: bench_study(suite.study_file, realizations=suite.study_realizations),
        "dask": lambda: bench_dask(
            n=suite.dask_n, realizations=suite.dask_realizations, workers=suite.dask_workers
        ),
        "binding": lambda: bench_binding(
            n=suite.binding_n,
            realizations=suite.binding_realizations,
            rebuilt=suite.binding_rebuilt,
        ),
    }
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        steps["trotter_gpu"] = lambda: bench_trotter_devices(
            sizes=suite.gpu_sizes, repeats=suite.repeats
        )
    results: dict[str, Any] = {}
    for name, step in steps.items():
        start = time.perf_counter()
        results[name] = step()
        results[name]["wall_seconds"] = time.perf_counter() - start
        print(f"bench {name}: {results[name]['wall_seconds']:.1f} s", file=sys.stderr, flush=True)
    record["benchmarks"] = results
    record["headlines"] = _headlines(results)
    record["load_average_end"] = list(os.getloadavg())
    record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = out / f"{stem}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    plot_summary(record, out / f"{stem}.png")
    return path


def plot_summary(record: Mapping[str, Any], path: Path) -> Path:
    """Six panels of one suite record (stages, Trotter step, backends, MPS, study, headlines).

    Matplotlib is imported here, with the Agg backend; the figure is saved at 150 dpi and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = record["benchmarks"]
    fig, axes = plt.subplots(2, 3, figsize=(15.0, 8.5))
    (ax_lbits, ax_trotter, ax_backends), (ax_mps, ax_study, ax_headlines) = axes

    sizes = results["lbits"]["sizes"]
    ns = [entry["n"] for entry in sizes]
    for stage in sizes[0]["seconds"]:
        ax_lbits.semilogy(ns, [min(e["seconds"][stage]) for e in sizes], "o-", label=stage)
    ax_lbits.set(xlabel="N", ylabel="seconds (min of repeats)", title="l-bit pipeline stages")
    ax_lbits.legend(fontsize=7)

    trotter_sizes = results["trotter_step"]["sizes"]
    ns = [entry["n"] for entry in trotter_sizes]
    ax_trotter.semilogy(
        ns, [e["variants"]["ours"]["seconds_per_step"] for e in trotter_sizes], "o-", label="ours"
    )
    with_baseline = [e for e in trotter_sizes if "gate_by_gate" in e["variants"]]
    ax_trotter.semilogy(
        [e["n"] for e in with_baseline],
        [e["variants"]["gate_by_gate"]["seconds_per_step"] for e in with_baseline],
        "s-",
        label="gate by gate",
    )
    ax_trotter.semilogy(
        ns,
        [e["variants"]["ours"]["bandwidth_bound_seconds_per_step"] for e in trotter_sizes],
        "k--",
        label="bandwidth bound (ours, 1 thread)",
    )
    every = [e for e in trotter_sizes if "ours_all_cores" in e["variants"]]
    if every:
        for key, style, label in (
            ("seconds_per_step", "^-", "ours, all cores"),
            ("bandwidth_bound_seconds_per_step", "k:", "bandwidth bound (all cores)"),
        ):
            ax_trotter.semilogy(
                [e["n"] for e in every],
                [e["variants"]["ours_all_cores"][key] for e in every],
                style,
                label=label,
            )
    ax_trotter.set(xlabel="N", ylabel="seconds per step", title="Strang step, Aer statevector")
    ax_trotter.legend(fontsize=7)

    backend_sizes = results["backends"]["sizes"]
    names = list(backend_sizes[0]["seconds"])
    width = 0.8 / len(backend_sizes)
    for k, entry in enumerate(backend_sizes):
        ax_backends.bar(
            np.arange(len(names)) + k * width,
            [min(entry["seconds"][name]) for name in names],
            width,
            label=f"N = {entry['n']}",
        )
    ax_backends.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax_backends.set_yscale("log")
    ax_backends.set(ylabel="seconds", title="FID trace per backend")
    ax_backends.legend(fontsize=7)

    mps = results["mps"]["sizes"]
    ax_mps.plot([e["n"] for e in mps], [min(e["seconds"]) for e in mps], "o-")
    ax_mps.set(xlabel="N", ylabel="seconds", title=f"MPS FID at t = {results['mps']['total_time']}")
    twin = ax_mps.twinx()
    twin.plot([e["n"] for e in mps], [e["max_bond_dimension"] for e in mps], "s--", color="C1")
    twin.set_ylabel("max bond dimension", color="C1")

    stages = results["study"]["stage_seconds"]
    ax_study.barh(list(stages), list(stages.values()))
    study = results["study"]
    ax_study.set(
        xlabel="seconds", title=f"study: {study['units']} units, {study['seconds_total']:.0f} s"
    )
    ax_study.tick_params(axis="y", labelsize=7)

    headlines = record["headlines"]
    values = [h["value"] for h in headlines]
    colours = ["C2" if h["met"] else ("C3" if h["met"] is False else "C7") for h in headlines]
    positions = np.arange(len(headlines))
    ax_headlines.barh(positions, values, color=colours)
    for y, h in zip(positions, headlines, strict=True):
        if h["target"] is not None:
            ax_headlines.plot([h["target"]] * 2, [y - 0.4, y + 0.4], "k-", lw=2)
    ax_headlines.set_yticks(positions, [h["name"] for h in headlines], fontsize=6)
    ax_headlines.set_xscale("log")
    ax_headlines.set(xlabel="ratio (black: target; green met, red missed)", title="headline ratios")

    fig.suptitle(f"echo-lab bench ({'quick' if record['quick'] else 'full'}), {record['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
