"""The Trotter error budget of echo studies (echo_lab.study.accuracy): settings, the largest step
used, the step-doubling estimate against the real error, noisy backends, [accuracy], summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.study import runner as study
from echo_lab.study.accuracy import (
    TROTTER_VARIABLES,
    accuracy_summary,
    largest_step,
    richardson_factor,
)
from echo_lab.study.kinds import get_kind
from echo_lab.study.results import load_results
from echo_lab.study.spec import StudySpec, parse_spec

STUDY = """
[study]
name = "accuracy"
kind = "echo"
realizations = {realizations}
seed = 3

[model]
n = {n}
Jz = 1.0
W = 4.0

[protocol]
sequence = "hahn"
pulses = ["pbit", "lbit"]
background = "z-random"
fid = {fid}

[times]
values = {times}

[backend]
{backend}
"""

TROTTER = 'name = "trotter-exact"\ndt = 0.1\norder = 2'
OBSERVABLES = ("sx", "sy", "tau_x", "tau_y")


def _spec(
    backend: str = TROTTER,
    *,
    times: str = "[0.5, 1.25, 5.0]",
    realizations: int = 1,
    n: int = 6,
    fid: str = "true",
    extra: str = "",
) -> StudySpec:
    text = STUDY.format(backend=backend, times=times, realizations=realizations, n=n, fid=fid)
    return parse_spec(text + extra)


def _compute(spec: StudySpec) -> xr.Dataset:
    units = {unit: study.compute_unit(spec, unit) for unit in study.list_units(spec)}
    return study.assemble_results(spec, units)


def test_step_doubling_estimates_the_real_trotter_error() -> None:
    trotterized = _compute(_spec())
    exact = _compute(_spec('name = "exact"'))
    # the estimate is made at the largest time, T = 5: compare with the error there
    actual = max(float(np.abs(trotterized[k] - exact[k]).sel(time=5.0).max()) for k in OBSERVABLES)
    estimate = float(trotterized["trotter_error"].values[0])
    assert actual > 1e-2  # a visible error (dt = 0.1, order 2)
    assert estimate == pytest.approx(actual, rel=0.1)  # measured: 0.0353 vs 0.0350
    assert int(trotterized["trotter_order"].values[0]) == 2
    assert float(trotterized["trotter_dt"].values[0]) == 0.1
    assert float(trotterized["trotter_max_step"].values[0]) == 0.1  # the FID at T = 0.5
    assert "at total times 5" in trotterized["trotter_error"].attrs["method"]
    assert not set(TROTTER_VARIABLES) & set(exact.data_vars)


def test_order_four_estimate_is_small_and_right() -> None:
    spec = _spec('name = "trotter-exact"\ndt = 0.1\norder = 4')
    trotterized = _compute(spec)
    exact = _compute(_spec('name = "exact"'))
    actual = max(float(np.abs(trotterized[k] - exact[k]).sel(time=5.0).max()) for k in OBSERVABLES)
    assert float(trotterized["trotter_error"].values[0]) == pytest.approx(actual, rel=0.1)
    assert richardson_factor(4) == pytest.approx(16 / 15)


def test_largest_step_is_the_step_actually_used() -> None:
    # Hahn halves 0.25 and 0.625 are 3 steps of 0.0833 and 7 of 0.0893: no step of dt
    spec = _spec(times="[0.5, 1.25]", fid="false")
    ds = _compute(spec)
    assert float(ds["trotter_max_step"].values[0]) == pytest.approx(0.625 / 7, rel=1e-14)
    x = np.array([[0, 1], [1, 0]], dtype=complex)
    hahn = PulseSequence([Free(0.5), Pulse(x, (0,), "X"), Free(0.5)])
    assert largest_step([hahn], [0.5, 1.25], dt=0.1) == pytest.approx(0.625 / 7)
    assert largest_step([hahn], [0.5, 1.0], dt=0.1) == 0.1
    assert largest_step([hahn], [0.0], dt=0.1) == 0.0


def test_noisy_backend_estimates_the_noiseless_evolution() -> None:
    noisy = 'name = "aer"\nmethod = "density_matrix"\ndevice = "CPU"\ndt = 0.1\n'
    noise = "[backend.noise]\nt1 = 15.0\nt2 = 12.0\ndepolarizing_2q = 0.005\n"
    got = _compute(_spec(noisy, n=4, times="[1.0, 2.3]", extra=noise))
    ideal = _compute(_spec('name = "aer"\ndevice = "CPU"\ndt = 0.1', n=4, times="[1.0, 2.3]"))
    np.testing.assert_allclose(got["trotter_error"], ideal["trotter_error"], rtol=1e-9)
    assert float(got["trotter_error"].values[0]) > 1e-4
    assert "noiseless" in got["trotter_error"].attrs["method"]
    assert "noiseless" not in ideal["trotter_error"].attrs["method"]


def test_accuracy_section_chooses_times_and_realizations(tmp_path: Path) -> None:
    spec = _spec(realizations=2, extra="\n[accuracy]\ntimes = [1.25]\nrealizations = 1\n")
    ds = load_results(study.run_study(spec, out=tmp_path / "run", progress=False))
    errors = ds["trotter_error"].values
    assert np.isfinite(errors[0]) and np.isnan(errors[1])
    assert "at total times 1.25" in ds["trotter_error"].attrs["method"]
    # the dt values of T = 1.25 are reused; a time that is not a study time is run at dt too
    other = _compute(_spec(extra="\n[accuracy]\ntimes = [1.3]\n"))
    assert np.isfinite(other["trotter_error"].values[0])
    off = _compute(_spec(extra="\n[accuracy]\nrealizations = 0\n"))
    assert np.isnan(off["trotter_error"].values).all()
    assert "No Trotter error estimate" in (accuracy_summary(off) or "")
    with pytest.raises(ConfigError, match="accuracy"):
        _spec(extra="\n[accuracy]\nsteps = 3\n")
    with pytest.raises(ConfigError, match=r"accuracy\.realizations"):
        _spec(extra="\n[accuracy]\nrealizations = -1\n")


def test_summary_states_the_budget() -> None:
    ds = _compute(_spec(realizations=2))
    text = get_kind("echo").summary(ds)
    assert text is not None
    assert "Trotter order 2, dt = 0.1 (largest step used: 0.1)" in text
    assert "over 2 of 2 units" in text
    assert f"max {np.nanmax(ds['trotter_error'].values):.2g}" in text
    assert get_kind("echo").summary(_compute(_spec('name = "exact"'))) is None
