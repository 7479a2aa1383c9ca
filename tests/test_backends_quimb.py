"""The quimb MPS backend: the Aer backend's Trotter circuits on a truncated MPS.

Untruncated (a bond bound above 2^(n/2)) it must equal the exact evaluation of the same product
formula (trotter-exact) to rounding; truncated, it must say so in its budget keys.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from echo_lab import lbits
from echo_lab.backends import get_backend
from echo_lab.backends.options import ALL_BACKEND_KEYS, build_backend, estimate_state_bytes
from echo_lab.backends.quimb_mps import QuimbMPSBackend, quimb_order, sweep_order
from echo_lab.backends.registry import backend_entry, describe_backends
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.physics.states import probe_state
from echo_lab.protocols.sequences import build_fid, build_hahn, build_sequence

pytest.importorskip("quimb")  # the module imports without it; the backend needs it

#: Untruncated MPS against the exact Trotter dynamics: rounding only (measured: 4e-14).
ROUNDING = 1e-10
UNTRUNCATED = {"max_bond": 256, "cutoff": 0.0}
BUDGET = ("mps_discarded_weight", "mps_max_bond")
#: exp(-i pi/8 Y): tilts the probe's x axis towards z by pi / 4.
TILT = np.array([[np.cos(np.pi / 8), -np.sin(np.pi / 8)], [np.sin(np.pi / 8), np.cos(np.pi / 8)]])


def _chain(n: int, seed: int = 3, W: float = 5.0) -> SparsePauliOp:
    return models.RandomFieldXXZ(n=n, W=W, seed=seed).hamiltonian()


def _observables(n: int, probe: int) -> dict[str, SparsePauliOp]:
    return {
        "sx": SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], n),
        # terms on neighbours, at distance, a constant and one wider than MAX_LOCAL_SPAN
        "mixed": SparsePauliOp.from_sparse_list(
            [("ZZ", [2, 4], 0.7), ("XY", [1, 2], 0.3), ("Z", [0], 1.0), ("XZ", [0, n - 1], 0.5)],
            n,
        )
        + SparsePauliOp("I" * n, [0.2]),
    }


def _compare(ours: dict[str, np.ndarray], exact: dict[str, np.ndarray], atol: float) -> None:
    for key, values in exact.items():
        assert ours[key].shape == values.shape
        np.testing.assert_allclose(ours[key], values, rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize(
    "sequence",
    [
        build_fid(),
        build_hahn(pbit_pulse(3)),
        build_sequence("cpmg", n=7, probe=3, n_pulses=2),
        # a pulse before the first free segment, then an echo
        PulseSequence([Pulse(TILT, (3,), "tilt_3"), Free(0.5), pbit_pulse(3), Free(0.5)]),
    ],
    ids=["fid", "hahn", "cpmg", "pulse-first"],
)
def test_untruncated_mps_equals_the_exact_trotter_dynamics(sequence, order: int) -> None:
    # The first free segment is chained from time to time (module docstring); without truncation
    # that is the separate evolution of every time to rounding.
    n = 7
    hamiltonian = _chain(n)
    state = probe_state(n, 3, background="z-random", rng=np.random.default_rng(1))
    # unsorted, with t = 0 and times off the grid of dt (0.73; 1.27 / 2 per Hahn half)
    times = np.array([0.5, 1.0, 0.73, 0.1, 1.6, 1.27, 0.0])
    observables = _observables(n, 3)
    ours = QuimbMPSBackend(dt=0.1, order=order, **UNTRUNCATED).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    exact = get_backend("trotter-exact", dt=0.1, order=order).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    assert set(ours) == {"sx", "mixed", "entropy", *BUDGET}
    _compare(ours, exact, ROUNDING)
    assert np.ptp(ours["sx"]) > 0.1 and np.max(ours["entropy"]) > 0.1  # the traces move
    assert np.all(ours["mps_discarded_weight"] == 0.0)  # cutoff 0, no bound reached
    assert ours["mps_max_bond"][times == 0.0] == 1  # the product state
    assert np.all(ours["mps_max_bond"] <= 2 ** (n // 2))


def test_window_lbit_pulse_and_readout_on_several_qubits() -> None:
    # A dense pulse on 4 contiguous sites and a 4-site readout unitary: quimb's MPO route.
    n = 8
    model = models.RandomFieldXXZ(n=n, W=6.0, seed=5)
    hamiltonian = model.hamiltonian()
    source = window_lbits(model, 3, width=4)
    sequence = build_sequence("hahn", n=n, probe=3, pulse="window:4", source=source)
    assert len(sequence.pulses[0].qubits) == 4
    state = probe_state(n, 3, background="z-random", rng=np.random.default_rng(2))
    times = np.array([0.0, 0.4, 1.1])
    observables = {"tau_x": source.tau_observable("x", 3), "sz": _observables(n, 3)["sx"]}
    ours = QuimbMPSBackend(dt=0.1, **UNTRUNCATED).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    exact = get_backend("trotter-exact", dt=0.1).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    _compare(ours, exact, ROUNDING)
    assert np.ptp(ours["tau_x"]) > 0.05


def test_rotated_paulis_read_from_the_window_or_through_a_copy() -> None:
    # A readout on contiguous qubits (any order) is read from their reduced density matrix, a
    # scattered one by playing its circuit on a copy: both equal the dense evaluation of
    # trotter-exact, and the same unitary on the two placements gives different values.
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import random_unitary

    from echo_lab.backends.base import RotatedPauli
    from echo_lab.backends.quimb_mps import MAX_READOUT_SPAN

    n = 8
    hamiltonian = _chain(n, seed=6, W=4.0)
    readout = QuantumCircuit(3)
    readout.unitary(random_unitary(8, seed=11), [0, 1, 2])
    observables = {
        "contiguous": RotatedPauli(readout, (3, 4, 5), "X", 4),
        "scattered": RotatedPauli(readout, (1, 4, 6), "X", 4),
        "reversed": RotatedPauli(readout, (5, 4, 3), "Y", 3),
    }
    assert 3 <= MAX_READOUT_SPAN
    state = probe_state(n, 4, background="z-random", rng=np.random.default_rng(7))
    times = np.array([0.0, 0.6])
    sequence = build_hahn(pbit_pulse(4))
    ours = QuimbMPSBackend(dt=0.1, **UNTRUNCATED).run(
        hamiltonian, sequence, state, times, observables=observables
    )
    exact = get_backend("trotter-exact", dt=0.1).run(
        hamiltonian, sequence, state, times, observables=observables
    )
    _compare(ours, exact, ROUNDING)
    assert np.max(np.abs(ours["contiguous"] - ours["scattered"])) > 1e-3


def test_circuit_lbit_pulse_and_rotated_pauli_readout() -> None:
    n = 8
    hamiltonian = _chain(n, seed=4, W=8.0)
    system = lbits.construct(hamiltonian, method="circuit", block=2, layers=2, max_iterations=20)
    sequence = build_sequence("hahn", n=n, probe=3, pulse="circuit", source=system)
    assert sequence.pulses[0].circuit is not None
    state = probe_state(n, 3, background="z-random", rng=np.random.default_rng(3))
    times = np.array([0.3, 0.9])
    observables = {"tau_x": system.tau_observable("x", 3), "tau_z": system.tau_observable("z", 2)}
    ours = QuimbMPSBackend(dt=0.1, **UNTRUNCATED).run(
        hamiltonian, sequence, state, times, observables=observables
    )
    exact = get_backend("trotter-exact", dt=0.1).run(
        hamiltonian, sequence, state, times, observables=observables
    )
    _compare(ours, exact, ROUNDING)


def test_sequences_sharing_their_first_half_equal_separate_runs() -> None:
    # run_sequences evolves the first free segment once for the p-bit and circuit echoes (and the
    # FID, whose only segment it is); untruncated, every result is its own trotter-exact run.
    from echo_lab.backends.base import run_sequences

    n = 8
    hamiltonian = _chain(n, seed=4, W=8.0)
    system = lbits.construct(hamiltonian, method="circuit", block=2, layers=2, max_iterations=20)
    sequences = [
        build_sequence("hahn", n=n, probe=3, pulse="pbit"),
        build_sequence("hahn", n=n, probe=3, pulse="circuit", source=system),
        build_sequence("fid", n=n, probe=3),
        build_sequence("cpmg", n=n, probe=3, n_pulses=2),  # another first fraction (1/4)
    ]
    state = probe_state(n, 3, background="z-random", rng=np.random.default_rng(3))
    times = np.array([0.3, 0.9, 0.6, 0.0])
    observables = {"tau_x": system.tau_observable("x", 3), "sx": _observables(n, 3)["sx"]}
    shared = run_sequences(
        QuimbMPSBackend(dt=0.1, **UNTRUNCATED),
        hamiltonian,
        sequences,
        state,
        times,
        observables=observables,
    )
    exact = run_sequences(
        get_backend("trotter-exact", dt=0.1),
        hamiltonian,
        sequences,
        state,
        times,
        observables=observables,
    )
    assert len(shared) == len(exact) == len(sequences)
    for ours, reference in zip(shared, exact, strict=True):
        _compare(ours, reference, ROUNDING)
    assert np.ptp(shared[0]["sx"] - shared[1]["sx"]) > 1e-3  # the pulses differ
    truncated = QuimbMPSBackend(dt=0.1, max_bond=4, cutoff=1e-9)
    together = truncated.run_sequences(
        hamiltonian, sequences[:2], state, times, observables=observables
    )
    alone = truncated.run(hamiltonian, sequences[1], state, times, observables=observables)
    assert set(together[1]) == set(alone)
    # truncated, sharing changes nothing either: a run alone chains its first half the same way
    assert np.max(together[1]["mps_discarded_weight"]) > 0
    for key, values in alone.items():
        np.testing.assert_array_equal(together[1][key], values, err_msg=key)


def test_truncation_is_reported_and_costs_accuracy() -> None:
    n = 10
    hamiltonian = _chain(n, seed=2, W=1.0)  # weak disorder: entanglement grows fast
    state = probe_state(n, 5, background="x")
    times = np.array([0.5, 1.5, 3.0])
    observables = {"sx": SparsePauliOp.from_sparse_list([("X", [5], 1.0)], n)}
    exact = get_backend("trotter-exact", dt=0.1).run(
        hamiltonian, build_fid(), state, times, observables=observables, entropy=True
    )
    settings = {"chi=2": (2, 1e-12), "chi=4": (4, 1e-12), "cutoff": (32, 1e-12), "none": (32, 0.0)}
    runs = {
        name: QuimbMPSBackend(dt=0.1, max_bond=chi, cutoff=cutoff).run(
            hamiltonian, build_fid(), state, times, observables=observables, entropy=True
        )
        for name, (chi, cutoff) in settings.items()
    }
    errors = {name: np.abs(run["sx"] - exact["sx"]) for name, run in runs.items()}
    weights = {name: run["mps_discarded_weight"] for name, run in runs.items()}
    # a tiny bond: weight discarded, growing in time, and an error that a larger bond lowers
    assert np.all(np.diff(weights["chi=2"]) > 0) and weights["chi=2"][-1] > 1e-2
    assert np.all(runs["chi=2"]["mps_max_bond"] == 2)
    assert errors["chi=2"][-1] > errors["chi=4"][-1] > 1e-3 > 1e3 * errors["cutoff"][-1]
    assert weights["chi=2"][-1] > weights["chi=4"][-1] > 1e6 * weights["cutoff"][-1]
    # the budget bounds the error of an observable of norm 1: |error| <= 2 sqrt(weight)
    for name in settings:
        assert np.all(errors[name] <= 2 * np.sqrt(weights[name]) + 1e-12), name
    # chi = 32 = 2^(n/2) needs no bound: only the 1e-12 cutoff discards (a little) ...
    assert 0 < weights["cutoff"][-1] < 1e-9
    # ... and without it the MPS is exact
    assert np.all(weights["none"] == 0.0)
    _compare({key: runs["none"][key] for key in exact}, exact, ROUNDING)


@pytest.mark.slow
def test_quimb_agrees_with_aer_mps_at_16_sites() -> None:
    n = 16
    hamiltonian = _chain(n, seed=7, W=8.0)
    sequence = build_hahn(pbit_pulse(8))
    state = probe_state(n, 8, background="z-random", rng=np.random.default_rng(4))
    times = np.array([1.0, 2.5])
    observables = _observables(n, 8)
    ours = QuimbMPSBackend(dt=0.1, max_bond=64, cutoff=1e-12).run(
        hamiltonian, sequence, state, times, observables=observables, entropy=True
    )
    aer = get_backend(
        "aer",
        method="matrix_product_state",
        dt=0.1,
        mps_options={"max_bond_dimension": 64, "truncation_threshold": 1e-16},
    ).run(hamiltonian, sequence, state, times, observables=observables, entropy=True)
    assert np.max(ours["mps_discarded_weight"]) < 1e-8
    _compare({k: ours[k] for k in aer}, aer, 1e-6)


def test_sweep_order_keeps_the_product_of_the_gates() -> None:
    rng = np.random.default_rng(0)
    n = 5
    gates = []
    for qubits in [(0, 1), (2, 3), (1, 2), (3, 4), (0, 1), (2, 3), (4,), (3, 1)]:
        dim = 2 ** len(qubits)
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim)))
        gates.append((q, qubits))

    def product(sequence):
        from echo_lab.physics.linalg import apply_local

        out = np.eye(2**n, dtype=complex)
        for matrix, qubits in sequence:
            out = apply_local(matrix, qubits, out, n)
        return out

    swept = sweep_order(gates)
    assert sorted(map(id, swept)) == sorted(map(id, gates))
    assert [id(g) for g in swept] != [id(g) for g in gates]  # reordered: (3, 4) before (1, 2)
    np.testing.assert_allclose(product(swept), product(gates), atol=1e-12)


def test_quimb_order_puts_the_first_sorted_site_most_significant() -> None:
    # Qiskit: qubits[0] least significant; quimb on sorted sites: the first most significant.
    a, b = np.diag([1.0, 2.0]), np.diag([1.0, 3.0])
    matrix, where = quimb_order(np.kron(b, a), (4, 2))  # a on qubit 4, b on qubit 2
    assert where == (2, 4)
    np.testing.assert_allclose(matrix, np.kron(b, a))  # site 2 (b) most significant
    matrix, where = quimb_order(np.kron(b, a), (2, 4))  # a on qubit 2, b on qubit 4
    np.testing.assert_allclose(matrix, np.kron(a, b))


def test_bad_options_and_requests_are_refused_before_running() -> None:
    with pytest.raises(ConfigError, match="max_bond"):
        QuimbMPSBackend(max_bond=0)
    with pytest.raises(ConfigError, match="cutoff"):
        QuimbMPSBackend(cutoff=-1e-3)
    with pytest.raises(ConfigError, match="threads"):
        QuimbMPSBackend(threads=0)
    with pytest.raises(ConfigError, match="order"):
        QuimbMPSBackend(order=3)
    n = 16
    hamiltonian = _chain(n)
    state = probe_state(n, 3, background="x")
    backend = QuimbMPSBackend(dt=0.1)
    with pytest.raises(ConfigError, match="local operators"):
        backend.run(hamiltonian, build_fid(), state, np.array([1.0]), observables={"d": np.eye(4)})
    only_action = Pulse(None, tuple(range(n)), "tau", action=lambda psi: psi)
    with pytest.raises(ConfigError, match="exact"):
        backend.run(
            hamiltonian,
            PulseSequence([Free(0.5), only_action, Free(0.5)]),
            state,
            np.array([1.0]),
            observables={},
        )


def test_dense_observables_of_small_chains_and_threads() -> None:
    n = 6
    hamiltonian = _chain(n)
    state = probe_state(n, 2, background="z-random", rng=np.random.default_rng(5))
    dense = np.diag(np.arange(2**n) % 3 * 1.0)
    times = np.array([0.4, 0.8])
    ours = QuimbMPSBackend(dt=0.1, threads=1, **UNTRUNCATED).run(
        hamiltonian, build_fid(), state, times, observables={"dense": dense}
    )
    exact = get_backend("trotter-exact", dt=0.1).run(
        hamiltonian, build_fid(), state, times, observables={"dense": dense}
    )
    _compare(ours, exact, ROUNDING)


def test_registry_entry_builds_from_a_backend_table_and_estimates_memory() -> None:
    from echo_lab.backends.options import parse_backend
    from echo_lab.tables import Table

    keys = ("name", *ALL_BACKEND_KEYS)
    table = Table(
        {"name": "quimb", "dt": 0.1, "order": 2, "options": {"max_bond": 32, "cutoff": 1e-9}},
        "backend",
        keys,
    )
    spec = parse_backend(table)
    backend = build_backend(spec)
    assert isinstance(backend, QuimbMPSBackend)
    assert (backend.max_bond, backend.cutoff, backend.dt) == (32, 1e-9, 0.1)
    hamiltonian = _chain(24)
    # two MPS of 16 n chi^2 bytes and the SVD work arrays
    assert estimate_state_bytes(spec, hamiltonian) == 2 * 16 * 24 * 32**2 + 4 * 16 * 64**2
    assert backend_entry("quimb").holds_state
    assert "``quimb``" in describe_backends()
    with pytest.raises(ConfigError, match="max_bond"):
        build_backend(
            parse_backend(Table({"name": "quimb", "options": {"max_bond": 0}}, "backend", keys))
        )


QUIMB_STUDY = """
[study]
name = "quimb_echo"
kind = "echo"
realizations = 1
seed = 5

