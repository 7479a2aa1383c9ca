"""Echo protocols: pulse placement (docs/pages/conventions.md section 6), validation, exact
refocusing checks."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.exact import ExactBackend
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.dynamics.schedule import Free
from echo_lab.errors import ConfigError
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.models import Lattice, PauliModel
from echo_lab.physics.states import ProductState, probe_state
from echo_lab.protocols.observables import fit_deer_coupling, probe_observables
from echo_lab.protocols.sequences import (
    PROTOCOLS,
    build_cpmg,
    build_pulse_train,
    build_sequence,
    locate_pulses,
)


def test_fid_is_one_free_segment() -> None:
    seq = build_sequence("fid", n=3, probe=0)
    assert seq.segments == (Free(1.0),) and locate_pulses(seq) == []


def test_hahn_pulse_sits_at_half_time() -> None:
    seq = build_sequence("hahn", n=3, probe=1)
    assert [(t, p.label) for t, p in locate_pulses(seq)] == [(0.5, "X_1")]
    assert [s.fraction for s in seq.segments if isinstance(s, Free)] == [0.5, 0.5]


@pytest.mark.parametrize("n_pulses", [1, 2, 3, 4, 7])
def test_cpmg_pulse_times(n_pulses: int) -> None:
    seq = build_sequence("cpmg", n=4, probe=2, n_pulses=n_pulses)
    times = [t for t, _ in locate_pulses(seq)]
    expected = [(2 * k - 1) / (2 * n_pulses) for k in range(1, n_pulses + 1)]
    np.testing.assert_allclose(times, expected, atol=1e-14)
    assert seq.name == f"cpmg-{n_pulses}"


def test_xy4_alternates_axes_at_cpmg4_times() -> None:
    seq = build_sequence("xy4", n=3, probe=0)
    located = locate_pulses(seq)
    assert [p.label for _, p in located] == ["X_0", "Y_0", "X_0", "Y_0"]
    np.testing.assert_allclose([t for t, _ in located], [1 / 8, 3 / 8, 5 / 8, 7 / 8], atol=1e-14)
    two_cycles = build_sequence("xy4", n=3, probe=0, n_pulses=8)
    assert len(two_cycles.pulses) == 8


def test_deer_and_global_flip_simultaneously() -> None:
    deer = locate_pulses(build_sequence("deer", n=5, probe=1, partner=3))
    assert [(t, p.label) for t, p in deer] == [(0.5, "X_1"), (0.5, "X_3")]
    flips = locate_pulses(build_sequence("global", n=4, probe=0))
    assert [(t, p.qubits) for t, p in flips] == [(0.5, (q,)) for q in range(4)]


def test_pulse_train_fractions_add_up() -> None:
    seq = build_pulse_train([[pbit_pulse(0)]] * 3, name="three")
    fractions = [s.fraction for s in seq.segments if isinstance(s, Free)]
    np.testing.assert_allclose(fractions, [1 / 6, 1 / 3, 1 / 3, 1 / 6])
    with pytest.raises(ConfigError, match="empty"):
        build_pulse_train([[]], name="bad")
    with pytest.raises(ConfigError, match="n_pulses"):
        build_cpmg(pbit_pulse(0), n_pulses=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "ramsey"}, "unknown protocol"),
        ({"probe": 5}, "outside the chain"),
        ({"probe": -1}, "outside the chain"),
        ({"protocol": "deer"}, "needs a partner"),
        ({"protocol": "deer", "partner": 1}, "must differ"),
        ({"protocol": "deer", "partner": 9}, "outside the chain"),
        ({"protocol": "hahn", "partner": 2}, "only used by"),
        ({"pulse": "lbit"}, "needs an l-bit system"),
        ({"pulse": "lbit:2"}, "needs an l-bit system"),
        ({"pulse": "tau"}, "unknown pulse spec"),
        ({"protocol": "cpmg", "n_pulses": 0}, "n_pulses"),
        ({"protocol": "xy4", "n_pulses": 6}, "multiple of 4"),
        ({"lattice": Lattice.chain(4)}, "lattice has 4 sites"),
        ({"n": 0}, "n must be"),
    ],
)
def test_build_sequence_validation(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"protocol": "hahn", "n": 5, "probe": 1} | kwargs
    with pytest.raises(ConfigError, match=message):
        build_sequence(**arguments)  # type: ignore[arg-type]


def test_radius_larger_than_chain_is_rejected_before_any_work() -> None:
    class NeverCalled(LBitSource):
        method = "never"

        @property
        def n(self) -> int:
            return 3

        def tau(self, a: str, i: int) -> np.ndarray:
            raise AssertionError("validation must happen before the l-bit operator is built")

        pulse = tau_observable = tau  # type: ignore[assignment]

    with pytest.raises(ConfigError, match="larger than the chain"):
        build_sequence("hahn", n=3, probe=0, pulse="lbit:3", source=NeverCalled())
    with pytest.raises(ConfigError, match="another chain"):
        build_sequence("hahn", n=4, probe=0, pulse="lbit:1", source=NeverCalled())


def static_field_model(n: int, fields: list[float]) -> PauliModel:
    terms = [("Z", [i], h) for i, h in enumerate(fields)]
    return PauliModel(SparsePauliOp.from_sparse_list(terms, n))


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p not in ("fid", "deer")])
def test_every_echo_refocuses_static_fields(protocol: str) -> None:
    n, probe = 4, 1
    model = static_field_model(n, [0.7, -1.3, 2.1, 0.4])
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(3))
    times = np.linspace(0.0, 20.0, 41)
    seq = build_sequence(protocol, n=n, probe=probe, n_pulses=4)
    result = ExactBackend().run(
        model.hamiltonian(), seq, state, times, observables=probe_observables(n, probe)
    )
    np.testing.assert_allclose(result["sx"], 1.0, atol=1e-12)
    np.testing.assert_allclose(result["sy"], 0.0, atol=1e-12)


def test_deer_accumulates_the_zz_coupling_exactly() -> None:
    """H = sum h_i Z_i + J Z_p Z_q: DEER refocuses the fields and keeps cos(4 J t), T = 2t."""
    n, probe, partner, coupling = 3, 0, 2, 0.37
    terms = [("Z", [0], 1.1), ("Z", [1], -0.6), ("Z", [2], 1.9), ("ZZ", [probe, partner], coupling)]
    hamiltonian = SparsePauliOp.from_sparse_list(terms, n)
    state = ProductState(np.array([[np.pi / 2, 0.0], [0.0, 0.0], [np.pi, 0.0]]))
    times = np.linspace(0.0, 60.0, 301)
    seq = build_sequence("deer", n=n, probe=probe, partner=partner)
    result = ExactBackend().run(
        hamiltonian, seq, state, times, observables=probe_observables(n, probe)
    )
    half_times = times / 2
    np.testing.assert_allclose(result["sx"], np.cos(4 * coupling * half_times), atol=1e-12)
    assert fit_deer_coupling(times, result["sx"]) == pytest.approx(coupling, rel=1e-6)


def test_window_pulses_build_through_build_sequence_and_only_for_single_probe_protocols() -> None:
    from echo_lab.lbits.window import window_lbits
    from echo_lab.physics import models

    model = models.RandomFieldXXZ(n=8, W=10.0, seed=4)
    window = window_lbits(model, 4, width=5)
    hahn = build_sequence("hahn", n=8, probe=4, pulse="window:5:1", source=window)
    (pulse,) = hahn.pulses
    expected = window.pulse(4, radius=1)
    assert pulse.qubits == expected.qubits
    np.testing.assert_allclose(pulse.matrix, expected.matrix, atol=1e-14)
    for protocol, extra in (("global", {}), ("deer", {"partner": 2})):
        with pytest.raises(ConfigError, match="does not take window pulse"):
            build_sequence(protocol, n=8, probe=4, pulse="window:5", source=window, **extra)
    with pytest.raises(ConfigError, match="window_lbits"):
        build_sequence("hahn", n=8, probe=3, pulse="window:5", source=window)
