"""The generated study-file reference agrees with the loader: every section and key it lists is
accepted by ``parse_spec`` for the kinds it names, every other key the loader knows is refused
there, and the defaults it shows are those the loader fills in."""

from __future__ import annotations

import copy
import inspect
import itertools
import re
import tomllib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tomli_w

from echo_lab.backends.auto import AUTO
from echo_lab.backends.options import RULES, table_rules
from echo_lab.backends.registry import backend_names
from echo_lab.errors import ConfigError
from echo_lab.study.kinds import KINDS
from echo_lab.study.reference import key_doc, study_file_reference
from echo_lab.study.spec import StudySpec, known_keys, parse_spec

#: The messages of a key or section the loader does not accept (any other error is about the
#: value, so the key itself was accepted).
REFUSED = re.compile(r"unknown key|unknown section|is not used by backend")

#: A small valid file of each kind (as TOML tables).
BASES: dict[str, dict[str, Any]] = {
    "echo": {"protocol": {}, "times": {"values": [1.0]}},
    "echo_scaling": {"protocol": {"pulses": ["pbit", "lbit"]}, "times": {"values": [1.0]}},
    "entanglement": {"times": {"values": [1.0]}},
    "deer": {"protocol": {"partner_distances": [1]}, "times": {"values": [1.0]}},
    "level_statistics": {},
    "lbit_locality": {"protocol": {"partner_distances": [1]}, "times": {"values": [1.0]}},
    "hardware_echo": {"protocol": {}, "times": {"values": [1.0]}, "devices": {}},
}

#: What a [check] needs besides the key under test.
CHECK = {"backend": "krylov", "times": [1.0]}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The reference as read back from its Markdown: sections and keys (with their default
    cells) per kind, and the model types of type-restricted keys."""
    text = study_file_reference()
    keys: dict[tuple[str, str], dict[str, str]] = {}
    only: dict[str, str] = {}
    kinds_of: dict[str, list[str]] = {}
    section = group = None
    for line in text.splitlines():
        if match := re.fullmatch(r"## \[(\w+)\]", line):
            section, group = match[1], None
            kinds_of[section] = list(KINDS) if section in ("study", "model") else []
        elif match := re.fullmatch(r"### \[(\w+)\] of kind (.*)", line):
            group = re.findall(r"`(\w+)`", match[2])
        elif line.startswith("### "):
            section = None  # backend options and noise: not keys of a section
        elif line.startswith("Kinds: ") and section is not None:
            kinds_of[section] = re.findall(r"`(\w+)`", line)
        elif section is not None and (
            match := re.match(r"\| `(\w+)` \| ([^|]*) \| (.*?) \|", line)
        ):
            key, default = match[1], match[3]
            for kind in group or kinds_of[section]:
                keys.setdefault((kind, section), {})[key] = default
            if scope := re.search(r"Only with type = '(\w+)'", line):
                only[key] = scope[1]
    return {"text": text, "keys": keys, "kinds_of": kinds_of, "only": only}


def study_text(kind: str, tables: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"study": {"name": "ref", "kind": kind}, "model": {"n": 4}}
    for section, table in copy.deepcopy({**BASES[kind], **(tables or {})}).items():
        document.setdefault(section, {}).update(table)
    return tomli_w.dumps(document)


def refusal(text: str) -> str | None:
    """The loader's message if it refuses a key or section of ``text``, else None."""
    try:
        parse_spec(text)
    except ConfigError as exc:
        return str(exc) if REFUSED.search(str(exc)) else None
    return None


def example(kind: str, section: str, key: str) -> Any:
    doc = key_doc(KINDS[kind], section, key)
    assert doc is not None and doc.example, (kind, section, key)
    return tomllib.loads(f"value = {doc.example}")["value"]


def table_with(kind: str, section: str, key: str, value: Any) -> dict[str, Any]:
    """The section holding ``key = value`` (and what [backend] / [check] need for that key)."""
    table: dict[str, Any] = dict(CHECK) if section == "check" else {}
    name_key = {"backend": "name", "check": "backend"}.get(section)
    if name_key and key != name_key:
        table[name_key] = next(
            (name for name, rules in RULES.items() if key in rules.keys), "exact"
        )
    table[key] = value
    return {section: {**BASES[kind].get(section, {}), **table}}


def test_every_section_listed_for_a_kind_is_accepted_and_no_other(reference: dict) -> None:
    sections = {*reference["kinds_of"], "not_a_section"}
    for kind in KINDS:
        for section in sections:
            listed = kind in reference["kinds_of"].get(section, ())
            text = study_text(kind, {section: {}})
            message = refusal(text)
            assert (message is None or "unknown section" not in message) == listed, (
                kind,
                section,
                message,
            )


