"""A Hahn echo on a simulated IBM device (fake Fez, offline).

The same echo is also evolved exactly, for reference.

The echo of the central spin of an N = 6 chain at W = 12 is compiled into second-order Trotter
steps, transpiled to the native gates of a line of 6 qubits of IBM's fake Fez (a calibration
snapshot shipped with qiskit-ibm-runtime; nothing leaves the machine) and simulated as a density
matrix with that device's noise, 2000 shots per circuit. The p-bit pulse is compared with the
l-bit truncated to radius 1; both are read out on the bare spin, <sigma^x_p>, as a device would.
Needs the ``hardware`` extra (``pip install -e ".[cpu,hardware]"``).

Run: ``python docs/examples/device_echo.py [OUTPUT_FOLDER]`` (about 15 s).
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from echo_lab import lbits, models, protocols
from echo_lab.backends import get_backend
from echo_lab.hardware.backend import DeviceBackend
from echo_lab.physics.states import probe_state
from echo_lab.protocols import observables

N, W, SEED = 6, 12.0, 2
probe = N // 2
H = models.RandomFieldXXZ(n=N, W=W, J=1.0, Jz=1.0, seed=SEED).hamiltonian()
lb = lbits.construct(H)
state = probe_state(N, probe, background="z-random", rng=np.random.default_rng(SEED))
sx = {"sx": observables.probe_observables(N, probe)["sx"]}
times = np.array([0.5, 1.0, 2.0, 3.0])

device = DeviceBackend("fez", dt=0.1, order=2, shots=2000, seed=7)
exact = get_backend("exact")
fig, ax = plt.subplots(figsize=(6, 3.6))
print(f"fake Fez, N = {N}, W = {W}: <sigma^x_p> at T = {times.tolist()}")
for pulse, color in (("pbit", "C0"), ("lbit:1", "C1")):
    seq = protocols.build_sequence("hahn", n=N, probe=probe, pulse=pulse, source=lb)
    on_device = device.run(H, seq, state, times, observables=sx)
    reference = exact.run(H, seq, state, times, observables=sx)["sx"]
    print(
        f"{pulse:>7}  device {np.round(on_device['sx_raw'], 3)} "
        f"(+- {np.max(on_device['sx_raw_stderr']):.3f})  exact {np.round(reference, 3)}"
    )
    print(
        f"{'':>7}  two-qubit gates {on_device['two_qubit_gates'].astype(int).tolist()}, "
        f"success probability {np.round(on_device['success_probability'], 2).tolist()}"
    )
    ax.errorbar(
        times,
        on_device["sx_raw"],
        on_device["sx_raw_stderr"],
        fmt="o",
        color=color,
        label=f"{pulse}, fake Fez",
    )
    ax.plot(times, reference, "-", color=color, label=f"{pulse}, exact")
print(f"device qubits of chain sites 0..{N - 1}: {on_device['layout'].tolist()}")
ax.set_xlabel("total echo time T (1/J)")
ax.set_ylabel("<sigma^x_p>(T)")
ax.set_title(f"Hahn echo on fake Fez, N = {N}, W = {W}")
ax.legend(fontsize=8)
fig.tight_layout()
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
fig.savefig(out / "device_echo.png", dpi=110)
