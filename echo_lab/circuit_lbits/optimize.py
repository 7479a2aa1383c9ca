"""Fitting the gates of a circuit l-bit unitary: block l-bit start, then L-BFGS.

Start (:func:`initial_gates`): the last layer (the one next to H in U^dag H U) gets, in every
slot, the exact l-bit unitary of that slot's Hamiltonian (the terms of H inside the slot,
:func:`echo_lab.window.window_hamiltonian`, through :func:`echo_lab.lbits.construct` with the
overlap assignment and the sign convention of physics.md section 4); all other gates start at the
identity. With one layer this is already the optimum for decoupled blocks.

Fit (:func:`fit_gates`): every gate is ref @ expm(i K(theta)) (:mod:`~echo_lab.circuit_lbits.gates`)
and scipy's L-BFGS-B minimizes epsilon(theta) = 1 - F / sum_{P != I} c_P^2 with the exact
analytic gradient of an engine (dense or light-cone); afterwards expm(i K) is absorbed into the
reference gates. The optimization is local: it finds the minimum nearest to the start (random
starts land in worse minima, as the issue reports), with cost per iteration that of one engine
evaluation with gradient. BLAS runs single-threaded inside (the matrices are small; threads only
contend on a shared machine).
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

from echo_lab import lbits
from echo_lab.circuit_lbits.gates import (
    Parametrization,
    allowed_entries,
    exponentiate,
    parametrization,
    pull_back,
)
from echo_lab.circuit_lbits.layout import Layout
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.window import window_hamiltonian

__all__ = ["CostEngine", "FitResult", "block_lbit_unitary", "fit_gates", "initial_gates"]

#: Largest weight of a start gate outside its family's pattern (the exact block l-bits of an
#: S^z-conserving block conserve S^z to rounding).
_PATTERN_TOLERANCE = 1e-10


class CostEngine(Protocol):
    """What the optimizer needs: F(U), its gate gradients and the normalization."""

    weight: float

    def evaluate(
        self, gates: Sequence[np.ndarray], *, gradient: bool = True
    ) -> tuple[float, list[np.ndarray] | None]:
        """F and G_j with dF = sum_j Re Tr(G_j dg_j)."""
        ...


@dataclass
class FitResult:
    """Fitted gates (one per layout slot) and how the fit went."""

    gates: list[np.ndarray]
    epsilon_start: float
    epsilon: float
    iterations: int
    evaluations: int
    seconds: float
    message: str
    history: list[float] = field(default_factory=list)


def block_lbit_unitary(hamiltonian: SparsePauliOp, sites: Sequence[int]) -> np.ndarray:
    """Encoding unitary sum_s |E_pi(s)><s| of the terms of H inside ``sites`` (2^k x 2^k).

    Column s is the eigenvector assigned to s by the overlap assignment, with <s|E_pi(s)> real
    and >= 0 (physics.md section 4); qubit order as the sorted ``sites``.
    """
    local = window_hamiltonian(hamiltonian, list(sites))
    system = lbits.construct(local, "overlap")
    unitary = np.array(system.vectors[:, system.assignment], dtype=complex)
    overlaps = np.diagonal(unitary).copy()
    magnitude = np.abs(overlaps)
    phases = np.where(magnitude > 0, np.conj(overlaps) / np.where(magnitude > 0, magnitude, 1), 1)
    return unitary * phases[None, :]


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
    engine: CostEngine,
    layout: Layout,
    family: str,
    start: Sequence[np.ndarray],
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-12,
) -> FitResult:
    """Minimize epsilon over the gates of ``layout`` from ``start`` (module docstring).

    ``tolerance`` is L-BFGS-B's ``ftol`` on epsilon (stop when an iteration lowers it by less
    than ``tolerance``) and its ``gtol``. Raises :class:`NumericalError` if the cost turns NaN.
    """
    weight = engine.weight
    if weight <= 0:
        raise ConfigError("the Hamiltonian has no non-identity terms: nothing to diagonalize")
    params = _Parameters(layout, family, start)
    history: list[float] = []

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grads = engine.evaluate(params.gates(theta), gradient=True)
        assert grads is not None
        epsilon = 1.0 - value / weight
        if not np.isfinite(epsilon):
            raise NumericalError("the circuit l-bit cost became NaN or infinite")
        history.append(epsilon)
        return epsilon, -params.gradient(grads) / weight

    began = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        first = 1.0 - engine.evaluate(list(start), gradient=False)[0] / weight
        if params.size == 0 or max_iterations == 0:
            return FitResult(list(start), first, first, 0, 1, time.perf_counter() - began, "")
        result = minimize(
            objective,
            np.zeros(params.size),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iterations, "ftol": tolerance, "gtol": tolerance},
        )
        gates = params.gates(result.x)
        final = 1.0 - engine.evaluate(gates, gradient=False)[0] / weight
    return FitResult(
        gates,
        first,
        final,
        int(result.nit),
        int(result.nfev),
        time.perf_counter() - began,
        str(result.message),
        history,
    )