def test_every_key_listed_for_a_kind_is_accepted_and_every_other_refused(
    reference: dict,
) -> None:
    known = known_keys()
    checked = 0
    for (kind, section), listed in reference["keys"].items():
        candidates = {
            *listed,
            *known.get(section, ()),
            *(k for (_, s), keys in reference["keys"].items() if s == section for k in keys),
            "not_a_key",
        }
        for key in sorted(candidates):
            value = example(kind, section, key) if key in listed else 1
            if (section, key) == ("study", "kind"):
                value = kind
            message = refusal(study_text(kind, table_with(kind, section, key, value)))
            if key in listed:
                assert message is None, (kind, section, key, message)
            else:
                assert message is not None, (kind, section, key)
            checked += 1
    assert checked > 300


def test_keys_of_one_model_type_are_refused_for_the_other(reference: dict) -> None:
    assert reference["only"] == {"J": "xxz"}
    for key, model_type in reference["only"].items():
        other = next(t for t in ("xxz", "ising") if t != model_type)
        text = study_text("echo", {"model": {"type": other, key: 1.0}})
        assert refusal(text) is not None


def test_every_key_is_described_with_an_example(reference: dict) -> None:
    assert "(not described)" not in reference["text"]
    for (kind, section), keys in reference["keys"].items():
        for key in keys:
            doc = key_doc(KINDS[kind], section, key)
            assert doc is not None and doc.type and doc.text, (kind, section, key)
            example(kind, section, key)


def test_the_noise_and_option_tables_list_what_the_backends_accept(reference: dict) -> None:
    from echo_lab.backends.noise import NoiseSpec

    text = reference["text"]
    noise = text[text.index("### [backend.noise]") :].split("\n## ")[0]
    listed = re.findall(r"^\| `(\w+)` \| ", noise, flags=re.MULTILINE)
    fields = [f.name for f in NoiseSpec.__dataclass_fields__.values() if f.name != "backend"]
    assert listed == fields
    for key in listed:
        value = [0] if key == "static_dephasing_qubits" else 1
        backend = {"name": "aer", "method": "density_matrix", "noise": {key: value}}
        assert refusal(study_text("echo", {"backend": backend})) is None, key
    backend = {"name": "aer", "noise": {"not_a_key": 1.0}}
    assert refusal(study_text("echo", {"backend": backend})) is not None
    options = text[text.index("### backend.options") : text.index("### [backend.noise]")]
    rows = re.findall(r"^\| `([\w-]+)` \| `(\w+)` \| ([^|]+) \|", options, flags=re.MULTILINE)
    assert {(name, option) for name, option, _ in rows} == {
        (name, option) for name in (*backend_names(), AUTO) for option in table_rules(name).options
    }
    values = {"integer": 1, "float": 0.5, "string": "double", "table": {}}
    for name, option, kind in rows:
        value = values[kind.split(" or ")[0].strip()]
        backend = {"name": name, "options": {option: value}}
        with_options = study_text("echo", {"backend": backend})
        try:
            parse_spec(with_options)
        except ConfigError as exc:  # the value may be refused, never the option
            assert "is not an option" not in str(exc), (name, option)


def _aer_default(parameter: str) -> Any:
    from echo_lab.backends.aer import AerBackend

    return inspect.signature(AerBackend.__init__).parameters[parameter].default


def _devices(spec: StudySpec, which: Callable[[Any], bool]) -> list[str]:
    return [s.device for s in spec.settings.settings if which(s)]


