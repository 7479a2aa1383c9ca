"""Analysis functions recover known answers from constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from echo_lab.analysis import crossover, extrapolate_in_size, fit_plateau_approach, kept_fraction
from echo_lab.errors import ConfigError


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
