"""The one interface every l-bit construction implements: :class:`LBitSource`.

An l-bit source knows, for a chain of ``n`` sites, the dressed Pauli operators tau^a_i of (some
of) its sites, and gives each of them in the three forms the rest of echo_lab needs:

* :meth:`LBitSource.tau` the operator itself, in the construction's own representation (dense
  ``2^n x 2^n`` for exact l-bits, a ``SparsePauliOp`` on the light cone for circuit l-bits, a
  ``2^w x 2^w`` block on the window sites for window l-bits);
* :meth:`LBitSource.pulse` the echo pulse exp(-i pi/2 (1 + eps) tau^a_p) up to a global phase
  (tau^a_p itself for eps = 0), optionally truncated to the sites within ``radius`` of p, as a
  :class:`~echo_lab.dynamics.schedule.Pulse` that every backend can apply;
* :meth:`LBitSource.tau_observable` tau^a_i as a readout every backend accepts
  (:data:`~echo_lab.dynamics.readouts.Operator`): a dense array or ``LinearOperator`` for exact
  l-bits, a :class:`~echo_lab.dynamics.readouts.RotatedPauli` (a Pauli read out after a local
  circuit) for circuit, window and compiled l-bits, which circuit and MPS backends play as a
  circuit.

:attr:`LBitSource.method` names the construction and :meth:`LBitSource.sites` the sites it holds
l-bits of. The implementations:

=====================================================  ===========  ======================
class                                                  method       sites
=====================================================  ===========  ======================
:class:`echo_lab.lbits.exact.LBitSystem`               overlap,     all n
                                                       range
:class:`echo_lab.lbits.circuit.CircuitLBitSystem`      circuit      all n
:class:`echo_lab.lbits.window.WindowLBits`             window       the probe only
:class:`echo_lab.lbits.compiled.CompiledLBits`         compiled     the probe only
=====================================================  ===========  ======================

Pulse sequences (:func:`echo_lab.protocols.sequences.build_sequence`), readouts
(:func:`echo_lab.protocols.observables.probe_observables`) and the pulse families
(:mod:`echo_lab.protocols.families`) take any source and only call these methods. A new
construction plugs in by subclassing this class (``n``, ``method``, ``tau``, ``pulse``,
``tau_observable``; ``sites`` when it does not hold every site) and, to be reachable as
``lbits.construct(H, method=name)``, registering its builder with
:func:`echo_lab.lbits.register_method`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from echo_lab.dynamics.readouts import Operator
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError

__all__ = ["LBitSource"]


class LBitSource(ABC):
    """l-bits of a chain of :attr:`n` sites (module docstring).

    Attributes
    ----------
    method : name of the construction (``"overlap"``, ``"range"``, ``"circuit"``, ``"window"``,
        or the name a new construction is registered under); a subclass sets it as a class
        attribute or a field.
    """

    method: str

    @property
    @abstractmethod
    def n(self) -> int:
        """Number of chain sites."""

    def sites(self) -> tuple[int, ...]:
        """Chain sites whose l-bits this source holds (all of them unless overridden)."""
        return tuple(range(self.n))

    @abstractmethod
    def tau(self, a: str, i: int) -> Any:
        """tau^a_i in the construction's own representation (module docstring)."""

    @abstractmethod
    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        """Echo pulse on the l-bit of site ``p``: tau^axis_p, rotated by pi (1 + angle_error),
        truncated to the sites within ``radius`` of p when a radius is given."""

    @abstractmethod
    def tau_observable(self, a: str, i: int) -> Operator:
        """tau^a_i as an observable every backend reads out."""

    def check_site(self, i: int) -> int:
        """``i`` as an int, or :class:`ConfigError` when this source holds no l-bit of site i."""
        held = self.sites()
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or int(i) not in held:
            where = f"sites 0..{self.n - 1}" if held == tuple(range(self.n)) else f"sites {held}"
            raise ConfigError(f"{self.method} l-bits hold {where}, not site {i!r}")
        return int(i)
