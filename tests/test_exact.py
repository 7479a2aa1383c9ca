"""The exact eigenbasis backend against scipy's expm (an independent computation)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp
from scipy.linalg import expm

from echo_lab.backends import get_backend
from echo_lab.backends.base import half_chain_entropy
from echo_lab.backends.exact import ExactBackend, diagonalize
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.physics import models
from echo_lab.physics.linalg import embed
from echo_lab.physics.states import probe_state

X = np.array([[0, 1], [1, 0]], dtype=complex)


def test_hahn_echo_equals_expm_product() -> None:
    n, probe = 6, 2
    h = models.RandomFieldXXZ(n=n, W=5.0, Jz=0.7, seed=11).hamiltonian()
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(2))
    seq = PulseSequence([Free(0.3), Pulse(X, (probe,), "X"), Free(0.7)])
    sx = SparsePauliOp.from_sparse_list([("X", [probe], 1.0)], n)
    times = np.array([0.0, 0.4, 2.5])
    result = ExactBackend().run(h, seq, state, times, observables={"sx": sx}, entropy=True)
    hm = h.to_matrix()
    for k, t in enumerate(times):
        psi = expm(-1j * hm * 0.7 * t) @ embed(X, (probe,), n) @ expm(-1j * hm * 0.3 * t)
        psi = psi @ state.vector()
        assert result["sx"][k] == pytest.approx(
            np.real(psi.conj() @ sx.to_matrix() @ psi), abs=1e-10
        )
        assert result["entropy"][k] == pytest.approx(half_chain_entropy(psi, n), abs=1e-10)


def test_entropy_of_bell_pair_across_the_cut() -> None:
    # qubits 1 and 2 in a Bell pair straddle the cut of a 4-site chain: S = ln 2
    psi = np.zeros(16, dtype=complex)
    psi[0b0000] = psi[0b0110] = 1 / np.sqrt(2)
    assert half_chain_entropy(psi, 4) == pytest.approx(np.log(2), abs=1e-12)


def test_diagonalize_contract_and_registry() -> None:
    h = models.RandomFieldXXZ(n=5, W=3.0, seed=1).hamiltonian()
    energies, vectors = diagonalize(h)
    np.testing.assert_allclose(vectors @ np.diag(energies) @ vectors.T, h.to_matrix(), atol=1e-12)
    assert isinstance(get_backend("exact"), ExactBackend)
    with pytest.raises(ConfigError, match="unknown backend"):
        get_backend("qulacs")


def test_non_unitary_pulse_is_caught() -> None:
    n = 3
    h = models.RandomFieldXXZ(n=n, W=1.0, seed=0).hamiltonian()
    seq = PulseSequence([Free(0.5), Pulse(2 * X, (0,), "2X"), Free(0.5)])
    state = probe_state(n, 0, background="x")
    with pytest.raises(NumericalError, match="norm drifted"):
        ExactBackend().run(h, seq, state, np.array([1.0]), observables={})


def test_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="n <= 14"):
        diagonalize(SparsePauliOp("Z" * 15))
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "10M")
    with pytest.raises(MemoryError, match="needs about"):
        diagonalize(SparsePauliOp("Z" * 11))


@pytest.mark.parametrize("name", ["exact", "krylov", "trotter-exact", "aer", "estimator"])
def test_every_backend_rejects_a_state_of_the_wrong_size(name: str) -> None:
    h = models.RandomFieldXXZ(n=4, W=2.0, seed=0).hamiltonian()
    seq = PulseSequence([Free(1.0)])
    sx = SparsePauliOp.from_sparse_list([("X", [0], 1.0)], 4)
    with pytest.raises(ConfigError, match="initial state has 3 sites, the Hamiltonian 4"):
        get_backend(name).run(
            h, seq, probe_state(3, 0, background="x"), np.array([1.0]), observables={"sx": sx}
        )
    with pytest.raises(ConfigError, match="non-empty"):
        get_backend(name).run(
            h, seq, probe_state(4, 0, background="x"), np.array([]), observables={"sx": sx}
        )
