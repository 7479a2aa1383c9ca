"""Product states, probe backgrounds and pulse-sequence validation."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.states import ProductState, probe_state


def test_vector_matches_preparation_circuit() -> None:
    rng = np.random.default_rng(4)
    state = probe_state(5, 2, background="random-bloch", rng=rng)
    prepared = Statevector(state.circuit()).data
    overlap = abs(np.vdot(prepared, state.vector()))
    assert overlap == pytest.approx(1.0, abs=1e-12)


def test_probe_is_plus_and_backgrounds() -> None:
    neel = probe_state(4, 1, background="neel")
    vec = neel.vector()
    # sites 0, 2 in |0>, site 3 in |1>, probe (site 1) in |+>: indices 0b1000 and 0b1010
    expected = np.zeros(16)
    expected[[0b1000, 0b1010]] = 1 / np.sqrt(2)
    np.testing.assert_allclose(vec, expected, atol=1e-12)
    assert neel.bits().tolist() == [0, -1, 0, 1]
    x = probe_state(3, 0, background="x").vector()
    np.testing.assert_allclose(x, np.full(8, 1 / np.sqrt(8)), atol=1e-12)
    z = probe_state(6, 3, background="z-random", rng=np.random.default_rng(0))
    assert set(z.bits()[[0, 1, 2, 4, 5]].tolist()) <= {0, 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 4, "probe": 4}, "outside the chain"),
        ({"n": 4, "probe": 0, "background": "y"}, "unknown background"),
        ({"n": 4, "probe": 0, "background": "z-random"}, "random generator"),
    ],
)
def test_bad_probe_states(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        probe_state(**kwargs)  # type: ignore[arg-type]


def test_sequence_validation() -> None:
    x = np.array([[0, 1], [1, 0]])
    seq = PulseSequence([Free(0.5), Pulse(x, (1,), "X_1"), Free(0.5)])
    assert [p.label for p in seq.pulses] == ["X_1"]
    with pytest.raises(ConfigError, match="add up"):
        PulseSequence([Free(0.5)])
    with pytest.raises(ConfigError, match="needs a 4x4"):
        Pulse(x, (0, 1), "bad")
    with pytest.raises(ConfigError, match=">= 0"):
        Free(-0.1)
    with pytest.raises(ConfigError, match="shape"):
        ProductState(np.zeros((3, 3)))
