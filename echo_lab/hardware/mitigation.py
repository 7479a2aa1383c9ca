"""Error mitigation of device echoes: twirling, readout mitigation, ZNE, compute-uncompute.

The first three run through qiskit-ibm-runtime's client-side (executor-based) ``Estimator`` with
the line's Aer simulator as its backend (``mode``), which really applies them offline: every
twirling randomization, folded circuit and readout-calibration circuit is simulated with the
device noise. (The legacy local ``EstimatorV2`` of qiskit-ibm-runtime ignores resilience options
offline: measured, resilience levels 0 and 2 return the same value, 0.695, where ZNE gives
0.96.) What each option turns on (:func:`estimator_options`):

* ``twirling``: Pauli twirling of the two-qubit gate layers and of the measurements, with
  ``randomizations`` random samples sharing the shots (group ``local_pauli`` on devices with
  fractional gates: a non-Clifford ``rzz`` is twirled only by the Paulis that commute with it);
* ``readout``: twirled readout-error extinction (TREX), calibrated on the same simulator;
* ``zne``: zero-noise extrapolation by two-qubit gate folding at ``noise_factors`` (default
  1, 3, 5). The runtime returns the value at every noise factor; echo_lab fits them itself
  (:func:`fit_zero_noise`) with each of ``extrapolators``: ``exponential`` A exp(-x / tau) and
  ``linear`` a + b x, weighted by the measured standard errors, and propagates those errors
  (``absolute_sigma``) to the value at zero noise. The runtime's own fit errors are rescaled by
  the residuals of a fit with one degree of freedom, and without twirling they are computed from
  the per-shot spread instead of the standard error (measured: 0.97 where the shot error is
  0.007), so they are not used. The mitigated value is the first extrapolator whose fit succeeds;
* ``normalize`` (echo_lab's own, :func:`normalize_echo`): the echo divided by the noise-only
  decay measured on the compute-uncompute reference circuit
  (:func:`echo_lab.hardware.circuits.reference_circuit`), the reference measured the same way.

Unmitigated ("raw") values come from the same estimator at resilience level 0 (no twirling, no
mitigation): plain shots on the noisy simulator.

Cost: the raw run simulates each circuit once (density matrix) or ``shots`` times (trajectories).
Twirling multiplies the density-matrix cost by ``randomizations`` (trajectories: no extra
simulation, the shots are only split), ZNE by sum(noise_factors) / 1 in two-qubit gates
(9 for 1, 3, 5), TREX adds calibration circuits. Measured costs per circuit:
experiments/benchmarks/hardware_mitigation.json.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from echo_lab.errors import ConfigError, NumericalError
from echo_lab.hardware import hardware_missing

try:
    from qiskit_ibm_runtime.executor_estimator import Estimator
except ImportError:
    raise hardware_missing() from None

__all__ = [
    "EXTRAPOLATORS",
    "MITIGATIONS",
    "Estimates",
    "MitigationSpec",
    "estimator_options",
    "extrapolate",
    "fit_zero_noise",
    "normalize_echo",
    "raw_options",
    "run_estimates",
]

#: Mitigation names accepted by :meth:`MitigationSpec.from_names`.
MITIGATIONS = ("twirling", "readout", "zne", "normalize")
#: ZNE fits echo_lab asks the runtime for (its names).
EXTRAPOLATORS = ("exponential", "linear")
#: Gate angles of twirled circuits are rounded by the runtime's simulator to multiples of
#: pi/2 * 10^-decimals; its default of 5 decimals moves every angle by up to 8e-6 rad.
ANGLE_DECIMALS = 12
#: A reference value within this many standard errors of 0 cannot normalize anything.
NORMALIZE_MIN_SIGMAS = 2.0


#: Twirling samples of a mitigated run unless told otherwise (they share the shots).
DEFAULT_RANDOMIZATIONS = 16


@dataclass(frozen=True)
class MitigationSpec:
    """Which mitigations to apply and their settings (module docstring)."""

    twirling: bool = False
    readout: bool = False
    zne: bool = False
    normalize: bool = False
    noise_factors: tuple[float, ...] = (1.0, 3.0, 5.0)
    extrapolators: tuple[str, ...] = EXTRAPOLATORS
    randomizations: int = DEFAULT_RANDOMIZATIONS

    def __post_init__(self) -> None:
        factors = tuple(float(f) for f in self.noise_factors)
        object.__setattr__(self, "noise_factors", factors)
        if len(factors) < 2 or any(not f >= 1.0 for f in factors) or factors[0] != 1.0:
            raise ConfigError(
                f"ZNE noise_factors must start at 1 and hold at least two factors >= 1, got "
                f"{list(factors)}"
            )
        if sorted(factors) != list(factors) or len(set(factors)) != len(factors):
            raise ConfigError(f"ZNE noise_factors must increase, got {list(factors)}")
        object.__setattr__(self, "extrapolators", tuple(self.extrapolators))
        unknown = [e for e in self.extrapolators if e not in EXTRAPOLATORS]
        if unknown or not self.extrapolators:
            raise ConfigError(
                f"unknown ZNE extrapolators {unknown or '[]'}; choose from {list(EXTRAPOLATORS)}"
            )
        if isinstance(self.randomizations, bool) or not isinstance(self.randomizations, int):
            raise ConfigError(f"randomizations must be an integer, got {self.randomizations!r}")
        if self.randomizations < 1:
            raise ConfigError(f"randomizations must be >= 1, got {self.randomizations}")

    @classmethod
    def from_names(cls, names: Sequence[str], **settings: Any) -> MitigationSpec:
        """Spec from names such as ``("twirling", "readout", "zne", "normalize")``."""
        if isinstance(names, str):
            names = (names,)
        unknown = [name for name in names if name not in MITIGATIONS]
        if unknown:
            raise ConfigError(f"unknown mitigation {unknown}; choose from {list(MITIGATIONS)}")
        switches: dict[str, Any] = {name: True for name in names}
        return cls(**switches, **settings)

    @property
    def uses_estimator_mitigation(self) -> bool:
        """True when the runtime's estimator mitigates (twirling, readout or ZNE)."""
        return self.twirling or self.readout or self.zne

    @property
    def names(self) -> tuple[str, ...]:
        """The mitigations switched on, in :data:`MITIGATIONS` order."""
        return tuple(name for name in MITIGATIONS if getattr(self, name))


