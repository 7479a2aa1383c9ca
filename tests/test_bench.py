"""The benchmark suite's machinery on tiny sizes, and its gate-by-gate baseline.

No timing assertions: the suite's numbers are recorded, never asserted. What is asserted is that
the baseline circuit is the same unitary as ours, that the comparisons inside the suite agree
numerically, and that the JSON record has its documented structure.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import Operator, SparsePauliOp
from qiskit_aer import AerSimulator

from echo_lab import bench, models, trotter
from echo_lab.errors import ConfigError

TINY_STUDY = """
[study]
name = "tiny_echo"
kind = "echo"
realizations = 3
seed = 4

[model]
type = "xxz"
n = 6
J = 1.0
Jz = 1.0
W = [8.0]

[lbits]
method = "overlap"

[protocol]
sequence = "hahn"
pulses = ["pbit", "lbit"]
fid = true
probe = "center"
background = "z-random"

[times]
start = 0.1
stop = 10.0
num = 5
spacing = "log"

[backend]
name = "exact"

[check]
backend = "trotter-exact"
dt = 0.05
order = 2
times = [1.0]
realizations = 1
tolerance = 1.0
"""


def _tiny_settings(study: Path) -> bench.SuiteSettings:
    return dataclasses.replace(
        bench.QUICK,
        lbit_sizes=(4, 6),
        transform_n=6,
        trotter_sizes=(8,),
        gate_by_gate_max_n=8,
        backend_sizes=(6,),
        mps_sizes=(6, 8),
        mps_time=0.5,
        study_file=study,
        study_realizations=1,
        dask_n=6,
        dask_realizations=4,
        dask_workers=2,
        binding_n=6,
        binding_realizations=3,
        binding_rebuilt=2,
        repeats=1,
        gpu_sizes=(8,),
    )


def test_gate_by_gate_is_the_unfolded_strang_circuit() -> None:
    hamiltonian = models.RandomFieldXXZ(n=5, W=3.0, J=1.0, Jz=0.7, seed=2).hamiltonian()
    baseline = Operator(bench.gate_by_gate_circuit(hamiltonian, dt=0.1, steps=3)).data
    ours = Operator(
        trotter.circuit(hamiltonian, time=0.3, steps=3, order=2, fold_fields=False)
    ).data
    np.testing.assert_allclose(baseline, ours, rtol=0, atol=1e-12)
    # and it is a second-order formula of exp(-iHt): halving dt divides the error by ~4
    exact = scipy.linalg.expm(-1j * 0.4 * hamiltonian.to_matrix())
    errors = [
        np.linalg.norm(
            Operator(bench.gate_by_gate_circuit(hamiltonian, dt=0.4 / k, steps=k)).data - exact, 2
        )
        for k in (4, 8)
    ]
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_gate_by_gate_rejects_terms_without_rotation_gates() -> None:
    with_transverse = models.RandomFieldXXZ(n=4, W=2.0, g=0.5, seed=1).hamiltonian()
    with pytest.raises(ConfigError, match="commuting"):
        bench.gate_by_gate_circuit(with_transverse, dt=0.1, steps=1)
    xy = SparsePauliOp.from_sparse_list([("XY", [0, 1], 1.0)], 2)
    with pytest.raises(ConfigError, match="XX/YY/ZZ"):
        bench.gate_by_gate_circuit(xy, dt=0.1, steps=1)


def test_suite_settings_and_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trotter_sizes"):
        dataclasses.replace(bench.QUICK, trotter_sizes=())
    with pytest.raises(ConfigError, match="repeats"):
        dataclasses.replace(bench.QUICK, repeats=0)
    missing = dataclasses.replace(bench.QUICK, study_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="not found"):
        bench.run_benchmarks(out=tmp_path, quick=True, settings=missing)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        bench.run_benchmarks(out=a_file, quick=True, settings=bench.QUICK)
    with pytest.raises(ConfigError, match="threads"):
        bench.measure_copy_bandwidth(threads=0)


def test_copy_bandwidth_with_threads_is_plausible() -> None:
    # 2^16 amplitudes split over 3 threads (uneven slices): a plausible, positive bandwidth.
    for threads in (1, 3):
        assert 1e8 < bench.measure_copy_bandwidth(log2_size=16, repeats=2, threads=threads) < 1e13


def test_suite_runs_at_tiny_sizes_and_writes_its_record(tmp_path: Path) -> None:
    study = tmp_path / "tiny_echo.toml"
    study.write_text(TINY_STUDY)
    path = bench.run_benchmarks(out=tmp_path / "out", quick=True, settings=_tiny_settings(study))
    assert path == tmp_path / "out" / "suite_quick.json"
    assert (tmp_path / "out" / "suite_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(path.read_text())
    assert record["format"] == bench.SUITE_FORMAT and record["quick"] is True
    assert record["environment"]["usable_cpus"] >= 1
    results = record["benchmarks"]
    expected = {"lbits", "trotter_step", "backends", "mps", "study", "dask", "binding"}
    if "GPU" in AerSimulator().available_devices():
        expected.add("trotter_gpu")
    assert set(results) == expected
    assert all(entry["wall_seconds"] > 0 for entry in results.values())

    lbit_sizes = results["lbits"]["sizes"]
    assert [entry["n"] for entry in lbit_sizes] == [4, 6]
    for entry in lbit_sizes:
        assert all(min(times) > 0 for times in entry["seconds"].values())
        assert entry["stage_ranges_match_pipeline"]
        assert 0 < entry["average_range_z"] < 5
    transform = results["lbits"]["transform"]
    assert transform["max_abs_coefficient_difference"] < 1e-12
    assert transform["speedup_decompose"] > 0

    trotter_step = results["trotter_step"]
    assert trotter_step["same_state"]["max_abs_amplitude_difference_vs_ours_unfolded"] < 1e-12
    assert trotter_step["same_state"]["infidelity_vs_ours_default"] < 1e-3
    assert trotter_step["copy_bandwidth_bytes_per_second"] > 1e8
    (size,) = trotter_step["sizes"]
    ours, baseline = size["variants"]["ours"], size["variants"]["gate_by_gate"]
    # n = 8: our fused circuit has n/2 + O(1) gates per step, the baseline ~ 2 n + n - 1 per layer
    assert ours["gates_per_step"] < baseline["gates_per_step"] / 3
    assert ours["bandwidth_bound_seconds_per_step"] > 0
    every = size["variants"].get("ours_all_cores")
    if every is not None:  # machines with more than one core: same circuit, more Aer threads
        assert every["gates_per_step"] == ours["gates_per_step"]
        assert every["aer_threads"] == trotter_step["cores"] > 1
        bound_ratio = (
            every["bandwidth_bound_seconds_per_step"] / ours["bandwidth_bound_seconds_per_step"]
        )
        assert bound_ratio == pytest.approx(
            trotter_step["copy_bandwidth_bytes_per_second"]
            / trotter_step["copy_bandwidth_all_cores_bytes_per_second"]
        )

    (backends,) = results["backends"]["sizes"]
    assert set(backends["seconds"]) == {"exact", "trotter-exact", "krylov", "aer"}
    assert backends["max_abs_difference"]["krylov vs exact"] < 1e-8
    assert backends["max_abs_difference"]["aer vs trotter-exact"] < 1e-8
    assert 0 < backends["max_abs_difference"]["trotter-exact vs exact (Trotter error)"] < 0.5

    mps = results["mps"]
    assert [entry["n"] for entry in mps["sizes"]] == [6, 8]
    assert all(1 <= entry["max_bond_dimension"] <= 2 ** (entry["n"] // 2) for entry in mps["sizes"])
    assert mps["statevector_difference"]["abs_sx_difference"] < 1e-8

    study_result = results["study"]
    assert study_result["realizations"] == 1 and study_result["units"] == 1
    stages = study_result["stage_seconds"]
    assert stages["diagonalization"] > 0 and stages["evolution (main backend)"] > 0
    assert stages["check backend"] > 0 and stages["plots"] > 0
    assert (
        stages["results and checkpoint I/O"] > 0
        and stages["other"] > -0.05 * study_result["seconds_total"]
    )
    assert sum(study_result["stage_fractions"].values()) == pytest.approx(1.0)

    dask = results["dask"]
    assert dask["identical"] is True
    assert dask["throughput_ratio"] > 0

    binding = results["binding"]
    assert binding["realizations"] == 3 and binding["steps"] == 200
    # bound (fields in their own layer) vs rebuilt (folded): two Strang splittings, O(dt^2) apart
    assert 0 < binding["max_abs_difference_bound_vs_rebuilt"] < 0.5

    names = [line["name"] for line in record["headlines"]]
    assert any("ours / gate-by-gate, N = 8" in name for name in names)
    assert any("Dask throughput" in name for name in names)
    for line in record["headlines"]:
        assert np.isfinite(line["value"])  # tiny sizes: per-step differences may be noise < 0
        assert line["met"] is None or line["met"] == (
            line["value"] <= line["target"]
            if line["comparison"] == "<="
            else line["value"] >= line["target"]
        )


def test_trotter_step_per_device_times_the_cpu_and_refuses_a_missing_device() -> None:
    record = bench.bench_trotter_devices(sizes=(8, 10), devices=("CPU",), cpu_max_n=8, repeats=1)
    small, large = record["sizes"]
    assert small["n"] == 8 and set(small["devices"]) == {"CPU"}
    cpu = small["devices"]["CPU"]
    # at N = 8 a step takes microseconds, so the difference of two runs is noise: check the runs
    assert min(cpu["seconds_k_low"] + cpu["seconds_k_high"]) > 0
    assert np.isfinite(cpu["seconds_per_step"])
    assert large["devices"] == {} and "gpu_over_cpu" not in large  # above cpu_max_n: not timed
    with pytest.raises(ConfigError, match="'CPU' and/or 'GPU'"):
        bench.bench_trotter_devices(sizes=(8,), devices=("TPU",))
    if "GPU" not in AerSimulator().available_devices():
        with pytest.raises(ConfigError, match=r"Aer sees no GPU .*qiskit-aer-gpu"):
            bench.bench_trotter_devices(sizes=(8,), devices=("CPU", "GPU"))
    else:  # a GPU machine: both devices, and their ratio
        both = bench.bench_trotter_devices(sizes=(8,), repeats=1)
        assert both["sizes"][0]["gpu_over_cpu"] > 0
