"""Analysis of echo results: kept fractions, finite-size extrapolation, crossover, time fits.

Pure numerics on arrays (no I/O, no plotting), used by the scaling study
(:mod:`echo_lab.study.kinds.echo_scaling`) and its figures:

* :func:`kept_fraction`: the late-time mean of a trace divided by its initial value (what
  fraction of the l-bit coherence <tau^x_p> an echo keeps);
* :func:`ratio_of_means`: a disorder average of a ratio taken as the ratio of the averages
  (late-time coherence over initial coherence), with its delta-method standard error: robust
  where single realizations have an initial value near 0;
* :func:`extrapolate_in_size`: a weighted straight-line fit of a quantity against 1/N,
  k(N) = k_inf + c / N, with the error of k_inf and the residuals;
* :func:`crossover`: where a curve over W crosses a level (linear interpolation in log W);
* :func:`fit_plateau_approach`: how an echo approaches its late-time plateau, fitted with a
  power law, a logarithm and a stretched exponential, compared by their residuals;
* :func:`late_drift`: the slope of an echo against ln T after its initial drop, with its
  standard error (is a slow logarithmic dephasing resolved above the disorder noise?).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from echo_lab.errors import ConfigError

__all__ = [
    "LATE_FRACTION",
    "Drift",
    "PlateauFit",
    "SizeFit",
    "crossover",
    "extrapolate_in_size",
    "fit_plateau_approach",
    "kept_fraction",
    "late_drift",
    "ratio_of_means",
]

#: Late-time window: total times T >= LATE_FRACTION * T_max (the last decade of a log grid).
LATE_FRACTION = 0.1


def kept_fraction(
    traces: np.ndarray,
    initial: np.ndarray,
    times: np.ndarray,
    *,
    late_fraction: float = LATE_FRACTION,
) -> np.ndarray:
    """Mean of ``traces`` over T >= ``late_fraction`` * T_max, divided by ``initial``.

    ``traces`` has the time axis last (shape ``(..., K)``), ``initial`` broadcasts against
    ``traces[..., 0]`` (the value at T = 0); returns shape ``traces.shape[:-1]``. An initial
    value of 0 gives NaN (there is no coherence to keep).
    """
    times = np.asarray(times, dtype=float)
    if not 0 < late_fraction <= 1:
        raise ConfigError(f"late_fraction must lie in (0, 1], got {late_fraction}")
    late = times >= late_fraction * times.max()
    mean = np.mean(np.asarray(traces)[..., late], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(initial) != 0, mean / np.asarray(initial), np.nan)


def ratio_of_means(
    numerator: np.ndarray, denominator: np.ndarray, *, axis: int = -1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R = mean(a) / mean(b) over ``axis`` (pairs where both are finite), its standard error
    and the number of pairs: ``(R, sem, count)``, each of the shape without ``axis``.

    The error is the delta method's, sem(R) = std(a - R b) / (sqrt(m) |mean(b)|) for m pairs
    (NaN for m < 2). The kept fraction of a disorder ensemble is late-time <tau^x_p> summed
    over realizations divided by the initial <tau^x_p> summed: unlike the mean of per-realization
    ratios it is not dominated by the realizations whose initial value is close to 0.
    """
    a = np.moveaxis(np.asarray(numerator, dtype=float), axis, -1)
    b = np.moveaxis(
        np.broadcast_to(np.asarray(denominator, dtype=float), np.shape(numerator)), axis, -1
    )
    valid = np.isfinite(a) & np.isfinite(b)
    a, b = np.where(valid, a, 0.0), np.where(valid, b, 0.0)
    count = valid.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = a.sum(-1) / count, b.sum(-1) / count
        ratio = mean_a / mean_b
        residual = np.where(valid, a - ratio[..., None] * b, 0.0)
        variance = (residual**2).sum(-1) / (count - 1)
        sem = np.sqrt(variance / count) / np.abs(mean_b)
    sem = np.where(count >= 2, sem, np.nan)
    return ratio, sem, count


