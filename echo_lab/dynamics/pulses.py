"""Echo pulse operators: p-bit flips, l-bit flips and window-truncated l-bit flips
(docs/pages/conventions.md 5-6).

Every factory returns a :class:`~echo_lab.dynamics.schedule.Pulse`, an instantaneous unitary on some
qubits, ready to be placed in a :class:`~echo_lab.dynamics.schedule.PulseSequence`:

* :func:`pbit_pulse` ``X_p`` or ``Y_p`` on one qubit (label ``"X_3"``, kind ``"pbit"``);
* :func:`lbit_pulse` a dense l-bit operator tau^a_p on all n qubits (label ``"tau^x_3"``, kind
  ``"lbit"``);
* :func:`truncated_lbit_pulse` the polar factor of tau^a_p restricted to a window around p
  (label ``"tau^x_3[r=1]"``, kind ``"lbit:1"``), from :func:`truncate_to_window` and
  :func:`window_polar_pulse`;
* :func:`rotate_about` the imperfect rotation about any generator.

These are operators on arrays; which l-bits they are built from is the business of the l-bit
sources (:class:`echo_lab.lbits.source.LBitSource`: exact, window and circuit l-bits each build
their own pulses from these factories), and the pulse families of the study files (``"pbit"``,
``"lbit:r"``, ``"window:w"``, ...) live in :mod:`echo_lab.protocols.families`.

Ideal pulses are pi rotations about an involutory Hermitian generator A (A^2 = 1), which up to a
global phase is A itself. An imperfect pulse rotates by theta = pi (1 + eps)::

    R = cos(theta / 2) I - i sin(theta / 2) A

and ``angle_error=0`` returns A exactly (not R = -i A, which differs by an irrelevant phase).

Examples
--------
>>> pulse = pbit_pulse(2, axis="y")
>>> pulse.label, pulse.qubits
('Y_2', (2,))
"""

from __future__ import annotations

import numpy as np

from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.physics.linalg import PAULI_MATRICES
from echo_lab.physics.models import Lattice
from echo_lab.resources import dense_operator_bytes, require_memory

__all__ = [
    "DENSE_LBIT_QUBITS",
    "PULSE_AXES",
    "check_angle_error",
    "check_axis",
    "lbit_pulse",
    "pbit_pulse",
    "rotate_about",
    "truncate_to_window",
    "truncated_lbit_pulse",
    "truncation_window",
    "window_polar_pulse",
]

#: Axes a flip pulse may use: a pi rotation about x or y flips sigma^z (or tau^z).
PULSE_AXES = ("x", "y")

#: Largest n whose exact l-bit pulses and observables also carry the dense 2^n x 2^n operator
#: (128 MiB real at n = 12; the circuit backends need it). Above, only the block-by-block action.
DENSE_LBIT_QUBITS = 12

#: Eigenvalues of the truncated operator below this fraction of its largest one are treated as
#: zero: the polar factor (the sign of A) is then undefined.
ZERO_EIGENVALUE_TOLERANCE = 1e-8


def check_axis(axis: str) -> None:
    """:class:`ConfigError` unless ``axis`` is one of :data:`PULSE_AXES`."""
    if axis not in PULSE_AXES:
        raise ConfigError(f"pulse axis must be one of {PULSE_AXES}, got {axis!r}")


def check_angle_error(angle_error: float) -> float:
    """``angle_error`` as a float, or :class:`ConfigError` when it is not a finite number."""
    if isinstance(angle_error, bool) or not isinstance(angle_error, int | float | np.floating):
        raise ConfigError(f"angle_error must be a number, got {angle_error!r}")
    if not np.isfinite(angle_error):
        raise ConfigError(
            f"angle_error must be finite (0 for an ideal pi pulse), got {angle_error}"
        )
    return float(angle_error)


def _check_tau(tau: np.ndarray, p: int) -> tuple[np.ndarray, int]:
    """Validate a dense l-bit operator; return it as a complex array and its qubit count."""
    mat = np.asarray(tau, dtype=complex)
    dim = mat.shape[0] if mat.ndim == 2 else 0
    n = dim.bit_length() - 1
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1] or dim < 2 or dim != 2**n:
        raise ConfigError(
            f"an l-bit operator must be a square 2^n x 2^n matrix, got shape {np.shape(tau)}"
        )
    if not 0 <= p < n:
        raise ConfigError(f"pulse site {p} is outside the chain 0..{n - 1}")
    if not np.allclose(mat, mat.conj().T, atol=1e-10):
        raise ConfigError(
            "the l-bit operator is not Hermitian: pass tau^x or tau^y from an l-bit system"
        )
    return mat, n


