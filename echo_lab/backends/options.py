"""The ``[backend]`` table: what each backend accepts, needs and refuses, without importing any
simulator.

The backends themselves are declared once, in the registry (:mod:`echo_lab.backends.registry`):
names, factories, rules, memory estimates. This module reads them for the study loader
(:mod:`echo_lab.study.spec`), the study runner (:mod:`echo_lab.study.runner`) and the backends
(``backends/aer.py`` among them):

* :data:`BACKEND_NAMES` (the backends a ``[backend]`` table may name) and :data:`RULES`, per
  backend its :class:`~echo_lab.backends.registry.BackendRules`: the ``[backend]`` keys it takes,
  the ``options`` it accepts (with their TOML types), whether it holds dense 2^n x 2^n matrices,
  and its largest chain; both read the registry at every access;
* the Aer vocabulary: :data:`AER_METHODS`, :data:`AER_DEVICES`, :data:`AER_PRECISIONS`,
  :data:`MPS_OPTIONS`;
* :class:`BackendSpec`, the parsed ``[backend]`` table (:func:`parse_backend`), with the one
  Trotter setting :class:`~echo_lab.dynamics.trotter.TrotterSettings` of the circuit backends;
* :func:`estimate_state_bytes`, the memory of a backend's state (its registry entry's estimate;
  the Aer formula is :func:`~echo_lab.backends.memory.aer_memory_bytes`, which ``AerBackend``
  uses too);
* :func:`build_backend`, the one factory from a spec (it translates a backend's refusal of an
  option into a :class:`~echo_lab.errors.ConfigError` naming the table), and
  :func:`check_backend_fits`, a built backend against a study's largest Hamiltonian.

Importing this module does not import Qiskit Aer; only :func:`build_backend` of an Aer-based
backend does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.auto import AUTO, AUTO_RULES
from echo_lab.backends.base import Backend
from echo_lab.backends.memory import aer_memory_bytes
from echo_lab.backends.registry import (
    MAX_TROTTER_EXACT_QUBITS,
    RULES,
    BackendRules,
    backend_entries,
    backend_entry,
    backend_names,
)
from echo_lab.dynamics.trotter import ORDERS, TrotterSettings
from echo_lab.errors import ConfigError
from echo_lab.tables import Table, int_list, number, optional_scalar

__all__ = [
    "AER_DEVICES",
    "AER_METHODS",
    "AER_PRECISIONS",
    "ALL_BACKEND_KEYS",
    "BACKEND_NAMES",  # noqa: F822 (module __getattr__, read from the registry)
    "DEFAULT_BACKEND",
    "MAX_TROTTER_EXACT_QUBITS",
    "MAX_TROTTER_STEPS",
    "MPS_OPTIONS",
    "RULES",
    "BackendRules",
    "BackendSpec",
    "aer_memory_bytes",
    "backend_choices",
    "build_backend",
    "check_backend_fits",
    "estimate_state_bytes",
    "parse_backend",
    "table_rules",
]

AER_METHODS = ("statevector", "matrix_product_state", "density_matrix")
AER_DEVICES = ("auto", "CPU", "GPU")
AER_PRECISIONS = ("double", "single")

#: ``mps_options`` of the aer backend -> (Aer simulator setting, integer?, minimum).
MPS_OPTIONS: dict[str, tuple[str, bool, float]] = {
    "max_bond_dimension": ("matrix_product_state_max_bond_dimension", True, 1),
    "truncation_threshold": ("matrix_product_state_truncation_threshold", False, 0.0),
}

#: Largest number of Trotter steps to the longest time (the circuit depth of a Trotter backend).
MAX_TROTTER_STEPS = 10_000_000

#: Every key a ``[backend]`` table may hold besides ``name``, over all backends.
ALL_BACKEND_KEYS = tuple(
    dict.fromkeys(
        key for entry in backend_entries() if entry.in_study_files for key in entry.rules.keys
    )
)


def __getattr__(name: str) -> Any:
    """``BACKEND_NAMES``: the backends a ``[backend]`` table may name, read from the registry
    (:func:`~echo_lab.backends.registry.backend_names`) at every access."""
    if name == "BACKEND_NAMES":
        return backend_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class BackendSpec:
    """A backend name and its constructor options (``noise`` is an
    ``echo_lab.backends.noise.NoiseSpec``).

    ``trotter`` is set for the circuit backends (the defaults of
    :class:`~echo_lab.dynamics.trotter.TrotterSettings` when the file gives no dt / order) and None
    for the others.
    """

    name: str = "exact"
    trotter: TrotterSettings | None = None
    method: str | None = None
    device: str | None = None
    shots: int | None = None
    noise: Any = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def rules(self) -> BackendRules:
        return table_rules(self.name)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``echo_lab.backends.get_backend(name, **kwargs)``."""
        out: dict[str, Any] = {
            key: getattr(self, key)
            for key in ("method", "device", "shots", "noise")
            if getattr(self, key) is not None
        }
        if self.trotter is not None:
            out.update(dt=self.trotter.dt, order=self.trotter.order)
        out.update(dict(self.options))
        return out

    def option(self, key: str, default: Any = None) -> Any:
        """The value of ``options.key``, or ``default``."""
        return dict(self.options).get(key, default)


