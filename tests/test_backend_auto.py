"""``[backend] name = "auto"``: the rule picks the engine of each regime, a study resolves it when
it loads, and an auto study stores what the engine named explicitly stores.

The rule is a pure function of the request and of the backends it may choose from, so the
"not installed" cases are the rule given fewer backends, not a hidden module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from echo_lab.backends.auto import (
    AER_MPS_MAX_BOND,
    MAX_AUTO_STATEVECTOR_QUBITS,
    QSIM_MAX_STEPS,
    AutoRequest,
    choose_backend,
    resolve_auto_backend,
    statevector_qubit_limit,
)
from echo_lab.backends.options import BackendSpec, build_backend
from echo_lab.backends.registry import available_backends
from echo_lab.dynamics.trotter import TrotterSettings
from echo_lab.errors import ConfigError
from echo_lab.info import max_statevector_qubits
from echo_lab.study.results import load_results
from echo_lab.study.runner import run_study
from echo_lab.study.spec import parse_spec

EVERYTHING = ("exact", "krylov", "trotter-exact", "aer", "estimator", "qsim", "quimb")
WITHOUT_QSIM = tuple(name for name in EVERYTHING if name != "qsim")
WITHOUT_QUIMB = tuple(name for name in EVERYTHING if name != "quimb")

#: qsim's single precision against double precision on the same circuits (measured: 3e-7 here).
SINGLE_PRECISION = 1e-5


@pytest.mark.parametrize(
    ("request_", "available", "name", "method", "options", "reason"),
    [
        # noiseless state vector: qsim, or Aer where qsim is missing or the run too long
        (AutoRequest(n=20, steps=400), EVERYTHING, "qsim", None, (), "qsim is the fastest"),
        (AutoRequest(n=20, steps=400), WITHOUT_QSIM, "aer", "statevector", (), "not installed"),
        (
            AutoRequest(n=20, steps=QSIM_MAX_STEPS + 1),
            EVERYTHING,
            "aer",
            "statevector",
            (),
            "single precision",
        ),
        # what only Aer does
        (AutoRequest(n=8, noise=True), EVERYTHING, "aer", None, (), "a noise model"),
        (AutoRequest(n=8, shots=100), EVERYTHING, "aer", None, (), "shots = 100"),
        (
            AutoRequest(n=8, method="density_matrix"),
            EVERYTHING,
            "aer",
            "density_matrix",
            (),
            "density_matrix",
        ),
        (AutoRequest(n=20, device="GPU"), EVERYTHING, "aer", None, (), "device = 'GPU'"),
        # beyond the state vector: Aer MPS up to the cap of 16, quimb above it when present
        (
            AutoRequest(n=40, max_bond=AER_MPS_MAX_BOND, cutoff=1e-7),
            EVERYTHING,
            "aer",
            "matrix_product_state",
            (("mps_options", {"max_bond_dimension": 16, "truncation_threshold": 1e-7}),),
            "Aer's MPS is the faster",
        ),
        (
            AutoRequest(n=40, max_bond=32, cutoff=1e-7),
            EVERYTHING,
            "quimb",
            None,
            (("cutoff", 1e-7), ("max_bond", 32)),
            "quimb MPS is the faster",
        ),
        (
            AutoRequest(n=40, max_bond=128),
            WITHOUT_QUIMB,
            "aer",
            "matrix_product_state",
            (("mps_options", {"max_bond_dimension": 128}),),
            "quimb backend is not registered",
        ),
        # an explicit MPS at small n, without a cap: Aer's MPS as asked
        (
            AutoRequest(n=10, method="matrix_product_state"),
            EVERYTHING,
            "aer",
            "matrix_product_state",
            (),
            "no bond cap",
        ),
        # an explicit statevector beyond auto's limit stays a state vector
        (
            AutoRequest(n=30, method="statevector"),
            EVERYTHING,
            "qsim",
            None,
            (),
            "method = 'statevector'",
        ),
    ],
)
def test_the_rule_picks_the_engine_of_each_regime(
    request_, available, name, method, options, reason
) -> None:
    choice = choose_backend(
        request_, available=available, statevector_qubits=MAX_AUTO_STATEVECTOR_QUBITS
    )
    assert (choice.name, choice.method, choice.options) == (name, method, options)
    assert reason in choice.reason


def test_the_statevector_limit_follows_the_memory() -> None:
    # plenty of memory: the named limit; 1 GiB: 2.5 state vectors of 24 qubits (16 B * 2^24 each)
    # fit in 80% of it, of 25 not
    assert statevector_qubit_limit(2**50) == MAX_AUTO_STATEVECTOR_QUBITS
    assert statevector_qubit_limit(2**30) == max_statevector_qubits(int(2**30 / 2.5)) == 24
    request = AutoRequest(n=26, max_bond=16)
    small = choose_backend(request, available=EVERYTHING, statevector_qubits=25)
    assert (small.name, small.method) == ("aer", "matrix_product_state")
    assert "does not fit in memory" in small.reason


def test_the_rule_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(ConfigError, match=r"set backend\.options\.max_bond"):
        choose_backend(AutoRequest(n=40), available=EVERYTHING, statevector_qubits=28)
    with pytest.raises(ConfigError, match=r"needs the aer backend.*a noise model"):
        choose_backend(AutoRequest(n=8, noise=True), available=("qsim",), statevector_qubits=28)
    with pytest.raises(ConfigError, match="no state-vector engine"):
        choose_backend(AutoRequest(n=8), available=("exact",), statevector_qubits=28)
    with pytest.raises(ConfigError, match="max_bond = 0"):
        choose_backend(AutoRequest(n=40, max_bond=0), available=EVERYTHING, statevector_qubits=28)
    with pytest.raises(ConfigError, match=r"cutoff = 1\.5"):
        choose_backend(AutoRequest(n=40, cutoff=1.5), available=EVERYTHING, statevector_qubits=28)


def test_resolving_keeps_the_physics_and_sets_the_engine() -> None:
    spec = BackendSpec(
        name="auto",
        trotter=TrotterSettings(0.05, 4),
        device="CPU",
        options=(("cutoff", 1e-8), ("max_bond", 16)),
    )
    # t = 20 at dt = 0.05: 400 steps, well inside qsim's budget
    qsim, choice = resolve_auto_backend(
        spec, n=12, longest_time=20.0, available=EVERYTHING, statevector_qubits=28
    )
    assert qsim == BackendSpec(name="qsim", trotter=TrotterSettings(0.05, 4))
    assert choice.name == "qsim"
    mps, _ = resolve_auto_backend(
        spec, n=40, longest_time=20.0, available=EVERYTHING, statevector_qubits=28
    )
    assert mps == BackendSpec(
        name="aer",
        trotter=TrotterSettings(0.05, 4),
        method="matrix_product_state",
        device="CPU",
        options=(("mps_options", {"max_bond_dimension": 16, "truncation_threshold": 1e-8}),),
    )
    long_run, why = resolve_auto_backend(
        spec, n=12, longest_time=1000.0, available=EVERYTHING, statevector_qubits=28
    )
    assert (long_run.name, long_run.method) == ("aer", "statevector")
    assert "20000 Trotter steps" in why.reason
    with pytest.raises(ConfigError, match="resolved when a study loads"):
        build_backend(spec)


def _study(backend: str) -> str:
    return f"""
