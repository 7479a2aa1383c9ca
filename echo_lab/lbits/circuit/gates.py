"""Gate families and their parametrization by Hermitian generators.

A k-site gate is a 2^k x 2^k unitary in Qiskit order over its sites (first site least
significant). Families (``FAMILIES``):

* ``"sz"``: gates that conserve the total sigma^z of their sites: block diagonal in the number
  of up spins, blocks 1 + k + ... + 1 (for two qubits 1 + 2 + 1: a phase on |00>, a U(2) on
  {|01>, |10>}, a phase on |11>; 6 real parameters). The natural family for the XXZ chain, whose
  eigenstates conserve S^z: the exact block l-bits are in it.
* ``"general"``: any unitary (U(4) for two qubits, 16 parameters).

Every gate is ``g = ref @ expm(i K(theta))`` with a fixed reference unitary ``ref`` and a Hermitian
generator K restricted to the family's pattern: one real parameter per allowed diagonal entry and
two (real and imaginary part) per allowed entry above the diagonal. The optimizer moves theta and
now and then absorbs expm(i K) into ``ref`` (theta = 0 again), so K stays small.

:func:`pull_back` turns a gradient with respect to the gate matrix, dF = Re Tr(G dg), into the
gradient with respect to theta, exactly (Daleckii-Krein formula for the derivative of expm in the
eigenbasis of K). All functions work on stacks of gates of the same width and family (leading
batch axis), so a whole layout costs a few batched ``eigh`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from echo_lab.errors import ConfigError

__all__ = ["FAMILIES", "Parametrization", "exponentiate", "parametrization", "pull_back"]

FAMILIES = ("sz", "general")


def _popcounts(dim: int) -> np.ndarray:
    values = np.arange(dim)
    return np.array([bin(int(v)).count("1") for v in values])


def allowed_entries(width: int, family: str) -> np.ndarray:
    """Boolean pattern ``(2^k, 2^k)`` of the entries a gate of ``family`` may have nonzero."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown gate family {family!r}; choose one of {FAMILIES}")
    dim = 1 << width
    if family == "general":
        return np.ones((dim, dim), dtype=bool)
    counts = _popcounts(dim)
    return counts[:, None] == counts[None, :]


@dataclass(frozen=True)
class Parametrization:
    """Real parameters of the Hermitian generators of ``width``-site gates of ``family``.

    ``diagonal`` holds the indices a of the diagonal parameters, ``pairs`` the index pairs
    (a, b), a < b, of the off-diagonal ones (real part first, then imaginary part).
    """

    width: int
    family: str
    diagonal: np.ndarray
    pairs: np.ndarray

    @property
    def size(self) -> int:
        """Number of real parameters per gate."""
        return int(self.diagonal.size + 2 * len(self.pairs))

    @property
    def dim(self) -> int:
        """Matrix dimension 2^k."""
        return 1 << self.width

    def generator(self, theta: np.ndarray) -> np.ndarray:
        """Hermitian K for parameters of shape ``(m, size)``; returns ``(m, dim, dim)``."""
        theta = np.asarray(theta, dtype=float).reshape(-1, self.size)
        m, nd, npair = theta.shape[0], self.diagonal.size, len(self.pairs)
        k = np.zeros((m, self.dim, self.dim), dtype=complex)
        k[:, self.diagonal, self.diagonal] = theta[:, :nd]
        if npair:
            upper = theta[:, nd : nd + npair] + 1j * theta[:, nd + npair :]
            rows, cols = self.pairs[:, 0], self.pairs[:, 1]
            k[:, rows, cols] = upper
            k[:, cols, rows] = upper.conj()
        return k

    def project(self, hermitian_gradient: np.ndarray) -> np.ndarray:
        """dF/dtheta from Gamma with dF = Re sum_ab conj(Gamma_ab) dK_ab; shape ``(m, size)``."""
        gamma = np.asarray(hermitian_gradient).reshape(-1, self.dim, self.dim)
        parts = [gamma[:, self.diagonal, self.diagonal].real]
        if len(self.pairs):
            upper = gamma[:, self.pairs[:, 0], self.pairs[:, 1]]
            lower = gamma[:, self.pairs[:, 1], self.pairs[:, 0]]
            parts += [(upper + lower).real, upper.imag - lower.imag]
        return np.concatenate(parts, axis=1)


def parametrization(width: int, family: str) -> Parametrization:
    """The :class:`Parametrization` of ``width``-site gates of ``family`` (module docstring)."""
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
        raise ConfigError(f"gate width must be an integer >= 1, got {width!r}")
    allowed = allowed_entries(int(width), family)
    upper = np.argwhere(np.triu(allowed, k=1))
    return Parametrization(int(width), family, np.arange(allowed.shape[0]), upper)


def exponentiate(generators: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``expm(i K)`` of a stack of Hermitian ``(m, D, D)`` generators, with K's eigensystem.

    Returns ``(expm(iK), lam, Q)``, ``K = Q diag(lam) Q^dag``; the eigensystem is what
    :func:`pull_back` needs. Cost: one batched ``eigh``, O(m D^3).
    """
    lam, q = np.linalg.eigh(generators)
    phases = np.exp(1j * lam)
    return (q * phases[:, None, :]) @ q.conj().transpose(0, 2, 1), lam, q


def pull_back(
    gate_gradient: np.ndarray, reference: np.ndarray, lam: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """Hermitian gradient Gamma w.r.t. K of g = ref expm(iK), given dF = Re Tr(G dg).

    With K = Q diag(lam) Q^dag, d expm(iK) = Q [(Q^dag i dK Q) o Phi] Q^dag where
    Phi_ab = (e^{i lam_a} - e^{i lam_b}) / (i (lam_a - lam_b)) (= e^{i lam_a} on the diagonal),
    so dF = Re[i Tr(Z dK)] with Z = Q ((Q^dag G ref Q) o Phi^T) Q^dag, i.e. Gamma = -i Z^dag.
    All arrays are stacks ``(m, D, D)`` (``lam``: ``(m, D)``); returns ``(m, D, D)``.
    """
    qh = q.conj().transpose(0, 2, 1)
    rotated = qh @ gate_gradient @ reference @ q
    mean = 0.5 * (lam[:, :, None] + lam[:, None, :])
    half = 0.5 * (lam[:, :, None] - lam[:, None, :])
    phi = np.exp(1j * mean) * np.sinc(half / np.pi)
    z = q @ (rotated * phi.transpose(0, 2, 1)) @ qh
    return -1j * z.conj().transpose(0, 2, 1)
