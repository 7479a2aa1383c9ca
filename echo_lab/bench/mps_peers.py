r"""The Hahn echo of a long XXZ chain on MPS engines: echo_lab's paths beside quimb and TeNPy TEBD.

Issue 23, item 7. One **instance** (:class:`EchoInstance`) is the random-field XXZ chain of the
project conventions (Pauli units, ``H = sum_i J (X_i X_{i+1} + Y_i Y_{i+1}) + Jz Z_i Z_{i+1} +
sum_i h_i Z_i``, docs conventions section 2) with the fields of realization k of base seed s
(``c_k = SeedSequence(s).spawn(k + 1)[k]``), the central spin ``p = n // 2`` in |+> on the
z-random background of that realization (``default_rng(c_k.spawn(1)[0])``, as the echo studies
draw it), a Hahn echo with the p-bit pulse X_p at T/2 and the readout <sigma^x_p> at the total
times T. Every engine runs the **same product formula** with the same truncation:

* the Trotter split is echo_lab's own (:func:`echo_lab.dynamics.trotter.split_layers`): layer 0
  the even bonds (0, 1), (2, 3), ... with the fields folded in, layer 1 the odd bonds; the peers
  get these very 4 x 4 bond Hamiltonians (:func:`bond_hamiltonians`), so no field is split
  differently between bonds;
* order 2 is L0(tau/2) L1(tau) L0(tau/2) and order 4 Suzuki's S2(p tau)^2 S2((1 - 4p) tau)
  S2(p tau)^2 with p = 1 / (4 - 4^(1/3)) in all three: quimb's ``TEBD.step`` (its
  ``trotter_schedule``: "right" sweep = even bonds first) and TeNPy's ``TEBDEngine`` (its
  ``suzuki_trotter_decomposition`` starts with its "odd" bonds, bond i joining sites i - 1 and i,
  i.e. our even bonds) are exactly that;
* each half of the echo (length L = T/2) gets ``k = ceil(L / dt)`` steps of L / k
  (:func:`echo_lab.dynamics.trotter.fitted_steps`), as echo_lab's circuits;
* truncation: at most ``max_bond`` Schmidt values per bond and discarded weight (sum of the
  discarded squared Schmidt values) at most ``cutoff``: Aer's
  ``matrix_product_state_truncation_threshold``, quimb's ``cutoff`` with ``cutoff_mode="rsum2"``,
  TeNPy's ``trunc_cut = sqrt(cutoff)`` (its rule is ``sum S^2 <= trunc_cut^2``) with ``svd_min``
  off.

So at a bond dimension that truncates nothing the peers and echo_lab agree to rounding with the
``trotter-exact`` backend (the test suite checks this at n = 8). Engines (:data:`ENGINES`):

* ``echo_lab_aer``: ``get_backend("aer", method="matrix_product_state", ...)``, one circuit per
  total time (Aer does not report the bond dimension it reached: recorded as None);
* ``echo_lab_quimb``: ``get_backend("quimb", max_bond=..., cutoff=...)`` when a backend of that
  name is registered (:func:`available_engines` leaves it out otherwise);
* ``quimb_tebd``: ``quimb.tensor.TEBD`` on a ``LocalHam1D`` of the bond Hamiltonians;
* ``tenpy_tebd``: TeNPy's ``TEBDEngine`` on a ``NearestNeighborModel`` built from couplings.

Beside them, outside :data:`ENGINES` because it runs no product formula (it does not reproduce
``trotter-exact``): :func:`tdvp_echo`, TeNPy's two-site TDVP on the MPO of the same couplings,
with the same truncation, pulse and readout (issue 23 item 2: TDVP or order-4 Trotter for long
chains, experiments/benchmarks/bench_tdvp_vs_trotter.py).

The peers are written the way a user of each library would write the echo: the first halves of
the total times are chained (the state at T_1/2 continues to T_2/2 when both halves use steps of
the same length, else the evolution restarts), the pulse is a one-site X on the MPS, the second
half of each T starts from the pulsed copy. Cost: O(n chi^3) per Trotter layer in every engine.
The optional libraries are imported inside the functions (the ``bench`` extra installs them).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.registry import get_backend, registered_backends
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics import models
from echo_lab.physics.states import ProductState, probe_state
from echo_lab.protocols.sequences import build_sequence

__all__ = [
    "ENGINES",
    "EchoInstance",
    "EchoRun",
    "Truncation",
    "available_engines",
    "bond_hamiltonians",
    "chained_step_count",
    "exact_echo",
    "run_engine",
    "tdvp_echo",
    "trotter_exact_echo",
]

_PAULI_X = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=complex)


@dataclass(frozen=True)
class EchoInstance:
    """One chain: ``n`` sites (even), disorder ``W``, realization ``realization`` of base seed
    ``seed``, couplings ``J`` and ``Jz`` (Pauli units); probe ``n // 2``."""

    n: int
    W: float
    seed: int = 1
    realization: int = 0
    J: float = 1.0
    Jz: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 4 or self.n % 2:
            raise ConfigError(
                f"the MPS peer benchmark needs an even chain of n >= 4 sites, got n = {self.n!r}: "
                "with odd n echo_lab's first Trotter layer holds a lone field block that TEBD "
                "engines have no place for"
            )
        if self.realization < 0:
            raise ConfigError(f"realization must be >= 0, got {self.realization}")

    @property
    def probe(self) -> int:
        return self.n // 2

    @cached_property
    def _seeds(self) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
        fields_seed = models.disorder_seeds(self.seed, self.realization + 1)[self.realization]
        (state_seed,) = fields_seed.spawn(1)
        return fields_seed, state_seed

    @cached_property
    def model(self) -> models.RandomFieldXXZ:
        return models.RandomFieldXXZ(n=self.n, W=self.W, J=self.J, Jz=self.Jz, seed=self._seeds[0])

    @cached_property
    def hamiltonian(self) -> SparsePauliOp:
        return self.model.hamiltonian()

    @cached_property
    def state(self) -> ProductState:
        rng = np.random.default_rng(self._seeds[1])
        return probe_state(self.n, self.probe, background="z-random", rng=rng)

    @cached_property
    def sequence(self) -> PulseSequence:
        return build_sequence("hahn", n=self.n, probe=self.probe, pulse="pbit")

    @cached_property
    def observable(self) -> SparsePauliOp:
        return SparsePauliOp.from_sparse_list([("X", [self.probe], 1.0)], self.n)

    def describe(self) -> dict[str, Any]:
        """The instance as plain data (fields and background bits included)."""
        return {
            "n": self.n,
            "W": self.W,
            "J": self.J,
            "Jz": self.Jz,
            "seed": self.seed,
            "realization": self.realization,
            "probe": self.probe,
            "fields": [float(h) for h in self.model.fields],
            "background_bits": [int(b) for b in self.state.bits()],
        }