def rotate_about(generator: np.ndarray, *, angle_error: float = 0.0) -> np.ndarray:
    """Rotation by pi (1 + angle_error) about an involutory Hermitian ``generator`` A.

    Returns ``cos(theta/2) I - i sin(theta/2) A`` with theta = pi (1 + angle_error), and A itself
    when ``angle_error == 0``. Shape and cost: those of A (one scaled copy, O(size of A)).
    """
    eps = check_angle_error(angle_error)
    mat = np.asarray(generator, dtype=complex)
    if eps == 0.0:
        return mat
    half = 0.5 * np.pi * (1.0 + eps)
    return np.cos(half) * np.eye(mat.shape[0], dtype=complex) - 1j * np.sin(half) * mat


def pbit_pulse(p: int, *, axis: str = "x", angle_error: float = 0.0) -> Pulse:
    """Flip of the bare spin (p-bit) on qubit ``p``: X_p or Y_p, a 2 x 2 block.

    Label ``"X_p"`` / ``"Y_p"``, kind ``"pbit"``; ``meta`` records site, axis and angle error.
    """
    check_axis(axis)
    if p < 0:
        raise ConfigError(f"pulse site must be >= 0, got {p}")
    eps = check_angle_error(angle_error)
    return Pulse(
        rotate_about(PAULI_MATRICES[axis.upper()], angle_error=eps),
        (int(p),),
        label=f"{axis.upper()}_{p}",
        kind="pbit",
        meta={"site": int(p), "axis": axis, "angle_error": eps},
    )


def lbit_pulse(tau: np.ndarray, p: int, *, axis: str = "x", angle_error: float = 0.0) -> Pulse:
    """Exact l-bit flip: the dense ``2^n x 2^n`` operator ``tau`` = tau^axis_p on all n qubits.

    ``tau`` must be Hermitian and involutory (an l-bit Pauli operator; only Hermiticity is checked,
    at O(4^n)); ``axis`` only names the pulse (label ``"tau^x_p"``, kind ``"lbit"``). Applying it
    costs O(4^n) per state, like a dense matrix-vector product.
    """
    check_axis(axis)
    mat, n = _check_tau(tau, p)
    eps = check_angle_error(angle_error)
    return Pulse(
        rotate_about(mat, angle_error=eps),
        tuple(range(n)),
        label=f"tau^{axis}_{p}",
        kind="lbit",
        meta={"site": int(p), "axis": axis, "angle_error": eps},
    )


def truncation_window(n: int, p: int, radius: int, lattice: Lattice | None = None) -> list[int]:
    """Sites within distance ``radius`` of ``p`` on an n-site chain ([p - r, p + r] clipped), or
    ``lattice.window(p, radius)``; :class:`ConfigError` for a radius outside 0..n-1."""
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise ConfigError(f"window radius must be an integer >= 0, got {radius!r}")
    if radius > n - 1:
        raise ConfigError(
            f"window radius {radius} is larger than the chain of {n} sites allows (at most "
            f"{n - 1}); use the exact pulse 'lbit' to act on the whole chain"
        )
    if lattice is None:
        return list(range(max(0, p - radius), min(n - 1, p + radius) + 1))
    if lattice.n != n:
        raise ConfigError(f"the lattice has {lattice.n} sites but the l-bit operator {n}")
    return lattice.window(p, int(radius))


def truncate_to_window(tau: np.ndarray, window: list[int]) -> np.ndarray:
    """Part of ``tau`` supported in ``window``, as a ``2^k x 2^k`` block (k = len(window)).

    Equals the sum of the Pauli components c_P P of ``tau`` whose non-identity sites all lie in
    ``window`` (P restricted to the window), computed as the normalized partial trace over the
    other n - k qubits, ``Tr_out(tau) / 2^(n - k)``, without any Pauli transform: O(4^n) time and
    one transposed copy of ``tau`` (16 * 4^n bytes). ``window`` must be sorted; ``window[0]`` is the
    least significant bit of the returned block.
    """
    mat = np.asarray(tau, dtype=complex)
    n = mat.shape[0].bit_length() - 1
    if not window or list(window) != sorted(set(window)) or not 0 <= window[0] <= window[-1] < n:
        raise ConfigError(
            f"window must be a sorted list of distinct sites in 0..{n - 1}, got {window}"
        )
    outside = [q for q in range(n) if q not in set(window)]
    require_memory(
        dense_operator_bytes(n),
        what=f"truncating a {n}-qubit l-bit operator to a window",
        suggestion="Use a smaller chain for l-bit pulses.",
    )
    # Tensor axis of qubit q is n - 1 - q for rows and 2n - 1 - q for columns; the window's
    # axes go last, most significant first, so that window[0] ends up least significant.
    row_out = [n - 1 - q for q in outside]
    row_win = [n - 1 - q for q in reversed(window)]
    order = row_out + row_win + [a + n for a in row_out] + [a + n for a in row_win]
    k, n_out = len(window), len(outside)
    blocks = mat.reshape((2,) * (2 * n)).transpose(order).reshape(2**n_out, 2**k, 2**n_out, 2**k)
    return np.einsum("aiaj->ij", blocks) / 2**n_out


