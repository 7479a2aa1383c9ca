"""Study kind ``level_statistics``: the mean level-spacing ratio r (docs/pages/conventions.md
section 3).

Sections: optionally ``[spectrum]`` (``fraction``, the middle share of the spectrum whose
spacing ratios are averaged, default 1/3). Per unit: ``r`` from
:func:`echo_lab.physics.spectrum.measure_spacing_ratio` over the half-filling sector (or the full
spectrum without a conserved sigma^z). Cost: one ``eigvalsh`` of a binomial(n, n/2) block,
O(d^3) (n = 12: d = 924). Figure ``r``: r(W) with the Poisson and GOE values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from echo_lab.backends.options import BackendSpec
from echo_lab.errors import ConfigError
from echo_lab.physics.spectrum import GOE_R, MAX_EXACT_QUBITS, POISSON_R, measure_spacing_ratio
from echo_lab.resources import REAL_BYTES
from echo_lab.study import drawing as plot
from echo_lab.study.keydocs import KeyDoc
from echo_lab.study.kinds.base import (
    KindSettings,
    StudyKind,
    refuse_larger,
    setup_unit,
    unit_dataset,
)
from echo_lab.study.sections import MAX_SECTOR_SITES
from echo_lab.tables import Scalar, Table, scalar
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = ["KIND", "LevelStatisticsKind", "LevelStatisticsSettings", "plot_level_statistics"]


@dataclass(frozen=True)
class LevelStatisticsSettings(KindSettings):
    """The share of the middle of the spectrum whose spacing ratios are averaged."""

    fraction: float = 1.0 / 3.0


def _settings(spec: StudySpec) -> LevelStatisticsSettings:
    assert isinstance(spec.settings, LevelStatisticsSettings)
    return spec.settings


def _conserving(spec: StudySpec) -> bool:
    return all(spec.resolve(point)[0].conserves_magnetization for point in spec.points())


def plot_level_statistics(ds: xr.Dataset, ax: Axes) -> None:
    """Disorder-averaged spacing ratio r vs W (one curve per n), Poisson and GOE lines."""
    for label, x, at in plot.curves(ds):
        summary = plot.summarize(at["r"])
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
    ax.set_xlabel(plot.x_label(ds))
    ax.set_ylabel("mean spacing ratio r")
    ax.legend(fontsize="small")


class LevelStatisticsKind(StudyKind):
    """Study kind ``level_statistics`` (module docstring)."""

    name = "level_statistics"
    required: tuple[str, ...] = ()
    optional = ("spectrum",)
    keys: Mapping[str, tuple[str, ...]] = {"spectrum": ("fraction",)}
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {
        "spectrum": {
            "fraction": KeyDoc(
                "number",
                "The share, in (0, 1], of the middle of the spectrum whose level-spacing ratios "
                "are averaged.",
                "1/3",
                example="0.5",
            )
        }
    }

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> LevelStatisticsSettings:
        fraction = 1.0 / 3.0
        if "spectrum" in tables:
            table = tables["spectrum"]
            fraction = float(scalar(table, "fraction", fraction, minimum=0.0))
            if not 0.0 < fraction <= 1.0:
                raise ConfigError(
                    f"spectrum.fraction = {fraction:g} must lie in (0, 1]: the share of the "
                    "middle of the spectrum whose spacing ratios are averaged"
                )
        return LevelStatisticsSettings(fraction)

    def check(self, spec: StudySpec) -> None:
        if _conserving(spec):
            limit = (MAX_SECTOR_SITES, "level statistics diagonalize one dense sector")
        else:
            limit = (MAX_EXACT_QUBITS, "level statistics without a conserved sigma^z are dense")
        refuse_larger(spec, [limit])

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        return {}

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """Two real matrices of the half-filling sector (the full space without a conserved
        sigma^z)."""
        n = spec.largest_model().n
        dimension = math.comb(n, n // 2) if _conserving(spec) else 2**n
        return 2 * REAL_BYTES * dimension * dimension

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        setup = setup_unit(spec, point, realization)
        with stage("diagonalization"):
            r = measure_spacing_ratio(setup.model, fraction=_settings(spec).fraction)
        ds = unit_dataset({"r": ((), r)}, {}, setup)
        ds["r"].attrs = {"long_name": "mean level-spacing ratio r"}
        return ds

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        figure, axes = plot.new_figure()
        plot_level_statistics(ds, axes[0, 0])
        return {"r": figure}


KIND = LevelStatisticsKind()
