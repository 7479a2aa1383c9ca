"""What each key of a study file means: :class:`KeyDoc`, and the descriptions of the keys of the
shared sections (:data:`SHARED_DOCS`).

The keys themselves are declared where they are read (the loader :mod:`echo_lab.study.spec`, the
shared sections :mod:`echo_lab.study.sections`, the study kinds' ``keys``, the backend rules
:data:`echo_lab.backends.options.RULES`); :func:`echo_lab.study.reference.study_file_reference`
lists those declarations with the description of each key found here or in the kind's own
``key_docs`` (which take precedence). Choices and defaults are taken from the constants the
parsers use wherever one exists; the tests check the rest against the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from echo_lab.backends.options import AER_DEVICES, AER_METHODS, DEFAULT_BACKEND
from echo_lab.dynamics.trotter import DEFAULT_DT, DEFAULT_ORDER, ORDERS
from echo_lab.lbits.compiled import DEFAULT_LAYERS, DEFAULT_WINDOW
from echo_lab.physics.states import BACKGROUNDS
from echo_lab.study.sections import (
    CIRCUIT_COSTS,
    LATTICES,
    LBIT_METHODS,
    MAX_COUPLING,
    MAX_PULSES,
    MAX_SEED,
    MAX_SITES,
    MAX_TIME,
    MAX_TIMES,
    MAX_UNITS,
    MODEL_TYPES,
)

__all__ = ["NOISE_TEXT", "SHARED_DOCS", "KeyDoc", "toml_value"]


@dataclass(frozen=True)
class KeyDoc:
    """One key of a study file, as the reference shows it.

    ``type``: its TOML type in words (``"integer"``, ``"string or list of strings"``, ...; for a
    key a kind sweeps, the reference adds that a list is a sweep); ``text``: what it sets;
    ``default``: the value used when it is left out, as TOML (``"1.0"``, ``'"chain"'``) or in
    words, empty for a required key or one without a default (``required`` says which);
    ``choices``: the allowed strings, where there is a fixed list; ``example``: a value it
    accepts, as TOML (the tests put it into study files).
    """

    type: str
    text: str
    default: str = ""
    choices: tuple[str, ...] = ()
    required: bool = False
    example: str = ""


def toml_value(value: object) -> str:
    """A Python default as TOML text: ``"chain"`` quoted, True as ``true``, tuples as lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


