"""Device path (echo_lab.hardware): devices, lines, noise scaling, ISA circuits, pulse costs,
normalization, shot budgets and the DeviceBackend on small chains."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip(
    "qiskit_ibm_runtime", reason="the [hardware] extra (qiskit-ibm-runtime) is not installed"
)

from qiskit import QuantumCircuit
from qiskit.circuit.library import CZGate
from qiskit.quantum_info import (
    Kraus,
    Operator,
    SparsePauliOp,
    Statevector,
    SuperOp,
    average_gate_fidelity,
)
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, QuantumError

from echo_lab import lbits
from echo_lab.backends.trotter_exact import TrotterExactBackend
from echo_lab.dynamics import trotter
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.hardware import budget, circuits, devices, mitigation
from echo_lab.hardware.backend import DeviceBackend
from echo_lab.physics import models, states
from echo_lab.protocols import observables
from echo_lab.protocols import sequences as protocols


@pytest.fixture(scope="module")
def fez() -> devices.Device:
    return devices.load_device("fez")


@pytest.fixture(scope="module")
def fez_fractional() -> devices.Device:
    return devices.load_device("fez", fractional_gates=True)


X = np.array([[0, 1], [1, 0]], dtype=complex)


def _chain(n: int, *, seed: int = 3, W: float = 8.0) -> tuple[SparsePauliOp, models.RandomFieldXXZ]:
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed)
    return model.hamiltonian(), model


# --- devices -------------------------------------------------------------------------------


def test_fake_device_short_names_map_to_classes() -> None:
    names = devices.fake_device_names()
    assert names["fez"] == "FakeFez"
    assert names["sherbrooke"] == "FakeSherbrooke"
    assert names["manila"] == "FakeManilaV2"
    assert "providerforbackend" not in names


def test_unknown_device_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown device 'nowhere'.*fez"):
        devices.load_device("nowhere")


def test_fractional_gates_only_where_the_snapshot_has_them(fez_fractional) -> None:
    assert {"rx", "rzz"} <= set(fez_fractional.target.operation_names)
    assert "rzz" not in devices.load_device("fez").target.operation_names
    with pytest.raises(ConfigError, match="no fractional gates"):
        devices.load_device("sherbrooke", fractional_gates=True)


def test_chosen_line_is_the_cheapest_of_all_lines() -> None:
    # Independent brute force over every ordered 4-tuple of a 7-qubit device.
    device = devices.load_device("nairobi")
    line = devices.choose_line(device, 4)
    costs = []
    for candidate in itertools.permutations(range(device.num_qubits), 4):
        try:
            devices.check_line(device, candidate)
        except ConfigError:
            continue
        costs.append(devices.line_cost(device, candidate))
    assert devices.line_cost(device, line) == pytest.approx(min(costs), rel=1e-12)


def test_chosen_line_on_fez_is_coupled_and_avoids_broken_couplers(fez) -> None:
    line = devices.choose_line(fez, 8)
    assert len(set(line)) == 8
    for a, b in itertools.pairwise(line):
        assert fez.two_qubit_error(a, b) < 0.02
    with pytest.raises(ConfigError, match="not coupled"):
        devices.check_line(fez, (0, 2))


def _simulated_cz(model: NoiseModel) -> SuperOp:
    """The channel a noise model makes of one CZ on line qubits (0, 1), as Aer simulates it."""
    qc = QuantumCircuit(2)
    qc.cz(0, 1)
    qc.save_superop()
    result = AerSimulator(method="superop", noise_model=model).run(qc).result()
    return SuperOp(result.data()["superop"])


def _readout_ones(
    line: devices.DeviceLine, prepared: QuantumCircuit, *, shots: int, pauli_noise: bool = False
) -> np.ndarray:
    """How often each qubit of ``prepared`` reads 1 on the line's noisy simulator."""
    qc = prepared.copy()
    qc.measure_all()
    simulator = line.simulator(method="density_matrix", seed=5, pauli_noise=pauli_noise)
    counts = simulator.run(qc, shots=shots).result()
    ones = np.zeros(qc.num_qubits)
    for bits, count in counts.get_counts().items():
        ones += count * np.array([int(b) for b in bits[::-1]])
    return ones / shots


