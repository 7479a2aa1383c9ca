"""Total-S^z sectors: block eigensystems and state vectors restricted to the sectors they touch.

The XXZ family without transverse field commutes with the total sigma^z, so its matrix is block
diagonal in ``n_up``, the number of up spins (0 bits) of a basis index
(:mod:`echo_lab.physics.spectrum`
builds one block, :func:`echo_lab.physics.spectrum.restrict_to_sector`). This module holds what the
exact references need to work block by block:

* :func:`sector_labels` (n_up of every basis index) and :func:`sector_bases` (the sorted basis
  indices of every sector), O(n 2^n) and vectorized;
* :func:`split_states` / :func:`join_states`: a batch of full vectors ``(2^n, K)`` <-> a dict
  ``{n_up: (d, K) array}`` that keeps only the sectors where the batch has weight;
* :class:`BlockEigensystem`: the eigenvectors of a block-diagonal H as blocks
  (``V_b`` of shape ``(d_b, d_b)`` on the sorted basis indices ``basis_b``), computed on demand
  by :func:`diagonalize_sectors` (a block is diagonalized only when a state first touches it),
  or wrapped from elsewhere (:meth:`BlockEigensystem.from_dense`, an ``LBitSystem``'s
  ``eigensystem``). It changes bases (:meth:`~BlockEigensystem.to_eigenbasis`,
  :meth:`~BlockEigensystem.from_eigenbasis`) at ``sum_b d_b^2`` per state instead of 4^n.

Sizes of the largest sector, binomial(n, n/2): 924 (n = 12), 3,432 (14), 12,870 (16), 48,620
(18), 184,756 (20). Its dense eigenvectors are 7 MiB, 90 MiB, 1.2 GiB, 18 GiB, 254 GiB (real):
eigenvectors are routine to n = 16; beyond, use the Krylov backend, which keeps no eigenvectors.

Examples
--------
>>> import numpy as np
>>> parts = split_states(np.eye(8)[:, [3]], 3)   # |011>: two 1 bits, so n_up = 1
>>> sorted(parts), parts[1].shape
([1], (3, 1))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError, NumericalError
from echo_lab.physics.spectrum import conserves_magnetization, diagonalize_sector
from echo_lab.resources import COMPLEX_BYTES, REAL_BYTES, require_memory

__all__ = [
    "SECTOR_WEIGHT_FLOOR",
    "BlockEigensystem",
    "EigenBlock",
    "diagonalize_sectors",
    "join_states",
    "largest_sector_size",
    "sector_bases",
    "sector_labels",
    "split_states",
]

#: A batch of states touches a sector when its squared norm there exceeds this fraction of the
#: batch's squared norm. Dropping a lighter part changes amplitudes by < 1e-14: it only keeps
#: rounding residue (e.g. of a truncated l-bit pulse) from triggering work on an empty sector.
SECTOR_WEIGHT_FLOOR = 1e-28


def _popcount(values: np.ndarray, n: int) -> np.ndarray:
    counts = np.zeros(values.shape, dtype=np.int8)
    for q in range(n):
        counts += ((values >> q) & 1).astype(np.int8)
    return counts


def _checked_weight(batch: np.ndarray) -> float:
    """Squared norm of a batch; NumericalError for NaN or infinite entries (which would
    otherwise look like a sector without weight and vanish)."""
    total = float(np.vdot(batch, batch).real)
    if not np.isfinite(total):
        raise NumericalError(
            "the state contains NaN or infinite values: a pulse or the Hamiltonian produced them"
        )
    return total


def sector_labels(n: int) -> np.ndarray:
    """``n_up`` of every basis index 0..2^n - 1 (n minus the number of 1 bits), int8 ``(2^n,)``.

    Cost O(n 2^n) time, 2^n bytes (1 MiB at n = 20).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= 40:
        raise ConfigError(f"the number of qubits must be an integer in 1..40, got {n!r}")
    return (n - _popcount(np.arange(1 << n, dtype=np.int64), n)).astype(np.int8)


def sector_bases(n: int) -> dict[int, np.ndarray]:
    """``{n_up: sorted basis indices}`` for n_up = 0..n; the same order as
    :func:`echo_lab.physics.spectrum.enumerate_sector`. Cost O(n 2^n), 8 bytes per basis state."""
    labels = sector_labels(n)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return {n_up: order[starts[n_up] : starts[n_up + 1]] for n_up in range(n + 1)}


