"""How every benchmark measures: interleaved repeats, min and median, load, copy bandwidth.

The rules (issue 14), applied by every benchmark of :mod:`echo_lab.bench`:

* **Interleaved variants.** The variants of one comparison run in rounds, A B C A B C ...
  (:func:`time_interleaved`), never A A A B B B, so a change of load during the measurement
  hits every variant alike.
* **Min and median.** Every timing keeps the time of each repeat and reports its minimum and
  median (:func:`summarize`); ratios are taken of the minima (the least disturbed runs), and the
  ratio of the medians is recorded beside them.
* **Load.** Each comparison records the 1-minute load average before and after it
  (:func:`watch_load`); a ratio measured while the load average exceeded the core count is
  flagged ``overloaded`` (its targets are then not judged: see :func:`judge`).
* **Named baselines.** A ratio is ``numerator / baseline``, both named in the record
  (:func:`make_ratio`).
* **Copy bandwidth.** :func:`measure_copy_bandwidth` is the speed of ``numpy.copyto``, read +
  write, the yardstick of the memory-bound state-vector kernels.

Nothing here prints; the timers use ``time.perf_counter``.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from echo_lab.errors import ConfigError
from echo_lab.resources import require_memory, statevector_bytes, usable_cores

__all__ = [
    "judge",
    "load_average",
    "make_ratio",
    "measure_copy_bandwidth",
    "per_step_seconds",
    "summarize",
    "time_interleaved",
    "time_per_step",
    "time_repeats",
    "watch_load",
]

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


def load_average() -> float:
    """The 1-minute load average of the machine (0.0 where the OS does not report one)."""
    try:
        return float(os.getloadavg()[0])
    except OSError:
        return 0.0


def _check_repeats(repeats: int) -> None:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer >= 1, got {repeats!r}")


def time_repeats(action: Callable[[], R], *, repeats: int) -> tuple[list[float], R]:
    """Wall times of ``repeats`` calls of ``action`` and the last result (one variant only)."""
    _check_repeats(repeats)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def time_interleaved(
    actions: Mapping[K, Callable[[], R]], *, repeats: int
) -> tuple[dict[K, list[float]], dict[K, R]]:
    """Time the variants in rounds A B ... A B ...: per key, its ``repeats`` wall times.

    Returns ``(seconds, results)``: ``seconds[key]`` lists the time of each round in order,
    ``results[key]`` is the result of the last round. The order inside a round is the order of
    ``actions``.
    """
    _check_repeats(repeats)
    if not actions:
        raise ConfigError("time_interleaved needs at least one action")
    seconds: dict[K, list[float]] = {name: [] for name in actions}
    results: dict[K, R] = {}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            results[name] = action()
            seconds[name].append(time.perf_counter() - start)
    return seconds, results


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    """``{"seconds": [every repeat], "min": ..., "median": ...}`` of a list of times."""
    if not seconds:
        raise ConfigError("summarize needs at least one time")
    values = [float(s) for s in seconds]
    return {"seconds": values, "min": min(values), "median": statistics.median(values)}


def per_step_seconds(
    low: Sequence[float], high: Sequence[float], *, k_low: int, k_high: int
) -> dict[str, float]:
    """Seconds per step from runs of ``k_low`` and ``k_high`` steps: ``(t_high - t_low) / dk``.

    The difference removes the fixed cost of a run (allocation, preparation, result handling).
    ``min`` uses the minima over repeats, ``median`` the medians. ConfigError unless
    ``k_high > k_low``.
    """
    if k_high <= k_low:
        raise ConfigError(f"k_high must exceed k_low, got {k_low} and {k_high}")
    steps = k_high - k_low
    return {
        "min": (min(high) - min(low)) / steps,
        "median": (statistics.median(high) - statistics.median(low)) / steps,
    }


def time_per_step(
    runs: Mapping[str, Callable[[int], Callable[[], object]]],
    *,
    k_low: int,
    k_high: int,
    repeats: int,
    step_counts: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Seconds per step of each variant, all variants and both step counts interleaved.

    ``runs[name](k)`` prepares variant ``name`` with ``k`` steps (built outside the timing) and
    returns the action to time. ``step_counts`` overrides ``(k_low, k_high)`` per variant (a
    fast variant needs more steps for its difference to stand above the noise of its fixed
    cost). Per name: ``k_low``, ``k_high``, ``seconds_k_low`` / ``seconds_k_high``
    (:func:`summarize`), ``seconds_per_step``, ``{"min": ..., "median": ...}``
    (:func:`per_step_seconds`; a valid timing for :func:`make_ratio`), and ``resolved``: False
    when the difference is not positive (noise exceeded the steps' cost; use more steps).
    """
    counts = {name: (step_counts or {}).get(name, (k_low, k_high)) for name in runs}
    actions = {(name, k): runs[name](k) for name in runs for k in counts[name]}
    seconds, _ = time_interleaved(actions, repeats=repeats)
    out = {}
    for name, (low_k, high_k) in counts.items():
        low, high = seconds[(name, low_k)], seconds[(name, high_k)]
        step = per_step_seconds(low, high, k_low=low_k, k_high=high_k)
        out[name] = {
            "k_low": low_k,
            "k_high": high_k,
            "seconds_k_low": summarize(low),
            "seconds_k_high": summarize(high),
            "seconds_per_step": step,
            "resolved": bool(step["min"] > 0 and step["median"] > 0),
        }
    return out


