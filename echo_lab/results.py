"""Result files: ``xarray.Dataset`` <-> NetCDF (h5netcdf engine), written atomically.

A study's result is one Dataset with named dimensions: the sweep dimensions (``W``, ``Jz``,
``n``, ...), ``realization``, then the study's own (``background``, ``pulse``, ``time``,
``partner``, ``method``, ``site``). Raw per-realization data is kept; the mean, standard error
and typical value over realizations are derived when plotting (``echo_lab.plot``). Its attrs
hold the full study TOML text (``config``), the spec hash, the base seed and realization count,
the package versions and the git commit (:func:`environment_attrs`); the disorder fields of
every realization are the data variable ``fields`` (sweep dims, ``realization``, ``site``).

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
import secrets
from pathlib import Path
from typing import Final

import xarray as xr

from echo_lab.errors import CheckpointError

__all__ = [
    "ENGINE",
    "PACKAGES",
    "environment_attrs",
    "load_results",
    "save_results",
    "temporary_path",
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


def save_results(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to the NetCDF file ``path`` atomically; return the path.

    The parent folder is created. The data goes to a temporary file in the same folder first,
    which then replaces ``path`` in one ``os.replace``; on any error the temporary file is
    removed and ``path`` is left as it was. Cost: one pass over the data (no compression).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        dataset.to_netcdf(str(temporary), engine=ENGINE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    return path


def load_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by :func:`save_results` fully into memory.

    Raises :class:`~echo_lab.errors.CheckpointError` naming the file when it is missing or not a
    readable NetCDF file (a truncated or foreign file is never returned half-read).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"results file {path} does not exist")
    try:
        return xr.load_dataset(path, engine=ENGINE)
    except Exception as exc:
        raise CheckpointError(
            f"results file {path} cannot be read ({type(exc).__name__}: {exc}); it is damaged "
            "or not a NetCDF file written by echo_lab: delete it and run the study again"
        ) from exc
