"""The run template: model -> l-bits -> protocol -> backend -> observables -> result.

A study (:class:`~echo_lab.config.StudySpec`) is a grid of **work units**: one parameter point
of the sweep times one disorder realization. One pure function per study kind computes one unit
and returns an ``xarray.Dataset`` (no I/O):

=================  ===========================================================================
kind               function and per-unit variables
=================  ===========================================================================
echo               :func:`compute_echo`: ``sx``, ``sy``, ``coherence`` (and ``tau_x``,
                   ``tau_y`` with l-bits) over (background, pulse, time); pulse ``"fid"`` is
                   the free induction decay; optional ``check_*`` / ``reference_*`` of [check]
entanglement       :func:`compute_entanglement`: ``entropy`` over (background, time)
deer               :func:`compute_deer`: ``sx``, ``tau_x`` over (background, pulse, partner,
                   time), the fitted ``J_fit`` and the effective ``J_eff`` = c_pq
level_statistics   :func:`compute_level_statistics`: ``r``, the mean spacing ratio
lbit_locality      :func:`compute_lbit_locality`: ``mean_range_z/x`` (assignment, site),
                   ``average_range_z/x``, ``xi_tails``, ``xi_couplings`` (assignment) and,
                   with a [protocol], ``J_deer`` (assignment, partner), ``xi_deer``
=================  ===========================================================================

Every unit also holds ``fields`` (site), the random fields of its realization.

Seeding (physics.md section 2): realization k of a study with base seed s and R realizations
draws its fields from ``numpy.random.default_rng(c_k)`` with ``c_k =
models.disorder_seeds(s, R)[k]`` (the same c_k at every parameter point, so fields at different
W differ by the factor W only), and its random background state from ``default_rng(b_k)`` with
``b_k = c_k.spawn(1)[0]`` (:func:`realization_seeds`), a fresh generator per background.

:func:`run_study` runs all units (serially or on Dask, :mod:`echo_lab.sweep`), checkpoints each
finished unit at once, assembles the units into one Dataset with the sweep dimensions and
``realization`` in front, writes ``out/<name>.nc`` (:mod:`echo_lab.results`) and draws
``out/<name>_*.png`` (:mod:`echo_lab.plot`).

Checkpoints. Unit (point i, realization k) is written atomically to
``out/<name>.ckpt/unit-<i>-<k>.nc`` (NetCDF, temporary file + ``os.replace``) as soon as it
finishes; ``manifest.json`` beside the units holds the hash of the validated spec. With
``resume=True`` the finished units are reused and only the missing ones are computed (the log
line ``reused K of N work units`` says how many); a manifest whose hash differs from the spec's,
or a unit file that does not load or belongs to another unit, raises
:class:`~echo_lab.errors.CheckpointError` before any unit runs, and nothing is mixed in. Without
``resume`` a checkpoint that holds finished units is refused with a CheckpointError (pass
``resume``, or delete the folder to start over): finished work is never deleted silently. The
checkpoint is kept after a successful run, so a later ``resume`` only reassembles. The final file
is always assembled from the unit files, so it is identical whether or not the run was
interrupted.

Before any unit runs, :func:`check_resources` builds the backends (refusing options they do not
accept) and refuses, with :class:`~echo_lab.errors.ResourceError` and the estimate, a study whose
units (:func:`estimate_unit_bytes`, times the number of workers) do not fit in memory.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from echo_lab import observables as obs
from echo_lab.backends import get_backend
from echo_lab.backends.base import Backend
from echo_lab.backends.exact import diagonalize
from echo_lab.config import (
    BackendSpec,
    ModelSpec,
    ProtocolSpec,
    Scalar,
    StudySpec,
    load_spec,
)
from echo_lab.errors import CheckpointError, ConfigError, NumericalError
from echo_lab.models import Lattice, RandomFieldXXZ, disorder_seeds
from echo_lab.protocols import build_sequence
from echo_lab.pulses import parse_pulse_spec, parse_window_spec
from echo_lab.resources import (
    REAL_BYTES,
    dense_operator_bytes,
    format_bytes,
    require_memory,
    statevector_bytes,
)
from echo_lab.results import (
    environment_attrs,
    load_results,
    remove_stale_temporaries,
    save_results,
    write_text_atomically,
)
from echo_lab.states import probe_state
from echo_lab.sweep import run_units
from echo_lab.window import window_lbits

__all__ = [
    "CHECKPOINT_FORMAT",
    "WorkUnit",
    "assemble_results",
    "check_resources",
    "compute_deer",
    "compute_echo",
    "compute_entanglement",
    "compute_lbit_locality",
    "compute_level_statistics",
    "compute_unit",
    "estimate_unit_bytes",
    "list_units",
    "realization_seeds",
    "run_study",
    "run_study_file",
]

#: Version of the checkpoint layout (manifest + one NetCDF file per unit).
CHECKPOINT_FORMAT = 1

_TIME_ATTRS = {"units": "1/J", "long_name": "total evolution time"}

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, order=True)
class WorkUnit:
    """One parameter point (flat index into ``spec.points()``) and one realization index."""

    point: int
    realization: int

    @property
    def filename(self) -> str:
        """Name of this unit's checkpoint file."""
        return f"unit-{self.point:05d}-{self.realization:05d}.nc"


