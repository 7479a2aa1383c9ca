"""Study files: TOML text -> a validated, frozen :class:`StudySpec`.

Everything is checked here, before any computation: unknown keys are rejected outright (naming
the key and listing the allowed ones), and every missing key, wrong type, negative size, NaN or
infinite number, empty time grid, probe outside the chain, window radius larger than the chain and
unknown backend, pulse or protocol raises :class:`~echo_lab.errors.ConfigError` with the key's
dotted name and the fix. So do requests no machine can serve, whatever its memory: a chain
longer than the dense steps of the study allow (``MAX_EXACT_QUBITS`` = 14 for the exact backend,
l-bit pulses, DEER and l-bit locality; 12 for trotter-exact; 10 for the ``range`` assignment),
window pulses wider than ``window.MAX_WINDOW_SITES`` = 12 sites (10 with ``range``), and sizes
beyond the limits ``MAX_SITES``, ``MAX_UNITS``, ``MAX_TIMES``, ``MAX_TIME``, ``MAX_COUPLING``,
``MAX_PULSES``, ``MAX_TROTTER_STEPS`` and ``MAX_SEED`` below. Whether a valid
study fits in *this* machine's memory is checked by :func:`echo_lab.study.check_resources` before
any work unit runs. No input makes the loader raise anything but ConfigError (a property test
feeds it random and mutated documents). The spec keeps the original TOML text (stored in the
results' attrs) and a hash of its normalized content (:meth:`StudySpec.spec_hash`, used by
checkpoints).

File format (``experiments/README.md`` has a worked example of every study kind)::

    [study]                        # required
    name = "echo_pbit_vs_lbit"     # required: output files are <name>.nc, <name>_*.png
    kind = "echo"                  # required: echo | entanglement | deer | level_statistics
                                   #           | lbit_locality
    description = "..."            # optional
    realizations = 50              # disorder realizations per parameter point (default 1)
    seed = 1234                    # base seed (default 0); see physics.md section 2

    [model]                        # required
    type = "xxz"                   # xxz (default) | ising (J = 0, transverse field g)
    n = 10                         # sites; or lattice = "square" with Lx, Ly
    J = 1.0                        # xxz only (default 1)
    Jz = 1.0                       # default 1
    W = [4.0, 8.0, 16.0]           # default 0; a list is a sweep dimension
    g = 0.0                        # default 0 (xxz), 1 (ising)
    lattice = "chain"              # chain | periodic-chain | square

    [lbits]                        # optional
    method = "overlap"             # overlap | range; lbit_locality takes a list (default both)

    [protocol]
    sequence = "hahn"              # echo: hahn | cpmg | xy4 | global (default hahn)
    pulses = ["pbit", "lbit", "lbit:1"]   # pbit | lbit | lbit:r (r >= 0) | window:w
                                   # | window:w:r (l-bit of the w <= 12 sites around the probe,
                                   # 0 <= r < w; echo only, any n; no tau_x/tau_y recorded)
    fid = true                     # echo: add the free induction decay as pulse "fid"
    probe = "center"               # "center" (site n // 2) or a site index
    background = "z-random"        # z-random | x | neel | random-bloch, or a list of them
    n_pulses = 4                   # cpmg
    angle_error = 0.0              # pulse rotation pi (1 + angle_error)
    partner_distances = [1, 2, 3]  # deer (or partners = [site, ...])
    max_coupling = 2.0             # deer, lbit_locality: upper bound of the fitted |J_pq|

    [times]                        # total evolution times, in units of 1/J
    start = 0.1
    stop = 1000.0
    num = 41
    spacing = "log"                # log | linear; or values = [0.1, 1.0, ...]

    [backend]                      # optional, default exact
    name = "exact"                 # exact | krylov | trotter-exact | aer | estimator
    dt = 0.05                      # Trotter step (trotter-exact, aer, estimator)
    order = 2                      # Trotter order 1 | 2 | 4
    method = "density_matrix"      # aer: statevector | matrix_product_state | density_matrix
    device = "auto"                # aer device: auto | CPU | GPU
    shots = 1000                   # aer sampling (left out: exact expectation values)
    options = {}                   # aer: precision, mps_options, seed_simulator; estimator:
                                   # precision (BACKEND_OPTIONS)

    [backend.noise]                # aer only: echo_lab.noise.NoiseSpec, times in 1/J
    t1 = 15.4                      # (t1, t2, gate_time_1q, gate_time_2q, depolarizing_1q,
    t2 = 12.3                      #  depolarizing_2q, static_dephasing_sigma,
                                   #  static_dephasing_qubits, static_dephasing_points)

    [spectrum]                     # optional (level_statistics)
    fraction = 0.3333             # middle share of the spectrum averaged for r (default 1/3)

    [check]                        # optional (echo): a second backend at a few times
    backend = "trotter-exact"      # plus dt, order, method, device, shots, options, noise
    times = [1.0, 10.0]
    realizations = 1               # run it on the first few realizations (default 1)
    pulses = ["pbit", "lbit"]      # default: all pulses of the study, and the FID

Numbers given as lists (``model.n``, ``model.J``, ``model.Jz``, ``model.W``, ``model.g``,
``protocol.angle_error``, ``protocol.n_pulses``) become sweep dimensions named after the key;
the study runs their outer product, ``realizations`` realizations at each point.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab.errors import ConfigError
from echo_lab.models import Lattice, RandomFieldIsing, RandomFieldXXZ, SeedLike
from echo_lab.pulses import parse_pulse_spec, parse_window_spec
from echo_lab.states import BACKGROUNDS

__all__ = [
    "BACKEND_KEYS",
    "BACKEND_OPTIONS",
    "KINDS",
    "SWEEPABLE",
    "BackendSpec",
    "CheckSpec",
    "LbitSpec",
    "ModelSpec",
    "ProtocolSpec",
    "StudySpec",
    "load_spec",
    "parse_spec",
]

KINDS = ("echo", "entanglement", "deer", "level_statistics", "lbit_locality")
ECHO_SEQUENCES = ("hahn", "cpmg", "xy4", "global")
LBIT_METHODS = ("overlap", "range")
LATTICES = ("chain", "periodic-chain", "square")
MODEL_TYPES = ("xxz", "ising")
AER_METHODS = ("statevector", "matrix_product_state", "density_matrix")
AER_DEVICES = ("auto", "CPU", "GPU")
TROTTER_ORDERS = (1, 2, 4)

#: Keys a ``[backend]`` table may hold besides ``name``, per backend.
BACKEND_KEYS: dict[str, tuple[str, ...]] = {
    "exact": (),
    "krylov": ("options",),
    "trotter-exact": ("dt", "order", "options"),
    "aer": ("dt", "order", "method", "device", "shots", "noise", "options"),
    "estimator": ("dt", "order", "options"),
}

#: Keys whose list values become sweep dimensions, by section.
SWEEPABLE: dict[str, tuple[str, ...]] = {
    "model": ("n", "J", "Jz", "W", "g"),
    "protocol": ("angle_error", "n_pulses"),
}

_SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required sections, optional sections)
    "echo": (("study", "model", "protocol", "times"), ("lbits", "backend", "check")),
    "entanglement": (("study", "model", "times"), ("protocol", "backend")),
    "deer": (("study", "model", "protocol", "times"), ("lbits", "backend")),
    "level_statistics": (("study", "model"), ("spectrum",)),
    "lbit_locality": (("study", "model"), ("lbits", "protocol", "times")),
}

_PROTOCOL_KEYS: dict[str, tuple[str, ...]] = {
    "echo": (
        "sequence",
        "pulses",
        "fid",
        "probe",
        "background",
        "n_pulses",
        "angle_error",
    ),
    "entanglement": ("probe", "background"),
    "deer": (
        "pulses",
        "probe",
        "background",
        "angle_error",
        "partners",
        "partner_distances",
        "max_coupling",
    ),
    "lbit_locality": ("probe", "background", "partners", "partner_distances", "max_coupling"),
}

_STUDY_KEYS = ("name", "kind", "description", "realizations", "seed")
_MODEL_KEYS = {
    "xxz": ("type", "n", "J", "Jz", "W", "g", "lattice", "Lx", "Ly"),
    "ising": ("type", "n", "Jz", "W", "g", "lattice", "Lx", "Ly"),
}
_TIMES_KEYS = ("start", "stop", "num", "spacing", "values")
_CHECK_KEYS = ("backend", "times", "realizations", "pulses", "tolerance")

Scalar = int | float

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
#: Largest number of Trotter steps to the longest time (circuit depth of the Trotter backends).
MAX_TROTTER_STEPS = 10_000_000
#: Seeds are stored as 64-bit NetCDF attributes.
MAX_SEED = 2**63 - 1
#: Sites of a level-statistics study of a model that conserves the total sigma^z (one sector).
MAX_SECTOR_SITES = 20

#: ``[backend] options`` each backend accepts, with the TOML type of each value.
BACKEND_OPTIONS: dict[str, dict[str, tuple[type, ...]]] = {
    "exact": {},
    "krylov": {},
    "trotter-exact": {},
    "aer": {"precision": (str,), "mps_options": (dict,), "seed_simulator": (int,)},
    "estimator": {"precision": (int, float)},
}

#: ``options.mps_options`` of the aer backend: (integer?, minimum) of each value.
_MPS_OPTIONS: dict[str, tuple[bool, float]] = {
    "max_bond_dimension": (True, 1),
    "truncation_threshold": (False, 0.0),
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


# ----------------------------------------------------------------------------------------------
# Frozen spec objects
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
        """The :class:`~echo_lab.models.Lattice` of this model."""
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


@dataclass(frozen=True)
class LbitSpec:
    """Assignment methods of the l-bit construction (one, or several for lbit_locality)."""

    methods: tuple[str, ...] = ("overlap",)

    @property
    def method(self) -> str:
        """The (first) assignment method."""
        return self.methods[0]


@dataclass(frozen=True)
class ProtocolSpec:
    """Pulse protocol, probe and initial-state backgrounds at one parameter point."""

    sequence: str = "hahn"
    pulses: tuple[str, ...] = ("pbit",)
    fid: bool = True
    probe: int | str = "center"
    backgrounds: tuple[str, ...] = ("z-random",)
    n_pulses: int = 4
    angle_error: float = 0.0
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
    def labels(self) -> tuple[str, ...]:
        """Row labels of an echo result: ``"fid"`` (when ``fid``) then the pulse specs."""
        return (("fid",) if self.fid else ()) + self.pulses


@dataclass(frozen=True)
class BackendSpec:
    """A backend name and its constructor options (``noise`` is an ``echo_lab.noise.NoiseSpec``)."""

    name: str = "exact"
    dt: float | None = None
    order: int | None = None
    method: str | None = None
    device: str | None = None
    shots: int | None = None
    noise: Any = None
    options: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``echo_lab.backends.get_backend(name, **kwargs)``."""
        out: dict[str, Any] = {
            key: getattr(self, key)
            for key in ("dt", "order", "method", "device", "shots", "noise")
            if getattr(self, key) is not None
        }
        out.update(dict(self.options))
        return out


