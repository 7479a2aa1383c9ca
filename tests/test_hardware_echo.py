"""The hardware_echo study: device runs ordered by their noise, references, shot budgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("qiskit_ibm_runtime", reason="the device study needs the [hardware] extra")

from echo_lab.errors import ConfigError
from echo_lab.study.kinds.hardware_echo import hardware_summary, shot_budgets
from echo_lab.study.results import load_results
from echo_lab.study.runner import run_study
from echo_lab.study.spec import parse_spec

TINY = """
[study]
name = "hw"
kind = "hardware_echo"
realizations = 1
seed = 3

[model]
n = 4
W = 8.0

[protocol]
pulses = ["pbit", "lbit:1"]

[times]
values = [0.5, 1.5]

[devices]
names = ["fez"]
error_scales = [0.1, 3.0]
dt = 0.05
shots = 20000
seed = 7
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> object:
    out = tmp_path_factory.mktemp("hw")
    return load_results(run_study(parse_spec(TINY), out=out, progress=False))


def test_device_runs_follow_their_noise(result: object) -> None:
    ds = result.isel(realization=0)
    assert list(ds["setting"].values) == ["fez", "fez x0.1", "fez x3"]
    # a fine Trotter step: the noiseless circuits follow exact evolution
    np.testing.assert_allclose(ds["sx_trotter"], ds["sx_exact"], atol=0.05)
    deviation = np.abs(ds["sx_raw"] - ds["sx_trotter"]).mean(("pulse", "time"))
    assert float(deviation.sel(setting="fez x0.1")) < float(deviation.sel(setting="fez"))
    assert float(deviation.sel(setting="fez")) < float(deviation.sel(setting="fez x3"))
    gates = ds["two_qubit_gates"].sel(setting="fez")
    assert np.all(gates.sel(pulse="lbit:1") > gates.sel(pulse="pbit"))
    assert np.all(np.isnan(ds["sx_mitigated"].values))  # no setting was mitigated
    assert np.all(ds["success_probability"] > 0) and np.all(ds["success_probability"] < 1)


def test_shot_budgets_grow_as_differences_shrink(result: object) -> None:
    budgets = shot_budgets(result)
    assert np.all(np.isnan(budgets.sel(pulse="pbit")))
    finite = budgets.sel(pulse="lbit:1").values
    assert np.all(finite[np.isfinite(finite)] > 0)


def test_unknown_device_list_entries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"devices\.mitigated names 'torino'"):
        parse_spec(TINY.replace('names = ["fez"]', 'names = ["fez"]\nmitigated = ["torino"]'))
    with pytest.raises(ConfigError, match="mitigation"):
        parse_spec(TINY.replace('names = ["fez"]', 'names = ["fez"]\nmitigation = ["magic"]'))


def _refuse_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from echo_lab.study.kinds import hardware_echo

    def no_unit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a work unit ran")

    monkeypatch.setattr(hardware_echo, "compute_hardware", no_unit)


def test_a_device_too_small_for_the_chain_is_refused_before_any_unit_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_units(monkeypatch)
    small = TINY.replace('names = ["fez"]', 'names = ["fez", "manila"]').replace("n = 4", "n = 6")
    small = small.replace("error_scales = [0.1, 3.0]\n", "")
    with pytest.raises(ConfigError, match=r"\[devices: manila\] backend 'device'.*5 qubits"):
        run_study(parse_spec(small), out=tmp_path, progress=False)
    unknown = TINY.replace('names = ["fez"]', 'names = ["nonesuch"]').replace("error_scales", "#")
    with pytest.raises(ConfigError, match=r"\[devices: nonesuch\] backend 'device'"):
        run_study(parse_spec(unknown), out=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())  # no checkpoint, no results


def test_a_device_study_that_does_not_fit_in_memory_is_refused_before_any_unit_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from echo_lab.errors import ResourceError
    from echo_lab.resources import dense_operator_bytes, density_matrix_bytes, statevector_bytes
    from echo_lab.study.runner import check_resources

    _refuse_units(monkeypatch)
    one_setting = TINY.replace("error_scales = [0.1, 3.0]\n", "")
    spec = parse_spec(one_setting)
    # four simulated device states (density matrices at n = 4) and the dense l-bits
    assert check_resources(spec) == 4 * density_matrix_bytes(4) + 8 * dense_operator_bytes(4)
    trajectories = parse_spec(one_setting.replace("seed = 7", 'seed = 7\nmethod = "statevector"'))
    assert check_resources(trajectories) == 4 * statevector_bytes(4) + 8 * dense_operator_bytes(4)
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "40K")
    with pytest.raises(ResourceError, match=r"hardware_echo, backend 'device', largest n = 4"):
        run_study(spec, out=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_twirling_randomizations_reach_the_mitigated_runs() -> None:
    # the study's own unit at two randomization counts: the twirled (mitigated) values change,
    # the raw ones do not
    text = (
        TINY.replace('pulses = ["pbit", "lbit:1"]', 'pulses = ["pbit"]')
        .replace("values = [0.5, 1.5]", "values = [1.5]")
        .replace("error_scales = [0.1, 3.0]", 'mitigated = ["fez"]')
        .replace("shots = 20000", 'shots = 2000\nmitigation = ["twirling"]')
    )

    def unit(randomizations: int) -> xr.Dataset:
        spec = parse_spec(text.replace("seed = 7", f"seed = 7\nrandomizations = {randomizations}"))
        return spec.study_kind.compute_unit(spec, {}, 0)

    two, three = unit(2), unit(3)
    assert list(two["setting"].values) == ["fez"]
    np.testing.assert_array_equal(two["sx_raw"].values, three["sx_raw"].values)
    mitigated = [ds["sx_mitigated"].sel(setting="fez").values for ds in (two, three)]
    assert np.all(np.isfinite(mitigated)) and not np.array_equal(*mitigated)
    with pytest.raises(ConfigError, match="randomizations"):
        parse_spec(text.replace("seed = 7", "seed = 7\nrandomizations = 0"))


def test_summary_reports_the_disorder_means_at_every_time(result: object) -> None:
    ds = result
    text = hardware_summary(ds)
    row = next(line for line in text.splitlines() if line.startswith("| fez x3 | lbit:1 |"))
    at = ds.sel(setting="fez x3", pulse="lbit:1").isel(realization=0)
    raw = " / ".join(f"{v:.2f}" for v in at["sx_raw"].values)
    exact = " / ".join(f"{v:.2f}" for v in at["sx_exact"].values)
    assert f"| {raw} | - / - | {exact} |" in row  # no mitigation on this setting
    assert "T = 0.5 / 1.5" in text and text.count("| fez") == 3 * 2
