"""What a study kind is, and the steps every kind's work unit shares.

A **study kind** (one module under :mod:`echo_lab.study.kinds`, listed once in its registry) owns
everything that differs between kinds; the loader (:mod:`echo_lab.study.spec`), the runner
(:mod:`echo_lab.study.runner`), the figures (:mod:`echo_lab.study.figures`) and the study-file
reference (:mod:`echo_lab.study.reference`) only call it through the base class
:class:`StudyKind`, which every kind subclasses:

* its TOML sections (``required``, ``optional``), the keys of each (``keys``), the keys it sweeps
  (``sweepable``) and their descriptions (``key_docs``), and :meth:`StudyKind.parse`, which turns
  them into the kind's typed, frozen settings;
* :meth:`StudyKind.check`, its hard limits (the largest chain its dense steps allow, geometry);
* :meth:`StudyKind.backends` and :meth:`StudyKind.estimate_unit_bytes`, what the runner builds
  and checks against the memory before any unit runs;
* :meth:`StudyKind.compute_unit`, one work unit (one parameter point, one disorder realization)
  as an ``xarray.Dataset``: pure numerics, no I/O;
* :meth:`StudyKind.figures`, its figures of an assembled result, as ``matplotlib`` Figures;
* the optional hooks, with defaults on the base class: :meth:`StudyKind.summary` (Markdown
  findings; None) and :meth:`StudyKind.combine` (results of several files as one, for kinds that
  set ``combines``; a ConfigError otherwise).

Seeding (docs/pages/conventions.md section 2): realization k of a study with base seed s and R
realizations draws its fields from ``numpy.random.default_rng(c_k)`` with ``c_k =
models.disorder_seeds(s, R)[k]`` (the same c_k at every parameter point, so fields at different
W differ by the factor W only), and its random background state from ``default_rng(b_k)`` with
``b_k = c_k.spawn(1)[0]`` (:func:`realization_seeds`), a fresh generator per background.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from echo_lab.backends.options import RULES, BackendSpec, estimate_state_bytes
from echo_lab.dynamics.pulses import DENSE_LBIT_QUBITS
from echo_lab.errors import ConfigError
from echo_lab.lbits import MAX_RANGE_QUBITS
from echo_lab.lbits.compiled import compiled_lbits
from echo_lab.lbits.source import LBitSource
from echo_lab.lbits.window import window_lbits
from echo_lab.physics.models import Lattice, RandomFieldXXZ, disorder_seeds
from echo_lab.physics.spectrum import MAX_EXACT_QUBITS, MAX_SECTOR_EXACT_QUBITS
from echo_lab.physics.states import ProductState, probe_state
from echo_lab.protocols.families import CIRCUIT, COMPILED, EXACT, WINDOW, PulseSpec, SourceNeed
from echo_lab.resources import dense_operator_bytes
from echo_lab.study.keydocs import KeyDoc
from echo_lab.study.sections import SWEEPABLE, ModelSpec, ProtocolSpec
from echo_lab.tables import Scalar, Table
from echo_lab.timing import stage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from echo_lab.study.spec import StudySpec

__all__ = [
    "DEFAULT_SWEEPABLE",
    "SEEDING",
    "TIME_ATTRS",
    "KindSettings",
    "SizeLimit",
    "StudyKind",
    "UnitSetup",
    "backend_limits",
    "backend_state_bytes",
    "check_probe",
    "check_pulse_geometry",
    "conserves_magnetization",
    "construct_circuit_lbits",
    "construct_lbits",
    "dense_step_bytes",
    "eigenbasis_limit",
    "initial_states",
    "pulse_source",
    "realization_seeds",
    "refuse_larger",
    "setup_unit",
    "unit_dataset",
    "unit_sources",
]

TIME_ATTRS = {"units": "1/J", "long_name": "total evolution time"}

SEEDING = (
    "fields of realization k: numpy.random.default_rng(c_k), c_k = "
    "numpy.random.SeedSequence(seed).spawn(realizations)[k]; background state: "
    "default_rng(c_k.spawn(1)[0])"
)

#: A hard limit on the chain length: (largest n, why).
SizeLimit = tuple[int, str]

#: The sweepable keys of a kind that declares none: the numbers of [model].
DEFAULT_SWEEPABLE: Mapping[str, tuple[str, ...]] = {"model": SWEEPABLE["model"]}


@dataclass(frozen=True)
class KindSettings:
    """Base of every kind's typed settings; :meth:`at` resolves the swept protocol keys."""

    def at(self, point: Mapping[str, Scalar]) -> KindSettings:
        """These settings at one parameter point (protocol sweeps applied)."""
        protocol = getattr(self, "protocol", None)
        values = {k: v for k, v in point.items() if k in SWEEPABLE["protocol"]}
        if protocol is None or not values:
            return self
        return dataclasses.replace(self, protocol=protocol.at(values))  # type: ignore[call-arg]


