"""Fast Pauli expansions of dense operators, Pauli-string ranges and localization fits.

Index convention
----------------
A Pauli string on n qubits is labelled by two bit masks ``(x, z)`` (its symplectic form): on qubit
q the string acts as I if ``(x_q, z_q) = (0, 0)``, X if ``(1, 0)``, Z if ``(0, 1)`` and Y if
``(1, 1)``, with bit q of a mask belonging to qubit q (qubit 0 least significant, as in Qiskit).
Coefficient arrays have shape ``(2^n, 2^n)`` and are indexed ``coeffs[x, z]``::

    O = sum_{x, z} coeffs[x, z] P(x, z),      coeffs[x, z] = Tr(P(x, z) O) / 2^n,

where P(x, z) is the Hermitian tensor product of I, X, Y, Z (so Y carries no extra phase here).
The **support** of P(x, z) is the mask ``x | z``; per-support quantities have shape ``(2^n,)``
and are indexed by that mask. :func:`label_of_masks` / :func:`pauli_index` convert to and from
Qiskit labels, :func:`to_sparse_pauli_op` to a ``SparsePauliOp``.

Algorithm
---------
With P(x, z) = i^{|x & z|} X^x Z^z one has Tr(P(x, z) O) = i^{|x & z|} sum_r (-1)^{z.r} O[r, r^x]:
a gather ``A[x, r] = O[r, r ^ x]`` (one pass, done blockwise) followed by a Walsh-Hadamard
transform over r for every x, computed as a Kronecker product of small Hadamard matrices applied
with BLAS (O(n 4^n) additions in total, two or three memory passes instead of n butterflies).
Real operators are transformed in real arithmetic. Weights |c|^2 do not need the phases
i^{|x & z|} at all, so :func:`pauli_weights` and :func:`support_weights` skip them: for a real
operator the whole computation stays real.

Cost: O(n 4^n) operations in two or three passes over the 4^n entries; memory about three
2^n x 2^n arrays (at n = 12 128 MiB each when real, 256 MiB complex; 16 times that at n = 14).
Timed against ``SparsePauliOp.from_operator(O, atol=0, rtol=0)`` by ``echo-lab bench``
(docs/pages/benchmarks.md).

Examples
--------
>>> import numpy as np
>>> from echo_lab.physics import pauli
>>> zx = np.kron(np.array([[0, 1], [1, 0]]), np.diag([1.0, -1.0]))   # X on qubit 1, Z on qubit 0
>>> c = pauli.decompose(zx)
>>> x, z = pauli.pauli_index("XZ")
>>> float(c[x, z].real)
1.0
"""

from __future__ import annotations

import functools

import numpy as np
from qiskit.quantum_info import PauliList, SparsePauliOp

from echo_lab.errors import ConfigError
from echo_lab.physics.models import Lattice
from echo_lab.resources import dense_operator_bytes, require_memory

__all__ = [
    "DEFAULT_FIT_FLOOR",
    "compose",
    "decompose",
    "fit_exponential",
    "fit_localization_length",
    "label_of_masks",
    "mask_radii",
    "mean_range",
    "pauli_index",
    "pauli_ranges",
    "pauli_weights",
    "support_radii",
    "support_ranges",
    "support_weights",
    "tail_profile",
    "to_sparse_pauli_op",
    "walsh_hadamard",
    "weights_by_range",
]

#: Largest Hadamard factor (in bits) applied by one matrix product in :func:`walsh_hadamard`.
_MAX_FACTOR_BITS = 7

#: Default relative floor of :func:`fit_localization_length`: values below ``floor * max`` are
#: treated as numerical zeros and left out of the fit.
DEFAULT_FIT_FLOOR = 1e-12


def _num_qubits_of_dim(dim: int, what: str) -> int:
    n = dim.bit_length() - 1
    if dim < 2 or dim != 1 << n:
        raise ConfigError(f"{what} must have a dimension 2^n with n >= 1, got {dim}")
    return n


