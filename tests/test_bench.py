"""The benchmark machinery on tiny sizes: its circuits, its measuring rules and its record.

No timing assertions: the suite's numbers are recorded, never asserted. What is asserted: the
compared circuits are the same unitary (and the peers give the same state), the timing rules do
what they say (interleaving, min / median, per-step differences, named ratios equal to the
quotients of the recorded times, targets that flip with the times, load flags), the reduced
study differs from its source in one value only, and the JSON record holds its documented,
mutually consistent numbers.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import Operator, SparsePauliOp
from qiskit_aer import AerSimulator

from echo_lab import bench, lbits, resources
from echo_lab.bench import (
    backends_trace,
    binding,
    dask_sweep,
    lbit_pipeline,
    peers,
    report,
    timing,
    trotter_step,
)
from echo_lab.bench.model import DT, ORDER, benchmark_hamiltonian, fid_times
from echo_lab.dynamics import trotter
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.timing import STAGES

TINY_STUDY = """
# a comment that the reduced copy may drop
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

HAS_GPU = "GPU" in AerSimulator().available_devices()


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


def _idle() -> dict[str, Any]:
    return {"load_average_before": 0.1, "load_average_after": 0.2, "overloaded": False}


# ----------------------------------------------------------------------------------------------
# The compared circuits
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2])
def test_gate_by_gate_is_the_unfolded_product_formula(order: int) -> None:
    hamiltonian = models.RandomFieldXXZ(n=5, W=3.0, J=1.0, Jz=0.7, seed=2).hamiltonian()
    baseline = Operator(bench.gate_by_gate_circuit(hamiltonian, dt=0.1, steps=3, order=order))
    ours = Operator(trotter.circuit(hamiltonian, time=0.3, steps=3, order=order, fold_fields=False))
    np.testing.assert_allclose(baseline.data, ours.data, rtol=0, atol=1e-12)
    # and it is a formula of that order: halving dt divides the error by 2^order
    exact = scipy.linalg.expm(-1j * 0.4 * hamiltonian.to_matrix())
    errors = [
        np.linalg.norm(
            Operator(bench.gate_by_gate_circuit(hamiltonian, dt=0.4 / k, steps=k, order=order)).data
            - exact,
            2,
        )
        for k in (8, 16)
    ]
    assert 0.85 * 2**order < errors[0] / errors[1] < 1.15 * 2**order


def test_gate_by_gate_counts_what_the_baselines_claim() -> None:
    # n = 6: a Lie step is n rz + 3 (n - 1) two-qubit rotations; Strang repeats the even bonds
    # and halves the fields (merged across steps), about 1.5x the Lie gates.
    hamiltonian = models.RandomFieldXXZ(n=6, W=3.0, seed=1).hamiltonian()

    def per_step(order: int) -> float:
        sizes = [bench.gate_by_gate_circuit(hamiltonian, dt=0.1, steps=2, order=order).size()]
        sizes.append(bench.gate_by_gate_circuit(hamiltonian, dt=0.1, steps=6, order=order).size())
        return (sizes[1] - sizes[0]) / 4

    assert per_step(1) == 6 + 3 * 5
    assert per_step(2) == 6 + 3 * 5 + 3 * 3  # the three even bonds twice


def test_gate_by_gate_rejects_terms_without_rotation_gates() -> None:
    with_transverse = models.RandomFieldXXZ(n=4, W=2.0, g=0.5, seed=1).hamiltonian()
    with pytest.raises(ConfigError, match="commuting"):
        bench.gate_by_gate_circuit(with_transverse, dt=0.1, steps=1)
    xy = SparsePauliOp.from_sparse_list([("XY", [0, 1], 1.0)], 2)
    with pytest.raises(ConfigError, match="XX/YY/ZZ"):
        bench.gate_by_gate_circuit(xy, dt=0.1, steps=1)
    with pytest.raises(ConfigError, match="order 1 or 2"):
        bench.rotation_sequence(xy, dt=0.1, steps=1, order=4)


