"""What each backend accepts, needs and refuses, without importing any simulator.

The study loader (:mod:`echo_lab.study.spec`), the study runner (:mod:`echo_lab.study.runner`) and
the backends themselves (``backends/aer.py`` among them) read the backend vocabulary from here, so
it is declared once:

* :data:`BACKEND_NAMES` and, per backend, its :class:`BackendRules`: the ``[backend]`` keys it
  takes, the ``options`` it accepts (with their TOML types), whether it holds dense 2^n x 2^n
  matrices, and its largest chain;
* the Aer vocabulary: :data:`AER_METHODS`, :data:`AER_DEVICES`, :data:`AER_PRECISIONS`,
  :data:`MPS_OPTIONS`;
* :class:`BackendSpec`, the parsed ``[backend]`` table (:func:`parse_backend`), with the one
  Trotter setting :class:`~echo_lab.dynamics.trotter.TrotterSettings` of the circuit backends;
* :func:`estimate_state_bytes`, the memory of a backend's state (the Aer formula is
  :func:`aer_memory_bytes`, which ``AerBackend`` uses too);
* :func:`build_backend`, the one factory from a spec (it translates a backend's refusal of an
  option into a :class:`~echo_lab.errors.ConfigError` naming the table).

Importing this module does not import Qiskit Aer; only :func:`build_backend` of an Aer-based
backend does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import Backend
from echo_lab.dynamics.trotter import ORDERS, TrotterSettings
from echo_lab.errors import ConfigError
from echo_lab.physics.spectrum import MAX_EXACT_QUBITS, MAX_SECTOR_EXACT_QUBITS
from echo_lab.resources import density_matrix_bytes, statevector_bytes
from echo_lab.tables import Table, int_list, number, optional_scalar

__all__ = [
    "AER_DEVICES",
    "AER_METHODS",
    "AER_PRECISIONS",
    "ALL_BACKEND_KEYS",
    "BACKEND_NAMES",
    "MAX_TROTTER_EXACT_QUBITS",
    "MAX_TROTTER_STEPS",
    "MPS_OPTIONS",
    "RULES",
    "BackendRules",
    "BackendSpec",
    "aer_memory_bytes",
    "build_backend",
    "estimate_state_bytes",
    "parse_backend",
]

BACKEND_NAMES = ("exact", "krylov", "trotter-exact", "aer", "estimator", "qsim")

AER_METHODS = ("statevector", "matrix_product_state", "density_matrix")
AER_DEVICES = ("auto", "CPU", "GPU")
AER_PRECISIONS = ("double", "single")

#: ``mps_options`` of the aer backend -> (Aer simulator setting, integer?, minimum).
MPS_OPTIONS: dict[str, tuple[str, bool, float]] = {
    "max_bond_dimension": ("matrix_product_state_max_bond_dimension", True, 1),
    "truncation_threshold": ("matrix_product_state_truncation_threshold", False, 0.0),
}

#: Largest n of the trotter-exact backend (its step unitary is a dense 4^n matrix: 256 MiB at 12).
MAX_TROTTER_EXACT_QUBITS = 12

#: Largest number of Trotter steps to the longest time (the circuit depth of a Trotter backend).
MAX_TROTTER_STEPS = 10_000_000


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


RULES: dict[str, BackendRules] = {
    "exact": BackendRules(
        (),
        {},
        dense=True,
        max_qubits=MAX_EXACT_QUBITS,
        limit_reason="the exact backend diagonalizes 2^n x 2^n matrices",
        max_sector_qubits=MAX_SECTOR_EXACT_QUBITS,
    ),
    "krylov": BackendRules(("options",), {"threads": (int,), "tolerance": (float,)}),
    "trotter-exact": BackendRules(
        ("dt", "order", "options"),
        {},
        dense=True,
        max_qubits=MAX_TROTTER_EXACT_QUBITS,
        limit_reason="the trotter-exact backend diagonalizes a dense step",
    ),
    "aer": BackendRules(
        ("dt", "order", "method", "device", "shots", "noise", "options"),
        {"precision": (str,), "mps_options": (dict,), "seed_simulator": (int,)},
    ),
    "estimator": BackendRules(("dt", "order", "options"), {"precision": (int, float)}),
    "qsim": BackendRules(
        ("dt", "order", "options"), {"threads": (int,), "fused_gate_size": (int,)}
    ),
}


#: Every key a ``[backend]`` table may hold besides ``name``, over all backends.
ALL_BACKEND_KEYS = tuple(dict.fromkeys(key for rules in RULES.values() for key in rules.keys))


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
        return RULES[self.name]

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


def aer_memory_bytes(
    n: int,
    *,
    method: str = "statevector",
    precision: str = "double",
    max_bond_dimension: int = 0,
    saved_states: int = 0,
) -> int:
    """Bytes an Aer simulation of ``n`` qubits needs: a density matrix 16 * 4^n, an MPS of bond
    dimension chi about 32 n chi^2 (0 when no bound is set), a statevector 16 * 2^n (8 in single
    precision) plus one per saved state."""
    if method == "density_matrix":
        return density_matrix_bytes(n)
    if method == "matrix_product_state":
        return 32 * n * max_bond_dimension**2
    per_state = statevector_bytes(n) // (2 if precision == "single" else 1)
    return per_state * (1 + saved_states)


def estimate_state_bytes(
    spec: BackendSpec, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Memory of the state a backend holds while it runs ``hamiltonian``, bytes.

    Dense backends (``exact``, ``trotter-exact``) return 0: their 2^n x 2^n matrices are counted
    by the study with its other dense steps. ``krylov``: its sector blocks and the work vectors of
    ``n_times`` times (:meth:`~echo_lab.backends.krylov.KrylovBackend.estimate_memory`); ``aer``:
    :func:`aer_memory_bytes` (``saved_states`` saved state vectors, e.g. for entropies);
    ``estimator``: two state vectors; ``qsim``: its single-precision state and two copies.
    Cost: microseconds (krylov scans the Pauli terms once).
    """
    n = hamiltonian.num_qubits
    if spec.name == "krylov":
        from echo_lab.backends.krylov import KrylovBackend

        return KrylovBackend().estimate_memory(hamiltonian, n_times=n_times)
    if spec.name == "aer":
        mps = spec.option("mps_options", {})
        return aer_memory_bytes(
            n,
            method=spec.method or "statevector",
            precision=spec.option("precision", "double"),
            max_bond_dimension=int(mps.get("max_bond_dimension", 0)),
            saved_states=saved_states,
        )
    if spec.name == "estimator":
        return 2 * statevector_bytes(n)
    if spec.name == "qsim":
        return statevector_bytes(n) // 2 + 2 * statevector_bytes(n)
    return 0


def build_backend(
    spec: BackendSpec,
    *,
    key: str = "backend",
    eigensystem: tuple[Any, Any] | None = None,
) -> Backend:
    """The backend of ``spec`` (``eigensystem`` is reused by the exact backend).

    A constructor's refusal of an option becomes a ConfigError naming the ``[key]`` table.
    """
    from echo_lab.backends import get_backend

    if spec.name == "exact":
        return get_backend("exact", eigensystem=eigensystem)
    try:
        return get_backend(spec.name, **spec.kwargs())
    except ConfigError as exc:
        raise ConfigError(f"[{key}] backend {spec.name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[{key}] backend {spec.name!r} does not accept these options "
            f"({type(exc).__name__}: {exc}); fix {key}.options"
        ) from None


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
    accepted = RULES[backend].options
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


def parse_backend(
    table: Table, *, name_key: str = "name", ignore: Sequence[str] = ()
) -> BackendSpec:
    """The backend described by ``table`` (``[backend]``, or ``[check]`` with ``name_key =
    "backend"`` and its own keys in ``ignore``). Keys the named backend does not use, options it
    does not accept and malformed values raise ConfigError naming the key."""
    name = table.string(name_key, "exact", choices=BACKEND_NAMES)
    rules = RULES[name]
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
