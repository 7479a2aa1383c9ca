"""Krylov, trotter-exact, Aer (statevector / MPS / density matrix / shots) and estimator backends.

Each test compares two independent computations (exact eigenbasis vs Krylov, diagonalized Trotter
step vs Aer applying the gates, statevector vs MPS) or checks an analytic result.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator

from echo_lab.backends import get_backend
from echo_lab.backends.aer import AerBackend
from echo_lab.backends.estimator import EstimatorBackend
from echo_lab.backends.exact import ExactBackend
from echo_lab.backends.krylov import KrylovBackend
from echo_lab.backends.noise import NoiseSpec
from echo_lab.backends.trotter_exact import TrotterExactBackend
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import models
from echo_lab.physics.states import ProductState, probe_state

X = np.array([[0, 1], [1, 0]], dtype=complex)
FID = PulseSequence([Free(1.0)], name="fid")


def hahn(probe: int) -> PulseSequence:
    return PulseSequence([Free(0.5), Pulse(X, (probe,), "X"), Free(0.5)], name="hahn")


def sigma(axis: str, site: int, n: int) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list([(axis, [site], 1.0)], n)


def setup(n: int = 6, probe: int = 2, seed: int = 5) -> tuple[SparsePauliOp, ProductState]:
    h = models.RandomFieldXXZ(n=n, W=4.0, Jz=0.8, seed=seed).hamiltonian()
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(seed))
    return h, state


def assert_results_close(a: dict, b: dict, keys: list[str], atol: float) -> None:
    for key in keys:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("sequence", [FID, hahn(2)], ids=["fid", "hahn"])
def test_krylov_equals_exact(sequence: PulseSequence) -> None:
    h, state = setup()
    obs = {"sx": sigma("X", 2, 6), "sy_dense": sigma("Y", 2, 6).to_matrix()}
    times = np.array([2.5, 0.0, 0.7, 6.0])  # unsorted on purpose: Krylov steps in sorted order
    ref = ExactBackend().run(h, sequence, state, times, observables=obs, entropy=True)
    got = KrylovBackend().run(h, sequence, state, times, observables=obs, entropy=True)
    assert_results_close(got, ref, ["sx", "sy_dense", "entropy"], 1e-9)


@pytest.mark.parametrize("sequence", [FID, hahn(2)], ids=["fid", "hahn"])
def test_trotter_exact_equals_aer_statevector_up_to_ten_thousand_steps(
    sequence: PulseSequence,
) -> None:
    n, dt = 5, 0.05
    h, state = setup(n=n)
    times = np.array([0.0, 1.3, 500.0])  # 500 / 0.05 = 10^4 Trotter steps
    obs = {"sx": sigma("X", 2, n), "zz": SparsePauliOp.from_sparse_list([("ZZ", [1, 2], 1.0)], n)}
    ref = TrotterExactBackend(dt=dt).run(h, sequence, state, times, observables=obs, entropy=True)
    got = AerBackend(dt=dt).run(h, sequence, state, times, observables=obs, entropy=True)
    assert_results_close(got, ref, ["sx", "zz", "entropy"], 1e-10)


OFF_GRID = np.array([0.0, 0.5, 0.73, 1.0, 1.25, 2.45])  # with dt = 0.1: 0.5, 0.73, 1.25, 2.45 off


@pytest.mark.parametrize(
    "name", ["trotter-exact", "aer", "aer-mps", "aer-dm", "estimator"], ids=str
)
def test_every_segment_is_simulated_for_its_own_time(name: str) -> None:
    # Two free spins in fields (J = Jz = 0): the circuits are exact for any step, so <X_0> tells
    # the simulated time: cos(2 h T) in FID, cos(2 h (1 - 2 f) T) for [Free(f), X, Free(1 - f)].
    # The old rule (round(f T / dt) steps of dt) gave T = 1.25 -> 1.2 and, at T = 0.5, halves
    # 0.125 / 0.375 -> 0.1 / 0.4.
    h0 = 0.9
    h = SparsePauliOp.from_sparse_list([("Z", [0], h0), ("Z", [1], -0.4)], 2)
    state = probe_state(2, 0, background="x")
    methods = {"aer-mps": "matrix_product_state", "aer-dm": "density_matrix"}
    if name in methods:
        backend = get_backend("aer", dt=0.1, method=methods[name])
    else:
        backend = get_backend(name, dt=0.1)
    obs = {"sx": sigma("X", 0, 2)}
    fid = backend.run(h, FID, state, OFF_GRID, observables=obs)
    np.testing.assert_allclose(fid["sx"], np.cos(2 * h0 * OFF_GRID), rtol=0, atol=1e-12)
    uneven = PulseSequence([Free(0.25), Pulse(X, (0,), "X"), Free(0.75)], name="uneven")
    echo = backend.run(h, uneven, state, OFF_GRID, observables=obs)
    np.testing.assert_allclose(echo["sx"], np.cos(h0 * OFF_GRID), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sequence", [FID, hahn(2)], ids=["fid", "hahn"])
def test_off_grid_times_equal_exact_evolution_to_the_trotter_error(
    sequence: PulseSequence,
) -> None:
    # T = 0.5 with dt = 0.1: each Hahn half is 3 steps of 0.0833 (was 2 steps of 0.1, an error
    # of 0.12 in <X_p> against exact, now 1.3e-3; T = 2.45 in FID: 0.064, now 2.9e-3); what is
    # left is the Trotter error (1.4e-2 at T = 1, on the grid), which falls as the step squared.
    h, state = setup(n=6)
    times = OFF_GRID[1:]
    obs = {"sx": sigma("X", 2, 6)}
    exact = ExactBackend().run(h, sequence, state, times, observables=obs)["sx"]
    coarse = TrotterExactBackend(dt=0.1).run(h, sequence, state, times, observables=obs)["sx"]
    fine = TrotterExactBackend(dt=0.025).run(h, sequence, state, times, observables=obs)["sx"]
    assert np.all(np.abs(coarse - exact) < 2e-2)
    assert np.all(np.abs(fine - exact) < np.abs(coarse - exact) / 8)


@pytest.mark.parametrize("sequence", [FID, hahn(2)], ids=["fid", "hahn"])
def test_aer_equals_trotter_exact_on_and_off_the_grid_of_dt(sequence: PulseSequence) -> None:
    # FID: the times on the grid share one circuit with saves, each off-grid time has its own
    n, dt = 5, 0.1
    h, state = setup(n=n)
    times = np.array([1.25, 0.0, 0.5, 0.73, 1.0, 0.3, 2.45])
    obs = {"sx": sigma("X", 2, n)}
    ref = TrotterExactBackend(dt=dt).run(h, sequence, state, times, observables=obs, entropy=True)
    got = AerBackend(dt=dt).run(h, sequence, state, times, observables=obs, entropy=True)
    assert_results_close(got, ref, ["sx", "entropy"], 1e-10)


def test_a_free_segment_of_length_zero_gets_no_step() -> None:
    n, dt = 4, 0.1
    h, state = setup(n=n, probe=1)
    y = np.array([[0, -1j], [1j, 0]])
    pairs = [
        (
            PulseSequence([Free(0.0), Pulse(X, (1,), "X"), Free(1.0)]),
            PulseSequence([Pulse(X, (1,), "X"), Free(1.0)]),
        ),
        (
            PulseSequence(
                [Free(0.5), Pulse(X, (1,), "X"), Free(0.0), Pulse(y, (2,), "Y"), Free(0.5)]
            ),
            PulseSequence([Free(0.5), Pulse(X, (1,), "X"), Pulse(y, (2,), "Y"), Free(0.5)]),
        ),
    ]
    times = np.array([0.0, 0.73, 1.0])
    obs = {"sx": sigma("X", 1, n), "sz": sigma("Z", 2, n)}
    for with_zero, without in pairs:
        for backend in (TrotterExactBackend(dt=dt), AerBackend(dt=dt)):
            got = backend.run(h, with_zero, state, times, observables=obs)
            ref = backend.run(h, without, state, times, observables=obs)
            assert_results_close(got, ref, ["sx", "sz"], 1e-10)


def test_trotter_exact_matches_the_circuit_unitary_without_symmetry() -> None:
    # a transverse field breaks the sigma^z sectors: one dense block, still exact
    n, dt = 4, 0.1
    h = models.RandomFieldXXZ(n=n, W=2.0, Jz=0.5, g=0.6, seed=2).hamiltonian()
    state = probe_state(n, 1, background="x")
    times = np.array([0.3, 4.0])
    got = TrotterExactBackend(dt=dt).run(
        h, hahn(1), state, times, observables={"sx": sigma("X", 1, n)}
    )
    for k, total in enumerate(times):
        qc = trotter.sequence_circuit(h, hahn(1), total, dt=dt, order=2, initial_state=state)
        psi = Statevector(qc)
        assert got["sx"][k] == pytest.approx(
            psi.expectation_value(sigma("X", 1, n)).real, abs=1e-12
        )


def test_mps_and_density_matrix_equal_statevector() -> None:
    h, state = setup()
    times = np.array([0.5, 2.0, 3.0])
    obs = {"sx": sigma("X", 2, 6), "sz_dense": sigma("Z", 3, 6).to_matrix()}
    ref = AerBackend().run(h, hahn(2), state, times, observables=obs, entropy=True)
    mps = AerBackend(method="matrix_product_state").run(
        h, hahn(2), state, times, observables=obs, entropy=True
    )
    assert_results_close(mps, ref, ["sx", "sz_dense", "entropy"], 1e-8)
    assert np.max(ref["entropy"]) > 0.1  # the comparison is not between zeros
    dm = AerBackend(method="density_matrix").run(h, FID, state, times, observables=obs)
    fid = AerBackend().run(h, FID, state, times, observables=obs)
    assert_results_close(dm, fid, ["sx", "sz_dense"], 1e-10)


def test_truncated_mps_is_close_but_not_exact() -> None:
    n = 8
    h, state = setup(n=n, probe=4)
    times = np.array([4.0])
    obs = {"sx": sigma("X", 4, n)}
    ref = AerBackend().run(h, FID, state, times, observables=obs, entropy=True)
    small = AerBackend(method="matrix_product_state", mps_options={"max_bond_dimension": 2}).run(
        h, FID, state, times, observables=obs, entropy=True
    )
    # a bond dimension of 2 caps the half-chain entropy at ln 2
    assert small["entropy"][0] <= np.log(2) + 1e-12 < ref["entropy"][0]


def test_trotter_error_bounds_exact_difference_and_shrinks_as_dt_squared() -> None:
    h, state = setup()
    times = np.array([1.0, 2.0, 4.0])
    obs = {"sx": sigma("X", 2, 6)}
    exact = ExactBackend().run(h, hahn(2), state, times, observables=obs)["sx"]
    errors = []
    for dt in (0.1, 0.05, 0.025):
        value = TrotterExactBackend(dt=dt, order=2).run(h, hahn(2), state, times, observables=obs)
        errors.append(np.max(np.abs(value["sx"] - exact)))
    assert errors[0] > 1e-4  # the test sees a real Trotter error
    assert 3.0 < errors[0] / errors[1] < 5.0 and 3.0 < errors[1] / errors[2] < 5.0


def test_memory_refusal_without_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "16G")
    big = models.RandomFieldXXZ(n=40, W=1.0, seed=0).hamiltonian()
    with pytest.raises(ResourceError, match=r"16\.0 TiB"):
        AerBackend().run(
            big,
            FID,
            probe_state(40, 0, background="x"),
            np.array([1.0]),
            observables={"sx": sigma("X", 0, 40)},
        )
    dm = models.RandomFieldXXZ(n=16, W=1.0, seed=0).hamiltonian()
    with pytest.raises(ResourceError, match=r"64\.0 GiB"):
        AerBackend(method="density_matrix").run(
            dm, FID, probe_state(16, 0, background="x"), np.array([1.0]), observables={}
        )


def test_gpu_request_resolves_or_explains() -> None:
    if "GPU" in AerSimulator().available_devices():
        assert AerBackend(device="GPU").device == "GPU"
    else:
        with pytest.raises(ConfigError, match=r"pip uninstall -y qiskit-aer"):
            AerBackend(device="GPU")
        assert AerBackend(device="auto").device == "CPU"
    with pytest.raises(ConfigError, match="no GPU implementation"):
        AerBackend(method="matrix_product_state", device="GPU")


@pytest.mark.gpu
def test_gpu_statevector_equals_cpu() -> None:
    if "GPU" not in AerSimulator().available_devices():
        pytest.skip("needs qiskit-aer-gpu and a CUDA device")
    h, state = setup(n=10, probe=5)
    times = np.array([0.5, 2.0])
    obs = {"sx": sigma("X", 5, 10)}
    cpu = AerBackend(device="CPU").run(h, hahn(5), state, times, observables=obs, entropy=True)
    gpu = AerBackend(device="GPU").run(h, hahn(5), state, times, observables=obs, entropy=True)
    assert_results_close(gpu, cpu, ["sx", "entropy"], 1e-10)


def test_shots_estimates_have_binomial_standard_errors() -> None:
    h, state = setup(n=4, probe=1)
    times = np.array([0.5, 1.5])
    obs = {
        "sx": sigma("X", 1, 4),
        "mix": SparsePauliOp.from_sparse_list(
            [("X", [1], 0.5), ("ZZ", [0, 2], 1.0), ("Y", [3], -0.3)], 4
        ),
    }
    exact = AerBackend().run(h, hahn(1), state, times, observables=obs)
    shots = 4000
    sampled = AerBackend(shots=shots, seed_simulator=7).run(
        h, hahn(1), state, times, observables=obs
    )
    for key in obs:
        assert np.all(np.abs(sampled[key] - exact[key]) < 5 * sampled[key + "_stderr"] + 1e-12)
    binomial = np.sqrt((1 - exact["sx"] ** 2) / shots)
    np.testing.assert_allclose(sampled["sx_stderr"], binomial, rtol=0.1)


def test_estimator_equals_aer_statevector() -> None:
    h, state = setup(n=5)
    times = np.array([0.0, 0.8, 0.73, 2.4])
    obs = {"sx": sigma("X", 2, 5), "sy_dense": sigma("Y", 2, 5).to_matrix()}
    ref = AerBackend().run(h, hahn(2), state, times, observables=obs)
    got = EstimatorBackend().run(h, hahn(2), state, times, observables=obs)
    assert_results_close(got, ref, ["sx", "sy_dense"], 1e-10)
    assert np.all(got["sx_stderr"] == 0)


@pytest.mark.parametrize("sequence", [FID, hahn(1)], ids=["fid", "hahn"])
def test_run_realizations_equals_separate_circuits(sequence: PulseSequence) -> None:
    n, dt = 4, 0.1
    model = models.RandomFieldXXZ(n=n, W=3.0, Jz=0.6, seed=1)
    rng = np.random.default_rng(4)
    fields = rng.uniform(-3, 3, size=(3, n))
    states = [probe_state(n, 1, background="random-bloch", rng=rng) for _ in range(3)]
    times = np.array([0.0, 0.7, 0.73, 2.0])  # 0.73 (and 0.35 in the echo) are off the grid of dt
    obs = {"sx": sigma("X", 1, n)}
    results = AerBackend(dt=dt).run_realizations(
        model, sequence, states, times, fields_list=fields, observables=obs
    )
    for r in range(3):
        h = models.RandomFieldXXZ(n=n, J=1.0, Jz=0.6, fields=fields[r]).hamiltonian()
        for k, total in enumerate(times):
            qc = states[r].circuit()
            steps = iter(trotter.segment_steps(sequence, total, dt=dt))
            for segment in sequence.segments:
                if isinstance(segment, Free):
                    m = next(steps)
                    if m.steps:
                        qc.compose(
                            trotter.circuit(
                                h, time=m.time, steps=m.steps, order=2, fold_fields=False
                            ),
                            inplace=True,
                        )
                else:
                    qc.append(trotter.pulse_instruction(segment), list(segment.qubits))
            expected = Statevector(qc).expectation_value(obs["sx"]).real
            assert results[r]["sx"][k] == pytest.approx(expected, abs=1e-10)


def test_static_dephasing_is_refocused_by_an_echo_but_not_in_fid() -> None:
    n, probe, field, sigma_delta = 2, 0, 0.7, 0.4
    h = SparsePauliOp.from_sparse_list([("Z", [probe], field)], n)
    state = probe_state(n, probe, background="x")
    noise = NoiseSpec(static_dephasing_sigma=sigma_delta, static_dephasing_qubits=(probe,))
    backend = AerBackend(noise=noise, dt=0.05)
    times = np.array([0.5, 0.73, 1.0, 2.0])  # 0.73: steps of 0.73 / 15, the detuning too
    obs = {"sx": sigma("X", probe, n)}
    echo = backend.run(h, hahn(probe), state, times, observables=obs)
    np.testing.assert_allclose(echo["sx"], 1.0, atol=1e-10)
    fid = backend.run(h, FID, state, times, observables=obs)
    analytic = np.cos(2 * field * times) * np.exp(-2 * sigma_delta**2 * times**2)
    np.testing.assert_allclose(fid["sx"], analytic, atol=1e-8)


@pytest.mark.parametrize(("t1", "t2"), [(2.0, np.inf), (10.0, 1.5)])
def test_relaxation_limits_the_echo_to_exp_minus_t_over_t2(t1: float, t2: float) -> None:
    n, probe = 1, 0
    h = SparsePauliOp("Z", coeffs=[0.0])
    state = probe_state(n, probe, background="x")
    backend = AerBackend(method="density_matrix", noise=NoiseSpec(t1=t1, t2=t2), dt=0.05)
    # off the grid of dt (0.37, 1.13) each step relaxes over its own length: exp(-T / T2) exactly
    times = np.array([0.4, 0.37, 1.0, 1.13, 3.0])
    obs = {"sx": sigma("X", probe, n)}
    echo = backend.run(h, hahn(probe), state, times, observables=obs)
    effective_t2 = min(t2, 2 * t1)
    np.testing.assert_allclose(echo["sx"], np.exp(-times / effective_t2), atol=1e-10)


def test_depolarizing_gate_errors_scale_the_signal() -> None:
    n, p1, p2 = 2, 0.01, 0.03
    h = models.RandomFieldXXZ(n=n, fields=[0.4, -0.9], Jz=0.5).hamiltonian()
    # qubit 0 in |+> (one ry gate), qubit 1 in |0> (no gate); H is one bond block, so each noisy
    # Trotter step is one two-qubit gate: <X_0> shrinks by (1 - 4 p1 / 3)(1 - 16 p2 / 15)^k
    state = ProductState(np.array([[np.pi / 2, 0.0], [0.0, 0.0]]))
    times = np.array([0.5, 1.5])
    obs = {"sx": sigma("X", 0, n)}
    noise = NoiseSpec(depolarizing_1q=p1, depolarizing_2q=p2)
    noisy = AerBackend(method="density_matrix", noise=noise).run(
        h, FID, state, times, observables=obs
    )
    ideal = ExactBackend().run(h, FID, state, times, observables=obs)
    steps = np.round(times / 0.05)
    factor = (1 - 4 * p1 / 3) * (1 - 16 * p2 / 15) ** steps
    np.testing.assert_allclose(noisy["sx"], factor * ideal["sx"], atol=1e-12)


def test_hardware_noise_density_matrix_agrees_with_trajectories() -> None:
    n = 3
    h = models.RandomFieldXXZ(n=n, W=2.0, Jz=0.5, seed=1).hamiltonian()
    state = probe_state(n, 1, background="x")
    times = np.array([0.5, 1.0])
    obs = {"sx": sigma("X", 1, n)}
    spec = NoiseSpec(backend=GenericBackendV2(num_qubits=n, seed=3))
    ideal = AerBackend().run(h, hahn(1), state, times, observables=obs)
    dm = AerBackend(method="density_matrix", noise=spec).run(
        h, hahn(1), state, times, observables=obs
    )
    sampled = AerBackend(shots=4000, noise=spec, seed_simulator=1).run(
        h, hahn(1), state, times, observables=obs
    )
    assert np.all(np.abs(sampled["sx"] - dm["sx"]) < 5 * sampled["sx_stderr"])
    # the hardware noise is visible: far more than the sampling error of the comparison above
    assert np.all(np.abs(ideal["sx"] - dm["sx"]) > 0.05)
    assert np.all(sampled["sx_stderr"] < 0.02)


def test_invalid_requests_raise_config_errors() -> None:
    h, state = setup(n=3, probe=1)
    with pytest.raises(ConfigError, match="unknown Aer method"):
        AerBackend(method="stabilizer")
    with pytest.raises(ConfigError, match="density_matrix"):
        AerBackend(noise=NoiseSpec(depolarizing_1q=0.01))
    with pytest.raises(ConfigError, match="t2"):
        NoiseSpec(t1=1.0, t2=3.0)
    with pytest.raises(ConfigError, match="shots=None"):
        AerBackend(shots=10).run(h, FID, state, np.array([1.0]), observables={}, entropy=True)
    with pytest.raises(ConfigError, match="shape"):
        AerBackend().run(h, FID, state, np.array([1.0]), observables={"bad": np.eye(4)})
    with pytest.raises(ConfigError, match="n <= 12"):
        TrotterExactBackend().run(
            models.RandomFieldXXZ(n=13, W=1.0, seed=0).hamiltonian(),
            FID,
            probe_state(13, 0, background="x"),
            np.array([1.0]),
            observables={},
        )


def test_registry_builds_every_backend() -> None:
    assert isinstance(get_backend("krylov"), KrylovBackend)
    assert get_backend("trotter-exact", dt=0.1, order=4).order == 4
    assert get_backend("aer", method="density_matrix").method == "density_matrix"
    assert isinstance(get_backend("estimator", dt=0.1), EstimatorBackend)


def test_krylov_is_deterministic_and_leaves_the_global_random_state_alone() -> None:
    """The propagator draws no random numbers: results must not depend on np.random's state."""
    from echo_lab.backends.krylov import evolve

    h = models.RandomFieldXXZ(n=8, W=4.0, seed=5).hamiltonian()
    matrix = h.to_matrix(sparse=True).tocsr()
    psi = np.ones(2**8, dtype=complex) / 16
    results = []
    for seed in (1, 2):
        np.random.seed(seed)  # noqa: NPY002 - the legacy state scipy reads
        before = np.random.get_state()[1].copy()  # noqa: NPY002
        results.append(evolve(matrix, psi, 3.7))
        assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert np.array_equal(results[0], results[1])
