"""The echo figure of merit of circuit l-bits against exact evolution (n <= 14).

docs/pages/conventions.md section 9: start in the l-bit product state U|b> with the probe in |+> (so
that <tau^x_p> = 1), run the Hahn echo of total time T with the circuit pulse tau^x_p and read out
<tau^x_p>; the **kept fraction** is that value (its start is exactly 1), averaged over random
bitstrings b of the other sites. The references use the same bitstrings:

* bare p-bit (U = 1): start |b, +>, pulse X_p, read sigma^x_p;
* exact l-bits (``lbits.construct``), whole (keeps 1 for every T) or truncated to radius r
  (``lbit:r``): start U_exact |b, +>, pulse tau^x_p or its truncation, read the exact tau^x_p.

Evolution is exact through the eigensystem (E, V) of H: psi(T) = V e^{-iET/2} V^dag P V
e^{-iET/2} V^dag psi0, for all times and bitstrings at once; pulses and readouts act as dense
blocks on their qubits (``linalg.apply_local``). Cost O(4^n (times x bitstrings)) per echo;
memory a few ``(2^n, times x bitstrings)`` arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.system import CircuitLBitSystem
from echo_lab.lbits.exact import LBitSystem
from echo_lab.physics.linalg import apply_local

__all__ = [
    "encode_states",
    "hahn_signal",
    "pbit_observable",
    "probe_product_states",
    "random_bitstrings",
    "tau_z_agreement",
]

_X = np.array([[0, 1], [1, 0]], dtype=complex)


def random_bitstrings(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random configurations of n bits, shape ``(count, n)``, int64 0/1."""
    return rng.integers(0, 2, size=(count, n))


def probe_product_states(n: int, probe: int, bitstrings: np.ndarray) -> np.ndarray:
    """Columns |b> with the probe bit replaced by |+>, shape ``(2^n, B)`` (Qiskit order)."""
    bits = np.asarray(bitstrings, dtype=np.int64).reshape(-1, n)
    if not 0 <= probe < n:
        raise ConfigError(f"probe {probe} is outside 0..{n - 1}")
    states = np.zeros((1 << n, bits.shape[0]), dtype=complex)
    weights = 1 << np.arange(n)
    for k, b in enumerate(bits):
        index = int((b * weights).sum()) & ~(1 << probe)
        states[index, k] = states[index | (1 << probe), k] = np.sqrt(0.5)
    return states


def encode_states(system: CircuitLBitSystem, states: np.ndarray) -> np.ndarray:
    """U applied to the columns of ``states`` (shape ``(2^n, B)``), gate by gate."""
    out = states
    for slot, gate in zip(system.layout.slots, system.gates, strict=True):
        out = apply_local(gate, slot.sites, out, system.n)
    return out


def hahn_signal(
    energies: np.ndarray,
    vectors: np.ndarray,
    states: np.ndarray,
    pulse: Pulse,
    observable: tuple[np.ndarray, Sequence[int]],
    times: Sequence[float],
) -> np.ndarray:
    """<O> after a Hahn echo of total time T (pulse at T/2), shape ``(len(times), B)``.

    ``energies``, ``vectors``: eigensystem of H (``V diag(E) V^dag == H``); ``states``: initial
    states ``(2^n, B)``; ``observable``: a dense block and the qubits it acts on.
    """
    n = vectors.shape[0].bit_length() - 1
    grid = np.asarray(times, dtype=float)
    count = states.shape[1]
    coefficients = vectors.conj().T @ states
    half = np.exp(-0.5j * np.outer(energies, grid))
    evolved = (coefficients[:, None, :] * half[:, :, None]).reshape(len(energies), -1)
    middle = apply_local(pulse.dense_matrix(), pulse.qubits, vectors @ evolved, n)
    back = (vectors.conj().T @ middle).reshape(len(energies), grid.size, count)
    final = vectors @ (back * half[:, :, None]).reshape(len(energies), -1)
    matrix, qubits = observable
    measured = apply_local(np.asarray(matrix), list(qubits), final, n)
    return np.real(np.sum(final.conj() * measured, axis=0)).reshape(grid.size, count)


def tau_z_agreement(system: CircuitLBitSystem, exact: LBitSystem) -> np.ndarray:
    """|Tr(tau^z_i,circuit tau^z_i,exact)| / 2^n for every site i; shape ``(n,)``.

    1 when the circuit's tau^z_i equals the exact one; the absolute value removes the sign of an
    l-bit labelled the other way round. O(n 4^n) time, two dense matrices.
    """
    if exact.n != system.n:
        raise ConfigError(f"the exact l-bits have {exact.n} sites, the circuit ones {system.n}")
    dim = 1 << system.n
    return np.array(
        [abs(np.sum(system.tau_dense("z", i) * exact.tau("z", i).T)) / dim for i in range(system.n)]
    )


def pbit_observable(probe: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """sigma^x_p as a one-qubit block: the bare p-bit readout."""
    return _X, (int(probe),)
