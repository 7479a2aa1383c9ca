"""Exact spectra, total-S^z sectors and level statistics (docs/pages/conventions.md section 3).

* :func:`diagonalize` is the dense ``eigh`` of the full 2^n matrix (eigenvectors included).
* When H commutes with the total sigma^z (the XXZ family without transverse field), its matrix is
  block diagonal in the number of up spins: :func:`restrict_to_sector` builds one block directly
  from the Pauli terms, without ever forming a 2^n object, and :func:`diagonalize_sector` /
  :func:`compute_energies` diagonalize block by block. The half-filling block of n = 12 is
  924 x 924 (7 MiB) instead of 4096 x 4096 (128 MiB), and its ``eigh`` about 90 times less work
  (O(d^3)).
* Level-spacing ratios r_n = min(d_n, d_{n+1}) / max(d_n, d_{n+1}), d_n = E_{n+1} - E_n
  (:func:`compute_spacing_ratios`), their mean over the middle of the spectrum
  (:func:`average_spacing_ratio`), of one Hamiltonian (:func:`measure_spacing_ratio`), over
  disorder realizations (:func:`sample_spacing_ratios`) and as a sweep over W and n
  (:func:`level_statistics`). Reference values: :data:`POISSON_R` (localized) and :data:`GOE_R`
  (ergodic).

Conventions. A sector is labelled by ``n_up``, the number of sites with sigma^z = +1, i.e. of 0
bits in the basis index (docs/pages/conventions.md section 1): total sigma^z = 2 n_up - n. Sector
basis states are the basis indices with ``n - n_up`` one bits, in ascending order
(:func:`enumerate_sector`).

Examples
--------
>>> from echo_lab.physics import models
>>> from echo_lab.physics import spectrum
>>> m = models.RandomFieldXXZ(n=8, W=16.0, seed=1)
>>> spectrum.enumerate_sector(8, 4).size
70
>>> 0.0 < spectrum.measure_spacing_ratio(m) < 1.0
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.csgraph import connected_components

from echo_lab.errors import ConfigError
from echo_lab.physics.models import HamiltonianModel, PauliModel, RandomFieldXXZ, disorder_seeds
from echo_lab.resources import COMPLEX_BYTES, REAL_BYTES, dense_operator_bytes, require_memory
from echo_lab.timing import stage

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "DEGENERACY_TOL",
    "GOE_R",
    "MAX_EXACT_QUBITS",
    "MAX_SECTOR_EXACT_QUBITS",
    "POISSON_R",
    "SpacingRatioSample",
    "average_spacing_ratio",
    "compute_energies",
    "compute_spacing_ratios",
    "conserves_magnetization",
    "diagonalize",
    "diagonalize_sector",
    "enumerate_sector",
    "level_statistics",
    "measure_spacing_ratio",
    "restrict_to_sector",
    "sample_spacing_ratios",
]

#: Mean spacing ratio of uncorrelated (Poisson) levels, 2 ln 2 - 1 = 0.3863: the MBL value.
POISSON_R = 2.0 * math.log(2.0) - 1.0

#: Mean spacing ratio of the Gaussian orthogonal ensemble for large matrices (Atas et al., PRL
#: 110, 084101, 2013): the ergodic value for a real Hamiltonian such as the XXZ chain.
GOE_R = 0.5307

#: Largest n whose full 2^n matrix is diagonalized densely (4^14 * 16 B = 4 GiB per matrix).
MAX_EXACT_QUBITS = 14

#: Largest n of the exact, sector-by-sector diagonalization of an H that conserves the total
#: sigma^z (largest sector 12,870 at n = 16: ~2.5 GiB of eigenvectors, an O(d^3) ``eigh``).
MAX_SECTOR_EXACT_QUBITS = 16

#: Levels closer than ``DEGENERACY_TOL * max|E|`` count as one (degenerate) level.
DEGENERACY_TOL = 1e-10

HamiltonianLike: TypeAlias = SparsePauliOp | HamiltonianModel


def _dense_matrix(hamiltonian: SparsePauliOp, *, copies: int, what: str) -> np.ndarray:
    """Dense H (real when H is real) after the size and memory checks for ``copies`` matrices."""
    n = hamiltonian.num_qubits
    if n > MAX_EXACT_QUBITS:
        raise ConfigError(
            f"exact diagonalization is limited to n <= {MAX_EXACT_QUBITS} qubits (got {n}): "
            "use the 'krylov' or 'aer' backend for longer chains, or a total-S^z sector"
        )
    require_memory(
        copies * dense_operator_bytes(n),
        what=f"{what} of a {n}-qubit Hamiltonian",
        suggestion="Use the 'krylov' or 'aer' backend for this size.",
    )
    matrix = hamiltonian.to_matrix(sparse=True).toarray()
    if np.max(np.abs(matrix.imag), initial=0.0) == 0.0:
        return np.ascontiguousarray(matrix.real)
    return np.asarray(matrix)


def diagonalize(hamiltonian: SparsePauliOp) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``E`` (ascending) and eigenvectors ``V`` with ``V @ diag(E) @ V^dag == H``.

    ``E`` has shape ``(2^n,)``, ``V`` shape ``(2^n, 2^n)`` (column k is eigenvector k, Qiskit
    qubit order); V is real for real H (the XXZ family). Cost: one dense ``eigh``, O(8^n) time,
    and three dense 2^n x 2^n matrices of memory.
    Refused above ``MAX_EXACT_QUBITS`` or when those matrices would not fit in memory.
    """
    matrix = _dense_matrix(hamiltonian, copies=3, what="exact diagonalization")
    with stage("diagonalization"):
        energies, vectors = np.linalg.eigh(matrix)
    return energies, vectors