def test_two_qubit_error_scale_scales_the_simulated_gate_error(fez) -> None:
    line = devices.choose_line(fez, 3)
    reported = fez.two_qubit_error(line[0], line[1])
    cz = Operator(CZGate())
    for scale in (0.1, 1.0, 2.0):
        reduced = devices.reduce_device(fez, line, two_qubit_error_scale=scale)
        noisy = _simulated_cz(reduced.noise_model())
        infidelity = 1 - average_gate_fidelity(noisy, target=cz)
        assert infidelity == pytest.approx(scale * reported, rel=0.02)
    with pytest.raises(ConfigError, match="two_qubit_error_scale"):
        devices.reduce_device(fez, line, two_qubit_error_scale=0.0)


def test_generic_device_carries_the_given_rates() -> None:
    generic = devices.GenericDevice(num_qubits=4, two_qubit_error=0.01, readout_error=0.02)
    device = devices.load_device(generic)
    assert devices.choose_line(device, 4) == (0, 1, 2, 3)
    line = devices.reduce_device(device, (0, 1, 2, 3))
    assert line.target["cz"][(1, 2)].error == pytest.approx(0.01)
    # what the noisy simulator reads: |0> as 1 and |1> as 0 about 2 % of the time each
    flipped = QuantumCircuit(4)
    flipped.x(1)
    ones = _readout_ones(line, flipped, shots=40_000)  # standard error 7e-4
    np.testing.assert_allclose(ones, [0.02, 0.98, 0.02, 0.02], atol=0.004)
    cz = 1 - average_gate_fidelity(_simulated_cz(line.noise_model()), target=Operator(CZGate()))
    assert cz == pytest.approx(0.01, rel=0.02)
    with pytest.raises(ConfigError, match="t2"):
        devices.GenericDevice(num_qubits=2, t1=1e-4, t2=3e-4)


# --- circuits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fractional"), [("fez", False), ("fez", True), ("sherbrooke", False)]
)
@pytest.mark.parametrize("pulse", ["pbit", "lbit:1"])
def test_isa_circuit_is_native_and_equals_the_ideal_one(name, fractional, pulse) -> None:
    n, p = 4, 1
    H, _ = _chain(n)
    system = lbits.construct(H, method="overlap")
    sequence = protocols.build_sequence("hahn", n=n, probe=p, pulse=pulse, source=system)
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(0))
    device = devices.load_device(name, fractional_gates=fractional)
    line = devices.reduce_device(device, devices.choose_line(device, n))
    logical = circuits.echo_circuit(H, sequence, 2.0, dt=0.25, initial_state=state)
    isa = circuits.isa_pass_manager(line).run(logical)
    circuits.check_isa(isa, line)
    native = set(line.target.operation_names) | {"barrier"}
    assert set(isa.count_ops()) <= native
    for instruction in isa.data:
        if instruction.operation.name == "rzz":
            assert 0.0 <= float(instruction.operation.params[0]) <= math.pi / 2 + 1e-12
    assert Operator.from_circuit(isa).equiv(Operator(logical))
    gates = isa.count_ops()
    if fractional:
        assert gates.get("rzz", 0) > 0
    assert circuits.report_circuit(isa, line).two_qubit_gates > 0


def test_dense_pulse_above_the_budget_is_refused_with_its_cost(fez) -> None:
    n, p = 5, 2
    H, _ = _chain(n)
    system = lbits.construct(H, method="overlap")
    line = devices.reduce_device(fez, devices.choose_line(fez, n))
    wide = protocols.build_sequence("hahn", n=n, probe=p, pulse="lbit:2", source=system)
    with pytest.raises(ConfigError, match=r"5 qubits, about 444 two-qubit gates.*pulse_budget"):
        circuits.check_pulse_costs(wide, line)
    narrow = protocols.build_sequence("hahn", n=n, probe=p, pulse="lbit:1", source=system)
    (count,) = circuits.check_pulse_costs(narrow, line).values()
    assert 3 <= count <= circuits.DEFAULT_PULSE_BUDGET
    with pytest.raises(ConfigError, match=f"synthesized into {count}.*at least {count}"):
        circuits.check_pulse_costs(narrow, line, pulse_budget=count - 1)


def test_shannon_bound_known_values() -> None:
    assert [circuits.shannon_bound(k) for k in (1, 2, 3, 4)] == [0, 3, 20, 100]


