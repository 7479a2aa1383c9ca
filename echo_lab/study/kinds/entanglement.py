"""Study kind ``entanglement``: half-chain entropy S(t) of the FID (docs/pages/conventions.md
section 7).

Sections: ``[times]``, and optionally ``[protocol]`` (probe, background) and ``[backend]``.
Per unit: ``entropy`` over (background, time), natural log, sites 0..n/2-1, from each background
product state. Cost (exact backend): one ``eigh`` per S^z block plus one SVD of a
2^(n/2) x 2^(n/2) matrix per time. Figure ``entropy``: S(t) vs log t per point and background.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from echo_lab.backends.options import (
    BackendSpec,
    build_backend,
    check_trotter_steps,
    parse_backend,
)
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import drawing as plot
from echo_lab.study.kinds.base import (
    KindSettings,
    StudyKind,
    backend_limits,
    backend_state_bytes,
    check_probe,
    dense_step_bytes,
    initial_states,
    refuse_larger,
    setup_unit,
    unit_dataset,
)
from echo_lab.study.sections import ProtocolSpec, parse_protocol, parse_times
from echo_lab.tables import Scalar, Table
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = ["KIND", "EntanglementKind", "EntanglementSettings", "plot_entanglement"]


@dataclass(frozen=True)
class EntanglementSettings(KindSettings):
    """The sections of an entanglement study."""

    times: tuple[float, ...]
    protocol: ProtocolSpec
    backend: BackendSpec


def _settings(spec: StudySpec) -> EntanglementSettings:
    assert isinstance(spec.settings, EntanglementSettings)
    return spec.settings


def compute_entanglement(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """Half-chain entropy of the FID from each background (module docstring)."""
    setup = setup_unit(spec, point, realization)
    settings: EntanglementSettings = setup.settings
    hamiltonian = setup.model.hamiltonian()
    backend = build_backend(settings.backend)
    probe = settings.protocol.probe_site(setup.lattice)
    states = initial_states(setup, probe, settings.protocol.backgrounds)
    times = np.asarray(settings.times)
    fid = build_sequence("fid", n=setup.n, probe=probe)
    entropy = np.empty((len(states), times.size))
    for b, state in enumerate(states.values()):
        with stage("evolution"):
            result = backend.run(hamiltonian, fid, state, times, observables={}, entropy=True)
        entropy[b] = result["entropy"]
    ds = unit_dataset(
        {"entropy": (("background", "time"), entropy), "probe": ((), probe)},
        {"background": list(states), "time": times},
        setup,
    )
    ds["entropy"].attrs = {"long_name": "half-chain entanglement entropy S", "units": "nats"}
    return ds


def plot_entanglement(ds: xr.Dataset, ax: Axes) -> None:
    """Half-chain entropy S(t) vs log t: one curve per parameter point and background."""
    times = ds["time"].values
    for point, at in plot.points(ds):
        for background in at["background"].values:
            summary = plot.summarize(at["entropy"].sel(background=background))
            label = ", ".join(filter(None, [plot.describe(point), str(background)]))
            plot.band(ax, times, summary, label=label, lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel(plot.TIME_LABEL)
    ax.set_ylabel("half-chain entropy S (nats)")
    ax.legend(fontsize="small")


class EntanglementKind(StudyKind):
    """Study kind ``entanglement`` (module docstring)."""

    name = "entanglement"
    required = ("times",)
    optional = ("protocol", "backend")
    keys: Mapping[str, tuple[str, ...]] = {"protocol": ("probe", "background")}

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> EntanglementSettings:
        protocol = ProtocolSpec(sequence="fid")
        if "protocol" in tables:
            keys = self.keys["protocol"]
            protocol = parse_protocol(tables["protocol"], keys=keys, sweep=sweep)[0]
            protocol = ProtocolSpec(
                sequence="fid", probe=protocol.probe, backgrounds=protocol.backgrounds
            )
        times = parse_times(tables["times"])
        backend = parse_backend(tables["backend"]) if "backend" in tables else BackendSpec()
        check_trotter_steps(backend, times, "backend.dt")
        return EntanglementSettings(times=times, protocol=protocol, backend=backend)

    def check(self, spec: StudySpec) -> None:
        refuse_larger(spec, backend_limits(spec, self.backends(spec)))
        check_probe(spec)

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        return {"backend": _settings(spec).backend}

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """The dense steps of a dense backend (:func:`~echo_lab.study.kinds.base.dense_step_bytes`),
        plus the backend's state (and one saved state per time on Aer, for the entropies)."""
        settings = _settings(spec)
        backends = self.backends(spec)
        dense = any(b.rules.dense for b in backends.values())
        total = dense_step_bytes(spec) if dense else 0
        times = len(settings.times)
        return total + backend_state_bytes(spec, backends, n_times=times, saved_states=times)

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_entanglement(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        figure, axes = plot.new_figure(size=(6.0, 4.0))
        plot_entanglement(ds, axes[0, 0])
        return {"entropy": figure}


KIND = EntanglementKind()
