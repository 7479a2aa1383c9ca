"""The scaling study: its extra variables obey their definitions and physics invariants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from echo_lab import lbits
from echo_lab.errors import ConfigError
from echo_lab.lbits.compiled import CompiledLBits, compiled_lbits
from echo_lab.lbits.window import WindowLBits
from echo_lab.physics import models
from echo_lab.physics.linalg import PAULI_MATRICES, embed
from echo_lab.physics.states import probe_state
from echo_lab.study import spec as spec_module
from echo_lab.study.figures import plot_file
from echo_lab.study.kinds.echo_scaling import (
    coherence_variable,
    combine_results,
    kept_variable,
    prediction_rows,
    refocusing_prediction,
    scaling_figures,
    scaling_summary,
    scaling_table,
    with_sweep_dims,
)
from echo_lab.study.results import load_results
from echo_lab.study.runner import run_study
from echo_lab.study.spec import parse_spec

SMALL = """
[study]
name = "scaling_test"
kind = "echo_scaling"
realizations = 3
seed = 5

[model]
n = [6, 8]
W = [4.0, 16.0]

[protocol]
pulses = ["pbit", "lbit", "lbit:1"]
fid = false

[times]
start = 0.1
stop = 1000.0
num = 9
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> object:
    out = tmp_path_factory.mktemp("scaling")
    return load_results(run_study(parse_spec(SMALL), out=out, progress=False))


def test_exact_lbit_pulse_keeps_all_and_weights_are_physical(result: object) -> None:
    ds = result
    np.testing.assert_allclose(ds["kept"].sel(pulse="lbit").values, 1.0, atol=1e-9)
    assert np.all(np.abs(ds["static_weight"].values) <= 1.0)
    # stronger disorder: the bare spin is closer to its l-bit
    weights = ds["static_weight"].mean("realization")
    assert np.all(weights.sel(W=16.0).values > weights.sel(W=4.0).values)


def test_static_weight_is_the_trace_of_sigma_x_and_tau_x(result: object) -> None:
    ds = result
    model = models.RandomFieldXXZ(n=6, W=4.0, fields=ds["fields"].sel(n=6, W=4.0).isel(
        realization=0).values[:6])  # fmt: skip
    system = lbits.construct(model.hamiltonian())
    probe = int(ds["probe"].sel(n=6, W=4.0).isel(realization=0))
    x = embed(np.array([[0.0, 1.0], [1.0, 0.0]]), [probe], 6)
    expected = np.trace(x @ system.tau("x", probe)).real / 2**6
    got = float(ds["static_weight"].sel(n=6, W=4.0).isel(realization=0))
    assert got == pytest.approx(expected, abs=1e-12)


def test_refocusing_prediction_equals_the_dense_sum_over_all_configurations() -> None:
    rng = np.random.default_rng(4)
    n, probe = 6, 2
    model = models.RandomFieldXXZ(n=n, W=3.0, fields=rng.uniform(-3.0, 3.0, n))
    system = lbits.construct(model.hamiltonian())
    psi = probe_state(n, probe, background="z-random", rng=rng).vector()
    # dense: the pulse X_p in the l-bit basis, c = U^dag psi, every configuration s
    basis = system.from_lbit_basis(np.eye(2**n))
    configs = np.arange(2**n)
    flip = configs ^ (1 << probe)
    x = np.zeros((2**n, 2**n))
    x[flip, configs] = 1.0
    pulse = basis.conj().T @ x @ basis
    c = basis.conj().T @ psi
    late = np.sum(pulse[configs, flip] ** 2 * c[flip] * c.conj())
    initial = np.sum(c * c[flip].conj())
    predicted, coverage = refocusing_prediction(system, probe, psi)
    assert predicted == pytest.approx(late.real / initial.real, abs=1e-12)
    assert coverage == pytest.approx(1.0, abs=1e-12)
    # a_p is the plain mean of the flip amplitudes M_s; a_p^2 <= mean M_s^2 (Jensen)
    a_p = np.trace(embed(np.array([[0.0, 1.0], [1.0, 0.0]]), [probe], n) @ system.tau("x", probe))
    amplitudes = pulse[configs, flip]
    assert np.mean(amplitudes).real == pytest.approx(a_p.real / 2**n, abs=1e-12)
    assert (a_p.real / 2**n) ** 2 <= np.mean(np.abs(amplitudes) ** 2) + 1e-15
    # fewer configurations: a partial sum, and its coverage says how much
    partial, share = refocusing_prediction(system, probe, psi, configurations=2)
    assert 0 < share < 1 and np.isfinite(partial)


