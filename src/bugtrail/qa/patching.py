"""Replay a trace's edit events on a work tree, in order, the way SWE-bench applies a patch.

Each edit is tried with `git apply`, then `git apply --reject --recount` (tolerates hand-edited hunk
counts and whitespace), then `patch --fuzz`. A failed attempt is rolled back (the touched files are
restored) before the next one, so a partial apply never leaks into the following strategy or edit.
Every edit gets a report line.

Edits are untrusted input (see docs/qa.md, "Hardening"): the touched paths come from git's own parse of the
diff joined with every header we can see, and any `.git` component or non-plain path refuses the edit; git
runs with a clean --git-dir outside the tree and isolated config, so nothing the tree holds (a .git/config,
attributes, hooks) is ever read; `patch` only gets a single-file diff rebuilt from checked hunks; snapshots
and rollbacks never follow a symlink (qa.safe_paths), and a symlink an edit leaves pointing outside the tree
refuses the edit.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bugtrail.qa import safe_paths
from bugtrail.qa.diff_vetting import DiffRefused, git_paths, header_paths, hunks_for_patch
from bugtrail.qa.gitcmd import git
from bugtrail.qa.safe_paths import UnsafePath

PATCH_FUZZ = 3
# Keys a recorder may put in edit details for a renamed file's old path.
RENAME_KEYS = ("renamed_from", "rename_from", "old_file", "old_path", "previous_file")


@dataclass
class EditSpec:
    """One edit event, as the pipeline hands it over (wire-format details plus its position)."""

    index: int  # position among the trace's events (chronological)
    event_id: str
    details: dict[str, Any]

    @property
    def file(self) -> str:
        return str(self.details.get("file", ""))


@dataclass
class EditReport:
    index: int
    event_id: str
    file: str
    is_test: bool
    applied: bool
    method: str | None = None  # git-apply | git-apply-reject | patch-fuzz | delete | rename | empty
    error: str | None = None
    attempts: list[str] = field(default_factory=list)
    refused: bool = False  # True when the edit was refused as unsafe (a .git path, a symlink outside, ...)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_test_file(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


UNITTEST_VALUE_OPTIONS = ("-k", "-s", "-p", "-t", "--start-directory", "--pattern", "--top-level-directory")
NOT_TEST_RUNNERS = ("setup.py", "manage.py")  # `python setup.py test`: edits to these are the project's


def command_test_files(command: str) -> list[str]:
    """The repository files a test command names, as exact patterns (fnmatch specials escaped): a file the
    command runs is a test file whatever its name (`python unitTests.py`, `pytest checks/verify.py::t`,
    `python -m unittest unitTests` or `pkg.suite`). Absolute paths and `..` are never the repository's."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return []
    if any(token.startswith("--doctest") for token in tokens):
        return []  # doctests of a named module: it is the code under test, the fix may be in it
    found: list[str] = []
    unittest_args = False
    for index, token in enumerate(tokens):
        if token == "unittest" and index > 0 and tokens[index - 1] == "-m":
            unittest_args = True
            continue
        if token == "discover":
            unittest_args = False  # discovery names directories and patterns, not files
            continue
        if index > 0 and tokens[index - 1] in UNITTEST_VALUE_OPTIONS:
            continue
        if token.startswith("-") or "*" in token or token.split("/")[-1] in NOT_TEST_RUNNERS:
            continue
        path = token.split("::", 1)[0]
        if not path.endswith(".py"):
            if not (unittest_args and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", path)):
                continue
            parts = path.split(".")  # module, or module.Class.test: every prefix may be the file
            candidates = ["/".join(parts[:end]) + ".py" for end in range(1, len(parts) + 1)]
        else:
            candidates = [path.removeprefix("./")]
        for path in candidates:
            if path and not path.startswith("/") and ".." not in path.split("/") and path not in found:
                found.append(path)
    return [re.sub(r"([*?\[])", r"[\1]", path) for path in found]


def apply_edits(tree: Path, edits: list[EditSpec], test_patterns: list[str]) -> list[EditReport]:
    """Apply every edit in order; a failed edit is reported and skipped, later edits are still tried."""
    with tempfile.TemporaryDirectory(prefix="bugtrail-gitdir-") as holder:
        # git never reads the tree's own .git: it gets an empty repository of ours (clean config, no hooks).
        git_dir = Path(holder) / "clean.git"
        done = git(["init", "--bare", "--quiet", str(git_dir)], isolated=True)
        if done.returncode != 0:
            raise RuntimeError(f"git init failed: {done.stderr.strip()}")
        applier = _Applier(tree, git_dir)
        return [applier.apply(edit, is_test_file(edit.file, test_patterns)) for edit in edits]


class _Applier:
    def __init__(self, tree: Path, git_dir: Path) -> None:
        self.tree = tree
        self.git_dir = git_dir

    def git(self, args: list[str], diff: str) -> subprocess.CompletedProcess[str]:
        location = [f"--git-dir={self.git_dir}", f"--work-tree={self.tree}"]
        return git([*location, *args], cwd=self.tree, input_text=diff, isolated=True)

    def apply(self, edit: EditSpec, is_test: bool) -> EditReport:
        report = EditReport(edit.index, edit.event_id, edit.file, is_test, applied=False)
        details = edit.details
        diff = str(details.get("diff") or "")
        renamed_from = next((str(details[key]) for key in RENAME_KEYS if details.get(key)), None)
        try:
            safe_paths.check_relative(edit.file)
            if not diff.strip():
                self._apply_without_diff(edit.file, details, renamed_from, report)
                return report
            if "GIT binary patch" not in diff and "@@" not in diff and details.get("binary"):
                report.error = "binary edit without a git binary patch; its content cannot be replayed"
                return report
            self._apply_diff(edit.file, _normalise(diff, edit.file), report)
        except (UnsafePath, DiffRefused) as exc:
            report.error = str(exc)
            report.refused = True
        return report

    def _apply_without_diff(
        self, file: str, details: dict[str, Any], renamed_from: str | None, report: EditReport
    ) -> None:
        if details.get("deleted"):
            if not safe_paths.unlink_file(self.tree, file):
                report.error = "file to delete does not exist"
                return
            report.applied, report.method = True, "delete"
        elif renamed_from:
            safe_paths.check_relative(renamed_from)
            if not safe_paths.rename_file(self.tree, renamed_from, file):
                report.error = f"file to rename ({renamed_from}) does not exist"
                return
            report.applied, report.method = True, "rename"
        elif details.get("binary"):
            report.error = "binary edit without a diff; its content cannot be replayed"
        else:
            report.applied, report.method = True, "empty"

    def _apply_diff(self, file: str, diff: str, report: EditReport) -> None:
        strip = _strip_level(diff, file)
        vetted = git_paths(diff, strip, self.git)
        touched = safe_paths.check_all({file, *vetted, *header_paths(diff, strip)})
        snapshot = {path: safe_paths.snapshot(self.tree, path) for path in touched}
        for method, command, text in self._strategies(file, diff, strip, vetted):
            done = self._run(command, text)
            if done.returncode == 0:
                try:
                    for path in touched:
                        safe_paths.check_stays_inside(self.tree, path)
                except UnsafePath:
                    self._restore(snapshot)
                    raise
                report.applied, report.method = True, method
                return
            message = (done.stderr or done.stdout).strip().splitlines()
            report.attempts.append(f"{method}: {' | '.join(message[-3:])[:500] or f'exit {done.returncode}'}")
            self._restore(snapshot)
        report.error = report.attempts[0] if report.attempts else "diff did not apply"

    def _strategies(
        self, file: str, diff: str, strip: int, vetted: set[str]
    ) -> list[tuple[str, list[str], str]]:
        common = ["--whitespace=nowarn", f"-p{strip}", "-"]
        strategies = [
            ("git-apply", ["git", "apply", *common], diff),
            (
                "git-apply-reject",
                ["git", "apply", "--reject", "--recount", "--ignore-whitespace", *common],
                diff,
            ),
        ]
        # patch follows no git rules: it only ever sees one vetted regular file, under headers we wrote.
        single = hunks_for_patch(diff, file) if vetted == {file} else None
        entry = safe_paths.snapshot(self.tree, file) if single else None
        if single and entry is not None and entry.kind == "file":
            patch = ["patch", "--batch", "--forward", f"--fuzz={PATCH_FUZZ}", "--no-backup-if-mismatch"]
            patch += ["--reject-file=-", "--quiet", "-p1", "--", file]
            strategies.append(("patch-fuzz", patch, single))
        return strategies

    def _run(self, command: list[str], text: str) -> subprocess.CompletedProcess[str]:
        if command[0] == "git":
            return self.git(command[1:], text)
        return subprocess.run(
            command,
            cwd=self.tree,
            input=text,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )

    def _restore(self, snapshot: dict[str, safe_paths.Entry | None]) -> None:
        for relative, entry in snapshot.items():
            safe_paths.restore(self.tree, relative, entry)


_HEADER_RE = re.compile(r"^(?:---|\+\+\+) (\S+)", re.MULTILINE)
_GIT_HEADER_RE = re.compile(r"^diff --git ", re.MULTILINE)


def _normalise(diff: str, file: str) -> str:
    """Add ---/+++ headers to a bare hunk list and make sure the text ends with a newline."""
    if not diff.endswith("\n"):
        diff += "\n"
    if not _HEADER_RE.search(diff) and not _GIT_HEADER_RE.search(diff):
        diff = f"--- a/{file}\n+++ b/{file}\n{diff}"
    return diff


def _strip_level(diff: str, file: str) -> int:
    """-p1 for a/ b/ prefixed (git-style) headers, -p0 when the header already names `file` itself."""
    if _GIT_HEADER_RE.search(diff):
        return 1
    for path in _HEADER_RE.findall(diff):
        if path == "/dev/null":
            continue
        if path == file:
            return 0
        if path.split("/", 1)[-1] == file:
            return 1
    return 1
