"""The model, time grid and circuit plumbing every benchmark shares.

Random-field XXZ chain (docs/pages/conventions.md section 2, Pauli units), W = 8, J = Jz = 1, fields
seeded with :data:`SEED` unless a benchmark says otherwise; Trotter circuits with dt = 0.05, order
2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.physics import models

__all__ = [
    "DT",
    "JZ",
    "ORDER",
    "SEED",
    "J",
    "W",
    "benchmark_hamiltonian",
    "check_aer_devices",
    "fid_times",
    "model_record",
    "prepared",
    "probe_x",
    "run_aer",
    "step_counts",
]

#: The model of every benchmark: random-field XXZ chain, Pauli units.
W, J, JZ, SEED = 8.0, 1.0, 1.0, 1

#: Trotter step and order of the circuit benchmarks.
DT, ORDER = 0.05, 2


def benchmark_hamiltonian(n: int, *, seed: int | np.random.SeedSequence = SEED) -> SparsePauliOp:
    """H of the benchmark chain of ``n`` sites (W, J, Jz above; fields from ``seed``)."""
    return models.RandomFieldXXZ(n=n, W=W, J=J, Jz=JZ, seed=seed).hamiltonian()


def model_record(**extra: Any) -> dict[str, Any]:
    """The model parameters as stored in every benchmark record, plus ``extra``."""
    return {"W": W, "J": J, "Jz": JZ, "seed": SEED, **extra}


def probe_x(n: int) -> SparsePauliOp:
    """sigma^x of the middle site n // 2."""
    return SparsePauliOp.from_sparse_list([("X", [n // 2], 1.0)], n)


def fid_times(t_max: float = 10.0, points: int = 20) -> np.ndarray:
    """Log-spaced total times from DT to ``t_max``, snapped to multiples of DT (unique)."""
    return np.unique(np.round(np.geomspace(DT, t_max, points) / DT) * DT)


def prepared(body: QuantumCircuit) -> QuantumCircuit:
    """``body`` after the benchmarks' product state ``ry(0.3 + 0.1 q)`` on every qubit q."""
    n = body.num_qubits
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(0.3 + 0.1 * q, q)
    return qc.compose(body)  # keeps body's global phase


def step_counts(n: int) -> tuple[int, int]:
    """(k_low, k_high) of the per-step timing at ``n``: fewer steps where a step takes seconds."""
    if n >= 24:
        return 1, 2
    if n >= 22:
        return 1, 3
    return 2, 6


def run_aer(simulator: Any, qc: QuantumCircuit | list[QuantumCircuit], **options: Any) -> Any:
    """One Aer run of ``qc`` (one shot, ``options`` passed on); its ``Result``.

    RuntimeError with Aer's status when the run did not succeed.
    """
    result = simulator.run(qc, shots=1, **options).result()
    if not result.success:
        raise RuntimeError(f"Aer failed: {result.status}")
    return result


def check_aer_devices(devices: Sequence[str]) -> list[str]:
    """Aer's devices; ConfigError for an entry of ``devices`` that is not "CPU"/"GPU" or that Aer
    does not see (with the install hint of the GPU build)."""
    from qiskit_aer import AerSimulator

    from echo_lab.backends.aer import GPU_INSTALL_HINT

    available = list(AerSimulator().available_devices())
    for device in devices:
        if device not in ("CPU", "GPU"):
            raise ConfigError(f"devices must be 'CPU' and/or 'GPU', got {device!r}")
        if device not in available:
            hint = GPU_INSTALL_HINT if device == "GPU" else "Aer reports no CPU device"
            raise ConfigError(f"Aer sees no {device} (devices: {available}): {hint}")
    return available
