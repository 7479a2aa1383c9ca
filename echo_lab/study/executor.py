"""Run independent work units serially or on Dask distributed, with identical results.

:func:`run_units` calls ``func(unit)`` for every unit and yields ``(index, result)`` pairs as
units finish (in completion order, so a caller can checkpoint each one at once):

* ``workers=0`` and no ``scheduler``: serial, in this process;
* ``workers=K``: a local Dask cluster, ``LocalCluster(n_workers=K, threads_per_worker=1)``,
  started here and closed when the iteration ends;
* ``scheduler="tcp://host:port"``: an existing Dask scheduler (``Client(address)``).

Every call of ``func`` runs inside ``threadpoolctl.threadpool_limits(1)`` in all three modes:
BLAS / LAPACK then use one thread, so their summation order, and hence every floating-point
result, is the same bit for bit whether a unit ran serially or on any worker. Parallelism comes
from running units side by side. Dask is the optional extra ``echo_lab[dask]``; it is imported
only when asked for, and a missing install raises :class:`~echo_lab.errors.ConfigError`.

**Ctrl-C** (:func:`interruptible`, used by the ``echo-lab`` command): SIGINT raises
``KeyboardInterrupt`` as usual and also sets a flag that :func:`run_units` checks before every
further unit and after the last (:func:`stop_if_interrupted`). Python loses a
``KeyboardInterrupt`` raised while a ``__del__`` method or a weakref callback runs (it prints
"Exception ignored" and goes on), and libraries close files from those; the flag makes sure an
interrupted run still stops at the next unit boundary, with the finished units checkpointed,
instead of running to the end (seen once under load), and remembers which signal it was (a
swallowed SIGTERM once ended as "interrupted", exit 130, or near the end of a run as exit 0).
While a local Dask cluster starts, both signals are deferred to the end of the start-up
(:func:`start_local_cluster`), and the workers never receive SIGINT.

**SIGTERM** (``kill``, a batch system's time limit) is handled the same way and raises
:class:`Terminated`, a ``KeyboardInterrupt``: the local Dask cluster is then closed, which ends
its worker processes. Without the handler Python dies at once and leaves the workers orphaned,
each running its unit to the end (seen: a worker inside a long Aer simulation kept a core busy
until that simulation ended, long after its run was killed).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from echo_lab.errors import ConfigError
from echo_lab.resources import (
    USABLE_FRACTION,
    available_memory_bytes,
    format_bytes,
    usable_cores,
)

__all__ = [
    "SCHEDULER_TIMEOUT",
    "WORKER_OVERHEAD_BYTES",
    "Terminated",
    "call_single_threaded",
    "check_parallel",
    "check_scheduler",
    "check_workers",
    "interrupt_requested",
    "interruptible",
    "max_workers",
    "run_units",
    "stop_if_interrupted",
]

#: Memory of one Dask worker process besides its work unit (Python with numpy, SciPy, Qiskit
#: and Aer imported: about 250 MB resident, measured), bytes.
WORKER_OVERHEAD_BYTES = 300 * 2**20

#: Seconds to wait for a Dask scheduler before giving up with a ConfigError.
SCHEDULER_TIMEOUT = 10

U = TypeVar("U")
R = TypeVar("R")

_INTERRUPTED = threading.Event()
#: Whether the sticky flag was set by SIGTERM (then it reads as Terminated, exit 143).
_TERMINATED = threading.Event()


def interrupt_requested() -> bool:
    """True after SIGINT or SIGTERM inside :func:`interruptible` (until it exits)."""
    return _INTERRUPTED.is_set()


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM inside :func:`interruptible` (module docstring)."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _INTERRUPTED.set()
    if signum == signal.SIGTERM:
        _TERMINATED.set()
        raise Terminated
    raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` and SIGTERM :class:`Terminated`,
    and either sets a sticky flag (module docstring) that :func:`run_units` honours between
    units. It does nothing outside the main thread (where Python cannot install signal handlers)
    and leaves an ignored signal alone (a run started with ``nohup`` or in the background of a
    script stays immune to SIGINT), and SIGTERM also when it already has a handler of its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is signal.SIG_IGN or (
            signum == signal.SIGTERM and handler is not signal.SIG_DFL
        ):
            continue
        previous[signum] = signal.signal(signum, _on_signal)
    _INTERRUPTED.clear()
    _TERMINATED.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _INTERRUPTED.clear()
        _TERMINATED.clear()


def stop_if_interrupted() -> None:
    """Raise :class:`Terminated` (after SIGTERM) or ``KeyboardInterrupt`` (after SIGINT) if a
    signal arrived inside :func:`interruptible`, even one whose exception Python swallowed in a
    weakref callback or ``__del__`` (module docstring); nothing otherwise. :func:`run_units`
    calls it before every unit and after the last; the ``echo-lab`` command after the command,
    so such a signal never ends in exit 0 or in the wrong exit code."""
    if _INTERRUPTED.is_set():
        raise Terminated if _TERMINATED.is_set() else KeyboardInterrupt


@contextlib.contextmanager
def _signals_deferred(received: list[int]) -> Iterator[None]:
    """Within the block (main thread only): SIGINT is blocked in this thread, and Python-level
    SIGINT / SIGTERM handlers only append the signal to ``received``.

    Threads and processes started inside the block inherit the blocked SIGINT: a LocalCluster
    starts its own IO-loop thread there, whose threads spawn the worker processes, so those
    never see a Ctrl-C (the cluster is closed for them, without a traceback from every
    worker). The main process records a signal instead of raising it in the middle
    of the cluster's start-up (which printed Dask's tracebacks: ``AssertionError:
    Status.init``, ``CommClosedError``); a SIGINT that arrived while blocked is recorded when
    the block ends. An ignored signal stays ignored, and a default SIGTERM stays fatal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = signal.signal(signum, record)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # runs a pending SIGINT's handler
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def max_workers(per_unit_bytes: int) -> int:
    """The most local Dask workers that can help: no more than the usable cores (at least 2),
    and no more than fit in memory with one unit each (:data:`WORKER_OVERHEAD_BYTES` added)."""
    per_worker = per_unit_bytes + WORKER_OVERHEAD_BYTES
    memory_bound = int(USABLE_FRACTION * available_memory_bytes() // per_worker)
    return max(1, min(max(2, usable_cores()), memory_bound))


def check_parallel(workers: int, scheduler: str | None) -> None:
    """ConfigError for a ``workers`` count that is not an integer >= 0, or for both ``workers``
    and ``scheduler`` (cheap: :func:`echo_lab.study.runner.run_study` calls it before anything)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigError(f"--workers must be an integer >= 0 (0 runs serially), got {workers!r}")
    if workers and scheduler:
        raise ConfigError(
            "give either --workers (a local cluster) or --scheduler (an existing one), not both"
        )


def check_workers(workers: int, *, per_unit_bytes: int) -> None:
    """ConfigError for a ``workers`` count that is not an integer >= 0 or exceeds
    :func:`max_workers` (each worker is a process holding one unit), before anything starts."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigError(f"--workers must be an integer >= 0 (0 runs serially), got {workers!r}")
    bound = max_workers(per_unit_bytes)
    if workers > bound:
        raise ConfigError(
            f"--workers {workers} is more than this machine can use: at most {bound} "
            f"({usable_cores()} usable cores; {format_bytes(available_memory_bytes())} available, "
            f"about {format_bytes(per_unit_bytes + WORKER_OVERHEAD_BYTES)} per worker); use "
            f"--workers {bound} or fewer, or --scheduler for a cluster of machines"
        )


def call_single_threaded(func: Callable[[U], R], unit: U) -> R:
    """``func(unit)`` with BLAS / OpenMP pools limited to one thread (module docstring)."""
    with threadpool_limits(limits=1):
        return func(unit)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "parallel runs (workers > 0 or a scheduler address) need Dask: install the extra "
            "with `pip install 'echo_lab[dask]'`, or run serially with workers = 0"
        ) from None
    return distributed


