"""Serial and Dask execution of work units give bit-identical results."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

from echo_lab.errors import ConfigError
from echo_lab.study import executor as sweep
from echo_lab.study.executor import run_units


def symmetric_matrices(count: int, size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    out = []
    for _ in range(count):
        a = rng.standard_normal((size, size))
        out.append(a + a.T)
    return out


def test_serial_run_yields_every_unit_once_in_order() -> None:
    units = [3, 1, 4, 1, 5]
    results = list(run_units(np.square, units, progress=False))
    assert results == [(i, u * u) for i, u in enumerate(units)]


def test_two_worker_dask_cluster_equals_serial_bit_for_bit() -> None:
    matrices = symmetric_matrices(6, 300)
    serial = dict(run_units(np.linalg.eigh, matrices, progress=False))
    parallel = dict(run_units(np.linalg.eigh, matrices, workers=2, progress=False))
    assert sorted(parallel) == list(range(len(matrices)))
    for i in range(len(matrices)):
        assert np.array_equal(serial[i][0], parallel[i][0])
        assert np.array_equal(serial[i][1], parallel[i][1])
    # the eigenvalues are right, too (not just equally wrong)
    np.testing.assert_allclose(serial[0][0], np.linalg.eigvalsh(matrices[0]), atol=1e-10)


@pytest.mark.parametrize(
    ("workers", "scheduler", "words"),
    [(-1, None, "workers"), (2, "tcp://127.0.0.1:1", "not both"), (True, None, "workers")],
)
def test_invalid_execution_options(workers: int, scheduler: str | None, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        list(run_units(np.square, [1, 2], workers=workers, scheduler=scheduler, progress=False))


def test_an_error_in_a_unit_propagates() -> None:
    with pytest.raises(np.linalg.LinAlgError):
        list(run_units(np.linalg.inv, [np.eye(2), np.zeros((2, 2))], progress=False))


def _unit_that_loses_an_interrupt(k: int) -> int:
    """Unit 1 gets SIGINT and swallows the KeyboardInterrupt, as a ``__del__`` would."""
    if k == 1:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises during the sleep
            raise AssertionError("SIGINT was not delivered")
        except KeyboardInterrupt:
            pass
    return k


@pytest.fixture
def sigint_default() -> Iterator[None]:
    """Python's usual SIGINT handler for the test (a background CI shell may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_default")
def test_an_interrupt_lost_inside_a_unit_still_stops_the_run_before_the_next_unit() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), sweep.interruptible():
        for index, result in run_units(_unit_that_loses_an_interrupt, [0, 1, 2, 3], progress=False):
            finished.append((index, result))
    # unit 1 finished (and would be checkpointed by the caller); units 2 and 3 never started
    assert finished == [(0, 0), (1, 1)]
    assert not sweep.interrupt_requested()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # outside interruptible() a swallowed interrupt is lost: the run goes to the end
    assert [i for i, _ in run_units(_unit_that_loses_an_interrupt, [0, 1, 2], progress=False)] == [
        0,
        1,
        2,
    ]


def test_an_ignored_sigint_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with sweep.interruptible():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)  # ignored: nothing is raised, no flag is set
            time.sleep(0.05)
            assert not sweep.interrupt_requested()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_local_cluster_never_drops_a_silent_worker() -> None:
    # Aer holds the GIL through a simulation, so a worker in a long Aer call sends no
    # heartbeats; with a worker-ttl the scheduler would drop it and restart the unit forever.
    import dask

    from echo_lab.study.executor import start_local_cluster

    cluster = start_local_cluster(1)
    try:
        assert cluster.scheduler.worker_ttl is None
    finally:
        cluster.close()
    # The setting is scoped to the cluster: the global default is untouched.
    assert dask.config.get("distributed.scheduler.worker-ttl") is not None
