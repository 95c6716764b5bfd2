"""Lines and files a unified diff touches, counted hunk by hunk (pure, linear, never trusts the diff).

Inside a hunk the `@@ -a,b +c,d @@` counts say which lines belong to it, so a removed line whose text
starts with "-- " is a removed line, not a file header. A diff without any hunk header (hand-written,
truncated) falls back to counting `+`/`-` lines. Binary patches (`GIT binary patch`, `Binary files
... differ`) count as a touched file with no lines.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -\d{1,12}(?:,(\d{1,12}))? \+\d{1,12}(?:,(\d{1,12}))? @@")
_GIT_HEADER = re.compile(r"^diff --git (\S+) (\S+)$")
MAX_PATH_CHARS = 1_000
MAX_PATHS = 50_000


@dataclass
class DiffStat:
    added: int = 0
    removed: int = 0
    paths: set[str] = field(default_factory=set)
    binary: bool = False


def header_path(raw: str) -> str | None:
    """The repo-relative path in a `---`/`+++`/`diff --git` header, or None (/dev/null, junk, too long)."""
    path = raw.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1]
    if not path or path == "/dev/null" or len(path) > MAX_PATH_CHARS or "\x00" in path:
        return None
    if path.startswith(("a/", "b/")):
        path = path[2:]
    return path or None


def diff_stat(diff: str) -> DiffStat:
    stat = DiffStat()
    old_left = new_left = 0
    saw_hunk = False
    loose_added = loose_removed = 0  # +/- lines outside any hunk, used only if the diff has no hunk
    old_path: str | None = None  # the `---` name, used when the file is deleted (`+++ /dev/null`)
    for line in io.StringIO(diff):
        line = line.rstrip("\r\n")
        if old_left > 0 or new_left > 0:
            marker = line[:1]
            if marker == "+":
                stat.added += 1
                new_left -= 1
                continue
            if marker == "-":
                stat.removed += 1
                old_left -= 1
                continue
            if marker in (" ", ""):
                old_left -= 1
                new_left -= 1
                continue
            if marker == "\\":  # "\ No newline at end of file"
                continue
            old_left = new_left = 0  # a hunk shorter than its header said: back to headers
        hunk = _HUNK.match(line)
        if hunk:
            saw_hunk = True
            old_left = int(hunk.group(1)) if hunk.group(1) is not None else 1
            new_left = int(hunk.group(2)) if hunk.group(2) is not None else 1
        elif line.startswith("--- "):
            old_path = header_path(line[4:])
        elif line.startswith("+++ "):
            _add_path(stat, header_path(line[4:]) or old_path)
            old_path = None
        elif line.startswith("diff --git "):
            git = _GIT_HEADER.match(line)
            if git:
                _add_path(stat, header_path(git.group(2)))
        elif line.startswith("GIT binary patch") or (
            line.startswith("Binary files ") and line.endswith(" differ")
        ):
            stat.binary = True
        elif line.startswith("+"):
            loose_added += 1
        elif line.startswith("-"):
            loose_removed += 1
    if not saw_hunk:
        stat.added, stat.removed = loose_added, loose_removed
    return stat


def _add_path(stat: DiffStat, path: str | None) -> None:
    if path is not None and len(stat.paths) < MAX_PATHS:
        stat.paths.add(path)
