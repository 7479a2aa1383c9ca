"""Study files: TOML text -> a validated, frozen :class:`StudySpec`.

This module is generic: it reads ``[study]`` and ``[model]``, and hands every other section to
the study kind named by ``study.kind`` (:mod:`echo_lab.study.kinds`), which parses them into its
typed settings (shared sections: :mod:`echo_lab.study.sections`; ``[backend]``:
:mod:`echo_lab.backends.options`) and checks its own limits.

Everything is checked here, before any computation: unknown keys are rejected outright (naming
the key and listing the allowed ones), and every missing key, wrong type, negative size, NaN or
infinite number, empty time grid, probe outside the chain, window radius larger than the chain and
unknown backend, pulse or protocol raises :class:`~echo_lab.errors.ConfigError` with the key's
dotted name and the fix. So do requests no machine can serve, whatever its memory: a chain
longer than the dense steps of the study allow (``spectrum.MAX_EXACT_QUBITS`` = 14 for the exact
backend, l-bit pulses, DEER and l-bit locality; 12 for trotter-exact; 10 for the ``range``
assignment), window pulses wider than ``window.MAX_WINDOW_SITES`` = 12 sites (10 with ``range``),
and sizes beyond the limits of :mod:`echo_lab.study.sections` (``MAX_SITES``, ``MAX_UNITS``,
``MAX_TIMES``, ``MAX_TIME``, ``MAX_COUPLING``, ``MAX_PULSES``, ``MAX_SEED``) and
``backends.options.MAX_TROTTER_STEPS``. Whether a valid study fits in *this* machine's memory is
checked by :func:`echo_lab.study.runner.check_resources` before any work unit runs. No input makes
the loader raise anything but ConfigError (a property test feeds it random and mutated documents; a
leading UTF-8 byte-order mark is accepted). The spec keeps the original TOML text (stored in the
results' attrs) and a hash of its normalized content (:meth:`StudySpec.spec_hash`, used by
checkpoints).

File format: every section and key, with its type, default and choices, is listed by
:func:`echo_lab.study.reference.study_file_reference` (generated from the declarations read
here: :func:`section_keys`, the kinds' ``keys``, ``sweepable`` and ``key_docs``, the backend
rules); ``experiments/`` holds a study file of every kind, each listed with what it reproduces
in ``experiments/README.md``. In short::

    [study]
    name = "echo_pbit_vs_lbit"     # output files are <name>.nc, <name>_*.png
    kind = "echo"                  # echo_lab.study.kinds.KINDS
    realizations = 50              # disorder realizations per parameter point (default 1)
    seed = 1234                    # base seed (default 0); docs/pages/conventions.md section 2

    [model]
    n = 10
    W = [4.0, 8.0, 16.0]           # a list of a sweepable key is a sweep dimension

    [protocol]                     # the kind's sections
    pulses = ["pbit", "lbit", "lbit:1"]

    [times]
    start = 0.1
    stop = 1000.0
    num = 41

Lists of the keys a kind declares sweepable (:attr:`StudyKind.sweepable
<echo_lab.study.kinds.base.StudyKind.sweepable>`; by default the numbers of [model]; the
reference lists each kind's) become sweep dimensions named after the key; a list of another key
that the kind's parser would sweep is refused. The study runs the outer product of the sweep,
``realizations`` realizations at each point.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from echo_lab.backends.auto import AUTO, BackendChoice, resolve_auto_backend
from echo_lab.backends.options import ALL_BACKEND_KEYS, BackendSpec
from echo_lab.errors import ConfigError
from echo_lab.study.kinds import KINDS, StudyKind, get_kind
from echo_lab.study.kinds.base import KindSettings
from echo_lab.study.sections import (
    LBIT_METHODS,
    LBITS_KEYS,
    MAX_SEED,
    MAX_UNITS,
    MODEL_KEYS,
    SWEEPABLE,
    TIMES_KEYS,
    ModelSpec,
    parse_model,
)
from echo_lab.tables import Scalar, Table, quote, scalar

__all__ = [
    "KINDS",
    "LBIT_METHODS",
    "MAX_STUDY_FILE_BYTES",
    "SWEEPABLE",
    "StudySpec",
    "known_keys",
    "load_spec",
    "parse_spec",
    "section_keys",
]

#: Keys of the sections whose keys do not depend on the study kind.
_COMMON_KEYS: dict[str, tuple[str, ...]] = {
    "study": ("name", "kind", "description", "realizations", "seed"),
    "model": tuple(dict.fromkeys(MODEL_KEYS["xxz"] + MODEL_KEYS["ising"])),
    "times": TIMES_KEYS,
    "lbits": LBITS_KEYS,
    "backend": ("name", *ALL_BACKEND_KEYS),
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

#: Largest study file read (a study file is a few KiB; ``/dev/zero`` was once read until memory
#: ran out).
MAX_STUDY_FILE_BYTES = 2**20

#: Deepest nesting of tables and arrays a study file may have (TOML itself has no limit, and
#: Python's parser recurses once per level).
MAX_NESTING = 50


@dataclass(frozen=True)
class StudySpec:
    """A validated study: ``[study]``, the ``model`` and the kind's typed ``settings``.

    Swept keys hold their first value in ``model`` / ``settings``; use :meth:`points` and
    :meth:`resolve` for the values at each parameter point. ``backend_choices``: per table that
    named ``auto`` (``"backend"``, ``"check"``), the backend chosen for it and why (the settings
    hold the chosen backend; :func:`_resolve_auto_backends`).
    """

    name: str
    kind: str
    description: str
    realizations: int
    seed: int
    model: ModelSpec
    settings: KindSettings
    sweep: tuple[tuple[str, tuple[Scalar, ...]], ...]
    text: str
    normalized: str
    backend_choices: tuple[tuple[str, BackendChoice], ...] = ()

    @property
    def study_kind(self) -> StudyKind:
        """The :class:`~echo_lab.study.kinds.base.StudyKind` of this study."""
        return get_kind(self.kind)

    @property
    def sweep_dims(self) -> tuple[str, ...]:
        """Names of the sweep dimensions, in file order."""
        return tuple(name for name, _ in self.sweep)

    @property
    def sweep_shape(self) -> tuple[int, ...]:
        """Number of values along each sweep dimension."""
        return tuple(len(values) for _, values in self.sweep)

    def points(self) -> list[dict[str, Scalar]]:
        """All parameter points (outer product of the sweep), the last dimension fastest."""
        names = self.sweep_dims
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(values for _, values in self.sweep))
        ]

    def resolve(self, point: Mapping[str, Scalar]) -> tuple[ModelSpec, Any]:
        """Model and settings with the swept keys set to ``point``'s values."""
        model_values = {k: v for k, v in point.items() if k in SWEEPABLE["model"]}
        model = dataclasses.replace(self.model, **model_values)  # type: ignore[arg-type]
        return model, self.settings.at(point)

    def largest_model(self) -> ModelSpec:
        """The model of the parameter point with the most sites (the first of them)."""
        return max((self.resolve(point)[0] for point in self.points()), key=lambda m: m.n)

    def spec_hash(self, *, realizations: int | None = None) -> str:
        """SHA-256 of the normalized spec (comments, layout and description excluded).

        With ``realizations``: the hash this study would have with that many realizations and
        nothing else changed. Realization k draws the same fields and state whatever the
        count (:func:`echo_lab.physics.models.disorder_seeds`), so a checkpoint can tell the units
        of a smaller or larger ensemble of the same study apart from another study's.
        """
        text = self.normalized
        if realizations is not None and realizations != self.realizations:
            content = json.loads(text)
            content["realizations"] = realizations
            text = _dump_normalized(content)
        return hashlib.sha256(text.encode()).hexdigest()


