"""What a backend reads out: operators, and Paulis measured after a local circuit.

:data:`Operator` is every form an observable may take: a ``SparsePauliOp``, a dense
``2^n x 2^n`` array in Qiskit order, a ``scipy.sparse.linalg.LinearOperator`` of that shape (an
exact l-bit applied block by block) or a :class:`RotatedPauli`, the observable R^dag P R that a
device measures by playing the circuit R and then measuring the Pauli P on one qubit (how circuit
and window l-bits are read out). :func:`evaluate_observable` evaluates any of them on state
vectors; circuit backends play a :class:`RotatedPauli` as its circuit instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator as QiskitOperator
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import LinearOperator

from echo_lab.errors import ConfigError
from echo_lab.physics.linalg import PAULI_MATRICES, apply_local, expectations

__all__ = ["Operator", "RotatedPauli", "evaluate_observable"]


@dataclass(frozen=True, eq=False)
class RotatedPauli:
    """The observable R^dag P_site R: the Pauli ``pauli`` on ``site``, read out after ``readout``.

    ``readout`` is a circuit R on ``len(qubits)`` qubits, its qubit k being chain qubit
    ``qubits[k]``; ``site`` is one of ``qubits``. <psi|R^dag P R|psi> is what a device measures
    by applying R and then measuring P on ``site``. Circuit l-bits give tau^a_p this way (R = U^dag
    on p's light cone). Dense form: :attr:`local_matrix`, a ``2^k x 2^k`` block on ``qubits``.
    """

    readout: QuantumCircuit
    qubits: tuple[int, ...]
    pauli: str
    site: int

    def __post_init__(self) -> None:
        if self.pauli not in PAULI_MATRICES:
            raise ConfigError(f"a rotated Pauli needs pauli 'X', 'Y' or 'Z', got {self.pauli!r}")
        qubits = tuple(int(q) for q in self.qubits)
        if len(set(qubits)) != len(qubits) or self.site not in qubits:
            raise ConfigError(
                f"rotated Pauli: qubits {qubits} must be distinct and contain the site {self.site}"
            )
        if self.readout.num_qubits != len(qubits):
            raise ConfigError(
                f"the readout circuit has {self.readout.num_qubits} qubits, not {len(qubits)}"
            )
        object.__setattr__(self, "qubits", qubits)

    @functools.cached_property
    def local_matrix(self) -> np.ndarray:
        """R^dag P R as a dense ``(2^k, 2^k)`` block on :attr:`qubits` (qubits[0] least
        significant); built once, O(gates 4^k)."""
        rotation = QiskitOperator(self.readout).data
        pauli = PAULI_MATRICES[self.pauli]
        measured = apply_local(pauli, (self.qubits.index(self.site),), rotation, len(self.qubits))
        return rotation.conj().T @ measured

    def pauli_operator(self, n: int) -> SparsePauliOp:
        """P_site on ``n`` qubits: what is measured after the readout circuit."""
        return SparsePauliOp.from_sparse_list([(self.pauli, [self.site], 1.0)], n)


Operator: TypeAlias = SparsePauliOp | np.ndarray | LinearOperator | RotatedPauli


def evaluate_observable(op: Operator, states: np.ndarray, n: int) -> np.ndarray:
    """Real <psi_k|op|psi_k> for the columns of ``states`` (shape ``(2^n, K)`` or ``(2^n,)``).

    A :class:`RotatedPauli` is applied as its dense light-cone block (``linalg.apply_local``,
    O(2^n 4^k) per state); other operators go through :func:`echo_lab.physics.linalg.expectations`.
    """
    if not isinstance(op, RotatedPauli):
        return expectations(op, states)
    if max(op.qubits) >= n:
        raise ConfigError(f"observable on qubits {op.qubits} does not fit a {n}-qubit state")
    applied = apply_local(op.local_matrix, op.qubits, states, n)
    values = np.real(np.sum(states.conj() * applied, axis=0))
    return np.asarray(values)