@contextmanager
def watch_load() -> Iterator[dict[str, Any]]:
    """Record the load around the ``with`` body into the yielded dict (filled on exit).

    Keys: ``load_average_before``, ``load_average_after`` (1-minute averages), ``cores``
    (:func:`usable_cores`) and ``overloaded``: True when either load average exceeds the cores,
    i.e. other work competed with the measurement for the CPUs.
    """
    cores = usable_cores()
    record: dict[str, Any] = {"load_average_before": load_average(), "cores": cores}
    try:
        yield record
    finally:
        record["load_average_after"] = load_average()
        record["overloaded"] = bool(
            max(record["load_average_before"], record["load_average_after"]) > cores
        )


def make_ratio(
    numerator: Sequence[float] | Mapping[str, float],
    baseline: Sequence[float] | Mapping[str, float],
    *,
    numerator_name: str,
    baseline_name: str,
    load: Mapping[str, Any],
) -> dict[str, Any]:
    """``numerator / baseline`` of two timings, with both names and the load it was taken under.

    Each timing is a list of repeat times or a ``{"min": ..., "median": ...}`` mapping (as
    :func:`per_step_seconds` returns). ``value`` is the ratio of the minima, ``value_median``
    that of the medians; ``overloaded`` comes from ``load`` (a :func:`watch_load` record).
    """

    def stats(timing: Sequence[float] | Mapping[str, float]) -> tuple[float, float]:
        if isinstance(timing, Mapping):
            return float(timing["min"]), float(timing["median"])
        return min(timing), statistics.median(timing)

    top, bottom = stats(numerator), stats(baseline)
    return {
        "value": top[0] / bottom[0],
        "value_median": top[1] / bottom[1],
        "numerator": numerator_name,
        "baseline": baseline_name,
        "statistic": "min over repeats (value_median: medians)",
        "load_average": [load["load_average_before"], load["load_average_after"]],
        "overloaded": bool(load["overloaded"]),
    }


def judge(value: float, *, target: float | None, comparison: str, overloaded: bool) -> bool | None:
    """Whether ``value`` meets ``target`` (``"<="`` or ``">="``); None when not judged.

    Not judged: no target, or a value measured on an overloaded machine (:func:`watch_load`).
    """
    if comparison not in ("<=", ">="):
        raise ConfigError(f"comparison must be '<=' or '>=', got {comparison!r}")
    if target is None or overloaded:
        return None
    return bool(value <= target) if comparison == "<=" else bool(value >= target)


def measure_copy_bandwidth(*, log2_size: int = 23, repeats: int = 5, threads: int = 1) -> float:
    """Bytes per second moved by ``numpy.copyto`` of a complex128 array (read + write).

    The array has 2^log2_size amplitudes (128 MiB at the default, far beyond the caches); the
    result is ``2 * nbytes / min(time)``. With ``threads`` > 1 that many threads copy equal
    slices at once (numpy releases the GIL while copying): the bandwidth of all cores. Memory:
    two such arrays, checked first.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    require_memory(
        2 * statevector_bytes(log2_size),
        what=f"the copy-bandwidth probe (2 arrays of 2^{log2_size} amplitudes)",
        suggestion="Use a smaller log2_size.",
    )
    source = np.ones(2**log2_size, dtype=complex)
    target = np.empty_like(source)
    bounds = np.linspace(0, source.size, threads + 1).astype(int)
    slices = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(threads) as pool:

        def copy() -> None:
            list(pool.map(lambda part: np.copyto(target[part], source[part]), slices))

        seconds, _ = time_repeats(copy, repeats=repeats)
    return 2 * source.nbytes / min(seconds)
