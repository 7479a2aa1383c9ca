"""Drawing helpers shared by the study kinds, and :func:`plot_file`.

Each study kind draws its own figures (:meth:`StudyKind.figures
<echo_lab.studies.base.StudyKind.figures>`, e.g. :func:`echo_lab.studies.echo.plot_echo`); this
module holds what they share: disorder summaries (:func:`summarize`), iteration over the
parameter points of a result (:func:`points`, :func:`curves`), a mean-with-error band
(:func:`band`) and figure creation (:func:`new_figure`). :func:`plot_file` reads a results file
(:mod:`echo_lab.results`) and writes the figures of its kind as ``<name>_<figure>.png``
(:data:`DPI` dpi) beside it or in ``out``.

Curves show the disorder mean with a band of one standard error
(:func:`echo_lab.observables.disorder_summary`; the typical value is in :func:`summarize`).
matplotlib is imported only inside functions, figures are built as ``matplotlib.figure.Figure``
objects (Agg canvas, no pyplot state, no global backend switch) and nothing calls ``show()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.errors import ConfigError
from echo_lab.observables import disorder_summary
from echo_lab.results import load_results
from echo_lab.tables import quote
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DPI",
    "TIME_LABEL",
    "band",
    "curves",
    "describe",
    "new_figure",
    "plot_file",
    "points",
    "safe_name",
    "select_background",
    "summarize",
    "sweep_dims",
    "x_dim",
    "x_label",
]

DPI = 150

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


def sweep_dims(ds: xr.Dataset) -> list[str]:
    """Names of the sweep dimensions of a results Dataset (its ``sweep_dims`` attribute, a JSON
    list of dimension names); ConfigError when the attribute is malformed."""
    try:
        dims = json.loads(ds.attrs.get("sweep_dims", "[]"))
    except (TypeError, ValueError):
        dims = None
    if not isinstance(dims, list) or not all(isinstance(d, str) and d in ds.dims for d in dims):
        raise ConfigError(
            f"the results' sweep_dims attribute {quote(ds.attrs.get('sweep_dims'))} is not a "
            "JSON list of its dimensions; is this a results file written by echo_lab?"
        )
    return dims


def safe_name(name: object, *, fallback: str) -> str:
    """``name`` reduced to a plain file name (letters, digits, ``_``, ``-``, ``.``; no leading
    dot, at most 100 characters), or ``fallback`` when nothing is left: figure files built from
    it stay inside their folder whatever a results file's ``name`` attribute says."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).lstrip("._")[:100]
    return cleaned or fallback


def points(ds: xr.Dataset) -> Iterator[tuple[dict[str, Any], xr.Dataset]]:
    """``(point, ds at point)`` over the outer product of the sweep dimensions."""
    dims = sweep_dims(ds)
    if not dims:
        yield {}, ds
        return
    stacked = ds.stack(_point=dims)
    for i in range(stacked.sizes["_point"]):
        point = {dim: stacked[dim].values[i].item() for dim in dims}
        yield point, ds.sel(point)


def describe(point: dict[str, Any]) -> str:
    """``"W = 8, Jz = 1"`` for a parameter point ("" for none)."""
    return ", ".join(f"{key} = {value:g}" for key, value in point.items())


def band(ax: Axes, x: np.ndarray, summary: xr.Dataset, **style: Any) -> None:
    """The ``mean`` of a :func:`summarize` result as a line with a one-``sem`` band."""
    mean = summary["mean"].values
    sem = np.nan_to_num(summary["sem"].values)
    (line,) = ax.plot(x, mean, **style)
    ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, lw=0)


