"""Echo circuits on (simulated) quantum hardware: devices, ISA circuits, mitigation, shot budgets.

The ``[hardware]`` extra (``pip install 'echo_lab[cpu,hardware]'``) brings ``qiskit-ibm-runtime``,
whose fake backends carry calibrated noise snapshots of IBM devices and work offline, and whose
client-side (executor-based) estimator applies Pauli twirling, readout-error mitigation (TREX) and
zero-noise extrapolation on a local Aer simulator. Without the extra the rest of echo_lab imports
and works; the modules here raise :class:`~echo_lab.errors.ConfigError` naming the extra.

Modules:

* :mod:`echo_lab.hardware.devices` fake devices by short name (``"fez"``, ``"torino"``,
  ``"sherbrooke"``, ...) or a :class:`~echo_lab.hardware.devices.GenericDevice` with given error
  rates; a line of qubits chosen by the lowest reported errors; the device reduced to that line
  (target, noise model, simulator), with a scale factor on the two-qubit error;
* :mod:`echo_lab.hardware.circuits` echo circuits transpiled to the device's ISA, the
  compute-uncompute reference circuits, pulse costs and per-circuit reports;
* :mod:`echo_lab.hardware.mitigation` twirling, readout mitigation and zero-noise extrapolation
  through the executor-based estimator, and the compute-uncompute normalization;
* :mod:`echo_lab.hardware.budget` shots for a 3-sigma difference between two pulses;
* :mod:`echo_lab.hardware.backend` :class:`~echo_lab.hardware.backend.DeviceBackend`, the
  :class:`~echo_lab.backends.base.Backend` of a device.
"""

from __future__ import annotations

from echo_lab.errors import ConfigError

#: How to get the device dependencies; part of every error raised because they are missing.
HARDWARE_INSTALL_HINT = (
    "install the hardware extra: `pip install 'echo_lab[cpu,hardware]'` (qiskit-ibm-runtime, "
    "whose fake devices and client-side estimator work offline)"
)


def hardware_missing() -> ConfigError:
    """The error raised when ``qiskit_ibm_runtime`` cannot be imported."""
    return ConfigError(
        "the device backend and echo_lab.hardware need qiskit-ibm-runtime, which is not "
        f"installed: {HARDWARE_INSTALL_HINT}"
    )


def require_runtime() -> None:
    """Raise :func:`hardware_missing` unless ``qiskit_ibm_runtime`` imports."""
    try:
        import qiskit_ibm_runtime  # noqa: F401
    except ImportError:
        raise hardware_missing() from None
