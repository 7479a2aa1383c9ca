"""Example pages: run every script of docs/examples/ and write its code, output and figure.

Each example runs in a fresh Python process (against the echo_lab of this repository) with an
empty folder as its only argument, where it saves its figure(s). An example that fails (non-zero
exit) or runs too long stops the build. The examples run in parallel, one BLAS thread each.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mkdocs_gen_files

EXAMPLES = Path(__file__).resolve().parent / "examples"
REPOSITORY = EXAMPLES.parent.parent
TIMEOUT_S = 300


def run(script: Path, folder: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``script`` with ``folder`` as working directory and argument; (result, seconds)."""
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    began = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(script), str(folder)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"example {script.name} ran longer than {TIMEOUT_S} s")
    return result, time.perf_counter() - began


def page(script: Path, output: str, figures: list[Path], seconds: float) -> str:
    docstring = ast.get_docstring(ast.parse(script.read_text())) or script.stem
    title, _, body = docstring.partition("\n\n")
    out = [f"# {' '.join(title.split())}", "", body.strip(), ""]
    out += [
        f"Source: `docs/examples/{script.name}` (ran in {seconds:.0f} s when these pages",
        "were built).",
        "",
        "```python",
        script.read_text().rstrip(),
        "```",
        "",
        "Output:",
        "",
        "```text",
        output.rstrip(),
        "```",
        "",
    ]
    out += [f"![{figure.stem}]({figure.name})" for figure in figures]
    return "\n".join(out) + "\n"


scripts = sorted(EXAMPLES.glob("*.py"))
index = [
    "# Examples",
    "",
    "Runnable scripts in `docs/examples/`, executed at every build of",
    "these pages (the output shown is from that run).",
    "",
]
with tempfile.TemporaryDirectory(prefix="echo_lab_examples_") as root:
    folders = [Path(root) / script.stem for script in scripts]
    for folder in folders:
        folder.mkdir()
    with ThreadPoolExecutor(max_workers=len(scripts) or 1) as pool:
        results = list(pool.map(run, scripts, folders))
    for script, folder, (result, seconds) in zip(scripts, folders, results, strict=True):
        if result.returncode != 0:
            sys.exit(f"example {script.name} failed (exit {result.returncode}):\n{result.stderr}")
        figures = sorted(folder.glob("*.png"))
        for figure in figures:
            with mkdocs_gen_files.open(f"examples/{figure.name}", "wb") as target:
                target.write(figure.read_bytes())
        with mkdocs_gen_files.open(f"examples/{script.stem}.md", "w") as target:
            target.write(page(script, result.stdout, figures, seconds))
        title = (ast.get_docstring(ast.parse(script.read_text())) or script.stem).split("\n\n")[0]
        index.append(f"- [{' '.join(title.split())}]({script.stem}.md)")
with mkdocs_gen_files.open("examples/index.md", "w") as target:
    target.write("\n".join(index) + "\n")