def section_keys(kind: StudyKind) -> dict[str, tuple[str, ...]]:
    """Every section a file of ``kind`` may hold ([study], [model], then the kind's required and
    optional sections) with the keys the loader lets through: the kind's own ``keys`` for the
    sections it names there, the shared keys of the others. (A section may narrow them further:
    [model] by ``type``, [backend] and [check] by the backend named.)"""
    sections = ("study", "model", *kind.required, *kind.optional)
    return {
        section: tuple(kind.keys.get(section, _COMMON_KEYS.get(section, ())))
        for section in sections
    }


def known_keys() -> dict[str, tuple[str, ...]]:
    """Every section a study file may hold (for some kind) with every key it may hold."""
    keys = {section: list(values) for section, values in _COMMON_KEYS.items()}
    for kind in KINDS.values():
        for section, values in kind.keys.items():
            keys.setdefault(section, []).extend(values)
    return {section: tuple(dict.fromkeys(values)) for section, values in keys.items()}


def _normalize(value: Any) -> Any:
    """Plain JSON data for hashing (dataclasses, tuples and NoiseSpec objects flattened)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _normalize(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    return value


def _dump_normalized(content: Any) -> str:
    """The text :meth:`StudySpec.spec_hash` hashes: ``content`` as JSON with sorted keys."""
    return json.dumps(content, sort_keys=True, default=repr)


def _nesting(value: Any) -> int:
    """Depth of nested tables and arrays (iterative: a deep document must not recurse)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _read_toml(text: str, source: str) -> dict[str, Any]:
    """The TOML document, or a ConfigError for bad syntax or absurd nesting."""
    if not isinstance(text, str):
        raise ConfigError(f"{source} must be TOML text (a str), got {type(text).__name__}")
    depth = max(text.count("["), text.count("{"))
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{source} is not valid TOML: {exc}; fix the syntax at that line"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{source} nests tables or arrays about {depth} levels deep, more than the TOML "
            f"parser can follow; a study file needs at most {MAX_NESTING}"
        ) from None
    if _nesting(raw) > MAX_NESTING:
        raise ConfigError(
            f"{source} nests tables or arrays more than {MAX_NESTING} levels deep; a study file "
            "needs three"
        )
    return raw


def _sections(raw: Mapping[str, Any], kind: StudyKind) -> dict[str, Table]:
    """The kind's sections (besides [study] and [model]) as tables checked for unknown keys."""
    required = ("study", "model", *kind.required)
    allowed = required + kind.optional
    keys = section_keys(kind)
    for section in raw:
        if section not in allowed:
            names = ", ".join(f"[{s}]" for s in allowed)
            raise ConfigError(
                f"unknown section [{quote(section)[1:-1]}] for a {kind.name} study; allowed: "
                f"{names}"
            )
    for section in required:
        if section not in raw:
            raise ConfigError(f"missing required section [{section}] for a {kind.name} study")
    return {
        section: Table(raw[section], section, keys[section])
        for section in allowed[2:]
        if section in raw
    }


def _check_sweep(
    raw: Mapping[str, Any], kind: StudyKind, sweep: Mapping[str, tuple[Scalar, ...]]
) -> None:
    """Every sweep dimension must be a key the kind declares sweepable (``kind.sweepable``)."""
    for key, values in sweep.items():
        if key in kind.sweep_keys:
            continue
        section = next(
            (s for s, table in raw.items() if isinstance(table, dict) and key in table), "?"
        )
        swept = ", ".join(f"{s}.{k}" for s, ks in kind.sweepable.items() for k in ks)
        raise ConfigError(
            f"{section}.{key} lists {len(values)} values, but a {kind.name} study cannot sweep "
            f"it; give one value (the keys it sweeps: {swept or 'none'})"
        )


