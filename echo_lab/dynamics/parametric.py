"""Trotter circuits with the Z fields and the time step as circuit parameters, and the one place
Trotter terms become Qiskit rotation gates.

:func:`parameterized_circuit` builds one circuit per (model without fields, step count, order);
:func:`bind_fields` binds the fields of one disorder realization and dt, so one transpiled
circuit (:func:`echo_lab.dynamics.trotter.transpile_to_basis` keeps parameters) serves every
realization (``AerBackend.run_realizations``, the ``binding`` benchmark). The split is
:func:`echo_lab.dynamics.trotter.split_layers` with ``fold_fields=False``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.quantum_info import SparsePauliOp

from echo_lab.dynamics.trotter import (
    Layer,
    PauliTermEvolutionGate,
    check_finite,
    check_hamiltonian,
    check_order,
    check_steps,
    split_layers,
    step_schedule,
)
from echo_lab.errors import ConfigError
from echo_lab.physics.models import HamiltonianModel

__all__ = ["ROTATION_GATES", "append_rotation", "bind_fields", "parameterized_circuit"]


#: Qiskit rotation gate of each one- and two-qubit Pauli string: exp(-i angle/2 P).
ROTATION_GATES = {"X": "rx", "Y": "ry", "Z": "rz", "XX": "rxx", "YY": "ryy", "ZZ": "rzz"}


def append_rotation(
    qc: QuantumCircuit,
    label: str,
    qubits: Sequence[int],
    angle: float | ParameterExpression,
) -> None:
    """Append exp(-i angle/2 P) for the Pauli string ``label`` on ``qubits`` (``label[k]`` acts
    on ``qubits[k]``): the rotation gate of :data:`ROTATION_GATES` when there is one, else a
    :class:`PauliTermEvolutionGate`. The one place Trotter terms become rotation gates."""
    if label in ROTATION_GATES:
        getattr(qc, ROTATION_GATES[label])(angle, *qubits)
        return
    term = SparsePauliOp.from_sparse_list([(label, range(len(qubits)), 1.0)], len(qubits))
    qc.append(PauliTermEvolutionGate(term, time=angle / 2), list(qubits))


def parameterized_circuit(
    hamiltonian: SparsePauliOp | HamiltonianModel,
    *,
    steps: int,
    order: int = 2,
) -> tuple[QuantumCircuit, ParameterVector, Parameter]:
    """Trotter circuit with the Z fields h_i and the step dt as circuit parameters.

    Returns ``(qc, fields, dt)``: ``fields`` has one parameter per qubit. The one-qubit Z terms of
    H are ignored (they are the parameters); every other term is kept with its value. The split is
    :func:`split_layers` with ``fold_fields=False``: a field layer of ``rz(2 h_i tau)``, then the
    bond layers (``rxx``/``ryy``/``rzz`` for XX/YY/ZZ, ``PauliEvolutionGate`` for other two-qubit
    strings), then the many-body layers. Binding (:func:`bind_fields`) gives the same unitary as
    ``circuit(H_h, time=steps * dt, steps=steps, order=order, fold_fields=False)`` for the H with
    those fields, so one transpiled circuit serves every disorder realization.
    ConfigError if a qubit has a one-qubit term other than Z or the terms on a pair do not commute.
    """
    h = hamiltonian.hamiltonian() if isinstance(hamiltonian, HamiltonianModel) else hamiltonian
    h = check_hamiltonian(h)
    check_steps(steps)
    check_order(order)
    n = h.num_qubits
    kept = []
    for label, support, coeff in h.to_sparse_list():
        ops = [c for c in label if c != "I"]
        if len(ops) == 1 and ops[0] != "Z":
            raise ConfigError(
                f"parameterized_circuit takes only Z fields as one-qubit terms, found {ops[0]} on "
                f"qubit {support[label.index(ops[0])]}; build one circuit() per realization instead"
            )
        if len(ops) != 1:
            kept.append((label, support, coeff))
    rest = SparsePauliOp.from_sparse_list(kept, n) if kept else SparsePauliOp("I" * n, [0.0])
    split = split_layers(rest, fold_fields=False)
    for layer in split.layers:
        for block in layer.blocks:
            paulis = block.operator.paulis
            if not all(a.commutes(b) for a in paulis for b in paulis):
                raise ConfigError(
                    f"the two-qubit terms on qubits {block.qubits} do not commute; "
                    "parameterized_circuit needs commuting terms on every pair (as XX, YY, ZZ)"
                )
    fields = ParameterVector("h", n)
    dt = Parameter("dt")
    qc = QuantumCircuit(n, name=f"trotter{order}_param")
    # Layer 0 of the schedule is the field layer; layer k >= 1 is split.layers[k - 1].
    for index, fraction in step_schedule(1 + len(split.layers), steps=steps, order=order):
        tau = fraction * dt
        if index == 0:
            for q in range(n):
                append_rotation(qc, "Z", [q], 2 * fields[q] * tau)
        else:
            _append_parameterized_layer(qc, split.layers[index - 1], tau)
    qc.global_phase = -split.constant * steps * dt
    return qc, fields, dt


def _append_parameterized_layer(qc: QuantumCircuit, layer: Layer, tau: ParameterExpression) -> None:
    for block in layer.blocks:
        for label, local, coeff in block.operator.to_sparse_list():
            qubits = [block.qubits[k] for k in local]
            append_rotation(qc, label, qubits, 2 * float(np.real(coeff)) * tau)


def bind_fields(
    qc: QuantumCircuit,
    fields_param: ParameterVector,
    dt_param: Parameter,
    *,
    fields: Sequence[float] | np.ndarray,
    dt: float,
) -> QuantumCircuit:
    """A copy of ``qc`` (from :func:`parameterized_circuit`, maybe transpiled) with values bound."""
    values = np.asarray(fields, dtype=float)
    if values.shape != (len(fields_param),):
        raise ConfigError(
            f"fields must have {len(fields_param)} values (one per qubit), got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ConfigError("fields must be finite")
    dt = check_finite(dt, "dt")
    bindings: dict[Parameter, float] = {dt_param: dt}
    bindings.update({p: float(v) for p, v in zip(fields_param, values, strict=True)})
    present = {p: v for p, v in bindings.items() if p in qc.parameters}
    return qc.assign_parameters(present, inplace=False)
