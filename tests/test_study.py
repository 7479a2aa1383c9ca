"""Studies end to end: TOML -> units -> checkpoint -> NetCDF -> figures, resume, Dask, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from echo_lab import cli
from echo_lab.errors import CheckpointError
from echo_lab.physics.models import RandomFieldXXZ, disorder_seeds
from echo_lab.physics.spectrum import sample_spacing_ratios
from echo_lab.study import runner as study
from echo_lab.study.results import load_results
from echo_lab.study.spec import StudySpec, parse_spec

ECHO = """
[study]
name = "tiny_echo"
kind = "echo"
realizations = 2
seed = 11

[model]
n = 6
Jz = 1.0
W = [6.0, 12.0]

[protocol]
sequence = "hahn"
pulses = ["pbit", "lbit", "lbit:1"]
background = "z-random"

[times]
start = 0.1
stop = 100.0
num = 7

[check]
backend = "trotter-exact"
dt = 0.005
order = 2
times = [0.5, 2.0]
pulses = ["fid", "pbit", "lbit"]
tolerance = 0.01
"""

PBIT_ECHO = """
[study]
name = "pbit_echo"
kind = "echo"
realizations = 3
seed = 5

[model]
n = 6
W = [4.0, 8.0]

[protocol]
pulses = ["pbit"]
background = ["z-random", "x"]

