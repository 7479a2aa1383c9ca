"""Stage timing: exclusive times of nested stages, nothing recorded without a recorder."""

from __future__ import annotations

import time

from echo_lab import models, spectrum
from echo_lab.timing import record_stages, stage


def test_nested_stages_are_exclusive_and_add_up() -> None:
    start = time.perf_counter()
    with record_stages() as seconds:
        with stage("outer"):
            time.sleep(0.02)
            with stage("inner"):
                time.sleep(0.05)
            with stage("inner"):
                time.sleep(0.05)
    total = time.perf_counter() - start
    assert seconds["inner"] >= 0.1
    # the outer stage holds its own 20 ms, not the 100 ms spent inside "inner"
    assert 0.02 <= seconds["outer"] < 0.06
    assert seconds["outer"] + seconds["inner"] <= total


def test_stages_recorded_only_inside_a_recorder() -> None:
    H = models.RandomFieldXXZ(n=4, W=2.0, seed=1).hamiltonian()
    spectrum.diagonalize(H)  # no recorder: must not fail or leak
    with record_stages() as seconds:
        spectrum.diagonalize(H)
        with record_stages() as inner:
            spectrum.diagonalize(H)
    assert set(seconds) == {"diagonalization"}
    assert set(inner) == {"diagonalization"}
