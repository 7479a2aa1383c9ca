"""Study kind ``echo_scaling``: how much echo a p-bit pulse keeps, against N, W and time.

The seed's question at scale (docs/pages/conventions.md sections 6 and 8.3). An ``echo`` study (same
sections, same traces: :mod:`echo_lab.study.kinds.echo`) whose pulses include an l-bit pulse, so
that the l-bit coherence <tau^x_p> is recorded, plus per unit:

* ``tau_x_initial`` (background): <tau^x_p> at T = 0 (the overlap of the initial |+> probe with
  the l-bit), from the l-bit system's operator action;
* ``kept`` (background, pulse): the **kept fraction** of the l-bit coherence, the mean of
  <tau^x_p>(T) over the late times T >= T_max / 10 divided by ``tau_x_initial``
  (:func:`echo_lab.study.analysis.kept_fraction`; the exact l-bit pulse keeps 1);
* ``coherence_late`` (background, pulse): the late-time mean of the p-bit coherence
  C = sqrt(<sigma^x_p>^2 + <sigma^y_p>^2);
* ``static_weight``: a_p = Tr(sigma^x_p tau^x_p) / 2^N, the weight of the bare spin in the l-bit
  (from the one-site window operator of tau^x_p, block by block);
* ``xi_couplings``: the localization length of the effective couplings J_ij of this realization;
* ``kept_predicted`` (background) and ``kept_predicted_coverage``: the late-time p-bit kept
  fraction predicted from the l-bits and the initial state (:func:`refocusing_prediction`).

With ``"circuit"`` pulses (circuit l-bits, any N: long chains on Aer MPS) the same holds for
the circuit l-bit coherence ``ctau_x``: ``ctau_x_initial`` and ``kept_circuit``; ``static_weight``
and ``xi_couplings`` then come from the circuit l-bits when there are no exact ones. With
``"compiled:s"`` pulses (the probe's compiled l-bit, :mod:`echo_lab.lbits.compiled`, any N) it
holds for the compiled l-bit coherence ``compiled_tau_x``: ``compiled_tau_x_initial`` and
``kept_compiled``; ``static_weight`` then comes from the compiled l-bit when there are no exact
or circuit l-bits, and ``xi_couplings`` is NaN (a compiled l-bit has no effective Hamiltonian).
With window pulses (``"window:w"``, ``"window:w:r"``; the window l-bit of the widest window, any
N) likewise for ``window_tau_x``: ``window_tau_x_initial``, ``kept_window`` and, last in line,
``static_weight`` from the window l-bit (``xi_couplings`` NaN).
The initial values are measured by the unit's own backend at T = 0.

The simplest prediction, that a p-bit pulse keeps about a_p^2 of the coherence (X_p = a_p tau^x_p +
terms that dephase), and the refocusing prediction, which keeps the dependence of the pulse's flip
amplitude on the other l-bits, are compared realization by realization in the figure ``prediction``
and in :func:`prediction_rows`. Figures: ``scaling`` (disorder-mean kept fraction against W for
every N, the extrapolation k(N) = k_inf + c / N of
:func:`echo_lab.study.analysis.extrapolate_in_size` and
its residuals), ``plateau`` (the p-bit <tau^x_p>(T) / <tau^x_p>(0) against T for every W at the
largest N, with the best of the fits of :func:`echo_lab.study.analysis.fit_plateau_approach`) and
``prediction``. :func:`scaling_summary` writes the tables of docs/pages/findings.md
(``echo-lab plot`` writes it as ``<name>_summary.md``); results of several files (e.g. N <= 12
and N = 14) combine with :func:`combine_results`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.errors import ConfigError
from echo_lab.lbits import COUPLING_FIT_FLOOR
from echo_lab.physics.linalg import PAULI_MATRICES, embed
from echo_lab.physics.models import pauli_label
from echo_lab.physics.pauli import fit_localization_length
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import drawing as plot
from echo_lab.study.accuracy import accuracy_summary
from echo_lab.study.analysis import (
    LATE_FRACTION,
    Drift,
    crossover,
    extrapolate_in_size,
    fit_plateau_approach,
    kept_fraction,
    late_drift,
    ratio_of_means,
)
from echo_lab.study.kinds.echo import (
    LONG_NAMES,
    EchoKind,
    EchoSettings,
    EchoUnit,
    pulse_label,
    run_echo_unit,
)
from echo_lab.tables import Scalar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = [
    "KIND",
    "EchoScalingKind",
    "approach_rows",
    "coherence_variable",
    "combine_results",
    "ensemble_echo",
    "kept_quantity",
    "kept_statistics",
    "kept_variable",
    "prediction_rows",
    "refocusing_prediction",
    "scaling_summary",
    "scaling_table",
    "static_weight",
    "with_sweep_dims",
]


#: The l-bit coherences a unit may record and the suffix of their kept fraction, in the order
#: :func:`kept_variable` prefers them (exact, circuit, compiled, window l-bits).
KEPT_SUFFIX = {
    "tau_x": "",
    "ctau_x": "_circuit",
    "compiled_tau_x": "_compiled",
    "window_tau_x": "_window",
}
#: What each coherence is, for labels.
KEPT_QUANTITY = {
    "tau_x": "<tau^x_p>",
    "ctau_x": "<circuit tau^x_p>",
    "compiled_tau_x": "<compiled tau^x_p>",
    "window_tau_x": "<window tau^x_p>",
}


def static_weight(system: Any, probe: int) -> float:
    """a_p = Tr(sigma^x_p tau^x_p) / 2^N of an l-bit system (exact
    :class:`~echo_lab.lbits.LBitSystem`, circuit, compiled or window l-bits): from the one-site
    window operator of the exact tau^x_p, the X_p coefficient of the circuit l-bit's tau^x_p, or
    the trace of X_p with the dense tau^x_p block of a compiled or window l-bit."""
    if system.method in ("compiled", "window"):
        block = np.asarray(system.tau("x", probe))
        pauli = embed(PAULI_MATRICES["X"], [system.local_probe], system.width)
        return float(np.real(np.vdot(pauli, block)) / block.shape[0])
    if system.method != "circuit":
        window = np.asarray(system.window_operator("x", probe, [probe]))
        return float(np.real(window[0, 1] + window[1, 0]) / 2)
    tau = system.tau("x", probe)
    label = pauli_label(system.n, {probe: "X"})
    terms = zip(tau.paulis.to_labels(), tau.coeffs, strict=True)
    return float(sum(np.real(c) for text, c in terms if text == label))


def _xi(unit: EchoUnit) -> float:
    """xi of the effective couplings J_ij (the median of log|J| per distance, fitted)."""
    if unit.lbit_system is not None:
        return float(unit.lbit_system.xi_couplings())
    if unit.circuit_system is None:
        return float("nan")
    couplings = unit.circuit_system.effective_hamiltonian(max_body=2)
    by_distance: dict[int, list[float]] = {}
    for sites, value in couplings.items():
        if len(sites) == 2 and value != 0:
            by_distance.setdefault(abs(sites[1] - sites[0]), []).append(np.log(abs(value)))
    distances = np.array(sorted(by_distance), dtype=float)
    medians = np.array([np.exp(np.median(by_distance[int(d)])) for d in distances])
    return float(fit_localization_length(distances, medians, floor=COUPLING_FIT_FLOOR))


#: Configurations per state in :func:`refocusing_prediction` (those of largest coherence).
PREDICTION_CONFIGURATIONS = 256


def refocusing_prediction(
    system: Any, probe: int, state: np.ndarray, *, configurations: int = PREDICTION_CONFIGURATIONS
) -> tuple[float, float]:
    """The kept fraction a p-bit pulse X_p should leave at late times, from the l-bits alone,
    and the share of the initial coherence it covers: ``(prediction, coverage)``.

    In the l-bit basis |s> (``system``: an :class:`~echo_lab.lbits.LBitSystem`) write
    c_s = <s|psi> and M_s = <s|X_p|s^p> (s^p: s with l-bit p flipped). A Hahn echo keeps the
    coherence rho[s^p, s] = c_{s^p} c_s^* only through the path s^p -> s of the pulse (every
    other path leaves an l-bit flipped and dephases), so at late times
    <tau^x_p> -> Re sum_s M_s^2 c_{s^p} c_s^* against sum_s c_s c_{s^p}^* at T = 0. The ratio is
    the coherence-weighted mean of M_s^2 over the background configurations, which is >= the
    static a_p^2 = (mean_s M_s)^2 by Jensen's inequality. Evaluated on the ``configurations``
    pairs {s, s^p} of largest |c_s c_{s^p}| (``coverage``: their share of sum |c_s c_{s^p}|):
    two basis changes of that many columns, ``2 sum_b d_b^2 K`` operations.
    """
    n = system.n
    flip = np.arange(1 << n) ^ (1 << probe)
    coefficients = system.to_lbit_basis(np.asarray(state))
    coherence = np.conj(coefficients) * coefficients[flip]  # c_s^* c_{s^p}
    lower = np.flatnonzero((np.arange(1 << n) >> probe) & 1 == 0)  # one s of each pair
    weights = np.abs(coherence[lower])
    chosen = lower[np.argsort(-weights, kind="stable")[:configurations]]
    columns = np.zeros((1 << n, chosen.size))
    columns[chosen, np.arange(chosen.size)] = 1.0
    flipped = system.from_lbit_basis(columns)[flip]  # X_p |s> in the computational basis
    amplitudes = np.conj(system.to_lbit_basis(flipped)[flip[chosen], np.arange(chosen.size)])
    # pair {s, s^p}: M_s^2 c_{s^p} c_s^* + conj(same); initial: c_s c_{s^p}^* + conj(same)
    late = 2 * np.real(amplitudes**2 * coherence[chosen]).sum()
    initial = 2 * np.real(coherence[chosen]).sum()
    coverage = float(weights[np.isin(lower, chosen)].sum() / max(weights.sum(), 1e-300))
    return (float(late / initial) if initial != 0 else float("nan")), coverage


def _initial_values(unit: EchoUnit, names: Sequence[str]) -> dict[str, np.ndarray]:
    """<O>(T = 0) of each observable in ``names`` per background, through the unit's backend."""
    fid = build_sequence("fid", n=unit.setup.n, probe=unit.probe)
    hamiltonian = unit.setup.model.hamiltonian()
    operators = {name: unit.operators[name] for name in names}
    values = {name: np.empty(len(unit.states)) for name in names}
    for b, state in enumerate(unit.states.values()):
        result = unit.backend.run(hamiltonian, fid, state, np.zeros(1), observables=operators)
        for name in names:
            values[name][b] = result[name][0]
    return values


