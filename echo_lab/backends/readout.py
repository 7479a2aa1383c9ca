"""Observables as circuit simulators read them: Pauli sums, rotated Paulis, and estimates from
measured counts. Engine-neutral (no Aer import): the Aer, estimator and device backends share it.

In shots mode every non-identity Pauli string of the observables is measured in qubit-wise
commuting groups (:func:`measurement_groups`), one circuit per group with the basis changes of
:func:`measure_in_basis`; :func:`estimate_from_counts` returns the sample means and their
standard errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import Operator, RotatedPauli
from echo_lab.errors import ConfigError

__all__ = [
    "Measured",
    "estimate_from_counts",
    "measure_in_basis",
    "measured_observables",
    "measurement_groups",
    "pauli_sums",
    "to_pauli_sum",
]

_BASIS_CHANGE = {"X": ("h",), "Y": ("sdg", "h")}


def to_pauli_sum(op: Operator, n: int, *, name: str) -> SparsePauliOp:
    """``op`` as an ``n``-qubit ``SparsePauliOp`` (dense arrays are expanded exactly, O(n 4^n))."""
    if isinstance(op, SparsePauliOp):
        pauli = op
    else:
        matrix = np.asarray(op)
        if matrix.shape != (2**n, 2**n):
            raise ConfigError(
                f"observable {name!r} has shape {matrix.shape}; a {n}-qubit operator needs "
                f"({2**n}, {2**n})"
            )
        pauli = SparsePauliOp.from_operator(matrix, atol=0.0, rtol=0.0)
    if pauli.num_qubits != n:
        raise ConfigError(
            f"observable {name!r} acts on {pauli.num_qubits} qubits, the chain on {n}"
        )
    return pauli


#: An observable as Aer saves it: a Pauli sum, or a Pauli read out after a readout circuit.
Measured: TypeAlias = SparsePauliOp | RotatedPauli


def measured_observables(
    observables: Mapping[str, Operator], n: int, *, shots: int | None
) -> dict[str, Measured]:
    """Observables as Aer saves them: :class:`RotatedPauli` kept, the rest as Pauli sums.

    A rotated Pauli is read out as a device would: its readout circuit is applied after the plain
    observables are saved, its Pauli is saved, and the inverse circuit restores the state. Not
    with ``shots`` (sample it through the estimator backend instead).
    """
    out: dict[str, Measured] = {}
    for name, op in observables.items():
        if not isinstance(op, RotatedPauli):
            out[name] = to_pauli_sum(op, n, name=name)
            continue
        if shots is not None:
            raise ConfigError(
                f"observable {name!r} is read out after a circuit; the sampled Aer backend does "
                "not take such observables: use shots=None, or the estimator backend with a "
                "precision"
            )
        if max(op.qubits) >= n:
            raise ConfigError(f"observable {name!r} acts on qubits {op.qubits}, the chain on {n}")
        out[name] = op
    return out


def pauli_sums(paulis: Mapping[str, Measured]) -> dict[str, SparsePauliOp]:
    """The Pauli sums among the observables (sampling mode has no rotated ones)."""
    return {name: op for name, op in paulis.items() if isinstance(op, SparsePauliOp)}


def measurement_groups(paulis: Mapping[str, SparsePauliOp]) -> list[SparsePauliOp]:
    """Qubit-wise commuting groups of all non-identity Pauli strings of the observables."""
    labels = sorted(
        {label for op in paulis.values() for label in op.paulis.to_labels() if set(label) != {"I"}}
    )
    if not labels:
        return []
    return SparsePauliOp(labels).group_commuting(qubit_wise=True)


def measure_in_basis(qc: QuantumCircuit, group: SparsePauliOp) -> QuantumCircuit:
    """Copy of ``qc`` measuring every qubit in the basis that diagonalizes ``group``."""
    n = qc.num_qubits
    basis = ["Z"] * n
    for label in group.paulis.to_labels():
        for q, c in enumerate(reversed(label)):
            if c != "I":
                basis[q] = c
    out = qc.copy()
    for q, c in enumerate(basis):
        for gate in _BASIS_CHANGE.get(c, ()):
            getattr(out, gate)(q)
    out.measure_all()
    return out


def estimate_from_counts(
    experiments: Sequence[Any],
    where: list[tuple[int, str]],
    paulis: Mapping[str, SparsePauliOp],
    n: int,
) -> dict[str, np.ndarray]:
    """Sample means and standard errors of the observables from measured groups (shots mode)."""
    groups = measurement_groups(paulis)
    means = {name: np.zeros(len(where)) for name in paulis}
    variances = {name: np.zeros(len(where)) for name in paulis}
    for j, (first, _) in enumerate(where):
        for g, group in enumerate(groups):
            counts = experiments[first + g].data.to_dict()["counts"]
            outcomes = np.array([int(key, 16) for key in counts], dtype=object)
            shots = np.array(list(counts.values()), dtype=float)
            bits = np.array([[(int(o) >> q) & 1 for q in range(n)] for o in outcomes])
            total = shots.sum()
            members = set(group.paulis.to_labels())
            for name, op in paulis.items():
                values = np.zeros(len(outcomes))
                for label, coeff in zip(op.paulis.to_labels(), op.coeffs, strict=True):
                    if label not in members:
                        continue
                    support = [q for q, c in enumerate(reversed(label)) if c != "I"]
                    parity = bits[:, support].sum(axis=1) % 2
                    values += float(np.real(coeff)) * (1 - 2 * parity)
                mean = float(np.sum(shots * values) / total)
                spread = float(np.sum(shots * (values - mean) ** 2) / max(total - 1, 1))
                means[name][j] += mean
                variances[name][j] += spread / total
    out: dict[str, np.ndarray] = {}
    for name, op in paulis.items():
        identity = sum(
            float(np.real(c))
            for label, c in zip(op.paulis.to_labels(), op.coeffs, strict=True)
            if set(label) == {"I"}
        )
        out[name] = means[name] + identity
        out[name + "_stderr"] = np.sqrt(variances[name])
    return out