@dataclass(frozen=True)
class Truncation:
    """Trotter step ``dt``, ``order`` (2 or 4), largest bond ``max_bond`` and discarded weight
    ``cutoff`` per truncation, the same in every engine (module docstring)."""

    dt: float
    order: int
    max_bond: int
    cutoff: float

    def __post_init__(self) -> None:
        trotter.TrotterSettings(self.dt, self.order)
        if self.order not in (2, 4):
            raise ConfigError(f"the TEBD peers are compared at order 2 or 4, got {self.order}")
        if isinstance(self.max_bond, bool) or int(self.max_bond) != self.max_bond:
            raise ConfigError(f"max_bond must be an integer, got {self.max_bond!r}")
        if self.max_bond < 2:
            raise ConfigError(f"max_bond must be >= 2, got {self.max_bond}")
        if not 0.0 <= self.cutoff < 1.0:
            raise ConfigError(f"cutoff (discarded weight) must be in [0, 1), got {self.cutoff}")


@dataclass(frozen=True)
class EchoRun:
    """<sigma^x_p> at each total time and the largest bond dimension the engine reached (None
    where the engine does not report it)."""

    echo: np.ndarray
    max_bond_reached: int | None


def bond_hamiltonians(instance: EchoInstance) -> list[np.ndarray]:
    """The 4 x 4 Hamiltonian of bond (i, i + 1), i = 0..n-2, as echo_lab's Trotter split holds it.

    Taken from :func:`echo_lab.dynamics.trotter.split_layers` (fields folded into the even bonds),
    written in the peers' order: site i is the first (most significant) factor of the Kronecker
    product, basis |0> (sigma^z = +1) first.
    """
    split = trotter.split_layers(instance.hamiltonian)
    bonds: dict[int, np.ndarray] = {}
    for layer in split.layers:
        for block in layer.blocks:
            i, j = (*block.qubits, -1)[:2]
            if block.kind != "bond" or j != i + 1:
                raise ConfigError(f"unexpected Trotter block {block.kind} on {block.qubits}")
            # The block's qubit 0 (site i) is its least significant bit: swap to site i first.
            matrix = block.operator.to_matrix().reshape(2, 2, 2, 2)
            bonds[i] = matrix.transpose(1, 0, 3, 2).reshape(4, 4)
    if sorted(bonds) != list(range(instance.n - 1)) or split.constant != 0.0:
        raise ConfigError("the chain's Trotter split is not one block per nearest-neighbour bond")
    return [bonds[i] for i in range(instance.n - 1)]


