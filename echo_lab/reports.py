"""Printable reports with a figure, for the CLI (``echo-lab lbits``).

:func:`lbits_report` builds one random-field XXZ realization, constructs its l-bits
(:func:`echo_lab.lbits.construct`) and returns a table of per-site mean ranges, fields and
nearest-neighbour couplings with the fitted localization lengths; it writes one PNG figure.
Matplotlib is imported lazily and used through its object-oriented API with the Agg canvas, so no
global backend is switched and no window is opened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from echo_lab import lbits, models, pauli
from echo_lab.errors import ConfigError

__all__ = ["figure_path", "lbits_report", "validated_model"]


def figure_path(
    out: Path, *, n: int, W: float, J: float, Jz: float, seed: int, method: str
) -> Path:
    """File name of the l-bit figure of one realization inside the folder ``out``."""
    return Path(out) / f"lbits_n{n}_W{W:g}_J{J:g}_Jz{Jz:g}_seed{seed}_{method}.png"


def _format_table(system: lbits.LBitSystem, fields: np.ndarray) -> list[str]:
    n = system.n
    range_z = system.mean_range("z")
    range_x = system.mean_range("x")
    effective = system.effective_coefficients()
    couplings = system.couplings()
    header = f"{'site':>4} {'h_bare':>10} {'h_eff':>10} {'J_nn':>12} {'range_z':>9} {'range_x':>9}"
    lines = [header, "-" * len(header)]
    for i in range(n):
        nearest = f"{couplings[i, i + 1]:12.4e}" if i + 1 < n else f"{'-':>12}"
        lines.append(
            f"{i:>4d} {fields[i]:10.4f} {effective[1 << i]:10.4f} {nearest} "
            f"{range_z[i]:9.4f} {range_x[i]:9.4f}"
        )
    return lines


def _draw_figure(system: lbits.LBitSystem, path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 4.2))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for i in range(system.n):
        weights = system.weights_by_range("z", i)
        shown = np.where(weights > 0, weights, np.nan)
        left.semilogy(np.arange(weights.size), shown, marker="o", markersize=3, label=f"l-bit {i}")
    left.set_xlabel("range r of the Pauli string")
    left.set_ylabel(r"weight of $\tau^z_i$ at range r")
    left.set_title(r"Pauli weight of $\tau^z_i$ by range")
    left.legend(fontsize="x-small", ncol=2)

    magnitude = np.abs(system.couplings())
    upper = np.triu_indices(system.n, k=1)
    distance = system.lattice.distances[upper]
    values = magnitude[upper]
    visible = values > 0
    right.semilogy(distance[visible], values[visible], "o", alpha=0.5, label=r"$|J_{ij}|$")
    d, medians = system.coupling_medians()
    right.semilogy(d, np.where(medians > 0, medians, np.nan), "s", color="k", label="median")
    amplitude, xi = pauli.fit_exponential(d, medians, floor=lbits.COUPLING_FIT_FLOOR)
    if np.isfinite(xi) and np.isfinite(amplitude):
        grid = np.linspace(d.min(), d.max(), 50)
        right.semilogy(grid, amplitude * np.exp(-grid / xi), "-", label=rf"fit, $\xi$ = {xi:.3g}")
    right.set_xlabel("distance |i - j|")
    right.set_ylabel(r"$|J_{ij}|$ (effective Hamiltonian)")
    right.set_title("l-bit couplings")
    right.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)


def validated_model(n: int, W: float, J: float, Jz: float, seed: int) -> models.RandomFieldXXZ:
    """The realization of the report, checked by the rules of a study file's ``[model]``
    (:func:`echo_lab.studies.sections.parse_model`: the same types and limits, named as the
    command-line options ``--n``, ``--W``, ...), a seed in 0..2^63-1 and a chain short enough
    for the dense l-bit construction; ConfigError before any work."""
    from echo_lab.spectrum import MAX_EXACT_QUBITS
    from echo_lab.studies.sections import MAX_SEED, MODEL_KEYS, parse_model
    from echo_lab.tables import Table, number

    options = {"n": n, "W": W, "J": J, "Jz": Jz}
    spec = parse_model(Table(options, "model", MODEL_KEYS["xxz"], prefix="--"), {})
    number(seed, "--seed", integer=True, minimum=0, maximum=MAX_SEED)
    if spec.n > MAX_EXACT_QUBITS:
        raise ConfigError(
            f"--n {spec.n} is too large: the l-bit construction diagonalizes 2^n x 2^n matrices, "
            f"limited to n <= {MAX_EXACT_QUBITS}"
        )
    return spec.build(seed=seed)


def lbits_report(
    *, n: int, W: float, J: float, Jz: float, seed: int, method: str, out: Path
) -> str:
    """Report on the l-bits of ``RandomFieldXXZ(n=n, W=W, J=J, Jz=Jz, seed=seed)``.

    Returns a printable table with one row per site (bare field h_bare, effective field
    h_eff = c_{i}, nearest-neighbour coupling J_nn = J_{i,i+1}, mean ranges of tau^z_i and tau^x_i),
    then the average ranges, xi from the tau^z tails and from the couplings, the average range
    before and after the optimization for ``method="range"``, and the path of the figure (PNG,
    150 dpi, written into ``out``: weight by range of every tau^z_i on a log axis, and |J_ij|
    against distance with the median per distance and the exponential fit). Costs: those of
    :func:`echo_lab.lbits.construct` plus 2n Pauli transforms (n = 10: ~2 s).
    """
    model = validated_model(n=n, W=W, J=J, Jz=Jz, seed=seed)
    system = lbits.construct(model.hamiltonian(), method=method, lattice=model.lattice)
    title = f"l-bits ({method}): n = {n}, W = {W:g}, J = {J:g}, Jz = {Jz:g}, seed = {seed}"
    lines = [title, "", *_format_table(system, model.fields), ""]
    lines.append(f"average range z: {system.average_range('z'):.4f}")
    lines.append(f"average range x: {system.average_range('x'):.4f}")
    if method == "range":
        before = system.info["average_range_before"]
        after = system.info["average_range_after"]
        lines.append(f"average range z before optimization: {before:.4f}")
        lines.append(f"average range z after optimization: {after:.4f}")
    lines.append(f"xi (tau^z tails): {system.xi_tails('z'):.4f}")
    lines.append(f"xi (couplings): {system.xi_couplings():.4f}")
    path = figure_path(Path(out), n=n, W=W, J=J, Jz=Jz, seed=seed, method=method)
    _draw_figure(system, path, title)
    lines.append(f"figure: {path}")
    return "\n".join(lines)