def test_a_pulse_with_a_circuit_is_played_as_that_circuit(fez) -> None:
    # A circuit l-bit pulse: the circuit is used (not a dense block) and never refused, however
    # wide; its unitary matches its matrix.
    n, p = 5, 2
    block = QuantumCircuit(5)
    block.cz(0, 1)
    block.x(2)
    block.cz(3, 4)
    pulse = pbit_pulse(p)
    wide = type(pulse)(Operator(block).data, tuple(range(5)), label="circuit_tau", kind="circuit")
    object.__setattr__(wide, "circuit", block)
    sequence = protocols.build_hahn(wide)
    line = devices.reduce_device(fez, devices.choose_line(fez, n))
    assert circuits.check_pulse_costs(sequence, line, pulse_budget=0) == {"circuit_tau": 2}
    H, _ = _chain(n)
    logical = circuits.echo_circuit(H, sequence, 1.0, dt=0.25)
    assert "circuit_tau" in {ins.operation.label for ins in logical.data}


def test_echo_circuit_off_the_grid_of_dt_simulates_the_true_times() -> None:
    # T = 0.7, dt = 0.25: each Hahn half (0.35) is 2 steps of 0.175, as in the simulators' circuits
    n, p = 4, 1
    H, _ = _chain(n)
    sequence = protocols.build_hahn(pbit_pulse(p))
    logical = circuits.echo_circuit(H, sequence, 0.7, dt=0.25)
    labels = [i.operation.label for i in logical.data if i.operation.name == "barrier"]
    assert labels == ["free 2x0.175", "X_1", "free 2x0.175"]
    simulated = trotter.sequence_circuit(H, sequence, 0.7, dt=0.25)
    assert Operator(logical).equiv(Operator(simulated))
    # a lone spin in a field: the echo [Free(1/4), X, Free(3/4)] rotates by 2 h (T / 2) exactly
    field = SparsePauliOp.from_sparse_list([("Z", [0], 0.9)], 1)
    uneven = PulseSequence([Free(0.25), Pulse(X, (0,), "X"), Free(0.75)])
    plus = states.probe_state(1, 0, background="x")
    qc = circuits.echo_circuit(field, uneven, 0.7, dt=0.25, initial_state=plus)
    value = Statevector(qc).expectation_value(SparsePauliOp("X")).real
    assert value == pytest.approx(np.cos(0.9 * 0.7), abs=1e-12)


def test_reference_circuit_returns_the_pulsed_initial_state() -> None:
    n, p = 5, 2
    H, _ = _chain(n, W=4.0)
    system = lbits.construct(H, method="overlap")
    sequence = protocols.build_sequence("hahn", n=n, probe=p, pulse="lbit:1", source=system)
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(4))
    ops = [observables.probe_observables(n, p)[k] for k in ("sx", "sy")]
    qc = circuits.reference_circuit(H, sequence, 3.0, dt=0.25, initial_state=state)
    final = Statevector(qc)
    expected = circuits.reference_values(sequence, state, ops)
    measured = [final.expectation_value(op).real for op in ops]
    assert np.allclose(measured, expected, atol=1e-10)
    assert abs(expected[0]) < 0.999  # an l-bit pulse does not leave sigma^x_p at 1


@pytest.mark.parametrize("total_time", [2.0, 0.7])  # 0.7: halves of 2 steps of 0.175
def test_isa_reference_keeps_all_its_gates(fez, total_time: float) -> None:
    # The transpiler must not cancel the forward steps against their inverse.
    n, p = 4, 1
    H, _ = _chain(n)
    sequence = protocols.build_hahn(pbit_pulse(p))
    line = devices.reduce_device(fez, devices.choose_line(fez, n))
    manager = circuits.isa_pass_manager(line)
    echo = manager.run(circuits.echo_circuit(H, sequence, total_time, dt=0.25))
    reference = manager.run(circuits.reference_circuit(H, sequence, total_time, dt=0.25))
    count = circuits.report_circuit(echo, line).two_qubit_gates
    assert circuits.report_circuit(reference, line).two_qubit_gates == count


def test_success_probability_is_the_product_over_gates_and_readouts(fez) -> None:
    line = devices.reduce_device(fez, devices.choose_line(fez, 2))
    qc = QuantumCircuit(2)
    qc.sx(0)
    qc.cz(0, 1)
    report = circuits.report_circuit(qc, line)
    t = line.target
    expected = (1 - t["sx"][(0,)].error) * (1 - t["cz"][(0, 1)].error)
    expected *= (1 - t["measure"][(0,)].error) * (1 - t["measure"][(1,)].error)
    assert report.success_probability == pytest.approx(expected, rel=1e-12)
    assert report.layout == line.layout
    assert report.two_qubit_gates == 1


