"""Stage timing: exclusive times of nested stages, nothing recorded without a recorder."""

from __future__ import annotations

import pytest

from echo_lab import timing
from echo_lab.physics import models, spectrum
from echo_lab.timing import record_stages, stage


def test_nested_stages_are_exclusive_and_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    def spend(seconds: float) -> None:
        clock[0] += seconds

    with record_stages() as seconds:
        with stage("outer"):
            spend(2.0)
            with stage("inner"):
                spend(5.0)
            with stage("inner"):
                with stage("innermost"):
                    spend(1.0)
                spend(4.0)
        spend(100.0)  # outside every stage: not counted
    assert seconds == {"outer": 2.0, "inner": 9.0, "innermost": 1.0}
    assert sum(seconds.values()) == 12.0


def test_stages_recorded_only_inside_a_recorder() -> None:
    H = models.RandomFieldXXZ(n=4, W=2.0, seed=1).hamiltonian()
    spectrum.diagonalize(H)  # no recorder: must not fail or leak
    with record_stages() as seconds:
        spectrum.diagonalize(H)
        with record_stages() as inner:
            spectrum.diagonalize(H)
    assert set(seconds) == {"diagonalization"}
    assert set(inner) == {"diagonalization"}
