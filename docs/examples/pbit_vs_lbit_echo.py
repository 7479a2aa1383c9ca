"""p-bit vs l-bit Hahn echo at N = 8, exact evolution.

The probe spin in the middle of an N = 8 random-field XXZ chain starts in |+>, the other spins
in random up / down states. A Hahn echo of total time T flips the probe at T / 2 with one of
four pulses: the bare spin (``pbit``), the exact l-bit (``lbit``) or the l-bit truncated to a
window of radius 1 or 2 (``lbit:1``, ``lbit:2``). The l-bit coherence <tau^x_p> is read out at
T. Averaged over 10 disorder realizations at W = 8 (Pauli units, J = Jz = 1).

Run: ``python docs/examples/pbit_vs_lbit_echo.py [OUTPUT_FOLDER]`` (about 5 s).
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from echo_lab import lbits, models, protocols
from echo_lab.backends import get_backend
from echo_lab.physics.states import probe_state
from echo_lab.protocols import observables

N, W, REALIZATIONS, SEED = 8, 8.0, 10, 1
PULSES = ["pbit", "lbit:1", "lbit:2", "lbit"]
probe = N // 2
times = np.logspace(-1, 3, 25)  # total echo times T, units of 1/J

tau_x = {pulse: np.zeros(times.size) for pulse in PULSES}
initial = 0.0
for k, seed in enumerate(models.disorder_seeds(SEED, REALIZATIONS)):
    model = models.RandomFieldXXZ(n=N, W=W, J=1.0, Jz=1.0, seed=seed)
    H = model.hamiltonian()
    lb = lbits.construct(H, method="overlap")
    state = probe_state(N, probe, background="z-random", rng=np.random.default_rng(100 + k))
    ops = observables.probe_observables(N, probe, source=lb)
    exact = get_backend("exact", eigensystem=(lb.energies, lb.vectors))
    fid = protocols.build_sequence("fid", n=N, probe=probe)
    initial += exact.run(H, fid, state, np.array([0.0]), observables=ops)["tau_x"][0]
    for pulse in PULSES:
        seq = protocols.build_sequence("hahn", n=N, probe=probe, pulse=pulse, source=lb)
        tau_x[pulse] += exact.run(H, seq, state, times, observables=ops)["tau_x"]

initial /= REALIZATIONS
late = times >= 100
print(f"N = {N}, W = {W}, {REALIZATIONS} realizations; <tau^x_p>(0) = {initial:.3f}")
print(f"{'pulse':>7}  late-time <tau^x_p>  kept fraction")
for pulse in PULSES:
    mean = tau_x[pulse] / REALIZATIONS
    print(f"{pulse:>7}  {mean[late].mean():19.3f}  {mean[late].mean() / initial:13.2f}")

fig, ax = plt.subplots(figsize=(6, 3.8))
for pulse in PULSES:
    ax.semilogx(times, tau_x[pulse] / REALIZATIONS, label=pulse)
ax.axhline(initial, color="gray", lw=0.8, ls=":", label="<tau^x_p>(0)")
ax.set_xlabel("total echo time T (1/J)")
ax.set_ylabel("<tau^x_p>(T), disorder mean")
ax.set_title(f"Hahn echo, N = {N}, W = {W}")
ax.legend(fontsize=8)
fig.tight_layout()
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
fig.savefig(out / "pbit_vs_lbit_echo.png", dpi=110)
