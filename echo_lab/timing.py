"""Wall-clock time per named stage, measured where the work happens.

Code marks its expensive steps with :func:`stage`; nothing is recorded (one ``ContextVar``
lookup per call) unless a caller collects them with :func:`record_stages`::

    with record_stages() as seconds:
        run_study(spec, out=folder)
    seconds   # {"diagonalization": 3.1, "evolution": 40.2, ...}

Times are **exclusive**: a stage entered inside another stage is subtracted from the outer one,
so the stages of one run add up to at most its wall-clock time and never count a second twice.
Stages are recorded in the thread (and asyncio task) that runs them; work sent to Dask workers
is not seen by the caller's recorder. The stage names used by the package are in
:data:`STAGES`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["STAGES", "record_stages", "stage"]

#: Stage names the package records, in the order of a study run.
STAGES = (
    "diagonalization",
    "l-bit assignment",
    "l-bit observables",
    "pulses",
    "evolution",
    "check backend",
    "results and checkpoint I/O",
    "plots",
)


@dataclass
class _Recorder:
    seconds: dict[str, float] = field(default_factory=dict)
    #: Time spent in the stages nested directly inside each open stage, innermost last.
    nested: list[float] = field(default_factory=list)


_RECORDER: ContextVar[_Recorder | None] = ContextVar("echo_lab_stage_recorder", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the time of the ``with`` body under ``name`` (exclusive of nested stages)."""
    recorder = _RECORDER.get()
    if recorder is None:
        yield
        return
    recorder.nested.append(0.0)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        inner = recorder.nested.pop()
        recorder.seconds[name] = recorder.seconds.get(name, 0.0) + elapsed - inner
        if recorder.nested:
            recorder.nested[-1] += elapsed


@contextmanager
def record_stages() -> Iterator[dict[str, float]]:
    """Collect the stage times of the ``with`` body into the yielded dict (filled on exit too).

    Recorders nest: an inner ``record_stages`` hides the body's stages from the outer one.
    """
    recorder = _Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder.seconds
    finally:
        _RECORDER.reset(token)
