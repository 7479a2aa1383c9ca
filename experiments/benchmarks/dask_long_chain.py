"""Long-chain study through an external Dask scheduler: serial vs 1 vs 2 workers (#23 goal 4).

The N = 24 long-chain file (``echo_scaling_long_n24.toml``: quimb MPS, order 4, dt = 0.05, bond
cap 32), reduced to ``--n`` sites, W = 8, ``--realizations`` realizations, times
``--times`` and ``[accuracy] realizations = 0`` (no error estimate: the files estimate it on 3
realizations of 100), is run three times through the real command line:

1. serially: ``echo-lab run STUDY --out serial``;
2. with an external scheduler (``dask scheduler``) and one worker process (``dask worker ADDR
   --nworkers 1 --nthreads 1``): ``echo-lab run STUDY --scheduler ADDR --out one``;
3. the same with two worker processes (``--nworkers 2``).

Recorded: wall seconds of each run (the ``echo-lab`` process only; the scheduler and workers
are started before and stopped after), the speed-up of 2 workers over 1 and over serial, and
whether the three results files hold the same numbers bit for bit (BLAS pinned to one thread per
unit everywhere). ``--time-unit N`` instead times one whole work unit of the N-site file
(realization 0, W = 8, all six times, both pulses, the committed settings without the error
estimate, one BLAS thread) and
writes ``dask_long_chain_unit_n{N}.json``; the scaling run then projects from the N = 64 record,
when present, how many workers 100 realizations need for 2 hours.

Run on an idle machine (scheduler port 8786 must be free)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/dask_long_chain.py \\
        --n 16 --realizations 6 --times 0.5 1 2 5

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/dask_long_chain.py --time-unit 64

``--baseline CHECKOUT`` (with ``--time-unit``) first times the same unit with echo_lab imported
from an older checkout (``git worktree add /tmp/old <commit>``), then this one, each in a fresh
process, and records both, the speed-up and the largest difference of the echo values.

Writes dask_long_chain.json (and the unit record).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import xarray as xr

from echo_lab.info import environment_info

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("dask_long_chain.json")
BIN = Path(sys.executable).parent


def study_text(n: int, realizations: int, times: list[float]) -> str:
    raw = tomllib.loads((ROOT / "experiments" / "echo_scaling_long_n24.toml").read_text())
    raw["study"]["name"] = f"dask_long_chain_n{n}"
    raw["study"]["realizations"] = realizations
    raw["study"]["description"] = (
        f"echo_scaling_long_n24.toml reduced to N = {n}, W = 8, {realizations} realizations, "
        "for the Dask scaling benchmark"
    )
    raw["model"]["n"] = n
    raw["model"]["W"] = [8.0]
    raw["times"] = {"values": times}
    # no error estimate: the files estimate it on 3 realizations of 100, and without the table
    # every realization would get it (the default), which doubles a unit's cost or more
    raw["accuracy"] = {"realizations": 0}
    return tomli_w.dumps(raw)


def time_unit(n: int) -> dict[str, Any]:
    """Wall and CPU seconds of realization 0 of the W = 8 point of the n-site file."""
    from threadpoolctl import threadpool_limits

    from echo_lab.study.kinds.echo import run_echo_unit
    from echo_lab.study.spec import parse_spec

    text = study_text(n, 1, [0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
    spec = parse_spec(text, source=f"long-chain file at N = {n}")
    load_before = list(os.getloadavg())
    began, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        unit = run_echo_unit(spec, {"W": 8.0}, 0)
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    data = unit.dataset
    return {
        "n": n,
        "echo_lab": str(Path(sys.modules["echo_lab"].__file__ or "").parent),
        "values": {
            name: np.asarray(data[name].values).ravel().tolist()
            for name in ("sx", "ctau_x")
            if name in data
        },
        "study": text,
        "wall_seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "mps_max_bond": int(np.nanmax(data["mps_max_bond"].values))
        if "mps_max_bond" in data
        else None,
        "mps_discarded_weight_max": float(np.nanmax(data["mps_discarded_weight"].values))
        if "mps_discarded_weight" in data
        else None,
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "environment": environment_info(),
    }


def unit_in_process(n: int, pythonpath: Path | None) -> dict[str, Any]:
    """:func:`time_unit` in a fresh interpreter, importing echo_lab from ``pythonpath`` when
    given (an older checkout) instead of this one."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath.resolve())
    done = subprocess.run(
        [sys.executable, __file__, "--time-unit", str(n), "--unit-json"],
        check=True, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def against_baseline(n: int, baseline: Path) -> dict[str, Any]:
    """The unit timed on ``baseline`` (an older checkout), then on this one, one after the
    other in the same idle window; the speed-up and the largest difference of the echoes
    (truncations happen at other places when the evolution is organized differently)."""
    commit = subprocess.run(
        ["git", "-C", str(baseline), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    old = unit_in_process(n, baseline)
    new = unit_in_process(n, None)
    difference = max(
        float(np.max(np.abs(np.subtract(new["values"][k], old["values"][k]))))
        for k in new["values"]
    )
    return {
        **new,
        "baseline": {**old, "commit": commit},
        "speedup_over_baseline": old["wall_seconds"] / new["wall_seconds"],
        "largest_echo_difference_from_baseline": difference,
    }


def run_cli(args: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run([str(BIN / "echo-lab"), *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def with_cluster(workers: int, port: int, env: dict[str, str], args: list[str]) -> float:
    """Start ``dask scheduler`` and ``dask worker`` processes, run ``echo-lab`` against them."""
    address = f"tcp://127.0.0.1:{port}"
    cluster_env = {**env, "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": "None"}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"],
        env=cluster_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(BIN / "dask"), "worker", address, "--nworkers", str(workers), "--nthreads", "1",
         "--no-dashboard"],
        env=cluster_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from distributed import Client

        deadline = time.time() + 120
        while True:
            try:
                with Client(address, timeout=5) as client:
                    if len(client.scheduler_info()["workers"]) >= workers:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"the {workers} Dask workers did not start within 120 s")
            time.sleep(1)
        return run_cli([*args, "--scheduler", address], env)
    finally:
        for process in (worker, scheduler):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def same_numbers(first: Path, second: Path) -> bool:
    a, b = xr.open_dataset(first, engine="h5netcdf"), xr.open_dataset(second, engine="h5netcdf")
    try:
        return all(
            np.array_equal(a[name].values, b[name].values, equal_nan=True)
            for name in a.data_vars
            if np.issubdtype(a[name].dtype, np.number)
        ) and set(a.data_vars) == set(b.data_vars)
    finally:
        a.close()
        b.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--realizations", type=int, default=6)
    parser.add_argument("--times", type=float, nargs="+", default=[0.5, 1.0, 2.0, 5.0])
    parser.add_argument("--port", type=int, default=8786)
    parser.add_argument("--time-unit", type=int, default=None, metavar="N")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="with --time-unit: time the same unit on an older echo_lab checkout first "
        "(e.g. `git worktree add ../old <commit>`), same idle window",
    )
    parser.add_argument("--unit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_unit and args.unit_json:  # one timing, in a fresh process (for --baseline)
        print(json.dumps(time_unit(args.time_unit)))
        return
    if args.time_unit:
        record = (
            time_unit(args.time_unit)
            if args.baseline is None
            else against_baseline(args.time_unit, args.baseline)
        )
        OUT.with_name(f"dask_long_chain_unit_n{args.time_unit}.json").write_text(
            json.dumps(record, indent=1) + "\n"
        )
        print({k: v for k, v in record.items() if k not in ("environment", "study")})
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    work = Path(tempfile.mkdtemp(prefix="dask_long_chain_"))
    try:
        study = work / "study.toml"
        study.write_text(study_text(args.n, args.realizations, args.times))
        load_before = list(os.getloadavg())
        seconds = {"serial": run_cli(["run", str(study), "--out", str(work / "serial")], env)}
        for workers, label in ((1, "one_worker"), (2, "two_workers")):
            seconds[label] = with_cluster(
                workers, args.port, env, ["run", str(study), "--out", str(work / label)]
            )
        name = f"dask_long_chain_n{args.n}.nc"
        identical = {
            label: same_numbers(work / "serial" / name, work / label / name)
            for label in ("one_worker", "two_workers")
        }
        record: dict[str, Any] = {
            "study": study.read_text(),
            "units": args.realizations,
            "seconds": seconds,
            "speedup_two_over_one_worker": seconds["one_worker"] / seconds["two_workers"],
            "speedup_two_workers_over_serial": seconds["serial"] / seconds["two_workers"],
            "identical_to_serial": identical,
            "load_average_before": load_before,
            "load_average_after": list(os.getloadavg()),
            "environment": environment_info(),
            "command": " ".join([sys.executable, *sys.argv]),
        }
        unit_record = OUT.with_name("dask_long_chain_unit_n64.json")
        if unit_record.exists():
            unit_seconds = json.loads(unit_record.read_text())["wall_seconds"]
            per_worker = 2 * 3600 / unit_seconds
            record["n64_projection"] = {
                "unit_seconds": unit_seconds,
                "units_per_worker_in_2h": per_worker,
                "workers_for_100_in_2h": int(np.ceil(100 / per_worker)),
            }
        OUT.write_text(json.dumps(record, indent=1) + "\n")
        print(json.dumps({k: v for k, v in record.items() if k != "environment"}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
