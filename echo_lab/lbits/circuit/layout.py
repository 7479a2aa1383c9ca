"""Gate layouts of circuit l-bits on an open chain, and their light cones (docs/pages/conventions.md
sec. 9).

A layout fixes *where* the gates of the l-bit unitary U sit; the gate matrices are fitted later.
Layers are numbered in the order they act on a computational state: U = L_{d-1} ... L_1 L_0, so
``U |s>`` applies layer 0 first. Every gate acts on a contiguous run of sites (a *slot*), and the
slots of one layer are disjoint.

* :func:`block_layout` (``block=l, layers=d``): layer t holds l-site blocks starting at site
  ``(t % 2) * (l // 2)``, i.e. every other layer is shifted by half a block; a block cut by the
  chain's ends keeps its sites inside the chain (edge blocks of fewer than two sites are
  dropped, a one-site gate cannot entangle). ``block=2`` is the brickwork of 2-qubit gates of
  depth d (Pollmann et al. 2016); ``block=l, layers=2`` is the two layers of l-site blocks of
  Wahl, Pal and Simon (2017).

Light cones (all intervals of sites, inclusive):

* the **Heisenberg cone** of a Hamiltonian term supported in [lo, hi] is the set of gates that
  U^dag (term) U touches: going from the last layer down to layer 0, every gate that overlaps the
  current support is included and widens it (:func:`term_cone`);
* the **pulse cone** of site p is the set of gates of U that U sigma_p U^dag touches: from layer
  0 up (:func:`site_cone`). The pulse circuit and the readout of tau^a_p use only these gates.

For a brickwork of depth d the cone of a two-site term spans at most 2d + 2 sites and the pulse
cone of one site at most 2d; cost and memory of everything local grow as 4^(cone size).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from echo_lab.errors import ConfigError

__all__ = [
    "Layout",
    "Slot",
    "block_layout",
    "site_cone",
    "term_cone",
]


@dataclass(frozen=True)
class Slot:
    """One gate position: the contiguous ``sites`` (ascending) of ``layer``."""

    sites: tuple[int, ...]
    layer: int

    @property
    def lo(self) -> int:
        """First site."""
        return self.sites[0]

    @property
    def hi(self) -> int:
        """Last site."""
        return self.sites[-1]

    @property
    def width(self) -> int:
        """Number of sites k (the gate is a 2^k x 2^k unitary)."""
        return len(self.sites)


@dataclass(frozen=True)
class Layout:
    """Slots of an n-site circuit in application order (layer 0 first).

    ``name`` describes the family (``"brickwork:d=4"``, ``"blocks:l=4,d=2"``, ...).
    ``slot_at[t, i]`` is the index of the slot of layer t that holds site i, or -1.
    """

    n: int
    slots: tuple[Slot, ...]
    name: str
    slot_at: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"a layout needs n >= 1 sites, got {self.n}")
        layers = [s.layer for s in self.slots]
        if layers != sorted(layers):
            raise ConfigError("layout slots must be ordered by layer (application order)")
        depth = max(layers, default=-1) + 1
        table = np.full((max(depth, 1), self.n), -1, dtype=np.int64)
        for index, slot in enumerate(self.slots):
            sites = list(slot.sites)
            if sites != list(range(slot.lo, slot.hi + 1)) or slot.lo < 0 or slot.hi >= self.n:
                raise ConfigError(
                    f"slot {slot.sites} must be a run of consecutive sites inside 0..{self.n - 1}"
                )
            if np.any(table[slot.layer, sites] >= 0):
                raise ConfigError(f"slots of layer {slot.layer} overlap at sites {slot.sites}")
            table[slot.layer, sites] = index
        object.__setattr__(self, "slot_at", table)

    @property
    def depth(self) -> int:
        """Number of layers."""
        return int(self.slot_at.shape[0]) if self.slots else 0

    def overlapping(self, layer: int, lo: int, hi: int) -> list[int]:
        """Indices of the slots of ``layer`` that hold a site of [lo, hi], ascending."""
        found = self.slot_at[layer, lo : hi + 1]
        return [int(k) for k in np.unique(found[found >= 0])]


def _check_positive(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _layer_slots(n: int, starts: Sequence[int], widths: Sequence[int], layer: int) -> list[Slot]:
    slots = []
    for start, width in zip(starts, widths, strict=True):
        lo, hi = max(start, 0), min(start + width - 1, n - 1)
        if hi - lo + 1 >= 2:
            slots.append(Slot(tuple(range(lo, hi + 1)), layer))
    return slots


def block_layout(n: int, *, block: int = 2, layers: int = 4) -> Layout:
    """d = ``layers`` layers of ``block``-site gates, every other layer shifted by block // 2.

    ``block=2`` gives the brickwork of depth d; see the module docstring for the edges.
    Raises :class:`ConfigError` for block < 2, layers < 1 or block > n.
    """
    n = _check_positive("n", n, 2)
    block = _check_positive("block", block, 2)
    layers = _check_positive("layers", layers, 1)
    if block > n:
        raise ConfigError(f"block of {block} sites is longer than the chain of {n} sites")
    slots: list[Slot] = []
    for t in range(layers):
        shift = (t % 2) * (block // 2)
        starts = list(range(shift - block if shift else 0, n, block))
        slots += _layer_slots(n, starts, [block] * len(starts), t)
    name = f"brickwork:d={layers}" if block == 2 else f"blocks:l={block},d={layers}"
    return Layout(n, tuple(slots), name)


def term_cone(layout: Layout, lo: int, hi: int) -> tuple[list[int], tuple[int, int]]:
    """Heisenberg cone of a term on [lo, hi]: slot indices from the last layer down, and the
    interval U^dag (term) U is supported on."""
    gates: list[int] = []
    for layer in range(layout.depth - 1, -1, -1):
        found = layout.overlapping(layer, lo, hi)
        for k in found:
            lo, hi = min(lo, layout.slots[k].lo), max(hi, layout.slots[k].hi)
        gates += found
    return gates, (lo, hi)


def site_cone(layout: Layout, site: int) -> tuple[list[int], tuple[int, int]]:
    """Pulse cone of ``site``: slot indices of U sigma_site U^dag in application order (layer 0
    first), and the interval that operator is supported on."""
    lo = hi = site
    gates: list[int] = []
    for layer in range(layout.depth):
        found = layout.overlapping(layer, lo, hi)
        for k in found:
            lo, hi = min(lo, layout.slots[k].lo), max(hi, layout.slots[k].hi)
        gates += found
    return gates, (lo, hi)
