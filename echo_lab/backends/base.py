"""The one interface every simulator backend implements.

A backend evaluates a :class:`~echo_lab.dynamics.schedule.PulseSequence` at an array of total times,
starting from a :class:`~echo_lab.physics.states.ProductState`, and returns expectation values::

    result = backend.run(H, sequence, state, times, observables={"sx": op, ...}, entropy=True)
    result["sx"]       # float array, shape (len(times),)
    result["entropy"]  # half-chain von Neumann entropy of sites 0..n//2-1 (natural log)

``observables`` maps names to operators: a ``SparsePauliOp``, a dense ``2^n x 2^n`` array in
Qiskit order, a ``scipy.sparse.linalg.LinearOperator`` of that shape (exact and Krylov
backends; an l-bit operator applied block by block, ``LBitSystem.tau_operator``), or a
:class:`RotatedPauli` (a Pauli read out after a local circuit, as the circuit l-bits'
tau^x_p = U X_p U^dag is: apply U^dag on p's light cone, then measure X_p). Circuit backends play
the readout circuit; exact backends use its dense light-cone block (:func:`evaluate_observable`).
Backends that sample (shots) also return ``name + "_stderr"``. Backends that truncate a matrix
product state and track it (``quimb``, :mod:`echo_lab.backends.quimb_mps`) also return its
truncation budget per time: ``"mps_discarded_weight"`` (the sum over all truncations behind the
value of the discarded squared singular values, relative to the state's squared norm) and
``"mps_max_bond"`` (the largest bond dimension reached). Exact backends check the norm of
every final state and raise :class:`~echo_lab.errors.NumericalError` on a drift above
``NORM_TOLERANCE`` or on NaN.

Backends that truncate a matrix product state also report, per total time, how much they
truncated (:data:`TRUNCATION_REPORTS`, never an observable name): ``"mps_max_bond"``, the largest
bond dimension of the state up to that time's readout, and ``"mps_discarded_weight"``, the
squared Schmidt weight discarded by every truncation of that run up to that time (summed). A
backend leaves out a key it cannot measure (Aer reports only ``"mps_max_bond"``:
:mod:`echo_lab.backends.aer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.dynamics.readouts import Operator, RotatedPauli, evaluate_observable
from echo_lab.dynamics.schedule import Pulse, PulseSequence
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.physics.linalg import apply_local, entropy_of_weights

__all__ = [
    "MPS_DISCARDED_WEIGHT",
    "MPS_MAX_BOND",
    "NORM_TOLERANCE",
    "TRUNCATION_REPORTS",
    "Backend",
    "Operator",
    "RotatedPauli",
    "apply_pulse",
    "check_health",
    "check_inputs",
    "check_times",
    "evaluate_observable",
    "half_chain_entropy",
    "run_sequences",
]
from echo_lab.physics.states import ProductState

NORM_TOLERANCE = 1e-8

#: Result key of an MPS backend: largest bond dimension reached, per total time.
MPS_MAX_BOND = "mps_max_bond"
#: Result key of an MPS backend: discarded squared Schmidt weight so far (summed), per time.
MPS_DISCARDED_WEIGHT = "mps_discarded_weight"
#: The result keys that report truncation rather than an observable (module docstring).
TRUNCATION_REPORTS = (MPS_MAX_BOND, MPS_DISCARDED_WEIGHT)


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


def run_sequences(
    backend: Backend,
    hamiltonian: SparsePauliOp,
    sequences: Sequence[PulseSequence],
    state: ProductState,
    times: np.ndarray,
    *,
    observables: Mapping[str, Operator],
    entropy: bool = False,
) -> list[dict[str, np.ndarray]]:
    """``backend.run`` of every sequence in ``sequences`` from the same state, in order.

    A backend may do this with less work through a method of the same name and signature (less
    ``backend``): the quimb backend evolves the free segment that sequences start with once for
    all of them (the first half of a unit's p-bit and l-bit echoes). Its results must equal
    separate runs up to where truncations happen. Other backends run one sequence at a time.
    """
    own = getattr(backend, "run_sequences", None)
    if own is not None:
        return list(
            own(hamiltonian, sequences, state, times, observables=observables, entropy=entropy)
        )
    return [
        backend.run(hamiltonian, sequence, state, times, observables=observables, entropy=entropy)
        for sequence in sequences
    ]


def check_times(times: np.ndarray) -> np.ndarray:
    """Validate a time grid: 1-D, finite, >= 0, non-empty."""

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

    n = hamiltonian.num_qubits
    if state.n != n:
        raise ConfigError(f"initial state has {state.n} sites, the Hamiltonian {n}")
    return check_times(times), n


def apply_pulse(pulse: Pulse, states: np.ndarray, n: int) -> np.ndarray:
    """``pulse`` applied to ``states`` of shape ``(2^n,)`` or ``(2^n, K)``; same shape.

    Uses the pulse's ``action`` when it has one (exact l-bit pulses on many qubits), otherwise
    its matrix on its qubits (:func:`echo_lab.physics.linalg.apply_local`, O(2^n 4^k) per state).
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
