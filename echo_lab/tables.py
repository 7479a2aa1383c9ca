"""Typed reading of TOML tables: every value checked, every error naming its dotted key.

The study loader (:mod:`echo_lab.study.spec`), the study kinds (:mod:`echo_lab.study.kinds`) and the
backend options (:mod:`echo_lab.backends.options`) read their sections through :class:`Table`
and the number helpers here, so a wrong value always gives the same kind of message::

    model.n must be an integer, got 'six' (str)
    unknown key 'width' in [model]; allowed: type, n, J, Jz, W, g, lattice, Lx, Ly

Every function raises :class:`~echo_lab.errors.ConfigError` and nothing else. Values quoted in
messages are shortened to :data:`MAX_QUOTED` characters.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

from echo_lab.errors import ConfigError

__all__ = [
    "MAX_QUOTED",
    "Scalar",
    "Table",
    "int_list",
    "number",
    "optional_scalar",
    "quote",
    "scalar",
    "string_list",
    "sweepable",
    "time_values",
]

Scalar = int | float

#: Longest text of a value quoted in an error message (longer values are cut with "...").
MAX_QUOTED = 80

#: Largest magnitude of an integer (values are stored as 64-bit NetCDF attributes).
MAX_INTEGER = 2**63 - 1


def quote(value: object) -> str:
    """``repr(value)``, cut to :data:`MAX_QUOTED` characters."""
    text = repr(value)
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."


def _type_name(value: object) -> str:
    return type(value).__name__


class Table:
    """One TOML table with its dotted name; typed getters raise ConfigError naming the key.

    Unknown keys (not in ``allowed``) are rejected when the table is made. ``prefix`` replaces
    ``"<name>."`` in messages (command-line options use ``"--"``).
    """

    def __init__(
        self, data: Any, name: str, allowed: Sequence[str], *, prefix: str | None = None
    ) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}] must be a table, got {_type_name(data)}")
        unknown = [key for key in data if key not in allowed]
        if unknown:
            raise ConfigError(
                f"unknown key {quote(unknown[0])} in [{name}]; allowed: {', '.join(allowed)}"
            )
        self.data: dict[str, Any] = data
        self.name = name
        self.prefix = f"{name}." if prefix is None else prefix

    def restrict(self, allowed: Sequence[str]) -> Table:
        """The same table, checked against a narrower list of keys."""
        return Table(self.data, self.name, allowed, prefix=self.prefix)

    def key(self, key: str) -> str:
        """Name of ``key`` in messages: ``"<table>.<key>"``, or ``prefix + key`` (e.g.
        ``"--Jz"`` for command-line options read through a Table)."""
        return f"{self.prefix}{key}"

    def has(self, key: str) -> bool:
        return key in self.data

    def require(self, key: str, what: str) -> Any:
        """The value of ``key``; missing: ConfigError saying to give ``what``."""
        if key not in self.data:
            raise ConfigError(f"missing required key {self.key(key)}: give {what}")
        return self.data[key]

    def string(
        self, key: str, default: str | None = None, *, choices: Sequence[str] | None = None
    ) -> str:
        """A string (``default`` when absent; required when ``default`` is None)."""
        value = self.data.get(key, default)
        if value is None:
            value = self.require(
                key, "a string" + (f" (one of {', '.join(choices)})" if choices else "")
            )
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(key)} must be a string, got {quote(value)}")
        if choices is not None and value not in choices:
            raise ConfigError(
                f"{self.key(key)} = {quote(value)} is not known; choose one of {', '.join(choices)}"
            )
        return value

    def optional_string(self, key: str, *, choices: Sequence[str]) -> str | None:
        """A string from ``choices``, or None when absent."""
        return self.string(key, choices=choices) if self.has(key) else None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(key)} must be true or false, got {quote(value)}")
        return value

    def table(self, key: str, allowed: Sequence[str]) -> Table:
        """The sub-table ``key`` (checked against ``allowed``)."""
        return Table(self.data[key], self.key(key), allowed)


def number(
    value: Any,
    dotted: str,
    *,
    integer: bool,
    minimum: float | None,
    maximum: float | None = None,
) -> Scalar:
    """``value`` as an int (``integer``) or float, finite, within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{dotted} must be {kind}, got {quote(value)} ({_type_name(value)})")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{dotted} must be an integer, got {quote(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"{dotted} must be finite, got {value!r}; give a finite number")
    # the minimum first: a huge negative seed is told that it must be >= 0, not to be smaller
    if minimum is not None and value < minimum:
        raise ConfigError(f"{dotted} must be >= {minimum:g}, got {quote(value)}")
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        fix = "a smaller number" if value > 0 else "a number closer to zero"
        raise ConfigError(f"{dotted} = {quote(value)} does not fit in 64 bits; give {fix}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{dotted} must be <= {maximum:g}, got {quote(value)}")
    return int(value) if integer else float(value)