def test_peers_run_the_same_gates_to_the_same_state() -> None:
    record = peers.check_same_state(8, steps=3)
    differences = record["max_abs_difference_vs_aer_gate_by_gate_lie"]
    assert set(differences) == {
        "echo_lab_order1_unfolded",
        "qulacs_lie_optimized",
        "qsim_lie_fused",
    }
    assert differences["echo_lab_order1_unfolded"] < 1e-13
    assert differences["qulacs_lie_optimized"] < 1e-13
    assert differences["qsim_lie_fused"] < 1e-5  # single precision
    # a first-order step errs more than echo_lab's Strang step at the same dt
    assert record["trotter_error_echo_lab_order2_vs_exact"] < record["trotter_error_lie_vs_exact"]
    # the optimizer merges gates without changing the state
    hamiltonian = models.RandomFieldXXZ(n=6, W=3.0, seed=5).hamiltonian()
    sequence = bench.rotation_sequence(hamiltonian, dt=0.1, steps=2, order=1)
    np.testing.assert_allclose(
        peers.qulacs_state(sequence, block_size=None),
        peers.qulacs_state(sequence, block_size=3),
        rtol=0,
        atol=1e-13,
    )
    versions = peers.peer_versions()
    assert set(versions) == set(peers.PEER_DISTRIBUTIONS)
    assert versions["qulacs"] != "not installed" and versions["qsimcirq"] != "not installed"


def _fake_time_per_step(
    costs: dict[str, float], calls: list[dict[str, Any]]
) -> Callable[..., dict[str, dict[str, Any]]]:
    """A stand-in for timing.time_per_step: each variant's step costs ``costs[name]`` (min; the
    median 1.5 times that), without running anything; the arguments go to ``calls``."""

    def fake(runs: Any, *, k_low: int, k_high: int, repeats: int, step_counts: Any = None) -> Any:
        calls.append({"names": list(runs), "k": (k_low, k_high), "step_counts": step_counts})
        out = {}
        for name in runs:
            low, high = (step_counts or {}).get(name, (k_low, k_high))
            step = {"min": costs[name], "median": 1.5 * costs[name]}
            out[name] = {
                "k_low": low,
                "k_high": high,
                "seconds_per_step": step,
                "resolved": costs[name] > 0,
            }
        return out

    return fake


#: Seconds per step of each peer variant in the stand-in timings (qsim's is noise: unresolved).
PEER_COSTS = {
    "echo_lab_order1": 2e-4,
    "echo_lab_order2": 3e-4,
    "aer_gate_by_gate_lie": 1e-3,
    "aer_gate_by_gate_lie_nofuse": 4e-3,
    "aer_gate_by_gate_strang": 2e-3,
    "qulacs_lie_optimized": 1e-4,
    "qsim_lie_fused": -5e-5,
}


def test_peer_record_names_the_fastest_resolved_variant_and_divides_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(peers, "time_per_step", _fake_time_per_step(PEER_COSTS, calls))
    record = peers.bench_trotter_peers(sizes=(8,), repeats=1, check_n=6)
    (call,) = calls
    assert set(call["names"]) == set(peers.VARIANTS) and call["k"] == (2, 6)
    assert call["step_counts"] == {"qsim_lie_fused": peers.QSIM_STEPS}
    (entry,) = record["sizes"]
    # qsim's negative difference is noise: the fastest is the fastest of the resolved ones
    assert entry["fastest"] == "qulacs_lie_optimized"
    over = {name: v["over_fastest"] for name, v in entry["variants"].items()}
    assert over["aer_gate_by_gate_lie"]["value"] == pytest.approx(10.0)
    assert over["aer_gate_by_gate_lie"]["value_median"] == pytest.approx(10.0)
    assert over["echo_lab_order1"]["value"] == pytest.approx(2.0)
    assert {v["baseline"] for v in over.values()} == {"qulacs_lie_optimized"}
    # echo_lab's order-1 step over every resolved peer (above 1: the peer is faster)
    assert entry["echo_lab_over_peer"] == pytest.approx(
        {
            "aer_gate_by_gate_lie": 0.2,
            "aer_gate_by_gate_lie_nofuse": 0.05,
            "aer_gate_by_gate_strang": 0.1,
            "qulacs_lie_optimized": 2.0,
        }
    )
    assert record["same_state"]["n"] == 6
    monkeypatch.setattr(
        peers, "time_per_step", _fake_time_per_step(dict.fromkeys(PEER_COSTS, 0.0), [])
    )
    with pytest.raises(RuntimeError, match="no step time at N = 8"):
        peers.bench_trotter_peers(sizes=(8,), repeats=1, check_n=6)
    with pytest.raises(ConfigError, match="threads"):
        peers.bench_trotter_peers(sizes=(8,), threads=0)


