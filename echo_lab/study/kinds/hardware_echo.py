"""Study kind ``hardware_echo``: Hahn echoes on simulated devices, raw and mitigated.

Which pulse recovers the most echo on a device after its noise, how much mitigation recovers,
and how many shots tell two pulses apart (docs/pages/conventions.md sections 5-6;
:mod:`echo_lab.hardware`).

Sections: ``[protocol]`` (pulses, probe, background), ``[times]``, ``[lbits]`` (optional), and
``[devices]``::

    [devices]
    names = ["fez", "sherbrooke", "mumbai"]   # fake IBM devices (echo_lab.hardware)
    fractional = ["fez"]          # these also run with their native rx / rzz gates
    mitigated = ["fez"]           # settings also run with mitigation (the others raw only)
    mitigation = ["twirling", "readout", "zne"]
    scale_device = "fez"          # runs again with its two-qubit errors scaled by
    error_scales = [0.1, 0.5, 2.0]
    dt = 0.1                      # Trotter step and order of the device circuits
    order = 2
    shots = 4000
    method = "auto"               # density matrix up to 10 qubits, trajectories above
    pauli_noise = false
    pulse_budget = 40             # most two-qubit gates a dense pulse may cost
    randomizations = 16           # twirling samples of a mitigated run (they share the shots)
    seed = 1

Every **setting** (a device, its fractional variant, a scaled copy) runs every pulse at every
time with :class:`~echo_lab.hardware.backend.DeviceBackend`. Per unit, over (setting, pulse,
time): ``sx_raw``, ``sy_raw`` and their ``_stderr``; ``sx_mitigated``, ``sy_mitigated`` and
their ``_stderr`` (NaN for settings without mitigation); ``two_qubit_gates``, ``depth`` and
``success_probability`` of each echo circuit; over (pulse, time) the noiseless references
``sx_exact`` (exact evolution) and ``sx_trotter`` (the same Trotter circuits without noise, so
``sx_trotter - sx_exact`` is the Trotter error the device step costs). The ``setting``
coordinate is a label; ``device``, ``fractional`` and ``error_scale`` are coordinates along it.
Figures: ``devices`` (echo vs time per setting, raw and mitigated, with the references) and
``error_scale`` (the echo at the longest time against the two-qubit error scale, per pulse).
:func:`shot_budgets` gives the shots for a 3-sigma difference between the p-bit and each other
pulse, from the measured standard errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.backends import get_backend
from echo_lab.backends.options import BackendSpec, build_backend, estimate_state_bytes
from echo_lab.dynamics.trotter import TrotterSettings
from echo_lab.errors import ConfigError
from echo_lab.protocols import observables as obs
from echo_lab.protocols.families import WINDOW
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import drawing as plot
from echo_lab.study.keydocs import SHARED_DOCS, KeyDoc
from echo_lab.study.kinds.base import (
    KindSettings,
    StudyKind,
    check_probe,
    check_pulse_geometry,
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
)
from echo_lab.tables import Scalar, Table, scalar, string_list, sweepable
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = [
    "KIND",
    "DeviceSetting",
    "HardwareKind",
    "HardwareSettings",
    "hardware_summary",
    "shot_budgets",
]

DEVICE_KEYS = (
    "names",
    "fractional",
    "mitigated",
    "mitigation",
    "scale_device",
    "error_scales",
    "dt",
    "order",
    "shots",
    "method",
    "pauli_noise",
    "pulse_budget",
    "randomizations",
    "seed",
)

#: Largest chain of a device study (trajectories above 10 qubits; a chain needs a line of qubits).
MAX_DEVICE_QUBITS = 16

#: What the [devices] keys set (module docstring); the names of ``mitigation`` are
#: ``echo_lab.hardware.mitigation.MITIGATIONS`` (not imported here: it needs the runtime).
DEVICE_DOCS: Mapping[str, KeyDoc] = {
    "names": KeyDoc(
        "string or list of strings",
        "Fake IBM devices by short name (`fez`, `sherbrooke`, ...; those of "
        "qiskit_ibm_runtime.fake_provider), each a setting.",
        '["fez"]',
        example='["fez"]',
    ),
    "fractional": KeyDoc(
        "string or list of strings",
        "Devices of `names` that also run with their native fractional rx / rzz gates.",
        "[]",
        example='["fez"]',
    ),
    "mitigated": KeyDoc(
        "string or list of strings",
        "Devices of `names` whose settings also run with mitigation (the others raw only).",
        "[]",
        example='["fez"]',
    ),
    "mitigation": KeyDoc(
        "string or list of strings",
        "The mitigation of the mitigated settings.",
        '["twirling", "readout", "zne"]',
        ("twirling", "readout", "zne", "normalize"),
        example='["readout"]',
    ),
    "scale_device": KeyDoc(
        "string",
        "The device of `names` that runs again with its two-qubit errors scaled by `error_scales`.",
        "the first of `names`",
        example='"fez"',
    ),
    "error_scales": KeyDoc(
        "number or list of numbers",
        "Factors (0 to 100) of the two-qubit errors of `scale_device`, each an extra setting "
        "(1 adds none).",
        example="[0.5, 2.0]",
    ),
    "dt": KeyDoc("number", "Trotter step of the device circuits, in 1/J.", "0.1", example="0.2"),
    "order": KeyDoc("integer", "Trotter order of the device circuits.", "2", example="2"),
    "shots": KeyDoc("integer", "Shots per circuit, 1 to 1e8.", "4000", example="100"),
    "method": KeyDoc(
        "string",
        "Simulation of the noisy circuits (`auto`: density matrix up to 10 qubits, "
        "trajectories above).",
        '"auto"',
        ("auto", "density_matrix", "statevector"),
        example='"auto"',
    ),
    "pauli_noise": KeyDoc(
        "boolean", "Replace every gate error by its Pauli twirl.", "false", example="true"
    ),
    "pulse_budget": KeyDoc(
        "integer", "Most two-qubit gates a dense pulse may cost.", "40", example="40"
    ),
    "randomizations": KeyDoc(
        "integer",
        "Twirling samples of a mitigated run, 1 to 10000 (they share the shots).",
        "16",
        example="4",
    ),
    "seed": KeyDoc(
        "integer", "Seed of the shot sampling and twirling, 0 to 2^31 - 1.", "1", example="3"
    ),
}

_OBSERVABLES = ("sx", "sy")


@dataclass(frozen=True)
class DeviceSetting:
    """One simulated device: its name, native fractional gates, scale of its two-qubit errors
    and mitigation."""

    device: str
    fractional: bool = False
    error_scale: float = 1.0
    mitigation: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        text = self.device + (" fractional" if self.fractional else "")
        return text + (f" x{self.error_scale:g}" if self.error_scale != 1.0 else "")


@dataclass(frozen=True)
class HardwareSettings(KindSettings):
    """The sections of a hardware_echo study."""

    protocol: ProtocolSpec
    times: tuple[float, ...]
    lbits: LbitSpec
    settings: tuple[DeviceSetting, ...]
    trotter: TrotterSettings
    shots: int
    method: str
    pauli_noise: bool
    pulse_budget: int
    seed: int
    randomizations: int


def _settings(spec: StudySpec) -> HardwareSettings:
    assert isinstance(spec.settings, HardwareSettings)
    return spec.settings


def _subset(table: Table, key: str, names: Sequence[str]) -> tuple[str, ...]:
    values = string_list(table, key, ()) if table.has(key) else ()
    for value in values:
        if value not in names:
            raise ConfigError(
                f"devices.{key} names {value!r}, which is not in devices.names {list(names)}"
            )
    return values


def _parse_devices(table: Table) -> tuple[tuple[DeviceSetting, ...], dict[str, Any]]:
    from echo_lab.hardware.mitigation import DEFAULT_RANDOMIZATIONS, MitigationSpec

    table = table.restrict(DEVICE_KEYS)
    names = string_list(table, "names", ["fez"])
    mitigation = string_list(table, "mitigation", ["twirling", "readout", "zne"])
    MitigationSpec.from_names(mitigation)  # unknown names are refused here, before any work
    mitigated = set(_subset(table, "mitigated", names))
    settings = []
    for name in names:
        chosen = mitigation if name in mitigated else ()
        settings.append(DeviceSetting(name, mitigation=chosen))
        if name in _subset(table, "fractional", names):
            settings.append(DeviceSetting(name, fractional=True, mitigation=chosen))
    if table.has("error_scales"):
        device = table.string("scale_device", names[0], choices=names)
        scales = sweepable(table, "error_scales", None, minimum=0.0, maximum=100.0)
        settings += [DeviceSetting(device, error_scale=float(s)) for s in scales if s != 1.0]
    options = {
        "trotter": TrotterSettings(
            float(scalar(table, "dt", 0.1, minimum=1e-6)),
            int(scalar(table, "order", 2, integer=True, minimum=1)),
        ),
        "shots": int(scalar(table, "shots", 4000, integer=True, minimum=1, maximum=1e8)),
        "method": table.string("method", "auto", choices=("auto", "density_matrix", "statevector")),
        "pauli_noise": table.boolean("pauli_noise", False),
        "pulse_budget": int(scalar(table, "pulse_budget", 40, integer=True, minimum=0)),
        "randomizations": int(
            scalar(
                table,
                "randomizations",
                DEFAULT_RANDOMIZATIONS,
                integer=True,
                minimum=1,
                maximum=10_000,
            )
        ),
        "seed": int(scalar(table, "seed", 1, integer=True, minimum=0, maximum=2**31 - 1)),
    }
    return tuple(settings), options


# ----------------------------------------------------------------------------------------------
# One work unit
# ----------------------------------------------------------------------------------------------


def _device_spec(settings: HardwareSettings, setting: DeviceSetting) -> BackendSpec:
    """The registry's ``"device"`` backend of one setting (built by :func:`_device_backend`)."""
    from echo_lab.hardware.mitigation import MitigationSpec

    options = {
        "mitigation": MitigationSpec.from_names(
            setting.mitigation, randomizations=settings.randomizations
        ),
        "two_qubit_error_scale": setting.error_scale,
        "fractional_gates": setting.fractional,
        "pauli_noise": settings.pauli_noise,
        "pulse_budget": settings.pulse_budget,
        "seed": settings.seed,
    }
    return BackendSpec(
        name="device",
        trotter=settings.trotter,
        method=settings.method,
        device=setting.device,
        shots=settings.shots,
        options=tuple(sorted(options.items())),
    )


