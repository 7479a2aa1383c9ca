"""Reliability of whole runs: concurrent runs, code changes, damaged units, hostile paths and
inputs. Each test reproduces an attack that once succeeded (wrong results, lost work, a
traceback, a file written outside --out) and checks the refusal or the recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from tiny_studies import TINY

from echo_lab import cli
from echo_lab.errors import ConfigError
from echo_lab.study.checkpoint import WorkUnit
from echo_lab.study.results import load_results, save_results
from echo_lab.study.spec import parse_spec

PACKAGE = Path(__file__).resolve().parents[1] / "echo_lab"


#: Slow units (range assignment, 40 times, two backgrounds): a run lasts several seconds.
SLOW = """
[study]
name = "shared"
kind = "echo"
realizations = 12
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


def run_args(config: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(config), "--out", str(out), "--no-progress", *extra]


def echo_lab_process(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "echo_lab.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


@pytest.fixture
def finished(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    assert cli.main(run_args(config, out)) == 0
    return config, out


# ----------------------------------------------------------------------------------------------
# 1. Two runs into one checkpoint
# ----------------------------------------------------------------------------------------------


def test_a_second_run_into_a_checkpoint_in_use_is_refused_before_any_work(tmp_path: Path) -> None:
    first_config, second_config = tmp_path / "a.toml", tmp_path / "b.toml"
    first_config.write_text(SLOW)
    second_config.write_text(SLOW.replace("W = 6.0", "W = 9.0"))  # another study, same name
    out = tmp_path / "out"
    first = echo_lab_process(*run_args(first_config, out))
    lock = out / "shared.ckpt" / "lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run never took its lock"
        time.sleep(0.01)
    second = echo_lab_process(*run_args(second_config, out))
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2, err
    assert "is in use by another run (pid" in err and "Traceback" not in err
    assert first.poll() is None, "the refusal came after the first run ended: not a test"
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    result = load_results(out / "shared.nc")
    assert result.attrs["spec_hash"] == parse_spec(SLOW).spec_hash()
    assert np.all(np.abs(result["fields"].values) <= 6.0)  # the first study's W
    assert lock.read_text() == ""  # released


# ----------------------------------------------------------------------------------------------
# 2. Resuming with changed code
# ----------------------------------------------------------------------------------------------


def test_resume_with_changed_package_is_refused_unless_allowed(
    finished: tuple[Path, Path], tmp_path: Path
) -> None:
    config, out = finished
    (out / "tiny.ckpt" / WorkUnit(0, 2).filename).unlink()  # an "interrupted" run
    copy = tmp_path / "changed" / "echo_lab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "observables.py", "a", encoding="utf-8") as handle:
        handle.write("\n# a change of the package\n")
    # run from elsewhere: `python -m` puts the working directory (the checkout) first on the path
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    probe = subprocess.run(
        [sys.executable, "-c", "import echo_lab; print(echo_lab.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == str(copy / "__init__.py")
    refused = echo_lab_process(*run_args(config, out, "--resume"), env=env, cwd=tmp_path)
    _, err = refused.communicate(timeout=300)
    assert refused.returncode == 2, err
    assert "2 unit(s) by code" in err and "--allow-code-change" in err
    assert "Traceback" not in err
    allowed = echo_lab_process(
        *run_args(config, out, "--resume", "--allow-code-change"), env=env, cwd=tmp_path
    )
    _, err = allowed.communicate(timeout=300)
    assert allowed.returncode == 0, err
    code_change = load_results(out / "tiny.nc").attrs["code_change"]
    assert "2 unit(s) by code" in code_change and "--allow-code-change" in code_change


# ----------------------------------------------------------------------------------------------
# 4. A flipped bit in a unit
# ----------------------------------------------------------------------------------------------


def _flip_one_bit_of_sx(path: Path) -> None:
    with h5py.File(path, "r") as handle:
        value = float(np.asarray(handle["sx"]).ravel()[1])
    raw = bytearray(path.read_bytes())
    where = raw.find(np.float64(value).tobytes())
    assert where >= 0, "the value is not stored verbatim"
    raw[where + 6] ^= 0x10  # an exponent bit: the value becomes wildly wrong, still finite
    path.write_bytes(bytes(raw))


def test_a_flipped_bit_in_a_unit_is_detected_and_the_unit_recomputed(
    finished: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    config, out = finished
    final = load_results(out / "tiny.nc")
    unit = out / "tiny.ckpt" / WorkUnit(0, 1).filename
    _flip_one_bit_of_sx(unit)
    assert not np.allclose(xr.load_dataset(unit)["sx"], final["sx"].isel(realization=1))
    assert cli.main(run_args(config, out, "--resume")) == 0
    assert "does not match its checksum" in caplog.text
    assert len(list((out / "tiny.ckpt" / "damaged").iterdir())) == 1
    xr.testing.assert_identical(load_results(out / "tiny.nc"), final)


def test_reused_units_with_impossible_values_are_recomputed(
    finished: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from echo_lab.study.checkpoint import content_hash

    config, out = finished
    final = load_results(out / "tiny.nc")
    unit = out / "tiny.ckpt" / WorkUnit(0, 0).filename
    forged = load_results(unit)
    forged["sx"][...] = 5.0  # <sigma^x> of a state lies in [-1, 1]
    forged.attrs["content_sha256"] = content_hash(forged)  # a consistent but impossible file
    save_results(forged, unit)
    assert cli.main(run_args(config, out, "--resume")) == 0
    assert "holds values outside [-1, 1]" in caplog.text
    xr.testing.assert_identical(load_results(out / "tiny.nc"), final)


# ----------------------------------------------------------------------------------------------
# 3, 5. Paths and foreign files
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["out is a file", "under a file", "not writable", "nc is a dir"])
def test_unwritable_outputs_are_refused_before_the_first_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    out = {
        "out is a file": blocker,
        "under a file": blocker / "out",
        "not writable": Path("/proc/echo-lab-test"),  # refused even to root
        "nc is a dir": tmp_path / "out",
    }[case]
    if case == "nc is a dir":
        (out / "tiny.nc").mkdir(parents=True)
    assert cli.main(run_args(config, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "folder" in err or "in the way" in err
    assert not list(tmp_path.rglob("unit-*.nc"))


def test_plot_keeps_figures_inside_out_whatever_the_file_says(
    finished: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = finished
    results = load_results(out / "tiny.nc")
    for hostile in ("../escaped", str(tmp_path / "absolute"), "/etc/x", "..", ""):
        results.attrs["name"] = hostile
        save_results(results, tmp_path / "hostile.nc")
        target = tmp_path / "figures"
        assert cli.main(["plot", str(tmp_path / "hostile.nc"), "--out", str(target)]) == 0
        assert all(path.parent == target for path in target.iterdir())
        shutil.rmtree(target)
    assert not list(tmp_path.glob("escaped*")) and not list(tmp_path.glob("absolute*"))


@pytest.mark.parametrize("damage", ["missing variable", "bad sweep_dims"])
def test_plot_of_a_foreign_file_is_one_line(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    _, out = finished
    results = load_results(out / "tiny.nc")
    if damage == "missing variable":
        results = results.drop_vars("sx")
    else:
        results.attrs["sweep_dims"] = json.dumps(["nonsense"])
    save_results(results, tmp_path / "foreign.nc")
    assert cli.main(["plot", str(tmp_path / "foreign.nc")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_export_into_an_unwritable_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "--out", "/proc/echo-lab-export"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_malformed_scheduler_address_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    assert cli.main(run_args(config, tmp_path / "out", "--scheduler", "no address")) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the Dask scheduler at 'no address'" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    assert cli.main(run_args(config, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")) == 2
    assert "cannot connect to the Dask scheduler" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# 6-8. Workers, the lbits command, hostile study files
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1000", "-1"])
def test_impossible_worker_counts_are_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    assert cli.main(run_args(config, out, "--workers", workers)) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--Jz", "1e308", "--Jz must be <= 1e+06"), ("--seed", "-1", "--seed must be >= 0")],
)
def test_lbits_command_applies_the_study_file_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    args = ["lbits", "--n", "6", "--out", str(tmp_path / "figures"), option, value]
    assert cli.main(args) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()


def test_deeply_nested_toml_is_a_config_error() -> None:
    deep = "x = " + "[" * 500 + "]" * 500
    with pytest.raises(ConfigError, match="nests tables or arrays"):
        parse_spec(TINY + "\n[spectrum]\n" + deep)


def test_huge_values_are_not_echoed_in_full() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(TINY.replace('name = "tiny"', f'name = "{"x" * 10_000_000}"'))
    assert len(str(caught.value)) < 500


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    from echo_lab.study.spec import load_spec

    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    assert load_spec(path).spec_hash() == parse_spec(TINY).spec_hash()


@pytest.mark.slow
def test_ctrl_c_with_two_workers_prints_a_short_message(tmp_path: Path) -> None:
    config = tmp_path / "slow.toml"
    config.write_text(SLOW)
    out = tmp_path / "out"
    process = echo_lab_process(*run_args(config, out, "--workers", "2"))
    deadline = time.monotonic() + 120
    while not list((out / "shared.ckpt").glob("unit-*.nc")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "rerun with --resume" in err
    assert err.count("\n") <= 5, err
