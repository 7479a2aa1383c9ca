"""The MPS truncation budget (echo_lab.study.accuracy): the bond dimension Aer's MPS reports,
the bond-doubling estimate against the real truncation error, the refinements of the registry,
[accuracy], the summary and the combined budget."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from qiskit.quantum_info import SparsePauliOp, Statevector

from echo_lab import models
from echo_lab.backends.aer import AerBackend
from echo_lab.backends.base import MPS_MAX_BOND
from echo_lab.backends.options import BackendSpec
from echo_lab.backends.registry import refined_backend
from echo_lab.dynamics import trotter
from echo_lab.physics.models import pauli_label
from echo_lab.physics.states import probe_state
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study import runner as study
from echo_lab.study.accuracy import TRUNCATION_VARIABLES, accuracy_summary
from echo_lab.study.kinds import get_kind
from echo_lab.study.spec import StudySpec, parse_spec

STUDY = """
[study]
name = "truncation"
kind = "echo"
realizations = {realizations}
seed = 3

[model]
n = 10
Jz = 1.0
W = 4.0

[protocol]
sequence = "hahn"
pulses = ["pbit"]
background = "z-random"

[times]
values = [1.0, 4.0]

[backend]
name = "{name}"
dt = 0.1
order = 2
{backend}
"""

MPS = 'method = "matrix_product_state"\noptions = {{ mps_options = {{ {mps} }} }}'


def _spec(mps: str | None, *, realizations: int = 1, extra: str = "") -> StudySpec:
    """The echo study on Aer MPS with ``mps_options`` ``mps`` (None: trotter-exact)."""
    if mps is None:
        text = STUDY.format(realizations=realizations, name="trotter-exact", backend="")
    else:
        backend = MPS.format(mps=mps)
        text = STUDY.format(realizations=realizations, name="aer", backend=backend)
    return parse_spec(text + extra)


def _compute(spec: StudySpec) -> xr.Dataset:
    units = {unit: study.compute_unit(spec, unit) for unit in study.list_units(spec)}
    return study.assemble_results(spec, units)


def _scalar(ds: xr.Dataset, name: str) -> float:
    return float(ds[name].values.ravel()[0])


def _max_schmidt_rank(psi: np.ndarray, n: int) -> int:
    """The largest number of Schmidt values with weight above 1e-14 over the n - 1 cuts."""
    ranks = []
    for cut in range(1, n):
        s = np.linalg.svd(psi.reshape(2 ** (n - cut), 2**cut), compute_uv=False)
        ranks.append(int(np.sum(s**2 > 1e-14)))
    return max(ranks)


def _block_hamiltonian(n: int, block: range) -> SparsePauliOp:
    """Random fields on every site, XXZ bonds only inside ``block``: the Schmidt rank of any
    cut is at most 2^(sites of the block on its smaller side), 4 for a block of 4 sites."""
    rng = np.random.default_rng(5)
    terms = [("Z", [q], float(rng.uniform(-2, 2))) for q in range(n)]
    for q in block[:-1]:
        terms += [(p + p, [q, q + 1], 1.0) for p in "XYZ"]
    return SparsePauliOp.from_sparse_list(terms, n)


@pytest.mark.parametrize("sequence", ["fid", "hahn"])
def test_mps_max_bond_is_the_bond_dimension_reached(sequence: str) -> None:
    n, probe = 8, 3
    state = probe_state(n, probe, background="x")
    seq = build_sequence(sequence, n=n, probe=probe, pulse="pbit")
    obs = {"sx": SparsePauliOp(pauli_label(n, {probe: "X"}))}
    times = np.array([0.0, 3.0])
    # exactly rank 4: only the 4-site block 2..5 is coupled
    block = _block_hamiltonian(n, range(2, 6))
    got = AerBackend(method="matrix_product_state").run(block, seq, state, times, observables=obs)
    np.testing.assert_array_equal(got[MPS_MAX_BOND], [1, 4])
    capped = AerBackend(method="matrix_product_state", mps_options={"max_bond_dimension": 2})
    result = capped.run(block, seq, state, times, observables=obs)
    np.testing.assert_array_equal(result[MPS_MAX_BOND], [1, 2])
    # the whole chain at T = 3: the largest Schmidt rank of the same circuit's state vector
    chain = models.RandomFieldXXZ(n=n, W=4.0, seed=1).hamiltonian()
    circuit = trotter.sequence_circuit(chain, seq, 3.0, dt=0.1, order=2, initial_state=state)
    rank = _max_schmidt_rank(Statevector(circuit).data, n)
    got = AerBackend(method="matrix_product_state").run(chain, seq, state, times, observables=obs)
    assert got[MPS_MAX_BOND][1] == rank == 16
    result = capped.run(chain, seq, state, times, observables=obs)
    assert result[MPS_MAX_BOND][1] == 2
    plain = AerBackend(method="statevector", device="CPU").run(
        chain, seq, state, times, observables=obs
    )
    assert MPS_MAX_BOND not in plain


def test_bond_doubling_estimates_the_real_truncation_error() -> None:
    # trotter-exact is the same Trotter circuit without truncation: the difference at the
    # checked time T = 4 is the truncation error alone
    reference = _compute(_spec(None))
    for cap in (2, 4):
        capped = _compute(_spec(f"max_bond_dimension = {cap}"))
        actual = max(
            float(np.abs(capped[k] - reference[k]).sel(time=4.0).max()) for k in ("sx", "sy")
        )
        estimate = _scalar(capped, "truncation_error")
        assert actual > 1e-2  # a visible truncation error
        # measured: cap 2: 0.35 vs 0.40, cap 4: 0.072 vs 0.044
        assert 0.3 < estimate / actual < 3.0, (cap, estimate, actual)
        assert _scalar(capped, "mps_max_bond") == cap
        assert np.isnan(_scalar(capped, "mps_discarded_weight"))
        assert "aer" in capped["mps_discarded_weight"].attrs["note"]
        assert _scalar(capped, "error_budget") == pytest.approx(
            _scalar(capped, "trotter_error") + estimate, rel=1e-12
        )
        assert "at total times 4" in capped["truncation_error"].attrs["method"]
    uncapped = _compute(_spec(""))
    assert _scalar(uncapped, "truncation_error") < 1e-6
    assert _scalar(uncapped, "mps_max_bond") <= 2 ** (10 // 2)
    # without truncation the combined budget is the Trotter estimate
    assert _scalar(uncapped, "error_budget") == pytest.approx(
        _scalar(reference, "trotter_error"), rel=1e-6
    )
    assert not set(TRUNCATION_VARIABLES) & set(reference.data_vars)


def test_refinements_double_the_bond_and_refine_the_threshold() -> None:
    capped = BackendSpec(
        name="aer",
        method="matrix_product_state",
        options=(("mps_options", {"max_bond_dimension": 16, "truncation_threshold": 1e-7}),),
    )
    refined = refined_backend(capped)
    assert refined is not None
    assert refined.option("mps_options") == {
        "max_bond_dimension": 32,
        "truncation_threshold": pytest.approx(1e-9),
    }
    uncapped = refined_backend(BackendSpec(name="aer", method="matrix_product_state"))
    assert uncapped is not None
    assert uncapped.option("mps_options") == {"truncation_threshold": pytest.approx(1e-18)}
    assert refined_backend(BackendSpec(name="aer", method="statevector")) is None
    assert refined_backend(BackendSpec(name="trotter-exact")) is None
    quimb = refined_backend(
        BackendSpec(name="quimb", options=(("cutoff", 1e-8), ("max_bond", 24), ("other", 1)))
    )
    assert quimb is not None
    assert dict(quimb.options) == {
        "cutoff": pytest.approx(1e-10),
        "max_bond": 48,
        "other": 1,
    }


def test_accuracy_section_memory_and_summary() -> None:
    spec = _spec("max_bond_dimension = 4", realizations=2, extra="\n[accuracy]\nrealizations = 1\n")
    backends = get_kind("echo").backends(spec)
    assert backends["accuracy"].option("mps_options")["max_bond_dimension"] == 8
    off = _spec("max_bond_dimension = 4", extra="\n[accuracy]\nrealizations = 0\n")
    assert "accuracy" not in get_kind("echo").backends(off)
    # the doubled cap's state is counted: 4x the capped one, with a saved copy per time
    assert study.estimate_unit_bytes(spec) > study.estimate_unit_bytes(off)
    ds = _compute(spec)
    errors = ds["truncation_error"].values.ravel()
    assert np.isfinite(errors[0]) and np.isnan(errors[1])
    assert np.all(ds["mps_max_bond"].values == 4)  # measured in every unit
    text = accuracy_summary(ds)
    assert text is not None
    assert f"max {errors[0]:.2g}, median {errors[0]:.2g} over 1 of 2 units" in text
    assert "Largest MPS bond dimension reached: 4; discarded weight: not reported" in text
    assert "Error budget (trotter_error + truncation_error)" in text
    none = accuracy_summary(_compute(off))
    assert none is not None and "No truncation error estimate" in none
