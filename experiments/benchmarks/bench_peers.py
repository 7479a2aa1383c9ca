r"""Peers in one run: the Trotter step on Aer, qulacs and qsim; the l-bit operators vs numpy.

1. :func:`echo_lab.bench.peers.bench_trotter_peers`: one first-order Trotter step of the
   random-field XXZ chain (W = 8, J = Jz = 1, seed 1, dt = 0.05) at ``--sizes`` (default 20, 22,
   24) on echo_lab's circuits (order 1 and 2) and the plain gate-by-gate circuit on Aer (fusion
   on and off, and the Strang one), qulacs with its circuit optimizer and qsim with its fusion,
   all from the same state and checked to give the same state (module docstring there), once
   per ``--threads`` value (default 1 and all cores); per step and over the fastest.
2. :func:`echo_lab.bench.peers.bench_qsim_backend`: one FID trace at ``--backend-n`` (default
   20) through the aer backend and the qsim backend (:mod:`echo_lab.backends.qsim`), the same
   circuits, all cores, interleaved.
3. :func:`echo_lab.bench.bench_lbit_plain_numpy`: the 2n l-bit operators at ``--lbit-n``
   (default 12) through echo_lab and the plain numpy way (dense eigh, Hungarian assignment,
   matrix products), interleaved, operators compared.

The record holds the peers' versions, the machine, the command and the load average around
every comparison. Install the peers with ``pip install -e ".[cpu,bench]"``.

Run (about 12 minutes on 2 idle cores)::

    .venv/bin/python experiments/benchmarks/bench_peers.py --out experiments/benchmarks/peers.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from echo_lab.bench import bench_lbit_plain_numpy, write_record
from echo_lab.bench.peers import bench_qsim_backend, bench_trotter_peers, peer_versions
from echo_lab.info import environment_info
from echo_lab.resources import usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("peers.json"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 22, 24])
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, usable_cores()}))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lbit-n", type=int, default=12, help="0 leaves the l-bit part out")
    parser.add_argument(
        "--backend-n", type=int, default=20, help="FID trace, aer vs qsim backend (0: not run)"
    )
    args = parser.parse_args()
    record: dict[str, Any] = {
        "benchmark": "peers",
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
        "versions": peer_versions(),
        "trotter_step": [],
    }
    for threads in args.threads:
        record["trotter_step"].append(
            bench_trotter_peers(sizes=args.sizes, repeats=args.repeats, threads=threads)
        )
        print(f"Trotter peers, {threads} thread(s): done", file=sys.stderr, flush=True)
        write_record(record, args.out)  # keep what is done if a later part is interrupted
    if args.backend_n:
        record["qsim_backend"] = bench_qsim_backend(n=args.backend_n, repeats=2)
        write_record(record, args.out)
    if args.lbit_n:
        record["lbit_pipeline"] = bench_lbit_plain_numpy(args.lbit_n, repeats=2)
    write_record(record, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
