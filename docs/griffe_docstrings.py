"""Griffe extension: render echo_lab's reStructuredText-flavoured docstrings as Markdown.

The package's docstrings use RST conventions (``:func:`x``` roles, ``::`` literal blocks,
``Parameters`` / ``--------`` section underlines, ``====`` tables and ``>>>`` doctests) with free
text after the parameter names, which no docstring parser reads as intended. The API reference
therefore renders them as plain Markdown (``docstring_style: null``) after these rewrites, done
once per object when griffe loads it; the package itself is not changed.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj|const):`~?([^`]+)`")
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,})\s*$")
_TABLE_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")


def _outside_code(line: str) -> str:
    """Escape ``][`` (which Markdown reads as a reference link) outside code spans."""
    parts = line.split("`")
    for k in range(0, len(parts), 2):
        parts[k] = parts[k].replace("][", "]\\[")
    return "`".join(parts)


def to_markdown(text: str) -> str:
    """The docstring ``text`` rewritten as Markdown (see the module docstring)."""
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    lines = text.splitlines()
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        following = lines[k + 1] if k + 1 < len(lines) else ""
        if line.strip() and not _TABLE_RULE.match(line) and _UNDERLINE.match(following):
            out += [f"**{line.strip()}**", ""]
            k += 2
            continue
        if _TABLE_RULE.match(line):
            end = k + 1
            rules = 1
            while end < len(lines) and rules < 3:
                rules += bool(_TABLE_RULE.match(lines[end]))
                end += 1
            out += ["```text", *lines[k:end], "```"]
            k = end
            continue
        if line.lstrip().startswith(">>>"):
            block = []
            while k < len(lines) and lines[k].strip():
                block.append(lines[k])
                k += 1
            out += ["```pycon", *block, "```"]
            continue
        if line.rstrip().endswith("::") and not line.strip().startswith(".."):
            line = line.rstrip()[:-1]
            if line.endswith(" :"):
                line = line[:-2]
        out.append(_outside_code(line))
        k += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
