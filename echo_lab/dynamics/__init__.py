"""The dynamics layer: pulse sequences, pulse operators, Trotter circuits and readouts.

* :mod:`.schedule` free evolution and instantaneous pulses as a :class:`~.schedule.PulseSequence`;
* :mod:`.pulses` the pulse operators (p-bit flips, dense and window-truncated l-bit flips);
* :mod:`.trotter` and :mod:`.parametric` Trotter circuits of any Hermitian ``SparsePauliOp``;
* :mod:`.readouts` what a backend measures: operators and Paulis read out after a circuit.

Builds on :mod:`echo_lab.physics` only; l-bit constructions (:mod:`echo_lab.lbits`) and the
engines (:mod:`echo_lab.backends`) build on it.
"""