def raw_options(*, shots: int, seed: int | None) -> dict[str, Any]:
    """Estimator options of an unmitigated run: resilience level 0, ``shots`` per circuit."""
    return {
        "resilience_level": 0,
        "default_shots": int(shots),
        "twirling": {"enable_gates": False, "enable_measure": False},
        "simulator": {"seed_simulator": seed, "angle_decimals": ANGLE_DECIMALS},
    }


def estimator_options(
    spec: MitigationSpec, *, shots: int, fractional_gates: bool, seed: int | None
) -> dict[str, Any]:
    """Estimator options of the mitigated run of ``spec`` (module docstring).

    Twirled runs spread ``shots`` over ``spec.randomizations`` samples (rounded up to whole shots
    per sample). TREX forces measurement twirling (the runtime's rule).
    """
    twirled = spec.twirling or spec.readout
    randomizations = spec.randomizations if twirled else 1
    twirling: dict[str, Any] = {"enable_gates": spec.twirling}
    if spec.twirling:
        twirling["enable_measure"] = True
    if twirled:
        twirling.update(
            num_randomizations=randomizations,
            shots_per_randomization=max(1, math.ceil(shots / randomizations)),
            group="local_pauli" if fractional_gates else "pauli",
        )
    resilience: dict[str, Any] = {"measure_mitigation": spec.readout, "zne_mitigation": spec.zne}
    if spec.zne:
        resilience["zne"] = {
            "amplifier": "gate_folding",
            "noise_factors": list(spec.noise_factors),
            "extrapolator": list(spec.extrapolators),
        }
    return {
        "resilience_level": 0,
        "default_shots": int(shots),
        "twirling": twirling,
        "resilience": resilience,
        "simulator": {"seed_simulator": seed, "angle_decimals": ANGLE_DECIMALS},
    }


