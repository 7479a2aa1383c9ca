r"""Trotter circuits for any Hermitian ``SparsePauliOp`` (docs/pages/conventions.md section 5).

The Hamiltonian is split into **layers**; every layer is a sum of mutually commuting **blocks**,
so exp(-i tau layer) is the exact product of the block exponentials:

* every one-qubit term of a qubit (h Z + g X, ...) forms one exact one-qubit block;
* all two-qubit terms on the same pair form one exact two-qubit block (on an XXZ bond XX, YY and
  ZZ commute, so exp(-i dt [J(XX + YY) + Jz ZZ]) is one 4 x 4 unitary); the pairs are coloured
  into layers of disjoint pairs (even / odd bonds on a chain, :meth:`Lattice.bond_layers`);
* with ``fold_fields=True`` (the default) the one-qubit blocks are folded into the bond blocks of
  the first bond layer, so a field costs no extra pass over the state vector;
* terms on three or more qubits are grouped greedily into layers of mutually commuting Pauli
  strings, one ``PauliEvolutionGate`` (:class:`PauliTermEvolutionGate`) per term, after the
  bond layers.

A constant (identity) term becomes the circuit's global phase. One step of size dt is

* order 1 (Lie): L_0(dt) L_1(dt) ... L_{m-1}(dt) (L_0 acts first);
* order 2 (Strang): L_0(dt/2) ... L_{m-2}(dt/2) L_{m-1}(dt) L_{m-2}(dt/2) ... L_0(dt/2);
* order 4 (Suzuki): S4(dt) = S2(p dt)^2 S2((1 - 4p) dt) S2(p dt)^2, p = 1 / (4 - 4^(1/3)).

Consecutive applications of the same layer are merged into one (exact, a layer commutes with
itself), so k Strang steps of an XXZ chain with folded fields cost 2k + 1 bond layers, almost the
same as Lie steps. The global error at fixed time scales as dt^order.

**Gates.** The blocks of the whole product formula are emitted in time order and consecutive
ones are fused greedily into ``UnitaryGate``\ s of at most ``fuse_qubits`` qubits (default 3):
in a state-vector simulator every gate is one pass over the 2^n amplitudes (2 x 16 x 2^n bytes
streamed), so a merged Strang step of an n-site chain costs about n / 2 passes with 3-qubit
gates instead of n - 1 with one gate per bond and about 2n for ``rz`` + ``rxx`` + ``ryy`` +
``rzz`` (Aer re-fuses those only partly). Measured: experiments/benchmarks/trotter_step.json.
Building costs O(steps * blocks) bookkeeping plus one small ``eigh`` per block and one product
of small matrices per *distinct* fused gate: the fused matrices are cached on the
:class:`TrotterSplit`, and the steps of a trace repeat the same few gates.

**Pulse sequences** (used by every circuit backend): every segment is simulated for its own time.
A ``Free(fraction)`` segment of a :class:`~echo_lab.dynamics.schedule.PulseSequence` at total
time T lasts L = fraction * T and gets ``k = ceil(L / dt)`` Trotter steps of ``L / k``
(:func:`fitted_steps`, :func:`segment_steps`): dt is the largest step, and the simulated time is
exactly L. A segment that is a multiple of dt (to a relative :data:`STEP_RTOL`, so that
L = 3 dt up to rounding gives 3 steps, not 4) gets its steps of exactly dt, bit for bit the
circuits of a fixed step; a segment of length 0 gets no step. A trace whose segments are not
multiples of dt therefore uses several step lengths (T = 0.5, dt = 0.1: each Hahn half is 3 steps
of 0.0833). Backends that diagonalize the Trotter step use the same function (one diagonalized
step per distinct step length), so circuit and diagonalized-step results agree to rounding.

Examples
--------
>>> from echo_lab.physics import models
>>> from echo_lab.dynamics import trotter
>>> H = models.RandomFieldXXZ(n=4, W=2.0, seed=1).hamiltonian()
>>> qc = trotter.circuit(H, time=1.0, steps=4, order=2)
>>> qc.num_qubits, qc.num_clbits
(4, 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Instruction, ParameterExpression
from qiskit.circuit.library import PauliEvolutionGate, UnitaryGate, XGate, YGate
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping
from qiskit.quantum_info import Pauli, SparsePauliOp

from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.linalg import PAULI_MATRICES, apply_local
from echo_lab.physics.models import Lattice, check_hermitian, pauli_label
from echo_lab.physics.states import ProductState

__all__ = [
    "DEFAULT_DT",
    "DEFAULT_FUSE_QUBITS",
    "DEFAULT_ORDER",
    "MAX_FUSE_QUBITS",
    "ORDERS",
    "STEP_RTOL",
    "Block",
    "Layer",
    "PauliTermEvolutionGate",
    "SegmentSteps",
    "TrotterSettings",
    "TrotterSplit",
    "append_pulse",
    "check_hamiltonian",
    "circuit",
    "evolution_circuit",
    "evolution_gates",
    "fitted_steps",
    "pulse_instruction",
    "segment_steps",
    "segment_table",
    "sequence_circuit",
    "split_layers",
    "step_circuit",
    "step_schedule",
    "sum_operators",
    "transpile_to_basis",
]

#: Supported product-formula orders.
ORDERS = (1, 2, 4)

#: The Trotter step every circuit backend and study uses unless told otherwise (units of 1/J).
DEFAULT_DT = 0.05
#: The product-formula order every circuit backend and study uses unless told otherwise.
DEFAULT_ORDER = 2

#: Default largest fused gate: 3-qubit blocks halve the passes over the state vector of a chain
#: and measured fastest in Aer statevector (experiments/benchmarks/trotter_step.json).
DEFAULT_FUSE_QUBITS = 3
#: Largest fused gate allowed (a 2^6 x 2^6 matrix per gate).
MAX_FUSE_QUBITS = 6

#: Relative tolerance of :func:`fitted_steps`: a segment within ``STEP_RTOL * k`` steps of k whole
#: steps of dt is k steps of exactly dt (L = 3 dt up to rounding is 3 steps, not 4).
STEP_RTOL = 1e-9

_SUZUKI_P = 1.0 / (4.0 - 4.0 ** (1.0 / 3.0))


@dataclass(frozen=True, eq=False)
class Block:
    """One exactly exponentiated piece of H: ``operator`` acting on ``qubits``.

    ``operator`` is a ``SparsePauliOp`` on ``len(qubits)`` qubits with ``qubits[0]`` as its qubit 0
    (least significant). ``kind`` is ``"field"`` (one qubit), ``"bond"`` (two qubits, possibly
    with folded fields) or ``"pauli"`` (one Pauli string on three or more qubits).
    """

    qubits: tuple[int, ...]
    operator: SparsePauliOp
    kind: str

    @cached_property
    def _eigensystem(self) -> tuple[np.ndarray, np.ndarray]:
        return np.linalg.eigh(self.operator.to_matrix())

    def unitary(self, tau: float) -> np.ndarray:
        """exp(-i tau operator) as a dense ``2^k x 2^k`` array (one small ``eigh``, cached)."""
        energies, vectors = self._eigensystem
        return (vectors * np.exp(-1j * tau * energies)) @ vectors.conj().T

    def embedded(self, n: int) -> SparsePauliOp:
        """The block as an ``n``-qubit ``SparsePauliOp``."""
        return SparsePauliOp.from_sparse_list(
            [
                (label, [self.qubits[k] for k in local], coeff)
                for label, local, coeff in self.operator.to_sparse_list()
            ],
            n,
        )


@dataclass(frozen=True)
class Layer:
    """Mutually commuting blocks; exp(-i tau sum(blocks)) is the product of block exponentials."""

    blocks: tuple[Block, ...]

    def operator(self, n: int) -> SparsePauliOp:
        """Sum of the blocks as an ``n``-qubit ``SparsePauliOp``."""
        return sum_operators([block.embedded(n) for block in self.blocks], n)


@dataclass(frozen=True)
class TrotterSplit:
    """H = constant * I + sum of the layers' operators (see :func:`split_layers`).

    Build it once and pass it to :func:`evolution_circuit` for many circuits of the same H: the
    fused gate matrices are cached on the split (keyed by the blocks and step fractions they
    multiply), so the identical steps of a trace cost one matrix product each, not one per step.
    """

    num_qubits: int
    layers: tuple[Layer, ...]
    constant: float
    _fused: dict[tuple[object, ...], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def cached_gate_count(self) -> int:
        """How many distinct fused-gate matrices the circuits built from this split hold so far.

        Identical steps share their matrices, so a trace of any length holds a handful (bounded
        by the distinct (blocks, step fractions) combinations, at most 4096).
        """
        return len(self._fused)

    def operator(self) -> SparsePauliOp:
        """The Hamiltonian rebuilt from the split (equals the input up to term order)."""
        parts = [layer.operator(self.num_qubits) for layer in self.layers]
        parts.append(SparsePauliOp("I" * self.num_qubits, coeffs=[self.constant]))
        return sum_operators(parts, self.num_qubits)


def sum_operators(parts: Sequence[SparsePauliOp], n: int) -> SparsePauliOp:
    """Simplified sum of ``n``-qubit operators (zero operator for an empty list)."""
    if not parts:
        return SparsePauliOp("I" * n, coeffs=[0.0])
    return SparsePauliOp.sum(list(parts)).simplify(atol=0.0, rtol=0.0)


def check_hamiltonian(hamiltonian: SparsePauliOp) -> SparsePauliOp:
    """Return ``hamiltonian`` simplified with real coefficients; ConfigError if not Hermitian
    (:func:`echo_lab.physics.models.check_hermitian`)."""
    check_hermitian(hamiltonian)
    simplified = hamiltonian.simplify(atol=0.0, rtol=0.0)
    return SparsePauliOp(simplified.paulis, coeffs=np.real(simplified.coeffs).astype(complex))


Term = tuple[str, tuple[int, ...], float]


def _local_operator(terms: Sequence[Term], qubits: tuple[int, ...]) -> SparsePauliOp:
    position = {q: k for k, q in enumerate(qubits)}
    return SparsePauliOp.from_sparse_list(
        [(label, [position[q] for q in support], coeff) for label, support, coeff in terms],
        len(qubits),
    ).simplify(atol=0.0, rtol=0.0)


def split_layers(hamiltonian: SparsePauliOp, *, fold_fields: bool = True) -> TrotterSplit:
    """Split a Hermitian H into layers of commuting blocks (module docstring).

    Layer order: [fields (only when ``fold_fields=False``)], bond colours (the first one carrying
    the fields when ``fold_fields=True``; qubits it does not touch keep a one-qubit block there),
    then commuting groups of terms on three or more qubits. Every term of H lands in exactly one
    block. Cost: O(terms^2) in the worst case for the many-body grouping, O(terms) otherwise.
    """
    h = check_hamiltonian(hamiltonian)
    n = h.num_qubits
    constant = 0.0
    single: dict[int, list[Term]] = {}
    pairs: dict[tuple[int, int], list[Term]] = {}
    many: list[Term] = []
    for label, support, coeff in h.to_sparse_list():
        value = float(np.real(coeff))
        if value == 0.0:
            continue
        kept = [(c, q) for c, q in zip(label, support, strict=True) if c != "I"]
        term = ("".join(c for c, _ in kept), tuple(q for _, q in kept), value)
        if not kept:
            constant += value
        elif len(kept) == 1:
            single.setdefault(term[1][0], []).append(term)
        elif len(kept) == 2:
            pairs.setdefault((min(term[1]), max(term[1])), []).append(term)
        else:
            many.append(term)

    def field_blocks(qubits: Sequence[int]) -> list[Block]:
        return [Block((q,), _local_operator(single[q], (q,)), "field") for q in qubits]

    layers: list[Layer] = []
    colours = Lattice.from_edges(n, sorted(pairs)).bond_layers() if pairs else []
    if single and (not fold_fields or not colours):
        layers.append(Layer(tuple(field_blocks(sorted(single)))))
    for index, colour in enumerate(colours):
        carries_fields = fold_fields and index == 0
        blocks = []
        for pair in colour:
            terms = list(pairs[pair])
            if carries_fields:
                terms += single.get(pair[0], []) + single.get(pair[1], [])
            blocks.append(Block(pair, _local_operator(terms, pair), "bond"))
        if carries_fields:
            covered = {q for pair in colour for q in pair}
            blocks += field_blocks([q for q in sorted(single) if q not in covered])
        layers.append(Layer(tuple(blocks)))
    groups: list[list[Term]] = []
    for term in many:
        pauli = _term_pauli(term, n)
        for group in groups:
            if all(pauli.commutes(_term_pauli(other, n)) for other in group):
                group.append(term)
                break
        else:
            groups.append([term])
    for group in groups:
        layers.append(
            Layer(
                tuple(Block(term[1], _local_operator([term], term[1]), "pauli") for term in group)
            )
        )
    return TrotterSplit(n, tuple(layers), constant)


@dataclass(frozen=True)
class TrotterSettings:
    """Trotter step ``dt`` (units of 1/J, finite and > 0) and order (1, 2 or 4), validated once.

    The one place that holds the defaults (:data:`DEFAULT_DT`, :data:`DEFAULT_ORDER`) and the
    checks of both; the circuit backends and the study files go through it.
    """

    dt: float = DEFAULT_DT
    order: int = DEFAULT_ORDER

    def __post_init__(self) -> None:
        dt = self.dt
        if isinstance(dt, bool) or not isinstance(dt, int | float | np.floating):
            raise ConfigError(f"the Trotter step dt must be a number, got {dt!r}")
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"the Trotter step dt must be finite and > 0, got {dt}")
        check_order(self.order)
        object.__setattr__(self, "dt", float(dt))
        object.__setattr__(self, "order", int(self.order))

    def steps_to(self, time: float) -> float:
        """Number of steps of ``dt`` to reach ``time`` (a float: it may be huge)."""
        return time / self.dt


def _term_pauli(term: Term, n: int) -> Pauli:
    """The n-qubit Pauli string of a term ``(chars, qubits, coeff)``."""
    return Pauli(pauli_label(n, dict(zip(term[1], term[0], strict=True))))


def check_order(order: int) -> None:
    if isinstance(order, bool) or order not in ORDERS:
        raise ConfigError(f"Trotter order must be one of {ORDERS}, got {order!r}")


def check_steps(steps: int, name: str = "steps") -> None:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {steps!r}")


def check_finite(value: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a real number, got {value!r}") from exc
    if not np.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return number


def step_schedule(num_layers: int, *, steps: int, order: int) -> list[tuple[int, float]]:
    """The product formula as ``(layer index, fraction of dt)`` pairs, in time order.

    Adjacent entries of the same layer are merged. The fractions of each layer add up to
    ``steps``. Example: 2 layers, 2 Strang steps -> ``[(0, .5), (1, 1), (0, 1), (1, 1), (0, .5)]``.
    """
    check_order(order)
    check_steps(steps)
    if num_layers == 0:
        return []
    last = num_layers - 1

    def strang(scale: float) -> list[tuple[int, float]]:
        half = [(k, 0.5 * scale) for k in range(last)]
        return [*half, (last, scale), *reversed(half)]

    if order == 1:
        one_step = [(k, 1.0) for k in range(num_layers)]
    elif order == 2:
        one_step = strang(1.0)
    else:
        outer = strang(_SUZUKI_P)
        one_step = outer + outer + strang(1.0 - 4.0 * _SUZUKI_P) + outer + outer
    merged: list[tuple[int, float]] = []
    for layer, fraction in one_step * int(steps):
        if merged and merged[-1][0] == layer:
            merged[-1] = (layer, merged[-1][1] + fraction)
        else:
            merged.append((layer, fraction))
    return merged


class PauliTermEvolutionGate(PauliEvolutionGate):
    """``PauliEvolutionGate`` of a single Pauli term c P with a closed-form matrix.

    exp(-i t c P) = cos(t c) I - i sin(t c) P, dense 2^k x 2^k; Qiskit's generic version goes
    through a sparse ``expm`` that warns (``SparseEfficiencyWarning``) on every ``Operator``.
    Serializes (QPY) and decomposes like its base class.
    """

    def to_matrix(self) -> np.ndarray:
        if isinstance(self.time, ParameterExpression) and self.time.parameters:
            return super().to_matrix()
        operator = self.operator
        assert isinstance(operator, SparsePauliOp) and len(operator) == 1
        angle = float(self.time) * float(np.real(operator.coeffs[0]))
        pauli = operator.paulis[0].to_matrix()
        return np.cos(angle) * np.eye(pauli.shape[0]) - 1j * np.sin(angle) * pauli


#: Fused-gate matrices kept per :class:`TrotterSplit` (at most 2^6 x 2^6 each); the cache is
#: cleared when it grows past this, e.g. after many different dt.
_FUSED_CACHE_ENTRIES = 4096


@dataclass
class _FusedBlock:
    """A pending gate on ``qubits`` (sorted): the product, in time order, of the split's blocks
    ``parts`` = ``(layer index, block index, tau)``; or, when ``pauli`` is set, an opaque
    ``PauliEvolutionGate`` that is never fused."""

    qubits: tuple[int, ...]
    parts: list[tuple[int, int, float]]
    pauli: PauliTermEvolutionGate | None = None


def _fused_matrix(split: TrotterSplit, fused: _FusedBlock) -> np.ndarray:
    """The unitary of ``fused`` on its qubits (``qubits[0]`` least significant), cached."""
    key = (fused.qubits, *fused.parts)
    matrix = split._fused.get(key)
    if matrix is not None:
        return matrix
    k = len(fused.qubits)
    matrix = np.eye(2**k, dtype=complex)
    for layer, index, tau in fused.parts:
        block = split.layers[layer].blocks[index]
        positions = [fused.qubits.index(q) for q in block.qubits]
        if len(positions) == k and positions == sorted(positions):
            matrix = block.unitary(tau) @ matrix
        else:
            matrix = apply_local(block.unitary(tau), positions, matrix, k)
    if len(split._fused) >= _FUSED_CACHE_ENTRIES:
        split._fused.clear()
    split._fused[key] = matrix
    return matrix


def _fused_blocks(
    split: TrotterSplit, *, dt: float, steps: int, order: int, fuse_qubits: int
) -> list[_FusedBlock]:
    """Blocks of the product formula in time order, greedily fused up to ``fuse_qubits`` qubits.

    A new block joins the latest pending block that shares a qubit with it when their union has
    at most ``fuse_qubits`` qubits: no later block touches the new one's qubits, so moving it
    earlier is exact. Pauli-string blocks stay separate. Only the recipes are formed here; the
    matrices come from :func:`_fused_matrix`.
    """
    pending: list[_FusedBlock] = []
    last_touch: dict[int, int] = {}
    for layer, fraction in step_schedule(len(split.layers), steps=steps, order=order):
        tau = fraction * dt
        for index, block in enumerate(split.layers[layer].blocks):
            if block.kind == "pauli":
                gate = PauliTermEvolutionGate(block.operator, time=tau)
                pending.append(_FusedBlock(block.qubits, [], pauli=gate))
                target = len(pending) - 1
            else:
                target = max((last_touch.get(q, -1) for q in block.qubits), default=-1)
                candidate = pending[target] if target >= 0 else None
                union = set(candidate.qubits) | set(block.qubits) if candidate else set()
                if candidate is not None and candidate.pauli is None and len(union) <= fuse_qubits:
                    candidate.qubits = tuple(sorted(union))
                    candidate.parts.append((layer, index, tau))
                else:
                    pending.append(_FusedBlock(block.qubits, [(layer, index, tau)]))
                    target = len(pending) - 1
            # Only this block's qubits: the target's other qubits may have later blocks.
            for q in block.qubits:
                last_touch[q] = target
    return pending


def _append_evolution(
    qc: QuantumCircuit,
    split: TrotterSplit,
    *,
    dt: float,
    steps: int,
    order: int,
    fuse_qubits: int,
) -> None:
    for block in _fused_blocks(split, dt=dt, steps=steps, order=order, fuse_qubits=fuse_qubits):
        if block.pauli is not None:
            qc.append(block.pauli, list(block.qubits))
        else:
            matrix = _fused_matrix(split, block)
            qc.append(UnitaryGate(matrix, check_input=False), list(block.qubits))
    qc.global_phase -= split.constant * dt * steps


def _check_fuse_qubits(fuse_qubits: int) -> None:
    if isinstance(fuse_qubits, bool) or not isinstance(fuse_qubits, int | np.integer):
        raise ConfigError(f"fuse_qubits must be an integer in 2..{MAX_FUSE_QUBITS}")
    if not 2 <= fuse_qubits <= MAX_FUSE_QUBITS:
        raise ConfigError(
            f"fuse_qubits must be in 2..{MAX_FUSE_QUBITS}, got {fuse_qubits} (2: one gate per "
            "bond block; 3: fastest in Aer statevector, see experiments/benchmarks)"
        )


def _checked_evolution(dt: float, steps: int, order: int, fuse_qubits: int) -> float:
    """The checks of :func:`evolution_circuit` and :func:`evolution_gates`; returns dt."""
    dt = check_finite(dt, "dt")
    check_steps(steps)
    check_order(order)
    _check_fuse_qubits(fuse_qubits)
    return dt


def circuit(
    hamiltonian: SparsePauliOp,
    *,
    time: float,
    steps: int,
    order: int = 2,
    fold_fields: bool = True,
    fuse_qubits: int = DEFAULT_FUSE_QUBITS,
) -> QuantumCircuit:
    """Trotter circuit approximating exp(-i H time) with ``steps`` steps of dt = time / steps.

    Returns a ``QuantumCircuit`` on ``H.num_qubits`` qubits without measurements: the blocks of
    the product formula (module docstring) in time order, consecutive blocks greedily fused into
    unitary gates of at most ``fuse_qubits`` qubits (``fuse_qubits=2``: one gate per bond
    block, with one-qubit blocks absorbed), one ``PauliEvolutionGate`` per term on three or more
    qubits. Its unitary equals exp(-i H time) up to O(time * dt^order), including the global
    phase; H with a single layer is reproduced exactly for any ``steps``. Fusion is exact: it only
    multiplies matrices. Building costs O(steps * blocks) plus one matrix product per distinct
    fused gate (the steps of a trace repeat the same few). For many circuits of one H, split it
    once and call :func:`evolution_circuit`.
    """
    time = check_finite(time, "time")
    check_steps(steps)
    split = split_layers(hamiltonian, fold_fields=fold_fields)
    return evolution_circuit(
        split, dt=time / steps, steps=int(steps), order=order, fuse_qubits=fuse_qubits
    )


def evolution_circuit(
    split: TrotterSplit,
    *,
    dt: float,
    steps: int,
    order: int = 2,
    fuse_qubits: int = DEFAULT_FUSE_QUBITS,
) -> QuantumCircuit:
    """``steps`` Trotter steps of size ``dt`` of a split H (:func:`split_layers`), like circuit().

    Reusing one split for many circuits (every save segment of a trace, every time point of a
    study) reuses its cached fused-gate matrices, so only the first circuit pays for them (the
    measured gain: docs/pages/benchmarks.md, "Costs quoted in the code").
    """
    if not isinstance(split, TrotterSplit):
        raise ConfigError(
            f"evolution_circuit takes a TrotterSplit (trotter.split_layers(H)), got "
            f"{type(split).__name__}; for a SparsePauliOp use trotter.circuit"
        )
    dt = _checked_evolution(dt, steps, order, fuse_qubits)
    qc = QuantumCircuit(split.num_qubits, name=f"trotter{order}")
    _append_evolution(qc, split, dt=dt, steps=int(steps), order=order, fuse_qubits=fuse_qubits)
    return qc


def evolution_gates(
    split: TrotterSplit,
    *,
    dt: float,
    steps: int,
    order: int = 2,
    fuse_qubits: int = DEFAULT_FUSE_QUBITS,
) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """The gates of :func:`evolution_circuit` as ``(matrix, qubits)`` pairs, in time order,
    without building the circuit (for simulators that apply matrices: the quimb backend).

    Each matrix is in Qiskit order over its qubits (``qubits[0]`` least significant); fused
    matrices are the split's cached arrays, shared between calls: do not change them. The
    global phase (``-constant * dt * steps``) is not included. Building the ``QuantumCircuit`` and
    reading its matrices back took 22 s of a 191 s quimb-backend unit (N = 12, W = 8, order 4,
    chi = 32; profile, 2026-12-07).
    """
    dt = _checked_evolution(dt, steps, order, fuse_qubits)
    gates: list[tuple[np.ndarray, tuple[int, ...]]] = []
    for block in _fused_blocks(
        split, dt=dt, steps=int(steps), order=order, fuse_qubits=fuse_qubits
    ):
        if block.pauli is not None:
            gates.append((np.asarray(block.pauli.to_matrix(), dtype=complex), block.qubits))
        else:
            gates.append((_fused_matrix(split, block), block.qubits))
    return gates


def step_circuit(
    hamiltonian: SparsePauliOp,
    *,
    dt: float,
    order: int = 2,
    fold_fields: bool = True,
    fuse_qubits: int = DEFAULT_FUSE_QUBITS,
) -> QuantumCircuit:
    """One Trotter step of size ``dt``: ``circuit(H, time=dt, steps=1, order=order, ...)``."""
    return circuit(
        hamiltonian,
        time=dt,
        steps=1,
        order=order,
        fold_fields=fold_fields,
        fuse_qubits=fuse_qubits,
    )


class SegmentSteps(NamedTuple):
    """Trotter steps of one free segment: ``steps`` steps of length ``dt`` (``time`` in all)."""

    steps: int
    dt: float

    @property
    def time(self) -> float:
        """The simulated time ``steps * dt`` (the segment's length, to rounding)."""
        return self.steps * self.dt


def fitted_steps(length: float, dt: float) -> SegmentSteps:
    """The steps that fit a free segment of ``length``: ``k = ceil(length / dt)`` steps of
    ``length / k``, never longer than dt (module docstring).

    When ``length / dt`` is within ``STEP_RTOL * max(1, k)`` of an integer k (a multiple of dt up
    to rounding), the steps are k steps of exactly ``dt``; ``length = 0`` (or below
    ``STEP_RTOL * dt``) gives ``SegmentSteps(0, dt)``.

    >>> fitted_steps(0.25, 0.1)
    SegmentSteps(steps=3, dt=0.08333333333333333)
    >>> fitted_steps(0.3, 0.1)  # 0.3 / 0.1 = 2.9999999999999996
    SegmentSteps(steps=3, dt=0.1)
    """
    length = check_finite(length, "the segment length")
    dt = check_finite(dt, "dt")
    if length < 0:
        raise ConfigError(f"a free segment must last >= 0, got {length}")
    if dt <= 0:
        raise ConfigError(f"the time step dt must be > 0, got {dt}")
    ratio = length / dt
    nearest = round(ratio)
    if abs(ratio - nearest) <= STEP_RTOL * max(1.0, nearest):
        return SegmentSteps(int(nearest), dt)
    steps = math.ceil(ratio)
    return SegmentSteps(steps, length / steps)


def segment_steps(sequence: PulseSequence, total_time: float, *, dt: float) -> list[SegmentSteps]:
    """Trotter steps of each ``Free`` segment of ``sequence`` at ``total_time``, in order.

    The rule for circuits of pulse sequences (module docstring): segment ``Free(f)`` lasts
    ``L = f * total_time`` and gets :func:`fitted_steps` ``(L, dt)``, ``k = ceil(L / dt)`` steps
    of ``L / k``, so it is simulated for exactly L. One entry per ``Free`` segment; pulses get
    none.

    >>> from echo_lab.dynamics.schedule import Free, PulseSequence
    >>> segment_steps(PulseSequence([Free(0.25), Free(0.75)]), 2.0, dt=0.1)
    [SegmentSteps(steps=5, dt=0.1), SegmentSteps(steps=15, dt=0.1)]
    >>> segment_steps(PulseSequence([Free(0.5), Free(0.5)]), 0.5, dt=0.1)
    [SegmentSteps(steps=3, dt=0.08333333333333333), SegmentSteps(steps=3, dt=0.08333333333333333)]
    """
    total_time = check_finite(total_time, "total_time")
    dt = check_finite(dt, "dt")
    if total_time < 0:
        raise ConfigError(f"total_time must be >= 0, got {total_time}")
    if dt <= 0:
        raise ConfigError(f"the time step dt must be > 0, got {dt}")
    return [
        fitted_steps(segment.fraction * total_time, dt)
        for segment in sequence.segments
        if isinstance(segment, Free)
    ]


def segment_table(
    sequence: PulseSequence, times: Sequence[float] | np.ndarray, *, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`segment_steps` at every total time as arrays ``(steps, step_lengths)``.

    Both have shape ``(len(times), number of Free segments)``: ``steps[k, j]`` steps of
    ``step_lengths[k, j]`` for free segment j at ``times[k]`` (an integer and a float array).
    """
    rows = [segment_steps(sequence, float(t), dt=dt) for t in np.asarray(times).ravel()]
    width = sum(isinstance(s, Free) for s in sequence.segments)
    steps = np.array([[s.steps for s in row] for row in rows], dtype=np.int64)
    lengths = np.array([[s.dt for s in row] for row in rows], dtype=float)
    return steps.reshape(len(rows), width), lengths.reshape(len(rows), width)


def pulse_instruction(pulse: Pulse) -> Instruction:
    """The pulse as a gate on ``len(pulse.qubits)`` qubits (append it on ``pulse.qubits``).

    A pulse with a ``circuit`` becomes that circuit as one composite instruction labelled
    ``pulse.label`` (its definition holds the gates; :func:`append_pulse` inlines them, which Aer
    needs). Otherwise an ``XGate`` / ``YGate`` when the matrix equals X / Y on one qubit (to 1e-12,
    global phase included), else a ``UnitaryGate`` labelled ``pulse.label``. ConfigError if the
    matrix is not unitary.
    """
    if pulse.circuit is not None:
        return pulse.circuit.to_instruction(label=pulse.label)
    matrix = pulse.dense_matrix()
    if len(pulse.qubits) == 1:
        if np.allclose(matrix, PAULI_MATRICES["X"], rtol=0.0, atol=1e-12):
            return XGate(label=pulse.label)
        if np.allclose(matrix, PAULI_MATRICES["Y"], rtol=0.0, atol=1e-12):
            return YGate(label=pulse.label)
    identity = np.eye(matrix.shape[0])
    if not np.allclose(matrix.conj().T @ matrix, identity, rtol=0.0, atol=1e-10):
        raise ConfigError(
            f"pulse {pulse.label!r} is not unitary (|U^dag U - 1| > 1e-10); use the polar factor "
            "of the operator (pulses.truncated_lbit_pulse does this)"
        )
    return UnitaryGate(matrix, label=pulse.label, check_input=False)


def append_pulse(qc: QuantumCircuit, pulse: Pulse) -> None:
    """Append ``pulse`` to ``qc`` on ``pulse.qubits``: its circuit's gates inline when it has one
    (Aer simulates standard gates and unitaries, not composite instructions), otherwise
    :func:`pulse_instruction`."""
    if pulse.circuit is not None:
        qc.compose(pulse.circuit, qubits=list(pulse.qubits), inplace=True)
    else:
        qc.append(pulse_instruction(pulse), list(pulse.qubits))


def sequence_circuit(
    hamiltonian: SparsePauliOp,
    sequence: PulseSequence,
    total_time: float,
    *,
    dt: float,
    order: int = 2,
    initial_state: ProductState | None = None,
    fold_fields: bool = True,
    fuse_qubits: int = DEFAULT_FUSE_QUBITS,
) -> QuantumCircuit:
    """Circuit of a pulse sequence at ``total_time`` with Trotter steps of ``dt``.

    State preparation (``initial_state.circuit()``, if given), then each segment in time order:
    ``k`` Trotter steps of ``L / k`` for a ``Free`` segment of length L (:func:`segment_steps`:
    ``k = ceil(L / dt)``, steps of exactly dt when L is a multiple of dt),
    :func:`pulse_instruction` for ``Pulse``. A labelled barrier (``"free 3x0.0833333"``) precedes
    every segment so that a drawing shows the structure. No measurements. Trotter blocks are built
    as in :func:`circuit` (``fold_fields``, ``fuse_qubits``); fusion never crosses a pulse.
    """
    check_order(order)
    _check_fuse_qubits(fuse_qubits)
    if not isinstance(sequence, PulseSequence):
        raise ConfigError(f"sequence must be a PulseSequence, got {type(sequence).__name__}")
    steps = segment_steps(sequence, total_time, dt=dt)
    split = split_layers(hamiltonian, fold_fields=fold_fields)
    n = split.num_qubits
    qc = QuantumCircuit(n, name=sequence.name)
    if initial_state is not None:
        if initial_state.n != n:
            raise ConfigError(f"initial state has {initial_state.n} sites, the Hamiltonian {n}")
        qc.compose(initial_state.circuit(), inplace=True)
    free_index = 0
    for segment in sequence.segments:
        if isinstance(segment, Free):
            k, tau = steps[free_index]
            free_index += 1
            qc.barrier(label=f"free {k}x{tau:g}")
            if k > 0:
                _append_evolution(qc, split, dt=tau, steps=k, order=order, fuse_qubits=fuse_qubits)
        else:
            if any(not 0 <= q < n for q in segment.qubits):
                raise ConfigError(
                    f"pulse {segment.label!r} acts on qubits {segment.qubits} outside 0..{n - 1}"
                )
            qc.barrier(label=segment.label)
            append_pulse(qc, segment)
    return qc


def transpile_to_basis(
    qc: QuantumCircuit,
    *,
    basis: Sequence[str] = ("cx", "rz", "sx", "x"),
    optimization_level: int = 1,
    seed: int = 0,
) -> QuantumCircuit:
    """``qc`` rewritten in the gate set ``basis`` (e.g. ``("ecr", "rz", "sx", "x")``).

    Deterministic for a fixed ``seed``; no qubit mapping (all-to-all connectivity). Parameters
    survive, so a parameterized circuit is transpiled once and bound many times.
    """
    known = get_standard_gate_name_mapping()
    unknown = [name for name in basis if name not in known]
    if unknown:
        raise ConfigError(f"unknown basis gates {unknown}; use standard Qiskit gate names")
    if optimization_level not in (0, 1, 2, 3):
        raise ConfigError(f"optimization_level must be 0..3, got {optimization_level!r}")
    return transpile(
        qc,
        basis_gates=list(basis),
        optimization_level=optimization_level,
        seed_transpiler=seed,
    )
