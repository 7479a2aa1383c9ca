"""Figures of study results; every plotting function draws onto a given matplotlib ``Axes``.

:func:`plot_file` reads a results file (:mod:`echo_lab.results`) and redraws all figures of its
study kind as ``<name>_<figure>.png`` (150 dpi) beside it or in ``out``:

=================  ==============================================================================
kind               figures
=================  ==============================================================================
echo               ``echo``: <sigma^x_p> (and <tau^x_p>) vs total time per pulse, one column
                   per parameter point (:func:`plot_echo`); ``recovery``: their late-time
                   values vs window radius r (:func:`plot_recovery`); ``check``: the [check]
                   backend against the main one (:func:`plot_check`), when present
entanglement       ``entropy``: S(t) vs log t (:func:`plot_entanglement`)
deer               ``deer_signals`` (:func:`plot_deer_signals`); ``deer_couplings``: fitted vs
                   effective J_pq (:func:`plot_deer_fits`) and |J| vs distance
                   (:func:`plot_coupling_decay`)
level_statistics   ``r``: r(W) with Poisson and GOE lines (:func:`plot_level_statistics`)
lbit_locality      ``locality``: mean ranges (:func:`plot_ranges`) and xi estimates
                   (:func:`plot_xi`) vs W
=================  ==============================================================================

Curves show the disorder mean with a band of one standard error
(:func:`echo_lab.observables.disorder_summary`; the typical value is in :func:`summarize`).
matplotlib is imported only inside these functions, figures are built as
``matplotlib.figure.Figure`` objects (Agg canvas, no pyplot state) and nothing calls ``show()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.errors import ConfigError
from echo_lab.observables import disorder_summary
from echo_lab.pulses import parse_pulse_spec, parse_window_spec
from echo_lab.results import load_results
from echo_lab.spectrum import GOE_R, POISSON_R

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "LATE_FRACTION",
    "late_time_recovery",
    "plot_check",
    "plot_coupling_decay",
    "plot_deer_fits",
    "plot_deer_signals",
    "plot_echo",
    "plot_entanglement",
    "plot_file",
    "plot_level_statistics",
    "plot_ranges",
    "plot_recovery",
    "plot_xi",
    "summarize",
]

DPI = 150

#: Late-time window of :func:`late_time_recovery`: the last decade of a log grid (t >= t_max/10).
LATE_FRACTION = 0.1

TIME_LABEL = "total time T (1/J)"


def summarize(values: xr.DataArray, *, dim: str = "realization") -> xr.Dataset:
    """Mean, standard error and typical value of ``values`` over ``dim`` (other dims kept).

    Thin wrapper of :func:`echo_lab.observables.disorder_summary`; returns variables ``mean``,
    ``sem``, ``typical`` with the remaining dims and coordinates of ``values``.
    """
    moved = values.transpose(dim, ...)
    summary = disorder_summary(moved.values, axis=0)
    template = moved.isel({dim: 0}, drop=True)
    return xr.Dataset({key: template.copy(data=summary[key]) for key in summary})


def _sweep_dims(ds: xr.Dataset) -> list[str]:
    return list(json.loads(ds.attrs.get("sweep_dims", "[]")))


def _points(ds: xr.Dataset) -> Iterator[tuple[dict[str, Any], xr.Dataset]]:
    """``(point, ds at point)`` over the outer product of the sweep dimensions."""
    dims = _sweep_dims(ds)
    if not dims:
        yield {}, ds
        return
    stacked = ds.stack(_point=dims)
    for i in range(stacked.sizes["_point"]):
        point = {dim: stacked[dim].values[i].item() for dim in dims}
        yield point, ds.sel(point)


def _describe(point: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {value:g}" for key, value in point.items())


def _band(ax: Axes, x: np.ndarray, summary: xr.Dataset, **style: Any) -> None:
    mean = summary["mean"].values
    sem = np.nan_to_num(summary["sem"].values)
    (line,) = ax.plot(x, mean, **style)
    ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, lw=0)


def _new_figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (5.0, 3.6)) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, axes


def _background(ds: xr.Dataset, background: str | None) -> xr.Dataset:
    if "background" not in ds.dims:
        return ds
    return ds.sel(background=background if background is not None else ds["background"].values[0])


# ----------------------------------------------------------------------------------------------
# Echo
# ----------------------------------------------------------------------------------------------


def plot_echo(
    ds: xr.Dataset,
    ax: Axes,
    *,
    observable: str = "sx",
    background: str | None = None,
) -> None:
    """``observable`` vs total time for every pulse of an echo result at ONE parameter point.

    Log time axis, disorder mean with a one-standard-error band, legend by pulse. The default
    <sigma^x_p> is the phase-sensitive echo signal: its disorder mean decays in the FID
    (inhomogeneous dephasing) and is refocused by an echo; ``"tau_x"`` is the l-bit signal an
    exact l-bit pulse refocuses completely.
    """
    at = _background(ds, background)
    times = at["time"].values
    for pulse in at["pulse"].values:
        summary = summarize(at[observable].sel(pulse=pulse))
        _band(ax, times, summary, label=_pulse_label(str(pulse)), lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(f"disorder mean of {at[observable].attrs.get('long_name', observable)}")
    ax.legend(fontsize="small")


def _pulse_label(pulse: str) -> str:
    if pulse == "fid":
        return "FID"
    family, radius = parse_pulse_spec(pulse)
    if family == "pbit":
        return "p-bit pulse"
    if family == "window":
        width = parse_window_spec(pulse)[0]
        suffix = "" if radius is None else f", r = {radius}"
        return f"window l-bit pulse, w = {width}{suffix}"
    return "exact l-bit pulse" if radius is None else f"l-bit pulse, r = {radius}"


def late_time_recovery(
    ds: xr.Dataset, *, observable: str = "sx", fraction: float = LATE_FRACTION
) -> xr.DataArray:
    """Mean of ``observable`` over the late times t >= ``fraction`` * t_max (time dim removed)."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must lie in (0, 1], got {fraction}")
    times = ds["time"]
    late = ds[observable].where(times >= fraction * float(times.max()), drop=True)
    return late.mean("time")