class StudyKind(abc.ABC):
    """One study kind (module docstring): subclass it, set the class attributes and implement the
    abstract methods; the optional hooks have the defaults documented on each.

    Class attributes:

    * ``name``: the kind's name (``study.kind``);
    * ``required``, ``optional``: TOML sections besides [study] and [model] a file of this kind
      must / may hold;
    * ``keys``: allowed keys of the sections whose keys depend on the kind (e.g. [protocol]);
      sections not named here take the shared keys of the loader;
    * ``sweepable``: the keys, by section, whose list values become sweep dimensions in a file of
      this kind (default :data:`DEFAULT_SWEEPABLE`: the model's); the loader refuses a list for
      any other key the kind's parser would sweep;
    * ``key_docs``: the documentation of the kind's own keys, by section (:class:`KeyDoc`, shown
      by :func:`echo_lab.study.reference.study_file_reference`); it replaces the shared
      description of a key where the kind reads it differently;
    * ``combines``: whether results of several files of this kind plot together
      (:meth:`combine`; default False).
    """

    name: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    keys: Mapping[str, tuple[str, ...]] = {}
    sweepable: Mapping[str, tuple[str, ...]] = DEFAULT_SWEEPABLE
    key_docs: Mapping[str, Mapping[str, KeyDoc]] = {}
    combines: bool = False

    @property
    def sweep_keys(self) -> tuple[str, ...]:
        """Every key of :attr:`sweepable` (the names of the sweep dimensions it allows)."""
        return tuple(key for keys in self.sweepable.values() for key in keys)

    @abc.abstractmethod
    def parse(
        self, tables: Mapping[str, Table], *, sweep: dict[str, tuple[Scalar, ...]]
    ) -> KindSettings:
        """The kind's settings from its sections (present ones only); swept keys go to sweep."""

    @abc.abstractmethod
    def check(self, spec: StudySpec) -> None:
        """Refuse, with a ConfigError, what no machine can run (sizes, geometry)."""

    def backends(self, spec: StudySpec) -> dict[str, BackendSpec]:
        """The backends a unit builds, by the table that names them (``"backend"``, ...);
        default: none (the kind computes without a backend of the ``[backend]`` table)."""
        return {}

    @abc.abstractmethod
    def estimate_unit_bytes(self, spec: StudySpec) -> int:
        """Peak memory of one work unit at the largest n of the sweep, bytes."""

    @abc.abstractmethod
    def compute_unit(
        self, spec: StudySpec, point: Mapping[str, Scalar], realization: int
    ) -> xr.Dataset:
        """One work unit: its variables, and ``fields`` over ``site``."""

    @abc.abstractmethod
    def figures(self, ds: xr.Dataset) -> dict[str, Figure]:
        """The kind's figures of an assembled result, by name (``<study>_<name>.png``)."""

    def combine(self, datasets: Sequence[xr.Dataset]) -> xr.Dataset:
        """Results of several files of this kind as one Dataset (kinds with ``combines``).

        Default: a ConfigError saying that the kind does not combine.
        """
        raise ConfigError(
            f"results of kind {self.name!r} do not combine; plot each file on its own"
        )

    def summary(self, ds: xr.Dataset) -> str | None:
        """Markdown findings of an assembled result (``<name>_summary.md``), or None (the
        default) for a kind without them."""
        return None


# ----------------------------------------------------------------------------------------------
# Limits shared by the kinds
# ----------------------------------------------------------------------------------------------


def conserves_magnetization(spec: StudySpec) -> bool:
    """Whether the model of every parameter point conserves the total sigma^z."""
    return all(spec.resolve(point)[0].conserves_magnetization for point in spec.points())


def eigenbasis_limit(spec: StudySpec, what: str) -> SizeLimit:
    """The size limit of a full eigenbasis needed by ``what``: sector by sector
    (``MAX_SECTOR_EXACT_QUBITS``) when the model conserves the total sigma^z, else dense."""
    if conserves_magnetization(spec):
        return MAX_SECTOR_EXACT_QUBITS, f"{what} diagonalize every S^z sector"
    return MAX_EXACT_QUBITS, f"{what} need the dense eigenbasis"


