"""Fitting the gates of a circuit l-bit unitary: block l-bit start, then L-BFGS.

Start (:func:`initial_gates`): the last layer (the one next to H in U^dag H U) gets, in every
slot, the exact l-bit unitary of that slot's Hamiltonian (the terms of H inside the slot,
:func:`echo_lab.lbits.window.window_hamiltonian`, through :func:`echo_lab.lbits.construct` with the
overlap assignment and the sign convention of docs/pages/conventions.md section 4); all other gates
start at the identity. With one layer this is already the optimum for decoupled blocks.

Fit (:func:`fit_gates`): every gate is ref @ expm(i K(theta)) (:mod:`~echo_lab.lbits.circuit.gates`)
and scipy's L-BFGS-B minimizes a loss with its exact analytic gradient: epsilon(theta) =
1 - F / sum_{P != I} c_P^2 from an engine (dense or light-cone, :func:`frobenius_loss`), or the
echo-weighted cost of :meth:`~echo_lab.lbits.circuit.dense.DenseEngine.echo_loss`; afterwards
expm(i K) is absorbed into the reference gates. The optimization is local: it finds the minimum
nearest to the start (random starts land in worse minima, as the issue reports), with cost per
iteration that of one loss evaluation with gradient. BLAS runs single-threaded inside (the
matrices are small; threads only contend on a shared machine).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from echo_lab.errors import ConfigError, NumericalError
from echo_lab.lbits import exact as lbits
from echo_lab.lbits.circuit.gates import (
    Parametrization,
    allowed_entries,
    exponentiate,
    parametrization,
    pull_back,
)
from echo_lab.lbits.circuit.layout import Layout
from echo_lab.lbits.window import window_hamiltonian

__all__ = [
    "CostEngine",
    "FitResult",
    "Loss",
    "block_lbit_unitary",
    "encoding_unitary",
    "fit_gates",
    "frobenius_loss",
    "initial_gates",
]

#: Largest weight of a start gate outside its family's pattern (the exact block l-bits of an
#: S^z-conserving block conserve S^z to rounding).
_PATTERN_TOLERANCE = 1e-10


class CostEngine(Protocol):
    """What the Frobenius objective needs: F(U), its gate gradients and the normalization."""

    weight: float

    def evaluate(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        """F and G_j with dF = sum_j Re Tr(G_j dg_j)."""
        ...


class Loss(Protocol):
    """A loss of the gates and its gradient G_j, dloss = sum_j Re Tr(G_j dg_j)."""

    def __call__(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]: ...


def frobenius_loss(engine: CostEngine) -> Loss:
    """epsilon = 1 - F / sum_{P != I} c_P^2 of ``engine`` as a :class:`Loss`."""
    weight = engine.weight
    if weight <= 0:
        raise ConfigError("the Hamiltonian has no non-identity terms: nothing to diagonalize")

    def loss(
        gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        value, grads = engine.evaluate(gates, gradient=gradient)
        scaled = None if grads is None else [-g / weight for g in grads]
        return 1.0 - value / weight, scaled

    return loss


@dataclass
class FitResult:
    """Fitted gates (one per layout slot) and how the fit of ``objective`` went."""

    gates: list[np.ndarray]
    objective: str
    loss_start: float
    loss: float
    iterations: int
    evaluations: int
    seconds: float
    message: str
    history: list[float] = field(default_factory=list)


def encoding_unitary(system: lbits.LBitSystem) -> np.ndarray:
    """The encoding unitary sum_s |E_pi(s)><s| of exact l-bits as a dense ``(2^n, 2^n)`` array.

    Column s is the eigenvector assigned to s, its phase fixed so that <s|E_pi(s)> is real and
    >= 0 (docs/pages/conventions.md section 4); then tau^a_i = U sigma^a_i U^dag is ``system.tau(a,
    i)``.
    """
    unitary = np.array(system.vectors[:, system.assignment], dtype=complex)
    overlaps = np.diagonal(unitary).copy()
    magnitude = np.abs(overlaps)
    safe = np.where(magnitude > 0, magnitude, 1.0)
    phases = np.where(magnitude > 0, np.conj(overlaps) / safe, 1.0)
    return unitary * phases[None, :]


def block_lbit_unitary(hamiltonian: SparsePauliOp, sites: Sequence[int]) -> np.ndarray:
    """:func:`encoding_unitary` of the terms of H inside ``sites`` (2^k x 2^k, overlap
    assignment; qubit order as the sorted ``sites``)."""
    local = window_hamiltonian(hamiltonian, list(sites))
    return encoding_unitary(lbits.construct(local, "overlap"))


def initial_gates(hamiltonian: SparsePauliOp, layout: Layout, family: str) -> list[np.ndarray]:
    """Start gates: exact block l-bits in the last layer, identities elsewhere (docstring)."""
    top = layout.depth - 1
    gates = []
    for slot in layout.slots:
        dim = 1 << slot.width
        if slot.layer != top:
            gates.append(np.eye(dim, dtype=complex))
            continue
        unitary = block_lbit_unitary(hamiltonian, slot.sites)
        outside = np.abs(unitary[~allowed_entries(slot.width, family)])
        if outside.size and float(np.max(outside)) > _PATTERN_TOLERANCE:
            raise ConfigError(
                f"the exact l-bits of the block {slot.sites} do not conserve S^z, so they are not "
                "'sz' gates: use gates='general' for this Hamiltonian"
            )
        gates.append(unitary)
    return gates


class _Parameters:
    """theta (flat) <-> gates, grouped by gate width for batched exponentials."""

    def __init__(self, layout: Layout, family: str, reference: Sequence[np.ndarray]) -> None:
        widths = sorted({s.width for s in layout.slots})
        self.groups: list[tuple[Parametrization, np.ndarray]] = []
        for width in widths:
            members = np.array([j for j, s in enumerate(layout.slots) if s.width == width])
            self.groups.append((parametrization(width, family), members))
        self.reference = [np.asarray(g, dtype=complex) for g in reference]
        self.size = sum(p.size * len(m) for p, m in self.groups)
        self._cache: list[tuple[np.ndarray, np.ndarray]] = []

    def gates(self, theta: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.empty(0)] * len(self.reference)
        self._cache = []
        start = 0
        for param, members in self.groups:
            count = param.size * len(members)
            generators = param.generator(theta[start : start + count])
            start += count
            unitaries, lam, q = exponentiate(generators)
            self._cache.append((lam, q))
            for k, j in enumerate(members):
                out[j] = self.reference[j] @ unitaries[k]
        return out

    def gradient(self, gate_gradients: Sequence[np.ndarray]) -> np.ndarray:
        """dF/dtheta at the theta of the last :meth:`gates` call."""
        parts = []
        for (param, members), (lam, q) in zip(self.groups, self._cache, strict=True):
            stacked = np.array([gate_gradients[j] for j in members])
            reference = np.array([self.reference[j] for j in members])
            parts.append(param.project(pull_back(stacked, reference, lam, q)).ravel())
        return np.concatenate(parts)


def fit_gates(
    loss: Loss,
    layout: Layout,
    family: str,
    start: Sequence[np.ndarray],
    *,
    objective: str = "frobenius",
    max_iterations: int = 500,
    tolerance: float = 1e-12,
) -> FitResult:
    """Minimize ``loss`` over the gates of ``layout`` from ``start`` (module docstring).

    ``objective`` names the loss in the result. ``tolerance`` is L-BFGS-B's ``ftol`` (stop when
    an iteration lowers the loss by less than ``tolerance`` times max(|loss|, 1)) and its
    ``gtol``. Raises :class:`NumericalError` if the loss turns NaN.
    """
    params = _Parameters(layout, family, start)
    history: list[float] = []

    def objective_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grads = loss(params.gates(theta), gradient=True)
        assert grads is not None
        if not np.isfinite(value):
            raise NumericalError("the circuit l-bit loss became NaN or infinite")
        history.append(value)
        return value, params.gradient(grads)

    began = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        first = loss(list(start), gradient=False)[0]
        if params.size == 0 or max_iterations == 0:
            seconds = time.perf_counter() - began
            return FitResult(list(start), objective, first, first, 0, 1, seconds, "")
        result = minimize(
            objective_and_gradient,
            np.zeros(params.size),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iterations, "ftol": tolerance, "gtol": tolerance},
        )
        gates = params.gates(result.x)
        final = loss(gates, gradient=False)[0]
    return FitResult(
        gates,
        objective,
        first,
        final,
        int(result.nit),
        int(result.nfev),
        time.perf_counter() - began,
        str(result.message),
        history,
    )
