"""Resumable per-realization records of the disorder-ensemble scripts in experiments/benchmarks.

Several scripts (``lbit_end_sensitivity.py``, ``two_answers.py``) compute one row per
(N, W, realization) and keep every row in one JSON file, so that any cell can be recomputed and
a stopped run resumes. :func:`fill_realizations` is their loop: it loads the file (or starts a
record with the given settings), skips the rows already present, appends a ``runs`` entry
(command, environment, load average, seconds, rows added), and rewrites the file with the cells
recomputed after every row (replaced atomically), so a run stopped at any point, even while
writing, loses at most the row in progress.

>>> import json, tempfile
>>> from pathlib import Path
>>> out = Path(tempfile.mkdtemp()) / "record.json"
>>> def row(n, W, k):
...     return {"value": n * W + k}
>>> def cells(rows):
...     return [{"count": len(rows)}]
>>> fill_realizations(out, {"seed": 1}, 4, [1.0], 2, row, cells, argv=["x"])
2
>>> fill_realizations(out, {"seed": 1}, 4, [1.0, 2.0], 2, row, cells, argv=["x"])
2
>>> json.loads(out.read_text())["cells"]
[{'count': 4}]
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from echo_lab.info import environment_info
from echo_lab.study.results import write_text_atomically

__all__ = ["cells_of", "fill_realizations", "realization_key"]


def realization_key(n: int, W: float, index: int) -> str:
    """The key of one row: ``"n=12 W=8 k=3"``."""
    return f"n={n} W={W:g} k={index}"


def cells_of(rows: Sequence[dict[str, Any]]) -> list[tuple[int, float, list[dict[str, Any]]]]:
    """The rows grouped by (N, W), sorted: ``[(n, W, rows of that cell), ...]``.

    >>> [(n, W, len(g)) for n, W, g in cells_of([{"n": 12, "W": 8.0}, {"n": 10, "W": 8.0},
    ...                                           {"n": 12, "W": 8.0}])]
    [(10, 8.0, 1), (12, 8.0, 2)]
    """
    cells: dict[tuple[int, float], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["n"], row["W"]), []).append(row)
    return [(n, W, group) for (n, W), group in sorted(cells.items())]


def fill_realizations(
    out: Path,
    settings: dict[str, Any],
    n: int,
    disorders: Sequence[float],
    realizations: int,
    compute: Callable[[int, float, int], dict[str, Any]],
    summarize: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    *,
    max_seconds: float = float("inf"),
    argv: Sequence[str] | None = None,
    progress: Callable[[dict[str, Any]], object] | None = None,
) -> int:
    """Compute the missing rows of ``realizations`` realizations of every W in ``disorders`` at
    chain length ``n`` into the JSON record ``out`` and return how many were added.

    ``compute(n, W, k)`` returns a row (the key, n, W and index are added); ``summarize(rows)``
    the cells, recomputed at every write. Realization k runs for every W before k + 1, so a run
    stopped by ``max_seconds`` (checked before each row) leaves the cells with nearly equal
    counts. BLAS runs on one thread. ``settings`` only seed a new record; an existing file keeps
    its own. ``argv``: the command recorded (default ``sys.argv``); ``progress(row)`` is called
    after each row is written.
    """
    record: dict[str, Any] = (
        json.loads(out.read_text())
        if out.exists()
        else {"settings": settings, "runs": [], "rows": []}
    )
    done = {row["key"] for row in record["rows"]}
    run: dict[str, Any] = {
        "command": " ".join([sys.executable, *(sys.argv if argv is None else argv)]),
        "environment": environment_info(),
        "load_average_before": list(os.getloadavg()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "added": 0,
    }
    record["runs"].append(run)
    began = time.perf_counter()
    with threadpool_limits(1):
        for index in range(realizations):
            for W in disorders:
                key = realization_key(n, W, index)
                if key in done or time.perf_counter() - began > max_seconds:
                    continue
                row = {"key": key, "n": n, "W": W, "index": index, **compute(n, W, index)}
                record["rows"].append(row)
                run["added"] += 1
                run["seconds"] = time.perf_counter() - began
                run["load_average_after"] = list(os.getloadavg())
                record["cells"] = summarize(record["rows"])
                write_text_atomically(out, json.dumps(record, indent=1) + "\n")
                if progress is not None:
                    progress(row)
    return int(run["added"])