def backend_limits(spec: StudySpec, backends: Mapping[str, BackendSpec]) -> list[SizeLimit]:
    """The size limits of the dense backends among ``backends`` (sector by sector where the
    backend can and the model conserves the total sigma^z)."""
    limits = []
    sectors = conserves_magnetization(spec)
    for backend in backends.values():
        rules = RULES[backend.name]
        if sectors and rules.max_sector_qubits is not None:
            limits.append((rules.max_sector_qubits, f"{rules.limit_reason} sector by sector"))
        elif rules.max_qubits is not None:
            limits.append((rules.max_qubits, rules.limit_reason))
    return limits


def dense_step_bytes(spec: StudySpec) -> int:
    """Memory of the dense steps of a unit (l-bits, an eigenbasis) at the largest n: eight
    dense 2^n x 2^n matrices where the l-bit operators are dense (n <= DENSE_LBIT_QUBITS: H, V,
    tau^x, tau^y, a Pauli-transform buffer, work copies), else twice the sector-by-sector l-bit
    construction (:func:`echo_lab.lbits.estimate_bytes`: eigenvector blocks and their work)."""
    from echo_lab import lbits

    model = spec.largest_model()
    if model.n <= DENSE_LBIT_QUBITS:
        return 8 * dense_operator_bytes(model.n)
    return int(2 * lbits.estimate_bytes(model.build(seed=0).hamiltonian()))


def refuse_larger(spec: StudySpec, limits: Sequence[SizeLimit]) -> None:
    """ConfigError when the largest n of the sweep exceeds the tightest of ``limits``."""
    if not limits:
        return
    largest = spec.largest_model().n
    maximum, reason = min(limits)
    if largest > maximum:
        raise ConfigError(
            f"model.n = {largest} is too large: {reason}, which is limited to n <= {maximum}; "
            "use a shorter chain, or p-bit pulses with backend 'krylov' or 'aer' (statevector "
            "or matrix_product_state) for long chains"
        )


def backend_state_bytes(
    spec: StudySpec,
    backends: Mapping[str, BackendSpec],
    *,
    n_times: int = 1,
    saved_states: int = 0,
) -> int:
    """Memory of the states of ``backends`` at the largest n of the sweep, running ``n_times``
    total times (they add up)."""
    hamiltonian = spec.largest_model().build(seed=0).hamiltonian()
    return sum(
        estimate_state_bytes(backend, hamiltonian, n_times=n_times, saved_states=saved_states)
        for backend in backends.values()
    )


def check_probe(spec: StudySpec) -> None:
    """The probe and the partners of every parameter point must lie on its lattice."""
    for point in spec.points():
        model, settings = spec.resolve(point)
        protocol: ProtocolSpec = settings.protocol
        n = model.n
        lattice = model.lattice_object()
        probe = protocol.probe_site(lattice)
        if probe >= n:
            raise ConfigError(
                f"protocol.probe = {probe} is outside the chain 0..{n - 1} (n = {n}); use a "
                "smaller site index or 'center'"
            )
        for q in protocol.partners:
            if q >= n or q == probe:
                raise ConfigError(
                    f"protocol.partners: site {q} must lie in 0..{n - 1} and differ from the "
                    f"probe {probe}"
                )
        protocol.partner_sites(lattice)


def check_pulse_geometry(spec: StudySpec) -> None:
    """Every pulse must fit every chain length of the sweep (its family's
    :attr:`~echo_lab.protocols.families.PulseFamily.check_chain`: radius < n, width <= n), and a
    window built with the 'range' assignment may have at most MAX_RANGE_QUBITS sites."""
    settings: Any = spec.settings
    for point in spec.points():
        n = spec.resolve(point)[0].n
        for i, pulse in enumerate(settings.protocol.pulses):
            try:
                pulse.pulse_family.check_chain(pulse, n)
            except ConfigError as exc:
                raise ConfigError(f"protocol.pulses[{i}] = {pulse.label!r}: {exc}") from None
            need = pulse.source_need
            width = None if need is None else need.width
            if width is not None and width > MAX_RANGE_QUBITS and settings.lbits.method == "range":
                raise ConfigError(
                    f"protocol.pulses[{i}] = {pulse.label!r}: lbits.method = 'range' costs "
                    f"O(16^w), limited to w <= {MAX_RANGE_QUBITS}; use a narrower window or "
                    "lbits.method = 'overlap'"
                )


# ----------------------------------------------------------------------------------------------
# One work unit
# ----------------------------------------------------------------------------------------------


def realization_seeds(
    spec: StudySpec, realization: int
) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """``(c_k, b_k)``: the seeds of realization k's fields and of its background state.

    ``c_k = models.disorder_seeds(spec.seed, spec.realizations)[k]`` and
    ``b_k = c_k.spawn(1)[0]`` (module docstring).
    """
    if not 0 <= realization < spec.realizations:
        raise ConfigError(
            f"realization {realization} is outside 0..{spec.realizations - 1} of study "
            f"{spec.name!r}"
        )
    fields_seed = disorder_seeds(spec.seed, spec.realizations)[realization]
    (state_seed,) = fields_seed.spawn(1)
    return fields_seed, state_seed