def plot_recovery(
    ds: xr.Dataset,
    ax: Axes,
    *,
    background: str | None = None,
    observable: str = "sx",
) -> None:
    """Late-time disorder mean of ``observable`` vs window radius r, one line per point.

    x positions: the p-bit pulse at r = -1, ``lbit:r`` and ``window:w:r`` at r, the exact
    l-bit pulse one step right of the largest r (labelled "exact") and the whole window l-bit
    ``window:w`` further right, one step each (labelled "w = w"); the FID is a dotted
    horizontal line.
    """
    pulses = [str(p) for p in ds["pulse"].values if p != "fid"]
    radii = [parse_pulse_spec(p)[1] for p in pulses]
    largest = max((r for r in radii if r is not None), default=-1)
    positions = {}
    whole_windows = 0
    for pulse in pulses:
        family, radius = parse_pulse_spec(pulse)
        if family == "pbit":
            positions[pulse] = -1
        elif radius is not None:
            positions[pulse] = radius
        elif family == "window":
            whole_windows += 1
            positions[pulse] = largest + 1 + whole_windows
        else:
            positions[pulse] = largest + 1
    order = sorted(pulses, key=positions.__getitem__)
    x = np.array([positions[p] for p in order], dtype=float)
    for point, at in _points(ds):
        at = _background(at, background)
        recovery = late_time_recovery(at, observable=observable)
        summary = summarize(recovery.sel(pulse=order))
        mean, sem = summary["mean"].values, np.nan_to_num(summary["sem"].values)
        bars = ax.errorbar(x, mean, yerr=sem, marker="o", capsize=3, label=_describe(point) or None)
        if "fid" in ds["pulse"].values:
            fid = float(summarize(recovery.sel(pulse="fid"))["mean"])
            ax.axhline(fid, ls=":", color=bars.lines[0].get_color(), lw=1)
    ticks = {x_: str(int(x_)) for x_ in x}
    for pulse, position in positions.items():
        family, radius = parse_pulse_spec(pulse)
        if family == "pbit":
            ticks[position] = "p-bit"
        elif radius is None:
            ticks[position] = (
                f"w = {parse_window_spec(pulse)[0]}" if family == "window" else "exact"
            )
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.set_xlabel("l-bit pulse window radius r (sites)")
    name = ds[observable].attrs.get("long_name", observable)
    ax.set_ylabel(f"late-time mean {name}")
    ax.set_title("average over T >= T_max / 10", fontsize="small")
    if any(_describe(point) for point, _ in _points(ds)):
        ax.legend(fontsize="small", title="dotted: FID")


