"""The study-file reference: every section and key a study file accepts, as Markdown.

:func:`study_file_reference` is built from the declarations the loader itself reads, so it
cannot list a key the loader refuses or miss one it accepts (the tests check both ways): the
kinds of the registry (:data:`echo_lab.study.kinds.KINDS`) with their sections, ``keys`` and
``sweepable`` keys, the shared keys of :func:`echo_lab.study.spec.section_keys`, the model types
(:data:`echo_lab.study.sections.MODEL_KEYS`) and the backend rules
(:data:`echo_lab.backends.options.RULES`, :class:`echo_lab.backends.noise.NoiseSpec`). What each
key means, its type, default and choices come from the kinds' ``key_docs`` and
:data:`echo_lab.study.keydocs.SHARED_DOCS`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterable, Sequence

from echo_lab.backends.auto import AUTO, AUTO_RULES
from echo_lab.backends.options import MPS_OPTIONS, RULES, BackendRules, backend_choices
from echo_lab.backends.registry import backend_names
from echo_lab.errors import ConfigError
from echo_lab.study.keydocs import NOISE_TEXT, SHARED_DOCS, KeyDoc, toml_value
from echo_lab.study.kinds import KINDS, StudyKind
from echo_lab.study.sections import MODEL_KEYS
from echo_lab.study.spec import section_keys

__all__ = ["key_doc", "section_order", "study_file_reference"]

_INTRO = """\
A study file is a TOML document run by `echo-lab run FILE.toml`. Every file has [study] and
[model]; `study.kind` decides which other sections it must and may hold, and which keys they
take. The loader refuses unknown sections and keys (naming the allowed ones), wrong types and
values out of range, before any computation. A list value of a key that the kind sweeps (last
column below) is a sweep dimension named after the key: the study runs the outer product of
all of them, `study.realizations` disorder realizations at each point.
"""


def _file_rules() -> dict[str, BackendRules]:
    """The [backend] rules of the backends a study file may name (not e.g. ``device``), and of
    ``auto``."""
    return {**{name: RULES[name] for name in backend_names()}, AUTO: AUTO_RULES}


def key_doc(kind: StudyKind, section: str, key: str) -> KeyDoc | None:
    """The description of ``[section] key`` in a file of ``kind``: the kind's own
    ``key_docs`` entry, else the shared one (:data:`~echo_lab.study.keydocs.SHARED_DOCS`), else
    None."""
    own = kind.key_docs.get(section, {})
    if key in own:
        return own[key]
    return SHARED_DOCS.get(section, {}).get(key)


def section_order() -> list[str]:
    """Every section some kind accepts: [study], [model], then in the order the kinds name
    them."""
    order = ["study", "model"]
    for kind in KINDS.values():
        order += [s for s in (*kind.required, *kind.optional) if s not in order]
    return order


#: Python types of backend options as TOML types.
_TOML_TYPES: dict[type, str] = {int: "integer", float: "float", str: "string", dict: "table"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`"


def _is_toml(text: str) -> bool:
    try:
        tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return False
    return True


def _names(items: Iterable[str]) -> str:
    return ", ".join(_code(item) for item in items)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _scope(section: str, key: str) -> str:
    """Which model types / backends take the key, where not all of them do."""
    if section == "model":
        types = [t for t, keys in MODEL_KEYS.items() if key in keys]
        if len(types) < len(MODEL_KEYS):
            return f"Only with type = {' or '.join(repr(t) for t in types)}. "
    if section in ("backend", "check"):
        backends = [name for name, rules in _file_rules().items() if key in rules.keys]
        if backends and len(backends) < len(_file_rules()):
            return f"Backends: {', '.join(backends)}. "
    return ""


def _key_row(section: str, key: str, doc: KeyDoc | None, sweepable: bool) -> list[str]:
    if doc is None:
        doc = KeyDoc("", "(not described)")
    kind = doc.type + (", or a list of them (a sweep dimension)" if sweepable else "")
    if doc.default:
        default = _code(doc.default) if _is_toml(doc.default) else doc.default
    else:
        default = "required" if doc.required else "-"
    choices = doc.choices
    if (section, key) == ("study", "kind"):
        choices = tuple(KINDS)
    elif (section, key) == ("backend", "name"):
        choices = backend_choices()
    return [_code(key), kind, default, _names(choices), _scope(section, key) + doc.text]


def _section_lines(section: str) -> list[str]:
    kinds = [kind for kind in KINDS.values() if section in section_keys(kind)]
    lines = [f"## [{section}]", ""]
    if section not in ("study", "model"):
        required = [k.name for k in kinds if section in k.required]
        optional = [k.name for k in kinds if section in k.optional]
        parts = [f"required by {_names(required)}"] if required else []
        parts += [f"optional in {_names(optional)}"] if optional else []
        lines += [f"Kinds: {'; '.join(parts)}.", ""]
    groups: dict[tuple[tuple[str, KeyDoc | None, bool], ...], list[str]] = {}
    rows: dict[tuple[tuple[str, KeyDoc | None, bool], ...], list[list[str]]] = {}
    for kind in kinds:
        swept = kind.sweepable.get(section, ())
        entries = [
            (key, key_doc(kind, section, key), key in swept) for key in section_keys(kind)[section]
        ]
        signature = tuple(entries)
        groups.setdefault(signature, []).append(kind.name)
        rows[signature] = [_key_row(section, *entry) for entry in entries]
    header = ("key", "type", "default", "choices", "description")
    for signature, names in groups.items():
        if len(groups) > 1:
            lines += [f"### [{section}] of kind {', '.join(map(_code, names))}", ""]
        lines += _table(header, rows[signature])
    if section == "backend":
        lines += _backend_lines()
    if section == "check":
        lines += [
            "[check] takes the [backend] keys of the backend it names (`check.backend`), as "
            "[backend] does; its options and noise are described there.",
            "",
        ]
    return lines


def _backend_lines() -> list[str]:
    """The options of each backend and the [backend.noise] keys."""
    lines = ["### backend.options", ""]
    rows = []
    for name, rules in _file_rules().items():
        for option, types in rules.options.items():
            kind = " or ".join(_TOML_TYPES.get(t, t.__name__) for t in types)
            note = ""
            if option == "mps_options":
                kind = "table"
                note = ", ".join(
                    f"`{key}` ({'integer' if integer else 'number'} >= {minimum:g})"
                    for key, (_, integer, minimum) in MPS_OPTIONS.items()
                )
            rows.append([_code(name), _code(option), kind, note])
    if rows:
        lines += _table(("backend", "option", "type", "keys"), rows)
    lines += ["### [backend.noise]", ""]
    noisy = [name for name, rules in _file_rules().items() if "noise" in rules.keys]
    try:
        from echo_lab.backends.noise import NoiseSpec
    except ConfigError as exc:  # Qiskit Aer is missing
        return [*lines, f"(not listed here: {exc})", ""]
    lines += [
        f"The noise of the circuits of {_names(noisy)}; times in 1/J, rates are probabilities.",
        "",
    ]
    names = {"float": "number", "int": "integer", "tuple[int, ...]": "list of integers"}
    rows = []
    for field in dataclasses.fields(NoiseSpec):
        if field.name == "backend":  # a Qiskit backend object: not expressible in TOML
            continue
        factory: Callable[[], object] | None = None
        if field.default_factory is not dataclasses.MISSING:
            factory = field.default_factory
        default = factory() if factory is not None else field.default
        rows.append(
            [
                _code(field.name),
                names.get(str(field.type), str(field.type)),
                _code(toml_value(default)),
                NOISE_TEXT.get(field.name, "(not described)"),
            ]
        )
    return lines + _table(("key", "type", "default", "description"), rows)


def _kinds_lines() -> list[str]:
    rows = []
    for kind in KINDS.values():
        swept = [f"{section}.{key}" for section, keys in kind.sweepable.items() for key in keys]
        rows.append(
            [
                _code(kind.name),
                ", ".join(f"[{s}]" for s in ("study", "model", *kind.required)),
                ", ".join(f"[{s}]" for s in kind.optional) or "-",
                _names(swept) or "-",
            ]
        )
    header = ("kind", "required sections", "optional sections", "sweepable keys")
    return ["## Study kinds", "", *_table(header, rows)]


def study_file_reference() -> str:
    """Every section and key a study file accepts, as Markdown: the study kinds with their
    sections and sweepable keys, then one table of keys per section (type, default, choices,
    description; per kind where the kinds differ), the options of each backend and the
    [backend.noise] keys. Generated from the declarations the loader reads (module docstring);
    cheap (no numerics)."""
    lines = ["# Study-file reference", "", _INTRO, *_kinds_lines()]
    for section in section_order():
        lines += _section_lines(section)
    return "\n".join(lines).rstrip("\n") + "\n"