def compute_scaling_unit(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """The echo unit with the scaling variables of the module docstring."""
    unit = run_echo_unit(spec, point, realization)
    ds = unit.dataset
    times = ds["time"].values
    signals = [name for name in KEPT_SUFFIX if name in ds]
    initial = _initial_values(unit, signals)
    for name in signals:
        suffix = KEPT_SUFFIX[name]
        ds[f"{name}_initial"] = (("background",), initial[name])
        kept = kept_fraction(ds[name].values, initial[name][:, None], times)
        ds[f"kept{suffix}"] = (("background", "pulse"), kept)
        ds[f"kept{suffix}"].attrs["long_name"] = f"kept fraction of {LONG_NAMES[name]}"
    late = times >= LATE_FRACTION * times.max()
    ds["coherence_late"] = (("background", "pulse"), ds["coherence"].values[..., late].mean(-1))
    sources = (unit.lbit_system, unit.circuit_system, unit.compiled_system, unit.window_system)
    system = next(s for s in sources if s is not None)
    ds["static_weight"] = ((), static_weight(system, unit.probe))
    if unit.lbit_system is not None:
        predicted = [
            refocusing_prediction(unit.lbit_system, unit.probe, state.vector())
            for state in unit.states.values()
        ]
        ds["kept_predicted"] = (("background",), [value for value, _ in predicted])
        ds["kept_predicted_coverage"] = (("background",), [share for _, share in predicted])
    ds["xi_couplings"] = ((), _xi(unit))
    ds["static_weight"].attrs["long_name"] = "a_p = Tr(sigma^x_p tau^x_p) / 2^N"
    return ds


# ----------------------------------------------------------------------------------------------
# Combining files and summarizing
# ----------------------------------------------------------------------------------------------


def combine_results(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """Scaling results of several files (e.g. N <= 12 and N = 14) as one Dataset: joined along
    ``n`` (realizations and sites padded with NaN where a file has fewer)."""
    if not datasets:
        raise ConfigError("combine_results needs at least one results file")
    expanded = [
        ds if "n" in ds.dims else ds.expand_dims(n=[int(ds.sizes["site"])]) for ds in datasets
    ]
    # unindexed dimensions (site) get positions, so that files of different N align
    expanded = [
        ds.assign_coords({dim: np.arange(ds.sizes[dim]) for dim in ds.dims if dim not in ds.coords})
        for ds in expanded
    ]
    combined = xr.concat(expanded, dim="n", join="outer", data_vars="all", coords="minimal")
    combined.attrs = dict(datasets[0].attrs)
    backends = list(
        dict.fromkeys(str(ds.attrs["backend"]) for ds in datasets if "backend" in ds.attrs)
    )
    if len(backends) > 1:  # e.g. an exact reference beside MPS files: name them all
        combined.attrs["backend"] = ", ".join(backends)
    dims = ["n", *(d for d in plot.sweep_dims(datasets[0]) if d != "n")]
    combined.attrs["sweep_dims"] = json.dumps(dims)
    return combined.sortby("n")


def _realization_ratio(
    late: xr.DataArray, initial: xr.DataArray
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """:func:`~echo_lab.study.analysis.ratio_of_means` of ``late`` over ``initial`` along
    ``realization`` (``initial`` broadcast against ``late``): ratio, sem and count."""
    late, initial = xr.broadcast(late, initial)
    ratio, sem, count = xr.apply_ufunc(
        ratio_of_means,
        late,
        initial,
        input_core_dims=[["realization"], ["realization"]],
        output_core_dims=[[], [], []],
    )
    return ratio, sem, count


def kept_statistics(ds: xr.Dataset) -> xr.Dataset:
    """The ensemble kept fraction over ``realization``: ``mean`` = late-time <tau^x_p> summed
    over realizations / initial <tau^x_p> summed (:func:`~echo_lab.study.analysis.ratio_of_means`),
    its ``sem``, the realization ``count`` and the ``median`` of the per-realization kept
    fractions (the spread is in the per-realization values of the results file)."""
    kept = ds[kept_variable(ds)]
    initial = ds[f"{coherence_variable(ds)}_initial"]
    ratio, sem, count = _realization_ratio(kept * initial, initial)
    median = kept.median("realization", skipna=True)
    return xr.Dataset({"mean": ratio, "sem": sem, "count": count, "median": median})


def kept_variable(ds: xr.Dataset) -> str:
    """``"kept"`` (exact l-bits) when the result has it, else ``"kept_circuit"`` (circuit
    l-bits), else ``"kept_compiled"``, else ``"kept_window"`` (:data:`KEPT_SUFFIX`)."""
    return f"kept{KEPT_SUFFIX[coherence_variable(ds)]}"


def kept_quantity(ds: xr.Dataset) -> str:
    """What the kept fraction is of, for labels: ``<tau^x_p>``, ``<circuit tau^x_p>``,
    ``<compiled tau^x_p>`` or ``<window tau^x_p>``."""
    return KEPT_QUANTITY[coherence_variable(ds)]


def coherence_variable(ds: xr.Dataset) -> str:
    """The l-bit coherence that :func:`kept_variable` keeps: the first of ``"tau_x"``,
    ``"ctau_x"``, ``"compiled_tau_x"`` and ``"window_tau_x"`` (:data:`KEPT_SUFFIX`) whose kept
    fraction the result has with values (in files combined along ``n``, :func:`combine_results`:
    at every size), else ``"window_tau_x"``. So an exact N = 12 file that also reads out in the
    window l-bit joins long-chain files that have only the window readout, and a selection of
    the largest N of such a combination is read out in the window l-bit too."""
    names = [name for name in KEPT_SUFFIX if f"kept{KEPT_SUFFIX[name]}" in ds]
    if not names:
        return list(KEPT_SUFFIX)[-1]
    for name in names:
        kept = ds[f"kept{KEPT_SUFFIX[name]}"]
        if "n" in kept.dims:
            values = kept.transpose("n", ...).values.reshape(kept.sizes["n"], -1)
        else:
            values = kept.values.reshape(1, -1)
        if bool(np.isfinite(values).any(axis=1).all()):
            return name
    return names[0]


def scaling_table(ds: xr.Dataset, *, background: str = "z-random") -> list[dict[str, Any]]:
    """One row per (W, pulse): the ensemble kept fraction (:func:`kept_statistics`) +- sem and
    the per-realization median at each N, the extrapolation to N -> infinity with its error and
    residuals, and the p-bit's crossover W* where its extrapolated kept fraction reaches 1/2
    (the same value in every p-bit row)."""
    at = ds.sel(background=background)
    stats = kept_statistics(at)
    rows = []
    for pulse in at["pulse"].values:
        if str(pulse) == "fid":
            continue
        for w in np.atleast_1d(at["W"].values):
            one = stats.sel(pulse=pulse, W=w)
            fit = extrapolate_in_size(at["n"].values, one["mean"].values, one["sem"].values)
            rows.append(
                {
                    "W": float(w),
                    "pulse": str(pulse),
                    "N": [int(v) for v in at["n"].values],
                    "mean": [float(v) for v in one["mean"].values],
                    "sem": [float(v) for v in one["sem"].values],
                    "count": [int(v) for v in one["count"].values],
                    "median": [float(v) for v in one["median"].values],
                    "k_inf": fit.k_inf,
                    "k_inf_error": fit.k_inf_error,
                    "residuals": list(fit.residuals),
                    "fit": fit.form,
                }
            )
    pbit = [row for row in rows if row["pulse"] == "pbit"]
    w_star = crossover(np.array([r["W"] for r in pbit]), np.array([r["k_inf"] for r in pbit]))
    for row in pbit:
        row["crossover_W"] = w_star
    return rows


#: Total time after the p-bit echo's initial drop (T ~ 1 / J) from which the late drift is fitted.
DRIFT_START = 3.0


def prediction_rows(ds: xr.Dataset, *, background: str = "z-random") -> list[dict[str, Any]]:
    """The tests of the p-bit kept fraction against a prediction, one row per (N, W, prediction),
    realization by realization: ``"a_p^2"`` (the static weight) and, where the result has it,
    ``"refocusing"`` (``kept_predicted``, :func:`refocusing_prediction`). Each row: the mean
    prediction, the ensemble kept fraction, the median of kept - prediction and of its size,
    their correlation over realizations and the share of realizations within 0.1."""
    at = ds.sel(background=background, pulse="pbit")
    stats = kept_statistics(at)
    predictions = {"a_p^2": at["static_weight"] ** 2}
    if "kept_predicted" in at:
        predictions["refocusing"] = at["kept_predicted"]
    rows = []
    for n in at["n"].values:
        for w in np.atleast_1d(at["W"].values):
            kept_all = at[kept_variable(ds)].sel(n=n, W=w).values.ravel()
            for name, values in predictions.items():
                predicted = values.sel(n=n, W=w).values.ravel()
                keep = np.isfinite(kept_all) & np.isfinite(predicted)
                if keep.sum() < 3:
                    continue
                kept, predicted = kept_all[keep], predicted[keep]
                rows.append(
                    {
                        "N": int(n),
                        "W": float(w),
                        "prediction": name,
                        "predicted": float(predicted.mean()),
                        "kept": float(stats["mean"].sel(n=n, W=w)),
                        "median_excess": float(np.median(kept - predicted)),
                        "median_deviation": float(np.median(np.abs(kept - predicted))),
                        "correlation": float(np.corrcoef(kept, predicted)[0, 1]),
                        "within_0.1": float(np.mean(np.abs(kept - predicted) < 0.1)),
                        "realizations": int(keep.sum()),
                    }
                )
    return rows


def _drift(times: np.ndarray, curve: np.ndarray, errors: np.ndarray) -> Drift | None:
    """The late drift of one ensemble echo; errors only when every one is known (one
    realization has none); None with fewer than 3 times from :data:`DRIFT_START`."""
    if np.isfinite(curve[times >= DRIFT_START]).sum() < 3:
        return None
    known = bool(np.all(np.isfinite(errors) & (errors > 0)))
    return late_drift(times, curve, start=DRIFT_START, errors=errors if known else None)


def approach_rows(ds: xr.Dataset, *, background: str = "z-random") -> list[dict[str, Any]]:
    """How the p-bit ensemble echo approaches its plateau, one row per (N, W): the best form of
    :func:`~echo_lab.study.analysis.fit_plateau_approach` over all T with its parameters, the late
    drift (:func:`~echo_lab.study.analysis.late_drift` from :data:`DRIFT_START`, per e-fold of T;
    NaN with fewer than 3 times there) and the median localization length of the couplings J_ij."""
    at = ds.sel(background=background, pulse="pbit")
    curves, errors = ensemble_echo(at)
    times = at["time"].values
    rows = []
    for n in at["n"].values:
        for w in np.atleast_1d(at["W"].values):
            curve = curves.sel(n=n, W=w).values
            if not np.isfinite(curve).any():
                continue
            fits = fit_plateau_approach(times, curve)
            best = min(fits.values(), key=lambda fit: fit.rms) if fits else None
            drift = _drift(times, curve, errors.sel(n=n, W=w).values)
            rows.append(
                {
                    "N": int(n),
                    "W": float(w),
                    "best_form": best.form if best else "",
                    "parameters": dict(best.parameters) if best else {},
                    "drift_per_efold": drift.slope if drift else np.nan,
                    "drift_error": drift.slope_error if drift else np.nan,
                    "xi_couplings": float(at["xi_couplings"].sel(n=n, W=w).median()),
                }
            )
    return rows


def _cell(mean: float, error: float) -> str:
    return "-" if not np.isfinite(mean) else f"{mean:.3f} ± {error:.3f}"


def _kept_lines(rows: list[dict[str, Any]], background: str, quantity: str) -> list[str]:
    """Markdown tables of :func:`scaling_table` rows, one per pulse but the exact l-bit."""
    sizes = rows[0]["N"]
    lines = [
        f"Kept fraction of {quantity} (ensemble: late-time sum / initial sum over realizations, "
        f"T >= {LATE_FRACTION:g} T_max; ± standard error; {background} background).",
        "",
    ]
    for pulse in [p for p in dict.fromkeys(row["pulse"] for row in rows) if p != "lbit"]:
        mine = [row for row in rows if row["pulse"] == pulse]
        header = " | ".join(f"N = {n}" for n in sizes)
        lines += [
            f"**{pulse_label(pulse)}** (realizations per N: {mine[0]['count']})",
            "",
            f"| W | {header} | N -> inf (k_inf + c/N) | median, N = {sizes[-1]} |",
            "|---" * (len(sizes) + 3) + "|",
        ]
        for row in mine:
            cells = " | ".join(_cell(m, e) for m, e in zip(row["mean"], row["sem"], strict=True))
            extrapolated = _cell(row["k_inf"], row["k_inf_error"])
            lines.append(f"| {row['W']:g} | {cells} | {extrapolated} | {row['median'][-1]:.3f} |")
        lines.append("")
    w_star = next((row["crossover_W"] for row in rows if row["pulse"] == "pbit"), np.nan)
    return [
        *lines,
        f"Crossover: the extrapolated p-bit kept fraction reaches 1/2 at W* = {w_star:.2f} "
        "(linear in log W between the bracketing W).",
        "",
    ]


def _prediction_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of :func:`prediction_rows`."""
    lines = [
        "Predictions of the p-bit kept fraction, realization by realization (a_p^2: the static "
        "weight; refocusing: the coherence-weighted mean of M_s^2, `refocusing_prediction`):",
        "",
        "| N | W | prediction | mean predicted | kept | median(kept - pred.) | median abs | corr "
        "| within 0.1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['N']} | {row['W']:g} | {row['prediction']} | {row['predicted']:.3f} | "
            f"{row['kept']:.3f} | {row['median_excess']:+.3f} | {row['median_deviation']:.3f} | "
            f"{row['correlation']:.2f} | {row['within_0.1']:.0%} |"
        )
    return [*lines, ""]


def _approach_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of :func:`approach_rows`."""
    lines = [
        f"Approach to the plateau (p-bit ensemble echo; drift: slope in ln T for T >= "
        f"{DRIFT_START:g}):",
        "",
        "| N | W | best form over all T | parameters | drift per e-fold | median xi_J |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        numbers = ", ".join(f"{k} = {v:.3g}" for k, v in row["parameters"].items())
        drift = f"{row['drift_per_efold']:+.4f} ± {row['drift_error']:.4f}"
        lines.append(
            f"| {row['N']} | {row['W']:g} | {row['best_form']} | {numbers} | {drift} | "
            f"{row['xi_couplings']:.2f} |"
        )
    return lines


def scaling_summary(ds: xr.Dataset, *, background: str = "z-random") -> str:
    """The findings of a (combined) scaling result as Markdown (the tables of
    docs/pages/findings.md): the kept fraction by N and W with the extrapolated column
    (:func:`scaling_table`), the crossover, the tests of the predictions (:func:`prediction_rows`)
    and the approach to the plateau (:func:`approach_rows`)."""
    ds = with_sweep_dims(ds)
    lines = [
        *_kept_lines(scaling_table(ds, background=background), background, kept_quantity(ds)),
        *_prediction_lines(prediction_rows(ds, background=background)),
        *_approach_lines(approach_rows(ds, background=background)),
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def plot_scaling(ds: xr.Dataset, axes: Sequence[Axes], *, background: str = "z-random") -> None:
    """Kept fraction vs W per N and per pulse (p-bit and truncated pulses), the extrapolation
    (black), and on ``axes[1]`` the residuals of the extrapolation against N."""
    from matplotlib.ticker import NullLocator

    rows = scaling_table(ds, background=background)
    top, bottom = axes
    for pulse in dict.fromkeys(row["pulse"] for row in rows):
        if pulse == "lbit":
            continue
        mine = [row for row in rows if row["pulse"] == pulse]
        ws = np.array([row["W"] for row in mine])
        for k, n in enumerate(mine[0]["N"]):
            mean = np.array([row["mean"][k] for row in mine])
            sem = np.nan_to_num(np.array([row["sem"][k] for row in mine]))
            label = f"{pulse_label(pulse)}, N = {n}"
            top.errorbar(ws, mean, yerr=sem, marker="o", ms=3, lw=0.8, label=label)
        k_inf = np.array([row["k_inf"] for row in mine])
        error = np.nan_to_num(np.array([row["k_inf_error"] for row in mine]))
        label = f"{pulse_label(pulse)}, N -> inf"
        top.errorbar(ws, k_inf, yerr=error, color="k", marker="s", lw=1.5, capsize=3, label=label)
        for row in mine:
            if len(row["residuals"]) == len(row["N"]):  # one N: nothing extrapolated
                bottom.plot(row["N"], row["residuals"], "o-", lw=0.8, ms=3)
    top.axhline(0.5, color="grey", ls=":", lw=1)
    top.set_xscale("log")
    disorders = sorted({float(row["W"]) for row in rows})
    top.set_xticks(disorders, [f"{w:g}" for w in disorders])  # the W values, not 8 x 10^0
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("disorder strength W (J)")
    top.set_ylabel(f"kept fraction of {kept_quantity(ds)}")
    top.legend(fontsize="xx-small", ncol=2)
    bottom.axhline(0.0, color="k", lw=0.8)
    bottom.set_xlabel("chain length N")
    bottom.set_ylabel("residual of k_inf + c / N")


def ensemble_echo(at: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """The ensemble echo <tau^x_p>(T) / <tau^x_p>(0) (realization sums, :func:`ratio_of_means`)
    and its standard error, of a result selected at one pulse and background."""
    signal = coherence_variable(at)
    curve, sem, _ = _realization_ratio(at[signal], at[f"{signal}_initial"])
    return curve, sem


def plot_plateau(ds: xr.Dataset, ax: Axes, *, background: str = "z-random") -> None:
    """p-bit ensemble echo (:func:`ensemble_echo`) against T at the largest N, one curve per W,
    with the best-fitting form of :func:`~echo_lab.study.analysis.fit_plateau_approach` (smallest
    rms) dashed and named in the legend."""
    at = ds.sel(background=background, pulse="pbit")
    if "n" in at.dims:
        at = at.isel(n=-1)
    times = at["time"].values
    curves, errors = ensemble_echo(at)
    for w in np.atleast_1d(at["W"].values):
        curve = curves.sel(W=w).values
        error = np.nan_to_num(errors.sel(W=w).values)
        line = ax.errorbar(times, curve, yerr=error, lw=1.2, elinewidth=0.5, label=f"W = {w:g}")
        fits = fit_plateau_approach(times, curve)
        if fits:
            best = min(fits.values(), key=lambda fit: fit.rms)
            numbers = ", ".join(f"{k} = {v:.3g}" for k, v in best.parameters.items())
            label = f"  {best.form}: {numbers}"
            color = line.lines[0].get_color()
            ax.plot(times, best.evaluate(times), "--", color=color, lw=0.8, label=label)
    ax.set_xscale("log")
    ax.set_xlabel(plot.TIME_LABEL)
    ax.set_ylabel("p-bit echo: <tau^x_p>(T) / <tau^x_p>(0)")
    ax.legend(fontsize="xx-small")


def plot_prediction(ds: xr.Dataset, ax: Axes, *, background: str = "z-random") -> None:
    """Per realization: the p-bit kept fraction against a_p^2 (dots) and, where the result has
    it, against the refocusing prediction (crosses), with the line y = x."""
    at = ds.sel(background=background, pulse="pbit")
    for point, one in plot.points(at):
        kept = one[kept_variable(ds)].values.ravel()
        label = plot.describe(point) or ""
        (dots,) = ax.plot((one["static_weight"] ** 2).values.ravel(), kept, "o", ms=2, alpha=0.5)
        dots.set_label(f"{label} a_p^2".strip())
        if "kept_predicted" in one:
            predicted = one["kept_predicted"].values.ravel()
            color = dots.get_color()
            ax.plot(predicted, kept, "x", ms=3, color=color, label=f"{label} refocusing".strip())
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="kept = prediction")
    ax.set_xlabel("prediction: a_p^2 (o) or coherence-weighted M_s^2 (x)")
    ax.set_ylabel("p-bit kept fraction")
    ax.legend(fontsize="xx-small", ncol=2)


def with_sweep_dims(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``n`` and ``W`` as dimensions even when the study did not sweep them (the
    single W from the results' attributes: :func:`~echo_lab.study.drawing.model_value`)."""
    if "n" not in ds.dims:
        ds = combine_results([ds])
    if "W" not in ds.dims:
        ds = ds.expand_dims(W=[float(plot.model_value(ds, "W", 0.0))])
        dims = [*plot.sweep_dims(ds), "W"]
        ds.attrs["sweep_dims"] = json.dumps(dims)
    return ds


def scaling_figures(ds: xr.Dataset) -> dict[str, Figure]:
    """``scaling``, ``plateau`` and ``prediction`` (module docstring)."""
    ds = with_sweep_dims(ds)
    figure, axes = plot.new_figure(2, 1, size=(7.0, 3.6))
    plot_scaling(ds, [axes[0, 0], axes[1, 0]])
    figures = {"scaling": figure}
    figure, axes = plot.new_figure(size=(7.0, 4.5))
    plot_plateau(ds, axes[0, 0])
    figures["plateau"] = figure
    figure, axes = plot.new_figure(size=(5.5, 4.5))
    plot_prediction(ds, axes[0, 0])
    figures["prediction"] = figure
    return figures


class EchoScalingKind(EchoKind):
    """Study kind ``echo_scaling`` (module docstring): an echo study with the scaling
    variables; it needs an l-bit pulse (``"lbit"`` or ``"lbit:r"``) so that <tau^x_p> exists."""

    name = "echo_scaling"
    combines = True

    def check(self, spec: StudySpec) -> None:
        super().check(spec)
        settings = spec.settings
        assert isinstance(settings, EchoSettings)
        readouts = (settings.needs_lbits, settings.needs_circuit, settings.needs_compiled)
        if not (any(readouts) or settings.window_widths):
            raise ConfigError(
                "an echo_scaling study measures the kept l-bit coherence <tau^x_p>: add 'lbit' "
                "(or 'lbit:r', 'circuit' for circuit l-bits, 'compiled:s' for the compiled l-bit "
                "or 'window:w' for the window l-bit) to protocol.pulses"
            )

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_scaling_unit(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        return scaling_figures(ds)

    def combine(self, datasets: Sequence[xr.Dataset]) -> xr.Dataset:
        """Results of several files of this kind as one (:func:`combine_results`)."""
        return combine_results(datasets)

    def summary(self, ds: xr.Dataset) -> str:
        """The findings tables (:func:`scaling_summary`), then the error budget
        (:func:`~echo_lab.study.accuracy.accuracy_summary`) when the results hold one."""
        accuracy = accuracy_summary(ds)
        return scaling_summary(ds) + ("" if accuracy is None else "\n" + accuracy)


KIND = EchoScalingKind()
