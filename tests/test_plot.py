"""Figures: each plotting function draws the disorder statistics it promises onto an Axes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from echo_lab.errors import CheckpointError, ConfigError
from echo_lab.physics.spectrum import GOE_R, POISSON_R
from echo_lab.study import drawing as plot
from echo_lab.study.figures import plot_file
from echo_lab.study.kinds import echo, level_statistics
from echo_lab.study.results import save_results

PULSES = ["fid", "pbit", "lbit", "lbit:1", "lbit:2"]


def echo_dataset() -> xr.Dataset:
    rng = np.random.default_rng(3)
    times = np.geomspace(0.1, 1000.0, 9)
    dims = ("W", "realization", "background", "pulse", "time")
    shape = (2, 4, 1, len(PULSES), times.size)
    return xr.Dataset(
        {name: (dims, rng.uniform(-0.2, 1.0, shape)) for name in ("sx", "tau_x")},
        coords={
            "W": [4.0, 8.0],
            "realization": np.arange(4),
            "background": ["z-random"],
            "pulse": PULSES,
            "time": times,
        },
        attrs={"name": "synthetic", "kind": "echo", "sweep_dims": json.dumps(["W"])},
    )


def new_axes() -> tuple[Figure, object]:
    figure = Figure()
    return figure, figure.add_subplot()


def test_plot_echo_draws_the_disorder_mean_of_each_pulse() -> None:
    ds = echo_dataset().sel(W=8.0)
    _, ax = new_axes()
    echo.plot_echo(ds, ax)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "FID",
        "p-bit pulse",
        "exact l-bit pulse",
        "l-bit pulse, r = 1",
        "l-bit pulse, r = 2",
    ]
    expected = ds["sx"].isel(background=0).mean("realization")
    for line, pulse in zip(lines, PULSES, strict=True):
        np.testing.assert_allclose(line.get_ydata(), expected.sel(pulse=pulse).values)
        np.testing.assert_allclose(line.get_xdata(), ds["time"].values)
    assert ax.get_xscale() == "log"
    assert "1/J" in ax.get_xlabel()


def test_late_time_recovery_averages_the_last_decade() -> None:
    ds = echo_dataset()
    recovery = echo.late_time_recovery(ds)
    late = ds["time"].values >= 100.0
    np.testing.assert_allclose(recovery.values, ds["sx"].values[..., late].mean(axis=-1))
    with pytest.raises(ConfigError, match="fraction"):
        echo.late_time_recovery(ds, fraction=0.0)


def test_plot_recovery_places_pulses_by_window_radius() -> None:
    ds = echo_dataset()
    _, ax = new_axes()
    echo.plot_recovery(ds, ax, observable="tau_x")
    ticks = {
        tick.get_text(): value
        for tick, value in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)
    }
    assert ticks == {"p-bit": -1, "1": 1, "2": 2, "exact": 3}
    # one errorbar line per W with the late-time means in radius order
    recovery = echo.late_time_recovery(ds.sel(W=4.0).isel(background=0), observable="tau_x")
    recovery = recovery.mean("realization")
    first = ax.get_lines()[0]
    np.testing.assert_allclose(first.get_xdata(), [-1, 1, 2, 3])
    np.testing.assert_allclose(
        first.get_ydata(), recovery.sel(pulse=["pbit", "lbit:1", "lbit:2", "lbit"]).values
    )


def test_plot_level_statistics_has_poisson_and_goe_lines() -> None:
    rng = np.random.default_rng(5)
    ds = xr.Dataset(
        {"r": (("n", "W", "realization"), rng.uniform(0.35, 0.55, (2, 3, 5)))},
        coords={"n": [8, 10], "W": [2.0, 6.0, 12.0], "realization": np.arange(5)},
        attrs={"kind": "level_statistics", "sweep_dims": json.dumps(["n", "W"])},
    )
    _, ax = new_axes()
    level_statistics.plot_level_statistics(ds, ax)
    levels = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert levels[f"Poisson {POISSON_R:.4f}"] == pytest.approx(POISSON_R)
    assert levels[f"GOE {GOE_R:.4f}"] == pytest.approx(GOE_R)
    curve = next(c for c in ax.containers if c.get_label() == "n = 10").lines[0]
    np.testing.assert_allclose(curve.get_ydata(), ds["r"].sel(n=10).mean("realization").values)
    assert "W" in ax.get_xlabel()


def test_summarize_gives_mean_standard_error_and_typical_value() -> None:
    values = xr.DataArray([[1.0, 4.0], [4.0, 1.0]], dims=("realization", "time"))
    summary = plot.summarize(values)
    np.testing.assert_allclose(summary["mean"].values, [2.5, 2.5])
    np.testing.assert_allclose(summary["sem"].values, [1.5, 1.5])
    np.testing.assert_allclose(summary["typical"].values, [2.0, 2.0])


def test_plot_file_writes_the_figures_of_a_results_file(tmp_path: Path) -> None:
    path = save_results(echo_dataset(), tmp_path / "synthetic.nc")
    figures = plot_file(path, out=tmp_path / "figures")
    assert [f.name for f in figures] == ["synthetic_echo.png", "synthetic_recovery.png"]
    for figure in figures:
        assert figure.parent == tmp_path / "figures"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert figure.stat().st_size > 10_000


def test_plot_file_rejects_unknown_and_missing_files(tmp_path: Path) -> None:
    foreign = echo_dataset()
    foreign.attrs["kind"] = "tomography"
    path = save_results(foreign, tmp_path / "foreign.nc")
    with pytest.raises(ConfigError, match="tomography"):
        plot_file(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        plot_file(tmp_path / "absent.nc")
