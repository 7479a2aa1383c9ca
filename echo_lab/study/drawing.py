"""Drawing helpers shared by the study kinds.

Each study kind draws its own figures (:meth:`StudyKind.figures
<echo_lab.study.kinds.base.StudyKind.figures>`, e.g. :func:`echo_lab.study.kinds.echo.plot_echo`);
this module holds what they share: disorder summaries (:func:`summarize`), iteration over the
parameter points of a result (:func:`points`, :func:`curves`), a mean-with-error band
(:func:`band`) and figure creation (:func:`new_figure`). :func:`echo_lab.study.figures.plot_file`
writes the figures of a results file at :data:`DPI` dpi.

Curves show the disorder mean with a band of one standard error
(:func:`echo_lab.protocols.observables.disorder_summary`; the typical value is in
:func:`summarize`). matplotlib is imported only inside functions, figures are built as
``matplotlib.figure.Figure`` objects (Agg canvas, no pyplot state, no global backend switch) and
nothing calls ``show()``.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.errors import ConfigError
from echo_lab.protocols.observables import disorder_summary
from echo_lab.study.results import write_bytes_atomically
from echo_lab.tables import quote

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DPI",
    "TIME_LABEL",
    "band",
    "curves",
    "describe",
    "model_value",
    "new_figure",
    "points",
    "safe_name",
    "save_png",
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

    Thin wrapper of :func:`echo_lab.protocols.observables.disorder_summary`; returns variables
    ``mean``, ``sem``, ``typical`` with the remaining dims and coordinates of ``values``.
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
    except (TypeError, ValueError, RecursionError):
        dims = None
    if not isinstance(dims, list) or not all(isinstance(d, str) and d in ds.dims for d in dims):
        raise ConfigError(
            f"the results' sweep_dims attribute {quote(ds.attrs.get('sweep_dims'))} is not a "
            "JSON list of its dimensions; is this a results file written by echo_lab?"
        )
    return dims


def model_value(ds: xr.Dataset, key: str, default: Any) -> Any:
    """The value of ``[model] key`` in the study a results Dataset comes from (its first value
    when the key was swept), without reading the study file through the loader.

    From the normalized spec the results carry (attribute ``spec``: the JSON of
    :attr:`StudySpec.normalized <echo_lab.study.spec.StudySpec.normalized>`, defaults filled in);
    results written before they carried it have only the study file's text (``config``), read
    here with ``tomllib``: a list gives its first value, and an absent key ``default`` (pass the
    loader's default). ConfigError when neither attribute can be read.
    """
    try:
        if "spec" in ds.attrs:
            return json.loads(str(ds.attrs["spec"]))["model"][key]
        text = str(ds.attrs.get("config", "")).removeprefix("\ufeff")
        value = tomllib.loads(text).get("model", {}).get(key, default)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"the results' spec / config attributes do not give model.{key} "
            f"({type(exc).__name__}: {quote(str(exc))}); is this a results file written by "
            "echo_lab?"
        ) from None
    return value[0] if isinstance(value, list) and value else value


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


def save_png(figure: Any, path: Path, *, dpi: int = DPI) -> Path:
    """Write ``figure`` as a PNG to ``path``: rendered in memory, then a new file renamed onto
    ``path`` (:func:`~echo_lab.study.results.write_bytes_atomically`), so a symbolic link there is
    replaced, never written through (a symlinked figure once overwrote the link's target
    outside the output folder), and a full disk leaves no half-written figure."""
    png = io.BytesIO()
    figure.savefig(png, dpi=dpi, format="png")
    return write_bytes_atomically(path, png.getbuffer())