def _resolve(hamiltonian: HamiltonianLike) -> tuple[SparsePauliOp, bool]:
    """The operator and whether it conserves the total sigma^z."""
    if isinstance(hamiltonian, HamiltonianModel):
        return hamiltonian.hamiltonian(), hamiltonian.conserves_magnetization
    if isinstance(hamiltonian, SparsePauliOp):
        return hamiltonian, PauliModel(hamiltonian).conserves_magnetization
    raise ConfigError(
        f"expected a SparsePauliOp or a models.HamiltonianModel, got {type(hamiltonian).__name__}"
    )


def conserves_magnetization(hamiltonian: HamiltonianLike) -> bool:
    """True when H commutes with the total sigma^z (checked on the Pauli terms, no matrices).

    A ``SparsePauliOp`` must be Hermitian (real coefficients), else :class:`ConfigError`.
    """
    return _resolve(hamiltonian)[1]


def basis_blocks(matrix: sp.spmatrix) -> list[np.ndarray]:
    """The blocks of a Hamiltonian in the computational basis: sorted basis indices of each
    connected component of its sparsity graph, in component order.

    ``matrix`` is H in sparse form; explicit zeros are ignored (XX + YY cancel on |00> <-> |11>,
    and must not join two S^z sectors). For the XXZ chain without transverse field these are
    the sectors of the total sigma^z (the sectors of fixed ``n_up``, in some order); a single
    block means no structure. The one block detection of the package (l-bits, the
    trotter-exact backend). Cost: O(nnz).
    """
    pattern = abs(sp.csr_matrix(matrix))
    pattern.eliminate_zeros()
    count, labels = connected_components(pattern, directed=False)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=count))])
    return [order[starts[c] : starts[c + 1]] for c in range(count)]


def enumerate_sector(n: int, n_up: int) -> np.ndarray:
    """Basis indices (ascending, int64) of the n-qubit states with ``n_up`` spins up.

    Spin up is sigma^z = +1, a 0 bit, so these are the indices with ``n - n_up`` one bits; the
    array has binomial(n, n_up) entries. Cost O(binomial(n, n_up) n).
    """
    if not (isinstance(n, int | np.integer) and isinstance(n_up, int | np.integer)):
        raise ConfigError(f"n and n_up must be integers, got n = {n!r}, n_up = {n_up!r}")
    if n < 1 or not 0 <= n_up <= n:
        raise ConfigError(
            f"the sector n_up must lie in 0..n with n >= 1, got n = {n}, n_up = {n_up}"
        )
    indices = [sum(1 << q for q in down) for down in combinations(range(n), n - n_up)]
    return np.sort(np.asarray(indices, dtype=np.int64))


