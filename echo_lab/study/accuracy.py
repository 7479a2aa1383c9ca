"""Error budget of an approximate evolution (Trotter steps, MPS truncation), recorded per work
unit and stated in the summary.

**Trotter error.** A study whose main backend runs Trotter circuits (``trotter-exact``,
``aer``, ``estimator``, ``qsim``) stores, per unit (so over the sweep dimensions and
``realization``):

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

**Truncation error.** A study whose main backend truncates a matrix product state (``aer`` with
``method = "matrix_product_state"``; a backend declares it in
:data:`~echo_lab.backends.registry.BOND_REFINEMENTS`) stores, per unit:

* ``truncation_error``: an estimate by **bond doubling**: the unit's rows are run again at the
  same times and realizations as the Trotter estimate with twice the bond-dimension cap and a
  truncation threshold 100 times smaller (:func:`~echo_lab.backends.registry.refined_backend`),
  and ``truncation_error = max |O(chi) - O(2 chi)|`` over observables, rows, backgrounds and
  those times. It is the error of the capped run when the refined run is much closer to
  converged than the capped one; when both are far from converged (the entanglement needs far
  more than 2 chi) it can be much smaller than the real error, and no factor corrects it
  (truncation errors have no power law in chi to extrapolate). Uncapped runs (threshold only)
  get the threshold / 100 comparison, which is tiny when the threshold is;
* ``mps_max_bond``: the largest bond dimension the main run reached (over rows, backgrounds
  and study times; the backend's ``"mps_max_bond"`` report, :mod:`echo_lab.backends.base`);
* ``mps_discarded_weight``: the largest discarded squared Schmidt weight of one run (summed over
  its truncations), where the backend reports it; NaN otherwise, with the reason in the
  variable's ``note`` attribute (Aer cannot report it: :mod:`echo_lab.backends.aer`);
* ``error_budget = trotter_error + truncation_error``: the capped Trotter run differs from the
  exact evolution by at most its distance to the untruncated Trotter run plus that run's
  Trotter error, so the sum of the two estimates bounds the error to the accuracy of each.
  Recorded only where both parts exist (for a backend that does not truncate, the budget is
  ``trotter_error``). Caveat: on an MPS backend the dt / 2 run has the same cap, so
  ``trotter_error`` also holds the difference of two truncations; a large truncation error
  inflates it.

Noise and shots are dropped as for the Trotter estimate. Cost: the refined run at the checked
times; its state is up to 4 times the main run's memory (2 chi), which the study's memory check
counts (:func:`truncation_spec`).

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

from echo_lab.backends.base import (
    MPS_DISCARDED_WEIGHT,
    MPS_MAX_BOND,
    TRUNCATION_REPORTS,
    Backend,
)
from echo_lab.backends.options import BackendSpec, build_backend, check_trotter_steps
from echo_lab.backends.registry import refined_backend
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import PulseSequence
from echo_lab.study.keydocs import KeyDoc
from echo_lab.study.sections import time_values_of
from echo_lab.tables import Table, scalar

__all__ = [
    "ACCURACY_DOCS",
    "ACCURACY_KEYS",
    "TROTTER_VARIABLES",
    "TRUNCATION_VARIABLES",
    "AccuracySpec",
    "accuracy_summary",
    "error_budget",
    "largest_step",
    "parse_accuracy",
    "richardson_factor",
    "truncation_spec",
]

ACCURACY_KEYS = ("times", "realizations")

#: What the [accuracy] keys mean (the study-file reference shows these).
ACCURACY_DOCS = {
    "times": KeyDoc(
        "list of numbers",
        "Total times at which the error of an approximate backend is estimated: Trotter steps by "
        "step doubling (the unit rerun at dt / 2), MPS truncation by bond doubling (rerun with "
        "twice the bond-dimension cap and the truncation threshold / 100).",
        "the study's last time",
        example="[20.0]",
    ),
    "realizations": KeyDoc(
        "integer",
        "Estimate the Trotter and truncation errors on the first this many realizations (0: no "
        "estimate).",
        "all",
        example="1",
    ),
}

#: The Trotter variables :func:`error_budget` adds to a unit.
TROTTER_VARIABLES = ("trotter_order", "trotter_dt", "trotter_max_step", "trotter_error")

#: The truncation variables :func:`error_budget` adds to a unit (``error_budget`` only with
#: the Trotter ones).
TRUNCATION_VARIABLES = ("truncation_error", "mps_max_bond", "mps_discarded_weight", "error_budget")

#: ``run(backend, times)``: every observable of the unit over (background, row, time), plus the
#: backend's truncation reports (:data:`~echo_lab.backends.base.TRUNCATION_REPORTS`) it returned.
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


def _noiseless(spec: BackendSpec) -> BackendSpec:
    return dataclasses.replace(spec, noise=None, shots=None)


def truncation_spec(spec: BackendSpec) -> BackendSpec | None:
    """The backend of the bond-doubling run of ``spec`` (noiseless, without shots), or None when
    ``spec`` does not truncate (:func:`~echo_lab.backends.registry.refined_backend`)."""
    refined = refined_backend(spec)
    return None if refined is None else _noiseless(refined)


def _observables(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``values`` without the backend's truncation reports."""
    return {k: np.asarray(v) for k, v in values.items() if k not in TRUNCATION_REPORTS}


