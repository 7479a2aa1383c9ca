"""The MPS peers of experiments/benchmarks/bench_mps_peers.py on an 8-site chain.

What is asserted: the peers' bond Hamiltonians add up to echo_lab's H; at a bond dimension that
truncates nothing quimb's and TeNPy's TEBD and echo_lab's Aer MPS give the echo of echo_lab's
``trotter-exact`` backend (the same product formula, orders 2 and 4, a half that is not a
multiple of dt included) to 1e-8; a capped bond dimension changes the echo by more than that
(the truncation reaches the engines); bad input is refused before any evolution. TeNPy's
two-site TDVP (no Trotter split) at a bond dimension that truncates nothing follows the exact
(Krylov) echo within its stated tolerance, its error shrinking at least as fast as second order
in dt.
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


def test_tdvp_follows_the_exact_echo_and_its_error_shrinks_with_dt() -> None:
    times = (1.0,)  # halves of 0.5: one and two sweeps of dt = 0.5 and 0.25
    exact = mps_peers.exact_echo(INSTANCE, times)
    errors = {}
    for dt in (0.5, 0.25):
        run = mps_peers.tdvp_echo(INSTANCE, times, Truncation(dt, 2, 16, 0.0))
        errors[dt] = float(np.max(np.abs(run.echo - exact)))
        assert run.max_bond_reached == 16  # the full bond of 8 sites: no projection error
    # measured: 2.2e-2 at dt = 0.5, 1.6e-3 at dt = 0.25 (a second-order sweep: >= 4x per halving)
    assert errors[0.25] <= 5e-3
    assert errors[0.25] < errors[0.5] / 3


def test_tdvp_refuses_a_trotter_order_and_steps_are_counted_as_the_halves_chain() -> None:
    with pytest.raises(ConfigError, match="order=2"):
        mps_peers.tdvp_echo(INSTANCE, (1.0,), Truncation(0.1, 4, 16, 0.0))
    # T = 1, 2 at dt = 0.5: halves of 1 then 2 steps, chained: 1 + 1 + (2 - 1) + 2
    assert mps_peers.chained_step_count((2.0, 1.0), 0.5) == 5
    # T = 0.5 fits 3 steps of 1/12 (another step length): the chain restarts at T = 1
    assert mps_peers.chained_step_count((0.5, 1.0), 0.1) == 3 + 3 + 5 + 5