[times]
start = 0.1
stop = 50.0
num = 6
"""


def compute_in_memory(spec: StudySpec) -> xr.Dataset:
    units = {unit: study.compute_unit(spec, unit) for unit in study.list_units(spec)}
    return study.assemble_results(spec, units)


@pytest.fixture(scope="module")
def echo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudySpec, Path]:
    spec = parse_spec(ECHO)
    out = tmp_path_factory.mktemp("echo")
    path = study.run_study(spec, out=out, progress=False)
    return spec, path


def test_echo_file_equals_the_in_memory_result(echo_run: tuple[StudySpec, Path]) -> None:
    spec, path = echo_run
    loaded = load_results(path)
    xr.testing.assert_identical(loaded, compute_in_memory(spec))
    assert loaded["coherence"].dims == ("W", "realization", "background", "pulse", "time")
    assert list(loaded["pulse"].values) == ["fid", "pbit", "lbit", "lbit:1"]
    assert loaded.attrs["config"] == ECHO
    # the normalized spec, defaults filled in: what the figures read instead of the loader
    assert loaded.attrs["spec"] == spec.normalized
    assert json.loads(loaded.attrs["spec"])["model"]["Jz"] == 1.0
    assert loaded.attrs["spec_hash"] == spec.spec_hash()
    assert loaded.attrs["version_numpy"] == np.__version__


def test_echo_seeding_and_fields_follow_physics_md(echo_run: tuple[StudySpec, Path]) -> None:
    _, path = echo_run
    loaded = load_results(path)
    seeds = disorder_seeds(11, 2)
    for w_index, W in enumerate((6.0, 12.0)):
        for k in range(2):
            expected = RandomFieldXXZ(6, W=W, J=1.0, Jz=1.0, seed=seeds[k]).fields
            np.testing.assert_array_equal(loaded["fields"].values[w_index, k], expected)
    # the same seed child at both W: fields differ exactly by the factor W
    np.testing.assert_allclose(
        loaded["fields"].sel(W=12.0).values, 2 * loaded["fields"].sel(W=6.0).values
    )


def test_echo_physics_invariants(echo_run: tuple[StudySpec, Path]) -> None:
    _, path = echo_run
    loaded = load_results(path)
    # an exact l-bit pulse refocuses tau^x_p exactly: <tau^x_p>(T) = <tau^x_p>(0) for all T
    tau_x = loaded["tau_x"].sel(pulse="lbit").values
    assert np.max(np.abs(tau_x - tau_x[..., :1])) < 1e-8
    # ... while the FID dephases it
    fid = loaded["tau_x"].sel(pulse="fid").values
    assert np.max(np.abs(fid - fid[..., :1])) > 0.1
    coherence = loaded["coherence"].values
    assert np.all((coherence >= 0) & (coherence <= 1 + 1e-12))


def test_echo_check_agrees_with_the_main_backend(echo_run: tuple[StudySpec, Path]) -> None:
    _, path = echo_run
    first = load_results(path).isel(realization=0)
    dims = ("background", "check_pulse", "check_time")
    difference = np.maximum(
        np.abs(first["check_sx"] - first["reference_sx"]).max(dims),
        np.abs(first["check_sy"] - first["reference_sy"]).max(dims),
    )
    np.testing.assert_allclose(first["check_deviation"].values, difference.values, rtol=0, atol=0.0)
    assert np.all(first["check_deviation"].values < 0.01)
    # the signals compared are not trivially small
    assert np.all(np.abs(first["reference_sx"].sel(check_time=0.5).values) > 0.05)
    # only the first realization is checked
    second = load_results(path).isel(realization=1)
    assert np.all(np.isnan(second["check_deviation"].values))
    assert np.all(np.isnan(second["check_sx"].values))


def test_figures_are_written(echo_run: tuple[StudySpec, Path]) -> None:
    _, path = echo_run
    for figure in ("echo", "recovery", "check"):
        png = path.parent / f"tiny_echo_{figure}.png"
        assert png.is_file() and png.stat().st_size > 10_000


def test_resume_recomputes_only_the_missing_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(PBIT_ECHO)
    first = load_results(study.run_study(spec, out=tmp_path, progress=False))
    checkpoint = tmp_path / "pbit_echo.ckpt"
    (checkpoint / study.WorkUnit(1, 2).filename).unlink()
    calls: list[study.WorkUnit] = []
    real_compute_unit = study.compute_unit

    def counting(spec: StudySpec, unit: study.WorkUnit) -> xr.Dataset:
        calls.append(unit)
        return real_compute_unit(spec, unit)

    monkeypatch.setattr(study, "compute_unit", counting)
    resumed = load_results(study.run_study(spec, out=tmp_path, resume=True, progress=False))
    assert calls == [study.WorkUnit(1, 2)]
    xr.testing.assert_identical(resumed, first)


def test_resume_refuses_a_changed_study_and_recomputes_a_damaged_unit(tmp_path: Path) -> None:
    spec = parse_spec(PBIT_ECHO)
    first = load_results(study.run_study(spec, out=tmp_path, progress=False))
    changed = parse_spec(PBIT_ECHO.replace("W = [4.0, 8.0]", "W = [4.0, 9.0]"))
    with pytest.raises(CheckpointError, match="different study configuration"):
        study.run_study(changed, out=tmp_path, resume=True, progress=False)
    # without resume a checkpoint with finished units is refused, never silently cleared
    with pytest.raises(CheckpointError, match="--resume"):
        study.run_study(spec, out=tmp_path, progress=False)
    assert len(list((tmp_path / "pbit_echo.ckpt").glob("unit-*.nc"))) == 6
    # a damaged unit is moved aside (kept) and recomputed; the result equals the first run
    unit = tmp_path / "pbit_echo.ckpt" / study.WorkUnit(0, 1).filename
    unit.write_bytes(unit.read_bytes()[:200])
    resumed = load_results(study.run_study(spec, out=tmp_path, resume=True, progress=False))
    xr.testing.assert_identical(resumed.drop_attrs(), first.drop_attrs())
    damaged = list((tmp_path / "pbit_echo.ckpt" / "damaged").glob("unit-00000-00001.*.nc"))
    assert len(damaged) == 1 and damaged[0].stat().st_size == 200


def test_serial_and_two_worker_dask_runs_are_identical(tmp_path: Path) -> None:
    spec = parse_spec(PBIT_ECHO)
    serial = load_results(study.run_study(spec, out=tmp_path / "serial", progress=False))
    parallel = load_results(study.run_study(spec, out=tmp_path / "dask", workers=2, progress=False))
    for name in serial.data_vars:
        assert np.array_equal(serial[name].values, parallel[name].values), name
    xr.testing.assert_identical(serial, parallel)


def test_level_statistics_agree_with_the_spectrum_module(tmp_path: Path) -> None:
    text = """
[study]
name = "r_small"
kind = "level_statistics"
realizations = 3
seed = 4

