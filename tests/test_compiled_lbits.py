"""Compiled l-bits: a window l-bit carried by a fitted brickwork (echo_lab.lbits.compiled)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import Operator, SparsePauliOp

from echo_lab import lbits
from echo_lab.backends.exact import ExactBackend
from echo_lab.backends.registry import get_backend
from echo_lab.dynamics.pulses import polar_factor, truncate_to_window
from echo_lab.dynamics.readouts import RotatedPauli
from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.gates import exponentiate, parametrization
from echo_lab.lbits.circuit.layout import block_layout
from echo_lab.lbits.compiled import PulseTargetLoss, best_support, compiled_lbits
from echo_lab.lbits.fidelity import compare, support_ceiling
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.physics.linalg import PAULI_MATRICES, embed
from echo_lab.physics.models import Lattice
from echo_lab.physics.states import probe_state
from echo_lab.protocols.families import COMPILED, PulseSpec, SourceNeed, make_pulse
from echo_lab.protocols.sequences import build_hahn
from echo_lab.study.kinds.base import realization_seeds
from echo_lab.study.kinds.echo import compute_echo
from echo_lab.study.reports import fidelity_report, parse_compare
from echo_lab.study.spec import parse_spec

SZ = parametrization(2, "sz")


def random_gates(count: int, seed: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return list(exponentiate(SZ.generator(scale * rng.normal(size=(count, SZ.size))))[0])


def brickwork_unitary(gates: list[np.ndarray], n: int, layers: int) -> np.ndarray:
    layout = block_layout(n, block=2, layers=layers)
    unitary = np.eye(1 << n, dtype=complex)
    for slot, gate in zip(layout.slots, gates, strict=True):
        unitary = embed(gate, list(slot.sites), n) @ unitary
    return unitary


def test_loss_gradient_equals_finite_differences() -> None:
    """dL = sum_j Re Tr(G_j dg_j) for any (not only unitary) change of any gate."""
    n, layers, probe = 5, 3, 2
    layout = block_layout(n, block=2, layers=layers)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(32, 32)) + 1j * rng.normal(size=(32, 32))
    b = rng.normal(size=(32, 32)) + 1j * rng.normal(size=(32, 32))
    loss = PulseTargetLoss({"z": a + a.conj().T, "x": b + b.conj().T}, layout, probe)
    gates = random_gates(len(layout.slots), 2)
    _, grads = loss(gates)
    assert grads is not None
    step = 1e-6
    for j in range(len(gates)):
        change = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
        plus, minus = list(gates), list(gates)
        plus[j] = gates[j] + step * change
        minus[j] = gates[j] - step * change
        numeric = (loss(plus, gradient=False)[0] - loss(minus, gradient=False)[0]) / (2 * step)
        assert np.real(np.trace(grads[j] @ change)) == pytest.approx(numeric, abs=1e-7)


def test_loss_is_one_minus_the_mean_cosine_with_the_targets() -> None:
    n, probe = 4, 1
    layout = block_layout(n, block=2, layers=2)
    gates = random_gates(len(layout.slots), 3)
    unitary = brickwork_unitary(gates, n, 2)
    z = embed(PAULI_MATRICES["Z"], [probe], n)
    x = embed(PAULI_MATRICES["X"], [probe], n)
    reachable = {a: unitary @ p @ unitary.conj().T for a, p in (("z", z), ("x", x))}
    # The scale of a target does not matter.
    loss = PulseTargetLoss({a: 3.0 * t for a, t in reachable.items()}, layout, probe)
    assert loss(gates, gradient=False)[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(loss.rotated(gates, "x"), reachable["x"], atol=1e-12)
    assert loss.overlaps(gates) == pytest.approx({"z": 1.0, "x": 1.0}, abs=1e-12)
    identity = [np.eye(4, dtype=complex)] * len(gates)
    cosines = [
        np.real(np.vdot(reachable["z"], z)) / 2**n,
        np.real(np.vdot(reachable["x"], x)) / 2**n,
    ]
    assert loss(identity, gradient=False)[0] == pytest.approx(1.0 - np.mean(cosines), abs=1e-12)
    z_only = PulseTargetLoss({"z": reachable["z"]}, layout, probe)
    assert z_only(identity, gradient=False)[0] == pytest.approx(1.0 - cosines[0], abs=1e-12)


def test_best_support_holds_the_most_weight_and_truncates_by_partial_trace() -> None:
    model = models.RandomFieldXXZ(n=8, W=6.0, seed=4)
    window = window_lbits(model, 4, width=7)
    tau = np.asarray(window.tau("z", 4))
    sites, part = best_support(tau, window.window, 4, 4)
    assert 4 in sites and len(sites) == 4
    weights = []
    for start in range(len(window.window) - 3):
        chosen = window.window[start : start + 4]
        if 4 in chosen:
            block = truncate_to_window(tau, list(range(start, start + 4)))
            weights.append((np.vdot(block, block).real / 16, chosen))
    assert max(weights)[1] == sites
    start = window.window.index(sites[0])
    np.testing.assert_allclose(part, truncate_to_window(tau, list(range(start, start + 4))))


def test_a_support_covering_a_small_chain_recovers_the_exact_lbit() -> None:
    """n = 4: the window is the chain, the targets are the exact tau^z and tau^x themselves
    (involutions), and the brickwork carries more of them with every layer pair, all of them at
    12 layers (mean cosine 0.861, 0.994, 0.99964 at 4, 8, 10 layers for this chain): D -> 1 and
    F_x -> 1 against the exact l-bits."""
    model = models.RandomFieldXXZ(n=4, W=3.0, seed=7)
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    overlaps = [
        compiled_lbits(model, 1, window=4, support=4, layers=layers, starts=1).overlap
        for layers in (4, 8)
    ]
    compiled = compiled_lbits(model, 1, window=4, support=4, layers=12, starts=1)
    np.testing.assert_allclose(compiled.targets["z"], reference.tau("z", 1), atol=1e-10)
    np.testing.assert_allclose(compiled.targets["x"], reference.tau("x", 1), atol=1e-10)
    fidelity = compare(reference, compiled, 1)
    assert fidelity.a_z < 0.95
    assert overlaps[0] < overlaps[1] < compiled.overlap
    assert compiled.overlap > 0.99999
    assert fidelity.d > 0.99999 and fidelity.f_x > 0.99999
    # F_z from the package's readout path equals the cosine with the (exact) target here.
    assert fidelity.f_z == pytest.approx(compiled.overlaps["z"], abs=1e-10)


def test_compiled_lbit_is_a_conjugated_pauli_with_matching_pulse_and_readout() -> None:
    n, probe = 10, 5
    model = models.RandomFieldXXZ(n=n, W=8.0, seed=12)
    compiled = compiled_lbits(model, probe, window=8, support=5, layers=3, starts=1)
    s = compiled.width
    assert compiled.sites() == (probe,) and probe in compiled.support_sites
    assert set(compiled.support_sites) <= set(compiled.window)
    v = compiled.unitary()
    np.testing.assert_allclose(v.conj().T @ v, np.eye(2**s), atol=1e-12)
    for a, pauli in (("x", "X"), ("y", "Y"), ("z", "Z")):
        sigma = embed(PAULI_MATRICES[pauli], [compiled.local_probe], s)
        tau = compiled.tau(a, probe)
        np.testing.assert_allclose(tau, v @ sigma @ v.conj().T, atol=1e-12)
        np.testing.assert_allclose(tau @ tau, np.eye(2**s), atol=1e-12)
        readout = compiled.tau_observable(a, probe)
        assert isinstance(readout, RotatedPauli)
        np.testing.assert_allclose(readout.local_matrix, tau, atol=1e-12)
    pulse = compiled.pulse(probe)
    assert pulse.qubits == compiled.support_sites and pulse.kind == "compiled"
    assert pulse.circuit is not None
    played = Operator(pulse.circuit).data
    phase = np.vdot(played.ravel(), pulse.dense_matrix().ravel())
    np.testing.assert_allclose(played * phase / abs(phase), pulse.dense_matrix(), atol=1e-10)
    assert compiled.cx_count() <= 3 * 2 * len(compiled.gates)
    # The fit's D never exceeds what any operator on the support can reach.
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    ceiling = support_ceiling(reference, probe, [s])[0]
    assert compare(reference, compiled, probe).d <= ceiling.d + 1e-9
    # The target is the sign of the window l-bit truncated to the support.
    window = window_lbits(model, probe, width=8)
    start = window.window.index(compiled.support_sites[0])
    part = truncate_to_window(np.asarray(window.tau("z", probe)), list(range(start, start + s)))
    np.testing.assert_allclose(compiled.targets["z"], polar_factor(part)[0], atol=1e-10)
    for a in ("z", "x"):
        assert compiled.overlaps[a] == pytest.approx(
            np.real(np.vdot(compiled.targets[a], compiled.tau(a, probe))) / 2**s, abs=1e-10
        )


def test_compiled_pulse_plays_the_same_on_the_exact_and_the_mps_backend() -> None:
    """The MPS backend plays the pulse's two-qubit gates and reads tau^x through V^dag; the
    exact backend applies the dense matrix and reads the dense tau^x. Order-4 steps of 0.05 over
    T = 1 leave about 1e-6."""
    n, probe = 8, 4
    model = models.RandomFieldXXZ(n=n, W=8.0, seed=3)
    hamiltonian = model.hamiltonian()
    compiled = compiled_lbits(model, probe, window=8, support=4, layers=2, starts=1)
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(1))
    times = np.array([0.0, 0.6, 1.0])
    sequence = build_hahn(compiled.pulse(probe))
    dense_tau = embed(compiled.tau("x", probe), list(compiled.support_sites), n)
    exact = ExactBackend().run(hamiltonian, sequence, state, times, observables={"t": dense_tau})
    mps = get_backend("aer", dt=0.05, order=4, method="matrix_product_state").run(
        hamiltonian,
        sequence,
        state,
        times,
        observables={"t": compiled.tau_observable("x", probe)},
    )
    np.testing.assert_allclose(mps["t"], exact["t"], atol=1e-4)
    # The readout is the l-bit: at T = 0 the echo is <tau^x> after the pulse, which is itself.
    vector = state.vector()
    assert exact["t"][0] == pytest.approx(np.real(np.vdot(vector, dense_tau @ vector)), abs=1e-10)


def test_same_seed_gives_the_same_circuit() -> None:
    model = models.RandomFieldXXZ(n=8, W=8.0, seed=5)
    first = compiled_lbits(model, 4, window=6, support=4, layers=2, starts=2, seed=3)
    again = compiled_lbits(model, 4, window=6, support=4, layers=2, starts=2, seed=3)
    for a, b in zip(first.gates, again.gates, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"support": 9, "window": 8}, "support must be at most 8"),
        ({"support": 1}, "support must be an integer >= 2"),
        ({"layers": 0}, "layers must be an integer >= 1"),
        ({"starts": 0}, "starts must be an integer >= 1"),
        ({"window": 1.5}, "window must be an integer"),
        ({"max_iterations": -1}, "max_iterations must be an integer >= 0"),
    ],
)
def test_bad_options_are_refused_before_any_work(options: dict[str, object], match: str) -> None:
    model = models.RandomFieldXXZ(n=10, W=8.0, seed=1)
    with pytest.raises(ConfigError, match=match):
        compiled_lbits(model, 5, **options)  # type: ignore[arg-type]


def test_misuse_names_the_problem() -> None:
    model = models.RandomFieldXXZ(n=8, W=8.0, seed=1)
    compiled = compiled_lbits(model, 4, window=6, support=4, layers=1, starts=1)
    with pytest.raises(ConfigError, match="not truncated"):
        compiled.pulse(4, radius=1)
    with pytest.raises(ConfigError, match="not site 3"):
        compiled.pulse(3)
    with pytest.raises(ConfigError, match="pulse axis"):
        compiled.pulse(4, axis="z")
    with pytest.raises(ConfigError, match="unknown l-bit operator"):
        compiled.tau("w", 4)
    ring = Lattice.from_edges(6, [(k, (k + 1) % 6) for k in range(6)])
    h = SparsePauliOp.from_sparse_list([("ZZ", [k, (k + 1) % 6], 1.0) for k in range(6)], 6)
    with pytest.raises(ConfigError, match="open"):
        compiled_lbits(h, 2, window=6, support=4, lattice=ring)
    with pytest.raises(ConfigError, match="z target operator is zero"):
        PulseTargetLoss({"z": np.zeros((4, 4))}, block_layout(2, block=2, layers=1), 0)
    with pytest.raises(ConfigError, match="axes must list 'z'"):
        compiled_lbits(model, 4, axes=("x",))
    # The source plugs into the l-bit interface.
    assert isinstance(compiled, lbits.LBitSource)


COMPILED_STUDY = """
[study]
name = "compiled_echo"
kind = "echo"
seed = 7

