"""Griffe extension: render echo_lab's reStructuredText-flavoured docstrings as Markdown.

The package's docstrings use RST conventions (``:func:`x``` roles, ``::`` literal blocks,
``Parameters`` / ``--------`` section underlines, ``====`` tables and ``>>>`` doctests) with free
text after the parameter names, which no docstring parser reads as intended. The API reference
therefore renders them as plain Markdown (``docstring_style: null``) after these rewrites, done
once per object when griffe loads it; the package itself is not changed.

:func:`escape_angles` serves the pages too (``hooks.py``): bra-kets such as ``<s|E>`` or
``<tau^x_p>`` outside code would otherwise reach the browser as HTML tags and vanish.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj|const):`~?([^`<]+?)\s*(<[^`>]+>)?`")
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,})\s*$")
_TABLE_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")
_CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")
_TAG_START = re.compile(r"<(?=/?[A-Za-z])")


def _outside_code(line: str) -> str:
    """Escape ``][`` (a reference link to Markdown) and ``<`` before a letter (an HTML tag)
    outside the code spans of one line."""
    parts = _CODE_SPAN.split(line)
    for k in range(0, len(parts), 2):
        parts[k] = _TAG_START.sub("&lt;", parts[k].replace("][", "]\\["))
    return "".join(parts)


def escape_angles(text: str) -> str:
    """``text`` (Markdown) with :func:`_outside_code` applied to every line that is not code:
    fenced blocks, and indented blocks (4 spaces, after a blank line) are left alone."""
    out = []
    fenced = indented = False
    previous_blank = True
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            if line.strip():
                indented = line.startswith("    ") and (previous_blank or indented)
            if not indented:
                line = _outside_code(line)
        previous_blank = not line.strip()
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def to_markdown(text: str) -> str:
    """The docstring ``text`` rewritten as Markdown (see the module docstring)."""
    text = _ROLE.sub(lambda m: f"`{' '.join(m.group(1).split())}`", text)
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
        out.append(line)
        k += 1
    return escape_angles("\n".join(out))


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
