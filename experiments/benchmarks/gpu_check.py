r"""The GPU measurements of ``gpu_check.sh``: Trotter step per device, batched binding.

1. :func:`echo_lab.bench.bench_trotter_devices`: seconds per Strang step of our circuit at
   ``--sizes`` (default 24, 26, 28, 30) on each of ``--devices`` (the CPU with all its cores, up
   to ``--cpu-max-n``), devices interleaved, with GPU / CPU where both ran; an N that does not
   fit on the GPU is recorded with Aer's message.
2. :func:`echo_lab.bench.bench_batched_binding`: ``--realizations`` disorder realizations of
   one FID trace at ``--binding-n`` in one Aer call per device (``parameter_binds`` with all
   the sets), runtime parameter binding off and on, results compared with
   ``AerBackend.run_realizations`` on the CPU.

Works on a CPU-only machine with ``--devices CPU`` (small sizes for a quick check); asking for
the GPU where Aer sees none stops at once with the install hint. Writes one JSON record.

    .venv/bin/python experiments/benchmarks/gpu_check.py --out gpu_check.json
    .venv/bin/python experiments/benchmarks/gpu_check.py --devices CPU --sizes 12 14 \
        --cpu-max-n 14 --binding-n 8 --realizations 4 --out /tmp/gpu_check_cpu.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from echo_lab.bench import bench_batched_binding, bench_trotter_devices, write_record
from echo_lab.bench.model import check_aer_devices
from echo_lab.info import environment_info


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--devices", nargs="+", default=["CPU", "GPU"], choices=["CPU", "GPU"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 26, 28, 30])
    parser.add_argument("--cpu-max-n", type=int, default=26)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--binding-n", type=int, default=16)
    parser.add_argument("--realizations", type=int, default=200)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    check_aer_devices(args.devices)  # before any work: ConfigError with the install hint
    record: dict[str, Any] = {
        "benchmark": "gpu_check",
        "command": shlex.join(["python", *sys.argv]),
        "environment": environment_info(),
    }
    record["trotter_devices"] = bench_trotter_devices(
        sizes=args.sizes, devices=args.devices, cpu_max_n=args.cpu_max_n, repeats=args.repeats
    )
    write_record(record, args.out)
    print("Trotter step per device: done", file=sys.stderr, flush=True)
    record["batched_binding"] = bench_batched_binding(
        n=args.binding_n, realizations=args.realizations, devices=args.devices
    )
    write_record(record, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