# --- mitigation and budgets ------------------------------------------------------------------


def test_normalize_echo_divides_by_the_noise_decay() -> None:
    values, stderr = mitigation.normalize_echo(
        np.array([0.4, 0.3]), 0.01, np.array([0.8, 0.01]), np.array([0.02, 0.02]), 1.0
    )
    assert values[0] == pytest.approx(0.5)
    assert stderr[0] == pytest.approx(1.25 * math.hypot(0.01, 0.4 * 0.02 / 0.8))
    assert np.isnan(values[1]) and np.isnan(stderr[1])  # reference lost in its noise


def test_mitigation_spec_checks_its_settings() -> None:
    spec = mitigation.MitigationSpec.from_names(["zne", "normalize"])
    assert spec.names == ("zne", "normalize") and spec.uses_estimator_mitigation
    with pytest.raises(ConfigError, match="unknown mitigation"):
        mitigation.MitigationSpec.from_names(["pec"])
    with pytest.raises(ConfigError, match="noise_factors"):
        mitigation.MitigationSpec(zne=True, noise_factors=(3.0, 5.0))
    options = mitigation.estimator_options(
        mitigation.MitigationSpec(twirling=True), shots=1000, fractional_gates=True, seed=1
    )
    assert options["twirling"]["group"] == "local_pauli"
    assert options["twirling"]["shots_per_randomization"] * 16 >= 1000


def test_shots_for_difference_reaches_three_sigma() -> None:
    shots = budget.shots_for_difference(0.6, 0.02, 0.5, 0.03, shots=500)
    per_shot = (0.02**2 + 0.03**2) * 500
    assert 0.1 / math.sqrt(per_shot / shots) >= 3.0
    assert 0.1 / math.sqrt(per_shot / (shots - 1)) < 3.0
    assert np.isinf(budget.shots_for_difference(0.5, 0.01, 0.5, 0.01, shots=100))


# --- the backend -------------------------------------------------------------------------------


def test_noiseless_generic_device_reproduces_the_trotter_circuit() -> None:
    n, p = 4, 1
    H, _ = _chain(n)
    ideal = devices.GenericDevice(
        num_qubits=n,
        single_qubit_error=0.0,
        two_qubit_error=0.0,
        readout_error=0.0,
        t1=1e6,
        t2=1e6,
    )
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(1))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    times = np.array([1.0, 2.0, 3.0])
    backend = DeviceBackend(ideal, dt=0.25, shots=20000, seed=7)
    out = backend.run(H, sequence, state, times, observables=ops)
    exact = TrotterExactBackend(dt=0.25, order=2).run(H, sequence, state, times, observables=ops)
    assert np.all(np.abs(out["sx"] - exact["sx"]) < 4 * out["sx_stderr"] + 1e-3)
    assert out["layout"].tolist() == [0, 1, 2, 3]
    assert np.all(out["success_probability"] == 1.0)


def test_normalized_echo_without_hamiltonian_is_one(fez) -> None:
    # H = 0: echo and reference are the same circuit, so echo / reference = 1 up to shot noise,
    # while the raw echo is visibly below 1 (readout error).
    n, p = 4, 1
    H = SparsePauliOp("I" * n, coeffs=[0.0])
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(2))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    backend = DeviceBackend("fez", dt=0.25, shots=20000, mitigation=("normalize",), seed=11)
    out = backend.run(H, sequence, state, np.array([1.0, 4.0]), observables=ops)
    assert np.all(np.abs(out["sx_normalized"] - 1.0) < 3 * out["sx_normalized_stderr"])
    assert np.all(1.0 - out["sx_raw"] > 3 * out["sx_raw_stderr"])


def test_normalization_undoes_the_noise_of_a_classical_chain() -> None:
    # Fields and ZZ only: the p-bit echo is exactly 1 for every T, and the reference has the
    # same gates, so dividing by it recovers 1 while the raw echo decays.
    n, p = 4, 1
    terms = [("ZZ", [q, q + 1], 1.0) for q in range(n - 1)]
    terms += [("Z", [q], h) for q, h in enumerate([3.0, -5.0, 2.0, 7.0])]
    H = SparsePauliOp.from_sparse_list(terms, n)
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(2))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    backend = DeviceBackend("fez", dt=0.25, shots=8000, mitigation=("normalize",), seed=3)
    out = backend.run(H, sequence, state, np.array([2.0, 4.0]), observables=ops)
    assert np.all(out["sx_raw"] < 0.93)
    assert np.all(np.abs(out["sx"] - 1.0) < 3 * out["sx_stderr"] + 0.01)