[model]
n = 8
W = 8.0

[lbits]
compiled_window = 6
compiled_layers = 2

[protocol]
pulses = ["pbit", "compiled:4"]

[times]
values = [0.5, 3.0, 20.0]
"""


def test_compiled_pulses_in_a_study_equal_the_direct_computation() -> None:
    spec = parse_spec(COMPILED_STUDY)
    ds = compute_echo(spec, spec.points()[0], 0)
    assert list(ds["pulse"].values) == ["fid", "pbit", "compiled:4"]
    fields_seed, state_seed = realization_seeds(spec, 0)
    model = models.RandomFieldXXZ(n=8, W=8.0, seed=fields_seed)
    probe = 4
    state = probe_state(8, probe, background="z-random", rng=np.random.default_rng(state_seed))
    compiled = compiled_lbits(model, probe, window=6, support=4, layers=2)
    pulse = make_pulse("compiled:4", probe, source=compiled)
    np.testing.assert_array_equal(pulse.dense_matrix(), compiled.pulse(probe).dense_matrix())
    sx = SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], 8)
    times = np.array([0.5, 3.0, 20.0])
    expected = ExactBackend().run(
        model.hamiltonian(), build_hahn(pulse), state, times, observables={"sx": sx}
    )
    at = ds.sel(background="z-random", pulse="compiled:4")
    np.testing.assert_allclose(at["sx"].values, expected["sx"], atol=1e-10)
    pbit = ds["sx"].sel(background="z-random", pulse="pbit").values
    assert np.max(np.abs(pbit - at["sx"].values)) > 1e-3


def test_compiled_pulse_specs_parse_and_need_a_matching_source() -> None:
    assert PulseSpec.parse("compiled:6") == PulseSpec("compiled", width=6)
    assert PulseSpec.parse("compiled:6").source_need == SourceNeed(COMPILED, 6)
    for bad, match in (
        ("compiled", "expected one field"),
        ("compiled:1", "2 <= s <= 10"),
        ("compiled:11", "2 <= s <= 10"),
        ("compiled:4:1", "expected one field"),
    ):
        with pytest.raises(ConfigError, match=match):
            PulseSpec.parse(bad)
    model = models.RandomFieldXXZ(n=8, W=8.0, seed=2)
    compiled = compiled_lbits(model, 4, window=6, support=4, layers=1, starts=1)
    with pytest.raises(ConfigError, match="support=5"):
        make_pulse("compiled:5", 4, source=compiled)
    with pytest.raises(ConfigError, match="compiled_lbits"):
        make_pulse("compiled:4", 4, source=window_lbits(model, 4, width=4))
    with pytest.raises(ConfigError, match="compiled_layers"):
        parse_spec(COMPILED_STUDY.replace("compiled_layers = 2", "compiled_layers = 0"))
    with pytest.raises(ConfigError, match="does not take compiled pulses"):
        parse_spec(COMPILED_STUDY.replace("[protocol]", '[protocol]\nsequence = "global"'))


def test_lbits_compare_reads_compiled_lbits() -> None:
    assert parse_compare("compiled:6,window:8", 12) == [("compiled", 6), ("window", 8)]
    for bad, match in (("compiled:1", "support must be 2..10"), ("compiled:9", "2..8")):
        with pytest.raises(ConfigError, match=match):
            parse_compare(bad, 12 if bad == "compiled:1" else 8)
    with pytest.raises(ConfigError, match="not understood"):
        parse_compare("compiled:x", 12)
    report = fidelity_report(
        n=8, W=8.0, J=1.0, Jz=1.0, seed=3, compare="compiled:4", site=None, circuit_options={}
    )
    rows = [line for line in report.splitlines() if line.startswith("compiled s=4")]
    assert len(rows) == 4  # vs overlap, vs range, its kept fraction, its circuit line
    assert "CX" in rows[-1] and "window of 8 sites" in rows[-1]
    # The printed D is the fidelity module's.
    model = models.RandomFieldXXZ(n=8, W=8.0, J=1.0, Jz=1.0, seed=3)
    reference = lbits.construct(model.hamiltonian(), "overlap", lattice=model.lattice)
    d = compare(reference, compiled_lbits(model, 4, support=4), 4).d
    assert float(rows[0].split()[3]) == pytest.approx(d, abs=1e-4)