@dataclass(frozen=True)
class SizeFit:
    """k(N) = k_inf + slope / N fitted to means at sizes N (weights 1 / error^2)."""

    k_inf: float
    k_inf_error: float
    slope: float
    sizes: tuple[int, ...]
    residuals: tuple[float, ...]
    chi2: float

    form = "k(N) = k_inf + c / N (weighted least squares in 1/N)"

    def __call__(self, n: float) -> float:
        return self.k_inf + self.slope / n


def extrapolate_in_size(
    sizes: np.ndarray, values: np.ndarray, errors: np.ndarray | None = None
) -> SizeFit:
    """Fit ``values`` (means at chain lengths ``sizes``) with k_inf + c / N; ``errors`` are
    their standard errors (equal weights without). Needs at least two sizes; with exactly two
    the fit passes through both and the chi^2 is 0. k_inf_error is the standard error of the
    intercept, scaled by sqrt(chi^2 / dof) when that exceeds 1 (scatter beyond the error bars).
    """
    n = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    sigma = np.ones_like(y) if errors is None else np.asarray(errors, dtype=float)
    keep = np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
    n, y, sigma = n[keep], y[keep], sigma[keep]
    if np.unique(n).size < 2:
        nan = math.nan
        return SizeFit(nan, nan, nan, tuple(int(v) for v in n), (), nan)
    design = np.column_stack([np.ones_like(n), 1.0 / n]) / sigma[:, None]
    solution, *_ = np.linalg.lstsq(design, y / sigma, rcond=None)
    covariance = np.linalg.inv(design.T @ design)
    residuals = y - (solution[0] + solution[1] / n)
    chi2 = float(np.sum((residuals / sigma) ** 2))
    dof = n.size - 2
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    return SizeFit(
        k_inf=float(solution[0]),
        k_inf_error=float(np.sqrt(covariance[0, 0] * scale)),
        slope=float(solution[1]),
        sizes=tuple(int(v) for v in n),
        residuals=tuple(float(r) for r in residuals),
        chi2=chi2,
    )


def crossover(x: np.ndarray, values: np.ndarray, level: float = 0.5) -> float:
    """The smallest x at which ``values`` (sorted by x > 0) cross ``level`` upwards, by linear
    interpolation in log x; NaN when they never cross (all above or all below)."""
    x = np.asarray(x, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(x)
    x, v = x[order], v[order]
    for k in range(x.size - 1):
        a, b = v[k] - level, v[k + 1] - level
        if np.isfinite(a) and np.isfinite(b) and a < 0 <= b:
            fraction = -a / (b - a)
            return float(np.exp(np.log(x[k]) + fraction * (np.log(x[k + 1]) - np.log(x[k]))))
    return math.nan


@dataclass(frozen=True)
class PlateauFit:
    """One fitted form of the approach to the plateau: its name, formula, parameters (in the
    formula's order) and residual rms."""

    name: str
    form: str
    parameters: dict[str, float]
    rms: float

    def evaluate(self, times: np.ndarray) -> np.ndarray:
        """The fitted curve at ``times`` (T > 0)."""
        function = _FORMS[self.name][0]
        return np.asarray(function(np.asarray(times, dtype=float), *self.parameters.values()))


def _power_law(t: np.ndarray, plateau: float, amplitude: float, alpha: float) -> np.ndarray:
    return plateau + amplitude * t ** (-alpha)


def _logarithm(t: np.ndarray, offset: float, slope: float) -> np.ndarray:
    return offset - slope * np.log(t)


def _stretched(
    t: np.ndarray, plateau: float, amplitude: float, scale: float, beta: float
) -> np.ndarray:
    return plateau + amplitude * np.exp(-((t / scale) ** beta))


_FORMS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...], str]] = {
    "power law": (_power_law, ("plateau", "amplitude", "alpha"), "k_inf + A T^-alpha"),
    "logarithm": (_logarithm, ("offset", "slope"), "a - b ln T"),
    "stretched exponential": (
        _stretched,
        ("plateau", "amplitude", "scale", "beta"),
        "k_inf + A exp(-(T / tau)^beta)",
    ),
}


