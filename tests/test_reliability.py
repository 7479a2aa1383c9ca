"""Reliability: bad input, refused resources, SIGKILL + resume, determinism, numerical health
and untrusted files, through the real CLI, real processes and real files."""

from __future__ import annotations

import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from qiskit.quantum_info import SparsePauliOp
from threadpoolctl import threadpool_info, threadpool_limits
from tiny_studies import TINY as SHARED_TINY

from echo_lab import cli, lbits
from echo_lab.backends.aer import AerBackend
from echo_lab.backends.exact import ExactBackend
from echo_lab.backends.krylov import KrylovBackend
from echo_lab.backends.trotter_exact import TrotterExactBackend
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import CheckpointError, NumericalError, ResourceError
from echo_lab.physics.models import RandomFieldXXZ
from echo_lab.physics.states import probe_state
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import runner as study
from echo_lab.study.executor import run_units
from echo_lab.study.results import load_results, remove_stale_temporaries
from echo_lab.study.spec import parse_spec

PACKAGE = Path(__file__).resolve().parents[1] / "echo_lab"

#: The shared tiny study with two pulses and an explicit backend (tests/tiny_studies.py).
TINY = (
    SHARED_TINY.replace('pulses = ["pbit"]', 'pulses = ["pbit", "lbit:1"]', 1)
    + '\n[backend]\nname = "exact"\n'
)
assert 'pulses = ["pbit", "lbit:1"]' in TINY


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def run_cli(*args: str) -> list[str]:
    return ["run", *args, "--no-progress"]


# ----------------------------------------------------------------------------------------------
# Config errors: exit code 2, one line naming the key and the fix, no traceback, nothing run
# ----------------------------------------------------------------------------------------------

