"""What a trace's edits add to the tests: the environment is built from base_commit, before any edit is
applied, so a new test file or a new `import hypothesis` in a test edit would otherwise be missed.

Pure: reads the recorded diffs (hostile input), never the tree. Only edits of test-like files (a path part
containing "test", conftest.py) are read; from their added lines, each import, decorator, function signature
and `pytest_plugins` line is parsed on its own (a diff hunk is no module). An import below a `try:` or an
`if TYPE_CHECKING`/version check within the hunk is optional, as in the files themselves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

from bugtrail.qa.environments.inferred import CONDITION_NAMES, Collector, FileFindings

MAX_EDITS = 200
MAX_DIFF_CHARS = 1024 * 1024
MAX_LINE_CHARS = 2000
STATEMENT_STARTS = ("import ", "from ", "@", "def ", "async def ", "pytest_plugins")


def edit_findings(events: Iterable[Mapping[str, Any]]) -> tuple[dict[str, FileFindings], set[str]]:
    """(findings per edited test file, from the added lines of each diff; module names of every edited
    Python file, which are the repository's own), bounded."""
    findings: dict[str, FileFindings] = {}
    own: set[str] = set()
    budget = MAX_DIFF_CHARS
    for count, event in enumerate(events):
        if count >= MAX_EDITS or budget <= 0:
            break
        path, diff = event.get("file"), event.get("diff")
        if not isinstance(path, str) or not isinstance(diff, str) or not path.endswith(".py"):
            continue
        parts = path.split("/")
        own.update(p.removesuffix(".py") for p in parts if p)
        if not is_test_path(path):
            continue
        diff = diff[:budget]
        budget -= len(diff)
        collect_added(diff, findings.setdefault(f"{path} (edited)", FileFindings()))
    return {label: found for label, found in findings.items() if _non_empty(found)}, own


def is_test_path(path: str) -> bool:
    return path.endswith(".py") and "test" in path.lower()


def collect_added(diff: str, found: FileFindings) -> None:
    guards: list[tuple[int, bool]] = []  # (indent, guarded) of the enclosing blocks seen in the hunk
    decorators: list[str] = []  # added decorator lines waiting for their def
    for raw in diff.splitlines():
        if raw.startswith("@@"):
            guards.clear()
        if raw.startswith(("+++", "---", "@@")) or raw[:1] not in {"+", " "}:
            continue
        line = raw[1:MAX_LINE_CHARS]
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        indent = len(line) - len(text)
        while guards and guards[-1][0] >= indent:
            guards.pop()
        guarded = any(flag for _, flag in guards)
        if text.endswith(":"):
            guards.append((indent, _opens_guard(text)))
        if not raw.startswith("+"):
            continue
        if text.startswith("@"):
            decorators.append(text)
        elif text.startswith(("def ", "async def ")):
            _collect("\n".join([*decorators, f"{text} ..." if text.endswith(":") else text]), guarded, found)
            decorators.clear()
        elif text.startswith(STATEMENT_STARTS):
            _collect(text, guarded, found)
    if decorators:
        _collect("\n".join([*decorators, "def _edited(): ..."]), False, found)


def _opens_guard(text: str) -> bool:
    return text.startswith("try:") or (
        text.startswith(("if ", "elif ")) and any(name in text for name in CONDITION_NAMES)
    )


def _collect(source: str, guarded: bool, found: FileFindings) -> None:
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # a statement that spans lines; the rest of the diff still counts
    collector = Collector()
    collector.found = found
    collector.guarded = int(guarded)
    collector.visit(module)


def _non_empty(found: FileFindings) -> bool:
    return bool(found.imports or found.fixtures_used or found.markers or found.plugins)
