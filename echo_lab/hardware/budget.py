"""Shot budgets: how many shots tell two pulses' kept echoes apart.

An estimate from S shots has a standard error sigma_1 / sqrt(S), where sigma_1 (the spread of one
shot, including the variance added by mitigation) follows from a measured standard error s at S0
shots as sigma_1 = s sqrt(S0). Two pulses A and B measured with S shots each differ by
3 standard errors when

    |m_A - m_B| = 3 sqrt((sigma_A^2 + sigma_B^2) / S),
    so  S = 9 (sigma_A^2 + sigma_B^2) / (m_A - m_B)^2.

The means and standard errors may be arrays (one entry per time, or the time-averaged kept echo);
pure numerics, no I/O.
"""

from __future__ import annotations

import numpy as np

from echo_lab.errors import ConfigError

__all__ = ["shots_for_difference"]


def shots_for_difference(
    mean_a: np.ndarray | float,
    stderr_a: np.ndarray | float,
    mean_b: np.ndarray | float,
    stderr_b: np.ndarray | float,
    *,
    shots: int,
    sigmas: float = 3.0,
) -> np.ndarray:
    """Shots per pulse (per circuit) for a ``sigmas``-sigma difference of A and B (module doc).

    ``stderr_a`` / ``stderr_b`` were measured with ``shots`` shots each. Inputs broadcast;
    returns float shots rounded up (``inf`` where the means are equal). Cost O(size).

    >>> float(shots_for_difference(0.5, 0.01, 0.4, 0.01, shots=1000))
    180.0
    """
    if isinstance(shots, bool) or not isinstance(shots, int | np.integer) or shots < 1:
        raise ConfigError(f"shots must be an integer >= 1, got {shots!r}")
    if not (np.isfinite(sigmas) and sigmas > 0):
        raise ConfigError(f"sigmas must be finite and > 0, got {sigmas}")
    a, b = np.asarray(mean_a, float), np.asarray(mean_b, float)
    sa, sb = np.asarray(stderr_a, float), np.asarray(stderr_b, float)
    if np.any(sa < 0) or np.any(sb < 0):
        raise ConfigError("standard errors must be >= 0")
    per_shot_variance = (sa**2 + sb**2) * shots
    difference = np.abs(a - b)
    with np.errstate(divide="ignore"):
        needed = np.where(
            difference > 0,
            sigmas**2 * per_shot_variance / np.maximum(difference, 1e-300) ** 2,
            np.inf,
        )
    return np.ceil(needed - 1e-9)
