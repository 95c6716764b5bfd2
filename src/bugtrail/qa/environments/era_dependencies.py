"""An old checkout's runtime dependencies as of its own date, when today's releases break its import.

A project declares its runtime dependencies with lower bounds only (`MarkupSafe>=0.23`); years later the
newest release may have removed an API the old code imports, and every test then fails at import in both
runs: an environment error for a fix that works. For a base commit older than today's pytest major (the same
deterministic line pytest_era.py draws), the plan names the project's own top-level packages
(`project_imports`) and a cutoff (`dependencies_as_of`); the build (dockerfiles/era_dependencies.py) checks
that they import after the install and, only when one does not, reinstalls the project's runtime
dependencies as they were at the cutoff (`pip install --force-reinstall --uploaded-prior-to`). Pure: reads
the checkout, never runs it.

The cutoff is the first day of the month after the base commit (UTC), so the traces of one repository in one
month share an image (the cutoff is part of the cache key); newer commits get neither field and keep the keys
they had.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bugtrail.qa.environments.pytest_era import MAJOR_RELEASES, era_major

MAX_IMPORTS = 5
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Top-level packages that are not the project's importable code.
NOT_PROJECT = re.compile(r"^(tests?|testing|docs?|examples?|scripts?|benchmarks?|bench|tools|ci|build|dist)$")


def dependencies_cutoff(commit_date: datetime | None) -> str | None:
    """The first instant of the month after the commit, as pip's ISO 8601 form; None for today's era."""
    if commit_date is None:
        return None
    when = commit_date.astimezone(UTC)
    if era_major(when.date()) >= MAJOR_RELEASES[-1][0]:
        return None
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def project_imports(tree: Path) -> list[str]:
    """The checkout's own top-level packages (a src/ layout's, else the root's), tests and docs left out."""
    for root in (tree / "src", tree):
        if not root.is_dir() or root.is_symlink():
            continue
        names = sorted(
            child.name
            for child in root.iterdir()
            if child.is_dir()
            and not child.is_symlink()
            and IDENTIFIER.match(child.name)
            and not NOT_PROJECT.match(child.name.lower())
            and (child / "__init__.py").is_file()
        )
        if names:
            return names[:MAX_IMPORTS]
    return []
