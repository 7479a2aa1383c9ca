"""l-bit construction (echo_lab.lbits): planted models, free fermions and physics invariants."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import SparsePauliOp

from echo_lab import lbits
from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import models, pauli, spectrum
from echo_lab.physics.linalg import embed

PAULI = {
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]]),
    "z": np.diag([1.0, -1.0]).astype(complex),
}


def _site_operator(a: str, i: int, n: int) -> np.ndarray:
    return embed(PAULI[a], [i], n)


def _signs(n: int) -> np.ndarray:
    """``signs[i, s] = 1 - 2 s_i``, shape (n, 2^n)."""
    configs = np.arange(2**n)
    return 1 - 2 * ((configs[None, :] >> np.arange(n)[:, None]) & 1)


def _planted_diagonal(n: int, planted: dict[tuple[int, ...], float]) -> np.ndarray:
    signs = _signs(n)
    return sum(c * np.prod(signs[list(sites)], axis=0) for sites, c in planted.items())


def _brick_unitary(n: int, eps: float, rng: np.random.Generator, *, real: bool) -> np.ndarray:
    """Two brick layers of near-identity two-qubit gates exp(-i eps K)."""
    total = np.eye(2**n, dtype=complex)
    for start in (0, 1):
        for i in range(start, n - 1, 2):
            k = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
            if real:  # i * (real antisymmetric) is Hermitian and exp(-i eps K) is real
                a = k.real - k.real.T
                gate = scipy.linalg.expm(eps * a)
            else:
                gate = scipy.linalg.expm(-1j * eps * (k + k.conj().T) / 2)
            total = embed(gate, [i, i + 1], n) @ total
    return total.real.copy() if real else total


def _planted_model(n: int, *, real: bool, seed: int) -> tuple[SparsePauliOp, np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    planted: dict[tuple[int, ...], float] = {(i,): float(rng.uniform(-4, 4)) for i in range(n)}
    planted.update({(i, i + 1): float(rng.uniform(-1, 1)) for i in range(n - 1)})
    planted.update({(i, i + 2): float(rng.uniform(-0.3, 0.3)) for i in range(n - 2)})
    planted[(0, 1, 2)] = 0.25
    unitary = _brick_unitary(n, 0.1, rng, real=real)
    dense = unitary @ np.diag(_planted_diagonal(n, planted)) @ unitary.conj().T
    return SparsePauliOp.from_operator(dense, atol=0, rtol=0), unitary, planted


def _effective_matrix(lb: lbits.LBitSystem) -> np.ndarray:
    """sum_S c_S prod tau^z_i built from the dense tau operators."""
    dim = 2**lb.n
    total = lb.effective_coefficients()[0] * np.eye(dim, dtype=complex)
    for sites, coeff in lb.effective_hamiltonian().items():
        term = np.eye(dim, dtype=complex)
        for i in sites:
            term = term @ lb.tau("z", i)
        total += coeff * term
    return total


@pytest.mark.parametrize("real", [False, True], ids=["complex-dressing", "real-dressing"])
def test_overlap_recovers_planted_lbits(real: bool) -> None:
    n = 6
    hamiltonian, unitary, planted = _planted_model(n, real=real, seed=11 if real else 12)
    lb = lbits.construct(hamiltonian, method="overlap")
    effective = lb.effective_hamiltonian()
    for sites, coeff in effective.items():
        assert coeff == pytest.approx(planted.get(sites, 0.0), abs=1e-8), sites
    for i in range(n):
        expected_z = unitary @ _site_operator("z", i, n) @ unitary.conj().T
        np.testing.assert_allclose(lb.tau("z", i), expected_z, atol=1e-10)
        if real:  # U = V exactly (positive diagonal), so tau^x and tau^y are V sigma V^T too
            for a in ("x", "y"):
                expected = unitary @ _site_operator(a, i, n) @ unitary.T
                np.testing.assert_allclose(lb.tau(a, i), expected, atol=1e-10)


def test_free_fermions_have_no_interactions_but_xxz_does() -> None:
    n = 8
    many_body = np.array([bin(mask).count("1") >= 2 for mask in range(2**n)])
    for seed in (0, 1, 2):
        free = lbits.construct(
            models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=0.0, seed=seed).hamiltonian()
        )
        assert np.max(np.abs(free.effective_coefficients()[many_body])) < 1e-8
        interacting = lbits.construct(
            models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=seed).hamiltonian()
        )
        assert np.max(np.abs(interacting.couplings())) > 1e-2


@pytest.mark.parametrize("method", lbits.EXACT_METHODS)
def test_lbit_algebra_and_effective_hamiltonian(method: str) -> None:
    n = 5
    model = models.RandomFieldXXZ(n=n, W=4.0, J=1.0, Jz=1.0, g=0.3, seed=4)
    hamiltonian = model.hamiltonian()
    dense_h = hamiltonian.to_matrix()
    lb = lbits.construct(hamiltonian, method=method)
    dim = 2**n
    eye = np.eye(dim)
    assert np.array_equal(np.sort(lb.assignment), np.arange(dim))
    for i in range(n):
        tz, tx, ty = lb.tau("z", i), lb.tau("x", i), lb.tau("y", i)
        np.testing.assert_allclose(tz @ dense_h, dense_h @ tz, atol=1e-9)
        for op in (tz, tx, ty):
            np.testing.assert_allclose(op @ op, eye, atol=1e-10)
            np.testing.assert_allclose(op, op.conj().T, atol=1e-12)
        np.testing.assert_allclose(tx @ tz, -tz @ tx, atol=1e-10)
        np.testing.assert_allclose(ty, 1j * tx @ tz, atol=1e-10)
        assert np.trace(tz @ _site_operator("z", i, n)).real >= 0
        for j in range(n):
            if j != i:
                np.testing.assert_allclose(tz @ lb.tau("z", j), lb.tau("z", j) @ tz, atol=1e-10)
                np.testing.assert_allclose(tx @ lb.tau("z", j), lb.tau("z", j) @ tx, atol=1e-10)
    coeffs = lb.effective_coefficients()
    signs = _signs(n)
    rebuilt = np.array(
        [
            sum(
                coeffs[mask] * np.prod(signs[[i for i in range(n) if mask >> i & 1], s])
                for mask in range(dim)
            )
            for s in range(dim)
        ]
    )
    np.testing.assert_allclose(rebuilt, lb.energies[lb.assignment], atol=1e-9)
    np.testing.assert_allclose(_effective_matrix(lb), dense_h, atol=1e-9)
    np.testing.assert_allclose(lb.vectors @ np.diag(lb.energies) @ lb.vectors.T, dense_h, atol=1e-9)


def test_block_diagonalization_matches_dense_eigensystem() -> None:
    model = models.RandomFieldXXZ(n=7, W=6.0, J=1.0, Jz=1.0, seed=9)
    hamiltonian = model.hamiltonian()
    blocks = lbits.construct(hamiltonian)
    energies, vectors = spectrum.diagonalize(hamiltonian)
    dense = lbits.construct(hamiltonian, eigensystem=(energies, vectors))
    # Block by block: every eigenvector lies in one S^z sector (popcount), all 8 sectors used,
    # with exact zeros elsewhere; a given eigensystem is used as it is.
    sectors = np.array([bin(s).count("1") for s in range(2**7)])
    support = [np.unique(sectors[np.flatnonzero(column)]) for column in blocks.vectors.T]
    assert all(len(found) == 1 for found in support)
    assert sorted({int(found[0]) for found in support}) == list(range(8))
    np.testing.assert_array_equal(dense.vectors, vectors)
    np.testing.assert_allclose(blocks.energies, dense.energies, atol=1e-10)
    np.testing.assert_allclose(
        blocks.effective_coefficients(), dense.effective_coefficients(), atol=1e-10
    )
    for i in (0, 3, 6):
        for a in ("z", "x"):
            np.testing.assert_allclose(blocks.tau(a, i), dense.tau(a, i), atol=1e-10)
    np.testing.assert_allclose(blocks.mean_range("x"), dense.mean_range("x"), atol=1e-10)


def test_range_method_never_increases_average_range() -> None:
    lowered = []
    for seed in range(4):
        hamiltonian = models.RandomFieldXXZ(n=6, W=3.0, J=1.0, Jz=1.0, seed=seed).hamiltonian()
        start = lbits.construct(hamiltonian, method="overlap")
        optimized = lbits.construct(
            hamiltonian, method="range", eigensystem=(start.energies, start.vectors)
        )
        before = optimized.info["average_range_before"]
        after = optimized.info["average_range_after"]
        assert before == pytest.approx(start.average_range("z"), rel=1e-10)
        # The recorded value equals an independent recomputation from the Pauli weights.
        assert after == pytest.approx(optimized.average_range("z"), rel=1e-10)
        assert after <= before + 1e-12
        lowered.append(before - after)
    assert max(lowered) > 1e-3


def test_diagonal_hamiltonian_gives_bare_spins_and_exact_xi() -> None:
    n, xi = 6, 0.8
    planted = {(i,): 1.3 + 0.7 * i for i in range(n)}
    planted.update({(i, j): 0.5 * np.exp(-(j - i) / xi) for i in range(n) for j in range(i + 1, n)})
    terms = [("Z" * len(s), list(s), c) for s, c in planted.items()]
    lb = lbits.construct(SparsePauliOp.from_sparse_list(terms, n))
    for i in range(n):
        for a in ("z", "x"):
            np.testing.assert_allclose(lb.tau(a, i), _site_operator(a, i, n).real, atol=1e-12)
    np.testing.assert_allclose(lb.mean_range("z"), 0.0, atol=1e-12)
    assert lb.couplings()[1, 4] == pytest.approx(0.5 * np.exp(-3 / xi))
    assert lb.xi_couplings() == pytest.approx(xi, rel=1e-9)
    assert np.isnan(lb.xi_tails())


def test_ranges_tails_and_time_average() -> None:
    n = 6
    hamiltonian = models.RandomFieldXXZ(n=n, W=5.0, J=1.0, Jz=1.0, seed=21).hamiltonian()
    lb = lbits.construct(hamiltonian)
    lattice = lb.lattice
    for i in (0, 2):
        coeffs = pauli.decompose(lb.tau("z", i))
        assert float(np.sum(np.abs(coeffs) ** 2)) == pytest.approx(1.0, rel=1e-12)
        np.testing.assert_allclose(
            lb.weights_by_range("z", i), pauli.weights_by_range(coeffs, lattice), atol=1e-14
        )
        np.testing.assert_allclose(
            lb.tail_profile("z", i), pauli.tail_profile(coeffs, i, lattice), atol=1e-14
        )
        assert lb.mean_range("z")[i] == pytest.approx(pauli.mean_range(coeffs, lattice))
    vectors = spectrum.diagonalize(hamiltonian)[1]
    dense_h = hamiltonian.to_matrix()
    for i in (0, 3):
        z = _site_operator("z", i, n)
        diagonal = np.real(np.einsum("ke,kl,le->e", vectors.conj(), z, vectors))
        expected = vectors @ np.diag(diagonal) @ vectors.conj().T
        averaged = lb.time_averaged_tau(i)
        np.testing.assert_allclose(averaged, expected, atol=1e-12)
        np.testing.assert_allclose(averaged @ dense_h, dense_h @ averaged, atol=1e-9)
        # Not an involution: its squared norm is sum_E <E|Z|E>^2 < 2^n.
        assert np.sum(np.abs(averaged) ** 2) == pytest.approx(np.sum(diagonal**2))
        assert np.sum(diagonal**2) < 2**n - 1
    assert lb.time_averaged_mean_range().shape == (n,)
    assert np.all(lb.time_averaged_mean_range() >= 0)


def test_tau_cache_and_eigensystem_reuse() -> None:
    hamiltonian = models.RandomFieldXXZ(n=5, W=6.0, seed=2).hamiltonian()
    lb = lbits.construct(hamiltonian)
    first = lb.tau("x", 1)
    assert lb.tau("x", 1) is first
    assert not first.flags.writeable
    uncached = lbits.construct(hamiltonian, cache_bytes=0)
    assert uncached.tau("x", 1) is not uncached.tau("x", 1)
    np.testing.assert_allclose(uncached.tau("x", 1), first, atol=1e-12)
    reused = lbits.construct(hamiltonian, eigensystem=(lb.energies, lb.vectors))
    np.testing.assert_allclose(reused.effective_coefficients(), lb.effective_coefficients())


def test_invalid_input_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    hamiltonian = models.RandomFieldXXZ(n=4, W=6.0, seed=1).hamiltonian()
    with pytest.raises(ConfigError, match="unknown l-bit method"):
        lbits.construct(hamiltonian, method="fastest")
    with pytest.raises(ConfigError, match="diagnostic"):
        lbits.construct(hamiltonian, method="time-average")
    with pytest.raises(ConfigError, match="not Hermitian"):
        lbits.construct(SparsePauliOp(["XY"], coeffs=[1j]))
    with pytest.raises(ConfigError, match="4 sites"):
        lbits.construct(hamiltonian, lattice=models.Lattice.chain(5))
    with pytest.raises(ConfigError, match="shape"):
        lbits.construct(hamiltonian, eigensystem=(np.zeros(4), np.eye(4)))
    other = models.RandomFieldXXZ(n=4, W=6.0, seed=2).hamiltonian()
    with pytest.raises(ConfigError, match="does not diagonalize"):
        lbits.construct(hamiltonian, eigensystem=spectrum.diagonalize(other))
    lb = lbits.construct(hamiltonian)
    with pytest.raises(ConfigError, match="outside"):
        lb.tau("z", 4)
    with pytest.raises(ConfigError, match="unknown l-bit operator"):
        lb.tau("w", 0)
    # Sector by sector, n = 18 needs ~70 GiB of eigenvectors (n = 16: 9.4 GiB).
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "16G")
    big = models.RandomFieldXXZ(n=18, W=6.0, seed=1).hamiltonian()
    with pytest.raises(ResourceError, match="n = 18"):
        lbits.construct(big)
    monkeypatch.delenv("ECHO_LAB_MEMORY_LIMIT")
    with pytest.raises(ConfigError, match="n <= 10"):
        lbits.construct(models.RandomFieldXXZ(n=11, W=6.0, seed=1).hamiltonian(), method="range")
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "100K")  # n = 8 by sectors needs ~0.3 MiB
    with pytest.raises(ResourceError, match="l-bit construction"):
        lbits.construct(models.RandomFieldXXZ(n=8, W=6.0, seed=1).hamiltonian())


@pytest.mark.slow
def test_range_method_at_n8_over_realizations() -> None:
    for seed in range(6):
        hamiltonian = models.RandomFieldXXZ(n=8, W=8.0, J=1.0, Jz=1.0, seed=seed).hamiltonian()
        lb = lbits.construct(hamiltonian, method="range")
        assert lb.info["average_range_after"] <= lb.info["average_range_before"] + 1e-12
        assert lb.info["average_range_after"] == pytest.approx(lb.average_range("z"), rel=1e-9)
        np.testing.assert_allclose(
            np.sort(lb.energies), np.sort(spectrum.compute_energies(hamiltonian)), atol=1e-9
        )
