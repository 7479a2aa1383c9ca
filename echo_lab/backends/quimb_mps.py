r"""quimb backend: echo_lab's Trotter circuits on a truncated matrix product state (quimb).

For long chains whose entanglement needs a large bond dimension chi (a referee's measurement at
chi = 128, N = 24: Aer MPS 230 s, quimb 43 s, same values to 1e-7). Measured with this backend
(N = 24, W = 8, Hahn echoes T = 5 and 10, dt = 0.1, order 2, one BLAS thread, idle machine,
2026-12-07, ``experiments/benchmarks/mps_peers.json``): chi = 32 / 64 / 128: 3.3 / 9.5 / 11.4 s
against Aer MPS 9.6 / 46.5 / 66.7 s and quimb's own ``TEBD`` 5.0 / 13.1 / 14.6 s.

**Same circuits as the Aer backend.** Every ``Free`` segment of length L is ``k = ceil(L / dt)``
Trotter steps of ``L / k`` (:func:`echo_lab.dynamics.trotter.segment_steps`), the gates of
:func:`~echo_lab.dynamics.trotter.evolution_circuit` (read without building the circuit,
:func:`~echo_lab.dynamics.trotter.evolution_gates`) of ``trotter.split_layers(H)`` (fields
folded into the bonds, the same product formula of order 1, 2 or 4) but fused into gates of at
most two qubits (``fuse_qubits=2``): on a nearest-neighbour chain that is one 4 x 4 unitary per
bond and half step, the TEBD gate. Within a segment the gates are replayed in sweeps (gates of
equal circuit depth act on disjoint qubits and commute exactly, so they are applied left to right,
then right to left), which keeps the orthogonality centre next to the gate: one QR per gate.
Pulses play their circuit when they have one (circuit l-bits), else their dense matrix on their
qubits; a pulse with only an ``action`` (exact l-bits on many qubits) is refused.

**Gates on the MPS** (a quimb :class:`~quimb.tensor.MatrixProductState`, kept in mixed canonical
form around the gate so that every truncation is the optimal one): a one-qubit gate is
contracted into its site (no truncation); a two-qubit gate on neighbours, the hot path, works on
the two site arrays directly: the orthogonality centre is moved next to it by QR steps, the
gate is contracted with both sites and the result split by one LAPACK SVD (``gesdd``, ``gesvd``
if it fails). This skips quimb's per-gate bookkeeping (index and tag look-ups, tensor objects,
contraction-path search), which cost about 3 ms per gate, more than the SVD below chi ~ 64
(the whole run measured 1.5-3x faster at n = 7). A gate on three or more contiguous sites, up
to :data:`MAX_BLOCK_GATE_SITES` (a window l-bit pulse), is applied to the contracted block of its
sites and split again by truncated SVDs from the left: an N = 24, W = 8 Hahn echo with a 10-site
window pulse (chi = 32, T <= 20) took 58 s this way against 380 s as an MPO, the same values to
1e-4. Any other gate (wider, or on scattered sites) becomes a small MPO applied to the region it
covers and compressed there (quimb's ``gate_nonlocal``, direct compression).

**Truncation** (``max_bond``, ``cutoff``): every SVD keeps at most ``max_bond`` singular values
and drops the smallest ones as long as the sum of their squares stays below ``cutoff`` times the
sum of all squares (quimb's ``cutoff_mode="rsum2"``, also used for the MPO route); with the
centre at the gate that sum is the squared norm of the state, so ``cutoff`` bounds the weight
discarded by one SVD. After each truncation the state is renormalized. Every run reports, per
total time:

* ``"mps_discarded_weight"``: the sum over every truncation that produced that value (the evolution
  to that time, its pulses, and the readout circuits of the ``RotatedPauli`` observables read
  through a copy) of the weight it discarded: the discarded squared singular values over the sum of
  all of them for a two-site gate, the squared norm lost (1 - ||psi_truncated||^2, read off the
  centre before renormalizing) for the MPO route. For a state of unit norm the infidelity
  1 - |<psi|psi_untruncated>|^2 is at most about this sum, and an observable of norm 1 is off by at
  most about 2 sqrt(sum) (the tests check this bound);
* ``"mps_max_bond"``: the largest bond dimension the MPS held on the way to that time (readout
  copies included); equal to ``max_bond`` means truncation by the bound, not by ``cutoff``.

**Observables**: a ``SparsePauliOp`` is evaluated term group by term group (terms on the same
qubits summed into one local matrix), each from the reduced density matrix of its qubits with the
centre moved there (``partial_trace_canonical``: O(span chi^3)); a term spanning more than
:data:`MAX_LOCAL_SPAN` sites is evaluated as the overlap <psi|P|psi> (O(n chi^3)). A
:class:`~echo_lab.backends.base.RotatedPauli` R^dag P R on a contiguous run of at most
:data:`MAX_READOUT_SPAN` sites (circuit l-bit light cones, compiled supports, windows) is
evaluated exactly from the reduced density matrix of that run and its dense block
(O(span chi^3 + 4^span chi^2)). Measured on an N = 24, W = 8 Hahn echo at chi = 32, T <= 20:
reading an 8-site window l-bit this way adds nothing measurable to the 40-50 s of the run, where
playing its 256 x 256 readout unitary on a copy of the MPS added 43 s. A wider or scattered one
is read as a device would: a copy of the MPS gets the readout circuit (truncated like the
evolution), then the Pauli is measured on its site. Dense ``2^n x 2^n`` arrays and linear
operators are evaluated on the contracted state vector up to :data:`MAX_DENSE_OBSERVABLE_QUBITS`
qubits and refused beyond (an MPS takes local operators). ``entropy=True``: von Neumann entropy
(natural log) of the Schmidt spectrum at the bond between sites n//2 - 1 and n//2.

**Cost and memory.** A two-site gate costs one SVD of a (2 chi) x (2 chi) complex matrix,
O(chi^3) (on the shared 2-core development machine: 5 ms at chi = 32, 150 ms at chi = 128), and
a Strang step of an N-site chain is about N - 1 of them. quimb and numpy call a multithreaded
BLAS; on few shared cores 2 threads were reported 3-9x *slower* than one (2 cores). Study runs
already limit BLAS to one thread per unit (:mod:`echo_lab.study.executor`); for direct use pass
``threads=1`` (the backend then wraps ``run`` in ``threadpoolctl.threadpool_limits(1)``), or set
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``. Memory: an MPS holds at most
16 n chi^2 bytes; a run holds the state, one copy (the start of an echo, or a readout copy) and
the SVD work arrays (:func:`quimb_memory_bytes`). The first free segment is evolved
once per step length, continued from one total time to the next (an FID trace is only that; for
an echo it is the first half, so a Hahn echo at T = 0.5, 1, 2, 5, 10, 20 evolves 20 + 38.5 / 2
instead of 38.5 time units); the rest of the sequence runs on a copy for each total time. Gate
lists are built once per (steps, step length) of a run. Chaining the first segment changes
only where truncations happen: without truncation the states are those of separate
evolutions to rounding (the tests check both).

Requires quimb (the ``cpu`` extra brings it; alone: ``pip install 'echo_lab[mps]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator as QiskitOperator
from qiskit.quantum_info import SparsePauliOp
from scipy.sparse.linalg import LinearOperator

from echo_lab.backends.base import (
    Operator,
    RotatedPauli,
    check_health,
    check_inputs,
    evaluate_observable,
)
from echo_lab.backends.memory import QUIMB_DEFAULT_MAX_BOND, quimb_memory_bytes
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.linalg import PAULI_MATRICES, entropy_of_weights
from echo_lab.physics.states import ProductState
from echo_lab.resources import require_memory

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_MAX_BOND",
    "MAX_BLOCK_GATE_SITES",
    "MAX_DENSE_OBSERVABLE_QUBITS",
    "MAX_LOCAL_SPAN",
    "MAX_READOUT_SPAN",
    "QuimbMPSBackend",
    "TruncatedMPS",
]

QUIMB_INSTALL_HINT = "install quimb: pip install 'echo_lab[mps]' (quimb>=1.8)"

#: Default bond dimension bound: where Aer's MPS stops being the faster engine (chi >= 64).
DEFAULT_MAX_BOND = QUIMB_DEFAULT_MAX_BOND
#: Default largest weight one SVD may discard (quimb's ``cutoff_mode="rsum2"``).
DEFAULT_CUTOFF = 1e-10
#: quimb's name of the cutoff rule (module docstring).
CUTOFF_MODE = "rsum2"
#: cotengra's path finder for the small contractions of readouts: "auto" (exhaustive or greedy
#: by size); quimb's default "auto-hq" runs a hyper-optimizer (and warns without kahypar).
CONTRACTION_PATH = "auto"
#: Largest chain on which dense-array and linear-operator observables are evaluated (on the
#: contracted 2^n state vector).
MAX_DENSE_OBSERVABLE_QUBITS = 14
#: Pauli terms spanning more sites than this are evaluated as an overlap, not from a reduced
#: density matrix (whose 4^span entries would dominate).
MAX_LOCAL_SPAN = 6

#: A :class:`~echo_lab.backends.base.RotatedPauli` on at most this many contiguous sites is read
#: from the reduced density matrix of those sites (its dense block R^dag P R, 4^span entries, no
#: truncation); a wider or scattered one by playing its readout circuit on a copy.
MAX_READOUT_SPAN = 10

#: A gate on at most this many contiguous sites (a window l-bit pulse) is applied to the
#: contracted block of its sites and split by SVDs (memory 16 chi^2 2^k bytes); a wider or
#: scattered one becomes an MPO (quimb's ``gate_nonlocal``).
MAX_BLOCK_GATE_SITES = 10

#: One gate: its matrix in Qiskit order over ``qubits`` (qubits[0] least significant).
Gate = tuple[np.ndarray, tuple[int, ...]]


def _import_quimb() -> Any:
    try:
        import quimb.tensor as qtn
    except ImportError:
        raise ConfigError(f"the quimb backend needs quimb: {QUIMB_INSTALL_HINT}") from None
    return qtn


def quimb_order(matrix: np.ndarray, qubits: Sequence[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """A Qiskit-ordered matrix on ``qubits`` as quimb wants it: on the sorted sites, the first
    site the most significant. Returns ``(matrix, sorted sites)``."""
    k = len(qubits)
    where = tuple(sorted(int(q) for q in qubits))
    if k == 1:
        return np.asarray(matrix, dtype=complex), where
    # Axis a of the (2,)*k reshape is qubits[k - 1 - a] (Qiskit: qubits[0] least significant).
    axis_of = {int(q): k - 1 - a for a, q in enumerate(qubits)}
    order = [axis_of[q] for q in where]
    tensor = np.asarray(matrix, dtype=complex).reshape((2,) * (2 * k))
    tensor = tensor.transpose(order + [k + a for a in order])
    return tensor.reshape(2**k, 2**k), where


def circuit_gates(qc: QuantumCircuit, qubits: Sequence[int] | None = None) -> list[Gate]:
    """The unitary gates of ``qc`` in order as ``(matrix, chain qubits)``; circuit qubit k is chain
    qubit ``qubits[k]`` (default: k). Barriers are dropped; ConfigError for measurements or
    resets. The global phase is dropped (expectation values do not see it)."""
    where = list(range(qc.num_qubits)) if qubits is None else [int(q) for q in qubits]
    gates: list[Gate] = []
    for instruction in qc.data:
        operation = instruction.operation
        if operation.name == "barrier":
            continue
        if operation.name in ("measure", "reset") or operation.num_clbits:
            raise ConfigError(
                f"the quimb backend simulates unitary circuits, got {operation.name!r}"
            )
        try:
            matrix = np.asarray(operation.to_matrix(), dtype=complex)
        except Exception:  # composite instructions: through their definition
            matrix = QiskitOperator(operation).data
        targets = tuple(where[qc.find_bit(q).index] for q in instruction.qubits)
        gates.append((matrix, targets))
    return gates


def sweep_order(gates: Sequence[Gate]) -> list[Gate]:
    """``gates`` reordered into sweeps without changing the product they form.

    A gate's depth is one more than the largest depth of the earlier gates on its qubits; gates
    of one depth act on disjoint qubits, so they commute. Sorting by depth keeps every gate after
    the gates it depends on; within a depth, even depths go left to right and odd depths right
    to left, so the orthogonality centre moves one site per gate in a brickwork.
    """
    last: dict[int, int] = {}
    keyed = []
    for index, (_, qubits) in enumerate(gates):
        depth = 1 + max((last.get(q, -1) for q in qubits), default=-1)
        for q in qubits:
            last[q] = depth
        position = min(qubits) if depth % 2 == 0 else -max(qubits)
        keyed.append((depth, position, index))
    keyed.sort()
    return [gates[index] for _, _, index in keyed]


@dataclass
class TruncatedMPS:
    """A quimb MPS with its truncation rule and budget (module docstring).

    ``info`` holds quimb's ``cur_orthog`` (the orthogonality centre, as an inclusive range),
    ``discarded`` the sum of the squared norms lost by truncation so far and ``largest_bond``
    the largest bond dimension held so far.

    The hot path (one- and two-site gates, QR steps of the centre) works on plain site arrays
    of shape (left bond, 2, right bond), not on quimb's tensors: writing a tensor back to quimb
    (``Tensor.modify``) cost about as much as the SVD at chi = 32 (a profile of one N = 12 unit:
    29 s of 190 s). The arrays are the state while a gate sequence runs; they are written back
    into the quimb MPS (:meth:`quimb_mps`) only before a quimb routine reads it (readouts,
    gates on distant sites, copies, entropy).
    """

    mps: Any
    max_bond: int
    cutoff: float
    info: dict[str, Any] = field(default_factory=dict)
    discarded: float = 0.0
    largest_bond: int = 1
    _arrays: list[np.ndarray] | None = field(default=None, init=False, repr=False)

    @classmethod
    def product(cls, state: ProductState, *, max_bond: int, cutoff: float) -> TruncatedMPS:
        """The product state (bond dimension 1, canonical about any site)."""
        qtn = _import_quimb()
        sites = [np.asarray(state.site_vector(i), dtype=complex) for i in range(state.n)]
        mps = qtn.MPS_product_state(sites)
        return cls(mps, max_bond, cutoff, {"cur_orthog": (0, 0)})

    @property
    def n(self) -> int:
        return int(self.mps.L)

    def copy(self) -> TruncatedMPS:
        """An independent copy with the same budget so far."""
        twin = TruncatedMPS(
            self.mps.copy(),
            self.max_bond,
            self.cutoff,
            dict(self.info),
            self.discarded,
            self.largest_bond,
        )
        if self._arrays is not None:
            # Site arrays are replaced, never changed in place, so the copy may share them; the
            # (stale) quimb copy gets them written back when the copy flushes.
            twin._arrays = list(self._arrays)
        return twin

    def _index_names(self, site: int) -> tuple[str | None, str, str | None]:
        """quimb's names of the left bond, physical and right bond index of ``site`` (None at
        an end of the chain)."""
        mps, n = self.mps, self.n
        return (
            mps.bond(site - 1, site) if site > 0 else None,
            mps.site_ind(site),
            mps.bond(site, site + 1) if site < n - 1 else None,
        )

    # -- quimb's view ----------------------------------------------------------------------

    def quimb_mps(self) -> Any:
        """The quimb MPS, up to date: the site arrays of the hot path written back (once)."""
        if self._arrays is not None:
            mps = self.mps
            for site, array in enumerate(self._arrays):
                names = self._index_names(site)
                shape = [s for s, name in zip(array.shape, names, strict=True) if name is not None]
                mps[site].modify(
                    data=array.reshape(shape),
                    inds=tuple(name for name in names if name is not None),
                )
            self._arrays = None
        return self.mps

    def _site_arrays(self) -> list[np.ndarray]:
        """The site arrays (left bond, 2, right bond), read from quimb once per gate sequence."""
        if self._arrays is None:
            mps, n = self.mps, self.n
            arrays = []
            for site in range(n):
                tensor = mps[site]
                names = [name for name in self._index_names(site) if name is not None]
                data = np.transpose(tensor.data, [tensor.inds.index(name) for name in names])
                left = 1 if site == 0 else data.shape[0]
                right = 1 if site == n - 1 else data.shape[-1]
                arrays.append(np.ascontiguousarray(data).reshape(left, 2, right))
            self._arrays = arrays
        return self._arrays

    def _renormalize_at(self, site: int) -> None:
        """Count the norm lost by the last truncation (the centre ``site`` holds all of it) and
        restore unit norm."""
        self.info["cur_orthog"] = (site, site)
        arrays = self._site_arrays()
        data = arrays[site]
        norm2 = float(np.real(np.vdot(data, data)))
        if norm2 <= 0.0 or not np.isfinite(norm2):
            raise ConfigError(
                "the MPS lost its whole norm to truncation: raise max_bond or lower cutoff"
            )
        self.discarded += max(0.0, 1.0 - norm2)
        arrays[site] = data / np.sqrt(norm2)

    # -- the hot path on site arrays ---------------------------------------------------------

    def _move_centre(self, lo: int, hi: int) -> None:
        """Bring the orthogonality centre into ``lo..hi`` by QR steps on the site arrays."""
        first, last = self.info.get("cur_orthog", (None, None))
        if first is None or first != last:
            self.quimb_mps().canonicalize_(lo, info=self.info)
            self.info["cur_orthog"] = (lo, lo)
        arrays = self._site_arrays()
        centre = int(self.info["cur_orthog"][0])
        while centre < lo:
            a = arrays[centre]
            q, r = np.linalg.qr(a.reshape(-1, a.shape[2]))
            b = arrays[centre + 1]
            arrays[centre] = q.reshape(a.shape[0], 2, -1)
            arrays[centre + 1] = (r @ b.reshape(b.shape[0], -1)).reshape(-1, 2, b.shape[2])
            centre += 1
        while centre > hi:
            a = arrays[centre]
            q, r = np.linalg.qr(a.reshape(a.shape[0], -1).T)
            b = arrays[centre - 1]
            arrays[centre] = q.T.reshape(-1, 2, a.shape[2])
            arrays[centre - 1] = (b.reshape(-1, b.shape[2]) @ r.T).reshape(b.shape[0], 2, -1)
            centre -= 1
        self.info["cur_orthog"] = (centre, centre)

    def _truncated_svd(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SVD of ``theta`` truncated by the rule of the module docstring (quimb's ``rsum2``
        cutoff and ``max_bond``); the kept values renormalized to unit weight, the discarded
        weight (relative to the total) added to :attr:`discarded`."""
        try:
            u, s, vh = np.linalg.svd(theta, full_matrices=False)
        except np.linalg.LinAlgError:  # gesdd did not converge: the slower, robust gesvd
            import scipy.linalg

            u, s, vh = scipy.linalg.svd(theta, full_matrices=False, lapack_driver="gesvd")
        weights = s * s
        total = float(weights.sum())
        if total <= 0.0 or not np.isfinite(total):
            raise ConfigError(
                "the MPS lost its whole norm to truncation: raise max_bond or lower cutoff"
            )
        # tail[k]: weight of the values from k on; keep the fewest whose dropped tail < cutoff.
        tail = np.cumsum(weights[::-1])[::-1] / total
        keep = int(np.count_nonzero(tail >= self.cutoff)) if self.cutoff > 0 else s.size
        keep = max(1, min(keep, self.max_bond))
        self.discarded += float(tail[keep]) if keep < s.size else 0.0
        kept = s[:keep] / np.sqrt(weights[:keep].sum())
        return u[:, :keep], kept, vh[:keep]

    def _neighbour_gate(self, gate: np.ndarray, i: int, absorb_left: bool) -> None:
        """A 4 x 4 gate (quimb order, site i first) on sites i, i + 1: contract, SVD, truncate."""
        self._move_centre(i, i + 1)
        arrays = self._site_arrays()
        a, b = arrays[i], arrays[i + 1]
        left, right = a.shape[0], b.shape[2]
        pair = (a.reshape(-1, a.shape[2]) @ b.reshape(b.shape[0], -1)).reshape(left, 2, 2, right)
        pair = pair.transpose(1, 2, 0, 3).reshape(4, left * right)
        gated = (gate @ pair).reshape(2, 2, left, right).transpose(2, 0, 1, 3)
        u, s, vh = self._truncated_svd(gated.reshape(2 * left, 2 * right))
        if absorb_left:
            u = u * s
        else:
            vh = s[:, None] * vh
        arrays[i] = u.reshape(left, 2, -1)
        arrays[i + 1] = vh.reshape(-1, 2, right)
        self.largest_bond = max(self.largest_bond, s.size)
        centre = i if absorb_left else i + 1
        self.info["cur_orthog"] = (centre, centre)

    def _block_gate(self, gate: np.ndarray, lo: int, hi: int) -> None:
        """A gate (quimb order) on the contiguous sites lo..hi (three or more): the sites are
        contracted into one array (chi_l x 2^k x chi_r), the gate applied to it, and the result
        split again from the left by truncated SVDs (each optimal given the ones before it);
        the centre ends at ``hi``. The SVDs are nested projections, so the gate's infidelity
        is 1 - prod_k (1 - e_k) for the weights e_k they drop: that is what it adds to
        :attr:`discarded`."""
        self._move_centre(lo, hi)
        arrays = self._site_arrays()
        block = arrays[lo]
        for site in range(lo + 1, hi + 1):
            nxt = arrays[site]
            block = (block.reshape(-1, block.shape[-1]) @ nxt.reshape(nxt.shape[0], -1)).reshape(
                block.shape[0], -1, nxt.shape[2]
            )
        left, dim, right = block.shape
        rest = np.einsum("ij,ljr->lir", gate, block)
        before, kept_fidelity = self.discarded, 1.0
        for site in range(lo, hi):
            dim //= 2
            dropped = self.discarded
            u, s, vh = self._truncated_svd(rest.reshape(left * 2, dim * right))
            kept_fidelity *= 1.0 - (self.discarded - dropped)
            arrays[site] = u.reshape(left, 2, -1)
            self.largest_bond = max(self.largest_bond, s.size)
            left = s.size
            rest = (s[:, None] * vh).reshape(left, dim, right)
        arrays[hi] = rest.reshape(left, 2, right)
        self.discarded = before + (1.0 - kept_fidelity)
        self.info["cur_orthog"] = (hi, hi)

    def _one_site_gate(self, gate: np.ndarray, site: int) -> None:
        """A 2 x 2 gate contracted into its site (no truncation; the centre does not move)."""
        arrays = self._site_arrays()
        arrays[site] = np.einsum("ij,ljr->lir", gate, arrays[site])

    def apply(
        self, matrix: np.ndarray, qubits: Sequence[int], *, toward: int | None = None
    ) -> None:
        """Apply the unitary ``matrix`` (Qiskit order over ``qubits``), truncating.

        ``toward``: a site the next gate touches; a two-site gate leaves the centre on the side
        of it (one QR less for the next gate).
        """
        gate, where = quimb_order(matrix, qubits)
        if len(where) == 1:
            self._one_site_gate(gate, where[0])
            return
        if len(where) == 2 and where[1] == where[0] + 1:
            self._neighbour_gate(gate, where[0], toward is not None and toward < where[0])
            return
        if where[-1] - where[0] + 1 == len(where) <= MAX_BLOCK_GATE_SITES:
            self._block_gate(gate, where[0], where[-1])
            return
        mps = self.quimb_mps()
        mps.gate_nonlocal_(
            gate,
            where,
            method="direct",
            info=self.info,
            max_bond=self.max_bond,
            cutoff=self.cutoff,
            cutoff_mode=CUTOFF_MODE,
            renorm=0,
        )
        self.largest_bond = max(self.largest_bond, int(mps.max_bond()))
        self._renormalize_at(int(self.info["cur_orthog"][0]))

    def apply_gates(self, gates: Sequence[Gate]) -> None:
        """Apply ``gates`` in order."""
        for index, (matrix, qubits) in enumerate(gates):
            following = gates[index + 1][1] if index + 1 < len(gates) else None
            self.apply(matrix, qubits, toward=None if following is None else min(following))

    def apply_pulse(self, pulse: Pulse) -> None:
        """A pulse: its circuit's gates when it has one, else its dense matrix."""
        if any(not 0 <= q < self.n for q in pulse.qubits):
            raise ConfigError(
                f"pulse {pulse.label!r} acts on qubits {pulse.qubits} outside 0..{self.n - 1}"
            )
        if pulse.circuit is not None:
            self.apply_gates(circuit_gates(pulse.circuit, pulse.qubits))
        else:
            self.apply(pulse.dense_matrix(), pulse.qubits)

    # -- readouts (quimb routines) ------------------------------------------------------------

    def local_expectation(self, matrix: np.ndarray, qubits: Sequence[int]) -> complex:
        """<psi| matrix |psi> for a matrix in Qiskit order on ``qubits`` (reduced density matrix
        of those sites, centre moved there)."""
        return self.sorted_expectation(*quimb_order(matrix, qubits))

    def sorted_expectation(self, gate: np.ndarray, where: Sequence[int]) -> complex:
        """<psi| gate |psi> for a matrix already in quimb order on the sorted sites ``where``
        (:func:`quimb_order`), so that a readout evaluated at many times reorders it once."""
        rho = self.quimb_mps().partial_trace_canonical(
            where, info=self.info, get="array", optimize=CONTRACTION_PATH
        )
        rho = np.asarray(rho).reshape(gate.shape)
        return complex(np.sum(rho * gate.T))  # Tr(rho gate) in O(4^k)

    def pauli_overlap(self, paulis: Mapping[int, str]) -> complex:
        """<psi| P |psi> for the Pauli string ``{site: "X" | "Y" | "Z"}`` (a copy gets P)."""
        mps = self.quimb_mps()
        other = mps.copy()
        for site, label in paulis.items():
            other.gate_(PAULI_MATRICES[label], site, contract=True)
        return complex((mps.H & other).contract(all, optimize=CONTRACTION_PATH))

    def half_chain_entropy(self) -> float:
        """Von Neumann entropy (natural log) of sites 0..n//2-1."""
        if self.n < 2:
            return 0.0
        weights = self.quimb_mps().schmidt_values(self.n // 2, info=self.info)
        return entropy_of_weights(np.asarray(weights, dtype=float))

    def state_vector(self) -> np.ndarray:
        """The contracted state, length 2^n, Qiskit order (qubit 0 least significant)."""
        dense = np.asarray(self.quimb_mps().to_dense()).reshape((2,) * self.n)
        return dense.transpose(tuple(reversed(range(self.n)))).reshape(-1)


@dataclass(frozen=True)
class _PauliGroups:
    """A SparsePauliOp as local matrices: ``local`` maps sorted qubits to the summed matrix of
    their terms (Qiskit order), ``wide`` holds (coefficient, {site: Pauli}) terms spanning more
    than MAX_LOCAL_SPAN sites, ``constant`` the identity's coefficient."""

    local: dict[tuple[int, ...], np.ndarray]
    wide: list[tuple[complex, dict[int, str]]]
    constant: complex

    @classmethod
    def of(cls, op: SparsePauliOp) -> _PauliGroups:
        local: dict[tuple[int, ...], np.ndarray] = {}
        wide: list[tuple[complex, dict[int, str]]] = []
        constant = 0j
        for label, support, coeff in op.simplify(atol=0.0, rtol=0.0).to_sparse_list():
            kept = sorted((int(q), c) for c, q in zip(label, support, strict=True) if c != "I")
            if not kept:
                constant += complex(coeff)
                continue
            qubits = tuple(q for q, _ in kept)
            if qubits[-1] - qubits[0] + 1 > MAX_LOCAL_SPAN:
                wide.append((complex(coeff), dict(kept)))
                continue
            matrix = np.ones((1, 1), dtype=complex)
            for _, c in kept:  # qubits[0] least significant: kron from the last qubit down
                matrix = np.kron(PAULI_MATRICES[c], matrix)
            local[qubits] = local.get(qubits, 0) + complex(coeff) * matrix
        return cls(local, wide, constant)

    def value(self, chain: TruncatedMPS) -> float:
        total = self.constant
        for qubits, matrix in sorted(self.local.items()):
            total += chain.local_expectation(matrix, qubits)
        for coeff, paulis in self.wide:
            total += coeff * chain.pauli_overlap(paulis)
        return float(np.real(total))


class QuimbMPSBackend:
    """Trotter circuits of a pulse sequence on a truncated quimb MPS (module docstring).

    Parameters
    ----------
    dt, order : Trotter step and order (1, 2 or 4), as for the Aer backend.
    max_bond : largest bond dimension chi kept by any SVD (default :data:`DEFAULT_MAX_BOND`).
    cutoff : largest weight (sum of squared singular values, relative to the state's squared
        norm) one SVD may discard (quimb's ``cutoff_mode="rsum2"``; default
        :data:`DEFAULT_CUTOFF`; 0 keeps every nonzero singular value up to ``max_bond``).
    threads : BLAS threads during ``run`` (``threadpool_limits``); None leaves them as they are
        (a study limits them to one per unit). 1 is fastest on a few shared cores.
    """

    name = "quimb"

    def __init__(
        self,
        *,
        dt: float = trotter.DEFAULT_DT,
        order: int = trotter.DEFAULT_ORDER,
        max_bond: int = DEFAULT_MAX_BOND,
        cutoff: float = DEFAULT_CUTOFF,
        threads: int | None = None,
    ) -> None:
        settings = trotter.TrotterSettings(dt, order)
        if isinstance(max_bond, bool) or not isinstance(max_bond, int | np.integer) or max_bond < 1:
            raise ConfigError(
                f"max_bond must be an integer >= 1, got {max_bond!r} (64-256 for MBL echoes)"
            )
        if (
            isinstance(cutoff, bool)
            or not isinstance(cutoff, int | float | np.floating)
            or not (np.isfinite(cutoff) and 0.0 <= cutoff < 1.0)
        ):
            raise ConfigError(
                f"cutoff must be a number in [0, 1), got {cutoff!r}: the largest weight one SVD "
                "may discard (1e-10 by default)"
            )
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ConfigError(f"threads must be None or an integer >= 1, got {threads!r}")
        _import_quimb()
        self.dt = settings.dt
        self.order = settings.order
        self.max_bond = int(max_bond)
        self.cutoff = float(cutoff)
        self.threads = threads

    def estimate_memory(self, n: int) -> int:
        """Bytes a run on ``n`` qubits needs (:func:`quimb_memory_bytes`)."""
        return quimb_memory_bytes(n, self.max_bond)

    def run(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        *,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> dict[str, np.ndarray]:
        """Observables at each total time, shape ``(K,)``, with ``"mps_discarded_weight"`` and
        ``"mps_max_bond"`` (module docstring); ``entropy``: half-chain entropy."""
        return self.run_sequences(
            hamiltonian, [sequence], state, times, observables=observables, entropy=entropy
        )[0]

    def run_sequences(
        self,
        hamiltonian: SparsePauliOp,
        sequences: Sequence[PulseSequence],
        state: ProductState,
        times: np.ndarray,
        *,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> list[dict[str, np.ndarray]]:
        """:meth:`run` of every sequence from the same state, one result per sequence.

        Sequences that start alike (the same pulse objects before the first free segment, whose
        fraction is the same) share its evolution: the p-bit and l-bit Hahn echoes of a unit
        evolve their first half once (:func:`echo_lab.backends.base.run_sequences`).
        """
        times, n = check_inputs(hamiltonian, state, times)
        for sequence in sequences:
            if not isinstance(sequence, PulseSequence):
                raise ConfigError(
                    f"sequence must be a PulseSequence, got {type(sequence).__name__}"
                )
        readers = {name: self._reader(name, op, n) for name, op in observables.items()}
        for sequence in sequences:
            for pulse in sequence.pulses:
                if pulse.circuit is None:
                    pulse.dense_matrix()  # ConfigError for a pulse with only an action
        require_memory(
            self.estimate_memory(n),
            what=f"a quimb MPS of {n} qubits with max_bond {self.max_bond}",
            suggestion="Lower max_bond (options.max_bond).",
        )
        split = trotter.split_layers(hamiltonian)
        keys = [*readers, *(["entropy"] if entropy else []), "mps_discarded_weight", "mps_max_bond"]
        results = [{key: np.empty(times.size) for key in keys} for _ in sequences]
        limits = (
            contextlib.nullcontext() if self.threads is None else _threadpool_limits(self.threads)
        )
        with limits:
            for s, k, chain in self._states(split, sequences, state, times):
                result = results[s]
                discarded, largest = chain.discarded, chain.largest_bond
                for name, reader in readers.items():
                    value, extra, bond = reader(chain)
                    result[name][k] = value
                    discarded += extra
                    largest = max(largest, bond)
                if entropy:
                    result["entropy"][k] = chain.half_chain_entropy()
                result["mps_discarded_weight"][k] = discarded
                result["mps_max_bond"][k] = largest
        for result in results:
            check_health(result)
        return results

    # -- observables -------------------------------------------------------------------------

    def _reader(self, name: str, op: Operator, n: int) -> Any:
        """``reader(chain) -> (value, extra discarded weight, largest bond)`` for one observable;
        ConfigError (before any evolution) for what an MPS cannot read."""
        if isinstance(op, RotatedPauli):
            if max(op.qubits) >= n:
                raise ConfigError(
                    f"observable {name!r} on qubits {op.qubits} does not fit a {n}-qubit chain"
                )
            span = max(op.qubits) - min(op.qubits) + 1
            if span == len(op.qubits) <= MAX_READOUT_SPAN:
                # R^dag P R on op.qubits, built and put in quimb order once
                block, where = quimb_order(op.local_matrix, op.qubits)

                def read_block(chain: TruncatedMPS) -> tuple[float, float, int]:
                    return float(np.real(chain.sorted_expectation(block, where))), 0.0, 0

                return read_block
            readout = circuit_gates(op.readout, op.qubits)
            pauli = PAULI_MATRICES[op.pauli]

            def read_rotated(chain: TruncatedMPS) -> tuple[float, float, int]:
                copy = chain.copy()
                copy.apply_gates(sweep_order(readout))
                value = float(np.real(copy.local_expectation(pauli, (op.site,))))
                return value, copy.discarded - chain.discarded, copy.largest_bond

            return read_rotated
        if isinstance(op, SparsePauliOp):
            if op.num_qubits != n:
                raise ConfigError(
                    f"observable {name!r} has {op.num_qubits} qubits, the Hamiltonian {n}"
                )
            groups = _PauliGroups.of(op)
            return lambda chain: (groups.value(chain), 0.0, 0)
        if isinstance(op, np.ndarray | LinearOperator):
            if n > MAX_DENSE_OBSERVABLE_QUBITS:
                raise ConfigError(
                    f"observable {name!r} is a dense {2**n} x {2**n} operator; an MPS takes local "
                    "operators: pass a SparsePauliOp of local terms or a RotatedPauli (l-bit "
                    f"readouts), or use <= {MAX_DENSE_OBSERVABLE_QUBITS} qubits"
                )
            if op.shape != (2**n, 2**n):
                raise ConfigError(f"observable {name!r} has shape {op.shape}, not ({2**n}, {2**n})")

            def read_dense(chain: TruncatedMPS) -> tuple[float, float, int]:
                return float(evaluate_observable(op, chain.state_vector(), n)), 0.0, 0

            return read_dense
        raise ConfigError(
            f"observable {name!r} must be a SparsePauliOp, a RotatedPauli or (n <= "
            f"{MAX_DENSE_OBSERVABLE_QUBITS}) a dense array, got {type(op).__name__}"
        )

    # -- evolution ---------------------------------------------------------------------------

    def _evolution_gates(self, split: trotter.TrotterSplit, steps: int, tau: float) -> list[Gate]:
        """``steps`` Trotter steps of ``tau``: the Aer backend's product formula, fused into gates
        of at most two qubits, in sweep order."""
        return sweep_order(
            trotter.evolution_gates(split, dt=tau, steps=steps, order=self.order, fuse_qubits=2)
        )

    def _states(
        self,
        split: trotter.TrotterSplit,
        sequences: Sequence[PulseSequence],
        state: ProductState,
        times: np.ndarray,
    ) -> Iterator[tuple[int, int, TruncatedMPS]]:
        """Yield ``(index into sequences, index into times, state)``; the yielded state is not
        modified until the next one is requested (readers copy it before they change it).

        The first free segment is evolved once per start (the pulses before it and its
        fraction) and step length, each total time continuing from the previous one of that
        length (an FID trace, and the first half of every echo); the rest of each sequence runs
        on a copy for each total time. Gate lists are built once per (steps, step length).
        """
        cache: dict[tuple[int, float], list[Gate]] = {}

        def evolve(chain: TruncatedMPS, steps: int, tau: float) -> None:
            if steps > 0:
                if (steps, tau) not in cache:
                    cache[steps, tau] = self._evolution_gates(split, steps, tau)
                chain.apply_gates(cache[steps, tau])

        def play(chain: TruncatedMPS, part: Sequence[Any], row: Iterator[Any]) -> None:
            for segment in part:
                if isinstance(segment, Free):
                    evolve(chain, *next(row))
                else:
                    chain.apply_pulse(segment)

        # A sequence's free fractions add up to 1, so each has a free segment.
        firsts = [
            next(k for k, seg in enumerate(sequence.segments) if isinstance(seg, Free))
            for sequence in sequences
        ]
        starts: dict[tuple[Any, ...], list[int]] = {}
        for s, (sequence, first) in enumerate(zip(sequences, firsts, strict=True)):
            free = sequence.segments[first]
            assert isinstance(free, Free)
            key = (*(id(pulse) for pulse in sequence.segments[:first]), free.fraction)
            starts.setdefault(key, []).append(s)
        tables = [
            [trotter.segment_steps(sequence, float(t), dt=self.dt) for t in times]
            for sequence in sequences
        ]
        for group in starts.values():
            start = TruncatedMPS.product(state, max_bond=self.max_bond, cutoff=self.cutoff)
            play(start, sequences[group[0]].segments[: firsts[group[0]]], iter(()))
            table = tables[group[0]]  # the first free segment's steps are the same in the group
            for tau in dict.fromkeys(row[0].dt for row in table):
                chosen = sorted(
                    (k for k, row in enumerate(table) if row[0].dt == tau),
                    key=lambda k: table[k][0].steps,
                )
                chain, done = start.copy(), 0
                for k in chosen:
                    evolve(chain, table[k][0].steps - done, tau)
                    done = table[k][0].steps
                    for s in group:
                        rest = sequences[s].segments[firsts[s] + 1 :]
                        if not rest:
                            yield s, k, chain
                            continue
                        branch = chain.copy()
                        play(branch, rest, iter(tables[s][k][1:]))
                        yield s, k, branch


def _threadpool_limits(threads: int) -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)
