"""The physics layer: models, exact spectra, Pauli algebra, states (no l-bits, no dynamics).

* :mod:`.models` random-field spin Hamiltonians as ``SparsePauliOp`` and their lattices;
* :mod:`.spectrum` and :mod:`.sectors` exact diagonalization, total-S^z blocks, level statistics;
* :mod:`.pauli` Pauli expansions, supports and ranges of operators;
* :mod:`.linalg` small dense helpers (Pauli matrices, local application, expectations);
* :mod:`.states` product initial states; :mod:`.chebyshev` Chebyshev propagation.

Imports only :mod:`echo_lab.errors`, :mod:`echo_lab.resources`, :mod:`echo_lab.timing` and
:mod:`echo_lab.tables` from the package (tests/test_architecture.py checks the layering).
"""