@dataclass(frozen=True)
class Estimates:
    """Estimator results of P circuits and M observables.

    ``values``, ``stderr``: shape ``(P, M)`` (mitigated when the run mitigated; with ZNE the first
    extrapolation that succeeded, NaN if none did). With ZNE also ``noise_factor_values`` /
    ``noise_factor_stderr``, shape ``(P, M, F)``, and ``extrapolated`` / ``extrapolated_stderr`` /
    ``chi2``, shape ``(P, M, E)``: each extrapolator's value at zero noise, its standard error and
    its fit's chi^2 (NaN where the fit failed).
    """

    values: np.ndarray
    stderr: np.ndarray
    noise_factor_values: np.ndarray | None = None
    noise_factor_stderr: np.ndarray | None = None
    extrapolated: np.ndarray | None = None
    extrapolated_stderr: np.ndarray | None = None
    chi2: np.ndarray | None = None


def _linear(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return a + b * x


def _exponential(x: np.ndarray, amplitude: float, rate: float) -> np.ndarray:
    return amplitude * np.exp(-rate * x)


def fit_zero_noise(
    factors: np.ndarray, values: np.ndarray, stderr: np.ndarray, *, model: str
) -> tuple[float, float, float]:
    """Weighted fit of ``values`` (+- ``stderr``) at noise ``factors``; its value at zero noise.

    ``model`` is ``"linear"`` (a + b x) or ``"exponential"`` (A exp(-r x), r >= 0, started from
    a log-linear fit of |values|; it needs values of one sign). Returns ``(value, stderr, chi2)``,
    the standard error propagated from the measured ``stderr`` (covariance with
    ``absolute_sigma=True``); NaNs when the fit fails. Cost: one small ``curve_fit``.
    """
    from scipy.optimize import curve_fit

    x, y = np.asarray(factors, float), np.asarray(values, float)
    sigma = np.maximum(np.asarray(stderr, float), 1e-12)
    failed = (math.nan, math.nan, math.nan)
    bounds: Any
    func: Any
    if model == "linear":
        func, p0, bounds = _linear, [float(y[0]), 0.0], (-np.inf, np.inf)
    elif model == "exponential":
        if not (np.all(y > 0) or np.all(y < 0)):
            return failed
        slope, intercept = np.polyfit(x, np.log(np.abs(y)), 1)
        p0 = [float(np.sign(y[0]) * np.exp(intercept)), max(float(-slope), 0.0)]
        func, bounds = _exponential, ([-np.inf, 0.0], [np.inf, np.inf])
    else:
        raise ConfigError(f"unknown ZNE model {model!r}; choose from {list(EXTRAPOLATORS)}")
    try:
        popt, pcov = curve_fit(func, x, y, p0=p0, sigma=sigma, absolute_sigma=True, bounds=bounds)
    except (RuntimeError, ValueError):
        return failed
    # Both models are their first parameter at x = 0.
    variance = float(pcov[0, 0])
    chi2 = float(np.sum(((func(x, *popt) - y) / sigma) ** 2))
    if not (np.isfinite(variance) and variance >= 0):
        return failed
    return float(popt[0]), math.sqrt(variance), chi2


def run_estimates(
    pubs: Sequence[tuple[Any, Sequence[Any]]], simulator: Any, *, options: dict[str, Any]
) -> Estimates:
    """Run ``pubs`` = [(ISA circuit, [observables...]), ...] through the executor estimator.

    ``simulator`` is the line's Aer simulator (:meth:`DeviceLine.simulator`); ``options`` from
    :func:`raw_options` or :func:`estimator_options`. All pubs go in one ``run`` call.
    """
    if not pubs:
        raise ConfigError("nothing to estimate: no circuits")
    estimator = Estimator(mode=simulator, options=options)
    results = estimator.run([(qc, list(ops)) for qc, ops in pubs]).result()
    values = np.array([np.asarray(r.data.evs, dtype=float) for r in results])
    stderr = np.array([np.asarray(r.data.stds, dtype=float) for r in results])
    if "evs_noise_factors" not in results[0].data:
        if not np.all(np.isfinite(values)):
            raise NumericalError("the estimator returned non-finite expectation values")
        return Estimates(values, stderr)
    # Without twirling the runtime's stds_noise_factors is the per-shot spread; the shot-noise
    # standard error is its ensemble field. With twirling the spread over samples is the error.
    twirled = "num_randomizations" in options.get("twirling", {})
    key = "stds_noise_factors" if twirled else "ensemble_stds_noise_factors"
    noise_values = np.array([np.asarray(r.data.evs_noise_factors, float) for r in results])
    noise_stderr = np.array([np.asarray(r.data[key], float) for r in results])
    return extrapolate(noise_values, noise_stderr, options["resilience"]["zne"])


def extrapolate(
    noise_values: np.ndarray, noise_stderr: np.ndarray, zne: dict[str, Any]
) -> Estimates:
    """:class:`Estimates` from values at the noise factors, shape ``(P, M, F)``, by
    :func:`fit_zero_noise` with each of ``zne["extrapolator"]`` at ``zne["noise_factors"]``."""
    factors = np.asarray(zne["noise_factors"], float)
    models = list(zne["extrapolator"])
    shape = noise_values.shape[:2]
    fits = np.full((*shape, len(models), 3), np.nan)
    for index in np.ndindex(*shape):
        for e, model in enumerate(models):
            fits[(*index, e)] = fit_zero_noise(
                factors, noise_values[index], noise_stderr[index], model=model
            )
    values = np.full(shape, np.nan)
    stderr = np.full(shape, np.nan)
    for e in reversed(range(len(models))):
        ok = np.isfinite(fits[..., e, 0])
        values = np.where(ok, fits[..., e, 0], values)
        stderr = np.where(ok, fits[..., e, 1], stderr)
    return Estimates(
        values,
        stderr,
        noise_factor_values=noise_values,
        noise_factor_stderr=noise_stderr,
        extrapolated=fits[..., 0],
        extrapolated_stderr=fits[..., 1],
        chi2=fits[..., 2],
    )


def normalize_echo(
    echo: np.ndarray,
    echo_stderr: np.ndarray,
    reference: np.ndarray,
    reference_stderr: np.ndarray,
    ideal_reference: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Echo divided by the noise-only decay f = reference / ideal_reference, with its error.

    All arrays broadcast together. Returns ``(echo / f, stderr)`` with the standard errors of
    echo and reference propagated to first order:
    stderr^2 = (g echo_stderr)^2 + (g echo reference_stderr / reference)^2, g = ideal / reference.
    NaN where the reference lies within 2 standard errors of 0 or the ideal reference is 0 (the
    noise has erased the reference signal: there is nothing to divide by).
    """
    echo, reference, ideal = np.broadcast_arrays(
        np.asarray(echo, float), np.asarray(reference, float), np.asarray(ideal_reference, float)
    )
    echo_stderr = np.broadcast_to(np.asarray(echo_stderr, float), echo.shape)
    reference_stderr = np.broadcast_to(np.asarray(reference_stderr, float), echo.shape)
    valid = (np.abs(reference) > NORMALIZE_MIN_SIGMAS * reference_stderr) & (ideal != 0)
    safe = np.where(valid, reference, 1.0)
    gain = np.where(valid, ideal / safe, np.nan)
    values = gain * echo
    stderr = np.abs(gain) * np.hypot(echo_stderr, echo * reference_stderr / safe)
    return values, stderr
