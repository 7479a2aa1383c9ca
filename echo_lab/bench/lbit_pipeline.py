"""The l-bit pipeline: its stages, our Pauli transform against Qiskit's, and the plain numpy path.

Model: the benchmark chain (W = 8, J = Jz = 1, seed 1). Everything goes through public
functions; the diagonalization inside ``lbits.construct`` is timed where it happens (its
``stage("diagonalization")`` marker, collected with :func:`echo_lab.timing.record_stages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import linear_sum_assignment

from echo_lab import lbits
from echo_lab.bench.model import benchmark_hamiltonian, model_record
from echo_lab.bench.report import headline
from echo_lab.bench.timing import (
    make_ratio,
    summarize,
    time_interleaved,
    time_repeats,
    watch_load,
)
from echo_lab.physics import pauli
from echo_lab.timing import record_stages

__all__ = [
    "bench_lbit_plain_numpy",
    "bench_lbits",
    "lbit_headlines",
    "plain_numpy_taus",
]


def _construct_split(hamiltonian: SparsePauliOp) -> tuple[lbits.LBitSystem, float, float]:
    """``lbits.construct`` (no tau cache), with its diagonalization time and its total time."""
    with record_stages() as stages:
        seconds, system = time_repeats(
            lambda: lbits.construct(hamiltonian, cache_bytes=0), repeats=1
        )
    return system, stages.get("diagonalization", 0.0), seconds[0]


def _lbit_stages(n: int, repeats: int) -> dict[str, Any]:
    """Stage times of the pipeline at ``n`` (each the min and median of ``repeats``)."""
    hamiltonian = benchmark_hamiltonian(n)
    diagonalize, assign = [], []
    for _ in range(repeats):
        system, diagonal_s, total_s = _construct_split(hamiltonian)
        diagonalize.append(diagonal_s)
        assign.append(total_s - diagonal_s)
    operators = [(a, i) for a in ("z", "x") for i in range(n)]
    form_s, taus = time_repeats(lambda: [system.tau(a, i) for a, i in operators], repeats=repeats)
    expand_s, ranges = time_repeats(
        lambda: [pauli.mean_range(pauli.support_weights(op), system.lattice) for op in taus],
        repeats=repeats,
    )

    def pipeline() -> tuple[np.ndarray, np.ndarray]:
        fresh = lbits.construct(hamiltonian, cache_bytes=0)
        return fresh.mean_range("z"), fresh.mean_range("x")

    pipeline_s, (range_z, range_x) = time_repeats(pipeline, repeats=repeats)
    return {
        "n": n,
        "seconds": {
            "diagonalize": summarize(diagonalize),
            "assignment_and_setup": summarize(assign),
            "form_all_tau": summarize(form_s),
            "expand_all_tau": summarize(expand_s),
            "pipeline": summarize(pipeline_s),
        },
        "average_range_z": float(np.mean(range_z)),
        "average_range_x": float(np.mean(range_x)),
        "stage_ranges_match_pipeline": bool(
            np.allclose(ranges[:n], range_z, rtol=0, atol=1e-12)
            and np.allclose(ranges[n:], range_x, rtol=0, atol=1e-12)
        ),
    }


def _transform_comparison(n: int, repeats: int) -> dict[str, Any]:
    """Our Pauli transform vs ``SparsePauliOp.from_operator`` on tau^x of the middle site."""
    operator = np.asarray(lbits.construct(benchmark_hamiltonian(n)).tau("x", n // 2))
    with watch_load() as load:
        seconds, results = time_interleaved(
            {
                "ours_decompose": lambda: pauli.decompose(operator),
                "qiskit_from_operator": lambda: SparsePauliOp.from_operator(
                    operator, atol=0.0, rtol=0.0
                ),
            },
            repeats=repeats,
        )
    coeffs, reference = results["ours_decompose"], results["qiskit_from_operator"]
    dense = np.zeros_like(coeffs)
    for label, coeff in zip(reference.paulis.to_labels(), reference.coeffs, strict=True):
        dense[pauli.pauli_index(label)] = coeff
    return {
        "n": n,
        "operator": f"tau^x_{n // 2} (real, dense {2**n} x {2**n})",
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "max_abs_coefficient_difference": float(np.max(np.abs(dense - coeffs))),
        "qiskit_over_ours": make_ratio(
            seconds["qiskit_from_operator"],
            seconds["ours_decompose"],
            numerator_name="qiskit_from_operator",
            baseline_name="ours_decompose",
            load=load,
        ),
    }


def bench_lbits(*, sizes: Sequence[int], transform_n: int, repeats: int) -> dict[str, Any]:
    """l-bit pipeline stage times at each N and the Pauli-transform comparison at ``transform_n``.

    Stages (min and median of ``repeats``): diagonalization (sector by sector, timed inside
    ``lbits.construct``), the rest of ``construct`` (overlap assignment, sign convention),
    forming all 2N tau^z_i and tau^x_i, their Pauli expansions with mean ranges, and the whole
    public pipeline (``construct`` then ``mean_range("z")``, ``mean_range("x")``). The transform
    comparison interleaves ``pauli.decompose`` and ``SparsePauliOp.from_operator(atol=0,
    rtol=0)``. Cost: per repeat the pipeline at each N (O(8^N) dense steps, 2N expansions of
    O(N 4^N)); memory a few dense 2^N x 2^N arrays (128 MiB each at N = 12).
    """
    return {
        "model": model_record(),
        "sizes": [_lbit_stages(int(n), repeats) for n in sizes],
        "transform": _transform_comparison(int(transform_n), repeats),
    }


def lbit_headlines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline: from_operator / ours (no target: at least 1 means ours is not slower)."""
    transform = result["transform"]
    ours = transform["seconds"]["ours_decompose"]["min"]
    return [
        headline(
            f"Pauli transform from_operator / ours, N = {transform['n']}",
            transform["qiskit_over_ours"],
            target=1.0,
            comparison=">=",
            context=f"ours {ours:.3g} s",
        )
    ]


