"""MkDocs hooks (``hooks:`` of mkdocs.yml): loaded before the plugins run.

Puts docs/ on ``sys.path`` so that mkdocstrings finds the griffe extension ``griffe_docstrings``
by name, and escapes stray ``<`` in every page (:func:`griffe_docstrings.escape_angles`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from griffe_docstrings import escape_angles


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    return escape_angles(markdown)
