"""Study kind ``deer``: double electron-electron resonance echoes (docs/pages/conventions.md section
6).

A Hahn echo on the probe p with a pi pulse on a partner q at the midpoint: with exact l-bit
pulses the l-bit phase of p at total time T is 2 J_pq T (plus higher-order terms through p and
q), so the trace of <tau^x_p> oscillates as cos(2 J_pq T) and a fit measures J_pq.

Sections: ``[protocol]`` (pulses, probe, background, angle_error, partners or
partner_distances, max_coupling), ``[times]``, optionally ``[lbits]`` and ``[backend]``.
Per unit, for each background, pulse spec and partner: the traces ``sx`` and ``tau_x`` (dims
background, pulse, partner, time); ``J_fit`` = |J_pq| fitted to ``tau_x``
(:func:`echo_lab.protocols.observables.fit_deer_coupling`); ``J_eff`` (partner) = c_pq of the
effective l-bit Hamiltonian, ``partner_site`` and ``partner_distance``. Cost: one ``eigh`` per S^z
block, the l-bits, and one run per (background, pulse, partner). Figures ``deer_signals`` and
``deer_couplings`` (fitted vs effective |J|, and |J| vs distance).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.backends.base import Backend
from echo_lab.backends.options import (
    BackendSpec,
    build_backend,
    check_trotter_steps,
    parse_backend,
)
from echo_lab.errors import ConfigError
from echo_lab.lbits import MAX_RANGE_QUBITS
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.spectrum import MAX_EXACT_QUBITS
from echo_lab.protocols import observables as obs
from echo_lab.protocols.families import EXACT, PulseSpec, SourceNeed
from echo_lab.protocols.sequences import build_sequence
from echo_lab.resources import dense_operator_bytes
from echo_lab.study import drawing as plot
from echo_lab.study.keydocs import SHARED_DOCS, KeyDoc
from echo_lab.study.kinds.base import (
    DEFAULT_SWEEPABLE,
    KindSettings,
    SizeLimit,
    StudyKind,
    UnitSetup,
    backend_limits,
    backend_state_bytes,
    check_probe,
    check_pulse_geometry,
    construct_lbits,
    initial_states,
    pulse_source,
    refuse_larger,
    setup_unit,
    unit_dataset,
    unit_sources,
)
from echo_lab.study.sections import (
    LbitSpec,
    ProtocolSpec,
    parse_lbits,
    parse_partners,
    parse_protocol,
    parse_pulses,
    parse_times,
)
from echo_lab.tables import Scalar, Table
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = [
    "KIND",
    "DeerKind",
    "DeerSettings",
    "deer_traces",
    "plot_coupling_decay",
    "plot_deer_fits",
    "plot_deer_signals",
]

PROTOCOL_KEYS = (
    "pulses",
    "probe",
    "background",
    "angle_error",
    "partners",
    "partner_distances",
    "max_coupling",
)


@dataclass(frozen=True)
class DeerSettings(KindSettings):
    """The sections of a DEER study."""

    protocol: ProtocolSpec
    times: tuple[float, ...]
    lbits: LbitSpec
    backend: BackendSpec


def _settings(spec: StudySpec) -> DeerSettings:
    assert isinstance(spec.settings, DeerSettings)
    return spec.settings


def parse_deer_protocol(
    table: Table,
    *,
    keys: tuple[str, ...],
    sweep: dict[str, tuple[Scalar, ...]],
    pulses: tuple[PulseSpec, ...] | None = None,
    required: bool = True,
) -> ProtocolSpec:
    """A DEER protocol: the shared keys, partners and (unless given) the pulses, which may not
    be window pulses (the window l-bits hold the probe's l-bit only)."""
    base, table, angle_error = parse_protocol(table, keys=keys, sweep=sweep)
    if pulses is None:
        pulses = parse_pulses(table, ["lbit"], angle_error=angle_error)
    for i, pulse in enumerate(pulses):
        family = pulse.pulse_family
        if not family.allows("deer"):
            raise ConfigError(
                f"protocol.pulses[{i}] = {pulse.label!r}: a DEER study does not take "
                f"{family.name} pulses ({family.protocol_reason or 'they exclude DEER'}); use "
                "'lbit' or 'lbit:r' in a DEER study"
            )
    return ProtocolSpec(
        sequence="deer",
        pulses=pulses,
        probe=base.probe,
        backgrounds=base.backgrounds,
        n_pulses=base.n_pulses,
        **parse_partners(table, required=required),
    )


def full_lbit_limits(kind: str, lbits: LbitSpec) -> list[SizeLimit]:
    """The size limits of a study that builds the dense l-bit operators of the whole chain (its
    Pauli expansions, ranges, or the DEER traces of <tau^x_p>)."""
    limits = [(MAX_EXACT_QUBITS, f"a {kind} study builds dense l-bit operators")]
    if "range" in lbits.methods:
        limits.append((MAX_RANGE_QUBITS, "the 'range' l-bit assignment costs O(16^n)"))
    return limits


def deer_traces(
    setup: UnitSetup,
    times: np.ndarray,
    pulses: tuple[PulseSpec, ...],
    lbit_system: LBitSource,
    backend: Backend,
    sources: Mapping[SourceNeed, LBitSource] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, tuple[int, ...]]:
    """``sx`` and ``tau_x`` of DEER runs over (background, pulse, partner, time), the fitted
    |J_pq| over (background, pulse, partner) and the partner sites. ``tau_x`` is read from
    ``lbit_system`` (the l-bits of the chain), which also serves the pulses that need such
    l-bits; ``sources`` holds the other sources the pulses need (circuit l-bits)."""
    protocol: ProtocolSpec = setup.settings.protocol
    hamiltonian = setup.model.hamiltonian()
    probe = protocol.probe_site(setup.lattice)
    partners = protocol.partner_sites(setup.lattice)
    sources = {SourceNeed(EXACT): lbit_system, **(sources or {})}
    with stage("l-bit observables"):
        operators = obs.probe_observables(setup.n, probe, source=lbit_system)
    measured = {"sx": operators["sx"], "tau_x": operators["tau_x"]}
    states = initial_states(setup, probe, protocol.backgrounds)
    shape = (len(states), len(pulses), len(partners), times.size)
    traces = {name: np.empty(shape) for name in measured}
    fits = np.empty(shape[:3])
    for c, partner in enumerate(partners):
        for s, pulse in enumerate(pulses):
            with stage("pulses"):
                sequence = build_sequence(
                    "deer",
                    n=setup.n,
                    probe=probe,
                    pulse=pulse,
                    partner=partner,
                    source=pulse_source(pulse, sources),
                    lattice=setup.lattice,
                )
            for b, state in enumerate(states.values()):
                with stage("evolution"):
                    result = backend.run(hamiltonian, sequence, state, times, observables=measured)
                for name in measured:
                    traces[name][b, s, c] = result[name]
                fits[b, s, c] = obs.fit_deer_coupling(
                    times, result["tau_x"], max_coupling=protocol.max_coupling
                )
    return traces, fits, partners


def compute_deer(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> xr.Dataset:
    """DEER of one realization (module docstring)."""
    setup = setup_unit(spec, point, realization)
    settings: DeerSettings = setup.settings
    lbit_system = construct_lbits(setup, settings.lbits.method)
    backend = build_backend(settings.backend, eigensystem=lbit_system.eigensystem)
    times = np.asarray(settings.times)
    pulses = settings.protocol.pulses
    probe = settings.protocol.probe_site(setup.lattice)
    sources = unit_sources(setup, probe, pulses, settings.lbits, exact=lbit_system)
    traces, fits, partners = deer_traces(setup, times, pulses, lbit_system, backend, sources)
    couplings = lbit_system.effective_hamiltonian()
    effective = [float(couplings.get(tuple(sorted((probe, q))), 0.0)) for q in partners]
    distances = [setup.lattice.distance(probe, q) for q in partners]
    dims = ("background", "pulse", "partner", "time")
    data_vars: dict[str, Any] = {
        "sx": (dims, traces["sx"]),
        "tau_x": (dims, traces["tau_x"]),
        "J_fit": (dims[:3], fits),
        "J_eff": (("partner",), np.asarray(effective)),
        "partner_site": (("partner",), np.asarray(partners, dtype=np.int64)),
        "partner_distance": (("partner",), np.asarray(distances, dtype=np.int64)),
        "probe": ((), probe),
    }
    coords = {
        "background": list(settings.protocol.backgrounds),
        "pulse": [pulse.label for pulse in pulses],
        "partner": np.arange(len(partners)),
        "time": times,
    }
    ds = unit_dataset(data_vars, coords, setup)
    ds["J_fit"].attrs = {"long_name": "|J_pq| fitted to the DEER trace", "units": "J"}
    ds["J_eff"].attrs = {"long_name": "effective coupling c_pq", "units": "J"}
    return ds


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def plot_deer_signals(ds: xr.Dataset, ax: Axes, *, realization: int = 0) -> None:
    """<tau^x_p> DEER traces of one realization (first point, background and pulse), one per
    partner, labelled with the partner distance and the fitted |J_pq|. Log time axis (T > 0),
    so each trace starts to oscillate near its own T ~ 1 / |J_pq|."""
    at = plot.select_background(next(plot.points(ds))[1], None)
    at = at.isel(realization=realization, pulse=0)
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
    ax.set_xlabel(plot.TIME_LABEL)
    ax.set_ylabel("<tau^x_p> (DEER)")
    ax.legend(fontsize="small")


def plot_deer_fits(ds: xr.Dataset, ax: Axes) -> None:
    """Fitted |J_pq| against |c_pq| of the effective Hamiltonian (log-log, with y = x)."""
    for point, at in plot.points(ds):
        at = plot.select_background(at, None).isel(pulse=0)
        fitted = at["J_fit"].values.ravel()
        effective = np.abs(at["J_eff"].values).ravel()
        ax.loglog(effective, fitted, "o", ms=3, alpha=0.6, label=plot.describe(point) or None)
    limits = np.array([ax.get_xlim(), ax.get_ylim()])
    span = [float(limits.min()), float(limits.max())]
    ax.plot(span, span, "k--", lw=1, label="fit = effective")
    ax.set_xlabel("|c_pq| of the effective Hamiltonian (J)")
    ax.set_ylabel("|J_pq| fitted to DEER (J)")
    ax.legend(fontsize="small")


def plot_coupling_decay(ds: xr.Dataset, ax: Axes) -> None:
    """Typical |J_pq| (exp mean log over realizations) vs partner distance, log y axis."""
    for point, at in plot.points(ds):
        at = plot.select_background(at, None).isel(pulse=0)
        distance = at["partner_distance"].isel(realization=0).values
        for name, marker in (("J_fit", "o-"), ("J_eff", "s--")):
            typical = plot.summarize(abs(at[name]))["typical"].values
            label = ", ".join(filter(None, [plot.describe(point), name.replace("_", " ")]))
            ax.semilogy(distance, typical, marker, label=label)
    ax.set_xlabel("partner distance |p - q| (sites)")
    ax.set_ylabel("typical |J_pq| (J)")
    ax.legend(fontsize="small")


class DeerKind(StudyKind):
    """Study kind ``deer`` (module docstring)."""

    name = "deer"
    required = ("protocol", "times")
    optional = ("lbits", "backend")
    keys: Mapping[str, tuple[str, ...]] = {"protocol": PROTOCOL_KEYS}
    sweepable: Mapping[str, tuple[str, ...]] = {**DEFAULT_SWEEPABLE, "protocol": ("angle_error",)}
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {
        "protocol": {
            "pulses": dataclasses.replace(
                SHARED_DOCS["protocol"]["pulses"],
                text="The pulses on the probe (no window pulses; the partners get the same "
                "family): `pbit`, `lbit`, `lbit:r` or `circuit`.",
                default='["lbit"]',
                example='["lbit"]',
            ),
            "partner_distances": dataclasses.replace(
                SHARED_DOCS["protocol"]["partner_distances"],
                text=SHARED_DOCS["protocol"]["partner_distances"].text
                + " One of partners and partner_distances is required.",
            ),
        }
    }

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> DeerSettings:
        protocol = parse_deer_protocol(tables["protocol"], keys=PROTOCOL_KEYS, sweep=sweep)
        times = parse_times(tables["times"])
        backend = parse_backend(tables["backend"]) if "backend" in tables else BackendSpec()
        check_trotter_steps(backend, times, "backend.dt")
        return DeerSettings(
            protocol=protocol,
            times=times,
            lbits=parse_lbits(tables.get("lbits"), kind=self.name),
            backend=backend,
        )

    def check(self, spec: StudySpec) -> None:
        limits = full_lbit_limits(self.name, _settings(spec).lbits)
        refuse_larger(spec, limits + backend_limits(spec, self.backends(spec)))
        check_probe(spec)
        check_pulse_geometry(spec)

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        return {"backend": _settings(spec).backend}

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """Eight dense 2^n x 2^n matrices (l-bits, eigenvectors, tau, work copies) plus the
        backend's state."""
        n = spec.largest_model().n
        return 8 * dense_operator_bytes(n) + backend_state_bytes(spec, self.backends(spec))

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_deer(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        signals, axes = plot.new_figure()
        plot_deer_signals(ds, axes[0, 0])
        couplings, axes = plot.new_figure(1, 2)
        plot_deer_fits(ds, axes[0, 0])
        plot_coupling_decay(ds, axes[0, 1])
        return {"deer_signals": signals, "deer_couplings": couplings}


KIND = DeerKind()
