"""Result files: ``xarray.Dataset`` <-> NetCDF (h5netcdf engine), written atomically.

A study's result is one Dataset with named dimensions: the sweep dimensions (``W``, ``Jz``,
``n``, ...), ``realization``, then the study's own (``background``, ``pulse``, ``time``,
``partner``, ``method``, ``site``). Raw per-realization data is kept; the mean, standard error
and typical value over realizations are derived when plotting (``echo_lab.study.drawing``). Its
attrs hold the full study TOML text (``config``), the normalized spec (``spec``: JSON, every
default filled in; what the figures read), the spec hash, the base seed and realization count,
the package versions and the git commit (:func:`environment_attrs`); the disorder fields of every
realization are the data variable ``fields`` (sweep dims, ``realization``, ``site``).

Files are never pickled. :func:`save_results` serializes the dataset in memory, writes the bytes
to a new temporary file in the target folder and renames it over the target (``os.replace``),
so a reader never sees a half-written file, an interrupted write leaves the previous file
intact, and a symbolic link at the target is replaced, never written through. HDF5 itself never
writes to disk: on a full disk it crashed the interpreter (a segmentation fault after its
"errno = 28" error); a plain write fails cleanly, the temporary file is removed and
:class:`~echo_lab.errors.StorageError` names the file and the free space.

:func:`load_results` reads the whole file into memory and closes it, and returns a Dataset for
which ``xarray.testing.assert_identical(load_results(save_results(ds, p)), ds)`` holds for
datasets of numbers and strings whose attrs are str, int or float.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.metadata
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import xarray as xr

from echo_lab.errors import CheckpointError, StorageError

__all__ = [
    "ENGINE",
    "PACKAGES",
    "environment_attrs",
    "free_space_message",
    "load_results",
    "read_regular_file",
    "remove_stale_temporaries",
    "save_results",
    "temporary_path",
    "write_bytes_atomically",
    "write_text_atomically",
]

#: NetCDF engine of every file the package writes and reads.
ENGINE: Final = "h5netcdf"

#: Packages whose versions every result file records (``version_<name>`` attributes).
PACKAGES = ("echo_lab", "numpy", "scipy", "qiskit", "qiskit_aer", "xarray")


def environment_attrs() -> dict[str, str]:
    """The stable part of :func:`echo_lab.info.environment_info` as string attributes.

    ``version_<package>`` for each of :data:`PACKAGES` (and Python), the Aer distribution, the
    platform, ``git_commit`` and ``git_status``. Machine state that changes from run to run
    (free memory, thread counts) is left out, so a resumed run writes the same attributes.
    Cost: about a second (Qiskit Aer import, two git calls).
    """
    from echo_lab.info import environment_info

    info = environment_info()
    attrs = {
        f"version_{key}": str(info[key])
        for key in ("echo_lab", "python", "numpy", "scipy", "qiskit", "qiskit_aer")
    }
    attrs["version_xarray"] = importlib.metadata.version("xarray")
    for key in ("qiskit_aer_distribution", "platform", "git_commit", "git_status"):
        attrs[key] = str(info[key])
    return attrs


def temporary_path(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for an atomic write (``.<name>.<pid>.<random>.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


_TEMPORARY = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries of :func:`temporary_path` in ``folder`` whose writer is gone.

    A process killed in the middle of an atomic write leaves its hidden ``.tmp`` file behind;
    files of a process that is still running are left alone. Returns the removed paths.
    """
    removed = []
    for candidate in Path(folder).glob(".*.tmp"):
        match = _TEMPORARY.fullmatch(candidate.name)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


