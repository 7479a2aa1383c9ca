"""``echo-lab bench``: the sizes of a run (:class:`SuiteSettings`) and :func:`run_benchmarks`."""

from __future__ import annotations

import dataclasses
import importlib
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab.bench.backends_trace import bench_backends, bench_mps, mps_headlines
from echo_lab.bench.binding import bench_binding, binding_headlines
from echo_lab.bench.dask_sweep import bench_dask, dask_headlines
from echo_lab.bench.lbit_pipeline import bench_lbits, lbit_headlines
from echo_lab.bench.model import DT
from echo_lab.bench.report import plot_summary, write_record
from echo_lab.bench.study_profile import bench_study
from echo_lab.bench.timing import load_average, measure_copy_bandwidth
from echo_lab.bench.trotter_step import (
    bench_trotter_devices,
    bench_trotter_step,
    trotter_device_headlines,
    trotter_step_headlines,
)
from echo_lab.errors import ConfigError
from echo_lab.resources import usable_cores

__all__ = ["FULL", "QUICK", "SUITE_FORMAT", "SuiteSettings", "collect_headlines", "run_benchmarks"]

#: Version of the JSON layout written by :func:`run_benchmarks` (2: min and median of every
#: timing, named baselines, load per comparison, marginal binding cost).
SUITE_FORMAT = 2

#: The main study, relative to the repository root.
MAIN_STUDY = Path("experiments") / "echo_pbit_vs_lbit.toml"


@dataclasses.dataclass(frozen=True)
class SuiteSettings:
    """Sizes of one suite run (:data:`QUICK`, :data:`FULL`, or tiny ones for tests).

    ``study_realizations`` None runs ``study_file`` as it is, an integer runs a copy with that
    many realizations. ``gate_by_gate_max_n`` is the largest N where the (slow) gate-by-gate
    baselines are timed; ours and the bound are timed at every N of ``trotter_sizes``.
    ``repeats`` is the number of interleaved rounds of every comparison.
    """

    lbit_sizes: tuple[int, ...]
    transform_n: int
    trotter_sizes: tuple[int, ...]
    gate_by_gate_max_n: int
    backend_sizes: tuple[int, ...]
    mps_sizes: tuple[int, ...]
    mps_time: float
    study_file: Path
    study_realizations: int | None
    dask_n: int
    dask_realizations: int
    dask_workers: int
    binding_n: int
    binding_realizations: int
    binding_rebuilt: int
    repeats: int
    #: Sizes of the GPU Trotter step (run only where Aer sees a GPU); CPU up to 26 beside it.
    gpu_sizes: tuple[int, ...] = (24, 26, 28, 30)

    def __post_init__(self) -> None:
        for name in ("lbit_sizes", "trotter_sizes", "backend_sizes", "mps_sizes", "gpu_sizes"):
            sizes = getattr(self, name)
            if not sizes or any(not isinstance(n, int) or n < 2 for n in sizes):
                raise ConfigError(f"SuiteSettings.{name} must be chain lengths >= 2, got {sizes}")
        counts = {
            "transform_n": self.transform_n,
            "dask_n": self.dask_n,
            "dask_realizations": self.dask_realizations,
            "dask_workers": self.dask_workers,
            "binding_n": self.binding_n,
            "binding_rebuilt": self.binding_rebuilt,
            "repeats": self.repeats,
        }
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SuiteSettings.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.binding_realizations, int) or self.binding_realizations < 2:
            raise ConfigError("SuiteSettings.binding_realizations must be an integer >= 2")
        if self.binding_rebuilt > self.binding_realizations:
            raise ConfigError("SuiteSettings.binding_rebuilt must be <= binding_realizations")
        if not (np.isfinite(self.mps_time) and self.mps_time >= DT):
            raise ConfigError(f"SuiteSettings.mps_time must be >= dt = {DT}, got {self.mps_time}")
        if self.study_realizations is not None and self.study_realizations < 1:
            raise ConfigError("SuiteSettings.study_realizations must be None or >= 1")


def _repository_root() -> Path:
    return Path(__file__).resolve().parents[2]


#: ``echo-lab bench --quick``: the suite at smaller sizes (run times: docs/pages/benchmarks.md).
QUICK = SuiteSettings(
    lbit_sizes=(8, 10),
    transform_n=10,
    trotter_sizes=(16, 18, 20),
    gate_by_gate_max_n=20,
    backend_sizes=(10,),
    mps_sizes=(10, 20, 40),
    mps_time=2.0,
    study_file=_repository_root() / MAIN_STUDY,
    study_realizations=2,
    dask_n=12,
    dask_realizations=16,
    dask_workers=2,
    binding_n=10,
    binding_realizations=100,
    binding_rebuilt=5,
    repeats=2,
    gpu_sizes=(20, 22),
)

