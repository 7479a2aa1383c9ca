"""Echo protocols as :class:`~echo_lab.dynamics.schedule.PulseSequence` factories
(docs/pages/conventions.md section 6).

Every sequence is written in terms of its **total time T**, and every time a backend or a study
reports for an echo is this total time. For the Hahn echo docs/pages/conventions.md writes the total
time as 2t (psi(2t) = U(t) P U(t) psi0), so a study time T means t = T / 2 of free evolution on each
side of the pulse; the DEER phase 4 J_pq t is 2 J_pq T.

All echoes are pulse trains (:func:`build_pulse_train`): m groups of simultaneous pulses, group k
at time (2k - 1) T / (2m), k = 1..m:

============  ========================================  ===========================
protocol      groups                                    pulse times / T
============  ========================================  ===========================
FID           none                                      -
Hahn          [P_p]                                     1/2
CPMG-n        n x [P_p]                                 (2k - 1) / (2n)
XY-4          [X_p], [Y_p], [X_p], [Y_p] (or tau^x/y)   1/8, 3/8, 5/8, 7/8
DEER          [P_p, P_q]                                1/2
global        [P_0, ..., P_{n-1}]                       1/2
============  ========================================  ===========================

Examples
--------
>>> seq = build_sequence("cpmg", n=4, probe=1, n_pulses=2)
>>> [round(t, 3) for t, _ in locate_pulses(seq)]
[0.25, 0.75]
"""

from __future__ import annotations

from collections.abc import Sequence

from echo_lab.dynamics.schedule import Free, Pulse, PulseSequence
from echo_lab.errors import ConfigError
from echo_lab.lbits.source import LBitSource
from echo_lab.physics.models import Lattice
from echo_lab.protocols.families import PulseSpec, make_pulse, require_source, resolve_spec

__all__ = [
    "PROTOCOLS",
    "build_cpmg",
    "build_deer",
    "build_fid",
    "build_global_echo",
    "build_hahn",
    "build_pulse_train",
    "build_sequence",
    "build_xy4",
    "locate_pulses",
]

#: Protocol names accepted by :func:`build_sequence`.
PROTOCOLS = ("fid", "hahn", "cpmg", "xy4", "deer", "global")


def build_pulse_train(groups: Sequence[Sequence[Pulse]], *, name: str) -> PulseSequence:
    """m groups of simultaneous pulses, group k (1-based) at (2k - 1) T / (2m); FID if m = 0.

    Segments: Free(1/2m), group 1, Free(1/m), group 2, ..., group m, Free(1/2m). Pulses within a
    group act at the same instant; they are applied in the order given, which matters only when
    they share qubits.
    """
    m = len(groups)
    if m == 0:
        return PulseSequence([Free(1.0)], name=name)
    segments: list[Free | Pulse] = [Free(0.5 / m)]
    for k, group in enumerate(groups):
        if not group:
            raise ConfigError(f"pulse group {k} of sequence {name!r} is empty")
        segments.extend(group)
        segments.append(Free(0.5 / m if k == m - 1 else 1.0 / m))
    return PulseSequence(segments, name=name)


def build_fid() -> PulseSequence:
    """Free induction decay (Ramsey): ``[Free(1)]``, psi(T) = U(T) psi0."""
    return build_pulse_train([], name="fid")


def build_hahn(pulse: Pulse) -> PulseSequence:
    """Hahn echo of total time T = 2t: ``[Free(1/2), pulse, Free(1/2)]``."""
    return build_pulse_train([[pulse]], name="hahn")


def build_cpmg(pulse: Pulse, *, n_pulses: int) -> PulseSequence:
    """CPMG-n: ``n_pulses`` copies of ``pulse`` at (2k - 1) T / (2 n_pulses), k = 1..n_pulses."""
    if isinstance(n_pulses, bool) or not isinstance(n_pulses, int) or n_pulses < 1:
        raise ConfigError(f"CPMG needs n_pulses >= 1 (an integer), got {n_pulses!r}")
    return build_pulse_train([[pulse]] * n_pulses, name=f"cpmg-{n_pulses}")


def build_xy4(pulse_x: Pulse, pulse_y: Pulse, *, cycles: int = 1) -> PulseSequence:
    """XY-4: X, Y, X, Y repeated ``cycles`` times, at the CPMG-(4 cycles) times."""
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ConfigError(f"XY-4 needs cycles >= 1 (an integer), got {cycles!r}")
    return build_pulse_train([[pulse_x], [pulse_y], [pulse_x], [pulse_y]] * cycles, name="xy4")


def build_deer(probe_pulse: Pulse, partner_pulse: Pulse) -> PulseSequence:
    """DEER: a Hahn echo on the probe plus a pi pulse on the partner, both at T/2."""
    return build_pulse_train([[probe_pulse, partner_pulse]], name="deer")


def build_global_echo(pulses: Sequence[Pulse]) -> PulseSequence:
    """Global echo: all ``pulses`` (one per site, e.g. X_0..X_{n-1}) at T/2."""
    if not pulses:
        raise ConfigError("a global echo needs at least one pulse")
    return build_pulse_train([list(pulses)], name="global")


def locate_pulses(sequence: PulseSequence) -> list[tuple[float, Pulse]]:
    """Each pulse of ``sequence`` with the fraction of T at which it acts, in time order."""
    elapsed = 0.0
    located: list[tuple[float, Pulse]] = []
    for segment in sequence.segments:
        if isinstance(segment, Free):
            elapsed += segment.fraction
        else:
            located.append((elapsed, segment))
    return located


