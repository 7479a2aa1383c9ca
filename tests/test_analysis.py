"""Analysis functions recover known answers from constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from echo_lab.errors import ConfigError
from echo_lab.study.analysis import (
    crossover,
    extrapolate_in_size,
    fit_plateau_approach,
    kept_fraction,
    late_drift,
    ratio_of_means,
)


def test_kept_fraction_is_the_late_mean_over_the_initial_value() -> None:
    times = np.geomspace(0.1, 1000.0, 41)
    traces = np.where(times >= 100.0, 0.3, 0.9)[None, :] * np.array([[1.0], [2.0]])
    kept = kept_fraction(traces, np.array([0.6, 1.2]), times)
    np.testing.assert_allclose(kept, [0.5, 0.5], atol=1e-15)
    assert math.isnan(float(kept_fraction(traces[:1], np.array([0.0]), times)[0]))
    with pytest.raises(ConfigError):
        kept_fraction(traces, 1.0, times, late_fraction=0.0)


def test_size_extrapolation_recovers_a_planted_law() -> None:
    sizes = np.array([8, 10, 12, 14])
    values = 0.42 + 1.7 / sizes
    fit = extrapolate_in_size(sizes, values, np.full(4, 0.01))
    assert fit.k_inf == pytest.approx(0.42, abs=1e-12)
    assert fit.slope == pytest.approx(1.7, abs=1e-10)
    assert max(map(abs, fit.residuals)) < 1e-12 and fit.chi2 < 1e-20
    noisy = extrapolate_in_size(sizes, values + np.array([0.01, -0.01, 0.01, -0.01]))
    assert noisy.k_inf_error > 0
    assert math.isnan(extrapolate_in_size(np.array([8]), np.array([0.5])).k_inf)


def test_crossover_interpolates_in_log_w() -> None:
    w = np.array([2.0, 4.0, 8.0, 16.0])
    assert crossover(w, np.array([0.2, 0.4, 0.6, 0.8])) == pytest.approx(np.sqrt(4.0 * 8.0))
    assert math.isnan(crossover(w, np.full(4, 0.9)))


def test_plateau_fits_find_the_planted_power_law() -> None:
    times = np.geomspace(0.5, 1e4, 40)
    values = 0.55 + 0.4 * times**-0.6
    fits = fit_plateau_approach(times, values)
    best = min(fits.values(), key=lambda fit: fit.rms)
    assert best.name == "power law"
    assert best.parameters["alpha"] == pytest.approx(0.6, rel=1e-4)
    assert best.parameters["plateau"] == pytest.approx(0.55, abs=1e-5)
    np.testing.assert_allclose(best.evaluate(times), values, atol=1e-5)
    assert fits["logarithm"].rms > 10 * best.rms


def test_ratio_of_means_is_the_ratio_of_sums_with_the_delta_method_error() -> None:
    rng = np.random.default_rng(3)
    initial = rng.uniform(-0.05, 1.0, size=(2, 50))  # some initial values close to 0
    late = 0.6 * initial + rng.normal(0.0, 0.05, size=initial.shape)
    late[1, 7] = np.nan  # a missing realization drops its pair
    ratio, sem, count = ratio_of_means(late, initial)
    keep = np.isfinite(late[1])
    assert ratio[0] == pytest.approx(late[0].sum() / initial[0].sum(), rel=1e-13)
    assert ratio[1] == pytest.approx(late[1, keep].sum() / initial[1, keep].sum(), rel=1e-13)
    assert list(count) == [50, 49]
    # delta method, written out: var(a - R b) / (m mean(b)^2)
    a, b = late[0], initial[0]
    expected = np.std(a - ratio[0] * b, ddof=1) / np.sqrt(50) / abs(b.mean())
    assert sem[0] == pytest.approx(expected, rel=1e-12)
    assert abs(ratio[0] - 0.6) < 4 * sem[0]
    # the mean of the ratios is thrown off by the realizations with initial values near 0
    assert abs(np.mean(a / b) - 0.6) > abs(ratio[0] - 0.6)
    assert math.isnan(float(ratio_of_means(np.ones(1), np.ones(1))[1]))


def test_late_drift_recovers_a_planted_logarithm_and_ignores_early_times() -> None:
    times = np.geomspace(0.1, 1e4, 30)
    values = np.where(times < 3.0, 1.0, 0.7 - 0.02 * np.log(times))
    drift = late_drift(times, values, start=3.0)
    assert drift.slope == pytest.approx(-0.02, abs=1e-12)
    assert drift.offset == pytest.approx(0.7, abs=1e-12)
    assert drift.points == int(np.sum(times >= 3.0))
    noisy = late_drift(
        times, values + 0.01 * np.sin(7 * times), start=3.0, errors=np.full(30, 0.01)
    )
    assert abs(noisy.slope + 0.02) < 3 * noisy.slope_error
    with pytest.raises(ConfigError, match="start earlier"):
        late_drift(times, values, start=1e5)