def _check_times(times: Sequence[float]) -> np.ndarray:
    values = np.asarray(times, dtype=float).ravel()
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise ConfigError(f"total times must be finite and > 0, got {list(values)}")
    return values


def _hahn_halves(
    times: np.ndarray,
    dt: float,
    *,
    evolve: Callable[[Any, int, float], Any],
    initial: Callable[[], Any],
    pulsed: Callable[[Any], Any],
    readout: Callable[[Any], float],
) -> np.ndarray:
    """The echo at each total time, the first halves chained over the sorted times.

    ``evolve(state, k, tau)`` returns the state after k steps of tau (it may reuse its input),
    ``pulsed(state)`` a pulsed copy (the input is kept), ``readout(state)`` <sigma^x_p>.
    """
    echo = np.empty(times.size)
    state, done, tau_done = initial(), 0, None
    for index in np.argsort(times, kind="stable"):
        k, tau = trotter.fitted_steps(0.5 * times[index], dt)
        if tau_done is not None and tau != tau_done:
            state, done = initial(), 0
        if k > done:
            state = evolve(state, k - done, tau)
        done, tau_done = k, tau
        echo[index] = readout(evolve(pulsed(state), k, tau))
    return echo


def chained_step_count(times: Sequence[float], dt: float) -> int:
    """The steps (Trotter steps or TDVP sweeps) the peers take for the echoes at ``times``, the
    first halves chained as :func:`_hahn_halves` chains them (for a cost per step)."""
    values = _check_times(times)
    total, done, tau_done = 0, 0, None
    for index in np.argsort(values, kind="stable"):
        k, tau = trotter.fitted_steps(0.5 * values[index], dt)
        if tau_done is not None and tau != tau_done:
            done = 0
        total += max(k - done, 0) + k
        done, tau_done = k, tau
    return total