@pytest.mark.slow
def test_peer_step_times_are_measured_on_every_installed_peer() -> None:
    record = peers.bench_trotter_peers(sizes=(8,), repeats=2, check_n=6)
    (entry,) = record["sizes"]
    assert set(entry["variants"]) == set(peers.VARIANTS)
    resolved = [name for name, v in entry["variants"].items() if v["resolved"]]
    assert entry["fastest"] in resolved
    for variant in entry["variants"].values():
        assert len(variant["seconds_k_low"]["seconds"]) == 2


def test_plain_numpy_taus_are_echo_labs_operators() -> None:
    hamiltonian = models.RandomFieldXXZ(n=6, W=5.0, seed=3).hamiltonian()
    system = lbits.construct(hamiltonian)
    plain = lbit_pipeline.plain_numpy_taus(hamiltonian)
    for i in range(6):
        np.testing.assert_allclose(plain[i], system.tau("z", i), rtol=0, atol=1e-10)
        np.testing.assert_allclose(plain[6 + i], system.tau("x", i), rtol=0, atol=1e-10)
    record = lbit_pipeline.bench_lbit_plain_numpy(6, repeats=2)
    assert record["max_abs_operator_difference"] < 1e-10
    seconds = record["seconds"]
    assert record["plain_over_echo_lab"]["value"] == pytest.approx(
        seconds["plain_numpy"]["min"] / seconds["echo_lab"]["min"]
    )


# ----------------------------------------------------------------------------------------------
# Timing rules
# ----------------------------------------------------------------------------------------------