def test_study_records_the_refocusing_prediction_of_each_realization(result: object) -> None:
    ds = result
    one = ds.sel(n=6, W=4.0).isel(realization=1)
    model = models.RandomFieldXXZ(n=6, W=4.0, fields=one["fields"].values[:6])
    system = lbits.construct(model.hamiltonian())
    probe = int(one["probe"])
    seeds = np.random.SeedSequence(5).spawn(3)[1].spawn(1)[0]
    psi = probe_state(6, probe, background="z-random", rng=np.random.default_rng(seeds)).vector()
    expected, _ = refocusing_prediction(system, probe, psi)
    got = float(one["kept_predicted"].sel(background="z-random"))
    assert got == pytest.approx(expected, abs=1e-10)
    # 256 configurations cover all 2^(N - 1) pairs up to N = 9
    np.testing.assert_allclose(ds["kept_predicted_coverage"].values, 1.0, atol=1e-12)
    rows = prediction_rows(ds)
    assert {row["prediction"] for row in rows} == {"a_p^2", "refocusing"}


def test_table_and_combination_of_files(result: object) -> None:
    ds = result
    rows = scaling_table(ds)
    assert {row["pulse"] for row in rows} == {"pbit", "lbit", "lbit:1"}
    lbit = [row for row in rows if row["pulse"] == "lbit"]
    assert all(abs(row["k_inf"] - 1.0) < 1e-8 for row in lbit)
    part_a, part_b = ds.sel(n=[6]), ds.sel(n=[8]).isel(realization=slice(0, 2))
    combined = combine_results([part_b, part_a])
    assert list(combined["n"].values) == [6, 8]
    assert int(combined["kept"].sel(n=8).count("realization").max()) == 2
    # the table's kept fraction is the ratio of realization sums of late and initial values
    pbit = next(row for row in rows if row["pulse"] == "pbit" and row["W"] == 16.0)
    at = ds.sel(background="z-random", pulse="pbit", W=16.0, n=8)
    late = (at["kept"] * at["tau_x_initial"]).sum("realization")
    assert pbit["mean"][1] == pytest.approx(float(late / at["tau_x_initial"].sum()), rel=1e-12)


def test_summary_and_plots_of_combined_files(result: object, tmp_path: Path) -> None:
    ds = result
    text = scaling_summary(ds)
    assert "| 16 |" in text and "N -> inf" in text and "Crossover" in text
    assert text.count("**") == 2 * 2  # p-bit and lbit:1 tables (the exact l-bit keeps 1)
    for n in (6, 8):
        ds.sel(n=[n]).to_netcdf(tmp_path / f"part{n}.nc")
    written = plot_file(tmp_path / "part6.nc", tmp_path / "part8.nc", out=tmp_path / "figs")
    names = sorted(path.name for path in written)
    assert names == [
        "scaling_test_combined_plateau.png",
        "scaling_test_combined_prediction.png",
        "scaling_test_combined_scaling.png",
        "scaling_test_combined_summary.md",
    ]
    assert (tmp_path / "figs" / "scaling_test_combined_summary.md").read_text() == text


def test_scaling_figure_marks_the_disorder_values_and_the_kept_quantity(result: object) -> None:
    ds = result
    figure = scaling_figures(ds)["scaling"]
    top = figure.axes[0]
    assert [tick.get_text() for tick in top.get_xticklabels()] == ["4", "16"]
    np.testing.assert_allclose(top.get_xticks(), [4.0, 16.0])
    assert top.get_ylabel() == "kept fraction of <tau^x_p>"
    # a long-chain result keeps the circuit l-bit coherence under these names
    circuit = ds.drop_vars(["ctau_x", "ctau_x_initial", "kept_circuit"], errors="ignore")
    circuit = circuit.rename(
        {"kept": "kept_circuit", "tau_x": "ctau_x", "tau_x_initial": "ctau_x_initial"}
    )
    top = scaling_figures(circuit)["scaling"].axes[0]
    assert top.get_ylabel() == "kept fraction of <circuit tau^x_p>"
    assert scaling_summary(circuit).startswith("Kept fraction of <circuit tau^x_p>")


