"""Qiskit Aer backend: Trotter circuits of a pulse sequence on statevector (CPU or GPU), matrix
product state or density-matrix simulators, ideal, noisy or sampled.

Circuits follow the rule of :mod:`echo_lab.dynamics.trotter` (:func:`~echo_lab.dynamics.trotter.
segment_steps`): each ``Free(f)`` segment at total time T, of length L = f T, is ``k = ceil(L /
dt)`` Trotter steps of L / k, so it is simulated for exactly L (steps of exactly dt when L is a
multiple of dt). Time traces come from labelled save instructions (``"sx@12"`` = observable
``sx`` after 12 steps):

* **one circuit per step length** when the sequence has a single free segment with steps and no
  pulse after it (FID, or pulses then free evolution): saves after each requested step count, so
  a trace of K times on the grid of dt costs one evolution to the longest time; a time off that
  grid has a step length of its own and so a circuit of its own;
* **one circuit per total time** otherwise (echoes), all submitted in one ``run`` call.

Observables may be ``SparsePauliOp`` or dense ``2^n x 2^n`` arrays (converted with
``SparsePauliOp.from_operator``, O(n 4^n)); Aer evaluates Pauli sums directly (the MPS method
supports nothing else). ``entropy=True`` saves the statevector (statevector methods, then
:func:`~echo_lab.backends.base.half_chain_entropy`), the MPS (Schmidt values at the middle bond),
or the reduced density matrix of sites 0..n//2-1 (density matrix; a mixed-state entropy).

**Truncation reports** (matrix product states, without shots): every save point also saves the
MPS (``save_matrix_product_state``), and the result holds ``"mps_max_bond"``, the largest bond
dimension (number of Schmidt values) of that saved state, per time
(:data:`~echo_lab.backends.base.TRUNCATION_REPORTS`). It is the bond dimension of the state that
was read out; a larger one between two save points is not seen, so on a trace of many times it is
the largest over the save points (each echo time has a circuit of its own, saved at its end).
Cost: a copy of the MPS per save point (about 32 n chi^2 bytes, counted by the memory check).
``"mps_discarded_weight"`` is **not reported**: Aer 0.18 logs each SVD's discarded weight only
with ``mps_log_data=True``, and that log is one string static to the process (``MPS::
logging_str_``): never cleared, so experiment k's metadata repeats every earlier experiment's log
(memory quadratic in the number of circuits; a long-chain echo logs megabytes per circuit),
shared by threads running side by side, without marks at save points, and silent on truncations
below its ``chop_threshold`` (1e-8 by default) although they still discard weight. The truncation
error estimate (bond doubling, :mod:`echo_lab.study.accuracy`) does not need it.

**Shots** (``shots=K``): every observable's Pauli terms are grouped into qubit-wise commuting
groups (``SparsePauliOp.group_commuting(qubit_wise=True)``); each group is measured in its
rotated basis in K shots of its own circuit. The estimate of an observable is the sum over groups
of the sample mean of sum_P c_P (-1)^(parity of P's support), and its standard error
``name + "_stderr"`` is sqrt(sum over groups of sample variance / K) (groups are independent).

**Noise** (:class:`~echo_lab.backends.noise.NoiseSpec` or an Aer ``NoiseModel``): gate errors,
per-step relaxation (T1 / T2 over each step's own length, so over the segment's true time) and
hardware noise models are non-unitary channels and need ``method="density_matrix"`` or shots.
Quasi-static dephasing averages the whole run over the Gauss-Hermite nodes of delta (one circuit
set per node, all in the same ``run`` call).

**Memory** is checked before anything is built: a statevector takes 16 * 2^n bytes (8 in single
precision), plus one per saved state when ``entropy=True``; a density matrix 16 * 4^n bytes; an
MPS with bond dimension chi about 32 n chi^2 bytes. MPS runs pass ``max_memory_mb=-1`` because
Aer 0.18 overestimates their memory and refuses long circuits otherwise.

**Many disorder realizations** of one sequence: :meth:`AerBackend.run_realizations` builds one
circuit with the fields (and the initial Bloch angles) as parameters, transpiles it once (each
bond's fixed rxx, ryy, rzz consolidated into one unitary) and lets Aer bind all realizations in
one call (``parameter_binds``), so circuit construction is paid once; below 14 qubits the bound
experiments run in parallel, one per core (``max_parallel_experiments=0``). Its Trotter split
keeps the fields in their own layer (``parametric.parameterized_circuit``), so it differs from
:meth:`run` (fields folded into the bonds) by the O(dt^2) Trotter error, not by rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from qiskit.circuit.library.standard_gates import get_standard_gate_name_mapping
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import PassManager
from qiskit.transpiler.passes import Collect2qBlocks, ConsolidateBlocks

from echo_lab.backends.base import (
    MPS_MAX_BOND,
    TRUNCATION_REPORTS,
    Operator,
    RotatedPauli,
    check_health,
    check_inputs,
    check_times,
    half_chain_entropy,
)
from echo_lab.backends.noise import (
    NoiseSpec,
    backend_noise_model,
    dephasing_quadrature,
    insert_gate_errors,
    step_error,
)
from echo_lab.backends.options import (
    AER_DEVICES,
    AER_METHODS,
    AER_PRECISIONS,
    MPS_OPTIONS,
    aer_memory_bytes,
)
from echo_lab.backends.readout import (
    Measured,
    estimate_from_counts,
    measure_in_basis,
    measured_observables,
    measurement_groups,
    pauli_sums,
)
from echo_lab.dynamics import parametric, trotter
from echo_lab.dynamics.schedule import Free, PulseSequence
from echo_lab.errors import ConfigError, NumericalError, aer_missing
from echo_lab.physics.linalg import entropy_of_weights
from echo_lab.physics.models import HamiltonianModel
from echo_lab.physics.states import ProductState, preparation_circuit
from echo_lab.resources import format_bytes, require_memory

try:
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
except ImportError:
    raise aer_missing() from None


#: ``evolve(k, tau)``: the circuit of k Trotter steps of length tau.
Evolve = Callable[[int, float], QuantumCircuit]
#: Steps and step lengths of every free segment at every total time (trotter.segment_table).
StepTable = tuple[np.ndarray, np.ndarray]

#: Label prefix of the MPS saved at every save point of a matrix_product_state run.
MPS_LABEL = "mps"

#: Below this many qubits :meth:`AerBackend.run_realizations` runs the bound experiments in
#: parallel (Aer's ``max_parallel_experiments=0``); from Aer's default parallel-state threshold
#: (14) on, each experiment uses all threads instead.
PARALLEL_BINDINGS_QUBITS = 14

GPU_INSTALL_HINT = (
    "install the GPU build instead of the CPU one: `pip uninstall -y qiskit-aer && pip install "
    "'echo_lab[gpu]'` (qiskit-aer-gpu; the two builds share the qiskit_aer module and must not "
    "be installed together), on a machine with a CUDA device"
)


def mps_max_bond(mps: tuple[Any, Any]) -> int:
    """Largest bond dimension of Aer's saved MPS: the most Schmidt values at any bond (1 for a
    product state or a single qubit)."""
    return max((len(values) for values in mps[1]), default=1)


def entropy_from_mps(mps: tuple[Any, Any], n: int) -> float:
    """Half-chain entropy from Aer's saved MPS: Schmidt values of the bond between n//2-1, n//2."""
    if n < 2:
        return 0.0
    schmidt = np.asarray(mps[1][n // 2 - 1], dtype=float)
    return entropy_of_weights(schmidt**2)


def entropy_from_density_matrix(rho: np.ndarray) -> float:
    """Von Neumann entropy (natural log) of a density matrix."""
    return entropy_of_weights(np.linalg.eigvalsh(np.asarray(rho)))


class AerBackend:
    """Trotter circuits on Qiskit Aer (module docstring for the circuits, noise, shots, memory).

    Parameters
    ----------
    method : ``"statevector"``, ``"matrix_product_state"`` or ``"density_matrix"``.
    device : ``"auto"`` (GPU when the GPU build sees one, else CPU), ``"CPU"`` or ``"GPU"``.
    dt, order : Trotter step and order (1, 2 or 4).
    shots : None for exact expectation values, or K > 0 for sampled estimates with stderr.
    noise : a :class:`~echo_lab.backends.noise.NoiseSpec`, an Aer ``NoiseModel`` (applied by gate
    name),
        or None.
    precision : ``"double"`` or ``"single"``.
    mps_options : ``{"max_bond_dimension": chi, "truncation_threshold": eps}`` (MPS only).
    seed_simulator : seed of Aer's sampling (shots and noise trajectories).
    """

    name = "aer"

    def __init__(
        self,
        *,
        method: str = "statevector",
        device: str = "auto",
        dt: float = trotter.DEFAULT_DT,
        order: int = trotter.DEFAULT_ORDER,
        shots: int | None = None,
        noise: NoiseSpec | NoiseModel | None = None,
        precision: str = "double",
        mps_options: Mapping[str, float] | None = None,
        seed_simulator: int | None = None,
    ) -> None:
        if method not in AER_METHODS:
            raise ConfigError(f"unknown Aer method {method!r}; choose one of {AER_METHODS}")
        if device not in AER_DEVICES:
            raise ConfigError(f"unknown device {device!r}; choose one of {AER_DEVICES}")
        if precision not in AER_PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; choose one of {AER_PRECISIONS}")
        settings = trotter.TrotterSettings(dt, order)
        if shots is not None and (isinstance(shots, bool) or int(shots) != shots or shots < 1):
            raise ConfigError(f"shots must be None (exact) or an integer >= 1, got {shots!r}")
        if noise is not None and not isinstance(noise, NoiseSpec | NoiseModel):
            raise ConfigError(
                "noise must be an echo_lab.backends.noise.NoiseSpec or a qiskit_aer NoiseModel, "
                f"got {type(noise).__name__}"
            )
        if mps_options and method != "matrix_product_state":
            raise ConfigError("mps_options only apply to method='matrix_product_state'")
        unknown = sorted(set(mps_options or {}) - set(MPS_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown mps_options {unknown}; known: {sorted(MPS_OPTIONS)}")
        markovian = isinstance(noise, NoiseModel) or (
            isinstance(noise, NoiseSpec) and noise.has_channels
        )
        if markovian and method != "density_matrix" and shots is None:
            raise ConfigError(
                "gate errors, relaxation and hardware noise are non-unitary channels: use "
                "method='density_matrix', or shots=K to sample noise trajectories"
            )
        self.method = method
        self.device = self._resolve_device(device, method)
        self.dt = settings.dt
        self.order = settings.order
        self.shots = None if shots is None else int(shots)
        self.noise = noise
        self.precision = precision
        self.mps_options = dict(mps_options or {})
        self.seed_simulator = seed_simulator

    @staticmethod
    def _resolve_device(device: str, method: str) -> str:
        available = AerSimulator().available_devices()
        if device == "GPU":
            if method == "matrix_product_state":
                raise ConfigError(
                    "Aer's matrix_product_state method has no GPU implementation: use "
                    "device='CPU' (or 'auto'), or method='statevector' on the GPU"
                )
            if "GPU" not in available:
                raise ConfigError(
                    f"device='GPU' was requested but Aer sees no GPU: {GPU_INSTALL_HINT}"
                )
            return "GPU"
        if device == "auto" and "GPU" in available and method != "matrix_product_state":
            return "GPU"
        return "CPU"

    @property
    def noise_spec(self) -> NoiseSpec:
        """The noise as a NoiseSpec (the ideal one without noise or for a plain NoiseModel)."""
        return self.noise if isinstance(self.noise, NoiseSpec) else NoiseSpec()

    def simulator(self) -> AerSimulator:
        """The configured ``AerSimulator``."""
        options: dict[str, Any] = {
            "method": self.method,
            "device": self.device,
            "precision": self.precision,
        }
        if self.seed_simulator is not None:
            options["seed_simulator"] = self.seed_simulator
        noise_model = (
            self.noise
            if isinstance(self.noise, NoiseModel)
            else backend_noise_model(self.noise_spec)
        )
        if noise_model is not None:
            options["noise_model"] = noise_model
        if self.method == "matrix_product_state":
            options["max_memory_mb"] = -1
            options.update({MPS_OPTIONS[key][0]: value for key, value in self.mps_options.items()})
        return AerSimulator(**options)

    def estimate_memory(self, n: int, *, saved_states: int = 0) -> int:
        """Bytes the simulation of ``n`` qubits needs (module docstring), before running."""
        return aer_memory_bytes(
            n,
            method=self.method,
            precision=self.precision,
            max_bond_dimension=int(self.mps_options.get("max_bond_dimension", 0)),
            saved_states=saved_states,
        )

    def _require_memory(self, n: int, saved_states: int) -> None:
        need = self.estimate_memory(n, saved_states=saved_states)
        if self.method == "density_matrix":
            suggestion = (
                f"A density matrix of {n} qubits is 16 * 4^{n} bytes: use fewer qubits (n <= 12 "
                "is comfortable), or method='statevector' with shots to sample the noise."
            )
        else:
            suggestion = (
                f"A statevector of {n} qubits is 16 * 2^{n} bytes ({format_bytes(need)} here): "
                "use method='matrix_product_state' with a max_bond_dimension, or a shorter chain."
            )
        require_memory(
            need, what=f"an Aer {self.method} simulation of {n} qubits", suggestion=suggestion
        )

    def run(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        *,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> dict[str, np.ndarray]:
        """Observables at each total time, shape ``(K,)`` (plus ``_stderr`` with shots)."""
        times, n = check_inputs(hamiltonian, state, times)
        steps = self._steps(sequence, times)
        self._check_request(n, entropy, n_times=times.size)
        paulis = measured_observables(observables, n, shots=self.shots)
        # One split for every segment: its fused gates are built once and reused.
        split = trotter.split_layers(hamiltonian)
        one_step: dict[float, QuantumCircuit] = {}

        def step(tau: float) -> QuantumCircuit:
            if tau not in one_step:
                one_step[tau] = decompose_evolution(
                    trotter.evolution_circuit(split, dt=tau, steps=1, order=self.order)
                )
            return one_step[tau]

        deltas, weights = dephasing_quadrature(self.noise_spec)

        def evolution_for(delta: float) -> Evolve:
            def evolve(k: int, tau: float) -> QuantumCircuit:
                if not self._per_step_noise(delta):
                    merged = trotter.evolution_circuit(split, dt=tau, steps=k, order=self.order)
                    return decompose_evolution(merged)
                return self._repeat_step(step(tau), k, delta, tau)

            return evolve

        circuits: list[QuantumCircuit] = []
        layouts = []
        for delta in deltas:
            built, where = self._circuits(
                sequence, state.circuit(), steps, evolution_for(float(delta)), paulis, entropy
            )
            layouts.append((len(circuits), where, built))
            circuits += built
        data = self._execute(circuits)
        per_node = [
            self._collect(data[offset : offset + len(built)], where, paulis, entropy, n)
            for offset, where, built in layouts
        ]
        return self._average(per_node, weights)

    def run_realizations(
        self,
        model: HamiltonianModel,
        sequence: PulseSequence,
        states: ProductState | Sequence[ProductState],
        times: np.ndarray,
        *,
        fields_list: Sequence[Sequence[float]] | np.ndarray,
        observables: Mapping[str, Operator],
        entropy: bool = False,
    ) -> list[dict[str, np.ndarray]]:
        """Run ``len(fields_list)`` disorder realizations of one sequence in one Aer call.

        ``model`` fixes every term but the Z fields (``parametric.parameterized_circuit``); each row
        of ``fields_list`` (shape ``(R, n)``) is one realization's fields, and ``states`` is one
        initial state for all or one per realization. The circuits are built once with the
        fields and initial Bloch angles as parameters and bound by Aer (``parameter_binds``).
        Returns one result dict per realization, as :meth:`run` would. Not with shots or
        quasi-static dephasing (use :meth:`run` per realization there).
        """
        times = check_times(times)
        n = model.n
        fields, state_list = self._check_realizations(n, states, fields_list)
        steps = self._steps(sequence, times)
        self._check_request(n, entropy, n_times=times.size)
        paulis = measured_observables(observables, n, shots=self.shots)
        field_params = ParameterVector("h", n)
        theta = ParameterVector("theta", n)
        phi = ParameterVector("phi", n)
        prep = preparation_circuit(list(theta), list(phi))

        def parameterized(k: int, tau: float) -> QuantumCircuit:
            qc, own_fields, own_dt = parametric.parameterized_circuit(
                model, steps=k, order=self.order
            )
            mapping: dict[Any, Any] = {own_dt: tau}
            mapping.update(dict(zip(own_fields, field_params, strict=True)))
            # Once dt is bound only the fields are parameters: merging each bond's rxx, ryy and
            # rzz into one unitary gate makes the circuit faster to simulate (measured:
            # docs/pages/benchmarks.md, "Costs quoted in the code").
            consolidate = PassManager(
                [Collect2qBlocks(), ConsolidateBlocks(force_consolidate=True)]
            )
            return consolidate.run(decompose_evolution(qc.assign_parameters(mapping)))

        def evolve(k: int, tau: float) -> QuantumCircuit:
            if self._per_step_noise(0.0):
                return self._repeat_step(parameterized(1, tau), k, 0.0, tau)
            return parameterized(k, tau)

        built, where = self._circuits(sequence, prep, steps, evolve, paulis, entropy)
        binds = [_bindings(qc, field_params, fields, theta, phi, state_list) for qc in built]
        # Below Aer's parallel-state threshold (14 qubits) every statevector experiment runs on one
        # thread, so the bindings are spread over the cores instead (measured gain:
        # docs/pages/benchmarks.md, "Costs quoted in the code").
        parallel = (
            self.method == "statevector" and self.device == "CPU" and n < PARALLEL_BINDINGS_QUBITS
        )
        data = self._execute(
            built, parameter_binds=binds, max_parallel_experiments=0 if parallel else 1
        )
        count = len(fields)
        # Aer orders the experiments circuit by circuit, each with all of its bindings.
        return [self._collect(data[r::count], where, paulis, entropy, n) for r in range(count)]

    def _check_realizations(
        self,
        n: int,
        states: ProductState | Sequence[ProductState],
        fields_list: Sequence[Sequence[float]] | np.ndarray,
    ) -> tuple[np.ndarray, list[ProductState]]:
        """The ``(R, n)`` fields and one state per realization; ConfigError for what
        :meth:`run_realizations` cannot do (shots, quasi-static dephasing, device noise)."""
        fields = np.asarray(fields_list, dtype=float)
        if fields.ndim != 2 or fields.shape[1] != n or fields.shape[0] == 0:
            raise ConfigError(
                f"fields_list must have shape (realizations, {n}), got {fields.shape}"
            )
        state_list = [states] * len(fields) if isinstance(states, ProductState) else list(states)
        if len(state_list) != len(fields) or any(s.n != n for s in state_list):
            raise ConfigError(
                f"give one {n}-site initial state, or one per realization ({len(fields)})"
            )
        if self.shots is not None or self.noise_spec.static_dephasing_sigma > 0:
            raise ConfigError(
                "run_realizations does not support shots or quasi-static dephasing; call run() "
                "once per realization for those"
            )
        if self.noise_spec.backend is not None or isinstance(self.noise, NoiseModel):
            raise ConfigError("run_realizations does not support hardware noise models; use run()")
        return fields, state_list

    def _steps(self, sequence: PulseSequence, times: np.ndarray) -> StepTable:
        """Steps and step lengths of every free segment at every time, shape ``(K, segments)``
        each (:func:`echo_lab.dynamics.trotter.segment_table`)."""
        return trotter.segment_table(sequence, times, dt=self.dt)

    def _check_request(self, n: int, entropy: bool, *, n_times: int) -> None:
        if entropy and self.shots is not None:
            raise ConfigError(
                "entropy needs exact amplitudes and is not estimated from shots: run it with "
                "shots=None"
            )
        self._require_memory(n, self.saved_states(n_times, entropy=entropy))

    def saved_states(self, n_times: int, *, entropy: bool = False) -> int:
        """States saved by a run of ``n_times`` times: a statevector per time for entropies, an
        MPS per time always (the truncation report), none for a density matrix (its entropy
        saves a reduced matrix of half the sites) or with shots."""
        if self.shots is not None or self.method == "density_matrix":
            return 0
        if self.method == "matrix_product_state":
            return n_times
        return n_times if entropy else 0

    def _per_step_noise(self, delta: float) -> bool:
        """True when every Trotter step must be its own circuit piece.

        Merging steps (``trotter.circuit``) fuses layers across steps, so the number of noisy
        gates would depend on how a trace is cut into save points; with gate errors, relaxation
        or dephasing each step is appended separately and the noise per step is fixed.
        """
        spec = self.noise_spec
        return delta != 0.0 or spec.relaxes or spec.has_gate_errors

    def _repeat_step(
        self, step: QuantumCircuit, k: int, delta: float, tau: float
    ) -> QuantumCircuit:
        """``k`` copies of the one-step circuit ``step`` of length ``tau``, each followed by the
        static detuning ``delta`` and the relaxation over ``tau``."""
        spec = self.noise_spec
        one = step.copy()
        for q in spec.static_dephasing_qubits:
            one.rz(2.0 * delta * tau, q)
        one = self._with_step_noise(one, tau)
        qc = QuantumCircuit(step.num_qubits)
        for _ in range(k):
            qc.compose(one, inplace=True)
        return qc

    def _with_step_noise(self, piece: QuantumCircuit, duration: float) -> QuantumCircuit:
        """Relaxation over ``duration`` (one step's length) after ``piece``, when T1 / T2 are
        finite."""
        error = step_error(self.noise_spec, duration)
        if error is None:
            return piece
        out = piece.copy()
        for q in range(piece.num_qubits):
            out.append(error, [q])
        return out

    def _circuits(
        self,
        sequence: PulseSequence,
        prep: QuantumCircuit,
        table: StepTable,
        evolve: Evolve,
        paulis: Mapping[str, Measured],
        entropy: bool,
    ) -> tuple[list[QuantumCircuit], list[tuple[int, str]]]:
        """Circuits and, per total time, (circuit index, label suffix) of its saves."""
        steps, lengths = table
        segments = sequence.segments
        free_positions = [k for k, s in enumerate(segments) if isinstance(s, Free)]
        active = [j for j in range(len(free_positions)) if np.any(steps[:, j] > 0)]
        last_pulse = max((k for k, s in enumerate(segments) if not isinstance(s, Free)), default=-1)
        single = (
            self.shots is None
            and self.noise_spec.backend is None
            and len(active) <= 1
            and (not active or last_pulse < free_positions[active[0]])
        )
        if single:
            if not active:
                zero = np.zeros(len(steps), dtype=np.int64)
                return self._saved_along(segments, prep, zero, self.dt, evolve, paulis, entropy)
            # Times of one step length share a circuit; a time off the grid of dt has its own.
            counts, taus = steps[:, active[0]], lengths[:, active[0]]
            built: list[QuantumCircuit] = []
            where: list[tuple[int, str]] = [(0, "")] * len(counts)
            for tau in dict.fromkeys(taus.tolist()):
                chosen = np.flatnonzero(taus == tau)
                circuit, saves = self._saved_along(
                    segments, prep, counts[chosen], tau, evolve, paulis, entropy
                )
                for k, (_, suffix) in zip(chosen, saves, strict=True):
                    where[k] = (len(built), suffix)
                built += circuit
            return built, where
        circuits = [
            _row_circuit(segments, prep, row, taus, evolve)
            for row, taus in zip(steps, lengths, strict=True)
        ]
        if self.noise_spec.backend is not None:
            basis = [
                g
                for g in backend_noise_model(self.noise_spec).basis_gates  # type: ignore[union-attr]
                if g in get_standard_gate_name_mapping()
            ]
            circuits = transpile(
                circuits, basis_gates=basis, optimization_level=1, seed_transpiler=0
            )
        if self.shots is None:
            for qc in circuits:
                self._append_saves(qc, paulis, entropy, "")
            return [self._finish(qc) for qc in circuits], [(j, "") for j in range(len(circuits))]
        measured = []
        groups = measurement_groups(pauli_sums(paulis))
        for qc in circuits:
            for group in groups:
                measured.append(self._finish(measure_in_basis(qc, group)))
        return measured, [(j * len(groups), "") for j in range(len(circuits))]

    def _saved_along(
        self,
        segments: Sequence[Any],
        prep: QuantumCircuit,
        counts: np.ndarray,
        tau: float,
        evolve: Evolve,
        paulis: Mapping[str, Measured],
        entropy: bool,
    ) -> tuple[list[QuantumCircuit], list[tuple[int, str]]]:
        """One circuit for a sequence whose pulses all precede its only evolving segment: the
        pulses, then steps of length ``tau`` with the observables saved at every step count of
        ``counts``."""
        qc = prep.copy()
        for segment in segments:
            if not isinstance(segment, Free):
                trotter.append_pulse(qc, segment)
        done = 0
        for k in np.unique(counts):
            if k > done:
                qc.compose(evolve(int(k - done), tau), inplace=True)
                done = int(k)
            self._append_saves(qc, paulis, entropy, f"@{k}")
        return [self._finish(qc)], [(0, f"@{k}") for k in counts]

    def _finish(self, qc: QuantumCircuit) -> QuantumCircuit:
        if self.noise_spec.has_gate_errors:
            return insert_gate_errors(qc, self.noise_spec)
        return qc

    def _append_saves(
        self, qc: QuantumCircuit, paulis: Mapping[str, Measured], entropy: bool, suffix: str
    ) -> None:
        qubits = list(range(qc.num_qubits))
        for name, op in pauli_sums(paulis).items():
            qc.save_expectation_value(op, qubits, label=name + suffix)
        if self.method == "matrix_product_state":
            # the truncation report and the entropy read the same saved MPS
            qc.save_matrix_product_state(label=MPS_LABEL + suffix)
        elif entropy:
            label = "entropy" + suffix
            if self.method == "statevector":
                qc.save_statevector(label=label)
            else:
                qc.save_density_matrix(qubits[: qc.num_qubits // 2], label=label)
        for name, op in paulis.items():
            if isinstance(op, RotatedPauli):
                where = list(op.qubits)
                qc.compose(op.readout, qubits=where, inplace=True)
                qc.save_expectation_value(
                    op.pauli_operator(qc.num_qubits), qubits, label=name + suffix
                )
                qc.compose(op.readout.inverse(), qubits=where, inplace=True)

    def _execute(
        self,
        circuits: list[QuantumCircuit],
        *,
        parameter_binds: list[Any] | None = None,
        max_parallel_experiments: int = 1,
    ) -> list[Any]:
        if not circuits:
            return []
        options: dict[str, Any] = {
            "shots": self.shots or 1,
            "max_parallel_experiments": max_parallel_experiments,
        }
        if parameter_binds is not None:
            options["parameter_binds"] = parameter_binds
        result = self.simulator().run(circuits, **options).result()
        if not result.success:
            raise NumericalError(f"Aer failed: {result.status}")
        return [result.results[k] for k in range(len(result.results))]

    def _collect(
        self,
        experiments: Sequence[Any],
        where: list[tuple[int, str]],
        paulis: Mapping[str, Measured],
        entropy: bool,
        n: int,
    ) -> dict[str, np.ndarray]:
        if self.shots is not None:
            return estimate_from_counts(experiments, where, pauli_sums(paulis), n)
        out: dict[str, np.ndarray] = {}
        for name in paulis:
            out[name] = np.array(
                [float(np.real(experiments[c].data.to_dict()[name + s])) for c, s in where]
            )
        if self.method == "matrix_product_state":
            states = [experiments[c].data.to_dict()[MPS_LABEL + s] for c, s in where]
            out[MPS_MAX_BOND] = np.array([mps_max_bond(mps) for mps in states], dtype=float)
            if entropy:
                out["entropy"] = np.array([entropy_from_mps(mps, n) for mps in states])
        elif entropy:
            values = []
            for c, s in where:
                saved = experiments[c].data.to_dict()["entropy" + s]
                if self.method == "statevector":
                    values.append(float(half_chain_entropy(np.asarray(saved), n)))
                else:
                    values.append(entropy_from_density_matrix(np.asarray(saved)))
            out["entropy"] = np.array(values)
        return out

    @staticmethod
    def _average(
        per_node: list[dict[str, np.ndarray]], weights: np.ndarray
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for key in per_node[0]:
            stacked = np.array([node[key] for node in per_node])
            if key in TRUNCATION_REPORTS:  # the worst dephasing node
                out[key] = stacked.max(axis=0)
            elif key.endswith("_stderr"):
                out[key] = np.sqrt(np.einsum("j,jk->k", weights**2, stacked**2))
            else:
                out[key] = np.einsum("j,jk->k", weights, stacked)
        check_health(out)
        return out


def _row_circuit(
    segments: Sequence[Any],
    prep: QuantumCircuit,
    row: np.ndarray,
    taus: np.ndarray,
    evolve: Evolve,
) -> QuantumCircuit:
    """The sequence at one total time: ``row[j]`` Trotter steps of ``taus[j]`` for its j-th free
    segment."""
    qc = prep.copy()
    free_index = 0
    for segment in segments:
        if isinstance(segment, Free):
            if row[free_index] > 0:
                qc.compose(evolve(int(row[free_index]), float(taus[free_index])), inplace=True)
            free_index += 1
        else:
            trotter.append_pulse(qc, segment)
    return qc


def _bindings(
    qc: QuantumCircuit,
    field_params: ParameterVector,
    fields: np.ndarray,
    theta: ParameterVector,
    phi: ParameterVector,
    states: Sequence[ProductState],
) -> dict[Any, list[float]]:
    """Aer's ``parameter_binds`` entry of ``qc``: every realization's fields and Bloch angles."""
    values = {p: fields[:, q] for q, p in enumerate(field_params) if p in qc.parameters}
    values.update({p: np.array([s.angles[q, 0] for s in states]) for q, p in enumerate(theta)})
    values.update({p: np.array([s.angles[q, 1] for s in states]) for q, p in enumerate(phi)})
    return {p: v.tolist() for p, v in values.items()}


def decompose_evolution(qc: QuantumCircuit) -> QuantumCircuit:
    """Expand ``PauliEvolutionGate`` (terms on 3+ qubits), which Aer does not simulate."""
    if "PauliEvolution" in qc.count_ops():
        return qc.decompose(gates_to_decompose=["PauliEvolution"])
    return qc
