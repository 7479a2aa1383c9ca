"""The device backend: echo circuits transpiled to a device and simulated with its noise.

:class:`DeviceBackend` implements :class:`echo_lab.backends.base.Backend`. For a chain of n sites
it loads the device (:func:`~echo_lab.hardware.devices.load_device`), places the chain on a line of
n qubits (given, or the one with the lowest reported errors), reduces the device to that line
(with the two-qubit error scale), builds one echo circuit per total time (and one
compute-uncompute reference circuit with ``"normalize"``), transpiles them to the line's ISA and
estimates the observables with qiskit-ibm-runtime's executor-based estimator on Aer: density
matrix for n <= 10, noisy trajectories (one per shot) above. Every estimate is sampled with
``shots`` shots (per noise factor with ZNE).

``run`` returns, for every observable ``name`` (arrays of shape ``(K,)`` over the K times unless
stated):

* ``name_raw``, ``name_raw_stderr``: unmitigated;
* ``name_mitigated``, ``name_mitigated_stderr``: with twirling / readout mitigation / ZNE (when any
  is on); with ZNE also ``name_zne_exponential``, ``name_zne_linear`` and their ``_stderr`` and
  ``_chi2`` (each fit's value at zero noise, its standard error and chi^2, NaN where the fit
  failed; ``name_mitigated`` is the first that succeeded) and
  ``name_noise_factors``, ``name_noise_factors_stderr``, shape ``(K, F)``, the values at the noise
  factors (``noise_factors``, shape ``(F,)``);
* with ``"normalize"``: ``name_reference``, ``name_reference_stderr`` (the reference circuit,
  measured like the echo), ``name_reference_ideal`` (its exact value), ``name_normalized``,
  ``name_normalized_stderr`` (:func:`~echo_lab.hardware.mitigation.normalize_echo`; NaN where the
  reference is lost in its noise);
* ``name``, ``name_stderr``: the last stage applied: normalized, else mitigated, else raw;
* per echo circuit: ``depth``, ``two_qubit_gates``, ``success_probability``; ``layout``, shape
  ``(n,)``: the device qubit of each chain site. :attr:`DeviceBackend.last_reports` keeps the
  full :class:`~echo_lab.hardware.circuits.CircuitReport` of every echo circuit.

Cost per circuit: measured in experiments/benchmarks/hardware_mitigation.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import Operator, check_inputs
from echo_lab.backends.readout import to_pauli_sum
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.hardware.circuits import (
    DEFAULT_PULSE_BUDGET,
    CircuitReport,
    check_pulse_costs,
    echo_circuit,
    isa_pass_manager,
    reference_circuit,
    reference_values,
    report_circuit,
)
from echo_lab.hardware.devices import (
    Device,
    DeviceLine,
    GenericDevice,
    check_line,
    choose_line,
    load_device,
    reduce_device,
)
from echo_lab.hardware.mitigation import (
    Estimates,
    MitigationSpec,
    estimator_options,
    normalize_echo,
    raw_options,
    run_estimates,
)
from echo_lab.physics.states import ProductState
from echo_lab.resources import density_matrix_bytes, require_memory, statevector_bytes

__all__ = [
    "DENSITY_MATRIX_MAX_QUBITS",
    "METHODS",
    "DeviceBackend",
    "check_device_fits",
    "device_state_bytes",
    "simulation_method",
]

#: Simulation methods: ``auto`` is the density matrix up to DENSITY_MATRIX_MAX_QUBITS qubits.
METHODS = ("auto", "density_matrix", "statevector")
DENSITY_MATRIX_MAX_QUBITS = 10
#: Most Pauli terms an observable may have (each qubit-wise commuting group is one more basis).
MAX_OBSERVABLE_TERMS = 64


class DeviceBackend:
    """Echoes on a simulated device (module docstring).

    Parameters
    ----------
    device : a fake device short name (``"fez"``, ``"torino"``, ``"sherbrooke"``, ...) or a
        :class:`~echo_lab.hardware.devices.GenericDevice`.
    dt, order : Trotter step and order (a coarse second-order step suits a device).
    shots : shots per circuit (per noise factor with ZNE).
    mitigation : names from ``("twirling", "readout", "zne", "normalize")``, or a
        :class:`~echo_lab.hardware.mitigation.MitigationSpec`.
    layout : device qubits of chain sites 0..n-1 (a line of coupled qubits); None chooses the
        line with the lowest reported errors.
    two_qubit_error_scale : factor on every two-qubit gate's error (and duration).
    fractional_gates : use the device's native ``rx`` / ``rzz``.
    method : ``"auto"``, ``"density_matrix"`` or ``"statevector"`` (noisy trajectories).
    pauli_noise : replace every gate error by its Pauli twirl
        (:meth:`~echo_lab.hardware.devices.DeviceLine.pauli_noise_model`): what twirled circuits
        see on average, and much cheaper trajectories (Aer samples Pauli errors as gates).
    pulse_budget : most two-qubit gates a dense pulse may be synthesized into.
    optimization_level : of the ISA transpilation.
    seed : seeds the simulator, the twirling samples and the transpiler (None: random).
    """

    name = "device"

    def __init__(
        self,
        device: str | GenericDevice = "fez",
        *,
        dt: float = 0.5,
        order: int = 2,
        shots: int = 4000,
        mitigation: Sequence[str] | MitigationSpec = (),
        layout: Sequence[int] | None = None,
        two_qubit_error_scale: float = 1.0,
        fractional_gates: bool = False,
        method: str = "auto",
        pauli_noise: bool = False,
        pulse_budget: int = DEFAULT_PULSE_BUDGET,
        optimization_level: int = 2,
        seed: int | None = None,
    ) -> None:
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"the Trotter step dt must be finite and > 0, got {dt}")
        if order not in trotter.ORDERS:
            raise ConfigError(f"Trotter order must be one of {trotter.ORDERS}, got {order!r}")
        if isinstance(shots, bool) or not isinstance(shots, int | np.integer) or shots < 1:
            raise ConfigError(f"shots must be an integer >= 1, got {shots!r}")
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}; choose one of {METHODS}")
        if optimization_level not in (0, 1, 2, 3):
            raise ConfigError(f"optimization_level must be 0..3, got {optimization_level!r}")
        self.mitigation = (
            mitigation
            if isinstance(mitigation, MitigationSpec)
            else MitigationSpec.from_names(mitigation)
        )
        self.device: Device = load_device(device, fractional_gates=fractional_gates)
        self.dt = float(dt)
        self.order = int(order)
        self.shots = int(shots)
        self.layout = None if layout is None else check_line(self.device, layout)
        self.two_qubit_error_scale = float(two_qubit_error_scale)
        self.method = method
        self.pauli_noise = bool(pauli_noise)
        self.pulse_budget = pulse_budget
        self.optimization_level = optimization_level
        self.seed = seed
        self.last_reports: list[CircuitReport] = []
        self._lines: dict[int, DeviceLine] = {}
        self._chosen: dict[int, tuple[int, ...]] = {}

    def line(self, n: int) -> DeviceLine:
        """The device reduced to the line of ``n`` qubits the chain runs on (cached per n)."""
        if n not in self._lines:
            self._lines[n] = reduce_device(
                self.device, self._layout(n), two_qubit_error_scale=self.two_qubit_error_scale
            )
        return self._lines[n]

    def _layout(self, n: int) -> tuple[int, ...]:
        """The device qubits of chain sites 0..n-1: the given layout, or the chosen line."""
        if self.layout is not None:
            if len(self.layout) != n:
                raise ConfigError(
                    f"layout {list(self.layout)} has {len(self.layout)} qubits, the chain {n}"
                )
            return self.layout
        if n not in self._chosen:
            self._chosen[n] = choose_line(self.device, n)
        return self._chosen[n]

    def simulation_method(self, n: int) -> str:
        """The Aer method used for ``n`` qubits."""
        return simulation_method(self.method, n)

    def estimate_memory(self, n: int) -> int:
        """Bytes of one simulated state of ``n`` qubits (density matrix or state vector)."""
        return _state_bytes(self.simulation_method(n), n)

    def check_fits(self, n: int) -> None:
        """ConfigError unless the device has a line of ``n`` coupled qubits (or the given
        layout has ``n`` qubits). Cost: a search over the coupling map, no noise model built."""
        self._layout(n)

    def isa_circuits(
        self,
        hamiltonian: SparsePauliOp,
        sequence: PulseSequence,
        state: ProductState,
        times: np.ndarray,
        *,
        reference: bool = False,
    ) -> list[QuantumCircuit]:
        """ISA circuits of the echo (or of its compute-uncompute reference) at every time.

        Checks the pulses' costs first (:func:`~echo_lab.hardware.circuits.check_pulse_costs`).
        Cost: one transpilation per time, growing with its Trotter steps.
        """
        times, n = check_inputs(hamiltonian, state, times)
        line = self.line(n)
        check_pulse_costs(sequence, line, pulse_budget=self.pulse_budget)
        split = trotter.split_layers(hamiltonian)
        build = reference_circuit if reference else echo_circuit
        manager = isa_pass_manager(
            line, optimization_level=self.optimization_level, seed=self.seed or 0
        )
        return [
            manager.run(
                build(
                    hamiltonian,
                    sequence,
                    float(t),
                    dt=self.dt,
                    order=self.order,
                    initial_state=state,
                    split=split,
                )
            )
            for t in times
        ]

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
        """Raw and mitigated observables at each total time, and circuit reports (module doc)."""
        times, n = check_inputs(hamiltonian, state, times)
        if entropy:
            raise ConfigError(
                "a device measures expectation values only; use the 'aer' backend for the "
                "entanglement entropy"
            )
        names, paulis = self._observables(observables, n)
        method = self.simulation_method(n)
        require_memory(
            self.estimate_memory(n),
            what=f"a {method.replace('_', ' ')} simulation of {n} qubits",
            suggestion="Use method='statevector' (trajectories) or fewer qubits.",
        )
        line = self.line(n)
        echo = self.isa_circuits(hamiltonian, sequence, state, times)
        self.last_reports = [report_circuit(qc, line) for qc in echo]
        simulator = line.simulator(method=method, seed=self.seed, pauli_noise=self.pauli_noise)
        raw, mitigated = self._estimate(echo, paulis, simulator, seed=self.seed)
        out = self._assemble(names, raw, mitigated)
        if self.mitigation.normalize:
            # Own seed: identical circuits with one seed would share their samples.
            seed = None if self.seed is None else self.seed + 1
            references = self.isa_circuits(hamiltonian, sequence, state, times, reference=True)
            raw_ref, mitigated_ref = self._estimate(references, paulis, simulator, seed=seed)
            ideal = reference_values(sequence, state, paulis)
            self._normalize(out, names, raw_ref if mitigated_ref is None else mitigated_ref, ideal)
        out["depth"] = np.array([r.depth for r in self.last_reports], dtype=float)
        out["two_qubit_gates"] = np.array([r.two_qubit_gates for r in self.last_reports], float)
        out["success_probability"] = np.array(
            [r.success_probability for r in self.last_reports], dtype=float
        )
        out["layout"] = np.array(line.layout, dtype=np.int64)
        return out

    def _estimate(
        self,
        circuits: list[QuantumCircuit],
        paulis: list[SparsePauliOp],
        simulator: Any,
        *,
        seed: int | None,
    ) -> tuple[Estimates, Estimates | None]:
        """Raw and (if any mitigation runs in the estimator) mitigated estimates of the circuits."""
        pubs = [(qc, [op.apply_layout(qc.layout) for op in paulis]) for qc in circuits]
        raw = run_estimates(pubs, simulator, options=raw_options(shots=self.shots, seed=seed))
        if not self.mitigation.uses_estimator_mitigation:
            return raw, None
        options = estimator_options(
            self.mitigation,
            shots=self.shots,
            fractional_gates=self.device.fractional_gates,
            seed=seed,
        )
        return raw, run_estimates(pubs, simulator, options=options)

    def _observables(
        self, observables: Mapping[str, Operator], n: int
    ) -> tuple[list[str], list[SparsePauliOp]]:
        if not observables:
            raise ConfigError("the device backend needs at least one observable")
        names = list(observables)
        paulis = [to_pauli_sum(observables[name], n, name=name) for name in names]
        for name, op in zip(names, paulis, strict=True):
            if len(op) > MAX_OBSERVABLE_TERMS:
                raise ConfigError(
                    f"observable {name!r} has {len(op)} Pauli terms (> {MAX_OBSERVABLE_TERMS}): "
                    "each qubit-wise commuting group is measured separately on a device; measure "
                    "an l-bit through its readout circuit instead of a dense tau operator"
                )
        return names, paulis

    def _assemble(
        self, names: list[str], raw: Estimates, mitigated: Estimates | None
    ) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for m, name in enumerate(names):
            out[f"{name}_raw"] = raw.values[:, m]
            out[f"{name}_raw_stderr"] = raw.stderr[:, m]
            out[name] = out[f"{name}_raw"]
            out[f"{name}_stderr"] = out[f"{name}_raw_stderr"]
            if mitigated is None:
                continue
            out[f"{name}_mitigated"] = mitigated.values[:, m]
            out[f"{name}_mitigated_stderr"] = mitigated.stderr[:, m]
            out[name] = out[f"{name}_mitigated"]
            out[f"{name}_stderr"] = out[f"{name}_mitigated_stderr"]
            if mitigated.extrapolated is None or mitigated.extrapolated_stderr is None:
                continue
            assert mitigated.chi2 is not None
            for e, extrapolator in enumerate(self.mitigation.extrapolators):
                out[f"{name}_zne_{extrapolator}"] = mitigated.extrapolated[:, m, e]
                out[f"{name}_zne_{extrapolator}_stderr"] = mitigated.extrapolated_stderr[:, m, e]
                out[f"{name}_zne_{extrapolator}_chi2"] = mitigated.chi2[:, m, e]
            assert mitigated.noise_factor_values is not None
            assert mitigated.noise_factor_stderr is not None
            out[f"{name}_noise_factors"] = mitigated.noise_factor_values[:, m]
            out[f"{name}_noise_factors_stderr"] = mitigated.noise_factor_stderr[:, m]
        if mitigated is not None and mitigated.extrapolated is not None:
            out["noise_factors"] = np.array(self.mitigation.noise_factors, dtype=float)
        return out

    @staticmethod
    def _normalize(
        out: dict[str, np.ndarray],
        names: list[str],
        reference: Estimates,
        ideal: np.ndarray,
    ) -> None:
        for m, name in enumerate(names):
            values, stderr = normalize_echo(
                out[name],
                out[f"{name}_stderr"],
                reference.values[:, m],
                reference.stderr[:, m],
                ideal[m],
            )
            out[f"{name}_reference"] = reference.values[:, m]
            out[f"{name}_reference_stderr"] = reference.stderr[:, m]
            out[f"{name}_reference_ideal"] = np.full(len(values), ideal[m])
            out[f"{name}_normalized"] = values
            out[f"{name}_normalized_stderr"] = stderr
            out[name] = values
            out[f"{name}_stderr"] = stderr

    def describe(self) -> dict[str, Any]:
        """Settings of this backend as plain values (for result attributes)."""
        return {
            "device": self.device.name,
            "fractional_gates": self.device.fractional_gates,
            "dt": self.dt,
            "order": self.order,
            "shots": self.shots,
            "mitigation": list(self.mitigation.names),
            "two_qubit_error_scale": self.two_qubit_error_scale,
            "method": self.method,
            "pauli_noise": self.pauli_noise,
            "pulse_budget": self.pulse_budget,
            "optimization_level": self.optimization_level,
            "seed": self.seed,
        }


def simulation_method(method: str, n: int) -> str:
    """The Aer method of ``method`` (one of :data:`METHODS`) for ``n`` qubits: ``auto`` is the
    density matrix up to :data:`DENSITY_MATRIX_MAX_QUBITS` qubits, noisy trajectories above."""
    if method != "auto":
        return method
    return "density_matrix" if n <= DENSITY_MATRIX_MAX_QUBITS else "statevector"


def _state_bytes(method: str, n: int) -> int:
    return density_matrix_bytes(n) if method == "density_matrix" else statevector_bytes(n)


def device_state_bytes(
    spec: Any, hamiltonian: SparsePauliOp, *, n_times: int = 1, saved_states: int = 0
) -> int:
    """Memory of one simulated state of the device backend described by ``spec`` (a
    :class:`~echo_lab.backends.options.BackendSpec` of backend ``"device"``) running
    ``hamiltonian``: its density matrix or state vector (:func:`simulation_method`), bytes. The
    backend registry's estimate for ``"device"``; nothing is loaded."""
    n = hamiltonian.num_qubits
    return _state_bytes(simulation_method(spec.method or "auto", n), n)


def check_device_fits(backend: DeviceBackend, hamiltonian: SparsePauliOp) -> None:
    """ConfigError when the device of ``backend`` cannot hold the chain of ``hamiltonian`` (too
    few qubits, no line of that many coupled qubits, a layout of another length): the backend
    registry's size check for ``"device"``, run before any work unit."""
    backend.check_fits(hamiltonian.num_qubits)
