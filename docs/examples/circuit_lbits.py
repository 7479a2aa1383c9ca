"""Circuit l-bits of an N = 8 chain and their pulse and readout circuits.

The fitted circuit, the pulse circuit of one l-bit, its readout circuit, and how much of the
exact l-bit the circuit captures.

``lbits.construct(H, method="circuit")`` fits a brickwork of S^z-conserving two-qubit gates U so
that U|s> is as close to an eigenstate as possible (epsilon, the off-diagonal weight of
U^dag H U, is minimized). The l-bit flip tau^x_p = U sigma^x_p U^dag then needs only the gates
in the light cone of p; the readout of tau^x_p is the inverse light-cone circuit followed by a
measurement of X_p. At N = 8 the exact l-bits exist too, so the example compares them site by
site: F_z = Tr(ctau^z_i tau^z_i) / 2^N, the bare spin's a_z = Tr(sigma^z_i tau^z_i) / 2^N and
the share of the dressing the circuit captures, D = (F_z - a_z) / (1 - a_z) (docs: conventions,
section 10).

Run: ``python docs/examples/circuit_lbits.py [OUTPUT_FOLDER]`` (about 5 s).
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from qiskit import transpile

from echo_lab import lbits, models

N, W, SEED, PROBE = 8, 8.0, 3, 4
H = models.RandomFieldXXZ(n=N, W=W, J=1.0, Jz=1.0, seed=SEED).hamiltonian()

circuit_lb = lbits.construct(H, method="circuit", block=2, layers=2, max_iterations=150)
exact_lb = lbits.construct(H, method="overlap")
print(f"brickwork of depth 2 on {N} sites: epsilon = {circuit_lb.offdiagonal_fraction:.2e}")

pulse, pulse_sites = circuit_lb.pulse_circuit(PROBE)
readout, readout_sites = circuit_lb.readout_circuit(PROBE)
print(f"\npulse circuit of tau^x_{PROBE} on sites {pulse_sites}:")
print(pulse.draw("text", fold=110))
print(
    f"readout circuit of tau^x_{PROBE} on sites {readout_sites} (then measure X on site {PROBE}):"
)
print(readout.draw("text", fold=110))
counts = transpile(pulse, basis_gates=["cx", "rz", "sx", "x"], optimization_level=3).count_ops()
print(f"pulse circuit in cx / rz / sx: {counts.get('cx', 0)} CX")

z = 1 - 2 * ((np.arange(2**N)[:, None] >> np.arange(N)) & 1)  # sigma^z_i eigenvalue of |s>
rows = []
for i in range(N):
    tau_z = exact_lb.tau("z", i)
    f_z = np.trace(circuit_lb.tau_dense("z", i) @ tau_z).real / 2**N
    a_z = float(np.diag(tau_z).real @ z[:, i]) / 2**N
    rows.append((f_z, a_z, (f_z - a_z) / (1 - a_z)))
f_z, a_z, share = np.array(rows).T
print("\nsite   F_z    a_z   dressing captured D")
for i in range(N):
    print(f"{i:4d}  {f_z[i]:.3f}  {a_z[i]:.3f}  {share[i]:6.2f}")
print("mean range of tau^z: exact", np.round(exact_lb.mean_range("z"), 2))
print("                   circuit", np.round(circuit_lb.mean_range("z"), 2))

fig, ax = plt.subplots(figsize=(6, 3.6))
sites = np.arange(N)
ax.plot(sites, f_z, "o-", label="F_z: circuit vs exact l-bit")
ax.plot(sites, a_z, "s--", label="a_z: bare spin vs exact l-bit")
ax.set_xlabel("site i")
ax.set_ylabel("Tr(A tau^z_i) / 2^N")
ax.set_ylim(0.5, 1.02)
ax.set_title(f"circuit l-bits, depth-2 brickwork, N = {N}, W = {W}")
ax.legend(fontsize=8)
fig.tight_layout()
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
fig.savefig(out / "circuit_lbits.png", dpi=110)