[model]
n = 6
Jz = 1.0
W = 6.0

[protocol]
sequence = "hahn"
pulses = ["pbit"]
background = "z-random"

[times]
values = [0.5, 1.25, 2.0]

[backend]
{backend}
"""


def test_a_study_file_runs_on_quimb_and_stores_the_trotter_exact_values(tmp_path) -> None:
    from echo_lab.study import runner as study
    from echo_lab.study.results import load_results
    from echo_lab.study.spec import parse_spec

    quimb = 'name = "quimb"\ndt = 0.1\norder = 2\noptions = {max_bond = 64, cutoff = 0.0}'
    reference = 'name = "trotter-exact"\ndt = 0.1\norder = 2'
    ours = load_results(
        study.run_study(
            parse_spec(QUIMB_STUDY.format(backend=quimb)), out=tmp_path / "q", progress=False
        )
    )
    exact = load_results(
        study.run_study(
            parse_spec(QUIMB_STUDY.format(backend=reference)), out=tmp_path / "e", progress=False
        )
    )
    assert '"quimb"' in ours.attrs["spec"] and '"quimb"' not in exact.attrs["spec"]
    compared = [name for name in exact.data_vars if exact[name].dtype.kind == "f"]
    assert {"sx", "sy"} <= set(compared)
    for name in compared:
        np.testing.assert_allclose(
            ours[name].values, exact[name].values, rtol=0, atol=ROUNDING, err_msg=name
        )
    assert float(np.ptp(ours["sx"].values)) > 0.05


@pytest.mark.parametrize("qubits", [(2, 3), (1, 2, 3, 4), (4, 1)], ids=["neighbours", "4", "far"])
def test_discarded_weight_of_one_gate_is_its_infidelity(qubits: tuple[int, ...]) -> None:
    # One truncated gate on a product state: the weight it reports is 1 - |<exact|mps>|^2.
    from qiskit.quantum_info import random_unitary

    from echo_lab.backends.quimb_mps import TruncatedMPS
    from echo_lab.physics.linalg import apply_local

    n = 6
    state = probe_state(n, 2, background="random-bloch", rng=np.random.default_rng(6))
    unitary = random_unitary(2 ** len(qubits), seed=1).data
    exact = apply_local(unitary, qubits, state.vector(), n)
    for chi in (1, 2, 64):
        chain = TruncatedMPS.product(state, max_bond=chi, cutoff=0.0)
        chain.apply(unitary, qubits)
        vector = chain.state_vector()
        infidelity = 1.0 - abs(np.vdot(exact, vector)) ** 2
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-12)
        assert chain.discarded == pytest.approx(infidelity, abs=1e-12), chi
        assert chain.largest_bond <= chi
    assert infidelity < 1e-12  # chi = 64 keeps everything
