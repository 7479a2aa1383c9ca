"""Reduced versions of every study in experiments/ (shared by the fingerprint test and its
regeneration script): each reduction keeps the study's kind, backends and pulse families and
cuts realizations, sizes and time grids so that all of them run in well under a minute.

Realization k of a reduced study has the same fields as realization k of the full one
(``SeedSequence(seed).spawn(R)[k]`` does not depend on R for k < R).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
FINGERPRINTS = Path(__file__).resolve().parent / "data" / "study_fingerprints"

#: Dotted key -> value, applied to each study file.
REDUCTIONS: dict[str, dict[str, Any]] = {
    "deer": {"study.realizations": 2, "times.stop": 400.0, "times.num": 101},
    "echo_pbit_vs_lbit": {"study.realizations": 2, "model.n": 8, "times.num": 5},
    "entanglement_growth": {"study.realizations": 2, "model.n": 8, "times.num": 6},
    "lbit_locality": {
        "study.realizations": 2,
        "model.W": [4.0, 16.0],
        "times.num": 51,
    },
    "level_statistics": {
        "study.realizations": 3,
        "model.n": [8, 10],
        "model.W": [2.0, 8.0, 16.0],
    },
    # The file's Trotter settings moved to order 4, dt = 0.1 (converged defaults); the reduction
    # keeps the recorded Strang dt = 0.05 so that the fingerprint still guards those numbers, and
    # estimates the error budget at its own last time instead of the file's T = 20.
    "long_chain_echo": {
        "times.values": [0.5, 1.0],
        "backend.dt": 0.05,
        "backend.order": 2,
        "accuracy.times": [1.0],
    },
    "noisy_echo": {"study.realizations": 2, "times.num": 3, "check.realizations": 2},
}


def reduced_text(name: str) -> str:
    """The TOML text of experiments/<name>.toml with :data:`REDUCTIONS` applied."""
    raw = tomllib.loads((EXPERIMENTS / f"{name}.toml").read_text(encoding="utf-8"))
    for dotted, value in REDUCTIONS[name].items():
        section, key = dotted.split(".")
        raw[section][key] = value
    return tomli_w.dumps(raw)