def quimb_echo(instance: EchoInstance, times: Sequence[float], truncation: Truncation) -> EchoRun:
    """The Hahn echo with ``quimb.tensor.TEBD`` (module docstring)."""
    import quimb.tensor as qtn

    values = _check_times(times)
    n, probe = instance.n, instance.probe
    hamiltonian = qtn.LocalHam1D(
        n, H2={(i, i + 1): bond for i, bond in enumerate(bond_hamiltonians(instance))}
    )
    split_opts = {
        "max_bond": int(truncation.max_bond),
        "cutoff": float(truncation.cutoff),
        "cutoff_mode": "rsum2",
    }
    reached = [1]

    def initial() -> Any:
        return qtn.MPS_product_state([instance.state.site_vector(i) for i in range(n)])

    def evolve(mps: Any, k: int, tau: float) -> Any:
        tebd = qtn.TEBD(mps, hamiltonian, dt=tau, split_opts=split_opts, progbar=False)
        for step in range(k):
            # queue: consecutive half sweeps of the even bonds merge (exact); drained at the end
            tebd.step(order=truncation.order, queue=step < k - 1)
        out = tebd.pt
        reached[0] = max(reached[0], int(out.max_bond()))
        return out

    def pulsed(mps: Any) -> Any:
        return mps.gate(_PAULI_X, probe, contract=True)

    def readout(mps: Any) -> float:
        # normalized: a truncation that quimb does not renormalize leaves a norm below 1
        value = mps.H @ mps.gate(_PAULI_X, probe, contract=True)
        return float(np.real(value / (mps.H @ mps)))

    echo = _hahn_halves(
        values, truncation.dt, evolve=evolve, initial=initial, pulsed=pulsed, readout=readout
    )
    return EchoRun(echo, reached[0])


def _tenpy_couplings(instance: EchoInstance) -> Any:
    """The chain's terms as a TeNPy ``CouplingModel``: XX + YY + ZZ on every bond, the fields as
    couplings ``h Z x Id`` on the even bonds (where echo_lab's split folds them)."""
    from tenpy.models.lattice import Chain
    from tenpy.models.model import CouplingModel
    from tenpy.networks.site import SpinHalfSite

    n, fields = instance.n, instance.model.fields
    lattice = Chain(n, SpinHalfSite(conserve=None), bc="open", bc_MPS="finite")
    couplings = CouplingModel(lattice)
    for i in range(n - 1):
        for pauli, strength in (("Sigmax", instance.J), ("Sigmay", instance.J)):
            couplings.add_coupling_term(strength, i, i + 1, pauli, pauli)
        couplings.add_coupling_term(instance.Jz, i, i + 1, "Sigmaz", "Sigmaz")
        if i % 2 == 0:
            couplings.add_coupling_term(float(fields[i]), i, i + 1, "Sigmaz", "Id")
            couplings.add_coupling_term(float(fields[i + 1]), i, i + 1, "Id", "Sigmaz")
    return couplings


def tenpy_model(instance: EchoInstance) -> Any:
    """The chain as a TeNPy ``NearestNeighborModel`` (bond Hamiltonians, for TEBD) built from
    couplings, the fields as couplings ``h Z x Id`` on the even bonds."""
    from tenpy.models.model import NearestNeighborModel

    couplings = _tenpy_couplings(instance)
    return NearestNeighborModel(couplings.lat, couplings.calc_H_bond())


def tenpy_mpo_model(instance: EchoInstance) -> Any:
    """The chain as a TeNPy ``MPOModel`` (the whole H as an MPO, for TDVP), from the same
    couplings as :func:`tenpy_model`."""
    from tenpy.models.model import MPOModel

    couplings = _tenpy_couplings(instance)
    return MPOModel(couplings.lat, couplings.calc_H_MPO())


def _tenpy_trunc_params(truncation: Truncation) -> dict[str, Any]:
    """The truncation in TeNPy's terms: ``chi_max``, ``trunc_cut = sqrt(cutoff)``, no svd_min."""
    return {
        "chi_max": int(truncation.max_bond),
        "trunc_cut": float(np.sqrt(truncation.cutoff)) if truncation.cutoff > 0 else None,
        "svd_min": None,
    }