@dataclass(frozen=True)
class CheckSpec:
    """A second backend run at a few times on the first ``realizations`` realizations."""

    backend: BackendSpec
    times: tuple[float, ...]
    realizations: int = 1
    pulses: tuple[str, ...] = ()
    tolerance: float | None = None


@dataclass(frozen=True)
class StudySpec:
    """A validated study. Swept keys hold their first value in ``model`` / ``protocol``; use
    :meth:`points` and :meth:`resolve` for the values at each parameter point."""

    name: str
    kind: str
    description: str
    realizations: int
    seed: int
    model: ModelSpec
    lbits: LbitSpec
    protocol: ProtocolSpec | None
    times: tuple[float, ...]
    backend: BackendSpec
    check: CheckSpec | None
    spectrum_fraction: float
    sweep: tuple[tuple[str, tuple[Scalar, ...]], ...]
    text: str
    normalized: str

    @property
    def sweep_dims(self) -> tuple[str, ...]:
        """Names of the sweep dimensions, in file order."""
        return tuple(name for name, _ in self.sweep)

    @property
    def sweep_shape(self) -> tuple[int, ...]:
        """Number of values along each sweep dimension."""
        return tuple(len(values) for _, values in self.sweep)

    def points(self) -> list[dict[str, Scalar]]:
        """All parameter points (outer product of the sweep), the last dimension fastest."""
        names = self.sweep_dims
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(values for _, values in self.sweep))
        ]

    def resolve(self, point: Mapping[str, Scalar]) -> tuple[ModelSpec, ProtocolSpec | None]:
        """Model and protocol with the swept keys set to ``point``'s values."""
        model_values: dict[str, Any] = {k: v for k, v in point.items() if k in SWEEPABLE["model"]}
        protocol_values: dict[str, Any] = {
            k: v for k, v in point.items() if k in SWEEPABLE["protocol"]
        }
        model = dataclasses.replace(self.model, **model_values)
        protocol = self.protocol
        if protocol is not None and protocol_values:
            protocol = dataclasses.replace(protocol, **protocol_values)
        return model, protocol

    def spec_hash(self) -> str:
        """SHA-256 of the normalized spec (comments, layout and description excluded)."""
        return hashlib.sha256(self.normalized.encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Parsing helpers
# ----------------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return type(value).__name__


class _Table:
    """One TOML table with its dotted name; typed getters raise ConfigError naming the key."""

    def __init__(self, data: Any, name: str, allowed: Sequence[str]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}] must be a table, got {_type_name(data)}")
        unknown = [key for key in data if key not in allowed]
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} in [{name}]; allowed: {', '.join(allowed)}"
            )
        self.data: dict[str, Any] = data
        self.name = name

    def key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def has(self, key: str) -> bool:
        return key in self.data

    def require(self, key: str, what: str) -> Any:
        if key not in self.data:
            raise ConfigError(f"missing required key {self.key(key)}: give {what}")
        return self.data[key]

    def string(
        self, key: str, default: str | None = None, *, choices: Sequence[str] | None = None
    ) -> str:
        value = self.data.get(key, default)
        if value is None:
            value = self.require(
                key, "a string" + (f" (one of {', '.join(choices)})" if choices else "")
            )
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(key)} must be a string, got {value!r}")
        if choices is not None and value not in choices:
            raise ConfigError(
                f"{self.key(key)} = {value!r} is not known; choose one of {', '.join(choices)}"
            )
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(key)} must be true or false, got {value!r}")
        return value


