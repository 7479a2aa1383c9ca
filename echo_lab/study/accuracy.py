"""Error budget of a Trotter evolution, recorded per work unit and stated in the summary.

A study whose main backend runs Trotter circuits (``trotter-exact``, ``aer``, ``estimator``,
``qsim``) stores, per unit (so over the sweep dimensions and ``realization``):

* ``trotter_order`` and ``trotter_dt``: the product formula and its step (the largest step);
* ``trotter_max_step``: the largest step a free segment actually used at the study's times
  (dt, or less when every segment is off the grid of dt: a segment of length L is
  ``ceil(L / dt)`` steps of ``L / ceil(L / dt)``, :func:`echo_lab.dynamics.trotter.segment_steps`);
* ``trotter_error``: an estimate of the Trotter error of the stored observables by step
  doubling: the unit's rows (every pulse and the FID, every background) are run again with the
  step dt / 2 at the ``[accuracy]`` times (default: the largest study time), and

      trotter_error = max |O(dt) - O(dt / 2)| * 2^p / (2^p - 1)

  over the observables, rows, backgrounds and those times (p the order: the Richardson estimate
  of |O(dt) - O(exact)| when the error scales as dt^p; each segment holds many steps at the
  checked times, so halving dt halves the steps). NaN on realizations not estimated.

With noise (a ``[backend.noise]`` table) or shots both runs are noiseless and exact
(``noise`` and ``shots`` dropped): gate errors grow with the number of steps and shot noise
would swamp the difference, so the estimate is that of the noiseless evolution the noise acts
on. The ``trotter_error`` variable's ``method`` attribute says which.

Cost: the dt / 2 run at the checked times, about twice the main run's cost at those times (for
an ideal backend the dt values are reused when the checked times are study times).

``[accuracy]`` (optional; echo and echo_scaling studies): ``times`` (total times of the
estimate, default the largest study time) and ``realizations`` (the first R realizations of
every point get the estimate; default all, 0 switches it off).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from echo_lab.backends.base import Backend
from echo_lab.backends.options import BackendSpec, build_backend, check_trotter_steps
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import PulseSequence
from echo_lab.study.keydocs import KeyDoc
from echo_lab.study.sections import time_values_of
from echo_lab.tables import Table, scalar

__all__ = [
    "ACCURACY_DOCS",
    "ACCURACY_KEYS",
    "TROTTER_VARIABLES",
    "AccuracySpec",
    "accuracy_summary",
    "largest_step",
    "parse_accuracy",
    "richardson_factor",
    "trotter_budget",
]

ACCURACY_KEYS = ("times", "realizations")

#: What the [accuracy] keys mean (the study-file reference shows these).
ACCURACY_DOCS = {
    "times": KeyDoc(
        "list of numbers",
        "Total times at which a Trotter backend's error is estimated by step doubling (the same "
        "unit rerun at dt / 2).",
        "the study's last time",
        example="[20.0]",
    ),
    "realizations": KeyDoc(
        "integer",
        "Estimate the Trotter error on the first this many realizations (0: no estimate).",
        "all",
        example="1",
    ),
}

#: The variables :func:`trotter_budget` adds to a unit.
TROTTER_VARIABLES = ("trotter_order", "trotter_dt", "trotter_max_step", "trotter_error")

#: ``run(backend, times)``: every observable of the unit over (background, row, time).
RunRows = Callable[[Backend, np.ndarray], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class AccuracySpec:
    """The ``[accuracy]`` table: times of the step-doubling estimate (None: the largest study
    time) and how many realizations per point get it (None: all)."""

    times: tuple[float, ...] | None = None
    realizations: int | None = None

    def times_for(self, study_times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The checked times (the largest study time by default)."""
        if self.times is not None:
            return np.asarray(self.times, dtype=float)
        return np.array([max(study_times)]) if len(study_times) else np.zeros(0)

    def estimates(self, realization: int) -> bool:
        """Whether ``realization`` gets the step-doubling estimate."""
        return self.realizations is None or realization < self.realizations


def parse_accuracy(
    table: Table | None, backend: BackendSpec, study_times: Sequence[float]
) -> AccuracySpec:
    """``[accuracy]`` (absent: the defaults), checked against the main ``backend``: its dt / 2
    must reach the checked times within the step limit."""
    if table is None:
        spec = AccuracySpec()
    else:
        times = None
        if table.has("times"):
            times = time_values_of(table.require("times", "total times"), table.key("times"))
        realizations = (
            int(scalar(table, "realizations", 0, integer=True, minimum=0))
            if table.has("realizations")
            else None
        )
        spec = AccuracySpec(times=times, realizations=realizations)
    if backend.trotter is not None:
        half = dataclasses.replace(backend, trotter=_halved(backend.trotter))
        check_trotter_steps(half, list(spec.times_for(study_times)), "accuracy.times at dt / 2")
    return spec


