"""l-bits: the seed's exact construction, window l-bits and circuit l-bits, behind one interface.

:func:`construct` is the one entry point; ``method`` picks a construction from :data:`METHODS`:

* ``"overlap"`` and ``"range"``: the exact l-bits of the seed from all eigenstates
  (:mod:`.exact`, with :mod:`.assignment` and :mod:`.encoding`), an :class:`LBitSystem`;
* ``"circuit"``: circuit l-bits, a finite-depth circuit of local gates fitted to the Hamiltonian
  (:mod:`.circuit`), a :class:`~echo_lab.lbits.circuit.CircuitLBitSystem`.

Window l-bits (:mod:`.window`, the exact l-bits of the w sites around one probe) and compiled
l-bits (:mod:`.compiled`, a window l-bit carried by a short fitted circuit: device pulses) need a
probe site and are built by :func:`~echo_lab.lbits.window.window_lbits` and
:func:`~echo_lab.lbits.compiled.compiled_lbits`. All of them implement
:class:`~echo_lab.lbits.source.LBitSource`; a new construction is one module plus one
:func:`register_method` call.

>>> from echo_lab import lbits
>>> from echo_lab.physics import models
>>> H = models.RandomFieldXXZ(n=6, W=8.0, seed=3).hamiltonian()
>>> lbits.construct(H, method="overlap").method
'overlap'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.lbits import exact
from echo_lab.lbits.circuit import CircuitLBitSystem
from echo_lab.lbits.circuit import build as build_circuit_lbits
from echo_lab.lbits.exact import (
    COUPLING_FIT_FLOOR,
    DEFAULT_CACHE_BYTES,
    MAX_RANGE_QUBITS,
    TAIL_FIT_FLOOR,
    LBitSystem,
    estimate_bytes,
)
from echo_lab.lbits.source import LBitSource

__all__ = [
    "COUPLING_FIT_FLOOR",
    "DEFAULT_CACHE_BYTES",
    "EXACT_METHODS",
    "MAX_RANGE_QUBITS",
    "METHODS",
    "TAIL_FIT_FLOOR",
    "CircuitLBitSystem",
    "LBitSource",
    "LBitSystem",
    "construct",
    "estimate_bytes",
    "method_options",
    "register_method",
]

#: The exact assignments (:mod:`.exact`): l-bits from all eigenstates, n <= 16.
EXACT_METHODS = exact.METHODS

#: Every construction :func:`construct` knows: name -> builder ``(H, **options) -> LBitSource``.
METHODS: dict[str, Callable[..., LBitSource]] = {}


def register_method(name: str, builder: Callable[..., LBitSource]) -> None:
    """Make ``construct(H, method=name, **options)`` call ``builder(H, **options)``.

    ``builder`` returns an :class:`LBitSource`. Registering a taken name raises
    :class:`ConfigError` (there is one construction per name).
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"an l-bit method needs a non-empty name, got {name!r}")
    if name in METHODS:
        raise ConfigError(f"l-bit method {name!r} is registered already")
    METHODS[name] = builder


def method_options(name: str) -> tuple[str, ...]:
    """Keyword options the construction ``name`` takes (from its builder's signature)."""
    parameters = list(inspect.signature(METHODS[name]).parameters.values())[1:]
    return tuple(p.name for p in parameters if p.name != "method" and p.kind is not p.VAR_KEYWORD)


for _name in exact.METHODS:
    register_method(_name, functools.partial(exact.construct, method=_name))
register_method("circuit", build_circuit_lbits)


def construct(hamiltonian: SparsePauliOp, method: str = "overlap", **options: Any) -> Any:
    """l-bits of a Hermitian ``hamiltonian`` by the construction ``method`` (:data:`METHODS`).

    ``"overlap"`` / ``"range"`` take ``lattice``, ``eigensystem``, ``max_sweeps`` and
    ``cache_bytes`` (:func:`echo_lab.lbits.exact.construct`) and return an :class:`LBitSystem`;
    ``"circuit"`` takes ``block``, ``layers``, ``gates``, ``layout``, ``cost``, ``engine``,
    ``max_iterations`` and ``tolerance`` (:func:`echo_lab.lbits.circuit.build`) and returns a
    :class:`CircuitLBitSystem`. Every result is an :class:`LBitSource`. Raises
    :class:`ConfigError` for an unknown method or an option the method does not take.
    """
    if method == "time-average":
        raise ConfigError(
            "'time-average' is a diagnostic, not an assignment: construct with 'overlap' and use "
            "lb.time_averaged_tau(i) / lb.time_averaged_mean_range()"
        )
    builder = METHODS.get(method) if isinstance(method, str) else None
    if builder is None:
        raise ConfigError(f"unknown l-bit method {method!r}; choose one of {tuple(METHODS)}")
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        owners = [name for name in METHODS if set(unknown) <= set(method_options(name))]
        hint = f"; they belong to method={owners[0]!r}" if owners else ""
        raise ConfigError(
            f"options {unknown} do not belong to l-bit method {method!r} (it takes "
            f"{', '.join(method_options(method)) or 'no options'}){hint}"
        )
    return builder(hamiltonian, **options)
