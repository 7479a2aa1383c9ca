"""echo_lab: spin-echo emulation of many-body-localized spin chains.

Build random-field Hamiltonians (:mod:`echo_lab.physics.models`), construct their l-bits
(:mod:`echo_lab.lbits`), compile Trotter circuits (:mod:`echo_lab.dynamics.trotter`), run echo
protocols on exact or Qiskit Aer backends (:mod:`echo_lab.backends`) and study how much of a spin
echo a bare p-bit pulse recovers compared with an l-bit pulse. Conventions:
``docs/pages/conventions.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"
