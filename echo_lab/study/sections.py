"""The TOML sections several study kinds share: ``[model]``, ``[lbits]``, ``[protocol]`` and
``[times]``, each parsed into a frozen spec; plus the hard limits of a study file.

A kind module (:mod:`echo_lab.study.kinds`) picks the sections it needs, names the keys it allows in
each (:func:`parse_protocol` takes the kind's list of protocol keys) and adds its own sections.
Numbers given as lists in :data:`SWEEPABLE` keys become sweep dimensions named after the key; the
parsers add them to the ``sweep`` dict they are given. Everything raises
:class:`~echo_lab.errors.ConfigError` naming the dotted key and the fix.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from echo_lab.errors import ConfigError
from echo_lab.lbits.compiled import DEFAULT_LAYERS, DEFAULT_WINDOW
from echo_lab.lbits.exact import METHODS as EXACT_METHODS
from echo_lab.lbits.window import MAX_WINDOW_SITES
from echo_lab.physics.models import Lattice, RandomFieldIsing, RandomFieldXXZ, SeedLike
from echo_lab.physics.states import BACKGROUNDS
from echo_lab.protocols.families import PulseSpec
from echo_lab.tables import (
    Scalar,
    Table,
    int_list,
    number,
    optional_scalar,
    scalar,
    string_list,
    sweepable,
    time_values,
)

__all__ = [
    "CIRCUIT_KEYS",
    "CIRCUIT_LIMITS",
    "LATTICES",
    "LBITS_KEYS",
    "LBIT_METHODS",
    "MAX_COUPLING",
    "MAX_PULSES",
    "MAX_SECTOR_SITES",
    "MAX_SEED",
    "MAX_SITES",
    "MAX_TIME",
    "MAX_TIMES",
    "MAX_UNITS",
    "MODEL_KEYS",
    "MODEL_TYPES",
    "SWEEPABLE",
    "TIMES_KEYS",
    "LbitSpec",
    "ModelSpec",
    "ProtocolSpec",
    "check_circuit_option",
    "parse_lbits",
    "parse_model",
    "parse_protocol",
    "parse_times",
    "time_values_of",
]

#: The exact l-bit assignments a study's ``[lbits] method`` may name (circuit l-bits have their
#: own section).
LBIT_METHODS = EXACT_METHODS
LATTICES = ("chain", "periodic-chain", "square")
MODEL_TYPES = ("xxz", "ising")
MODEL_KEYS = {
    "xxz": ("type", "n", "J", "Jz", "W", "g", "lattice", "Lx", "Ly"),
    "ising": ("type", "n", "Jz", "W", "g", "lattice", "Lx", "Ly"),
}
TIMES_KEYS = ("start", "stop", "num", "spacing", "values")

#: Keys whose list values become sweep dimensions, by section.
SWEEPABLE: dict[str, tuple[str, ...]] = {
    "model": ("n", "J", "Jz", "W", "g"),
    "protocol": ("angle_error", "n_pulses"),
}

#: Limits that keep a study file from asking for the impossible (each refusal names the key).
#: Largest number of sites of any model (the lattice distance table is n x n).
MAX_SITES = 1000
#: Largest number of work units (parameter points x realizations) of one study.
MAX_UNITS = 1_000_000
#: Largest number of points of a time grid.
MAX_TIMES = 100_000
#: Largest total time, in 1/J: beyond it the phase E t of a double loses its meaning.
MAX_TIME = 1e12
#: Largest |J|, |Jz|, W, |g| (Pauli units); larger values overflow the dense eigensolvers.
MAX_COUPLING = 1e6
#: Largest number of pulses of a CPMG / XY-4 sequence.
MAX_PULSES = 10_000
#: Seeds are stored as 64-bit NetCDF attributes.
MAX_SEED = 2**63 - 1
#: Sites of a level-statistics study of a model that conserves the total sigma^z (one sector).
MAX_SECTOR_SITES = 20


# ----------------------------------------------------------------------------------------------
# [model]
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One model at one parameter point (all values scalar)."""

    type: str
    n: int
    J: float
    Jz: float
    W: float
    g: float
    lattice: str
    Lx: int | None = None
    Ly: int | None = None

    def lattice_object(self) -> Lattice:
        """The :class:`~echo_lab.physics.models.Lattice` of this model."""
        if self.lattice == "square":
            assert self.Lx is not None and self.Ly is not None
            return Lattice.square(self.Lx, self.Ly)
        return Lattice.chain(self.n, periodic=self.lattice == "periodic-chain")

    def build(self, *, seed: SeedLike) -> RandomFieldXXZ:
        """The model with fields drawn from ``numpy.random.default_rng(seed)``."""
        lattice = self.lattice_object()
        if self.type == "ising":
            return RandomFieldIsing(lattice=lattice, W=self.W, Jz=self.Jz, g=self.g, seed=seed)
        return RandomFieldXXZ(lattice=lattice, W=self.W, J=self.J, Jz=self.Jz, g=self.g, seed=seed)

    @property
    def conserves_magnetization(self) -> bool:
        """Whether H conserves the total sigma^z (the XXZ family without transverse field)."""
        return self.type == "xxz" and self.g == 0


