"""The qsim backend: echo_lab's Trotter circuits on qsim equal their exact evaluation.

qsim computes in single precision, so "equal" here is 1e-5 (measured: 3e-7), not rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import UnitaryGate
from qiskit.quantum_info import SparsePauliOp, Statevector, random_unitary

from echo_lab.backends import get_backend
from echo_lab.backends.qsim import QsimBackend, circuit_to_cirq
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.schedule import Free, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.physics.states import probe_state
from echo_lab.protocols.sequences import build_fid, build_hahn

pytest.importorskip("qsimcirq")

SINGLE_PRECISION = 1e-5


@pytest.mark.parametrize("sequence", [build_fid(), build_hahn(pbit_pulse(3))], ids=["fid", "hahn"])
def test_qsim_equals_the_exact_trotter_evaluation(sequence) -> None:
    n = 6
    hamiltonian = models.RandomFieldXXZ(n=n, W=5.0, seed=3).hamiltonian()
    state = probe_state(n, 3, background="z-random", rng=np.random.default_rng(1))
    # unsorted, with t = 0 and times off the grid of dt (0.73, 1.27; 1.525 per Hahn half)
    times = np.array([0.5, 1.0, 0.73, 0.1, 2.0, 1.27, 3.05, 0.0])
    observables = {
        "sx": SparsePauliOp.from_sparse_list([("X", [3], 1.0)], n),
        "dense": np.diag(np.arange(2**n) % 3 * 1.0),
    }
    ours = QsimBackend(dt=0.05, order=2, threads=1).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    exact = get_backend("trotter-exact", dt=0.05, order=2).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    assert set(ours) == {"sx", "dense", "entropy"}
    for key, values in exact.items():
        assert ours[key].shape == times.shape
        np.testing.assert_allclose(ours[key], values, rtol=0, atol=SINGLE_PRECISION)
    # and the trace moves: not a constant that would pass any comparison
    assert np.ptp(ours["sx"]) > 0.1


def test_qsim_simulates_every_segment_for_its_own_time() -> None:
    # a free spin in a field h: <X> = cos(2 h T), and cos(h T) for [Free(1/4), X, Free(3/4)]
    h0 = 0.9
    hamiltonian = SparsePauliOp.from_sparse_list([("Z", [0], h0), ("Z", [1], -0.4)], 2)
    state = probe_state(2, 0, background="x")
    times = np.array([0.0, 0.5, 0.73, 1.0, 1.25, 2.45])
    backend = QsimBackend(dt=0.1, threads=1)
    obs = {"sx": SparsePauliOp.from_sparse_list([("X", [0], 1.0)], 2)}
    fid = backend.run(hamiltonian, build_fid(), state, times, observables=obs)
    np.testing.assert_allclose(fid["sx"], np.cos(2 * h0 * times), atol=SINGLE_PRECISION)
    uneven = PulseSequence([Free(0.25), *build_hahn(pbit_pulse(0)).pulses, Free(0.75)])
    echo = backend.run(hamiltonian, uneven, state, times, observables=obs)
    np.testing.assert_allclose(echo["sx"], np.cos(h0 * times), atol=SINGLE_PRECISION)


def test_circuit_translation_keeps_qiskits_amplitude_order() -> None:
    qc = QuantumCircuit(4)
    qc.h(0)
    qc.append(UnitaryGate(random_unitary(4, seed=1)), [3, 1])
    qc.barrier()
    qc.append(UnitaryGate(random_unitary(8, seed=2)), [0, 2, 3])
    qc.rzz(0.4, 1, 2)
    circuit, order = circuit_to_cirq(qc)
    import cirq

    state = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=order)
    expected = Statevector(qc).data * np.exp(-1j * qc.global_phase)
    np.testing.assert_allclose(state.final_state_vector, expected, rtol=0, atol=1e-12)
    measured = QuantumCircuit(1, 1)
    measured.measure(0, 0)
    with pytest.raises(ConfigError, match="unitary circuits"):
        circuit_to_cirq(measured)


def test_qsim_backend_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="threads"):
        QsimBackend(threads=0)
    with pytest.raises(ConfigError, match="fused_gate_size"):
        QsimBackend(fused_gate_size=7)
    with pytest.raises(ConfigError, match="order"):
        QsimBackend(order=3)
    with pytest.raises(ConfigError, match="dt"):
        QsimBackend(dt=-0.1)


def test_qsim_backend_benchmark_compares_the_same_trace() -> None:
    from echo_lab.bench.peers import bench_qsim_backend

    record = bench_qsim_backend(n=8, repeats=1)
    assert record["max_abs_difference_sx"] < SINGLE_PRECISION
    seconds = record["seconds"]
    assert record["aer_over_qsim"]["value"] == pytest.approx(
        seconds["aer"]["min"] / seconds["qsim"]["min"]
    )


def _subnormals_survive() -> bool:
    tiny = np.array([1e-300]) * np.array([1e-20])  # 1e-320: subnormal in IEEE double
    return bool(tiny[0] != 0.0)


def test_qsim_backend_leaves_the_callers_floating_point_state_alone() -> None:
    # qsim's denormals-are-zero mode sets the flags of the thread that calls it; the backend
    # calls it from a thread of its own, so numpy here still keeps subnormals.
    assert _subnormals_survive()
    n = 4
    hamiltonian = models.RandomFieldXXZ(n=n, W=2.0, seed=1).hamiltonian()
    state = probe_state(n, 1, background="z-random", rng=np.random.default_rng(2))
    QsimBackend(threads=1).run(
        hamiltonian,
        build_fid(),
        state,
        np.array([0.5]),
        observables={"sx": SparsePauliOp.from_sparse_list([("X", [1], 1.0)], n)},
    )
    assert _subnormals_survive()


def test_default_engine_benchmark_times_the_same_circuit_as_raw_qsim() -> None:
    from echo_lab.bench.peers import bench_default_engine

    assert _subnormals_survive()
    record = bench_default_engine(sizes=(8,), repeats=1, steps=(2, 6))
    # raw qsim ran with denormals_are_zeros, in a thread of its own: this thread is still IEEE
    assert _subnormals_survive()
    (size,) = record["sizes"]
    assert size["backend_chosen"] == "qsim"
    # the echo through the backend and qsim's own run of the one-circuit echo: the same state
    assert size["max_abs_difference_sx"] < SINGLE_PRECISION
    steps = {name: v["seconds_per_step"]["min"] for name, v in size["variants"].items()}
    assert size["default_over_raw"]["value"] == pytest.approx(steps["default"] / steps["raw_qsim"])
