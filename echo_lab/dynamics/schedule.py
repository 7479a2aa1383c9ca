"""Pulse sequences: free evolution and instantaneous pulses, as fractions of a total time.

A :class:`PulseSequence` is a list of segments evaluated at any total time T:

* :class:`Free` ``(fraction)``: evolve with H for ``fraction * T``;
* :class:`Pulse`: an instantaneous unitary on some qubits.

Segments run left to right in time. A Hahn echo of total time T is
``[Free(0.5), Pulse(X on p), Free(0.5)]``; FID is ``[Free(1.0)]``; CPMG-n has pulses at
(2k - 1) T / (2n). Every backend evaluates one sequence at an array of total times, which lets
the exact backends vectorize over times (phases in the eigenbasis) and the circuit backends build
one circuit per time (or one circuit with save instructions for FID traces).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from qiskit import QuantumCircuit

from echo_lab.errors import ConfigError


@dataclass(frozen=True)
class Free:
    """Free evolution for ``fraction`` of the total time."""

    fraction: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fraction) and self.fraction >= 0):
            raise ConfigError(
                f"a free-evolution fraction must be finite and >= 0, got {self.fraction}"
            )


@dataclass(frozen=True, eq=False)
class Pulse:
    """Instantaneous unitary ``matrix`` (2^k x 2^k, Qiskit order over ``qubits``) on ``qubits``.

    ``qubits[0]`` is the least significant bit of the matrix index. ``label`` names it in circuits
    and results (``"X_3"``, ``"tau^x_3"``, ``"tau^x_3[r=1]"``).

    ``action`` (optional) applies the same unitary to full state vectors: ``action(states)``
    with ``states`` of shape ``(2^n,)`` or ``(2^n, K)`` returns the pulsed states, same shape.
    The exact and Krylov backends use it instead of ``matrix`` when it is set; it is how an
    exact l-bit pulse on many qubits (:func:`echo_lab.lbits.exact.lbit_action_pulse`, block by
    block, no 4^n matrix) reaches them. A pulse with an action may leave ``matrix`` None; the
    circuit backends then refuse it (:meth:`dense_matrix`).

    ``circuit`` (optional) is a ``QuantumCircuit`` on ``len(qubits)`` qubits with the same unitary
    as ``matrix`` (up to a global phase); circuit backends then play its gates instead of one
    dense unitary (circuit l-bit pulses, whose matrix on a light cone of 10 sites would be a
    1024 x 1024 gate).
    """

    matrix: np.ndarray | None
    qubits: tuple[int, ...]
    label: str
    kind: str = "unitary"
    meta: dict[str, object] = field(default_factory=dict)
    action: Callable[[np.ndarray], np.ndarray] | None = None
    circuit: QuantumCircuit | None = None

    def __post_init__(self) -> None:
        if len(set(self.qubits)) != len(self.qubits):
            raise ConfigError(f"pulse {self.label!r} repeats a qubit: {self.qubits}")
        object.__setattr__(self, "qubits", tuple(int(q) for q in self.qubits))
        if self.action is not None and not callable(self.action):
            raise ConfigError(f"the action of pulse {self.label!r} must be callable")
        if self.matrix is None:
            if self.action is None:
                raise ConfigError(f"pulse {self.label!r} needs a matrix or an action")
            return
        mat = np.asarray(self.matrix, dtype=complex)
        dim = 2 ** len(self.qubits)
        if mat.shape != (dim, dim):
            raise ConfigError(
                f"pulse {self.label!r} on {len(self.qubits)} qubits needs a {dim}x{dim} matrix, "
                f"got {mat.shape}"
            )
        if self.circuit is not None and (
            not isinstance(self.circuit, QuantumCircuit)
            or self.circuit.num_qubits != len(self.qubits)
        ):
            raise ConfigError(
                f"pulse {self.label!r}: circuit must be a QuantumCircuit on {len(self.qubits)} "
                "qubits (one per pulse qubit)"
            )
        object.__setattr__(self, "matrix", mat)

    def dense_matrix(self) -> np.ndarray:
        """``matrix``; :class:`ConfigError` for a pulse that only has an ``action``."""
        if self.matrix is None:
            raise ConfigError(
                f"pulse {self.label!r} has no dense matrix (it acts on {len(self.qubits)} qubits "
                "through an operator action): run it on the 'exact' or 'krylov' backend"
            )
        return self.matrix


Segment = Free | Pulse


@dataclass(frozen=True)
class PulseSequence:
    """Ordered segments; the free fractions must add up to 1."""

    segments: tuple[Segment, ...]
    name: str = "sequence"

    def __init__(self, segments: Sequence[Segment], name: str = "sequence") -> None:
        object.__setattr__(self, "segments", tuple(segments))
        object.__setattr__(self, "name", name)
        total = sum(s.fraction for s in self.segments if isinstance(s, Free))
        if not np.isclose(total, 1.0):
            raise ConfigError(
                f"the free-evolution fractions of sequence {name!r} add up to {total}, not 1"
            )

    @property
    def pulses(self) -> list[Pulse]:
        return [s for s in self.segments if isinstance(s, Pulse)]