def _square_size(table: Table) -> tuple[int, int]:
    lx = int(scalar(table, "Lx", None, integer=True, minimum=1, maximum=MAX_SITES))
    ly = int(scalar(table, "Ly", None, integer=True, minimum=1, maximum=MAX_SITES))
    if not 2 <= lx * ly <= MAX_SITES:
        raise ConfigError(
            f"model.Lx * model.Ly = {lx * ly} sites; a square lattice needs 2 to {MAX_SITES} sites"
        )
    if table.has("n"):
        given = number(table.data["n"], table.key("n"), integer=True, minimum=1)
        if given != lx * ly:
            raise ConfigError(
                f"model.n = {given} disagrees with Lx * Ly = {lx * ly}; leave n out for a "
                "square lattice"
            )
    return lx, ly


def parse_model(table: Table, sweep: dict[str, tuple[Scalar, ...]]) -> ModelSpec:
    """``[model]``: the model with swept keys at their first value (the rest in ``sweep``)."""
    model_type = table.string("type", "xxz", choices=MODEL_TYPES)
    table = table.restrict(MODEL_KEYS[model_type])
    lattice = table.string("lattice", "chain", choices=LATTICES)
    lx = ly = None
    if lattice == "square":
        lx, ly = _square_size(table)
        n_values: tuple[Scalar, ...] = (lx * ly,)
    else:
        for key in ("Lx", "Ly"):
            if table.has(key):
                raise ConfigError(
                    f"{table.key(key)} is only used with lattice = 'square'; remove it"
                )
        n_values = sweepable(table, "n", None, integer=True, minimum=2, maximum=MAX_SITES)

    def coupling(key: str, default: float) -> tuple[Scalar, ...]:
        return sweepable(table, key, default, minimum=-MAX_COUPLING, maximum=MAX_COUPLING)

    values: dict[str, tuple[Scalar, ...]] = {
        "n": n_values,
        "J": coupling("J", 1.0) if model_type == "xxz" else (0.0,),
        "Jz": coupling("Jz", 1.0),
        # + 0.0: W = -0.0 passes W >= 0, and is the same study as W = 0
        "W": tuple(w + 0.0 for w in sweepable(table, "W", 0.0, minimum=0.0, maximum=MAX_COUPLING)),
        "g": coupling("g", 1.0 if model_type == "ising" else 0.0),
    }
    sweep.update({key: values[key] for key in SWEEPABLE["model"] if len(values[key]) > 1})
    return ModelSpec(
        type=model_type,
        n=int(values["n"][0]),
        J=float(values["J"][0]),
        Jz=float(values["Jz"][0]),
        W=float(values["W"][0]),
        g=float(values["g"][0]),
        lattice=lattice,
        Lx=lx,
        Ly=ly,
    )


# ----------------------------------------------------------------------------------------------
# [lbits]
# ----------------------------------------------------------------------------------------------


