"""A whole study, end to end, with the time of each stage measured where the work happens.

The package marks its expensive steps with :func:`echo_lab.timing.stage`; this benchmark runs
the study inside :func:`echo_lab.timing.record_stages` and reports the exclusive time of each
stage of :data:`echo_lab.timing.STAGES` that the run entered, and ``other`` for the rest
(configuration, seeding, dataset assembly). Stages a run never entered are listed as
``stages_not_marked``. No profiler: the times are those of a normal run.
"""

from __future__ import annotations

import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from echo_lab.errors import ConfigError
from echo_lab.timing import STAGES, record_stages

__all__ = ["bench_study", "reduced_study"]


def reduced_study(path: Path, *, realizations: int, folder: Path) -> Path:
    """A copy of the study file ``path`` in ``folder`` with ``[study] realizations`` replaced.

    The file is parsed with ``tomllib``, the value changed in the parsed tables and the copy
    written with ``tomli_w`` (comments are not kept). ConfigError if the file has no
    ``[study]`` table with a ``realizations`` key, or ``realizations`` < 1.
    """
    if isinstance(realizations, bool) or not isinstance(realizations, int) or realizations < 1:
        raise ConfigError(f"realizations must be an integer >= 1, got {realizations!r}")
    with open(path, "rb") as handle:
        tables = tomllib.load(handle)
    study = tables.get("study")
    if not isinstance(study, dict) or "realizations" not in study:
        raise ConfigError(f"{path} has no [study] realizations key to reduce")
    study["realizations"] = realizations
    copy = Path(folder) / Path(path).name
    with open(copy, "wb") as handle:
        tomli_w.dump(tables, handle)
    return copy


def bench_study(path: Path, *, realizations: int | None) -> dict[str, Any]:
    """Run the study file ``path`` end to end (serially); its wall time per stage.

    With ``realizations`` a copy with that many realizations (:func:`reduced_study`) runs
    instead. Output goes to a temporary folder, removed afterwards. ``stage_seconds`` has every
    stage the run entered (exclusive times, module docstring) and ``other``; they add up to
    ``seconds_total``. Cost: the study's own (the main study: 150 units at N = 10).
    """
    from echo_lab.study.runner import list_units, run_study
    from echo_lab.study.spec import load_spec

    if not Path(path).is_file():
        raise ConfigError(
            f"study file {path} not found: run the benchmarks from a checkout of the repository"
        )
    with tempfile.TemporaryDirectory(prefix="echo-lab-bench-") as tmp:
        folder = Path(tmp)
        study = (
            path
            if realizations is None
            else reduced_study(path, realizations=realizations, folder=folder)
        )
        spec = load_spec(study)
        start = time.perf_counter()
        with record_stages() as seconds:
            run_study(spec, out=folder / "out", progress=False)
        total = time.perf_counter() - start
    stages = {name: seconds[name] for name in STAGES if name in seconds}
    stages.update({name: value for name, value in seconds.items() if name not in STAGES})
    stages["other"] = total - sum(stages.values())
    units = len(list_units(spec))
    return {
        "study_file": str(path),
        "realizations": spec.realizations,
        "units": units,
        "seconds_total": total,
        "seconds_per_unit": total / units,
        "stage_seconds": stages,
        "stage_fractions": {name: value / total for name, value in stages.items()},
        "stages_not_marked": [name for name in STAGES if name not in seconds],
        "note": "exclusive wall times of echo_lab.timing stages; serial run, BLAS limited to one "
        "thread per unit as in every study",
    }