def _tenpy_hahn(
    instance: EchoInstance,
    values: np.ndarray,
    dt: float,
    sites: list[Any],
    evolve: Callable[[Any, int, float], Any],
) -> np.ndarray:
    """The echo of a TeNPy engine ``evolve(psi, k, tau)``: product state, X_p pulse on a copy,
    <sigma^x_p> readout (TeNPy's MPS are kept normalized)."""
    from tenpy.networks.mps import MPS

    def initial() -> Any:
        vectors = [instance.state.site_vector(i) for i in range(instance.n)]
        return MPS.from_product_state(
            sites, vectors, bc="finite", dtype=complex, unit_cell_width=len(sites)
        )

    def pulsed(psi: Any) -> Any:
        copy = psi.copy()
        copy.apply_local_op(instance.probe, "Sigmax", unitary=True)
        return copy

    def readout(psi: Any) -> float:
        return float(np.real(psi.expectation_value("Sigmax", [instance.probe])[0]))

    return _hahn_halves(values, dt, evolve=evolve, initial=initial, pulsed=pulsed, readout=readout)


def tenpy_echo(instance: EchoInstance, times: Sequence[float], truncation: Truncation) -> EchoRun:
    """The Hahn echo with TeNPy's ``TEBDEngine`` (module docstring)."""
    from tenpy.algorithms.tebd import TEBDEngine

    values = _check_times(times)
    model = tenpy_model(instance)
    trunc_params = _tenpy_trunc_params(truncation)
    reached = [1]

    def evolve(psi: Any, k: int, tau: float) -> Any:
        options = {"order": truncation.order, "dt": tau, "N_steps": k, "trunc_params": trunc_params}
        TEBDEngine(psi, model, options).run()
        reached[0] = max(reached[0], max(psi.chi))
        return psi

    echo = _tenpy_hahn(instance, values, truncation.dt, model.lat.mps_sites(), evolve)
    return EchoRun(echo, int(reached[0]))


#: Krylov (Lanczos) steps TDVP may take per local exponential: TeNPy's default (20) is short of
#: convergence when dt times the spread of the local energies (fields up to W) is large.
TDVP_LANCZOS_MAX_STEPS = 40


def tdvp_echo(instance: EchoInstance, times: Sequence[float], truncation: Truncation) -> EchoRun:
    """The Hahn echo with TeNPy's two-site TDVP (``TwoSiteTDVPEngine``) on the chain's MPO.

    No Trotter split: each sweep (left to right and back, half a step each way) integrates the
    Schroedinger equation projected on the MPS tangent space, the local two-site exponentials by
    Lanczos (to TeNPy's ``P_tol`` 1e-14, at most :data:`TDVP_LANCZOS_MAX_STEPS` vectors). Its
    errors are the projection (when chi caps the bond) and the sweep's splitting of the
    projected equation, second order in dt: hence ``truncation.order`` must be 2. Truncation:
    chi_max and discarded weight per SVD as the TEBD peers (module docstring). The halves, the
    pulse (one-site X on a copy) and the readout are those of the TeNPy TEBD peer. Cost per
    step: 2 (n - 1) two-site Lanczos runs of O(chi^3 d^2 D) per vector (MPO bond D = 5) plus
    the one-site back steps, several times a TEBD step of O(n chi^3 d^3).
    """
    if truncation.order != 2:
        raise ConfigError(
            f"TDVP has no Trotter order (got order {truncation.order}): TeNPy's two-site sweep "
            "is a symmetric, second-order integrator; pass Truncation(..., order=2, ...)"
        )
    from tenpy.algorithms.tdvp import TwoSiteTDVPEngine

    values = _check_times(times)
    model = tenpy_mpo_model(instance)
    options_base = {
        "trunc_params": _tenpy_trunc_params(truncation),
        "lanczos_params": {"N_max": TDVP_LANCZOS_MAX_STEPS},
    }
    reached = [1]

    def evolve(psi: Any, k: int, tau: float) -> Any:
        TwoSiteTDVPEngine(psi, model, {**options_base, "dt": tau, "N_steps": k}).run()
        reached[0] = max(reached[0], max(psi.chi))
        return psi

    echo = _tenpy_hahn(instance, values, truncation.dt, model.lat.mps_sites(), evolve)
    return EchoRun(echo, int(reached[0]))


