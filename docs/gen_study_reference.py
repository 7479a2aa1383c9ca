"""The study-file reference page, generated at build time from what the package declares.

The page is :func:`echo_lab.study.reference.study_file_reference`: the sections and keys the
loader accepts, read from the same declarations the loader checks (kinds, shared sections,
sweepable keys, backend rules, noise fields), so it cannot go stale.
"""

from __future__ import annotations

import mkdocs_gen_files

from echo_lab.study.reference import study_file_reference

PAGE = "study-files.md"

with mkdocs_gen_files.open(PAGE, "w") as page:
    page.write(study_file_reference())