def scalar(
    table: Table,
    key: str,
    default: Scalar | None,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Scalar:
    """The number ``table[key]``, or ``default`` when absent (required when it is None)."""
    if key not in table.data:
        if default is None:
            table.require(key, "an integer" if integer else "a number")
        assert default is not None
        return default
    return number(
        table.data[key], table.key(key), integer=integer, minimum=minimum, maximum=maximum
    )


def optional_scalar(
    table: Table,
    key: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Scalar | None:
    """The number ``table[key]``, or None when absent."""
    if key not in table.data:
        return None
    return number(
        table.data[key], table.key(key), integer=integer, minimum=minimum, maximum=maximum
    )


def sweepable(
    table: Table,
    key: str,
    default: Scalar | None,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> tuple[Scalar, ...]:
    """A number or a non-empty list of distinct numbers (a sweep dimension)."""
    value = table.data.get(key, default)
    if value is None:
        table.require(key, "an integer" if integer else "a number")
    check = functools.partial(number, integer=integer, minimum=minimum, maximum=maximum)
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{table.key(key)} is an empty list; give at least one value")
        values = tuple(check(v, f"{table.key(key)}[{i}]") for i, v in enumerate(value))
        if len(set(values)) != len(values):
            raise ConfigError(
                f"{table.key(key)} repeats a value: {quote(list(values))}; list each once"
            )
        return values
    return (check(value, table.key(key)),)


def string_list(table: Table, key: str, default: Sequence[str]) -> tuple[str, ...]:
    """A string or a non-empty list of distinct strings."""
    value = table.data.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{table.key(key)} must be a string or a list of strings, got {quote(value)}"
        )
    if not value:
        raise ConfigError(f"{table.key(key)} is an empty list; give at least one value")
    if len(set(value)) != len(value):
        raise ConfigError(f"{table.key(key)} repeats a value: {quote(value)}; list each once")
    return tuple(value)


def int_list(table: Table, key: str, *, minimum: int) -> tuple[int, ...]:
    """A non-empty list of distinct integers >= ``minimum``."""
    value = table.data[key]
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{table.key(key)} must be a non-empty list of integers, got {quote(value)}"
        )
    out = tuple(
        int(number(v, f"{table.key(key)}[{i}]", integer=True, minimum=minimum))
        for i, v in enumerate(value)
    )
    if len(set(out)) != len(out):
        raise ConfigError(f"{table.key(key)} repeats a value: {quote(list(out))}; list each once")
    return out


def time_values(raw: Any, dotted: str, *, max_times: int, max_time: float) -> tuple[float, ...]:
    """An explicit list of times: non-empty, finite, in [0, max_time], strictly increasing."""
    if not isinstance(raw, list):
        raise ConfigError(f"{dotted} must be a list of times, got {quote(raw)}")
    if not raw:
        raise ConfigError(f"{dotted} is empty: the time grid needs at least one time")
    if len(raw) > max_times:
        raise ConfigError(f"{dotted} lists {len(raw)} times; at most {max_times} are allowed")
    values = [
        float(number(v, f"{dotted}[{i}]", integer=False, minimum=0.0, maximum=max_time))
        for i, v in enumerate(raw)
    ]
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigError(f"{dotted} must be strictly increasing; sort the list and drop repeats")
    return tuple(values)
