"""The ``echo-lab`` command: parses arguments and dispatches; no physics lives here.

Subcommands: ``lbits``, ``run``, ``plot``, ``export``, ``bench``, ``info``. Every error the
package raises on purpose (:class:`~echo_lab.errors.EchoLabError`), and any file-system error
(``OSError``), is printed as one line and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from echo_lab.errors import ConfigError, EchoLabError
from echo_lab.study.executor import Terminated, interruptible, stop_if_interrupted


def _cmd_info(args: argparse.Namespace) -> int:
    from echo_lab.info import describe_environment

    print(describe_environment())
    return 0


def _cmd_lbits(args: argparse.Namespace) -> int:
    from echo_lab.study.reports import circuit_lbits_report, fidelity_report, lbits_report

    circuit_options = {
        "block": args.block,
        "layers": args.layers,
        "cost": args.cost,
        "max_iterations": args.iterations,
    }
    if args.compare is not None:
        print(
            fidelity_report(
                n=args.n,
                W=args.W,
                J=args.J,
                Jz=args.Jz,
                seed=args.seed,
                compare=args.compare,
                site=args.site,
                circuit_options=circuit_options,
            )
        )
        return 0
    if args.site is not None:
        raise ConfigError("--site belongs to --compare (the site of the l-bit comparison)")
    if args.method == "circuit":
        print(
            circuit_lbits_report(
                n=args.n,
                W=args.W,
                J=args.J,
                Jz=args.Jz,
                seed=args.seed,
                options=circuit_options,
                out=Path(args.out),
            )
        )
        return 0
    print(
        lbits_report(
            n=args.n,
            W=args.W,
            J=args.J,
            Jz=args.Jz,
            seed=args.seed,
            method=args.method,
            out=Path(args.out),
        )
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from echo_lab.export import export_reference_circuits

    written = export_reference_circuits(Path(args.out))
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from echo_lab.study.runner import RunOptions, run_study_file

    options = RunOptions(
        resume=args.resume,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        allow_code_change=args.allow_code_change,
    )
    path = run_study_file(Path(args.config), out=Path(args.out), options=options)
    print(f"results: {path}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from echo_lab.study.figures import plot_file

    paths = [Path(name) for name in args.files]
    for written in plot_file(*paths, out=Path(args.out) if args.out else None):
        print(f"{'summary' if written.suffix == '.md' else 'figure'}: {written}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from echo_lab.bench import run_benchmarks

    path = run_benchmarks(out=Path(args.out), quick=args.quick)
    print(f"benchmarks: {path}")
    return 0


def _os_error_message(exc: OSError) -> str:
    """One line for a file-system error: the full-disk case names the free space."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and exc.filename:
        from echo_lab.study.results import free_space_message

        return f"{free_space_message(Path(exc.filename))}; free some space or choose another --out"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}; check that the path exists and can be written"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echo-lab",
        description="Spin-echo emulator for many-body-localized spin chains.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("lbits", help="construct l-bits of one realization and report them")
    p.add_argument("--n", type=int, default=10, help="chain length (default 10)")
    p.add_argument("--W", type=float, default=8.0, help="disorder strength, Pauli units")
    p.add_argument("--J", type=float, default=1.0, help="XY exchange")
    p.add_argument("--Jz", type=float, default=1.0, help="Ising exchange")
    p.add_argument("--seed", type=int, default=1, help="disorder seed")
    p.add_argument("--method", default="overlap", choices=["overlap", "range", "circuit"])
    p.add_argument("--block", type=int, default=2, help="circuit: block size (2: brickwork)")
    p.add_argument("--layers", type=int, default=4, help="circuit: layers of blocks")
    p.add_argument("--cost", default="frobenius", choices=["frobenius", "echo"], help="circuit")
    p.add_argument("--iterations", type=int, default=200, help="circuit: L-BFGS iterations")
    p.add_argument("--out", default="out/lbits", help="folder for the figure")
    p.add_argument(
        "--compare",
        default=None,
        metavar="SOURCES",
        help="instead of the report: F_z, D, F_x of these l-bit sources (bare, circuit, "
        "window:W, compiled:S; comma-separated) against the exact overlap (and, n <= 10, range) "
        "l-bits; n <= 14",
    )
    p.add_argument(
        "--site", type=int, default=None, help="with --compare: the site (default n // 2)"
    )
    p.set_defaults(func=_cmd_lbits)

    p = sub.add_parser("run", help="run a study from a TOML file")
    p.add_argument("config", help="study TOML file")
    p.add_argument("--out", default="out", help="output folder (default out/)")
    p.add_argument("--resume", action="store_true", help="reuse the checkpoint of an earlier run")
    p.add_argument("--workers", type=int, default=0, help="start a local Dask cluster of K workers")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--allow-code-change",
        action="store_true",
        help="with --resume: reuse units computed by another echo_lab version (recorded)",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="redraw the figures of a results file (or combined files)")
    p.add_argument(
        "files", nargs="+", help="NetCDF results file; several echo_scaling files combine"
    )
    p.add_argument("--out", default=None, help="folder for the figures (default: beside the file)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("export", help="write the reference circuits (OpenQASM 3, QPY)")
    p.add_argument("--out", default="circuits", help="output folder (default circuits/)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("bench", help="run the simulator benchmarks")
    p.add_argument("--out", default="experiments/benchmarks", help="output folder")
    p.add_argument("--quick", action="store_true", help="small sizes only (about a minute)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("info", help="versions, CPU/GPU devices and memory")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``echo-lab`` console script.

    While the command runs, echo_lab's INFO messages (e.g. how many work units a resumed study
    reused) go to stderr as ``echo-lab: ...`` lines.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    package_logger = logging.getLogger("echo_lab")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("echo-lab: %(message)s"))
    previous_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    try:
        with interruptible():
            code = int(args.func(args))
            stop_if_interrupted()  # a signal whose exception a weakref callback swallowed
            return code
    except EchoLabError as exc:
        print(f"echo-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The checks before each command catch the usual cases (a read-only or blocked output
        # path); this keeps any other file-system failure to one line as well.
        print(f"echo-lab {args.command}: error: {_os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        hint = (
            "; finished work units are kept in the checkpoint: rerun with --resume to continue"
            if args.command == "run"
            else ""
        )
        what, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"echo-lab {args.command}: {what}{hint}", file=sys.stderr)
        return code
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)


if __name__ == "__main__":
    sys.exit(main())
