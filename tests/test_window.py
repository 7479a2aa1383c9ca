"""Window l-bits of long chains and window observables of Aer matrix product states."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector, partial_trace, random_unitary
from qiskit_aer import AerSimulator

from echo_lab import lbits
from echo_lab.backends.exact import ExactBackend
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.readouts import RotatedPauli, evaluate_observable
from echo_lab.errors import ConfigError
from echo_lab.lbits.window import (
    MAX_WINDOW_SITES,
    mps_bond_dimensions,
    mps_window_density_matrix,
    window_hamiltonian,
    window_lbits,
    window_sites,
)
from echo_lab.physics import models
from echo_lab.physics.linalg import PAULI_MATRICES, embed
from echo_lab.physics.models import Lattice, pauli_label
from echo_lab.physics.states import probe_state
from echo_lab.protocols.families import PulseSpec, make_pulse
from echo_lab.protocols.observables import probe_observables
from echo_lab.protocols.sequences import build_hahn, build_sequence
from echo_lab.study.kinds.base import realization_seeds
from echo_lab.study.kinds.echo import compute_echo
from echo_lab.study.spec import parse_spec


def test_window_sites_are_centred_and_shifted_inside_the_chain() -> None:
    assert window_sites(10, 5, width=5) == [3, 4, 5, 6, 7]
    assert window_sites(10, 5, width=4) == [3, 4, 5, 6]
    assert window_sites(10, 1, width=5) == [0, 1, 2, 3, 4]
    assert window_sites(10, 9, width=4) == [6, 7, 8, 9]
    assert window_sites(10, 3, width=10) == list(range(10))
    ring = Lattice.chain(10, periodic=True)
    assert window_sites(ring, 0, width=3) == [0, 1, 9]


def test_window_hamiltonian_is_the_open_subchain_with_the_window_fields() -> None:
    model = models.RandomFieldXXZ(n=12, W=8.0, J=0.7, Jz=1.3, seed=5)
    sites = [3, 4, 5, 6, 7, 8]
    sub = models.RandomFieldXXZ(n=6, J=0.7, Jz=1.3, fields=model.fields[3:9])
    difference = (window_hamiltonian(model, sites) - sub.hamiltonian()).simplify(atol=1e-14)
    assert np.all(np.abs(difference.coeffs) < 1e-14)


def test_window_hamiltonian_relabels_general_terms_and_drops_crossing_ones() -> None:
    n = 6
    hamiltonian = SparsePauliOp(
        [pauli_label(n, {1: "X", 2: "Y", 4: "Z"}), pauli_label(n, {4: "Y", 5: "X"}), "I" * n],
        coeffs=[0.5, -2.0, 3.0],
    )
    window = window_hamiltonian(hamiltonian, [1, 2, 4])
    expected = SparsePauliOp(["ZYX", "III"], coeffs=[0.5, 3.0])
    assert window.num_qubits == 3
    assert np.allclose(window.to_matrix(), expected.to_matrix(), atol=0)


@pytest.mark.parametrize("probe", [5, 0])
def test_a_window_covering_the_chain_reproduces_the_full_lbits(probe: int) -> None:
    model = models.RandomFieldXXZ(n=10, W=8.0, seed=12)
    full = lbits.construct(model.hamiltonian(), method="overlap")
    windowed = window_lbits(model, probe, width=10)
    assert windowed.window == tuple(range(10))
    assert (windowed.n, windowed.method, windowed.sites()) == (10, "window", (probe,))
    for a in ("x", "z"):
        assert np.allclose(windowed.tau(a, probe), full.tau(a, probe), atol=1e-12)


def window_distances(n: int, w_values: list[int], strength: float, count: int) -> np.ndarray:
    """Normalized Frobenius distance ||tau_full - tau_window (x) 1|| / sqrt(2^n) of tau^x_p.

    Shape ``(count, len(w_values))``, one row per disorder realization.
    """
    probe = n // 2
    rows = []
    for seed in np.random.SeedSequence(2024).spawn(count):
        model = models.RandomFieldXXZ(n=n, W=strength, seed=seed)
        full = lbits.construct(model.hamiltonian()).tau("x", probe)
        row = []
        for w in w_values:
            windowed = window_lbits(model, probe, width=w)
            embedded = embed(windowed.tau("x", probe), list(windowed.window), n)
            row.append(np.linalg.norm(full - embedded) / np.sqrt(2**n))
        rows.append(row)
    return np.array(rows)


def test_window_tau_approaches_the_full_tau_as_the_window_grows() -> None:
    # This sample's typical (exp mean log) distances are 0.28, 0.22, 0.16, 0.09 for w = 3, 5, 7,
    # 9. Single realizations are not monotone: an open window edge can cut a resonant pair next to
    # the probe, which tau^x_p contains (tau^x is less local than tau^z near resonances).
    distances = window_distances(10, [3, 5, 7, 9, 10], strength=20.0, count=12)
    typical = np.exp(np.mean(np.log(distances[:, :-1]), axis=0))
    mean = np.mean(distances[:, :-1], axis=0)
    assert np.all(np.diff(typical) < 0), typical
    assert np.all(np.diff(mean) < 0), mean
    assert typical[-1] < 0.5 * typical[0], typical
    assert np.max(distances[:, -1]) < 1e-10


def test_window_pulses_are_unitary_involutions_on_the_window_sites() -> None:
    model = models.RandomFieldXXZ(n=40, W=12.0, seed=3)
    windowed = window_lbits(model, 20, width=7)
    assert windowed.window == tuple(range(17, 24))
    whole = windowed.pulse(20)
    truncated = windowed.pulse(20, radius=2)
    assert whole.qubits == windowed.window
    assert truncated.qubits == (18, 19, 20, 21, 22)
    for pulse in (whole, truncated):
        eye = np.eye(pulse.matrix.shape[0])
        assert np.allclose(pulse.matrix @ pulse.matrix, eye, atol=1e-10)
        assert np.allclose(pulse.matrix.conj().T, pulse.matrix, atol=1e-10)
    # A radius that covers the window keeps every Pauli component: the window l-bit itself.
    assert np.allclose(windowed.pulse(20, radius=3).matrix, whole.matrix, atol=1e-10)
    # The window holds the l-bit of its probe only.
    with pytest.raises(ConfigError, match=r"window l-bits hold sites \(20,\), not site 19"):
        windowed.pulse(19)
    with pytest.raises(ConfigError, match="not site 21"):
        windowed.tau("x", 21)


def test_window_pulse_recovers_more_lbit_echo_than_the_pbit_pulse() -> None:
    n, probe, times = 10, 5, np.array([50.0, 200.0])
    recovered: dict[str, list[np.ndarray]] = {"pbit": [], "window": []}
    for k, seed in enumerate(np.random.SeedSequence(11).spawn(4)):
        model = models.RandomFieldXXZ(n=n, W=20.0, seed=seed)
        hamiltonian = model.hamiltonian()
        full = lbits.construct(hamiltonian)
        tau_x = full.tau("x", probe)
        state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(k))
        window = window_lbits(model, probe, width=8)
        pulses = {"pbit": pbit_pulse(probe), "window": window.pulse(probe)}
        backend = ExactBackend(eigensystem=(full.energies, full.vectors))
        for name, pulse in pulses.items():
            result = backend.run(
                hamiltonian, build_hahn(pulse), state, times, observables={"tau_x": tau_x}
            )
            recovered[name].append(result["tau_x"])
    mean_pbit = np.mean(recovered["pbit"], axis=0)
    mean_window = np.mean(recovered["window"], axis=0)
    assert np.all(mean_window > mean_pbit), (mean_window, mean_pbit)


def random_brickwork_mps(n: int, depth: int) -> tuple[QuantumCircuit, object]:
    rng = np.random.default_rng(4)
    qc = QuantumCircuit(n)
    for layer in range(depth):
        for i in range(layer % 2, n - 1, 2):
            qc.unitary(random_unitary(4, seed=int(rng.integers(2**31))), [i, i + 1])
    saved = qc.copy()
    saved.save_matrix_product_state(label="mps")
    simulator = AerSimulator(method="matrix_product_state", max_memory_mb=-1)
    return qc, simulator.run(saved).result().data(0)["mps"]


def test_mps_window_density_matrix_equals_the_statevector_partial_trace() -> None:
    n = 8
    qc, mps = random_brickwork_mps(n, depth=8)
    psi = Statevector(qc)
    for sites in ([2, 3, 4, 5], [0, 1], [7], list(range(n))):
        traced = [q for q in range(n) if q not in sites]
        expected = partial_trace(psi, traced).data if traced else psi.to_operator().data
        assert np.allclose(mps_window_density_matrix(mps, sites), expected, atol=1e-10)
    # A generic deep circuit saturates every Schmidt rank: min(2^(k+1), 2^(n-k-1)).
    ranks = [min(2 ** (k + 1), 2 ** (n - k - 1)) for k in range(n - 1)]
    assert mps_bond_dimensions(mps).tolist() == ranks


@pytest.mark.parametrize(
    ("width", "probe", "match"),
    [
        (MAX_WINDOW_SITES + 1, 20, "exceeds 12"),
        (11, 5, "larger than the chain"),
        (0, 5, "integer >= 1"),
        (4, 40, "outside"),
    ],
)
def test_invalid_windows_are_rejected(width: int, probe: int, match: str) -> None:
    n = 10 if width == 11 else 40
    model = models.RandomFieldXXZ(n=n, W=8.0, seed=1)
    with pytest.raises(ConfigError, match=match):
        window_lbits(model, probe, width=width)


def test_invalid_inputs_name_the_problem() -> None:
    model = models.RandomFieldXXZ(n=12, W=8.0, seed=1)
    with pytest.raises(ConfigError, match="unknown l-bit method"):
        window_lbits(model, 5, width=4, method="nearest")
    with pytest.raises(ConfigError, match="distinct sites"):
        window_hamiltonian(model, [3, 3, 4])
    _, mps = random_brickwork_mps(4, depth=2)
    with pytest.raises(ConfigError, match="consecutive"):
        mps_window_density_matrix(mps, [0, 2])
    with pytest.raises(ConfigError, match="outside the MPS"):
        mps_window_density_matrix(mps, [3, 4])


WINDOW_STUDY = """
[study]
name = "window_echo"
kind = "echo"
seed = 7