def test_variants_are_interleaved_and_summarized(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    order: list[str] = []
    cost = {"a": [3.0, 1.0, 2.0], "b": [5.0, 7.0, 6.0]}

    def action(name: str) -> Any:
        def run() -> str:
            clock[0] += cost[name][order.count(name)]
            order.append(name)
            return name

        return run

    seconds, results = timing.time_interleaved({"a": action("a"), "b": action("b")}, repeats=3)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert seconds == cost and results == {"a": "a", "b": "b"}
    assert timing.summarize(seconds["a"]) == {"seconds": [3.0, 1.0, 2.0], "min": 1.0, "median": 2.0}
    step = timing.per_step_seconds([3.0, 2.0, 2.5], [11.0, 7.0, 9.0], k_low=2, k_high=6)
    assert step == {"min": (7.0 - 2.0) / 4, "median": (9.0 - 2.5) / 4}
    with pytest.raises(ConfigError, match="k_high"):
        timing.per_step_seconds([1.0], [2.0], k_low=3, k_high=3)
    with pytest.raises(ConfigError, match="repeats"):
        timing.time_interleaved({"a": action("a")}, repeats=0)


def test_time_per_step_interleaves_step_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    order: list[tuple[str, int]] = []

    def runs(name: str, fixed: float, per_step: float) -> Any:
        def with_steps(k: int) -> Any:
            def run() -> None:
                clock[0] += fixed + per_step * k
                order.append((name, k))

            return run

        return with_steps

    out = timing.time_per_step(
        {"fast": runs("fast", 5.0, 0.5), "slow": runs("slow", 1.0, 2.0)},
        k_low=2,
        k_high=6,
        repeats=2,
    )
    assert order == [("fast", 2), ("fast", 6), ("slow", 2), ("slow", 6)] * 2
    assert out["fast"]["seconds_per_step"]["min"] == pytest.approx(0.5)  # fixed cost cancels
    assert out["slow"]["seconds_per_step"]["median"] == pytest.approx(2.0)


def test_ratio_names_its_baseline_and_target_flips_with_the_times() -> None:
    ratio = timing.make_ratio(
        [2.0, 1.0, 3.0],
        [4.0, 5.0, 6.0],
        numerator_name="ours",
        baseline_name="theirs",
        load=_idle(),
    )
    assert ratio["value"] == 1.0 / 4.0 and ratio["value_median"] == 2.0 / 5.0
    assert (ratio["numerator"], ratio["baseline"]) == ("ours", "theirs")
    line = report.headline("ours / theirs", ratio, target=0.3, comparison="<=", context="")
    assert line["met"] is True and line["baseline"] == "theirs"
    slower = timing.make_ratio(
        [2.0, 1.5], [4.0, 5.0], numerator_name="ours", baseline_name="theirs", load=_idle()
    )
    assert report.headline("x", slower, target=0.3, comparison="<=", context="")["met"] is False
    assert report.headline("x", slower, target=0.3, comparison=">=", context="")["met"] is True
    busy = timing.make_ratio(
        [1.0],
        [4.0],
        numerator_name="ours",
        baseline_name="theirs",
        load={**_idle(), "overloaded": True},
    )
    line = report.headline("x", busy, target=0.3, comparison="<=", context="")
    assert line["overloaded"] is True and line["met"] is None  # not judged under load
    assert report.headline("x", ratio, target=None, comparison="<=", context="")["met"] is None
    with pytest.raises(ConfigError, match="comparison"):
        timing.judge(1.0, target=1.0, comparison="<", overloaded=False)


def test_load_above_the_core_count_is_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = resources.usable_cores()
    loads = iter([0.5, cores + 0.5])
    monkeypatch.setattr(timing, "load_average", lambda: next(loads))
    with timing.watch_load() as load:
        pass
    assert load == {
        "load_average_before": 0.5,
        "load_average_after": cores + 0.5,
        "cores": cores,
        "overloaded": True,
    }
    monkeypatch.setattr(timing, "load_average", lambda: float(cores))  # equal: not above
    with timing.watch_load() as load:
        pass
    assert load["overloaded"] is False


def test_copy_bandwidth_is_the_bytes_moved_over_the_fastest_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a clock on which the three copies take 0.5, 0.25 and 1 s: read + write of 2^10 complex
    # amplitudes (16 KiB) in the fastest, 0.25 s; 3 threads copy uneven slices of it
    for threads in (1, 3):
        ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 3.0])
        monkeypatch.setattr(timing.time, "perf_counter", lambda ticks=ticks: next(ticks))
        got = bench.measure_copy_bandwidth(log2_size=10, repeats=3, threads=threads)
        assert got == 2 * 16 * 2**10 / 0.25
    with pytest.raises(ConfigError, match="threads"):
        bench.measure_copy_bandwidth(threads=0)


@pytest.mark.slow
def test_copy_bandwidth_with_threads_is_plausible() -> None:
    # 2^16 amplitudes split over 3 threads (uneven slices): a plausible, positive bandwidth.
    for threads in (1, 3):
        assert 1e8 < bench.measure_copy_bandwidth(log2_size=16, repeats=2, threads=threads) < 1e13


# ----------------------------------------------------------------------------------------------
# Study reduction, binding, devices
# ----------------------------------------------------------------------------------------------


