"""The software and hardware a run used: versions, Aer devices, CPUs, BLAS threads, memory.

:func:`environment_info` returns plain data (stored in the metadata of results files and
benchmark records); :func:`describe_environment` formats it for ``echo-lab info``. Both take
about a second, mostly for importing Qiskit Aer, and never fail for lack of a GPU or of git.

Example output of ``echo-lab info``::

    echo_lab 0.1.0
    python 3.11.9 (CPython, Linux x86_64)
    numpy 2.3.1, scipy 1.16.0, qiskit 2.6.2
    qiskit-aer 0.18.2 (distribution qiskit-aer, CPU-only build)
    Aer devices: CPU
    Aer methods: automatic, statevector, density_matrix, ...
    CPUs: 2 usable of 2
    BLAS: openblas 0.3.31 (libscipy_openblas, pthreads): 2 threads; ...
    memory available: 12.3 GiB -> statevector of up to 29 qubits
    git commit: 719e306... (working tree clean)
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from echo_lab import __version__
from echo_lab.errors import AER_INSTALL_HINT
from echo_lab.resources import (
    USABLE_FRACTION,
    available_memory_bytes,
    format_bytes,
    statevector_bytes,
)

__all__ = ["InfoValue", "describe_environment", "environment_info", "max_statevector_qubits"]

InfoValue = str | int | float | list[str]

#: Distributions that provide the ``qiskit_aer`` module; the first two are GPU builds.
AER_DISTRIBUTIONS = ("qiskit-aer-gpu", "qiskit-aer-gpu-cu11", "qiskit-aer")

_GIT_TIMEOUT_S = 5.0


def max_statevector_qubits(available_bytes: int) -> int:
    """Largest n whose complex128 state vector fits in ``USABLE_FRACTION`` of ``available_bytes``.

    The same rule :func:`~echo_lab.resources.require_memory` applies; 0 when not even one qubit
    fits.
    """
    n = 0
    while statevector_bytes(n + 1) <= USABLE_FRACTION * available_bytes:
        n += 1
    return n


def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _aer_distributions() -> list[str]:
    """The installed Qiskit Aer builds, GPU first; more than one is a broken install."""
    found = []
    for name in AER_DISTRIBUTIONS:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def _aer_capabilities() -> tuple[list[str], list[str]]:
    """Devices and methods the installed Aer reports (empty lists when Aer cannot start)."""
    try:
        from qiskit_aer import AerSimulator

        simulator = AerSimulator()
        return list(simulator.available_devices()), list(simulator.available_methods())
    except Exception:  # an unusable Aer build is reported, not raised
        return [], []


def _blas_libraries() -> list[str]:
    """One line per BLAS / OpenMP library loaded in this process, with its thread count."""
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    lines = []
    for pool in threadpool_info():
        details = [pool.get("prefix"), pool.get("threading_layer")]
        name = f"{pool.get('internal_api', '?')} {pool.get('version') or ''}".rstrip()
        origin = ", ".join(str(d) for d in details if d)
        lines.append(f"{name} ({origin}): {pool.get('num_threads')} threads")
    return lines


def _git(*args: str) -> str | None:
    """Output of a git command run in the package's folder, or None if it fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_state() -> tuple[str, str]:
    """Commit of the working tree holding this package, and whether it has local changes.

    Only when the package's ``__init__.py`` is tracked by git there: an installed copy inside some
    other repository (a virtual environment inside a checkout) reports ``unknown``.
    """
    if _git("ls-files", "--error-unmatch", "__init__.py") is None:
        return "unknown", "unknown"
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return "unknown", "unknown"
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status is None:
        return commit, "unknown"
    return commit, "modified" if status else "clean"


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Environment:
    echo_lab: str
    python: str
    python_implementation: str
    platform: str
    numpy: str
    scipy: str
    qiskit: str
    qiskit_aer: str
    qiskit_aer_distribution: str
    aer_devices: list[str]
    aer_methods: list[str]
    cpu_count: int
    usable_cpus: int
    blas: list[str]
    available_memory_bytes: int
    max_statevector_qubits: int
    git_commit: str
    git_status: str


def _collect() -> _Environment:
    devices, methods = _aer_capabilities()
    builds = _aer_distributions()
    distribution = ", ".join(builds) or "none"
    memory = available_memory_bytes()
    commit, status = _git_state()
    return _Environment(
        echo_lab=__version__,
        python=platform.python_version(),
        python_implementation=platform.python_implementation(),
        platform=f"{platform.system()} {platform.machine()}",
        numpy=_distribution_version("numpy"),
        scipy=_distribution_version("scipy"),
        qiskit=_distribution_version("qiskit"),
        qiskit_aer=_distribution_version(builds[0]) if builds else "not installed",
        qiskit_aer_distribution=distribution,
        aer_devices=devices,
        aer_methods=methods,
        cpu_count=os.cpu_count() or 1,
        usable_cpus=_usable_cpus(),
        blas=_blas_libraries(),
        available_memory_bytes=memory,
        max_statevector_qubits=max_statevector_qubits(memory),
        git_commit=commit,
        git_status=status,
    )


def environment_info() -> dict[str, InfoValue]:
    """Versions, devices and resources of this process, as plain data.

    Keys: ``echo_lab``, ``python``, ``python_implementation``, ``platform``, ``numpy``,
    ``scipy``, ``qiskit``, ``qiskit_aer`` (versions); ``qiskit_aer_distribution`` (the installed
    distribution: ``qiskit-aer-gpu`` is the GPU build); ``aer_devices``, ``aer_methods`` (lists);
    ``cpu_count``, ``usable_cpus``; ``blas`` (one line per loaded BLAS / OpenMP library with its
    version and thread count); ``available_memory_bytes`` and ``max_statevector_qubits``
    (honouring ``ECHO_LAB_MEMORY_LIMIT``); ``git_commit`` (``unknown`` outside a git checkout)
    and ``git_status`` (``clean``, ``modified`` or ``unknown``; untracked files are ignored).
    Values are str, int or list[str], all storable as NetCDF attributes.
    """
    return dict(asdict(_collect()))


def describe_environment() -> str:
    """:func:`environment_info` as the lines printed by ``echo-lab info``."""
    env = _collect()
    gpu = env.qiskit_aer_distribution.startswith("qiskit-aer-gpu")
    build = "GPU build" if gpu else "CPU-only build"
    if env.qiskit_aer_distribution == "none":
        build = f"not installed: {AER_INSTALL_HINT}"
    elif "," in env.qiskit_aer_distribution:
        build = (
            "CONFLICT: these builds share the qiskit_aer module and overwrite each other's files; "
            "`pip uninstall -y qiskit-aer qiskit-aer-gpu`, then " + AER_INSTALL_HINT
        )
    lines = [
        f"echo_lab {env.echo_lab}",
        f"python {env.python} ({env.python_implementation}, {env.platform})",
        f"numpy {env.numpy}, scipy {env.scipy}, qiskit {env.qiskit}",
        f"qiskit-aer {env.qiskit_aer} (distribution {env.qiskit_aer_distribution}, {build})",
        f"Aer devices: {', '.join(env.aer_devices) or 'none'}",
        f"Aer methods: {', '.join(env.aer_methods) or 'none'}",
        f"CPUs: {env.usable_cpus} usable of {env.cpu_count}",
        f"BLAS: {'; '.join(env.blas) or 'none detected'}",
        f"memory available: {format_bytes(env.available_memory_bytes)} -> statevector of up to "
        f"{env.max_statevector_qubits} qubits",
        f"git commit: {env.git_commit} (working tree {env.git_status})",
    ]
    return "\n".join(lines)
