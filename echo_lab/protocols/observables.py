"""Echo observables and their analysis: probe operators, coherence, disorder averages, fits.

* :func:`probe_observables` the operators a backend measures on the probe site
(docs/pages/conventions.md 6);
* :func:`coherence` C = sqrt(<sigma^x_p>^2 + <sigma^y_p>^2);
* :func:`disorder_summary` mean, standard error and typical value over realizations;
* :func:`fit_deer_coupling` |J_pq| from a DEER trace;
* :func:`entropy_log_slope` dS / d ln t over a time window (log growth vs saturation, section 7).

All functions are pure numerics on arrays; none does I/O.
"""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize_scalar

from echo_lab.dynamics.readouts import Operator
from echo_lab.errors import ConfigError
from echo_lab.lbits.source import LBitSource

__all__ = [
    "coherence",
    "disorder_summary",
    "entropy_log_slope",
    "fit_deer_coupling",
    "probe_observables",
]

#: Frequency-grid oversampling of :func:`fit_deer_coupling`: grid step = pi / (OVERSAMPLE T_max).
OVERSAMPLE = 20


def probe_observables(
    n: int, probe: int, *, source: LBitSource | None = None, axes: tuple[str, ...] = ("x", "y")
) -> dict[str, Operator]:
    """Operators measured on the probe site ``probe`` of an ``n``-qubit system.

    ``"sx"``, ``"sy"``: sigma^x_p, sigma^y_p as ``SparsePauliOp``. With an l-bit ``source`` (any
    :class:`~echo_lab.lbits.source.LBitSource` of this chain holding the probe's l-bit) also
    ``"tau_x"``, ``"tau_y"``: ``source.tau_observable(axis, probe)``. For exact l-bits
    (:class:`~echo_lab.lbits.LBitSystem`) these are the dense ``2^n x 2^n`` operators (16 * 4^n
    bytes each) for n <= :data:`~echo_lab.dynamics.pulses.DENSE_LBIT_QUBITS`, above a
    ``LinearOperator`` applied block by block (two basis changes per use, no 4^n memory), which
    the exact and Krylov backends accept; for circuit and window l-bits a
    :class:`~echo_lab.dynamics.readouts.RotatedPauli` (the readout circuit U^dag on p's light cone
    or window, then X_p / Y_p), any n. ``axes`` limits the probe operators to those axes
    (``("x",)``: ``"sx"`` and ``"tau_x"`` only, which spares building tau^y).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of sites n must be an integer >= 1, got {n!r}")
    if not 0 <= probe < n:
        raise ConfigError(f"probe site {probe} is outside the chain 0..{n - 1}")
    unknown = [axis for axis in axes if axis not in ("x", "y")]
    if unknown or not axes:
        raise ConfigError(f"probe axes must be a non-empty subset of ('x', 'y'), got {axes!r}")
    out: dict[str, Operator] = {
        f"s{axis}": SparsePauliOp.from_sparse_list([(axis.upper(), [probe], 1.0)], n)
        for axis in axes
    }
    if source is not None:
        if source.n != n:
            raise ConfigError(
                f"the {source.method} l-bits have {source.n} sites, the system {n}: they belong "
                "to another chain"
            )
        source.check_site(probe)
        for axis in axes:
            out[f"tau_{axis}"] = source.tau_observable(axis, probe)
    return out


def coherence(sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """C = sqrt(sx^2 + sy^2), elementwise; same shape as the (broadcast) inputs."""
    return np.hypot(np.asarray(sx, dtype=float), np.asarray(sy, dtype=float))


def disorder_summary(values: np.ndarray, *, axis: int = 0) -> dict[str, np.ndarray]:
    """Mean, standard error and typical value over the realizations along ``axis``.

    Returns arrays with ``axis`` removed:

    * ``"mean"``;
    * ``"sem"``: sample standard deviation (ddof = 1) / sqrt(R) for R realizations; NaN when
      R = 1 (no spread can be estimated from one sample);
    * ``"typical"``: exp(mean log |x|). An exact zero makes it 0 (the geometric mean of a set
      containing 0), without a warning; signs are dropped (|x|), so pass a quantity whose
      magnitude is meant (a coherence, |<sigma^x>|).

    Raises :class:`ConfigError` for NaN / infinite values or an empty realization axis.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        raise ConfigError("disorder_summary needs an array with a realization axis")
    if not -arr.ndim <= axis < arr.ndim:
        raise ConfigError(f"axis {axis} is out of range for an array of {arr.ndim} dimensions")
    count = arr.shape[axis]
    if count == 0:
        raise ConfigError("disorder_summary needs at least one realization")
    if not np.all(np.isfinite(arr)):
        raise ConfigError("disorder_summary got NaN or infinite values; check the runs first")
    mean = np.mean(arr, axis=axis)
    if count > 1:
        sem = np.std(arr, axis=axis, ddof=1) / np.sqrt(count)
    else:
        sem = np.full(mean.shape, np.nan)
    magnitude = np.abs(arr)
    with np.errstate(divide="ignore"):
        logs = np.log(magnitude)
    typical = np.exp(np.mean(logs, axis=axis))
    return {"mean": np.asarray(mean), "sem": np.asarray(sem), "typical": np.asarray(typical)}


