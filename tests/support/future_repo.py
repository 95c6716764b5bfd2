"""The calc repository (tests.support.buggy_repo) with a future: commits, a branch, a tag after base_commit.

The upstream fix is the same change as buggy_repo.good_fix (a trace copying it must be flagged by
upstream_match); a later commit adds a file whose content (FUTURE_MARKER) must never reach a QA container.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.buggy_repo import CALC, FIXED, NEW_TEST, TESTS, BuggyRepo
from tests.support.repos import git, write_files

FUTURE_MARKER = "FUTURE-BLOB-7d1c0e4b"  # content of a file that exists only after base_commit
FUTURE_TAG = "v9.9.9-future"
FUTURE_BRANCH = "future-work"

# The same fix, written differently but equivalently: other names, other lines, another test.
EQUIVALENT_FIX = CALC.replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return sum((a, b))")
EQUIVALENT_TEST = TESTS + "\n\ndef test_addition_of_two_numbers():\n    assert add(1, 1) == 2\n"


@dataclass(frozen=True)
class FutureCommits:
    fix: str  # the upstream fix: calc.py and tests/test_calc.py as in good_fix, plus a changelog
    later: str  # after the fix, on a branch and tagged: a file holding FUTURE_MARKER


def add_future(repo: BuggyRepo) -> FutureCommits:
    """Commit the upstream fix and a later commit on top of base_commit; main ends at the later commit."""
    path = repo.path
    assert git(path, "rev-parse", "HEAD") == repo.base_commit
    write_files(path, {"calc.py": FIXED, "tests/test_calc.py": NEW_TEST, "CHANGELOG.md": "- add() adds\n"})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Fix add()")
    fix = git(path, "rev-parse", "HEAD")
    write_files(path, {"NOTES.md": f"{FUTURE_MARKER}\n"})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Notes from the future")
    later = git(path, "rev-parse", "HEAD")
    git(path, "tag", "-a", FUTURE_TAG, "-m", "a release after base_commit")
    git(path, "branch", FUTURE_BRANCH)
    git(path, "tag", "v0.1-base", repo.base_commit)  # a tag on base_commit's history: it may be seen
    return FutureCommits(fix=fix, later=later)


__all__ = ["CALC", "EQUIVALENT_FIX", "EQUIVALENT_TEST", "FIXED", "NEW_TEST", "TESTS", "add_future"]
