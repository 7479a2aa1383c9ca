"""The run template: study file -> work units -> checkpoint -> results file -> figures.

A study (:class:`~echo_lab.study.spec.StudySpec`) is a grid of **work units**: one parameter point
of the sweep times one disorder realization. Its kind (:mod:`echo_lab.study.kinds`) computes one
unit as an ``xarray.Dataset`` (pure numerics, no I/O); this module is generic over the kinds.

:func:`run_study` runs all units (serially or on Dask, :mod:`echo_lab.study.executor`), checkpoints
each finished unit at once (:mod:`echo_lab.study.checkpoint`), assembles the units into one Dataset
with the sweep dimensions and ``realization`` in front, writes ``out/<name>.nc``
(:mod:`echo_lab.study.results`) and draws ``out/<name>_*.png`` (:mod:`echo_lab.study.figures`). With
``resume=True`` the finished units of a matching checkpoint are reused (the log line ``reused K of N
work units`` says how many); the final file is always assembled from the unit files, so it is
identical whether or not the run was interrupted.

Before any unit runs, :func:`check_resources` builds the kind's backends (refusing options they
do not accept) and refuses, with :class:`~echo_lab.errors.ResourceError` and the estimate, a
study whose units (:func:`estimate_unit_bytes`, times the number of workers) do not fit in
memory. Seeding of realizations: :func:`echo_lab.study.kinds.base.realization_seeds`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from echo_lab.backends.options import build_backend, check_backend_fits
from echo_lab.backends.registry import backend_entry
from echo_lab.errors import CheckpointError, ConfigError
from echo_lab.resources import format_bytes, require_memory
from echo_lab.study.checkpoint import CHECKPOINT_FORMAT, Checkpoint, WorkUnit, list_units
from echo_lab.study.executor import check_parallel, check_scheduler, check_workers, run_units
from echo_lab.study.kinds.base import SEEDING, realization_seeds
from echo_lab.study.results import (
    environment_attrs,
    remove_stale_temporaries,
    save_results,
    temporary_path,
)
from echo_lab.study.spec import StudySpec, load_spec
from echo_lab.timing import stage

__all__ = [
    "CHECKPOINT_FORMAT",
    "RunOptions",
    "WorkUnit",
    "assemble_results",
    "backend_choice_attrs",
    "check_resources",
    "compute_unit",
    "estimate_unit_bytes",
    "list_units",
    "prepare_output",
    "realization_seeds",
    "result_attrs",
    "run_study",
    "run_study_file",
]

logger = logging.getLogger(__name__)


def compute_unit(spec: StudySpec, unit: WorkUnit) -> xr.Dataset:
    """The dataset of one work unit (computed by the study's kind); attrs name the unit."""
    point = spec.points()[unit.point]
    ds = spec.study_kind.compute_unit(spec, point, unit.realization)
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
    for label, coordinate in first.coords.items():
        # labels along a unit dimension (a device name per setting): the same in every unit
        if str(label) not in first.dims and all(str(d) in coords for d in coordinate.dims):
            coords[str(label)] = coordinate.variable.copy()
    result = xr.Dataset(data_vars, coords=coords)
    result.attrs = result_attrs(spec)
    return result


def result_attrs(spec: StudySpec) -> dict[str, Any]:
    """Attributes of a study's results file: study, config text, the normalized spec (``spec``:
    :attr:`StudySpec.normalized <echo_lab.study.spec.StudySpec.normalized>`, the settings with
    every default filled in, which the figures read instead of parsing ``config`` again), seeds,
    versions, git commit."""
    return {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "config": spec.text,
        "spec": spec.normalized,
        "spec_hash": spec.spec_hash(),
        "seed": spec.seed,
        "realizations": spec.realizations,
        "seeding": SEEDING,
        "sweep_dims": json.dumps(list(spec.sweep_dims)),
        "backend": _main_backend(spec),
        **backend_choice_attrs(spec),
        **environment_attrs(),
    }


def backend_choice_attrs(spec: StudySpec) -> dict[str, str]:
    """Per table that named ``auto``: ``<prefix>backend_requested`` ("auto"),
    ``<prefix>backend_chosen`` (the registry name) and ``<prefix>backend_choice`` (the reason),
    the prefix empty for ``[backend]`` and ``"<table>_"`` for another table (``check_``)."""
    attrs = {}
    for table, choice in spec.backend_choices:
        prefix = "" if table == "backend" else f"{table}_"
        attrs[f"{prefix}backend_requested"] = "auto"
        attrs[f"{prefix}backend_chosen"] = choice.name
        attrs[f"{prefix}backend_choice"] = choice.reason
    return attrs


def _main_backend(spec: StudySpec) -> str:
    """Name of the study's main backend ("exact" for kinds without one)."""
    backend = spec.study_kind.backends(spec).get("backend")
    return "exact" if backend is None else backend.name


# ----------------------------------------------------------------------------------------------
# Resources
# ----------------------------------------------------------------------------------------------


def _checked_backend(backends: Mapping[str, Any]) -> str:
    """The backend a memory refusal names: the ``[backend]`` one, else the kind's first (the
    device of a hardware study), else "exact"."""
    if "backend" in backends:
        return str(backends["backend"].name)
    return next((str(b.name) for b in backends.values()), "exact")


def estimate_unit_bytes(spec: StudySpec) -> int:
    """Estimated peak memory of one work unit of ``spec`` at the largest n of its sweep, bytes.

    The kind's estimate (:meth:`StudyKind.estimate_unit_bytes
    <echo_lab.study.kinds.base.StudyKind.estimate_unit_bytes>`): dense steps count eight dense
    2^n x 2^n matrices, window pulses eight 2^w x 2^w ones, level statistics two real matrices
    of the half-filling sector, and each backend its state
    (:func:`echo_lab.backends.options.estimate_state_bytes`). Cost: microseconds.
    """
    return spec.study_kind.estimate_unit_bytes(spec)


def check_resources(spec: StudySpec, *, workers: int = 0) -> int:
    """Refuse ``spec`` before any work if its backends cannot be built or it cannot fit.

    Builds each of the kind's backends once (unavailable devices and bad options raise
    :class:`~echo_lab.errors.ConfigError`) and checks it against the largest model where its
    registry entry has a size check (:func:`~echo_lab.backends.options.check_backend_fits`: a
    device with too few qubits is refused), checks ``workers``
    (:func:`echo_lab.study.executor.check_workers`: an integer >= 0, at most what the cores and the
    memory allow), then calls
    :func:`~echo_lab.resources.require_memory` with :func:`estimate_unit_bytes` times
    ``max(1, workers)`` (units run side by side), which raises
    :class:`~echo_lab.errors.ResourceError` with the estimate. Returns the estimate in bytes.
    Cost: milliseconds (plus the Qiskit Aer import for the aer backend).
    """
    backends = spec.study_kind.backends(spec)
    hamiltonian = None
    for key, backend_spec in backends.items():
        backend = build_backend(backend_spec, key=key)
        if backend_entry(backend_spec.name).fits is not None:
            if hamiltonian is None:
                hamiltonian = spec.largest_model().build(seed=0).hamiltonian()
            check_backend_fits(backend_spec, backend, hamiltonian, key=key)
    per_unit = estimate_unit_bytes(spec)
    check_workers(workers, per_unit_bytes=per_unit)
    parallel = max(1, workers)
    suggestion = "Use fewer workers, a smaller n, or another backend."
    checked = _checked_backend(backends)
    if backend_entry(checked).holds_state:
        suggestion = (
            "Use a smaller n, fewer workers, or for long chains [backend] name = 'aer' with "
            "method = 'matrix_product_state' and options.mps_options.max_bond_dimension."
        )
    require_memory(
        per_unit * parallel,
        what=(
            f"study {spec.name!r} ({spec.kind}, backend {checked!r}, largest n = "
            f"{spec.largest_model().n}; {format_bytes(per_unit)} per work unit x {parallel} "
            "worker(s))"
        ),
        suggestion=suggestion,
    )
    return per_unit * parallel


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """How :func:`run_study` runs a study (the ``echo-lab run`` flags).

    ``resume`` reuses a matching checkpoint; ``workers`` > 0 starts a local Dask cluster of
    that many processes, ``scheduler`` connects to an existing one; ``progress`` shows a bar;
    ``allow_code_change`` lets a resume reuse units computed by other echo_lab code (recorded in
    the results' ``code_change`` attribute).
    """

    resume: bool = False
    workers: int = 0
    scheduler: str | None = None
    progress: bool = True
    allow_code_change: bool = False


def prepare_output(out: Path, name: str) -> None:
    """Create ``out`` and check that every output of study ``name`` can be written there,
    before any unit runs: ConfigError when ``out`` is a file or cannot be created or written,
    or when the results file, the checkpoint or a figure path is in the way."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder {out} is a file; give --out a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = temporary_path(out / ".write-test")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"output folder {out} cannot be written ({exc.strerror or exc}); give --out a "
            "writable folder"
        ) from None
    blocked = [out / f"{name}.nc"] if (out / f"{name}.nc").is_dir() else []
    blocked += [path for path in out.glob(f"{name}_*.png") if path.is_dir()]
    checkpoint = out / f"{name}.ckpt"
    if checkpoint.is_symlink() or (checkpoint.exists() and not checkpoint.is_dir()):
        blocked.append(checkpoint)
    if blocked:
        raise ConfigError(
            f"{blocked[0]} is in the way of an output of study {name!r} (a folder where a file "
            "goes, or a file or a symbolic link where the checkpoint folder goes); move it away "
            "or choose another --out"
        )


def _reuse(checkpoint: Checkpoint) -> dict[WorkUnit, xr.Dataset]:
    """The finished units that pass their checks (the others are moved aside)."""
    done = {}
    for unit in checkpoint.finished():
        dataset = checkpoint.read(unit)
        if dataset is not None:
            done[unit] = dataset
    return done


def run_study(
    spec: StudySpec, *, out: str | Path, options: RunOptions | None = None, **flags: Any
) -> Path:
    """Run every work unit of ``spec`` and write ``out/<name>.nc`` and ``out/<name>_*.png``.

    ``options`` (or the same fields as keywords: ``resume``, ``workers``, ``scheduler``,
    ``progress``, ``allow_code_change``; :class:`RunOptions`). Before any unit runs:
    :func:`check_resources` (backends built; the number of workers and one unit's memory
    estimate times the workers checked), :func:`prepare_output`, and the checkpoint's lock
    (a second run into the same checkpoint is refused). Units run serially, on a local Dask
    cluster or on a Dask scheduler (:func:`echo_lab.study.executor.run_units`), each checkpointed
    as it finishes (:mod:`echo_lab.study.checkpoint`). Logs (logger ``echo_lab.study.runner``, INFO)
    the backend ``auto`` chose (and why), how many units were reused and how many computed.
    Returns the path of the results file.
    """
    options = dataclasses.replace(options or RunOptions(), **flags)
    out = Path(out)
    check_parallel(options.workers, options.scheduler)
    for table, choice in spec.backend_choices:
        logger.info(
            "%s: [%s] name = 'auto' -> %r (%s)", spec.name, table, choice.name, choice.reason
        )
    check_resources(spec, workers=options.workers)
    if options.scheduler:
        check_scheduler(options.scheduler)
    prepare_output(out, spec.name)
    checkpoint = Checkpoint(
        out / f"{spec.name}.ckpt", spec, allow_code_change=options.allow_code_change
    )
    with checkpoint.lock():
        checkpoint.open(resume=options.resume)
        remove_stale_temporaries(out)
        done = _reuse(checkpoint)
        code_change = checkpoint.check_code()
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
            workers=options.workers,
            scheduler=options.scheduler,
            progress=options.progress,
            description=spec.name,
        ):
            checkpoint.write(todo[index], dataset)
        units = {**done, **_reuse(checkpoint)}
        results = assemble_results(spec, units)
        if code_change is not None:
            results.attrs["code_change"] = code_change
        with stage("results and checkpoint I/O"):
            path = save_results(results, out / f"{spec.name}.nc")
    from echo_lab.study.figures import plot_file

    plot_file(path, out=out)
    return path


def run_study_file(
    path: str | Path, *, out: str | Path, options: RunOptions | None = None, **flags: Any
) -> Path:
    """:func:`run_study` of the study file ``path``, validated first
    (:mod:`echo_lab.study.spec`)."""
    return run_study(load_spec(path), out=out, options=options, **flags)