#: ``[lbits]`` keys of the circuit l-bits used by ``"circuit"`` pulses.
CIRCUIT_KEYS = ("circuit_block", "circuit_layers", "circuit_cost", "circuit_iterations")
#: ``[lbits]`` keys of the compiled l-bits used by ``"compiled:s"`` pulses, with their bounds
#: (inclusive): the window of the target l-bit (capped at the chain length) and the brickwork
#: layers of the circuit.
COMPILED_LIMITS: dict[str, tuple[int, int]] = {
    "compiled_window": (2, MAX_WINDOW_SITES),
    "compiled_layers": (1, 12),
}
#: Every ``[lbits]`` key.
LBITS_KEYS = ("method", *CIRCUIT_KEYS, *COMPILED_LIMITS)
CIRCUIT_COSTS = ("frobenius", "echo")
#: Bounds (inclusive) of the integer circuit l-bit options, by their name in
#: ``lbits.construct(H, method="circuit", ...)``: the one home of these limits, applied to study
#: files (``[lbits] circuit_*``) and to ``echo-lab lbits --method circuit`` alike
#: (:func:`check_circuit_option`), before any work (10^8 layers once ran out of memory).
CIRCUIT_LIMITS: dict[str, tuple[int, int]] = {
    "block": (2, 12),
    "layers": (1, 12),
    "max_iterations": (0, 100_000),
}


def check_circuit_option(name: str, value: Any, dotted: str) -> int:
    """``value`` of the circuit l-bit option ``name`` (a key of :data:`CIRCUIT_LIMITS`) as an
    int within its bounds; ConfigError naming it as ``dotted`` otherwise."""
    low, high = CIRCUIT_LIMITS[name]
    return int(number(value, dotted, integer=True, minimum=low, maximum=high))


@dataclass(frozen=True)
class LbitSpec:
    """Assignment methods of the l-bit construction (one, or several for lbit_locality), the
    circuit l-bits of ``"circuit"`` pulses (:func:`echo_lab.lbits.circuit.build`): block size,
    layers, cost and L-BFGS iterations, and the compiled l-bits of ``"compiled:s"`` pulses
    (:func:`echo_lab.lbits.compiled.compiled_lbits`): target window and layers."""

    methods: tuple[str, ...] = ("overlap",)
    circuit_block: int = 2
    circuit_layers: int = 4
    circuit_cost: str = "frobenius"
    circuit_iterations: int = 200
    compiled_window: int = DEFAULT_WINDOW
    compiled_layers: int = DEFAULT_LAYERS

    @property
    def method(self) -> str:
        """The (first) assignment method."""
        return self.methods[0]

    def circuit_options(self) -> dict[str, Any]:
        """Keyword arguments of ``lbits.construct(H, method="circuit", ...)``."""
        return {
            "block": self.circuit_block,
            "layers": self.circuit_layers,
            "cost": self.circuit_cost,
            "max_iterations": self.circuit_iterations,
        }

    def compiled_options(self) -> dict[str, Any]:
        """Keyword arguments of ``compiled_lbits(model, p, support=s, ...)`` (the support comes
        from the pulse spec)."""
        return {
            "window": self.compiled_window,
            "layers": self.compiled_layers,
            "method": self.method,
        }


def parse_lbits(table: Table | None, *, kind: str, several: bool = False) -> LbitSpec:
    """``[lbits] method``: one method, or with ``several`` a list (default: all of them)."""
    default = LBIT_METHODS if several else ("overlap",)
    if table is None:
        return LbitSpec(default)
    table = table.restrict(LBITS_KEYS)
    methods = string_list(table, "method", default)
    for method in methods:
        if method not in LBIT_METHODS:
            raise ConfigError(
                f"lbits.method = {method!r} is not known; choose one of {', '.join(LBIT_METHODS)}"
            )
    if not several and len(methods) > 1:
        raise ConfigError(
            f"lbits.method lists {len(methods)} methods; a {kind} study uses one (a list of "
            "methods is for kind = 'lbit_locality')"
        )

    def compiled(key: str, default: int) -> int:
        low, high = COMPILED_LIMITS[key]
        value = table.data.get(key, default)
        return int(number(value, table.key(key), integer=True, minimum=low, maximum=high))

    def circuit(name: str, default: int) -> int:
        key = "circuit_iterations" if name == "max_iterations" else f"circuit_{name}"
        return check_circuit_option(name, table.data.get(key, default), table.key(key))

    return LbitSpec(
        methods,
        circuit_block=circuit("block", 2),
        circuit_layers=circuit("layers", 4),
        circuit_cost=table.string("circuit_cost", "frobenius", choices=CIRCUIT_COSTS),
        circuit_iterations=circuit("max_iterations", 200),
        compiled_window=compiled("compiled_window", DEFAULT_WINDOW),
        compiled_layers=compiled("compiled_layers", DEFAULT_LAYERS),
    )