def new_figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (5.0, 3.6)) -> Any:
    """``(Figure, axes)``: a rows x cols grid (axes always 2-D), ``size`` per panel in inches."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, axes


def select_background(ds: xr.Dataset, background: str | None) -> xr.Dataset:
    """``ds`` at one background (default: the first), or ``ds`` when it has none."""
    if "background" not in ds.dims:
        return ds
    return ds.sel(background=background if background is not None else ds["background"].values[0])


def x_dim(ds: xr.Dataset) -> str | None:
    """The sweep dimension along the x axis of a sweep plot: W if swept, else the first."""
    dims = sweep_dims(ds)
    if "W" in dims:
        return "W"
    return dims[0] if dims else None


def curves(ds: xr.Dataset) -> Iterator[tuple[str, np.ndarray, xr.Dataset]]:
    """``(label, x, ds)`` per curve: x is the W sweep (or the first sweep dim), one curve per
    combination of the other sweep dims."""
    along = x_dim(ds)
    if along is None:
        yield "", np.zeros(1), ds.expand_dims(_x=[0.0])
        return
    rest = [d for d in sweep_dims(ds) if d != along]
    if not rest:
        yield "", ds[along].values, ds
        return
    stacked = ds.stack(_curve=rest)
    for i in range(stacked.sizes["_curve"]):
        point = {d: stacked[d].values[i].item() for d in rest}
        yield describe(point), ds[along].values, ds.sel(point)


def x_label(ds: xr.Dataset) -> str:
    """Axis label of :func:`x_dim`."""
    along = x_dim(ds)
    return "disorder strength W (J)" if along == "W" else (along or "")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def plot_file(path: str | Path, *more: str | Path, out: str | Path | None = None) -> list[Path]:
    """Redraw every figure of the results file ``path`` (with ``more`` files: of their combined
    results); return the paths written.

    The figures are those of the file's study kind (:meth:`StudyKind.figures
    <echo_lab.studies.base.StudyKind.figures>`), written to ``out`` (default: the first file's
    folder) as ``<name>_<figure>.png`` at :data:`DPI` dpi. A kind with a ``summary(ds)``
    method (Markdown findings) also gets ``<name>_summary.md``. Several files must share a
    kind that has a ``combine(datasets)`` method (e.g. ``echo_scaling``: N <= 12 and N = 14
    files); their outputs are named ``<name>_combined_<figure>.png``. Raises
    :class:`~echo_lab.errors.CheckpointError` for an unreadable file and :class:`ConfigError`
    for a file without a known study kind or files that cannot be combined.
    """
    from echo_lab.studies import KINDS

    paths = [Path(path), *map(Path, more)]
    datasets = [load_results(one) for one in paths]
    kinds = {str(ds.attrs.get("kind")) for ds in datasets}
    kind = KINDS.get(str(datasets[0].attrs.get("kind")))
    if kind is None:
        raise ConfigError(
            f"{paths[0]} has study kind {datasets[0].attrs.get('kind')!r}, which echo_lab cannot "
            "plot; is it an echo_lab results file?"
        )
    name = safe_name(datasets[0].attrs.get("name", paths[0].stem), fallback="results")
    ds = datasets[0]
    if len(paths) > 1:
        if len(kinds) > 1 or not hasattr(kind, "combine"):
            raise ConfigError(
                f"cannot combine {', '.join(map(str, paths))} (kinds {sorted(kinds)}): only "
                "results of one kind that combines (echo_scaling) plot together; plot each file "
                "on its own"
            )
        ds = kind.combine(datasets)
        name = f"{name}_combined"
    folder = Path(out) if out is not None else paths[0].parent
    where = paths[0] if len(paths) == 1 else "these files"
    with stage("plots"):
        try:
            figures = kind.figures(ds)
            summary = kind.summary(ds) if hasattr(kind, "summary") else None
        except ConfigError:
            raise
        except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{where} cannot be plotted as a result of kind {kind.name!r} "
                f"({type(exc).__name__}: {quote(str(exc))}); is it a complete results file "
                "written by echo_lab?"
            ) from None
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for figure_name, figure in figures.items():
            target = folder / f"{name}_{figure_name}.png"
            figure.savefig(target, dpi=DPI)
            written.append(target)
        if summary is not None:
            target = folder / f"{name}_summary.md"
            target.write_text(summary, encoding="utf-8")
            written.append(target)
    return written