def _device_key(setting: DeviceSetting) -> str:
    """The table a setting's backend comes from, as refusals name it."""
    return f"devices: {setting.label}"


def _device_backend(settings: HardwareSettings, setting: DeviceSetting) -> Any:
    return build_backend(_device_spec(settings, setting), key=_device_key(setting))


def _references(
    hamiltonian: Any,
    sequences: Mapping[str, Any],
    state: Any,
    times: np.ndarray,
    ops: Any,
    trotter: TrotterSettings,
) -> dict[str, np.ndarray]:
    """Noiseless ``sx`` of exact evolution and of the Trotter circuits, over (pulse, time)."""
    exact = get_backend("exact")
    circuits = get_backend("trotter-exact", dt=trotter.dt, order=trotter.order)
    out: dict[str, list[np.ndarray]] = {"sx_exact": [], "sx_trotter": []}
    for sequence in sequences.values():
        out["sx_exact"].append(
            exact.run(hamiltonian, sequence, state, times, observables=ops)["sx"]
        )
        out["sx_trotter"].append(
            circuits.run(hamiltonian, sequence, state, times, observables=ops)["sx"]
        )
    return {key: np.array(values) for key, values in out.items()}


def _device_runs(
    settings: HardwareSettings,
    hamiltonian: Any,
    sequences: Mapping[str, Any],
    state: Any,
    times: np.ndarray,
    ops: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Every device quantity over (setting, pulse, time); NaN where a setting has none."""
    shape = (len(settings.settings), len(sequences), times.size)
    names = [
        f"{o}_{stage}{s}"
        for o in _OBSERVABLES
        for stage in ("raw", "mitigated")
        for s in ("", "_stderr")
    ]
    names += ["two_qubit_gates", "depth", "success_probability"]
    values = {name: np.full(shape, np.nan) for name in names}
    for i, setting in enumerate(settings.settings):
        backend = _device_backend(settings, setting)
        for j, sequence in enumerate(sequences.values()):
            with stage("evolution"):
                result = backend.run(hamiltonian, sequence, state, times, observables=ops)
            for name in names:
                if name in result:
                    values[name][i, j] = result[name]
    return values


def compute_hardware(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> xr.Dataset:
    """Device echoes of one realization (module docstring): first background only."""
    setup = setup_unit(spec, point, realization)
    settings: HardwareSettings = setup.settings
    hamiltonian = setup.model.hamiltonian()
    probe = settings.protocol.probe_site(setup.lattice)
    sources = unit_sources(setup, probe, settings.protocol.pulses, settings.lbits)
    with stage("pulses"):
        sequences = {
            pulse.label: build_sequence(
                "hahn",
                n=setup.n,
                probe=probe,
                pulse=pulse,
                source=pulse_source(pulse, sources),
                lattice=setup.lattice,
            )
            for pulse in settings.protocol.pulses
        }
    background = settings.protocol.backgrounds[0]
    state = initial_states(setup, probe, [background])[background]
    times = np.asarray(settings.times)
    ops = {name: op for name, op in obs.probe_observables(setup.n, probe).items()}
    values = _device_runs(settings, hamiltonian, sequences, state, times, ops)
    references = _references(
        hamiltonian, sequences, state, times, {"sx": ops["sx"]}, settings.trotter
    )
    dims = ("setting", "pulse", "time")
    data_vars: dict[str, Any] = {name: (dims, v) for name, v in values.items()}
    data_vars.update({name: (("pulse", "time"), v) for name, v in references.items()})
    data_vars["probe"] = ((), probe)
    data_vars["shots"] = ((), settings.shots)
    chosen = settings.settings
    coords = {
        "setting": [s.label for s in chosen],
        "device": ("setting", [s.device for s in chosen]),
        "fractional": ("setting", [int(s.fractional) for s in chosen]),
        "error_scale": ("setting", [s.error_scale for s in chosen]),
        "pulse": list(sequences),
        "time": times,
    }
    return unit_dataset(data_vars, coords, setup)


# ----------------------------------------------------------------------------------------------
# Analysis and figures
# ----------------------------------------------------------------------------------------------


def shot_budgets(ds: xr.Dataset, *, sigmas: float = 3.0) -> xr.DataArray:
    """Shots per circuit for a ``sigmas``-sigma difference of the raw ``sx`` between the p-bit
    and each other pulse, over (setting, pulse, time), from the disorder-mean values and the
    measured standard errors at the study's shots (the error of a mean shrinks as 1/sqrt(shots))."""
    from echo_lab.hardware.budget import shots_for_difference

    at = ds.mean("realization") if "realization" in ds.dims else ds
    shots = int(np.max(ds["shots"].values))
    base, base_err = at["sx_raw"].sel(pulse="pbit"), at["sx_raw_stderr"].sel(pulse="pbit")
    result = xr.full_like(at["sx_raw"], np.nan)
    for pulse in at["pulse"].values:
        if pulse == "pbit":
            continue
        mean, err = at["sx_raw"].sel(pulse=pulse), at["sx_raw_stderr"].sel(pulse=pulse)
        values = np.vectorize(
            lambda a, sa, b, sb: shots_for_difference(a, sa, b, sb, shots=shots, sigmas=sigmas)
        )(base.values, base_err.values, mean.values, err.values)
        result.loc[{"pulse": pulse}] = values
    return result


def plot_devices(ds: xr.Dataset, axes: Any) -> None:
    """One panel per unscaled setting: raw (circles) and mitigated (squares) disorder-mean
    <sigma^x_p> vs T per pulse, with exact (solid) and noiseless Trotter (dotted) lines."""
    at = next(plot.points(ds))[1]
    settings = [s for s in at["setting"].values if float(at["error_scale"].sel(setting=s)) == 1]
    times = at["time"].values
    for ax, setting in zip(axes, settings, strict=False):
        one = at.sel(setting=setting)
        for pulse in at["pulse"].values:
            raw = one["sx_raw"].sel(pulse=pulse).mean("realization")
            (line,) = ax.plot(times, raw, "o-", ms=3, lw=0.8, label=f"{pulse} raw")
            color = line.get_color()
            mitigated = one["sx_mitigated"].sel(pulse=pulse).mean("realization")
            if np.any(np.isfinite(mitigated)):
                ax.plot(
                    times, mitigated, "s--", ms=3, lw=0.8, color=color, label=f"{pulse} mitigated"
                )
            exact = at["sx_exact"].sel(pulse=pulse).mean("realization")
            ax.plot(times, exact, "-", color=color, lw=1.5, alpha=0.4)
            trotter = at["sx_trotter"].sel(pulse=pulse).mean("realization")
            ax.plot(times, trotter, ":", color=color, lw=1)
        ax.set_title(str(setting), fontsize=9)
        ax.set_xlabel(plot.TIME_LABEL)
        ax.set_ylabel("<sigma^x_p>")
        ax.legend(fontsize="xx-small")


def plot_error_scale(ds: xr.Dataset, ax: Axes) -> None:
    """Raw <sigma^x_p> at the longest time against the two-qubit error scale, per pulse."""
    at = next(plot.points(ds))[1].isel(time=-1)
    device = str(at["device"].values[np.argmax(at["error_scale"].values != 1.0)])
    chosen = at.where(at["device"] == device, drop=True).sortby("error_scale")
    for pulse in at["pulse"].values:
        values = chosen["sx_raw"].sel(pulse=pulse).mean("realization")
        ax.plot(chosen["error_scale"].values, values, "o-", label=str(pulse))
        exact = float(at["sx_exact"].sel(pulse=pulse).mean("realization"))
        ax.axhline(exact, ls=":", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_xlabel(f"two-qubit error scale on {device} (dotted: noiseless)")
    ax.set_ylabel(f"raw <sigma^x_p> at T = {float(at['time']):g}")
    ax.legend(fontsize="small")


def _series(values: xr.DataArray, digits: int = 2) -> str:
    """Disorder means over ``time`` as ``a / b / c`` ("-" where not measured)."""
    means = values.mean("realization") if "realization" in values.dims else values
    return " / ".join("-" if not np.isfinite(v) else f"{v:.{digits}f}" for v in means.values)


def hardware_summary(ds: xr.Dataset) -> str:
    """The findings of a device study as Markdown: per parameter point, per setting and pulse,
    the disorder-mean <sigma^x_p> at every time, raw and mitigated, against exact evolution and
    the noiseless Trotter circuit, the two-qubit gate counts and the circuit success
    probabilities, and the fewest shots (over the times) a 3-sigma difference from the p-bit
    needs (:func:`shot_budgets`). The standard error of one value is in the results file."""
    budgets = shot_budgets(ds)
    times = " / ".join(f"{t:g}" for t in ds["time"].values)
    lines = [
        f"Device echoes: disorder-mean <sigma^x_p> at T = {times} "
        f"({int(ds['shots'].max())} shots per circuit).",
        "",
    ]
    for point, one in plot.points(ds):
        lines += [
            f"**{plot.describe(point) or 'all'}** ({one.sizes.get('realization', 1)} realizations)",
            "",
            "| setting | pulse | raw | mitigated | exact | noiseless Trotter | 2q gates | "
            "success prob. | shots for 3 sigma vs p-bit |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        budget = budgets.sel(point) if point else budgets
        for setting in one["setting"].values:
            here = one.sel(setting=setting)
            for pulse in one["pulse"].values:
                row = here.sel(pulse=pulse)
                shots = budget.sel(setting=setting, pulse=pulse).min("time", skipna=True)
                shots_text = "-" if not np.isfinite(shots) else f"{float(shots):.2g}"
                lines.append(
                    f"| {setting} | {pulse} | {_series(row['sx_raw'])} | "
                    f"{_series(row['sx_mitigated'])} | {_series(row['sx_exact'])} | "
                    f"{_series(row['sx_trotter'])} | {_series(row['two_qubit_gates'], 0)} | "
                    f"{_series(row['success_probability'])} | {shots_text} |"
                )
        lines.append("")
    return "\n".join(lines)


def hardware_figures(ds: xr.Dataset) -> dict[str, Figure]:
    """``devices`` and, with scaled settings, ``error_scale``."""
    count = int(np.sum(ds["error_scale"].values == 1.0))
    figure, axes = plot.new_figure(1, count, size=(4.5, 3.6))
    plot_devices(ds, axes[0])
    figures = {"devices": figure}
    if np.any(ds["error_scale"].values != 1.0):
        figure, axes = plot.new_figure(size=(5.5, 4.0))
        plot_error_scale(ds, axes[0, 0])
        figures["error_scale"] = figure
    return figures


class HardwareKind(StudyKind):
    """Study kind ``hardware_echo`` (module docstring)."""

    name = "hardware_echo"
    required = ("protocol", "times", "devices")
    optional = ("lbits",)
    keys: Mapping[str, tuple[str, ...]] = {
        "protocol": ("pulses", "probe", "background"),
        "devices": DEVICE_KEYS,
    }
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {
        "protocol": {
            "pulses": dataclasses.replace(
                SHARED_DOCS["protocol"]["pulses"],
                text="The pulses of the Hahn echoes (no window pulses): `pbit`, `lbit`, "
                "`lbit:r` or `circuit`.",
                default='["pbit", "lbit:1"]',
            )
        },
        "devices": DEVICE_DOCS,
    }

    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> HardwareSettings:
        from echo_lab.hardware import require_runtime

        require_runtime()
        base, table, _ = parse_protocol(tables["protocol"], keys=self.keys["protocol"], sweep=sweep)
        pulses = parse_pulses(table, ["pbit", "lbit:1"], angle_error=0.0)
        if any(p.source_need is not None and p.source_need.kind == WINDOW for p in pulses):
            raise ConfigError("protocol.pulses: window pulses are not played on devices here")
        protocol = ProtocolSpec(
            sequence="hahn", pulses=pulses, probe=base.probe, backgrounds=base.backgrounds
        )
        settings, options = _parse_devices(tables["devices"])
        return HardwareSettings(
            protocol=protocol,
            times=parse_times(tables["times"]),
            lbits=parse_lbits(tables.get("lbits"), kind=self.name),
            settings=settings,
            **options,
        )

    def check(self, spec: StudySpec) -> None:
        limit = (MAX_DEVICE_QUBITS, "a device study simulates noisy circuits of n qubits")
        refuse_larger(spec, [limit])
        check_probe(spec)
        check_pulse_geometry(spec)

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        """The device backend of every setting (the runner builds each, checks that its device
        holds the chain and counts its state before any unit runs)."""
        settings = _settings(spec)
        return {_device_key(s): _device_spec(settings, s) for s in settings.settings}

    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """Four simulated device states (a density matrix up to 10 qubits with method "auto", a
        state vector above: the registry's estimate of the device backend; settings run one
        after another), plus the dense l-bits."""
        from echo_lab.resources import dense_operator_bytes

        n = spec.largest_model().n
        hamiltonian = spec.largest_model().build(seed=0).hamiltonian()
        state = max(
            (estimate_state_bytes(b, hamiltonian) for b in self.backends(spec).values()),
            default=0,
        )
        return 4 * state + 8 * dense_operator_bytes(min(n, 12))

    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        return compute_hardware(spec, point, realization)

    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        return hardware_figures(ds)

    def summary(self, ds: xr.Dataset) -> str:
        """The findings table (:func:`hardware_summary`)."""
        return hardware_summary(ds)


KIND = HardwareKind()