BAD_CONFIGS = [
    # (id, old, new, words the message must contain)
    ("missing key", 'name = "tiny"', "", ["study.name", "give"]),
    ("unknown key", "W = 8.0", "W = 8.0\nwidth = 2", ["'width'", "[model]", "allowed"]),
    ("wrong type", "n = 6", 'n = "six"', ["model.n", "integer"]),
    ("negative n", "n = 6", "n = -6", ["model.n", ">= 2"]),
    ("negative W", "W = 8.0", "W = -8.0", ["model.W", ">= 0"]),
    (
        "negative dt",
        'name = "exact"',
        'name = "trotter-exact"\ndt = -0.1',
        ["backend.dt", "> 0"],
    ),
    ("NaN", "W = 8.0", "W = nan", ["model.W", "finite"]),
    ("infinite", "W = 8.0", "W = 8.0\nJz = inf", ["model.Jz", "finite"]),
    ("NaN time", "start = 0.1\nstop = 10.0\nnum = 4", "values = [1.0, nan]", ["times.values[1]"]),
    ("empty time grid", "num = 4", "num = 0", ["times.num", "empty"]),
    ("empty time list", "start = 0.1\nstop = 10.0\nnum = 4", "values = []", ["times.values"]),
    ("probe outside", "[times]", "probe = 6\n[times]", ["protocol.probe", "outside", "'center'"]),
    ("radius too large", '"lbit:1"', '"lbit:6"', ["radius 6", "at most 5"]),
    ("unknown backend", 'name = "exact"', 'name = "qpu"', ["backend.name", "'qpu'", "krylov"]),
    ("unknown pulse", '"lbit:1"', '"xbit"', ["protocol.pulses[1]", "'xbit'", "lbit:r"]),
    ("exact n = 40", "n = 6", "n = 40", ["model.n = 40", "n <= 16"]),
    ("absurd n", "n = 6", "n = 1000000000", ["model.n", "<= 1000"]),
    ("absurd grid", "num = 4", "num = 100000000000", ["times.num", "<= 100000"]),
    ("huge integer", "seed = 3", "seed = 100000000000000000000", ["study.seed", "64 bits"]),
    (
        "backend option",
        'name = "exact"',
        'name = "aer"\noptions = {precison = "double"}',
        ["backend.options.precison", "precision"],
    ),
    (
        "bad option value",
        'name = "exact"',
        'name = "aer"\noptions = {precision = "triple"}',
        ["[backend] backend 'aer'", "'triple'", "double"],
    ),
    (
        "too many Trotter steps",
        'name = "exact"\n',
        'name = "aer"\ndt = 1e-9\n',
        ["backend.dt", "Trotter steps"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "words"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_exits_2_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, words: list[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(edit(TINY, old, new))
    out = tmp_path / "out"
    assert cli.main(run_cli(str(config), "--out", str(out))) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("echo-lab run: error: ")
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    for word in words:
        assert word in captured.err, f"{word!r} missing from: {captured.err}"
    assert not out.exists()


def run_subprocess(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "echo_lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bad_config_and_toml_syntax_in_a_real_process(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(edit(TINY, "[times]", "probe = 9\n[times]"))
    done = run_subprocess(*run_cli(str(config), "--out", str(tmp_path / "out")))
    assert done.returncode == 2
    assert "protocol.probe = 9 is outside the chain" in done.stderr
    assert "Traceback" not in done.stderr
    # a syntax error names the line (the 10th line of the file is "n = = 6")
    broken = edit(TINY, "n = 6", "n = = 6")
    line = broken.splitlines().index("n = = 6") + 1
    config.write_text(broken)
    done = run_subprocess(*run_cli(str(config), "--out", str(tmp_path / "out")))
    assert done.returncode == 2
    assert "not valid TOML" in done.stderr and f"line {line}," in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_non_utf8_and_missing_files_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes(TINY.replace('"tiny"', '"tiny\xe9"').encode("latin-1"))
    assert cli.main(run_cli(str(config))) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert cli.main(run_cli(str(tmp_path / "absent.toml"))) == 2
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Resources: refused before any allocation, with the estimate
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 8 GiB budget, so the refusals below do not depend on the machine's memory."""
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "8G")


def refused_without_allocating(call: Callable[[], object]) -> str:
    """Run ``call``, expect ResourceError; the Python heap and the resident set stay small."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        with pytest.raises(ResourceError) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert peak < 16 * 2**20, f"{peak} bytes allocated before the refusal"
    assert rss_growth_kib < 64 * 2**10, f"resident set grew by {rss_growth_kib} KiB"
    return str(info.value)


def chain_problem(n: int) -> tuple[SparsePauliOp, PulseSequence, dict[str, SparsePauliOp]]:
    hamiltonian = RandomFieldXXZ(n, W=8.0, seed=1).hamiltonian()
    sequence = build_sequence("hahn", n=n, probe=n // 2, pulse="pbit")
    sx = SparsePauliOp.from_sparse_list([("X", [n // 2], 1.0)], n)
    return hamiltonian, sequence, {"sx": sx}


@pytest.mark.usefixtures("memory_budget")
def test_statevector_of_40_qubits_is_refused_before_allocation() -> None:
    hamiltonian, sequence, observables = chain_problem(40)
    state = probe_state(40, 20, background="x")
    backend = AerBackend(method="statevector", device="CPU")
    message = refused_without_allocating(
        lambda: backend.run(hamiltonian, sequence, state, np.array([1.0]), observables=observables)
    )
    assert "statevector simulation of 40 qubits needs about 16.0 TiB" in message
    assert "matrix_product_state" in message


@pytest.mark.usefixtures("memory_budget")
def test_density_matrix_of_16_qubits_is_refused_before_allocation() -> None:
    hamiltonian, sequence, observables = chain_problem(16)
    state = probe_state(16, 8, background="x")
    backend = AerBackend(method="density_matrix", device="CPU")
    message = refused_without_allocating(
        lambda: backend.run(hamiltonian, sequence, state, np.array([1.0]), observables=observables)
    )
    assert "density_matrix simulation of 16 qubits needs about 64.0 GiB" in message


@pytest.mark.usefixtures("memory_budget")
def test_lbits_of_16_sites_are_refused_before_allocation() -> None:
    hamiltonian = RandomFieldXXZ(16, W=8.0, seed=1).hamiltonian()
    message = refused_without_allocating(lambda: lbits.construct(hamiltonian))
    # Sector by sector: sum_m binomial(16, m)^2 stored eigenvector entries, three more copies
    # of the 12,870-state block during its eigh and its real assignment cost matrix, 8 bytes each.
    assert "l-bit construction for n = 16" in message and "9.4 GiB" in message


def test_unit_memory_estimates_follow_the_backend() -> None:
    pbit = edit(TINY, '["pbit", "lbit:1"]', '["pbit"]')
    # l-bit pulses: eight dense complex 2^6 x 2^6 matrices
    assert study.estimate_unit_bytes(parse_spec(TINY)) == 8 * 16 * 4**6
    # p-bit pulses on Aer: one state vector, or one density matrix
    aer = edit(pbit, 'name = "exact"', 'name = "aer"\nmethod = "statevector"\ndevice = "CPU"')
    assert study.estimate_unit_bytes(parse_spec(aer)) == 16 * 2**6
    density = edit(aer, '"statevector"', '"density_matrix"')
    assert study.estimate_unit_bytes(parse_spec(density)) == 16 * 4**6
    # ... plus the dense check backend when there is one
    checked = edit(aer, "[backend]", '[check]\nbackend = "exact"\ntimes = [1.0]\n\n[backend]')
    assert study.estimate_unit_bytes(parse_spec(checked)) == 16 * 2**6 + 8 * 16 * 4**6
    # level statistics: two real matrices of the half-filling sector, C(8, 4) = 70 states
    levels = '[study]\nname = "r"\nkind = "level_statistics"\n[model]\nn = [6, 8]\nW = 3.0\n'
    assert study.estimate_unit_bytes(parse_spec(levels)) == 2 * 8 * 70**2


@pytest.mark.usefixtures("memory_budget")
@pytest.mark.parametrize(
    ("backend", "words"),
    [
        (
            'name = "aer"\nmethod = "statevector"',
            ["largest n = 40", "16.0 TiB per work unit", "matrix_product_state"],
        ),
        ('name = "krylov"', ["largest n = 40", "backend 'krylov'", "1.6 PiB per work unit"]),
    ],
)
def test_study_of_40_sites_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, words: list[str]
) -> None:
    text = edit(edit(TINY, "n = 6", "n = 40"), '["pbit", "lbit:1"]', '["pbit"]')
    config = tmp_path / "big.toml"
    config.write_text(edit(text, 'name = "exact"', backend))
    out = tmp_path / "out"
    assert cli.main(run_cli(str(config), "--out", str(out))) == 2
    err = capsys.readouterr().err
    for word in [*words, "is available"]:
        assert word in err, f"{word!r} missing from: {err}"
    assert "Traceback" not in err
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# Interrupted runs: SIGKILL, resume, damaged and foreign checkpoints
# ----------------------------------------------------------------------------------------------

# Eight units of ~0.3 s each (the 'range' assignment at n = 8): a kill after the first unit file
# appears lands well before the last one.
KILLME = """
[study]
name = "killme"
kind = "echo"
realizations = 8
seed = 7

[model]
n = 8
W = 6.0

[lbits]
method = "range"

[protocol]
pulses = ["pbit", "lbit", "lbit:1"]
background = ["z-random", "x"]

[times]
start = 0.1
stop = 100.0
num = 40
"""


def test_sigkill_then_resume_recomputes_only_the_missing_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "killme.toml"
    config.write_text(KILLME)
    out = tmp_path / "out"
    checkpoint = out / "killme.ckpt"
    process = subprocess.Popen(
        [sys.executable, "-m", "echo_lab.cli", *run_cli(str(config), "--out", str(out))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(checkpoint.glob("unit-*.nc")):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no unit finished in 120 s"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (out / "killme.nc").exists()
    finished = {path.name: path.stat().st_mtime_ns for path in checkpoint.glob("unit-*.nc")}
    assert 1 <= len(finished) < 8

    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    err = capsys.readouterr().err
    assert f"reused {len(finished)} of 8 work units" in err
    assert f"computing {8 - len(finished)}" in err
    assert "taking over the stale lock of a run that ended (pid" in err
    for name, mtime in finished.items():
        assert (checkpoint / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert len(list(checkpoint.glob("unit-*.nc"))) == 8
    assert not list(checkpoint.glob(".*.tmp")) and not list(out.glob(".*.tmp"))

    # the resumed file equals an uninterrupted computation in this process, attributes included
    spec = parse_spec(KILLME)
    with threadpool_limits(limits=1):
        units = {unit: study.compute_unit(spec, unit) for unit in study.list_units(spec)}
    xr.testing.assert_identical(
        load_results(out / "killme.nc"), study.assemble_results(spec, units)
    )


def test_ctrl_c_keeps_finished_units_and_says_how_to_resume(tmp_path: Path) -> None:
    config = tmp_path / "killme.toml"
    config.write_text(KILLME)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "echo_lab.cli", *run_cli(str(config), "--out", str(out))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a CI script run in the background ignores SIGINT, and its children
        # inherit that (echo-lab then rightly stays immune, tests/test_sweep.py)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list((out / "killme.ckpt").glob("unit-*.nc")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted; finished work units are kept" in err and "--resume" in err
    assert "Traceback" not in err
    units = list((out / "killme.ckpt").glob("unit-*.nc"))
    assert 1 <= len(units) < 8
    assert all(load_results(unit).attrs["spec_hash"] for unit in units)


def test_sigterm_closes_the_workers_keeps_finished_units_and_says_how_to_resume(
    tmp_path: Path,
) -> None:
    import psutil

    config = tmp_path / "killme.toml"
    config.write_text(KILLME)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "echo_lab.cli", *run_cli(str(config), "--out", str(out))]
    process = subprocess.Popen(
        [*command, "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not list((out / "killme.ckpt").glob("unit-*.nc")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    children = psutil.Process(process.pid).children(recursive=True)
    assert children  # the Dask worker (and its helpers)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143
    assert "terminated; finished work units are kept" in err and "--resume" in err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive  # no orphaned worker goes on computing
    assert 1 <= len(list((out / "killme.ckpt").glob("unit-*.nc"))) < 8


def test_only_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    stale = tmp_path / f".unit-00000-00001.nc.{dead_pid}.0123abcd.tmp"
    live = tmp_path / f".unit-00000-00002.nc.{os.getpid()}.89abcdef.tmp"
    foreign = tmp_path / ".notes.tmp"
    for path in (stale, live, foreign):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, foreign.name])


@pytest.fixture
def finished_tiny(tmp_path: Path) -> tuple[Path, Path]:
    """A finished run of TINY: (study file, output folder)."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    study.run_study(parse_spec(TINY), out=out, progress=False)
    return config, out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_existing_checkpoint_without_resume_is_refused_and_kept(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    before = snapshot(out / "tiny.ckpt")
    assert cli.main(run_cli(str(config), "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert "holds 3 finished work unit(s)" in err and "--resume" in err
    assert "move that folder away" in err
    assert snapshot(out / "tiny.ckpt") == before


def test_truncated_unit_is_moved_aside_and_recomputed(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    unit = out / "tiny.ckpt" / study.WorkUnit(0, 1).filename
    half = unit.read_bytes()[: unit.stat().st_size // 2]
    unit.write_bytes(half)
    final = load_results(out / "tiny.nc")
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    err = capsys.readouterr().err
    assert f"checkpoint unit {unit} is not reused: it does not load" in err
    assert "Traceback" not in err
    (kept,) = (out / "tiny.ckpt" / "damaged").iterdir()
    assert kept.read_bytes() == half  # the damaged file is kept, not deleted
    xr.testing.assert_identical(load_results(out / "tiny.nc"), final)


def test_unit_of_another_realization_is_recomputed(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    folder = out / "tiny.ckpt"
    first, second = (folder / study.WorkUnit(0, k).filename for k in (0, 1))
    final = load_results(out / "tiny.nc")
    second.write_bytes(first.read_bytes())
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    assert "holds point 0, realization 0, not point 0, realization 1" in capsys.readouterr().err
    xr.testing.assert_identical(load_results(out / "tiny.nc"), final)


def test_checkpoint_of_another_config_is_refused(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    config.write_text(edit(TINY, "W = 8.0", "W = 9.0"))
    before = snapshot(out / "tiny.ckpt")
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 2
    assert "belongs to a different study configuration" in capsys.readouterr().err
    assert snapshot(out / "tiny.ckpt") == before


def test_more_realizations_reuse_the_finished_ones_and_equal_a_fresh_run(
    finished_tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    capsys.readouterr()
    larger = edit(TINY, "realizations = 3", "realizations = 5")
    config.write_text(larger)
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    err = capsys.readouterr().err
    assert "holds a 3-realization run of this study, the study file asks for 5" in err
    assert "reused 3 of 5 work units" in err and "computing 2" in err
    extended = load_results(out / "tiny.nc")
    fresh_path = study.run_study(parse_spec(larger), out=tmp_path / "fresh", progress=False)
    fresh = load_results(fresh_path)
    # realization k has the same fields and state whatever the ensemble size
    xr.testing.assert_identical(extended.drop_attrs(), fresh.drop_attrs())


def test_fewer_realizations_then_more_again_reuse_every_unit(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    final = load_results(out / "tiny.nc")
    config.write_text(edit(TINY, "realizations = 3", "realizations = 2"))
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    assert "reused 2 of 2 work units" in capsys.readouterr().err
    config.write_text(TINY)  # the manifest now names the 2-realization run
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    assert "reused 3 of 3 work units" in capsys.readouterr().err
    xr.testing.assert_identical(load_results(out / "tiny.nc").drop_attrs(), final.drop_attrs())


def test_other_realizations_and_another_change_are_refused(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    changed = edit(edit(TINY, "realizations = 3", "realizations = 5"), "seed = 3", "seed = 4")
    config.write_text(changed)
    before = snapshot(out / "tiny.ckpt")
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 2
    assert "only study.realizations may change" in capsys.readouterr().err
    assert snapshot(out / "tiny.ckpt") == before


def test_unit_files_without_manifest_are_kept_and_reused(
    finished_tiny: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = finished_tiny
    (out / "tiny.ckpt" / "manifest.json").unlink()
    final = load_results(out / "tiny.nc")
    assert cli.main(run_cli(str(config), "--out", str(out))) == 2
    assert "--resume" in capsys.readouterr().err
    assert len(list((out / "tiny.ckpt").glob("unit-*.nc"))) == 3
    assert cli.main(run_cli(str(config), "--out", str(out), "--resume")) == 0
    err = capsys.readouterr().err
    assert "manifest.json missing or unreadable; rebuilt" in err
    assert "reused 3 of 3 work units" in err
    xr.testing.assert_identical(load_results(out / "tiny.nc"), final)


# ----------------------------------------------------------------------------------------------
# Determinism: one BLAS thread per unit in every mode
# ----------------------------------------------------------------------------------------------


def test_every_unit_runs_with_one_blas_thread_serial_and_on_dask() -> None:
    def blas_threads(unit: int) -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        outside = blas_threads(0)
        serial = dict(run_units(blas_threads, [0, 1], progress=False))
    parallel = dict(run_units(blas_threads, [0, 1, 2, 3], workers=2, progress=False))
    assert outside and max(outside) >= min(2, os.cpu_count() or 1)
    for threads in [*serial.values(), *parallel.values()]:
        assert threads and set(threads) == {1}


# ----------------------------------------------------------------------------------------------
# Numerical health
# ----------------------------------------------------------------------------------------------


def sequence_with(matrix: np.ndarray, probe: int) -> PulseSequence:
    return PulseSequence([Free(0.5), Pulse(matrix, (probe,), "test pulse"), Free(0.5)])


@pytest.mark.parametrize(
    "backend",
    [ExactBackend(), KrylovBackend(), TrotterExactBackend(dt=0.05)],
    ids=lambda b: b.name,
)
def test_non_unitary_or_nan_pulse_is_a_numerical_error(backend: object) -> None:
    hamiltonian, _, observables = chain_problem(4)
    state = probe_state(4, 2, background="x")
    times = np.array([0.5, 2.0])
    x = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert hasattr(backend, "run")
    good = backend.run(hamiltonian, sequence_with(x, 2), state, times, observables=observables)
    assert np.all(np.abs(good["sx"]) <= 1.0 + 1e-12)
    with pytest.raises(NumericalError, match=r"norm drifted by 5\.00e-01"):
        backend.run(hamiltonian, sequence_with(1.5 * x, 2), state, times, observables=observables)
    with pytest.raises(NumericalError, match="NaN"):
        nan = np.array([[np.nan, 1.0], [1.0, 0.0]])
        backend.run(hamiltonian, sequence_with(nan, 2), state, times, observables=observables)


def test_failed_check_surfaces_as_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit(
        TINY,
        "[backend]",
        '[check]\nbackend = "trotter-exact"\ndt = 0.5\norder = 1\ntimes = [5.0]\n'
        "tolerance = 1e-6\n\n[backend]",
    )
    config = tmp_path / "checked.toml"
    config.write_text(text)
    assert cli.main(run_cli(str(config), "--out", str(tmp_path / "out"))) == 2
    err = capsys.readouterr().err
    assert "[check] backend 'trotter-exact' deviates from 'exact'" in err
    assert "check.tolerance = 1e-06" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "tiny.nc").exists()


# ----------------------------------------------------------------------------------------------
# Untrusted files
# ----------------------------------------------------------------------------------------------

FORBIDDEN = [r"\bpickle\b", r"\beval\(", r"\bexec\(", r"allow_pickle\s*=\s*True", r"\bmarshal\b"]


def test_package_source_never_unpickles_or_evaluates() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    hits = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for pattern in FORBIDDEN
        if re.search(pattern, line)
    ]
    assert hits == []


class _Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))


def test_pickle_payloads_in_result_files_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = np.frombuffer(pickle.dumps(_Payload(marker)), dtype=np.uint8)
    ragged = np.empty(1, dtype=object)
    ragged[0] = payload
    with h5py.File(tmp_path / "vlen.nc", "w") as f:
        f.create_dataset("x", data=ragged, dtype=h5py.vlen_dtype(np.dtype("uint8")))
    with h5py.File(tmp_path / "opaque.nc", "w") as f:
        f.create_dataset("x", data=payload.view("V1"))
        f.attrs["y"] = np.void(payload.tobytes())
    for name in ("vlen.nc", "opaque.nc"):
        with pytest.raises(CheckpointError, match=re.escape(name)):
            load_results(tmp_path / name)
    assert not marker.exists()


def test_study_results_hold_only_numbers_and_strings(finished_tiny: tuple[Path, Path]) -> None:
    _, out = finished_tiny
    for path in [out / "tiny.nc", *sorted((out / "tiny.ckpt").glob("unit-*.nc"))]:
        loaded = load_results(path)
        for name, variable in loaded.variables.items():
            kind = variable.dtype.kind
            assert kind in "biufU" or (
                kind == "O" and all(isinstance(v, str) for v in variable.values.flat)
            ), (path.name, name, variable.dtype)
