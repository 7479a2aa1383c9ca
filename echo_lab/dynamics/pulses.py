"""Echo pulses: p-bit flips, exact l-bit flips and window-truncated l-bit flips
(docs/pages/conventions.md 5-6).

Every factory returns a :class:`~echo_lab.dynamics.schedule.Pulse`, an instantaneous unitary on some
qubits, ready to be placed in a :class:`~echo_lab.dynamics.schedule.PulseSequence`:

* :func:`pbit_pulse` ``X_p`` or ``Y_p`` on one qubit (label ``"X_3"``, kind ``"pbit"``);
* :func:`lbit_pulse` the exact l-bit operator tau^a_p, a dense block on all n qubits
  (label ``"tau^x_3"``, kind ``"lbit"``);
* :func:`truncated_lbit_pulse` the polar factor of tau^a_p restricted to a window around p
  (label ``"tau^x_3[r=1]"``, kind ``"lbit:1"``);
* window pulses: the l-bit of the w-site window around p (:mod:`echo_lab.lbits.window`), whole or
  truncated to radius r (label ``"tau^x_3[w=8,r=1]"``, kind ``"lbit-window:1"``);
* circuit pulses: the circuit l-bit tau^x_p of :mod:`echo_lab.lbits.circuit` on its light cone,
  with its circuit (label ``"tau^x_3[circuit]"``, kind ``"circuit"``);
* :class:`PulseSpec` is a parsed spec (``"pbit"``, ``"lbit"``, ``"lbit:r"``, ``"circuit"``,
  ``"window:w"``, ``"window:w:r"``, plus an angle error), parsed once and passed on as that value;
  :func:`make_pulse` builds the pulse of a spec.

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

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.sparse.linalg import LinearOperator

from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.physics.linalg import PAULI_MATRICES
from echo_lab.physics.models import Lattice
from echo_lab.resources import dense_operator_bytes, require_memory
from echo_lab.tables import quote

__all__ = [
    "DENSE_LBIT_QUBITS",
    "PULSE_AXES",
    "PULSE_FAMILIES",
    "CircuitLBitsLike",
    "LBitActionLike",
    "LBitSystemLike",
    "PulseSpec",
    "WindowLBitsLike",
    "lbit_action_pulse",
    "lbit_pulse",
    "make_pulse",
    "pbit_pulse",
    "rotate_about",
    "truncate_to_window",
    "truncated_lbit_pulse",
    "truncated_lbit_pulse_from_system",
    "window_polar_pulse",
]

#: Axes a flip pulse may use: a pi rotation about x or y flips sigma^z (or tau^z).
PULSE_AXES = ("x", "y")

#: Pulse families of a :class:`PulseSpec`.
PULSE_FAMILIES = ("pbit", "lbit", "circuit", "window")

#: Largest n whose exact l-bit pulses and observables also carry the dense 2^n x 2^n operator
#: (128 MiB real at n = 12; the circuit backends need it). Above, only the block-by-block action.
DENSE_LBIT_QUBITS = 12

#: Eigenvalues of the truncated operator below this fraction of its largest one are treated as
#: zero: the polar factor (the sign of A) is then undefined.
ZERO_EIGENVALUE_TOLERANCE = 1e-8


_SPEC = re.compile(r"^lbit:(\d+)$")
_WINDOW_SPEC = re.compile(r"^window:(\d+)(?::(\d+))?$")


class LBitSystemLike(Protocol):
    """What the pulse factories need from an l-bit system (e.g. ``lbits.construct(H)``)."""

    def tau(self, a: str, i: int) -> np.ndarray:
        """Dense ``2^n x 2^n`` l-bit Pauli operator tau^a_i in Qiskit order."""
        ...


@runtime_checkable
class LBitActionLike(Protocol):
    """An l-bit system that acts block by block (``lbits.construct(H)``): no 4^n objects."""

    @property
    def n(self) -> int:
        """Number of sites."""
        ...

    def tau(self, a: str, i: int) -> np.ndarray:
        """Dense ``2^n x 2^n`` tau^a_i (small n only)."""
        ...

    def apply_tau(self, a: str, i: int, states: np.ndarray) -> np.ndarray:
        """tau^a_i @ states for states of shape ``(2^n,)`` or ``(2^n, K)``."""
        ...

    def window_operator(self, a: str, i: int, window: Sequence[int]) -> np.ndarray:
        """Part of tau^a_i supported in ``window``, a ``2^k x 2^k`` array."""
        ...

    def tau_operator(self, a: str, i: int) -> LinearOperator:
        """tau^a_i as a ``LinearOperator`` of shape ``(2^n, 2^n)``."""
        ...


@runtime_checkable
class CircuitLBitsLike(Protocol):
    """What the ``"circuit"`` spec needs: ``lbits.construct(H, method="circuit", ...)``."""

    def pulse(self, p: int, *, axis: str = "x", angle_error: float = 0.0) -> Pulse:
        """tau^axis_p as a pulse on its light cone, carrying its circuit."""
        ...


class WindowLBitsLike(Protocol):
    """What :func:`make_pulse` needs from window l-bits (``window.window_lbits(model, p, ...)``)."""

    @property
    def probe(self) -> int:
        """The chain site p whose l-bit the window holds."""
        ...

    @property
    def width(self) -> int:
        """Number of window sites w."""
        ...

    def pulse(
        self, radius: int | None = None, *, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """tau^axis_p of the window (truncated to ``radius``) as a pulse on chain sites."""
        ...


def _check_axis(axis: str) -> None:
    if axis not in PULSE_AXES:
        raise ConfigError(f"pulse axis must be one of {PULSE_AXES}, got {axis!r}")


def _check_angle_error(angle_error: float) -> float:
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
    eps = _check_angle_error(angle_error)
    mat = np.asarray(generator, dtype=complex)
    if eps == 0.0:
        return mat
    half = 0.5 * np.pi * (1.0 + eps)
    return np.cos(half) * np.eye(mat.shape[0], dtype=complex) - 1j * np.sin(half) * mat


def pbit_pulse(p: int, *, axis: str = "x", angle_error: float = 0.0) -> Pulse:
    """Flip of the bare spin (p-bit) on qubit ``p``: X_p or Y_p, a 2 x 2 block.

    Label ``"X_p"`` / ``"Y_p"``, kind ``"pbit"``; ``meta`` records site, axis and angle error.
    """
    _check_axis(axis)
    if p < 0:
        raise ConfigError(f"pulse site must be >= 0, got {p}")
    eps = _check_angle_error(angle_error)
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
    _check_axis(axis)
    mat, n = _check_tau(tau, p)
    eps = _check_angle_error(angle_error)
    return Pulse(
        rotate_about(mat, angle_error=eps),
        tuple(range(n)),
        label=f"tau^{axis}_{p}",
        kind="lbit",
        meta={"site": int(p), "axis": axis, "angle_error": eps},
    )


def _window_sites(n: int, p: int, radius: int, lattice: Lattice | None) -> list[int]:
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
    _check_axis(axis)
    mat, n = _check_tau(tau, p)
    window = _window_sites(n, p, radius, lattice)
    return window_polar_pulse(
        truncate_to_window(mat, window), window, p, radius, axis=axis, angle_error=angle_error
    )


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
    _check_axis(axis)
    eps = _check_angle_error(angle_error)
    truncated = np.asarray(truncated, dtype=complex)
    if truncated.shape != (2 ** len(window), 2 ** len(window)):
        raise ConfigError(
            f"a window of {len(window)} sites needs a {2 ** len(window)}-dimensional operator, "
            f"got shape {truncated.shape}"
        )
    truncated = 0.5 * (truncated + truncated.conj().T)
    eigenvalues, eigenvectors = np.linalg.eigh(truncated)
    scale = float(np.max(np.abs(eigenvalues)))
    smallest = float(np.min(np.abs(eigenvalues)))
    if smallest <= ZERO_EIGENVALUE_TOLERANCE * scale:
        raise NumericalError(
            f"the l-bit operator tau^{axis}_{p} truncated to radius {radius} (sites {window}) "
            f"has an eigenvalue {smallest:.2e} ~ 0 (largest {scale:.2e}), so its nearest unitary "
            "is undefined: use a larger radius or the exact pulse 'lbit'"
        )
    polar = (eigenvectors * np.sign(eigenvalues)) @ eigenvectors.conj().T
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


def lbit_action_pulse(
    lbit_system: LBitActionLike, p: int, *, axis: str = "x", angle_error: float = 0.0
) -> Pulse:
    """Exact l-bit flip tau^axis_p that acts block by block (``lbit_system.apply_tau``).

    ``action(states)`` applies R = cos(theta/2) - i sin(theta/2) tau (tau itself when
    ``angle_error == 0``) to states ``(2^n,)`` or ``(2^n, K)`` at two basis changes, sum_b d_b^2
    per state (n = 14: ~1e8, n = 16: ~1e9 operations), so exact pulses reach n = 16 on the exact
    and Krylov backends. For n <= :data:`DENSE_LBIT_QUBITS` the pulse also carries the dense
    matrix (circuit backends need it); above, ``matrix`` is None. Label ``"tau^x_p"``, kind
    ``"lbit"``, like :func:`lbit_pulse`.
    """
    _check_axis(axis)
    eps = _check_angle_error(angle_error)
    n = int(lbit_system.n)
    if not (isinstance(p, int | np.integer) and 0 <= p < n):
        raise ConfigError(f"pulse site {p} is outside the chain 0..{n - 1}")
    half = 0.5 * np.pi * (1.0 + eps)

    def action(states: np.ndarray) -> np.ndarray:
        flipped = lbit_system.apply_tau(axis, int(p), states)
        if eps == 0.0:
            return flipped
        return np.cos(half) * states - 1j * np.sin(half) * flipped

    matrix = None
    if n <= DENSE_LBIT_QUBITS:
        matrix = rotate_about(lbit_system.tau(axis, int(p)), angle_error=eps)
    return Pulse(
        matrix,
        tuple(range(n)),
        label=f"tau^{axis}_{p}",
        kind="lbit",
        meta={"site": int(p), "axis": axis, "angle_error": eps},
        action=action,
    )


def truncated_lbit_pulse_from_system(
    lbit_system: LBitActionLike,
    p: int,
    radius: int,
    *,
    lattice: Lattice | None = None,
    axis: str = "x",
    angle_error: float = 0.0,
) -> Pulse:
    """:func:`truncated_lbit_pulse` with the window part of tau^axis_p computed block by block
    (``lbit_system.window_operator``): no 4^n array, so ``lbit:r`` works at n = 14-16.

    Cost O(2^(k-1) 4^n) for the window operator (k = window size) plus O(8^k).
    """
    _check_axis(axis)
    n = int(lbit_system.n)
    if not (isinstance(p, int | np.integer) and 0 <= p < n):
        raise ConfigError(f"pulse site {p} is outside the chain 0..{n - 1}")
    window = _window_sites(n, int(p), radius, lattice)
    truncated = lbit_system.window_operator(axis, int(p), window)
    return window_polar_pulse(truncated, window, int(p), radius, axis=axis, angle_error=angle_error)


@dataclass(frozen=True)
class PulseSpec:
    """A pulse family, parsed once from its text and then passed on as this value.

    ``family`` is ``"pbit"`` (X_p), ``"lbit"`` (tau^x_p; with ``radius`` r truncated to the
    window [p - r, p + r]), ``"circuit"`` (the circuit l-bit tau^x_p) or ``"window"`` (the
    l-bit of the ``width``-site window around p, :mod:`echo_lab.lbits.window`; with ``radius``
    truncated inside that window). ``angle_error`` eps
    makes the pulse a rotation by pi (1 + eps) (:func:`rotate_about`). :attr:`label` is the
    canonical text (``"lbit:2"``, ``"window:8:1"``), the name of the pulse in results.

    >>> PulseSpec.parse("window:8:1")
    PulseSpec(family='window', radius=1, width=8, angle_error=0.0)
    >>> PulseSpec.parse("lbit:2").label
    'lbit:2'
    """

    family: str
    radius: int | None = None
    width: int | None = None
    angle_error: float = 0.0

    def __post_init__(self) -> None:
        if self.family not in PULSE_FAMILIES:
            raise ConfigError(
                f"unknown pulse family {self.family!r}; choose one of {PULSE_FAMILIES}"
            )
        if (self.width is not None) != (self.family == "window"):
            raise ConfigError("a window width belongs to (and is needed by) 'window' pulses only")
        if self.family in ("pbit", "circuit") and self.radius is not None:
            raise ConfigError(f"a {self.family} pulse has no truncation radius")
        if self.radius is not None and self.radius < 0:
            raise ConfigError(f"a pulse's truncation radius must be >= 0, got {self.radius}")
        if self.width is not None and self.width < 1:
            raise ConfigError(f"window pulse {self.label!r} has width {self.width}; use w >= 1")
        if self.width is not None and self.radius is not None and self.radius >= self.width:
            raise ConfigError(
                f"window pulse spec {self.label!r} has radius {self.radius} >= width "
                f"{self.width}; use r <= {self.width - 1}, or 'window:{self.width}' for the whole "
                "window l-bit"
            )
        object.__setattr__(self, "angle_error", _check_angle_error(self.angle_error))

    @classmethod
    def parse(cls, text: str | PulseSpec, *, angle_error: float = 0.0) -> PulseSpec:
        """``"pbit"``, ``"lbit"``, ``"lbit:r"``, ``"circuit"``, ``"window:w"`` or ``"window:w:r"``
        (integers r >= 0, w >= 1, r < w) as a PulseSpec; a PulseSpec is returned unchanged.
        Anything else raises :class:`ConfigError`. The limits that depend on the chain (r < n,
        w <= n, w <= ``window.MAX_WINDOW_SITES``) are checked where the chain is known."""
        if isinstance(text, PulseSpec):
            return text
        if text in ("pbit", "lbit", "circuit"):
            return cls(text, angle_error=angle_error)
        if isinstance(text, str) and text.startswith("window:"):
            window = _WINDOW_SPEC.match(text)
            if window is None:
                raise ConfigError(
                    f"malformed window pulse spec {quote(text)}; use 'window:w' or 'window:w:r' "
                    "with integers w >= 1 (window sites) and 0 <= r < w (truncation radius)"
                )
            radius = None if window.group(2) is None else int(window.group(2))
            return cls("window", radius, int(window.group(1)), angle_error)
        match = _SPEC.match(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(
                f"unknown pulse spec {quote(text)}; use 'pbit', 'lbit', 'lbit:r' with an integer "
                "r >= 0, 'circuit', 'window:w' or 'window:w:r' with integers 1 <= w and 0 <= r < w"
            )
        return cls("lbit", int(match.group(1)), angle_error=angle_error)

    @property
    def label(self) -> str:
        """The canonical text of the spec (without the angle error)."""
        parts = [self.family]
        if self.width is not None:
            parts.append(str(self.width))
        if self.radius is not None:
            parts.append(str(self.radius))
        return ":".join(parts)

    @property
    def needs_lbits(self) -> bool:
        """Whether the pulse needs the full l-bit system of the chain (``"lbit"``, ``"lbit:r"``)."""
        return self.family == "lbit"

    def with_angle_error(self, angle_error: float) -> PulseSpec:
        """The same pulse rotating by pi (1 + ``angle_error``)."""
        return dataclasses.replace(self, angle_error=angle_error)


def make_pulse(
    spec: PulseSpec | str,
    p: int,
    *,
    axis: str = "x",
    lbit_system: LBitSystemLike | CircuitLBitsLike | None = None,
    angle_error: float | None = None,
    lattice: Lattice | None = None,
    window_system: WindowLBitsLike | None = None,
) -> Pulse:
    """Pulse on site ``p`` from a :class:`PulseSpec` (or its text: ``"pbit"``, ``"lbit"``,
    ``"lbit:r"``, ``"circuit"``, ``"window:w"``, ``"window:w:r"``).

    The l-bit specs take tau^axis_p from ``lbit_system``: block by block when it has operator
    actions (an ``lbits.LBitSystem``: :func:`lbit_action_pulse`,
    :func:`truncated_lbit_pulse_from_system`), else from the dense ``lbit_system.tau(axis, p)``;
    ``"circuit"`` takes ``lbit_system.pulse(p, ...)`` from circuit l-bits; ``lattice`` sets the
    window of ``"lbit:r"`` on non-chain geometries. The window specs take the pulse from
    ``window_system.pulse(r, ...)`` (``window.window_lbits(model, p, width=w)``), which must
    hold the l-bit of site ``p`` and have width w. ``angle_error`` applies to a text spec (a
    PulseSpec carries its own; giving both raises). Raises :class:`ConfigError` for an unknown
    spec, a radius larger than the chain, or an l-bit (window) spec without ``lbit_system``
    (a matching ``window_system``).

    >>> make_pulse("pbit", 1).label
    'X_1'
    """
    spec = _resolve_spec(spec, angle_error)
    _check_axis(axis)
    eps = spec.angle_error
    if spec.family == "pbit":
        return pbit_pulse(p, axis=axis, angle_error=eps)
    if spec.family == "window":
        width = spec.width
        if window_system is None or window_system.probe != p or window_system.width != width:
            raise ConfigError(
                f"pulse spec {spec.label!r} on site {p} needs the window l-bits of that site and "
                f"width: pass window_system=window.window_lbits(model, {p}, width={width})"
            )
        return window_system.pulse(spec.radius, axis=axis, angle_error=eps)
    if spec.family == "circuit":
        if not isinstance(lbit_system, CircuitLBitsLike):
            raise ConfigError(
                "pulse spec 'circuit' needs circuit l-bits: pass "
                "lbit_system=lbits.construct(H, method='circuit', ...)"
            )
        return lbit_system.pulse(p, axis=axis, angle_error=eps)
    if lbit_system is None or isinstance(lbit_system, CircuitLBitsLike):
        raise ConfigError(
            f"pulse spec {spec.label!r} needs an l-bit system: pass lbit_system=lbits.construct(H)"
        )
    if isinstance(lbit_system, LBitActionLike):
        if spec.radius is None:
            return lbit_action_pulse(lbit_system, p, axis=axis, angle_error=eps)
        return truncated_lbit_pulse_from_system(
            lbit_system, p, spec.radius, lattice=lattice, axis=axis, angle_error=eps
        )
    tau = lbit_system.tau(axis, p)
    if spec.radius is None:
        return lbit_pulse(tau, p, axis=axis, angle_error=eps)
    return truncated_lbit_pulse(tau, p, spec.radius, lattice=lattice, axis=axis, angle_error=eps)


def _resolve_spec(spec: PulseSpec | str, angle_error: float | None) -> PulseSpec:
    """A text spec parsed with ``angle_error`` (default 0); a PulseSpec with none given."""
    if isinstance(spec, PulseSpec):
        if angle_error is not None and angle_error != spec.angle_error:
            raise ConfigError(
                f"pulse spec {spec.label!r} carries angle_error = {spec.angle_error}; do not pass "
                f"another one ({angle_error}): use spec.with_angle_error(...)"
            )
        return spec
    return PulseSpec.parse(spec, angle_error=0.0 if angle_error is None else angle_error)
