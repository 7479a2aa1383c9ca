"""Memory estimates and refusals."""

from __future__ import annotations

import pytest

from echo_lab.errors import ResourceError
from echo_lab.resources import (
    available_memory_bytes,
    density_matrix_bytes,
    format_bytes,
    parse_bytes,
    require_memory,
    statevector_bytes,
)


def test_sizes() -> None:
    assert statevector_bytes(30) == 16 * 2**30
    assert density_matrix_bytes(16) == 16 * 2**32
    assert format_bytes(3 * 2**30) == "3.0 GiB"
    assert parse_bytes("512M") == 512 * 2**20
    assert parse_bytes("2GiB") == 2 * 2**30


def test_refusal_names_estimate_and_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_LAB_MEMORY_LIMIT", "1G")
    assert available_memory_bytes() == 2**30
    with pytest.raises(
        ResourceError, match=r"a 40-qubit state vector needs about 16\.0 TiB.*smaller"
    ):
        require_memory(
            statevector_bytes(40), what="a 40-qubit state vector", suggestion="Use a smaller n."
        )
    require_memory(statevector_bytes(20), what="a 20-qubit state vector", suggestion="")