def start_local_cluster(workers: int) -> Any:
    """A local Dask cluster of ``workers`` single-threaded worker processes (no dashboard).

    One thread per worker: parallelism comes from processes, and each unit's BLAS runs on one
    thread, as in serial runs, so the results are identical bit for bit.
    """
    distributed = _import_distributed()
    from multiprocessing import resource_tracker

    import dask

    # Aer holds the GIL for a whole simulation (measured: docs/pages/benchmarks.md, "Costs
    # quoted in the code"), so a worker inside a long Aer call
    # sends no heartbeats. With Dask's default worker-ttl (5 minutes) the scheduler then drops
    # the worker, the nanny restarts it and the unit starts again, forever (seen: N = 24, W = 8
    # echo units on Aer MPS). Local workers are never dropped for silence.
    #
    # Workers start with SIGINT blocked (_signals_deferred): Ctrl-C then reaches only this
    # process, which closes the cluster, instead of printing every worker's traceback. (They
    # used to start with SIGINT ignored in this process too, which lost a Ctrl-C pressed during
    # the start-up: the run went on to the end.) A signal during the start-up is delivered
    # once the cluster is up, after closing it. multiprocessing starts its resource tracker at
    # the first spawn, in the spawning thread, and unblocks SIGINT there afterwards
    # (resource_tracker.ensure_running): workers spawned later from that thread saw Ctrl-C (2
    # of 6 start-ups failed, "Nanny failed to start"). It is started here, before the block.
    resource_tracker.ensure_running()
    received: list[int] = []
    with (
        _signals_deferred(received),
        dask.config.set({"distributed.scheduler.worker-ttl": None}),
    ):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    if received:
        cluster.close()
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)  # the handler restored above raises
    return cluster