def largest_sector_size(n: int) -> int:
    """binomial(n, n // 2), the size of the half-filling sector."""
    return math.comb(n, n // 2)


def split_states(
    states: np.ndarray,
    n: int,
    *,
    bases: Mapping[int, np.ndarray] | None = None,
    floor: float = SECTOR_WEIGHT_FLOOR,
) -> dict[int, np.ndarray]:
    """The sector parts of a batch of states: ``{n_up: states[basis_n_up]}`` of shape ``(d, K)``.

    ``states`` has shape ``(2^n,)`` or ``(2^n, K)`` (a 1-D input gives ``(d, 1)`` parts). Only
    sectors whose squared norm exceeds ``floor`` times the batch's appear (NaN or infinite
    entries raise :class:`~echo_lab.errors.NumericalError`). ``bases`` defaults to
    :func:`sector_bases` (pass it to avoid recomputing). Cost O(2^n K); the parts are copies.
    """
    batch = np.asarray(states).reshape(1 << n, -1)
    if bases is None:
        bases = sector_bases(n)
    total = _checked_weight(batch)
    parts: dict[int, np.ndarray] = {}
    for n_up, basis in bases.items():
        part = batch[basis]
        if float(np.vdot(part, part).real) > floor * total:
            parts[n_up] = part
    return parts


def join_states(
    parts: Mapping[int, np.ndarray],
    n: int,
    *,
    columns: int,
    bases: Mapping[int, np.ndarray] | None = None,
) -> np.ndarray:
    """Full vectors ``(2^n, columns)`` (complex) from sector parts ``{n_up: (d, columns)}``.

    The inverse of :func:`split_states` (sectors missing from ``parts`` are zero).
    """
    if bases is None:
        bases = sector_bases(n)
    out = np.zeros((1 << n, columns), dtype=complex)
    for n_up, part in parts.items():
        out[bases[n_up]] = part
    return out


@dataclass(frozen=True)
class EigenBlock:
    """Eigenvectors of one diagonal block of H.

    ``basis`` (d,) sorted basis indices of the block; ``energies`` (d,) ascending;
    ``vectors`` (d, d) with column j the eigenvector of ``energies[j]`` on ``basis``, so
    ``vectors @ diag(energies) @ vectors^dag == H[basis][:, basis]``.
    """

    basis: np.ndarray
    energies: np.ndarray
    vectors: np.ndarray


class BlockEigensystem:
    """Eigensystem of a block-diagonal H, blocks diagonalized on first use.

    Parameters
    ----------
    n : number of qubits.
    bases : the sorted basis indices of every block; together a partition of 0..2^n - 1.
    diagonalize : ``diagonalize(b)`` returns the :class:`EigenBlock` of block ``b`` (called at
        most once per block, when a state first has weight there).

    Coefficients in the eigenbasis are kept per block: a dict ``{b: (d_b, K) array}`` over the
    blocks a batch touches. Memory: the diagonalized blocks only (``sum d_b^2`` numbers).
    """

    def __init__(
        self,
        n: int,
        bases: Sequence[np.ndarray],
        diagonalize: Callable[[int], EigenBlock],
    ) -> None:
        self.n = int(n)
        self.bases = [np.asarray(basis, dtype=np.int64) for basis in bases]
        if sum(basis.size for basis in self.bases) != 1 << self.n:
            raise ConfigError(
                f"the blocks hold {sum(b.size for b in self.bases)} basis states, not 2^{self.n}"
            )
        self._diagonalize = diagonalize
        self._blocks: dict[int, EigenBlock] = {}

    @classmethod
    def from_blocks(cls, n: int, blocks: Sequence[EigenBlock]) -> BlockEigensystem:
        """Wrap already diagonalized blocks (e.g. an ``LBitSystem``'s); no copies are made."""
        held = list(blocks)

        def given(b: int) -> EigenBlock:
            return held[b]

        system = cls(n, [block.basis for block in held], given)
        system._blocks = dict(enumerate(held))
        return system

    @classmethod
    def from_dense(cls, energies: np.ndarray, vectors: np.ndarray) -> BlockEigensystem:
        """One block holding a dense ``(E, V)`` with ``V @ diag(E) @ V^dag == H``."""
        vectors = np.asarray(vectors)
        dim = vectors.shape[0]
        n = dim.bit_length() - 1
        if vectors.shape != (dim, dim) or dim != 1 << n or np.shape(energies) != (dim,):
            raise ConfigError(
                f"a dense eigensystem needs energies (2^n,) and vectors (2^n, 2^n), got "
                f"{np.shape(energies)} and {vectors.shape}"
            )
        block = EigenBlock(np.arange(dim), np.asarray(energies, dtype=float), vectors)
        return cls.from_blocks(n, [block])

    def __len__(self) -> int:
        return len(self.bases)

    def block(self, b: int) -> EigenBlock:
        """The eigenvectors of block ``b``, diagonalizing it on first use."""
        if b not in self._blocks:
            self._blocks[b] = self._diagonalize(b)
        return self._blocks[b]

    def blocks(self) -> Iterator[EigenBlock]:
        """Every block, diagonalizing those not done yet."""
        return (self.block(b) for b in range(len(self.bases)))

    @property
    def diagonalized(self) -> tuple[int, ...]:
        """Indices of the blocks diagonalized so far."""
        return tuple(sorted(self._blocks))

    def to_eigenbasis(self, states: np.ndarray) -> dict[int, np.ndarray]:
        """Coefficients ``{b: V_b^dag states[basis_b]}`` (each ``(d_b, K)``) of the blocks the
        batch touches (weight above :data:`SECTOR_WEIGHT_FLOOR`).

        ``states`` has shape ``(2^n, K)``. Cost ``sum_b d_b^2 K`` over the touched blocks, plus
        the diagonalization of blocks touched for the first time.
        """
        batch = np.asarray(states).reshape(1 << self.n, -1)
        total = _checked_weight(batch)
        coefficients: dict[int, np.ndarray] = {}
        for b, basis in enumerate(self.bases):
            part = batch[basis]
            if float(np.vdot(part, part).real) > SECTOR_WEIGHT_FLOOR * total:
                coefficients[b] = self.block(b).vectors.conj().T @ part
        return coefficients

    def from_eigenbasis(self, coefficients: Mapping[int, np.ndarray], columns: int) -> np.ndarray:
        """Full vectors ``(2^n, columns)`` (complex) from block coefficients ``{b: (d_b, K)}``."""
        out = np.zeros((1 << self.n, columns), dtype=complex)
        for b, coeffs in coefficients.items():
            block = self.block(b)
            out[block.basis] = block.vectors @ coeffs
        return out

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E, V)`` as dense arrays, E ascending, ``V @ diag(E) @ V^dag == H``.

        Diagonalizes every block; memory one dense 2^n x 2^n matrix (checked first).
        """
        blocks = list(self.blocks())
        real = not any(np.iscomplexobj(block.vectors) for block in blocks)
        require_memory(
            (REAL_BYTES if real else COMPLEX_BYTES) * 4.0**self.n,
            what=f"the dense eigenvectors of {self.n} qubits",
            suggestion="Keep the eigensystem block by block (BlockEigensystem) for this size.",
        )
        dim = 1 << self.n
        energies = np.concatenate([block.energies for block in blocks])
        order = np.argsort(energies, kind="stable")
        position = np.empty(dim, dtype=np.int64)
        position[order] = np.arange(dim)
        vectors = np.zeros((dim, dim), dtype=float if real else complex)
        start = 0
        for block in blocks:
            columns = position[start : start + block.basis.size]
            vectors[np.ix_(block.basis, columns)] = block.vectors
            start += block.basis.size
        return energies[order], vectors


def diagonalize_sectors(hamiltonian: SparsePauliOp) -> BlockEigensystem:
    """The sector-by-sector eigensystem of an H that conserves the total sigma^z, lazily.

    Block ``b`` is the sector n_up = b (basis :func:`sector_bases`); it is diagonalized with
    :func:`echo_lab.physics.spectrum.diagonalize_sector` (dense ``eigh`` of the d x d block, memory
    checked first) when a state first touches it. Cost per sector O(d^3) time and d^2 entries of
    memory (half filling: d = 3,432 at n = 14, 12,870 at n = 16). Raises :class:`ConfigError`
    when H does not conserve the total sigma^z.
    """
    if not conserves_magnetization(hamiltonian):
        raise ConfigError(
            "the Hamiltonian does not conserve the total sigma^z (e.g. a transverse field), so it "
            "has no sectors: diagonalize the full matrix (spectrum.diagonalize)"
        )
    n = hamiltonian.num_qubits
    bases = sector_bases(n)

    def diagonalize(b: int) -> EigenBlock:
        energies, vectors = diagonalize_sector(hamiltonian, b)
        return EigenBlock(bases[b], energies, vectors)

    return BlockEigensystem(n, [bases[n_up] for n_up in range(n + 1)], diagonalize)
