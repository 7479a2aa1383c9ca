"""Simulator backends behind one interface (:class:`echo_lab.backends.base.Backend`).

``get_backend(name, **options)`` builds a backend of the registry
(:mod:`echo_lab.backends.registry`: name, lazy factory, ``[backend]`` rules, memory estimate);
``register_backend(BackendEntry(...))`` adds one without editing the package. A study file names
one in ``[backend] name = ...`` (:mod:`echo_lab.backends.options`). The registered backends (this
list is generated from the registry, :func:`~echo_lab.backends.registry.describe_backends`):

"""

from __future__ import annotations

from typing import Any

from echo_lab.backends.base import Backend
from echo_lab.backends.registry import (
    BackendEntry,
    BackendRules,
    backend_names,
    describe_backends,
    get_backend,
    register_backend,
    unregister_backend,
)

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendEntry",
    "BackendRules",
    "get_backend",
    "register_backend",
    "unregister_backend",
]

if __doc__ is not None:
    __doc__ += describe_backends() + "\n"


def __getattr__(name: str) -> Any:
    """``BACKEND_NAMES``: the backends a ``[backend]`` table may name, read from the registry at
    every access."""
    if name == "BACKEND_NAMES":
        return backend_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
