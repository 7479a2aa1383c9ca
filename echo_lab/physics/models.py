"""Random-field spin Hamiltonians on chains, small lattices and arbitrary graphs.

All models are in Pauli units (docs/pages/conventions.md section 2)::

    H = sum_{(i,j) in B} [ J (X_i X_j + Y_i Y_j) + Jz Z_i Z_j ] + sum_i h_i Z_i + sum_i g_i X_i

with h_i i.i.d. uniform in [-W, W] drawn from ``numpy.random.default_rng(seed)``. Site i is qubit
i, and qubit 0 is the least significant bit (Qiskit order). Every model exposes
``hamiltonian()`` (a :class:`~qiskit.quantum_info.SparsePauliOp`), ``matrix()`` (dense or sparse),
its :class:`Lattice` and its ``fields``.

Examples
--------
>>> from echo_lab.physics import models
>>> m = models.RandomFieldXXZ(n=4, W=8.0, J=1.0, Jz=1.0, seed=3)
>>> m.hamiltonian().num_qubits
4
>>> chain = models.Lattice.chain(6, periodic=True)
>>> chain.distance(0, 5)
1
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from qiskit.quantum_info import SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.resources import dense_operator_bytes, require_memory

SeedLike = int | np.random.SeedSequence | None

__all__ = [
    "HERMITIAN_TOLERANCE",
    "HamiltonianModel",
    "Lattice",
    "PauliModel",
    "RandomFieldIsing",
    "RandomFieldXXZ",
    "check_hermitian",
    "disorder_seeds",
    "pauli_label",
    "seeded_rng",
]


#: Largest imaginary part, relative to max(1, largest |coefficient|), a coefficient of a
#: Hermitian ``SparsePauliOp`` may have (rounding of a real operator built in complex).
HERMITIAN_TOLERANCE = 1e-12


def check_hermitian(operator: object, *, what: str = "the Hamiltonian") -> SparsePauliOp:
    """``operator`` if it is a finite Hermitian ``SparsePauliOp``; ConfigError otherwise.

    A ``SparsePauliOp`` is Hermitian exactly when its coefficients are real; imaginary parts up
    to :data:`HERMITIAN_TOLERANCE` times max(1, largest |coefficient|) are accepted as rounding.
    The one check every entry point (models, l-bits, Trotter circuits) uses.
    """
    if not isinstance(operator, SparsePauliOp):
        raise ConfigError(
            f"{what} must be a qiskit SparsePauliOp, got {type(operator).__name__}; use "
            "model.hamiltonian() for an echo_lab model"
        )
    coeffs = np.asarray(operator.coeffs)
    if not np.all(np.isfinite(coeffs)):
        raise ConfigError(f"{what} has non-finite (NaN or inf) coefficients")
    scale = max(1.0, float(np.max(np.abs(coeffs), initial=0.0)))
    if float(np.max(np.abs(coeffs.imag), initial=0.0)) > HERMITIAN_TOLERANCE * scale:
        raise ConfigError(
            f"{what} is not Hermitian: a SparsePauliOp is Hermitian exactly when all its "
            "coefficients are real; remove the imaginary parts"
        )
    return operator


def seeded_rng(seed: SeedLike) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an integer seed >= 0, a ``SeedSequence`` (or a
    numpy generator) or None; ConfigError for anything else (numpy's own ValueError for a
    negative seed named neither the argument nor the fix)."""
    accepted = (
        int,
        np.integer,
        np.random.SeedSequence,
        np.random.Generator,
        np.random.BitGenerator,
    )
    if isinstance(seed, bool) or not (seed is None or isinstance(seed, accepted)):
        raise ConfigError(f"seed must be an integer >= 0 or a numpy SeedSequence, got {seed!r:.80}")
    if isinstance(seed, int | np.integer) and seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(seed)


def pauli_label(n: int, ops: dict[int, str]) -> str:
    """Qiskit label of the Pauli string with ``ops[site]`` on each site and I elsewhere.

    >>> pauli_label(3, {0: "Z", 2: "X"})
    'XIZ'
    """
    chars = ["I"] * n
    for site, op in ops.items():
        chars[n - 1 - site] = op
    return "".join(chars)


