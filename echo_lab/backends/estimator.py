"""Any Qiskit ``EstimatorV2`` as a backend: the same study on Aer's estimator or on hardware.

Each total time T becomes one PUB ``(circuit, observables)``: the circuit is
``trotter.sequence_circuit(H, sequence, T, dt=dt, order=order, initial_state=state)`` (the team
convention for Trotter steps), optionally passed through ``pass_manager`` (a hardware backend
needs its ISA circuits, e.g. ``generate_preset_pass_manager(backend=..., optimization_level=1)``;
observables are then mapped with the circuit's layout), and ``observables`` is the list of the
observables as ``SparsePauliOp`` in the order of the ``observables`` mapping. A
:class:`~echo_lab.backends.base.RotatedPauli` (a circuit l-bit's tau^x_p) gets a PUB of its own:
the same circuit followed by its readout circuit, with its Pauli as the observable. All PUBs go
in one ``estimator.run(pubs, precision=precision)`` call.

Results are ``evs`` per observable and ``name + "_stderr"`` from the estimator's ``stds`` (zero
for an exact estimator: Aer's ``EstimatorV2`` with the default precision 0 returns exact
expectation values). The half-chain entropy is not an expectation value and is refused.

Cost: one circuit per total time (no save instructions on an estimator), so a trace of K times
costs about K/2 times the longest evolution; building is O(K steps * terms) Python work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.aer import decompose_evolution
from echo_lab.backends.base import Operator, RotatedPauli, check_health, check_inputs
from echo_lab.backends.readout import measured_observables
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.states import ProductState


class EstimatorBackend:
    """Expectation values through a Qiskit ``EstimatorV2`` (module docstring).

    ``estimator`` defaults to ``qiskit_aer.primitives.EstimatorV2()`` (exact); ``precision`` is
    the target standard error passed to ``run`` (None: the estimator's default);
    ``pass_manager`` (optional) turns circuits into the estimator backend's ISA circuits.
    """

    name = "estimator"

    def __init__(
        self,
        estimator: Any = None,
        *,
        dt: float = trotter.DEFAULT_DT,
        order: int = trotter.DEFAULT_ORDER,
        precision: float | None = None,
        pass_manager: Any = None,
    ) -> None:
        settings = trotter.TrotterSettings(dt, order)
        if precision is not None and not (np.isfinite(precision) and precision >= 0):
            raise ConfigError(f"precision must be None or a number >= 0, got {precision}")
        if estimator is None:
            from qiskit_aer.primitives import EstimatorV2

            estimator = EstimatorV2()
        if not callable(getattr(estimator, "run", None)):
            raise ConfigError(
                f"estimator must be a Qiskit EstimatorV2 (with run(pubs)), got "
                f"{type(estimator).__name__}"
            )
        self.estimator = estimator
        self.dt = settings.dt
        self.order = settings.order
        self.precision = precision
        self.pass_manager = pass_manager

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
        """Observables and their standard errors at each total time, shape ``(K,)``."""
        times, n = check_inputs(hamiltonian, state, times)
        if entropy:
            raise ConfigError(
                "the estimator backend measures expectation values only; use the 'aer' backend "
                "for the entanglement entropy"
            )
        if not observables:
            raise ConfigError("the estimator backend needs at least one observable")
        measured = measured_observables(observables, n, shots=None)
        names = [name for name, op in measured.items() if isinstance(op, SparsePauliOp)]
        rotated = {name: op for name, op in measured.items() if isinstance(op, RotatedPauli)}
        pubs = []
        for total_time in times:
            qc = trotter.sequence_circuit(
                hamiltonian,
                sequence,
                float(total_time),
                dt=self.dt,
                order=self.order,
                initial_state=state,
            )
            qc = decompose_evolution(qc)
            if names:
                pubs.append(self._pub(qc, [measured[name] for name in names]))
            for op in rotated.values():
                # The device reads the rotated Pauli out after the readout circuit.
                read = qc.compose(op.readout, qubits=list(op.qubits))
                pubs.append(self._pub(read, [op.pauli_operator(n)]))
        results = self.estimator.run(pubs, precision=self.precision).result()
        per_time = int(bool(names)) + len(rotated)
        evs = [np.atleast_1d(np.asarray(r.data.evs, dtype=float)) for r in results]
        stds = [np.atleast_1d(np.asarray(r.data.stds, dtype=float)) for r in results]
        out: dict[str, np.ndarray] = {}
        for k, name in enumerate(names):
            out[name] = np.array([e[k] for e in evs[0::per_time]])
            out[name + "_stderr"] = np.array([e[k] for e in stds[0::per_time]])
        for j, name in enumerate(rotated, start=int(bool(names))):
            out[name] = np.array([e[0] for e in evs[j::per_time]])
            out[name + "_stderr"] = np.array([e[0] for e in stds[j::per_time]])
        check_health(out)
        return out

    def _pub(self, qc: QuantumCircuit, ops: list[SparsePauliOp]) -> tuple[Any, list[Any]]:
        """One PUB, through the pass manager (observables follow its layout) when given."""
        if self.pass_manager is None:
            return qc, list(ops)
        isa = self.pass_manager.run(qc)
        return isa, [op.apply_layout(isa.layout) for op in ops]