def _number(
    value: Any,
    dotted: str,
    *,
    integer: bool,
    minimum: float | None,
    maximum: float | None = None,
) -> Scalar:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{dotted} must be {kind}, got {value!r} ({_type_name(value)})")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{dotted} must be an integer, got {value!r}")
    if isinstance(value, int) and abs(value) > 2**63 - 1:
        raise ConfigError(f"{dotted} = {value} does not fit in 64 bits; give a smaller number")
    if not math.isfinite(value):
        raise ConfigError(f"{dotted} must be finite, got {value!r}; give a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{dotted} must be >= {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{dotted} must be <= {maximum:g}, got {value!r}")
    return int(value) if integer else float(value)


def _scalar(
    table: _Table,
    key: str,
    default: Scalar | None,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Scalar:
    if key not in table.data:
        if default is None:
            table.require(key, "an integer" if integer else "a number")
        assert default is not None
        return default
    return _number(
        table.data[key], table.key(key), integer=integer, minimum=minimum, maximum=maximum
    )


def _optional_scalar(
    table: _Table,
    key: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Scalar | None:
    if key not in table.data:
        return None
    return _number(
        table.data[key], table.key(key), integer=integer, minimum=minimum, maximum=maximum
    )


def _sweepable(
    table: _Table,
    key: str,
    default: Scalar | None,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> tuple[Scalar, ...]:
    """A number or a non-empty list of distinct numbers (a sweep dimension)."""
    value = table.data.get(key, default)
    if value is None:
        table.require(key, "an integer" if integer else "a number")
    check = functools.partial(_number, integer=integer, minimum=minimum, maximum=maximum)
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{table.key(key)} is an empty list; give at least one value")
        values = tuple(check(v, f"{table.key(key)}[{i}]") for i, v in enumerate(value))
        if len(set(values)) != len(values):
            raise ConfigError(f"{table.key(key)} repeats a value: {list(values)}; list each once")
        return values
    return (check(value, table.key(key)),)


def _string_list(table: _Table, key: str, default: Sequence[str]) -> tuple[str, ...]:
    value = table.data.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{table.key(key)} must be a string or a list of strings, got {value!r}")
    if not value:
        raise ConfigError(f"{table.key(key)} is an empty list; give at least one value")
    if len(set(value)) != len(value):
        raise ConfigError(f"{table.key(key)} repeats a value: {value}; list each once")
    return tuple(value)


def _int_list(table: _Table, key: str, *, minimum: int) -> tuple[int, ...]:
    value = table.data[key]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{table.key(key)} must be a non-empty list of integers, got {value!r}")
    out = tuple(
        int(_number(v, f"{table.key(key)}[{i}]", integer=True, minimum=minimum))
        for i, v in enumerate(value)
    )
    if len(set(out)) != len(out):
        raise ConfigError(f"{table.key(key)} repeats a value: {list(out)}; list each once")
    return out


# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------


def _parse_model(table: _Table, sweep: dict[str, tuple[Scalar, ...]]) -> ModelSpec:
    model_type = table.string("type", "xxz", choices=MODEL_TYPES)
    _Table(table.data, table.name, _MODEL_KEYS[model_type])
    lattice = table.string("lattice", "chain", choices=LATTICES)
    lx = ly = None
    if lattice == "square":
        lx = int(_scalar(table, "Lx", None, integer=True, minimum=1, maximum=MAX_SITES))
        ly = int(_scalar(table, "Ly", None, integer=True, minimum=1, maximum=MAX_SITES))
        if not 2 <= lx * ly <= MAX_SITES:
            raise ConfigError(
                f"model.Lx * model.Ly = {lx * ly} sites; a square lattice needs 2 to "
                f"{MAX_SITES} sites"
            )
        n_values: tuple[Scalar, ...] = (lx * ly,)
        if table.has("n"):
            given = _number(table.data["n"], table.key("n"), integer=True, minimum=1)
            if given != lx * ly:
                raise ConfigError(
                    f"model.n = {given} disagrees with Lx * Ly = {lx * ly}; leave n out for a "
                    "square lattice"
                )
    else:
        for key in ("Lx", "Ly"):
            if table.has(key):
                raise ConfigError(
                    f"{table.key(key)} is only used with lattice = 'square'; remove it"
                )
        n_values = _sweepable(table, "n", None, integer=True, minimum=2, maximum=MAX_SITES)
    coupling = functools.partial(_sweepable, table, minimum=-MAX_COUPLING, maximum=MAX_COUPLING)
    values: dict[str, tuple[Scalar, ...]] = {
        "n": n_values,
        "J": coupling("J", 1.0) if model_type == "xxz" else (0.0,),
        "Jz": coupling("Jz", 1.0),
        "W": _sweepable(table, "W", 0.0, minimum=0.0, maximum=MAX_COUPLING),
        "g": coupling("g", 1.0 if model_type == "ising" else 0.0),
    }
    for key in SWEEPABLE["model"]:
        if len(values[key]) > 1:
            sweep[key] = values[key]
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


def _parse_lbits(table: _Table | None, kind: str) -> LbitSpec:
    if table is None:
        return LbitSpec(LBIT_METHODS if kind == "lbit_locality" else ("overlap",))
    default = LBIT_METHODS if kind == "lbit_locality" else ("overlap",)
    methods = _string_list(table, "method", default)
    for method in methods:
        if method not in LBIT_METHODS:
            raise ConfigError(
                f"lbits.method = {method!r} is not known; choose one of {', '.join(LBIT_METHODS)}"
            )
    if kind != "lbit_locality" and len(methods) > 1:
        raise ConfigError(
            f"lbits.method lists {len(methods)} methods; a {kind} study uses one (a list of "
            "methods is for kind = 'lbit_locality')"
        )
    return LbitSpec(methods)


def _parse_pulses(table: _Table, default: Sequence[str], *, kind: str) -> tuple[str, ...]:
    from echo_lab.window import MAX_WINDOW_SITES

    pulses = _string_list(table, "pulses", default)
    for i, pulse in enumerate(pulses):
        try:
            family, _ = parse_pulse_spec(pulse)
        except ConfigError as exc:
            raise ConfigError(f"protocol.pulses[{i}]: {exc}") from None
        if family != "window":
            continue
        if kind != "echo":
            raise ConfigError(
                f"protocol.pulses[{i}] = {pulse!r}: window l-bit pulses are for echo studies; "
                "use 'lbit' or 'lbit:r' in a DEER study"
            )
        width = parse_window_spec(pulse)[0]
        if width > MAX_WINDOW_SITES:
            raise ConfigError(
                f"protocol.pulses[{i}] = {pulse!r}: window width {width} exceeds "
                f"{MAX_WINDOW_SITES} sites (the window is diagonalized exactly); use w <= "
                f"{MAX_WINDOW_SITES}"
            )
    return pulses


def _parse_protocol(
    table: _Table | None, kind: str, sweep: dict[str, tuple[Scalar, ...]]
) -> ProtocolSpec | None:
    if table is None:
        return (
            ProtocolSpec(sequence="fid", pulses=(), fid=False) if kind == "entanglement" else None
        )
    _Table(table.data, table.name, _PROTOCOL_KEYS[kind])
    probe: int | str = "center"
    if table.has("probe"):
        raw = table.data["probe"]
        if isinstance(raw, str):
            if raw != "center":
                raise ConfigError(f"protocol.probe must be 'center' or a site index, got {raw!r}")
        else:
            probe = int(_number(raw, "protocol.probe", integer=True, minimum=0))
    backgrounds = _string_list(table, "background", ["z-random"])
    for background in backgrounds:
        if background not in BACKGROUNDS:
            raise ConfigError(
                f"protocol.background = {background!r} is not known; choose one of "
                f"{', '.join(BACKGROUNDS)}"
            )
    angle_errors = _sweepable(table, "angle_error", 0.0, minimum=-1.0, maximum=1.0)
    n_pulses = _sweepable(table, "n_pulses", 4, integer=True, minimum=1, maximum=MAX_PULSES)
    for key, values in (("angle_error", angle_errors), ("n_pulses", n_pulses)):
        if len(values) > 1:
            sweep[key] = values
    spec = ProtocolSpec(
        sequence="fid",
        pulses=(),
        fid=False,
        probe=probe,
        backgrounds=backgrounds,
        n_pulses=int(n_pulses[0]),
        angle_error=float(angle_errors[0]),
    )
    if kind == "echo":
        spec = dataclasses.replace(
            spec,
            sequence=table.string("sequence", "hahn", choices=ECHO_SEQUENCES),
            pulses=_parse_pulses(table, ["pbit"], kind=kind),
            fid=table.boolean("fid", True),
        )
        if spec.sequence == "global" and any(
            parse_pulse_spec(p)[0] == "window" for p in spec.pulses
        ):
            raise ConfigError(
                "protocol.pulses: window l-bit pulses flip the probe only, not every site of "
                "protocol.sequence = 'global'; use 'hahn', 'cpmg' or 'xy4', or 'lbit' pulses"
            )
        if spec.sequence == "xy4" and any(int(k) % 4 for k in n_pulses):
            raise ConfigError(
                f"protocol.n_pulses = {list(n_pulses)}: XY-4 needs a multiple of 4 pulses"
            )
    elif kind in ("deer", "lbit_locality"):
        if table.has("partners") and table.has("partner_distances"):
            raise ConfigError(
                "protocol.partners and protocol.partner_distances are both given; keep one"
            )
        if table.has("partners"):
            spec = dataclasses.replace(spec, partners=_int_list(table, "partners", minimum=0))
        elif table.has("partner_distances"):
            distances = _int_list(table, "partner_distances", minimum=1)
            spec = dataclasses.replace(spec, partner_distances=distances)
        elif kind == "deer":
            table.require("partner_distances", "a list of partner distances, e.g. [1, 2, 3]")
        max_coupling = _optional_scalar(table, "max_coupling", minimum=0.0)
        if max_coupling == 0.0:
            raise ConfigError("protocol.max_coupling must be > 0 (or left out for no bound)")
        spec = dataclasses.replace(
            spec,
            sequence="deer",
            max_coupling=None if max_coupling is None else float(max_coupling),
            pulses=_parse_pulses(table, ["lbit"], kind=kind) if kind == "deer" else ("lbit",),
        )
    return spec


def _parse_times(table: _Table) -> tuple[float, ...]:
    if table.has("values"):
        for key in ("start", "stop", "num", "spacing"):
            if table.has(key):
                raise ConfigError(f"times.values and {table.key(key)} are both given; keep one")
        return _time_values(table.data["values"], table.key("values"))
    spacing = table.string("spacing", "log", choices=("log", "linear"))
    start = float(_scalar(table, "start", None, minimum=0.0, maximum=MAX_TIME))
    stop = float(_scalar(table, "stop", None, minimum=0.0, maximum=MAX_TIME))
    num = int(_scalar(table, "num", None, integer=True, minimum=0, maximum=MAX_TIMES))
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


def _time_values(raw: Any, dotted: str) -> tuple[float, ...]:
    """An explicit list of times: non-empty, finite, in [0, MAX_TIME], strictly increasing."""
    if not isinstance(raw, list):
        raise ConfigError(f"{dotted} must be a list of times, got {raw!r}")
    if not raw:
        raise ConfigError(f"{dotted} is empty: the time grid needs at least one time")
    if len(raw) > MAX_TIMES:
        raise ConfigError(f"{dotted} lists {len(raw)} times; at most {MAX_TIMES} are allowed")
    values = [
        float(_number(v, f"{dotted}[{i}]", integer=False, minimum=0.0, maximum=MAX_TIME))
        for i, v in enumerate(raw)
    ]
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigError(f"{dotted} must be strictly increasing; sort the list and drop repeats")
    return tuple(values)


def _parse_noise(data: Any, dotted: str) -> Any:
    """``[backend.noise]`` -> :class:`echo_lab.noise.NoiseSpec` (times in units of 1/J).

    Every field but ``backend`` (a Qiskit backend object, not expressible in TOML) may be set;
    ``static_dephasing_qubits`` is a list of sites, the rest are numbers.
    """
    from echo_lab.noise import NoiseSpec

    allowed = tuple(f.name for f in dataclasses.fields(NoiseSpec) if f.name != "backend")
    table = _Table(data, dotted, allowed)
    values: dict[str, Any] = {}
    for key, raw in table.data.items():
        if key == "static_dephasing_qubits":
            values[key] = _int_list(table, key, minimum=0)
        else:
            integer = key == "static_dephasing_points"
            values[key] = _number(raw, table.key(key), integer=integer, minimum=0.0)
    try:
        return NoiseSpec(**values)
    except ConfigError as exc:
        raise ConfigError(f"[{dotted}]: {exc}") from None


def _parse_options(raw: Any, dotted: str, backend: str) -> tuple[tuple[str, Any], ...]:
    """``options = {...}``: only the keyword arguments :data:`BACKEND_OPTIONS` lists, each of
    the listed TOML type (values are checked again when the backend is built)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{dotted} must be a table, got {raw!r}")
    accepted = BACKEND_OPTIONS[backend]
    for key, value in raw.items():
        if key not in accepted:
            raise ConfigError(
                f"{dotted}.{key} is not an option of backend {backend!r}; "
                + (f"allowed: {', '.join(accepted)}" if accepted else "it takes no options")
            )
        types = accepted[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{dotted}.{key} must be of type {wanted}, got {value!r}")
        if isinstance(value, float | int):
            _number(value, f"{dotted}.{key}", integer=isinstance(value, int), minimum=0.0)
        if key == "mps_options":
            mps = _Table(value, f"{dotted}.{key}", tuple(_MPS_OPTIONS))
            for option, (integer, minimum) in _MPS_OPTIONS.items():
                _optional_scalar(mps, option, integer=integer, minimum=minimum)
    return tuple(sorted(raw.items()))


def _check_trotter_steps(backend: BackendSpec, times: Sequence[float], dotted: str) -> None:
    """A Trotter backend must reach the longest time in at most MAX_TROTTER_STEPS steps."""
    if backend.name not in ("trotter-exact", "aer", "estimator") or not times:
        return
    dt = 0.05 if backend.dt is None else backend.dt
    steps = max(times) / dt
    if steps > MAX_TROTTER_STEPS:
        raise ConfigError(
            f"{dotted} = {dt:g} needs {steps:.3g} Trotter steps to reach t = {max(times):g} "
            f"(at most {MAX_TROTTER_STEPS:.0e}); use a larger dt or shorter times"
        )


def _parse_backend(table: _Table, *, name_key: str) -> BackendSpec:
    from echo_lab.backends import BACKEND_NAMES

    name = table.string(name_key, "exact", choices=BACKEND_NAMES)
    extra = tuple(key for key in table.data if key != name_key and key not in _CHECK_KEYS)
    for key in extra:
        if key not in BACKEND_KEYS[name]:
            allowed = BACKEND_KEYS[name]
            raise ConfigError(
                f"{table.key(key)} is not used by backend {name!r}; "
                + (f"allowed: {', '.join(allowed)}" if allowed else "it takes no options")
            )
    dt = _optional_scalar(table, "dt")
    if dt is not None and dt <= 0:
        raise ConfigError(f"{table.key('dt')} must be > 0, got {dt:g}; use a small positive step")
    order = _optional_scalar(table, "order", integer=True)
    if order is not None and order not in TROTTER_ORDERS:
        raise ConfigError(
            f"{table.key('order')} = {order} is not a Trotter order; choose 1, 2 or 4"
        )
    method = table.string("method", choices=AER_METHODS) if table.has("method") else None
    device = table.string("device", choices=AER_DEVICES) if table.has("device") else None
    shots = _optional_scalar(table, "shots", integer=True, minimum=1, maximum=1e9)
    noise = _parse_noise(table.data["noise"], table.key("noise")) if table.has("noise") else None
    options: tuple[tuple[str, Any], ...] = ()
    if table.has("options"):
        options = _parse_options(table.data["options"], table.key("options"), name)
    return BackendSpec(
        name=name,
        dt=None if dt is None else float(dt),
        order=None if order is None else int(order),
        method=method,
        device=device,
        shots=None if shots is None else int(shots),
        noise=noise,
        options=options,
    )


def _parse_check(data: Any, protocol: ProtocolSpec) -> CheckSpec:
    allowed = _CHECK_KEYS + tuple(sorted({k for keys in BACKEND_KEYS.values() for k in keys}))
    table = _Table(data, "check", allowed)
    table.require("backend", "the name of the backend to compare against, e.g. 'trotter-exact'")
    backend = _parse_backend(table, name_key="backend")
    raw_times = table.require("times", "a short list of total times, e.g. [1.0, 10.0]")
    times = _time_values(raw_times, table.key("times"))
    realizations = int(_scalar(table, "realizations", 1, integer=True, minimum=1))
    pulses = _string_list(table, "pulses", protocol.labels)
    for pulse in pulses:
        if pulse not in protocol.labels:
            raise ConfigError(
                f"check.pulses names {pulse!r}, which the study does not run; choose from "
                f"{', '.join(protocol.labels)}"
            )
    tolerance = _optional_scalar(table, "tolerance", minimum=0.0)
    return CheckSpec(
        backend=backend,
        times=times,
        realizations=realizations,
        pulses=pulses,
        tolerance=None if tolerance is None else float(tolerance),
    )


def _exact_limit(spec: StudySpec) -> tuple[int, str] | None:
    """The largest n the study's dense steps allow, and why; None without dense steps."""
    from echo_lab.backends.trotter_exact import MAX_TROTTER_EXACT_QUBITS
    from echo_lab.spectrum import MAX_EXACT_QUBITS

    names = {spec.backend.name} | ({spec.check.backend.name} if spec.check else set())
    limits: list[tuple[int, str]] = []
    if spec.kind == "level_statistics":
        conserving = spec.model.type == "xxz" and all(
            model.g == 0 for model, _ in map(spec.resolve, spec.points())
        )
        if conserving:
            limits.append((MAX_SECTOR_SITES, "level statistics diagonalize one dense sector"))
        else:
            limits.append(
                (MAX_EXACT_QUBITS, "level statistics without a conserved sigma^z are dense")
            )
    full_lbits = spec.kind in ("deer", "lbit_locality")
    if full_lbits:
        limits.append((MAX_EXACT_QUBITS, f"a {spec.kind} study builds dense l-bit operators"))
    if spec.protocol is not None and any(
        parse_pulse_spec(p)[0] == "lbit" for p in spec.protocol.pulses
    ):
        full_lbits = True
        limits.append((MAX_EXACT_QUBITS, "l-bit pulses need the dense eigenbasis"))
    if "range" in spec.lbits.methods and full_lbits:
        from echo_lab.lbits import MAX_RANGE_QUBITS

        limits.append((MAX_RANGE_QUBITS, "the 'range' l-bit assignment costs O(16^n)"))
    if spec.kind in ("echo", "entanglement") and "exact" in names:
        limits.append((MAX_EXACT_QUBITS, "the exact backend diagonalizes 2^n x 2^n matrices"))
    if "trotter-exact" in names:
        limits.append(
            (MAX_TROTTER_EXACT_QUBITS, "the trotter-exact backend diagonalizes a dense step")
        )
    return min(limits) if limits else None


def _check_sizes(spec: StudySpec) -> None:
    """Refuse chain lengths beyond the hard limits of the study's dense steps (any machine)."""
    limit = _exact_limit(spec)
    if limit is None:
        return
    largest = max(spec.resolve(point)[0].n for point in spec.points())
    maximum, reason = limit
    if largest > maximum:
        raise ConfigError(
            f"model.n = {largest} is too large: {reason}, which is limited to n <= {maximum}; "
            "use a shorter chain, or p-bit pulses with backend 'krylov' or 'aer' (statevector "
            "or matrix_product_state) for long chains"
        )


def _check_geometry(spec: StudySpec) -> None:
    """Probe, window radii and widths and partners must fit every chain length of the sweep."""
    from echo_lab.lbits import MAX_RANGE_QUBITS

    if spec.protocol is None:
        return
    for point in spec.points():
        model, protocol = spec.resolve(point)
        assert protocol is not None
        n = model.n
        lattice = model.lattice_object()
        probe = protocol.probe_site(lattice)
        if probe >= n:
            raise ConfigError(
                f"protocol.probe = {probe} is outside the chain 0..{n - 1} (n = {n}); use a "
                "smaller site index or 'center'"
            )
        for i, pulse in enumerate(protocol.pulses):
            family, radius = parse_pulse_spec(pulse)
            if family == "window":
                width = parse_window_spec(pulse)[0]
                if width > n:
                    raise ConfigError(
                        f"protocol.pulses[{i}] = {pulse!r}: window width {width} is larger than "
                        f"the chain of n = {n} sites; use w <= {n}"
                    )
                if width > MAX_RANGE_QUBITS and spec.lbits.method == "range":
                    raise ConfigError(
                        f"protocol.pulses[{i}] = {pulse!r}: lbits.method = 'range' costs "
                        f"O(16^w), limited to w <= {MAX_RANGE_QUBITS}; use a narrower window or "
                        "lbits.method = 'overlap'"
                    )
            elif radius is not None and radius > n - 1:
                raise ConfigError(
                    f"protocol.pulses: window radius {radius} of {pulse!r} is larger than the "
                    f"chain of n = {n} sites allows (at most {n - 1}); use 'lbit' for the whole "
                    "chain"
                )
        for q in protocol.partners:
            if q >= n or q == probe:
                raise ConfigError(
                    f"protocol.partners: site {q} must lie in 0..{n - 1} and differ from the "
                    f"probe {probe}"
                )
        protocol.partner_sites(lattice)


def _table_or_none(raw: dict[str, Any], name: str) -> _Table | None:
    return None if name not in raw else _Table(raw[name], name, _ALL_KEYS[name])


_ALL_KEYS: dict[str, tuple[str, ...]] = {
    "study": _STUDY_KEYS,
    "model": tuple(dict.fromkeys(_MODEL_KEYS["xxz"] + _MODEL_KEYS["ising"])),
    "lbits": ("method",),
    "protocol": tuple(dict.fromkeys(k for keys in _PROTOCOL_KEYS.values() for k in keys)),
    "times": _TIMES_KEYS,
    "spectrum": ("fraction",),
    "backend": ("name", *dict.fromkeys(k for keys in BACKEND_KEYS.values() for k in keys)),
}


def _normalize(value: Any) -> Any:
    """Plain JSON data for hashing (dataclasses, tuples and NoiseSpec objects flattened)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _normalize(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    return value


def parse_spec(text: str, *, source: str = "<string>") -> StudySpec:
    """Validate study TOML ``text``; ``source`` names it in error messages.

    Cheap (no numerics beyond building the time grid and small lattices). Raises
    :class:`ConfigError` for any invalid input, naming the dotted key and the fix.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{source} is not valid TOML: {exc}; fix the syntax at that line"
        ) from None
    study = _table_or_none(raw, "study")
    if study is None:
        raise ConfigError(f"{source} has no [study] table; add one with name and kind")
    kind = study.string("kind", choices=KINDS)
    required, optional = _SECTIONS[kind]
    for section in raw:
        if section not in required + optional:
            allowed = ", ".join(f"[{s}]" for s in required + optional)
            raise ConfigError(f"unknown section [{section}] for a {kind} study; allowed: {allowed}")
    for section in required:
        if section not in raw:
            raise ConfigError(f"missing required section [{section}] for a {kind} study")
    name = study.string("name")
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"study.name = {name!r} must be a plain file name of at most 100 letters, digits, "
            "'_', '-' and '.', starting with a letter or digit (it names the output files)"
        )
    realizations = int(
        _scalar(study, "realizations", 1, integer=True, minimum=1, maximum=MAX_UNITS)
    )
    seed = int(_scalar(study, "seed", 0, integer=True, minimum=0, maximum=MAX_SEED))
    sweep: dict[str, tuple[Scalar, ...]] = {}
    model_table = _table_or_none(raw, "model")
    assert model_table is not None
    model = _parse_model(model_table, sweep)
    lbits = _parse_lbits(_table_or_none(raw, "lbits"), kind)
    protocol = _parse_protocol(_table_or_none(raw, "protocol"), kind, sweep)
    times_table = _table_or_none(raw, "times")
    times = () if times_table is None else _parse_times(times_table)
    backend_table = _table_or_none(raw, "backend")
    backend = (
        BackendSpec() if backend_table is None else _parse_backend(backend_table, name_key="name")
    )
    check = None
    if "check" in raw:
        assert protocol is not None
        check = _parse_check(raw["check"], protocol)
    if kind == "lbit_locality" and protocol is not None:
        if not (protocol.partners or protocol.partner_distances):
            raise ConfigError(
                "[protocol] of an lbit_locality study is for the DEER estimate of xi: give "
                "protocol.partner_distances, or remove the section"
            )
        if times_table is None:
            raise ConfigError("the DEER estimate of xi needs a [times] section")
    elif kind == "lbit_locality" and times_table is not None:
        raise ConfigError("[times] of an lbit_locality study needs [protocol] partner_distances")
    fraction = 1.0 / 3.0
    spectrum_table = _table_or_none(raw, "spectrum")
    if spectrum_table is not None:
        fraction = float(_scalar(spectrum_table, "fraction", fraction, minimum=0.0))
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(
                f"spectrum.fraction = {fraction:g} must lie in (0, 1]: the share of the middle "
                "of the spectrum whose spacing ratios are averaged"
            )
    points = math.prod(len(values) for values in sweep.values())
    if points * realizations > MAX_UNITS:
        raise ConfigError(
            f"the study has {points} parameter points x {realizations} realizations = "
            f"{points * realizations} work units (at most {MAX_UNITS}); shorten the sweep lists "
            "or study.realizations"
        )
    _check_trotter_steps(backend, times, "backend.dt")
    if check is not None:
        _check_trotter_steps(check.backend, check.times, "check.dt")
    spec = StudySpec(
        name=name,
        kind=kind,
        description=study.string("description", ""),
        realizations=realizations,
        seed=seed,
        model=model,
        lbits=lbits,
        protocol=protocol,
        times=times,
        backend=backend,
        check=check,
        spectrum_fraction=fraction,
        sweep=tuple(sweep.items()),
        text=text,
        normalized="",
    )
    _check_sizes(spec)
    _check_geometry(spec)
    content = _normalize(dataclasses.replace(spec, text="", description=""))
    normalized = json.dumps(content, sort_keys=True, default=repr)
    return dataclasses.replace(spec, normalized=normalized)


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file (see :func:`parse_spec`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"study file {path} does not exist; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"study file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read study file {path}: {exc}") from None
    return parse_spec(text, source=str(path))
