"""Product initial states of p-bits (docs/pages/conventions.md section 6).

A :class:`ProductState` stores one Bloch direction per site as polar / azimuthal angles
(theta_i, phi_i): |psi_i> = cos(theta_i/2) |0> + e^{i phi_i} sin(theta_i/2) |1>, so theta = 0 is
sigma^z = +1 (bit 0), theta = pi is sigma^z = -1 and (pi/2, 0) is |+>. Exact backends use
:meth:`ProductState.vector`; circuit backends prepare it with one ``ry(theta)`` and ``rz(phi)`` per
site (:meth:`ProductState.circuit`), equal up to a global phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression

from echo_lab.errors import ConfigError

BACKGROUNDS = ("z-random", "x", "neel", "random-bloch")

Angle: TypeAlias = float | ParameterExpression


def preparation_circuit(thetas: Sequence[Angle], phis: Sequence[Angle]) -> QuantumCircuit:
    """``ry(theta_i)`` then ``rz(phi_i)`` on every qubit i: the product state of those Bloch
    angles from |0...0>, up to a global phase. Angles may be circuit parameters; numeric zeros
    emit no gate. The one state-preparation circuit of the package."""
    qc = QuantumCircuit(len(thetas), name="prepare")
    for i, (theta, phi) in enumerate(zip(thetas, phis, strict=True)):
        if not (isinstance(theta, float | int) and theta == 0):
            qc.ry(theta, i)
        if not (isinstance(phi, float | int) and phi == 0):
            qc.rz(phi, i)
    return qc


@dataclass(frozen=True)
class ProductState:
    """Product state with Bloch angles ``angles[i] = (theta_i, phi_i)``; shape ``(n, 2)``."""

    angles: np.ndarray

    def __post_init__(self) -> None:
        arr = np.asarray(self.angles, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ConfigError(f"angles must have shape (n, 2), got {arr.shape}")
        object.__setattr__(self, "angles", arr)

    @property
    def n(self) -> int:
        return int(self.angles.shape[0])

    def site_vector(self, i: int) -> np.ndarray:
        """Two-component state of site ``i``."""
        theta, phi = self.angles[i]
        return np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])

    def vector(self) -> np.ndarray:
        """Full state vector, length 2^n, qubit 0 least significant (Qiskit order)."""
        psi = np.ones(1, dtype=complex)
        for i in range(self.n):
            psi = np.kron(self.site_vector(i), psi)
        return psi

    def circuit(self) -> QuantumCircuit:
        """Circuit preparing the state from |0...0> (up to a global phase)."""
        thetas, phis = self.angles.T
        return preparation_circuit([float(t) for t in thetas], [float(p) for p in phis])

    def bits(self) -> np.ndarray:
        """Configuration s_i (0 or 1) for sites along +-z; -1 where a site is not along z."""
        out = np.full(self.n, -1, dtype=np.int64)
        out[np.isclose(self.angles[:, 0], 0.0)] = 0
        out[np.isclose(self.angles[:, 0], np.pi)] = 1
        return out


def probe_state(
    n: int,
    probe: int,
    *,
    background: str = "z-random",
    rng: np.random.Generator | None = None,
) -> ProductState:
    """Probe site in |+> (sigma^x = +1), the other sites by ``background``.

    ``z-random``: each site |0> or |1> with probability 1/2; ``x``: all |+>; ``neel``: |0101...>
    (site i in bit i mod 2); ``random-bloch``: uniformly random directions on the Bloch sphere.
    The random backgrounds need ``rng``.
    """
    if not 0 <= probe < n:
        raise ConfigError(f"probe site {probe} is outside the chain 0..{n - 1}")
    if background not in BACKGROUNDS:
        raise ConfigError(f"unknown background {background!r}; choose one of {BACKGROUNDS}")
    if background in ("z-random", "random-bloch") and rng is None:
        raise ConfigError(f"background {background!r} needs a random generator (rng=...)")
    angles = np.zeros((n, 2))
    if background == "z-random":
        assert rng is not None
        angles[:, 0] = np.pi * rng.integers(0, 2, size=n)
    elif background == "x":
        angles[:, 0] = np.pi / 2
    elif background == "neel":
        angles[:, 0] = np.pi * (np.arange(n) % 2)
    else:
        assert rng is not None
        angles[:, 0] = np.arccos(rng.uniform(-1.0, 1.0, size=n))
        angles[:, 1] = rng.uniform(0.0, 2 * np.pi, size=n)
    angles[probe] = (np.pi / 2, 0.0)
    return ProductState(angles)