def _popcount(values: np.ndarray, n: int) -> np.ndarray:
    counts = np.zeros(values.shape, dtype=np.int64)
    for q in range(n):
        counts += (values >> q) & 1
    return counts


def _sector_block(hamiltonian: SparsePauliOp, basis: np.ndarray) -> sp.csr_matrix:
    """Block of H on ``basis`` (sorted indices); terms leading out of the basis are dropped.

    A Pauli string with group phase q, X part x and Z part z maps |s> to
    (-i)^q i^{#Y} (-1)^{popcount(s & z)} |s xor x>: one sparse entry per basis state and term.
    """
    n = hamiltonian.num_qubits
    paulis = hamiltonian.paulis
    weights = np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))
    x_masks = paulis.x.astype(np.int64) @ weights
    z_masks = paulis.z.astype(np.int64) @ weights
    y_counts = np.sum(paulis.x & paulis.z, axis=1)
    prefactors = hamiltonian.coeffs * (-1j) ** paulis.phase * 1j**y_counts
    rows, cols, data = [], [], []
    columns = np.arange(basis.size)
    for x_mask, z_mask, prefactor in zip(x_masks, z_masks, prefactors, strict=True):
        targets = basis ^ x_mask
        positions = np.minimum(np.searchsorted(basis, targets), basis.size - 1)
        inside = basis[positions] == targets
        signs = 1 - 2 * (_popcount(basis[inside] & z_mask, n) & 1)
        rows.append(positions[inside])
        cols.append(columns[inside])
        data.append(prefactor * signs)
    values = np.concatenate(data)
    if np.max(np.abs(values.imag), initial=0.0) == 0.0:
        values = values.real
    block = sp.coo_matrix(
        (values, (np.concatenate(rows), np.concatenate(cols))), shape=(basis.size, basis.size)
    )
    return sp.csr_matrix(block)


def restrict_to_sector(hamiltonian: HamiltonianLike, n_up: int) -> sp.csr_matrix:
    """Sparse block ``H[basis][:, basis]`` of the sector with ``n_up`` spins up.

    Shape ``(d, d)`` with d = binomial(n, n_up), rows and columns in the order of
    :func:`enumerate_sector`; real for real H. Built from the Pauli terms in O(terms * d * n)
    time and O(terms * d) memory, never forming a 2^n matrix. Raises :class:`ConfigError` when H
    does not conserve the total sigma^z (the block would not be a block of H).
    """
    operator, conserved = _resolve(hamiltonian)
    if not conserved:
        raise ConfigError(
            "the Hamiltonian does not conserve the total sigma^z (e.g. a transverse field g != 0), "
            "so it has no S^z sectors: diagonalize the full matrix instead"
        )
    return _sector_block(operator, enumerate_sector(operator.num_qubits, n_up))


def _dense_sector(operator: SparsePauliOp, n_up: int, *, copies: int) -> np.ndarray:
    n = operator.num_qubits
    d = math.comb(n, n_up)
    itemsize = REAL_BYTES if np.all(operator.coeffs.imag == 0) else COMPLEX_BYTES
    require_memory(
        copies * itemsize * d * d,
        what=f"diagonalization of the {d}-state sector n_up = {n_up} of {n} sites",
        suggestion="Use a smaller n or a sector further from half filling.",
    )
    return np.asarray(_sector_block(operator, enumerate_sector(n, n_up)).toarray())


