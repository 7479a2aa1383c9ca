"""The committed reference circuits (``circuits/``): the Qiskit-compatible face of echo_lab.

:func:`export_reference_circuits` (``echo-lab export --out circuits/``) writes, for each circuit of
:func:`build_reference_circuits`:

* ``<name>.qpy``: the structured circuit (state preparation, exact Trotter blocks as
  ``UnitaryGate``, pulses as ``XGate`` / labelled ``UnitaryGate``, labelled barriers), lossless;
* ``<name>.qasm3``: OpenQASM 3 of the transpiled circuit (basis ``cx, rz, sx, x``);
* ``<name>.qasm``: OpenQASM 2 transpiled to ``cx, u3`` (:data:`QASM2_BASIS`: gates of the
  original qelib1.inc, which lacks ``sx``), loadable by any OpenQASM 2 reader;
* ``manifest.json``: per circuit the file names, model parameters and fields, seed, dt, steps,
  order, protocol, pulses, initial state, and the expected single-site expectation values
  <X_i>, <Y_i>, <Z_i> of the final state (from the structured circuit's exact state vector), which
  the tests compare with every file after loading it back.

The set (all chains: random-field XXZ, W = 8, J = Jz = 1, disorder seed :data:`REFERENCE_SEED`,
Strang order 2; the initial state is the probe in |+> with a ``z-random`` background drawn from
the same seed):

==========================  ===  ====================================================
name                        n    content
==========================  ===  ====================================================
``trotter_step_xxz8``       8    one Trotter step, dt = 0.1
``fid_xxz8``                8    FID at T = 2 (8 steps of dt = 0.25), with the trace
``hahn_pbit_xxz5``          5    Hahn echo, T = 2, X pulse on the probe
``hahn_lbit_xxz5``          5    Hahn echo, exact l-bit pulse tau^x_p (overlap l-bits)
``hahn_lbit_r1_xxz5``       5    Hahn echo, l-bit pulse truncated to radius 1
``deer_xxz5``               5    DEER, r = 1 l-bit pulses on probe 1 and partner 3
``hahn_circuit_xxz8``       8    Hahn echo, circuit l-bit pulse (depth-2 brickwork)
``circuit_pulse_xxz8``      8    the circuit l-bit pulse tau^x_3 alone, after the state
``circuit_readout_xxz8``    8    the readout of tau^x_3 (U^dag on its light cone)
``hahn_<pulse>_<device>``   8    device ISA circuits of ``experiments/hardware_echo.toml``
                                 (T = 1, dt = 0.1): pulses pbit, lbit:1, circuit on fez,
                                 sherbrooke and mumbai, transpiled to the device's line
==========================  ===  ====================================================

The circuit l-bit entries record ``cx``: the CX count of the bare pulse (or readout) circuit
after ``transpile(..., basis_gates=["cx", "rz", "sx", "x"], optimization_level=3)``. The device
entries (written when the ``[hardware]`` extra is installed) record the device, its number of
qubits (``device_qubits``), the layout (``layout[k]``: the device qubit of chain site k) and the
two-qubit gate count of the ISA circuit, and say in ``file_contents`` what each file holds:

* ``.qpy``: the ISA circuit at the device's full width, on its physical qubits, with its
  ``TranspileLayout`` (:func:`echo_lab.hardware.circuits.device_width_circuit`): a device, or
  ``SamplerV2(mode=backend)`` / ``EstimatorV2`` of qiskit-ibm-runtime on the fake device,
  accepts it as stored (an n-site observable goes with ``op.apply_layout(qc.layout)``);
* ``.qasm3``: the same native gates renumbered to the chain's n qubits (qubit k is device qubit
  ``layout[k]``), compact for OpenQASM readers and simulators (:func:`compact_circuit`);
* ``.qasm``: the compact circuit transpiled to ``cx, u3`` (portable, not native).

The manifest's ``expected`` values are those of the compact circuit (qubit k = chain site k).

l-bit pulses are dense unitaries (2^n x 2^n for the exact pulse), so their echoes use n = 5:
a transpiled 5-qubit unitary is a few hundred CX gates (~60 KiB of OpenQASM), an 8-qubit one
would be ~30 000. For the same reason DEER uses the 3-qubit truncated pulses; the whole set
stays near 2 MiB, most of it the device ISA circuits.

Export is deterministic: fixed seeds, a fixed transpiler seed, no timestamps; exporting twice
writes identical files (same machine and library versions). Cost: dominated by transpiling the
dense 5-qubit l-bit pulses.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import qiskit
from qiskit import QuantumCircuit, qasm2, qasm3, qpy
from qiskit.quantum_info import Statevector

from echo_lab.dynamics import trotter
from echo_lab.dynamics.schedule import Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.physics.models import RandomFieldXXZ
from echo_lab.physics.states import ProductState, probe_state
from echo_lab.protocols.families import CIRCUIT, EXACT, PulseSpec
from echo_lab.protocols.sequences import build_sequence
from echo_lab.study.results import write_bytes_atomically, write_text_atomically

if TYPE_CHECKING:
    from echo_lab.lbits import LBitSystem

__all__ = [
    "BASIS",
    "DEVICES",
    "MANIFEST_NAME",
    "QASM2_BASIS",
    "REFERENCE_SEED",
    "ReferenceCircuit",
    "build_reference_circuits",
    "compact_circuit",
    "export_reference_circuits",
    "load_circuit_file",
    "single_site_expectations",
]

#: Disorder and initial-state seed of every reference circuit.
REFERENCE_SEED = 2024
#: Gate set of the transpiled OpenQASM 3 circuits.
BASIS = ("cx", "rz", "sx", "x")
#: Gate set of the OpenQASM 2 files: all in the original qelib1.inc.
QASM2_BASIS = ("cx", "u3")
MANIFEST_NAME = "manifest.json"
#: Version of the manifest layout; bump it when keys change (2: device entries record
#: ``device_qubits`` and ``file_contents``; their QPY is the device-width ISA circuit).
MANIFEST_FORMAT = 2

_ORDER = 2
_TOTAL_TIME = 2.0
_ECHO_DT = 0.25
#: One gate per bond block: 3-qubit fused gates would transpile to ~20 CX instead of 2 x 3.
_FUSE_QUBITS = 2


@dataclass
class ReferenceCircuit:
    """One reference circuit: ``circuit`` (structured, or the compact ISA circuit of a device),
    its manifest entry ``info``, and ``stored``: what its QPY file holds when that is another
    circuit (a device's ISA circuit at the device's full width)."""

    name: str
    circuit: QuantumCircuit
    info: dict[str, Any] = field(default_factory=dict)
    stored: QuantumCircuit | None = None


def compact_circuit(qc: QuantumCircuit, layout: Sequence[int]) -> QuantumCircuit:
    """The device-width circuit ``qc`` on the n qubits of ``layout``: device qubit
    ``layout[k]`` becomes qubit k (a device QPY file's circuit in the numbering of its OpenQASM
    files and ``expected`` values); ConfigError when an instruction acts on another qubit."""
    index = {int(q): k for k, q in enumerate(layout)}
    compact = QuantumCircuit(len(index), *qc.cregs, name=qc.name, global_phase=qc.global_phase)
    for instruction in qc.data:
        where = [qc.find_bit(q).index for q in instruction.qubits]
        if not all(q in index for q in where):
            raise ConfigError(
                f"instruction {instruction.operation.name} on qubits {where} of {qc.name!r} acts "
                f"outside the layout {list(layout)}"
            )
        compact.append(
            instruction.operation,
            [compact.qubits[index[q]] for q in where],
            [compact.clbits[qc.find_bit(c).index] for c in instruction.clbits],
            copy=False,
        )
    return compact


def single_site_expectations(qc: QuantumCircuit) -> dict[str, list[float]]:
    """<X_i>, <Y_i>, <Z_i> for every qubit i of the state ``qc`` prepares from |0...0>.

    Exact state vector (``qiskit.quantum_info.Statevector``): O(gates * 2^n) time, 16 * 2^n bytes.
    Returns ``{"X": [...], "Y": [...], "Z": [...]}``, each of length n.
    """
    state = Statevector(qc)
    n = qc.num_qubits
    out: dict[str, list[float]] = {}
    for axis in ("X", "Y", "Z"):
        out[axis] = [
            float(np.real(state.expectation_value(qiskit.quantum_info.Pauli(axis), [q])))
            for q in range(n)
        ]
    return out


def _chain(n: int) -> RandomFieldXXZ:
    return RandomFieldXXZ(n=n, W=8.0, J=1.0, Jz=1.0, seed=REFERENCE_SEED)


def _initial_state(n: int, probe: int) -> ProductState:
    return probe_state(n, probe, background="z-random", rng=np.random.default_rng(REFERENCE_SEED))


def _pulse_info(pulse: Pulse) -> dict[str, Any]:
    return {"label": pulse.label, "kind": pulse.kind, "qubits": list(pulse.qubits)}


def _sequence_reference(
    name: str,
    description: str,
    model: RandomFieldXXZ,
    sequence: PulseSequence,
    *,
    probe: int,
    dt: float,
    total_time: float,
    extra: dict[str, Any] | None = None,
) -> ReferenceCircuit:
    state = _initial_state(model.n, probe)
    qc = trotter.sequence_circuit(
        model.hamiltonian(),
        sequence,
        total_time,
        dt=dt,
        order=_ORDER,
        initial_state=state,
        fuse_qubits=_FUSE_QUBITS,
    )
    qc.name = name
    info = _manifest_info(
        model,
        state,
        description=description,
        protocol=sequence.name,
        probe=probe,
        dt=dt,
        total_time=total_time,
        steps=trotter.segment_steps(sequence, total_time, dt=dt),
        pulses=[_pulse_info(p) for p in sequence.pulses],
    )
    return ReferenceCircuit(name, qc, {**info, **(extra or {})})


def _manifest_info(
    model: RandomFieldXXZ,
    state: ProductState,
    *,
    description: str,
    protocol: str,
    probe: int,
    dt: float,
    total_time: float,
    steps: list[int] | list[trotter.SegmentSteps],
    pulses: list[dict[str, Any]],
) -> dict[str, Any]:
    """Manifest entry of one reference circuit: model, fields, seed, state, dt, steps, pulses.

    ``steps`` holds the number of Trotter steps of each free segment; when ``steps`` are
    :class:`~echo_lab.dynamics.trotter.SegmentSteps` and a segment is not a multiple of dt, the
    entry also records ``step_lengths`` (that segment's steps are shorter than dt).
    """
    counts = [int(s.steps) if isinstance(s, trotter.SegmentSteps) else int(s) for s in steps]
    lengths = [s.dt for s in steps if isinstance(s, trotter.SegmentSteps)]
    fitted = {"step_lengths": lengths} if any(tau != dt for tau in lengths) else {}
    return {
        "description": description,
        "num_qubits": model.n,
        "model": model.describe(),
        "seed": REFERENCE_SEED,
        "protocol": protocol,
        "probe": probe,
        "initial_state": {
            "kind": "probe |+> with z-random background",
            "seed": REFERENCE_SEED,
            "angles": state.angles.tolist(),
        },
        "dt": dt,
        "total_time": total_time,
        "steps": counts,
        **fitted,
        "order": _ORDER,
        "pulses": pulses,
    }


def _fid_trace(model: RandomFieldXXZ, *, probe: int, dt: float, steps: int) -> dict[str, Any]:
    """<X_p>, <Y_p> after k = 0..steps Trotter steps (times k * dt)."""
    hamiltonian = model.hamiltonian()
    state = _initial_state(model.n, probe)
    step = trotter.step_circuit(hamiltonian, dt=dt, order=_ORDER)
    qc = state.circuit()
    xs, ys = [], []
    for k in range(steps + 1):
        if k:
            qc.compose(step, inplace=True)
        values = single_site_expectations(qc)
        xs.append(values["X"][probe])
        ys.append(values["Y"][probe])
    return {"times": [k * dt for k in range(steps + 1)], "X_probe": xs, "Y_probe": ys}


def _trotter_step_reference() -> ReferenceCircuit:
    model = _chain(8)
    probe, dt = 3, 0.1
    state = _initial_state(model.n, probe)
    qc = state.circuit()
    step = trotter.step_circuit(model.hamiltonian(), dt=dt, order=_ORDER, fuse_qubits=_FUSE_QUBITS)
    qc.compose(step, inplace=True)
    qc.name = "trotter_step_xxz8"
    info = _manifest_info(
        model,
        state,
        description="prepare the initial state, then one Strang Trotter step of dt",
        protocol="trotter-step",
        probe=probe,
        dt=dt,
        total_time=dt,
        steps=[1],
        pulses=[],
    )
    return ReferenceCircuit(qc.name, qc, info)


def build_reference_circuits() -> list[ReferenceCircuit]:
    """The reference set of the module docstring, freshly built (structured circuits).

    Needs :mod:`echo_lab.lbits` for the l-bit echoes (one overlap construction of a 5-site
    chain). Cost: that construction (a 32 x 32 eigenproblem) plus the FID trace (nine 8-qubit
    state vectors).
    """
    from echo_lab import lbits

    chain8 = _chain(8)
    chain5 = _chain(5)
    lb = lbits.construct(chain5.hamiltonian(), method="overlap")
    steps_fid = round(_TOTAL_TIME / _ECHO_DT)
    references = [
        _trotter_step_reference(),
        _sequence_reference(
            "fid_xxz8",
            "free induction decay of the probe; trace: <X_p>, <Y_p> at every multiple of dt",
            chain8,
            build_sequence("fid", n=8, probe=3),
            probe=3,
            dt=_ECHO_DT,
            total_time=_TOTAL_TIME,
            extra={"trace": _fid_trace(chain8, probe=3, dt=_ECHO_DT, steps=steps_fid)},
        ),
    ]
    references += _circuit_lbit_references(chain8)
    references += _device_references(chain8)
    references += _echo_references(chain5, lb)
    return references


def _echo_references(chain5: RandomFieldXXZ, lb: LBitSystem) -> list[ReferenceCircuit]:
    """Hahn echoes with p-bit, l-bit and truncated l-bit pulses and a DEER sequence, N = 5."""
    echoes: list[tuple[str, str, Callable[[], PulseSequence]]] = [
        (
            "hahn_pbit_xxz5",
            "Hahn echo with a p-bit pulse X_p",
            lambda: build_sequence("hahn", n=5, probe=2, pulse="pbit"),
        ),
        (
            "hahn_lbit_xxz5",
            "Hahn echo with the exact l-bit pulse tau^x_p (overlap assignment)",
            lambda: build_sequence("hahn", n=5, probe=2, pulse="lbit", source=lb),
        ),
        (
            "hahn_lbit_r1_xxz5",
            "Hahn echo with the l-bit pulse truncated to the window [p-1, p+1]",
            lambda: build_sequence("hahn", n=5, probe=2, pulse="lbit:1", source=lb),
        ),
        (
            "deer_xxz5",
            "DEER: l-bit pulses truncated to radius 1 on probe p and partner q at T/2",
            lambda: build_sequence("deer", n=5, probe=1, partner=3, pulse="lbit:1", source=lb),
        ),
    ]
    references = []
    for name, description, make in echoes:
        sequence = make()
        probe = 1 if name.startswith("deer") else 2
        extra: dict[str, Any] = (
            {"lbit_method": "overlap"} if "lbit" in name or "deer" in name else {}
        )
        if name.startswith("deer"):
            extra["partner"] = 3
        references.append(
            _sequence_reference(
                name,
                description,
                chain5,
                sequence,
                probe=probe,
                dt=_ECHO_DT,
                total_time=_TOTAL_TIME,
                extra=extra,
            )
        )
    return references


#: Circuit l-bits of the references: depth-2 brickwork of S^z gates, a converged fit.
_CIRCUIT_OPTIONS = {"layers": 2, "max_iterations": 100}
_CIRCUIT_PROBE = 3


def _local_reference(
    name: str, description: str, model: RandomFieldXXZ, local: Any, *, extra: dict[str, Any]
) -> ReferenceCircuit:
    """The initial state, then the local circuit ``local`` (a LocalCircuit) on its sites."""
    from echo_lab.lbits.circuit.report import count_cx

    state = _initial_state(model.n, _CIRCUIT_PROBE)
    qc = state.circuit()
    qc.compose(local.circuit, qubits=list(local.qubits), inplace=True)
    qc.name = name
    info = _manifest_info(
        model,
        state,
        description=description,
        protocol="circuit-lbit",
        probe=_CIRCUIT_PROBE,
        dt=0.0,
        total_time=0.0,
        steps=[],
        pulses=[],
    )
    info.update(extra, cx=count_cx(local.circuit), sites=list(local.qubits))
    return ReferenceCircuit(name, qc, info)


def _circuit_lbit_references(model: RandomFieldXXZ) -> list[ReferenceCircuit]:
    """Echo, pulse and readout of circuit l-bits of the 8-site reference chain."""
    from echo_lab import lbits

    system = lbits.construct(model.hamiltonian(), method="circuit", **_CIRCUIT_OPTIONS)
    extra = {"circuit_lbits": {**_CIRCUIT_OPTIONS, "epsilon": system.offdiagonal_fraction}}
    sequence = build_sequence("hahn", n=8, probe=_CIRCUIT_PROBE, pulse="circuit", source=system)
    echo = _sequence_reference(
        "hahn_circuit_xxz8",
        "Hahn echo with the circuit l-bit pulse tau^x_p (its gates, not a dense unitary)",
        model,
        sequence,
        probe=_CIRCUIT_PROBE,
        dt=_ECHO_DT,
        total_time=_TOTAL_TIME,
        extra=extra,
    )
    pulse = _local_reference(
        "circuit_pulse_xxz8",
        "the circuit l-bit pulse U_lc X_p U_lc^dag on p's light cone, after the initial state",
        model,
        system.pulse_circuit(_CIRCUIT_PROBE),
        extra=extra,
    )
    readout = _local_reference(
        "circuit_readout_xxz8",
        "the readout of tau^x_p: U_lc^dag on p's light cone (then measure X_p)",
        model,
        system.readout_circuit(_CIRCUIT_PROBE),
        extra=extra,
    )
    return [echo, pulse, readout]


#: Devices, pulses and time of the device ISA references (experiments/hardware_echo.toml).
DEVICES = ("fez", "sherbrooke", "mumbai")
_DEVICE_PULSES = ("pbit", "lbit:1", "circuit")
_DEVICE_TIME = 1.0
_DEVICE_DT = 0.1


def _device_references(model: RandomFieldXXZ) -> list[ReferenceCircuit]:
    """ISA echo circuits of the hardware study on each device of :data:`DEVICES` (empty without
    the ``[hardware]`` extra)."""
    from echo_lab import lbits
    from echo_lab.hardware import require_runtime

    try:
        require_runtime()
    except ConfigError:
        return []
    from echo_lab.hardware.backend import DeviceBackend
    from echo_lab.hardware.circuits import device_width_circuit

    probe = model.n // 2
    state = _initial_state(model.n, probe)
    hamiltonian = model.hamiltonian()
    systems: dict[str, Any] = {
        EXACT: lbits.construct(hamiltonian, method="overlap"),
        CIRCUIT: lbits.construct(hamiltonian, method="circuit", **_CIRCUIT_OPTIONS),
    }
    references = []
    for device in DEVICES:
        backend = DeviceBackend(device, dt=_DEVICE_DT, order=_ORDER, seed=0)
        for text in _DEVICE_PULSES:
            need = PulseSpec.parse(text).source_need
            source = None if need is None else systems[need.kind]
            sequence = build_sequence("hahn", n=model.n, probe=probe, pulse=text, source=source)
            (isa,) = backend.isa_circuits(hamiltonian, sequence, state, np.array([_DEVICE_TIME]))
            name = f"hahn_{text.replace(':', '')}_{device}"
            isa.name = name
            line = backend.line(model.n)
            info = _manifest_info(
                model,
                state,
                description=f"Hahn echo with the {text} pulse as an ISA circuit of fake {device}",
                protocol="hahn",
                probe=probe,
                dt=_DEVICE_DT,
                total_time=_DEVICE_TIME,
                steps=trotter.segment_steps(sequence, _DEVICE_TIME, dt=_DEVICE_DT),
                pulses=[_pulse_info(p) for p in sequence.pulses],
            )
            counts = dict(isa.count_ops())
            width = backend.device.num_qubits
            info.update(
                device=device,
                device_qubits=width,
                layout=list(line.layout),
                two_qubit_gates=int(
                    sum(v for k, v in counts.items() if k in ("cz", "ecr", "cx", "rzz"))
                ),
                isa=True,
                file_contents=_device_file_contents(device, width, model.n),
            )
            wide = device_width_circuit(isa, line, width)
            references.append(ReferenceCircuit(name, isa, info, stored=wide))
    return references


def _device_file_contents(device: str, width: int, n: int) -> dict[str, str]:
    """The manifest's ``file_contents`` of a device entry (module docstring)."""
    return {
        "qpy": (
            f"ISA circuit of fake {device} at its full width ({width} qubits): native gates on "
            "the physical qubits of 'layout', TranspileLayout kept; submit as stored "
            "(SamplerV2 / EstimatorV2; observables: op.apply_layout(qc.layout))"
        ),
        "qasm3": (
            f"the same ISA gates renumbered to {n} qubits (qubit k is device qubit layout[k]); "
            "compact, for OpenQASM readers and simulators"
        ),
        "qasm2": f"the compact circuit transpiled to cx, u3 on {n} qubits (portable, not native)",
    }


def load_circuit_file(path: Path) -> list[QuantumCircuit]:
    """Circuits stored in ``path``: ``.qpy`` (all of them), ``.qasm3`` or ``.qasm`` (one)."""
    path = Path(path)
    if path.suffix == ".qpy":
        with path.open("rb") as handle:
            return list(qpy.load(handle))
    if path.suffix == ".qasm3":
        return [qasm3.loads(path.read_text())]
    if path.suffix == ".qasm":
        return [qasm2.loads(path.read_text())]
    raise ConfigError(f"unknown circuit file type {path.suffix!r} ({path}); use .qpy/.qasm3/.qasm")


def export_reference_circuits(out: Path) -> list[Path]:
    """Write the reference set into the folder ``out`` (created if needed); return the paths.

    Per circuit ``<name>.qpy`` (structured; a device's: its device-width ISA circuit),
    ``<name>.qasm3`` (transpiled to :data:`BASIS`; a device's: its compact ISA circuit) and
    ``<name>.qasm`` (transpiled to :data:`QASM2_BASIS`), then ``manifest.json``. Existing files
    of the same names are replaced (a symbolic link is replaced, not followed); other files in
    ``out`` are left alone. Deterministic (module docstring).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"export target {out} exists and is not a folder; pass a folder path")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries: dict[str, Any] = {}
    for reference in build_reference_circuits():
        structured = reference.circuit
        if reference.info.get("isa"):
            # an ISA circuit is already in the device's native gates: OpenQASM 3 keeps them
            transpiled = structured.copy()
            basis3 = sorted(set(transpiled.count_ops()) - {"barrier"})
        else:
            transpiled = trotter.transpile_to_basis(structured, basis=BASIS)
            basis3 = list(BASIS)
        transpiled.name = structured.name
        transpiled_qasm2 = trotter.transpile_to_basis(structured, basis=QASM2_BASIS)
        transpiled_qasm2.name = structured.name
        files = {
            "qpy": f"{reference.name}.qpy",
            "qasm3": f"{reference.name}.qasm3",
            "qasm2": f"{reference.name}.qasm",
        }
        stored = io.BytesIO()
        qpy.dump(structured if reference.stored is None else reference.stored, stored)
        # each file is a new file renamed onto its name: a symbolic link in ``out`` is replaced,
        # never written through
        write_bytes_atomically(out / files["qpy"], stored.getbuffer())
        write_text_atomically(out / files["qasm3"], qasm3.dumps(transpiled) + "\n")
        write_text_atomically(out / files["qasm2"], qasm2.dumps(transpiled_qasm2) + "\n")
        written += [out / name for name in files.values()]
        entries[reference.name] = {
            **reference.info,
            "files": files,
            "basis": {"qasm3": basis3, "qasm2": list(QASM2_BASIS)},
            "transpiled_ops": {
                "qasm3": dict(sorted(transpiled.count_ops().items())),
                "qasm2": dict(sorted(transpiled_qasm2.count_ops().items())),
            },
            "expected": single_site_expectations(structured),
        }
    manifest = {
        "format": MANIFEST_FORMAT,
        "generator": "echo-lab export (echo_lab.export.export_reference_circuits)",
        "qiskit_version": qiskit.__version__,
        "conventions": (
            "qubit 0 least significant (Qiskit order); bit 0 = sigma^z = +1; Pauli units; "
            "expected values are <X_i>, <Y_i>, <Z_i> of the final state from |0...0>; device "
            "entries (isa = true): the .qpy is the ISA circuit at the device's full width on "
            "physical qubits, the .qasm3 / .qasm are compact on n qubits, qubit k = device qubit "
            "layout[k] (see each entry's file_contents)"
        ),
        "circuits": entries,
    }
    manifest_path = out / MANIFEST_NAME
    write_text_atomically(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    written.append(manifest_path)
    return written
