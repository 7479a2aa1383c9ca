"""The encoding unitary U = sum_s |E_pi(s)><s| of an assignment, stored block by block.

Column s of U is the eigenvector assigned to configuration s, its phase fixed so that
<s|E_pi(s)> is real and >= 0 (where that overlap is exactly 0 the eigensolver's phase is kept).
:class:`EncodingUnitary` never forms U: it keeps the eigenvector blocks of H
(:class:`~echo_lab.lbits.assignment.EigenvectorBlock`), the assignment and the column phases, and
offers the operations :class:`echo_lab.lbits.LBitSystem` is built from: basis changes
(``U^dag psi``, ``U c``, ``sum_b d_b^2`` per state with d_b the block sizes), dense l-bit
operators assembled from groups of columns, and partial traces of such operators onto a window
of sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from echo_lab.lbits.assignment import EigenvectorBlock
from echo_lab.resources import dense_operator_bytes, require_memory

__all__ = ["WINDOW_CHUNK_BYTES", "EncodingUnitary"]

#: Work-array budget of :meth:`EncodingUnitary.window_half` (its columns are taken in chunks).
WINDOW_CHUNK_BYTES = 64 * 2**20


@dataclass
class EncodingUnitary:
    """U for ``assignment`` (``assignment[s]`` the eigenstate of configuration s) over
    ``blocks``, the eigenvectors of an n-qubit H. Basis-change inputs have shape ``(2^n, K)``."""

    n: int
    blocks: list[EigenvectorBlock]
    assignment: np.ndarray
    state_block: np.ndarray = field(init=False, repr=False)
    state_column: np.ndarray = field(init=False, repr=False)
    phases: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        dim = 1 << self.n
        self.state_block = np.empty(dim, dtype=np.int64)
        self.state_column = np.empty(dim, dtype=np.int64)
        for b, block in enumerate(self.blocks):
            self.state_block[block.states] = b
            self.state_column[block.states] = np.arange(block.states.size)
        self.phases = self._overlap_phases()

    @property
    def is_real(self) -> bool:
        """True when all eigenvectors are real (real H)."""
        return not any(np.iscomplexobj(block.vectors) for block in self.blocks)

    def _dtype(self, batch: np.ndarray) -> np.dtype:
        return np.result_type(batch, self.phases, *(b.vectors for b in self.blocks))

    def adjoint_apply(self, batch: np.ndarray) -> np.ndarray:
        """``U^dag @ batch``: row s is <E_pi(s)|psi> with the phase convention of U."""
        eigen = np.zeros(batch.shape, dtype=self._dtype(batch))
        for block in self.blocks:
            eigen[block.states] = block.vectors.conj().T @ batch[block.basis]
        return np.conj(self.phases)[:, None] * eigen[self.assignment]

    def apply(self, batch: np.ndarray) -> np.ndarray:
        """``U @ batch``, the inverse of :meth:`adjoint_apply`."""
        dtype = self._dtype(batch)
        eigen = np.zeros(batch.shape, dtype=dtype)
        eigen[self.assignment] = self.phases[:, None] * batch
        out = np.zeros(batch.shape, dtype=dtype)
        for block in self.blocks:
            out[block.basis] = block.vectors @ eigen[block.states]
        return out

    def columns(self, b: int, configs: np.ndarray) -> np.ndarray:
        """Columns ``configs`` of U restricted to the basis of block b (their own block)."""
        block = self.blocks[b]
        columns = block.vectors[:, self.state_column[self.assignment[configs]]]
        return columns * self.phases[configs]

    def assemble(
        self, first: np.ndarray, second: np.ndarray | None, factor: complex, *, complex_out: bool
    ) -> np.ndarray:
        """A dense operator from columns of U, block by block.

        ``second is None``: 2 sum_k |u_first[k]><u_first[k]| - 1. Otherwise
        sum_k factor |u_second[k]><u_first[k]| + h.c. Columns are grouped by the blocks of their
        eigenstates, so each group costs one product of its block-sized column matrices.
        """
        dim = 1 << self.n
        require_memory(
            2 * dense_operator_bytes(self.n, real=not complex_out),
            what=f"a dense {self.n}-qubit l-bit operator",
            suggestion="Use fewer qubits.",
        )
        out = np.zeros((dim, dim), dtype=complex if complex_out else float)
        full = len(self.blocks) == 1
        block_first = self.state_block[self.assignment[first]]
        if second is None:
            for b in np.unique(block_first):
                w = self.columns(int(b), first[block_first == b])
                gram = 2.0 * (w @ w.conj().T)
                if full:
                    out += gram
                else:
                    rows = self.blocks[b].basis
                    out[np.ix_(rows, rows)] += gram
            out[np.diag_indices(dim)] -= 1.0
            return out
        for b1, b2, pick in self._block_pairs(first, second):
            product = factor * (
                self.columns(b2, second[pick]) @ self.columns(b1, first[pick]).conj().T
            )
            if not complex_out:
                product = product.real
            if full:
                out += product
                out += product.conj().T
            else:
                rows1, rows2 = self.blocks[b1].basis, self.blocks[b2].basis
                out[np.ix_(rows2, rows1)] += product
                out[np.ix_(rows1, rows2)] += product.conj().T
        return out

    def _block_pairs(
        self, first: np.ndarray, second: np.ndarray
    ) -> list[tuple[int, int, np.ndarray]]:
        """(block of first, block of second, mask of the pairs) for every pair of blocks used."""
        nblocks = len(self.blocks)
        keys = (
            self.state_block[self.assignment[first]] * nblocks
            + self.state_block[self.assignment[second]]
        )
        return [(*divmod(int(key), nblocks), keys == key) for key in np.unique(keys)]

    def window_half(
        self,
        first: np.ndarray,
        second: np.ndarray,
        sites: list[int],
        *,
        complex_out: bool,
    ) -> np.ndarray:
        """``Tr_out(sum_k u_second[k] u_first[k]^dag) / 2^(n - k)`` for the window ``sites``.

        Block by block, the columns are scattered into ``(window bits, outside bits x columns)``
        arrays and contracted over the outside bits and the columns in one product, in chunks of
        at most :data:`WINDOW_CHUNK_BYTES`.
        """
        k = len(sites)
        mask = sum(1 << q for q in sites)
        dim_window = 1 << k
        out = np.zeros((dim_window, dim_window), dtype=complex if complex_out else float)
        itemsize = 16 if complex_out else 8
        for b1, b2, pick in self._block_pairs(first, second):
            rows1, rows2 = self.blocks[b1].basis, self.blocks[b2].basis
            out1, out2 = rows1 & ~mask, rows2 & ~mask
            common = np.intersect1d(out1, out2)
            if common.size == 0:
                continue
            slot1, inside1 = _window_slots(rows1, out1, common, sites)
            slot2, inside2 = _window_slots(rows2, out2, common, sites)
            chosen1, chosen2 = first[pick], second[pick]
            chunk = max(1, WINDOW_CHUNK_BYTES // (2 * itemsize * common.size * dim_window))
            for start in range(0, chosen1.size, chunk):
                columns1 = self.columns(b1, chosen1[start : start + chunk])[inside1]
                columns2 = self.columns(b2, chosen2[start : start + chunk])[inside2]
                if not complex_out:
                    columns1, columns2 = columns1.real, columns2.real
                scatter1 = _scatter(columns1, slot1, dim_window, common.size)
                scatter2 = _scatter(columns2, slot2, dim_window, common.size)
                out += scatter2 @ scatter1.conj().T
        return out / 2.0 ** (self.n - k)

    def _eigenvector_entries(self, rows: np.ndarray, states: np.ndarray) -> np.ndarray:
        """``<rows[k]|E_states[k]>`` (0 where the row lies outside the state's block)."""
        values = np.zeros(rows.size, dtype=complex)
        blocks = self.state_block[states]
        for b in np.unique(blocks):
            block = self.blocks[b]
            pick = np.flatnonzero(blocks == b)
            local_row = np.searchsorted(block.basis, rows[pick])
            local_row = np.minimum(local_row, block.basis.size - 1)
            inside = block.basis[local_row] == rows[pick]
            entries = block.vectors[local_row, self.state_column[states[pick]]]
            values[pick] = np.where(inside, entries, 0.0)
        return values

    def _overlap_phases(self) -> np.ndarray:
        """Phase of column s of U: conj(<s|E_pi(s)>) / |<s|E_pi(s)>| (1 when the overlap is 0)."""
        configs = np.arange(1 << self.n)
        overlaps = self._eigenvector_entries(configs, self.assignment)
        magnitude = np.abs(overlaps)
        phases = np.ones(configs.size, dtype=complex)
        nonzero = magnitude > 0
        phases[nonzero] = np.conj(overlaps[nonzero]) / magnitude[nonzero]
        if self.is_real:
            return phases.real.copy()
        return phases


def _window_slots(
    rows: np.ndarray, outside: np.ndarray, common: np.ndarray, sites: list[int]
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """For the rows whose outside bits occur in ``common``: (window index, position of the
    outside bits in ``common``), and the mask of those rows."""
    position = np.minimum(np.searchsorted(common, outside), common.size - 1)
    inside = common[position] == outside
    window_index = np.zeros(int(np.count_nonzero(inside)), dtype=np.int64)
    for j, q in enumerate(sites):
        window_index |= ((rows[inside] >> q) & 1) << j
    return (window_index, position[inside]), inside


def _scatter(
    columns: np.ndarray, slot: tuple[np.ndarray, np.ndarray], dim_window: int, outside: int
) -> np.ndarray:
    """Row r of a block goes to (window bits, outside bits): column index ``outside * count +
    column``, so one product contracts the outside bits and the columns."""
    count = columns.shape[1]
    scattered = np.zeros((dim_window, outside * count), dtype=columns.dtype)
    spread = slot[1][:, None] * count + np.arange(count)
    scattered[slot[0][:, None], spread] = columns
    return scattered