[study]
name = "auto_tiny"
kind = "echo"
realizations = 2

[model]
n = 6
W = 4.0

[protocol]
pulses = ["pbit"]

[times]
values = [0.5, 1.3, 4.0]

[backend]
{backend}
dt = 0.1
"""


def test_a_study_resolves_auto_when_it_loads() -> None:
    spec = parse_spec(_study('name = "auto"'))
    expected = "qsim" if "qsim" in available_backends() else "aer"
    assert spec.settings.backend.name == expected
    ((table, choice),) = spec.backend_choices
    assert (table, choice.name) == ("backend", expected)
    # the hash takes the chosen backend: the same as naming it (the reason is not hashed)
    named = parse_spec(
        _study(f'name = "{expected}"' + ("" if expected == "qsim" else "\nmethod = 'statevector'"))
    )
    assert spec.spec_hash() == named.spec_hash()
    # beyond the state vector without a bond cap: refused at load, naming the fix
    with pytest.raises(ConfigError, match="max_bond"):
        parse_spec(_study('name = "auto"').replace("n = 6", "n = 40"))
    # an option auto does not take is refused like any other
    with pytest.raises(ConfigError, match="not an option of backend 'auto'"):
        parse_spec(_study('name = "auto"\noptions = { threads = 2 }'))


def test_an_auto_study_runs_on_qsim_and_stores_what_aer_stores(tmp_path: Path) -> None:
    pytest.importorskip("qsimcirq")
    auto = load_results(run_study(parse_spec(_study('name = "auto"')), out=tmp_path / "auto"))
    aer = load_results(
        run_study(parse_spec(_study('name = "aer"\nmethod = "statevector"')), out=tmp_path / "aer")
    )
    assert auto.attrs["backend"] == "qsim"
    assert auto.attrs["backend_requested"] == "auto"
    assert auto.attrs["backend_chosen"] == "qsim"
    assert "qsim is the fastest engine" in auto.attrs["backend_choice"]
    assert "backend_chosen" not in aer.attrs
    assert sorted(auto.data_vars) == sorted(aer.data_vars)
    compared = 0
    for key in aer.data_vars:
        if aer[key].dtype.kind == "f":
            np.testing.assert_allclose(
                auto[key].values, aer[key].values, rtol=0, atol=SINGLE_PRECISION, err_msg=key
            )
            compared += 1
    assert compared > 0
    # and the echo moves: not constants that any two runs would share
    assert np.ptp(aer["sx"].values) > 0.1
    summary = (tmp_path / "auto" / "auto_tiny_summary.md").read_text()
    assert "chosen by `auto`" in summary