#: ``echo-lab bench``: the sizes of the performance targets.
FULL = dataclasses.replace(
    QUICK,
    lbit_sizes=(8, 10, 12),
    transform_n=12,
    trotter_sizes=(16, 18, 20, 22, 24, 26),
    gate_by_gate_max_n=24,
    backend_sizes=(10, 12),
    study_realizations=None,
    dask_realizations=40,
    binding_n=12,
    binding_rebuilt=10,
    repeats=3,
    gpu_sizes=(24, 26, 28, 30),
)


def collect_headlines(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline lines of every benchmark in ``results`` (those that have headlines)."""
    makers: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
        "lbits": lbit_headlines,
        "trotter_step": trotter_step_headlines,
        "mps": mps_headlines,
        "dask": dask_headlines,
        "binding": binding_headlines,
        "trotter_gpu": trotter_device_headlines,
    }
    return [
        line for name, make in makers.items() if name in results for line in make(results[name])
    ]


def _steps(suite: SuiteSettings) -> dict[str, Callable[[], dict[str, Any]]]:
    """The benchmarks of a run, in order (``trotter_gpu`` only where Aer sees a GPU)."""
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "lbits": lambda: bench_lbits(
            sizes=suite.lbit_sizes, transform_n=suite.transform_n, repeats=suite.repeats
        ),
        "trotter_step": lambda: bench_trotter_step(
            sizes=suite.trotter_sizes,
            repeats=suite.repeats,
            gate_by_gate_max_n=suite.gate_by_gate_max_n,
        ),
        "backends": lambda: bench_backends(sizes=suite.backend_sizes, repeats=2),
        "mps": lambda: bench_mps(
            sizes=suite.mps_sizes, total_time=suite.mps_time, repeats=suite.repeats
        ),
        "study": lambda: bench_study(suite.study_file, realizations=suite.study_realizations),
        "dask": lambda: bench_dask(
            n=suite.dask_n,
            realizations=suite.dask_realizations,
            workers=suite.dask_workers,
            repeats=2,
        ),
        "binding": lambda: bench_binding(
            n=suite.binding_n,
            realizations=suite.binding_realizations,
            rebuilt=suite.binding_rebuilt,
            repeats=suite.repeats,
        ),
    }
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        steps["trotter_gpu"] = lambda: bench_trotter_devices(
            sizes=suite.gpu_sizes, repeats=suite.repeats
        )
    return steps


def _check_run(out: Path, suite: SuiteSettings) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the benchmark records")
    if not suite.study_file.is_file():
        raise ConfigError(
            f"study file {suite.study_file} not found: run `echo-lab bench` from a checkout of the "
            "repository (the suite runs experiments/echo_pbit_vs_lbit.toml)"
        )
    importlib.import_module("echo_lab.backends.aer")  # ConfigError now if Qiskit Aer is missing


def run_benchmarks(*, out: Path, quick: bool, settings: SuiteSettings | None = None) -> Path:
    """Run the suite and write ``out/suite[_quick].json`` and ``.png``; returns the JSON path.

    ``settings`` overrides the sizes (default :data:`QUICK` or :data:`FULL`). The JSON holds
    ``format``, ``quick``, ``command``, ``started`` / ``finished`` (UTC), ``environment``
    (:func:`echo_lab.info.environment_info`), the load average at start and end, the machine's
    idle copy bandwidth (measured first, one thread and all cores), ``settings``, one entry per
    benchmark (parameters, every repeat's time with min and median, named ratios with their
    load, its wall time) and ``headlines``. ConfigError before any work if ``out`` is a file or
    the study file is missing. Progress lines go to stderr.
    """
    from echo_lab.info import environment_info

    suite = settings if settings is not None else (QUICK if quick else FULL)
    out = Path(out)
    _check_run(out, suite)
    out.mkdir(parents=True, exist_ok=True)
    cores = usable_cores()
    record: dict[str, Any] = {
        "format": SUITE_FORMAT,
        "quick": quick,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "cores": cores,
        "load_average_start": load_average(),
        "copy_bandwidth_bytes_per_second": {
            str(threads): measure_copy_bandwidth(threads=threads) for threads in sorted({1, cores})
        },
        "settings": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in dataclasses.asdict(suite).items()
        },
    }
    results: dict[str, Any] = {}
    for name, step in _steps(suite).items():
        start = time.perf_counter()
        results[name] = step()
        results[name]["wall_seconds"] = time.perf_counter() - start
        print(f"bench {name}: {results[name]['wall_seconds']:.1f} s", file=sys.stderr, flush=True)
    record["benchmarks"] = results
    record["headlines"] = collect_headlines(results)
    record["load_average_end"] = load_average()
    record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    stem = "suite_quick" if quick else "suite"
    path = write_record(record, out / f"{stem}.json")
    plot_summary(record, out / f"{stem}.png")
    return path