def plot_check(ds: xr.Dataset, ax: Axes, *, realization: int = 0) -> None:
    """[check] backend (markers) against the main backend (lines): <sigma^x_p> at the check
    times for each checked pulse, first parameter point and background, one realization."""
    at = _background(next(_points(ds))[1], None).isel(realization=realization)
    times = at["check_time"].values
    for pulse in at["check_pulse"].values:
        (line,) = ax.plot(times, at["reference_sx"].sel(check_pulse=pulse), lw=1)
        ax.plot(
            times,
            at["check_sx"].sel(check_pulse=pulse),
            "x",
            color=line.get_color(),
            label=_pulse_label(str(pulse)),
        )
    ax.set_xscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("<sigma^x_p>")
    deviation = float(np.nanmax(ds["check_deviation"].values))
    ax.set_title(f"check (x) vs main backend (lines); max |diff| = {deviation:.1e}", fontsize=9)
    ax.legend(fontsize="small")


# ----------------------------------------------------------------------------------------------
# Entanglement, DEER
# ----------------------------------------------------------------------------------------------


def plot_entanglement(ds: xr.Dataset, ax: Axes) -> None:
    """Half-chain entropy S(t) vs log t: one curve per parameter point and background."""
    times = ds["time"].values
    for point, at in _points(ds):
        for background in at["background"].values:
            summary = summarize(at["entropy"].sel(background=background))
            label = ", ".join(filter(None, [_describe(point), str(background)]))
            _band(ax, times, summary, label=label, lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("half-chain entropy S (nats)")
    ax.legend(fontsize="small")


def plot_deer_signals(ds: xr.Dataset, ax: Axes, *, realization: int = 0) -> None:
    """<tau^x_p> DEER traces of one realization (first point, background and pulse), one per
    partner, labelled with the partner distance and the fitted |J_pq|. Log time axis (T > 0),
    so each trace starts to oscillate near its own T ~ 1 / |J_pq|."""
    at = _background(next(_points(ds))[1], None).isel(realization=realization, pulse=0)
    at = at.isel(time=np.flatnonzero(at["time"].values > 0))
    times = at["time"].values
    for partner in at["partner"].values:
        one = at.sel(partner=partner)
        ax.plot(
            times,
            one["tau_x"].values,
            lw=0.8,
            label=f"d = {int(one['partner_distance'])}, |J| fit = {float(one['J_fit']):.2e}",
        )
    ax.set_xscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("<tau^x_p> (DEER)")
    ax.legend(fontsize="small")


def plot_deer_fits(ds: xr.Dataset, ax: Axes) -> None:
    """Fitted |J_pq| against |c_pq| of the effective Hamiltonian (log-log, with y = x)."""
    for point, at in _points(ds):
        at = _background(at, None).isel(pulse=0)
        fitted = at["J_fit"].values.ravel()
        effective = np.abs(at["J_eff"].values).ravel()
        ax.loglog(effective, fitted, "o", ms=3, alpha=0.6, label=_describe(point) or None)
    limits = np.array([ax.get_xlim(), ax.get_ylim()])
    span = [float(limits.min()), float(limits.max())]
    ax.plot(span, span, "k--", lw=1, label="fit = effective")
    ax.set_xlabel("|c_pq| of the effective Hamiltonian (J)")
    ax.set_ylabel("|J_pq| fitted to DEER (J)")
    ax.legend(fontsize="small")


def plot_coupling_decay(ds: xr.Dataset, ax: Axes) -> None:
    """Typical |J_pq| (exp mean log over realizations) vs partner distance, log y axis."""
    for point, at in _points(ds):
        at = _background(at, None).isel(pulse=0)
        distance = at["partner_distance"].isel(realization=0).values
        for name, marker in (("J_fit", "o-"), ("J_eff", "s--")):
            typical = summarize(abs(at[name]))["typical"].values
            label = ", ".join(filter(None, [_describe(point), name.replace("_", " ")]))
            ax.semilogy(distance, typical, marker, label=label)
    ax.set_xlabel("partner distance |p - q| (sites)")
    ax.set_ylabel("typical |J_pq| (J)")
    ax.legend(fontsize="small")


# ----------------------------------------------------------------------------------------------
# Sweeps over W: level statistics, l-bit locality
# ----------------------------------------------------------------------------------------------


def _x_dim(ds: xr.Dataset) -> str | None:
    dims = _sweep_dims(ds)
    if "W" in dims:
        return "W"
    return dims[0] if dims else None


def _curves(ds: xr.Dataset) -> Iterator[tuple[str, np.ndarray, xr.Dataset]]:
    """``(label, x, ds)`` per curve: x is the W sweep (or the first sweep dim), one curve per
    combination of the other sweep dims."""
    x_dim = _x_dim(ds)
    if x_dim is None:
        yield "", np.zeros(1), ds.expand_dims(_x=[0.0])
        return
    rest = [d for d in _sweep_dims(ds) if d != x_dim]
    if not rest:
        yield "", ds[x_dim].values, ds
        return
    stacked = ds.stack(_curve=rest)
    for i in range(stacked.sizes["_curve"]):
        point = {d: stacked[d].values[i].item() for d in rest}
        yield _describe(point), ds[x_dim].values, ds.sel(point)


def _x_label(ds: xr.Dataset) -> str:
    x_dim = _x_dim(ds)
    return "disorder strength W (J)" if x_dim == "W" else (x_dim or "")


def plot_level_statistics(ds: xr.Dataset, ax: Axes) -> None:
    """Disorder-averaged spacing ratio r vs W (one curve per n), Poisson and GOE lines."""
    for label, x, at in _curves(ds):
        summary = summarize(at["r"])
        ax.errorbar(
            x,
            summary["mean"].values,
            yerr=np.nan_to_num(summary["sem"].values),
            marker="o",
            capsize=3,
            label=label or None,
        )
    ax.axhline(POISSON_R, color="k", ls="--", lw=1, label=f"Poisson {POISSON_R:.4f}")
    ax.axhline(GOE_R, color="k", ls=":", lw=1, label=f"GOE {GOE_R:.4f}")
    ax.set_xlabel(_x_label(ds))
    ax.set_ylabel("mean spacing ratio r")
    ax.legend(fontsize="small")


def plot_ranges(ds: xr.Dataset, ax: Axes) -> None:
    """Average range of tau^z and tau^x vs W for each assignment method."""
    for label, x, at in _curves(ds):
        for method in at["assignment"].values:
            for axis, style in (("z", "o-"), ("x", "s--")):
                summary = summarize(at[f"average_range_{axis}"].sel(assignment=method))
                text = ", ".join(filter(None, [label, str(method), f"tau^{axis}"]))
                ax.errorbar(
                    x,
                    summary["mean"].values,
                    yerr=np.nan_to_num(summary["sem"].values),
                    fmt=style,
                    capsize=3,
                    label=text,
                )
    ax.set_xlabel(_x_label(ds))
    ax.set_ylabel("average range (sites)")
    ax.legend(fontsize="small")


def plot_xi(ds: xr.Dataset, ax: Axes) -> None:
    """Localization-length estimates vs W: from tau tails, from J_ij decay, from DEER.

    Each is the median over realizations (robust against failed fits, which are NaN / inf).
    """
    names = [n for n in ("xi_tails", "xi_couplings", "xi_deer") if n in ds]
    for label, x, at in _curves(ds):
        for method in at["assignment"].values:
            for name, style in zip(names, ("o-", "s--", "^:"), strict=False):
                one = at[name].sel(assignment=method)
                values = one.where(np.isfinite(one))
                median = values.median("realization").values
                text = ", ".join(filter(None, [label, str(method), name.replace("xi_", "xi ")]))
                ax.plot(x, median, style, label=text)
    ax.set_xlabel(_x_label(ds))
    ax.set_ylabel("localization length xi (sites)")
    ax.legend(fontsize="small")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path


def plot_file(path: str | Path, *, out: str | Path | None = None) -> list[Path]:
    """Redraw every figure of the results file ``path``; return the PNG paths.

    Figures go to ``out`` (default: the file's folder) as ``<name>_<figure>.png``. Raises
    :class:`~echo_lab.errors.CheckpointError` for an unreadable file and :class:`ConfigError` for
    a file without a known study kind.
    """
    path = Path(path)
    ds = load_results(path)
    kind = ds.attrs.get("kind")
    name = ds.attrs.get("name", path.stem)
    folder = Path(out) if out is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def target(figure_name: str) -> Path:
        return folder / f"{name}_{figure_name}.png"

    if kind == "echo":
        signals = [name for name in ("sx", "tau_x") if name in ds]
        points = list(_points(ds))
        figure, axes = _new_figure(len(signals), len(points))
        for row, signal in enumerate(signals):
            for col, (point, at) in enumerate(points):
                plot_echo(at, axes[row, col], observable=signal)
                axes[row, col].set_title(_describe(point), fontsize=9)
        written.append(_save(figure, target("echo")))
        figure, axes = _new_figure(1, len(signals))
        for col, signal in enumerate(signals):
            plot_recovery(ds, axes[0, col], observable=signal)
        written.append(_save(figure, target("recovery")))
        if "check_sx" in ds:
            figure, axes = _new_figure()
            plot_check(ds, axes[0, 0])
            written.append(_save(figure, target("check")))
    elif kind == "entanglement":
        figure, axes = _new_figure(size=(6.0, 4.0))
        plot_entanglement(ds, axes[0, 0])
        written.append(_save(figure, target("entropy")))
    elif kind == "deer":
        figure, axes = _new_figure()
        plot_deer_signals(ds, axes[0, 0])
        written.append(_save(figure, target("deer_signals")))
        figure, axes = _new_figure(1, 2)
        plot_deer_fits(ds, axes[0, 0])
        plot_coupling_decay(ds, axes[0, 1])
        written.append(_save(figure, target("deer_couplings")))
    elif kind == "level_statistics":
        figure, axes = _new_figure()
        plot_level_statistics(ds, axes[0, 0])
        written.append(_save(figure, target("r")))
    elif kind == "lbit_locality":
        figure, axes = _new_figure(1, 2)
        plot_ranges(ds, axes[0, 0])
        plot_xi(ds, axes[0, 1])
        written.append(_save(figure, target("locality")))
    else:
        raise ConfigError(
            f"{path} has study kind {kind!r}, which echo_lab cannot plot; is it an echo_lab "
            "results file?"
        )
    return written
