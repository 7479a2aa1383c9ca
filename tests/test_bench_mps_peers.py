"""The MPS peers of experiments/benchmarks/bench_mps_peers.py on an 8-site chain.

What is asserted: the peers' bond Hamiltonians add up to echo_lab's H; at a bond dimension that
truncates nothing quimb's and TeNPy's TEBD and echo_lab's Aer MPS give the echo of echo_lab's
``trotter-exact`` backend (the same product formula, orders 2 and 4, a half that is not a
multiple of dt included) to 1e-8; a capped bond dimension changes the echo by more than that
(the truncation reaches the engines); bad input is refused before any evolution.
"""

from __future__ import annotations

import numpy as np
import pytest

from echo_lab.bench import mps_peers
from echo_lab.bench.mps_peers import EchoInstance, Truncation
from echo_lab.errors import ConfigError

pytest.importorskip("quimb")
pytest.importorskip("tenpy")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

INSTANCE = EchoInstance(n=8, W=8.0, seed=3)
#: T = 0.5: each half is 3 steps of 0.0833 (restarting the chained halves); 1 and 2: steps of dt.
TIMES = (0.5, 1.0, 2.0)
PEERS = ("echo_lab_aer", "quimb_tebd", "tenpy_tebd")


def test_bond_hamiltonians_add_up_to_the_chain_hamiltonian() -> None:
    n = INSTANCE.n
    total = np.zeros((2**n, 2**n), dtype=complex)
    for i, bond in enumerate(mps_peers.bond_hamiltonians(INSTANCE)):
        # site i first: kron(1 on sites < i, bond, 1 on sites > i + 1) in that reading order,
        # whose basis index has site 0 most significant; reverse the bits to Qiskit's order.
        total += np.kron(np.kron(np.eye(2**i), bond), np.eye(2 ** (n - i - 2)))
    order = [int(format(k, f"0{n}b")[::-1], 2) for k in range(2**n)]
    expected = INSTANCE.hamiltonian.to_matrix()
    np.testing.assert_allclose(total[np.ix_(order, order)], expected, atol=1e-12)


@pytest.mark.parametrize("order", [2, 4])
def test_peers_match_trotter_exact_without_truncation(order: int) -> None:
    truncation = Truncation(dt=0.1, order=order, max_bond=16, cutoff=0.0)
    times = TIMES if order == 2 else TIMES[:2]  # order 4: five Strang steps per step
    reference = mps_peers.trotter_exact_echo(INSTANCE, times, truncation)
    exact = mps_peers.exact_echo(INSTANCE, times)
    # the reference is not the exact dynamics: the Trotter error separates them
    assert np.max(np.abs(reference - exact)) > 1e-7
    for name in PEERS:
        run = mps_peers.run_engine(name, INSTANCE, times, truncation)
        np.testing.assert_allclose(run.echo, reference, atol=1e-8, err_msg=name)
        if run.max_bond_reached is not None:
            assert 2 < run.max_bond_reached <= 16


def test_a_capped_bond_changes_every_peers_echo() -> None:
    untruncated = Truncation(dt=0.1, order=2, max_bond=16, cutoff=0.0)
    capped = Truncation(dt=0.1, order=2, max_bond=2, cutoff=0.0)
    times = (4.0,)
    reference = mps_peers.trotter_exact_echo(INSTANCE, times, untruncated)
    for name in PEERS:
        run = mps_peers.run_engine(name, INSTANCE, times, capped)
        assert np.max(np.abs(run.echo - reference)) > 1e-6, name
        assert run.max_bond_reached in (None, 2)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="even chain"):
        EchoInstance(n=9, W=8.0)
    with pytest.raises(ConfigError, match="order 2 or 4"):
        Truncation(dt=0.1, order=1, max_bond=8, cutoff=0.0)
    with pytest.raises(ConfigError, match="cutoff"):
        Truncation(dt=0.1, order=2, max_bond=8, cutoff=1.5)
    with pytest.raises(ConfigError, match="unknown MPS engine"):
        mps_peers.run_engine("itensor", INSTANCE, TIMES, Truncation(0.1, 2, 8, 0.0))
    with pytest.raises(ConfigError, match="total times"):
        mps_peers.run_engine("quimb_tebd", INSTANCE, (0.0,), Truncation(0.1, 2, 8, 0.0))


def test_available_engines_names_every_engine() -> None:
    status = mps_peers.available_engines()
    assert set(status) == set(mps_peers.ENGINES)
    assert status["quimb_tebd"] == status["tenpy_tebd"] == "available"
    from echo_lab.backends.registry import registered_backends

    if "quimb" not in registered_backends():
        assert "registered" in status["echo_lab_quimb"]