def test_reduced_study_changes_only_the_realizations(tmp_path: Path) -> None:
    source = tmp_path / "tiny_echo.toml"
    source.write_text(TINY_STUDY)
    folder = tmp_path / "reduced"
    folder.mkdir()
    copy = bench.reduced_study(source, realizations=2, folder=folder)
    original = tomllib.loads(TINY_STUDY)
    reduced = tomllib.loads(copy.read_text())
    assert reduced["study"]["realizations"] == 2
    assert reduced["check"]["realizations"] == 1  # a key of the same name elsewhere: untouched
    original["study"]["realizations"] = 2
    assert reduced == original
    without = tmp_path / "without.toml"
    without.write_text('[study]\nname = "x"\n')
    with pytest.raises(ConfigError, match="realizations"):
        bench.reduced_study(without, realizations=2, folder=folder)
    with pytest.raises(ConfigError, match="realizations"):
        bench.reduced_study(source, realizations=0, folder=folder)


def test_batched_binding_equals_run_realizations() -> None:
    record = bench.bench_batched_binding(n=6, realizations=3, repeats=1)
    assert set(record["max_abs_difference_vs_run_realizations"]) == {
        "CPU_runtime_binding_off",
        "CPU_runtime_binding_on",
    }
    assert max(record["max_abs_difference_vs_run_realizations"].values()) < 1e-10
    if not HAS_GPU:
        with pytest.raises(ConfigError, match="Aer sees no GPU"):
            bench.bench_batched_binding(n=6, realizations=3, devices=("CPU", "GPU"))


def test_binding_record_holds_the_marginal_cost_against_the_per_gate_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # stand-in times: R = 3 realizations cost 7, 5, 9 s against 2, 1, 3 s for one; a two-qubit
    # unitary costs 1 ms and a one-qubit rotation 0.1 ms; two experiments run in parallel
    seconds = {"bound_one": [2.0, 1.0, 3.0], "bound_all": [7.0, 5.0, 9.0], "rebuild": [4.0] * 3}

    def interleaved(actions: dict[str, Any], *, repeats: int) -> Any:
        assert repeats == 3
        return {name: seconds[name] for name in actions}, {k: a() for k, a in actions.items()}

    def gate_seconds(n: int, gates: Any, *, repeats: int) -> float:
        return 1e-3 if gates[0].num_qubits == 2 else 1e-4

    monkeypatch.setattr(binding, "time_interleaved", interleaved)
    monkeypatch.setattr(binding, "measure_gate_seconds", gate_seconds)
    monkeypatch.setattr(binding, "usable_cores", lambda: 2)
    monkeypatch.setattr(timing, "load_average", lambda: 0.0)
    record = bench.bench_binding(n=6, realizations=3, rebuilt=2, repeats=3)
    # the marginal cost of a realization: (all - one) / (R - 1), of the minima and the medians
    assert record["marginal_seconds_per_realization"] == {"min": 2.0, "median": 2.5}
    # the floor: the gates of one realization's circuit at their cost, over 2 in parallel
    chain, states = binding.realization_inputs(6, 3)
    circuit, _ = binding.bound_fid_circuit(chain[0], fid_times(), initial=states[0].circuit())
    counts = circuit.count_ops()
    one_core = 1e-3 * counts["unitary"] + 1e-4 * (counts["rz"] + counts.get("ry", 0))
    floor = record["per_gate_floor"]
    assert floor["seconds_per_realization"] == pytest.approx(one_core / 2, rel=1e-12)
    ratio = record["marginal_over_floor"]
    assert ratio["value"] == pytest.approx(2.0 / (one_core / 2), rel=1e-12)
    assert ratio["value_median"] == pytest.approx(2.5 / (one_core / 2), rel=1e-12)
    assert record["all_over_one"]["value"] == 5.0
    (line,) = binding.binding_headlines(record)
    assert line["target"] == 1.3 and line["met"] is (ratio["value"] <= 1.3)
    # bound (fields in their own layer) vs rebuilt (folded): two Strang splittings, O(dt^2) apart
    assert 0 < record["max_abs_difference_bound_vs_rebuilt"] < 0.5


