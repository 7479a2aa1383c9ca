"""Sector-resolved exact references against the full-space ones (issue: fast exact references).

Two independent builds must agree: the S^z-sector eigensystems, l-bit operator actions, window
operators and echoes against the dense 2^n x 2^n computations at n = 8 and 10 (1e-10); the
Chebyshev Krylov backend against exact evolution (expm / the eigenbasis) over long times; memory
refusals happen before anything is allocated.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp
from scipy.linalg import expm

from echo_lab import lbits
from echo_lab.backends.exact import ExactBackend
from echo_lab.backends.krylov import KrylovBackend
from echo_lab.dynamics import pulses
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.dynamics.trotter import pulse_instruction
from echo_lab.errors import ConfigError, ResourceError
from echo_lab.physics import models, spectrum
from echo_lab.physics.chebyshev import (
    ChebyshevPropagator,
    chebyshev_degree,
    gershgorin_bounds,
    spectral_bounds,
)
from echo_lab.physics.linalg import expectations
from echo_lab.physics.sectors import (
    BlockEigensystem,
    diagonalize_sectors,
    join_states,
    sector_bases,
    split_states,
)
from echo_lab.physics.states import probe_state
from echo_lab.protocols import families, observables
from echo_lab.protocols.sequences import build_sequence

ATOL = 1e-10


def chain(n: int, seed: int, *, W: float = 6.0) -> SparsePauliOp:
    return models.RandomFieldXXZ(n=n, W=W, J=1.0, Jz=1.0, seed=seed).hamiltonian()


def sigma(axis: str, site: int, n: int) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list([(axis, [site], 1.0)], n)


@pytest.fixture(scope="module", params=[8, 10])
def system(request: pytest.FixtureRequest) -> lbits.LBitSystem:
    return lbits.construct(chain(request.param, seed=request.param))


def test_sector_bases_partition_the_basis_in_spectrum_order() -> None:
    n = 7
    bases = sector_bases(n)
    assert sorted(np.concatenate(list(bases.values()))) == list(range(2**n))
    for n_up, basis in bases.items():
        np.testing.assert_array_equal(basis, spectrum.enumerate_sector(n, n_up))
    states = np.random.default_rng(0).standard_normal((2**n, 3))
    parts = split_states(states, n)
    np.testing.assert_array_equal(join_states(parts, n, columns=3), states)


@pytest.mark.parametrize("n", [8, 10])
def test_sector_eigensystem_equals_full_diagonalization(n: int) -> None:
    hamiltonian = chain(n, seed=1)
    system = diagonalize_sectors(hamiltonian)
    assert system.diagonalized == ()  # nothing is diagonalized before it is needed
    energies, vectors = system.dense()
    full_energies, _ = spectrum.diagonalize(hamiltonian)
    np.testing.assert_allclose(energies, full_energies, atol=ATOL)
    matrix = hamiltonian.to_matrix()
    np.testing.assert_allclose(vectors @ np.diag(energies) @ vectors.T, matrix, atol=ATOL)
    states = np.random.default_rng(1).standard_normal((2**n, 2))
    coefficients = system.to_eigenbasis(states)
    np.testing.assert_allclose(system.from_eigenbasis(coefficients, 2), states, atol=ATOL)


def test_lbit_actions_equal_the_dense_operators(system: lbits.LBitSystem) -> None:
    n = system.n
    rng = np.random.default_rng(n)
    states = rng.standard_normal((2**n, 3)) + 1j * rng.standard_normal((2**n, 3))
    states /= np.linalg.norm(states, axis=0)
    coefficients = system.to_lbit_basis(states)
    np.testing.assert_allclose(system.from_lbit_basis(coefficients), states, atol=ATOL)
    for a in ("x", "y", "z"):
        for i in (0, n // 2, n - 1):
            tau = system.tau(a, i)
            np.testing.assert_allclose(system.apply_tau(a, i, states), tau @ states, atol=ATOL)
            np.testing.assert_allclose(
                system.apply_tau(a, i, states[:, 0]), tau @ states[:, 0], atol=ATOL
            )
            np.testing.assert_allclose(
                system.tau_expectation(a, i, states), expectations(tau, states), atol=ATOL
            )
            operator = system.tau_operator(a, i)
            np.testing.assert_allclose(operator @ states, tau @ states, atol=ATOL)


def test_window_operators_equal_the_partial_trace_of_dense_tau(system: lbits.LBitSystem) -> None:
    n, p = system.n, system.n // 2
    for a in ("x", "y", "z"):
        tau = system.tau(a, p)
        for window in ([p], [p - 1, p, p + 1], list(range(p - 2, p + 3)), [0, 1], [n - 1]):
            np.testing.assert_allclose(
                system.window_operator(a, p, window),
                pulses.truncate_to_window(tau, window),
                atol=ATOL,
                err_msg=f"tau^{a}_{p} on {window}",
            )
    # The whole chain as the window gives tau itself.
    np.testing.assert_allclose(system.window_operator("x", p, list(range(n))), system.tau("x", p))
    with pytest.raises(ConfigError, match="sorted list"):
        system.window_operator("x", p, [p + 1, p])


def test_pulses_from_the_system_equal_the_dense_pulses(system: lbits.LBitSystem) -> None:
    p = system.n // 2
    for radius in (1, 2):
        from_system = families.make_pulse(f"lbit:{radius}", p, source=system)
        dense = pulses.truncated_lbit_pulse(system.tau("x", p), p, radius)
        assert from_system.qubits == dense.qubits
        np.testing.assert_allclose(from_system.matrix, dense.matrix, atol=ATOL)
    exact = families.make_pulse("lbit", p, source=system, angle_error=0.1)
    assert exact.action is not None and exact.matrix is not None
    states = np.random.default_rng(3).standard_normal((2**system.n, 2))
    np.testing.assert_allclose(exact.action(states), exact.matrix @ states, atol=ATOL)


def test_sector_echoes_equal_the_full_space_echoes(system: lbits.LBitSystem) -> None:
    n, p = system.n, system.n // 2
    hamiltonian = system.hamiltonian
    state = probe_state(n, p, background="z-random", rng=np.random.default_rng(n))
    times = np.array([0.0, 0.3, 2.0, 15.0, 100.0])
    dense_observables = {
        "sx": sigma("X", p, n),
        "sy": sigma("Y", p, n),
        "tau_x": system.tau("x", p),
        "tau_y": system.tau("y", p),
    }
    action_observables = dict(dense_observables)
    action_observables["tau_x"] = system.tau_operator("x", p)
    action_observables["tau_y"] = system.tau_operator("y", p)
    full = ExactBackend(eigensystem=(system.energies, system.vectors))
    for spec in ("pbit", "lbit", "lbit:1"):
        sector_sequence = build_sequence("hahn", n=n, probe=p, pulse=spec, source=system)
        pulse = sector_sequence.pulses[0]
        assert pulse.matrix is not None
        dense_pulse = Pulse(pulse.matrix, pulse.qubits, pulse.label)  # no action: dense path
        dense_sequence = PulseSequence([Free(0.5), dense_pulse, Free(0.5)])
        reference = full.run(
            hamiltonian, dense_sequence, state, times, observables=dense_observables
        )
        for backend in (ExactBackend(eigensystem=system.eigensystem), ExactBackend()):
            got = backend.run(
                hamiltonian, sector_sequence, state, times, observables=action_observables
            )
            for key in dense_observables:
                np.testing.assert_allclose(
                    got[key], reference[key], atol=ATOL, err_msg=f"{spec} {key}"
                )
    # Exact l-bit pulses keep <tau^x_p> (docs/pages/conventions.md section 6): a check with physical
    # content.
    lbit = build_sequence("hahn", n=n, probe=p, pulse="lbit", source=system)
    result = ExactBackend(eigensystem=system.eigensystem).run(
        hamiltonian, lbit, state, times, observables=action_observables
    )
    np.testing.assert_allclose(result["tau_x"], result["tau_x"][0], atol=ATOL)


def test_a_probe_state_touches_two_sectors_and_only_those_are_diagonalized() -> None:
    n, p = 10, 5
    hamiltonian = chain(n, seed=4)
    state = probe_state(n, p, background="z-random", rng=np.random.default_rng(7))
    parts = split_states(state.vector(), n)
    assert len(parts) == 2 and abs(int(np.diff(sorted(parts))[0])) == 1
    backend = ExactBackend()
    times = np.array([0.5, 4.0])
    fid = build_sequence("fid", n=n, probe=p)
    backend.run(hamiltonian, fid, state, times, observables={"sx": sigma("X", p, n)})
    assert backend.block_eigensystem(hamiltonian).diagonalized == tuple(sorted(parts))
    hahn = build_sequence("hahn", n=n, probe=p)
    exact = backend.run(hamiltonian, hahn, state, times, observables={"sx": sigma("X", p, n)})
    # X_p moves weight to the neighbouring sectors: four in all after the pulse.
    low, high = sorted(parts)
    touched = backend.block_eigensystem(hamiltonian).diagonalized
    assert touched == (low - 1, low, high, high + 1)
    krylov = KrylovBackend().run(
        hamiltonian, hahn, state, times, observables={"sx": sigma("X", p, n)}
    )
    np.testing.assert_allclose(krylov["sx"], exact["sx"], atol=ATOL)


def test_krylov_equals_exact_at_n12_for_hahn_echoes_to_t100() -> None:
    n, p = 12, 6
    hamiltonian = chain(n, seed=12, W=8.0)
    system = lbits.construct(hamiltonian)
    state = probe_state(n, p, background="z-random", rng=np.random.default_rng(12))
    times = np.logspace(-1, 2, 8)
    ops = {"sx": sigma("X", p, n), "sy": sigma("Y", p, n), "tau_x": system.tau_operator("x", p)}
    for spec in ("pbit", "lbit"):
        sequence = build_sequence("hahn", n=n, probe=p, pulse=spec, source=system)
        exact = ExactBackend(eigensystem=system.eigensystem).run(
            hamiltonian, sequence, state, times, observables=ops, entropy=True
        )
        for threads in (1, 2):
            krylov = KrylovBackend(threads=threads).run(
                hamiltonian, sequence, state, times, observables=ops, entropy=True
            )
            for key in ("sx", "sy", "tau_x", "entropy"):
                np.testing.assert_allclose(
                    krylov[key], exact[key], atol=ATOL, err_msg=f"{spec} {key}"
                )


def test_krylov_without_sectors_equals_exact() -> None:
    """A transverse field breaks S^z conservation: one block, complex states, still exact."""
    n, p = 7, 3
    hamiltonian = models.RandomFieldXXZ(n=n, W=4.0, Jz=0.5, g=0.4, seed=2).hamiltonian()
    state = probe_state(n, p, background="random-bloch", rng=np.random.default_rng(2))
    times = np.array([3.0, 0.0, 20.0])
    sequence = build_sequence("cpmg", n=n, probe=p, n_pulses=2)
    ops = {"sx": sigma("X", p, n)}
    exact = ExactBackend().run(hamiltonian, sequence, state, times, observables=ops)
    krylov = KrylovBackend().run(hamiltonian, sequence, state, times, observables=ops)
    np.testing.assert_allclose(krylov["sx"], exact["sx"], atol=ATOL)


def test_chebyshev_propagator_equals_expm_and_the_eigenbasis_over_long_times() -> None:
    hamiltonian = chain(8, seed=3, W=8.0)
    matrix = sp.csr_matrix(hamiltonian.to_matrix(sparse=True))
    energies, vectors = np.linalg.eigh(matrix.toarray().real)
    rng = np.random.default_rng(5)
    psi = rng.standard_normal(256) + 1j * rng.standard_normal(256)
    psi /= np.linalg.norm(psi)
    durations = np.array([0.0, 0.05, 1.0, 37.0, 500.0])
    propagator = ChebyshevPropagator(matrix)
    shared = propagator.evolve(psi, durations)
    each = propagator.evolve_each(np.repeat(psi[:, None], durations.size, axis=1), durations)
    for k, t in enumerate(durations):
        reference = vectors @ (np.exp(-1j * energies * t) * (vectors.T @ psi))
        # The reference itself carries a phase error ~ 1e-16 |E| t (4e-12 at t = 500).
        np.testing.assert_allclose(shared[:, k], reference, atol=1e-10)
        np.testing.assert_allclose(each[:, k], reference, atol=1e-10)
    # scipy's expm (scaling and squaring) on a smaller chain, an independent method.
    small = sp.csr_matrix(chain(6, seed=6, W=8.0).to_matrix(sparse=True))
    start = np.ones(64, dtype=complex) / 8.0
    for t in (2.0, 25.0):
        np.testing.assert_allclose(
            ChebyshevPropagator(small).evolve(start, np.array([t]))[:, 0],
            expm(-1j * t * small.toarray()) @ start,
            atol=1e-10,
        )
    # Cost grows with the spectral width times t, not with the norm: a shift of the whole
    # spectrum by 1000 (a 1-norm 15 times larger) changes no degree, only a phase.
    shifted = ChebyshevPropagator(matrix + 1000.0 * sp.identity(256))
    assert shifted.degree(37.0) == propagator.degree(37.0)
    np.testing.assert_allclose(
        shifted.evolve(psi, np.array([37.0]))[:, 0], np.exp(-37000j) * shared[:, 3], atol=1e-10
    )
    assert chebyshev_degree(propagator.half_width * 37.0) < 1.1 * propagator.half_width * 37.0 + 60


def test_spectral_bounds_are_rigorous_and_tight() -> None:
    for seed in range(3):
        block = spectrum.restrict_to_sector(chain(10, seed=seed, W=8.0), 5)
        true = np.linalg.eigvalsh(block.toarray())
        lower, upper = spectral_bounds(block)
        g_lower, g_upper = gershgorin_bounds(block)
        assert g_lower <= lower <= true[0] and true[-1] <= upper <= g_upper
        # An open chain: the hopping signs gauge away, so the bound is nearly exact, while
        # Gershgorin's interval is tens of percent too wide.
        assert upper - lower < 1.01 * (true[-1] - true[0])
        assert g_upper - g_lower > 1.1 * (true[-1] - true[0])
    rng = np.random.default_rng(9)
    dense = rng.standard_normal((60, 60)) + 1j * rng.standard_normal((60, 60))
    dense = sp.csr_matrix(np.where(rng.random((60, 60)) < 0.1, dense, 0))
    hermitian = dense + dense.conj().T + sp.diags(rng.uniform(-5, 5, 60))
    eigenvalues = np.linalg.eigvalsh(hermitian.toarray())
    lower, upper = spectral_bounds(hermitian)
    assert lower <= eigenvalues[0] and eigenvalues[-1] <= upper


def test_action_only_pulses_and_observables_above_the_dense_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above DENSE_LBIT_QUBITS the l-bit pulse has no matrix and tau is a LinearOperator."""
    n, p = 8, 4
    system = lbits.construct(chain(n, seed=8))
    monkeypatch.setattr(lbits.exact, "DENSE_LBIT_QUBITS", 4)
    sequence = build_sequence("hahn", n=n, probe=p, pulse="lbit", source=system)
    pulse = sequence.pulses[0]
    assert pulse.matrix is None and pulse.action is not None
    ops = observables.probe_observables(n, p, source=system)
    assert isinstance(ops["tau_x"], sp.linalg.LinearOperator)
    state = probe_state(n, p, background="z-random", rng=np.random.default_rng(1))
    times = np.array([1.0, 30.0])
    exact = ExactBackend(eigensystem=system.eigensystem).run(
        system.hamiltonian, sequence, state, times, observables=ops
    )
    krylov = KrylovBackend().run(system.hamiltonian, sequence, state, times, observables=ops)
    for key in ops:
        np.testing.assert_allclose(krylov[key], exact[key], atol=ATOL)
    initial = system.tau_expectation("x", p, state.vector())
    np.testing.assert_allclose(exact["tau_x"], initial, atol=ATOL)
    with pytest.raises(ConfigError, match="'exact' or 'krylov'"):
        pulse_instruction(pulse)
    with pytest.raises(ConfigError, match="matrix or an action"):
        Pulse(None, (0,), "nothing")


