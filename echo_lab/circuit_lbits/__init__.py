"""Circuit l-bits: the l-bit unitary as a finite-depth circuit of local gates (physics.md 9)."""