# ----------------------------------------------------------------------------------------------
# [protocol]
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolSpec:
    """Pulse protocol, probe and initial-state backgrounds at one parameter point.

    ``pulses`` are parsed :class:`~echo_lab.protocols.families.PulseSpec` values (they carry the
    swept ``angle_error``); ``fid`` adds the free induction decay as its own row (:attr:`rows`).
    """

    sequence: str = "hahn"
    pulses: tuple[PulseSpec, ...] = ()
    fid: bool = False
    probe: int | str = "center"
    backgrounds: tuple[str, ...] = ("z-random",)
    n_pulses: int = 4
    partners: tuple[int, ...] = ()
    partner_distances: tuple[int, ...] = ()
    max_coupling: float | None = None

    def probe_site(self, lattice: Lattice) -> int:
        """The probe site on ``lattice``: ``n // 2`` for ``"center"``."""
        return lattice.n // 2 if self.probe == "center" else int(self.probe)

    def partner_sites(self, lattice: Lattice) -> tuple[int, ...]:
        """DEER partner sites: the explicit ``partners``, or for each of ``partner_distances``
        the highest-numbered site at that lattice distance from the probe (p + d on a chain when
        it exists, else p - d)."""
        if self.partners:
            return self.partners
        probe = self.probe_site(lattice)
        sites = []
        for d in self.partner_distances:
            candidates = np.flatnonzero(lattice.distances[probe] == d)
            if candidates.size == 0:
                raise ConfigError(
                    f"protocol.partner_distances: no site lies at distance {d} from probe {probe} "
                    f"on the {lattice.n}-site {lattice.kind}; use smaller distances"
                )
            sites.append(int(candidates[-1]))
        return tuple(sites)

    @property
    def rows(self) -> tuple[tuple[str, PulseSpec | None], ...]:
        """``(label, pulse)`` per row of an echo result: ``("fid", None)`` first when ``fid``
        (free evolution, no pulse), then each pulse under its label."""
        fid: tuple[tuple[str, PulseSpec | None], ...] = (("fid", None),) if self.fid else ()
        return fid + tuple((pulse.label, pulse) for pulse in self.pulses)

    @property
    def labels(self) -> tuple[str, ...]:
        """Row labels of an echo result (:attr:`rows`)."""
        return tuple(label for label, _ in self.rows)

    def at(self, values: Mapping[str, Scalar]) -> ProtocolSpec:
        """The protocol with the swept ``angle_error`` / ``n_pulses`` set to ``values``."""
        changed = self
        if "n_pulses" in values:
            changed = dataclasses.replace(changed, n_pulses=int(values["n_pulses"]))
        if "angle_error" in values:
            eps = float(values["angle_error"])
            pulses = tuple(pulse.with_angle_error(eps) for pulse in changed.pulses)
            changed = dataclasses.replace(changed, pulses=pulses)
        return changed


def parse_probe(table: Table) -> int | str:
    """``protocol.probe``: ``"center"`` (default) or a site index."""
    if not table.has("probe"):
        return "center"
    raw = table.data["probe"]
    if isinstance(raw, str):
        if raw != "center":
            raise ConfigError(f"protocol.probe must be 'center' or a site index, got {raw!r}")
        return raw
    return int(number(raw, "protocol.probe", integer=True, minimum=0))


def parse_pulses(
    table: Table, default: Sequence[str], *, angle_error: float
) -> tuple[PulseSpec, ...]:
    """``protocol.pulses`` parsed into PulseSpec values (chain-dependent limits come later)."""
    pulses = []
    for i, text in enumerate(string_list(table, "pulses", default)):
        try:
            pulses.append(PulseSpec.parse(text, angle_error=angle_error))
        except ConfigError as exc:
            raise ConfigError(f"protocol.pulses[{i}]: {exc}") from None
    return tuple(pulses)