class _Reference:
    """The unit's observables at the checked times from the main backend (noiseless), computed
    at most once and shared by the Trotter and truncation estimates, and their largest
    difference from another backend's run."""

    def __init__(
        self,
        spec: BackendSpec,
        checked: np.ndarray,
        study_times: np.ndarray,
        values: Mapping[str, np.ndarray],
        run: RunRows,
    ) -> None:
        self.spec, self.checked, self.study_times = spec, checked, study_times
        self.values, self.run = values, run
        self._coarse: dict[str, np.ndarray] | None = None

    def coarse(self) -> dict[str, np.ndarray]:
        if self._coarse is None:
            positions = [np.flatnonzero(self.study_times == t) for t in self.checked]
            if _ideal(self.spec) and all(p.size for p in positions):
                index = [int(p[0]) for p in positions]
                self._coarse = {k: v[..., index] for k, v in _observables(self.values).items()}
            else:
                backend = build_backend(_noiseless(self.spec), key="accuracy")
                self._coarse = _observables(self.run(backend, self.checked))
        return self._coarse

    def difference(self, other: BackendSpec) -> float:
        """max |O(main) - O(other)| over observables, rows, backgrounds and checked times."""
        fine = _observables(self.run(build_backend(other, key="accuracy"), self.checked))
        coarse = self.coarse()
        return max((float(np.max(np.abs(coarse[k] - fine[k]))) for k in fine), default=0.0)


def _times_text(checked: np.ndarray, ideal: bool) -> str:
    return (
        "at total times "
        + ", ".join(f"{t:g}" for t in checked)
        + ("" if ideal else "; noiseless exact evolution (noise and shots dropped)")
    )


