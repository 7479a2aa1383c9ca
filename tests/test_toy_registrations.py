"""A new pulse family and a new l-bit construction plug in from outside the package.

Both toys are defined here and registered through the public registries
(:func:`echo_lab.protocols.families.register_pulse_family`, :func:`echo_lab.lbits.register_method`)
without editing echo_lab, and removed again after each test:

* the pulse family ``"pair"``: the pulse X_p X_{p+1} on the probe and its right neighbour, built
  from no l-bits. At J = Jz = 0 (static fields only) a Hahn echo with it refocuses the fields of
  both sites, so <sigma^x_p> returns to 1 at every time, while the FID dephases.
* the l-bit construction ``"bare"``: the p-bits themselves as an l-bit source (tau = sigma). Its
  l-bit pulses are the p-bit pulses and its readouts the sigma readouts, on the exact backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from echo_lab import lbits
from echo_lab.backends.exact import ExactBackend
from echo_lab.dynamics.pulses import check_angle_error, pbit_pulse, rotate_about
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.linalg import PAULI_MATRICES
from echo_lab.physics.models import RandomFieldXXZ
from echo_lab.physics.states import probe_state
from echo_lab.protocols.families import (
    PULSE_FAMILIES,
    PulseFamily,
    PulseSpec,
    make_pulse,
    register_pulse_family,
)
from echo_lab.protocols.observables import probe_observables
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study.results import load_results
from echo_lab.study.runner import run_study
from echo_lab.study.spec import parse_spec


def _build_pair(spec: PulseSpec, p: int, axis: str, source: LBitSource | None) -> Pulse:
    """X_p X_{p+1} (Y_p Y_{p+1} about y), rotated by pi (1 + eps)."""
    pauli = PAULI_MATRICES[axis.upper()]
    eps = check_angle_error(spec.angle_error)
    return Pulse(
        rotate_about(np.kron(pauli, pauli), angle_error=eps),
        (p, p + 1),
        label=f"{axis.upper()}_{p}{axis.upper()}_{p + 1}",
        kind="pair",
        meta={"site": p, "axis": axis, "angle_error": eps},
    )


PAIR = PulseFamily(
    "pair",
    "'pair' (X_p X_{p+1}: the probe and its right neighbour)",
    build=_build_pair,
    legend=lambda spec: "pair pulse X_p X_p+1",
)


@pytest.fixture
def pair_family() -> Iterator[PulseFamily]:
    register_pulse_family(PAIR)
    try:
        yield PAIR
    finally:
        del PULSE_FAMILIES["pair"]


def test_the_pair_family_parses_and_builds_without_lbits(pair_family: PulseFamily) -> None:
    spec = PulseSpec.parse("pair", angle_error=0.1)
    assert (spec.family, spec.label, spec.source_need, spec.pulse_family) == (
        "pair",
        "pair",
        None,
        pair_family,
    )
    pulse = make_pulse("pair", 2, axis="y")
    assert pulse.qubits == (2, 3) and pulse.label == "Y_2Y_3"
    with pytest.raises(ConfigError, match="malformed pair pulse spec 'pair:1'"):
        PulseSpec.parse("pair:1")
    with pytest.raises(ConfigError, match=r"X_p X_\{p\+1\}"):
        PulseSpec.parse("pear")  # the error lists every registered family's grammar
    with pytest.raises(ConfigError, match="registered already"):
        register_pulse_family(PAIR)
    with pytest.raises(ConfigError, match="outside the 4-site system"):
        build_sequence("hahn", n=4, probe=3, pulse="pair")


def test_the_pair_family_is_gone_after_its_test() -> None:
    assert "pair" not in PULSE_FAMILIES
    with pytest.raises(ConfigError, match="unknown pulse spec 'pair'"):
        PulseSpec.parse("pair")


def test_a_pair_hahn_echo_refocuses_the_fields_of_both_sites(pair_family: PulseFamily) -> None:
    n, probe = 5, 2
    model = RandomFieldXXZ(n=n, W=3.0, J=0.0, Jz=0.0, seed=8)
    hamiltonian = model.hamiltonian()
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(4))
    times = np.linspace(0.5, 20.0, 9)
    backend = ExactBackend()
    observables = probe_observables(n, probe)
    hahn = build_sequence("hahn", n=n, probe=probe, pulse="pair")
    assert [p.label for p in hahn.pulses] == ["X_2X_3"]
    echo = backend.run(hamiltonian, hahn, state, times, observables=observables)
    np.testing.assert_allclose(echo["sx"], 1.0, atol=1e-12)
    np.testing.assert_allclose(echo["sy"], 0.0, atol=1e-12)
    fid = build_sequence("fid", n=n, probe=probe)
    free = backend.run(hamiltonian, fid, state, times, observables=observables)
    assert np.max(np.abs(free["sx"] - 1.0)) > 0.5  # the fields do dephase without the echo
    # CPMG and XY-4 take it too (the family allows every protocol).
    xy4 = build_sequence("xy4", n=n, probe=probe, pulse="pair")
    result = backend.run(hamiltonian, xy4, state, times, observables=observables)
    np.testing.assert_allclose(result["sx"], 1.0, atol=1e-12)


PAIR_STUDY = """
[study]
name = "pair"
kind = "echo"
realizations = 2
seed = 3

