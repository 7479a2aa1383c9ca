"""The gate-by-gate Trotter circuits the benchmarks compare ours against.

"Gate by gate" is the circuit most users write for an XXZ chain: ``rz`` per field and
``rxx`` + ``ryy`` + ``rzz`` per bond, in the layer order of
``trotter.split_layers(H, fold_fields=False)`` (fields, even bonds, odd bonds). With ``order=1``
it is the plain first-order (Lie) circuit; with ``order=2`` the Strang circuit the older
headline used (about 1.5x the gates of a Lie step). Either way it has exactly the unitary of
``trotter.circuit(H, time=steps * dt, steps=steps, order=order, fold_fields=False)``, global
phase included.

:func:`rotation_sequence` is the one description of those gates; the Qiskit circuit
(:func:`gate_by_gate_circuit`) and the peer simulators' circuits (:mod:`echo_lab.bench.peers`)
are built from it, so every simulator runs the same gates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from echo_lab.dynamics import parametric, trotter
from echo_lab.errors import ConfigError

__all__ = ["Rotation", "RotationSequence", "gate_by_gate_circuit", "rotation_sequence"]


@dataclass(frozen=True)
class Rotation:
    """exp(-i angle / 2 P), P the Pauli string ``label`` (``label[k]`` acts on ``qubits[k]``)."""

    label: str
    qubits: tuple[int, ...]
    angle: float


@dataclass(frozen=True)
class RotationSequence:
    """Rotations in time order on ``num_qubits`` qubits, times exp(i ``global_phase``)."""

    num_qubits: int
    rotations: tuple[Rotation, ...]
    global_phase: float


def _check_rotation_blocks(split: trotter.TrotterSplit) -> None:
    for layer in split.layers:
        for block in layer.blocks:
            paulis = block.operator.paulis
            labels = [label for label, _, _ in block.operator.to_sparse_list()]
            if any(label not in parametric.ROTATION_GATES for label in labels) or not all(
                a.commutes(b) for a in paulis for b in paulis
            ):
                raise ConfigError(
                    f"the gate-by-gate circuit needs commuting X/Y/Z fields and XX/YY/ZZ bonds; "
                    f"qubits {block.qubits} carry terms {labels}"
                )


def rotation_sequence(
    hamiltonian: SparsePauliOp, *, dt: float, steps: int, order: int = 2
) -> RotationSequence:
    """The gate-by-gate product formula of H (module docstring) as a list of rotations.

    ``order`` is 1 (Lie) or 2 (Strang). Every term of H must be a one-qubit X, Y, Z or a
    two-qubit XX, YY, ZZ, and the terms of one block must commute (ConfigError otherwise, e.g.
    for a transverse field g X next to a field h Z). Sparse Pauli labels are Qiskit's
    (``label[k]`` acts on ``qubits[k]``).
    """
    if order not in (1, 2):
        raise ConfigError(f"the gate-by-gate circuit has order 1 or 2, got {order!r}")
    split = trotter.split_layers(hamiltonian, fold_fields=False)
    _check_rotation_blocks(split)
    rotations = []
    for index, fraction in trotter.step_schedule(len(split.layers), steps=steps, order=order):
        tau = fraction * dt
        for block in split.layers[index].blocks:
            for label, local, coeff in block.operator.to_sparse_list():
                qubits = tuple(block.qubits[k] for k in local)
                rotations.append(Rotation(label, qubits, 2.0 * float(np.real(coeff)) * tau))
    return RotationSequence(split.num_qubits, tuple(rotations), -split.constant * dt * steps)


def gate_by_gate_circuit(
    hamiltonian: SparsePauliOp, *, dt: float, steps: int, order: int = 2
) -> QuantumCircuit:
    """:func:`rotation_sequence` as a Qiskit circuit of ``rz``/``rxx``/``ryy``/``rzz`` gates.

    Its unitary equals ``trotter.circuit(H, time=steps * dt, steps=steps, order=order,
    fold_fields=False)`` exactly (global phase included); ``order=1`` is the plain first-order
    circuit, ``order=2`` the Strang one.
    """
    sequence = rotation_sequence(hamiltonian, dt=dt, steps=steps, order=order)
    name = "gate_by_gate_lie" if order == 1 else "gate_by_gate_strang"
    qc = QuantumCircuit(sequence.num_qubits, name=name, global_phase=sequence.global_phase)
    for rotation in sequence.rotations:
        parametric.append_rotation(qc, rotation.label, rotation.qubits, rotation.angle)
    return qc