#: How to read the value the loader filled in for a key left out: (kind, section, key) ->
#: (tables to add, reader). ``kind`` None: every kind listing the key.
READERS: dict[tuple[str | None, str, str], tuple[dict[str, Any], Callable[[StudySpec], Any]]] = {
    (None, "study", "description"): ({}, lambda s: s.description),
    (None, "study", "realizations"): ({}, lambda s: s.realizations),
    (None, "study", "seed"): ({}, lambda s: s.seed),
    **{
        (None, "model", key): ({}, lambda s, k=key: getattr(s.model, k))
        for key in ("type", "J", "Jz", "W", "lattice")
    },
    ("lbit_locality", "lbits", "method"): ({}, lambda s: s.settings.lbits.methods),
    (None, "lbits", "method"): ({}, lambda s: s.settings.lbits.method),
    **{
        (None, "lbits", key): ({}, lambda s, k=key: getattr(s.settings.lbits, k))
        for key in ("circuit_block", "circuit_layers", "circuit_cost", "circuit_iterations")
    },
    (None, "protocol", "sequence"): ({}, lambda s: s.settings.protocol.sequence),
    (None, "protocol", "fid"): ({}, lambda s: s.settings.protocol.fid),
    (None, "protocol", "probe"): ({}, lambda s: s.settings.protocol.probe),
    (None, "protocol", "background"): ({}, lambda s: s.settings.protocol.backgrounds),
    (None, "protocol", "n_pulses"): ({}, lambda s: s.settings.protocol.n_pulses),
    (None, "protocol", "pulses"): ({}, lambda s: [p.label for p in s.settings.protocol.pulses]),
    (None, "protocol", "angle_error"): (
        {},
        lambda s: s.settings.protocol.pulses[0].angle_error,
    ),
    (None, "times", "spacing"): (
        {"times": {"start": 0.1, "stop": 10.0, "num": 3}},
        lambda s: "log" if np.allclose(s.settings.times, [0.1, 1.0, 10.0]) else "linear",
    ),
    (None, "backend", "name"): ({"backend": {}}, lambda s: s.settings.backend.name),
    (None, "backend", "dt"): (
        {"backend": {"name": "trotter-exact"}},
        lambda s: s.settings.backend.trotter.dt,
    ),
    (None, "backend", "order"): (
        {"backend": {"name": "trotter-exact"}},
        lambda s: s.settings.backend.trotter.order,
    ),
    (None, "backend", "method"): (
        {"backend": {"name": "aer"}},
        lambda s: s.settings.backend.method or _aer_default("method"),
    ),
    (None, "backend", "device"): (
        {"backend": {"name": "aer"}},
        lambda s: s.settings.backend.device or _aer_default("device"),
    ),
    (None, "check", "realizations"): ({"check": CHECK}, lambda s: s.settings.check.realizations),
    (None, "devices", "names"): ({}, lambda s: _devices(s, lambda d: True)),
    (None, "devices", "fractional"): ({}, lambda s: _devices(s, lambda d: d.fractional)),
    (None, "devices", "mitigated"): ({}, lambda s: _devices(s, lambda d: d.mitigation)),
    (None, "devices", "dt"): ({}, lambda s: s.settings.trotter.dt),
    (None, "devices", "order"): ({}, lambda s: s.settings.trotter.order),
    **{
        (None, "devices", key): ({}, lambda s, k=key: getattr(s.settings, k))
        for key in ("shots", "method", "pauli_noise", "pulse_budget", "randomizations", "seed")
    },
}


def _plain(value: Any) -> Any:
    """Tuples as lists, and a one-element list as its element (``"x"`` means ``["x"]``)."""
    if isinstance(value, tuple | list):
        value = [_plain(v) for v in value]
        return value[0] if len(value) == 1 else value
    return value


def test_the_defaults_shown_are_those_the_loader_fills_in(reference: dict) -> None:
    compared = set()
    for (kind, section), keys in reference["keys"].items():
        for key, cell in keys.items():
            reader = READERS.get((kind, section, key)) or READERS.get((None, section, key))
            if reader is None or not cell.startswith("`") or key in BASES[kind].get(section, {}):
                continue
            documented = tomllib.loads(f"value = {cell.strip('`')}")["value"]
            tables, read = reader
            got = read(parse_spec(study_text(kind, tables)))
            assert _plain(got) == _plain(documented), (kind, section, key, got, documented)
            compared.add((section, key))
    # every reader was used: the keys they read are still listed with a default
    assert compared == {(section, key) for _, section, key in READERS}


def test_the_mitigation_choices_are_those_of_the_hardware_layer() -> None:
    from echo_lab.hardware.mitigation import MITIGATIONS

    doc = key_doc(KINDS["hardware_echo"], "devices", "mitigation")
    assert doc is not None and doc.choices == MITIGATIONS


def test_the_reference_is_markdown_with_one_heading_per_section(reference: dict) -> None:
    text = reference["text"]
    assert text.startswith("# Study-file reference\n")
    headings = re.findall(r"^## \[(\w+)\]$", text, flags=re.MULTILINE)
    assert headings[:2] == ["study", "model"]
    assert set(headings) == set(known_keys())
    columns = 0
    for before, line in itertools.pairwise(["", *text.splitlines()]):
        cells = len(re.split(r"(?<!\\)\|", line)) - 2
        if line.startswith("|---"):
            columns = len(re.split(r"(?<!\\)\|", before)) - 2
            assert line == "|" + "---|" * columns
        elif line.startswith("| ") and not before.startswith("|"):
            columns = 0  # a header
        elif line.startswith("| "):
            assert cells == columns, line
        else:
            assert not before.startswith("| ") or line == "", (before, line)