[model]
n = 5
W = 3.0
J = 0.0
Jz = 0.0

[protocol]
pulses = ["pbit", "pair"]

[times]
values = [1.0, 5.0, 20.0]
"""


def test_an_echo_study_runs_the_pair_family(pair_family: PulseFamily, tmp_path: Path) -> None:
    spec = parse_spec(PAIR_STUDY)
    assert [p.label for p in spec.settings.protocol.pulses] == ["pbit", "pair"]
    ds = load_results(run_study(spec, out=tmp_path, progress=False))
    assert list(ds["pulse"].values) == ["fid", "pbit", "pair"]
    assert "tau_x" not in ds
    np.testing.assert_allclose(ds["sx"].sel(pulse="pair").values, 1.0, atol=1e-12)
    np.testing.assert_allclose(ds["sx"].sel(pulse="pbit").values, 1.0, atol=1e-12)
    assert np.max(np.abs(ds["sx"].sel(pulse="fid").values - 1.0)) > 0.1
    assert sorted(tmp_path.glob("pair_*.png"))  # the figures name and place the new family


class BareLBits(LBitSource):
    """The p-bits as l-bits: tau^a_i = sigma^a_i, a construction defined outside the package."""

    method = "bare"

    def __init__(self, hamiltonian: SparsePauliOp) -> None:
        self.hamiltonian = hamiltonian

    @property
    def n(self) -> int:
        return int(self.hamiltonian.num_qubits)

    def tau(self, a: str, i: int) -> SparsePauliOp:
        i = self.check_site(i)
        return SparsePauliOp.from_sparse_list([(a.upper(), [i], 1.0)], self.n)

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        # sigma_p lives on site p: truncating it to any radius leaves it unchanged.
        return pbit_pulse(self.check_site(p), axis=axis, angle_error=angle_error)

    def tau_observable(self, a: str, i: int) -> SparsePauliOp:
        return self.tau(a, i)


def build_bare(hamiltonian: SparsePauliOp) -> BareLBits:
    return BareLBits(hamiltonian)


@pytest.fixture
def bare_method() -> Iterator[str]:
    lbits.register_method("bare", build_bare)
    try:
        yield "bare"
    finally:
        del lbits.METHODS["bare"]


def test_bare_lbits_pulse_and_read_out_like_pbits(bare_method: str) -> None:
    n, probe = 6, 2
    model = RandomFieldXXZ(n=n, W=4.0, seed=5)
    hamiltonian = model.hamiltonian()
    bare = lbits.construct(hamiltonian, method=bare_method)
    assert isinstance(bare, BareLBits) and lbits.method_options(bare_method) == ()
    for spec in ("lbit", "lbit:1"):
        for axis in ("x", "y"):
            pulse = make_pulse(spec, probe, axis=axis, source=bare, angle_error=0.05)
            reference = pbit_pulse(probe, axis=axis, angle_error=0.05)
            assert pulse.qubits == reference.qubits and pulse.label == reference.label
            np.testing.assert_array_equal(pulse.matrix, reference.matrix)
    observables = probe_observables(n, probe, source=bare)
    state = probe_state(n, probe, background="z-random", rng=np.random.default_rng(1))
    times = np.array([0.5, 3.0, 30.0])
    backend = ExactBackend()
    pbit = backend.run(
        hamiltonian,
        build_sequence("hahn", n=n, probe=probe, pulse="pbit"),
        state,
        times,
        observables=observables,
    )
    np.testing.assert_array_equal(pbit["tau_x"], pbit["sx"])
    np.testing.assert_array_equal(pbit["tau_y"], pbit["sy"])
    for spec in ("lbit", "lbit:1"):
        sequence = build_sequence("hahn", n=n, probe=probe, pulse=spec, source=bare)
        result = backend.run(hamiltonian, sequence, state, times, observables=observables)
        for name in ("sx", "sy", "tau_x", "tau_y"):
            np.testing.assert_allclose(result[name], pbit[name], atol=1e-14, err_msg=name)
    with pytest.raises(ConfigError, match="circuit l-bits"):
        build_sequence("hahn", n=n, probe=probe, pulse="circuit", source=bare)


def test_bare_method_is_gone_after_its_test() -> None:
    assert "bare" not in lbits.METHODS
    with pytest.raises(ConfigError, match="unknown l-bit method 'bare'"):
        lbits.construct(RandomFieldXXZ(n=4, W=4.0, seed=1).hamiltonian(), method="bare")
