"""MkDocs hooks (``hooks:`` of mkdocs.yml).

``on_config`` puts the repository root on ``sys.path``, so that the generators (run later, in
``on_files``) document and run the echo_lab of this checkout whatever is installed, and docs/,
so that mkdocstrings finds the griffe extension ``griffe_docstrings`` by name. (MkDocs restores
``sys.path`` after importing this file, so the paths go in through the event.)
``on_page_markdown`` escapes stray ``<`` in every page (:func:`griffe_docstrings.escape_angles`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from griffe_docstrings import escape_angles

DOCS = Path(__file__).resolve().parent


def on_config(config: Any, **kwargs: Any) -> Any:
    sys.path[:0] = [str(DOCS.parent), str(DOCS)]
    return config


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return escape_angles(markdown)