def fit_plateau_approach(times: np.ndarray, values: np.ndarray) -> dict[str, PlateauFit]:
    """Fit the disorder-averaged echo ``values(T)`` (T > 0) with each form of :data:`_FORMS`.

    Returns the fits that converged, by name; ``rms`` is the root-mean-square residual, so the
    smallest rms (with the fewest parameters on a tie) is the best description. Forms whose fit
    fails (too few points, no convergence) are left out.
    """
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = (t > 0) & np.isfinite(v)
    t, v = t[keep], v[keep]
    starts = {
        "power law": (float(v[-1]), float(v[0] - v[-1]), 0.5),
        "logarithm": (float(v[0]), 0.01),
        "stretched exponential": (float(v[-1]), float(v[0] - v[-1]), float(np.median(t)), 0.5),
    }
    bounds = {
        "power law": ([-2.0, -10.0, 0.0], [2.0, 10.0, 5.0]),
        "logarithm": ([-np.inf, -np.inf], [np.inf, np.inf]),
        "stretched exponential": ([-2.0, -10.0, 1e-6, 0.05], [2.0, 10.0, 1e12, 3.0]),
    }
    fits = {}
    for name, (function, parameters, form) in _FORMS.items():
        if t.size <= len(parameters):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                values_fit, _ = curve_fit(
                    function, t, v, p0=starts[name], bounds=bounds[name], maxfev=20000
                )
        except (RuntimeError, ValueError):
            continue
        rms = float(np.sqrt(np.mean((function(t, *values_fit) - v) ** 2)))
        fitted = dict(zip(parameters, map(float, values_fit), strict=True))
        fits[name] = PlateauFit(name, form, fitted, rms)
    return fits


@dataclass(frozen=True)
class Drift:
    """A straight line v = offset + slope ln T over T >= ``start``: slope per e-fold of T."""

    slope: float
    slope_error: float
    offset: float
    start: float
    points: int


def late_drift(
    times: np.ndarray, values: np.ndarray, *, start: float, errors: np.ndarray | None = None
) -> Drift:
    """Fit ``values`` at ``times >= start`` with offset + slope ln T (weights 1 / errors^2).

    The error of the slope is the least-squares one, scaled up by sqrt(chi^2 / dof) when the
    scatter exceeds ``errors`` (or estimated from the scatter without them). Dephasing through
    l-bit couplings J_pq ~ exp(-|p - q| / xi) acts on a ln T scale (one more neighbour every
    xi ln 2 of ln T), so a slope compatible with 0 means it is below the resolution.
    """
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    sigma = np.ones_like(v) if errors is None else np.asarray(errors, dtype=float)
    keep = (t >= start) & np.isfinite(v) & np.isfinite(sigma) & (sigma > 0)
    t, v, sigma = t[keep], v[keep], sigma[keep]
    if t.size < 3:
        raise ConfigError(
            f"late_drift needs at least 3 times >= {start:g}, got {t.size}: start earlier"
        )
    design = np.column_stack([np.ones_like(t), np.log(t)]) / sigma[:, None]
    solution, *_ = np.linalg.lstsq(design, v / sigma, rcond=None)
    covariance = np.linalg.inv(design.T @ design)
    chi2 = float(np.sum(((v - design @ solution * sigma) / sigma) ** 2))
    dof = t.size - 2
    scale = chi2 / dof if errors is None else max(1.0, chi2 / dof)
    return Drift(
        slope=float(solution[1]),
        slope_error=float(np.sqrt(covariance[1, 1] * scale)),
        offset=float(solution[0]),
        start=float(start),
        points=int(t.size),
    )