def _resolve_auto_backends(spec: StudySpec) -> StudySpec:
    """``spec`` with every ``name = "auto"`` backend of its settings replaced by the backend
    :func:`~echo_lab.backends.auto.resolve_auto_backend` chooses at the largest n of the sweep and
    the longest time of the settings that hold it (the study's times; a ``[check]``'s own), and
    the choices in ``backend_choices``, by table (the settings field that holds it)."""
    n = spec.largest_model().n
    choices: list[tuple[str, BackendChoice]] = []

    def resolved(value: Any, table: str, times: Any) -> Any:
        if isinstance(value, BackendSpec):
            if value.name != AUTO:
                return value
            longest = max((float(t) for t in times), default=0.0)
            backend, choice = resolve_auto_backend(value, n=n, longest_time=longest)
            choices.append((table, choice))
            return backend
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        own_times = getattr(value, "times", None)
        own_times = times if own_times is None else own_times
        changes = {}
        for field in dataclasses.fields(value):
            old = getattr(value, field.name)
            new = resolved(old, table or field.name, own_times)
            if new is not old:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value

    settings = resolved(spec.settings, "", ())
    if not choices:
        return spec
    return dataclasses.replace(spec, settings=settings, backend_choices=tuple(choices))


def parse_spec(text: str, *, source: str = "<string>") -> StudySpec:
    """Validate study TOML ``text``; ``source`` names it in error messages.

    Cheap (no numerics beyond building the time grid and small lattices). Raises
    :class:`ConfigError` for any invalid input, naming the dotted key and the fix.
    """
    raw = _read_toml(text, source)
    if "study" not in raw:
        raise ConfigError(f"{source} has no [study] table; add one with name and kind")
    study = Table(raw["study"], "study", _COMMON_KEYS["study"])
    kind = get_kind(study.string("kind", choices=tuple(KINDS)))
    tables = _sections(raw, kind)
    name = study.string("name")
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"study.name = {quote(name)} must be a plain file name of at most 100 letters, "
            "digits, '_', '-' and '.', starting with a letter or digit (it names the output files)"
        )
    realizations = int(scalar(study, "realizations", 1, integer=True, minimum=1, maximum=MAX_UNITS))
    seed = int(scalar(study, "seed", 0, integer=True, minimum=0, maximum=MAX_SEED))
    sweep: dict[str, tuple[Scalar, ...]] = {}
    model = parse_model(Table(raw["model"], "model", _COMMON_KEYS["model"]), sweep)
    settings = kind.parse(tables, sweep=sweep)
    _check_sweep(raw, kind, sweep)
    points = math.prod(len(values) for values in sweep.values())
    if points * realizations > MAX_UNITS:
        raise ConfigError(
            f"the study has {points} parameter points x {realizations} realizations = "
            f"{points * realizations} work units (at most {MAX_UNITS}); shorten the sweep lists "
            "or study.realizations"
        )
    spec = StudySpec(
        name=name,
        kind=kind.name,
        description=study.string("description", ""),
        realizations=realizations,
        seed=seed,
        model=model,
        settings=settings,
        sweep=tuple(sweep.items()),
        text=text,
        normalized="",
    )
    spec = _resolve_auto_backends(spec)
    kind.check(spec)
    # the choices' reasons name this machine's memory and packages: the hash takes the backends
    content = _normalize(dataclasses.replace(spec, text="", description=""))
    del content["backend_choices"]
    normalized = _dump_normalized(content)
    return dataclasses.replace(spec, normalized=normalized)


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file (see :func:`parse_spec`).

    Only a regular file of at most :data:`MAX_STUDY_FILE_BYTES` is read (at most that many bytes
    plus one, :func:`echo_lab.study.results.read_regular_file`): ``/dev/zero``, a pipe or a huge
    file is refused with a ConfigError instead of being read until memory runs out.
    """
    from echo_lab.study.results import read_regular_file

    path = Path(path)
    try:
        data = read_regular_file(path, limit=MAX_STUDY_FILE_BYTES)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"study file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"study file {path} is a directory; give the study's TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"study file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise ConfigError(
                f"study file {path} is larger than {MAX_STUDY_FILE_BYTES // 2**20} MiB; a study "
                "file is a few KiB of TOML: check the path"
            ) from None
        if exc.errno == errno.EINVAL:
            raise ConfigError(
                f"study file {path} is not a regular file (a device, pipe or socket); give a "
                "TOML file"
            ) from None
        raise ConfigError(f"cannot read study file {path}: {exc.strerror or exc}") from None
    return parse_spec(text, source=str(path))
