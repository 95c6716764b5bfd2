"""Replay a trace's edit events on a work tree, in order, the way SWE-bench applies a patch.

Each edit is tried with `git apply`, then `git apply --reject --recount` (tolerates hand-edited hunk
counts and whitespace), then `patch --fuzz`. A failed attempt is rolled back (the touched files are
restored) before the next one, so a partial apply never leaks into the following strategy or edit.
Every edit gets a report line.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bugtrail.qa.workspace import git

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_test_file(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def apply_edits(tree: Path, edits: list[EditSpec], test_patterns: list[str]) -> list[EditReport]:
    """Apply every edit in order; a failed edit is reported and skipped, later edits are still tried."""
    return [_apply_one(tree, edit, is_test_file(edit.file, test_patterns)) for edit in edits]


def _apply_one(tree: Path, edit: EditSpec, is_test: bool) -> EditReport:
    report = EditReport(edit.index, edit.event_id, edit.file, is_test, applied=False)
    details = edit.details
    diff = str(details.get("diff") or "")
    renamed_from = next((str(details[key]) for key in RENAME_KEYS if details.get(key)), None)
    try:
        target = _inside(tree, edit.file)
        if not diff.strip():
            _apply_without_diff(tree, target, details, renamed_from, report)
            return report
        if "GIT binary patch" not in diff and "@@" not in diff and details.get("binary"):
            report.error = "binary edit without a git binary patch; its content cannot be replayed"
            return report
        _apply_diff(tree, edit.file, _normalise(diff, edit.file), report)
    except _Unsafe as exc:
        report.error = str(exc)
    return report


def _apply_without_diff(
    tree: Path, target: Path, details: dict[str, Any], renamed_from: str | None, report: EditReport
) -> None:
    if details.get("deleted"):
        if not target.exists():
            report.error = "file to delete does not exist"
            return
        target.unlink()
        report.applied, report.method = True, "delete"
    elif renamed_from:
        source = _inside(tree, renamed_from)
        if not source.exists():
            report.error = f"file to rename ({renamed_from}) does not exist"
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        report.applied, report.method = True, "rename"
    elif details.get("binary"):
        report.error = "binary edit without a diff; its content cannot be replayed"
    else:
        report.applied, report.method = True, "empty"


def _apply_diff(tree: Path, file: str, diff: str, report: EditReport) -> None:
    strip = _strip_level(diff, file)
    touched = {file, *(_paths_in(diff, strip))}
    for path in touched:
        _inside(tree, path)
    snapshot = {path: _read(tree / path) for path in touched}
    strategies: list[tuple[str, list[str]]] = [
        ("git-apply", ["git", "apply", "--whitespace=nowarn", f"-p{strip}", "-"]),
        (
            "git-apply-reject",
            [
                "git",
                "apply",
                "--reject",
                "--recount",
                "--ignore-whitespace",
                "--whitespace=nowarn",
                f"-p{strip}",
                "-",
            ],
        ),
        (
            "patch-fuzz",
            [
                "patch",
                "--batch",
                "--forward",
                f"--fuzz={PATCH_FUZZ}",
                f"-p{strip}",
                "--no-backup-if-mismatch",
                "--reject-file=-",
                "--quiet",
            ],
        ),
    ]
    for method, command in strategies:
        done = _run(command, tree, diff)
        if done.returncode == 0:
            report.applied, report.method = True, method
            return
        message = (done.stderr or done.stdout).strip().splitlines()
        report.attempts.append(f"{method}: {' | '.join(message[-3:])[:500] or f'exit {done.returncode}'}")
        _restore(tree, snapshot)
    report.error = report.attempts[0] if report.attempts else "diff did not apply"


def _run(command: list[str], tree: Path, diff: str) -> subprocess.CompletedProcess[str]:
    if command[0] == "git":
        return git(command[1:], cwd=tree, input_text=diff)
    return subprocess.run(
        command,
        cwd=tree,
        input=diff,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        check=False,
    )


class _Unsafe(Exception):
    pass


def _inside(tree: Path, relative: str) -> Path:
    """tree/relative, refusing absolute paths, '..' and symlinks that lead outside the tree."""
    if not relative or relative.startswith("/") or ".." in relative.split("/") or "\x00" in relative:
        raise _Unsafe(f"unsafe path {relative!r}")
    path = tree / relative
    root = tree.resolve()
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise _Unsafe(f"path {relative!r} leads outside the work tree")
    return path


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


def _paths_in(diff: str, strip: int) -> set[str]:
    paths: set[str] = set()
    for raw in _HEADER_RE.findall(diff):
        if raw != "/dev/null":
            parts = raw.split("/")
            paths.add("/".join(parts[strip:]) if len(parts) > strip else raw)
    for match in re.finditer(r"^rename (?:from|to) (.+)$", diff, re.MULTILINE):
        paths.add(match.group(1).strip())
    return {path for path in paths if path}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _restore(tree: Path, snapshot: dict[str, bytes | None]) -> None:
    for relative, content in snapshot.items():
        path = tree / relative
        for leftover in (path.with_name(path.name + ".rej"), path.with_name(path.name + ".orig")):
            leftover.unlink(missing_ok=True)
        if content is None:
            if path.is_file() or path.is_symlink():
                path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