def _trotter_variables(
    spec: BackendSpec,
    reference: _Reference,
    *,
    estimate: bool,
    sequences: Sequence[PulseSequence],
) -> dict[str, Any]:
    settings = spec.trotter
    assert settings is not None
    error = np.nan
    if estimate:
        fine_spec = dataclasses.replace(_noiseless(spec), trotter=_halved(settings))
        error = reference.difference(fine_spec) * richardson_factor(settings.order)
    method = "step doubling (dt vs dt / 2, Richardson factor 2^p / (2^p - 1)) " + _times_text(
        reference.checked, _ideal(spec)
    )
    return {
        "trotter_order": ((), np.int64(settings.order), {"long_name": "Trotter order"}),
        "trotter_dt": ((), settings.dt, {"long_name": "Trotter step dt (the largest step)"}),
        "trotter_max_step": (
            (),
            largest_step(sequences, reference.study_times, dt=settings.dt),
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


def _largest_report(spec: BackendSpec, values: Mapping[str, np.ndarray], key: str) -> Any:
    """(value, attrs) of the largest ``key`` report of the main run, NaN with a note if none."""
    if key in values and np.asarray(values[key]).size:
        return float(np.max(values[key])), {}
    return np.nan, {"note": f"not reported by backend {spec.name!r}"}


def _truncation_variables(
    spec: BackendSpec,
    refined: BackendSpec,
    reference: _Reference,
    *,
    estimate: bool,
    values: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    error = reference.difference(refined) if estimate else np.nan
    method = (
        "bond doubling (rerun with twice the bond-dimension cap and the truncation threshold / "
        "100; max |O(chi) - O(2 chi)|, no extrapolation factor) "
        + _times_text(reference.checked, _ideal(spec))
    )
    bond, bond_attrs = _largest_report(spec, values, MPS_MAX_BOND)
    weight, weight_attrs = _largest_report(spec, values, MPS_DISCARDED_WEIGHT)
    return {
        "truncation_error": (
            (),
            error,
            {
                "long_name": "estimated MPS truncation error of the stored observables (max abs)",
                "method": method,
            },
        ),
        "mps_max_bond": (
            (),
            bond,
            {"long_name": "largest MPS bond dimension reached by the main run", **bond_attrs},
        ),
        "mps_discarded_weight": (
            (),
            weight,
            {
                "long_name": "largest discarded squared Schmidt weight of one run (summed over "
                "its truncations)",
                **weight_attrs,
            },
        ),
    }


def error_budget(
    spec: BackendSpec,
    accuracy: AccuracySpec,
    *,
    sequences: Sequence[PulseSequence],
    study_times: np.ndarray,
    values: Mapping[str, np.ndarray],
    run: RunRows,
    realization: int,
) -> dict[str, Any]:
    """The data variables of the module docstring for one unit: the Trotter ones for a backend
    with Trotter steps, the truncation ones for a backend that truncates an MPS, and
    ``error_budget`` where there are both (empty for an exact backend). ``values`` are the
    unit's observables (and truncation reports) over (background, row, study time) from the main
    backend ``spec``; ``run`` runs every row on a backend at given times."""
    refined = truncation_spec(spec)
    if spec.trotter is None and refined is None:
        return {}
    checked = accuracy.times_for(study_times)
    estimate = bool(accuracy.estimates(realization) and checked.size)
    reference = _Reference(spec, checked, study_times, values, run)
    out: dict[str, Any] = {}
    if spec.trotter is not None:
        out |= _trotter_variables(spec, reference, estimate=estimate, sequences=sequences)
    if refined is not None:
        out |= _truncation_variables(spec, refined, reference, estimate=estimate, values=values)
    if "trotter_error" in out and "truncation_error" in out:
        total = out["trotter_error"][1] + out["truncation_error"][1]
        out["error_budget"] = (
            (),
            total,
            {"long_name": "error budget: trotter_error + truncation_error (max abs)"},
        )
    return out


def _spread(values: np.ndarray) -> str:
    """``max a, median b over k of m units`` of the finite entries of ``values``."""
    finite = values[np.isfinite(values)]
    return (
        f"max {finite.max():.2g}, median {np.median(finite):.2g} over {finite.size} of "
        f"{values.size} units"
    )


def _truncation_lines(ds: xr.Dataset) -> list[str]:
    """The truncation part of :func:`accuracy_summary` (none without ``truncation_error``)."""
    if "truncation_error" not in ds:
        return []
    errors = ds["truncation_error"].values
    lines = []
    if np.isfinite(errors).any():
        lines.append(
            f"Estimated MPS truncation error (bond doubling: 2 chi, threshold / 100): "
            f"{_spread(errors)}."
        )
    else:
        lines.append("No truncation error estimate was made (accuracy.realizations = 0).")
    bonds = ds["mps_max_bond"].values
    weights = ds["mps_discarded_weight"].values
    reached = f"{np.nanmax(bonds):.0f}" if np.isfinite(bonds).any() else "not reported"
    discarded = (
        f"max {np.nanmax(weights):.2g}"
        if np.isfinite(weights).any()
        else str(ds["mps_discarded_weight"].attrs.get("note", "not reported"))
    )
    lines.append(f"Largest MPS bond dimension reached: {reached}; discarded weight: {discarded}.")
    if "error_budget" in ds and np.isfinite(ds["error_budget"].values).any():
        budget = _spread(ds["error_budget"].values)
        lines.append(f"Error budget (trotter_error + truncation_error): {budget}.")
    return lines


def accuracy_summary(ds: xr.Dataset) -> str | None:
    """Markdown paragraph of a result's error budget: Trotter settings and estimate, the
    truncation estimate with the bond dimension reached and the discarded weight, the combined
    budget, and the ``[check]`` deviation; None when the result holds none of them."""
    lines: list[str] = []
    if "trotter_error" in ds:
        order = int(np.nanmax(ds["trotter_order"].values))
        dt = float(np.nanmax(ds["trotter_dt"].values))
        step = float(np.nanmax(ds["trotter_max_step"].values))
        errors = ds["trotter_error"].values
        chosen = ""
        if "backend_choice" in ds.attrs:
            chosen = f" (chosen by `auto`: {ds.attrs['backend_choice']})"
        lines.append(
            f"Backend `{ds.attrs.get('backend', '?')}`{chosen}, Trotter order {order}, "
            f"dt = {dt:g} (largest step used: {step:.4g})."
        )
        method = str(ds["trotter_error"].attrs.get("method", "step doubling"))
        if np.isfinite(errors).any():
            lines.append(
                f"Estimated Trotter error of the stored observables: {_spread(errors)} ({method})."
            )
        else:
            lines.append("No Trotter error estimate was made (accuracy.realizations = 0).")
    lines += _truncation_lines(ds)
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