def list_units(spec: StudySpec) -> list[WorkUnit]:
    """All work units of ``spec``: points (C order of the sweep) x realizations."""
    return [
        WorkUnit(point, k) for point in range(len(spec.points())) for k in range(spec.realizations)
    ]


def realization_seeds(
    spec: StudySpec, realization: int
) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """``(c_k, b_k)``: the seeds of realization k's fields and of its background state.

    ``c_k = models.disorder_seeds(spec.seed, spec.realizations)[k]`` and
    ``b_k = c_k.spawn(1)[0]`` (module docstring).
    """
    if not 0 <= realization < spec.realizations:
        raise ConfigError(
            f"realization {realization} is outside 0..{spec.realizations - 1} of study "
            f"{spec.name!r}"
        )
    fields_seed = disorder_seeds(spec.seed, spec.realizations)[realization]
    (state_seed,) = fields_seed.spawn(1)
    return fields_seed, state_seed


# ----------------------------------------------------------------------------------------------
# One work unit per study kind (pure numerics)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Setup:
    protocol: ProtocolSpec | None
    model: RandomFieldXXZ
    lattice: Lattice
    state_seed: np.random.SeedSequence

    @property
    def n(self) -> int:
        return self.model.n


def _setup(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> _Setup:
    model_spec, protocol = spec.resolve(point)
    fields_seed, state_seed = realization_seeds(spec, realization)
    model = model_spec.build(seed=fields_seed)
    return _Setup(protocol, model, model.lattice, state_seed)


def _construct_lbits(setup: _Setup, method: str) -> Any:
    """l-bits of the unit's Hamiltonian; its sector-by-sector diagonalization is reused for the
    exact backend through ``(lb.energies, lb.vectors)``."""
    from echo_lab import lbits

    return lbits.construct(setup.model.hamiltonian(), method=method, lattice=setup.lattice)


def _backend(spec: StudySpec, eigensystem: tuple[np.ndarray, np.ndarray] | None) -> Backend:
    if spec.backend.name == "exact":
        return get_backend("exact", eigensystem=eigensystem)
    return get_backend(spec.backend.name, **spec.backend.kwargs())


def _needs_lbits(pulses: tuple[str, ...]) -> bool:
    return any(parse_pulse_spec(p)[0] == "lbit" for p in pulses)


def _window_width(label: str) -> int | None:
    """Window width w of a ``"window:w[:r]"`` pulse label, None for other labels."""
    if label == "fid" or parse_pulse_spec(label)[0] != "window":
        return None
    return parse_window_spec(label)[0]


def _states(setup: _Setup, probe: int) -> dict[str, Any]:
    """The initial state of each background (fresh generator from b_k for each)."""
    assert setup.protocol is not None
    return {
        background: probe_state(
            setup.n,
            probe,
            background=background,
            rng=np.random.default_rng(setup.state_seed),
        )
        for background in setup.protocol.backgrounds
    }


def _unit_dataset(
    data_vars: Mapping[str, Any], coords: Mapping[str, Any], setup: _Setup
) -> xr.Dataset:
    ds = xr.Dataset(dict(data_vars), coords=dict(coords))
    ds["fields"] = (("site",), np.asarray(setup.model.fields, dtype=float))
    ds["fields"].attrs = {"long_name": "random field h_i", "units": "J"}
    if "time" in ds.coords:
        ds["time"].attrs = dict(_TIME_ATTRS)
    return ds


def compute_echo(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> xr.Dataset:
    """Echo of one realization at one parameter point (kind ``"echo"``).

    For every background and every row of ``protocol.labels`` (``"fid"``, then each pulse spec
    run through ``protocol.sequence``): <sigma^x_p>, <sigma^y_p>, the coherence and, when any
    pulse is an l-bit pulse (``"lbit"``, ``"lbit:r"``), <tau^x_p>, <tau^y_p>, at all total
    times. One diagonalization serves the l-bit construction and the exact backend. Window
    pulses (``"window:w"``, ``"window:w:r"``) need no full l-bits: the window l-bits of each
    width are built once (:func:`echo_lab.window.window_lbits`, O(8^w)), so they run on long
    chains (aer, matrix_product_state) where only ``sx``, ``sy`` and ``coherence`` are recorded.
    Dims: (background, pulse, time).
    With a [check] and ``realization < check.realizations``: ``check_sx/sy`` from the check
    backend and ``reference_sx/sy`` from the main backend over (background, check_pulse,
    check_time), and ``check_deviation`` (their largest absolute difference); NaN otherwise.
    Raises :class:`NumericalError` when the deviation exceeds ``check.tolerance``.

    Cost (exact backend, N sites): one dense ``eigh`` (N = 10: ~0.3 s), the l-bit construction,
    and per row two basis changes of a (2^N, len(times)) block; memory ~ 8 dense 2^N matrices.
    """
    setup = _setup(spec, point, realization)
    protocol = setup.protocol
    assert protocol is not None
    hamiltonian = setup.model.hamiltonian()
    with_lbits = _needs_lbits(protocol.pulses)
    eigensystem = None
    lbit_system = None
    if with_lbits:
        lbit_system = _construct_lbits(setup, spec.lbits.method)
        eigensystem = (lbit_system.energies, lbit_system.vectors)
    elif spec.backend.name == "exact":
        eigensystem = diagonalize(hamiltonian)
    probe = protocol.probe_site(setup.lattice)
    operators = obs.probe_observables(setup.n, probe, lbit_system=lbit_system)
    widths = {_window_width(label) for label in protocol.labels} - {None}
    windows = {
        width: window_lbits(setup.model, probe, width=width, method=spec.lbits.method)
        for width in sorted(w for w in widths if w is not None)
    }
    sequences = {
        label: build_sequence(
            "fid" if label == "fid" else protocol.sequence,
            n=setup.n,
            probe=probe,
            pulse="pbit" if label == "fid" else label,
            n_pulses=protocol.n_pulses,
            lbit_system=lbit_system,
            window_system=windows.get(_window_width(label) or 0),
            angle_error=protocol.angle_error,
            lattice=setup.lattice,
        )
        for label in protocol.labels
    }
    backend = _backend(spec, eigensystem)
    states = _states(setup, probe)
    times = np.asarray(spec.times)
    shape = (len(states), len(sequences), times.size)
    values = {name: np.empty(shape) for name in operators}
    for b, state in enumerate(states.values()):
        for s, sequence in enumerate(sequences.values()):
            result = backend.run(hamiltonian, sequence, state, times, observables=operators)
            for name in operators:
                values[name][b, s] = result[name]
    dims = ("background", "pulse", "time")
    data_vars: dict[str, Any] = {name: (dims, values[name]) for name in operators}
    data_vars["coherence"] = (dims, obs.coherence(values["sx"], values["sy"]))
    data_vars["probe"] = ((), probe)
    coords: dict[str, Any] = {
        "background": list(states),
        "pulse": list(sequences),
        "time": times,
    }
    if spec.check is not None:
        pauli_operators = {name: operators[name] for name in ("sx", "sy")}
        check_vars, check_coords = _run_check(
            spec, pauli_operators, hamiltonian, sequences, states, backend, realization
        )
        data_vars.update(check_vars)
        coords.update(check_coords)
    ds = _unit_dataset(data_vars, coords, setup)
    for name, meaning in (
        ("sx", "<sigma^x_p>"),
        ("sy", "<sigma^y_p>"),
        ("tau_x", "<tau^x_p>"),
        ("tau_y", "<tau^y_p>"),
        ("coherence", "coherence C = sqrt(<sigma^x_p>^2 + <sigma^y_p>^2)"),
    ):
        if name in ds:
            ds[name].attrs["long_name"] = meaning
    return ds


def _run_check(
    spec: StudySpec,
    operators: Mapping[str, Any],
    hamiltonian: Any,
    sequences: Mapping[str, Any],
    states: Mapping[str, Any],
    backend: Backend,
    realization: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    check = spec.check
    assert check is not None
    times = np.asarray(check.times)
    shape = (len(states), len(check.pulses), times.size)
    checked = {name: np.full(shape, np.nan) for name in ("sx", "sy")}
    reference = {name: np.full(shape, np.nan) for name in ("sx", "sy")}
    deviation = math.nan
    if realization < check.realizations:
        other = get_backend(check.backend.name, **check.backend.kwargs())
        for b, state in enumerate(states.values()):
            for s, label in enumerate(check.pulses):
                sequence = sequences[label]
                ours = backend.run(hamiltonian, sequence, state, times, observables=operators)
                theirs = other.run(hamiltonian, sequence, state, times, observables=operators)
                for name in ("sx", "sy"):
                    reference[name][b, s] = ours[name]
                    checked[name][b, s] = theirs[name]
        deviation = float(
            max(np.max(np.abs(checked[name] - reference[name])) for name in ("sx", "sy"))
        )
        if check.tolerance is not None and deviation > check.tolerance:
            raise NumericalError(
                f"[check] backend {check.backend.name!r} deviates from {spec.backend.name!r} by "
                f"{deviation:.3g} > check.tolerance = {check.tolerance:g} (realization "
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


def compute_entanglement(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """Half-chain entropy S(t) of the FID from each background (kind ``"entanglement"``).

    ``entropy`` over (background, time), natural log, sites 0..n/2-1 (physics.md section 7).
    Cost (exact backend): one ``eigh`` plus one SVD of a 2^(n/2) x 2^(n/2) matrix per time.
    """
    setup = _setup(spec, point, realization)
    assert setup.protocol is not None
    hamiltonian = setup.model.hamiltonian()
    eigensystem = diagonalize(hamiltonian) if spec.backend.name == "exact" else None
    backend = _backend(spec, eigensystem)
    probe = setup.protocol.probe_site(setup.lattice)
    states = _states(setup, probe)
    times = np.asarray(spec.times)
    fid = build_sequence("fid", n=setup.n, probe=probe)
    entropy = np.empty((len(states), times.size))
    for b, state in enumerate(states.values()):
        result = backend.run(hamiltonian, fid, state, times, observables={}, entropy=True)
        entropy[b] = result["entropy"]
    ds = _unit_dataset(
        {"entropy": (("background", "time"), entropy), "probe": ((), probe)},
        {"background": list(states), "time": times},
        setup,
    )
    ds["entropy"].attrs = {"long_name": "half-chain entanglement entropy S", "units": "nats"}
    return ds


def _deer_traces(
    spec: StudySpec,
    setup: _Setup,
    pulses: tuple[str, ...],
    lbit_system: Any,
    backend: Backend,
) -> tuple[dict[str, np.ndarray], np.ndarray, tuple[int, ...]]:
    """sx and tau_x of DEER runs over (background, pulse, partner, time) and the J fits."""
    protocol = setup.protocol
    assert protocol is not None
    hamiltonian = setup.model.hamiltonian()
    probe = protocol.probe_site(setup.lattice)
    partners = protocol.partner_sites(setup.lattice)
    operators = obs.probe_observables(setup.n, probe, lbit_system=lbit_system)
    measured = {"sx": operators["sx"], "tau_x": operators["tau_x"]}
    states = _states(setup, probe)
    times = np.asarray(spec.times)
    shape = (len(states), len(pulses), len(partners), times.size)
    traces = {name: np.empty(shape) for name in measured}
    fits = np.empty(shape[:3])
    for c, partner in enumerate(partners):
        for s, pulse in enumerate(pulses):
            sequence = build_sequence(
                "deer",
                n=setup.n,
                probe=probe,
                pulse=pulse,
                partner=partner,
                lbit_system=lbit_system,
                angle_error=protocol.angle_error,
                lattice=setup.lattice,
            )
            for b, state in enumerate(states.values()):
                result = backend.run(hamiltonian, sequence, state, times, observables=measured)
                for name in measured:
                    traces[name][b, s, c] = result[name]
                fits[b, s, c] = obs.fit_deer_coupling(
                    times, result["tau_x"], max_coupling=protocol.max_coupling
                )
    return traces, fits, partners


def _effective_couplings(lbit_system: Any, probe: int, partners: tuple[int, ...]) -> np.ndarray:
    couplings = lbit_system.effective_hamiltonian()
    return np.array([float(couplings.get(tuple(sorted((probe, q))), 0.0)) for q in partners])


def compute_deer(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> xr.Dataset:
    """DEER of one realization (kind ``"deer"``), physics.md section 6.

    For each background, pulse spec and partner q: the traces ``sx`` = <sigma^x_p> and
    ``tau_x`` = <tau^x_p> at the total times (dims background, pulse, partner, time); the coupling
    ``J_fit`` = |J_pq| fitted to ``tau_x`` (:func:`echo_lab.observables.fit_deer_coupling`); and
    ``J_eff`` (partner) = c_pq of the effective l-bit Hamiltonian, with ``partner_site`` and
    ``partner_distance`` (lattice distance to p). The ``partner`` coordinate counts partners.
    Cost: one ``eigh``, the l-bits, and one exact run per (background, pulse, partner).
    """
    setup = _setup(spec, point, realization)
    protocol = setup.protocol
    assert protocol is not None
    lbit_system = _construct_lbits(setup, spec.lbits.method)
    backend = _backend(spec, (lbit_system.energies, lbit_system.vectors))
    traces, fits, partners = _deer_traces(spec, setup, protocol.pulses, lbit_system, backend)
    probe = protocol.probe_site(setup.lattice)
    distances = [setup.lattice.distance(probe, q) for q in partners]
    data_vars: dict[str, Any] = {
        "sx": (("background", "pulse", "partner", "time"), traces["sx"]),
        "tau_x": (("background", "pulse", "partner", "time"), traces["tau_x"]),
        "J_fit": (("background", "pulse", "partner"), fits),
        "J_eff": (("partner",), _effective_couplings(lbit_system, probe, partners)),
        "partner_site": (("partner",), np.asarray(partners, dtype=np.int64)),
        "partner_distance": (("partner",), np.asarray(distances, dtype=np.int64)),
        "probe": ((), probe),
    }
    coords = {
        "background": list(protocol.backgrounds),
        "pulse": list(protocol.pulses),
        "partner": np.arange(len(partners)),
        "time": np.asarray(spec.times),
    }
    ds = _unit_dataset(data_vars, coords, setup)
    ds["J_fit"].attrs = {"long_name": "|J_pq| fitted to the DEER trace", "units": "J"}
    ds["J_eff"].attrs = {"long_name": "effective coupling c_pq", "units": "J"}
    return ds


def compute_level_statistics(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """Mean level-spacing ratio r of one realization (kind ``"level_statistics"``).

    :func:`echo_lab.spectrum.measure_spacing_ratio` over the middle ``spec.spectrum_fraction``
    of the half-filling sector (or the full spectrum without U(1) symmetry). Cost: one
    ``eigvalsh`` of a binomial(n, n/2) block (n = 12: 924, ~0.1 s).
    """
    from echo_lab.spectrum import measure_spacing_ratio

    setup = _setup(spec, point, realization)
    r = measure_spacing_ratio(setup.model, fraction=spec.spectrum_fraction)
    ds = _unit_dataset({"r": ((), r)}, {}, setup)
    ds["r"].attrs = {"long_name": "mean level-spacing ratio r"}
    return ds


def _fit_xi(distances: np.ndarray, couplings: np.ndarray) -> float:
    """xi from log|J| = a - d / xi (least squares); NaN with fewer than two usable points."""
    usable = couplings > 0
    if np.count_nonzero(usable) < 2 or np.unique(distances[usable]).size < 2:
        return math.nan
    slope, _ = np.polyfit(distances[usable], np.log(couplings[usable]), 1)
    return -1.0 / slope if slope < 0 else math.inf


def compute_lbit_locality(
    spec: StudySpec, point: Mapping[str, Scalar], realization: int
) -> xr.Dataset:
    """Locality of the l-bits of one realization for each assignment method.

    Over (assignment, site): ``mean_range_z``, ``mean_range_x``; over (assignment):
    ``average_range_z``, ``average_range_x``, ``xi_tails``, ``xi_couplings``. With a [protocol]:
    DEER with exact l-bit pulses against each partner, ``J_deer`` (assignment, partner), and
    ``xi_deer`` (assignment) from a
    straight-line fit of log J_deer against the partner distance. Cost: one ``eigh`` and one
    l-bit construction per method (each O(n 4^n) Pauli transforms for the ranges).
    """
    setup = _setup(spec, point, realization)
    methods = spec.lbits.methods
    per_site = {name: np.empty((len(methods), setup.n)) for name in ("z", "x")}
    scalars = {
        name: np.empty(len(methods))
        for name in ("average_range_z", "average_range_x", "xi_tails", "xi_couplings")
    }
    deer: list[np.ndarray] = []
    xi_deer = np.empty(len(methods))
    partners: tuple[int, ...] = ()
    for m, method in enumerate(methods):
        lbit_system = _construct_lbits(setup, method)
        for axis in ("z", "x"):
            per_site[axis][m] = lbit_system.mean_range(axis)
            scalars[f"average_range_{axis}"][m] = lbit_system.average_range(axis)
        scalars["xi_tails"][m] = lbit_system.xi_tails()
        scalars["xi_couplings"][m] = lbit_system.xi_couplings()
        if setup.protocol is not None:
            eigensystem = (lbit_system.energies, lbit_system.vectors)
            backend = get_backend("exact", eigensystem=eigensystem)
            _, fits, partners = _deer_traces(spec, setup, ("lbit",), lbit_system, backend)
            couplings = fits[0, 0]
            probe = setup.protocol.probe_site(setup.lattice)
            distances = np.array([setup.lattice.distance(probe, q) for q in partners])
            deer.append(couplings)
            xi_deer[m] = _fit_xi(distances, couplings)
    data_vars: dict[str, Any] = {
        "mean_range_z": (("assignment", "site"), per_site["z"]),
        "mean_range_x": (("assignment", "site"), per_site["x"]),
        **{name: (("assignment",), values) for name, values in scalars.items()},
    }
    coords: dict[str, Any] = {"assignment": list(methods)}
    if setup.protocol is not None:
        probe = setup.protocol.probe_site(setup.lattice)
        data_vars["J_deer"] = (("assignment", "partner"), np.asarray(deer))
        data_vars["xi_deer"] = (("assignment",), xi_deer)
        data_vars["partner_distance"] = (
            ("partner",),
            np.asarray([setup.lattice.distance(probe, q) for q in partners], dtype=np.int64),
        )
        coords["partner"] = np.arange(len(partners))
    return _unit_dataset(data_vars, coords, setup)


_COMPUTE: dict[str, Callable[[StudySpec, Mapping[str, Scalar], int], xr.Dataset]] = {
    "echo": compute_echo,
    "entanglement": compute_entanglement,
    "deer": compute_deer,
    "level_statistics": compute_level_statistics,
    "lbit_locality": compute_lbit_locality,
}


def compute_unit(spec: StudySpec, unit: WorkUnit) -> xr.Dataset:
    """The dataset of one work unit (dispatch on ``spec.kind``); attrs name the unit."""
    point = spec.points()[unit.point]
    ds = _COMPUTE[spec.kind](spec, point, unit.realization)
    ds.attrs = {
        "spec_hash": spec.spec_hash(),
        "point": unit.point,
        "realization": unit.realization,
    }
    return ds


# ----------------------------------------------------------------------------------------------
# Assembly
# ----------------------------------------------------------------------------------------------


def assemble_results(spec: StudySpec, units: Mapping[WorkUnit, xr.Dataset]) -> xr.Dataset:
    """One Dataset from all unit datasets: dims (sweep..., realization, unit dims...).

    A unit dimension whose length varies between units (``site`` when ``n`` is swept) is padded
    with NaN to its largest length. Coordinates come from the units; the sweep dimensions get
    their values and ``realization`` 0..R-1. Attrs: :func:`result_attrs`. Raises
    :class:`CheckpointError` when a unit is missing.
    """
    expected = list_units(spec)
    missing = [u for u in expected if u not in units]
    if missing:
        raise CheckpointError(f"{len(missing)} work units are missing, first {missing[0]}")
    sweep_shape = spec.sweep_shape
    leading = (*spec.sweep_dims, "realization")
    first = units[expected[0]]
    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {name: list(values) for name, values in spec.sweep}
    coords["realization"] = np.arange(spec.realizations)
    for key, variable in first.data_vars.items():
        name = str(key)
        sizes = {dim: max(units[u][name].sizes[dim] for u in expected) for dim in variable.dims}
        padded = any(units[u][name].shape != tuple(sizes.values()) for u in expected)
        floating = variable.dtype.kind in "fc" or padded
        shape = (*sweep_shape, spec.realizations, *sizes.values())
        values = np.full(shape, np.nan) if floating else np.zeros(shape, dtype=variable.dtype)
        for unit in expected:
            index = tuple(int(i) for i in np.unravel_index(unit.point, sweep_shape))
            part = units[unit][name].values
            target: tuple[int | slice, ...] = (
                *index,
                unit.realization,
                *(slice(0, k) for k in part.shape),
            )
            values[target] = part
        data_vars[name] = ((*leading, *variable.dims), values, dict(variable.attrs))
    for dim in map(str, first.dims):
        longest = max(expected, key=lambda u: units[u].sizes.get(dim, 0))
        if dim in units[longest].coords:
            coords[dim] = units[longest][dim].variable.copy()
    result = xr.Dataset(data_vars, coords=coords)
    result.attrs = result_attrs(spec)
    return result


def result_attrs(spec: StudySpec) -> dict[str, Any]:
    """Attributes of a study's results file: study, config text, seeds, versions, git commit."""
    return {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "config": spec.text,
        "spec_hash": spec.spec_hash(),
        "seed": spec.seed,
        "realizations": spec.realizations,
        "seeding": (
            "fields of realization k: numpy.random.default_rng(c_k), c_k = "
            "numpy.random.SeedSequence(seed).spawn(realizations)[k]; background state: "
            "default_rng(c_k.spawn(1)[0])"
        ),
        "sweep_dims": json.dumps(list(spec.sweep_dims)),
        "backend": spec.backend.name,
        **environment_attrs(),
    }


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------


class _Checkpoint:
    """Folder of finished unit files plus ``manifest.json`` (module docstring)."""

    def __init__(self, folder: Path, spec: StudySpec) -> None:
        self.folder = folder
        self.spec = spec
        self.manifest = folder / "manifest.json"

    def _manifest_content(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "name": self.spec.name,
            "kind": self.spec.kind,
            "spec_hash": self.spec.spec_hash(),
            "units": len(list_units(self.spec)),
        }

    def open(self, *, resume: bool) -> None:
        """Validate (``resume``) or start the checkpoint; never delete finished units."""
        unit_files = sorted(self.folder.glob("unit-*.nc")) if self.folder.is_dir() else []
        if resume and self.manifest.exists():
            self._validate_manifest()
            remove_stale_temporaries(self.folder)
            return
        if unit_files and not resume:
            raise CheckpointError(
                f"{self.folder} holds {len(unit_files)} finished work unit(s) of an earlier run; "
                "pass --resume (resume=True) to reuse them with the unchanged study file, or "
                "delete that folder to start over"
            )
        if unit_files:
            raise CheckpointError(
                f"{self.folder} holds {len(unit_files)} unit file(s) but no manifest.json, so "
                "they cannot be matched to this study; delete that folder and run again"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder)
        write_text_atomically(self.manifest, json.dumps(self._manifest_content(), indent=2))

    def _validate_manifest(self) -> None:
        try:
            stored = json.loads(self.manifest.read_text(encoding="utf-8"))
            stored_format = stored["format"]
            stored_hash = stored["spec_hash"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint manifest {self.manifest} is unreadable ({exc}); delete "
                f"{self.folder} and run without --resume"
            ) from None
        if stored_format != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"checkpoint {self.folder} has format {stored_format!r}, this version writes "
                f"{CHECKPOINT_FORMAT}; delete the folder and run without --resume"
            )
        if stored_hash != self.spec.spec_hash():
            raise CheckpointError(
                f"checkpoint {self.folder} belongs to a different study configuration "
                f"(spec hash {str(stored_hash)[:12]} != {self.spec.spec_hash()[:12]}); restore "
                "the original study file, or delete the folder and run without --resume"
            )

    def path(self, unit: WorkUnit) -> Path:
        return self.folder / unit.filename

    def write(self, unit: WorkUnit, dataset: xr.Dataset) -> None:
        save_results(dataset, self.path(unit))

    def read(self, unit: WorkUnit) -> xr.Dataset:
        """A finished unit, validated against the spec hash and the unit indices."""
        path = self.path(unit)
        try:
            dataset = load_results(path)
        except CheckpointError as exc:
            cause = exc.__cause__
            reason = str(exc) if cause is None else f"{type(cause).__name__}: {cause}"
            raise CheckpointError(
                f"checkpoint unit {path} is damaged or not an echo_lab file ({reason}); delete "
                "that file and run again with --resume to recompute only it"
            ) from None
        stored_hash = str(dataset.attrs.get("spec_hash"))
        stored_unit = (dataset.attrs.get("point"), dataset.attrs.get("realization"))
        if stored_hash != self.spec.spec_hash() or stored_unit != (unit.point, unit.realization):
            point, realization = (str(value) for value in stored_unit)
            raise CheckpointError(
                f"checkpoint unit {path} belongs to another study or unit (it holds point "
                f"{point}, realization {realization} of spec hash {stored_hash[:12]}; expected "
                f"point {unit.point}, realization {unit.realization} of "
                f"{self.spec.spec_hash()[:12]}); delete that file and run again with --resume"
            )
        return dataset

    def finished(self) -> list[WorkUnit]:
        return [u for u in list_units(self.spec) if self.path(u).exists()]


def estimate_unit_bytes(spec: StudySpec) -> int:
    """Estimated peak memory of one work unit of ``spec`` at the largest n of its sweep, bytes.

    Dense steps (the exact and trotter-exact backends, l-bits, DEER, l-bit locality) count eight
    dense 2^n x 2^n complex matrices (H, V, tau^x, tau^y, a Pauli-transform buffer, work
    copies), window pulses eight 2^w x 2^w ones of the widest window; level statistics two real
    matrices of the half-filling sector (the full space without a conserved sigma^z); ``krylov``
    its sparse H and work vectors; ``aer`` the simulator's state
    (:meth:`~echo_lab.backends.aer.AerBackend.estimate_memory`); ``estimator`` two state vectors.
    The main and the [check] backend add up. Cost: microseconds (the aer and krylov estimates
    build the backend and the Hamiltonian, no state).
    """
    model = max((spec.resolve(point)[0] for point in spec.points()), key=lambda m: m.n)
    n = model.n
    if spec.kind == "level_statistics":
        conserving = spec.model.type == "xxz" and all(
            spec.resolve(point)[0].g == 0 for point in spec.points()
        )
        dimension = math.comb(n, n // 2) if conserving else 2**n
        return 2 * REAL_BYTES * dimension * dimension
    backends = {"backend": spec.backend}
    if spec.check is not None:
        backends["check"] = spec.check.backend
    protocol = spec.protocol
    dense = (
        spec.kind in ("deer", "lbit_locality")
        or (protocol is not None and _needs_lbits(protocol.pulses))
        or any(b.name in ("exact", "trotter-exact") for b in backends.values())
    )
    total = 8 * dense_operator_bytes(n) if dense else 0
    widths = [
        parse_window_spec(p)[0]
        for p in (protocol.pulses if protocol is not None else ())
        if parse_pulse_spec(p)[0] == "window"
    ]
    if widths:
        total += 8 * dense_operator_bytes(max(widths))
    for key, backend_spec in backends.items():
        total += _backend_state_bytes(spec, backend_spec, model, key=key)
    return total


def _backend_state_bytes(
    spec: StudySpec, backend_spec: BackendSpec, model: ModelSpec, *, key: str
) -> int:
    """Memory of a non-dense backend's state at the largest n (0 for the dense ones)."""
    n = model.n
    if backend_spec.name == "krylov":
        from echo_lab.backends.krylov import WORK_VECTORS, estimate_sparse_bytes

        hamiltonian = model.build(seed=0).hamiltonian()
        return estimate_sparse_bytes(hamiltonian) + WORK_VECTORS * statevector_bytes(n)
    if backend_spec.name == "aer":
        from echo_lab.backends.aer import AerBackend

        backend = _build_backend(backend_spec, key=key)
        assert isinstance(backend, AerBackend)
        saved = len(spec.times) if spec.kind == "entanglement" else 0
        return backend.estimate_memory(n, saved_states=saved)
    if backend_spec.name == "estimator":
        return 2 * statevector_bytes(n)
    return 0


def _build_backend(backend_spec: BackendSpec, *, key: str) -> Backend:
    """The backend of ``backend_spec``; options it does not accept raise ConfigError."""
    if backend_spec.name == "exact":
        return get_backend("exact")
    try:
        return get_backend(backend_spec.name, **backend_spec.kwargs())
    except ConfigError as exc:
        raise ConfigError(f"[{key}] backend {backend_spec.name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[{key}] backend {backend_spec.name!r} does not accept these options "
            f"({type(exc).__name__}: {exc}); fix {key}.options"
        ) from None


def check_resources(spec: StudySpec, *, workers: int = 0) -> int:
    """Refuse ``spec`` before any work if its backends cannot be built or it cannot fit.

    Builds the main and the [check] backend once (unavailable devices and bad options raise
    :class:`ConfigError`), then calls :func:`~echo_lab.resources.require_memory` with
    :func:`estimate_unit_bytes` times ``max(1, workers)`` (units run side by side), which raises
    :class:`~echo_lab.errors.ResourceError` with the estimate. Returns the estimate in bytes.
    Cost: milliseconds (plus the Qiskit Aer import for the aer backend).
    """
    _build_backend(spec.backend, key="backend")
    if spec.check is not None:
        _build_backend(spec.check.backend, key="check")
    per_unit = estimate_unit_bytes(spec)
    parallel = max(1, workers)
    largest = max(spec.resolve(point)[0].n for point in spec.points())
    suggestion = "Use fewer workers, a smaller n, or another backend."
    if spec.backend.name in ("aer", "krylov", "estimator") and spec.kind != "level_statistics":
        suggestion = (
            "Use a smaller n, fewer workers, or for long chains [backend] name = 'aer' with "
            "method = 'matrix_product_state' and options.mps_options.max_bond_dimension."
        )
    require_memory(
        per_unit * parallel,
        what=(
            f"study {spec.name!r} ({spec.kind}, backend {spec.backend.name!r}, largest n = "
            f"{largest}; {format_bytes(per_unit)} per work unit x {parallel} worker(s))"
        ),
        suggestion=suggestion,
    )
    return per_unit * parallel


def run_study(
    spec: StudySpec,
    *,
    out: str | Path,
    resume: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
) -> Path:
    """Run every work unit of ``spec`` and write ``out/<name>.nc`` and ``out/<name>_*.png``.

    Units run serially (``workers=0``), on a local Dask cluster of ``workers`` processes, or on
    the Dask ``scheduler`` at that address (:func:`echo_lab.sweep.run_units`), each checkpointed
    as it finishes; ``resume`` reuses a matching checkpoint, and without it a checkpoint holding
    finished units is refused (module docstring). :func:`check_resources` runs before any work
    (backends built, one unit's memory estimate times the number of parallel workers checked).
    Logs (logger ``echo_lab.study``, INFO) how many units were reused and how many computed.
    Returns the path of the results file.
    """
    out = Path(out)
    check_resources(spec, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = _Checkpoint(out / f"{spec.name}.ckpt", spec)
    checkpoint.open(resume=resume)
    remove_stale_temporaries(out)
    done = {unit: checkpoint.read(unit) for unit in checkpoint.finished()}
    todo = [unit for unit in list_units(spec) if unit not in done]
    logger.info(
        "%s: reused %d of %d work units from %s, computing %d",
        spec.name,
        len(done),
        len(done) + len(todo),
        checkpoint.folder,
        len(todo),
    )
    compute = functools.partial(compute_unit, spec)
    for index, dataset in run_units(
        compute,
        todo,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        description=spec.name,
    ):
        checkpoint.write(todo[index], dataset)
    units = {**done, **{unit: checkpoint.read(unit) for unit in todo}}
    path = save_results(assemble_results(spec, units), out / f"{spec.name}.nc")
    from echo_lab.plot import plot_file

    plot_file(path, out=out)
    return path


def run_study_file(
    path: str | Path,
    *,
    out: str | Path,
    resume: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
) -> Path:
    """:func:`run_study` of the study file ``path``, validated first (:mod:`echo_lab.config`)."""
    return run_study(
        load_spec(path),
        out=out,
        resume=resume,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )
