"""Pulse families: what a pulse spec such as ``"lbit:1"`` or ``"window:8:1"`` means, registered.

A pulse spec is a short text, the family's name followed by its integer fields, separated by
colons: ``"pbit"``, ``"lbit"``, ``"lbit:r"``, ``"circuit"``, ``"window:w"``, ``"window:w:r"``,
``"compiled:s"``. It is
parsed once into a :class:`PulseSpec` (family name, truncation radius, window width, angle error)
and passed on as that value; :attr:`PulseSpec.label` prints it back. Everything that depends on
the family is a field of its :class:`PulseFamily` in :data:`PULSE_FAMILIES`:

* ``grammar``: the accepted texts, for documentation and error messages;
* ``parse``: the fields after the name (``["8", "1"]`` for ``"window:8:1"``) as PulseSpec fields
  (``{"width": 8, "radius": 1}``); integers are plain ASCII digits without leading zeros;
* ``source``: which l-bit source (:class:`~echo_lab.lbits.source.LBitSource`) the pulse is built
  from: none (:data:`None`), the l-bits of the whole chain (:data:`EXACT`,
  ``lbits.construct(H, method)``), circuit l-bits (:data:`CIRCUIT`,
  ``lbits.construct(H, method="circuit", ...)``), the window l-bits of the probe (:data:`WINDOW`,
  ``window.window_lbits(model, p, width=w)``) or its compiled l-bit (:data:`COMPILED`,
  ``compiled.compiled_lbits(model, p, support=s)``). :attr:`PulseSpec.source_need` says which
  one a spec needs (a :class:`SourceNeed`); study kinds build the sources their pulses declare;
* ``check_chain``: the limits that depend on the chain length (radius < n, width <= n);
* ``protocols``: the protocols that may play it (window pulses: Hahn, CPMG and XY-4 only, since
  the window holds the probe's l-bit alone);
* ``build``: the pulse on site p about an axis (default: ``source.pulse(p, radius=..., ...)``);
* ``legend``, ``tick``, ``position``: how figures name and place it.

================  ================================  ===============  ==========================
family            texts                             source           pulse
================  ================================  ===============  ==========================
``pbit``          ``pbit``                          none             X_p
``lbit``          ``lbit``, ``lbit:r``              exact l-bits     tau^x_p (truncated to r)
``circuit``       ``circuit``                       circuit l-bits   tau^x_p on its light cone
``window``        ``window:w``, ``window:w:r``      window l-bits    tau^x_p of the w-site window
``compiled``      ``compiled:s``                    compiled l-bit   V X_p V^dag on s sites
================  ================================  ===============  ==========================

A new family is one :class:`PulseFamily` and one :func:`register_pulse_family` call; sequences
(:func:`echo_lab.protocols.sequences.build_sequence`) and study files then accept its texts with
no other edit.

>>> PulseSpec.parse("window:8:1")
PulseSpec(family='window', radius=1, width=8, angle_error=0.0)
>>> PulseSpec.parse("lbit:2").label
'lbit:2'
>>> make_pulse("pbit", 1).label
'X_1'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from echo_lab.dynamics.pulses import check_angle_error, check_axis, pbit_pulse
from echo_lab.dynamics.schedule import Pulse
from echo_lab.errors import ConfigError
from echo_lab.lbits.source import LBitSource
from echo_lab.tables import quote

__all__ = [
    "CIRCUIT",
    "COMPILED",
    "EXACT",
    "PULSE_FAMILIES",
    "SOURCE_KINDS",
    "WINDOW",
    "PulseFamily",
    "PulseSpec",
    "SourceNeed",
    "make_pulse",
    "parse_integer",
    "register_pulse_family",
    "require_source",
    "resolve_spec",
]

#: Source kind: the l-bits of the whole chain by an assignment method (``lbits.construct(H,
#: method)``, an :class:`~echo_lab.lbits.LBitSystem` for ``"overlap"`` / ``"range"``).
EXACT = "exact"
#: Source kind: circuit l-bits (``lbits.construct(H, method="circuit", ...)``).
CIRCUIT = "circuit"
#: Source kind: the window l-bits of the probe (``window.window_lbits(model, p, width=w)``).
WINDOW = "window"
#: Source kind: the compiled l-bit of the probe on s sites (``compiled.compiled_lbits(model, p,
#: support=s)``).
COMPILED = "compiled"
#: Every source kind a family may declare.
SOURCE_KINDS = (EXACT, CIRCUIT, WINDOW, COMPILED)
#: Source kinds that hold the probe's l-bit only and are keyed by a width (window w, support s).
_PROBE_KINDS = (WINDOW, COMPILED)

#: How to make each source kind, for error messages.
_SOURCE_HINTS = {
    EXACT: ("an l-bit system of the chain", "lbits.construct(H)"),
    CIRCUIT: ("circuit l-bits", "lbits.construct(H, method='circuit', ...)"),
    WINDOW: (
        "the window l-bits of that site and width",
        "window.window_lbits(model, {p}, width={width})",
    ),
    COMPILED: (
        "the compiled l-bit of that site on that many sites",
        "compiled.compiled_lbits(model, {p}, support={width})",
    ),
}

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class SourceNeed:
    """The l-bit source a pulse spec needs: a kind of :data:`SOURCE_KINDS` and, for
    :data:`WINDOW` and :data:`COMPILED`, the width (window sites, support sites). Hashable, so
    kinds key the sources they build by it.

    A source of method ``"circuit"`` is a :data:`CIRCUIT` source, one of method ``"window"``
    (``"compiled"``) and the right width a :data:`WINDOW` (:data:`COMPILED`) source, and any
    other l-bit source of the chain (the assignments ``"overlap"`` and ``"range"``, or a
    construction registered with :func:`echo_lab.lbits.register_method`) an :data:`EXACT`
    source."""

    kind: str
    width: int | None = None

    def accepts(self, source: LBitSource | None, p: int) -> bool:
        """Whether ``source`` is such a source and holds the l-bit of site ``p``."""
        if not isinstance(source, LBitSource) or isinstance(p, bool):
            return False
        if not isinstance(p, int | np.integer) or int(p) not in source.sites():
            return False
        if self.kind in _PROBE_KINDS:
            return source.method == self.kind and getattr(source, "width", None) == self.width
        if self.kind == CIRCUIT:
            return source.method == CIRCUIT
        return source.method not in (CIRCUIT, *_PROBE_KINDS)

    def hint(self, p: int) -> tuple[str, str]:
        """What the source is and how to make it, for an error about site ``p``."""
        what, how = _SOURCE_HINTS[self.kind]
        return what, how.format(p=p, width=self.width)


#: Most digits of an integer in a pulse spec (no chain is longer; a longer number is a typo).
MAX_INTEGER_DIGITS = 18


def parse_integer(text: str, name: str) -> int:
    """``text`` as an integer >= 0: plain ASCII digits only, no sign, no leading zero, at most
    :data:`MAX_INTEGER_DIGITS` digits (``"0"`` is fine; ``"01"``, ``"-1"``, ``"1.5"``, ``"1\\n"``
    and other scripts' digits are refused)."""
    if not text or any(c not in "0123456789" for c in text):
        raise ConfigError(f"{name} must be an integer >= 0 in plain digits 0-9, got {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise ConfigError(
            f"{name} = {text!r} has a leading zero; write it in plain digits 0-9 without one "
            f"({int(text)})"
        )
    if len(text) > MAX_INTEGER_DIGITS:
        raise ConfigError(
            f"{name} = {text[:24]}... has {len(text)} digits; use plain digits 0-9, at most "
            f"{MAX_INTEGER_DIGITS}"
        )
    return int(text)


def _no_fields(fields: Sequence[str]) -> dict[str, int]:
    if fields:
        raise ConfigError("this family takes no fields after its name")
    return {}


def _no_check(spec: PulseSpec, n: int) -> None:
    """No limit that depends on the chain."""


def _no_validation(spec: PulseSpec) -> None:
    """No check beyond the generic ones of :class:`PulseSpec`."""


def _from_source(spec: PulseSpec, p: int, axis: str, source: LBitSource | None) -> Pulse:
    """The pulse of the family's l-bit source: ``source.pulse(p, radius=spec.radius, ...)``."""
    if source is None:
        raise ConfigError(f"pulse spec {spec.label!r} needs an l-bit source")
    return source.pulse(p, radius=spec.radius, axis=axis, angle_error=spec.angle_error)


@dataclass(frozen=True, eq=False)
class PulseFamily:
    """One pulse family (module docstring).

    Attributes
    ----------
    name : the text before the first colon; lower-case ASCII letters, digits, ``_`` and ``-``.
    grammar : its accepted texts, e.g. ``"'lbit' or 'lbit:r' (integer r >= 0: ...)"``.
    parse : the fields after the name (a list of strings, empty for the bare name) -> the
        PulseSpec fields they set (``"radius"``, ``"width"``); raises :class:`ConfigError`.
    source : the l-bit source kind it is built from (:data:`SOURCE_KINDS`), or None.
    fields : the PulseSpec fields it takes (``"radius"``, ``"width"``); ``required`` those it
        must have.
    validate : checks of a spec's own fields beyond the generic ones (radius >= 0, width >= 1).
    check_chain : ``(spec, n)`` -> None, or :class:`ConfigError` when the spec does not fit an
        n-site chain.
    protocols : the protocols of :data:`echo_lab.protocols.sequences.PROTOCOLS` that may play it
        (None: all); ``protocol_reason`` says why the others may not.
    build : ``(spec, p, axis, source)`` -> the :class:`~echo_lab.dynamics.schedule.Pulse` on site
        p; the source is checked against :attr:`source` before (default: ``source.pulse(p,
        radius=spec.radius, axis=axis, angle_error=spec.angle_error)``).
    legend : the legend text of a spec in figures; ``tick`` its short axis label.
    position : where the recovery figure puts its specs without a radius: -1 left of the radii
        (bare pulses), 0 the reference slot right of the largest radius, 1 further right (one
        step each).
    """

    name: str
    grammar: str
    parse: Callable[[Sequence[str]], Mapping[str, int]] = _no_fields
    source: str | None = None
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    validate: Callable[[PulseSpec], None] = _no_validation
    check_chain: Callable[[PulseSpec, int], None] = _no_check
    protocols: tuple[str, ...] | None = None
    protocol_reason: str = ""
    build: Callable[[PulseSpec, int, str, LBitSource | None], Pulse] = _from_source
    legend: Callable[[PulseSpec], str] | None = None
    tick: Callable[[PulseSpec], str] | None = None
    position: int = 1

    def allows(self, protocol: str) -> bool:
        """Whether ``protocol`` may play this family's pulses."""
        return self.protocols is None or protocol in self.protocols

    def refusal(self) -> str:
        """Why other protocols may not play it and which may, for error messages."""
        allowed = [repr(p) for p in self.protocols or ()]
        reason = f"{self.protocol_reason}; " if self.protocol_reason else ""
        if not allowed:
            return f"{reason}no protocol plays {self.name} pulses"
        listed = ", ".join(allowed[:-1]) + f" or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        return f"{reason}use {listed}"

    def need(self, spec: PulseSpec) -> SourceNeed | None:
        """The l-bit source ``spec`` needs, or None."""
        if self.source is None:
            return None
        return SourceNeed(self.source, spec.width if self.source in _PROBE_KINDS else None)

    def legend_text(self, spec: PulseSpec) -> str:
        """:attr:`legend` of ``spec``, by default ``"<name> pulse"``."""
        return self.legend(spec) if self.legend is not None else f"{self.name} pulse"

    def tick_text(self, spec: PulseSpec) -> str:
        """:attr:`tick` of ``spec``, by default the family's name."""
        return self.tick(spec) if self.tick is not None else self.name


#: Every pulse family by name (:func:`register_pulse_family` adds one).
PULSE_FAMILIES: dict[str, PulseFamily] = {}


def register_pulse_family(family: PulseFamily) -> None:
    """Make the texts of ``family`` valid pulse specs everywhere (sequences, study files).

    Raises :class:`ConfigError` for a name that is taken or not of the form of
    :attr:`PulseFamily.name`, or an unknown source kind.
    """
    if not isinstance(family, PulseFamily):
        raise ConfigError(f"expected a PulseFamily, got {type(family).__name__}")
    if not _NAME.match(family.name):
        raise ConfigError(
            f"pulse family name {family.name!r} must be lower-case ASCII letters, digits, '_' "
            "or '-', starting with a letter"
        )
    if family.name in PULSE_FAMILIES:
        raise ConfigError(f"pulse family {family.name!r} is registered already")
    if family.source is not None and family.source not in SOURCE_KINDS:
        raise ConfigError(
            f"pulse family {family.name!r} needs source {family.source!r}; choose one of "
            f"{SOURCE_KINDS} or None"
        )
    unknown = set(family.fields) - {"radius", "width"} or set(family.required) - set(family.fields)
    if unknown:
        raise ConfigError(f"pulse family {family.name!r}: unknown or undeclared fields {unknown}")
    PULSE_FAMILIES[family.name] = family


def _grammars() -> str:
    return "; ".join(family.grammar for family in PULSE_FAMILIES.values())


def _family(name: str) -> PulseFamily:
    family = PULSE_FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        raise ConfigError(f"unknown pulse family {name!r}; choose one of {tuple(PULSE_FAMILIES)}")
    return family


@dataclass(frozen=True)
class PulseSpec:
    """A pulse spec, parsed once from its text and then passed on as this value.

    ``family`` names a :class:`PulseFamily` of :data:`PULSE_FAMILIES`: ``"pbit"`` (X_p),
    ``"lbit"`` (tau^x_p; with ``radius`` r truncated to the window [p - r, p + r]),
    ``"circuit"`` (the circuit l-bit tau^x_p) or ``"window"`` (the l-bit of the ``width``-site
    window around p, :mod:`echo_lab.lbits.window`; with ``radius`` truncated inside that
    window), or a registered one. ``angle_error`` eps makes the pulse a rotation by pi (1 + eps)
    (:func:`~echo_lab.dynamics.pulses.rotate_about`). :attr:`label` is the canonical text
    (``"lbit:2"``, ``"window:8:1"``), the name of the pulse in results.

    >>> PulseSpec.parse("window:8:1")
    PulseSpec(family='window', radius=1, width=8, angle_error=0.0)
    >>> PulseSpec.parse("lbit:2").label
    'lbit:2'
    """

    family: str
    radius: int | None = None
    width: int | None = None
    angle_error: float = 0.0

    def __post_init__(self) -> None:
        family = _family(self.family)
        for field, what in (("radius", "truncation radius"), ("width", "window width")):
            value = getattr(self, field)
            if value is not None and field not in family.fields:
                raise ConfigError(f"a {family.name} pulse has no {what}")
            if value is None and field in family.required:
                raise ConfigError(f"a {family.name} pulse needs a {what}")
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | np.integer)
            ):
                raise ConfigError(f"a pulse's {what} must be an integer, got {value!r}")
        if self.radius is not None and self.radius < 0:
            raise ConfigError(f"a pulse's truncation radius must be >= 0, got {self.radius}")
        if self.width is not None and self.width < 1:
            raise ConfigError(
                f"{family.name} pulse {self.label!r} has width {self.width}; use w >= 1"
            )
        family.validate(self)
        object.__setattr__(self, "angle_error", check_angle_error(self.angle_error))

    @classmethod
    def parse(cls, text: str | PulseSpec, *, angle_error: float = 0.0) -> PulseSpec:
        """The PulseSpec of a text (``"pbit"``, ``"lbit"``, ``"lbit:r"``, ``"circuit"``,
        ``"window:w"``, ``"window:w:r"`` or a registered family's); a PulseSpec is returned
        unchanged. Anything else raises :class:`ConfigError`, listing the families' grammars.
        The limits that depend on the chain (r < n, w <= n) are checked where the chain is known
        (:attr:`PulseFamily.check_chain`)."""
        if isinstance(text, PulseSpec):
            return text
        name, _, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
        family = PULSE_FAMILIES.get(name)
        if family is None:
            raise ConfigError(
                f"unknown pulse spec {quote(text)}; the pulse families are {_grammars()}"
            )
        fields = rest.split(":") if ":" in text else []
        try:
            values = dict(family.parse(fields))
        except ConfigError as exc:
            raise ConfigError(
                f"malformed {family.name} pulse spec {quote(text)}: {exc}; use {family.grammar}"
            ) from None
        return cls(family.name, angle_error=angle_error, **values)

    @property
    def pulse_family(self) -> PulseFamily:
        """The :class:`PulseFamily` of this spec."""
        return _family(self.family)

    @property
    def source_need(self) -> SourceNeed | None:
        """The l-bit source the pulse is built from (its family's), or None."""
        return self.pulse_family.need(self)

    @property
    def label(self) -> str:
        """The canonical text of the spec (without the angle error)."""
        parts = [self.family]
        if self.width is not None:
            parts.append(str(self.width))
        if self.radius is not None:
            parts.append(str(self.radius))
        return ":".join(parts)

    @property
    def needs_lbits(self) -> bool:
        """Whether the pulse needs the l-bits of the whole chain (source :data:`EXACT`)."""
        return self.pulse_family.source == EXACT

    def with_angle_error(self, angle_error: float) -> PulseSpec:
        """The same pulse rotating by pi (1 + ``angle_error``)."""
        return dataclasses.replace(self, angle_error=angle_error)


def resolve_spec(spec: PulseSpec | str, angle_error: float | None) -> PulseSpec:
    """A text spec parsed with ``angle_error`` (default 0); a PulseSpec with none given (or
    its own): giving another raises :class:`ConfigError`."""
    if isinstance(spec, PulseSpec):
        if angle_error is not None and angle_error != spec.angle_error:
            raise ConfigError(
                f"pulse spec {spec.label!r} carries angle_error = {spec.angle_error}; do not pass "
                f"another one ({angle_error}): use spec.with_angle_error(...)"
            )
        return spec
    return PulseSpec.parse(spec, angle_error=0.0 if angle_error is None else angle_error)


def require_source(spec: PulseSpec, p: int, source: LBitSource | None) -> None:
    """:class:`ConfigError` unless ``source`` is the l-bit source ``spec`` needs for site p."""
    need = spec.source_need
    if need is None or need.accepts(source, p):
        return
    what, how = need.hint(p)
    raise ConfigError(f"pulse spec {spec.label!r} on site {p} needs {what}: pass source={how}")


def make_pulse(
    spec: PulseSpec | str,
    p: int,
    *,
    axis: str = "x",
    source: LBitSource | None = None,
    angle_error: float | None = None,
) -> Pulse:
    """The pulse of ``spec`` (a :class:`PulseSpec` or its text) on site ``p`` about ``axis``.

    Built by the spec's family (:attr:`PulseFamily.build`) from ``source``, which must be the
    l-bit source the family declares (:attr:`PulseSpec.source_need`: l-bits of the chain for
    ``"lbit"`` / ``"lbit:r"``, circuit l-bits for ``"circuit"``, the window l-bits of site p and
    width w for ``"window:w[:r]"``; ignored by ``"pbit"``). ``angle_error`` applies to a text
    spec (a PulseSpec carries its own; giving both raises). Raises :class:`ConfigError` for an
    unknown spec, a missing or mismatched source, or a spec that does not fit the source's
    chain (e.g. a radius larger than the chain).

    >>> make_pulse("pbit", 1).label
    'X_1'
    """
    spec = resolve_spec(spec, angle_error)
    check_axis(axis)
    family = spec.pulse_family
    if spec.source_need is not None:
        require_source(spec, p, source)
        assert source is not None
        family.check_chain(spec, source.n)
    return family.build(spec, p, axis, source)


# ----------------------------------------------------------------------------------------------
# The built-in families
# ----------------------------------------------------------------------------------------------


def _build_pbit(spec: PulseSpec, p: int, axis: str, source: LBitSource | None) -> Pulse:
    return pbit_pulse(p, axis=axis, angle_error=spec.angle_error)


def _parse_lbit(fields: Sequence[str]) -> dict[str, int]:
    if not fields:
        return {}
    if len(fields) == 1:
        return {"radius": parse_integer(fields[0], "the radius r")}
    raise ConfigError(f"expected at most one field after 'lbit', got {len(fields)}")


def _check_radius(spec: PulseSpec, n: int) -> None:
    if spec.radius is not None and spec.radius > n - 1:
        raise ConfigError(
            f"window radius {spec.radius} is larger than the chain of n = {n} sites allows (at "
            f"most {n - 1}); use 'lbit' for the exact pulse on the whole chain"
        )


def _lbit_legend(spec: PulseSpec) -> str:
    return "exact l-bit pulse" if spec.radius is None else f"l-bit pulse, r = {spec.radius}"


def _parse_window(fields: Sequence[str]) -> dict[str, int]:
    if len(fields) not in (1, 2):
        raise ConfigError(f"expected one or two fields after 'window', got {len(fields)}")
    values = {"width": parse_integer(fields[0], "the width w")}
    if len(fields) == 2:
        values["radius"] = parse_integer(fields[1], "the radius r")
    return values


def _validate_window(spec: PulseSpec) -> None:
    assert spec.width is not None
    if spec.radius is not None and spec.radius >= spec.width:
        raise ConfigError(
            f"window pulse spec {spec.label!r} has radius {spec.radius} >= width {spec.width}; "
            f"use r <= {spec.width - 1}, or 'window:{spec.width}' for the whole window l-bit"
        )


def _width_within_chain(what: str, letter: str) -> Callable[[PulseSpec, int], None]:
    """The ``check_chain`` of a family whose width field (``what``, written ``letter`` in its
    grammar) counts chain sites: at most n."""

    def check(spec: PulseSpec, n: int) -> None:
        assert spec.width is not None
        if spec.width > n:
            raise ConfigError(
                f"{what} {spec.width} is larger than the chain of n = {n} sites; use "
                f"{letter} <= {n}"
            )

    return check


def _window_legend(spec: PulseSpec) -> str:
    suffix = "" if spec.radius is None else f", r = {spec.radius}"
    return f"window l-bit pulse, w = {spec.width}{suffix}"


def _parse_compiled(fields: Sequence[str]) -> dict[str, int]:
    if len(fields) != 1:
        raise ConfigError(f"expected one field after 'compiled', got {len(fields)}")
    return {"width": parse_integer(fields[0], "the support s")}


def _validate_compiled(spec: PulseSpec) -> None:
    from echo_lab.lbits.compiled import MAX_SUPPORT

    assert spec.width is not None
    if not 2 <= spec.width <= MAX_SUPPORT:
        raise ConfigError(
            f"compiled pulse spec {spec.label!r} has support {spec.width}; use 2 <= s <= "
            f"{MAX_SUPPORT} (the fit keeps 2^s x 2^s operators)"
        )


for _family_entry in (
    PulseFamily(
        "pbit",
        "'pbit' (the bare spin X_p)",
        _no_fields,
        build=_build_pbit,
        legend=lambda spec: "p-bit pulse",
        tick=lambda spec: "p-bit",
        position=-1,
    ),
    PulseFamily(
        "lbit",
        "'lbit' (the exact l-bit tau^x_p) or 'lbit:r' (truncated to the sites within r of p, "
        "integer r >= 0)",
        _parse_lbit,
        source=EXACT,
        fields=("radius",),
        check_chain=_check_radius,
        legend=_lbit_legend,
        tick=lambda spec: "exact",
        position=0,
    ),
    PulseFamily(
        "circuit",
        "'circuit' (the circuit l-bit tau^x_p)",
        _no_fields,
        source=CIRCUIT,
        legend=lambda spec: "circuit l-bit pulse",
        tick=lambda spec: "circuit",
    ),
    PulseFamily(
        "window",
        "'window:w' or 'window:w:r' (the l-bit of the w-site window around p, integer w >= 1, "
        "truncated to the radius 0 <= r < w)",
        _parse_window,
        source=WINDOW,
        fields=("radius", "width"),
        required=("width",),
        validate=_validate_window,
        check_chain=_width_within_chain("window width", "w"),
        protocols=("hahn", "cpmg", "xy4"),
        protocol_reason="the window holds the l-bit of the probe only",
        legend=_window_legend,
        tick=lambda spec: f"w = {spec.width}",
    ),
    PulseFamily(
        "compiled",
        "'compiled:s' (the probe's window l-bit carried by a brickwork of S^z-conserving "
        "two-qubit gates on s sites, integer 2 <= s <= 10; the window and the number of layers "
        "come from [lbits] compiled_window / compiled_layers)",
        _parse_compiled,
        source=COMPILED,
        fields=("width",),
        required=("width",),
        validate=_validate_compiled,
        check_chain=_width_within_chain("compiled pulse support", "s"),
        protocols=("hahn", "cpmg", "xy4"),
        protocol_reason="the compiled l-bit is the probe's only",
        legend=lambda spec: f"compiled l-bit pulse, s = {spec.width}",
        tick=lambda spec: f"s = {spec.width}",
    ),
):
    register_pulse_family(_family_entry)
del _family_entry