[model]
n = [6, 8]
W = [1.0, 12.0]
"""
    loaded = load_results(study.run_study(parse_spec(text), out=tmp_path, progress=False))
    for n in (6, 8):
        for W in (1.0, 12.0):
            sample = sample_spacing_ratios(n, W, realizations=3, seed=4)
            np.testing.assert_array_equal(loaded["r"].sel(n=n, W=W).values, sample.values)
            fields = loaded["fields"].sel(n=n, W=W).values
            np.testing.assert_array_equal(fields[:, :n], sample.fields)
            assert np.all(np.isnan(fields[:, n:]))
    assert (tmp_path / "r_small_r.png").stat().st_size > 10_000


def test_entanglement_starts_at_zero_and_stays_below_the_page_bound(tmp_path: Path) -> None:
    text = """
[study]
name = "s_small"
kind = "entanglement"
realizations = 2

[model]
n = 6
W = 10.0
Jz = [0.0, 0.2]

[protocol]
background = ["z-random", "x"]

[times]
values = [0.0, 1.0, 100.0, 10000.0]
"""
    loaded = load_results(study.run_study(parse_spec(text), out=tmp_path, progress=False))
    entropy = loaded["entropy"]
    assert entropy.dims == ("Jz", "realization", "background", "time")
    np.testing.assert_allclose(entropy.sel(time=0.0).values, 0.0, atol=1e-12)
    assert np.all(entropy.values <= 3 * np.log(2) + 1e-12)
    assert np.all(entropy.sel(time=10000.0).values > 0.01)


def test_cli_run_returns_zero_and_bad_config_returns_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "pbit_echo.toml"
    good.write_text(PBIT_ECHO)
    assert cli.main(["run", str(good), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert (tmp_path / "out" / "pbit_echo.nc").is_file()
    assert "results:" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(PBIT_ECHO.replace("[protocol]", "[protocol]\nprobe = 9"))
    assert cli.main(["run", str(bad), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "protocol.probe" in err and "Traceback" not in err


def test_deer_frequency_matches_the_effective_coupling(tmp_path: Path) -> None:
    text = """
[study]
name = "deer_small"
kind = "deer"
realizations = 2
seed = 2

[model]
n = 6
W = 12.0
Jz = 0.3

[protocol]
partner_distances = [1]
max_coupling = 2.0

[times]
start = 0.0
stop = 100.0
num = 301
spacing = "linear"
"""
    loaded = load_results(study.run_study(parse_spec(text), out=tmp_path, progress=False))
    fitted = loaded["J_fit"].values.ravel()
    effective = np.abs(loaded["J_eff"].values.ravel())
    assert np.all(effective > 0.1)
    np.testing.assert_allclose(fitted, effective, rtol=0.05)
    assert np.all(loaded["partner_site"].values == 4)
    assert np.all(loaded["partner_distance"].values == 1)
    for figure in ("deer_signals", "deer_couplings"):
        assert (tmp_path / f"deer_small_{figure}.png").stat().st_size > 10_000


def test_lbit_locality_range_method_is_never_worse(tmp_path: Path) -> None:
    text = """
[study]
name = "locality_small"
kind = "lbit_locality"
realizations = 2
seed = 8

[model]
n = 6
W = [3.0, 10.0]
"""
    loaded = load_results(study.run_study(parse_spec(text), out=tmp_path, progress=False))
    assert list(loaded["assignment"].values) == ["overlap", "range"]
    average = loaded["average_range_z"]
    assert np.all(average.sel(assignment="range") <= average.sel(assignment="overlap") + 1e-12)
    # ... and at weak disorder it finds more local l-bits than the overlap assignment
    assert np.any(
        average.sel(W=3.0, assignment="range") < average.sel(W=3.0, assignment="overlap") - 0.01
    )
    np.testing.assert_allclose(average.values, loaded["mean_range_z"].mean("site").values)
    # stronger disorder, more local l-bits
    assert float(average.sel(W=10.0).mean()) < float(average.sel(W=3.0).mean())
    assert (tmp_path / "locality_small_locality.png").stat().st_size > 10_000
