"""Study kinds: one module per kind, found through one registry.

======================  ======================================================================
kind                    module
======================  ======================================================================
``echo``                :mod:`echo_lab.study.kinds.echo`: echo traces for a list of pulses
``echo_scaling``        :mod:`echo_lab.study.kinds.echo_scaling`: kept l-bit coherence vs N, W, T
``entanglement``        :mod:`echo_lab.study.kinds.entanglement`: half-chain entropy S(t)
``deer``                :mod:`echo_lab.study.kinds.deer`: DEER traces and fitted couplings J_pq
``level_statistics``    :mod:`echo_lab.study.kinds.level_statistics`: level-spacing ratio r
``lbit_locality``       :mod:`echo_lab.study.kinds.lbit_locality`: l-bit ranges and xi estimates
``hardware_echo``       :mod:`echo_lab.study.kinds.hardware_echo`: echoes on simulated devices
======================  ======================================================================

Each module defines ``KIND``, an instance of a subclass of
:class:`~echo_lab.study.kinds.base.StudyKind`: its TOML sections, keys, sweepable keys and key
descriptions, its typed settings, limits and memory estimate, one work unit, and its figures.
Adding a kind means one new module and one entry in :data:`KINDS` below (a kind defined outside
the package is added to the dict itself: ``KINDS[kind.name] = kind``); the recipe is in
docs/pages/extending.md.
"""

from __future__ import annotations

from echo_lab.errors import ConfigError
from echo_lab.study.kinds import (
    deer,
    echo,
    echo_scaling,
    entanglement,
    hardware_echo,
    lbit_locality,
    level_statistics,
)
from echo_lab.study.kinds.base import StudyKind

__all__ = ["KINDS", "StudyKind", "get_kind"]

#: Every study kind by name, in the order the documentation lists them.
KINDS: dict[str, StudyKind] = {
    kind.name: kind
    for kind in (
        echo.KIND,
        echo_scaling.KIND,
        entanglement.KIND,
        deer.KIND,
        level_statistics.KIND,
        lbit_locality.KIND,
        hardware_echo.KIND,
    )
}


def get_kind(name: str) -> StudyKind:
    """The study kind called ``name``; an unknown name raises ConfigError listing the kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(
            f"study.kind = {name!r} is not known; choose one of {', '.join(KINDS)}"
        ) from None
