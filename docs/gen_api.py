"""API reference pages: one page per public module of echo_lab, found by walking the package.

Run by mkdocs-gen-files at build time; a module that moves or appears gets its page without any
edit here. Private modules (a name part starting with "_") are left out.
"""

from __future__ import annotations

import pkgutil

import mkdocs_gen_files

import echo_lab

nav = mkdocs_gen_files.Nav()
names = ["echo_lab"] + [
    info.name
    for info in pkgutil.walk_packages(echo_lab.__path__, prefix="echo_lab.")
    if not any(part.startswith("_") for part in info.name.split("."))
]
for name in sorted(names):
    parts = tuple(name.split("."))
    path = "/".join(parts) + ".md"
    nav[parts] = path
    with mkdocs_gen_files.open(f"api/{path}", "w") as page:
        page.write(f"# `{name}`\n\n::: {name}\n")
with mkdocs_gen_files.open("api/SUMMARY.md", "w") as summary:
    summary.writelines(nav.build_literate_nav())
