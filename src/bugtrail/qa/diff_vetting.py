"""Which paths does a diff touch? Asked of git itself (and of the headers), so a path cannot hide from us.

`git apply --numstat -z` is git's own parse; it is asked twice (with and without `--recount`, which changes
where hunks end) and its answers are joined with every header-like line we can see, so any tool's idea of the
targets is covered. `patch --fuzz` never reads the diff as sent: `hunks_for_patch` rebuilds a single-file
diff from hunks whose line counts it checked, under headers we write, for a file we name on its command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from subprocess import CompletedProcess

RunGit = Callable[[list[str], str], CompletedProcess[str]]

_HEADER_RE = re.compile(r"^(?:---|\+\+\+|\*\*\*) (\S+)", re.MULTILINE)
_NAMED_RE = re.compile(r"^(?:rename|copy) (?:from|to) (.+)$|^Index: (.+)$", re.MULTILINE)
_GIT_DIFF_RE = re.compile(r"^diff --git (\S+) (\S+)$", re.MULTILINE)
_NUMSTAT_RE = re.compile(r"^(?:\d+|-)\t(?:\d+|-)\t(.*)$", re.DOTALL)
_HUNK_RE = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_SAFE_PATCH_HEADERS = ("diff --git ", "index ", "--- ", "+++ ")


class DiffRefused(Exception):
    pass


def _strip(path: str, strip: int) -> str:
    parts = path.split("/")
    return "/".join(parts[strip:]) if len(parts) > strip else path


def header_paths(diff: str, strip: int) -> set[str]:
    """Every path a header-like line names: ---/+++/*** headers, diff --git, rename/copy, Index:."""
    paths = {_strip(raw, strip) for raw in _HEADER_RE.findall(diff) if raw != "/dev/null"}
    for match in _GIT_DIFF_RE.finditer(diff):
        paths.update(_strip(raw, 1) for raw in match.groups())
    for match in _NAMED_RE.finditer(diff):
        paths.add((match.group(1) or match.group(2) or "").strip())
    return {path for path in paths if path}


def parse_numstat(output: str) -> set[str]:
    """Paths in `--numstat -z` output (a rename is `added\\tdeleted\\t\\0old\\0new\\0`)."""
    paths: set[str] = set()
    fields = output.split("\0")
    i = 0
    while i < len(fields):
        match = _NUMSTAT_RE.match(fields[i])
        i += 1
        if not match:
            continue
        if match.group(1):
            paths.add(match.group(1))
        else:
            paths.update(fields[i : i + 2])
            i += 2
    return {path for path in paths if path}


def git_paths(diff: str, strip: int, run_git: RunGit) -> set[str]:
    """Paths git's own parser finds (with and without --recount); refused when git cannot parse it."""
    paths: set[str] = set()
    parsed = False
    errors: list[str] = []
    for extra in ([], ["--recount"]):
        done = run_git(["apply", "--numstat", "-z", *extra, f"-p{strip}", "-"], diff)
        if done.returncode == 0:
            parsed = True
            paths |= parse_numstat(done.stdout)
        else:
            errors.append(done.stderr.strip()[-300:])
    if not parsed:
        raise DiffRefused(f"git could not parse the diff: {errors[0] or 'unknown error'}")
    return paths


def hunks_for_patch(diff: str, file: str) -> str | None:
    """A diff for exactly `file`, rebuilt from checked hunks; None when `diff` is anything else.

    Only git/unified headers may precede the first hunk; each hunk must hold exactly the lines its header
    counts; nothing but another hunk may follow. So `patch` cannot find a second target in it.
    """
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines) and not lines[i].startswith("@@"):
        if not lines[i].startswith(_SAFE_PATCH_HEADERS):
            return None
        i += 1
    hunks: list[str] = []
    while i < len(lines):
        match = _HUNK_RE.match(lines[i])
        if not match:
            return None
        old = int(match.group(1) if match.group(1) is not None else 1)
        new = int(match.group(2) if match.group(2) is not None else 1)
        hunks.append(lines[i])
        i += 1
        while old > 0 or new > 0:
            if i >= len(lines):
                return None
            line = lines[i]
            kind = line[:1]
            if kind in (" ", ""):
                old, new = old - 1, new - 1
            elif kind == "-":
                old -= 1
            elif kind == "+":
                new -= 1
            elif kind != "\\":
                return None
            if old < 0 or new < 0:
                return None
            hunks.append(line)
            i += 1
        if i < len(lines) and lines[i].startswith("\\"):
            hunks.append(lines[i])
            i += 1
    if not hunks:
        return None
    return f"--- a/{file}\n+++ b/{file}\n" + "\n".join(hunks) + "\n"