def disorder_seeds(seed: int, count: int) -> list[np.random.SeedSequence]:
    """Seeds of ``count`` disorder realizations of a sweep with base seed ``seed``.

    Realization k uses ``SeedSequence(seed).spawn(count)[k]`` (docs/pages/conventions.md section 2).
    The k-th child does not depend on ``count``, so adding realizations never changes the earlier
    ones.
    """
    if count < 0:
        raise ConfigError(f"realization count must be >= 0, got {count}")
    return np.random.SeedSequence(seed).spawn(count)


@dataclass(frozen=True)
class Lattice:
    """Sites 0..n-1, a list of bonds, and graph distances used for operator ranges.

    Distances are shortest-path lengths on the bond graph: |i - j| on an open chain,
    min(|i - j|, n - |i - j|) on a periodic one, the Manhattan distance on an open square lattice.
    """

    n: int
    bonds: tuple[tuple[int, int], ...]
    kind: str = "edges"
    shape: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"a lattice needs at least one site, got n = {self.n}")
        for i, j in self.bonds:
            if not (0 <= i < self.n and 0 <= j < self.n) or i == j:
                raise ConfigError(
                    f"bond ({i}, {j}) is not a pair of distinct sites in 0..{self.n - 1}"
                )

    @classmethod
    def chain(cls, n: int, *, periodic: bool = False) -> Lattice:
        """Open (default) or periodic chain of ``n`` sites."""
        if n < 1:
            raise ConfigError(f"chain length n must be >= 1, got {n}")
        bonds = [(i, i + 1) for i in range(n - 1)]
        if periodic and n > 2:
            bonds.append((n - 1, 0))
        return cls(n, tuple(bonds), kind="periodic-chain" if periodic else "chain", shape=(n,))

    @classmethod
    def square(cls, lx: int, ly: int, *, periodic: bool = False) -> Lattice:
        """``lx`` x ``ly`` square lattice; site (x, y) is qubit x + lx * y."""
        if lx < 1 or ly < 1:
            raise ConfigError(f"square lattice sides must be >= 1, got {lx} x {ly}")
        bonds = []
        for y in range(ly):
            for x in range(lx):
                s = x + lx * y
                if x + 1 < lx or (periodic and lx > 2):
                    bonds.append((s, (x + 1) % lx + lx * y))
                if y + 1 < ly or (periodic and ly > 2):
                    bonds.append((s, x + lx * ((y + 1) % ly)))
        return cls(lx * ly, tuple(bonds), kind="square", shape=(lx, ly))

    @classmethod
    def from_edges(cls, n: int, edges: Sequence[Sequence[int]]) -> Lattice:
        """Arbitrary graph with ``n`` sites and the given bonds (each pair once, integer sites)."""
        bonds: list[tuple[int, int]] = []
        seen: set[frozenset[int]] = set()
        for edge in edges:
            if len(edge) != 2 or not all(isinstance(s, int | np.integer) for s in edge):
                raise ConfigError(f"each bond must be a pair of integer sites, got {edge!r}")
            bond = (int(edge[0]), int(edge[1]))
            if frozenset(bond) in seen:
                raise ConfigError(f"bond {bond} appears twice; list each bond once")
            seen.add(frozenset(bond))
            bonds.append(bond)
        return cls(n, tuple(bonds), kind="edges")

    @cached_property
    def distances(self) -> np.ndarray:
        """``(n, n)`` integer matrix of graph distances; ``n`` marks disconnected pairs."""
        adjacency: list[list[int]] = [[] for _ in range(self.n)]
        for i, j in self.bonds:
            adjacency[i].append(j)
            adjacency[j].append(i)
        dist = np.full((self.n, self.n), self.n, dtype=np.int64)
        for source in range(self.n):
            dist[source, source] = 0
            queue = deque([source])
            while queue:
                u = queue.popleft()
                for v in adjacency[u]:
                    if dist[source, v] == self.n and v != source:
                        dist[source, v] = dist[source, u] + 1
                        queue.append(v)
        return dist

    def distance(self, i: int, j: int) -> int:
        """Graph distance between sites ``i`` and ``j``."""
        return int(self.distances[i, j])

    def window(self, center: int, radius: int) -> list[int]:
        """Sites within graph distance ``radius`` of ``center`` (sorted)."""
        return [int(s) for s in np.flatnonzero(self.distances[center] <= radius)]

    def bond_layers(self) -> list[list[tuple[int, int]]]:
        """Bonds split into layers of disjoint bonds (a proper edge colouring).

        On an open chain this is [even bonds, odd bonds]; on other graphs a greedy colouring
        (at most 2 * max degree - 1 layers, in practice the degree or one more).
        """
        layers: list[list[tuple[int, int]]] = []
        used: list[set[int]] = []
        ordered = sorted(self.bonds, key=lambda b: (min(b) % 2, min(b), max(b)))
        for bond in ordered:
            for layer, sites in zip(layers, used, strict=True):
                if bond[0] not in sites and bond[1] not in sites:
                    layer.append(bond)
                    sites.update(bond)
                    break
            else:
                layers.append([bond])
                used.append(set(bond))
        return layers


