"""Checkpoints of a running study: one NetCDF file per finished work unit, a manifest, a lock.

Layout of ``out/<name>.ckpt/``:

* ``unit-<point>-<realization>.nc``: one finished work unit, written atomically (temporary file
  + ``os.replace``, :mod:`echo_lab.study.results`) as soon as it finishes. Its attributes name the
  study (``spec_hash``), the unit (``point``, ``realization``), the code that computed it
  (``code_fingerprint``, :func:`code_fingerprint`) and a SHA-256 of its content
  (``content_sha256``, :func:`content_hash`: every variable's name, dtype, shape and values);
* ``manifest.json``: the study's name, kind, spec hash, number of units, echo_lab version and
  code fingerprint, and ``other_ensembles``: the spec hashes of the same study at other
  realization counts whose units the folder may hold;
* ``lock``: held (``fcntl.flock``) by the run that writes the checkpoint, with its pid, host and
  start time inside; ``damaged/``: units that failed their checks, moved aside.

**Links are never followed** in the checkpoint: a symbolic or hard link as ``lock``, or a
symbolic link as the folder itself or as ``damaged/``, is refused with a
:class:`~echo_lab.errors.CheckpointError` (a symlinked lock once truncated a file outside
``--out``); a linked unit file is moved aside (the link, not its target); ``manifest.json`` is
read only as a regular file of at most :data:`MAX_MANIFEST_BYTES`, not through a link, and
replaced, never written through.

**One run at a time.** :meth:`Checkpoint.lock` refuses, with a
:class:`~echo_lab.errors.CheckpointError` and before any unit runs, a second run into the same
folder while the first holds the lock (two studies with the same name into one ``--out`` would
otherwise overwrite each other's units). The kernel releases the lock of a process that dies,
even by ``kill -9``; the lock file then still names the dead run, and the next run reports that
it takes over that stale lock. (``flock`` locks are local to a machine: two hosts writing one
network folder are not serialized.)

**Resume** (``resume=True``) reuses every finished unit that passes its checks: it loads, its
content hash matches, its expectation values lie in their ranges (:data:`EXPECTATION_BOUNDS`),
and it belongs to this
study and unit. A unit that fails is named in the log, moved to ``damaged/`` (never deleted)
and recomputed. Units computed by other code (another :func:`code_fingerprint`) are refused
with the difference named, unless ``allow_code_change=True``, which the results then record in
their ``code_change`` attribute. A changed study file (another spec hash in the manifest) is
refused, with one exception: a study file that changes only ``study.realizations`` extends (or
shrinks) the ensemble. Realization k draws the same fields and state whatever the count
(:func:`echo_lab.physics.models.disorder_seeds`), so the finished units of realizations the new
count still holds are reused and only the new ones computed (the manifest's spec hash must equal the
study's hash at the manifest's realization count, :meth:`~echo_lab.study.spec.StudySpec.spec_hash`).
A missing or unreadable manifest (not a small regular file, not JSON, or nested too deeply for
the JSON parser) is rebuilt on resume, since every unit is checked on its own
(units of another ensemble size are then refused: their spec hash is unknown). Without
``resume`` a folder that holds finished units is refused: finished work is never deleted
silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import socket
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.errors import CheckpointError
from echo_lab.study.results import (
    load_results,
    read_regular_file,
    remove_stale_temporaries,
    save_results,
    write_text_atomically,
)
from echo_lab.timing import stage

if TYPE_CHECKING:
    from echo_lab.study.spec import StudySpec

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "WorkUnit",
    "code_fingerprint",
    "content_hash",
    "list_units",
]

#: Version of the checkpoint layout (manifest + one NetCDF file per unit + lock).
CHECKPOINT_FORMAT = 2

logger = logging.getLogger(__name__)

#: Largest magnitude of each stored expectation value (NaN marks a value not computed): Pauli
#: and l-bit operators have eigenvalues +-1, the coherence is at most sqrt(2) (with shot
#: noise), a spacing ratio lies in [0, 1]; 1e-6 of slack covers single-precision simulation.
#: A reloaded unit outside these is damaged.
EXPECTATION_BOUNDS: dict[str, float] = {
    **dict.fromkeys(
        ("sx", "sy", "tau_x", "tau_y", "check_sx", "check_sy", "reference_sx", "reference_sy"),
        1.0 + 1e-6,
    ),
    "coherence": 2**0.5 + 1e-6,
    "r": 1.0 + 1e-6,
}


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


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of the echo_lab version and every ``.py`` file of the
    installed package (relative path and bytes): two runs agree exactly when they run the same
    code. Cost: one read of the package (~1 MB), once per process."""
    import echo_lab

    root = Path(echo_lab.__file__).resolve().parent
    digest = hashlib.sha256(str(echo_lab.__version__).encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def content_hash(dataset: xr.Dataset) -> str:
    """SHA-256 of every variable (coordinates too) of ``dataset``: name, dtype kind, shape and
    values, in name order. Equal for a dataset and its NetCDF round trip; any flipped bit of
    the values changes it."""
    digest = hashlib.sha256()
    for name in sorted(map(str, dataset.variables)):
        values = np.asarray(dataset.variables[name].values)
        digest.update(f"{name}\0{values.dtype.kind}\0{values.shape}\0".encode())
        if values.dtype.kind in "OUS":
            digest.update("\0".join(map(str, values.ravel())).encode())
        else:
            digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _lock_owner(handle: Any) -> str:
    handle.seek(0)
    return handle.read(MAX_LOCK_BYTES).strip()


#: Longest lock file content read (a pid, a host name and a time).
MAX_LOCK_BYTES = 4096

#: Largest manifest.json read (a few hundred bytes; larger ones count as unreadable).
MAX_MANIFEST_BYTES = 2**20


def _open_lock_file(path: Path) -> Any:
    """``path`` opened for reading and writing (created if missing), if it is a plain file of
    this folder: CheckpointError for a symbolic link (never followed: the lock is truncated, and
    a link's target outside the folder was once emptied), a hard link to a file elsewhere, or
    anything but a regular file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        descriptor = None
    if descriptor is not None:
        status = os.fstat(descriptor)
        if stat.S_ISREG(status.st_mode) and status.st_nlink == 1:
            return os.fdopen(descriptor, "r+", encoding="utf-8", errors="replace")
        os.close(descriptor)
    raise CheckpointError(
        f"{path} is a symbolic link, a hard link or not a regular file; echo-lab never follows "
        "links in its checkpoint folder (it truncates its lock file): remove it, or move the "
        "folder away"
    )


class Checkpoint:
    """Folder of finished unit files, ``manifest.json`` and ``lock`` (module docstring)."""

    def __init__(self, folder: Path, spec: StudySpec, *, allow_code_change: bool = False) -> None:
        self.folder = folder
        self.spec = spec
        self.allow_code_change = allow_code_change
        self.manifest = folder / "manifest.json"
        #: Code fingerprints of the reused units that differ from this process's, with counts.
        self.foreign_code: dict[str, int] = {}
        #: Spec hashes of this study at other realization counts (module docstring).
        self.other_ensembles: list[str] = []

    # -- lock ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock for the ``with`` body (module docstring); refuse if taken."""
        self._refuse_link(self.folder, "checkpoint folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "lock"
        with _open_lock_file(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise CheckpointError(
                    f"{self.folder} is in use by another run ({_lock_owner(handle) or 'unknown'}); "
                    "wait for it to finish or stop it, or give this run another --out or "
                    "study.name: two runs into one checkpoint would overwrite each other's units"
                ) from None
            stale = _lock_owner(handle)
            if stale:
                logger.info("%s: taking over the stale lock of a run that ended (%s)", path, stale)
            owner = f"pid {os.getpid()} on {socket.gethostname()} since {time.ctime()}"
            handle.seek(0)
            handle.truncate()
            handle.write(owner)
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- manifest ------------------------------------------------------------------------------

    def _manifest_content(self) -> dict[str, Any]:
        import echo_lab

        return {
            "format": CHECKPOINT_FORMAT,
            "name": self.spec.name,
            "kind": self.spec.kind,
            "spec_hash": self.spec.spec_hash(),
            "units": len(list_units(self.spec)),
            "other_ensembles": self.other_ensembles,
            "echo_lab_version": echo_lab.__version__,
            "code_fingerprint": code_fingerprint(),
        }

    def open(self, *, resume: bool) -> None:
        """Validate (``resume``) or start the checkpoint; never delete finished units."""
        unit_files = sorted(self.folder.glob("unit-*.nc")) if self.folder.is_dir() else []
        if unit_files and not resume:
            raise CheckpointError(
                f"{self.folder} holds {len(unit_files)} finished work unit(s) of an earlier run; "
                "pass --resume (resume=True) to reuse the ones that belong to this study (each "
                "is checked), or move that folder away to start over"
            )
        stored = self._stored_manifest() if resume else None
        if stored is not None:
            self._validate_manifest(stored)
        elif resume and unit_files:
            logger.info(
                "%s: manifest.json missing or unreadable; rebuilt (each unit is checked alone)",
                self.folder,
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder)
        write_text_atomically(self.manifest, json.dumps(self._manifest_content(), indent=2))

    def _stored_manifest(self) -> dict[str, Any] | None:
        """The stored manifest, or None when it is missing or unreadable: not a regular file
        of at most :data:`MAX_MANIFEST_BYTES` (a link is not followed), not UTF-8 JSON, or
        nested too deeply for the JSON parser (RecursionError)."""
        try:
            data = read_regular_file(self.manifest, limit=MAX_MANIFEST_BYTES, follow_symlinks=False)
            stored = json.loads(data.decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return stored if isinstance(stored, dict) else None

    def _validate_manifest(self, stored: Mapping[str, Any]) -> None:
        current = self.spec.spec_hash()
        stored_hash = stored.get("spec_hash")
        earlier = stored.get("other_ensembles")
        earlier = [h for h in earlier if isinstance(h, str)] if isinstance(earlier, list) else []
        if stored_hash is None or stored_hash == current:
            self.other_ensembles = sorted(set(earlier) - {current})
            return
        size = self._ensemble_size(stored)
        if size is not None:
            self.other_ensembles = sorted({*earlier, str(stored_hash)} - {current})
            logger.info(
                "%s: the checkpoint holds a %d-realization run of this study, the study file asks "
                "for %d: its finished units of realizations below %d are reused",
                self.folder,
                size,
                self.spec.realizations,
                min(size, self.spec.realizations),
            )
            return
        raise CheckpointError(
            f"checkpoint {self.folder} belongs to a different study configuration "
            f"(spec hash {str(stored_hash)[:12]} != {current[:12]}; only study.realizations may "
            "change between runs into one checkpoint); restore the original study file, or move "
            "the folder away and run without --resume"
        )

    def _ensemble_size(self, stored: Mapping[str, Any]) -> int | None:
        """The realization count at which this study has the stored manifest's spec hash, or
        None when the stored run differs in more than its realization count."""
        units, points = stored.get("units"), len(self.spec.points())
        if isinstance(units, bool) or not isinstance(units, int) or units < 1 or units % points:
            return None
        size = units // points
        return size if self.spec.spec_hash(realizations=size) == stored.get("spec_hash") else None

    # -- units ---------------------------------------------------------------------------------

    def path(self, unit: WorkUnit) -> Path:
        return self.folder / unit.filename

    def write(self, unit: WorkUnit, dataset: xr.Dataset) -> None:
        """Store a finished unit with its code fingerprint and content hash."""
        dataset.attrs["code_fingerprint"] = code_fingerprint()
        dataset.attrs["content_sha256"] = content_hash(dataset)
        with stage("results and checkpoint I/O"):
            save_results(dataset, self.path(unit))

    def _problem(self, unit: WorkUnit, dataset: xr.Dataset) -> str | None:
        """Why a loaded unit cannot be reused, or None."""
        attrs = dataset.attrs
        if attrs.get("content_sha256") != content_hash(dataset):
            return "its content does not match its checksum (the file was altered or damaged)"
        if attrs.get("spec_hash") not in (self.spec.spec_hash(), *self.other_ensembles):
            return f"it belongs to another study (spec hash {str(attrs.get('spec_hash'))[:12]})"
        if (attrs.get("point"), attrs.get("realization")) != (unit.point, unit.realization):
            return (
                f"it holds point {attrs.get('point')}, realization {attrs.get('realization')}, "
                f"not point {unit.point}, realization {unit.realization}"
            )
        for name, variable in dataset.data_vars.items():
            values = np.asarray(variable.values)
            bound = EXPECTATION_BOUNDS.get(str(name))
            if bound is not None and np.any(np.abs(values[~np.isnan(values)]) > bound):
                return f"variable {name!r} holds values outside [-{bound:g}, {bound:g}]"
        return None

    def read(self, unit: WorkUnit) -> xr.Dataset | None:
        """The finished ``unit`` if it passes every check; otherwise None, after moving the
        file to ``damaged/`` and logging why. Units of other code are counted in
        :attr:`foreign_code` (and refused at :meth:`check_code`)."""
        path = self.path(unit)
        problem: str | None
        if path.is_symlink():
            problem = "it is a symbolic link (never followed)"
        else:
            try:
                with stage("results and checkpoint I/O"):
                    dataset = load_results(path)
            except CheckpointError as exc:
                cause = exc.__cause__
                problem = "it does not load" + (
                    "" if cause is None else f" ({type(cause).__name__})"
                )
            else:
                problem = self._problem(unit, dataset)
        if problem is not None:
            self._quarantine(path, problem)
            return None
        fingerprint = str(dataset.attrs.get("code_fingerprint"))
        if fingerprint != code_fingerprint():
            self.foreign_code[fingerprint] = self.foreign_code.get(fingerprint, 0) + 1
        return dataset

    @staticmethod
    def _refuse_link(path: Path, what: str) -> None:
        """CheckpointError when ``path`` is a symbolic link (its files would go elsewhere)."""
        if path.is_symlink():
            raise CheckpointError(
                f"the {what} {path} is a symbolic link; echo-lab never follows links in its "
                "checkpoint (files would be written or moved outside --out): replace it by a "
                "folder, or choose another --out"
            )

    def _quarantine(self, path: Path, problem: str) -> None:
        damaged = self.folder / "damaged"
        self._refuse_link(damaged, "folder of damaged units")
        damaged.mkdir(exist_ok=True)
        target = damaged / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}{path.suffix}"
        os.replace(path, target)
        logger.warning(
            "checkpoint unit %s is not reused: %s; moved to %s, recomputing it",
            path,
            problem,
            target,
        )

    def check_code(self) -> str | None:
        """Refuse reused units of other code (module docstring); with ``allow_code_change`` the
        description of the mix for the results' ``code_change`` attribute, else None."""
        if not self.foreign_code:
            return None
        counts = ", ".join(f"{n} unit(s) by code {key}" for key, n in self.foreign_code.items())
        if not self.allow_code_change:
            raise CheckpointError(
                f"{self.folder} holds {counts}, but this echo_lab is code {code_fingerprint()} "
                "(echo_lab was changed or reinstalled since they were computed): results of two "
                "versions would be mixed. Rerun with the original version, move the folder away "
                "to start over, or pass --allow-code-change to mix them on purpose (recorded in "
                "the results)"
            )
        return f"{counts}; the rest by code {code_fingerprint()} (--allow-code-change)"

    def finished(self) -> list[WorkUnit]:
        """Units with a file (or a link, which :meth:`read` moves aside) in the folder."""
        return [u for u in list_units(self.spec) if os.path.lexists(self.path(u))]
