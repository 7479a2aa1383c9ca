"""Circuit l-bits: the l-bit unitary as a finite-depth circuit of local gates
(docs/pages/conventions.md 9).

``lbits.construct(H, method="circuit", block=l, layers=d, ...)`` calls :func:`build`, which
returns a :class:`CircuitLBitSystem`. Modules: :mod:`.layout` (where the gates sit, light cones),
:mod:`.gates` (gate families and their parameters), :mod:`.terms` (H as local blocks),
:mod:`.cones` and :mod:`.dense` (the cost and its gradient, local and whole-chain),
:mod:`.optimize` (start and fit), :mod:`.system` (the l-bit system), :mod:`.report`
(:func:`summarize`) and :mod:`.merit` (the echo figure of merit against exact l-bits).
"""

from echo_lab.lbits.circuit.layout import Layout, block_layout
from echo_lab.lbits.circuit.system import CircuitLBitSystem, LocalCircuit, build

__all__ = ["CircuitLBitSystem", "Layout", "LocalCircuit", "block_layout", "build"]
