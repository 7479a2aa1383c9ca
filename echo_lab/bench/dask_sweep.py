"""An echo sweep run serially and on a local Dask cluster: throughput and bit-identical results."""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable
from typing import Any

import tomli_w

from echo_lab.bench.model import DT, JZ, ORDER, J, W
from echo_lab.bench.report import headline
from echo_lab.bench.timing import make_ratio, summarize, time_interleaved, watch_load

__all__ = ["bench_dask", "dask_headlines", "dask_study_tables"]


def dask_study_tables(n: int, realizations: int) -> dict[str, Any]:
    """The study of :func:`bench_dask` as TOML tables: Hahn echo (p-bit pulse) and FID of the
    middle spin on Aer statevector, z-random background, 11 log-spaced times to T = 10."""
    return {
        "study": {
            "name": "bench_dask",
            "kind": "echo",
            "realizations": realizations,
            "seed": 20140601,
        },
        "model": {"type": "xxz", "n": n, "J": J, "Jz": JZ, "W": W},
        "protocol": {
            "sequence": "hahn",
            "pulses": ["pbit"],
            "fid": True,
            "probe": "center",
            "background": "z-random",
        },
        "times": {"start": 0.1, "stop": 10.0, "num": 11, "spacing": "log"},
        "backend": {"name": "aer", "method": "statevector", "dt": DT, "order": ORDER},
    }


def _import_study() -> None:
    importlib.import_module("echo_lab.study.runner")


def bench_dask(*, n: int, realizations: int, workers: int, repeats: int = 1) -> dict[str, Any]:
    """An echo sweep of ``realizations`` units at ``n``: serial vs a local Dask cluster.

    Each unit is one realization of :func:`dask_study_tables` as Strang circuits (dt = 0.05) on
    Aer statevector (single-threaded below N = 14, so deterministic). Serial:
    :func:`echo_lab.study.executor.run_units` with ``workers=0``. Parallel: a
    ``LocalCluster(n_workers=workers, threads_per_worker=1)`` is started once and its workers
    import echo_lab (``cluster_startup``, timed apart), then the same ``run_units`` runs through
    its scheduler address (the ``--scheduler`` path of ``echo-lab run``). The two sweeps run
    interleaved ``repeats`` times. ``serial_over_parallel`` = serial / parallel sweep time (the
    throughput ratio); ``identical`` is True when every unit's Dataset is identical (values,
    coordinates and attributes) in both runs.
    """
    from echo_lab.study.runner import compute_unit, list_units
    from echo_lab.study.spec import parse_spec

    tables = dask_study_tables(n, realizations)
    spec = parse_spec(tomli_w.dumps(tables), source="bench_dask")
    units = list_units(spec)
    compute = functools.partial(compute_unit, spec)
    seconds, results, load, startup_s = _time_serial_and_cluster(
        compute, units, workers=workers, repeats=repeats
    )
    serial, parallel = results["serial"], results["parallel"]
    return {
        "study": {
            "kind": tables["study"]["kind"],
            "backend": tables["backend"]["name"],
            "method": tables["backend"]["method"],
            "n": n,
            "W": W,
            "realizations": realizations,
        },
        "workers": workers,
        "load": load,
        "seconds": {name: summarize(s) for name, s in seconds.items()},
        "cluster_startup_seconds": startup_s,
        "serial_over_parallel": make_ratio(
            seconds["serial"],
            seconds["parallel"],
            numerator_name="serial",
            baseline_name=f"{workers} Dask workers",
            load=load,
        ),
        "identical": all(serial[k].identical(parallel[k]) for k in range(len(units))),
    }


def _time_serial_and_cluster(
    compute: Callable[[Any], Any], units: list[Any], *, workers: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, Any], float]:
    """Run ``units`` serially and on a fresh local cluster, interleaved ``repeats`` times:
    (seconds per variant, last results per variant, load, cluster start-up seconds)."""
    import distributed

    from echo_lab.study.executor import run_units, start_local_cluster

    start = time.perf_counter()
    cluster = start_local_cluster(workers)
    try:
        with distributed.Client(cluster) as client:
            client.run(_import_study)
            startup_s = time.perf_counter() - start
            with watch_load() as load:
                seconds, results = time_interleaved(
                    {
                        "serial": lambda: dict(run_units(compute, units, progress=False)),
                        "parallel": lambda: dict(
                            run_units(
                                compute, units, scheduler=cluster.scheduler_address, progress=False
                            )
                        ),
                    },
                    repeats=repeats,
                )
    finally:
        cluster.close()
    return seconds, results, load, startup_s


def dask_headlines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline: serial / parallel sweep time (the throughput ratio), target >= 1.7."""
    return [
        headline(
            f"Dask throughput, serial / {result['workers']} workers",
            result["serial_over_parallel"],
            target=1.7,
            comparison=">=",
            context=f"identical results: {result['identical']}",
        )
    ]