@pytest.mark.slow
def test_binding_is_timed_on_the_real_circuits() -> None:
    record = bench.bench_binding(n=6, realizations=3, rebuilt=2, repeats=1)
    floor = record["per_gate_floor"]
    counts, costs = floor["gate_counts"], floor["seconds_per_gate"]
    # Strang with the fields in their own layer: 5 bonds x (2 even + 1 odd... merged) per step
    assert counts["unitary"] >= 5 * record["steps"] and counts["rz"] >= 6 * record["steps"]
    assert all(cost > 0 for cost in costs.values())
    assert np.isfinite(record["marginal_over_floor"]["value"])  # noisy at this size: no sign


def test_trotter_step_per_device_times_the_cpu_and_refuses_a_missing_device() -> None:
    record = bench.bench_trotter_devices(sizes=(8, 10), devices=("CPU",), cpu_max_n=8, repeats=1)
    small, large = record["sizes"]
    assert small["n"] == 8 and set(small["devices"]) == {"CPU"}
    cpu = small["devices"]["CPU"]
    low, high = cpu["seconds_k_low"], cpu["seconds_k_high"]
    assert cpu["seconds_per_step"]["min"] == pytest.approx(
        (high["min"] - low["min"]) / (small["k_high"] - small["k_low"])
    )
    assert large["devices"] == {} and "gpu_over_cpu" not in large  # above cpu_max_n: not timed
    with pytest.raises(ConfigError, match="'CPU' and/or 'GPU'"):
        bench.bench_trotter_devices(sizes=(8,), devices=("TPU",))
    if not HAS_GPU:
        with pytest.raises(ConfigError, match=r"Aer sees no GPU .*qiskit-aer-gpu"):
            bench.bench_trotter_devices(sizes=(8,), devices=("CPU", "GPU"))


def test_trotter_step_bounds_use_the_bandwidth_of_their_thread_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # stand-ins: 1 GB/s for one copying thread, 3 GB/s for 4 cores; per-step times below
    costs = {
        "ours": 1e-4,
        "ours_all_cores": 5e-5,
        "gate_by_gate_lie": 8e-4,
        "gate_by_gate_strang": 1e-3,
    }
    monkeypatch.setattr(trotter_step, "usable_cores", lambda: 4)
    monkeypatch.setattr(
        trotter_step, "measure_copy_bandwidth", lambda *, threads: {1: 1e9, 4: 3e9}[threads]
    )
    monkeypatch.setattr(trotter_step, "time_per_step", _fake_time_per_step(costs, []))
    record = bench.bench_trotter_step(sizes=(8,), repeats=1, gate_by_gate_max_n=8, check_n=6)
    assert record["copy_bandwidth_bytes_per_second"] == {"1": 1e9, "4": 3e9}
    (size,) = record["sizes"]
    variants = size["variants"]
    # the gates of one Strang step of the fused circuit, counted on the circuit itself
    hamiltonian = benchmark_hamiltonian(8)
    sizes = [trotter.circuit(hamiltonian, time=k * DT, steps=k, order=ORDER).size() for k in (2, 6)]
    gates = (sizes[1] - sizes[0]) / 4
    state_bytes = 16 * 2**8  # every gate reads and writes the state once
    for name, threads, bandwidth in (("ours", 1, 1e9), ("ours_all_cores", 4, 3e9)):
        variant = variants[name]
        assert variant["gates_per_step"] == gates and variant["aer_threads"] == threads
        bound = gates * 2 * state_bytes / bandwidth
        assert variant["bandwidth_bound_seconds_per_step"] == pytest.approx(bound, rel=1e-12)
        assert variant["over_bandwidth_bound"]["value"] == pytest.approx(costs[name] / bound)
    assert size["ours_over_gate_by_gate_lie"]["value"] == pytest.approx(0.125)
    assert size["ours_over_gate_by_gate_strang"]["value"] == pytest.approx(0.1)


# ----------------------------------------------------------------------------------------------
# The suite
# ----------------------------------------------------------------------------------------------