def diagonalize_sector(hamiltonian: HamiltonianLike, n_up: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``E`` (ascending, shape ``(d,)``) and eigenvectors ``V`` (shape ``(d, d)``).

    ``V @ diag(E) @ V^dag == restrict_to_sector(H, n_up)``; row k of V is the amplitude on basis
    state ``enumerate_sector(n, n_up)[k]``. Cost: one dense ``eigh`` of the d x d block, O(d^3)
    time and three d x d matrices of memory (checked first).
    """
    operator, conserved = _resolve(hamiltonian)
    if not conserved:
        raise ConfigError(
            "the Hamiltonian does not conserve the total sigma^z, so it has no S^z sectors: "
            "use diagonalize() on the full matrix"
        )
    block = _dense_sector(operator, n_up, copies=3)
    with stage("diagonalization"):
        energies, vectors = np.linalg.eigh(block)
    return energies, vectors


def compute_energies(hamiltonian: HamiltonianLike, *, sector: int | None = None) -> np.ndarray:
    """Sorted eigenvalues of H (no eigenvectors), block by block when possible.

    ``sector=None``: the whole spectrum, shape ``(2^n,)``; when H conserves the total sigma^z it
    is assembled from the n + 1 sector blocks (largest block binomial(n, n // 2), so n = 16 is
    feasible), otherwise it is the dense ``eigvalsh`` of the full matrix (n <= MAX_EXACT_QUBITS).
    ``sector=n_up``: the eigenvalues of that sector only (H must conserve the total sigma^z).
    """
    operator, conserved = _resolve(hamiltonian)
    n = operator.num_qubits
    if sector is not None:
        if not conserved:
            raise ConfigError(
                f"sector = {sector} was requested, but the Hamiltonian does not conserve the "
                "total sigma^z: pass sector=None for the full spectrum"
            )
        enumerate_sector(n, sector)
        return np.linalg.eigvalsh(_dense_sector(operator, sector, copies=2))
    if conserved:
        blocks = [
            np.linalg.eigvalsh(_dense_sector(operator, n_up, copies=2)) for n_up in range(n + 1)
        ]
        return np.sort(np.concatenate(blocks))
    return np.linalg.eigvalsh(_dense_matrix(operator, copies=2, what="the spectrum"))


def compute_spacing_ratios(
    energies: np.ndarray | Sequence[float], *, degeneracy_tol: float = DEGENERACY_TOL
) -> np.ndarray:
    """Ratios r_n = min(d_n, d_{n+1}) / max(d_n, d_{n+1}) of consecutive distinct levels.

    ``energies`` (any order) are sorted first. Degeneracies: levels closer than
    ``degeneracy_tol * max|E|`` are merged into one level before the spacings are taken. Exact
    degeneracies come from symmetries (spin flip, reflection at zero disorder) that an eigensolver
    splits only at round-off; counting them would add spurious r = 0 values (and 0 / 0 for a
    triple level). A spectrum with an unresolved symmetry still shows up as r far from both
    references. Returns shape ``(m - 2,)`` for m distinct levels (empty when m < 3), values in
    [0, 1]. Cost O(m log m).
    """
    levels = np.sort(np.asarray(energies, dtype=float).ravel())
    if not np.all(np.isfinite(levels)):
        raise ConfigError("energies must be finite")
    if not degeneracy_tol >= 0:
        raise ConfigError(f"degeneracy_tol must be >= 0, got {degeneracy_tol}")
    if levels.size < 3:
        return np.empty(0)
    tolerance = degeneracy_tol * max(float(np.max(np.abs(levels))), np.finfo(float).tiny)
    spacings = np.diff(levels)
    spacings = spacings[spacings > tolerance]
    return np.minimum(spacings[:-1], spacings[1:]) / np.maximum(spacings[:-1], spacings[1:])


def average_spacing_ratio(
    energies: np.ndarray | Sequence[float],
    *,
    fraction: float = 1.0 / 3.0,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> float:
    """Mean of :func:`compute_spacing_ratios` over the middle ``fraction`` of the spectrum.

    The window is taken by level index (the middle third of the sorted ratios by default), where
    the density of states is largest and nearly flat, so no unfolding is needed; the window holds
    at least one ratio. Raises :class:`ConfigError` for fewer than 3 distinct levels.
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction must lie in (0, 1], got {fraction}")
    ratios = compute_spacing_ratios(energies, degeneracy_tol=degeneracy_tol)
    if ratios.size == 0:
        raise ConfigError(
            "the spectrum has fewer than 3 distinct levels, too few for a spacing ratio: "
            "use a larger system"
        )
    start = min(round(ratios.size * (1.0 - fraction) / 2.0), (ratios.size - 1) // 2)
    return float(np.mean(ratios[start : ratios.size - start]))


def _ratio_sector(n: int) -> int:
    """Sector used for level statistics: half filling, n_up = n // 2 (a largest sector)."""
    return n // 2


def measure_spacing_ratio(hamiltonian: HamiltonianLike, *, fraction: float = 1.0 / 3.0) -> float:
    """Mean spacing ratio of one Hamiltonian (docs/pages/conventions.md section 3).

    If H conserves the total sigma^z: the middle ``fraction`` of the half-filling sector
    n_up = n // 2 (the largest sector; for odd n the larger-n_up twin n_up = n // 2 + 1 has the same
    size and is not used). Mixing sectors would superpose independent spectra and push r towards
    Poisson even in the ergodic phase. Otherwise: the middle ``fraction`` of the full spectrum.
    """
    operator, conserved = _resolve(hamiltonian)
    n = operator.num_qubits
    if conserved:
        energies = np.linalg.eigvalsh(_dense_sector(operator, _ratio_sector(n), copies=2))
    else:
        energies = np.linalg.eigvalsh(_dense_matrix(operator, copies=2, what="the spectrum"))
    return average_spacing_ratio(energies, fraction=fraction)


@dataclass(frozen=True)
class SpacingRatioSample:
    """Disorder average of the mean spacing ratio.

    ``values[k]`` (shape ``(R,)``) is the ratio of realization k, whose fields are ``fields[k]``
    (shape ``(R, n)``); ``stderr`` is std(values, ddof=1) / sqrt(R) (NaN for R = 1).
    """

    mean: float
    stderr: float
    values: np.ndarray
    fields: np.ndarray


def _check_sweep(n: int, realizations: int, fraction: float) -> None:
    if not isinstance(realizations, int | np.integer) or realizations < 1:
        raise ConfigError(f"realizations must be an integer >= 1, got {realizations!r}")
    if not isinstance(n, int | np.integer) or n < 3:
        raise ConfigError(f"level statistics need chains of n >= 3 sites, got n = {n!r}")
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction must lie in (0, 1], got {fraction}")
    d = math.comb(n, _ratio_sector(n))
    require_memory(
        2 * REAL_BYTES * d * d,
        what=f"level statistics of n = {n} (a {d}-state sector)",
        suggestion="Use a smaller n.",
    )


def sample_spacing_ratios(
    n: int,
    W: float,
    *,
    realizations: int,
    seed: int,
    J: float = 1.0,
    Jz: float = 1.0,
    fraction: float = 1.0 / 3.0,
) -> SpacingRatioSample:
    """Mean spacing ratio of the open random-field XXZ chain, averaged over disorder.

    Realization k draws its fields from ``models.disorder_seeds(seed, realizations)[k]``
    (docs/pages/conventions.md section 2) and contributes :func:`measure_spacing_ratio`
    (half-filling sector).
    Cost per realization: one ``eigvalsh`` of a binomial(n, n // 2) block, O(d^3) (n = 12:
    d = 924).
    """
    _check_sweep(n, realizations, fraction)
    values = np.empty(realizations)
    fields = np.empty((realizations, n))
    for k, child in enumerate(disorder_seeds(seed, realizations)):
        model = RandomFieldXXZ(n, W=W, J=J, Jz=Jz, seed=child)
        fields[k] = model.fields
        values[k] = measure_spacing_ratio(model, fraction=fraction)
    stderr = (
        float(np.std(values, ddof=1) / math.sqrt(realizations)) if realizations > 1 else math.nan
    )
    return SpacingRatioSample(float(np.mean(values)), stderr, values, fields)


def _check_level_sweep(
    n: int | Sequence[int],
    W_values: Sequence[float] | np.ndarray,
    realizations: int,
    fraction: float,
) -> tuple[list[int], np.ndarray]:
    """The chain lengths and disorder strengths of :func:`level_statistics`, checked."""
    sizes = [n] if isinstance(n, int | np.integer) else list(n)
    if not sizes or len(set(sizes)) != len(sizes):
        raise ConfigError(f"n must be an integer or a list of distinct integers, got {n!r}")
    disorder = np.asarray(W_values, dtype=float)
    if disorder.ndim != 1 or disorder.size == 0:
        raise ConfigError("W_values must be a non-empty 1-D list of disorder strengths")
    if not np.all(np.isfinite(disorder)) or np.any(disorder < 0):
        raise ConfigError(f"W_values must be finite and >= 0, got {disorder.tolist()}")
    for size in sizes:
        _check_sweep(size, realizations, fraction)
    return sizes, disorder


def level_statistics(
    n: int | Sequence[int],
    W_values: Sequence[float] | np.ndarray,
    *,
    realizations: int,
    seed: int,
    J: float = 1.0,
    Jz: float = 1.0,
    fraction: float = 1.0 / 3.0,
) -> xr.Dataset:
    """Sweep of the disorder-averaged spacing ratio over chain lengths and disorder strengths.

    Returns an ``xarray.Dataset`` with coordinates ``n``, ``W``, ``realization``, ``site`` and

    * ``r_mean``, ``r_stderr`` (``n``, ``W``): mean and standard error over realizations;
    * ``r`` (``n``, ``W``, ``realization``): per-realization mean ratios;
    * ``fields`` (``n``, ``W``, ``realization``, ``site``): the fields used, NaN beyond site n - 1;

    attributes ``seed``, ``realizations``, ``J``, ``Jz``, ``fraction``, ``sector``,
    ``poisson_r``, ``goe_r``. Every (n, W) point uses the same seeds
    ``disorder_seeds(seed, realizations)``, so fields at different W differ only by the factor W
    (correlated samples make r(W) curves smoother). All inputs are checked before any
    diagonalization. Cost: ``len(n) * len(W) * realizations`` sector diagonalizations.
    """
    sizes, disorder = _check_level_sweep(n, W_values, realizations, fraction)
    ratios = np.empty((len(sizes), disorder.size, realizations))
    fields = np.full((len(sizes), disorder.size, realizations, max(sizes)), np.nan)
    means = np.empty((len(sizes), disorder.size))
    stderrs = np.empty((len(sizes), disorder.size))
    for a, size in enumerate(sizes):
        for b, strength in enumerate(disorder):
            sample = sample_spacing_ratios(
                size,
                float(strength),
                realizations=realizations,
                seed=seed,
                J=J,
                Jz=Jz,
                fraction=fraction,
            )
            ratios[a, b] = sample.values
            fields[a, b, :, :size] = sample.fields
            means[a, b], stderrs[a, b] = sample.mean, sample.stderr
    return _level_dataset(
        sizes, disorder, means, stderrs, ratios, fields, seed=seed, J=J, Jz=Jz, fraction=fraction
    )


def _level_dataset(
    sizes: list[int],
    disorder: np.ndarray,
    means: np.ndarray,
    stderrs: np.ndarray,
    ratios: np.ndarray,
    fields: np.ndarray,
    *,
    seed: int,
    J: float,
    Jz: float,
    fraction: float,
) -> xr.Dataset:
    """The Dataset of :func:`level_statistics` (its docstring lists the variables)."""
    import xarray as xr

    realizations = ratios.shape[-1]
    return xr.Dataset(
        {
            "r_mean": (("n", "W"), means),
            "r_stderr": (("n", "W"), stderrs),
            "r": (("n", "W", "realization"), ratios),
            "fields": (("n", "W", "realization", "site"), fields),
        },
        coords={
            "n": np.asarray(sizes, dtype=np.int64),
            "W": disorder,
            "realization": np.arange(realizations),
            "site": np.arange(max(sizes)),
        },
        attrs={
            "seed": int(seed),
            "realizations": int(realizations),
            "J": float(J),
            "Jz": float(Jz),
            "fraction": float(fraction),
            "sector": "half filling, n_up = n // 2 spins up",
            "poisson_r": POISSON_R,
            "goe_r": GOE_R,
        },
    )