def truncated_lbit_pulse(
    tau: np.ndarray,
    p: int,
    radius: int,
    *,
    lattice: Lattice | None = None,
    axis: str = "x",
    angle_error: float = 0.0,
) -> Pulse:
    """l-bit flip truncated to the sites within distance ``radius`` of ``p``
    (docs/pages/conventions.md 6).

    The window is [p - radius, p + radius] clipped to the chain, or ``lattice.window(p, radius)``
    on a lattice. A = :func:`truncate_to_window` (tau) keeps the Pauli components of ``tau``
    supported in the window; the pulse is its polar factor A (A^2)^(-1/2) = V sign(L) V^dag from
    the eigen-decomposition A = V L V^dag: Hermitian, unitary and involutory, a k-qubit block on
    the window (k = window size). Once the window covers the chain it equals ``tau`` itself.

    Cost: O(4^n) for the partial trace plus O(8^k) for the eigen-decomposition. Raises
    :class:`ConfigError` for a negative or too large radius and :class:`NumericalError` when A has
    a (near-)zero eigenvalue (|lambda| < 1e-8 max |lambda|), where the polar factor is undefined.
    Label ``"tau^x_p[r=radius]"``, kind ``"lbit:radius"``.
    """
    check_axis(axis)
    mat, n = _check_tau(tau, p)
    window = truncation_window(n, p, radius, lattice)
    return window_polar_pulse(
        truncate_to_window(mat, window), window, p, radius, axis=axis, angle_error=angle_error
    )


def polar_factor(operator: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The nearest involution to a Hermitian operator A: its polar factor A (A^2)^(-1/2) =
    V sign(L) V^dag from A = V L V^dag (A is symmetrized first), with the smallest and the
    largest |eigenvalue| of A, so that the caller can refuse a (near-)zero eigenvalue, where
    the sign is undefined. Cost O(8^k) for a 2^k x 2^k operator."""
    matrix = np.asarray(operator, dtype=complex)
    matrix = 0.5 * (matrix + matrix.conj().T)
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    polar = (eigenvectors * np.sign(eigenvalues)) @ eigenvectors.conj().T
    magnitudes = np.abs(eigenvalues)
    return polar, float(magnitudes.min()), float(magnitudes.max())


def window_polar_pulse(
    truncated: np.ndarray,
    window: list[int],
    p: int,
    radius: int,
    *,
    axis: str = "x",
    angle_error: float = 0.0,
) -> Pulse:
    """The pulse of a window-truncated l-bit operator A (``2^k x 2^k`` on the sorted sites
    ``window``): its polar factor A (A^2)^(-1/2), as in :func:`truncated_lbit_pulse`.

    ``truncated`` comes from :func:`truncate_to_window` (dense tau) or from
    ``LBitSystem.window_operator`` (block by block, any n). Cost O(8^k).
    """
    check_axis(axis)
    eps = check_angle_error(angle_error)
    truncated = np.asarray(truncated, dtype=complex)
    if truncated.shape != (2 ** len(window), 2 ** len(window)):
        raise ConfigError(
            f"a window of {len(window)} sites needs a {2 ** len(window)}-dimensional operator, "
            f"got shape {truncated.shape}"
        )
    polar, smallest, scale = polar_factor(truncated)
    if smallest <= ZERO_EIGENVALUE_TOLERANCE * scale:
        raise NumericalError(
            f"the l-bit operator tau^{axis}_{p} truncated to radius {radius} (sites {window}) "
            f"has an eigenvalue {smallest:.2e} ~ 0 (largest {scale:.2e}), so its nearest unitary "
            "is undefined: use a larger radius or the exact pulse 'lbit'"
        )
    return Pulse(
        rotate_about(polar, angle_error=eps),
        tuple(window),
        label=f"tau^{axis}_{p}[r={radius}]",
        kind=f"lbit:{radius}",
        meta={
            "site": int(p),
            "axis": axis,
            "radius": int(radius),
            "angle_error": eps,
            "min_abs_eigenvalue": smallest,
        },
    )
