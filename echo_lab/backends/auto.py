r"""``[backend] name = "auto"``: the fastest engine of a study's Trotter circuits, by regime.

The rule (:func:`choose_backend`, a pure function of the request and of the backends that are
installed) picks the engine of echo_lab's Trotter circuits; the physics does not change with the
choice (same circuits, same dt and order), only the engine and its arithmetic. The first row
that matches decides:

====================================================  =============================================
regime                                                backend
====================================================  =============================================
``device = "GPU"``, ``noise``, ``shots`` or           ``aer`` (the only engine with noise, sampling,
``method = "density_matrix"``                         density matrices and the GPU)
noiseless, n <= :data:`MAX_AUTO_STATEVECTOR_QUBITS`   ``qsim`` when installed and the run needs at
and its state vector fits in memory (or ``method =``  most :data:`QSIM_MAX_STEPS` Trotter steps,
``"statevector"``)                                    else ``aer`` statevector
beyond that (or ``method = "matrix_product_state"``)  an MPS: ``aer`` MPS for ``options.max_bond``
                                                      <= :data:`AER_MPS_MAX_BOND` (or no cap with
                                                      an explicit MPS method), ``quimb`` above it
                                                      when registered and installed, else ``aer``
                                                      MPS (the reason says so)
====================================================  =============================================

Why these thresholds:

* qsim runs echo_lab's Trotter step 11-21x faster than Aer at N = 20-24 on one thread
  (``experiments/benchmarks/peers.json``), in single precision: its expectation values differ
  from the double-precision evaluation of the same circuits by ~1e-7 per 100 steps and at most
  1.3e-5 measured up to 10^4 steps (N = 12, W = 8, dt = 0.1: docs/pages/operations.md, "Choosing
  the engine"), far below a Strang step's Trotter error at dt = 0.1 (~1e-3). qsimcirq offers no
  double precision on the CPU, so beyond :data:`QSIM_MAX_STEPS` steps the rule keeps ``aer``.
* :data:`MAX_AUTO_STATEVECTOR_QUBITS` = 28: a 28-qubit state is 4 GiB in double precision (qsim
  holds 2.5 of them); beyond it a study is a long-chain study, where an MPS is the tool.
* :data:`AER_MPS_MAX_BOND` = 16: from a cap of 32 on the quimb backend is the faster MPS where
  the bond grows to the cap (N = 24, W = 8, Hahn echo T = 5, 10, one thread, idle machine,
  ``experiments/benchmarks/mps_peers.json``: quimb 3.3 / 9.5 / 11.4 s against Aer 9.6 / 46.5 /
  66.7 s at caps 32 / 64 / 128), and faster where it stays small too (W = 16: 1.3-1.4 s against
  1.5-1.8 s). Below a cap of 32 the rule keeps Aer's MPS (measured faster there before the quimb
  backend's 2026-12-07 speed-up; not re-measured since).

``auto`` takes the ``[backend]`` keys of the Trotter engines (``dt``, ``order``, ``method``,
``device``, ``shots``, ``noise``) and two ``options`` that every MPS engine understands:
``max_bond`` (the bond cap) and ``cutoff`` (the largest weight one SVD may discard, the sum of
the squared singular values dropped: Aer's ``truncation_threshold``, quimb's ``cutoff``). An
engine's own tuning options need the engine's name. A study resolves ``auto`` when it is loaded
(:func:`resolve_auto_backend`, called by :func:`echo_lab.study.spec.parse_spec` with the largest
n of the sweep and the longest time), so that the memory check and every unit see the concrete
backend; the results record the choice and its reason (``backend_chosen``,
``backend_choice`` attrs). This module imports no simulator (availability is a module lookup).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from echo_lab.backends.registry import BackendRules, available_backends
from echo_lab.errors import ConfigError
from echo_lab.info import max_statevector_qubits
from echo_lab.resources import available_memory_bytes

if TYPE_CHECKING:
    from echo_lab.backends.options import BackendSpec

__all__ = [
    "AER_MPS_MAX_BOND",
    "AUTO",
    "AUTO_RULES",
    "MAX_AUTO_STATEVECTOR_QUBITS",
    "QSIM_MAX_STEPS",
    "QSIM_STATE_VECTORS",
    "AutoRequest",
    "BackendChoice",
    "choose_backend",
    "resolve_auto_backend",
    "statevector_qubit_limit",
]

#: The name a ``[backend]`` table gives to let echo_lab choose the engine.
AUTO = "auto"

#: Largest n that ``auto`` simulates as a state vector (4 GiB in double precision at 28).
MAX_AUTO_STATEVECTOR_QUBITS = 28

#: Largest bond cap for which ``auto`` picks Aer's MPS; above it the quimb backend (when present).
AER_MPS_MAX_BOND = 16

#: Most Trotter steps (to the longest time) ``auto`` runs in qsim's single precision: its error,
#: ~1e-7 per 100 steps and at most 1.3e-5 measured to 10^4 steps, stays below ~1e-4 there.
QSIM_MAX_STEPS = 10_000

#: State vectors (complex128 sizes) qsim holds: its single-precision state and two copies.
QSIM_STATE_VECTORS = 2.5

#: The ``[backend]`` keys and ``options`` of ``name = "auto"`` (module docstring).
AUTO_RULES = BackendRules(
    ("dt", "order", "method", "device", "shots", "noise", "options"),
    {"max_bond": (int,), "cutoff": (int, float)},
)

#: The registry names the rule chooses between.
_AER, _QSIM, _QUIMB = "aer", "qsim", "quimb"


@dataclass(frozen=True)
class AutoRequest:
    """What the rule reads: the largest n, the Trotter steps to the longest time, and the
    ``[backend]`` keys of an ``auto`` table (``noise``: whether a noise model is given)."""

    n: int
    steps: int = 0
    noise: bool = False
    shots: int | None = None
    method: str | None = None
    device: str | None = None
    max_bond: int | None = None
    cutoff: float | None = None


@dataclass(frozen=True)
class BackendChoice:
    """The backend ``auto`` chose: its registry name, the Aer ``method`` to set (None: the
    engine's default), its constructor ``options`` and the reason, one sentence."""

    name: str
    method: str | None
    options: tuple[tuple[str, Any], ...]
    reason: str


def statevector_qubit_limit(available_bytes: int | None = None) -> int:
    """Largest n ``auto`` simulates as a state vector on this machine: at most
    :data:`MAX_AUTO_STATEVECTOR_QUBITS`, and qsim's :data:`QSIM_STATE_VECTORS` state vectors
    must fit in the usable memory (``available_bytes``; None: measured now)."""
    memory = available_memory_bytes() if available_bytes is None else available_bytes
    fitting = max_statevector_qubits(int(memory / QSIM_STATE_VECTORS))
    return min(MAX_AUTO_STATEVECTOR_QUBITS, fitting)


def _mps_choice(request: AutoRequest, available: Collection[str], why: str) -> BackendChoice:
    cap = request.max_bond
    if cap is None and request.method != "matrix_product_state":
        raise ConfigError(
            f"[backend] name = 'auto': {why}, so the chain needs a matrix product state, and "
            "an MPS needs a bond cap; set backend.options.max_bond (e.g. 32, or 64 and more "
            "for strongly entangled states) or use fewer sites"
        )
    if cap is not None and cap > AER_MPS_MAX_BOND:
        if _QUIMB in available:
            options: dict[str, Any] = {"max_bond": cap}
            if request.cutoff is not None:
                options["cutoff"] = request.cutoff
            return BackendChoice(
                _QUIMB,
                None,
                tuple(sorted(options.items())),
                f"{why}; bond cap {cap} > {AER_MPS_MAX_BOND}: the quimb MPS is the faster there",
            )
        fallback = f"; bond cap {cap} > {AER_MPS_MAX_BOND}, but the quimb backend is not "
        fallback += "registered or not installed (pip install 'echo_lab[mps]'): Aer's MPS"
    else:
        bound = "no bond cap" if cap is None else f"bond cap {cap} <= {AER_MPS_MAX_BOND}"
        fallback = f"; {bound}: Aer's MPS is the faster there"
    mps: dict[str, Any] = {}
    if cap is not None:
        mps["max_bond_dimension"] = cap
    if request.cutoff is not None:
        mps["truncation_threshold"] = request.cutoff
    options = {"mps_options": mps} if mps else {}
    return BackendChoice(_AER, "matrix_product_state", tuple(options.items()), why + fallback)


def choose_backend(
    request: AutoRequest,
    *,
    available: Collection[str] | None = None,
    statevector_qubits: int | None = None,
) -> BackendChoice:
    """The engine for ``request`` (the table of the module docstring).

    ``available``: the registry names that can be built (None: :func:`available_backends`, the
    registered backends whose modules are installed); ``statevector_qubits``: the largest n
    simulated as a state vector (None: :func:`statevector_qubit_limit` of this machine's memory).
    ConfigError when the chain needs an MPS and no bond cap is given, or Aer is missing where
    only Aer serves. Cost: microseconds (a memory reading and module lookups when None).
    """
    if request.max_bond is not None and request.max_bond < 1:
        raise ConfigError(
            f"backend.options.max_bond = {request.max_bond} must be >= 1 (the MPS bond cap)"
        )
    if request.cutoff is not None and not 0.0 <= request.cutoff < 1.0:
        raise ConfigError(
            f"backend.options.cutoff = {request.cutoff} must be in [0, 1): the largest weight "
            "one SVD may discard"
        )
    names = set(available_backends() if available is None else available)
    limit = statevector_qubit_limit() if statevector_qubits is None else statevector_qubits
    n = request.n
    # an explicit statevector stays one (the memory check of the study refuses what cannot fit)
    too_large = n > limit and request.method != "statevector"
    aer_only = [
        reason
        for reason, applies in (
            ("device = 'GPU'", request.device == "GPU"),
            ("a noise model", request.noise),
            (f"shots = {request.shots}", request.shots is not None),
            ("method = 'density_matrix'", request.method == "density_matrix"),
        )
        if applies
    ]
    if aer_only or request.method == "matrix_product_state" or too_large:
        if _AER not in names:
            raise ConfigError(
                f"[backend] name = 'auto' needs the aer backend here (n = {n}"
                + (f", {', '.join(aer_only)}" if aer_only else "")
                + "), which is not installed; pip install 'echo_lab[cpu]'"
            )
    if aer_only:
        reason = f"{' and '.join(aer_only)}: only Aer simulates that"
        return BackendChoice(_AER, request.method, (), reason)
    if request.method == "matrix_product_state":
        return _mps_choice(request, names, "method = 'matrix_product_state' asked for")
    if too_large:
        why = (
            f"n = {n} > {MAX_AUTO_STATEVECTOR_QUBITS}, the largest state vector auto simulates"
            if limit == MAX_AUTO_STATEVECTOR_QUBITS
            else f"n = {n}: a state vector of more than {limit} qubits does not fit in memory"
        )
        return _mps_choice(request, names, why)
    regime = f"noiseless state vector, n = {n} " + (
        f"<= {limit}" if n <= limit else "(method = 'statevector')"
    )
    if _QSIM in names and request.steps <= QSIM_MAX_STEPS:
        return BackendChoice(_QSIM, None, (), f"{regime}: qsim is the fastest engine")
    if _AER not in names:
        raise ConfigError(
            f"[backend] name = 'auto': no state-vector engine is installed for n = {n}; "
            "pip install 'echo_lab[cpu]' (Aer and qsim)"
        )
    if _QSIM in names:
        why = (
            f"{request.steps} Trotter steps > {QSIM_MAX_STEPS}, too many for qsim's single "
            "precision: Aer statevector in double precision"
        )
    else:
        why = "qsim is not installed (pip install 'echo_lab[cpu]'): Aer statevector"
    return BackendChoice(_AER, "statevector", (), f"{regime}; {why}")


def resolve_auto_backend(
    spec: BackendSpec,
    *,
    n: int,
    longest_time: float,
    available: Collection[str] | None = None,
    statevector_qubits: int | None = None,
) -> tuple[BackendSpec, BackendChoice]:
    """The concrete backend spec for an ``auto`` ``spec`` (``name = "auto"``) at the largest
    ``n`` and ``longest_time`` of a study, and the choice (:func:`choose_backend`; its last two
    arguments as there). The spec keeps dt, order, device, shots and noise; ``method`` and the
    options are the chosen engine's."""
    options = dict(spec.options)
    trotter = spec.trotter
    steps = math.ceil(trotter.steps_to(longest_time)) if trotter is not None else 0
    request = AutoRequest(
        n=n,
        steps=steps,
        noise=spec.noise is not None,
        shots=spec.shots,
        method=spec.method,
        device=spec.device,
        max_bond=options.get("max_bond"),
        cutoff=options.get("cutoff"),
    )
    choice = choose_backend(request, available=available, statevector_qubits=statevector_qubits)
    aer = choice.name == _AER
    resolved = dataclasses.replace(
        spec,
        name=choice.name,
        method=choice.method if aer else None,
        device=spec.device if aer else None,
        options=choice.options,
    )
    return resolved, choice
