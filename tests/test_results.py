"""Results files: NetCDF round trip, atomic writes, unreadable files, environment attributes."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from echo_lab.errors import CheckpointError
from echo_lab.study.results import environment_attrs, load_results, save_results


def example_dataset() -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {
            "sx": (("W", "realization", "pulse", "time"), rng.standard_normal((2, 3, 2, 5))),
            "fields": (("W", "realization", "site"), rng.uniform(-8, 8, (2, 3, 4))),
            "probe": (("W", "realization"), np.full((2, 3), 2, dtype=np.int64)),
        },
        coords={
            "W": [4.0, 8.0],
            "realization": np.arange(3),
            "pulse": ["fid", "lbit:1"],
            "time": np.geomspace(0.1, 10.0, 5),
        },
        attrs={"name": "example", "config": "[study]\nname = 'x'\n", "seed": 3, "ratio": 0.5},
    )


def test_round_trip_is_identical(tmp_path: Path) -> None:
    dataset = example_dataset()
    path = save_results(dataset, tmp_path / "sub" / "example.nc")
    loaded = load_results(path)
    xr.testing.assert_identical(loaded, dataset)
    assert loaded["sx"].dtype == np.float64 and loaded["probe"].dtype == np.int64
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = save_results(example_dataset(), tmp_path / "example.nc")
    before = path.read_bytes()
    broken = example_dataset()
    broken.attrs["not_storable"] = {"a nested": "dict"}
    with pytest.raises(TypeError):
        save_results(broken, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_unreadable_and_missing_files_raise_checkpoint_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"this is not an HDF5 file")
    with pytest.raises(CheckpointError, match=r"garbage\.nc"):
        load_results(garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_results(tmp_path / "absent.nc")


def test_environment_attrs_record_the_installed_versions() -> None:
    attrs = environment_attrs()
    assert attrs["version_numpy"] == np.__version__
    assert attrs["version_xarray"] == xr.__version__
    assert attrs["version_qiskit"] == importlib.metadata.version("qiskit")
    assert attrs["version_qiskit_aer"] == importlib.metadata.version("qiskit-aer")
    assert all(isinstance(value, str) and value for value in attrs.values())
    assert "git_commit" in attrs
