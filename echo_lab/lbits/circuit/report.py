"""What a circuit l-bit construction reports: epsilon, ranges, fields, couplings, CX counts.

:func:`summarize` is pure (no I/O, no printing); the CLI prints its dictionary. CX counts are
those of Qiskit's ``transpile(circuit, basis_gates=["cx", "rz", "sx", "x"],
optimization_level=3, seed_transpiler=0)`` (all-to-all connectivity), as in the issue; a
2-qubit gate costs at most 3 CX, and consecutive gates on the same pair are merged.
Transpiling at optimization level 3 is the costly step, so ``sites`` limits which pulses are
counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile

from echo_lab.errors import ConfigError
from echo_lab.lbits.circuit.system import CircuitLBitSystem

__all__ = ["CX_BASIS", "count_cx", "summarize"]

#: Basis of the CX counts (the issue's convention).
CX_BASIS = ("cx", "rz", "sx", "x")


def count_cx(circuit: QuantumCircuit) -> int:
    """CX gates of ``circuit`` after ``transpile`` to :data:`CX_BASIS` at optimization level 3."""
    compiled = transpile(
        circuit, basis_gates=list(CX_BASIS), optimization_level=3, seed_transpiler=0
    )
    return int(compiled.count_ops().get("cx", 0))


def summarize(
    system: CircuitLBitSystem, *, sites: Sequence[int] | None = None, cx: bool = True
) -> dict[str, Any]:
    """Report of circuit l-bits, as plain Python values (lists, floats, ints, strings).

    Keys: ``n``, ``layout``, ``gate_family``, ``gates`` (number of gates), ``epsilon`` and
    ``epsilon_start`` (before fitting), ``cost``, ``iterations`` (of all fits),
    ``build_seconds``, ``engine``, ``mean_range_z`` / ``mean_range_x`` (per site), ``h``
    (h_i = c_(i,)), ``J`` (list of ``[i, j, J_ij]`` for i < j), and with ``cx`` the CX counts
    of the pulse circuit of tau^x_p (``pulse_cx``) and of the readout circuit (``readout_cx``)
    for every p in ``sites`` (default all sites), with their light-cone widths
    (``cone_sites``).
    """
    n = system.n
    chosen = list(range(n)) if sites is None else [int(s) for s in sites]
    if any(not 0 <= p < n for p in chosen):
        raise ConfigError(f"sites must lie in 0..{n - 1}, got {chosen}")
    couplings = system.effective_hamiltonian(max_body=2)
    report: dict[str, Any] = {
        "n": n,
        "layout": system.layout.name,
        "gate_family": system.family,
        "gates": len(system.gates),
        "epsilon": system.offdiagonal_fraction,
        "epsilon_start": system.epsilon_start,
        "cost": system.info.get("cost"),
        "iterations": sum(fit.iterations for fit in system.fits),
        "build_seconds": float(system.info.get("build_seconds", np.nan)),
        "engine": system.info.get("engine"),
        "mean_range_z": system.mean_range("z").tolist(),
        "mean_range_x": system.mean_range("x").tolist(),
        "h": [couplings.get((i,), 0.0) for i in range(n)],
        "J": [[s[0], s[1], value] for s, value in sorted(couplings.items()) if len(s) == 2],
    }
    if cx:
        report["sites"] = chosen
        report["cone_sites"] = [len(system.light_cone(p)[1]) for p in chosen]
        report["pulse_cx"] = [count_cx(system.pulse_circuit(p).circuit) for p in chosen]
        report["readout_cx"] = [count_cx(system.readout_circuit(p).circuit) for p in chosen]
    return report
