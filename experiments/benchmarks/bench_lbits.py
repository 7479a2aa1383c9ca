r"""Benchmark: the l-bit pipeline (echo_lab.lbits), its dense-eigensystem path, the transform.

Random-field XXZ chains, W = 8, J = Jz = 1, seed 1:

* ``stages``: :func:`echo_lab.bench.bench_lbits` at ``--sizes`` (default 8, 10, 12):
  diagonalization (timed inside ``lbits.construct``), the rest of ``construct``, forming all
  2n tau^z_i and tau^x_i, their Pauli expansions with mean ranges, and the whole public
  pipeline (``lbits.construct(H)`` then ``mean_range("z")`` and ``mean_range("x")``; target:
  n = 12 in <= 60 s); plus our Pauli transform against ``SparsePauliOp.from_operator(O,
  atol=0, rtol=0)`` at ``--transform-n``, interleaved;
* ``dense``: the same pipeline with a dense eigensystem (``spectrum.diagonalize``) passed in,
  the path of a Hamiltonian without block structure (``--dense-sizes``, default 10 and 12).

Every time keeps each repeat with its min and median; the JSON records the machine, versions,
the command and the load average around each comparison.

Run (about 4 minutes on 2 idle cores)::

    .venv/bin/python experiments/benchmarks/bench_lbits.py \
        --out experiments/benchmarks/lbits_pipeline.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab import lbits
from echo_lab.bench import bench_lbits, summarize, time_repeats, watch_load, write_record
from echo_lab.bench.model import benchmark_hamiltonian, model_record
from echo_lab.info import environment_info
from echo_lab.physics import spectrum


def dense_pipeline(n: int, repeats: int) -> dict[str, Any]:
    """Dense ``eigh`` then the l-bit pipeline on that eigensystem (min and median)."""
    hamiltonian = benchmark_hamiltonian(n)

    def pipeline() -> tuple[np.ndarray, np.ndarray]:
        eigensystem = spectrum.diagonalize(hamiltonian)
        system = lbits.construct(hamiltonian, eigensystem=eigensystem, cache_bytes=0)
        return system.mean_range("z"), system.mean_range("x")

    with watch_load() as load:
        seconds, (range_z, range_x) = time_repeats(pipeline, repeats=repeats)
    return {
        "n": n,
        "load": load,
        "pipeline_dense": summarize(seconds),
        "average_range_z": float(np.mean(range_z)),
        "average_range_x": float(np.mean(range_x)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10, 12])
    parser.add_argument("--dense-sizes", type=int, nargs="*", default=[10, 12])
    parser.add_argument("--transform-n", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("lbits_pipeline.json"))
    args = parser.parse_args()
    record: dict[str, Any] = {
        "benchmark": "lbits_pipeline",
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        "model": model_record(),
        "repeats": args.repeats,
    }
    record["stages"] = bench_lbits(
        sizes=args.sizes, transform_n=args.transform_n, repeats=args.repeats
    )
    print("stages done", file=sys.stderr, flush=True)
    record["dense"] = [dense_pipeline(n, args.repeats) for n in args.dense_sizes]
    write_record(record, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
