"""Result files: ``xarray.Dataset`` <-> NetCDF (h5netcdf engine), written atomically.

A study's result is one Dataset with named dimensions: the sweep dimensions (``W``, ``Jz``,
``n``, ...), ``realization``, then the study's own (``background``, ``pulse``, ``time``,
``partner``, ``method``, ``site``). Raw per-realization data is kept; the mean, standard error
and typical value over realizations are derived when plotting (``echo_lab.study.drawing``). Its
attrs hold the full study TOML text (``config``), the normalized spec (``spec``: JSON, every
default filled in; what the figures read), the spec hash, the base seed and realization count,
the package versions and the git commit (:func:`environment_attrs`); the disorder fields of every
realization are the data variable ``fields`` (sweep dims, ``realization``, ``site``).

Files are never pickled. :func:`save_results` writes to a temporary file in the target folder
and renames it over the target (``os.replace``), so a reader never sees a half-written file and
an interrupted write leaves the previous file intact. :func:`load_results` reads the whole file
into memory and closes it, and returns a Dataset for which
``xarray.testing.assert_identical(load_results(save_results(ds, p)), ds)`` holds for datasets of
numbers and strings whose attrs are str, int or float.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import xarray as xr

from echo_lab.errors import CheckpointError

__all__ = [
    "ENGINE",
    "PACKAGES",
    "environment_attrs",
    "load_results",
    "remove_stale_temporaries",
    "save_results",
    "temporary_path",
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


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    return _replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Let ``write`` fill a temporary file beside ``path``, then move it onto ``path`` in one
    ``os.replace``; on any error the temporary file is removed and ``path`` is left as it was."""
    temporary = temporary_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return path


def save_results(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to the NetCDF file ``path`` atomically; return the path.

    The parent folder is created. The data goes to a temporary file in the same folder first,
    which then replaces ``path`` in one ``os.replace``; on any error the temporary file is
    removed and ``path`` is left as it was. Cost: one pass over the data (no compression).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _replace_atomically(
        path, lambda temporary: dataset.to_netcdf(str(temporary), engine=ENGINE)
    )


def load_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by :func:`save_results` fully into memory.

    Only numbers and strings come back: the h5netcdf engine never unpickles, and a variable of
    object dtype holding anything but ``str`` is refused. Raises
    :class:`~echo_lab.errors.CheckpointError` naming the file when it is missing, not a readable
    NetCDF file, or holds such objects (a truncated or foreign file is never returned half-read).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"results file {path} does not exist")
    try:
        dataset = xr.load_dataset(path, engine=ENGINE)
    except Exception as exc:
        raise CheckpointError(
            f"results file {path} cannot be read ({type(exc).__name__}: {exc}); it is damaged "
            "or not a NetCDF file written by echo_lab: delete it and run the study again"
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