def check_scheduler(scheduler: str) -> None:
    """Connect to the Dask scheduler at ``scheduler`` once and disconnect (ConfigError as in
    :func:`connect`): a bad address is refused before a run creates anything."""
    connect(_import_distributed(), scheduler).close()


def connect(distributed: Any, scheduler: str) -> Any:
    """A Dask client of the scheduler at ``scheduler``; ConfigError naming the address when it
    is malformed or nothing answers within :data:`SCHEDULER_TIMEOUT` seconds."""
    try:
        return distributed.Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT}s")
    except (OSError, ValueError, TypeError, AssertionError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ConfigError(
            f"cannot connect to the Dask scheduler at {scheduler!r} ({reason[:200]}); give its "
            "address as tcp://HOST:PORT and check that it runs and can be reached"
        ) from None


def run_units(
    func: Callable[[U], R],
    units: Sequence[U],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
    description: str = "work units",
) -> Iterator[tuple[int, R]]:
    """Yield ``(i, func(units[i]))`` for every unit, as each finishes (see module docstring).

    ``func`` and the units must be picklable for the Dask modes (a module-level function, or a
    ``functools.partial`` of one). A tqdm progress bar over the units is shown on stderr when
    ``progress``. Raises :class:`ConfigError` for ``workers < 0``, for both ``workers`` and
    ``scheduler``, or when Dask is missing; an exception raised by ``func`` propagates (the
    cluster is closed first). Memory: each worker holds one unit's working set at a time.
    """
    check_parallel(workers, scheduler)
    from tqdm.auto import tqdm

    with tqdm(total=len(units), desc=description, disable=not progress, unit="unit") as bar:
        if not workers and not scheduler:
            for index, unit in enumerate(units):
                stop_if_interrupted()
                result = call_single_threaded(func, unit)
                bar.update(1)
                yield index, result
        else:
            yield from _run_distributed(func, units, workers=workers, scheduler=scheduler, bar=bar)
    stop_if_interrupted()  # a signal swallowed during the last unit (module docstring)


def _run_distributed(
    func: Callable[[U], R],
    units: Sequence[U],
    *,
    workers: int,
    scheduler: str | None,
    bar: Any,
) -> Iterator[tuple[int, R]]:
    distributed = _import_distributed()
    cluster = None
    if scheduler:
        client = connect(distributed, scheduler)
    else:
        cluster = start_local_cluster(workers)
        client = distributed.Client(cluster)
    try:
        futures = [client.submit(call_single_threaded, func, unit, pure=False) for unit in units]
        index_of = {future.key: i for i, future in enumerate(futures)}
        for future in distributed.as_completed(futures):
            stop_if_interrupted()
            result = future.result()
            bar.update(1)
            yield index_of[future.key], result
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
