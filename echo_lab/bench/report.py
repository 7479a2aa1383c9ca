"""The suite's record: headline lines, the JSON file and the summary figure.

A headline is one ratio of the record with its target: :func:`headline` copies the ratio's
value, both names (numerator and baseline) and its load flag, and judges the target with
:func:`echo_lab.bench.timing.judge` (not judged on an overloaded machine).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from echo_lab.bench.timing import judge

__all__ = ["headline", "plot_summary", "write_record"]


def headline(
    name: str,
    ratio: Mapping[str, Any],
    *,
    target: float | None,
    comparison: str,
    context: str,
) -> dict[str, Any]:
    """One headline line from a ratio record (:func:`~echo_lab.bench.timing.make_ratio`).

    Keys: ``name``, ``value``, ``value_median``, ``numerator``, ``baseline``, ``target``,
    ``comparison`` (``"<="`` or ``">="``), ``overloaded``, ``met`` (None when there is no target
    or the machine was overloaded) and ``context``.
    """
    overloaded = bool(ratio.get("overloaded", False))
    value = float(ratio["value"])
    return {
        "name": name,
        "value": value,
        "value_median": float(ratio.get("value_median", value)),
        "numerator": ratio["numerator"],
        "baseline": ratio["baseline"],
        "target": target,
        "comparison": comparison,
        "overloaded": overloaded,
        "met": judge(value, target=target, comparison=comparison, overloaded=overloaded),
        "context": context,
    }


def write_record(record: Mapping[str, Any], path: Path) -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def _plot_lbits(ax: Any, results: Mapping[str, Any]) -> None:
    sizes = results["lbits"]["sizes"]
    ns = [entry["n"] for entry in sizes]
    for stage in sizes[0]["seconds"]:
        ax.semilogy(ns, [e["seconds"][stage]["min"] for e in sizes], "o-", label=stage)
    ax.set(xlabel="N", ylabel="seconds (min of repeats)", title="l-bit pipeline stages")
    ax.legend(fontsize=7)


def _plot_trotter(ax: Any, results: Mapping[str, Any]) -> None:
    entries = results["trotter_step"]["sizes"]
    styles = {
        "ours": "o-",
        "ours_all_cores": "^-",
        "gate_by_gate_lie": "s-",
        "gate_by_gate_strang": "D-",
    }
    for name, style in styles.items():
        having = [e for e in entries if name in e["variants"]]
        if having:
            ax.semilogy(
                [e["n"] for e in having],
                [e["variants"][name]["seconds_per_step"]["min"] for e in having],
                style,
                label=name,
            )
    ax.semilogy(
        [e["n"] for e in entries],
        [e["variants"]["ours"]["bandwidth_bound_seconds_per_step"] for e in entries],
        "k--",
        label="bandwidth bound (ours, 1 thread)",
    )
    ax.set(xlabel="N", ylabel="seconds per step", title="Trotter step, Aer statevector")
    ax.legend(fontsize=7)


def _plot_backends(ax: Any, results: Mapping[str, Any]) -> None:
    entries = results["backends"]["sizes"]
    names = list(entries[0]["seconds"])
    width = 0.8 / len(entries)
    for k, entry in enumerate(entries):
        ax.bar(
            np.arange(len(names)) + k * width,
            [entry["seconds"][name]["min"] for name in names],
            width,
            label=f"N = {entry['n']}",
        )
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set_yscale("log")
    ax.set(ylabel="seconds", title="FID trace per backend")
    ax.legend(fontsize=7)


def _plot_mps(ax: Any, results: Mapping[str, Any]) -> None:
    entries = results["mps"]["sizes"]
    ns = [e["n"] for e in entries]
    ax.plot(ns, [e["seconds"]["min"] for e in entries], "o-")
    ax.set(xlabel="N", ylabel="seconds", title=f"MPS FID at t = {results['mps']['total_time']}")
    twin = ax.twinx()
    twin.plot(ns, [e["max_bond_dimension"] for e in entries], "s--", color="C1")
    twin.set_ylabel("max bond dimension", color="C1")


def _plot_study(ax: Any, results: Mapping[str, Any]) -> None:
    study = results["study"]
    stages = study["stage_seconds"]
    ax.barh(list(stages), list(stages.values()))
    ax.set(xlabel="seconds", title=f"study: {study['units']} units, {study['seconds_total']:.0f} s")
    ax.tick_params(axis="y", labelsize=7)


def _plot_headlines(ax: Any, headlines: list[Mapping[str, Any]]) -> None:
    colours = ["C2" if h["met"] else ("C3" if h["met"] is False else "C7") for h in headlines]
    positions = np.arange(len(headlines))
    ax.barh(positions, [h["value"] for h in headlines], color=colours)
    for y, h in zip(positions, headlines, strict=True):
        if h["target"] is not None:
            ax.plot([h["target"]] * 2, [y - 0.4, y + 0.4], "k-", lw=2)
    ax.set_yticks(positions, [f"{h['name']} [/ {h['baseline']}]" for h in headlines], fontsize=6)
    ax.set_xscale("log")
    ax.set(xlabel="ratio (black: target; green met, red missed, grey not judged)")
    ax.set_title("headline ratios")


def plot_summary(record: Mapping[str, Any], path: Path) -> Path:
    """Six panels of one suite record (l-bit stages, Trotter step, backends, MPS, study,
    headlines), drawn on a ``matplotlib.figure.Figure`` (no pyplot, no global backend) and saved
    at 150 dpi to ``path``. Returns ``path``.
    """
    from matplotlib.figure import Figure

    results = record["benchmarks"]
    figure = Figure(figsize=(15.0, 8.5), layout="constrained")
    axes = figure.subplots(2, 3)
    _plot_lbits(axes[0, 0], results)
    _plot_trotter(axes[0, 1], results)
    _plot_backends(axes[0, 2], results)
    _plot_mps(axes[1, 0], results)
    _plot_study(axes[1, 1], results)
    _plot_headlines(axes[1, 2], record["headlines"])
    kind = "quick" if record["quick"] else "full"
    figure.suptitle(f"echo-lab bench ({kind}), {record['started']}")
    figure.savefig(path, dpi=150)
    return Path(path)
