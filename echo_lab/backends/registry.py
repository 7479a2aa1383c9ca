"""The backend registry: every backend echo_lab can build, declared once.

A backend is one :class:`BackendEntry`: its name, a lazy factory (a ``"module:attribute"`` path,
imported only when the backend is built, so optional dependencies stay optional), its
:class:`BackendRules` (the ``[backend]`` keys and ``options`` it takes, whether it holds dense
2^n x 2^n matrices, its largest chain), its memory estimate, whether it holds a state of its own
whose memory a study must check, and a one-line description. Everything else reads the
registry: :func:`get_backend` builds a backend by name, the ``[backend]`` table
(:mod:`echo_lab.backends.options`) takes its names, keys and options from it, the study runner
(:func:`echo_lab.study.runner.check_resources`) its limits, memory estimates and size checks, and
the backend lists of the docs are generated from it (:func:`describe_backends`).

Adding a backend is one module implementing :class:`~echo_lab.backends.base.Backend` and one
:func:`register_backend` call (or one line in :data:`BUILTIN_BACKENDS` for a backend of the
package)::

    register_backend(BackendEntry(
        name="dense-expm",
        factory="my_package.toy:DenseExpmBackend",
        rules=BackendRules(keys=(), options={}, dense=True, max_qubits=10,
                           limit_reason="dense-expm exponentiates 2^n x 2^n matrices"),
        description="expm of the dense Hamiltonian",
    ))

after which ``[backend] name = "dense-expm"`` runs in a study file. A ``[backend]`` table can hold
only the keys of :data:`TABLE_KEYS` (a backend's own settings go to ``options``). The registry
lives in each process: a study run on Dask workers (``--workers``, ``--scheduler``) needs the
registration in a module every worker imports, not only in the process that submits it.

A backend that truncates a matrix product state declares in :data:`BOND_REFINEMENTS` how its run
is refined for the truncation estimate of a study (bond doubling,
:mod:`echo_lab.study.accuracy`): a function from its spec to the spec with twice the
bond-dimension cap and a truncation threshold 100 times smaller, or None when the spec does not
truncate (Aer without ``method = "matrix_product_state"``). :func:`refined_backend` reads it.

This module imports no simulator and nothing of the layers above the backends (the device backend
of :mod:`echo_lab.hardware` is named by a path string).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from echo_lab.backends.base import Backend
from echo_lab.backends.memory import (
    aer_state_bytes,
    estimator_state_bytes,
    krylov_state_bytes,
    qsim_state_bytes,
    quimb_state_bytes,
)
from echo_lab.errors import ConfigError
from echo_lab.physics.spectrum import MAX_EXACT_QUBITS, MAX_SECTOR_EXACT_QUBITS

if TYPE_CHECKING:
    from qiskit.quantum_info import SparsePauliOp

    from echo_lab.backends.options import BackendSpec

__all__ = [
    "AER_DEFAULT_TRUNCATION_THRESHOLD",
    "BOND_REFINEMENTS",
    "BUILTIN_BACKENDS",
    "MAX_TROTTER_EXACT_QUBITS",
    "QUIMB_DEFAULT_CUTOFF",
    "RULES",
    "TABLE_KEYS",
    "BackendEntry",
    "BackendRules",
    "available_backends",
    "backend_entries",
    "backend_entry",
    "backend_names",
    "describe_backends",
    "get_backend",
    "refined_backend",
    "register_backend",
    "registered_backends",
    "unregister_backend",
]

#: Every key a ``[backend]`` table may hold besides ``name`` (the fields of
#: :class:`~echo_lab.backends.options.BackendSpec`); a backend takes a subset of them.
TABLE_KEYS = ("dt", "order", "method", "device", "shots", "noise", "options")

#: Largest n of the trotter-exact backend (its step unitary is a dense 4^n matrix: 256 MiB at 12).
MAX_TROTTER_EXACT_QUBITS = 12

#: ``(spec, hamiltonian, *, n_times, saved_states) -> bytes``: the memory of a backend's state.
MemoryEstimate = Callable[..., int]
#: ``(backend, hamiltonian) -> None``: ConfigError when a built backend cannot run that many qubits.
FitCheck = Callable[[Any, "SparsePauliOp"], None]


@dataclass(frozen=True)
class BackendRules:
    """What one backend takes: ``[backend]`` keys besides ``name``, ``options`` (name -> TOML
    types), whether it holds dense 2^n x 2^n matrices, its largest n (None: memory decides) and
    why, and its largest n for Hamiltonians it treats sector by sector."""

    keys: tuple[str, ...]
    options: dict[str, tuple[type, ...]]
    dense: bool = False
    max_qubits: int | None = None
    limit_reason: str = ""
    #: Largest n when H conserves the total sigma^z and the backend works sector by sector.
    max_sector_qubits: int | None = None

    @property
    def trotter(self) -> bool:
        """Whether the backend runs Trotter circuits (takes ``dt`` and ``order``)."""
        return "dt" in self.keys


@dataclass(frozen=True)
class BackendEntry:
    """One backend of the registry.

    ``factory`` builds it from keyword options: a ``"module:attribute"`` path imported when the
    backend is first built (or the callable itself). ``memory`` estimates its state
    (:data:`MemoryEstimate`, a callable or a path; None: the backend holds nothing beyond the
    dense matrices a study counts itself, 0 bytes). ``holds_state``: it holds a state of its own
    that memory limits (a refusal for memory then advises the long-chain route). ``in_study_files``:
    a ``[backend]`` table may name it (the device backend is built from ``[devices]`` instead).
    ``eigensystem``: it reuses the eigensystem of an l-bit construction (keyword
    ``eigensystem``). ``fits`` (:data:`FitCheck`, a callable or a path): checks a built backend
    against the largest Hamiltonian of a study before any unit runs (a device's qubit count).
    """

    name: str
    factory: str | Callable[..., Backend]
    rules: BackendRules
    description: str
    memory: str | MemoryEstimate | None = None
    holds_state: bool = False
    in_study_files: bool = True
    eigensystem: bool = False
    fits: str | FitCheck | None = None
    requires: tuple[str, ...] = ()

    def available(self) -> bool:
        """Whether every module of ``requires`` can be imported (found, not imported: cheap)."""
        return all(importlib.util.find_spec(module) is not None for module in self.requires)

    def build(self, **options: Any) -> Backend:
        """The backend, built with ``options`` (imports its module on the first call)."""
        factory = _resolve(self.factory)
        backend: Backend = factory(**options)
        return backend

    def state_bytes(
        self,
        spec: BackendSpec,
        hamiltonian: SparsePauliOp,
        *,
        n_times: int = 1,
        saved_states: int = 0,
    ) -> int:
        """Memory of the state it holds while it runs ``hamiltonian``, bytes (``memory``)."""
        if self.memory is None:
            return 0
        estimate = _resolve(self.memory)
        return int(estimate(spec, hamiltonian, n_times=n_times, saved_states=saved_states))

    def check_fits(self, backend: Backend, hamiltonian: SparsePauliOp) -> None:
        """ConfigError when ``backend`` (built from this entry) cannot run ``hamiltonian``."""
        if self.fits is not None:
            _resolve(self.fits)(backend, hamiltonian)


def _resolve(target: Any) -> Any:
    """A ``"module:attribute"`` path imported (attributes may be dotted), or ``target`` itself."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


_TROTTER_OPTIONS = ("dt", "order", "options")

#: The backends of the package, in the order the docs list them.
BUILTIN_BACKENDS: tuple[BackendEntry, ...] = (
    BackendEntry(
        name="exact",
        factory="echo_lab.backends.exact:ExactBackend",
        rules=BackendRules(
            (),
            {},
            dense=True,
            max_qubits=MAX_EXACT_QUBITS,
            limit_reason="the exact backend diagonalizes 2^n x 2^n matrices",
            max_sector_qubits=MAX_SECTOR_EXACT_QUBITS,
        ),
        description="the eigenbasis of H, sector by sector when H conserves the total sigma^z",
        eigensystem=True,
    ),
    BackendEntry(
        name="krylov",
        factory="echo_lab.backends.krylov:KrylovBackend",
        rules=BackendRules(("options",), {"threads": (int,), "tolerance": (float,)}),
        description="Chebyshev propagation on the touched S^z sectors: sparse, for long chains",
        memory=krylov_state_bytes,
        holds_state=True,
    ),
    BackendEntry(
        name="trotter-exact",
        factory="echo_lab.backends.trotter_exact:TrotterExactBackend",
        rules=BackendRules(
            _TROTTER_OPTIONS,
            {},
            dense=True,
            max_qubits=MAX_TROTTER_EXACT_QUBITS,
            limit_reason="the trotter-exact backend diagonalizes a dense step",
        ),
        description="the Trotter circuits' step unitary, diagonalized: exact Trotter dynamics",
    ),
    BackendEntry(
        name="aer",
        factory="echo_lab.backends.aer:AerBackend",
        rules=BackendRules(
            ("dt", "order", "method", "device", "shots", "noise", "options"),
            {"precision": (str,), "mps_options": (dict,), "seed_simulator": (int,)},
        ),
        description=(
            "Qiskit Aer: statevector (CPU or GPU), matrix product state, density matrix with noise"
        ),
        memory=aer_state_bytes,
        holds_state=True,
        requires=("qiskit_aer",),
    ),
    BackendEntry(
        name="estimator",
        factory="echo_lab.backends.estimator:EstimatorBackend",
        rules=BackendRules(_TROTTER_OPTIONS, {"precision": (int, float)}),
        description="the Trotter circuits on any Qiskit EstimatorV2, Aer's by default",
        memory=estimator_state_bytes,
        holds_state=True,
    ),
    BackendEntry(
        name="qsim",
        factory="echo_lab.backends.qsim:QsimBackend",
        rules=BackendRules(_TROTTER_OPTIONS, {"threads": (int,), "fused_gate_size": (int,)}),
        description=(
            "the Trotter circuits on Google's qsim in single precision: the fastest statevector "
            "engine on CPU; the cpu extra"
        ),
        memory=qsim_state_bytes,
        holds_state=True,
        requires=("qsimcirq", "cirq"),
    ),
    BackendEntry(
        name="quimb",
        factory="echo_lab.backends.quimb_mps:QuimbMPSBackend",
        rules=BackendRules(
            _TROTTER_OPTIONS, {"max_bond": (int,), "cutoff": (int, float), "threads": (int,)}
        ),
        description=(
            "the Trotter circuits on a truncated quimb MPS (TEBD): long chains that need a "
            "large bond dimension (chi >= 64); reports the truncation budget; the [mps] extra"
        ),
        memory=quimb_state_bytes,
        holds_state=True,
        requires=("quimb",),
    ),
    BackendEntry(
        name="device",
        factory="echo_lab.hardware.backend:DeviceBackend",
        rules=BackendRules(
            ("dt", "order", "method", "device", "shots", "options"),
            {
                "mitigation": (object,),
                "layout": (list, tuple),
                "two_qubit_error_scale": (int, float),
                "fractional_gates": (bool,),
                "pauli_noise": (bool,),
                "pulse_budget": (int,),
                "optimization_level": (int,),
                "seed": (int,),
            },
        ),
        description=(
            "echo circuits transpiled to a fake IBM device and simulated with its noise, built "
            "from the [devices] table of hardware_echo studies; the [hardware] extra"
        ),
        memory="echo_lab.hardware.backend:device_state_bytes",
        in_study_files=False,
        fits="echo_lab.hardware.backend:check_device_fits",
    ),
)

_REGISTRY: dict[str, BackendEntry] = {}
_BUILTIN_NAMES = frozenset(entry.name for entry in BUILTIN_BACKENDS)


#: ``spec -> refined spec or None`` (:data:`BOND_REFINEMENTS`).
BondRefinement = Callable[["BackendSpec"], "BackendSpec | None"]

#: Aer's matrix_product_state_truncation_threshold when the study sets none.
AER_DEFAULT_TRUNCATION_THRESHOLD = 1e-16
#: The SVD cutoff of the quimb MPS backend when the study sets none (quimb's own default).
QUIMB_DEFAULT_CUTOFF = 1e-10
#: How much finer the refined run's truncation threshold is.
THRESHOLD_REFINEMENT = 100.0


def _with_options(spec: BackendSpec, **changes: Any) -> BackendSpec:
    """``spec`` with its ``options`` updated (sorted, as :func:`parse_backend` stores them)."""
    options = dict(spec.options) | changes
    return dataclasses.replace(spec, options=tuple(sorted(options.items())))


def aer_bond_doubled(spec: BackendSpec) -> BackendSpec | None:
    """An Aer matrix_product_state spec with ``max_bond_dimension`` doubled (none stays none)
    and ``truncation_threshold`` / 100 (Aer's default 1e-16 when unset); None for the other
    methods, which do not truncate."""
    if spec.method != "matrix_product_state":
        return None
    mps = dict(spec.option("mps_options", {}))
    if "max_bond_dimension" in mps:
        mps["max_bond_dimension"] = 2 * int(mps["max_bond_dimension"])
    threshold = float(mps.get("truncation_threshold", AER_DEFAULT_TRUNCATION_THRESHOLD))
    mps["truncation_threshold"] = threshold / THRESHOLD_REFINEMENT
    return _with_options(spec, mps_options=mps)


def quimb_bond_doubled(spec: BackendSpec) -> BackendSpec | None:
    """A quimb MPS spec with options ``max_bond`` doubled (none stays none) and ``cutoff`` / 100
    (:data:`QUIMB_DEFAULT_CUTOFF` when unset)."""
    changes: dict[str, Any] = {
        "cutoff": float(spec.option("cutoff", QUIMB_DEFAULT_CUTOFF)) / THRESHOLD_REFINEMENT
    }
    if spec.option("max_bond") is not None:
        changes["max_bond"] = 2 * int(spec.option("max_bond"))
    return _with_options(spec, **changes)


#: Backend name -> its :data:`BondRefinement` (module docstring), a callable or a
#: ``"module:attribute"`` path; a backend registered later adds its own line here.
BOND_REFINEMENTS: dict[str, str | BondRefinement] = {
    "aer": aer_bond_doubled,
    "quimb": quimb_bond_doubled,
}


def refined_backend(spec: BackendSpec) -> BackendSpec | None:
    """The spec of the bond-doubled run of ``spec`` (:data:`BOND_REFINEMENTS`), or None when its
    backend declares none or this spec does not truncate."""
    refine = BOND_REFINEMENTS.get(spec.name)
    if refine is None:
        return None
    refined: BackendSpec | None = _resolve(refine)(spec)
    return refined


def register_backend(entry: BackendEntry) -> BackendEntry:
    """Add ``entry`` to the registry; ConfigError when its name is taken or its rules name a
    ``[backend]`` key outside :data:`TABLE_KEYS`. Returns ``entry``."""
    if not isinstance(entry, BackendEntry):
        raise ConfigError(f"register_backend takes a BackendEntry, got {entry!r}")
    if not entry.name or not isinstance(entry.name, str):
        raise ConfigError(f"a backend needs a non-empty name, got {entry.name!r}")
    if entry.name in _REGISTRY:
        raise ConfigError(
            f"backend {entry.name!r} is already registered; choose another name (taken: "
            f"{', '.join(_REGISTRY)})"
        )
    unknown = [key for key in entry.rules.keys if key not in TABLE_KEYS]
    if unknown:
        raise ConfigError(
            f"backend {entry.name!r}: a [backend] table holds only {', '.join(TABLE_KEYS)}, not "
            f"{', '.join(unknown)}; take other settings through options"
        )
    if isinstance(entry.factory, str) and ":" not in entry.factory:
        raise ConfigError(
            f"backend {entry.name!r}: factory {entry.factory!r} must be 'module:attribute'"
        )
    _REGISTRY[entry.name] = entry
    return entry


def unregister_backend(name: str) -> BackendEntry:
    """Remove the backend ``name`` registered by :func:`register_backend` and return its entry
    (the built-in backends stay)."""
    if name in _BUILTIN_NAMES:
        raise ConfigError(f"backend {name!r} is built in and cannot be removed")
    entry = backend_entry(name)
    del _REGISTRY[name]
    return entry


def backend_entry(name: str) -> BackendEntry:
    """The entry of backend ``name``; ConfigError naming the registered ones when unknown."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown backend {name!r}; choose one of {registered_backends()}"
        ) from None


def backend_entries() -> tuple[BackendEntry, ...]:
    """Every registered entry, built-ins first, in registration order."""
    return tuple(_REGISTRY.values())


def registered_backends() -> tuple[str, ...]:
    """The names of every registered backend (:func:`get_backend` builds each)."""
    return tuple(_REGISTRY)


def backend_names() -> tuple[str, ...]:
    """The backends a ``[backend]`` table (and ``[check] backend``) may name."""
    return tuple(entry.name for entry in _REGISTRY.values() if entry.in_study_files)


def available_backends() -> tuple[str, ...]:
    """The backends a ``[backend]`` table may name whose modules are installed
    (:meth:`BackendEntry.available`): what ``name = "auto"`` chooses from."""
    return tuple(
        entry.name for entry in _REGISTRY.values() if entry.in_study_files and entry.available()
    )


def get_backend(name: str, **options: Any) -> Backend:
    """Backend by name; ``options`` go to its constructor."""
    return backend_entry(name).build(**options)


class _RulesView(Mapping[str, BackendRules]):
    """Backend name -> :class:`BackendRules`, read from the registry at every access."""

    def __getitem__(self, name: str) -> BackendRules:
        return _REGISTRY[name].rules

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"RULES({dict(self)!r})"


#: The rules of every registered backend, by name (a live view of the registry).
RULES: Mapping[str, BackendRules] = _RulesView()


def describe_backends(*, study_files_only: bool = False) -> str:
    """The registered backends as a reStructuredText / Markdown bullet list, one line each: name,
    description, ``[backend]`` keys, ``options`` and size limit (the docs' backend list)."""
    lines = []
    for entry in _REGISTRY.values():
        if study_files_only and not entry.in_study_files:
            continue
        rules = entry.rules
        details = []
        if entry.in_study_files:
            details.append("keys: " + (", ".join(rules.keys) if rules.keys else "none"))
        if rules.options and entry.in_study_files:
            details.append("options: " + ", ".join(rules.options))
        if rules.max_sector_qubits is not None:
            details.append(f"n <= {rules.max_sector_qubits} sector by sector")
        if rules.max_qubits is not None:
            details.append(f"n <= {rules.max_qubits}" + (" dense" if rules.dense else ""))
        if not entry.in_study_files:
            details.append("not named in [backend]")
        lines.append(f"* ``{entry.name}``: {entry.description} ({'; '.join(details)})")
    return "\n".join(lines)


for _entry in BUILTIN_BACKENDS:
    register_backend(_entry)
del _entry