def test_a_study_at_one_size_and_one_disorder_given_as_a_list_plots(tmp_path: Path) -> None:
    # W = [16.0] is one value, not a sweep: the results have no W dimension (a crash before)
    text = SMALL.replace("n = [6, 8]", "n = 6").replace("W = [4.0, 16.0]", "W = [16.0]")
    path = run_study(parse_spec(text.replace("realizations = 3", "realizations = 2")), out=tmp_path)
    assert "W" not in load_results(path).dims
    summary = (tmp_path / "scaling_test_summary.md").read_text()
    assert "| 16 | " in summary and "(realizations per N: [2])" in summary


def _one_disorder(ds: xr.Dataset, attrs: dict[str, str]) -> xr.Dataset:
    """``ds`` at W = 16 without a W dimension, as a study of one disorder writes it."""
    one = ds.sel(W=16.0, drop=True)
    one.attrs = {**ds.attrs, "sweep_dims": json.dumps(["n"]), **attrs}
    for key in [key for key, value in attrs.items() if value is None]:
        del one.attrs[key]
    return one


def test_plots_read_w_from_the_stored_spec_without_the_loader(
    result: xr.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the figures must not run the study loader")

    normalized = parse_spec(SMALL.replace("W = [4.0, 16.0]", "W = 16.0")).normalized
    monkeypatch.setattr(spec_module, "parse_spec", refuse)
    # results that carry the normalized spec: their config text is not read at all
    ds = with_sweep_dims(_one_disorder(result, {"spec": normalized, "config": "not [toml"}))
    assert list(ds["W"].values) == [16.0] and json.loads(ds.attrs["sweep_dims"]) == ["n", "W"]
    assert {"n", "W"} <= set(ds["kept"].dims)
    np.testing.assert_array_equal(ds["kept"].sel(W=16.0).values, result["kept"].sel(W=16.0).values)


@pytest.mark.parametrize(
    ("model", "expected"),
    [("W = 16.0", 16.0), ("W = [16.0]", 16.0), ("", 0.0)],
)
def test_results_written_before_the_spec_attribute_read_w_from_their_config(
    result: xr.Dataset, monkeypatch: pytest.MonkeyPatch, model: str, expected: float
) -> None:
    text = SMALL.replace("W = [4.0, 16.0]", model)
    # the value the run used: the loader's reading of the same file (its default when no W)
    assert parse_spec(text).model.W == expected

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the figures must not run the study loader")

    monkeypatch.setattr(spec_module, "parse_spec", refuse)
    ds = with_sweep_dims(_one_disorder(result, {"spec": None, "config": "\ufeff" + text}))
    assert list(ds["W"].values) == [expected]


def test_results_without_a_readable_spec_or_config_are_refused(result: xr.Dataset) -> None:
    for attrs in ({"spec": "{}"}, {"spec": None, "config": "not [toml"}):
        with pytest.raises(ConfigError, match=r"do not give model\.W"):
            with_sweep_dims(_one_disorder(result, attrs))


def test_a_scaling_study_needs_an_lbit_pulse(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="add 'lbit'"):
        parse_spec(SMALL.replace('["pbit", "lbit", "lbit:1"]', '["pbit"]'))


CIRCUIT = """
[study]
name = "circuit_scaling"
kind = "echo_scaling"
realizations = 1
seed = 9

[model]
n = 8
W = 12.0

[lbits]
circuit_layers = 2
circuit_iterations = 30

[protocol]
pulses = ["pbit", "circuit"]
fid = false

[times]
values = [0.5, 2.0]

[backend]
name = "aer"
method = "matrix_product_state"
dt = 0.05
"""


def _mps_and_trotter_exact(
    text: str, tmp_path: Path, names: tuple[str, ...], *, engine: str = "aer"
) -> tuple[xr.Dataset, xr.Dataset]:
    """Run the study ``text`` (Aer MPS) on ``engine`` ("aer" or "quimb", uncapped and without
    cutoff) and on trotter-exact; assert that ``names`` agree to 1e-8 and return both results."""
    mps_text = text
    if engine == "quimb":
        mps_text = text.replace(
            'name = "aer"\nmethod = "matrix_product_state"',
            'name = "quimb"\noptions = { cutoff = 0.0 }',
        )
    mps = load_results(run_study(parse_spec(mps_text), out=tmp_path / "mps", progress=False))
    exact_text = text.replace('name = "aer"', 'name = "trotter-exact"').replace(
        'method = "matrix_product_state"\n', ""
    )
    exact = load_results(run_study(parse_spec(exact_text), out=tmp_path / "exact", progress=False))
    for name in names:
        np.testing.assert_allclose(mps[name].values, exact[name].values, atol=1e-8, err_msg=name)
    return mps, exact


def test_circuit_pulses_on_mps_equal_the_exact_backend(tmp_path: Path) -> None:
    names = ("sx", "ctau_x", "kept_circuit", "ctau_x_initial", "static_weight")
    mps, exact = _mps_and_trotter_exact(CIRCUIT, tmp_path, names)
    assert "tau_x" not in mps and abs(float(mps["static_weight"].squeeze())) <= 1.0
    # the echo_scaling kind records the MPS error budget too: uncapped, bond doubling finds
    # nothing, and the combined budget is the Trotter estimate
    assert float(mps["truncation_error"].max()) < 1e-6
    assert float(mps["mps_max_bond"].min()) >= 2
    np.testing.assert_allclose(mps["error_budget"], exact["trotter_error"], rtol=1e-6)


COMPILED = (
    CIRCUIT.replace('name = "circuit_scaling"', 'name = "compiled_scaling"')
    .replace(
        "circuit_layers = 2\ncircuit_iterations = 30", "compiled_window = 6\ncompiled_layers = 2"
    )
    .replace('["pbit", "circuit"]', '["pbit", "compiled:4"]')
)


def _trace_with_x(source: CompiledLBits | WindowLBits) -> float:
    """Tr(X_p tau^x_p) / 2^w of a probe-only l-bit source (compiled or window), from its dense
    block: the static weight the study should record."""
    block = source.tau("x", source.probe)
    pauli = embed(PAULI_MATRICES["X"], [source.local_probe], source.width)
    return float(np.real(np.trace(pauli @ block))) / block.shape[0]


def test_compiled_pulses_read_out_in_the_compiled_lbit(tmp_path: Path) -> None:
    """kept_compiled: the echo read out in the compiled l-bit; the MPS backend (its readout
    circuit V^dag played as gates) equals the trotter-exact backend (dense block), and
    static_weight is Tr(X_p tau^x_p) / 2^s of the compiled l-bit rebuilt from the fields."""
    names = ("sx", "compiled_tau_x", "kept_compiled", "compiled_tau_x_initial", "static_weight")
    mps, _ = _mps_and_trotter_exact(COMPILED, tmp_path, names)
    assert "tau_x" not in mps and "ctau_x" not in mps
    assert np.isnan(float(mps["xi_couplings"].squeeze()))
    assert scaling_summary(mps).startswith("Kept fraction of <compiled tau^x_p>")
    at = mps.isel(realization=0).squeeze()
    model = models.RandomFieldXXZ(n=8, W=12.0, fields=at["fields"].values)
    compiled = compiled_lbits(model, 4, window=6, support=4, layers=2)
    assert float(at["static_weight"]) == pytest.approx(_trace_with_x(compiled), abs=1e-10)
    # The compiled l-bit pulse keeps more of its own coherence than the p-bit pulse.
    kept = at["kept_compiled"]
    assert float(kept.sel(pulse="compiled:4")) > float(kept.sel(pulse="pbit"))


WINDOW = (
    CIRCUIT.replace('name = "circuit_scaling"', 'name = "window_scaling"')
    .replace("[lbits]\ncircuit_layers = 2\ncircuit_iterations = 30\n", "")
    .replace('["pbit", "circuit"]', '["pbit", "window:5", "window:5:1"]')
)


@pytest.mark.parametrize("engine", ["quimb", "aer"])
def test_window_pulses_read_out_in_the_window_lbit(tmp_path: Path, engine: str) -> None:
    """kept_window: the echo read out in the window l-bit. On the quimb MPS (readout from the
    reduced density matrix of the window) and on Aer's MPS (readout unitary U^dag played as
    one 5-qubit gate) it equals the trotter-exact backend (dense block); static_weight is
    Tr(X_p tau^x_p) / 2^w of the window l-bit rebuilt from the fields."""
    names = ("sx", "window_tau_x", "kept_window", "window_tau_x_initial", "static_weight")
    mps, _ = _mps_and_trotter_exact(WINDOW, tmp_path, names, engine=engine)
    assert "tau_x" not in mps and "ctau_x" not in mps and "compiled_tau_x" not in mps
    assert np.isnan(float(mps["xi_couplings"].squeeze()))
    assert scaling_summary(mps).startswith("Kept fraction of <window tau^x_p>")
    at = mps.isel(realization=0).squeeze()
    model = models.RandomFieldXXZ(n=8, W=12.0, fields=at["fields"].values)
    window = lbits.window.window_lbits(model, 4, width=5)
    assert float(at["static_weight"]) == pytest.approx(_trace_with_x(window), abs=1e-10)
    kept = at["kept_window"]
    # The window l-bit pulse keeps more of its own coherence than the p-bit pulse.
    assert float(kept.sel(pulse="window:5")) > float(kept.sel(pulse="pbit"))


EXACT_AND_WINDOW = """
[study]
name = "exact_and_window"
kind = "echo_scaling"
realizations = 1
seed = 4

[model]
n = 8
W = 12.0

[protocol]
pulses = ["pbit", "lbit", "window:6"]
fid = false
background = ["z-random", "x"]

[times]
values = [1.0, 10.0]
"""


def test_window_readout_beside_exact_lbits(tmp_path: Path) -> None:
    """With exact l-bits in the file too, both kept fractions are recorded and the exact one
    is the headline (kept_variable); at T = 0 the window readout of the all-|+> state equals
    the expectation of the embedded dense window tau^x_p."""
    ds = load_results(run_study(parse_spec(EXACT_AND_WINDOW), out=tmp_path, progress=False))
    assert kept_variable(ds) == "kept" and "kept_window" in ds
    at = ds.isel(realization=0).squeeze()
    model = models.RandomFieldXXZ(n=8, W=12.0, fields=at["fields"].values)
    window = lbits.window.window_lbits(model, 4, width=6)
    dense = embed(window.tau("x", 4), list(window.window), 8)
    vector = probe_state(8, 4, background="x").vector()
    expected = float(np.real(np.vdot(vector, dense @ vector)))
    got = float(at["window_tau_x_initial"].sel(background="x"))
    assert got == pytest.approx(expected, abs=1e-10)
    assert abs(expected) > 0.05  # not a trivial zero


def test_combined_files_are_read_out_in_the_lbit_every_size_has(tmp_path: Path) -> None:
    """An N = 8 file with exact and window readouts and an N = 10 file with the window readout
    only: combined, the kept fraction is the window one (the only one both sizes have), and
    the table has a value at each N; alone, the N = 8 file keeps the exact headline."""
    spec = parse_spec(EXACT_AND_WINDOW)
    small = load_results(run_study(spec, out=tmp_path / "a", progress=False))
    text = (
        EXACT_AND_WINDOW.replace('name = "exact_and_window"', 'name = "window_only"')
        .replace("n = 8", "n = 10")
        .replace('["pbit", "lbit", "window:6"]', '["pbit", "window:6"]')
    ) + '\n[backend]\nname = "trotter-exact"\ndt = 0.05\norder = 4\n'
    large = load_results(run_study(parse_spec(text), out=tmp_path / "b", progress=False))
    assert coherence_variable(small) == "tau_x" and coherence_variable(large) == "window_tau_x"
    combined = combine_results([small, large])
    assert coherence_variable(combined) == "window_tau_x"
    assert kept_variable(combined) == "kept_window"
    assert combined.attrs["backend"] == "exact, trotter-exact"  # both named in the summary
    pbit = next(row for row in scaling_table(with_sweep_dims(combined)) if row["pulse"] == "pbit")
    assert pbit["N"] == [8, 10] and all(np.isfinite(pbit["mean"]))
    at = small.sel(background="z-random", pulse="pbit")
    expected = float((at["kept_window"] * at["window_tau_x_initial"]).sum()) / float(
        at["window_tau_x_initial"].sum()
    )
    assert pbit["mean"][0] == pytest.approx(expected, rel=1e-12)
