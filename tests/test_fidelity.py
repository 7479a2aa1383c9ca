"""lbits.fidelity: F_z, a_z, D, F_x and range weights against the exact l-bits, block by block
equal to the dense traces Tr(embed(A) tau) / 2^N."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from echo_lab import lbits
from echo_lab.cli import main
from echo_lab.errors import ConfigError
from echo_lab.lbits.fidelity import compare, compare_sites, support_ceiling
from echo_lab.lbits.window import window_lbits
from echo_lab.physics import models
from echo_lab.physics.linalg import embed

N, P = 8, 4


@pytest.fixture(scope="module")
def chain() -> tuple[models.RandomFieldXXZ, lbits.LBitSystem]:
    model = models.RandomFieldXXZ(n=N, W=8.0, seed=1)
    return model, lbits.construct(model.hamiltonian(), method="overlap")


def dense_trace(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.real(np.trace(a @ b))) / a.shape[0]


def dense_fx(ax: np.ndarray, reference: lbits.LBitSystem, p: int) -> float:
    return float(
        np.hypot(dense_trace(ax, reference.tau("x", p)), dense_trace(ax, reference.tau("y", p)))
    )


def test_exact_against_itself_is_one(chain):
    _, exact = chain
    for p in (0, P, N - 1):
        result = compare(exact, exact, p)
        assert result.f_z == pytest.approx(1.0, abs=1e-12)
        assert result.f_x == pytest.approx(1.0, abs=1e-12)
        assert result.d == pytest.approx(1.0, abs=1e-12)
        # an involution: Tr(tau^2) / 2^N = 1 spread over the ranges
        assert result.range_weights is not None
        assert result.range_weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert result.a_z < 1.0


def test_bare_spin(chain):
    _, exact = chain
    result = compare(exact, None, P)
    sigma_z = embed(np.diag([1.0, -1.0]), [P], N)
    assert result.method == "bare"
    assert result.d == 0.0
    assert result.f_z == result.a_z
    assert result.a_z == pytest.approx(dense_trace(sigma_z, exact.tau("z", P)), abs=1e-12)
    sigma_x = embed(np.array([[0.0, 1.0], [1.0, 0.0]]), [P], N)
    assert result.f_x == pytest.approx(dense_fx(sigma_x, exact, P), abs=1e-12)
    assert list(result.range_weights) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert len(compare_sites(exact, None)) == N


@pytest.mark.parametrize("width", [3, 5, 6])
def test_window_block_by_block_equals_dense(chain, width):
    model, exact = chain
    window = window_lbits(model, P, width=width)
    result = compare(exact, window, P)
    a_z = embed(window.tau("z", P), window.window, N)
    a_x = embed(window.tau("x", P), window.window, N)
    assert result.f_z == pytest.approx(dense_trace(a_z, exact.tau("z", P)), abs=1e-12)
    assert result.f_x == pytest.approx(dense_fx(a_x, exact, P), abs=1e-12)
    assert result.d == pytest.approx((result.f_z - result.a_z) / (1 - result.a_z), abs=1e-15)
    assert result.sites == window.window
    assert result.range_weights.sum() == pytest.approx(1.0, abs=1e-12)
    # no weight beyond the window's reach from p
    reach = max(abs(s - P) for s in window.window)
    assert np.all(result.range_weights[reach + 1 :] == 0.0)


def test_whole_chain_window_is_the_exact_lbit(chain):
    model, exact = chain
    result = compare(exact, window_lbits(model, P, width=N), P)
    itself = compare(exact, exact, P)
    assert result.f_z == pytest.approx(1.0, abs=1e-12)
    assert result.d == pytest.approx(1.0, abs=1e-12)
    assert result.f_x == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(result.range_weights, itself.range_weights, atol=1e-12)


def test_circuit_block_by_block_equals_dense(chain):
    model, exact = chain
    circuit = lbits.construct(model.hamiltonian(), method="circuit", layers=2, max_iterations=30)
    for p in (0, P):
        result = compare(exact, circuit, p)
        assert result.method == "circuit"
        assert result.f_z == pytest.approx(
            dense_trace(circuit.tau_dense("z", p), exact.tau("z", p)), abs=1e-12
        )
        assert result.f_x == pytest.approx(dense_fx(circuit.tau_dense("x", p), exact, p), abs=1e-12)
        assert result.range_weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert result.sites == circuit.light_cone(p)[1]


def test_range_against_overlap_permutation_equals_dense():
    """Different assignments of the same eigenvectors: the O(2^N) permutation trace equals the
    dense one, for z, x and the x-y cross term (the phase gauge matters there)."""
    hamiltonian = models.RandomFieldXXZ(n=6, W=2.0, seed=2).hamiltonian()
    overlap = lbits.construct(hamiltonian, method="overlap")
    ranged = lbits.construct(hamiltonian, method="range")
    assert np.any(overlap.assignment != ranged.assignment)
    for p in range(6):
        result = compare(overlap, ranged, p)
        assert result.f_z == pytest.approx(
            dense_trace(ranged.tau("z", p), overlap.tau("z", p)), abs=1e-12
        )
        assert result.f_x == pytest.approx(dense_fx(ranged.tau("x", p), overlap, p), abs=1e-12)
        assert result.reference_method == "overlap" and result.method == "range"


def test_support_ceiling_bounds_every_construction_on_its_support(chain):
    """The ceiling is the norm of tau^z's truncation (computed here by partial traces, not by the
    Pauli transform the function uses), grows with the width, is 1 for the whole chain, and no
    window l-bit of any width, on any placement, beats the ceiling of its width."""
    model, exact = chain
    ceilings = support_ceiling(exact, P)
    assert [c.width for c in ceilings] == list(range(1, N + 1))
    assert ceilings[0].d == pytest.approx(0.0, abs=1e-12)  # {p}: the bare spin is the best
    assert ceilings[-1].f_z == pytest.approx(1.0, abs=1e-12)
    assert ceilings[-1].d == pytest.approx(1.0, abs=1e-12)
    assert all(b.weight >= a.weight - 1e-12 for a, b in itertools.pairwise(ceilings))
    for ceiling in ceilings:
        assert P in ceiling.sites and len(ceiling.sites) == ceiling.width
        truncated = exact.window_operator("z", P, list(ceiling.sites))
        norm = np.vdot(truncated, truncated).real / truncated.shape[0]
        assert ceiling.weight == pytest.approx(norm, abs=1e-12)
        # no other placement of the same width holds more weight
        for start in range(max(0, P - ceiling.width + 1), min(P, N - ceiling.width) + 1):
            other = exact.window_operator("z", P, list(range(start, start + ceiling.width)))
            assert np.vdot(other, other).real / other.shape[0] <= ceiling.weight + 1e-12
    for width in range(2, N):
        for method in ("overlap", "range"):
            result = compare(exact, window_lbits(model, P, width=width, method=method), P)
            assert result.f_z <= ceilings[width - 1].f_z + 1e-12
            assert result.d <= ceilings[width - 1].d + 1e-12
    # on {p} alone the bare spin is the best operator
    assert compare(exact, None, P).f_z == pytest.approx(ceilings[0].f_z, abs=1e-12)


def test_support_ceiling_refusals(chain):
    _, exact = chain
    with pytest.raises(ConfigError, match=r"outside 1\.\.8"):
        support_ceiling(exact, P, [0])
    with pytest.raises(ConfigError, match="integers"):
        support_ceiling(exact, P, [2.5])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="outside"):
        support_ceiling(exact, N)
    big = lbits.construct(models.RandomFieldXXZ(n=13, W=8.0, seed=1).hamiltonian())
    with pytest.raises(ConfigError, match="n <= 12"):
        support_ceiling(big, 6)


def test_refusals(chain):
    model, exact = chain
    with pytest.raises(ConfigError, match="hold"):
        compare(exact, window_lbits(model, P, width=4), P + 1)
    with pytest.raises(ConfigError, match="same chain"):
        other = lbits.construct(models.RandomFieldXXZ(n=6, W=8.0, seed=1).hamiltonian())
        compare(exact, other, 0)
    with pytest.raises(ConfigError, match="outside"):
        compare(exact, None, N)
    with pytest.raises(ConfigError, match="reference"):
        compare(window_lbits(model, P, width=4), None, P)  # type: ignore[arg-type]


def test_cli_compare_prints_the_table(tmp_path, capsys):
    args = ["lbits", "--n", "6", "--W", "8", "--seed", "1", "--out", str(tmp_path)]
    assert main([*args, "--compare", "window:4,window:6,circuit", "--iterations", "20"]) == 0
    out = capsys.readouterr().out
    assert "F_z" in out and "D" in out and "F_x" in out
    assert "window w=4" in out and "window w=6" in out and "circuit" in out and "bare" in out
    assert "vs range" in out  # n <= 10: the range assignment is a reference too
    model = models.RandomFieldXXZ(n=6, W=8.0, seed=1)
    exact = lbits.construct(model.hamiltonian(), method="overlap")
    expected = compare(exact, window_lbits(model, 3, width=4), 3)
    assert f"{expected.f_z:.4f}" in out
    ceiling = support_ceiling(exact, 3, [4])[0]
    assert f"w=4: {ceiling.d:.3f}" in out and "w=6: 1.000" in out


@pytest.mark.parametrize(
    "value", ["window:13", "window:x", "window", "magic", "", "circuit,,window:4", "window:0"]
)
def test_cli_compare_bad_value_exits_2_with_one_line(tmp_path, capsys, value):
    args = ["lbits", "--n", "6", "--out", str(tmp_path), "--compare", value]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--compare" in err


def test_cli_compare_limits(tmp_path, capsys):
    assert main(["lbits", "--n", "15", "--out", str(tmp_path), "--compare", "circuit"]) == 2
    assert "14" in capsys.readouterr().err
    assert (
        main(["lbits", "--n", "6", "--out", str(tmp_path), "--compare", "bare", "--site", "6"]) == 2
    )
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_kept_in_readouts_exact_pulse_keeps_everything(chain):
    """The exact l-bit pulse refocuses tau^x_p exactly; a window covering the chain is the exact
    l-bit, so it reads out the same echo; the p-bit echo keeps less than 1."""
    from echo_lab.study.reports import kept_in_readouts

    model, exact = chain
    whole = window_lbits(model, P, width=N)
    kept = kept_in_readouts(exact, {"whole": whole, "bare": None}, P, pulse="lbit", backgrounds=3)
    assert kept["exact"] == pytest.approx(1.0, abs=1e-9)
    assert kept["whole"] == pytest.approx(1.0, abs=1e-9)
    pbit = kept_in_readouts(exact, {"whole": whole, "bare": None}, P, backgrounds=3)
    assert pbit["whole"] == pytest.approx(pbit["exact"], abs=1e-9)
    assert 0.0 < pbit["exact"] < 0.95
    assert set(pbit) == {"exact", "whole", "bare"}


def test_kept_in_readouts_bare_readout_is_the_sigma_x_echo(chain):
    """The bare readout equals <sigma^x_p> of the same echo computed with the dense propagator
    (an independent evolution: expm of the dense H, X_p at T / 2)."""
    from scipy.linalg import expm

    from echo_lab.physics.states import probe_state
    from echo_lab.study.reports import kept_in_readouts

    model, exact = chain
    times = np.array([0.0, 10.0, 100.0])
    kept = kept_in_readouts(exact, {"bare": None}, P, times=times, backgrounds=1, seed=5)
    state = probe_state(N, P, background="z-random", rng=np.random.default_rng(5)).vector()
    h = model.hamiltonian().to_matrix()
    x = embed(np.array([[0, 1], [1, 0]], dtype=complex), [P], N)
    values = []
    for t in times:
        half = expm(-0.5j * t * h)
        psi = half @ (x @ (half @ state))
        values.append(float(np.real(np.vdot(psi, x @ psi))))
    expected = np.mean([v for v, t in zip(values, times, strict=True) if t >= times.max() / 10])
    assert kept["bare"] == pytest.approx(expected / values[0], abs=1e-9)


def test_kept_in_readouts_rejects_bad_backgrounds(chain):
    from echo_lab.study.reports import kept_in_readouts

    _, exact = chain
    with pytest.raises(ConfigError, match="backgrounds"):
        kept_in_readouts(exact, {}, P, backgrounds=0)


def test_probe_observables_axes_limit_the_readouts(chain):
    """axes=("x",) gives exactly the x operators of the full set (the kept-fraction readout
    builds no tau^y); an axis outside x, y is refused."""
    from echo_lab.protocols.observables import probe_observables

    _, exact = chain
    full = probe_observables(N, P, source=exact)
    only_x = probe_observables(N, P, source=exact, axes=("x",))
    assert list(only_x) == ["sx", "tau_x"]
    assert only_x["sx"] == full["sx"]
    assert np.array_equal(np.asarray(only_x["tau_x"]), np.asarray(full["tau_x"]))
    with pytest.raises(ConfigError, match="probe axes"):
        probe_observables(N, P, axes=("z",))