#: The description of every key of the shared sections, by section; a kind's ``key_docs`` add
#: its own sections and replace the entries it reads differently.
SHARED_DOCS: Mapping[str, Mapping[str, KeyDoc]] = {
    "study": {
        "name": KeyDoc(
            "string",
            "Name of the study; the outputs are `<name>.nc` and `<name>_<figure>.png`. At most "
            "100 letters, digits, `_`, `-` and `.`, starting with a letter or digit.",
            required=True,
            example='"my_study"',
        ),
        "kind": KeyDoc(
            "string",
            "The study kind, which decides the other sections (table above).",
            required=True,
            example='"echo"',
        ),
        "description": KeyDoc(
            "string",
            "Free text, kept in the results (not part of the spec hash).",
            '""',
            example='"a test"',
        ),
        "realizations": KeyDoc(
            "integer",
            f"Disorder realizations per parameter point, 1 to {MAX_UNITS} (with the points: at "
            f"most {MAX_UNITS} work units).",
            "1",
            example="2",
        ),
        "seed": KeyDoc(
            "integer",
            f"Base seed, 0 to {MAX_SEED}; realization k draws its fields from "
            "`SeedSequence(seed).spawn(realizations)[k]` (the same at every point).",
            "0",
            example="7",
        ),
    },
    "model": {
        "type": KeyDoc(
            "string",
            "The Hamiltonian: `xxz` (random-field XXZ) or `ising` (random-field Ising with "
            "transverse field g, no J).",
            toml_value(MODEL_TYPES[0]),
            MODEL_TYPES,
            example='"xxz"',
        ),
        "n": KeyDoc(
            "integer",
            f"Number of sites, 2 to {MAX_SITES} (the study kind may allow fewer). Required, except "
            'with `lattice = "square"` (then n = Lx * Ly and may be left out).',
            required=True,
            example="6",
        ),
        "J": KeyDoc(
            "number",
            f"XY exchange coupling, |J| <= {MAX_COUPLING:g}.",
            "1.0",
            example="1.0",
        ),
        "Jz": KeyDoc(
            "number",
            f"Ising (zz) coupling, |Jz| <= {MAX_COUPLING:g}.",
            "1.0",
            example="1.0",
        ),
        "W": KeyDoc(
            "number",
            f"Disorder strength: fields h_i uniform in [-W, W], 0 <= W <= {MAX_COUPLING:g}.",
            "0.0",
            example="8.0",
        ),
        "g": KeyDoc(
            "number",
            f"Transverse field, |g| <= {MAX_COUPLING:g}.",
            "0.0 (xxz), 1.0 (ising)",
            example="0.0",
        ),
        "lattice": KeyDoc(
            "string",
            "The lattice: an open chain, a periodic chain, or a square lattice of Lx x Ly sites.",
            toml_value(LATTICES[0]),
            LATTICES,
            example='"chain"',
        ),
        "Lx": KeyDoc(
            "integer",
            'Width of a square lattice (`lattice = "square"` only, then required).',
            example="2",
        ),
        "Ly": KeyDoc(
            "integer",
            'Height of a square lattice (`lattice = "square"` only, then required).',
            example="3",
        ),
    },
    "lbits": {
        "method": KeyDoc(
            "string or list of strings",
            "How eigenstates are assigned to l-bit configurations (one method; a list only for "
            "`lbit_locality`).",
            toml_value(LBIT_METHODS[0]),
            LBIT_METHODS,
            example='"overlap"',
        ),
        "circuit_block": KeyDoc(
            "integer",
            "Circuit l-bits of `circuit` pulses: block size of the brickwork circuit, 2 to 12.",
            "2",
            example="2",
        ),
        "circuit_layers": KeyDoc(
            "integer",
            "Circuit l-bits: layers of the brickwork circuit, 1 to 12.",
            "4",
            example="2",
        ),
        "circuit_cost": KeyDoc(
            "string",
            "Circuit l-bits: the cost minimized (`echo` needs the whole chain, n <= 12).",
            toml_value(CIRCUIT_COSTS[0]),
            CIRCUIT_COSTS,
            example='"frobenius"',
        ),
        "circuit_iterations": KeyDoc(
            "integer",
            "Circuit l-bits: L-BFGS iterations, 0 to 100000.",
            "200",
            example="10",
        ),
        "compiled_window": KeyDoc(
            "integer",
            "Compiled l-bits of `compiled:s` pulses: sites of the window whose l-bit is the "
            "target, 2 to 12 (capped at the chain length).",
            str(DEFAULT_WINDOW),
            example="8",
        ),
        "compiled_layers": KeyDoc(
            "integer",
            "Compiled l-bits: brickwork layers of the circuit V, 1 to 12 (at s = 6: 44 CX per "
            "pulse at 4 layers, 74 at 6).",
            str(DEFAULT_LAYERS),
            example="4",
        ),
    },
    "protocol": {
        "pulses": KeyDoc(
            "string or list of strings",
            "The pulses, each a row of the results: `pbit` (a bare spin flip), `lbit` (the "
            "exact l-bit flip), `lbit:r` (truncated to radius r >= 0), `circuit` (circuit "
            "l-bits), `window:w` or `window:w:r` (the l-bit of the w <= 12 sites around the "
            "probe, 0 <= r < w), `compiled:s` (the probe's window l-bit carried by a short "
            "circuit on 2 <= s <= 10 sites). Which families a kind plays is checked by the kind.",
            example='["pbit", "lbit"]',
        ),
        "probe": KeyDoc(
            "string or integer",
            'The probe site: `"center"` (site n // 2) or a site index.',
            '"center"',
            example='"center"',
        ),
        "background": KeyDoc(
            "string or list of strings",
            "Initial state of the sites other than the probe (the probe starts in |+>); a list "
            "runs each.",
            toml_value(BACKGROUNDS[0]),
            BACKGROUNDS,
            example='["z-random", "neel"]',
        ),
        "angle_error": KeyDoc(
            "number",
            "Relative error of the pulse rotation, pi (1 + angle_error), in [-1, 1].",
            "0.0",
            example="0.0",
        ),
        "n_pulses": KeyDoc(
            "integer",
            f"Pulses of a CPMG / XY-4 sequence, 1 to {MAX_PULSES} (XY-4: a multiple of 4).",
            "4",
            example="4",
        ),
        "partners": KeyDoc(
            "list of integers",
            "DEER partner sites (or `partner_distances`, not both).",
            example="[1, 2]",
        ),
        "partner_distances": KeyDoc(
            "list of integers",
            "DEER partners by lattice distance from the probe (>= 1): for each, the "
            "highest-numbered site at that distance.",
            example="[1, 2]",
        ),
        "max_coupling": KeyDoc(
            "number",
            "Upper bound (> 0) of the fitted couplings |J_pq|; left out: no bound.",
            example="2.0",
        ),
    },
    "times": {
        "start": KeyDoc(
            "number",
            f"First total time, in 1/J, 0 to {MAX_TIME:g} (> 0 for log spacing); required "
            "unless `values` is given.",
            example="0.1",
        ),
        "stop": KeyDoc(
            "number",
            "Last total time, in 1/J (>= start); required unless `values`.",
            example="10.0",
        ),
        "num": KeyDoc(
            "integer",
            f"Number of times, 1 to {MAX_TIMES}; required unless `values`.",
            example="5",
        ),
        "spacing": KeyDoc(
            "string",
            "Spacing of the grid from start to stop.",
            '"log"',
            ("log", "linear"),
            example='"log"',
        ),
        "values": KeyDoc(
            "list of numbers",
            "Explicit total times, strictly increasing (instead of start, stop, num, spacing).",
            example="[0.5, 1.0]",
        ),
    },
    "backend": {
        "name": KeyDoc(
            "string",
            "The simulator that evolves the state; `auto`: the fastest engine of the Trotter "
            "circuits for the study's regime (qsim, Aer or an MPS), recorded in the results.",
            toml_value(DEFAULT_BACKEND),
            example='"exact"',
        ),
        "dt": KeyDoc(
            "number", "Trotter step, in 1/J (> 0).", toml_value(DEFAULT_DT), example="0.1"
        ),
        "order": KeyDoc(
            "integer",
            "Trotter (product-formula) order.",
            toml_value(DEFAULT_ORDER),
            tuple(str(k) for k in ORDERS),
            example="2",
        ),
        "method": KeyDoc(
            "string",
            "Aer simulation method (with Markovian noise: `density_matrix`, or shots).",
            toml_value(AER_METHODS[0]),
            AER_METHODS,
            example='"statevector"',
        ),
        "device": KeyDoc(
            "string", "Aer device.", toml_value(AER_DEVICES[0]), AER_DEVICES, example='"CPU"'
        ),
        "shots": KeyDoc(
            "integer",
            "Measurement shots per expectation value; left out: exact expectation values.",
            example="100",
        ),
        "noise": KeyDoc(
            "table",
            "The noise of the circuits: the sub-table [backend.noise] (keys below).",
            example="{ t1 = 10.0 }",
        ),
        "options": KeyDoc(
            "table",
            "Extra keyword arguments of the backend (per backend, below).",
            "{}",
            example="{}",
        ),
    },
}

#: What each key of [backend.noise] sets (its type and default are those of
#: :class:`echo_lab.backends.noise.NoiseSpec`); times in 1/J, rates are probabilities.
NOISE_TEXT: Mapping[str, str] = {
    "depolarizing_1q": "Depolarizing probability after every one-qubit gate.",
    "depolarizing_2q": "Depolarizing probability after every two-qubit gate.",
    "t1": "Relaxation time T1 (inf: none).",
    "t2": "Dephasing time T2 <= 2 T1 (inf: none).",
    "gate_time_1q": "Duration of a one-qubit gate (relaxation during it).",
    "gate_time_2q": "Duration of a two-qubit gate (relaxation during it).",
    "static_dephasing_sigma": "Width sigma of a quasi-static field delta Z_q, delta ~ N(0, sigma).",
    "static_dephasing_qubits": "The sites q of the quasi-static field (a list of integers).",
    "static_dephasing_points": "Gauss-Hermite nodes averaging over delta (each one more run).",
}
