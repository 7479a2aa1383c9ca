"""Error mitigation on a simulated device recovers the noiseless echo (slow: ~1 minute)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "qiskit_ibm_runtime", reason="the [hardware] extra (qiskit-ibm-runtime) is not installed"
)

from echo_lab.backends.trotter_exact import TrotterExactBackend
from echo_lab.dynamics.pulses import pbit_pulse
from echo_lab.hardware.backend import DeviceBackend
from echo_lab.hardware.mitigation import MitigationSpec
from echo_lab.physics import models, states
from echo_lab.protocols import observables
from echo_lab.protocols import sequences as protocols


@pytest.mark.slow
def test_zne_recovers_the_noiseless_echo_where_the_raw_one_is_off() -> None:
    n, p = 5, 2
    H = models.RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=1).hamiltonian()
    sequence = protocols.build_hahn(pbit_pulse(p))
    state = states.probe_state(n, p, background="z-random", rng=np.random.default_rng(1))
    ops = {"sx": observables.probe_observables(n, p)["sx"]}
    times = np.array([1.0, 2.0])
    ideal = TrotterExactBackend(dt=0.25).run(H, sequence, state, times, observables=ops)["sx"]
    spec = MitigationSpec.from_names(("twirling", "readout", "zne"), randomizations=8)
    backend = DeviceBackend("fez", dt=0.25, shots=16000, mitigation=spec, seed=5)
    out = backend.run(H, sequence, state, times, observables=ops)
    off = np.abs(out["sx_raw"] - ideal) > 0.1
    assert np.any(off), "the noise must matter for this test to mean anything"
    error = np.abs(out["sx_mitigated"] - ideal)
    assert np.all(error[off] <= 3 * out["sx_mitigated_stderr"][off])
    assert np.all(error[off] < np.abs(out["sx_raw"] - ideal)[off])
