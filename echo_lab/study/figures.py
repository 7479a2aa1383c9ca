"""Figures of a results file: :func:`plot_file` (``echo-lab plot``).

It reads one or more results files (:mod:`echo_lab.study.results`), finds their study kind in the
registry (:mod:`echo_lab.study.kinds`) and writes that kind's figures as ``<name>_<figure>.png``
(and its Markdown summary, where the kind has one) beside the file or in ``out``.
"""

from __future__ import annotations

from pathlib import Path

from echo_lab.errors import ConfigError
from echo_lab.study.drawing import DPI, safe_name, save_png
from echo_lab.study.kinds import KINDS
from echo_lab.study.results import load_results, write_text_atomically
from echo_lab.tables import quote
from echo_lab.timing import stage

__all__ = ["plot_file"]


def plot_file(path: str | Path, *more: str | Path, out: str | Path | None = None) -> list[Path]:
    """Redraw every figure of the results file ``path`` (with ``more`` files: of their combined
    results); return the paths written.

    The figures are those of the file's study kind (:meth:`StudyKind.figures
    <echo_lab.study.kinds.base.StudyKind.figures>`), written to ``out`` (default: the first file's
    folder) as ``<name>_<figure>.png`` at :data:`DPI` dpi, each written to a new file that then
    replaces the target (a symbolic link there is replaced, not followed). A kind whose
    :meth:`~echo_lab.study.kinds.base.StudyKind.summary` gives Markdown findings also gets
    ``<name>_summary.md``. Several files must share a kind that ``combines``
    (:meth:`~echo_lab.study.kinds.base.StudyKind.combine`; e.g. ``echo_scaling``: N <= 12 and
    N = 14 files); their outputs are named ``<name>_combined_<figure>.png``. Raises
    :class:`~echo_lab.errors.CheckpointError` for an unreadable file and :class:`ConfigError`
    for a file without a known study kind or files that cannot be combined.
    """
    paths = [Path(path), *map(Path, more)]
    datasets = [load_results(one) for one in paths]
    kinds = {str(ds.attrs.get("kind")) for ds in datasets}
    kind = KINDS.get(str(datasets[0].attrs.get("kind")))
    if kind is None:
        raise ConfigError(
            f"{paths[0]} has study kind {datasets[0].attrs.get('kind')!r}, which echo_lab cannot "
            "plot; is it an echo_lab results file?"
        )
    name = safe_name(datasets[0].attrs.get("name", paths[0].stem), fallback="results")
    ds = datasets[0]
    if len(paths) > 1:
        if len(kinds) > 1 or not kind.combines:
            combining = ", ".join(k.name for k in KINDS.values() if k.combines)
            raise ConfigError(
                f"cannot combine {', '.join(map(str, paths))} (kinds {sorted(kinds)}): only "
                f"results of one kind that combines ({combining}) plot together; plot each file "
                "on its own"
            )
        ds = kind.combine(datasets)
        name = f"{name}_combined"
    folder = Path(out) if out is not None else paths[0].parent
    where = paths[0] if len(paths) == 1 else "these files"
    with stage("plots"):
        try:
            figures = kind.figures(ds)
            summary = kind.summary(ds)
        except ConfigError:
            raise
        except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{where} cannot be plotted as a result of kind {kind.name!r} "
                f"({type(exc).__name__}: {quote(str(exc))}); is it a complete results file "
                "written by echo_lab?"
            ) from None
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for figure_name, figure in figures.items():
            target = folder / f"{name}_{figure_name}.png"
            save_png(figure, target, dpi=DPI)
            written.append(target)
        if summary is not None:
            target = folder / f"{name}_summary.md"
            write_text_atomically(target, summary)
            written.append(target)
    return written