def test_suite_settings_and_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trotter_sizes"):
        dataclasses.replace(bench.QUICK, trotter_sizes=())
    with pytest.raises(ConfigError, match="repeats"):
        dataclasses.replace(bench.QUICK, repeats=0)
    with pytest.raises(ConfigError, match="binding_realizations"):
        dataclasses.replace(bench.QUICK, binding_realizations=1)
    missing = dataclasses.replace(bench.QUICK, study_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="not found"):
        bench.run_benchmarks(out=tmp_path, quick=True, settings=missing)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        bench.run_benchmarks(out=a_file, quick=True, settings=bench.QUICK)


def _check_trotter_record(trotter_step: dict[str, Any]) -> None:
    same = trotter_step["same_state"]
    assert same["gate_by_gate_lie_vs_ours_unfolded_order1_max_abs_difference"] < 1e-12
    assert same["gate_by_gate_strang_vs_ours_unfolded_order2_max_abs_difference"] < 1e-12
    assert same["ours_vs_gate_by_gate_strang_infidelity"] < 1e-3
    (size,) = trotter_step["sizes"]
    variants = size["variants"]
    # the arithmetic of the record: test_trotter_step_bounds_use_the_bandwidth_of_their_thread_count
    for baseline in ("gate_by_gate_lie", "gate_by_gate_strang"):
        assert size[f"ours_over_{baseline}"]["baseline"] == baseline
    # n = 8: our fused circuit has n/2 + O(1) gates per step, a Lie step n + 3 (n - 1)
    assert variants["ours"]["gates_per_step"] < variants["gate_by_gate_lie"]["gates_per_step"] / 3


def _check_study_record(study: dict[str, Any]) -> None:
    assert study["realizations"] == 1 and study["units"] == 1
    stages = study["stage_seconds"]
    # an echo study with l-bit pulses and a [check] passes through all of these
    passed = {"diagonalization", "l-bit assignment", "pulses", "evolution", "check backend"}
    assert passed | {"results and checkpoint I/O"} <= set(stages)
    assert set(study["stages_not_marked"]) == set(STAGES) - set(stages)
    assert sum(stages.values()) == pytest.approx(study["seconds_total"])
    assert sum(study["stage_fractions"].values()) == pytest.approx(1.0)