#: errno values of a full file system (no space, quota used up).
_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` through a new temporary file and ``os.replace``.

    A symbolic link (or any other file) at ``path`` is replaced, never written through; on any
    error the temporary file is removed and ``path`` is left as it was; a full file system
    raises :class:`~echo_lab.errors.StorageError` naming ``path`` and the space left.
    """
    return _replace_atomically(Path(path), lambda temporary: _write_new_file(temporary, data))


def _write_new_file(path: Path, data: bytes | memoryview) -> None:
    """Create ``path`` (never an existing file, never through a link) and write ``data``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(path, flags, 0o666), "wb") as handle:
        handle.write(data)


def read_regular_file(path: Path, *, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Reads at most ``limit + 1`` bytes, whatever the file claims, and never blocks: OSError
    ``EISDIR`` for a folder, ``EINVAL`` for a device, pipe or socket (``/dev/zero`` would be
    read until memory runs out, a pipe would block), ``EFBIG`` above ``limit``, ``ELOOP`` for a
    symbolic link when not ``follow_symlinks``; the usual OSError of ``open`` otherwise.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(
                errno.EINVAL, "is not a regular file (a device, pipe or socket)", str(path)
            )
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"is larger than {limit} bytes", str(path))
    return data


def free_space_message(path: Path) -> str:
    """``"<path>: the file system is full (<free> free in <folder>)"`` for error messages."""
    from echo_lab.resources import format_bytes

    try:
        free = format_bytes(shutil.disk_usage(path.parent).free)
    except OSError:
        free = "unknown space"
    return f"cannot write {path}: its file system is full ({free} free in {path.parent})"


def _replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Let ``write`` fill a temporary file beside ``path``, then move it onto ``path`` in one
    ``os.replace``; on any error the temporary file is removed and ``path`` is left as it was
    (a full file system: :class:`StorageError`)."""
    temporary = temporary_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        if isinstance(exc, OSError) and exc.errno in _FULL:
            raise StorageError(
                f"{free_space_message(path)}; free some space or choose another folder (files "
                "written before are kept: an interrupted study continues with --resume)"
            ) from None
        raise
    return path


def save_results(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to the NetCDF file ``path`` atomically; return the path.

    The parent folder is created. The file is serialized in memory (module docstring) and
    written to a temporary file in the same folder first, which then replaces ``path`` in one
    ``os.replace``; on any error the temporary file is removed and ``path`` is left as it was
    (:func:`write_bytes_atomically`). Cost: one pass over the data (no compression); memory:
    one copy of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _local_dask_scheduler():
        data = dataset.to_netcdf(engine=ENGINE)
    assert data is not None  # to_netcdf without a path returns the file's bytes
    return write_bytes_atomically(path, data)


def _local_dask_scheduler() -> contextlib.AbstractContextManager[object]:
    """Dask's synchronous scheduler while a file is serialized: with a Dask client active (a
    run on workers) xarray would otherwise take a distributed lock named after the in-memory
    target, which Dask refuses ("Semaphore or Lock ... not known"). No import of Dask when it
    is not loaded."""
    if "dask" not in sys.modules:
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="synchronous")


def load_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by :func:`save_results` fully into memory.

    Only numbers and strings come back: the h5netcdf engine never unpickles, and a variable of
    object dtype holding anything but ``str`` is refused. Raises
    :class:`~echo_lab.errors.CheckpointError` naming the file when it is missing, not a readable
    NetCDF file, or holds such objects (a truncated or foreign file is never returned half-read).
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a results file; give a .nc file")
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise CheckpointError(f"results file {path} {what}")
    try:
        dataset = xr.load_dataset(path, engine=ENGINE)
    except Exception as exc:
        raise CheckpointError(
            f"results file {path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}): it "
            "is not a NetCDF file written by echo_lab, or it was damaged; check the path (a "
            "results file of echo-lab run is rebuilt by running its study again with --resume)"
        ) from exc
    for name, variable in dataset.variables.items():
        if not _plain(variable.values):
            raise CheckpointError(
                f"results file {path}: variable {name!r} holds {variable.dtype} data other than "
                "numbers and strings, which echo_lab never writes; the file is not trusted"
            )
    for owner, attrs in [("", dataset.attrs)] + [
        (f" of {name!r}", variable.attrs) for name, variable in dataset.variables.items()
    ]:
        for key, value in attrs.items():
            if not _plain(value):
                raise CheckpointError(
                    f"results file {path}: attribute {key!r}{owner} is a {type(value).__name__}, "
                    "not a number or string; the file is not trusted"
                )
    return dataset


def _plain(value: object) -> bool:
    """True for numbers, strings and arrays of them (object arrays: of ``str`` only)."""
    if isinstance(value, str | bytes | int | float | complex | np.number | np.bool_):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return all(isinstance(v, str) for v in value.flat)
        return value.dtype.kind in "biufcSUmM"
    return False
