"""Pauli transforms, ranges and fits (echo_lab.physics.pauli) against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import pauli
from echo_lab.physics.models import Lattice


def _random_operator(rng: np.random.Generator, n: int, *, real: bool = False) -> np.ndarray:
    dim = 2**n
    op = rng.standard_normal((dim, dim))
    if not real:
        op = op + 1j * rng.standard_normal((dim, dim))
    return op


def _qiskit_coefficients(op: np.ndarray) -> np.ndarray:
    """c[x, z] from SparsePauliOp.from_operator, placed by parsing the labels."""
    dim = op.shape[0]
    expansion = SparsePauliOp.from_operator(op, atol=0, rtol=0)
    out = np.zeros((dim, dim), dtype=complex)
    for label, coeff in zip(expansion.paulis.to_labels(), expansion.coeffs, strict=True):
        out[pauli.pauli_index(label)] = coeff
    return out


def _label_range(label: str, lattice: Lattice) -> int:
    sites = [q for q, char in enumerate(reversed(label)) if char != "I"]
    return max((lattice.distance(i, j) for i in sites for j in sites), default=0)


def _partial_trace_weight(op: np.ndarray, n: int, keep: list[int]) -> float:
    """Weight of the strings supported inside ``keep``: ||Tr_rest O||_F^2 / 2^(2n - |keep|)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    # Tensor axis n - 1 - q is the row bit of qubit q, axis 2n - 1 - q its column bit.
    rows = [letters[q] for q in reversed(range(n))]
    cols = [letters[q] if q not in keep else letters[n + q] for q in reversed(range(n))]
    kept = [letters[q] for q in keep] + [letters[n + q] for q in keep]
    reduced = np.einsum(f"{''.join(rows + cols)}->{''.join(kept)}", op.reshape((2,) * (2 * n)))
    return float(np.sum(np.abs(reduced) ** 2)) / 2 ** (2 * n - len(keep))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_decompose_equals_qiskit_from_operator(n: int) -> None:
    rng = np.random.default_rng(10 + n)
    op = _random_operator(rng, n)
    coeffs = pauli.decompose(op)
    np.testing.assert_allclose(coeffs, _qiskit_coefficients(op), rtol=0, atol=1e-12)
    np.testing.assert_allclose(pauli.compose(coeffs), op, rtol=0, atol=1e-12)


def test_decompose_real_operator_and_batch() -> None:
    rng = np.random.default_rng(3)
    ops = np.stack([_random_operator(rng, 4, real=True) for _ in range(3)])
    batch = pauli.decompose(ops)
    for k in range(3):
        np.testing.assert_allclose(batch[k], _qiskit_coefficients(ops[k]), atol=1e-12)
    # A real symmetric operator has only even-Y strings and real coefficients.
    sym = ops[0] + ops[0].T
    coeffs = pauli.decompose(sym)
    masks = np.arange(16)
    y_count = np.array([[bin(x & z).count("1") for z in masks] for x in masks])
    assert np.max(np.abs(coeffs[y_count % 2 == 1])) < 1e-12
    assert np.max(np.abs(coeffs.imag)) < 1e-12


def test_weights_skip_phases_but_match_coefficients() -> None:
    rng = np.random.default_rng(4)
    for real in (True, False):
        op = _random_operator(rng, 5, real=real)
        expected = np.abs(pauli.decompose(op)) ** 2
        np.testing.assert_allclose(pauli.pauli_weights(op), expected, rtol=1e-12, atol=1e-15)


def test_support_weights_against_bincount_and_partial_traces() -> None:
    rng = np.random.default_rng(5)
    n = 5
    op = _random_operator(rng, n)
    coeffs = pauli.decompose(op)
    masks = np.arange(2**n)
    support = np.bitwise_or.outer(masks, masks)
    expected = np.bincount(support.ravel(), weights=(np.abs(coeffs) ** 2).ravel())
    np.testing.assert_allclose(pauli.support_weights(op), expected, rtol=1e-12)
    np.testing.assert_allclose(pauli.support_weights(coeffs, coefficients=True), expected)
    # Independent: weight inside an interval from the Frobenius norm of a partial trace.
    weights = pauli.support_weights(op)
    for a, b in [(0, 0), (1, 3), (0, 4), (2, 4)]:
        keep = list(range(a, b + 1))
        inside_mask = sum(1 << q for q in keep)
        inside = weights[(masks & ~inside_mask) == 0].sum()
        assert inside == pytest.approx(_partial_trace_weight(op, n, keep), rel=1e-12)


def test_walsh_hadamard_against_explicit_matrix() -> None:
    rng = np.random.default_rng(6)
    for m in (0, 1, 3, 8, 9):
        size = 2**m
        hadamard = scipy.linalg.hadamard(size)
        values = rng.standard_normal((3, size)) + 1j * rng.standard_normal((3, size))
        np.testing.assert_allclose(
            pauli.walsh_hadamard(values), values @ hadamard.T, rtol=0, atol=1e-9
        )
        real = rng.standard_normal((size, 2))
        np.testing.assert_allclose(
            pauli.walsh_hadamard(real, axis=0), hadamard @ real, rtol=0, atol=1e-9
        )
        twice = pauli.walsh_hadamard(pauli.walsh_hadamard(real, axis=0), axis=0)
        np.testing.assert_allclose(twice, size * real, atol=1e-9)