class HamiltonianModel:
    """Base class: a Hamiltonian on a :class:`Lattice` with random fields.

    Subclasses set ``lattice`` and implement :meth:`hamiltonian`.
    """

    lattice: Lattice
    fields: np.ndarray

    @property
    def n(self) -> int:
        """Number of sites (= qubits)."""
        return self.lattice.n

    def hamiltonian(self) -> SparsePauliOp:
        """The Hamiltonian as a simplified ``SparsePauliOp`` on ``n`` qubits."""
        raise NotImplementedError

    @property
    def conserves_magnetization(self) -> bool:
        """True when H commutes with the total sigma^z (U(1) symmetry)."""
        h = self.hamiltonian()
        total_z = SparsePauliOp.from_sparse_list([("Z", [i], 1.0) for i in range(self.n)], self.n)
        commutator = (h @ total_z - total_z @ h).simplify(atol=1e-12)
        return bool(np.all(np.abs(commutator.coeffs) < 1e-12))

    def matrix(self, *, sparse: bool = False) -> np.ndarray | sp.csr_matrix:
        """H as a matrix in Qiskit's qubit order; real when H is real (the XXZ family).

        Dense needs 16 * 4^n bytes (complex) or 8 * 4^n (real): 128 MiB at n = 12, 2 GiB at
        n = 14; refused up front when it would not fit. ``sparse=True`` returns CSR.
        """
        h = self.hamiltonian()
        if not sparse:
            require_memory(
                2 * dense_operator_bytes(self.n),
                what=f"a dense {self.n}-qubit Hamiltonian",
                suggestion="Use matrix(sparse=True) or a Krylov / Aer backend for large n.",
            )
        mat = h.to_matrix(sparse=True)
        if np.all(np.abs(mat.data.imag) == 0):
            mat = mat.real
        if sparse:
            return sp.csr_matrix(mat)
        return np.asarray(mat.toarray())

    def describe(self) -> dict[str, Any]:
        """Parameters as plain data (for result attributes)."""
        raise NotImplementedError


def _resolve_lattice(n: int | None, lattice: Lattice | None, periodic: bool) -> Lattice:
    if lattice is not None:
        if n is not None and n != lattice.n:
            raise ConfigError(f"n = {n} disagrees with the lattice's {lattice.n} sites")
        return lattice
    if n is None:
        raise ConfigError("give the number of sites n, or a lattice")
    return Lattice.chain(n, periodic=periodic)


