r"""The default engine against raw qsim: seconds per Trotter step of a Hahn echo.

:func:`echo_lab.bench.peers.bench_default_engine`: at ``--sizes`` (default 20 and 22) the
backend that ``[backend] name = "auto"`` chooses (qsim wherever qsimcirq is installed: the
``cpu`` extra), run through echo_lab (circuit building, translation to Cirq, the pulse, the
observable), against ``QSimSimulator.simulate`` of the same circuit, one thread each
(``--threads``), interleaved. Goal of issue #23 item 6: ``default_over_raw`` <= 1.3.

Run on an idle machine (about 2 minutes at 20 and 22; the load is recorded)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/benchmarks/bench_default_engine.py \
        --out experiments/benchmarks/default_engine.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from echo_lab.bench import write_record
from echo_lab.bench.peers import DEFAULT_ENGINE_STEPS, bench_default_engine
from echo_lab.info import environment_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("default_engine.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 22])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs=2, default=list(DEFAULT_ENGINE_STEPS))
    args = parser.parse_args()
    record: dict[str, Any] = {
        "benchmark": "default_engine",
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        **bench_default_engine(
            sizes=args.sizes, repeats=args.repeats, threads=args.threads, steps=tuple(args.steps)
        ),
    }
    write_record(record, args.out)
    for size in record["sizes"]:
        ratio = size["default_over_raw"]["value"]
        print(
            f"N = {size['n']}: {size['backend_chosen']}, default / raw qsim per step = {ratio:.2f}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