def _check_site(name: str, site: int, n: int) -> None:
    if isinstance(site, bool) or not isinstance(site, int) or not 0 <= site < n:
        raise ConfigError(f"{name} site {site!r} is outside the chain 0..{n - 1}")


def _resolve_pulse(
    protocol: str,
    pulse: PulseSpec | str,
    angle_error: float | None,
    *,
    n: int,
    probe: int,
    source: LBitSource | None,
) -> PulseSpec:
    """The pulse as a PulseSpec, checked against the protocol, the chain and the source (its
    family's :attr:`~echo_lab.protocols.families.PulseFamily.protocols`, ``check_chain`` and
    ``source``) before any pulse is built."""
    spec = resolve_spec(pulse, angle_error)
    if protocol == "fid":
        return spec
    family = spec.pulse_family
    if not family.allows(protocol):
        raise ConfigError(
            f"protocol {protocol!r} does not take {family.name} pulse {spec.label!r}: "
            f"{family.refusal()}"
        )
    try:
        family.check_chain(spec, n)
    except ConfigError as exc:
        raise ConfigError(f"pulse spec {spec.label!r}: {exc}") from None
    require_source(spec, probe, source)
    if spec.source_need is not None and source is not None and source.n != n:
        raise ConfigError(
            f"the {source.method} l-bits have {source.n} sites, the system {n}: they belong to "
            "another chain"
        )
    return spec


def _check_protocol(
    protocol: str,
    *,
    n: int,
    probe: int,
    partner: int | None,
    n_pulses: int,
    lattice: Lattice | None,
) -> None:
    """The checks of :func:`build_sequence` that need no pulse: protocol, sites, pulse count."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of sites n must be an integer >= 1, got {n!r}")
    _check_site("probe", probe, n)
    if protocol == "deer":
        if partner is None:
            raise ConfigError("the DEER protocol needs a partner site (partner=q)")
        _check_site("partner", partner, n)
        if partner == probe:
            raise ConfigError(f"the DEER partner must differ from the probe site {probe}")
    elif partner is not None:
        raise ConfigError(f"partner is only used by the 'deer' protocol, not by {protocol!r}")
    if protocol == "cpmg" and (
        isinstance(n_pulses, bool) or not isinstance(n_pulses, int) or n_pulses < 1
    ):
        raise ConfigError(f"CPMG needs n_pulses an integer >= 1, got {n_pulses!r}")
    if protocol == "xy4" and (
        isinstance(n_pulses, bool) or not isinstance(n_pulses, int) or n_pulses < 4 or n_pulses % 4
    ):
        raise ConfigError(f"XY-4 needs n_pulses a positive multiple of 4, got {n_pulses!r}")
    if lattice is not None and lattice.n != n:
        raise ConfigError(f"the lattice has {lattice.n} sites but n = {n}")


def build_sequence(
    protocol: str,
    *,
    n: int,
    probe: int,
    pulse: PulseSpec | str = "pbit",
    partner: int | None = None,
    n_pulses: int = 4,
    source: LBitSource | None = None,
    angle_error: float | None = None,
    lattice: Lattice | None = None,
) -> PulseSequence:
    """The sequence of ``protocol`` (one of :data:`PROTOCOLS`) on an ``n``-site system.

    ``pulse`` is a :class:`~echo_lab.protocols.families.PulseSpec` or its text (``"pbit"``,
    ``"lbit"``, ``"lbit:r"``, ``"circuit"``, ``"window:w"``, ``"window:w:r"`` or a registered
    family's; ``angle_error`` applies to a text spec, a PulseSpec carries its own). ``source`` is
    the :class:`~echo_lab.lbits.source.LBitSource` the pulse's family builds from: the chain's
    l-bits (``lbits.construct(H)``) for ``"lbit"`` / ``"lbit:r"``, circuit l-bits for
    ``"circuit"``, the probe's window l-bits (:func:`echo_lab.lbits.window.window_lbits`) for
    window specs, which only Hahn, CPMG and XY-4 take (the window holds the l-bit of the probe
    alone); p-bit pulses need none. ``partner`` is the DEER partner site (needed by ``"deer"``
    only, rejected otherwise). ``n_pulses`` is the pulse count of ``"cpmg"`` and of ``"xy4"`` (a
    multiple of 4; one XY-4 cycle per 4 pulses); other protocols ignore it. The global echo flips
    every site with ``pulse``. ``lattice`` is only checked against ``n`` (truncation windows come
    from the source's own lattice). All inputs are validated before any pulse is built.
    """
    _check_protocol(protocol, n=n, probe=probe, partner=partner, n_pulses=n_pulses, lattice=lattice)
    spec = _resolve_pulse(protocol, pulse, angle_error, n=n, probe=probe, source=source)

    def flip(site: int, axis: str = "x") -> Pulse:
        built = make_pulse(spec, site, axis=axis, source=source)
        if max(built.qubits) >= n or (built.kind == "lbit" and len(built.qubits) != n):
            raise ConfigError(
                f"pulse {built.label} acts on qubits {built.qubits}, outside the {n}-site system: "
                "does the l-bit system belong to this Hamiltonian?"
            )
        return built

    if protocol == "fid":
        return build_fid()
    if protocol == "hahn":
        return build_hahn(flip(probe))
    if protocol == "cpmg":
        return build_cpmg(flip(probe), n_pulses=n_pulses)
    if protocol == "xy4":
        return build_xy4(flip(probe, "x"), flip(probe, "y"), cycles=n_pulses // 4)
    if protocol == "deer":
        assert partner is not None
        return build_deer(flip(probe), flip(partner))
    return build_global_echo([flip(site) for site in range(n)])
