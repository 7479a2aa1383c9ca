"""Tests of echo_lab.dynamics.trotter: layers, exactness of blocks, error scaling, parameters,
sequences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit.library import UnitaryGate, XGate, YGate
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from echo_lab.dynamics import parametric, trotter
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.physics.linalg import embed
from echo_lab.physics.states import ProductState

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)


def exact_unitary(hamiltonian: SparsePauliOp, time: float) -> np.ndarray:
    return scipy.linalg.expm(-1j * time * hamiltonian.to_matrix())


def circuit_error(hamiltonian: SparsePauliOp, *, time: float, steps: int, order: int) -> float:
    qc = trotter.circuit(hamiltonian, time=time, steps=steps, order=order)
    return float(np.linalg.norm(Operator(qc).data - exact_unitary(hamiltonian, time), 2))


def three_body_hamiltonian() -> SparsePauliOp:
    base = models.RandomFieldXXZ(n=4, W=2.0, seed=5).hamiltonian()
    extra = SparsePauliOp.from_sparse_list(
        [("XYZ", [0, 1, 2], 0.5), ("ZZZ", [1, 2, 3], 0.3), ("XXX", [0, 1, 3], 0.2)], 4
    )
    return (base + extra).simplify()


def numpy_step_unitary(split: trotter.TrotterSplit, dt: float, order: int) -> np.ndarray:
    """Product of embedded block exponentials following step_schedule (independent of Qiskit)."""
    n = split.num_qubits
    total = np.eye(2**n, dtype=complex)
    for index, fraction in trotter.step_schedule(len(split.layers), steps=1, order=order):
        for block in split.layers[index].blocks:
            local = scipy.linalg.expm(-1j * fraction * dt * block.operator.to_matrix())
            total = embed(local, block.qubits, n) @ total
    return total * np.exp(-1j * split.constant * dt)


@pytest.mark.parametrize(
    ("order", "steps", "band"),
    [(1, 8, (1.8, 2.3)), (2, 8, (3.6, 4.5)), (4, 8, (13.0, 19.0))],
)
def test_error_shrinks_as_dt_to_the_order(order: int, steps: int, band: tuple[float, float]):
    hamiltonian = models.RandomFieldXXZ(n=6, W=3.0, seed=2, g=0.3).hamiltonian()
    coarse = circuit_error(hamiltonian, time=1.0, steps=steps, order=order)
    fine = circuit_error(hamiltonian, time=1.0, steps=2 * steps, order=order)
    assert band[0] < coarse / fine < band[1]
    assert fine < 0.3


@pytest.mark.parametrize("order", [1, 2, 4])
def test_single_bond_block_is_exact(order: int):
    hamiltonian = models.RandomFieldXXZ(n=2, W=4.0, J=0.7, Jz=1.3, seed=1, g=0.4).hamiltonian()
    hamiltonian = (hamiltonian + SparsePauliOp("II", coeffs=[0.25])).simplify()
    qc = trotter.circuit(hamiltonian, time=2.3, steps=1, order=order)
    np.testing.assert_allclose(Operator(qc).data, exact_unitary(hamiltonian, 2.3), atol=1e-12)


def test_merged_steps_equal_repeated_step():
    hamiltonian = models.RandomFieldXXZ(n=5, W=3.0, seed=4).hamiltonian()
    step = Operator(trotter.step_circuit(hamiltonian, dt=0.2, order=4)).data
    merged = Operator(trotter.circuit(hamiltonian, time=0.6, steps=3, order=4)).data
    np.testing.assert_allclose(merged, np.linalg.matrix_power(step, 3), atol=1e-12)


def test_shared_split_reuses_fused_gates_and_gives_the_same_circuits():
    hamiltonian = (
        three_body_hamiltonian() + models.RandomFieldXXZ(n=4, W=3.0, seed=2).hamiltonian()
    ).simplify()
    split = trotter.split_layers(hamiltonian)
    for order, steps, dt in [(2, 7, 0.1), (4, 3, 0.2), (1, 5, 0.1), (2, 2, 0.1)]:
        shared = trotter.evolution_circuit(split, dt=dt, steps=steps, order=order)
        fresh = trotter.circuit(hamiltonian, time=steps * dt, steps=steps, order=order)
        np.testing.assert_allclose(Operator(shared).data, Operator(fresh).data, atol=1e-13)
        # Independent reference: the numpy product of the block exponentials, step by step.
        reference = np.linalg.matrix_power(numpy_step_unitary(split, dt, order), steps)
        np.testing.assert_allclose(Operator(shared).data, reference, atol=1e-11)
    # Steps repeat the same few fused gates: far fewer distinct matrices than gates, and a
    # second build of a circuit gives an equal circuit without new matrices.
    first = trotter.evolution_circuit(split, dt=0.1, steps=7, order=2)
    cached = split.cached_gate_count()
    assert 0 < cached < first.size()
    assert trotter.evolution_circuit(split, dt=0.1, steps=7, order=2) == first
    assert split.cached_gate_count() == cached
    long_split = trotter.split_layers(models.RandomFieldXXZ(n=8, W=3.0, seed=3).hamiltonian())
    assert long_split.cached_gate_count() == 0
    long = trotter.evolution_circuit(long_split, dt=0.05, steps=200)
    assert long.size() > 600 and long_split.cached_gate_count() <= 20
    distinct = {op.operation.params[0].tobytes() for op in long.data}
    assert len(distinct) <= long_split.cached_gate_count()
    with pytest.raises(ConfigError, match="TrotterSplit"):
        trotter.evolution_circuit(hamiltonian, dt=0.1, steps=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", [1, 2, 4])
def test_step_circuit_matches_numpy_product_of_blocks(order: int):
    hamiltonian = three_body_hamiltonian()
    split = trotter.split_layers(hamiltonian)
    qc = trotter.step_circuit(hamiltonian, dt=0.3, order=order)
    np.testing.assert_allclose(Operator(qc).data, numpy_step_unitary(split, 0.3, order), atol=1e-12)


@pytest.mark.parametrize("fold_fields", [True, False])
def test_fusion_is_exact_and_reduces_gate_count(fold_fields: bool):
    hamiltonian = (
        three_body_hamiltonian() + models.RandomFieldXXZ(n=4, seed=1).hamiltonian()
    ).simplify()
    unfused = trotter.circuit(
        hamiltonian, time=0.7, steps=3, fold_fields=fold_fields, fuse_qubits=2
    )
    reference = Operator(unfused).data
    sizes = [unfused.size()]
    for fuse_qubits in (3, 4):
        fused = trotter.circuit(
            hamiltonian, time=0.7, steps=3, fold_fields=fold_fields, fuse_qubits=fuse_qubits
        )
        np.testing.assert_allclose(Operator(fused).data, reference, atol=1e-12)
        assert (
            max(len(i.qubits) for i in fused.data if i.operation.name == "unitary") <= fuse_qubits
        )
        sizes.append(fused.size())
    assert sizes[0] > sizes[1] >= sizes[2]
    with pytest.raises(ConfigError, match="fuse_qubits"):
        trotter.circuit(hamiltonian, time=0.7, steps=3, fuse_qubits=1)


def test_chain_fuses_into_three_qubit_gates():
    hamiltonian = models.RandomFieldXXZ(n=8, W=3.0, seed=3).hamiltonian()
    fused = trotter.circuit(hamiltonian, time=1.0, steps=10)
    unfused = trotter.circuit(hamiltonian, time=1.0, steps=10, fuse_qubits=2)
    # 2 bond layers per merged Strang step: 7 two-qubit gates, fused about pairwise.
    assert unfused.size() == 7 * 10 + 4
    assert fused.size() <= 0.6 * unfused.size()


def test_pauli_term_gate_matrix_is_the_exponential():
    term = SparsePauliOp.from_sparse_list([("XYZ", [0, 1, 2], -0.7)], 3)
    gate = trotter.PauliTermEvolutionGate(term, time=0.4)
    expected = scipy.linalg.expm(-1j * 0.4 * term.to_matrix())
    np.testing.assert_allclose(gate.to_matrix(), expected, atol=1e-14)


def test_strang_schedule_merges_half_steps():
    assert trotter.step_schedule(2, steps=2, order=2) == [
        (0, 0.5),
        (1, 1.0),
        (0, 1.0),
        (1, 1.0),
        (0, 0.5),
    ]
    schedule = trotter.step_schedule(3, steps=3, order=4)
    for layer in range(3):
        total = sum(f for index, f in schedule if index == layer)
        assert total == pytest.approx(3.0, abs=1e-12)
    assert all(a[0] != b[0] for a, b in itertools.pairwise(schedule))


def _check_split(hamiltonian: SparsePauliOp, split: trotter.TrotterSplit) -> None:
    n = hamiltonian.num_qubits
    difference = (split.operator() - hamiltonian).simplify(atol=1e-14)
    assert np.max(np.abs(difference.coeffs)) < 1e-14
    block_terms = sum(len(block.operator) for layer in split.layers for block in layer.blocks)
    non_identity = sum(1 for p in hamiltonian.simplify().paulis if np.any(p.x | p.z))
    assert block_terms == non_identity
    for layer in split.layers:
        ops = [block.embedded(n) for block in layer.blocks]
        for a in ops:
            for b in ops:
                commutator = (a @ b - b @ a).simplify(atol=1e-13)
                assert np.max(np.abs(commutator.coeffs)) < 1e-13


@pytest.mark.parametrize("fold_fields", [True, False])
@pytest.mark.parametrize(
    "lattice",
    [
        models.Lattice.chain(7),
        models.Lattice.chain(6, periodic=True),
        models.Lattice.square(3, 2),
        models.Lattice.from_edges(5, [(0, 3), (1, 4), (0, 2), (2, 4)]),
    ],
)
def test_layers_commute_and_cover_every_term_once(lattice: models.Lattice, fold_fields: bool):
    hamiltonian = models.RandomFieldXXZ(lattice=lattice, W=3.0, seed=7, g=0.2).hamiltonian()
    split = trotter.split_layers(hamiltonian, fold_fields=fold_fields)
    _check_split(hamiltonian, split)
    bond_layers = [layer for layer in split.layers if layer.blocks[0].kind == "bond"]
    assert {b.qubits for layer in bond_layers for b in layer.blocks if b.kind == "bond"} == {
        tuple(sorted(bond)) for bond in lattice.bonds
    }


def test_chain_layers_are_even_and_odd_bonds_with_folded_fields():
    hamiltonian = models.RandomFieldXXZ(n=6, W=3.0, seed=3).hamiltonian()
    split = trotter.split_layers(hamiltonian)
    assert [[b.qubits for b in layer.blocks] for layer in split.layers] == [
        [(0, 1), (2, 3), (4, 5)],
        [(1, 2), (3, 4)],
    ]
    unfolded = trotter.split_layers(hamiltonian, fold_fields=False)
    assert [b.kind for b in unfolded.layers[0].blocks] == ["field"] * 6


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="IXYZ", min_size=4, max_size=4),
            st.floats(min_value=-2, max_value=2, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_random_pauli_sums_split_exactly(terms: list[tuple[str, float]]):
    labels, coeffs = zip(*terms, strict=True)
    hamiltonian = SparsePauliOp(list(labels), coeffs=list(coeffs)).simplify()
    _check_split(hamiltonian, trotter.split_layers(hamiltonian))


def test_square_lattice_error_scales_as_second_order():
    lattice = models.Lattice.square(3, 2)
    hamiltonian = models.RandomFieldXXZ(lattice=lattice, W=3.0, seed=8).hamiltonian()
    coarse = circuit_error(hamiltonian, time=1.0, steps=8, order=2)
    fine = circuit_error(hamiltonian, time=1.0, steps=16, order=2)
    assert 3.6 < coarse / fine < 4.5


def test_three_body_terms_get_their_own_layers_and_second_order():
    hamiltonian = three_body_hamiltonian()
    split = trotter.split_layers(hamiltonian)
    pauli_layers = [layer for layer in split.layers if layer.blocks[0].kind == "pauli"]
    # XYZ(0,1,2) anticommutes with ZZZ(1,2,3) and with XXX(0,1,3); ZZZ and XXX commute.
    assert sorted(len(layer.blocks) for layer in pauli_layers) == [1, 2]
    coarse = circuit_error(hamiltonian, time=1.0, steps=8, order=2)
    fine = circuit_error(hamiltonian, time=1.0, steps=16, order=2)
    assert 3.6 < coarse / fine < 4.5


def test_parameterized_binding_equals_direct_build():
    model = models.RandomFieldXXZ(n=6, W=5.0, J=0.8, Jz=1.2, seed=11)
    qc, fields, dt = parametric.parameterized_circuit(model, steps=3, order=2)
    transpiled = trotter.transpile_to_basis(qc)
    for seed in (1, 2):
        realization = models.RandomFieldXXZ(n=6, W=5.0, J=0.8, Jz=1.2, seed=seed)
        direct = trotter.circuit(
            realization.hamiltonian(), time=0.45, steps=3, order=2, fold_fields=False
        )
        expected = Statevector(direct).data
        bound = parametric.bind_fields(qc, fields, dt, fields=realization.fields, dt=0.15)
        np.testing.assert_allclose(Statevector(bound).data, expected, atol=1e-12)
        bound_transpiled = parametric.bind_fields(
            transpiled, fields, dt, fields=realization.fields, dt=0.15
        )
        overlap = abs(np.vdot(Statevector(bound_transpiled).data, expected))
        assert overlap == pytest.approx(1.0, abs=1e-10)


def test_parameterized_circuit_keeps_non_field_terms_and_rejects_transverse_fields():
    hamiltonian = three_body_hamiltonian()
    qc, fields, dt = parametric.parameterized_circuit(hamiltonian, steps=2, order=1)
    field_values = models.PauliModel(hamiltonian).fields
    bound = parametric.bind_fields(qc, fields, dt, fields=field_values, dt=0.2)
    direct = trotter.circuit(hamiltonian, time=0.4, steps=2, order=1, fold_fields=False)
    np.testing.assert_allclose(Operator(bound).data, Operator(direct).data, atol=1e-12)
    with pytest.raises(ConfigError, match="only Z fields"):
        parametric.parameterized_circuit(models.RandomFieldIsing(n=3, W=1.0, seed=0), steps=1)
    with pytest.raises(ConfigError, match="one per qubit"):
        parametric.bind_fields(qc, fields, dt, fields=[0.0], dt=0.1)


def test_segment_steps_fit_every_segment_exactly():
    hahn = PulseSequence([Free(0.5), Pulse(X, (0,), "X_0"), Free(0.5)])
    assert trotter.segment_steps(hahn, 2.0, dt=0.1) == [(10, 0.1), (10, 0.1)]
    # 1.03 is not a multiple of 0.1: ceil(10.3) = 11 steps of 1.03 / 11, never 10 of 0.1
    steps = trotter.segment_steps(hahn, 2.06, dt=0.1)
    assert [s.steps for s in steps] == [11, 11]
    assert steps[0].dt == pytest.approx(1.03 / 11, rel=1e-15) and steps[0].dt < 0.1
    assert sum(s.time for s in steps) == pytest.approx(2.06, rel=1e-14)
    # T = 0.5, dt = 0.1: each half 0.25 = 3 steps of 0.0833, not 2 steps of 0.1
    assert trotter.segment_steps(hahn, 0.5, dt=0.1) == [(3, 0.25 / 3)] * 2
    cpmg = PulseSequence(
        [Free(0.25), Pulse(X, (0,), "X"), Free(0.5), Pulse(X, (0,), "X"), Free(0.25)]
    )
    assert trotter.segment_steps(cpmg, 4.0, dt=0.25) == [(4, 0.25), (8, 0.25), (4, 0.25)]
    assert trotter.segment_steps(cpmg, 0.0, dt=0.25) == [(0, 0.25)] * 3
    with pytest.raises(ConfigError, match="dt"):
        trotter.segment_steps(hahn, 1.0, dt=0.0)
    with pytest.raises(ConfigError, match="total_time"):
        trotter.segment_steps(hahn, -1.0, dt=0.1)


@pytest.mark.parametrize(
    ("length", "dt", "steps", "step"),
    [
        (0.0, 0.1, 0, 0.1),  # no time, no step
        (3 * 0.1, 0.1, 3, 0.1),  # 0.30000000000000004 / 0.1: three steps of exactly dt, not four
        (0.3, 0.1, 3, 0.1),  # 2.9999999999999996: three, not ceil = 3 by luck
        (0.7, 0.1, 7, 0.1),  # 6.999999999999999
        (0.25, 0.1, 3, 0.25 / 3),
        (0.05, 0.1, 1, 0.05),  # shorter than dt: one step of its own length
        (1e-13, 0.1, 0, 0.1),  # below STEP_RTOL * dt: nothing to evolve
        (1000.0, 0.05, 20000, 0.05),
        (1000.01, 0.05, 20001, 1000.01 / 20001),
    ],
)
def test_fitted_steps(length: float, dt: float, steps: int, step: float) -> None:
    got = trotter.fitted_steps(length, dt)
    assert got.steps == steps
    assert got.dt == step  # bit for bit: dt itself for multiples of dt
    assert got.dt <= dt
    if steps:
        assert got.time == pytest.approx(length, rel=1e-9)
    with pytest.raises(ConfigError, match=">= 0"):
        trotter.fitted_steps(-0.1, dt)


def test_segment_table_has_steps_and_lengths_per_time() -> None:
    hahn = PulseSequence([Free(0.5), Pulse(X, (0,), "X_0"), Free(0.5)])
    steps, lengths = trotter.segment_table(hahn, np.array([0.0, 0.5, 1.0]), dt=0.1)
    np.testing.assert_array_equal(steps, [[0, 0], [3, 3], [5, 5]])
    np.testing.assert_array_equal(lengths, [[0.1, 0.1], [0.25 / 3] * 2, [0.1, 0.1]])
    fid = PulseSequence([Free(1.0)])
    steps, lengths = trotter.segment_table(fid, np.array([]), dt=0.1)
    assert steps.shape == lengths.shape == (0, 1)


def test_sequence_circuit_simulates_the_true_segment_times() -> None:
    # A lone spin in a field h: <X> = cos(2 h t) tells the simulated time directly, and an echo
    # [Free(f), X, Free(1 - f)] gives cos(2 h (1 - 2 f) T). Old rule: T = 0.5, f = 0.25, dt = 0.1
    # simulated 0.1 and 0.4 (a phase of 2 h 0.3 instead of 2 h 0.25).
    h = 0.9
    hamiltonian = SparsePauliOp.from_sparse_list([("Z", [0], h)], 1)
    plus = ProductState(np.array([[np.pi / 2, 0.0]]))
    sx = SparsePauliOp("X")
    for total in (0.5, 0.73, 1.25, 2.45):
        fid = trotter.sequence_circuit(
            hamiltonian, PulseSequence([Free(1.0)]), total, dt=0.1, initial_state=plus
        )
        value = Statevector(fid).expectation_value(sx).real
        assert value == pytest.approx(np.cos(2 * h * total), abs=1e-12)
        echo = PulseSequence([Free(0.25), Pulse(X, (0,), "X"), Free(0.75)])
        qc = trotter.sequence_circuit(hamiltonian, echo, total, dt=0.1, initial_state=plus)
        value = Statevector(qc).expectation_value(sx).real
        assert value == pytest.approx(np.cos(2 * h * 0.5 * total), abs=1e-12)


def test_hahn_circuit_off_the_grid_of_dt_equals_powers_of_the_fitted_step() -> None:
    hamiltonian = models.RandomFieldXXZ(n=4, W=3.0, seed=4).hamiltonian()
    split = trotter.split_layers(hamiltonian)
    sequence = PulseSequence([Free(0.5), Pulse(X, (1,), "X_1"), Free(0.5)])
    qc = trotter.sequence_circuit(hamiltonian, sequence, 0.5, dt=0.1, order=2)
    step = numpy_step_unitary(split, 0.25 / 3, 2)
    third = np.linalg.matrix_power(step, 3)
    np.testing.assert_allclose(Operator(qc).data, third @ embed(X, (1,), 4) @ third, atol=1e-12)
    labels = [i.operation.label for i in qc.data if i.operation.name == "barrier"]
    assert labels == ["free 3x0.0833333", "X_1", "free 3x0.0833333"]
    # The echo converges (as dt^2) to the exact evolution of the true times, 0.25 per half; the
    # old rule (2 steps of 0.1 per half) was off by 0.94 in operator norm.
    exact_half = exact_unitary(hamiltonian, 0.25)
    exact = exact_half @ embed(X, (1,), 4) @ exact_half
    error = np.linalg.norm(Operator(qc).data - exact, 2)
    finer = trotter.sequence_circuit(hamiltonian, sequence, 0.5, dt=0.25 / 6, order=2)
    assert error < 0.02
    assert error / np.linalg.norm(Operator(finer).data - exact, 2) == pytest.approx(4.0, rel=0.1)


def test_zero_length_segment_gets_no_step() -> None:
    hamiltonian = models.RandomFieldXXZ(n=3, W=2.0, seed=1).hamiltonian()
    sequence = PulseSequence([Free(0.0), Pulse(X, (0,), "X_0"), Free(1.0)])
    assert trotter.segment_steps(sequence, 0.73, dt=0.1) == [(0, 0.1), (8, 0.73 / 8)]
    qc = trotter.sequence_circuit(hamiltonian, sequence, 0.73, dt=0.1)
    labels = [i.operation.label for i in qc.data if i.operation.name == "barrier"]
    assert labels[:2] == ["free 0x0.1", "X_0"]
    free = trotter.circuit(hamiltonian, time=0.73, steps=8)
    np.testing.assert_allclose(
        Operator(qc).data, Operator(free).data @ embed(X, (0,), 3), atol=1e-12
    )


def test_hahn_echo_circuit_equals_product_of_steps_and_pulse():
    model = models.RandomFieldXXZ(n=5, W=4.0, seed=9)
    hamiltonian = model.hamiltonian()
    rng = np.random.default_rng(0)
    pair_pulse = scipy.linalg.expm(-1j * scipy.linalg.qr(rng.normal(size=(4, 4)))[0] * 0.3)
    pair_pulse = scipy.linalg.polar(pair_pulse)[0]
    sequence = PulseSequence(
        [
            Free(0.3),
            Pulse(X, (2,), "X_2"),
            Free(0.4),
            Pulse(pair_pulse, (1, 3), "U_13"),
            Free(0.3),
        ],
        name="test-echo",
    )
    dt, total = 0.1, 2.0
    qc = trotter.sequence_circuit(hamiltonian, sequence, total, dt=dt, order=2)
    step = numpy_step_unitary(trotter.split_layers(hamiltonian), dt, 2)
    steps = trotter.segment_steps(sequence, total, dt=dt)
    assert steps == [(6, dt), (8, dt), (6, dt)]
    expected = (
        np.linalg.matrix_power(step, 6)
        @ embed(pair_pulse, (1, 3), 5)
        @ np.linalg.matrix_power(step, 8)
        @ embed(X, (2,), 5)
        @ np.linalg.matrix_power(step, 6)
    )
    np.testing.assert_allclose(Operator(qc).data, expected, atol=1e-11)
    labels = [i.operation.label for i in qc.data if i.operation.name == "barrier"]
    assert labels == ["free 6x0.1", "X_2", "free 8x0.1", "U_13", "free 6x0.1"]

    state = ProductState(
        np.array([[np.pi / 2, 0.0], [np.pi, 0.0], [0.0, 0.0], [1.0, 0.4], [2.0, 1.0]])
    )
    prepared = trotter.sequence_circuit(
        hamiltonian, sequence, total, dt=dt, order=2, initial_state=state
    )
    overlap = abs(np.vdot(Statevector(prepared).data, expected @ state.vector()))
    assert overlap == pytest.approx(1.0, abs=1e-12)


def test_pulse_instruction_kinds():
    assert isinstance(trotter.pulse_instruction(Pulse(X, (3,), "X_3")), XGate)
    assert isinstance(trotter.pulse_instruction(Pulse(Y, (0,), "Y_0")), YGate)
    eps = 0.05
    rotation = scipy.linalg.expm(-1j * np.pi * (1 + eps) / 2 * X)
    gate = trotter.pulse_instruction(Pulse(rotation, (1,), "X_1(eps)"))
    assert isinstance(gate, UnitaryGate)
    assert gate.label == "X_1(eps)"
    np.testing.assert_allclose(Operator(gate).data, rotation, atol=1e-14)
    with pytest.raises(ConfigError, match="not unitary"):
        trotter.pulse_instruction(Pulse(np.diag([1.0, 0.5]), (0,), "bad"))


@pytest.mark.parametrize("basis", [("cx", "rz", "sx", "x"), ("ecr", "rz", "sx", "x")])
def test_transpile_to_basis_keeps_the_unitary(basis: tuple[str, ...]):
    hamiltonian = three_body_hamiltonian()
    qc = trotter.circuit(hamiltonian, time=0.5, steps=2, order=2)
    transpiled = trotter.transpile_to_basis(qc, basis=basis)
    assert set(transpiled.count_ops()) <= set(basis)
    assert Operator(transpiled).equiv(Operator(qc), atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time": 1.0, "steps": 2, "order": 3}, "order"),
        ({"time": 1.0, "steps": 0, "order": 2}, "steps"),
        ({"time": 1.0, "steps": 1.5, "order": 2}, "steps"),
        ({"time": float("inf"), "steps": 2, "order": 2}, "time"),
    ],
)
def test_invalid_arguments_raise_config_error(kwargs: dict, match: str):
    hamiltonian = models.RandomFieldXXZ(n=3, W=1.0, seed=0).hamiltonian()
    with pytest.raises(ConfigError, match=match):
        trotter.circuit(hamiltonian, **kwargs)


def test_non_hermitian_hamiltonian_and_bad_basis_are_rejected():
    with pytest.raises(ConfigError, match="not Hermitian"):
        trotter.circuit(SparsePauliOp(["XZ"], coeffs=[1j]), time=1.0, steps=1)
    with pytest.raises(ConfigError, match="SparsePauliOp"):
        trotter.circuit(np.eye(4), time=1.0, steps=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown basis"):
        trotter.transpile_to_basis(
            trotter.circuit(SparsePauliOp("ZZ"), time=1.0, steps=1), basis=("foo",)
        )


def test_append_rotation_is_exp_of_the_pauli_string() -> None:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator, SparsePauliOp
    from scipy.linalg import expm

    for label in ("X", "ZZ", "XY", "ZXZ"):
        k = len(label)
        qc = QuantumCircuit(k)
        parametric.append_rotation(qc, label, list(range(k)), 0.7)
        P = SparsePauliOp.from_sparse_list([(label, range(k), 1.0)], k).to_matrix()
        np.testing.assert_allclose(Operator(qc).data, expm(-0.35j * P), atol=1e-12)


def test_preparation_circuit_matches_the_product_state() -> None:
    from qiskit.quantum_info import Statevector

    from echo_lab.physics.states import ProductState

    state = ProductState(np.array([[0.3, 1.1], [0.0, 0.0], [np.pi, 0.4]]))
    prepared = Statevector(state.circuit()).data
    overlap = abs(np.vdot(prepared, state.vector()))
    assert np.isclose(overlap, 1.0, atol=1e-12)
    assert state.circuit().count_ops() == {"ry": 2, "rz": 2}


@pytest.mark.parametrize("order", [1, 2, 4])
def test_evolution_gates_are_the_circuits_gates(order: int) -> None:
    # The gate list read without a circuit equals the circuit's instructions, matrix by matrix.
    from echo_lab.backends.quimb_mps import circuit_gates

    h = SparsePauliOp.from_sparse_list(
        [("XX", [0, 1], 1.0), ("ZZ", [1, 2], 0.7), ("Z", [2], -1.3), ("XZX", [0, 1, 2], 0.4)],
        num_qubits=3,
    )
    split = trotter.split_layers(h)
    qc = trotter.evolution_circuit(split, dt=0.13, steps=3, order=order, fuse_qubits=2)
    direct = trotter.evolution_gates(split, dt=0.13, steps=3, order=order, fuse_qubits=2)
    read = circuit_gates(qc)
    assert len(direct) == len(read) > 3
    for (m1, q1), (m2, q2) in zip(direct, read, strict=True):
        assert tuple(q1) == tuple(q2)
        np.testing.assert_allclose(m1, m2, rtol=0, atol=1e-14)
