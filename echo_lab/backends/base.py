"""The one interface every simulator backend implements.

A backend evaluates a :class:`~echo_lab.schedule.PulseSequence` at an array of total times,
starting from a :class:`~echo_lab.states.ProductState`, and returns expectation values::

    result = backend.run(H, sequence, state, times, observables={"sx": op, ...}, entropy=True)
    result["sx"]       # float array, shape (len(times),)
    result["entropy"]  # half-chain von Neumann entropy of sites 0..n//2-1 (natural log)

``observables`` maps names to operators: a ``SparsePauliOp``, a dense ``2^n x 2^n`` array in
Qiskit order, a ``scipy.sparse.linalg.LinearOperator`` of that shape (exact and Krylov
backends; an l-bit operator applied block by block, ``LBitSystem.tau_operator``), or a
:class:`RotatedPauli` (a Pauli read out after a local circuit, as the circuit l-bits'
tau^x_p = U X_p U^dag is: apply U^dag on p's light cone, then measure X_p). Circuit backends play
the readout circuit; exact backends use its dense light-cone block (:func:`evaluate_observable`).
Backends that sample (shots) also return ``name + "_stderr"``. Exact backends check the norm of
every final state and raise :class:`~echo_lab.errors.NumericalError` on a drift above
``NORM_TOLERANCE`` or on NaN.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator as QiskitOperator
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import LinearOperator

from echo_lab.errors import ConfigError, NumericalError
from echo_lab.linalg import PAULI_MATRICES, apply_local, entropy_of_weights, expectations
from echo_lab.schedule import Pulse, PulseSequence
from echo_lab.states import ProductState


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
    O(2^n 4^k) per state); other operators go through :func:`echo_lab.linalg.expectations`.
    """
    if not isinstance(op, RotatedPauli):
        return expectations(op, states)
    if max(op.qubits) >= n:
        raise ConfigError(f"observable on qubits {op.qubits} does not fit a {n}-qubit state")
    applied = apply_local(op.local_matrix, op.qubits, states, n)
    values = np.real(np.sum(states.conj() * applied, axis=0))
    return np.asarray(values)


NORM_TOLERANCE = 1e-8


@runtime_checkable
class Backend(Protocol):
    """Evaluate a pulse sequence at many total times (see module docstring)."""

    name: str

    def run(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        *,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> dict[str, np.ndarray]: ...


def check_times(times: np.ndarray) -> np.ndarray:
    """Validate a time grid: 1-D, finite, >= 0, non-empty."""
    from echo_lab.errors import ConfigError

    arr = np.asarray(times, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError("the time grid must be a non-empty 1-D list of times")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError("times must be finite and >= 0")
    return arr


def check_inputs(
    hamiltonian: SparsePauliOp, state: ProductState, times: np.ndarray
) -> tuple[np.ndarray, int]:
    """Validate the inputs every backend's ``run`` takes; return the time grid and n.

    The time grid goes through :func:`check_times`; the initial state must have as many sites as
    the Hamiltonian has qubits.
    """
    from echo_lab.errors import ConfigError

    n = hamiltonian.num_qubits
    if state.n != n:
        raise ConfigError(f"initial state has {state.n} sites, the Hamiltonian {n}")
    return check_times(times), n


def apply_pulse(pulse: Pulse, states: np.ndarray, n: int) -> np.ndarray:
    """``pulse`` applied to ``states`` of shape ``(2^n,)`` or ``(2^n, K)``; same shape.

    Uses the pulse's ``action`` when it has one (exact l-bit pulses on many qubits), otherwise
    its matrix on its qubits (:func:`echo_lab.linalg.apply_local`, O(2^n 4^k) per state).
    """
    if pulse.action is not None:
        out = np.asarray(pulse.action(states))
        if out.shape != states.shape:
            raise NumericalError(
                f"the action of pulse {pulse.label!r} returned shape {out.shape} for states of "
                f"shape {states.shape}"
            )
        return out
    return apply_local(pulse.dense_matrix(), pulse.qubits, states, n)


def check_health(result: Mapping[str, np.ndarray], *, norms: np.ndarray | None = None) -> None:
    """Raise :class:`NumericalError` on NaN/inf values or a norm drift above NORM_TOLERANCE."""
    for key, values in result.items():
        if not np.all(np.isfinite(values)):
            raise NumericalError(f"result {key!r} contains NaN or infinite values")
    if norms is not None:
        drift = float(np.max(np.abs(np.asarray(norms) - 1.0), initial=0.0))
        if drift > NORM_TOLERANCE:
            raise NumericalError(
                f"state norm drifted by {drift:.2e} (> {NORM_TOLERANCE:g}); the evolution is not "
                "unitary: check that the Hamiltonian is Hermitian and the pulses are unitary"
            )


def half_chain_entropy(psi: np.ndarray, n: int, *, cut: int | None = None) -> np.ndarray:
    """Von Neumann entropy (natural log) of sites 0..cut-1 (default n // 2).

    ``psi`` has shape ``(2^n,)`` or ``(2^n, k)`` for k states; returns a float or shape ``(k,)``.
    With qubit 0 least significant, sites 0..cut-1 are the fast index: reshape to
    ``(2^(n-cut), 2^cut)`` and take singular values.
    """
    cut = n // 2 if cut is None else cut
    states = psi.reshape(2**n, -1)
    out = np.empty(states.shape[1])
    for k in range(states.shape[1]):
        s = np.linalg.svd(states[:, k].reshape(2 ** (n - cut), 2**cut), compute_uv=False)
        out[k] = entropy_of_weights(s**2)
    return out if psi.ndim > 1 else out[0]
