"""Printable reports with a figure, for the CLI (``echo-lab lbits``).

:func:`lbits_report` builds one random-field XXZ realization, constructs its l-bits
(:func:`echo_lab.lbits.construct`) and returns a table of per-site mean ranges, fields and
nearest-neighbour couplings with the fitted localization lengths; it writes one PNG figure.
Matplotlib is imported lazily and used through its object-oriented API with the Agg canvas, so no
global backend is switched and no window is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from echo_lab import lbits
from echo_lab.errors import ConfigError
from echo_lab.physics import models, pauli

#: Total times of the kept fractions of :func:`kept_in_readouts` (those of echo_scaling.toml).
KEPT_TIMES = np.logspace(-1, 4, 25)

__all__ = [
    "CIRCUIT_OPTION_FLAGS",
    "KEPT_TIMES",
    "MAX_CIRCUIT_REPORT_SITES",
    "MAX_COMPARE_SOURCES",
    "circuit_lbits_report",
    "fidelity_report",
    "figure_path",
    "kept_in_readouts",
    "lbits_report",
    "parse_compare",
    "validated_model",
]


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

    from echo_lab.study.drawing import save_png

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
    save_png(figure, path, dpi=150)


def validated_model(
    n: int, W: float, J: float, Jz: float, seed: int, *, max_n: int | None = None
) -> models.RandomFieldXXZ:
    """The realization of the report, checked by the rules of a study file's ``[model]``
    (:func:`echo_lab.study.sections.parse_model`: the same types and limits, named as the
    command-line options ``--n``, ``--W``, ...), a seed in 0..2^63-1 and a chain short enough
    for the dense l-bit construction; ConfigError before any work."""
    from echo_lab.physics.spectrum import MAX_EXACT_QUBITS
    from echo_lab.study.sections import MAX_SEED, MODEL_KEYS, parse_model
    from echo_lab.tables import Table, number

    options = {"n": n, "W": W, "J": J, "Jz": Jz}
    spec = parse_model(Table(options, "model", MODEL_KEYS["xxz"], prefix="--"), {})
    number(seed, "--seed", integer=True, minimum=0, maximum=MAX_SEED)
    limit = MAX_EXACT_QUBITS if max_n is None else max_n
    if spec.n > limit:
        raise ConfigError(
            f"--n {spec.n} is too large: the l-bit construction diagonalizes 2^n x 2^n matrices, "
            f"limited to n <= {limit}; use --method circuit for long chains"
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
    :func:`echo_lab.lbits.construct` plus 2n Pauli transforms (O(n 4^n) each).
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


#: Longest chain of the circuit l-bit report (the model's own limit is 1000 sites).
MAX_CIRCUIT_REPORT_SITES = 256

#: Command-line options (``echo-lab lbits``) of the circuit l-bit options, for messages; their
#: limits are those of study files (:data:`echo_lab.study.sections.CIRCUIT_LIMITS`).
CIRCUIT_OPTION_FLAGS = {"block": "--block", "layers": "--layers", "max_iterations": "--iterations"}


def checked_circuit_options(options: dict[str, object]) -> dict[str, object]:
    """``options`` with the integer ones checked against the study-file limits
    (:data:`echo_lab.study.sections.CIRCUIT_LIMITS`), named by their command-line flags
    (:data:`CIRCUIT_OPTION_FLAGS`) in messages; ConfigError before any work."""
    from echo_lab.study.sections import CIRCUIT_LIMITS, check_circuit_option

    return {
        key: check_circuit_option(key, value, CIRCUIT_OPTION_FLAGS.get(key, key))
        if key in CIRCUIT_LIMITS
        else value
        for key, value in options.items()
    }


def circuit_lbits_report(
    *,
    n: int,
    W: float,
    J: float,
    Jz: float,
    seed: int,
    options: dict[str, object],
    out: Path,
) -> str:
    """Report on circuit l-bits of ``RandomFieldXXZ(n, W, J, Jz, seed)`` (``lbits.construct(H,
    method="circuit", **options)``: block, layers, cost, max_iterations).

    Returns a table with one row per site (bare field, h_i and J_{i,i+1} of U^dag H U's Z part,
    mean ranges of tau^z_i and tau^x_i, the light-cone width and the CX counts of the pulse and
    readout circuits of tau^x_i), then epsilon (before and after the fit), the build time and
    the figure path (mean ranges per site; |J_ij| against distance). Costs: the fit (up to
    ``max_iterations`` L-BFGS iterations, each O(n) on the light cones) and one transpilation per
    circuit.
    The integer options have the limits of study files
    (:data:`echo_lab.study.sections.CIRCUIT_LIMITS`), checked with the model before any work
    and named as the command-line options (:data:`CIRCUIT_OPTION_FLAGS`).
    """
    from echo_lab.lbits.circuit.report import summarize

    model = validated_model(n=n, W=W, J=J, Jz=Jz, seed=seed, max_n=MAX_CIRCUIT_REPORT_SITES)
    options = checked_circuit_options(options)
    system = lbits.construct(model.hamiltonian(), method="circuit", **options)
    report = summarize(system)
    nearest = {(i, j): value for i, j, value in report["J"] if j == i + 1}
    title = (
        f"circuit l-bits ({report['layout']}, {report['gate_family']} gates, cost "
        f"{report['cost']}): n = {n}, W = {W:g}, J = {J:g}, Jz = {Jz:g}, seed = {seed}"
    )
    header = (
        f"{'site':>4} {'h_bare':>9} {'h_eff':>9} {'J_nn':>11} {'range_z':>8} {'range_x':>8} "
        f"{'cone':>5} {'pulse_cx':>8} {'readout_cx':>10}"
    )
    lines = [title, "", header, "-" * len(header)]
    for i in range(n):
        coupling = f"{nearest[(i, i + 1)]:11.3e}" if (i, i + 1) in nearest else f"{'-':>11}"
        lines.append(
            f"{i:>4d} {model.fields[i]:9.4f} {report['h'][i]:9.4f} {coupling} "
            f"{report['mean_range_z'][i]:8.4f} {report['mean_range_x'][i]:8.4f} "
            f"{report['cone_sites'][i]:>5d} {report['pulse_cx'][i]:>8d} "
            f"{report['readout_cx'][i]:>10d}"
        )
    lines += [
        "",
        f"epsilon (offdiagonal fraction): {report['epsilon']:.4e} "
        f"(start {report['epsilon_start']:.4e})",
        f"gates: {report['gates']}, fit iterations: {report['iterations']}, "
        f"engine: {report['engine']}",
        f"build time: {report['build_seconds']:.1f} s",
    ]
    path = Path(out) / f"circuit_lbits_n{n}_W{W:g}_seed{seed}.png"
    _draw_circuit_figure(report, path, title)
    lines.append(f"figure: {path}")
    return "\n".join(lines)


def _draw_circuit_figure(report: dict[str, object], path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from echo_lab.study.drawing import save_png

    figure = Figure(figsize=(11.0, 4.2))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    sites = np.arange(int(report["n"]))  # type: ignore[call-overload]
    left.plot(sites, report["mean_range_z"], "o-", ms=3, label=r"$\tau^z_i$")
    left.plot(sites, report["mean_range_x"], "s-", ms=3, label=r"$\tau^x_i$")
    left.set_xlabel("site i")
    left.set_ylabel("mean range (sites)")
    left.legend(fontsize="small")
    couplings = np.array(report["J"], dtype=float).reshape(-1, 3)
    distance = couplings[:, 1] - couplings[:, 0]
    magnitude = np.abs(couplings[:, 2])
    shown = magnitude > 0
    right.semilogy(distance[shown], magnitude[shown], "o", alpha=0.5)
    right.set_xlabel("distance |i - j|")
    right.set_ylabel(r"$|J_{ij}|$ of $U^\dagger H U$")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(figure, path, dpi=150)


#: Most l-bit sources one ``--compare`` lists.
MAX_COMPARE_SOURCES = 8


def parse_compare(spec: str, n: int) -> list[tuple[str, int | None]]:
    """The l-bit sources of ``echo-lab lbits --compare SPEC`` for a chain of ``n`` sites.

    ``spec`` is a comma-separated list of ``bare``, ``circuit``, ``window:W`` (W an integer
    1..min(n, 12), the window width) and ``compiled:S`` (S an integer 2..min(n, 10), the support
    of the compiled l-bit); returns ``[(kind, width or None), ...]`` in order.
    ConfigError naming ``--compare`` for anything else, a repeated entry or more than
    :data:`MAX_COMPARE_SOURCES` entries, before any work.
    """
    from echo_lab.lbits.compiled import MAX_SUPPORT
    from echo_lab.lbits.window import MAX_WINDOW_SITES

    #: kind -> (smallest width, largest width, what the width is)
    widths = {
        "window": (1, MAX_WINDOW_SITES, "window width"),
        "compiled": (2, MAX_SUPPORT, "support"),
    }
    usage = (
        "expected a comma-separated list of bare, circuit, window:W and compiled:S (e.g. "
        "window:6,circuit,compiled:6)"
    )
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"--compare is empty: {usage}")
    entries = [item.strip() for item in spec.split(",")]
    if len(entries) > MAX_COMPARE_SOURCES:
        raise ConfigError(f"--compare lists {len(entries)} sources; at most {MAX_COMPARE_SOURCES}")
    sources: list[tuple[str, int | None]] = []
    for item in entries:
        kind, colon, value = item.partition(":")
        if item in ("bare", "circuit"):
            source: tuple[str, int | None] = (item, None)
        elif kind in widths and colon and value.isascii() and value.isdigit() and len(value) < 4:
            width = int(value)
            lowest, largest, what = widths[kind]
            limit = min(n, largest)
            if not lowest <= width <= limit:
                raise ConfigError(
                    f"--compare {item}: the {what} must be {lowest}..{limit} (the chain has {n} "
                    f"sites, {kind} l-bits at most {largest})"
                )
            source = (kind, width)
        else:
            raise ConfigError(f"--compare entry {item!r} is not understood: {usage}")
        if source in sources:
            raise ConfigError(f"--compare lists {item!r} twice")
        sources.append(source)
    return sources


def fidelity_report(
    *,
    n: int,
    W: float,
    J: float,
    Jz: float,
    seed: int,
    compare: str,
    site: int | None,
    circuit_options: dict[str, object],
) -> str:
    """``echo-lab lbits --compare``: F_z, D, F_x (and a_z, the mean distance of A^z's weight from
    p) of the l-bit sources ``compare`` (:func:`parse_compare`) at ``site`` (default the centre
    n // 2) of ``RandomFieldXXZ(n, W, J, Jz, seed)``, against the exact ``overlap`` l-bits and,
    for n <= 10, the exact ``range`` l-bits (:func:`echo_lab.lbits.fidelity.compare`).

    The realization (n <= 14), the site, the sources and the circuit options are checked before
    any work. For n <= 12 it adds the ceiling of D for every support width
    (:func:`echo_lab.lbits.fidelity.support_ceiling`). Costs: the exact construction (one or
    two), each source's construction (a circuit fit: up to ``max_iterations`` L-BFGS
    iterations), three partial traces of the exact tau per source (O(2^(k-1) 4^n) for a source
    on k sites), the Pauli transform of tau^z for the ceiling (O(n 4^n)), and the kept fraction
    of the p-bit echo read out in each source and in the exact overlap l-bit
    (:func:`kept_in_readouts`: 8 exact evolutions in the reference's eigenbasis).
    """
    from echo_lab.lbits.compiled import CompiledLBits, compiled_lbits
    from echo_lab.lbits.exact import MAX_RANGE_QUBITS
    from echo_lab.lbits.fidelity import (
        DENSE_FIDELITY_QUBITS,
        F_X_GAUGE,
        MAX_FIDELITY_QUBITS,
        support_ceiling,
    )
    from echo_lab.lbits.fidelity import compare as fidelity
    from echo_lab.lbits.window import window_lbits

    model = validated_model(n=n, W=W, J=J, Jz=Jz, seed=seed, max_n=MAX_FIDELITY_QUBITS)
    sources = parse_compare(compare, model.n)
    p = model.n // 2 if site is None else site
    if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < model.n:
        raise ConfigError(f"--site {p!r} is outside the chain 0..{model.n - 1}")
    options = checked_circuit_options(circuit_options)
    hamiltonian = model.hamiltonian()
    methods = ["overlap", "range"] if model.n <= MAX_RANGE_QUBITS else ["overlap"]
    references = {
        method: lbits.construct(hamiltonian, method=method, lattice=model.lattice)
        for method in methods
    }
    built: dict[str, lbits.LBitSource | None] = {}
    for kind, width in sources:
        if kind == "bare":
            built["bare"] = None
        elif kind == "window":
            built[f"window w={width}"] = window_lbits(model, p, width=int(width or 0))
        elif kind == "compiled":
            built[f"compiled s={width}"] = compiled_lbits(model, p, support=int(width or 0))
        else:
            built["circuit"] = lbits.construct(hamiltonian, method="circuit", **options)
    built.setdefault("bare", None)
    lines = [
        f"l-bit fidelity at site {p}: n = {model.n}, W = {W:g}, J = {J:g}, Jz = {Jz:g}, "
        f"seed = {seed}",
    ]
    header = f"{'source':<14} {'F_z':>8} {'D':>8} {'F_x':>8} {'a_z':>8} {'r_mean':>7}"
    for method, reference in references.items():
        lines += ["", f"vs {method} (exact l-bits)", header, "-" * len(header)]
        for label, source in sorted(built.items(), key=lambda item: item[0] != "bare"):
            result = fidelity(reference, source, p)
            weights = result.range_weights
            spread = (
                f"{float(np.arange(weights.size) @ weights):7.3f}"
                if weights is not None
                else f"{'-':>7}"
            )
            lines.append(
                f"{label:<14} {result.f_z:8.4f} {result.d:8.4f} {result.f_x:8.4f} "
                f"{result.a_z:8.4f} {spread}"
            )
    if model.n <= DENSE_FIDELITY_QUBITS:
        ceilings = support_ceiling(references["overlap"], p)
        lines += [
            "",
            "ceiling of D (vs overlap) for any operator on w contiguous sites containing the site",
            " ".join(f"w={c.width}: {c.d:.3f}" for c in ceilings),
        ]
    kept = kept_in_readouts(references["overlap"], built, p, seed=seed)
    lines += [
        "",
        f"kept fraction of the p-bit Hahn echo read out in each source (exact evolution, "
        f"{len(KEPT_TIMES)} times T = {KEPT_TIMES[0]:g}..{KEPT_TIMES[-1]:g}, 8 z-random "
        "backgrounds, late times T >= T_max / 10)",
    ]
    lines += [f"{label:<14} {value:8.4f}" for label, value in kept.items()]
    lines += [
        "",
        "F_z = Tr(A^z tau^z)/2^N, D = (F_z - a_z)/(1 - a_z), r_mean: mean distance of A^z's "
        "Pauli weight from the site",
        f"F_x depends on the eigenvector phase gauge: {F_X_GAUGE}",
    ]
    if "circuit" in built:
        lines.append(
            f"circuit: block {options.get('block')}, layers {options.get('layers')}, cost "
            f"{options.get('cost')}, at most {options.get('max_iterations')} iterations"
        )
    for label, source in built.items():
        if isinstance(source, CompiledLBits):
            lines.append(
                f"{label}: window of {len(source.window)} sites, {source.layout.depth} layers, "
                f"cosine with its target {source.overlap:.4f}, pulse {source.cx_count()} CX"
            )
    return "\n".join(lines)


def kept_in_readouts(
    reference: lbits.LBitSystem,
    readouts: Mapping[str, lbits.LBitSource | None],
    probe: int,
    *,
    pulse: str = "pbit",
    times: np.ndarray | None = None,
    backgrounds: int = 8,
    seed: int = 0,
) -> dict[str, float]:
    """Kept fraction of one Hahn echo read out in several l-bit sources of the same chain.

    The echo (``pulse`` at T / 2 on ``probe``: ``"pbit"`` by default, or any pulse spec the
    reference's exact l-bits build, ``"lbit"``, ``"lbit:r"``) runs exactly in the eigenbasis of
    ``reference`` (its eigensystem, reused) from ``backgrounds`` product states (probe in |+>, the
    other sites z-random, drawn from ``seed``), and ``<A^x_p>(T)`` is read out for each source A
    of ``readouts`` (``None``: the bare spin sigma^x_p) and for the exact reference itself under
    the key ``"exact"``. The kept fraction of a readout is the ratio of means over the
    backgrounds of the late-time (T >= T_max / 10) value and the T = 0 value
    (:func:`echo_lab.study.analysis.ratio_of_means`, conventions section 6): the same echo judged
    by each source, next to the value the exact l-bit gives.

    Cost: one exact evolution per background for all readouts together (the eigensystem is
    the reference's); each readout of a circuit or window l-bit is a dense light-cone block.
    """
    from echo_lab.backends.exact import ExactBackend
    from echo_lab.physics.states import probe_state
    from echo_lab.protocols.observables import probe_observables
    from echo_lab.protocols.sequences import build_sequence
    from echo_lab.study.analysis import ratio_of_means

    n = reference.n
    reference.check_site(probe)
    if isinstance(backgrounds, bool) or not isinstance(backgrounds, int) or backgrounds < 1:
        raise ConfigError(f"backgrounds must be an integer >= 1, got {backgrounds!r}")
    grid = KEPT_TIMES if times is None else np.asarray(times, dtype=float)
    grid = np.concatenate([[0.0], grid[grid > 0]])
    observables = {"exact": probe_observables(n, probe, source=reference, axes=("x",))["tau_x"]}
    for label, source in readouts.items():
        operators = probe_observables(n, probe, source=source, axes=("x",))
        observables[label] = operators["tau_x"] if source is not None else operators["sx"]
    sequence = build_sequence("hahn", n=n, probe=probe, pulse=pulse, source=reference)
    backend = ExactBackend(eigensystem=reference.eigensystem)
    rng = np.random.default_rng(seed)
    traces: dict[str, list[np.ndarray]] = {label: [] for label in observables}
    for _ in range(backgrounds):
        state = probe_state(n, probe, background="z-random", rng=rng)
        result = backend.run(reference.hamiltonian, sequence, state, grid, observables=observables)
        for label in observables:
            traces[label].append(np.asarray(result[label], dtype=float))
    late = grid >= grid.max() / 10
    kept = {}
    for label, rows in traces.items():
        values = np.array(rows)
        ratio, _, _ = ratio_of_means(values[:, late].mean(axis=1), values[:, 0])
        kept[label] = float(ratio)
    return kept
