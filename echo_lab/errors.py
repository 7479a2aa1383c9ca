"""Exception types of echo_lab.

Every error the package raises on purpose derives from :class:`EchoLabError`, so a caller (the
CLI in particular) can tell a clear user-facing problem from a bug. Messages name the offending
input and say how to fix it.
"""

from __future__ import annotations

#: How to get Qiskit Aer; part of every error raised because it is missing or doubly installed.
AER_INSTALL_HINT = (
    "install exactly one build of Qiskit Aer: `pip install 'echo_lab[cpu]'` (qiskit-aer), or "
    "`pip install 'echo_lab[gpu]'` (qiskit-aer-gpu, on a machine with an NVIDIA CUDA device)"
)


class EchoLabError(Exception):
    """Base class of all errors echo_lab raises on purpose."""


class ConfigError(EchoLabError, ValueError):
    """A study configuration or function argument is invalid (names the key and the fix)."""


class ResourceError(EchoLabError, MemoryError):
    """A computation would need more memory than the machine has; raised before allocating."""


class StorageError(EchoLabError, OSError):
    """A file could not be written because its file system is full (or the quota is used up);
    the message names the file and the space left. Nothing half-written is left behind."""


class NumericalError(EchoLabError, ArithmeticError):
    """A result failed a numerical health check (NaN, norm drift beyond tolerance)."""


def aer_missing() -> ConfigError:
    """The error raised when ``qiskit_aer`` cannot be imported."""
    return ConfigError(
        "the aer and estimator backends, noise models and benchmarks need Qiskit Aer, which is "
        f"not installed: {AER_INSTALL_HINT}"
    )


class CheckpointError(EchoLabError):
    """A checkpoint file is corrupted or belongs to another study; it is never mixed in."""
