"""qsim backend: echo_lab's Trotter circuits on Google's qsim state-vector simulator (CPU).

The peer benchmark (``experiments/benchmarks/bench_peers.py``) measured qsim's Trotter step an
order of magnitude faster than Aer's on the same gates; this backend runs echo_lab's own
circuits on it. The circuits are exactly those of the Aer backend
(``trotter.evolution_circuit`` of ``trotter.split_layers(H)``, fields folded, 3-qubit fused
unitaries; :func:`echo_lab.dynamics.trotter.segment_steps` for the steps of each ``Free`` segment:
a segment of length L is ``ceil(L / dt)`` steps of ``L / ceil(L / dt)``, so it is simulated for
exactly L), translated gate by gate into ``cirq.MatrixGate``\\ s and simulated by
``qsimcirq.QSimSimulator`` with its own fusion up to ``fused_gate_size`` qubits. Pulses are
applied in numpy (:func:`echo_lab.physics.linalg.apply_local`) between the evolution segments, and
the observables are evaluated in double precision from the returned states.

**Precision.** qsimcirq's CPU simulator works in single precision (complex64): results agree with
the exact evaluation of the same circuits (``trotter-exact``) to about 1e-6, not to rounding
(the Aer backend agrees to 1e-10). Use it where 1e-6 is far below what is measured (echo
signals, l-bit observables at large N); keep ``aer`` for regression-grade numbers.

A trace with one ``Free`` segment and no pulse after it (FID, or pulses then free evolution) is
evolved once per step length, time by time, each time continuing from the previous state of the
same step length (one pass for a trace on the grid of dt; a time off that grid has a step length,
and so a pass, of its own); other sequences
(echoes) are simulated from the initial state for every total time. Memory: the qsim state
(8 * 2^n bytes) plus two complex128 copies (16 * 2^n bytes each), checked first.
Comes with ``pip install 'echo_lab[cpu]'`` (qsimcirq, cirq-core); ``[backend] name = "auto"``
picks it for noiseless state-vector runs (:mod:`echo_lab.backends.auto`). qsimcirq has no double
precision on the CPU (``QSimOptions`` has no precision field in 0.22).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator as QiskitOperator
from qiskit.quantum_info import SparsePauliOp

from echo_lab.backends.base import (
    Operator,
    RotatedPauli,
    apply_pulse,
    check_health,
    check_inputs,
    evaluate_observable,
    half_chain_entropy,
)
from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.linalg import operator_matrix
from echo_lab.physics.states import ProductState
from echo_lab.resources import require_memory, statevector_bytes, usable_cores

__all__ = ["QsimBackend", "circuit_to_cirq"]

QSIM_INSTALL_HINT = "pip install 'echo_lab[cpu]' (it brings qsimcirq)"


def circuit_to_cirq(qc: QuantumCircuit) -> tuple[Any, list[Any]]:
    """``qc`` as a Cirq circuit of ``MatrixGate``\\ s, and the qubit order of Qiskit's indices.

    Every gate becomes the ``MatrixGate`` of its Qiskit matrix (``qubits[0]`` least significant,
    so the Cirq gate acts on the qubits in reverse); barriers are dropped; the global phase is
    not carried (expectation values do not see it). Simulating with ``qubit_order`` (qubit
    n - 1 first) gives amplitudes in Qiskit's order. ConfigError for measurements or resets.
    """
    import cirq

    qubits = cirq.LineQubit.range(qc.num_qubits)
    operations = []
    for instruction in qc.data:
        operation = instruction.operation
        if operation.name == "barrier":
            continue
        if operation.name in ("measure", "reset") or operation.num_clbits:
            raise ConfigError(
                f"the qsim backend simulates unitary circuits, got {operation.name!r}"
            )
        matrix = QiskitOperator(operation).data
        targets = [qubits[qc.find_bit(q).index] for q in instruction.qubits]
        operations.append(cirq.MatrixGate(matrix, unitary_check=False).on(*reversed(targets)))
    return cirq.Circuit(operations), list(reversed(qubits))


class QsimBackend:
    """Trotter circuits of a pulse sequence on qsim (module docstring).

    Parameters
    ----------
    dt, order : Trotter step and order (1, 2 or 4), as for the Aer backend.
    threads : qsim CPU threads; None: all usable cores.
    fused_gate_size : qsim's largest fused gate (qubits), 2-6; 3 measured fastest at N = 20-24.
    """

    name = "qsim"

    def __init__(
        self,
        *,
        dt: float = trotter.DEFAULT_DT,
        order: int = trotter.DEFAULT_ORDER,
        threads: int | None = None,
        fused_gate_size: int = 3,
    ) -> None:
        settings = trotter.TrotterSettings(dt, order)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):  # fmt: skip
            raise ConfigError(f"threads must be None or an integer >= 1, got {threads!r}")
        if isinstance(fused_gate_size, bool) or fused_gate_size not in range(2, 7):
            raise ConfigError(f"fused_gate_size must be in 2..6, got {fused_gate_size!r}")
        try:
            import qsimcirq
        except ImportError:
            raise ConfigError(f"the qsim backend needs qsimcirq: {QSIM_INSTALL_HINT}") from None
        self.dt = settings.dt
        self.order = settings.order
        self.threads = threads if threads is not None else usable_cores()
        self.fused_gate_size = fused_gate_size
        # Localized states carry amplitudes below float32's normal range, and denormal arithmetic
        # slows qsim down several times (docs/pages/benchmarks.md, "Costs quoted in the code").
        # qsim sets the flush-to-zero flags of the calling thread and leaves them set, so
        # :meth:`run` calls it from a thread of its own: the caller's floating point stays IEEE
        # (subnormals kept).
        options = qsimcirq.QSimOptions(
            max_fused_gate_size=fused_gate_size,
            cpu_threads=self.threads,
            denormals_are_zeros=True,
        )
        self._simulator = qsimcirq.QSimSimulator(qsim_options=options)

    def _evolve(
        self, split: trotter.TrotterSplit, psi: np.ndarray, steps: int, tau: float
    ) -> np.ndarray:
        """``steps`` Trotter steps of length ``tau`` of ``split`` applied to ``psi`` on qsim
        (complex128 out)."""
        if steps == 0:
            return psi
        qc = trotter.evolution_circuit(split, dt=tau, steps=steps, order=self.order)
        circuit, order = circuit_to_cirq(qc)
        result = self._simulator.simulate(
            circuit, qubit_order=order, initial_state=psi.astype(np.complex64)
        )
        return np.asarray(result.final_state_vector, dtype=complex)

    def _final_state(
        self,
        split: trotter.TrotterSplit,
        sequence: PulseSequence,
        psi: np.ndarray,
        steps: list[trotter.SegmentSteps],
    ) -> np.ndarray:
        n = split.num_qubits
        free = iter(steps)
        for segment in sequence.segments:
            if isinstance(segment, Free):
                psi = self._evolve(split, psi, *next(free))
            else:
                psi = apply_pulse(segment, psi, n)
        return psi

    def _states(
        self, split: trotter.TrotterSplit, sequence: PulseSequence, start: np.ndarray,
        times: np.ndarray,
    ) -> Iterator[tuple[int, np.ndarray]]:  # fmt: skip
        """Yield ``(index into times, final state)`` for every total time."""
        segments = sequence.segments
        free = [k for k, s in enumerate(segments) if isinstance(s, Free)]
        last_pulse = max((k for k, s in enumerate(segments) if not isinstance(s, Free)), default=-1)
        steps = [trotter.segment_steps(sequence, float(t), dt=self.dt) for t in times]
        if len(free) != 1 or last_pulse > free[0]:
            for index, row in enumerate(steps):
                yield index, self._final_state(split, sequence, start, row)
            return
        for pulse in segments[: free[0]]:  # pulses before the one free segment
            assert isinstance(pulse, Pulse)
            start = apply_pulse(pulse, start, split.num_qubits)
        # One pass per step length, each continuing from the previous time of that length.
        for tau in dict.fromkeys(row[0].dt for row in steps):
            chosen = [k for k, row in enumerate(steps) if row[0].dt == tau]
            psi, done = start, 0
            for k in sorted(chosen, key=lambda k: steps[k][0].steps):
                psi = self._evolve(split, psi, steps[k][0].steps - done, tau)
                done = steps[k][0].steps
                yield k, psi

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
        """Observables at each total time, shape ``(K,)``; ``entropy``: half-chain entropy."""
        times, n = check_inputs(hamiltonian, state, times)
        require_memory(
            statevector_bytes(n) // 2 + 2 * statevector_bytes(n),
            what=f"a qsim simulation of {n} qubits",
            suggestion="Use fewer qubits, or the Aer backend with method='matrix_product_state'.",
        )
        matrices = {
            name: op if isinstance(op, RotatedPauli) else operator_matrix(op)
            for name, op in observables.items()
        }
        split = trotter.split_layers(hamiltonian)
        result = {name: np.empty(times.size) for name in matrices}
        if entropy:
            result["entropy"] = np.empty(times.size)
        with ThreadPoolExecutor(1, thread_name_prefix="qsim") as qsim_thread:
            states = self._states(split, sequence, state.vector(), times)
            while (item := qsim_thread.submit(next, states, None).result()) is not None:
                k, psi = item
                for name, matrix in matrices.items():
                    result[name][k] = evaluate_observable(matrix, psi, n)
                if entropy:
                    result["entropy"][k] = half_chain_entropy(psi, n)
        check_health(result)
        return result
