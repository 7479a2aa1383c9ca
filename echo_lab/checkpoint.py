"""Checkpoints of a running study: one NetCDF file per finished work unit, and a manifest.

Unit (point i, realization k) is written atomically to ``out/<name>.ckpt/unit-<i>-<k>.nc``
(temporary file + ``os.replace``, :mod:`echo_lab.results`) as soon as it finishes;
``manifest.json`` beside the units holds the hash of the validated spec. With ``resume=True``
the finished units are reused and only the missing ones are computed; a manifest whose hash
differs from the spec's, or a unit file that does not load or belongs to another unit, raises
:class:`~echo_lab.errors.CheckpointError` before any unit runs, and nothing is mixed in. Without
``resume`` a checkpoint that holds finished units is refused with a CheckpointError (pass
``resume``, or delete the folder to start over): finished work is never deleted silently. The
checkpoint is kept after a successful run, so a later ``resume`` only reassembles.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from echo_lab.errors import CheckpointError
from echo_lab.results import (
    load_results,
    remove_stale_temporaries,
    save_results,
    write_text_atomically,
)
from echo_lab.timing import stage

if TYPE_CHECKING:
    from echo_lab.config import StudySpec

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "WorkUnit", "list_units"]

#: Version of the checkpoint layout (manifest + one NetCDF file per unit).
CHECKPOINT_FORMAT = 1


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


class Checkpoint:
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
        with stage("results and checkpoint I/O"):
            save_results(dataset, self.path(unit))

    def read(self, unit: WorkUnit) -> xr.Dataset:
        """A finished unit, validated against the spec hash and the unit indices."""
        path = self.path(unit)
        try:
            with stage("results and checkpoint I/O"):
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
