"""Chebyshev propagation exp(-i H t) psi for a sparse Hermitian H (pure numerics, no I/O).

With the spectrum of H inside [b - a, b + a] and the rescaled operator H' = (H - b) / a::

    exp(-i H t) = exp(-i b t) sum_{j >= 0} (2 - delta_j0) (-i)^j J_j(a t) T_j(H'),

J_j the Bessel functions and T_j the Chebyshev polynomials, evaluated on a vector by the
three-term recurrence T_{j+1}(H') v = 2 H' T_j(H') v - T_{j-1}(H') v, which is stable while the
spectrum of H' lies in [-1, 1]. The bounds are rigorous for any Hermitian matrix: Gershgorin's
discs (:func:`gershgorin_bounds`), tightened by a Collatz-Wielandt bound of D + |V|
(:func:`spectral_bounds`, nearly exact for chains), widened by a relative 1e-12 against
rounding. J_j(z) falls off faster than exponentially once j > z, so the series is
cut at the first order D where the remaining sum of |coefficients| is below ``tolerance``
(:func:`chebyshev_coefficients`): D = a t + O((a t)^(1/3)) + O(log(1 / tolerance)).

Cost of one evolution: D sparse products. This grows with the spectral half-width a times t,
where the Taylor methods of ``scipy``'s ``expm_multiply`` and QuSpin's ``expm_multiply_parallel``
grow with several times the 1-norm of H times t: for the random-field XXZ chain at W = 8 the
Chebyshev series needs about 80 t products against several hundred t. The series also reuses
work across times: the vectors T_j(H') psi do not depend on t, so one recurrence to the longest
time gives psi(t) at every requested time (:meth:`ChebyshevPropagator.evolve`).

Accuracy: the truncation error is below ``tolerance`` * ||psi||; rounding adds about 1e-13 for
a t ~ 10^4 (the recurrence is backward stable on [-1, 1]). Results are deterministic: no
random numbers, fixed summation order.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from scipy.linalg import expm
>>> h = sp.csr_matrix(np.array([[1.0, 0.5], [0.5, -1.0]]))
>>> psi = np.array([1.0, 0.0])
>>> out = ChebyshevPropagator(h).evolve(psi, np.array([3.0]))[:, 0]
>>> bool(np.allclose(out, expm(-3j * h.toarray()) @ psi, atol=1e-13))
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import jv

from echo_lab.errors import ConfigError

__all__ = [
    "DEFAULT_TOLERANCE",
    "ChebyshevPropagator",
    "chebyshev_coefficients",
    "chebyshev_degree",
    "gershgorin_bounds",
    "spectral_bounds",
]

#: Truncation tolerance of the series, relative to the norm of the evolved state.
DEFAULT_TOLERANCE = 1e-14

#: Relative widening of the spectral interval against rounding in the bounds and the rescaling.
BOUND_MARGIN = 1e-12

#: Power iterations behind :func:`spectral_bounds`.
POWER_ITERATIONS = 100

#: Recurrence vectors gathered before they are added to the results with one matrix product.
BUFFER_VECTORS = 32

_POWERS_OF_MINUS_I = np.array([1.0, -1.0j, -1.0, 1.0j])


def gershgorin_bounds(matrix: sp.spmatrix | sp.sparray) -> tuple[float, float]:
    """Rigorous bounds ``(lower, upper)`` on the spectrum of a Hermitian sparse ``matrix``.

    Every eigenvalue lies in a Gershgorin disc [H_ii - r_i, H_ii + r_i], r_i = sum_{j != i}
    |H_ij|. Cost O(nnz).
    """
    csr = sp.csr_matrix(matrix)
    if csr.shape[0] != csr.shape[1] or csr.shape[0] == 0:
        raise ConfigError(f"need a non-empty square matrix, got shape {csr.shape}")
    diagonal = np.real(csr.diagonal())
    radius = np.asarray(abs(csr).sum(axis=1)).ravel() - np.abs(csr.diagonal())
    radius = np.maximum(radius, 0.0)
    return float(np.min(diagonal - radius)), float(np.max(diagonal + radius))


def spectral_bounds(
    matrix: sp.spmatrix | sp.sparray, *, iterations: int = POWER_ITERATIONS
) -> tuple[float, float]:
    """Rigorous bounds ``(lower, upper)`` on the spectrum of a Hermitian sparse ``matrix``,
    usually much tighter than Gershgorin's.

    Write H = D + V (D its diagonal). For every vector x, x^dag H x <= |x|^T (D + |V|) |x|, so
    lambda_max(H) <= lambda_max(D + |V|), and by the Collatz-Wielandt inequality (D + |V| has
    nonnegative off-diagonal entries) lambda_max(D + |V|) <= max_i ((D + |V|) u)_i / u_i for
    every positive vector u; likewise lambda_min(H) >= min_i ((D - |V|) u)_i / u_i. Any positive
    u gives a valid bound; u from a few power iterations of the shifted nonnegative matrix,
    started at all ones, makes it nearly tight. On a bipartite lattice (an open chain) the
    hopping signs can be gauged away, so lambda_max(D + |V|) = lambda_max(H): for the XXZ chain
    at W = 8 the bound is within 0.2 % of the true width after 100 iterations, where
    Gershgorin's is 30 % too wide (30 % more Chebyshev terms). Each bound is intersected with
    :func:`gershgorin_bounds`. Cost ``2 * iterations`` sparse products.
    """
    csr = sp.csr_matrix(matrix)
    lower, upper = gershgorin_bounds(csr)
    diagonal = np.real(csr.diagonal())
    hopping = abs(csr - sp.diags(csr.diagonal())).tocsr()
    for sign in (1.0, -1.0):
        # sign = +1: M = D + |V| bounds the top; sign = -1: M = -D + |V| bounds -bottom.
        operator = sp.csr_matrix(sp.diags(sign * diagonal) + hopping)
        shift = float(np.min(sign * diagonal))
        vector = np.ones(csr.shape[0])
        for _ in range(iterations):
            product = operator @ vector - shift * vector
            top = float(np.max(product))
            if not (np.isfinite(top) and top > 0):
                break  # M = shift * 1 on this vector: the last positive one is as good
            vector = product / top
        if not (np.all(np.isfinite(vector)) and np.all(vector > 0)):
            continue
        bound = float(np.max((operator @ vector) / vector))
        if sign > 0:
            upper = min(upper, bound)
        else:
            lower = max(lower, -bound)
    return lower, upper


def chebyshev_coefficients(z: float, *, tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """Coefficients (2 - delta_j0) (-i)^j J_j(z) of exp(-i z x) = sum_j c_j T_j(x), cut at D.

    D is the smallest order with sum_{j >= D} |c_j| <= ``tolerance`` (at least 1). Shape
    ``(D,)``, complex. ``z = a t >= 0``. Cost O(z) Bessel evaluations.
    """
    if not (np.isfinite(z) and z >= 0):
        raise ConfigError(f"the Chebyshev argument a * t must be finite and >= 0, got {z}")
    # J_j(z) is below 1e-30 beyond z + 12 z^(1/3) + 60 (its Airy transition is ~z^(1/3) wide).
    orders = np.arange(int(np.ceil(z + 12.0 * np.cbrt(z) + 60.0)) + 1)
    bessel = jv(orders, z)
    weights = np.where(orders == 0, 1.0, 2.0)
    magnitudes = weights * np.abs(bessel)
    tails = np.cumsum(magnitudes[::-1])[::-1]
    degree = max(1, int(np.argmax(tails <= tolerance)) if tails[-1] <= tolerance else orders.size)
    return weights[:degree] * _POWERS_OF_MINUS_I[orders[:degree] % 4] * bessel[:degree]


def chebyshev_degree(z: float, *, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Number of sparse products D for the argument ``z = a t``: ``len(chebyshev_coefficients)``."""
    return int(chebyshev_coefficients(z, tolerance=tolerance).size)