def _harmonic_residual(
    omega: float, times: np.ndarray, signal: np.ndarray
) -> tuple[float, np.ndarray]:
    """Least-squares residual of signal ~ a cos(omega T) + b sin(omega T) + c, and (a, b, c)."""
    design = np.column_stack([np.cos(omega * times), np.sin(omega * times), np.ones_like(times)])
    coeffs, *_ = np.linalg.lstsq(design, signal, rcond=None)
    residual = signal - design @ coeffs
    return float(residual @ residual), coeffs


def fit_deer_coupling(
    times: np.ndarray, signal: np.ndarray, *, max_coupling: float | None = None
) -> float:
    """|J_pq| from a DEER trace ``signal`` at **total** times ``times`` (T = 2t).

    With exact l-bit pulses the probe l-bit's phase at total time T = 2t is
    4 t z_q (J_pq + ...) = 2 T z_q (J_pq + ...), so the trace oscillates as cos(omega T) with
    omega = 2 |J_pq|, i.e. cos(4 J_pq t) in the half time t. Only |J_pq| is measurable (the cosine
    is even). Model: a cos(omega T) + b sin(omega T) + c, linear in (a, b, c) for each omega;
    omega is scanned on a grid of step pi / (20 T_max) from pi / (2 T_max) up to pi / dT, the
    Nyquist frequency of the median time step dT (or up to 2 ``max_coupling``), and the best grid
    point is refined by a bounded 1-D minimization of the residual. Cost: about
    20 len(times)^2 T_max / (T_max - T_min) operations.

    Valid when the trace covers several periods, |J_pq| T_max >> 1 (T_max = max(times)), and the
    higher-order terms through p and q (K_pqk, ...) are small against J_pq so that one frequency
    dominates; with a comparable K_pqk the trace beats and the fit returns the strongest line.
    """
    t = np.asarray(times, dtype=float)
    y = np.asarray(signal, dtype=float)
    if t.ndim != 1 or t.shape != y.shape:
        raise ConfigError(
            f"times and signal must be 1-D arrays of the same length, got {t.shape} and {y.shape}"
        )
    if t.size < 8:
        raise ConfigError(f"a DEER fit needs at least 8 time points, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ConfigError("times and signal must be finite")
    t_max = float(np.max(t))
    if t_max <= 0:
        raise ConfigError("the DEER times must include a positive total time")
    omega_max = np.pi / float(np.median(np.diff(np.unique(t))))
    if max_coupling is not None:
        if not (np.isfinite(max_coupling) and max_coupling > 0):
            raise ConfigError(f"max_coupling must be positive, got {max_coupling}")
        omega_max = min(omega_max, 2.0 * float(max_coupling))
    omega_min = 0.5 * np.pi / t_max
    if omega_max <= omega_min:
        raise ConfigError(
            "the time grid is too short or too coarse to resolve any oscillation: extend it to "
            "several periods, |J_pq| T_max >> 1"
        )
    step = np.pi / (OVERSAMPLE * t_max)
    grid = np.arange(omega_min, omega_max + step, step)
    residuals = np.array([_harmonic_residual(w, t, y)[0] for w in grid])
    best = int(np.argmin(residuals))
    lower = grid[max(best - 1, 0)]
    upper = grid[min(best + 1, grid.size - 1)]
    refined = minimize_scalar(
        lambda w: _harmonic_residual(float(w), t, y)[0],
        bounds=(lower, upper),
        method="bounded",
        options={"xatol": 1e-10 * max(upper, 1.0)},
    )
    omega = float(refined.x) if refined.fun <= residuals[best] else float(grid[best])
    return 0.5 * omega


def entropy_log_slope(
    times: np.ndarray, entropy: np.ndarray, *, t_min: float, t_max: float
) -> float:
    """Slope dS / d ln t of a least-squares line through (ln t, S) for t_min <= t <= t_max.

    ``times`` and ``entropy`` are 1-D of the same length (e.g. a disorder-averaged S(t)). Log
    growth S ~ s_inf xi ln(J0 t) gives slope s_inf xi; saturation gives ~0. Needs t_min > 0 and
    at least two times in the window.
    """
    t = np.asarray(times, dtype=float)
    s = np.asarray(entropy, dtype=float)
    if t.ndim != 1 or t.shape != s.shape:
        raise ConfigError(
            f"times and entropy must be 1-D arrays of the same length, got {t.shape} and {s.shape}"
        )
    if not (0 < t_min < t_max):
        raise ConfigError(f"need 0 < t_min < t_max, got t_min = {t_min}, t_max = {t_max}")
    inside = (t >= t_min) & (t <= t_max)
    if np.count_nonzero(inside) < 2:
        raise ConfigError(
            f"only {np.count_nonzero(inside)} time(s) lie in [{t_min}, {t_max}]; widen the window"
        )
    slope, _ = np.polyfit(np.log(t[inside]), s[inside], 1)
    return float(slope)