def test_memory_is_refused_before_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    # n = 20 with 8 times fits in 4 GiB, as the issue requires.
    twenty = chain(20, seed=0)
    assert KrylovBackend().estimate_memory(twenty, n_times=8) < 4 * 2**30
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "4G")
    big = chain(30, seed=0)
    state = probe_state(30, 15, background="x")
    sequence = build_sequence("hahn", n=30, probe=15)
    tracemalloc.start()
    try:
        with pytest.raises(ResourceError, match="Krylov evolution of a 30-qubit chain"):
            KrylovBackend().run(big, sequence, state, np.array([1.0]), observables={})
        with pytest.raises(ResourceError, match="l-bit construction for n = 18"):
            lbits.construct(chain(18, seed=0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # a 30-qubit state vector alone would be 16 GiB
    eigensystem = diagonalize_sectors(chain(18, seed=0))  # lazy: no diagonalization yet
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "1G")
    with pytest.raises(ResourceError, match="48620-state sector"):
        eigensystem.block(9)
    assert isinstance(eigensystem, BlockEigensystem) and eigensystem.diagonalized == ()


@pytest.mark.slow
def test_n14_lbit_echoes_without_dense_operators() -> None:
    """n = 14 end to end with no 4^n object: exact and truncated l-bit pulses, <tau^x_p>."""
    n, p = 14, 7
    system = lbits.construct(chain(n, seed=14, W=8.0))
    state = probe_state(n, p, background="z-random", rng=np.random.default_rng(14))
    times = np.array([0.5, 10.0, 100.0])
    ops = observables.probe_observables(n, p, source=system)
    assert isinstance(ops["tau_x"], sp.linalg.LinearOperator)
    initial = float(system.tau_expectation("x", p, state.vector()))
    kept = {}
    for spec in ("lbit", "lbit:1", "lbit:2"):
        sequence = build_sequence("hahn", n=n, probe=p, pulse=spec, source=system)
        exact = ExactBackend(eigensystem=system.eigensystem).run(
            system.hamiltonian, sequence, state, times, observables=ops
        )
        krylov = KrylovBackend().run(system.hamiltonian, sequence, state, times, observables=ops)
        for key in ops:
            np.testing.assert_allclose(krylov[key], exact[key], atol=ATOL, err_msg=f"{spec} {key}")
        kept[spec] = exact["tau_x"][-1] / initial
    assert kept["lbit"] == pytest.approx(1.0, abs=ATOL)
    # Physics: a truncated pulse recovers less than the exact one (docs/pages/conventions.md section
    # 6).
    assert kept["lbit:1"] < 1.0 and kept["lbit:2"] < 1.0