def _halved(settings: trotter.TrotterSettings) -> trotter.TrotterSettings:
    return trotter.TrotterSettings(settings.dt / 2, settings.order)


def richardson_factor(order: int) -> float:
    """2^p / (2^p - 1): |O(dt) - O(exact)| ~ this times |O(dt) - O(dt / 2)| at order p."""
    return 2.0**order / (2.0**order - 1.0)


def largest_step(
    sequences: Sequence[PulseSequence], times: Sequence[float] | np.ndarray, *, dt: float
) -> float:
    """The largest Trotter step any free segment of ``sequences`` uses at ``times`` (dt when a
    segment is a multiple of dt; 0.0 when nothing evolves)."""
    largest = 0.0
    for sequence in sequences:
        steps, lengths = trotter.segment_table(sequence, np.asarray(times, dtype=float), dt=dt)
        used = lengths[steps > 0]
        if used.size:
            largest = max(largest, float(used.max()))
    return largest


def _ideal(spec: BackendSpec) -> bool:
    """Whether the backend gives noiseless exact expectation values."""
    precise = spec.name != "estimator" or not spec.option("precision")
    return spec.noise is None and spec.shots is None and precise


def trotter_budget(
    spec: BackendSpec,
    accuracy: AccuracySpec,
    *,
    sequences: Sequence[PulseSequence],
    study_times: np.ndarray,
    values: Mapping[str, np.ndarray],
    run: RunRows,
    realization: int,
) -> dict[str, Any]:
    """The data variables of the module docstring for one unit (empty for a backend without
    Trotter steps). ``values`` are the unit's observables over (background, row, study time)
    from the main backend ``spec``; ``run`` runs every row on a backend at given times."""
    if spec.trotter is None:
        return {}
    settings = spec.trotter
    checked = accuracy.times_for(study_times)
    ideal = _ideal(spec)
    error = np.nan
    if accuracy.estimates(realization) and checked.size:
        noiseless = dataclasses.replace(spec, noise=None, shots=None)
        positions = [np.flatnonzero(study_times == t) for t in checked]
        if ideal and all(p.size for p in positions):
            index = [int(p[0]) for p in positions]
            coarse = {name: np.asarray(v)[..., index] for name, v in values.items()}
        else:
            coarse = dict(run(build_backend(noiseless, key="accuracy"), checked))
        fine_spec = dataclasses.replace(noiseless, trotter=_halved(settings))
        fine = run(build_backend(fine_spec, key="accuracy"), checked)
        difference = max(
            (float(np.max(np.abs(coarse[name] - fine[name]))) for name in fine), default=0.0
        )
        error = difference * richardson_factor(settings.order)
    method = (
        "step doubling (dt vs dt / 2, Richardson factor 2^p / (2^p - 1)) at total times "
        + ", ".join(f"{t:g}" for t in checked)
        + ("" if ideal else "; noiseless exact evolution (noise and shots dropped)")
    )
    return {
        "trotter_order": ((), np.int64(settings.order), {"long_name": "Trotter order"}),
        "trotter_dt": ((), settings.dt, {"long_name": "Trotter step dt (the largest step)"}),
        "trotter_max_step": (
            (),
            largest_step(sequences, study_times, dt=settings.dt),
            {"long_name": "largest Trotter step used by a free segment"},
        ),
        "trotter_error": (
            (),
            error,
            {
                "long_name": "estimated Trotter error of the stored observables (max abs)",
                "method": method,
            },
        ),
    }


def accuracy_summary(ds: xr.Dataset) -> str | None:
    """Markdown paragraph of a result's error budget: Trotter settings and estimate, and the
    ``[check]`` deviation; None when the result holds neither."""
    lines: list[str] = []
    if "trotter_error" in ds:
        order = int(np.nanmax(ds["trotter_order"].values))
        dt = float(np.nanmax(ds["trotter_dt"].values))
        step = float(np.nanmax(ds["trotter_max_step"].values))
        errors = ds["trotter_error"].values
        estimated = errors[np.isfinite(errors)]
        lines.append(
            f"Backend `{ds.attrs.get('backend', '?')}`, Trotter order {order}, dt = {dt:g} "
            f"(largest step used: {step:.4g})."
        )
        method = str(ds["trotter_error"].attrs.get("method", "step doubling"))
        if estimated.size:
            lines.append(
                f"Estimated Trotter error of the stored observables: max {estimated.max():.2g}, "
                f"median {np.median(estimated):.2g} over {estimated.size} of {errors.size} "
                f"units ({method})."
            )
        else:
            lines.append("No Trotter error estimate was made (accuracy.realizations = 0).")
    if "check_deviation" in ds:
        deviation = ds["check_deviation"].values
        if np.isfinite(deviation).any():
            lines.append(
                f"[check] backend: largest deviation from the main backend "
                f"{np.nanmax(deviation):.2g}."
            )
    if not lines:
        return None
    return "## Accuracy\n\n" + "\n".join(lines) + "\n"