def test_device_backend_refuses_entropy_and_dense_tau_operators() -> None:
    n = 4
    H, _ = _chain(n)
    state = states.probe_state(n, 1, background="z-random", rng=np.random.default_rng(0))
    backend = DeviceBackend("fez", shots=10)
    sequence = protocols.build_hahn(pbit_pulse(1))
    ops = {"sx": observables.probe_observables(n, 1)["sx"]}
    with pytest.raises(ConfigError, match="entropy"):
        backend.run(H, sequence, state, np.array([1.0]), observables=ops, entropy=True)
    H5, _ = _chain(5, W=2.0)
    state5 = states.probe_state(5, 1, background="z-random", rng=np.random.default_rng(0))
    dense = {"tau": np.asarray(lbits.construct(H5, method="overlap").tau("x", 1))}
    with pytest.raises(ConfigError, match="256 Pauli terms"):
        backend.run(H5, sequence, state5, np.array([1.0]), observables=dense)


def test_executor_mitigation_really_runs_offline(fez) -> None:
    # Folding amplifies the noise (the value shrinks with the noise factor), and the linear
    # extrapolation lies beyond the factor-1 value: ZNE is applied, not ignored.
    n, p = 3, 1
    H, _ = _chain(n, W=2.0)
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(5))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    spec = mitigation.MitigationSpec(zne=True, extrapolators=("linear",))
    backend = DeviceBackend("fez", dt=0.25, shots=20000, mitigation=spec, seed=2)
    out = backend.run(H, sequence, state, np.array([3.0]), observables=ops)
    factors = out["sx_noise_factors"][0]
    assert abs(factors[0]) > abs(factors[2]) + 3 * out["sx_noise_factors_stderr"][0, 2]
    assert abs(out["sx_zne_linear"][0]) > abs(factors[0])
    assert out["noise_factors"].tolist() == [1.0, 3.0, 5.0]


def test_without_the_extra_everything_else_imports_and_the_device_path_names_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['qiskit_ibm_runtime'] = None\n"
        "from echo_lab.backends import get_backend\n"
        "from echo_lab.errors import ConfigError\n"
        "get_backend('aer')\n"
        "try:\n"
        "    import echo_lab.hardware.backend\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "echo_lab[cpu,hardware]" in result.stdout
    assert "qiskit-ibm-runtime" in result.stdout


def test_pauli_twirl_keeps_the_process_fidelity_and_is_a_pauli_channel(fez) -> None:
    from qiskit.quantum_info import Chi, process_fidelity

    line = devices.reduce_device(fez, devices.choose_line(fez, 2))
    undo = SuperOp(Operator(CZGate()).adjoint())
    # the error channel of the simulated CZ (the gate undone): not a Pauli channel
    original = _simulated_cz(line.noise_model()).compose(undo)
    fidelity = process_fidelity(original)
    chi = Chi(original).data
    assert not np.allclose(chi, np.diag(np.diag(chi)), atol=1e-12)
    twirled = devices.pauli_twirled(QuantumError(Kraus(original))).to_quantumchannel()
    assert process_fidelity(twirled) == pytest.approx(fidelity, abs=1e-8)
    chi = Chi(twirled).data
    assert np.allclose(chi, np.diag(np.diag(chi)), atol=1e-12)  # diagonal: a Pauli channel
    # the Pauli noise model simulates that twirled channel, with the same readout errors
    simulated = _simulated_cz(line.pauli_noise_model()).compose(undo)
    assert process_fidelity(simulated) == pytest.approx(fidelity, abs=1e-8)
    np.testing.assert_allclose(Chi(simulated).data, Chi(twirled).data, atol=1e-9)
    prepared = QuantumCircuit(2)
    prepared.x(0)
    plain = _readout_ones(line, prepared, shots=20_000)
    pauli = _readout_ones(line, prepared, shots=20_000, pauli_noise=True)
    np.testing.assert_allclose(pauli, plain, atol=0.005)  # standard error 1.4e-3 each
    # qubit 1 in |0> reads 1 at the line's readout error
    assert plain[1] == pytest.approx(line.target["measure"][(1,)].error, abs=0.004)