def test_suite_runs_at_tiny_sizes_and_writes_its_record(tmp_path: Path) -> None:
    study = tmp_path / "tiny_echo.toml"
    study.write_text(TINY_STUDY)
    path = bench.run_benchmarks(out=tmp_path / "out", quick=True, settings=_tiny_settings(study))
    assert path == tmp_path / "out" / "suite_quick.json"
    assert (tmp_path / "out" / "suite_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(path.read_text())
    assert record["format"] == bench.SUITE_FORMAT and record["quick"] is True
    assert set(record["copy_bandwidth_bytes_per_second"]) == {"1", str(record["cores"])}
    results = record["benchmarks"]
    expected = {"lbits", "trotter_step", "backends", "mps", "study", "dask", "binding"}
    assert set(results) == expected | ({"trotter_gpu"} if HAS_GPU else set())

    for entry in results["lbits"]["sizes"]:
        assert entry["stage_ranges_match_pipeline"]
    transform = results["lbits"]["transform"]
    assert transform["max_abs_coefficient_difference"] < 1e-12
    assert transform["qiskit_over_ours"]["value"] == pytest.approx(
        transform["seconds"]["qiskit_from_operator"]["min"]
        / transform["seconds"]["ours_decompose"]["min"]
    )
    _check_trotter_record(results["trotter_step"])

    (backends,) = results["backends"]["sizes"]
    assert backends["max_abs_difference"]["krylov vs exact"] < 1e-8
    assert backends["max_abs_difference"]["aer vs trotter-exact"] < 1e-8
    assert 0 < backends["max_abs_difference"]["trotter-exact vs exact (Trotter error)"] < 0.5
    assert backends["over_exact"]["exact"]["value"] == 1.0

    mps = results["mps"]
    assert all(1 <= e["max_bond_dimension"] <= 2 ** (e["n"] // 2) for e in mps["sizes"])
    assert mps["statevector_difference"]["abs_sx_difference"] < 1e-8
    _check_study_record(results["study"])

    dask = results["dask"]
    assert dask["identical"] is True
    assert dask["study"]["backend"] == "aer"  # the backend it runs, not "krylov"
    assert dask["serial_over_parallel"]["value"] == pytest.approx(
        dask["seconds"]["serial"]["min"] / dask["seconds"]["parallel"]["min"]
    )

    lines = {line["name"]: line for line in record["headlines"]}
    assert {"gate_by_gate_lie", "gate_by_gate_strang"} <= {
        line["baseline"] for line in lines.values()
    }
    dask_line = lines["Dask throughput, serial / 2 workers"]
    assert dask_line["value"] == dask["serial_over_parallel"]["value"]
    assert dask_line["baseline"] == "2 Dask workers" and dask_line["target"] == 1.7


# ----------------------------------------------------------------------------------------------
# The GPU check: refuses without a GPU, its Python entry point runs on the CPU
# ----------------------------------------------------------------------------------------------

SCRIPTS = Path(__file__).resolve().parent.parent / "experiments" / "benchmarks"


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU: the check would run")
def test_gpu_check_script_refuses_without_a_gpu() -> None:
    done = subprocess.run(
        ["bash", str(SCRIPTS / "gpu_check.sh"), "/nonexistent/out"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "gpu_check:" in done.stderr and (
        "CUDA" in done.stderr or "Aer sees no GPU" in done.stderr
    )


def test_gpu_check_entry_point_runs_on_the_cpu(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPTS / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    out = tmp_path / "gpu_check.json"
    small = ["--sizes", "8", "--cpu-max-n", "8", "--binding-n", "6", "--realizations", "3"]
    assert gpu_check.main(["--out", str(out), "--devices", "CPU", "--repeats", "1", *small]) == 0
    record = json.loads(out.read_text())
    (entry,) = record["trotter_devices"]["sizes"]
    assert set(entry["devices"]) == {"CPU"}
    assert max(record["batched_binding"]["max_abs_difference_vs_run_realizations"].values()) < 1e-10
    if not HAS_GPU:
        with pytest.raises(ConfigError, match="Aer sees no GPU"):
            gpu_check.main(["--out", str(tmp_path / "x.json"), *small])
        assert not (tmp_path / "x.json").exists()


def test_mps_benchmark_matches_the_statevector_at_its_smallest_size() -> None:
    # The recorded truncation check: Aer MPS and statevector on the same FID circuit.
    result = backends_trace.bench_mps(sizes=[6, 8], total_time=0.2, repeats=1)
    assert [entry["n"] for entry in result["sizes"]] == [6, 8]
    assert result["statevector_difference"]["n"] == 6
    assert result["statevector_difference"]["abs_sx_difference"] < 1e-6
    assert all(1 <= entry["max_bond_dimension"] <= 8 for entry in result["sizes"])


def test_dask_benchmark_reports_identical_units_and_the_backend_it_ran() -> None:
    result = dask_sweep.bench_dask(n=6, realizations=2, workers=2, repeats=1)
    assert result["identical"] is True
    assert result["study"]["backend"] == "aer"
    assert result["serial_over_parallel"]["baseline"] == "2 Dask workers"


def test_every_benchmark_script_is_listed_in_the_benchmarks_readme() -> None:
    # experiments/benchmarks/README.md is the index of scripts and their records: a script
    # missing there is a measurement nobody finds.
    readme = (SCRIPTS / "README.md").read_text()
    scripts = sorted(p.name for p in SCRIPTS.iterdir() if p.suffix in (".py", ".sh"))
    assert scripts, SCRIPTS
    missing = [name for name in scripts if f"`{name}`" not in readme]
    assert not missing, f"add these to experiments/benchmarks/README.md: {missing}"