def parse_partners(table: Table, *, required: bool) -> dict[str, Any]:
    """``partners`` or ``partner_distances`` (one of them) and ``max_coupling`` of DEER."""
    if table.has("partners") and table.has("partner_distances"):
        raise ConfigError(
            "protocol.partners and protocol.partner_distances are both given; keep one"
        )
    values: dict[str, Any] = {}
    if table.has("partners"):
        values["partners"] = int_list(table, "partners", minimum=0)
    elif table.has("partner_distances"):
        values["partner_distances"] = int_list(table, "partner_distances", minimum=1)
    elif required:
        table.require("partner_distances", "a list of partner distances, e.g. [1, 2, 3]")
    max_coupling = optional_scalar(table, "max_coupling", minimum=0.0)
    if max_coupling == 0.0:
        raise ConfigError("protocol.max_coupling must be > 0 (or left out for no bound)")
    values["max_coupling"] = None if max_coupling is None else float(max_coupling)
    return values


def parse_protocol(
    table: Table, *, keys: Sequence[str], sweep: dict[str, tuple[Scalar, ...]]
) -> tuple[ProtocolSpec, Table, float]:
    """The keys every protocol shares (probe, background, n_pulses, angle_error), checked
    against the kind's ``keys``. Returns the spec, the table (for the kind's own keys) and the
    first angle error; swept n_pulses / angle_error values go into ``sweep``."""
    table = table.restrict(keys)
    backgrounds = string_list(table, "background", ["z-random"])
    for background in backgrounds:
        if background not in BACKGROUNDS:
            raise ConfigError(
                f"protocol.background = {background!r} is not known; choose one of "
                f"{', '.join(BACKGROUNDS)}"
            )
    angle_errors = sweepable(table, "angle_error", 0.0, minimum=-1.0, maximum=1.0)
    n_pulses = sweepable(table, "n_pulses", 4, integer=True, minimum=1, maximum=MAX_PULSES)
    for key, values in (("angle_error", angle_errors), ("n_pulses", n_pulses)):
        if len(values) > 1:
            sweep[key] = values
    spec = ProtocolSpec(
        probe=parse_probe(table), backgrounds=backgrounds, n_pulses=int(n_pulses[0])
    )
    return spec, table, float(angle_errors[0])


# ----------------------------------------------------------------------------------------------
# [times]
# ----------------------------------------------------------------------------------------------


def time_values_of(raw: Any, dotted: str) -> tuple[float, ...]:
    """An explicit list of total times (``[times] values``, ``[check] times``)."""
    return time_values(raw, dotted, max_times=MAX_TIMES, max_time=MAX_TIME)


def parse_times(table: Table) -> tuple[float, ...]:
    """``[times]``: ``values = [...]``, or ``start``, ``stop``, ``num`` and ``spacing``."""
    table = table.restrict(TIMES_KEYS)
    if table.has("values"):
        for key in ("start", "stop", "num", "spacing"):
            if table.has(key):
                raise ConfigError(f"times.values and {table.key(key)} are both given; keep one")
        return time_values_of(table.data["values"], table.key("values"))
    spacing = table.string("spacing", "log", choices=("log", "linear"))
    start = float(scalar(table, "start", None, minimum=0.0, maximum=MAX_TIME))
    stop = float(scalar(table, "stop", None, minimum=0.0, maximum=MAX_TIME))
    num = int(scalar(table, "num", None, integer=True, minimum=0, maximum=MAX_TIMES))
    if num == 0:
        raise ConfigError("times.num = 0 gives an empty time grid; use num >= 1")
    if spacing == "log" and start <= 0:
        raise ConfigError(
            f"times.start = {start:g} must be > 0 for spacing = 'log'; use a positive start "
            "or spacing = 'linear'"
        )
    if stop < start:
        raise ConfigError(f"times.stop = {stop:g} is smaller than times.start = {start:g}")
    grid = np.geomspace(start, stop, num) if spacing == "log" else np.linspace(start, stop, num)
    values = tuple(float(t) for t in grid)
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigError(
            f"the time grid start = {start:g}, stop = {stop:g}, num = {num} has repeated times; "
            "use fewer points (times.num) or a wider range"
        )
    return values
