"""Spectra, total-S^z sectors and level statistics (docs/pages/conventions.md section 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends import exact
from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import models, spectrum


def _dm_interaction(n: int) -> SparsePauliOp:
    """Dzyaloshinskii-Moriya chain X_i Y_{i+1} - Y_i X_{i+1} plus fields: complex, conserves S^z."""
    terms = [("XY", [i, i + 1], 1.0) for i in range(n - 1)]
    terms += [("YX", [i, i + 1], -1.0) for i in range(n - 1)]
    terms += [("Z", [i], 0.3 * (i + 1)) for i in range(n)]
    return SparsePauliOp.from_sparse_list(terms, n)


def test_reference_constants() -> None:
    assert spectrum.POISSON_R == pytest.approx(0.386294, abs=1e-6)
    assert spectrum.GOE_R == 0.5307


def test_diagonalize_is_reexported_by_the_exact_backend() -> None:
    assert exact.diagonalize is spectrum.diagonalize
    assert exact.MAX_EXACT_QUBITS == spectrum.MAX_EXACT_QUBITS == 14
    h = _dm_interaction(4)
    energies, vectors = spectrum.diagonalize(h)
    np.testing.assert_allclose(
        vectors @ np.diag(energies) @ vectors.conj().T, h.to_matrix(), atol=1e-12
    )
    assert np.all(np.diff(energies) >= 0)


def test_enumerate_sector_counts_up_spins_as_zero_bits() -> None:
    np.testing.assert_array_equal(spectrum.enumerate_sector(3, 3), [0])
    np.testing.assert_array_equal(spectrum.enumerate_sector(3, 2), [0b001, 0b010, 0b100])
    np.testing.assert_array_equal(spectrum.enumerate_sector(3, 1), [0b011, 0b101, 0b110])
    sizes = [spectrum.enumerate_sector(12, k).size for k in range(13)]
    assert sizes == [math.comb(12, k) for k in range(13)]
    assert sizes[6] == 924
    for bad in [(3, 4), (3, -1), (0, 0)]:
        with pytest.raises(ConfigError, match="n_up"):
            spectrum.enumerate_sector(*bad)


@pytest.mark.parametrize(
    "operator",
    [
        models.RandomFieldXXZ(6, W=3.0, Jz=0.7, seed=11).hamiltonian(),
        models.RandomFieldXXZ(6, W=2.0, seed=5, periodic=True).hamiltonian(),
        models.RandomFieldXXZ(lattice=models.Lattice.square(3, 2), W=2.0, seed=6).hamiltonian(),
        _dm_interaction(5),
    ],
    ids=["open", "periodic", "square", "complex-dm"],
)
def test_sector_blocks_are_blocks_of_the_full_matrix(operator: SparsePauliOp) -> None:
    n = operator.num_qubits
    full = operator.to_matrix(sparse=True).tocsr()
    assert spectrum.conserves_magnetization(operator)
    for n_up in range(n + 1):
        basis = spectrum.enumerate_sector(n, n_up)
        block = spectrum.restrict_to_sector(operator, n_up)
        np.testing.assert_allclose(block.toarray(), full[basis][:, basis].toarray(), atol=1e-13)
    np.testing.assert_allclose(
        spectrum.compute_energies(operator), np.linalg.eigvalsh(full.toarray()), atol=1e-12
    )


def test_sector_eigenvectors_are_eigenvectors_of_the_full_hamiltonian() -> None:
    model = models.RandomFieldXXZ(7, W=4.0, seed=2)
    full = model.matrix()
    basis = spectrum.enumerate_sector(7, 3)
    energies, vectors = spectrum.diagonalize_sector(model, 3)
    embedded = np.zeros((2**7, basis.size))
    embedded[basis] = vectors
    np.testing.assert_allclose(full @ embedded, embedded * energies, atol=1e-12)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(basis.size), atol=1e-12)
    np.testing.assert_allclose(spectrum.compute_energies(model, sector=3), energies, atol=1e-12)


def test_non_conserving_hamiltonian_uses_the_full_spectrum() -> None:
    model = models.RandomFieldXXZ(5, W=2.0, g=0.4, seed=3)
    assert not spectrum.conserves_magnetization(model)
    assert not spectrum.conserves_magnetization(model.hamiltonian())
    full = np.linalg.eigvalsh(model.matrix())
    np.testing.assert_allclose(spectrum.compute_energies(model), full, atol=1e-12)
    assert spectrum.measure_spacing_ratio(model) == pytest.approx(
        spectrum.average_spacing_ratio(full)
    )
    with pytest.raises(ConfigError, match="does not conserve"):
        spectrum.restrict_to_sector(model, 2)
    with pytest.raises(ConfigError, match="does not conserve"):
        spectrum.compute_energies(model, sector=2)
    with pytest.raises(ConfigError, match="does not conserve"):
        spectrum.diagonalize_sector(model.hamiltonian(), 2)


def test_xx_alone_breaks_conservation_but_xx_plus_yy_keeps_it() -> None:
    assert spectrum.conserves_magnetization(SparsePauliOp(["XX", "YY", "ZI"], [1.0, 1.0, 0.5]))
    assert not spectrum.conserves_magnetization(SparsePauliOp(["XX", "ZI"], [1.0, 0.5]))
    assert not spectrum.conserves_magnetization(SparsePauliOp(["XX", "YY"], [1.0, -1.0]))
    with pytest.raises(ConfigError, match="not Hermitian"):
        spectrum.conserves_magnetization(SparsePauliOp(["XY"], [1j]))


def test_measure_spacing_ratio_uses_the_half_filling_sector() -> None:
    model = models.RandomFieldXXZ(9, W=1.5, seed=8)
    sector = np.linalg.eigvalsh(spectrum.restrict_to_sector(model, 4).toarray())
    assert sector.size == 126
    assert spectrum.measure_spacing_ratio(model) == pytest.approx(
        spectrum.average_spacing_ratio(sector), abs=1e-12
    )
    # Superposing the independent sectors drives r towards Poisson even at weak disorder.
    mixed = spectrum.average_spacing_ratio(spectrum.compute_energies(model))
    assert mixed < spectrum.measure_spacing_ratio(model) - 0.05


def test_spacing_ratios_exact_small_cases() -> None:
    np.testing.assert_allclose(spectrum.compute_spacing_ratios([0.0, 1.0, 3.0, 4.0]), [0.5, 0.5])
    np.testing.assert_allclose(spectrum.compute_spacing_ratios([4.0, 0.0, 3.0, 1.0]), [0.5, 0.5])
    np.testing.assert_allclose(spectrum.compute_spacing_ratios([0.0, 1.0, 2.0, 3.0]), [1.0, 1.0])
    assert spectrum.compute_spacing_ratios([1.0, 2.0]).size == 0
    levels = np.array([0.0, 1.0, 3.0, 4.0, 7.0, 8.0, 9.5])
    ratios = spectrum.compute_spacing_ratios(levels)
    assert spectrum.average_spacing_ratio(levels, fraction=1.0) == pytest.approx(ratios.mean())
    assert spectrum.average_spacing_ratio(levels) == pytest.approx(ratios[2])
    with pytest.raises(ConfigError, match="fewer than 3"):
        spectrum.average_spacing_ratio([0.0, 0.0, 1.0])
    with pytest.raises(ConfigError, match="fraction"):
        spectrum.average_spacing_ratio(levels, fraction=0.0)
    with pytest.raises(ConfigError, match="finite"):
        spectrum.compute_spacing_ratios([0.0, np.nan, 1.0])


def test_degenerate_levels_are_merged() -> None:
    levels = np.array([0.0, 1.0, 3.0, 4.0, 7.0])
    doubled = np.concatenate([levels, levels + 1e-14 * np.arange(5)])
    tripled = np.concatenate([levels, levels, levels])
    expected = spectrum.compute_spacing_ratios(levels)
    np.testing.assert_allclose(spectrum.compute_spacing_ratios(doubled), expected)
    np.testing.assert_allclose(spectrum.compute_spacing_ratios(tripled), expected)
    # Zero tolerance merges only identical values: the near copies give ratios ~1e-14.
    kept = spectrum.compute_spacing_ratios(doubled, degeneracy_tol=0.0)
    assert kept.size == 7
    assert np.max(kept) < 1e-13


def test_poisson_levels_give_the_poisson_ratio() -> None:
    """Sorted uniform numbers are uncorrelated levels: <r> = 2 ln 2 - 1, P(r < x) = 2x / (1 + x).

    20000 levels: the standard error of <r> is 0.002, the tolerance 0.01 (5 sigma).
    """
    levels = np.random.default_rng(2024).uniform(size=20000)
    ratios = spectrum.compute_spacing_ratios(levels)
    assert spectrum.average_spacing_ratio(levels, fraction=1.0) == pytest.approx(
        spectrum.POISSON_R, abs=0.01
    )
    for x in (0.25, 0.5, 0.75):
        assert np.mean(ratios < x) == pytest.approx(2 * x / (1 + x), abs=0.02)


def test_goe_matrices_give_the_goe_ratio() -> None:
    """40 GOE matrices of size 300, middle third: standard error ~0.005, tolerance 0.02."""
    rng = np.random.default_rng(7)
    values = []
    for _ in range(40):
        a = rng.normal(size=(300, 300))
        values.append(spectrum.average_spacing_ratio(np.linalg.eigvalsh((a + a.T) / 2)))
    assert np.mean(values) == pytest.approx(spectrum.GOE_R, abs=0.02)


def test_sample_spacing_ratios_seeding_and_statistics() -> None:
    sample = spectrum.sample_spacing_ratios(6, 3.0, realizations=4, seed=9, Jz=0.5)
    children = np.random.SeedSequence(9).spawn(4)
    for k, child in enumerate(children):
        fields = np.random.default_rng(child).uniform(-3.0, 3.0, 6)
        np.testing.assert_array_equal(sample.fields[k], fields)
        model = models.RandomFieldXXZ(6, Jz=0.5, fields=fields)
        assert sample.values[k] == spectrum.measure_spacing_ratio(model)
    assert sample.mean == pytest.approx(np.mean(sample.values))
    assert sample.stderr == pytest.approx(np.std(sample.values, ddof=1) / 2)
    single = spectrum.sample_spacing_ratios(6, 3.0, realizations=1, seed=9)
    assert math.isnan(single.stderr)
    assert single.values[0] == pytest.approx(single.mean)


def test_level_statistics_dataset() -> None:
    data = spectrum.level_statistics([4, 6], [0.5, 8.0], realizations=3, seed=4, Jz=0.8)
    assert data["r"].dims == ("n", "W", "realization")
    assert data["fields"].shape == (2, 2, 3, 6)
    assert np.all(np.isnan(data["fields"].sel(n=4).values[..., 4:]))
    # Same seeds at every W: fields differ only by the factor W.
    np.testing.assert_allclose(
        data["fields"].sel(n=6, W=8.0).values, 16.0 * data["fields"].sel(n=6, W=0.5).values
    )
    sample = spectrum.sample_spacing_ratios(6, 8.0, realizations=3, seed=4, Jz=0.8)
    np.testing.assert_array_equal(data["r"].sel(n=6, W=8.0).values, sample.values)
    assert float(data["r_mean"].sel(n=6, W=8.0)) == pytest.approx(sample.mean)
    assert float(data["r_stderr"].sel(n=6, W=8.0)) == pytest.approx(sample.stderr)
    assert data.attrs["seed"] == 4 and data.attrs["Jz"] == 0.8
    assert data.attrs["poisson_r"] == spectrum.POISSON_R


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 6, "W_values": [-1.0]}, "W_values"),
        ({"n": 6, "W_values": [np.nan]}, "W_values"),
        ({"n": 6, "W_values": []}, "W_values"),
        ({"n": 2, "W_values": [1.0]}, "n >= 3"),
        ({"n": [6, 6], "W_values": [1.0]}, "distinct"),
        ({"n": 6, "W_values": [1.0], "realizations": 0}, "realizations"),
        ({"n": 6, "W_values": [1.0], "fraction": 1.5}, "fraction"),
    ],
)
def test_level_statistics_rejects_bad_input(kwargs: dict, match: str) -> None:
    options = {"realizations": 2, "seed": 0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        spectrum.level_statistics(**options)


def test_memory_is_checked_before_diagonalizing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "1M")
    model = models.RandomFieldXXZ(12, W=1.0, seed=0)
    with pytest.raises(ResourceError, match="924-state sector"):
        spectrum.measure_spacing_ratio(model)
    with pytest.raises(ResourceError, match="needs about"):
        spectrum.level_statistics(12, [1.0], realizations=2, seed=0)
    with pytest.raises(ResourceError, match="needs about"):
        spectrum.diagonalize(model.hamiltonian())
    with pytest.raises(ConfigError, match="n <= 14"):
        spectrum.compute_energies(models.RandomFieldXXZ(15, W=1.0, g=0.5, seed=0))


def test_spacing_ratio_crossover_small_chain() -> None:
    """n = 10 (252-state sector), 16 realizations: ergodic at W = 1, localized at W = 16.

    Measured (seed 1): r(1) = 0.530 +- 0.007, r(16) = 0.388 +- 0.008.
    """
    weak = spectrum.sample_spacing_ratios(10, 1.0, realizations=16, seed=1)
    strong = spectrum.sample_spacing_ratios(10, 16.0, realizations=16, seed=1)
    assert weak.mean > 0.50
    assert strong.mean < 0.42
    assert weak.mean - strong.mean > 5 * math.hypot(weak.stderr, strong.stderr)


@pytest.mark.slow
def test_spacing_ratio_crossover_n12() -> None:
    """docs/pages/conventions.md section 8.1: r goes from GOE (W = 1) to Poisson (W = 16) through
    the crossover.

    n = 12 open chain, 924-state sector, 20 realizations, standard errors ~0.005. Measured (seed 1):
    r(1) = 0.531, r(4) = 0.440, r(16) = 0.385. On open chains this small the drop happens below
    the thermodynamic W_c ~ 7 (an independent Pal-Huse build gives the same numbers: 0.436 at
    W = 4, 0.398 at W = 7); periodic chains stay ergodic a little longer.
    """
    data = spectrum.level_statistics(12, [1.0, 4.0, 16.0], realizations=20, seed=1)
    r = data["r_mean"].sel(n=12).values
    assert r[0] == pytest.approx(spectrum.GOE_R, abs=0.015)
    assert r[2] == pytest.approx(spectrum.POISSON_R, abs=0.015)
    assert r[0] - 0.03 > r[1] > r[2] + 0.02


def test_basis_blocks_are_the_sz_sectors() -> None:
    from math import comb

    H = models.RandomFieldXXZ(n=6, W=3.0, seed=2).hamiltonian()
    blocks = spectrum.basis_blocks(H.to_matrix(sparse=True))
    assert sorted(b.size for b in blocks) == sorted(comb(6, k) for k in range(7))
    for block in blocks:
        ups = {int(6 - bin(int(i)).count("1")) for i in block}
        assert len(ups) == 1  # one sector per block
        assert np.all(np.diff(block) > 0)
    with_field = models.RandomFieldXXZ(n=4, W=3.0, g=0.5, seed=2).hamiltonian()
    assert len(spectrum.basis_blocks(with_field.to_matrix(sparse=True))) == 1