[model]
n = 10
W = 12.0

[protocol]
pulses = ["pbit", "window:6", "window:6:1"]

[times]
values = [0.5, 3.0, 40.0]
"""


def test_window_pulses_in_a_study_equal_the_direct_computation() -> None:
    spec = parse_spec(WINDOW_STUDY)
    point = spec.points()[0]
    ds = compute_echo(spec, point, 0)
    assert list(ds["pulse"].values) == ["fid", "pbit", "window:6", "window:6:1"]
    assert "tau_x" not in ds and "tau_y" not in ds
    fields_seed, state_seed = realization_seeds(spec, 0)
    model = models.RandomFieldXXZ(n=10, W=12.0, seed=fields_seed)
    np.testing.assert_array_equal(ds["fields"].values, model.fields)
    probe = 5
    state = probe_state(10, probe, background="z-random", rng=np.random.default_rng(state_seed))
    window = window_lbits(model, probe, width=6)
    pulses = {"window:6": window.pulse(probe), "window:6:1": window.pulse(probe, radius=1)}
    assert pulses["window:6"].qubits == (2, 3, 4, 5, 6, 7)
    assert pulses["window:6:1"].qubits == (4, 5, 6)
    operators = {
        "sx": SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], 10),
        "sy": SparsePauliOp.from_sparse_list([("Y", [probe], 1.0)], 10),
    }
    backend = ExactBackend()
    times = np.array([0.5, 3.0, 40.0])
    for label, pulse in pulses.items():
        expected = backend.run(
            model.hamiltonian(), build_hahn(pulse), state, times, observables=operators
        )
        at = ds.sel(background="z-random", pulse=label)
        np.testing.assert_allclose(at["sx"].values, expected["sx"], atol=1e-10)
        np.testing.assert_allclose(at["sy"].values, expected["sy"], atol=1e-10)
        np.testing.assert_allclose(
            at["coherence"].values, np.hypot(expected["sx"], expected["sy"]), atol=1e-10
        )
    # The window pulses are different unitaries: their echoes must differ from the p-bit one.
    pbit = ds["sx"].sel(background="z-random", pulse="pbit").values
    whole = ds["sx"].sel(background="z-random", pulse="window:6").values
    assert np.max(np.abs(pbit - whole)) > 1e-3


def test_window_pulse_specs_need_matching_window_lbits() -> None:
    model = models.RandomFieldXXZ(n=10, W=12.0, seed=4)
    window = window_lbits(model, 5, width=6)
    pulse = make_pulse("window:6:2", 5, axis="y", source=window)
    expected = window.pulse(5, radius=2, axis="y")
    assert pulse.qubits == expected.qubits == (3, 4, 5, 6, 7)
    np.testing.assert_array_equal(pulse.matrix, expected.matrix)
    assert PulseSpec.parse("window:6:2") == PulseSpec("window", radius=2, width=6)
    assert PulseSpec.parse("window:12") == PulseSpec("window", width=12)
    with pytest.raises(ConfigError, match="width=8"):
        make_pulse("window:8", 5, source=window)
    with pytest.raises(ConfigError, match="window_lbits"):
        make_pulse("window:6", 4, source=window)
    with pytest.raises(ConfigError, match="window_lbits"):
        make_pulse("window:6", 5)


def test_window_tau_observable_reads_the_window_lbit() -> None:
    """tau_observable is the Pauli X_p / Y_p read after U^dag on the window: U sigma_p U^dag is
    the window tau, and its expectation equals that of the embedded dense window tau."""
    n, probe = 8, 3
    model = models.RandomFieldXXZ(n=n, W=6.0, seed=21)
    window = window_lbits(model, probe, width=5)
    unitary = window.encoding_unitary()
    np.testing.assert_allclose(unitary.conj().T @ unitary, np.eye(2**5), atol=1e-12)
    rng = np.random.default_rng(5)
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    observables = probe_observables(n, probe, source=window)
    for a, pauli in (("x", "X"), ("y", "Y"), ("z", "Z")):
        sigma = embed(PAULI_MATRICES[pauli], [window.local_probe], window.width)
        tau = window.tau(a, probe)
        np.testing.assert_allclose(unitary @ sigma @ unitary.conj().T, tau, atol=1e-12)
        readout = window.tau_observable(a, probe)
        assert isinstance(readout, RotatedPauli)
        assert (readout.qubits, readout.pauli, readout.site) == (window.window, pauli, probe)
        np.testing.assert_allclose(readout.local_matrix, tau, atol=1e-12)
        dense = embed(tau, list(window.window), n)
        expected = np.real(np.vdot(psi, dense @ psi))
        assert evaluate_observable(readout, psi[:, None], n)[0] == pytest.approx(
            expected, abs=1e-12
        )
    assert observables["tau_x"].local_matrix.shape == (2**5, 2**5)  # type: ignore[union-attr]
    # Any backend reads it: the exact backend at T = 0 on a random product state.
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(2))
    result = ExactBackend().run(
        model.hamiltonian(),
        build_sequence("fid", n=n, probe=probe),
        state,
        np.array([0.0]),
        observables={"tau_x": observables["tau_x"]},
    )
    vector = state.vector()
    dense_x = embed(window.tau("x", probe), list(window.window), n)
    assert result["tau_x"][0] == pytest.approx(
        np.real(np.vdot(vector, dense_x @ vector)), abs=1e-12
    )
    with pytest.raises(ConfigError, match="not site 2"):
        window.tau_observable("x", 2)
