"""The ``echo-lab lbits`` report: its table agrees with the LBitSystem and it writes the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from echo_lab import lbits
from echo_lab.cli import main
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.study.reports import figure_path, lbits_report


def _summary_value(text: str, prefix: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.split(":")[1])


@pytest.mark.parametrize("method", lbits.EXACT_METHODS)
def test_cli_lbits_report_table_and_figure(
    method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n, W, seed = 6, 6.0, 3
    args = ["--n", str(n), "--W", "6", "--seed", str(seed), "--method", method]
    assert main(["lbits", *args, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    model = models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed)
    system = lbits.construct(model.hamiltonian(), method=method)

    lines = text.splitlines()
    header = next(k for k, line in enumerate(lines) if line.split()[:1] == ["site"])
    assert lines[header].split() == ["site", "h_bare", "h_eff", "J_nn", "range_z", "range_x"]
    rows = [lines[header + 2 + i].split() for i in range(n)]
    table = {name: [row[k] for row in rows] for k, name in enumerate(lines[header].split())}
    assert [int(v) for v in table["site"]] == list(range(n))
    np.testing.assert_allclose([float(v) for v in table["h_bare"]], model.fields, atol=1e-4)
    effective = system.effective_coefficients()
    np.testing.assert_allclose(
        [float(v) for v in table["h_eff"]], [effective[1 << i] for i in range(n)], atol=1e-4
    )
    couplings = system.couplings()
    expected_nn = [couplings[i, i + 1] for i in range(n - 1)]
    np.testing.assert_allclose([float(v) for v in table["J_nn"][:-1]], expected_nn, rtol=1e-4)
    assert table["J_nn"][-1] == "-"
    np.testing.assert_allclose(
        [float(v) for v in table["range_z"]], system.mean_range("z"), atol=1e-4
    )
    np.testing.assert_allclose(
        [float(v) for v in table["range_x"]], system.mean_range("x"), atol=1e-4
    )
    assert _summary_value(text, "average range z:") == pytest.approx(
        system.average_range("z"), abs=1e-4
    )
    assert _summary_value(text, "xi (couplings):") == pytest.approx(system.xi_couplings(), abs=1e-4)
    assert _summary_value(text, "xi (tau^z tails):") == pytest.approx(
        system.xi_tails("z"), abs=1e-4
    )
    if method == "range":
        before = _summary_value(text, "average range z before optimization:")
        after = _summary_value(text, "average range z after optimization:")
        assert after <= before
        assert after == pytest.approx(system.average_range("z"), abs=1e-4)

    path = figure_path(tmp_path, n=n, W=W, J=1.0, Jz=1.0, seed=seed, method=method)
    assert f"figure: {path}" in text
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (11 * 150, 630)  # 11 x 4.2 inches at 150 dpi


def test_report_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="--n must be >= 2"):
        lbits_report(n=1, W=6.0, J=1.0, Jz=1.0, seed=1, method="overlap", out=tmp_path)
    # The CLI turns the error into one line and exit code 2, and writes no figure.
    assert main(["lbits", "--n", "4", "--W", "-1", "--out", str(tmp_path)]) == 2
    assert "W must be >= 0" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_circuit_report_lists_every_site_with_its_cx_counts(tmp_path: Path) -> None:
    from echo_lab.study.reports import circuit_lbits_report

    text = circuit_lbits_report(
        n=8,
        W=12.0,
        J=1.0,
        Jz=1.0,
        seed=2,
        options={"layers": 2, "max_iterations": 20},
        out=tmp_path,
    )
    rows = [line for line in text.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) == 8
    # a depth-2 brickwork pulse needs CX gates, and a readout circuit never more than its pulse
    pulse_cx = [int(row.split()[-2]) for row in rows]
    readout_cx = [int(row.split()[-1]) for row in rows]
    assert all(p > 0 for p in pulse_cx) and all(
        r <= p for r, p in zip(readout_cx, pulse_cx, strict=True)
    )
    assert "epsilon (offdiagonal fraction)" in text
    assert (tmp_path / "circuit_lbits_n8_W12_seed2.png").is_file()
    assert main(["lbits", "--method", "circuit", "--n", "300", "--out", str(tmp_path)]) == 2
