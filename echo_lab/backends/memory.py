"""Memory of the state a backend holds while it runs, bytes, without importing any simulator.

One function per built-in backend that holds a state of its own (the registry,
:mod:`echo_lab.backends.registry`, names them; the dense backends hold none beyond the 2^n x 2^n
matrices a study counts with its other dense steps). Each takes the parsed ``[backend]`` table
(:class:`~echo_lab.backends.options.BackendSpec`), the Hamiltonian it runs, the number of total
times ``n_times`` and of saved state vectors ``saved_states``. Cost: microseconds (krylov scans the
Pauli terms once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from echo_lab.resources import density_matrix_bytes, statevector_bytes

if TYPE_CHECKING:
    from qiskit.quantum_info import SparsePauliOp

    from echo_lab.backends.options import BackendSpec

__all__ = [
    "QUIMB_DEFAULT_MAX_BOND",
    "aer_memory_bytes",
    "aer_state_bytes",
    "estimator_state_bytes",
    "krylov_state_bytes",
    "qsim_state_bytes",
    "quimb_memory_bytes",
    "quimb_state_bytes",
]

#: The quimb backend's default bond dimension bound (:mod:`echo_lab.backends.quimb_mps`), here so
#: that its memory estimate needs no import of the backend: where Aer's MPS stops being the faster
#: engine (chi >= 64).
QUIMB_DEFAULT_MAX_BOND = 64


def aer_memory_bytes(
    n: int,
    *,
    method: str = "statevector",
    precision: str = "double",
    max_bond_dimension: int = 0,
    saved_states: int = 0,
) -> int:
    """Bytes an Aer simulation of ``n`` qubits needs: a density matrix 16 * 4^n, an MPS of bond
    dimension chi about 32 n chi^2 (0 when no bound is set), a statevector 16 * 2^n (8 in single
    precision); an MPS or statevector plus one copy per saved state."""
    if method == "density_matrix":
        return density_matrix_bytes(n)
    if method == "matrix_product_state":
        return 32 * n * max_bond_dimension**2 * (1 + saved_states)
    per_state = statevector_bytes(n) // (2 if precision == "single" else 1)
    return per_state * (1 + saved_states)


def krylov_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Its sector blocks and the work vectors of ``n_times`` times
    (:meth:`~echo_lab.backends.krylov.KrylovBackend.estimate_memory`)."""
    from echo_lab.backends.krylov import KrylovBackend

    return KrylovBackend().estimate_memory(hamiltonian, n_times=n_times)


def aer_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """:func:`aer_memory_bytes` of the table's method, precision and MPS bond dimension, with
    ``saved_states`` saved state vectors (e.g. for entropies); an MPS run without shots saves
    its state at each of the ``n_times`` times (the truncation report of
    :mod:`echo_lab.backends.aer`)."""
    mps = spec.option("mps_options", {})
    method = spec.method or "statevector"
    if method == "matrix_product_state" and spec.shots is None:
        saved_states = max(saved_states, n_times)
    return aer_memory_bytes(
        hamiltonian.num_qubits,
        method=method,
        precision=spec.option("precision", "double"),
        max_bond_dimension=int(mps.get("max_bond_dimension", 0)),
        saved_states=saved_states,
    )


def estimator_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Two state vectors."""
    return 2 * statevector_bytes(hamiltonian.num_qubits)


def qsim_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Its single-precision state and two double-precision copies."""
    n = hamiltonian.num_qubits
    return statevector_bytes(n) // 2 + 2 * statevector_bytes(n)


def quimb_memory_bytes(n: int, max_bond: int) -> int:
    """Bytes a quimb MPS run of ``n`` qubits with bond dimension ``max_bond`` = chi needs: two
    MPS of at most 16 n chi^2 bytes each (the state and a copy: the start of an echo or a readout
    copy) and the work arrays of one two-site SVD (a (2 chi) x (2 chi) matrix and its factors,
    about 4 x 16 (2 chi)^2 bytes)."""
    return 2 * 16 * n * max_bond**2 + 4 * 16 * (2 * max_bond) ** 2


def quimb_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """:func:`quimb_memory_bytes` of the table's ``options.max_bond`` (default
    :data:`QUIMB_DEFAULT_MAX_BOND`)."""
    return quimb_memory_bytes(
        hamiltonian.num_qubits, int(spec.option("max_bond", QUIMB_DEFAULT_MAX_BOND))
    )