@dataclass
class UnitSetup:
    """The model of one unit (fields drawn), its settings at the point and its state seed."""

    model_spec: ModelSpec
    settings: Any
    model: RandomFieldXXZ
    state_seed: np.random.SeedSequence

    @property
    def n(self) -> int:
        return self.model.n

    @property
    def lattice(self) -> Lattice:
        return self.model.lattice


def setup_unit(spec: StudySpec, point: Mapping[str, Scalar], realization: int) -> UnitSetup:
    """Model (fields of realization k) and settings of ``spec`` at ``point``."""
    model_spec, settings = spec.resolve(point)
    fields_seed, state_seed = realization_seeds(spec, realization)
    return UnitSetup(model_spec, settings, model_spec.build(seed=fields_seed), state_seed)


def construct_lbits(setup: UnitSetup, method: str) -> Any:
    """l-bits of the unit's Hamiltonian; its block-by-block diagonalization is reused by the
    exact backend through ``lb.eigensystem``."""
    from echo_lab import lbits

    with stage("l-bit assignment"):
        return lbits.construct(setup.model.hamiltonian(), method=method, lattice=setup.lattice)


def construct_circuit_lbits(setup: UnitSetup, lbits: Any) -> Any:
    """Circuit l-bits of the unit's Hamiltonian with the options of ``[lbits]``
    (:meth:`~echo_lab.study.sections.LbitSpec.circuit_options`)."""
    from echo_lab import lbits as lbit_module

    with stage("l-bit assignment"):
        return lbit_module.construct(
            setup.model.hamiltonian(), method="circuit", **lbits.circuit_options()
        )


def unit_sources(
    setup: UnitSetup,
    probe: int,
    pulses: Sequence[PulseSpec | None],
    lbits: Any,
    *,
    exact: LBitSource | None = None,
) -> dict[SourceNeed, LBitSource]:
    """The l-bit sources that ``pulses`` need (each family's declared
    :attr:`~echo_lab.protocols.families.PulseSpec.source_need`), each built once: the l-bits of
    the chain by ``lbits.method`` (or ``exact`` when given), the circuit l-bits with the options
    of ``[lbits]``, the window l-bits of ``probe`` for each width and its compiled l-bit for
    each support (window and layers from ``[lbits]``)."""
    sources: dict[SourceNeed, LBitSource] = {}
    for pulse in pulses:
        need = None if pulse is None else pulse.source_need
        if need is None or need in sources:
            continue
        if need.kind == EXACT:
            sources[need] = exact if exact is not None else construct_lbits(setup, lbits.method)
        elif need.kind == CIRCUIT:
            sources[need] = construct_circuit_lbits(setup, lbits)
        elif need.kind == WINDOW and need.width is not None:
            with stage("l-bit assignment"):
                sources[need] = window_lbits(
                    setup.model, probe, width=need.width, method=lbits.method
                )
        elif need.kind == COMPILED and need.width is not None:
            with stage("l-bit assignment"):
                sources[need] = compiled_lbits(
                    setup.model, probe, support=need.width, **lbits.compiled_options()
                )
        else:
            raise ConfigError(f"no study builds l-bit sources of kind {need.kind!r}")
    return sources


def pulse_source(
    pulse: PulseSpec | None, sources: Mapping[SourceNeed, LBitSource]
) -> LBitSource | None:
    """The source of ``sources`` that ``pulse`` is built from (None for a pulse without one)."""
    need = None if pulse is None else pulse.source_need
    return None if need is None else sources.get(need)


def initial_states(
    setup: UnitSetup, probe: int, backgrounds: Sequence[str]
) -> dict[str, ProductState]:
    """The initial state of each background (a fresh generator from b_k for each)."""
    return {
        background: probe_state(
            setup.n, probe, background=background, rng=np.random.default_rng(setup.state_seed)
        )
        for background in backgrounds
    }


def unit_dataset(
    data_vars: Mapping[str, Any], coords: Mapping[str, Any], setup: UnitSetup
) -> xr.Dataset:
    """A unit's Dataset with the realization's ``fields`` (site) and the time attributes."""
    ds = xr.Dataset(dict(data_vars), coords=dict(coords))
    ds["fields"] = (("site",), np.asarray(setup.model.fields, dtype=float))
    ds["fields"].attrs = {"long_name": "random field h_i", "units": "J"}
    if "time" in ds.coords:
        ds["time"].attrs = dict(TIME_ATTRS)
    return ds