def test_labels_and_sparse_pauli_op() -> None:
    assert pauli.pauli_index("ZY") == (0b01, 0b11)
    assert pauli.label_of_masks(0b01, 0b11, 2) == "ZY"
    for label in ("IXYZ", "YYII", "IIII", "ZXZX"):
        assert pauli.label_of_masks(*pauli.pauli_index(label), 4) == label
    op = SparsePauliOp(["XIZ", "YYI", "IIZ"], coeffs=[0.5, -2.0, 1e-14]).to_matrix()
    sparse = pauli.to_sparse_pauli_op(pauli.decompose(op), atol=1e-10)
    assert sorted(sparse.paulis.to_labels()) == ["XIZ", "YYI"]
    np.testing.assert_allclose(sparse.to_matrix(), op, atol=1e-10)
    with pytest.raises(ConfigError, match="only I, X, Y, Z"):
        pauli.pauli_index("XA")


@pytest.mark.parametrize(
    "lattice",
    [Lattice.chain(4), Lattice.chain(5, periodic=True), Lattice.square(2, 3)],
    ids=["open-chain", "periodic-chain", "square-2x3"],
)
def test_ranges_against_brute_force(lattice: Lattice) -> None:
    n = lattice.n
    ranges = pauli.pauli_ranges(lattice)
    for chars in itertools.product("IXYZ", repeat=n):
        label = "".join(chars)
        assert ranges[pauli.pauli_index(label)] == _label_range(label, lattice), label
    support = pauli.support_ranges(lattice)
    assert support[0] == 0
    assert all(support[1 << i] == 0 for i in range(n))


def test_range_statistics_of_known_operator() -> None:
    # O = 0.6 Z0 + 0.8 X0 X3 on an open chain of 4 sites: weights 0.36 at range 0, 0.64 at 3.
    n = 4
    lattice = Lattice.chain(n)
    op = SparsePauliOp(["IIIZ", "XIIX"], coeffs=[0.6, 0.8]).to_matrix()
    coeffs = pauli.decompose(op)
    np.testing.assert_allclose(
        pauli.weights_by_range(coeffs, lattice), [0.36, 0, 0, 0.64], atol=1e-15
    )
    assert pauli.mean_range(coeffs, lattice) == pytest.approx(3 * 0.64)
    # Around site 1: Z0 is inside radius 1, X0 X3 only inside radius 2.
    np.testing.assert_allclose(
        pauli.tail_profile(coeffs, 1, lattice), [1.0, 0.64, 0.0, 0.0], atol=1e-15
    )
    # Support weights give the same answers as coefficients.
    weights = pauli.support_weights(op)
    np.testing.assert_allclose(
        pauli.tail_profile(weights, 1, lattice), [1.0, 0.64, 0.0, 0.0], atol=1e-15
    )
    assert pauli.mean_range(weights, lattice) == pytest.approx(3 * 0.64)


def test_tail_profile_against_windows_on_square_lattice() -> None:
    rng = np.random.default_rng(8)
    lattice = Lattice.square(2, 3)
    n = lattice.n
    coeffs = pauli.decompose(_random_operator(rng, n))
    weights = np.abs(coeffs) ** 2
    masks = np.arange(2**n)
    support = np.bitwise_or.outer(masks, masks)
    for site in (0, 3):
        profile = pauli.tail_profile(coeffs, site, lattice)
        for r, value in enumerate(profile):
            window = sum(1 << j for j in lattice.window(site, r))
            outside = weights[(support & ~window) != 0].sum()
            assert value == pytest.approx(outside, rel=1e-12, abs=1e-15)


def test_fit_localization_length() -> None:
    r = np.arange(8)
    values = 0.3 * np.exp(-r / 1.7)
    assert pauli.fit_localization_length(r, values) == pytest.approx(1.7, rel=1e-12)
    amplitude, xi = pauli.fit_exponential(r, values)
    assert (amplitude, xi) == (pytest.approx(0.3), pytest.approx(1.7))
    # Zeros, NaN and values below the floor are left out.
    noisy = values.copy()
    noisy[5] = 0.0
    noisy[6] = np.nan
    noisy[7] = 1e-30
    assert pauli.fit_localization_length(r, noisy) == pytest.approx(1.7, rel=1e-12)
    assert np.isnan(pauli.fit_localization_length([0, 1], [1.0, 0.0]))
    assert pauli.fit_localization_length([0, 1, 2], [1.0, 2.0, 4.0]) == np.inf


def test_invalid_input_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="2\\^n"):
        pauli.decompose(np.eye(3))
    with pytest.raises(ConfigError, match="square"):
        pauli.decompose(np.ones((4, 2)))
    with pytest.raises(ConfigError, match="shape"):
        pauli.weights_by_range(np.ones(8), Lattice.chain(2))
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "64K")
    with pytest.raises(ResourceError, match="Pauli transform"):
        pauli.decompose(np.eye(64))
