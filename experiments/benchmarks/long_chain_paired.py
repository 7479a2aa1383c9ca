"""Paired comparison of one long-chain scaling file run with several backends on the same
realizations: how much the evolution settings move single kept fractions and the ensemble.

Run ``experiments/echo_scaling_long_n12.toml`` with ``study.realizations = 20`` three times,
changing only the ``[backend]`` table and ``study.name`` (the fields, circuit l-bits and states
are the same, realization by realization):

* ``exact``: ``[backend] name = "exact"`` (no Trotter or truncation error; the reference);
* ``strang``: Aer MPS, order 2, dt = 0.1, cap 32, threshold 1e-7 (the recorded tables' settings);
* ``order4``: the file as committed (quimb MPS, order 4, dt = 0.1, cap 32, cutoff 1e-7, with its
  ``[accuracy]`` table),

each with ``echo-lab run FILE --out OUT``, then::

    .venv/bin/python experiments/benchmarks/long_chain_paired.py \\
        OUT/n12_exact_r20.nc OUT/n12_strang_aer_r20.nc OUT/n12_order4_quimb_r20.nc

which writes ``long_chain_paired.json`` (``--out NAME`` first: another file beside it): per
setting and W, the ensemble kept fractions (``kept_circuit`` summed over realizations as the
study does) and their shift from the exact run, and the largest and median |difference| of
single-realization kept fractions and of the traces <ctau^x_p>(T).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from echo_lab.info import environment_info

OUT = Path(__file__).with_name("long_chain_paired.json")


def ensemble_kept(ds: xr.Dataset) -> xr.DataArray:
    """Late-time <ctau^x_p> summed over realizations / initial sum (the study's ensemble value),
    z-random background, per W and pulse."""
    kept = ds["kept_circuit"].sel(background="z-random")
    initial = ds["ctau_x_initial"].sel(background="z-random")
    return (kept * initial).sum("realization") / initial.sum("realization")


def compare(reference: xr.Dataset, other: xr.Dataset) -> dict[str, Any]:
    single = np.abs(other["kept_circuit"] - reference["kept_circuit"])
    trace = np.abs(other["ctau_x"] - reference["ctau_x"])
    ref_ensemble, ensemble = ensemble_kept(reference), ensemble_kept(other)
    out: dict[str, Any] = {}
    for w in reference.W.values:
        out[f"W={w:g}"] = {
            "ensemble_kept": {
                str(p): round(float(ensemble.sel(W=w, pulse=p)), 4) for p in ensemble.pulse.values
            },
            "ensemble_shift_from_exact": {
                str(p): round(float(ensemble.sel(W=w, pulse=p) - ref_ensemble.sel(W=w, pulse=p)), 4)
                for p in ensemble.pulse.values
            },
            "single_kept_max_abs_diff": round(float(single.sel(W=w).max()), 4),
            "single_kept_median_abs_diff": round(float(single.sel(W=w).median()), 4),
            "trace_max_abs_diff": round(float(trace.sel(W=w).max()), 4),
            "units_with_trace_within_1e-2": int(
                (
                    trace.sel(W=w).max([d for d in trace.dims if d not in ("W", "realization")])
                    <= 1e-2
                ).sum()
            ),
            "units": int(reference.sizes["realization"]),
        }
        if "trotter_error" in other:
            out[f"W={w:g}"]["trotter_estimate_vs_actual"] = estimate_check(reference, other, w)
    return out


def estimate_check(reference: xr.Dataset, other: xr.Dataset, w: float) -> dict[str, Any]:
    """How the unit's step-doubling estimate (``trotter_error``, at the largest time) compares
    with its actual deviation from the reference at that time (largest over pulses and the
    echo variables sigma^x_p and ctau^x_p), over the realizations it estimated."""
    last = float(other["time"].max())
    estimate = other["trotter_error"].sel(W=w)
    estimate = estimate.max([d for d in estimate.dims if d != "realization"])
    actual = np.maximum(
        *(
            np.abs(other[v].sel(W=w, time=last) - reference[v].sel(W=w, time=last)).max(
                ["background", "pulse"]
            )
            for v in ("sx", "ctau_x")
        )
    )
    estimated = np.isfinite(estimate)
    ratio = (estimate / actual).where(estimated & (actual > 0))
    return {
        "time": last,
        "units_estimated": int(estimated.sum()),
        "estimate_at_least_actual": int((estimate >= actual).where(estimated, False).sum()),
        "estimate_at_least_half_actual": int(
            (estimate >= 0.5 * actual).where(estimated, False).sum()
        ),
        "median_estimate_over_actual": round(float(ratio.median()), 3),
        "largest_actual": round(float(actual.where(estimated).max()), 4),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT.name, help="record name, beside this script")
    parser.add_argument("paths", nargs="+", help="the reference results file, then the others")
    args = parser.parse_args(argv)
    out, paths = OUT.with_name(args.out), args.paths
    reference = xr.open_dataset(paths[0])
    record: dict[str, Any] = {
        "environment": environment_info(),
        "reference": Path(paths[0]).name,
        "reference_ensemble_kept": {
            f"W={w:g}": {
                str(p): round(float(v), 4)
                for p, v in zip(
                    reference.pulse.values,
                    ensemble_kept(reference).sel(W=w).values,
                    strict=True,
                )
            }
            for w in reference.W.values
        },
        "settings": {},
    }
    for path in paths[1:]:
        other = xr.open_dataset(path)
        entry = compare(reference, other)
        for name in ("trotter_error", "truncation_error", "error_budget", "mps_max_bond"):
            if name in other:
                entry[name + "_max"] = float(np.nanmax(other[name].values))
        entry["backend"] = other.attrs.get("backend_chosen", other.attrs.get("backend", ""))
        record["settings"][Path(path).name] = entry
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["settings"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