def _backend_echo(backend: Any, instance: EchoInstance, times: np.ndarray) -> np.ndarray:
    result = backend.run(
        instance.hamiltonian,
        instance.sequence,
        instance.state,
        times,
        observables={"sx": instance.observable},
    )
    return np.real(np.asarray(result["sx"], dtype=complex))


def echo_lab_aer_echo(
    instance: EchoInstance, times: Sequence[float], truncation: Truncation
) -> EchoRun:
    """The Hahn echo on echo_lab's Aer matrix_product_state backend."""
    backend = get_backend(
        "aer",
        method="matrix_product_state",
        dt=truncation.dt,
        order=truncation.order,
        mps_options={
            "max_bond_dimension": int(truncation.max_bond),
            "truncation_threshold": float(truncation.cutoff),
        },
    )
    return EchoRun(_backend_echo(backend, instance, _check_times(times)), None)


def echo_lab_quimb_echo(
    instance: EchoInstance, times: Sequence[float], truncation: Truncation
) -> EchoRun:
    """The Hahn echo on echo_lab's ``quimb`` backend (registered by the ``mps`` extra)."""
    backend = get_backend(
        "quimb",
        dt=truncation.dt,
        order=truncation.order,
        max_bond=int(truncation.max_bond),
        cutoff=float(truncation.cutoff),
    )
    return EchoRun(_backend_echo(backend, instance, _check_times(times)), None)


def trotter_exact_echo(
    instance: EchoInstance, times: Sequence[float], truncation: Truncation
) -> np.ndarray:
    """The same product formula without truncation: echo_lab's ``trotter-exact`` (n <= 12)."""
    backend = get_backend("trotter-exact", dt=truncation.dt, order=truncation.order)
    return _backend_echo(backend, instance, _check_times(times))


def exact_echo(instance: EchoInstance, times: Sequence[float]) -> np.ndarray:
    """The true dynamics (no Trotter error): echo_lab's ``krylov`` backend."""
    return _backend_echo(get_backend("krylov"), instance, _check_times(times))


#: Engine name -> (its echo function, the module it needs to be installed).
ENGINES: dict[str, tuple[Callable[[EchoInstance, Sequence[float], Truncation], EchoRun], str]] = {
    "echo_lab_aer": (echo_lab_aer_echo, "qiskit_aer"),
    "echo_lab_quimb": (echo_lab_quimb_echo, "quimb"),
    "quimb_tebd": (quimb_echo, "quimb"),
    "tenpy_tebd": (tenpy_echo, "tenpy"),
}


def available_engines() -> dict[str, str]:
    """Each engine of :data:`ENGINES` -> ``"available"`` or why it is left out."""
    out = {}
    for name, (_, module) in ENGINES.items():
        if importlib.util.find_spec(module) is None:
            out[name] = f"not installed: the {module} module (pip install 'echo_lab[bench]')"
        elif name == "echo_lab_quimb" and "quimb" not in registered_backends():
            out[name] = "no backend named 'quimb' is registered in this echo_lab"
        else:
            out[name] = "available"
    return out


def run_engine(
    name: str, instance: EchoInstance, times: Sequence[float], truncation: Truncation
) -> EchoRun:
    """The echo of ``instance`` at ``times`` on engine ``name`` (one of :data:`ENGINES`)."""
    if name not in ENGINES:
        raise ConfigError(f"unknown MPS engine {name!r}; choose one of {sorted(ENGINES)}")
    status = available_engines()[name]
    if status != "available":
        raise ConfigError(f"MPS engine {name!r} is unavailable: {status}")
    return ENGINES[name][0](instance, times, truncation)
