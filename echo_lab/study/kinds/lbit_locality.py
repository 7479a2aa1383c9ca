"""Study kind ``lbit_locality``: how local the l-bits are, per assignment method
(docs/pages/conventions.md 4).

Sections: optionally ``[lbits]`` (``method``: one or a list, default both ``overlap`` and
``range``), and ``[protocol]`` with ``[times]`` together (probe, background, partners or
partner_distances, max_coupling) for the DEER estimate of xi.

Per unit, over (assignment, site): ``mean_range_z``, ``mean_range_x``; over (assignment):
``average_range_z``, ``average_range_x``, ``xi_tails``, ``xi_couplings``. With a [protocol]:
DEER with exact l-bit pulses against each partner, ``J_deer`` (assignment, partner) and
``xi_deer`` (assignment). Both coupling estimates of xi follow one rule,
:func:`echo_lab.physics.pauli.fit_localization_length` with floor ``lbits.COUPLING_FIT_FLOOR``:
least squares of log J against the distance d over the points above the floor (relative to the
largest), xi = -1 / slope. ``xi_couplings`` fits the median of log|J_ij| at each distance
(:meth:`~echo_lab.lbits.LBitSystem.xi_couplings`); ``xi_deer`` fits J_deer, one partner per
distance. ``xi_tails`` fits the tail profile of tau^z (floor ``lbits.TAIL_FIT_FLOOR``).
Cost: one ``eigh`` per S^z block and one l-bit construction per method (each O(n 4^n) Pauli
transforms for the ranges). Figure ``locality``: mean ranges and xi estimates vs W.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.backends import get_backend
from echo_lab.backends.options import BackendSpec
from echo_lab.errors import ConfigError
from echo_lab.lbits import COUPLING_FIT_FLOOR
from echo_lab.physics.pauli import fit_localization_length
from echo_lab.protocols.families import PulseSpec
from echo_lab.resources import dense_operator_bytes
from echo_lab.study import drawing as plot
from echo_lab.study.keydocs import SHARED_DOCS, KeyDoc, toml_value
from echo_lab.study.kinds.base import (
    KindSettings,
    StudyKind,
    check_probe,
    construct_lbits,
    refuse_larger,
    setup_unit,
    unit_dataset,
)
from echo_lab.study.kinds.deer import deer_traces, full_lbit_limits, parse_deer_protocol
from echo_lab.study.sections import (
    LBIT_METHODS,
    LbitSpec,
    ProtocolSpec,
    parse_lbits,
    parse_times,
)
from echo_lab.tables import Scalar, Table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = ["KIND", "LbitLocalityKind", "LbitLocalitySettings", "plot_ranges", "plot_xi"]

PROTOCOL_KEYS = ("probe", "background", "partners", "partner_distances", "max_coupling")


@dataclass(frozen=True)
class LbitLocalitySettings(KindSettings):
    """The assignment methods and, for the DEER estimate of xi, a protocol and times."""

    lbits: LbitSpec
    protocol: ProtocolSpec | None = None
    times: tuple[float, ...] = ()


def _settings(spec: StudySpec) -> LbitLocalitySettings:
    assert isinstance(spec.settings, LbitLocalitySettings)
    return spec.settings


def compute_lbit_locality(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """Locality of the l-bits of one realization for each assignment method (module docstring)."""
    setup = setup_unit(spec, point, realization)
    settings: LbitLocalitySettings = setup.settings
    methods = settings.lbits.methods
    per_site = {name: np.empty((len(methods), setup.n)) for name in ("z", "x")}
    scalars = {
        name: np.empty(len(methods))
        for name in ("average_range_z", "average_range_x", "xi_tails", "xi_couplings")
    }
    deer: list[np.ndarray] = []
    xi_deer = np.empty(len(methods))
    partners: tuple[int, ...] = ()
    for m, method in enumerate(methods):
        lbit_system = construct_lbits(setup, method)
        for axis in ("z", "x"):
            per_site[axis][m] = lbit_system.mean_range(axis)
            scalars[f"average_range_{axis}"][m] = lbit_system.average_range(axis)
        scalars["xi_tails"][m] = lbit_system.xi_tails()
        scalars["xi_couplings"][m] = lbit_system.xi_couplings()
        if settings.protocol is not None:
            backend = get_backend("exact", eigensystem=lbit_system.eigensystem)
            times = np.asarray(settings.times)
            pulses = settings.protocol.pulses
            _, fits, partners = deer_traces(setup, times, pulses, lbit_system, backend)
            deer.append(fits[0, 0])
            xi_deer[m] = fit_localization_length(
                _distances(setup, partners), fits[0, 0], floor=COUPLING_FIT_FLOOR
            )
    data_vars: dict[str, Any] = {
        "mean_range_z": (("assignment", "site"), per_site["z"]),
        "mean_range_x": (("assignment", "site"), per_site["x"]),
        **{name: (("assignment",), values) for name, values in scalars.items()},
    }
    coords: dict[str, Any] = {"assignment": list(methods)}
    if settings.protocol is not None:
        data_vars["J_deer"] = (("assignment", "partner"), np.asarray(deer))
        data_vars["xi_deer"] = (("assignment",), xi_deer)
        data_vars["partner_distance"] = (("partner",), _distances(setup, partners))
        coords["partner"] = np.arange(len(partners))
    return unit_dataset(data_vars, coords, setup)


def _distances(setup: Any, partners: tuple[int, ...]) -> np.ndarray:
    probe = setup.settings.protocol.probe_site(setup.lattice)
    return np.asarray([setup.lattice.distance(probe, q) for q in partners], dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def plot_ranges(ds: xr.Dataset, ax: Axes) -> None:
    """Average range of tau^z and tau^x vs W for each assignment method."""
    for label, x, at in plot.curves(ds):
        for method in at["assignment"].values:
            for axis, style in (("z", "o-"), ("x", "s--")):
                summary = plot.summarize(at[f"average_range_{axis}"].sel(assignment=method))
                text = ", ".join(filter(None, [label, str(method), f"tau^{axis}"]))
                ax.errorbar(
                    x,
                    summary["mean"].values,
                    yerr=np.nan_to_num(summary["sem"].values),
                    fmt=style,
                    capsize=3,
                    label=text,
                )
    ax.set_xlabel(plot.x_label(ds))
    ax.set_ylabel("average range (sites)")
    ax.legend(fontsize="small")


def plot_xi(ds: xr.Dataset, ax: Axes) -> None:
    """Localization-length estimates vs W: from tau tails, from J_ij decay, from DEER.

    Each is the median over realizations (robust against failed fits, which are NaN / inf).
    """
    names = [n for n in ("xi_tails", "xi_couplings", "xi_deer") if n in ds]
    for label, x, at in plot.curves(ds):
        for method in at["assignment"].values:
            for name, style in zip(names, ("o-", "s--", "^:"), strict=False):
                one = at[name].sel(assignment=method)
                values = one.where(np.isfinite(one))
                median = values.median("realization").values
                text = ", ".join(filter(None, [label, str(method), name.replace("xi_", "xi ")]))
                ax.plot(x, median, style, label=text)
    ax.set_xlabel(plot.x_label(ds))
    ax.set_ylabel("localization length xi (sites)")
    ax.legend(fontsize="small")


class LbitLocalityKind(StudyKind):
    """Study kind ``lbit_locality`` (module docstring)."""

    name = "lbit_locality"
    required: tuple[str, ...] = ()
    optional = ("lbits", "protocol", "times")
    keys: Mapping[str, tuple[str, ...]] = {"protocol": PROTOCOL_KEYS}
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {
        "lbits": {
            "method": dataclasses.replace(
                SHARED_DOCS["lbits"]["method"],
                text="The assignment methods compared (a string or a list).",
                default=toml_value(LBIT_METHODS),
            )
        },
        "protocol": {
            "partner_distances": dataclasses.replace(
                SHARED_DOCS["protocol"]["partner_distances"],
                text=SHARED_DOCS["protocol"]["partner_distances"].text
                + " [protocol] and [times] are for the DEER estimate of xi: give partners or "
                "partner_distances, and [times], or leave both sections out.",
            )
        },
    }

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> LbitLocalitySettings:
        lbits = parse_lbits(tables.get("lbits"), kind=self.name, several=True)
        if "protocol" not in tables:
            if "times" in tables:
                raise ConfigError(
                    "[times] of an lbit_locality study needs [protocol] partner_distances"
                )
            return LbitLocalitySettings(lbits)
        protocol = parse_deer_protocol(
            tables["protocol"],
            keys=PROTOCOL_KEYS,
            sweep=sweep,
            pulses=(PulseSpec("lbit"),),
            required=False,
        )
        if not (protocol.partners or protocol.partner_distances):
            raise ConfigError(
                "[protocol] of an lbit_locality study is for the DEER estimate of xi: give "
                "protocol.partner_distances, or remove the section"
            )
        if "times" not in tables:
            raise ConfigError("the DEER estimate of xi needs a [times] section")
        return LbitLocalitySettings(lbits, protocol, parse_times(tables["times"]))

    def check(self, spec: StudySpec) -> None:
        refuse_larger(spec, full_lbit_limits(self.name, _settings(spec).lbits))
        if _settings(spec).protocol is not None:
            check_probe(spec)

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        return {}

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """Eight dense 2^n x 2^n matrices (eigenvectors, tau, Pauli transforms, work copies)."""
        return 8 * dense_operator_bytes(spec.largest_model().n)

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_lbit_locality(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        figure, axes = plot.new_figure(1, 2)
        plot_ranges(ds, axes[0, 0])
        plot_xi(ds, axes[0, 1])
        return {"locality": figure}


KIND = LbitLocalityKind()