def plain_numpy_taus(hamiltonian: SparsePauliOp) -> np.ndarray:
    """All tau^z_i, then all tau^x_i, the plain way: dense ``eigh``, Hungarian, matmul.

    Dense H, ``numpy.linalg.eigh``, the overlap assignment as one linear assignment
    (``scipy.optimize.linear_sum_assignment`` on -log |<s|E>|^2), the sign convention of
    :mod:`echo_lab.lbits` (Tr(tau^z_i sigma^z_i) >= 0, phases making <s|u_s> >= 0), then
    tau^z_i = U Z_i U^T and tau^x_i = U X_i U^T by matrix products (U = assigned eigenvectors).
    Real H only. Returns shape ``(2n, 2^n, 2^n)``; cost O(n 8^n) (2n dense products).
    """
    n = hamiltonian.num_qubits
    dim = 1 << n
    _, vectors = np.linalg.eigh(hamiltonian.to_matrix().real)
    cost = -np.log(np.maximum(vectors**2, np.finfo(float).tiny))
    _, assignment = linear_sum_assignment(cost)  # rows are the configurations 0..dim-1
    configs = np.arange(dim)
    bits = (configs[None, :] >> np.arange(n)[:, None]) & 1
    signs = 1.0 - 2.0 * bits  # (n, dim): sigma^z_i of configuration s
    z_diagonal = vectors**2  # |<s|E>|^2
    for i in range(n):
        if float(signs[i] @ (signs[i] @ z_diagonal)[assignment]) < 0:
            assignment = assignment[configs ^ (1 << i)]
    unitary = vectors[:, assignment]
    unitary = unitary * np.where(np.diagonal(unitary) < 0, -1.0, 1.0)
    taus = np.empty((2 * n, dim, dim))
    for i in range(n):
        taus[i] = (unitary * signs[i]) @ unitary.T
        taus[n + i] = unitary[:, configs ^ (1 << i)] @ unitary.T
    return taus


def bench_lbit_plain_numpy(n: int = 12, *, repeats: int = 2) -> dict[str, Any]:
    """echo_lab's l-bit operators against :func:`plain_numpy_taus`, interleaved, at ``n``.

    echo_lab: ``lbits.construct`` (block-by-block diagonalization, overlap assignment) then
    ``tau("z", i)`` and ``tau("x", i)`` for every site; plain: :func:`plain_numpy_taus`. Records
    both times (min and median), ``plain_over_echo_lab`` (named ratio) and the largest entry
    difference of the 2n operators (the same operators up to rounding). Memory: about 2n + 4
    dense 4^n arrays (the plain path keeps all its operators: 3.5 GiB at n = 12).
    """
    from echo_lab.resources import require_memory

    hamiltonian = benchmark_hamiltonian(n)
    require_memory(
        (4 * n + 8) * 8.0 * 4**n,
        what=f"the plain-numpy l-bit comparison at n = {n}",
        suggestion="Use a smaller n.",
    )

    def echo_lab_taus() -> list[np.ndarray]:
        system = lbits.construct(hamiltonian, cache_bytes=0)
        return [system.tau(a, i) for a in ("z", "x") for i in range(n)]

    actions: dict[str, Callable[[], list[np.ndarray]]] = {
        "echo_lab": echo_lab_taus,
        "plain_numpy": lambda: list(plain_numpy_taus(hamiltonian)),
    }
    with watch_load() as load:
        seconds, results = time_interleaved(actions, repeats=repeats)
    difference = max(
        float(np.max(np.abs(ours - plain)))
        for ours, plain in zip(results["echo_lab"], results["plain_numpy"], strict=True)
    )
    return {
        "n": n,
        "model": model_record(),
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "plain_over_echo_lab": make_ratio(
            seconds["plain_numpy"],
            seconds["echo_lab"],
            numerator_name="plain_numpy",
            baseline_name="echo_lab",
            load=load,
        ),
        "max_abs_operator_difference": difference,
    }
