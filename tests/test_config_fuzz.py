"""Property tests of the study-file loader: any TOML document is accepted or refused cleanly.

The loader must either return a :class:`~echo_lab.study.spec.StudySpec` or raise one of the
package's own errors (:class:`~echo_lab.errors.EchoLabError`); a ``KeyError``, ``TypeError``,
``ValueError``, ``MemoryError`` or ``OverflowError`` escaping from it is a bug. The documents
are random tables built from the real section and key names with random values, and random
mutations (a key deleted, a value replaced, a key added, text cut or spliced) of the real files
in ``experiments/``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from echo_lab.errors import EchoLabError
from echo_lab.study.spec import KINDS, known_keys, parse_spec

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))
ALL_KEYS = known_keys()
SECTIONS = (*ALL_KEYS, "noise")
KEYS = sorted({key for keys in ALL_KEYS.values() for key in keys})
CHOICES = (
    *KINDS,
    "xxz",
    "ising",
    "chain",
    "periodic-chain",
    "square",
    "overlap",
    "range",
    "hahn",
    "cpmg",
    "xy4",
    "global",
    "pbit",
    "lbit",
    "lbit:1",
    "lbit:99",
    "center",
    "z-random",
    "x",
    "neel",
    "exact",
    "krylov",
    "trotter-exact",
    "aer",
    "estimator",
    "statevector",
    "density_matrix",
    "matrix_product_state",
    "GPU",
    "log",
    "linear",
    "a/b",
    "",
)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.1, 1.0, 1e-300, 1e300, 2.0**63]),
)
scalars = st.one_of(st.sampled_from(CHOICES), numbers, st.booleans(), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=8,
)
tables = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=6)), values, max_size=6
)
documents = st.dictionaries(st.sampled_from(SECTIONS), tables, max_size=7)

REAL = [tomllib.loads(path.read_text()) for path in EXPERIMENTS]


def assert_loads_or_refuses(text: str) -> None:
    """The property: a spec comes back, or an EchoLabError names the problem."""
    try:
        spec = parse_spec(text, source="fuzz.toml")
    except EchoLabError as exc:
        assert str(exc), "an error without a message"
        return
    assert spec.realizations >= 1 and spec.model.n >= 2
    assert spec.spec_hash() == parse_spec(text).spec_hash()


SECTION_KEYS = dict(ALL_KEYS)


@st.composite
def mutated_experiments(draw: st.DrawFn) -> dict[str, Any]:
    """A real experiment file with a few of its real keys deleted, replaced or added."""
    original = draw(st.sampled_from(REAL))
    document = {k: dict(v) if isinstance(v, dict) else v for k, v in original.items()}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        section = draw(
            st.one_of(st.sampled_from(sorted(document)), st.sampled_from(sorted(SECTION_KEYS)))
        )
        table = document.setdefault(section, {})
        if not isinstance(table, dict):
            continue
        action = draw(st.sampled_from(["delete", "replace", "replace", "add"]))
        if action == "delete" and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif action == "replace" and table:
            table[draw(st.sampled_from(sorted(table)))] = draw(values)
        else:
            table[draw(st.sampled_from(SECTION_KEYS.get(section, KEYS)))] = draw(values)
    return document


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@FUZZ
@given(documents)
def test_random_documents_load_or_raise_our_error(document: dict[str, Any]) -> None:
    assert_loads_or_refuses(tomli_w.dumps(document))


@FUZZ
@given(mutated_experiments())
def test_mutated_experiment_files_load_or_raise_our_error(document: dict[str, Any]) -> None:
    assert_loads_or_refuses(tomli_w.dumps(document))


@FUZZ
@given(
    st.sampled_from(EXPERIMENTS),
    st.integers(min_value=0, max_value=4000),
    st.integers(min_value=0, max_value=40),
    st.text(max_size=6),
)
def test_cut_and_spliced_text_loads_or_raises_our_error(
    path: Path, start: int, length: int, insert: str
) -> None:
    text = path.read_text()
    start = min(start, len(text))
    assert_loads_or_refuses(text[:start] + insert + text[start + length :])
