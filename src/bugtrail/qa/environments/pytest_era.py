"""The pytest a base commit was written against.

pytest removes deprecated features only in a new major (8.0 dropped nose-style `setup()`/`teardown()` and
`pytest.warns(None)`; 9.0 made more deprecations errors), so a suite older than the current major can fail in
both runs under today's pytest for reasons that have nothing to do with the fix. When the plan leaves pytest's
upper bound open, it gets the bound of the commit's own era: the newest release of the major that was current
on the commit's date, never one too old to run on the image's Python. A pytest that still does not run there
is replaced by the current one at build time (build.py's smoke check), and the result says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from bugtrail.qa.environments.requirements import requirement_name

# First release of each major on PyPI. A later major is unknown here, so commits after the last entry get no
# bound (today's pytest, as before): extend this list when pytest ships a new major.
MAJOR_RELEASES: tuple[tuple[int, date], ...] = (
    (4, date(2018, 11, 14)),
    (5, date(2019, 6, 29)),
    (6, date(2020, 7, 28)),
    (7, date(2022, 2, 4)),
    (8, date(2024, 1, 27)),
    (9, date(2025, 11, 8)),
)
OLDEST_MAJOR = 3  # before 4.0; older suites still get 4.x at least through the Python floor below
# The oldest major whose last release runs on each Python minor (6.2.5 added 3.10, 7.4 3.12, 8.2 3.13).
# A Python missing here (newer than the table) gets today's pytest.
PYTHON_FLOOR = {"3.8": 5, "3.9": 5, "3.10": 6, "3.11": 6, "3.12": 7, "3.13": 8}


def era_major(when: date) -> int:
    """The pytest major that was current on `when`."""
    major = OLDEST_MAJOR
    for candidate, released in MAJOR_RELEASES:
        if when >= released:
            major = candidate
    return major


def era_bound(commit_date: datetime | None, python_minor: str) -> tuple[int | None, str | None]:
    """(the major pytest must stay below, why), or (None, None) when the commit is of the current era."""
    if commit_date is None:
        return None, None
    when = commit_date.astimezone(UTC).date()
    era = era_major(when)
    newest = MAJOR_RELEASES[-1][0]
    if era >= newest:
        return None, None
    floor = PYTHON_FLOOR.get(python_minor)
    if floor is None:
        return None, None
    major = max(era, floor)
    if major >= newest:
        return None, None
    released = dict(MAJOR_RELEASES)[major + 1]
    why = (
        f"pytest<{major + 1}: the base commit ({when.isoformat()}) predates pytest {major + 1}.0 "
        f"({released.isoformat()}), which removed features older suites use"
    )
    if major > era:
        why += f" (pytest {era} does not run on Python {python_minor}; its oldest usable major is {major})"
    return major + 1, why


def _has_upper_bound(specifier: SpecifierSet) -> bool:
    return any(spec.operator in ("<", "<=", "==", "===", "~=") for spec in specifier)


def bounded_pytest(packages: list[str], below: int) -> tuple[list[str], bool]:
    """`packages` with pytest kept below `below` (added when absent); (lines, whether anything changed).

    A line that already bounds pytest, or whose lower bound is past the era, is the repository's or the
    developer's own choice and stays as it is.
    """
    bound = f"<{below}"
    result: list[str] = []
    changed = False
    found = False
    for line in packages:
        if requirement_name(line) != "pytest":
            result.append(line)
            continue
        found = True
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            result.append(line)
            continue
        allows_era = requirement.specifier.contains(Version(f"{below - 1}.999"))
        if requirement.url or _has_upper_bound(requirement.specifier) or not allows_era:
            result.append(line)
            continue
        requirement.specifier &= SpecifierSet(bound)
        result.append(str(requirement))
        changed = True
    if not found:
        return [f"pytest{bound}", *result], True
    return result, changed
