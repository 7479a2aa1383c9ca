"""Pulses: p-bit flips, exact and truncated l-bit flips, imperfect rotations, spec parsing.

The l-bit operators here are planted: tau = U X_p U^dag with U = exp(-i 0.4 K) for a random
two-site K, a genuine involutory Hermitian operator with weight spread over several sites, so the
truncation has something to cut. :class:`PlantedLBits` is an l-bit source of its own (an
:class:`~echo_lab.lbits.source.LBitSource` defined here, outside the package), so the pulse
families build from it like from the package's l-bits.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from qiskit.quantum_info import SparsePauliOp

from echo_lab.dynamics.pulses import (
    lbit_pulse,
    pbit_pulse,
    polar_factor,
    rotate_about,
    truncate_to_window,
    truncated_lbit_pulse,
)
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError, NumericalError
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.linalg import embed
from echo_lab.physics.models import Lattice
from echo_lab.protocols.families import PULSE_FAMILIES, PulseSpec, make_pulse, parse_integer

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)


def planted_unitary(n: int, *, seed: int, strength: float = 0.4) -> np.ndarray:
    """exp(-i strength K), K a sum of random Hermitian nearest-neighbour 2-site terms."""
    rng = np.random.default_rng(seed)
    generator = np.zeros((2**n, 2**n), dtype=complex)
    for i in range(n - 1):
        block = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
        generator += embed(block + block.conj().T, [i, i + 1], n)
    return sla.expm(-1j * strength * generator)


class PlantedLBits(LBitSource):
    """l-bits tau^a_i = U sigma^a_i U^dag of a planted unitary (a real l-bit system, not a mock),
    with dense pulses (:func:`lbit_pulse`, :func:`truncated_lbit_pulse`) and readouts."""

    method = "planted"

    def __init__(self, n: int, *, seed: int) -> None:
        self._n = n
        self.unitary = planted_unitary(n, seed=seed)

    @property
    def n(self) -> int:
        return self._n

    def tau(self, a: str, i: int) -> np.ndarray:
        pauli = {"x": X, "y": Y, "z": np.diag([1.0, -1.0]).astype(complex)}[a]
        return self.unitary @ embed(pauli, [i], self.n) @ self.unitary.conj().T

    def pulse(
        self, p: int, *, radius: int | None = None, axis: str = "x", angle_error: float = 0.0
    ) -> Pulse:
        tau = self.tau(axis, self.check_site(p))
        if radius is None:
            return lbit_pulse(tau, p, axis=axis, angle_error=angle_error)
        return truncated_lbit_pulse(tau, p, radius, axis=axis, angle_error=angle_error)

    def tau_observable(self, a: str, i: int) -> np.ndarray:
        return self.tau(a, self.check_site(i))


def window_part_from_pauli_expansion(tau: np.ndarray, window: list[int]) -> np.ndarray:
    """Sum of the Pauli components of tau supported in ``window``, as an n-qubit matrix."""
    n = tau.shape[0].bit_length() - 1
    expansion = SparsePauliOp.from_operator(tau, atol=0, rtol=0)
    outside = [q for q in range(n) if q not in window]
    keep = [
        k
        for k, pauli in enumerate(expansion.paulis)
        if not np.any(pauli.x[outside] | pauli.z[outside])
    ]
    return expansion[keep].to_matrix()


def test_pbit_pulse_is_the_pauli_matrix() -> None:
    pulse = pbit_pulse(3)
    assert pulse.label == "X_3" and pulse.qubits == (3,) and pulse.kind == "pbit"
    np.testing.assert_array_equal(pulse.matrix, X)
    np.testing.assert_array_equal(pbit_pulse(0, axis="y").matrix, Y)
    assert pbit_pulse(0, axis="y").label == "Y_0"


@pytest.mark.parametrize("eps", [0.1, -0.05, 0.5])
def test_imperfect_pbit_pulse_is_a_rotation_by_pi_one_plus_eps(eps: float) -> None:
    theta = np.pi * (1 + eps)
    for axis, pauli in (("x", X), ("y", Y)):
        expected = sla.expm(-0.5j * theta * pauli)
        np.testing.assert_allclose(pbit_pulse(1, axis=axis, angle_error=eps).matrix, expected)


def test_rotate_about_rejects_non_finite_error() -> None:
    with pytest.raises(ConfigError, match="angle_error"):
        rotate_about(X, angle_error=float("nan"))


def test_pbit_pulse_rejects_bad_axis_and_site() -> None:
    with pytest.raises(ConfigError, match="axis"):
        pbit_pulse(0, axis="z")
    with pytest.raises(ConfigError, match="site"):
        pbit_pulse(-1)


def test_lbit_pulse_acts_on_all_qubits_and_rotates_exactly() -> None:
    system = PlantedLBits(4, seed=1)
    tau = system.tau("x", 2)
    pulse = lbit_pulse(tau, 2)
    assert pulse.qubits == (0, 1, 2, 3) and pulse.label == "tau^x_2" and pulse.kind == "lbit"
    np.testing.assert_array_equal(pulse.matrix, tau)
    rotated = lbit_pulse(tau, 2, angle_error=0.2).matrix
    np.testing.assert_allclose(rotated, sla.expm(-0.5j * np.pi * 1.2 * tau), atol=1e-12)


def test_lbit_pulse_rejects_bad_operators() -> None:
    with pytest.raises(ConfigError, match="2\\^n"):
        lbit_pulse(np.eye(6), 0)
    with pytest.raises(ConfigError, match="outside"):
        lbit_pulse(np.eye(8), 3)
    with pytest.raises(ConfigError, match="Hermitian"):
        lbit_pulse(np.triu(np.ones((4, 4))), 0)


@pytest.mark.parametrize("p", [0, 2, 4])
def test_truncation_equals_pauli_components_in_window(p: int) -> None:
    n = 5
    tau = PlantedLBits(n, seed=7).tau("x", p)
    for radius in range(n):
        window = list(range(max(0, p - radius), min(n - 1, p + radius) + 1))
        block = truncate_to_window(tau, window)
        np.testing.assert_allclose(
            embed(block, window, n), window_part_from_pauli_expansion(tau, window), atol=1e-12
        )


def test_truncation_on_a_lattice_window() -> None:
    lattice = Lattice.square(2, 3)
    tau = PlantedLBits(6, seed=3).tau("y", 2)
    pulse = truncated_lbit_pulse(tau, 2, 1, lattice=lattice, axis="y")
    window = lattice.window(2, 1)
    assert pulse.qubits == tuple(window) and window == [0, 2, 3, 4]
    np.testing.assert_allclose(
        embed(truncate_to_window(tau, window), window, 6),
        window_part_from_pauli_expansion(tau, window),
        atol=1e-12,
    )
    assert pulse.label == "tau^y_2[r=1]" and pulse.kind == "lbit:1"


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_truncated_pulse_is_the_polar_factor(radius: int) -> None:
    tau = PlantedLBits(5, seed=11).tau("x", 2)
    pulse = truncated_lbit_pulse(tau, 2, radius)
    window = list(range(2 - radius, 2 + radius + 1))
    block = truncate_to_window(tau, window)
    polar, _ = sla.polar(block)
    np.testing.assert_allclose(pulse.matrix, polar, atol=1e-10)
    eye = np.eye(2 ** len(window))
    np.testing.assert_allclose(pulse.matrix, pulse.matrix.conj().T, atol=1e-12)
    np.testing.assert_allclose(pulse.matrix @ pulse.matrix, eye, atol=1e-10)
    assert pulse.qubits == tuple(window)


@pytest.mark.parametrize(("p", "radius"), [(0, 4), (2, 2), (2, 4), (4, 4)])
def test_truncated_pulse_equals_exact_pulse_once_window_covers_chain(p: int, radius: int) -> None:
    tau = PlantedLBits(5, seed=5).tau("x", p)
    pulse = truncated_lbit_pulse(tau, p, radius)
    assert pulse.qubits == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(pulse.matrix, tau, atol=1e-9)


def test_truncate_to_window_rejects_bad_windows() -> None:
    tau = PlantedLBits(3, seed=1).tau("x", 0)
    for window in ([], [1, 0], [0, 0], [2, 3]):
        with pytest.raises(ConfigError, match="window"):
            truncate_to_window(tau, window)


def test_truncated_pulse_rejects_zero_eigenvalue_and_bad_radius() -> None:
    two_site_flip = np.kron(X, X)
    with pytest.raises(NumericalError, match="larger radius"):
        truncated_lbit_pulse(two_site_flip, 0, 0)
    with pytest.raises(ConfigError, match="larger than the chain"):
        truncated_lbit_pulse(two_site_flip, 0, 2)
    with pytest.raises(ConfigError, match="radius"):
        truncated_lbit_pulse(two_site_flip, 0, -1)


def test_pulse_spec_parses_and_prints_back() -> None:
    assert PulseSpec.parse("pbit") == PulseSpec("pbit")
    assert PulseSpec.parse("lbit") == PulseSpec("lbit")
    assert PulseSpec.parse("lbit:12") == PulseSpec("lbit", radius=12)
    assert PulseSpec.parse("window:8:1") == PulseSpec("window", radius=1, width=8)
    assert PulseSpec.parse("lbit:2", angle_error=0.1).angle_error == 0.1
    for text in ("pbit", "lbit", "lbit:0", "lbit:12", "window:8", "window:8:7"):
        assert PulseSpec.parse(text).label == text
    for bad in ("tau", "PBIT", "", "lbits", " lbit"):
        with pytest.raises(ConfigError, match="unknown pulse spec") as info:
            PulseSpec.parse(bad)
        for family in PULSE_FAMILIES.values():
            assert family.grammar in str(info.value)
    for bad in ("lbit:", "lbit:-1", "lbit:x", "lbit:1:2", "lbit: 1", "pbit:1", "circuit:2"):
        with pytest.raises(ConfigError, match="malformed"):
            PulseSpec.parse(bad)
    for bad in ("window:8:8", "window:0", "window:x"):
        with pytest.raises(ConfigError, match="window pulse"):
            PulseSpec.parse(bad)
    with pytest.raises(ConfigError, match="truncation radius"):
        PulseSpec("pbit", radius=1)
    with pytest.raises(ConfigError, match="needs a window width"):
        PulseSpec("window")
    with pytest.raises(ConfigError, match="unknown pulse family"):
        PulseSpec("tau")
    with pytest.raises(ConfigError, match="angle_error must be finite"):
        PulseSpec("pbit", angle_error=float("nan"))


@pytest.mark.parametrize(
    "text",
    ["lbit:01", "lbit:00", "window:08", "window:8:01", "lbit:\u0661", "lbit:\uff11", "lbit:+1"],
)
def test_pulse_spec_integers_are_plain_ascii_digits(text: str) -> None:
    """Leading zeros and other scripts' digits (Arabic-Indic 1, fullwidth 1) would print back
    as another label; they are refused with the field named."""
    with pytest.raises(ConfigError, match="malformed") as info:
        PulseSpec.parse(text)
    assert repr(text) in str(info.value)
    assert parse_integer("0", "r") == 0 and parse_integer("120", "r") == 120
    with pytest.raises(ConfigError, match="leading zero"):
        parse_integer("007", "r")


def test_make_pulse_takes_the_angle_error_from_one_place() -> None:
    spec = PulseSpec.parse("pbit", angle_error=0.2)
    np.testing.assert_allclose(
        make_pulse(spec, 0).matrix, make_pulse("pbit", 0, angle_error=0.2).matrix, atol=0
    )
    with pytest.raises(ConfigError, match="carries angle_error"):
        make_pulse(spec, 0, angle_error=0.1)


def test_make_pulse_dispatches_on_spec() -> None:
    system = PlantedLBits(4, seed=2)
    np.testing.assert_array_equal(make_pulse("pbit", 1, axis="y").matrix, Y)
    exact = make_pulse("lbit", 1, source=system, axis="y")
    np.testing.assert_array_equal(exact.matrix, system.tau("y", 1))
    truncated = make_pulse("lbit:1", 1, source=system, angle_error=0.1)
    reference = truncated_lbit_pulse(system.tau("x", 1), 1, 1, angle_error=0.1)
    np.testing.assert_allclose(truncated.matrix, reference.matrix, atol=1e-14)
    assert truncated.qubits == (0, 1, 2) and truncated.meta["angle_error"] == 0.1


def test_make_pulse_errors() -> None:
    system = PlantedLBits(3, seed=2)
    with pytest.raises(ConfigError, match="unknown pulse spec"):
        make_pulse("flip", 0)
    with pytest.raises(ConfigError, match="needs an l-bit system"):
        make_pulse("lbit:1", 0)
    with pytest.raises(ConfigError, match="larger than the chain"):
        make_pulse("lbit:3", 0, source=system)
    with pytest.raises(ConfigError, match="circuit l-bits"):
        make_pulse("circuit", 0, source=system)
    with pytest.raises(ConfigError, match="axis"):
        make_pulse("lbit", 0, source=system, axis="z")


def test_polar_factor_is_the_nearest_involution():
    """For A = V diag(l) V^dag the factor is V diag(sign l) V^dag: an involution is its own
    factor, a positive multiple of it too, and the returned extremes are the |eigenvalues|."""
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    vectors, _ = np.linalg.qr(raw)
    signs = np.array([1, -1, 1, 1, -1, -1, 1, -1], dtype=float)
    involution = (vectors * signs) @ vectors.conj().T
    magnitudes = np.array([0.5, 2.0, 1.0, 3.0, 0.25, 1.5, 0.75, 1.25])
    operator = (vectors * (signs * magnitudes)) @ vectors.conj().T
    for given, smallest, largest in ((involution, 1.0, 1.0), (operator, 0.25, 3.0)):
        polar, low, high = polar_factor(given)
        np.testing.assert_allclose(polar, involution, atol=1e-12)
        np.testing.assert_allclose(polar @ polar, np.eye(8), atol=1e-12)
        assert low == pytest.approx(smallest) and high == pytest.approx(largest)
