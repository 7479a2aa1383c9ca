"""Memory estimates and up-front refusal of computations that cannot fit.

Every expensive path calls :func:`require_memory` with its own estimate *before* allocating, so a
too-large request fails in milliseconds with the estimate and a suggestion instead of being killed
by the operating system.

Rules of thumb (complex128 = 16 bytes):

==============================  ===========  ===========  ============
object                          N = 12       N = 14       N = 16
==============================  ===========  ===========  ============
state vector (2^N)              64 KiB       256 KiB      1 MiB
dense matrix (4^N), complex     256 MiB      4 GiB        64 GiB
dense matrix (4^N), real        128 MiB      2 GiB        32 GiB
==============================  ===========  ===========  ============
"""

from __future__ import annotations

import os

from echo_lab.errors import ResourceError

COMPLEX_BYTES = 16
REAL_BYTES = 8

#: Fraction of the currently available memory a single step may plan to use.
USABLE_FRACTION = 0.8


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory_bytes() -> int:
    """Memory this process may still use, in bytes.

    ``ECHO_LAB_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix) overrides the measurement, which is
    how tests and shared machines impose a smaller budget.
    """
    override = os.environ.get("ECHO_LAB_MEMORY_LIMIT")
    if override:
        return parse_bytes(override)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil is a dependency; this is a last resort
        pages = os.sysconf("SC_AVPHYS_PAGES")
        return int(pages * os.sysconf("SC_PAGE_SIZE"))


def parse_bytes(text: str) -> int:
    """Parse ``"512M"``, ``"2G"``, ``"1048576"`` into bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factors = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if text and text[-1] in factors:
        return int(float(text[:-1]) * factors[text[-1]])
    return int(float(text))


def format_bytes(nbytes: float) -> str:
    """Human-readable size, e.g. ``format_bytes(3 * 2**30) == '3.0 GiB'``."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    raise AssertionError("unreachable")


def statevector_bytes(n_qubits: int) -> int:
    """Bytes of one complex128 state vector of ``n_qubits`` qubits."""
    return COMPLEX_BYTES * 2**n_qubits


def density_matrix_bytes(n_qubits: int) -> int:
    """Bytes of one complex128 density matrix of ``n_qubits`` qubits."""
    return COMPLEX_BYTES * 4**n_qubits


def dense_operator_bytes(n_qubits: int, *, real: bool = False) -> int:
    """Bytes of one dense 2^n x 2^n operator."""
    return (REAL_BYTES if real else COMPLEX_BYTES) * 4**n_qubits


def require_memory(nbytes: float, *, what: str, suggestion: str) -> None:
    """Raise :class:`ResourceError` if ``nbytes`` exceed the usable memory.

    ``what`` describes the step (``"exact diagonalization of N = 16"``), ``suggestion`` says what
    to do instead (a smaller N, another backend).
    """
    available = available_memory_bytes()
    if nbytes > USABLE_FRACTION * available:
        raise ResourceError(
            f"{what} needs about {format_bytes(nbytes)}, but only {format_bytes(available)} "
            f"is available (at most {USABLE_FRACTION:.0%} of it is used). {suggestion}"
        )