def _check_operator(operator: np.ndarray) -> tuple[np.ndarray, int]:
    op = np.asarray(operator)
    if op.ndim < 2 or op.shape[-1] != op.shape[-2]:
        raise ConfigError(f"expected square 2^n x 2^n operator(s), got shape {op.shape}")
    if not (np.issubdtype(op.dtype, np.floating) or np.issubdtype(op.dtype, np.complexfloating)):
        op = op.astype(float)
    return op, _num_qubits_of_dim(op.shape[-1], "the operator")


@functools.cache
def _hadamard(bits: int) -> np.ndarray:
    """Unnormalized Sylvester-Hadamard matrix of size 2^bits: H[a, b] = (-1)^{popcount(a & b)}.

    Cached (at most ``_MAX_FACTOR_BITS`` + 1 sizes) and read-only.
    """
    idx = np.arange(1 << bits)
    parity = np.zeros((1 << bits, 1 << bits), dtype=np.int64)
    for q in range(bits):
        parity ^= ((idx[:, None] >> q) & 1) & ((idx[None, :] >> q) & 1)
    matrix = (1 - 2 * parity).astype(float)
    matrix.flags.writeable = False
    return matrix


def _transform_rows(rows: np.ndarray, scratch: np.ndarray, *, post: int = 1) -> np.ndarray:
    """Walsh-Hadamard transform of every row of a C-contiguous real ``(count, 2^m * post)`` array.

    Each row holds 2^m entries of ``post`` consecutive reals (``post = 2``: a complex array viewed
    as floats, transformed without separating real and imaginary parts). Ping-pongs between
    ``rows`` and ``scratch`` (same shape; both are overwritten) and returns the one holding the
    result. Each stage applies one Hadamard factor of at most 2^7 with a BLAS product: the stage
    of the lowest bits as one product with kron(H, 1_post) over all rows, the later ones batched.
    """
    count, width = rows.shape
    length = width // post
    bits = length.bit_length() - 1
    stages = -(-bits // _MAX_FACTOR_BITS) if bits else 0
    source, target = rows, scratch
    done = 0  # low bits of the axis already transformed
    for stage in range(stages):
        k = (bits - done) // (stages - stage)
        high = bits - done - k
        hadamard = _hadamard(k)
        if done == 0:
            factor = np.kron(hadamard, np.eye(post)) if post > 1 else hadamard
            flat_shape = (count << high, (1 << k) * post)
            np.matmul(source.reshape(flat_shape), factor, out=target.reshape(flat_shape))
        else:
            shape = (count << high, 1 << k, (1 << done) * post)
            np.matmul(hadamard, source.reshape(shape), out=target.reshape(shape))
        source, target = target, source
        done += k
    return source


def _transform_last_axis(values: np.ndarray) -> np.ndarray:
    """WHT of the last axis of a C-contiguous float or complex array; overwrites ``values``."""
    post = 2 if np.iscomplexobj(values) else 1
    rows = values.view(float).reshape(-1, values.shape[-1] * post)
    result = _transform_rows(rows, np.empty_like(rows), post=post)
    return result.view(values.dtype).reshape(values.shape)


def walsh_hadamard(values: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Unnormalized Walsh-Hadamard transform along ``axis`` (length 2^m).

    ``out[..., z, ...] = sum_r (-1)^{popcount(z & r)} values[..., r, ...]``; applying it twice
    multiplies by 2^m. Real input gives a float array, complex input a complex one (transformed
    in real arithmetic). Time O(m 2^m) per transformed vector, computed as a Kronecker product of
    Hadamard factors of at most 2^7 with BLAS; memory two copies of ``values``.
    """
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise ConfigError("walsh_hadamard needs an array with at least one axis")
    arr = np.moveaxis(arr, axis, -1)
    length = arr.shape[-1]
    if length < 1 or length & (length - 1):
        raise ConfigError(f"the transformed axis must have length 2^m, got {length}")
    dtype = complex if np.iscomplexobj(arr) else float
    result = _transform_last_axis(np.array(arr, dtype=dtype, order="C"))
    return np.moveaxis(result, -1, axis)


def _gather_xor(op: np.ndarray) -> np.ndarray:
    """``out[..., x, r] = op[..., r, r ^ x]`` for operators of shape ``(..., 2^n, 2^n)``.

    Done in 2^(n - n//2) vectorized block gathers: with r = (rh, rl) and x = (xh, xl) split into
    high and low bits, r ^ x = (rh ^ xh, rl ^ xl), so for fixed xh every row block rh reads the
    column block rh ^ xh and permutes it inside.
    """
    lead = op.shape[:-2]
    dim = op.shape[-1]
    n = dim.bit_length() - 1
    low = 1 << (n // 2)
    high = dim // low
    blocks = op.reshape((*lead, high, low, high, low)).swapaxes(-3, -2)  # [rh, ch, rl, cl]
    out = np.empty((*lead, high, low, high, low), dtype=op.dtype)  # [xh, xl, rh, rl]
    rh = np.arange(high)
    rl = np.arange(low)
    rows = np.broadcast_to(rl, (low, low))
    cols = rl[None, :] ^ rl[:, None]  # [xl, rl] -> rl ^ xl
    for xh in range(high):
        selected = blocks[..., rh, rh ^ xh, :, :]  # [rh, rl, cl]
        out[..., xh, :, :, :] = np.swapaxes(selected[..., :, rows, cols], -3, -2)
    return out.reshape(op.shape)


def _phase_table(bits: int) -> np.ndarray:
    """``i^{popcount(x & z)}`` for x, z < 2^bits, shape ``(2^bits, 2^bits)``, complex."""
    idx = np.arange(1 << bits)
    count = np.zeros((1 << bits, 1 << bits), dtype=np.int64)
    for q in range(bits):
        count += ((idx[:, None] & idx[None, :]) >> q) & 1
    return np.array([1, 1j, -1, -1j])[count % 4]


def _with_phases(values: np.ndarray, n: int, scale: float) -> np.ndarray:
    """``values[..., x, z] * i^{|x & z|} * scale`` as a complex array (in place if complex).

    The phase factorizes over the high and low halves of the masks, so it is applied as two
    broadcast products of small tables (no 4^n phase array).
    """
    low_bits = n // 2
    high, low = 1 << (n - low_bits), 1 << low_bits
    shape = values.shape
    high_table = _phase_table(n - low_bits)[:, None, :, None]
    low_table = (_phase_table(low_bits) * scale)[None, :, None, :]
    split = (*shape[:-2], high, low, high, low)
    if np.iscomplexobj(values):
        out = values
        view = out.reshape(split)
        view *= high_table
    else:
        out = np.empty(shape, dtype=complex)
        view = out.reshape(split)
        np.multiply(values.reshape(split), high_table, out=view)
    view *= low_table
    return out


def _unphased(op: np.ndarray) -> np.ndarray:
    """``sum_r (-1)^{z.r} O[r, r ^ x]`` indexed ``[..., x, z]`` (no phase, no 1/2^n).

    One blockwise gather and one Walsh-Hadamard transform; real for a real operator.
    """
    return _transform_last_axis(_gather_xor(op))


def _check_transform_memory(n: int, *, copies: int, what: str) -> None:
    require_memory(
        copies * dense_operator_bytes(n),
        what=f"{what} of a {n}-qubit operator",
        suggestion="Use fewer qubits; the dense Pauli transform needs several 4^n arrays.",
    )


def decompose(operator: np.ndarray) -> np.ndarray:
    """Pauli coefficients ``c[x, z] = Tr(P(x, z) O) / 2^n`` of a dense operator (module docstring).

    ``operator`` has shape ``(2^n, 2^n)`` in Qiskit order, or ``(..., 2^n, 2^n)`` for a batch;
    the result has the same shape and is complex. Equals ``SparsePauliOp.from_operator(O)``
    term by term. Time O(n 4^n), memory about three complex 4^n arrays (checked first).
    """
    op, n = _check_operator(operator)
    _check_transform_memory(n, copies=3 * max(1, op[..., 0, 0].size), what="the Pauli transform")
    return _with_phases(_unphased(op), n, 1.0 / (1 << n))


def compose(coeffs: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decompose`: the dense operator ``sum c[x, z] P(x, z)``.

    ``coeffs`` has shape ``(..., 2^n, 2^n)``; the result is complex with the same shape. Uses
    ``O[r ^ x, r] = sum_z c[x, z] i^{|x & z|} (-1)^{z.r}``: a Walsh-Hadamard transform over z
    and the inverse gather. Time O(n 4^n).
    """
    c, n = _check_operator(coeffs)
    _check_transform_memory(n, copies=3 * max(1, c[..., 0, 0].size), what="composing")
    phased = _with_phases(np.array(c, dtype=complex), n, 1.0)
    shifted = _transform_last_axis(phased)  # [x, r] -> O[r ^ x, r]
    return _gather_xor(np.swapaxes(shifted, -1, -2))


def pauli_weights(operator: np.ndarray) -> np.ndarray:
    """``|c[x, z]|^2`` for all Pauli strings, shape ``(..., 2^n, 2^n)``, float.

    The phases drop out of the weights, so a real operator is transformed in real arithmetic and
    a complex one as its real and imaginary parts. For a Hermitian involution (an l-bit Pauli
    operator) the weights sum to 1. Time O(n 4^n), memory about three real 4^n arrays.
    """
    op, n = _check_operator(operator)
    batch = max(1, op[..., 0, 0].size)
    _check_transform_memory(n, copies=3 * batch, what="the Pauli weights")
    values = _unphased(op)
    values *= 1.0 / (1 << n)
    if np.iscomplexobj(values):
        return values.real**2 + values.imag**2
    values *= values
    return values


def _support_from_pauli_weights(weights: np.ndarray) -> np.ndarray:
    """Sum ``weights[..., x, z]`` over the strings of each support ``x | z``: shape (..., 2^n)."""
    lead = weights.shape[:-2]
    n = weights.shape[-1].bit_length() - 1
    current = weights.reshape((*lead, 1 << n, 1 << n))
    # After processing qubit q, its x bit holds the support bit and its z bit is summed out.
    for q in range(n):
        zdim = current.shape[-1]
        view = current.reshape((*lead, 1 << (n - 1 - q), 2, 1 << q, zdim // 2, 2))
        empty = view[..., 0, :, :, 0]
        occupied = view[..., 0, :, :, 1] + view[..., 1, :, :, 0] + view[..., 1, :, :, 1]
        current = np.stack([empty, occupied], axis=-3).reshape((*lead, 1 << n, zdim // 2))
    return current.reshape((*lead, 1 << n))


def support_weights(operator_or_coeffs: np.ndarray, *, coefficients: bool = False) -> np.ndarray:
    """Weight ``w[S] = sum_{P: supp P = S} |c_P|^2`` of every support mask S, shape ``(2^n,)``.

    Pass a dense operator (default; its expansion is computed with :func:`pauli_weights`) or,
    with ``coefficients=True``, a coefficient array ``c[x, z]`` from :func:`decompose`. A leading
    batch shape is kept. Time O(n 4^n) for an operator, O(4^n) for coefficients.
    """
    arr = np.asarray(operator_or_coeffs)
    if coefficients:
        _check_operator(arr)
        weights = np.abs(arr) ** 2
    else:
        weights = pauli_weights(arr)
    return _support_from_pauli_weights(weights)


def _as_support_weights(values: np.ndarray, lattice: Lattice) -> np.ndarray:
    """Accept coefficients ``(2^n, 2^n)`` or support weights ``(2^n,)`` on ``lattice``."""
    arr = np.asarray(values)
    dim = 1 << lattice.n
    if arr.shape == (dim, dim):
        return support_weights(arr, coefficients=True)
    if arr.shape == (dim,):
        if np.iscomplexobj(arr) or np.any(arr < 0):
            raise ConfigError("support weights must be real and >= 0 (use support_weights())")
        return arr.astype(float)
    raise ConfigError(
        f"expected Pauli coefficients of shape {(dim, dim)} or support weights of shape "
        f"{(dim,)} for the {lattice.n}-site lattice, got shape {arr.shape}"
    )


def _site_bits(n: int) -> np.ndarray:
    """``bits[i, S] = 1`` when site i is in the support mask S; shape (n, 2^n), bool."""
    masks = np.arange(1 << n)
    return ((masks[None, :] >> np.arange(n)[:, None]) & 1).astype(bool)


def support_ranges(lattice: Lattice) -> np.ndarray:
    """Range of every support mask: largest lattice distance between two of its sites.

    Shape ``(2^n,)``, int64; 0 for the empty support (identity) and for one-site supports.
    Disconnected pairs count with the lattice's marker distance n. Time O(n^2 2^n).
    """
    n = lattice.n
    bits = _site_bits(n)
    ranges = np.zeros(1 << n, dtype=np.int64)
    distances = lattice.distances
    for i in range(n):
        for j in range(i + 1, n):
            both = bits[i] & bits[j]
            np.maximum(ranges, np.where(both, distances[i, j], 0), out=ranges)
    return ranges


def pauli_ranges(lattice: Lattice) -> np.ndarray:
    """Range of every Pauli string, indexed ``[x, z]``, shape ``(2^n, 2^n)``, int64.

    Computed once per support (:func:`support_ranges`) and mapped through ``x | z``; memory one
    int64 4^n array (128 MiB at n = 12).
    """
    n = lattice.n
    require_memory(
        dense_operator_bytes(n, real=True),
        what=f"the ranges of all 4^{n} Pauli strings",
        suggestion="Use support_ranges(), which has 2^n entries, for large n.",
    )
    masks = np.arange(1 << n)
    return support_ranges(lattice)[np.bitwise_or.outer(masks, masks)]


def support_radii(site: int, lattice: Lattice) -> np.ndarray:
    """Largest distance from ``site`` to a site of each support mask; shape ``(2^n,)``, int64.

    A string is supported inside the window of radius r around ``site`` exactly when the radius
    of its support is <= r (the empty support has radius 0).
    """
    n = lattice.n
    if not 0 <= site < n:
        raise ConfigError(f"site {site} is outside 0..{n - 1}")
    return mask_radii(lattice.distances[site])


def mask_radii(distances: np.ndarray) -> np.ndarray:
    """Largest of ``distances[j]`` over the sites j of each support mask of ``len(distances)``
    qubits (qubit j = bit j); shape ``(2^k,)``, int64, 0 for the empty mask. The distances of the
    qubits from one site give :func:`support_radii`, also for a block on a few chain sites."""
    distances = np.asarray(distances, dtype=np.int64)
    k = distances.size
    bits = _site_bits(k)
    radii = np.zeros(1 << k, dtype=np.int64)
    for j in range(k):
        np.maximum(radii, np.where(bits[j], distances[j], 0), out=radii)
    return radii


def weights_by_range(coeffs: np.ndarray, lattice: Lattice) -> np.ndarray:
    """Total weight of the Pauli strings of each range r = 0..max; shape ``(max + 1,)``.

    ``coeffs`` is ``c[x, z]`` (shape ``(2^n, 2^n)``) or, cheaper, the support weights from
    :func:`support_weights` (shape ``(2^n,)``). max is the lattice's largest distance.
    """
    weights = _as_support_weights(coeffs, lattice)
    size = int(lattice.distances.max()) + 1
    return np.bincount(support_ranges(lattice), weights=weights, minlength=size)


def mean_range(coeffs: np.ndarray, lattice: Lattice) -> float:
    """Weighted mean range ``sum_P w_P range(P) / sum_P w_P`` (the seed's mean range).

    For an l-bit operator (a Hermitian involution) the weights sum to 1 and this is
    ``sum_P |c_P|^2 range(P)``. Accepts coefficients or support weights like
    :func:`weights_by_range`; an all-zero operator raises :class:`ConfigError`.
    """
    weights = _as_support_weights(coeffs, lattice)
    total = float(weights.sum())
    if total <= 0:
        raise ConfigError("the operator has zero Pauli weight; its mean range is undefined")
    return float(weights @ support_ranges(lattice)) / total


def tail_profile(coeffs: np.ndarray, site: int, lattice: Lattice) -> np.ndarray:
    """Weight of the strings not supported inside the window of radius r around ``site``.

    Shape ``(max + 1,)`` for r = 0..max (max = the lattice's largest distance); the last
    entries are 0 once the window covers the lattice. Summed directly from the small weights
    (never as 1 - inside), so tails far below 1e-16 keep their relative precision. Accepts
    coefficients or support weights like :func:`weights_by_range`.
    """
    weights = _as_support_weights(coeffs, lattice)
    size = int(lattice.distances.max()) + 1
    by_radius = np.bincount(support_radii(site, lattice), weights=weights, minlength=size)
    # tail[r] = sum_{radius > r} by_radius, accumulated from the far (smallest) end.
    outside = np.cumsum(by_radius[::-1])[::-1]
    return np.append(outside[1:], 0.0)


def fit_exponential(
    r: np.ndarray, values: np.ndarray, *, floor: float = DEFAULT_FIT_FLOOR
) -> tuple[float, float]:
    """Fit ``values ~ amplitude * exp(-r / xi)``; returns ``(amplitude, xi)``.

    Least squares of log(values) against r over the points whose value is finite and above
    ``floor * max(values)`` (zeros, numerical noise and NaN are left out). Returns
    ``(nan, nan)`` with fewer than two usable points at distinct r, and xi = ``inf`` when the
    usable points do not decay.
    """
    rr = np.asarray(r, dtype=float).ravel()
    vv = np.asarray(values, dtype=float).ravel()
    if rr.shape != vv.shape:
        raise ConfigError(f"r and values must have the same length, got {rr.size} and {vv.size}")
    finite = np.isfinite(vv) & np.isfinite(rr)
    if not np.any(finite & (vv > 0)):
        return float("nan"), float("nan")
    threshold = floor * float(np.max(vv[finite]))
    usable = finite & (vv > threshold) & (vv > 0)
    if np.unique(rr[usable]).size < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(rr[usable], np.log(vv[usable]), 1)
    amplitude = float(np.exp(intercept))
    if slope >= 0:
        return amplitude, float("inf")
    return amplitude, float(-1.0 / slope)


def fit_localization_length(
    r: np.ndarray, values: np.ndarray, *, floor: float = DEFAULT_FIT_FLOOR
) -> float:
    """Localization length xi of ``values ~ A exp(-r / xi)`` (:func:`fit_exponential`).

    Uses the points with finite values above ``floor * max(values)``; ``nan`` with fewer than
    two such points at distinct r, ``inf`` when they do not decay.
    """
    return fit_exponential(r, values, floor=floor)[1]


def label_of_masks(x: int, z: int, n: int) -> str:
    """Qiskit label of P(x, z) on ``n`` qubits (qubit 0 is the rightmost character).

    (From a dict of sites, :func:`echo_lab.physics.models.pauli_label`.)

    >>> label_of_masks(0b01, 0b11, 2)
    'ZY'
    """
    chars = {(0, 0): "I", (1, 0): "X", (0, 1): "Z", (1, 1): "Y"}
    return "".join(chars[((x >> q) & 1, (z >> q) & 1)] for q in reversed(range(n)))


def pauli_index(label: str) -> tuple[int, int]:
    """Masks ``(x, z)`` of a Qiskit label without phase, e.g. ``pauli_index("ZY") == (1, 3)``."""
    x = z = 0
    for q, char in enumerate(reversed(label)):
        if char not in "IXYZ":
            raise ConfigError(f"Pauli label {label!r} may contain only I, X, Y, Z")
        x |= int(char in "XY") << q
        z |= int(char in "ZY") << q
    return x, z


def to_sparse_pauli_op(coeffs: np.ndarray, *, atol: float = 1e-12) -> SparsePauliOp:
    """``SparsePauliOp`` of the terms with ``|c[x, z]| > atol`` (identity with 0 if none).

    Terms are ordered by (x, z). Cost O(4^n) to select plus O(terms * n) to build.
    """
    c, n = _check_operator(coeffs)
    if c.ndim != 2:
        raise ConfigError(f"expected one coefficient array of shape (2^n, 2^n), got {c.shape}")
    if atol < 0:
        raise ConfigError(f"atol must be >= 0, got {atol}")
    xs, zs = np.nonzero(np.abs(c) > atol)
    if xs.size == 0:
        return SparsePauliOp("I" * n, coeffs=[0.0])
    qubits = np.arange(n)
    x_bits = ((xs[:, None] >> qubits) & 1).astype(bool)
    z_bits = ((zs[:, None] >> qubits) & 1).astype(bool)
    return SparsePauliOp(PauliList.from_symplectic(z_bits, x_bits), coeffs=c[xs, zs])
