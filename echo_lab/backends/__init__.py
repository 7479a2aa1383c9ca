"""Simulator backends behind one interface (:class:`echo_lab.backends.base.Backend`).

``get_backend(name, **options)`` returns one of: ``exact`` (eigenbasis, N <= 14), ``krylov``
(sparse Krylov, larger N), ``trotter-exact`` (diagonalized Trotter step, N <= 12), ``aer``
(Qiskit Aer: statevector CPU/GPU, matrix product state, density matrix with noise) and
``estimator`` (any Qiskit ``EstimatorV2``) and ``qsim`` (the same Trotter circuits on Google's
qsim, single precision, an order of magnitude faster than Aer on CPU; the ``[bench]`` extra).
"""

from __future__ import annotations

from typing import Any

from echo_lab.backends.base import Backend
from echo_lab.backends.options import BACKEND_NAMES
from echo_lab.errors import ConfigError

__all__ = ["BACKEND_NAMES", "Backend", "get_backend"]


def get_backend(name: str, **options: Any) -> Backend:
    """Backend by name; ``options`` go to its constructor."""
    if name == "exact":
        from echo_lab.backends.exact import ExactBackend

        return ExactBackend(**options)
    if name == "krylov":
        from echo_lab.backends.krylov import KrylovBackend

        return KrylovBackend(**options)
    if name == "trotter-exact":
        from echo_lab.backends.trotter_exact import TrotterExactBackend

        return TrotterExactBackend(**options)
    if name == "aer":
        from echo_lab.backends.aer import AerBackend

        return AerBackend(**options)
    if name == "estimator":
        from echo_lab.backends.estimator import EstimatorBackend

        return EstimatorBackend(**options)
    if name == "qsim":
        from echo_lab.backends.qsim import QsimBackend

        return QsimBackend(**options)
    raise ConfigError(f"unknown backend {name!r}; choose one of {BACKEND_NAMES}")