def table_rules(name: str) -> BackendRules:
    """The rules of a ``[backend]`` name: a registered backend's, or ``auto``'s
    (:data:`~echo_lab.backends.auto.AUTO_RULES`, resolved to a backend when a study loads)."""
    return AUTO_RULES if name == AUTO else backend_entry(name).rules


def estimate_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Memory of the state a backend holds while it runs ``hamiltonian``, bytes: the estimate of
    its registry entry (:meth:`~echo_lab.backends.registry.BackendEntry.state_bytes`).

    Dense backends (``exact``, ``trotter-exact``) return 0: their 2^n x 2^n matrices are counted
    by the study with its other dense steps. ``krylov``: its sector blocks and the work vectors of
    ``n_times`` times (:meth:`~echo_lab.backends.krylov.KrylovBackend.estimate_memory`); ``aer``:
    :func:`aer_memory_bytes` (``saved_states`` saved state vectors, e.g. for entropies);
    ``estimator``: two state vectors; ``qsim``: its single-precision state and two copies;
    ``device``: its density matrix or state vector. Cost: microseconds (krylov scans the Pauli
    terms once).
    """
    return backend_entry(spec.name).state_bytes(
        spec, hamiltonian, n_times=n_times, saved_states=saved_states
    )


def build_backend(
    spec: BackendSpec,
    *,
    key: str = "backend",
    eigensystem: tuple[Any, Any] | None = None,
) -> Backend:
    """The backend of ``spec`` (``eigensystem`` goes to a backend whose registry entry reuses
    it: the exact backend).

    A constructor's refusal of an option becomes a ConfigError naming the ``[key]`` table.
    """
    if spec.name == AUTO:
        raise ConfigError(
            f"[{key}] name = 'auto' is resolved when a study loads; build the spec of "
            "echo_lab.backends.auto.resolve_auto_backend instead"
        )
    entry = backend_entry(spec.name)
    kwargs = spec.kwargs()
    if entry.eigensystem:
        kwargs["eigensystem"] = eigensystem
    try:
        return entry.build(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"[{key}] backend {spec.name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[{key}] backend {spec.name!r} does not accept these options "
            f"({type(exc).__name__}: {exc}); fix {key}.options"
        ) from None


def check_backend_fits(
    spec: BackendSpec, backend: Backend, hamiltonian: SparsePauliOp, *, key: str = "backend"
) -> None:
    """ConfigError naming the ``[key]`` table when ``backend`` (built from ``spec``) cannot run
    ``hamiltonian`` (:meth:`~echo_lab.backends.registry.BackendEntry.check_fits`: a device with
    too few qubits)."""
    try:
        backend_entry(spec.name).check_fits(backend, hamiltonian)
    except ConfigError as exc:
        raise ConfigError(f"[{key}] backend {spec.name!r}: {exc}") from None


# ----------------------------------------------------------------------------------------------
# The [backend] table
# ----------------------------------------------------------------------------------------------


def _parse_noise(table: Table) -> Any:
    """``[backend.noise]`` -> :class:`echo_lab.backends.noise.NoiseSpec` (times in units of 1/J).

    Every field but ``backend`` (a Qiskit backend object, not expressible in TOML) may be set;
    ``static_dephasing_qubits`` is a list of sites, the rest are numbers.
    """
    from echo_lab.backends.noise import NoiseSpec

    allowed = tuple(f.name for f in dataclasses.fields(NoiseSpec) if f.name != "backend")
    noise = table.table("noise", allowed)
    values: dict[str, Any] = {}
    for key, raw in noise.data.items():
        if key == "static_dephasing_qubits":
            values[key] = int_list(noise, key, minimum=0)
        else:
            integer = key == "static_dephasing_points"
            values[key] = number(raw, noise.key(key), integer=integer, minimum=0.0)
    try:
        return NoiseSpec(**values)
    except ConfigError as exc:
        raise ConfigError(f"[{noise.name}]: {exc}") from None


def _parse_options(table: Table, backend: str) -> tuple[tuple[str, Any], ...]:
    """``options = {...}``: only the keyword arguments the backend's rules list, each of the
    listed TOML type (values are checked again when the backend is built)."""
    raw = table.data["options"]
    dotted = table.key("options")
    if not isinstance(raw, dict):
        raise ConfigError(f"{dotted} must be a table, got {raw!r}")
    accepted = table_rules(backend).options
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
            number(value, f"{dotted}.{key}", integer=isinstance(value, int), minimum=0.0)
        if key == "mps_options":
            mps = Table(value, f"{dotted}.{key}", tuple(MPS_OPTIONS))
            for option, (_, integer, minimum) in MPS_OPTIONS.items():
                optional_scalar(mps, option, integer=integer, minimum=minimum)
    return tuple(sorted(raw.items()))


def _parse_trotter(table: Table) -> TrotterSettings:
    dt = optional_scalar(table, "dt")
    if dt is not None and dt <= 0:
        raise ConfigError(f"{table.key('dt')} must be > 0, got {dt:g}; use a small positive step")
    order = optional_scalar(table, "order", integer=True)
    if order is not None and order not in ORDERS:
        raise ConfigError(
            f"{table.key('order')} = {order} is not a Trotter order; choose 1, 2 or 4"
        )
    default = TrotterSettings()
    return TrotterSettings(
        dt=default.dt if dt is None else float(dt),
        order=default.order if order is None else int(order),
    )


def check_trotter_steps(spec: BackendSpec, times: Sequence[float], dotted: str) -> None:
    """A Trotter backend must reach the longest of ``times`` in at most MAX_TROTTER_STEPS steps."""
    if spec.trotter is None or not times:
        return
    steps = spec.trotter.steps_to(max(times))
    if steps > MAX_TROTTER_STEPS:
        raise ConfigError(
            f"{dotted} = {spec.trotter.dt:g} needs {steps:.3g} Trotter steps to reach t = "
            f"{max(times):g} (at most {MAX_TROTTER_STEPS:.0e}); use a larger dt or shorter times"
        )


#: The backend of a study without a ``[backend]`` name: the eigenbasis of H, no Trotter error.
DEFAULT_BACKEND = "exact"


def backend_choices() -> tuple[str, ...]:
    """The names a ``[backend]`` table may give, read from the registry now (a backend registered
    after import is one of them), and ``"auto"``."""
    return (*backend_names(), AUTO)


def parse_backend(
    table: Table, *, name_key: str = "name", ignore: Sequence[str] = ()
) -> BackendSpec:
    """The backend described by ``table`` (``[backend]``, or ``[check]`` with ``name_key =
    "backend"`` and its own keys in ``ignore``). Keys the named backend does not use, options it
    does not accept and malformed values raise ConfigError naming the key. ``name = "auto"``
    stays ``auto`` here (its keys are checked); the study resolves it
    (:func:`~echo_lab.backends.auto.resolve_auto_backend`)."""
    name = table.string(name_key, DEFAULT_BACKEND, choices=backend_choices())
    rules = table_rules(name)
    for key in table.data:
        if key != name_key and key not in ignore and key not in rules.keys:
            raise ConfigError(
                f"{table.key(key)} is not used by backend {name!r}; "
                + (f"allowed: {', '.join(rules.keys)}" if rules.keys else "it takes no options")
            )
    shots = optional_scalar(table, "shots", integer=True, minimum=1, maximum=1e9)
    return BackendSpec(
        name=name,
        trotter=_parse_trotter(table) if rules.trotter else None,
        method=table.optional_string("method", choices=AER_METHODS),
        device=table.optional_string("device", choices=AER_DEVICES),
        shots=None if shots is None else int(shots),
        noise=_parse_noise(table) if table.has("noise") else None,
        options=_parse_options(table, name) if table.has("options") else (),
    )
