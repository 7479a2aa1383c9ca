"""The examples in the package's docstrings run and give what they show.

Every module of echo_lab whose source holds a ``>>>`` example is imported by its dotted name and
checked with :mod:`doctest` (the flat alias modules ``echo_lab.models`` / ``echo_lab.trotter``
are the same objects as ``echo_lab.physics.models`` / ``echo_lab.dynamics.trotter`` and are
checked there).
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "echo_lab"


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = importlib.import_module(name)
        if Path(module.__file__ or "").resolve() != path.resolve():
            continue  # an alias of a module checked under its own name
        names.append(name)
    return names


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert {"echo_lab.lbits.fidelity", "echo_lab.bench.records"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, name
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