class ChebyshevPropagator:
    """exp(-i H t) on vectors for one sparse Hermitian ``matrix`` H of shape ``(d, d)``.

    Parameters
    ----------
    matrix : sparse Hermitian H (real or complex); kept rescaled as CSR, 2 (H - b) / a.
    bounds : ``(lower, upper)`` enclosing the spectrum; default :func:`spectral_bounds`.
    tolerance : series truncation, relative to the state norm.

    Memory: one CSR copy of H (12 bytes per nonzero when real) plus the work arrays of a call,
    stated in each method.
    """

    def __init__(
        self,
        matrix: sp.spmatrix | sp.sparray,
        *,
        bounds: tuple[float, float] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        csr = sp.csr_matrix(matrix)
        if csr.shape[0] != csr.shape[1]:
            raise ConfigError(f"need a square matrix, got shape {csr.shape}")
        if not (np.isfinite(tolerance) and 0 < tolerance < 1):
            raise ConfigError(f"tolerance must lie in (0, 1), got {tolerance}")
        lower, upper = spectral_bounds(csr) if bounds is None else bounds
        if not (np.isfinite(lower) and np.isfinite(upper) and lower <= upper):
            raise ConfigError(f"spectral bounds must be finite with lower <= upper, got {bounds}")
        margin = BOUND_MARGIN * max(1.0, abs(lower), abs(upper))
        self.dimension = int(csr.shape[0])
        self.centre = 0.5 * (lower + upper)
        self.half_width = 0.5 * (upper - lower) + margin
        if np.isrealobj(csr.data) or not np.any(np.imag(csr.data)):
            csr = sp.csr_matrix(csr.real)
        shifted = csr - self.centre * sp.identity(self.dimension, dtype=csr.dtype, format="csr")
        # Scaled by 2 so that the recurrence is T_{j+1} = S T_j - T_{j-1} with S = 2 H'.
        self._scaled = sp.csr_matrix(shifted * (2.0 / self.half_width))
        self._scaled.sort_indices()
        self._scaled_complex: sp.csr_matrix | None = None
        self.tolerance = float(tolerance)

    @property
    def is_real(self) -> bool:
        """True when H is real (then real vectors stay real in the recurrence)."""
        return not np.iscomplexobj(self._scaled.data)

    def degree(self, duration: float) -> int:
        """Sparse products needed to evolve for ``duration``: D(a |duration|)."""
        return chebyshev_degree(self.half_width * abs(duration), tolerance=self.tolerance)

    def _coefficients(self, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficient matrix ``(D_max, K)`` (zero beyond each column's degree) and degrees."""
        series = [
            chebyshev_coefficients(self.half_width * float(t), tolerance=self.tolerance)
            for t in durations
        ]
        degrees = np.array([c.size for c in series], dtype=np.int64)
        table = np.zeros((int(degrees.max(initial=1)), durations.size), dtype=complex)
        for k, c in enumerate(series):
            table[: c.size, k] = c
        return table, degrees

    def _check_durations(self, durations: np.ndarray) -> np.ndarray:
        values = np.asarray(durations, dtype=float).reshape(-1)
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ConfigError("durations must be a non-empty list of finite times >= 0")
        return values

    def evolve(self, psi: np.ndarray, durations: np.ndarray) -> np.ndarray:
        """``exp(-i H durations[k]) psi`` for every k: one vector, many times; ``(d, K)``.

        One recurrence to the degree of the longest duration serves every duration; the
        recurrence vectors are gathered :data:`BUFFER_VECTORS` at a time and added to all K
        results with one matrix product. Cost D(a max t) sparse products plus
        O(d D K) dense work; memory ``(d, BUFFER_VECTORS + 2)`` vectors and the ``(d, K)``
        result. A real ``psi`` with a real H keeps the recurrence real.
        """
        durations = self._check_durations(durations)
        vector = np.asarray(psi).reshape(-1)
        if vector.size != self.dimension:
            raise ConfigError(f"psi has {vector.size} entries, the matrix {self.dimension}")
        table, degrees = self._coefficients(durations)
        real = self.is_real and np.isrealobj(vector)
        dtype = float if real else complex
        vector = vector.astype(dtype, copy=False)
        total = int(degrees.max())
        count = durations.size
        # Real recurrence vectors: one real product with [Re C | Im C] per flush.
        table = np.concatenate([table.real, table.imag], axis=1) if real else table
        result = np.zeros((self.dimension, table.shape[1]), dtype=table.dtype)
        # Fortran order keeps each buffered vector contiguous for the sparse products.
        buffer = np.empty((self.dimension, BUFFER_VECTORS), dtype=dtype, order="F")
        previous = vector
        current = vector
        for j in range(total):
            if j == 0:
                nxt = vector
            elif j == 1:
                nxt = 0.5 * self._product(vector)
            else:
                nxt = self._product(current)
                nxt -= previous
            slot = j % BUFFER_VECTORS
            buffer[:, slot] = nxt
            previous, current = current, buffer[:, slot]
            if slot == BUFFER_VECTORS - 1 or j == total - 1:
                start = j - slot
                result += buffer[:, : slot + 1] @ table[start : j + 1]
        if real:
            result = result[:, :count] + 1j * result[:, count:]
        return result * np.exp(-1j * self.centre * durations)[None, :]

    def _product(self, vectors: np.ndarray) -> np.ndarray:
        """``S @ vectors`` (S = 2 H'), picking the fastest form for the vectors' layout.

        Real vectors use the real CSR. Complex vectors with a real H: several columns are
        viewed as twice as many real ones (one real sparse-times-dense product); a single
        column goes through a complex copy of S, which scipy multiplies faster than a real CSR
        by a complex vector or by an ``(d, 2)`` real block.
        """
        if not np.iscomplexobj(vectors) or not self.is_real:
            return self._scaled @ vectors
        if vectors.ndim == 2 and vectors.shape[1] > 1:
            return (self._scaled @ vectors.view(float)).view(complex)
        if self._scaled_complex is None:
            self._scaled_complex = sp.csr_matrix(self._scaled, dtype=complex)
        return self._scaled_complex @ vectors

    def evolve_each(self, states: np.ndarray, durations: np.ndarray) -> np.ndarray:
        """``exp(-i H durations[k]) states[:, k]`` for every column k: ``(d, K)`` complex.

        The K recurrences run together as one sparse-times-dense product per order (a complex
        state of a real H as two real columns), longest first; a column leaves the product once
        its own degree is reached. Cost sum_k D(a t_k) column products (faster per column than
        separate products when several run together); memory about eight ``(d, K)`` complex
        arrays.
        """
        durations = self._check_durations(durations)
        block = np.asarray(states)
        if block.ndim != 2 or block.shape != (self.dimension, durations.size):
            raise ConfigError(
                f"states must have shape {(self.dimension, durations.size)}, got {block.shape}"
            )
        table, degrees = self._coefficients(durations)
        order = np.argsort(-degrees, kind="stable")
        table, degrees = np.ascontiguousarray(table[:, order]), degrees[order]
        result = np.empty((self.dimension, durations.size), dtype=complex)
        # Work arrays hold the active columns only (contiguous); a column's sum moves to
        # ``result`` when it leaves.
        current = np.ascontiguousarray(block[:, order], dtype=complex)
        previous = current
        accumulated = np.zeros_like(current)
        scratch = np.empty_like(current)
        active = current.shape[1]
        for j in range(int(degrees[0])):
            if degrees[active - 1] <= j:
                still = int(np.count_nonzero(degrees > j))
                result[:, still:active] = accumulated[:, still:active]
                active = still
                current = np.ascontiguousarray(current[:, :active])
                previous = np.ascontiguousarray(previous[:, :active])
                accumulated = np.ascontiguousarray(accumulated[:, :active])
                scratch = np.empty_like(accumulated)
            if j == 0:
                nxt = current
            elif j == 1:
                nxt = self._product(current)
                nxt *= 0.5
            else:
                nxt = self._product(current)
                nxt -= previous
            if j > 0:
                previous, current = current, nxt
            np.multiply(nxt, table[j, :active], out=scratch)
            accumulated += scratch
        result[:, :active] = accumulated
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return result[:, inverse] * np.exp(-1j * self.centre * durations)[None, :]
