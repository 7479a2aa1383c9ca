"""Study kind ``echo``: echo traces of the probe spin for a list of pulses
(docs/pages/conventions.md 6).

Sections: ``[protocol]`` (sequence, pulses, fid, probe, background, n_pulses, angle_error),
``[times]``, and optionally ``[lbits]``, ``[backend]``, ``[check]`` (a second backend run at a
few times on the first realizations, compared with the main one) and ``[accuracy]`` (times and
realizations of the Trotter error estimate, :mod:`echo_lab.study.accuracy`).

Per unit, over (background, pulse, time): ``sx``, ``sy``, ``coherence`` and, when any pulse is an
l-bit pulse (``"lbit"``, ``"lbit:r"``), ``tau_x``, ``tau_y``; the ``pulse`` coordinate holds the
row labels, ``"fid"`` (the free induction decay, a row without pulse) first. With a [check]:
``check_sx/sy`` from the check backend and ``reference_sx/sy`` from the main backend over
(background, check_pulse, check_time), and ``check_deviation`` (their largest difference; NaN on
realizations not checked). With a Trotter backend, the error budget of
:mod:`echo_lab.study.accuracy`: ``trotter_order``, ``trotter_dt``, ``trotter_max_step`` and
``trotter_error`` (step doubling); with an MPS backend also ``truncation_error`` (bond doubling),
``mps_max_bond``, ``mps_discarded_weight`` and ``error_budget``; stated in the summary
(:meth:`EchoKind.summary`) with the [check] deviation. One diagonalization serves the l-bit
construction and the exact backend. Window pulses (``"window:w"``, ``"window:w:r"``) need no
full l-bits: the window l-bits of each width are built once
(:func:`echo_lab.lbits.window.window_lbits`, O(8^w)), so they run on long chains (aer,
matrix_product_state, quimb) and add ``window_tau_x``, ``window_tau_y``: read out in the window
l-bit of the widest window listed (its readout is U^dag of the window, one dense w-site gate;
MPS backends read it from the reduced density matrix of the window). Circuit
pulses (``"circuit"``) add ``ctau_x``, ``ctau_y`` (read out in the circuit l-bits) and compiled
pulses (``"compiled:s"``, :mod:`echo_lab.lbits.compiled`, any N) add ``compiled_tau_x``,
``compiled_tau_y`` (read out in the compiled l-bit of the widest support listed; its readout
circuit V^dag is two-qubit gates, so MPS backends play it).

Cost (exact backend, N sites): one dense ``eigh`` per S^z block (O(d_b^3) each), the
l-bit construction, and per row two basis changes of a (2^N, len(times)) block; memory ~ 8 dense
2^N matrices. Figures: ``echo`` (signals vs time per pulse, one column per parameter point),
``recovery`` (late-time values vs window radius r) and ``check`` (when present).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.backends.base import TRUNCATION_REPORTS, Backend, run_sequences
from echo_lab.backends.options import (
    ALL_BACKEND_KEYS,
    BACKEND_NAMES,
    BackendSpec,
    build_backend,
    check_trotter_steps,
    parse_backend,
)
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.lbits import MAX_RANGE_QUBITS
from echo_lab.lbits.circuit.system import MAX_ECHO_QUBITS
from echo_lab.lbits.source import LBitSource
from echo_lab.lbits.window import MAX_WINDOW_SITES
from echo_lab.protocols import observables as obs
from echo_lab.protocols.families import CIRCUIT, COMPILED, EXACT, WINDOW, PulseSpec, SourceNeed
from echo_lab.protocols.sequences import build_sequence
from echo_lab.resources import dense_operator_bytes
from echo_lab.study import drawing as plot
from echo_lab.study.accuracy import (
    ACCURACY_DOCS,
    ACCURACY_KEYS,
    AccuracySpec,
    accuracy_summary,
    error_budget,
    parse_accuracy,
    truncation_spec,
)
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
    dense_step_bytes,
    eigenbasis_limit,
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
    parse_protocol,
    parse_pulses,
    parse_times,
    time_values_of,
)
from echo_lab.tables import Scalar, Table, scalar, string_list
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = [
    "KIND",
    "LATE_FRACTION",
    "CheckSpec",
    "EchoKind",
    "EchoSettings",
    "EchoUnit",
    "compute_echo",
    "echo_figures",
    "late_time_recovery",
    "plot_check",
    "plot_echo",
    "plot_recovery",
    "probe_readout",
    "pulse_label",
    "run_echo_unit",
]

SEQUENCES = ("hahn", "cpmg", "xy4", "global")
CHECK_KEYS = ("backend", "times", "realizations", "pulses", "tolerance")

LONG_NAMES = {
    "sx": "<sigma^x_p>",
    "sy": "<sigma^y_p>",
    "tau_x": "<tau^x_p>",
    "tau_y": "<tau^y_p>",
    "ctau_x": "<tau^x_p> of the circuit l-bits",
    "ctau_y": "<tau^y_p> of the circuit l-bits",
    "compiled_tau_x": "<tau^x_p> of the compiled l-bit",
    "compiled_tau_y": "<tau^y_p> of the compiled l-bit",
    "window_tau_x": "<tau^x_p> of the window l-bit",
    "window_tau_y": "<tau^y_p> of the window l-bit",
    "coherence": "coherence C = sqrt(<sigma^x_p>^2 + <sigma^y_p>^2)",
}


@dataclass(frozen=True)
class CheckSpec:
    """A second backend run at a few times on the first ``realizations`` realizations."""

    backend: BackendSpec
    times: tuple[float, ...]
    realizations: int = 1
    pulses: tuple[str, ...] = ()
    tolerance: float | None = None


@dataclass(frozen=True)
class EchoSettings(KindSettings):
    """The sections of an echo study."""

    protocol: ProtocolSpec
    times: tuple[float, ...]
    lbits: LbitSpec
    backend: BackendSpec
    check: CheckSpec | None = None
    accuracy: AccuracySpec = field(default_factory=AccuracySpec)

    @property
    def source_needs(self) -> list[SourceNeed]:
        """The l-bit sources the pulses are built from (their families' declared ones), each
        once, in the order of the pulses."""
        needs = (pulse.source_need for pulse in self.protocol.pulses)
        return list(dict.fromkeys(need for need in needs if need is not None))

    @property
    def needs_lbits(self) -> bool:
        """Whether a pulse needs the l-bits of the whole chain (``"lbit"``, ``"lbit:r"``)."""
        return any(need.kind == EXACT for need in self.source_needs)

    @property
    def needs_circuit(self) -> bool:
        """Whether a pulse needs circuit l-bits (``"circuit"``)."""
        return any(need.kind == CIRCUIT for need in self.source_needs)

    @property
    def needs_compiled(self) -> bool:
        """Whether a pulse needs a compiled l-bit (``"compiled:s"``)."""
        return any(need.kind == COMPILED for need in self.source_needs)

    @property
    def window_widths(self) -> list[int]:
        """Widths of the window l-bits the pulses need, sorted, each once."""
        return sorted(
            {n.width for n in self.source_needs if n.kind == WINDOW and n.width is not None}
        )


def _settings(spec: StudySpec) -> EchoSettings:
    assert isinstance(spec.settings, EchoSettings)
    return spec.settings


# ----------------------------------------------------------------------------------------------
# Parsing and limits
# ----------------------------------------------------------------------------------------------


def _parse_check(table: Table, protocol: ProtocolSpec) -> CheckSpec:
    table.require("backend", "the name of the backend to compare against, e.g. 'trotter-exact'")
    backend = parse_backend(table, name_key="backend", ignore=CHECK_KEYS)
    raw_times = table.require("times", "a short list of total times, e.g. [1.0, 10.0]")
    pulses = string_list(table, "pulses", protocol.labels)
    for pulse in pulses:
        if pulse not in protocol.labels:
            raise ConfigError(
                f"check.pulses names {pulse!r}, which the study does not run; choose from "
                f"{', '.join(protocol.labels)}"
            )
    tolerance = (
        float(scalar(table, "tolerance", None, minimum=0.0)) if table.has("tolerance") else None
    )
    return CheckSpec(
        backend=backend,
        times=time_values_of(raw_times, table.key("times")),
        realizations=int(scalar(table, "realizations", 1, integer=True, minimum=1)),
        pulses=pulses,
        tolerance=tolerance,
    )


def _parse_echo_protocol(table: Table, sweep: dict[str, tuple[Scalar, ...]]) -> ProtocolSpec:
    base, table, angle_error = parse_protocol(table, keys=EchoKind.keys["protocol"], sweep=sweep)
    pulses = parse_pulses(table, ["pbit"], angle_error=angle_error)
    sequence = table.string("sequence", "hahn", choices=SEQUENCES)
    for i, pulse in enumerate(pulses):
        if pulse.width is not None and pulse.width > MAX_WINDOW_SITES:
            raise ConfigError(
                f"protocol.pulses[{i}] = {pulse.label!r}: window width {pulse.width} exceeds "
                f"{MAX_WINDOW_SITES} sites (the window is diagonalized exactly); use w <= "
                f"{MAX_WINDOW_SITES}"
            )
    for i, pulse in enumerate(pulses):
        family = pulse.pulse_family
        if not family.allows(sequence):
            raise ConfigError(
                f"protocol.pulses[{i}] = {pulse.label!r}: protocol.sequence = {sequence!r} does "
                f"not take {family.name} pulses: {family.refusal()}"
            )
    n_pulses = sweep.get("n_pulses", (base.n_pulses,))
    if sequence == "xy4" and any(int(k) % 4 for k in n_pulses):
        raise ConfigError(
            f"protocol.n_pulses = {list(n_pulses)}: XY-4 needs a multiple of 4 pulses"
        )
    return ProtocolSpec(
        sequence=sequence,
        pulses=pulses,
        fid=table.boolean("fid", True),
        probe=base.probe,
        backgrounds=base.backgrounds,
        n_pulses=base.n_pulses,
    )


def _size_limits(spec: StudySpec, backends: Mapping[str, BackendSpec]) -> list[SizeLimit]:
    settings = _settings(spec)
    limits = backend_limits(spec, backends)
    if settings.needs_lbits:
        limits.append(eigenbasis_limit(spec, "l-bit pulses"))
        if "range" in settings.lbits.methods:
            limits.append((MAX_RANGE_QUBITS, "the 'range' l-bit assignment costs O(16^n)"))
    if settings.needs_circuit and settings.lbits.circuit_cost == "echo":
        limits.append((MAX_ECHO_QUBITS, "lbits.circuit_cost = 'echo' needs the whole chain"))
    return limits


# ----------------------------------------------------------------------------------------------
# One work unit
# ----------------------------------------------------------------------------------------------


def _build_sequences(
    setup: UnitSetup, probe: int, sources: Mapping[SourceNeed, LBitSource]
) -> dict[str, Any]:
    """The pulse sequence of every row (the FID row is free evolution); ``sources`` holds the
    l-bit sources the pulses need (:func:`~echo_lab.study.kinds.base.unit_sources`)."""
    protocol: ProtocolSpec = setup.settings.protocol
    with stage("pulses"):
        return {
            label: build_sequence(
                "fid" if pulse is None else protocol.sequence,
                n=setup.n,
                probe=probe,
                pulse="pbit" if pulse is None else pulse,
                n_pulses=protocol.n_pulses,
                source=pulse_source(pulse, sources),
                lattice=setup.lattice,
            )
            for label, pulse in protocol.rows
        }


def _run_rows(
    backend: Backend,
    hamiltonian: Any,
    sequences: Mapping[str, Any],
    states: Mapping[str, Any],
    times: np.ndarray,
    operators: Mapping[str, Any],
    *,
    stage_name: str = "evolution",
) -> dict[str, np.ndarray]:
    """Every observable over (background, row, time), and the truncation reports
    (:data:`~echo_lab.backends.base.TRUNCATION_REPORTS`) the backend returned."""
    shape = (len(states), len(sequences), times.size)
    values = {name: np.empty(shape) for name in operators}
    for b, state in enumerate(states.values()):
        with stage(stage_name):
            results = run_sequences(
                backend, hamiltonian, list(sequences.values()), state, times, observables=operators
            )
        for s, result in enumerate(results):
            for name in operators:
                values[name][b, s] = result[name]
            for name in TRUNCATION_REPORTS:
                if name in result:
                    values.setdefault(name, np.full(shape, np.nan))[b, s] = result[name]
    return values


def _run_check(
    settings: EchoSettings,
    hamiltonian: Any,
    sequences: Mapping[str, Any],
    states: Mapping[str, Any],
    operators: Mapping[str, Any],
    backend: Backend,
    realization: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The [check] backend against the main one on the checked rows (NaN when not checked)."""
    check = settings.check
    assert check is not None
    times = np.asarray(check.times)
    shape = (len(states), len(check.pulses), times.size)
    checked = {name: np.full(shape, np.nan) for name in ("sx", "sy")}
    reference = {name: np.full(shape, np.nan) for name in ("sx", "sy")}
    deviation = math.nan
    if realization < check.realizations:
        other = build_backend(check.backend, key="check")
        rows = {label: sequences[label] for label in check.pulses}
        pauli = {name: operators[name] for name in ("sx", "sy")}
        reference = _run_rows(backend, hamiltonian, rows, states, times, pauli)
        checked = _run_rows(
            other, hamiltonian, rows, states, times, pauli, stage_name="check backend"
        )
        deviation = float(max(np.max(np.abs(checked[k] - reference[k])) for k in ("sx", "sy")))
        if check.tolerance is not None and deviation > check.tolerance:
            raise NumericalError(
                f"[check] backend {check.backend.name!r} deviates from {settings.backend.name!r} "
                f"by {deviation:.3g} > check.tolerance = {check.tolerance:g} (realization "
                f"{realization}): use a smaller check dt or a higher order"
            )
    dims = ("background", "check_pulse", "check_time")
    data_vars = {
        "check_sx": (dims, checked["sx"]),
        "check_sy": (dims, checked["sy"]),
        "reference_sx": (dims, reference["sx"]),
        "reference_sy": (dims, reference["sy"]),
        "check_deviation": ((), deviation),
    }
    return data_vars, {"check_pulse": list(check.pulses), "check_time": times}


@dataclass
class EchoUnit:
    """One computed echo unit and what it was computed from (for kinds that add to it)."""

    dataset: xr.Dataset
    setup: UnitSetup
    probe: int
    lbit_system: Any
    circuit_system: Any
    states: dict[str, Any]
    backend: Backend
    operators: dict[str, Any]
    compiled_system: Any = None
    window_system: Any = None


def run_echo_unit(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> EchoUnit:
    """Echo of one realization at one parameter point (module docstring); dims (background,
    pulse, time). Raises :class:`NumericalError` when a [check] deviates beyond its tolerance."""
    setup = setup_unit(spec, point, realization)
    settings: EchoSettings = setup.settings
    hamiltonian = setup.model.hamiltonian()
    probe = settings.protocol.probe_site(setup.lattice)
    sources = unit_sources(setup, probe, settings.protocol.pulses, settings.lbits)
    lbit_system = sources.get(SourceNeed(EXACT))
    circuit_system = sources.get(SourceNeed(CIRCUIT))
    compiled_system = probe_readout(sources, COMPILED)
    window_system = probe_readout(sources, WINDOW)
    # exact l-bits share their block-by-block diagonalization with the exact backend
    eigensystem = getattr(lbit_system, "eigensystem", None)
    with stage("l-bit observables"):
        operators = obs.probe_observables(setup.n, probe, source=lbit_system)
        if circuit_system is not None:
            circuit = obs.probe_observables(setup.n, probe, source=circuit_system)
            operators.update({f"c{name}": circuit[name] for name in ("tau_x", "tau_y")})
        if compiled_system is not None:
            compiled = obs.probe_observables(setup.n, probe, source=compiled_system)
            operators.update({f"compiled_{name}": compiled[name] for name in ("tau_x", "tau_y")})
        if window_system is not None:
            window = obs.probe_observables(setup.n, probe, source=window_system)
            operators.update({f"window_{name}": window[name] for name in ("tau_x", "tau_y")})
    sequences = _build_sequences(setup, probe, sources)
    backend = build_backend(settings.backend, eigensystem=eigensystem)
    states = initial_states(setup, probe, settings.protocol.backgrounds)
    times = np.asarray(settings.times)
    values = _run_rows(backend, hamiltonian, sequences, states, times, operators)
    dims = ("background", "pulse", "time")
    data_vars: dict[str, Any] = {name: (dims, values[name]) for name in operators}
    data_vars["coherence"] = (dims, obs.coherence(values["sx"], values["sy"]))
    data_vars["probe"] = ((), probe)
    coords: dict[str, Any] = {"background": list(states), "pulse": list(sequences), "time": times}
    if settings.check is not None:
        check_vars, check_coords = _run_check(
            settings, hamiltonian, sequences, states, operators, backend, realization
        )
        data_vars.update(check_vars)
        coords.update(check_coords)
    data_vars.update(
        error_budget(
            settings.backend,
            settings.accuracy,
            sequences=list(sequences.values()),
            study_times=times,
            values=values,
            run=lambda other, at: _run_rows(
                other, hamiltonian, sequences, states, at, operators, stage_name="error budget"
            ),
            realization=realization,
        )
    )
    ds = unit_dataset(data_vars, coords, setup)
    for name, meaning in LONG_NAMES.items():
        if name in ds:
            ds[name].attrs["long_name"] = meaning
    return EchoUnit(
        ds,
        setup,
        probe,
        lbit_system,
        circuit_system,
        states,
        backend,
        operators,
        compiled_system,
        window_system,
    )


def probe_readout(sources: Mapping[SourceNeed, Any], kind: str) -> Any:
    """The probe-only l-bit source of ``kind`` (:data:`~echo_lab.protocols.families.COMPILED`
    or :data:`~echo_lab.protocols.families.WINDOW`) whose tau^x_p / tau^y_p a unit reads out
    (``compiled_tau_x``, ``window_tau_x``, ...): the widest among the unit's sources of that kind
    (support or window width), or None when no pulse needs one."""
    found = [(need.width or 0, source) for need, source in sources.items() if need.kind == kind]
    return max(found, key=lambda item: item[0])[1] if found else None


def compute_echo(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> xr.Dataset:
    """The Dataset of :func:`run_echo_unit`."""
    return run_echo_unit(spec, point, realization).dataset


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------

#: Late-time window of :func:`late_time_recovery`: the last decade of a log grid (t >= t_max/10).
LATE_FRACTION = 0.1


def pulse_label(label: str) -> str:
    """Legend text of a result row (``"fid"`` or a pulse spec's label)."""
    if label == "fid":
        return "FID"
    pulse = PulseSpec.parse(label)
    return pulse.pulse_family.legend_text(pulse)


def plot_echo(
    ds: xr.Dataset, ax: Axes, *, observable: str = "sx", background: str | None = None
) -> None:
    """``observable`` vs total time for every pulse of an echo result at ONE parameter point.

    Log time axis, disorder mean with a one-standard-error band, legend by pulse. The default
    <sigma^x_p> is the phase-sensitive echo signal: its disorder mean decays in the FID
    (inhomogeneous dephasing) and is refocused by an echo; ``"tau_x"`` is the l-bit signal an
    exact l-bit pulse refocuses completely.
    """
    at = plot.select_background(ds, background)
    times = at["time"].values
    for pulse in at["pulse"].values:
        summary = plot.summarize(at[observable].sel(pulse=pulse))
        plot.band(ax, times, summary, label=pulse_label(str(pulse)), lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel(plot.TIME_LABEL)
    ax.set_ylabel(f"disorder mean of {at[observable].attrs.get('long_name', observable)}")
    ax.legend(fontsize="small")


def late_time_recovery(
    ds: xr.Dataset, *, observable: str = "sx", fraction: float = LATE_FRACTION
) -> xr.DataArray:
    """Mean of ``observable`` over the late times t >= ``fraction`` * t_max (time dim removed)."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must lie in (0, 1], got {fraction}")
    times = ds["time"]
    late = ds[observable].where(times >= fraction * float(times.max()), drop=True)
    return late.mean("time")


def _recovery_positions(pulses: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """x position of each pulse (p-bit -1, radius r at r, exact and whole windows right of the
    largest r: the families' :attr:`~echo_lab.protocols.families.PulseFamily.position`) and the
    tick labels that are not plain radii."""
    specs = {label: PulseSpec.parse(label) for label in pulses}
    largest = max((p.radius for p in specs.values() if p.radius is not None), default=-1)
    positions: dict[str, int] = {}
    ticks: dict[int, str] = {}
    whole = 0
    for label, pulse in specs.items():
        family = pulse.pulse_family
        if family.position < 0:
            positions[label], ticks[-1] = -1, family.tick_text(pulse)
        elif pulse.radius is not None:
            positions[label] = pulse.radius
        elif family.position > 0:
            whole += 1
            positions[label] = largest + 1 + whole
            ticks[positions[label]] = family.tick_text(pulse)
        else:
            positions[label] = largest + 1
            ticks[positions[label]] = family.tick_text(pulse)
    return positions, ticks


def plot_recovery(
    ds: xr.Dataset, ax: Axes, *, background: str | None = None, observable: str = "sx"
) -> None:
    """Late-time disorder mean of ``observable`` vs window radius r, one line per point.

    x positions: the p-bit pulse at r = -1, ``lbit:r`` and ``window:w:r`` at r, the exact
    l-bit pulse one step right of the largest r (labelled "exact"), the whole window l-bit
    ``window:w`` and the circuit l-bit pulse further right, one step each (labelled "w = w",
    "circuit"); the FID is a dotted horizontal line.
    """
    pulses = [str(p) for p in ds["pulse"].values if p != "fid"]
    positions, named = _recovery_positions(pulses)
    order = sorted(pulses, key=positions.__getitem__)
    x = np.array([positions[p] for p in order], dtype=float)
    labelled = False
    for point, at in plot.points(ds):
        at = plot.select_background(at, background)
        recovery = late_time_recovery(at, observable=observable)
        summary = plot.summarize(recovery.sel(pulse=order))
        mean, sem = summary["mean"].values, np.nan_to_num(summary["sem"].values)
        label = plot.describe(point) or None
        labelled = labelled or label is not None
        bars = ax.errorbar(x, mean, yerr=sem, marker="o", capsize=3, label=label)
        if "fid" in ds["pulse"].values:
            fid = float(plot.summarize(recovery.sel(pulse="fid"))["mean"])
            ax.axhline(fid, ls=":", color=bars.lines[0].get_color(), lw=1)
    ticks = {x_: str(int(x_)) for x_ in x} | {float(k): v for k, v in named.items()}
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.set_xlabel("l-bit pulse window radius r (sites)")
    ax.set_ylabel(f"late-time mean {ds[observable].attrs.get('long_name', observable)}")
    ax.set_title("average over T >= T_max / 10", fontsize="small")
    if labelled:
        ax.legend(fontsize="small", title="dotted: FID")


def plot_check(ds: xr.Dataset, ax: Axes, *, realization: int = 0) -> None:
    """[check] backend (markers) against the main backend (lines): <sigma^x_p> at the check
    times for each checked pulse, first parameter point and background, one realization."""
    at = plot.select_background(next(plot.points(ds))[1], None).isel(realization=realization)
    times = at["check_time"].values
    for pulse in at["check_pulse"].values:
        (line,) = ax.plot(times, at["reference_sx"].sel(check_pulse=pulse), lw=1)
        ax.plot(
            times,
            at["check_sx"].sel(check_pulse=pulse),
            "x",
            color=line.get_color(),
            label=pulse_label(str(pulse)),
        )
    ax.set_xscale("log")
    ax.set_xlabel(plot.TIME_LABEL)
    ax.set_ylabel("<sigma^x_p>")
    deviation = float(np.nanmax(ds["check_deviation"].values))
    ax.set_title(f"check (x) vs main backend (lines); max |diff| = {deviation:.1e}", fontsize=9)
    ax.legend(fontsize="small")


def echo_figures(ds: xr.Dataset) -> dict[str, Figure]:
    """``echo``: signals vs time, a row per signal and a column per point; ``recovery``;
    ``check`` when the result holds a [check]."""
    signals = [
        name for name in ("sx", "tau_x", "ctau_x", "compiled_tau_x", "window_tau_x") if name in ds
    ]
    points = list(plot.points(ds))
    figures = {}
    figure, axes = plot.new_figure(len(signals), len(points))
    for row, signal in enumerate(signals):
        for col, (point, at) in enumerate(points):
            plot_echo(at, axes[row, col], observable=signal)
            axes[row, col].set_title(plot.describe(point), fontsize=9)
    figures["echo"] = figure
    figure, axes = plot.new_figure(1, len(signals))
    for col, signal in enumerate(signals):
        plot_recovery(ds, axes[0, col], observable=signal)
    figures["recovery"] = figure
    if "check_sx" in ds:
        figure, axes = plot.new_figure()
        plot_check(ds, axes[0, 0])
        figures["check"] = figure
    return figures


# ----------------------------------------------------------------------------------------------
# The kind
# ----------------------------------------------------------------------------------------------


#: The keys of [check] besides the backend keys (module docstring).
CHECK_DOCS: Mapping[str, KeyDoc] = {
    "backend": KeyDoc(
        "string",
        "The backend compared against the study's own, e.g. `trotter-exact`; [check] also takes "
        "the [backend] keys of that backend (dt, order, method, ...).",
        choices=BACKEND_NAMES,
        required=True,
        example='"krylov"',
    ),
    "times": KeyDoc(
        "list of numbers",
        "The few total times (1/J) at which both backends run, strictly increasing.",
        required=True,
        example="[1.0]",
    ),
    "realizations": KeyDoc(
        "integer", "Check the first this many realizations (>= 1).", "1", example="1"
    ),
    "pulses": KeyDoc(
        "string or list of strings",
        "The rows checked, by label (`fid` and the pulses of the study).",
        "every row of the study",
        example='["pbit"]',
    ),
    "tolerance": KeyDoc(
        "number",
        "Largest deviation (>= 0) of <sigma^x_p>, <sigma^y_p> allowed; a larger one stops the "
        "study with an error. Left out: recorded only.",
        example="1.0",
    ),
}


class EchoKind(StudyKind):
    """Study kind ``echo`` (module docstring)."""

    name = "echo"
    required = ("protocol", "times")
    optional = ("lbits", "backend", "check", "accuracy")
    keys: Mapping[str, tuple[str, ...]] = {
        "protocol": ("sequence", "pulses", "fid", "probe", "background", "n_pulses", "angle_error"),
        "check": CHECK_KEYS + ALL_BACKEND_KEYS,
        "accuracy": ACCURACY_KEYS,
    }
    sweepable: Mapping[str, tuple[str, ...]] = {
        **DEFAULT_SWEEPABLE,
        "protocol": ("angle_error", "n_pulses"),
    }
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {
        "protocol": {
            "sequence": KeyDoc(
                "string",
                "The pulse sequence: a Hahn echo, CPMG or XY-4 (n_pulses pulses), or a global "
                "echo (every site flipped).",
                '"hahn"',
                SEQUENCES,
                example='"cpmg"',
            ),
            "pulses": dataclasses.replace(SHARED_DOCS["protocol"]["pulses"], default='["pbit"]'),
            "fid": KeyDoc(
                "boolean",
                "Add the free induction decay (no pulse) as the row `fid`.",
                "true",
                example="false",
            ),
        },
        "check": {
            **{k: doc for k, doc in SHARED_DOCS["backend"].items() if k in ALL_BACKEND_KEYS},
            **CHECK_DOCS,
        },
        "accuracy": ACCURACY_DOCS,
    }

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> EchoSettings:
        protocol = _parse_echo_protocol(tables["protocol"], sweep)
        times = parse_times(tables["times"])
        backend = parse_backend(tables["backend"]) if "backend" in tables else BackendSpec()
        check_trotter_steps(backend, times, "backend.dt")
        check = None
        if "check" in tables:
            check = _parse_check(tables["check"], protocol)
            check_trotter_steps(check.backend, check.times, "check.dt")
        return EchoSettings(
            protocol=protocol,
            times=times,
            lbits=parse_lbits(tables.get("lbits"), kind=self.name),
            backend=backend,
            check=check,
            accuracy=parse_accuracy(tables.get("accuracy"), backend, times),
        )

    def check(self, spec: StudySpec) -> None:
        refuse_larger(spec, _size_limits(spec, self.backends(spec)))
        check_probe(spec)
        check_pulse_geometry(spec)

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        """The main backend, the [check] one, and the bond-doubled one of the truncation
        estimate (``accuracy``, so that its memory is checked before any unit runs)."""
        settings = _settings(spec)
        out = {"backend": settings.backend}
        if settings.check is not None:
            out["check"] = settings.check.backend
        refined = truncation_spec(settings.backend)
        if refined is not None and settings.accuracy.realizations != 0:
            out["accuracy"] = refined
        return out

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """The dense steps when one runs (l-bits, the exact and trotter-exact backends:
        :func:`~echo_lab.study.kinds.base.dense_step_bytes`), eight 2^w x 2^w matrices of the widest
        window, plus each backend's state."""
        settings = _settings(spec)
        backends = self.backends(spec)
        dense = settings.needs_lbits or any(b.rules.dense for b in backends.values())
        total = dense_step_bytes(spec) if dense else 0
        if settings.window_widths:
            total += 8 * dense_operator_bytes(max(settings.window_widths))
        return total + backend_state_bytes(spec, backends, n_times=len(settings.times))

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_echo(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        return echo_figures(ds)

    def summary(self, ds: xr.Dataset) -> str | None:
        """The error budget (:func:`~echo_lab.study.accuracy.accuracy_summary`): Trotter order,
        dt, largest step and estimated error, the [check] deviation; None when there is none."""
        return accuracy_summary(ds)


KIND = EchoKind()