def _site_values(name: str, value: float | Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ConfigError(f"{name} must be a number or a list of {n} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} must be finite, got {arr.tolist()}")
    return arr


class RandomFieldXXZ(HamiltonianModel):
    """Random-field XXZ model (docs/pages/conventions.md section 2)::

        H = sum_{(i,j) in bonds} [ J (X_i X_j + Y_i Y_j) + Jz Z_i Z_j ] + sum_i h_i Z_i + g_i X_i

    Parameters
    ----------
    n : number of sites of an open chain (or of ``lattice``).
    W : disorder strength; h_i uniform in [-W, W] from ``default_rng(seed)``.
    J, Jz : exchange couplings; Jz = 0 is the Anderson (free-fermion) limit.
    g : transverse field, a number (uniform) or one value per site; default 0.
    fields : explicit h_i (overrides W and seed).
    seed : int or ``SeedSequence`` for the fields.
    lattice : a :class:`Lattice` (square lattice, edge list, periodic chain).
    periodic : periodic chain when no lattice is given.
    """

    def __init__(
        self,
        n: int | None = None,
        *,
        W: float = 0.0,
        J: float = 1.0,
        Jz: float = 1.0,
        g: float | Sequence[float] | np.ndarray = 0.0,
        fields: Sequence[float] | np.ndarray | None = None,
        seed: SeedLike = None,
        lattice: Lattice | None = None,
        periodic: bool = False,
    ) -> None:
        self.lattice = _resolve_lattice(n, lattice, periodic)
        for name, value in (("W", W), ("J", J), ("Jz", Jz)):
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not np.isfinite(value):
                raise ConfigError(f"{name} must be finite, got {value}")
        if W < 0:
            raise ConfigError(f"disorder strength W must be >= 0, got {W}")
        # + 0.0 turns W = -0.0 (which passes W >= 0) into 0.0: uniform(-W, W) refuses -0.0
        self.W, self.J, self.Jz = float(W) + 0.0, float(J), float(Jz)
        self.seed = seed
        if fields is not None:
            self.fields = _site_values("fields", fields, self.n)
        else:
            rng = seeded_rng(seed)
            self.fields = rng.uniform(-self.W, self.W, size=self.n)
        self.g = _site_values("g", g, self.n)

    def hamiltonian(self) -> SparsePauliOp:
        terms: list[tuple[str, list[int], float]] = []
        for i, j in self.lattice.bonds:
            if self.J != 0:
                terms += [("XX", [i, j], self.J), ("YY", [i, j], self.J)]
            if self.Jz != 0:
                terms.append(("ZZ", [i, j], self.Jz))
        terms += [("Z", [i], float(h)) for i, h in enumerate(self.fields) if h != 0]
        terms += [("X", [i], float(g)) for i, g in enumerate(self.g) if g != 0]
        if not terms:
            return SparsePauliOp("I" * self.n, coeffs=[0.0])
        return SparsePauliOp.from_sparse_list(terms, self.n).simplify(atol=0.0, rtol=0.0)

    def describe(self) -> dict[str, Any]:
        return {
            "model": type(self).__name__,
            "n": self.n,
            "W": self.W,
            "J": self.J,
            "Jz": self.Jz,
            "g": self.g.tolist(),
            "fields": self.fields.tolist(),
            "lattice": self.lattice.kind,
            "bonds": [list(b) for b in self.lattice.bonds],
        }


class RandomFieldIsing(RandomFieldXXZ):
    """Random-field Ising model: ``RandomFieldXXZ`` with J = 0, Jz != 0 and a transverse field::

    H = sum_{(i,j)} Jz Z_i Z_j + sum_i h_i Z_i + g sum_i X_i
    """

    def __init__(
        self,
        n: int | None = None,
        *,
        W: float = 0.0,
        Jz: float = 1.0,
        g: float | Sequence[float] | np.ndarray = 1.0,
        fields: Sequence[float] | np.ndarray | None = None,
        seed: SeedLike = None,
        lattice: Lattice | None = None,
        periodic: bool = False,
    ) -> None:
        super().__init__(
            n,
            W=W,
            J=0.0,
            Jz=Jz,
            g=g,
            fields=fields,
            seed=seed,
            lattice=lattice,
            periodic=periodic,
        )


class PauliModel(HamiltonianModel):
    """Any Hermitian ``SparsePauliOp`` as a model; ``lattice`` defaults to an open chain.

    ``fields`` are read off the single-site Z coefficients (for reports only).
    """

    def __init__(self, operator: SparsePauliOp, *, lattice: Lattice | None = None) -> None:
        check_hermitian(operator, what="the operator of a PauliModel")
        self.operator = operator.simplify(atol=0.0, rtol=0.0)
        self.lattice = _resolve_lattice(operator.num_qubits, lattice, False)
        self.fields = np.zeros(self.n)
        for label, coeff in zip(
            self.operator.paulis.to_labels(), self.operator.coeffs, strict=True
        ):
            support = [k for k, c in enumerate(reversed(label)) if c != "I"]
            if len(support) == 1 and label[self.n - 1 - support[0]] == "Z":
                self.fields[support[0]] = float(np.real(coeff))

    def hamiltonian(self) -> SparsePauliOp:
        return self.operator

    def describe(self) -> dict[str, Any]:
        return {
            "model": "PauliModel",
            "n": self.n,
            "terms": [
                [label, float(np.real(c))]
                for label, c in zip(
                    self.operator.paulis.to_labels(), self.operator.coeffs, strict=True
                )
            ],
            "lattice": self.lattice.kind,
            "bonds": [list(b) for b in self.lattice.bonds],
        }
